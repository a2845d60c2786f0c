#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration and crash tests (sourced). Each test runs in its own
# temporary directory, starts real chorusd processes on 127.0.0.1 with ports of its own, and
# stops every process it started, whatever happens (trap).
#
#   node_start NAME [chorusd options...]   start a node in $T/NAME (foreground, backgrounded),
#                                          wait for its IPC port; sets NAME_PORT and NAME_PID
#   node_stop NAME                         chorusctl stop, wait; kill -9 if it hangs
#   node_kill NAME                         kill -9
#   ctl NAME args...                       chorusctl against node NAME
#   ok CMD... / fails CMD...               assert success / failure
#   contains STR TEXT / lacks STR TEXT     assert substring
#   pass                                   print PASS and exit 0 (cleanup runs)
set -u
set -o pipefail

: "${CHORUS_SRC:?}" "${CHORUSD:?}" "${CHORUSCTL:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/chorus-$(basename "$0").XXXXXX")
ROUTES_DIR="$CHORUS_SRC/examples/routes"
CONF="$ROUTES_DIR/chorusd.conf"
PIDS=()
TEST_NAME=$(basename "$0")

cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$rc" -ne 0 ] && [ -z "${KEEP:-}" ]; then
        # show the logs of a failed test, then clean up
        for l in "$T"/*/chorusd.log "$T"/*.out; do
            [ -f "$l" ] && { echo "---- $l (tail)"; tail -n 30 "$l"; }
        done
    fi
    [ -z "${KEEP:-}" ] && rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT

die() {
    echo "FAIL ($TEST_NAME): $*" >&2
    exit 1
}

# A free TCP port on 127.0.0.1 (the kernel's choice; released before use).
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

node_start() {
    local name=$1
    shift
    local port
    port=$(free_port)
    mkdir -p "$T/$name"
    "$CHORUSD" -c "${NODE_CONF:-$CONF}" --addloadpath "${LOADPATH:-$ROUTES_DIR}" --dbdir "$T/$name" \
        --ipc-port "$port" --foreground "$@" >"$T/$name.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "${name}_PORT=$port ${name}_PID=$pid"
    wait_port "$port" "$pid" || die "node $name did not start: $(tail -n 5 "$T/$name.out")"
}

# Stop a node and check that it exited cleanly (under the sanitizers: no leak, no error).
node_stop() {
    local name=$1 pid port i st
    eval "pid=\${${name}_PID} port=\${${name}_PORT}"
    "$CHORUSCTL" -p "$port" stop >/dev/null 2>&1
    for i in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            st=$?
            [ "$st" -eq 0 ] || die "node $name exited with status $st: $(tail -n 20 "$T/$name.out")"
            return 0
        fi
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    die "node $name did not stop"
}

node_kill() {
    local name=$1 pid
    eval "pid=\${${name}_PID}"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

ctl() {
    local name=$1 port
    shift
    eval "port=\${${name}_PORT}"
    "$CHORUSCTL" -p "$port" "$@"
}

ok() {
    "$@" >"$T/last.out" 2>&1 || die "expected success: $* -> $(cat "$T/last.out")"
}

fails() {
    if "$@" >"$T/last.out" 2>&1; then
        die "expected failure: $*"
    fi
    return 0
}

contains() {
    case "$2" in *"$1"*) ;; *) die "expected \"$1\" in: $2" ;; esac
}

lacks() {
    case "$2" in *"$1"*) die "did not expect \"$1\" in: $2" ;; esac
}

# N routes as XML, ids from START (default 1), values from SEED (default 0).
routes_xml() {
    /usr/bin/python3 "$ROUTES_DIR/gen-routes.py" "$@"
}

pass() {
    echo "PASS $TEST_NAME"
    exit 0
}
