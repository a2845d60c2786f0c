#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: one chorusd node with the routes example. Loads routes in one transaction,
# changes one through chorusctl, shows that an invalid change is refused with its path and
# reason, rolls a commit back, and shows that a kill -9 loses nothing that was committed.
# (The 3-node active-active cluster replaces this demo once chorus-aasync exists.)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CHORUSD="$BUILD/chorusd"
CHORUSCTL="$BUILD/chorusctl"
DIR=$(mktemp -d /tmp/chorus-demo.XXXXXX)
PORT=${CHORUS_DEMO_PORT:-4565}
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
export CHORUS_IPC_PORT=$PORT
R="/routes:active-cfg/routes/route"

cleanup() {
    "$CHORUSCTL" stop >/dev/null 2>&1 || true
    [ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

start() {
    "$CHORUSD" -c "$HERE/chorusd.conf" --addloadpath "$HERE" --dbdir "$DIR/node0" \
        --ipc-port "$PORT"
    PID=$(python3 -c "import json,sys; print(json.load(sys.stdin)['pid'])" <<<"$("$CHORUSCTL" status)")
}

step "start chorusd with the routes model (database $DIR/node0, IPC port $PORT)"
run "$CHORUSD" --version
start
run "$CHORUSCTL" wait-start 2
echo "chorusd is running (pid $PID) in start phase 2"

step "load 1000 routes in one transaction"
python3 "$HERE/gen-routes.py" 1000 >"$DIR/routes.xml"
run "$CHORUSCTL" load "$DIR/routes.xml"
echo "transaction id: $("$CHORUSCTL" txid)"
run "$CHORUSCTL" get "$R[id='0000042']"

step "change one route"
run "$CHORUSCTL" set "$R[id='0000042']/leaf1" 4242
run "$CHORUSCTL" get "$R[id='0000042']/leaf1"
echo "transaction id: $("$CHORUSCTL" txid)"

step "an invalid change is refused with the path and the reason, and changes nothing"
run "$CHORUSCTL" set "$R[id='0000042']/leaf2" -5 || true
run "$CHORUSCTL" set "$R[id='7777777']/leaf1" 1 || true
echo "transaction id: $("$CHORUSCTL" txid)"

step "roll back the last commit (as a new transaction)"
run "$CHORUSCTL" rollback list
run "$CHORUSCTL" rollback apply 0
run "$CHORUSCTL" get "$R[id='0000042']/leaf1"

step "kill -9 the daemon and start it again: every committed change is there"
"$CHORUSCTL" save >"$DIR/before.xml"
run kill -9 "$PID"
sleep 0.2
start
"$CHORUSCTL" save >"$DIR/after.xml"
if cmp -s "$DIR/before.xml" "$DIR/after.xml"; then
    echo "the recovered configuration is identical ($(grep -c '<route>' "$DIR/after.xml") routes, transaction id $("$CHORUSCTL" txid))"
else
    echo "the recovered configuration differs!" >&2
    exit 1
fi
grep "recovered" "$DIR/node0/chorusd.log" | tail -n 1

step "status"
run "$CHORUSCTL" status
step "done"
