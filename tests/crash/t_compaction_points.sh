#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kill at every write, fsync and rename point of a commit that triggers a compaction (jnl.c J4,
# J5; the smallest threshold, 4096 bytes): the commit's append, the creation of the new journal
# in the daemon, and the snapshot and its LYB cache written by the forked child. The fault
# counters are plain process globals (fault.c), so the child inherits the parent's counts at
# fork: the N-th operation overall happens in the child when the parent does nothing counted
# after the fork, which the scenario ensures (one commit, then wait). A fault in the child
# kills the child only: the daemon logs the failure and keeps its journals; the test then
# kills the daemon too. The restart must succeed with the state before or after (after if
# the client got its reply) and no *.tmp file; a further commit must survive kill -9; and the
# next compaction must succeed, leave only the newest journal and snapshot, and its snapshot
# must load from its LYB cache (under the sanitizers, checked at every third point).
. "$(dirname "$0")/crashlib.sh"

small_conf "$T/small.conf"
export NODE_CONF=$T/small.conf

# the database before: a compaction done, the journal more than half full
node_up base
for ((i = 1; ; i++)); do
    route_xml "$i" >"$T/r.xml"
    ok ctl base load "$T/r.xml"
    wait_compacted base
    [ "$(status_of base snapshot_txid)" -gt 0 ] && [ "$(status_of base bytes)" -ge 2000 ] && break
    [ "$i" -lt 40 ] || die "no compaction in 40 commits"
done
node_down base
routes_gen 10 --start 101 >"$T/r10.xml" # ~2.3 kB: crosses the threshold
routes_gen 20 --start 201 >"$T/r20.xml"

fresh() {
    node_crash p
    wait_unlocked "$T/p"
    rm -rf "$T/p"
    cp -a "$T/base" "$T/p"
}

# wait until the daemon died or its compaction ended (the daemon logs the end either way)
settle() {
    local i
    for ((i = 0; i < 3000; i++)); do
        [ -f "$T/p.status" ] && return 0
        grep -q -e "compaction: snapshot written" -e "compaction: the snapshot writer failed" "$T/p.out" &&
            return 0
        sleep 0.02
    done
    return 1
}

fresh
CHORUS_FAULT_LOG=1 node_up p
state p "$T/before"
SNAP0=$(status_of p snapshot_txid)
ok ctl p load "$T/r10.xml"
settle || die "the reference compaction does not end"
state p "$T/after"
t0=$(cat "$T/before.txid")
[ "$(status_of p snapshot_txid)" = $((t0 + 1)) ] || die "the scenario did not compact"
node_down p
cp "$T/p.out" "$T/faults"
nw=$(fault_max "$T/faults" write)
nf=$(fault_max "$T/faults" fsync)
nr=$(fault_max "$T/faults" rename)
[ "$nr" -ge 1 ] || die "no rename counted: $(grep fault: "$T/faults")"
# the operations of the child: those after "new journal started"
child_from=$(awk '/new journal started/ { on = 1 } on && $1 == "fault:" && $2 == "write" { print $3; exit }' "$T/faults")

RUNS=0 N_before=0 N_after=0 N_child=0 N_parent=0 FULL=0
FULL_EVERY=1
is_asan && FULL_EVERY=3
run_point() {
    local kind=$1 n=$2 rc=none what t at="$1:$2"
    RUNS=$((RUNS + 1))
    fresh
    if CHORUS_FAULT=$kind:$n node_spawn p; then
        ctl p load "$T/r10.xml" >"$T/scen.out" 2>&1
        rc=$?
        settle || {
            bad "$at: neither a death nor the end of the compaction"
            return
        }
        if [ -f "$T/p.status" ]; then
            N_parent=$((N_parent + 1))
        elif grep -q "snapshot writer failed" "$T/p.out"; then
            N_child=$((N_child + 1))
            [ "$(status_of p snapshot_txid)" = "$SNAP0" ] ||
                bad "$at: the daemon counts the failed snapshot as written: $(status_of p snapshot_txid)"
            node_crash p
        else
            bad "$at: nothing died: the point was not reached"
            node_crash p
            return
        fi
    fi
    node_reap p 30
    [ "$p_STATUS" = 137 ] || bad "$at: the daemon exited with $p_STATUS, not by SIGKILL: $(tail -n 2 "$T/p.out")"
    wait_unlocked "$T/p"
    if ! node_spawn p; then
        bad "$at: the restart is refused: $(why p)"
        return
    fi
    state p "$T/cur"
    what=$(state_is "$T/cur" "$T/before" "$T/after")
    if [ "$what" = neither ]; then
        bad "$at: recovered state is neither before nor after: $(state_diff "$T/cur" "$T/before" "$T/after")"
        node_crash p
        return
    fi
    eval "N_$what=\$((N_$what + 1))"
    [ "$rc" = 0 ] && [ "$what" = before ] && bad "$at: the client got its reply but the commit is lost"
    [ -z "$(tmp_files "$T/p")" ] || bad "$at: stale files after the restart: $(tmp_files "$T/p")"
    # a small commit after recovery survives kill -9
    t=$(cat "$T/cur.txid")
    if ! ctl p set "${RT}[id='0000001']/leaf4" $((800000 + RUNS)) >"$T/last.out" 2>&1; then
        bad "$at: the commit after recovery fails: $(cat "$T/last.out")"
        node_crash p
        return
    fi
    node_crash p
    if ! node_spawn p; then
        bad "$at: the restart after a further commit is refused: $(why p)"
        return
    fi
    t=$((t + 1))
    [ "$(ctl p get "${RT}[id='0000001']/leaf4" 2>&1)" = $((800000 + RUNS)) ] && [ "$(ctl p txid)" = "$t" ] ||
        bad "$at: the commit after recovery is lost by kill -9 (txid $(ctl p txid 2>&1), want $t)"
    # the next compaction succeeds and cleans up (under the sanitizers at every third point)
    if [ $((RUNS % FULL_EVERY)) != 0 ]; then
        node_down p
        return
    fi
    FULL=$((FULL + 1))
    if ! ctl p load "$T/r20.xml" >"$T/last.out" 2>&1; then
        bad "$at: the commit after recovery fails: $(cat "$T/last.out")"
        node_crash p
        return
    fi
    t=$((t + 1))
    settle
    [ "$(status_of p snapshot_txid)" = "$t" ] || bad "$at: the compaction after recovery did not complete: snapshot $(status_of p snapshot_txid), txid $t"
    [ "$(db_files p)" = "$(only_newest "$t")" ] ||
        bad "$at: after the next compaction the directory holds: $(db_files p)"
    state p "$T/next"
    node_crash p
    wait_unlocked "$T/p"
    if ! node_spawn p; then
        bad "$at: the restart after the next compaction is refused: $(why p)"
        return
    fi
    grep -q "(snapshot $t from its cache" "$T/p.out" ||
        bad "$at: the snapshot of the next compaction is not loaded from its cache: $(grep -m 1 recovered "$T/p.out")"
    state p "$T/cur"
    same_state "$T/cur" "$T/next" || bad "$at: the next compaction lost data: $(state_diff "$T/cur" "$T/next" "$T/next")"
    node_down p
}

# Under the sanitizers the kinds alternate at the points whose kinds leave the same files after
# SIGKILL (fsync:N and synced:N: the page cache survives the process) and at the child's writes
# (write:N and torn:N); every point is still hit by one kind.
both() {
    ! is_asan || [ "$1" -lt "$child_from" ]
}
for ((n = 1; n <= nw; n++)); do
    if both "$n" || [ $((n % 2)) = 1 ]; then run_point write "$n"; fi
    if both "$n" || [ $((n % 2)) = 0 ]; then run_point torn "$n"; fi
done
for ((n = 1; n <= nf; n++)); do
    if ! is_asan || [ $((n % 2)) = 1 ]; then run_point fsync "$n"; fi
    if ! is_asan || [ $((n % 2)) = 0 ]; then run_point synced "$n"; fi
done
for ((n = 1; n <= nr; n++)); do
    run_point rename "$n"
done
echo "compaction points: $nw writes (child from write $child_from) + $nf fsyncs + $nr renames = $RUNS runs ($N_parent killed the daemon, $N_child the snapshot writer): $N_before before, $N_after after; the next compaction checked after $FULL of them"
check_bad "inconsistent recovery around compaction"
pass
