#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An invalid init transaction. With --start-phase0: start-phase 1 fails with the path and the
# reason, the daemon stays in phase 0 (nothing committed, wait-start 2 still waiting), and
# loading more with -i fixes it. At a first start with *.xml files in the database directory:
# an invalid file refuses the start (foreground and detached), naming the file or the path
# and the reason, and leaves nothing behind.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
routes_xml 5 >"$T/r5.xml"
cat >"$T/nol4.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3></route>
</routes></active-cfg>
XML
cat >"$T/fix.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf4>4</leaf4></route>
</routes></active-cfg>
XML
cat >"$T/unknown.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4><bogus>1</bogus></route>
</routes></active-cfg>
XML
printf '<active-cfg xmlns="urn:chorus:example:routes"><routes><route>\n' >"$T/malformed.xml"

# ---- phase 0, load -i ----
node_start n0 --start-phase0
node_start n1 --start-phase0
t() {
    local waiter
    ctl n0 wait-start 2 >"$T/wait.out" 2>&1 &
    waiter=$!
    ok ctl n0 load -i "$T/r5.xml"
    ok ctl n0 load -i "$T/nol4.xml"
    expect_rc 1 ctl n0 start-phase 1
    contains 'Mandatory node "leaf4"' "$(last_out)"
    contains "(path: $R[id='0000100']/leaf4)" "$(last_out)"
    [ "$(ctl n0 status | json_get 'd["phase"]')" = 0 ] || die "not in phase 0 any more"
    [ "$(ctl n0 txid)" = 0 ] || die "the failed init transaction committed"
    kill -0 "$waiter" 2>/dev/null || die "wait-start 2 returned: $(cat "$T/wait.out")"
    ok ctl n0 load -i "$T/fix.xml"
    ok ctl n0 start-phase 1
    [ "$(ctl n0 txid)" = 1 ] || die "txid after the fixed start-phase 1"
    [ "$(ctl n0 get "$R[id='0000100']/leaf4")" = 4 ] || die "the fix is missing"
    [ "$(ctl n0 get "$R[id='0000005']/leaf4")" = 38 ] || die "the first load -i is missing"
    ok ctl n0 start-phase 2
    wait "$waiter" || die "wait-start 2 failed: $(cat "$T/wait.out")"
}
subtest "start-phase 1 with an invalid init transaction" t

# a bad file in the init transaction of a running phase-0 daemon: refused at load -i
t() {
    expect_rc 1 ctl n1 load -i "$T/unknown.xml"
    contains '"bogus"' "$(last_out)"
    ok ctl n1 load -i "$T/r5.xml"
    ok ctl n1 start-phase 1
    [ "$(ctl n1 save | grep -c "<route>")" = 5 ] || die "the refused load -i left something"
}
subtest "load -i of an invalid file" t

# ---- first start with init files ----
# init_refused NAME FILE WORDS...: a first start with a.xml (valid) and FILE as b.xml is
# refused, foreground and detached, naming every word; then without FILE it starts with a.xml
init_refused() {
    local name=$1 file=$2 mode w
    shift 2
    for mode in fg bg; do
        rm -rf "$T/$name"
        mkdir -p "$T/$name"
        cp "$T/r5.xml" "$T/$name/a.xml"
        cp "$file" "$T/$name/b.xml"
        chorusd_once "$mode" "$T/$name.$mode" -c "$CONF" --addloadpath "$ROUTES_DIR" \
            --dbdir "$T/$name"
        [ "$RC" -ne 0 ] || die "$name ($mode): chorusd started"
        for w in "$@"; do
            contains "$w" "$(cat "$T/$name.$mode")"
        done
        clean_exit "$T/$name.$mode"
    done
    # nothing was committed: the next start is a first start again
    rm "$T/$name/b.xml"
    chorusd_once bg "$T/$name.ok" -c "$CONF" --addloadpath "$ROUTES_DIR" --dbdir "$T/$name"
    [ "$RC" = 0 ] || die "$name: no start without the bad file: $(cat "$T/$name.ok")"
}
t() { init_refused unknown "$T/unknown.xml" "b.xml" '"bogus"'; }
subtest "init file with an unknown element" t
t() { init_refused malformed "$T/malformed.xml" "b.xml"; }
subtest "init file that is not well-formed" t
t() { init_refused nol4 "$T/nol4.xml" 'Mandatory node "leaf4"' "$R[id='0000100']/leaf4"; }
subtest "init file with a route without leaf4" t

subtests_end
node_stop n0
node_stop n1
clean_exit "$T/n0.out"
clean_exit "$T/n1.out"
pass
