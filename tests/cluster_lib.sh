#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers of the cluster tests (sourced after lib.sh): a cluster of examples/routes/cluster.sh
# in $T/cl on ports of its own, stopped on exit (with the synchronizers' logs on failure).
#   cl ARGS...            cluster.sh ARGS --dir $CDIR --port-offset $OFF
#   ipc N / ssh N         node N's IPC / NETCONF SSH port
#   c N ARGS...           chorusctl against node N
#   $NC PORT OP ...       tests/integration/nc_cluster.py (ncclient)
#   same_everywhere FILE NODES...   get-config (NETCONF) of every node equals FILE
#   status_ok N           chorusctl cluster status on node N succeeds (retried up to 10 s)
: "${CHORUS_BUILD:?}"
CLUSTER="$CHORUS_SRC/examples/routes/cluster.sh"
NC="/usr/bin/python3 $CHORUS_SRC/tests/integration/nc_cluster.py"
SUB="$CHORUS_BUILD/tests/sub_client"
R=/routes:active-cfg/routes/route
export CHORUS_BUILD

# A port offset whose ports are free, below the kernel's ephemeral range so that other tests'
# free_port never hands them out meanwhile (cluster.sh free-offset).
pick_offset() { "$CLUSTER" free-offset; }
OFF=$(pick_offset)
[ -n "$OFF" ] || die "no free port range"
CDIR=$T/cl
cl() { "$CLUSTER" "$@" --dir "$CDIR" --port-offset "$OFF"; }
ipc() { echo $((4565 + 10 * $1 + OFF)); }
ssh() { echo $((2022 + 10 * $1 + OFF)); }
c() { local n=$1; shift; "$CHORUSCTL" -t 60 -p "$(ipc "$n")" "$@"; }
on_exit() {
    local rc=$?
    [ -d "$CDIR" ] && "$CLUSTER" stop --dir "$CDIR" >/dev/null 2>&1
    if [ "$rc" -ne 0 ]; then
        for l in "$CDIR"/node*/aasync.log; do [ -f "$l" ] && { echo "---- $l (tail)"; tail -n 25 "$l"; }; done
    fi
    (exit "$rc")
    cleanup
}
trap on_exit EXIT

# every node answers the same routes (get-config over NETCONF) and cluster status agrees
same_everywhere() {
    local want=$1 n
    shift
    for n in "$@"; do
        $NC "$(ssh "$n")" get >"$T/get.$n" || die "get-config on node $n: $(cat "$T/get.$n")"
        cmp -s "$T/get.$n" "$want" || die "node $n differs: $(diff "$want" "$T/get.$n" | head -n 5)"
    done
}
status_ok() {
    local i
    for i in $(seq 1 40); do
        c "$1" cluster status >"$T/status" 2>&1 && return 0
        sleep 0.25
    done
    die "cluster status: $(cat "$T/status")"
}

