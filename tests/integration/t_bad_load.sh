#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad load files through chorusctl load/validate (schema violations, unknown elements,
# modules and namespaces, XML and JSON that is not well-formed, duplicate list keys): each one
# gets a clear error naming the path and/or the reason, exit status 1, and changes nothing
# (transaction id and data). Then chorusctl's usage errors (exit status 2) and a daemon that
# is not there (exit status 3). Every check is a subtest. (set/create/delete: t_bad_input.sh.)
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
bad_input_node n0

# ---- load files: schema violations ----
cat >"$T/nol4.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3></route>
</routes></active-cfg>
EOF
t() {
    refused load "$T/nol4.xml"
    has 'Mandatory node "leaf4"' "(path: $R[id='0000100']/leaf4)"
}
subtest "load: a route without leaf4 (XML)" t
t() {
    refused load -F json - <<'EOF'
{"routes:active-cfg":{"routes":{"route":[{"id":"0000100","leaf1":1,"leaf2":2,"leaf3":3}]}}}
EOF
    has 'Mandatory node "leaf4"' "(path: $R[id='0000100']/leaf4)"
}
subtest "load: a route without leaf4 (JSON on standard input)" t
t() {
    cat >"$T/badval.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>-1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4></route>
</routes></active-cfg>
EOF
    refused load "$T/badval.xml"
    has "range" '"-1"' "(path: $R[id='0000100']/leaf1)"
}
subtest "load: a value out of range" t
t() {
    cat >"$T/badid.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>12</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4></route>
</routes></active-cfg>
EOF
    refused load "$T/badid.xml"
    has "pattern" '"12"' "(path: $R"
}
subtest "load: a key against its pattern" t
t() {
    cat >"$T/unknown.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4><bogus>1</bogus></route>
</routes></active-cfg>
EOF
    refused load "$T/unknown.xml"
    has '"bogus"' "(path: $R[id='0000100'])"
}
subtest "load: an unknown element" t
t() {
    printf '<active-cfg xmlns="urn:no:such:ns"><routes/></active-cfg>\n' >"$T/unknown-ns.xml"
    refused load "$T/unknown-ns.xml"
    has '"urn:no:such:ns"'
}
subtest "load: an unknown namespace" t
t() {
    printf '{"nosuch:active-cfg":{}}\n' >"$T/unknown-module.json"
    refused load "$T/unknown-module.json"
    has '"nosuch"'
}
subtest "load: an unknown module (JSON)" t
t() {
    printf '{"routes:active-cfg":{"routes":{"bogus":1}}}\n' >"$T/unknown-member.json"
    refused load "$T/unknown-member.json"
    has '"bogus"'
}
subtest "load: an unknown member (JSON)" t

# ---- load files: not well-formed ----
t() {
    cat >"$T/malformed.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1></routes></active-cfg>
EOF
    refused load "$T/malformed.xml"
    has '"route"' '"routes"'
}
subtest "load: mismatched XML tags" t
t() {
    printf '<active-cfg xmlns="urn:chorus:example:routes"><routes><route><id>0000100</id>' \
        >"$T/truncated.xml"
    refused load "$T/truncated.xml"
    has "chorusctl: "
}
subtest "load: truncated XML" t
t() {
    printf '{"routes:active-cfg":{"routes":{"route":[{"id":"0000100","leaf1":1,' \
        >"$T/truncated.json"
    refused load "$T/truncated.json"
    has "JSON"
}
subtest "load: truncated JSON" t
t() {
    printf 'this is not data\n' >"$T/garbage.json"
    refused load -F json "$T/garbage.json"
    has "chorusctl: "
}
subtest "load: text that is not JSON" t
t() {
    refused load "$T/no-such-file.xml"
    has "cannot read" "no-such-file.xml"
}
subtest "load: a file that does not exist" t

# ---- duplicate list keys within one load file ----
t() {
    cat >"$T/dup.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4></route>
<route><id>0000100</id><leaf1>5</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4></route>
</routes></active-cfg>
EOF
    refused load "$T/dup.xml"
    has "0000100"
}
subtest "load: two routes with the same key (XML)" t
t() {
    cat >"$T/dup.json" <<'EOF'
{"routes:active-cfg":{"routes":{"route":[
{"id":"0000101","leaf1":1,"leaf2":2,"leaf3":3,"leaf4":4},
{"id":"0000101","leaf1":1,"leaf2":2,"leaf3":3,"leaf4":4}]}}}
EOF
    refused load "$T/dup.json"
    has "0000101"
}
subtest "load: two routes with the same key (JSON)" t

# ---- validate FILE reports the same errors and commits nothing ----
t() {
    refused validate "$T/nol4.xml"
    has 'Mandatory node "leaf4"' "(path: $R[id='0000100']/leaf4)"
}
subtest "validate: a route without leaf4" t
t() {
    refused validate "$T/unknown.xml"
    has '"bogus"'
}
subtest "validate: an unknown element" t

# ---- usage errors: exit status 2 ----
t() {
    expect_rc 2 ctl n0
    has "no command"
    expect_rc 2 ctl n0 frobnicate
    has "unknown command 'frobnicate'" "chorusctl help"
    expect_rc 2 ctl n0 set "$R[id='0000001']/leaf1"
    has "usage: chorusctl set PATH VALUE"
    expect_rc 2 ctl n0 get
    expect_rc 2 ctl n0 load -z "$T/r5.xml"
    has "unknown option -z"
    expect_rc 2 ctl n0 load -F yaml "$T/r5.xml"
    has "yaml"
    expect_rc 2 ctl n0 -d startup set "$R[id='0000001']/leaf1" 1
    has "startup"
    expect_rc 2 ctl n0 start-phase 3
    expect_rc 2 ctl n0 wait-start x
    expect_rc 2 ctl n0 rollback
    expect_rc 2 ctl n0 rollback apply x
    expect_rc 2 ctl n0 rollback apply
    expect_rc 2 ctl n0 -d candidate load -i "$T/r5.xml"
    expect_rc 2 "$CHORUSCTL" -p 70000 status
    expect_rc 2 "$CHORUSCTL" -p "$n0_PORT" -t soon status
    expect_rc 2 "$CHORUSCTL" -q status
    unchanged n0 "$T/ref"
}
subtest "usage errors" t

# ---- nothing listens: exit status 3; an unreadable file is reported first (exit 1) ----
t() {
    local p
    p=$(free_port)
    expect_rc 3 "$CHORUSCTL" -p "$p" status
    has "127.0.0.1:$p"
    expect_rc 3 "$CHORUSCTL" -p "$p" load "$T/r5.xml"
    expect_rc 1 "$CHORUSCTL" -p "$p" load "$T/no-such-file.xml"
    has "cannot read"
}
subtest "no daemon" t

subtests_end
unchanged n0 "$T/ref"
node_stop n0
clean_exit "$T/n0.out"
pass
