#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# chorusctl's confirmed commit, cancel-commit, rpc and get -o: a confirmed commit that is not
# confirmed in time reverts every commit made since (here another invocation's set); one
# confirmed with its persist token stays and can no longer be cancelled; cancel-commit reverts
# at once; wrong tokens and usage errors are refused with clear messages; an RPC with no
# application to answer it fails naming it; get -o reads the operational datastore.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
L="$R[id='0000003']/leaf2"
routes_xml 5 >"$T/r5.xml"
node_start n0 --addloadpath "$CHORUS_SRC/tests/integration/models"
ok ctl n0 load "$T/r5.xml"
orig=$(ctl n0 get "$L")

t_timeout() {
    ok ctl n0 commit -c 1 -P tok1
    ok ctl n0 set "$L" 77
    [ "$(ctl n0 get "$L")" = 77 ] || die "the set inside the period is missing"
    for _ in $(seq 1 60); do
        [ "$(ctl n0 get "$L")" = "$orig" ] && break
        sleep 0.1
    done
    [ "$(ctl n0 get "$L")" = "$orig" ] || die "not reverted after the confirm timeout"
    grep -q "confirmed commit reverted (confirm-timeout expired)" "$T/n0.out" ||
        die "the revert was not logged"
}
t_confirm() {
    ok ctl n0 commit -c 30 -P tok2
    ok ctl n0 set "$L" 88
    expect_rc 1 ctl n0 commit -I wrong
    has "does not match"
    ok ctl n0 commit -I tok2
    expect_rc 1 ctl n0 cancel-commit -I tok2
    has "no confirmed commit is pending"
    [ "$(ctl n0 get "$L")" = 88 ] || die "a confirmed change is gone"
}
t_cancel() {
    ok ctl n0 commit -c 30 -P tok3
    ok ctl n0 set "$L" 99
    ok ctl n0 cancel-commit -I tok3
    [ "$(ctl n0 get "$L")" = 88 ] || die "cancel-commit did not revert"
}
t_usage() {
    expect_rc 2 ctl n0 commit -P x
    has "needs -c"
    expect_rc 2 ctl n0 commit -c 0
    has "invalid confirm timeout"
}
t_rpc() {
    printf '<ping xmlns="urn:chorus:test"><text>hi</text></ping>' >"$T/ping.xml"
    expect_rc 1 ctl n0 rpc "$T/ping.xml"
    has "no application handles" "/chorus-test:ping"
    printf '<ping xmlns="urn:chorus:test"><text>hi</text>' >"$T/bad.xml"
    expect_rc 1 ctl n0 rpc "$T/bad.xml"
    has "invalid operation"
}
t_oper() {
    ok ctl n0 get -o "$R[id='0000001']/leaf1"
    [ "$(cat "$T/last.out")" = "$(ctl n0 get "$R[id='0000001']/leaf1")" ] ||
        die "get -o differs from running for configuration"
}
subtest "not confirmed in time" t_timeout
subtest "confirmed with persist-id" t_confirm
subtest "cancel-commit" t_cancel
subtest "usage errors" t_usage
subtest "rpc without a handler" t_rpc
subtest "get -o" t_oper
subtests_end
node_stop n0
clean_exit "$T/n0.out"
pass
