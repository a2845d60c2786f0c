#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: a 3-node active-active cluster of the routes example on 127.0.0.1
# (examples/routes/cluster.sh: chorusd + chorus-aasync per node). Each node starts with routes
# of its own values and node 0's win; a change made through NETCONF on node 1 appears on nodes
# 0 and 2; a change refused by the cluster; a 4th node joins and is in sync; it leaves.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CHORUS_BUILD=$BUILD
CTL="$BUILD/chorusctl"
NC="/usr/bin/python3 $ROOT/tests/integration/nc_cluster.py"
DIR=$(mktemp -d /tmp/chorus-demo.XXXXXX)
R="/routes:active-cfg/routes/route"

# the documented ports (IPC 4565+10i, SSH 2022+10i, TCP 2023+10i) unless they are taken
OFF=${CHORUS_DEMO_OFFSET:-$("$HERE/cluster.sh" free-offset --prefer 0)}
cl() { "$HERE/cluster.sh" "$@" --dir "$DIR" --port-offset "$OFF"; }
ipc() { echo $((4565 + 10 * $1 + OFF)); }
ssh() { echo $((2022 + 10 * $1 + OFF)); }
cleanup() {
    cl stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
leaf1() { "$CTL" -p "$(ipc "$1")" get "$R[id='$2']/leaf1"; }

step "start a 3-node cluster (nodes 0..2, IPC ports $(ipc 0), $(ipc 1), $(ipc 2); NETCONF over SSH $(ssh 0), $(ssh 1), $(ssh 2))"
echo "each node starts with 100 routes of its own values; node 0 is the init node: its data wins"
run cl start 3 --routes 100
for n in 0 1 2; do echo "node $n: route 0000042 leaf1 = $(leaf1 "$n" 0000042)"; done
run "$CTL" -p "$(ipc 0)" cluster status

step "change route 0000042 through NETCONF (ncclient, admin/admin) on node 1"
run $NC "$(ssh 1)" set 0000042 4242
for n in 0 1 2; do echo "node $n: route 0000042 leaf1 = $(leaf1 "$n" 0000042)"; done

step "1000 routes in one edit-config on node 2, read back from node 0"
run $NC "$(ssh 2)" edit 1000 7 1001
echo "node 0 holds $("$CTL" -p "$(ipc 0)" get /routes:active-cfg | grep -c '<route>') routes"

step "an invalid value and a write to the cluster's own configuration are refused: nothing changes"
run $NC "$(ssh 0)" set 0000042 -1 || true
run "$CTL" -p "$(ipc 1)" set /chorus-aacluster:cluster/heartbeat-interval 100 || true
run "$CTL" -p "$(ipc 0)" cluster status

step "node 3 joins the cluster through node 0"
run cl join 3
echo "node 3: route 0000042 leaf1 = $(leaf1 3 0000042)"
run "$CTL" -p "$(ipc 3)" cluster status

step "node 3 leaves the cluster"
run cl leave 3
run "$CTL" -p "$(ipc 0)" cluster status
step "done (logs: each node's chorusd.log and aasync.log in $DIR, removed now)"
