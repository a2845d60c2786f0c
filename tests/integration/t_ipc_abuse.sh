#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# IPC protocol abuse with raw sockets (ipc_abuse.py): oversized frames, malformed bodies,
# requests before hello, a wrong protocol version, unknown operations, garbage, half frames,
# more connections than ipc/max-sessions. The daemon answers each with the documented error,
# closes where the protocol says so, keeps serving other clients, and changes nothing.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
routes_xml 5 >"$T/r5.xml"

# abuse NAME MAX_FRAME MAX_SESSIONS
abuse() {
    local name=$1 frame=$2 sessions=$3
    NODE_CONF=$(conf_file "$name" \
        "<ipc><max-frame-size>$frame</max-frame-size><max-sessions>$sessions</max-sessions></ipc>")
    node_start "$name"
    ok ctl "$name" load "$T/r5.xml"
    snap "$name" >"$T/$name.ref" || die "snapshot"
    timeout 300 /usr/bin/python3 "$CHORUS_SRC/tests/integration/ipc_abuse.py" \
        "$(eval echo "\$${name}_PORT")" "$frame" "$sessions" >"$T/$name-abuse.out" 2>&1 ||
        die "ipc_abuse.py ($name): $(tail -n 5 "$T/$name-abuse.out")"
    unchanged "$name" "$T/$name.ref"
    grep -q "event-reply from ipc_abuse.*refused: no event 4242 waits" "$T/$name.out" ||
        die "the wrong answer to an event was not logged"
    [ "$(ctl "$name" get "$R[id='0000003']/leaf2")" = 22 ] || die "a read after the abuse"
    ok ctl "$name" set "$R[id='0000003']/leaf2" 99
    [ "$(ctl "$name" txid)" = 2 ] || die "a write after the abuse"
    node_stop "$name"
    clean_exit "$T/$name.out"
}

# small frames (65536) and few connections; then frames large enough for the field limit
abuse small 65536 4
abuse large 1048576 8
pass
