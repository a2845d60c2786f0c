#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kill at every write and fsync point of a first start (jnl.c J1, J2, J4; DESIGN.md "at first
# start with an empty database, *.xml files in the database directory are loaded as the init
# transaction"): (e) the first start of an empty database, which creates the journal; (f) the
# first start of a directory holding init files, which also commits the init transaction.
# For every point a fresh copy of the pre-start directory starts with CHORUS_FAULT=KIND:N and
# dies there; the restart without the fault must succeed and must finish the first start: a
# database in which nothing was committed is still empty, so (f) must end with the init
# transaction committed (txid 1, the data of the init files). A further commit must work and
# survive kill -9.
. "$(dirname "$0")/crashlib.sh"

# (f): two init files, applied in name order (the second changes a route of the first)
mkdir -p "$T/init"
routes_gen 20 >"$T/init/10-routes.xml"
{
    printf '<active-cfg xmlns="urn:chorus:example:routes"><routes>'
    printf '<route><id>0000005</id><leaf1>4242</leaf1></route></routes></active-cfg>\n'
} >"$T/init/20-fix.xml"
route_xml 900 >"$T/r900.xml"

fresh() {
    node_crash p
    rm -rf "$T/p"
    case $1 in
    e) mkdir -p "$T/p" ;;
    f) cp -a "$T/init" "$T/p" ;;
    esac
}

SEQ=0
# run_point SCENARIO KIND N: the scenario is the start itself
run_point() {
    local s=$1 kind=$2 n=$3 what t at="$1 $2:$3"
    RUNS=$((RUNS + 1))
    SEQ=$((SEQ + 1))
    fresh "$s"
    if CHORUS_FAULT=$kind:$n node_spawn p; then
        node_reap p 30 || {
            bad "$at: the daemon did not die: the point was not reached"
            node_crash p
            return
        }
    fi
    [ "$p_STATUS" = 137 ] || bad "$at: the daemon exited with $p_STATUS, not by SIGKILL: $(tail -n 2 "$T/p.out")"
    if ! node_spawn p; then
        bad "$at: the restart is refused: $(why p)"
        return
    fi
    state p "$T/cur"
    what=$(state_is "$T/cur" "$T/$s.before" "$T/$s.after")
    case $what in
    neither)
        bad "$at: recovered state is neither empty nor the init data: $(state_diff "$T/cur" "$T/$s.before" "$T/$s.after")"
        ;;
    before)
        if [ "$s" = f ]; then
            bad "$at: the init transaction is never committed: the restart finds nothing committed (txid $(cat "$T/cur.txid")) but skips the init files"
        fi
        ;;
    esac
    eval "N_$what=\$((N_$what + 1))"
    t=$(cat "$T/cur.txid")
    # a further commit works and is durable
    if ! ctl p load "$T/r900.xml" >"$T/last.out" 2>&1; then
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
    [ "$(ctl p get "${RT}[id='0000900']/leaf1" 2>&1)" = 6300 ] && [ "$(ctl p txid)" = $((t + 1)) ] ||
        bad "$at: the commit after recovery is lost by kill -9 (txid $(ctl p txid 2>&1), want $((t + 1)))"
    node_down p
}

summary=()
for s in e f; do
    # reference run
    fresh "$s"
    CHORUS_FAULT_LOG=1 node_up p
    state p "$T/$s.after"
    node_down p
    cp "$T/p.out" "$T/$s.faults"
    # "before": nothing committed
    : >"$T/$s.before"
    echo 0 >"$T/$s.before.txid"
    case $s in
    e) same_state "$T/$s.after" "$T/$s.before" || die "a first start of an empty database is not empty" ;;
    f)
        [ "$(cat "$T/f.after.txid")" = 1 ] || die "the init transaction did not commit as txid 1"
        grep -q '<leaf1>4242</leaf1>' "$T/f.after" && grep -q '<id>0000020</id>' "$T/f.after" ||
            die "the init files are not loaded: $(head "$T/f.after")"
        ;;
    esac
    nw=$(fault_max "$T/$s.faults" write)
    nf=$(fault_max "$T/$s.faults" fsync)
    [ "$nw" -gt 0 ] && [ "$nf" -gt 0 ] || die "scenario $s: no points counted: $(cat "$T/$s.faults")"
    N_before=0 N_after=0 RUNS=0
    for ((n = 1; n <= nw; n++)); do
        run_point "$s" write "$n"
        run_point "$s" torn "$n"
    done
    for ((n = 1; n <= nf; n++)); do
        run_point "$s" fsync "$n"
        run_point "$s" synced "$n"
    done
    summary+=("($s) $nw writes + $nf fsyncs = $RUNS runs: $N_before nothing committed, $N_after init committed")
done
printf 'first start points: %s\n' "${summary[@]}"
check_bad "inconsistent recovery of a first start"
pass
