#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The basic life of a node through chorusctl: load, read, change, delete, rollback, and a
# restart that brings back exactly what was committed. NODE_CONF in the environment runs the
# same scenario with another configuration (t_validation_full.sh).
. "$(dirname "$0")/../lib.sh"

# the rollback files name the committing user: make it known whoever runs the test
export CHORUS_USER=basic-tester

R="/routes:active-cfg/routes/route"
node_start n0
# its heap runs on transparent huge pages (main.c heap_on_huge_pages), unless told not to
tr '\0' '\n' <"/proc/$n0_PID/environ" | grep -qx 'GLIBC_TUNABLES=.*glibc.malloc.hugetlb=1' ||
    die "chorusd did not set glibc.malloc.hugetlb=1: $(tr '\0' '\n' <"/proc/$n0_PID/environ" | grep TUNABLES)"
CHORUS_HUGEPAGES=0 node_start n1
! tr '\0' '\n' <"/proc/$n1_PID/environ" | grep -q hugetlb || die "CHORUS_HUGEPAGES=0 is not obeyed"
node_stop n1
routes_xml 50 >"$T/r50.xml"
ok ctl n0 load "$T/r50.xml"
[ "$(ctl n0 txid)" = 1 ] || die "txid after the first load is not 1"
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 22 ] || die "leaf2 of route 3"

# set, create, delete by path
ok ctl n0 set "$R[id='0000003']/leaf2" 99
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 99 ] || die "set did not take"
ok ctl n0 delete "$R[id='0000050']"
fails ctl n0 get "$R[id='0000050']/leaf1"
contains "does not exist" "$(cat "$T/last.out")"
[ "$(ctl n0 txid)" = 3 ] || die "txid is not 3"

# a write equal to the datastore is no change: no new transaction
ok ctl n0 set "$R[id='0000003']/leaf2" 99
[ "$(ctl n0 txid)" = 3 ] || die "an equal write made a transaction"

# rollback: the last two commits undone as one new transaction
ok ctl n0 rollback list
contains "basic-tester" "$(cat "$T/last.out")"
ok ctl n0 rollback apply 1
[ "$(ctl n0 txid)" = 4 ] || die "rollback did not commit"
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 22 ] || die "rollback did not restore leaf2"
[ "$(ctl n0 get "$R[id='0000050']/leaf4")" = 353 ] || die "rollback did not restore route 50"

# status names the phase and the transaction id
s=$(ctl n0 status)
contains '"phase": 2' "$s"
contains '"txid": 4' "$s"

# a clean restart and a kill -9 both bring back exactly what was committed
ctl n0 save >"$T/before.xml" || die "save failed"
node_stop n0
node_start n0
ctl n0 save >"$T/after.xml" || die "save failed"
cmp -s "$T/before.xml" "$T/after.xml" || die "restart changed the data: $(diff "$T/before.xml" "$T/after.xml" | head)"
ok ctl n0 set "$R[id='0000001']/leaf1" 12345
ctl n0 save >"$T/before.xml" || die "save failed"
node_kill n0
node_start n0
ctl n0 save >"$T/after.xml" || die "save failed"
cmp -s "$T/before.xml" "$T/after.xml" || die "kill -9 lost a committed change"
[ "$(ctl n0 txid)" = 5 ] || die "txid after recovery"
pass
