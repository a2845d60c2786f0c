#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 during compaction (jnl.c J4, J5): a database large enough that the forked snapshot
# writer runs for a while; a commit triggers a compaction, and
# 1. the daemon is killed while its child writes the snapshot: the child, which inherited the
#    database lock, finishes alone; a restart while it runs must not run a second writer on
#    the directory; once it is gone the restart recovers the acknowledged commit, leaves no
#    *.tmp file, and the next compaction removes the old journal and snapshot;
# 2. the daemon and its child are killed together at random moments of the snapshot writing
#    (the whole service crashing): the same must hold.
. "$(dirname "$0")/crashlib.sh"

SEED=${CHORUS_SEED:-$$}
RANDOM=$SEED
small_conf "$T/small.conf"
export NODE_CONF=$T/small.conf
if is_asan; then
    NROUTES=1500 # the sanitizers make the snapshot writer ~30 times slower
    DELAY_MAX=300
    CATCH=2
    ROUNDS=3
else
    NROUTES=20000
    DELAY_MAX=120
    CATCH=3
    ROUNDS=5
fi

# base: NROUTES routes, compacted
node_up base
routes_gen "$NROUTES" >"$T/big.xml"
ok ctl base load "$T/big.xml"
wait_compacted base
node_down base
routes_gen 20 --start 9000001 >"$T/r20a.xml" # ~4.5 kB: each triggers a compaction
routes_gen 20 --start 9000101 >"$T/r20b.xml"

fresh() {
    node_crash p
    wait_unlocked "$T/p"
    rm -rf "$T/p"
    cp -a "$T/base" "$T/p"
}

# Commit r20a, then wait for the snapshot writer to appear; prints its pid (or nothing if it
# was not seen before the compaction ended).
commit_and_catch_child() {
    local i c
    ok ctl p load "$T/r20a.xml"
    for ((i = 0; i < 20000; i++)); do
        c=
        read -r c <"/proc/$p_PID/task/$p_PID/children" 2>/dev/null
        if [ -n "$c" ]; then
            echo "${c%% *}"
            return
        fi
        if [ $((i % 200)) = 199 ] && [ "$(status_of p compacting)" = false ]; then
            return
        fi
    done
}

# After the crash: the restart recovers the acknowledged commit, no *.tmp, and the next
# compaction cleans up.
check_recovery() {
    local at=$1 t
    wait_unlocked "$T/p"
    node_spawn p || {
        bad "$at: the restart is refused: $(why p)"
        return
    }
    state p "$T/cur"
    same_state "$T/cur" "$T/after" || bad "$at: the acknowledged commit is not recovered: $(state_diff "$T/cur" "$T/before" "$T/after")"
    [ -z "$(tmp_files "$T/p")" ] || bad "$at: stale files after the restart: $(tmp_files "$T/p")"
    ok ctl p load "$T/r20b.xml"
    wait_compacted p
    t=$(ctl p txid)
    [ "$(db_files p)" = "$(only_newest "$t")" ] ||
        bad "$at: after the next compaction the directory holds: $(db_files p)"
    node_down p
}

# reference: the states before and after the commit
fresh
node_up p
state p "$T/before"
ok ctl p load "$T/r20a.xml"
wait_compacted p
state p "$T/after"
node_down p

# 1. the daemon killed while its child writes: the child is stopped (SIGSTOP) as soon as it
# is seen, so that the checks do not race with it, then resumed
caught=0 tries=0
while [ "$caught" -lt "$CATCH" ] && [ "$tries" -lt 10 ]; do
    tries=$((tries + 1))
    fresh
    node_up p
    child=$(commit_and_catch_child)
    [ -n "$child" ] && kill -STOP "$child" 2>/dev/null || continue
    caught=$((caught + 1))
    kill -9 "$p_PID"
    node_reap p 30 || die "the daemon survives kill -9"
    holds_lock "$T/p" "$child" || bad "try $tries: the snapshot writer does not hold the lock"
    # a restart now must not open the directory while the orphan may write into it
    if node_spawn p; then
        bad "daemon killed, try $tries: a new daemon opened the directory while the old snapshot writer ($child) holds it"
        node_crash p
    else
        lockmsg=$(grep -m 1 "in use" "$T/p.out" | tr -d '\n')
        [ -n "$lockmsg" ] || bad "try $tries: the restart during the orphan's work fails otherwise: $(tail -n 2 "$T/p.out")"
    fi
    kill -CONT "$child"
    check_recovery "daemon killed, try $tries"
done
[ "$caught" -gt 0 ] || die "the snapshot writer was never caught running in $tries tries ($NROUTES routes)"
echo "compaction-kill: daemon killed during the snapshot writing $caught times (of $tries tries): a restart while the orphaned writer runs is refused, then recovered, next compaction cleaned up"
echo "compaction-kill: the refusal said: ${lockmsg#*ERROR }"

# 2. daemon and child killed together at random moments
killed=0
for ((round = 1; round <= ROUNDS; round++)); do
    fresh
    node_up p
    child=$(commit_and_catch_child)
    [ -n "$child" ] || continue
    sleep "$(printf '0.%03d' $((RANDOM % DELAY_MAX)))"
    kill -9 "$child" "$p_PID" 2>/dev/null
    node_reap p 30 || die "the daemon survives kill -9"
    killed=$((killed + 1))
    check_recovery "daemon and child killed, round $round"
done
echo "compaction-kill: daemon and snapshot writer killed together $killed times at random moments (seed $SEED)"
check_bad "recovery after a kill during compaction"
pass
