#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kill at every write and fsync point of the journal (jnl.c J1-J3, J6): for each scenario --
# (a) one route created, (b) 2000 routes loaded in one transaction, (c) a route deleted,
# (d) a rollback applied; t_twophase_points.sh runs this file with (g) a route created by
# prepare and commit in separate calls (the record made durable in prepare, the completion
# mark in its own append: twophase.c) and (h) a prepared transaction aborted (abort mark),
# then another change committed -- a reference run with CHORUS_FAULT_LOG=1 counts the
# operations of the daemon's start and of the scenario; then for every operation N and every
# kind (write, torn, fsync, synced; rename if any) a fresh copy of the database starts with
# CHORUS_FAULT=KIND:N, runs the scenario and dies there. The restart without the fault must
# succeed and show exactly the state before or the state after the transaction with the
# matching txid (after, if the client got its reply), the rollback file of the newest
# transaction, and a further commit that survives kill -9.
. "$(dirname "$0")/crashlib.sh"

# The database every scenario starts from: 50 routes (txid 1), leaf2 of route 3 set (txid 2).
node_up base
routes_gen 50 >"$T/r50.xml"
ok ctl base load "$T/r50.xml"
ok ctl base set "${RT}[id='0000003']/leaf2" 99
node_down base
routes_gen 2000 --start 1001 >"$T/r2000.xml"
route_xml 500 >"$T/r1.xml"
route_xml 600 >"$T/r600.xml"
SCENARIOS=${JOURNAL_SCENARIOS:-a b c d}
TWOPHASE=$CHORUS_BUILD/tests/twophase # tests/crash/twophase.c, built with this build
case " $SCENARIOS " in
*" g "* | *" h "*) [ -x "$TWOPHASE" ] || die "$TWOPHASE is missing (built by tests/CMakeLists.txt)" ;;
esac

scenario() {
    case $1 in
    a) ctl p load "$T/r1.xml" ;;
    b) ctl p load "$T/r2000.xml" ;;
    c) ctl p delete "${RT}[id='0000007']" ;;
    d) ctl p rollback apply 0 ;;
    g) "$TWOPHASE" "$p_PORT" "$T/r1.xml" commit ;;
    h) "$TWOPHASE" "$p_PORT" "$T/r600.xml" abort && ctl p set "${RT}[id='0000009']/leaf3" 4711 ;;
    esac
}

fresh() {
    [ -n "${p_PID:-}" ] && node_crash p
    rm -rf "$T/p"
    cp -a "$T/base" "$T/p"
}

RUNS=0
SEQ=0
# run_point SCENARIO KIND N
run_point() {
    local s=$1 kind=$2 n=$3 rc=none what t v at="$1 $2:$3"
    RUNS=$((RUNS + 1))
    SEQ=$((SEQ + 1))
    fresh
    if CHORUS_FAULT=$kind:$n node_spawn p; then
        scenario "$s" >"$T/scen.out" 2>&1
        rc=$?
        if ! node_reap p 60; then
            bad "$at: the daemon did not die: the point was not reached"
            node_crash p
            return
        fi
    fi
    [ "$p_STATUS" = 137 ] || bad "$at: the daemon exited with $p_STATUS, not by SIGKILL: $(tail -n 2 "$T/p.out")"
    if ! node_spawn p; then
        bad "$at: the restart is refused: $(why p)"
        return
    fi
    state p "$T/cur"
    what=$(state_is "$T/cur" "$T/$s.before" "$T/$s.after")
    if [ "$what" = neither ]; then
        bad "$at: recovered state is neither before nor after: $(state_diff "$T/cur" "$T/$s.before" "$T/$s.after")"
        node_crash p
        return
    fi
    eval "N_$what=\$((N_$what + 1))"
    [ "$rc" = 0 ] && [ "$what" = before ] && bad "$at: the client got its reply but the commit is lost"
    t=$(cat "$T/cur.txid")
    [ "$(newest_rollback p)" = "$t" ] ||
        bad "$at: the rollback file of transaction $t is not there after recovery (newest: $(newest_rollback p))"
    # the next commit works and is durable
    v=$((700000 + SEQ))
    if ! ctl p set "${RT}[id='0000001']/leaf4" "$v" >"$T/last.out" 2>&1; then
        bad "$at: the commit after recovery fails: $(cat "$T/last.out")"
        node_crash p
        return
    fi
    [ "$(ctl p txid)" = $((t + 1)) ] || bad "$at: the commit after recovery did not get txid $((t + 1))"
    node_crash p
    if ! node_spawn p; then
        bad "$at: the restart after a further commit is refused: $(why p)"
        return
    fi
    [ "$(ctl p get "${RT}[id='0000001']/leaf4" 2>&1)" = "$v" ] && [ "$(ctl p txid)" = $((t + 1)) ] ||
        bad "$at: the commit after recovery is lost by kill -9 (txid $(ctl p txid), want $((t + 1)))"
    node_down p
}

summary=()
for s in $SCENARIOS; do
    t_start=$SECONDS
    # reference run: the states before and after, and the number of points
    fresh
    CHORUS_FAULT_LOG=1 node_up p
    state p "$T/$s.before"
    ok scenario "$s"
    state p "$T/$s.after"
    node_down p
    cp "$T/p.out" "$T/$s.faults"
    [ "$(cat "$T/$s.after.txid")" = $(($(cat "$T/$s.before.txid") + 1)) ] ||
        die "scenario $s: txid $(cat "$T/$s.before.txid") -> $(cat "$T/$s.after.txid")"
    cmp -s "$T/$s.before" "$T/$s.after" && die "scenario $s changes nothing"
    nw=$(fault_max "$T/$s.faults" write)
    nf=$(fault_max "$T/$s.faults" fsync)
    nr=$(fault_max "$T/$s.faults" rename)
    [ "$nw" -gt 0 ] && [ "$nf" -gt 0 ] || die "scenario $s: no points counted: $(cat "$T/$s.faults")"
    N_before=0 N_after=0 RUNS=0
    for ((n = 1; n <= nw; n++)); do
        run_point "$s" write "$n"
        run_point "$s" torn "$n"
    done
    # under the sanitizers fsync:N and synced:N alternate: after SIGKILL both leave the same
    # files (the page cache survives the process)
    for ((n = 1; n <= nf; n++)); do
        if ! is_asan || [ $((n % 2)) = 1 ]; then run_point "$s" fsync "$n"; fi
        if ! is_asan || [ $((n % 2)) = 0 ]; then run_point "$s" synced "$n"; fi
    done
    for ((n = 1; n <= nr; n++)); do
        run_point "$s" rename "$n"
    done
    summary+=("($s) $nw writes + $nf fsyncs + $nr renames = $RUNS runs: $N_before before, $N_after after ($((SECONDS - t_start)) s)")
done
printf 'journal points: %s\n' "${summary[@]}"
check_bad "inconsistent recovery at some points"
pass
