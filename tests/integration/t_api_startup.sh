#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The startup datastore (datastores/startup/enabled): written through a transaction
# (api_client startup-write), it leaves running alone and survives a restart (startup-check);
# invalid content is refused with the path and the reason and changes nothing
# (startup-invalid); a damaged startup file refuses the start, naming it. Without the setting
# the startup datastore does not exist.
. "$(dirname "$0")/../lib.sh"

NODE_CONF=$(conf_file startup "<datastores><startup><enabled>true</enabled></startup></datastores>")
STARTUP_CONF=$NODE_CONF
node_start n0
api n0 startup-write >/dev/null || die "startup-write: $(tail -n 5 "$T/api-startup-write.out")"
[ "$(ctl n0 status | json_get 'd["datastores"]["startup"]["enabled"]')" = True ] || die "status"
node_stop n0
node_start n0
api n0 startup-check >/dev/null || die "startup-check: $(tail -n 5 "$T/api-startup-check.out")"
t() {
    api n0 startup-invalid >/dev/null || die "startup-invalid: $(tail -n 5 "$T/api-startup-invalid.out")"
}
subtest "invalid startup content" t
node_stop n0
node_start n0
api n0 startup-check >/dev/null || die "startup-check after startup-invalid"
node_stop n0

# a damaged startup file: the start is refused, naming the file
ls "$T/n0"/startup* >/dev/null 2>&1 || die "no startup file in the database directory"
t() {
    local f mode
    f=$(ls "$T/n0"/startup.* | head -n 1)
    cp "$f" "$T/startup.good"
    printf '{"routes:active-cfg":{"routes":{"route":[{"id":"0000001","leaf1":1}]}}}\n' >"$f"
    for mode in fg bg; do
        chorusd_once "$mode" "$T/bad-startup.$mode" -c "$STARTUP_CONF" --addloadpath "$ROUTES_DIR" \
            --dbdir "$T/n0"
        [ "$RC" -ne 0 ] || die "started with an invalid startup file ($mode)"
        contains "$(basename "$f")" "$(cat "$T/bad-startup.$mode")"
        contains "Mandatory" "$(cat "$T/bad-startup.$mode")"
        clean_exit "$T/bad-startup.$mode"
    done
    cp "$T/startup.good" "$f"
}
subtest "a damaged startup file" t

# startup not enabled: no such datastore
NODE_CONF=
node_start n1
t() {
    api n1 startup-check >"$T/nostartup.out" 2>&1 && die "a startup datastore without the setting"
    contains "not enabled" "$(cat "$T/nostartup.out")"
}
subtest "startup disabled" t
node_stop n1
subtests_end
pass
