#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults of the active-active cluster (the holes of the seed's design, DESIGN.md):
#  - kill -9 of a peer while it is in PREPARE, and of a peer after PREPARE (before COMMIT):
#    the commit succeeds without it, the peer restarts, re-syncs before it opens NETCONF, and
#    holds the acknowledged commit;
#  - kill -9 of the originating node between its peers' commits: the surviving nodes converge
#    (the one that missed the commit re-syncs), the restarted node re-syncs, and every
#    acknowledged commit is everywhere;
#  - a stopped (SIGSTOP) node leaves the voting set, writes go on; after SIGCONT its first
#    northbound write is refused (it is behind: fenced), then it re-syncs and serves again.
# Each step ends with identical data on every live node (get-config over NETCONF) and
# `chorusctl cluster status` in agreement.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cluster_lib.sh"

check_all() { # every node identical, status in agreement, and holds route ID = VALUE
    local id=$1 v=$2 n
    status_ok 0
    $NC "$(ssh 0)" get >"$T/ref" || die "get-config on node 0"
    same_everywhere "$T/ref" 1 2
    for n in 0 1 2; do
        [ "$(c "$n" get "$R[id='$id']/leaf1")" = "$v" ] || die "node $n lacks the acknowledged commit $id=$v"
    done
}
start_sub() { # NODE ARG: sub_client serve-cluster ARG on NODE
    "$SUB" "127.0.0.1:$(ipc "$1")" serve-cluster "$2" >"$T/sub.$1.out" 2>&1 &
    SUBPID=$!
    PIDS+=("$SUBPID")
    for _ in $(seq 1 200); do grep -q ready "$T/sub.$1.out" && return 0; sleep 0.05; done
    die "sub_client did not register: $(cat "$T/sub.$1.out")"
}

cl start 3 --routes 20 >/dev/null || die "cluster start"
ok c 0 set "$R[id='0000001']/leaf1" 100
check_all 0000001 100

echo "-- kill -9 of a peer during PREPARE"
start_sub 2 slow:3000:0
c 0 set "$R[id='0000002']/leaf1" 200 >"$T/set.out" 2>&1 &
SETPID=$!
sleep 1
grep -q "PREPARE slow" "$T/sub.2.out" || die "node 2's subscriber is not in PREPARE: $(cat "$T/sub.2.out")"
cl kill 2
kill -9 "$SUBPID" 2>/dev/null
wait "$SETPID" || die "the commit failed with a peer killed: $(cat "$T/set.out")"
for n in 0 1; do [ "$(c "$n" get "$R[id='0000002']/leaf1")" = 200 ] || die "node $n"; done
cl restart 2 >/dev/null || die "restart node 2"
# it re-synced before opening: it answers the commit at once
[ "$(c 2 get "$R[id='0000002']/leaf1")" = 200 ] || die "node 2 opened without the commit"
grep -q "re-syncing from the cluster" "$CDIR/node2/aasync.log" || die "node 2 did not re-sync"
check_all 0000002 200

echo "-- kill -9 of a peer after PREPARE, before COMMIT"
start_sub 0 slow:3000:2000000
c 0 set "$R[id='0000003']/leaf1" 300 >"$T/set.out" 2>&1 &
SETPID=$!
sleep 1
grep -q "PREPARE slow" "$T/sub.0.out" || die "node 0's late subscriber is not in PREPARE"
cl kill 1
wait "$SETPID" || die "the commit failed with a peer killed after PREPARE: $(cat "$T/set.out")"
kill "$SUBPID"
wait "$SUBPID" 2>/dev/null
grep -q "node 1 .* did not commit transaction" "$CDIR/node0/aasync.log" ||
    die "node 0 did not log the peer's failure: $(tail -n 5 "$CDIR/node0/aasync.log")"
cl restart 1 >/dev/null || die "restart node 1"
[ "$(c 1 get "$R[id='0000003']/leaf1")" = 300 ] || die "node 1 opened without the commit"
check_all 0000003 300

echo "-- kill -9 of the originating node between its peers' commits"
cl kill 0
CHORUS_AASYNC_CRASH=after-first-commit cl restart 0 >/dev/null || die "restart node 0"
check_all 0000003 300
c 0 set "$R[id='0000004']/leaf1" 400 >"$T/set.out" 2>&1 && die "node 0 survived: $(cat "$T/set.out")"
grep -q "CHORUS_AASYNC_CRASH" "$CDIR/node0/aasync.log" || die "the crash point was not reached"
rm -f "$CDIR/node0/"*.pid
# node 1 committed it, node 2 did not: node 2 is behind and re-syncs from node 1
for _ in $(seq 1 80); do
    [ "$(c 2 get "$R[id='0000004']/leaf1")" = 400 ] && break
    sleep 0.25
done
[ "$(c 1 get "$R[id='0000004']/leaf1")" = 400 ] || die "node 1 lacks the commit of its originator"
[ "$(c 2 get "$R[id='0000004']/leaf1")" = 400 ] || die "node 2 did not converge: $(tail -n 5 "$CDIR/node2/aasync.log")"
grep -q "re-synced from node 1" "$CDIR/node2/aasync.log" || die "node 2 did not re-sync from node 1"
cl restart 0 >/dev/null || die "restart node 0 after its crash"
check_all 0000004 400
ok c 1 set "$R[id='0000005']/leaf1" 500
check_all 0000005 500

echo "-- a stopped node leaves the voting set; writes go on; it re-syncs after SIGCONT"
P2=$(cat "$CDIR/node2/chorusd.pid") A2=$(cat "$CDIR/node2/aasync.pid")
kill -STOP "$P2" "$A2"
sleep 2.5 # dead-after (1500 ms) and a heartbeat
t0=$(date +%s%N)
ok c 0 set "$R[id='0000006']/leaf1" 600
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 3000 ] || die "a write took $ms ms with a stopped node out of the voting set"
grep -q "node 2 .*no heartbeat" "$CDIR/node0/aasync.log" || die "node 0 did not detect node 2"
ok c 1 set "$R[id='0000007']/leaf1" 700
kill -CONT "$P2" "$A2"
# its first write is refused (it is behind: its peers or its own synchronizer say so)
expect_rc 1 c 2 set "$R[id='0000008']/leaf1" 800
has "behind"
for _ in $(seq 1 80); do
    [ "$(c 2 get "$R[id='0000007']/leaf1" 2>/dev/null)" = 700 ] && break
    sleep 0.25
done
check_all 0000007 700
ok c 2 set "$R[id='0000008']/leaf1" 800
check_all 0000008 800
cl stop >/dev/null
pass
