#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shared-secret access check (ipc/secret-file, docs/protocol.md "Access check"): chorusctl
# and libchorus answer the challenge with the secret of -S FILE or CHORUS_IPC_SECRET_FILE; no
# secret, a wrong one or an empty one is refused with a message that says so and changes
# nothing; raw clients get nothing but hello and auth before the right answer
# (ipc_abuse.py --secret); the UNIX socket needs no secret. A secret file that cannot be read
# or is empty stops chorusd with the configuration path and the reason.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
printf 's3cret-%s\n' "$RANDOM$RANDOM" >"$T/secret"
chmod 600 "$T/secret"
printf 'not-the-secret\n' >"$T/wrong"
: >"$T/empty"
export NODE_CONF
NODE_CONF=$(conf_file sec "<ipc><secret-file>$T/secret</secret-file><unix-path>$T/sock</unix-path></ipc>")

export CHORUS_IPC_SECRET_FILE=$T/secret
node_start n0
routes_xml 3 >"$T/r3.xml"
ok ctl n0 load "$T/r3.xml"
snap n0 >"$T/ref" || die "snapshot"

t() {
    expect_rc 3 env -u CHORUS_IPC_SECRET_FILE "$CHORUSCTL" -p "$n0_PORT" set "$R[id='0000001']/leaf1" 9
    contains "requires the shared secret" "$(last_out)"
    contains "CHORUS_IPC_SECRET_FILE" "$(last_out)"
    unchanged n0 "$T/ref"
}
subtest "no secret: refused" t
t() {
    expect_rc 3 "$CHORUSCTL" -S "$T/wrong" -p "$n0_PORT" set "$R[id='0000001']/leaf1" 9
    contains "access denied: wrong answer to the shared-secret challenge" "$(last_out)"
    unchanged n0 "$T/ref"
    contains "refused: wrong answer" "$(cat "$T/n0.out")"
}
subtest "a wrong secret (-S): refused, logged" t
t() {
    expect_rc 3 "$CHORUSCTL" -S "$T/empty" -p "$n0_PORT" txid
    contains "$T/empty: the shared secret is empty" "$(last_out)"
    expect_rc 3 "$CHORUSCTL" -S "$T/nosuch" -p "$n0_PORT" txid
    contains "$T/nosuch: No such file or directory" "$(last_out)"
}
subtest "an empty or missing secret file on the client" t
t() {
    ok env -u CHORUS_IPC_SECRET_FILE "$CHORUSCTL" -S "$T/secret" -p "$n0_PORT" set "$R[id='0000001']/leaf1" 9
    [ "$(ctl n0 get "$R[id='0000001']/leaf1")" = 9 ] || die "the change through -S is not there"
    ok env -u CHORUS_IPC_SECRET_FILE "$CHORUSCTL" -a "unix:$T/sock" txid
    snap n0 >"$T/ref"
}
subtest "the right secret (-S), and the UNIX socket without one" t
t() {
    timeout 120 /usr/bin/python3 "$CHORUS_SRC/tests/integration/ipc_abuse.py" "$n0_PORT" 65536 \
        64 --secret "$T/secret" >"$T/abuse.out" 2>&1 || die "ipc_abuse.py --secret: $(tail -n 5 "$T/abuse.out")"
    unchanged n0 "$T/ref"
}
subtest "raw clients: only hello and auth before the right answer" t
node_stop n0
clean_exit "$T/n0.out"

# the daemon's side: a secret file it cannot use stops it, naming the path and the reason
t() {
    local conf
    conf=$(conf_file bad "<ipc><secret-file>$T/empty</secret-file></ipc>")
    chorusd_once fg "$T/bad.fg" -c "$conf" --addloadpath "$ROUTES_DIR"
    [ "$RC" -ne 0 ] || die "chorusd started with an empty secret"
    contains "/chorus-config:chorusd/ipc/secret-file: $T/empty: the shared secret is empty" "$(cat "$T/bad.fg")"
    conf=$(conf_file bad2 "<ipc><secret-file>$T/nosuch</secret-file></ipc>")
    chorusd_once fg "$T/bad2.fg" -c "$conf" --addloadpath "$ROUTES_DIR"
    [ "$RC" -ne 0 ] || die "chorusd started with a missing secret file"
    contains "/chorus-config:chorusd/ipc/secret-file: $T/nosuch: No such file or directory" "$(cat "$T/bad2.fg")"
}
subtest "chorusd with an empty or missing secret file" t
subtests_end
pass
