#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A local active-active cluster of the routes example: chorusd + chorus-aasync per node.
#
#   cluster.sh start N [--routes K] [--dir DIR] [--port-offset OFF] [--conf FILE]
#       start nodes 0..N-1 (node i: IPC 4565+10i+OFF, NETCONF SSH 2022+10i+OFF, NETCONF TCP
#       2023+10i+OFF), each seeded with K routes (default 100) of its own values, so that the
#       init node's data visibly wins; returns when every node is in start phase 2
#   cluster.sh join I [--yang DIR]   start node I and join it to the cluster through node 0
#                           (--yang: one more load path for its chorusd, to try a node whose
#                           modules differ: it is refused)
#   cluster.sh leave I      node I leaves the cluster (chorusctl cluster leave) and stops
#   cluster.sh status       chorusctl cluster status, asked of the first live node
#   cluster.sh kill I       kill -9 node I's chorusd and chorus-aasync (a crash)
#   cluster.sh restart I    start node I again on its database (it re-syncs first)
#   cluster.sh stop         stop every process this script started
#   cluster.sh port I [ipc|ssh|tcp]   print a port of node I
#   cluster.sh free-offset [--prefer OFF]   print a port offset whose ports (6 nodes) are all
#                           free now: OFF first if given, else a random one in 10000..21900,
#                           below the kernel's ephemeral range
#
# The cluster's state (ports, process ids) lives in DIR (default ./var/cluster, or
# $CHORUS_CLUSTER_DIR); later commands find it there: pass the same --dir to each of them.
# Binaries come from $CHORUS_BUILD (default ../../build next to this script).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${CHORUS_BUILD:-$ROOT/build}" 2>/dev/null && pwd) || {
    echo "cluster.sh: no build directory ${CHORUS_BUILD:-$ROOT/build} (run make build)" >&2
    exit 2
}
CHORUSD=$BUILD/chorusd
CHORUSCTL=$BUILD/chorusctl
AASYNC=$BUILD/chorus-aasync
DIR=${CHORUS_CLUSTER_DIR:-$HERE/var/cluster}
OFF=0
ROUTES=100
CONF=$HERE/chorusd.conf
EXTRA_YANG=

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

ipc_port() { echo $((4565 + 10 * $1 + OFF)); }
ssh_port() { echo $((2022 + 10 * $1 + OFF)); }
tcp_port() { echo $((2023 + 10 * $1 + OFF)); }

load_state() {
    [ -f "$DIR/cluster.env" ] || die "no cluster in $DIR (cluster.sh start first, or --dir)"
    # shellcheck disable=SC1091
    . "$DIR/cluster.env"
}

# The cluster configuration of a node's initial data: init node 0 and the nodes given.
cluster_xml() {
    local i
    echo '<cluster xmlns="urn:chorus:params:xml:ns:yang:chorus-aacluster">'
    echo '  <init-node>0</init-node>'
    for i in "$@"; do
        printf '  <node><id>%d</id><address>127.0.0.1</address><ipc-port>%d</ipc-port></node>\n' \
            "$i" "$(ipc_port "$i")"
    done
    echo '</cluster>'
}

is_running() { [ -f "$DIR/node$1/$2.pid" ] && kill -0 "$(cat "$DIR/node$1/$2.pid")" 2>/dev/null; }

# Start node I's chorusd (phase 0) and its synchronizer; extra arguments go to chorus-aasync.
start_node() {
    local i=$1
    shift
    local d=$DIR/node$i pid
    mkdir -p "$d"
    is_running "$i" chorusd && die "node $i is already running (pid $(cat "$d/chorusd.pid"))"
    # shellcheck disable=SC2086
    "$CHORUSD" -c "$CONF" --addloadpath "$DIR/yang" ${EXTRA_YANG:+--addloadpath "$EXTRA_YANG"} \
        --dbdir "$d" --start-phase0 --foreground \
        --ipc-port "$(ipc_port "$i")" --netconf-ssh-port "$(ssh_port "$i")" \
        --netconf-tcp-port "$(tcp_port "$i")" >>"$d/chorusd.out" 2>&1 &
    pid=$!
    echo "$pid" >"$d/chorusd.pid"
    for _ in $(seq 1 200); do
        "$CHORUSCTL" -t 5 -p "$(ipc_port "$i")" status >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "node $i: chorusd exited: $(tail -n 5 "$d/chorusd.out")"
        sleep 0.05
    done
    "$AASYNC" -n "$i" -p "$(ipc_port "$i")" "$@" >>"$d/aasync.log" 2>&1 &
    echo $! >"$d/aasync.pid"
}

wait_phase2() {
    local i=$1 d=$DIR/node$1 t
    for t in $(seq 1 "${CLUSTER_WAIT:-120}"); do
        "$CHORUSCTL" -t 1 -p "$(ipc_port "$i")" wait-start 2 >/dev/null 2>&1 && return 0
        is_running "$i" aasync && is_running "$i" chorusd || break
    done
    echo "--- node $i chorus-aasync log:" >&2
    tail -n 20 "$d/aasync.log" >&2 || true
    die "node $i did not reach start phase 2"
}

stop_node() {
    local i=$1 what pid
    for what in aasync chorusd; do
        if [ -f "$DIR/node$i/$what.pid" ]; then
            pid=$(cat "$DIR/node$i/$what.pid")
            kill "$pid" 2>/dev/null || true
        fi
    done
    for what in aasync chorusd; do
        if [ -f "$DIR/node$i/$what.pid" ]; then
            pid=$(cat "$DIR/node$i/$what.pid")
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$DIR/node$i/$what.pid"
        fi
    done
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: cluster.sh start|join|leave|status|kill|restart|stop|port|free-offset ..."
shift
if [ "$cmd" = free-offset ]; then
    [ "${1:-}" != --prefer ] || [ -n "${2:-}" ] || die "usage: cluster.sh free-offset [--prefer OFF]"
    exec /usr/bin/python3 - "${2:-}" <<'PY'
import random, socket, sys
tries = ([int(sys.argv[1])] if sys.argv[1] else []) + [random.randrange(10000, 22000, 100)
                                                      for _ in range(500)]
for off in tries:
    ss = []
    try:
        for i in range(6):
            for b in (4565, 2022, 2023):
                s = socket.socket(); s.bind(("127.0.0.1", b + 10 * i + off)); ss.append(s)
        print(off)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in ss:
            s.close()
sys.exit("cluster.sh: no free port offset")
PY
fi
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --routes) ROUTES=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --port-offset) OFF=$2; shift 2 ;;
    --conf) CONF=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --yang) EXTRA_YANG=$(cd "$2" && pwd); shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

case $cmd in
start)
    [ ${#args[@]} -eq 1 ] || die "usage: cluster.sh start N [--routes K] [--dir DIR] [--port-offset OFF]"
    N=${args[0]}
    [ "$N" -ge 1 ] 2>/dev/null && [ "$N" -le 25 ] || die "N: 1 to 25 nodes"
    [ -f "$DIR/cluster.env" ] && load_state && for i in $(seq 0 $((NODES - 1))); do
        is_running "$i" chorusd && die "a cluster already runs in $DIR (cluster.sh stop first)"
    done
    printf 'OFF=%s\nCONF=%s\nNODES=%s\n' "$OFF" "$CONF" "$N" >"$DIR/cluster.env"
    mkdir -p "$DIR/yang"
    ln -sf "$HERE/routes.yang" "$DIR/yang/routes.yang"
    ln -sf "$ROOT/yang/chorus-aacluster.yang" "$DIR/yang/chorus-aacluster.yang"
    for i in $(seq 0 $((N - 1))); do
        d=$DIR/node$i
        mkdir -p "$d"
        if [ ! -f "$d/cluster.xml" ]; then
            # the initial data, loaded as the init transaction at the first start
            python3 "$HERE/gen-routes.py" "$ROUTES" --seed "$((i * 1000))" >"$d/routes.xml"
            cluster_xml $(seq 0 $((N - 1))) >"$d/cluster.xml"
        fi
    done
    for i in $(seq 0 $((N - 1))); do start_node "$i"; done
    for i in $(seq 0 $((N - 1))); do wait_phase2 "$i"; done
    echo "cluster of $N nodes in start phase 2 (directory $DIR)"
    ;;
join)
    load_state
    [ ${#args[@]} -eq 1 ] || die "usage: cluster.sh join I"
    i=${args[0]}
    d=$DIR/node$i
    mkdir -p "$d"
    [ -f "$d/cluster.xml" ] || cluster_xml 0 "$i" >"$d/cluster.xml"
    start_node "$i" -j
    wait_phase2 "$i"
    [ "$i" -ge "$NODES" ] && sed -i "s/^NODES=.*/NODES=$((i + 1))/" "$DIR/cluster.env"
    echo "node $i joined the cluster"
    ;;
leave)
    load_state
    [ ${#args[@]} -eq 1 ] || die "usage: cluster.sh leave I"
    i=${args[0]}
    "$CHORUSCTL" -t 60 -p "$(ipc_port "$i")" cluster leave
    stop_node "$i"
    ;;
status)
    load_state
    for i in $(seq 0 $((NODES - 1))); do
        if is_running "$i" chorusd; then
            exec "$CHORUSCTL" -t 30 -p "$(ipc_port "$i")" cluster status
        fi
    done
    die "no node is running"
    ;;
kill)
    load_state
    i=${args[0]:?usage: cluster.sh kill I}
    for what in chorusd aasync; do
        [ -f "$DIR/node$i/$what.pid" ] && kill -9 "$(cat "$DIR/node$i/$what.pid")" 2>/dev/null || true
        rm -f "$DIR/node$i/$what.pid"
    done
    ;;
restart)
    load_state
    i=${args[0]:?usage: cluster.sh restart I}
    start_node "$i"
    wait_phase2 "$i"
    echo "node $i restarted and in sync"
    ;;
stop)
    [ -f "$DIR/cluster.env" ] || exit 0
    load_state
    for d in "$DIR"/node*; do
        [ -d "$d" ] && stop_node "${d##*/node}"
    done
    ;;
port)
    load_state
    i=${args[0]:?usage: cluster.sh port I [ipc|ssh|tcp]}
    case ${args[1]:-ipc} in
    ipc) ipc_port "$i" ;;
    ssh) ssh_port "$i" ;;
    tcp) tcp_port "$i" ;;
    *) die "port: ipc, ssh or tcp" ;;
    esac
    ;;
*)
    die "unknown command '$cmd' (start, join, leave, status, kill, restart, stop, port)"
    ;;
esac
