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
# More helpers (configurations, exit statuses, api_client, subtests) are listed at the end.
#
# Ports: free_port's port is only a proposal (another test may bind it first), so node_start
# retries with another port when chorusd reports "Address already in use", and checks that
# the daemon answering on the port is the one it started (status "pid").
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

# A free TCP port on 127.0.0.1 (the kernel's choice; released before use); N distinct ones.
free_port() {
    /usr/bin/python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "${1:-1}"
}

wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 1 600); do
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
    local port pid try ports
    mkdir -p "$T/$name"
    # free_port only proposes a port: another process (a parallel test) may take it before
    # chorusd binds it. Then chorusd exits with "Address already in use" and we try another.
    # The NETCONF ports get free ports too, so that parallel tests never share 2022/2023.
    for try in 1 2 3 4 5; do
        read -r -a ports <<<"$(free_port 3)"
        port=${ports[0]}
        "$CHORUSD" -c "${NODE_CONF:-$CONF}" --addloadpath "${LOADPATH:-$ROUTES_DIR}" \
            --dbdir "$T/$name" --ipc-port "$port" --netconf-ssh-port "${ports[1]}" \
            --netconf-tcp-port "${ports[2]}" --foreground "$@" >>"$T/$name.out" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        eval "${name}_PORT=$port ${name}_PID=$pid ${name}_NCSSH=${ports[1]} ${name}_NCTCP=${ports[2]}"
        if wait_port "$port" "$pid" && node_is "$port" "$pid"; then
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null || ! tail -n 3 "$T/$name.out" | grep -q "Address already in use"; then
            break
        fi
        wait "$pid" 2>/dev/null
        pids_forget "$pid"
    done
    die "node $name did not start: $(tail -n 5 "$T/$name.out")"
}

# Whether the chorusd answering on PORT is process PID (and not another test's daemon that
# took the port first).
node_is() {
    local port=$1 pid=$2 i
    for i in $(seq 1 100); do
        # grep reads everything: with -q it could exit first, and chorusctl's SIGPIPE would
        # fail the pipeline (pipefail) when the status is longer than one stdio buffer
        if "$CHORUSCTL" -t 10 -p "$port" status 2>/dev/null | grep "\"pid\": $pid," >/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Drop PID from the processes the cleanup kills (once it has been reaped, the number may be
# reused by an unrelated process).
pids_forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# Stop a node and check that it exited cleanly (under the sanitizers: no leak, no error).
node_stop() {
    local name=$1 pid port i st
    eval "pid=\${${name}_PID} port=\${${name}_PORT}"
    "$CHORUSCTL" -t 30 -p "$port" stop >/dev/null 2>&1
    for i in $(seq 1 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            st=$?
            pids_forget "$pid"
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
    pids_forget "$pid"
    return 0
}

ctl() {
    local name=$1 port
    shift
    eval "port=\${${name}_PORT}"
    "$CHORUSCTL" -t "${CTL_TIMEOUT:-120}" -p "$port" "$@"
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

# ---- helpers of the integration tests ----
#   conf_file NAME [XML...]            a configuration $T/NAME.conf: the XML elements inside
#                                      <chorusd>, NETCONF off, database/dir added unless given
#   expect_rc CODE CMD...              assert the exit status; output in $T/last.out
#   last_out                           the output of the last ok/fails/expect_rc
#   json_get EXPR                      evaluate a Python expression over d = the JSON on stdin
#   api NAME SCENARIO [ARGS...]        run tests/api_client against node NAME (output in
#                                      $T/api-SCENARIO.out, also printed)
#   snap NAME                          txid and saved configuration (for "nothing changed")
#   unchanged NAME FILE                assert that snap NAME equals FILE
#   chorusd_once fg|bg OUT ARGS...     run chorusd (with --foreground or detached) that should
#                                      refuse to start; RC is its exit status (0 if it started:
#                                      it is stopped again at once); its output goes to OUT
#   clean_exit FILE                    assert that FILE holds no sanitizer report
#   subtest NAME FUNC, subtests_end    independent checks (see below)
#   same_routes A B                    two saved files hold the same routes (any order)
conf_file() {
    local name=$1 f="$T/$1.conf" all x
    shift
    all="$*"
    {
        echo '<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">'
        case "$all" in *"<database>"*) ;; *) echo "  <database><dir>$name-db</dir></database>" ;; esac
        case "$all" in *"<netconf>"*) ;; *) echo "  <netconf><enabled>false</enabled></netconf>" ;; esac
        for x in "$@"; do
            echo "  $x"
        done
        echo '</chorusd>'
    } >"$f"
    echo "$f"
}

expect_rc() {
    local want=$1 got
    shift
    "$@" >"$T/last.out" 2>&1
    got=$?
    [ "$got" = "$want" ] || die "expected exit status $want, got $got: $* -> $(cat "$T/last.out")"
    return 0
}

last_out() {
    cat "$T/last.out"
}

json_get() {
    /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

API_CLIENT="${CHORUS_BUILD:-}/tests/api_client"

api() {
    local name=$1 scen=$2 port rc
    shift 2
    eval "port=\${${name}_PORT}"
    [ -x "$API_CLIENT" ] || die "$API_CLIENT is not built"
    timeout 300 "$API_CLIENT" "$port" "$scen" "$@" >"$T/api-$scen.out" 2>&1
    rc=$?
    cat "$T/api-$scen.out"
    return $rc
}

snap() {
    ctl "$1" txid && ctl "$1" save
}

unchanged() {
    snap "$1" >"$T/snap.now" 2>&1
    cmp -s "$2" "$T/snap.now" || die "the data changed: $(diff "$2" "$T/snap.now" | head -n 20)"
}

chorusd_once() {
    local mode=$1 out=$2 port pid i started=0
    shift 2
    port=$(free_port)
    if [ "$mode" = fg ]; then
        "$CHORUSD" --ipc-port "$port" --foreground "$@" >"$out" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        for i in $(seq 1 600); do
            kill -0 "$pid" 2>/dev/null || break
            if "$CHORUSCTL" -t 10 -p "$port" status 2>/dev/null | grep "\"pid\": $pid," >/dev/null; then
                started=1
                "$CHORUSCTL" -t 10 -p "$port" stop >/dev/null 2>&1 || kill -9 "$pid"
            fi
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        wait "$pid"
        RC=$?
        pids_forget "$pid"
    else
        "$CHORUSD" --ipc-port "$port" "$@" >"$out" 2>&1
        RC=$?
        pid=$("$CHORUSCTL" -t 10 -p "$port" status 2>/dev/null | json_get 'd["pid"]' 2>/dev/null)
        if [ -n "$pid" ]; then
            started=1
            PIDS+=("$pid")
            "$CHORUSCTL" -t 10 -p "$port" stop >/dev/null 2>&1 || kill -9 "$pid"
            for i in $(seq 1 600); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
            done
            kill -9 "$pid" 2>/dev/null
            pids_forget "$pid"
        fi
    fi
    [ "$started" = 0 ] || RC=0
    return 0
}

clean_exit() {
    local s
    s=$(cat "$1")
    lacks "AddressSanitizer" "$s"
    lacks "LeakSanitizer" "$s"
    lacks "runtime error:" "$s"
}

# subtest NAME FUNC [ARGS...]: run FUNC in a subshell, so that a failure (die) is recorded
# and the test goes on with the next subtest; after a failure the test's subtest_recover
# function runs, if it has one. subtests_end fails the test if any subtest failed. Start and
# stop nodes outside subtests: a subshell's changes to PIDS and NAME_PORT are lost.
SUBTESTS_FAILED=()
subtest() {
    local name=$1
    shift
    echo "-- $name"
    if ! ("$@"); then
        SUBTESTS_FAILED+=("$name")
        if declare -F subtest_recover >/dev/null; then
            subtest_recover
        fi
    fi
    return 0
}

subtests_end() {
    [ "${#SUBTESTS_FAILED[@]}" -eq 0 ] ||
        die "${#SUBTESTS_FAILED[@]} subtest(s) failed: $(printf '[%s] ' "${SUBTESTS_FAILED[@]}")"
}

# same_routes A B: two saved files (XML or JSON) hold the same routes with the same values,
# in whatever order (the routes list is ordered-by system)
same_routes() {
    local f
    for f in "$1" "$2"; do
        /usr/bin/python3 -c '
import json, sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
if text.lstrip().startswith("{"):
    d = json.loads(text) if text.strip() else {}
    routes = d.get("routes:active-cfg", {}).get("routes", {}).get("route", [])
    rows = sorted(tuple(str(r.get(k)) for k in ("id", "leaf1", "leaf2", "leaf3", "leaf4")) for r in routes)
else:
    ns = "{urn:chorus:example:routes}"
    root = ET.fromstring("<x>" + text + "</x>")
    rows = sorted(tuple(r.findtext(ns + k) for k in ("id", "leaf1", "leaf2", "leaf3", "leaf4"))
                  for r in root.iter(ns + "route"))
print(len(rows))
print("\n".join(" ".join(map(str, r)) for r in rows))' "$f" >"$f.rows" || return 1
    done
    cmp -s "$1.rows" "$2.rows" || { diff "$1.rows" "$2.rows" | head -n 8; return 1; }
}

# ---- bad input (t_bad_input.sh, t_bad_load.sh) ----
# bad_input_node NAME: start node NAME with tests/integration/models, 5 routes and two leaves
# of /chorus-test:box (txid 3); its state is kept in $T/ref (snap) and $T/ref.xml.
#   refused CMD...     chorusctl CMD on NAME exits with 1 and changes nothing
#   has WORDS...       the output of the last command names every word
# A failed subtest puts the reference data back (subtest_recover).
BAD_NODE=
bad_input_node() {
    BAD_NODE=$1
    node_start "$1" --addloadpath "$CHORUS_SRC/tests/integration/models"
    routes_xml 5 >"$T/r5.xml"
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" set /chorus-test:box/low 10
    ok ctl "$1" set /chorus-test:box/route-ref 0000002
    snap "$1" >"$T/ref" || die "snapshot"
    [ "$(head -n 1 "$T/ref")" = 3 ] || die "txid after the set-up: $(head -n 1 "$T/ref")"
    ctl "$1" save >"$T/ref.xml" || die "save"
}
subtest_recover() {
    [ -n "$BAD_NODE" ] || return 0
    ctl "$BAD_NODE" load -r "$T/ref.xml" >/dev/null 2>&1 && snap "$BAD_NODE" >"$T/ref" 2>&1
}
refused() {
    expect_rc 1 ctl "$BAD_NODE" "$@"
    unchanged "$BAD_NODE" "$T/ref"
}
has() {
    local w
    for w in "$@"; do
        contains "$w" "$(last_out)"
    done
}
