#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# chorusctl -d candidate: set, create, delete and load go through the candidate and are
# committed to running; an invalid change fails with the validation error and leaves running
# unchanged. With datastores/running/access writable-through-candidate (which keeps NETCONF
# from editing running: t_cluster.sh checks that), chorusctl, an application of the API, may
# still write running, and -d candidate works. Without a candidate
# (datastores/candidate/enabled false), -d candidate is refused.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
routes_xml 5 >"$T/r5.xml"
node_start n0
ok ctl n0 load "$T/r5.xml"
mkdir -p "$T/n1"
cp "$T/r5.xml" "$T/n1/routes.xml"
NODE_CONF=$(conf_file wtc "<datastores><running><access>writable-through-candidate</access></running></datastores>")
node_start n1
NODE_CONF=$(conf_file nocand "<datastores><candidate><enabled>false</enabled></candidate></datastores>")
node_start n2
t() {
    ok ctl n0 -d candidate set "$R[id='0000001']/leaf1" 77
    [ "$(ctl n0 get "$R[id='0000001']/leaf1")" = 77 ] || die "-d candidate set is not in running"
    [ "$(ctl n0 txid)" = 2 ] || die "txid after -d candidate set"
    routes_xml 2 --start 10 >"$T/r10.xml"
    ok ctl n0 -d candidate load "$T/r10.xml"
    [ "$(ctl n0 get "$R[id='0000011']/leaf4")" = 80 ] || die "-d candidate load is not in running"
    ok ctl n0 -d candidate delete "$R[id='0000010']"
    expect_rc 1 ctl n0 get "$R[id='0000010']/leaf1"
    [ "$(ctl n0 txid)" = 4 ] || die "txid after three candidate commits"
}
subtest "set, load and delete through the candidate" t
t() {
    snap n0 >"$T/ref" || die "snapshot"
    expect_rc 1 ctl n0 -d candidate create "$R[id='0000020']"
    contains "Mandatory" "$(last_out)"
    contains "0000020" "$(last_out)"
    unchanged n0 "$T/ref"
}
subtest "an invalid change through the candidate" t
t() {
    ok ctl n1 set "$R[id='0000001']/leaf1" 78
    [ "$(ctl n1 get "$R[id='0000001']/leaf1")" = 78 ] || die "set of running"
    ok ctl n1 -d candidate set "$R[id='0000001']/leaf1" 79
    [ "$(ctl n1 get "$R[id='0000001']/leaf1")" = 79 ] || die "-d candidate set"
}
subtest "writable-through-candidate" t
t() {
    ok ctl n2 load "$T/r5.xml"
    snap n2 >"$T/ref2" || die "snapshot"
    expect_rc 1 ctl n2 -d candidate set "$R[id='0000001']/leaf1" 79
    contains "candidate" "$(last_out)"
    contains "not enabled" "$(last_out)"
    unchanged n2 "$T/ref2"
}
subtest "no candidate" t
subtests_end
for n in n0 n1 n2; do
    node_stop "$n"
    clean_exit "$T/$n.out"
done
pass
