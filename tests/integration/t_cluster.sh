#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The active-active cluster (chorus-aasync, examples/routes/cluster.sh), the seed's scenario:
# 3 nodes with different local data (node 0's wins), a change through NETCONF on one node seen
# on the others, join of a 4th node, delete of every route through it, leave, N routes in one
# edit-config, a peer's veto reaching the NETCONF client with nothing changed anywhere, the
# cluster container refused to northbound writes, a replicated transaction that aborts leaving
# no suppression behind, and concurrent commits on different nodes. Then the same cluster in
# candidate mode with confirmed commits (confirmed from a second session; left to time out and
# reverted on every node).
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/../cluster_lib.sh"
N=${CHORUS_CLUSTER_ROUTES:-1000}
SECS=${CHORUS_CLUSTER_SECS:-30}

# ---- running mode ----
echo "-- 3 nodes with different local data: node 0's wins"
cl start 3 --routes 50 >/dev/null || die "cluster start"
for n in 0 1 2; do
    v=$(c "$n" get "$R[id='0000005']/leaf1")
    [ "$v" = 35 ] || die "node $n: route 5 leaf1 is $v, node 0's value is 35"
done
status_ok 0
contains "in sync: 3 nodes" "$(cat "$T/status")"

echo "-- a change through NETCONF on node 1 is on nodes 0 and 2"
ok $NC "$(ssh 1)" set 0000007 4242
for n in 0 2; do
    [ "$(c "$n" get "$R[id='0000007']/leaf1")" = 4242 ] || die "node $n does not have it"
done
[ "$(c 0 get /chorus-aacluster:cluster/transaction-id)" = 1 ] || die "cluster transaction id"

echo "-- node 3 joins through node 0, in sync"
cl join 3 >/dev/null || die "join"
[ "$(c 3 get "$R[id='0000007']/leaf1")" = 4242 ] || die "node 3 did not copy the data"
status_ok 2
contains "in sync: 4 nodes" "$(cat "$T/status")"
for n in 0 1 2 3; do
    c "$n" get "/chorus-aacluster:cluster/node[id='3']/ipc-port" >/dev/null || die "node $n lacks node 3"
done

echo "-- a node whose YANG modules differ is refused"
expect_rc 1 "$CLUSTER" join 4 --yang "$CHORUS_SRC/tests/integration/models" --dir "$CDIR" --port-offset "$OFF"
grep -q "refusing to pair with node 0: the YANG modules differ: chorus-test@.* on this node" "$CDIR/node4/aasync.log" ||
    die "no refusal naming the module: $(tail -n 3 "$CDIR/node4/aasync.log")"
"$CLUSTER" kill 4 --dir "$CDIR" --port-offset "$OFF"
fails c 0 get "/chorus-aacluster:cluster/node[id='4']"
status_ok 0

echo "-- every route deleted through node 3: gone everywhere"
ok $NC "$(ssh 3)" remove-all
for n in 0 1 2 3; do
    [ "$(c "$n" get /routes:active-cfg)" = "" ] || die "node $n still has routes"
done

echo "-- node 3 leaves"
cl leave 3 >"$T/leave" 2>&1 || die "leave: $(cat "$T/leave")"
contains "left the cluster" "$(cat "$T/leave")"
status_ok 1
contains "in sync: 3 nodes" "$(cat "$T/status")"
fails c 0 get "/chorus-aacluster:cluster/node[id='3']"

for k in 10 "$N"; do
    echo "-- $k routes in one edit-config on node 1; get-config on node 2 equals it"
    ok $NC "$(ssh 1)" edit "$k" 7
    $NC "$(ssh 1)" get >"$T/want" || die "get on node 1"
    [ "$(wc -l <"$T/want")" = "$k" ] || die "node 1 has $(wc -l <"$T/want") routes"
    same_everywhere "$T/want" 0 2
    status_ok 2
done

echo "-- a peer's validator refuses: the NETCONF client gets its error, nothing changes"
"$SUB" "127.0.0.1:$(ipc 2)" serve-cluster veto >"$T/veto.out" 2>&1 &
VETO=$!
PIDS+=("$VETO")
for _ in $(seq 1 100); do grep -q ready "$T/veto.out" && break; sleep 0.05; done
tx=$(c 0 get /chorus-aacluster:cluster/transaction-id)
expect_rc 1 $NC "$(ssh 1)" set 0000003 2000000
has "node 2" "leaf1 must not exceed 1000000"
same_everywhere "$T/want" 0 1 2
[ "$(c 0 get /chorus-aacluster:cluster/transaction-id)" = "$tx" ] || die "the transaction id moved"
kill "$VETO"
wait "$VETO" 2>/dev/null

echo "-- after the aborted replicated transaction, the next one replicates (no stuck suppression)"
ok $NC "$(ssh 2)" set 0000003 33
for n in 0 1; do
    [ "$(c "$n" get "$R[id='0000003']/leaf1")" = 33 ] || die "node $n missed the next commit"
done

echo "-- /chorus-aacluster:cluster is refused to northbound writes"
expect_rc 1 c 1 set /chorus-aacluster:cluster/heartbeat-interval 100
has "changed by the cluster only" "leave"
expect_rc 1 c 1 delete "/chorus-aacluster:cluster/node[id='2']"
status_ok 0

echo "-- concurrent commits on 2, then 3 nodes for ${SECS}s: each succeeds everywhere or fails clearly"
writer() { # NODE ROUTE: set ROUTE's leaf1 to 1, 2, ... on NODE until time is up
    local n=$1 id=$2 i=0 last=0 end=$(($(date +%s) + SECS))
    while [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        if c "$n" set "$R[id='$id']/leaf1" "$i" >"$T/w.$n.out" 2>&1; then
            last=$i
        elif ! grep -q -e "cluster busy, retry" -e "commit lock" -e "locked by session [0-9]* (chorus-cluster, aasync" "$T/w.$n.out"; then
            echo "unclear error: $(cat "$T/w.$n.out")"
            return 1
        else
            echo busy >>"$T/w.$n.busy"
        fi
    done
    echo "$last" >"$T/w.$n.last"
    echo "$i" >"$T/w.$n.tries"
}
for group in "0 1" "0 1 2"; do
    rm -f "$T"/w.*
    wp=()
    for n in $group; do
        writer "$n" "000000$((n + 1))" &
        wp+=($!)
    done
    for p in "${wp[@]}"; do wait "$p" || die "a writer saw an unclear error"; done
    for n in $group; do
        want=$(cat "$T/w.$n.last")
        [ "$want" -gt 0 ] || die "node $n: no commit succeeded in ${SECS}s"
        for m in 0 1 2; do
            got=$(c "$m" get "$R[id='000000$((n + 1))']/leaf1")
            [ "$got" = "$want" ] || die "node $m: route $((n + 1)) is $got, the last commit on node $n that succeeded set $want"
        done
        echo "   node $n: $(cat "$T/w.$n.tries") commits, last success $want, busy $(cat "$T/w.$n.busy" 2>/dev/null | wc -l)"
    done
    status_ok 0
done
cl stop >/dev/null

# ---- candidate mode, confirmed commits ----
echo "-- candidate mode: a confirmed commit on node 1, confirmed from a second session"
sed 's|<access>read-write</access>|<access>writable-through-candidate</access>|' \
    "$CHORUS_SRC/examples/routes/chorusd.conf" >"$T/cand.conf"
CDIR=$T/cl2
OFF=$(pick_offset)
cl start 3 --routes 5 --conf "$T/cand.conf" >/dev/null || die "cluster start (candidate)"
ok $NC "$(ssh 0)" edit-running-refused
ok $NC "$(ssh 1)" confirmed 20 11 60 tok1
$NC "$(ssh 1)" get >"$T/c1"
[ "$(wc -l <"$T/c1")" = 20 ] || die "the confirmed commit is not in running"
same_everywhere "$T/c1" 0 2
ok $NC "$(ssh 1)" confirm tok1
sleep 1
same_everywhere "$T/c1" 0 1 2

echo "-- a confirmed commit left to time out is reverted on every node"
ok $NC "$(ssh 1)" confirmed 30 99 2 tok2
$NC "$(ssh 2)" get >"$T/c2"
[ "$(wc -l <"$T/c2")" = 30 ] || die "node 2 does not have the confirmed commit"
for _ in $(seq 1 40); do
    $NC "$(ssh 0)" get >"$T/c3"
    cmp -s "$T/c3" "$T/c1" && break
    sleep 0.25
done
same_everywhere "$T/c1" 0 1 2
status_ok 2
ok $NC "$(ssh 2)" cand 3 5
$NC "$(ssh 2)" get >"$T/c4"
same_everywhere "$T/c4" 0 1
pass
