#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rollback: the list (most recent first, who and when), cumulative apply N (undoes commits
# 0..N as one new commit), selective apply -s N (only commit N), errors that change nothing,
# rollback/max-files pruning, and the rollback of a deletion of 1000 routes restoring them
# exactly.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
export CHORUS_USER=rb-user
v() {
    ctl n0 get "$R[id='$1']/$2"
}

node_start n0
routes_xml 5 >"$T/r5.xml"
ok ctl n0 -x ctx1 load "$T/r5.xml"                  # txid 1
ok ctl n0 -x ctx2 set "$R[id='0000001']/leaf1" 101  # txid 2
ok ctl n0 -x ctx3 set "$R[id='0000002']/leaf2" 202  # txid 3
ok ctl n0 -x ctx4 delete "$R[id='0000003']"         # txid 4
routes_xml 1 --start 6 >"$T/r6.xml"
ok ctl n0 -u other-user -x ctx5 load "$T/r6.xml"    # txid 5
[ "$(ctl n0 txid)" = 5 ] || die "txid after the set-up"

# the list: a header, then index 0 = txid 5 ... index 4 = txid 1
ok ctl n0 rollback list
last_out >"$T/list"
[ "$(wc -l <"$T/list")" = 6 ] || die "rollback list: $(cat "$T/list")"
head -n 1 "$T/list" | grep -Eq '^INDEX  TXID  TIME +USER +CONTEXT  LABEL$' || die "header: $(head -n 1 "$T/list")"
sed -n 2p "$T/list" | grep -Eq '^0      5     [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  other-user  ctx5$' ||
    die "entry 0: $(sed -n 2p "$T/list")"
sed -n 6p "$T/list" | grep -Eq '^4      1     [0-9T:Z-]+  rb-user +ctx1$' || die "entry 4: $(sed -n 6p "$T/list")"
for i in 0 1 2 3 4; do
    sed -n "$((i + 2))p" "$T/list" | grep -q "^$i  *$((5 - i))  " || die "entry $i: $(cat "$T/list")"
done
now=$(date -u +%s)
when=$(sed -n 2p "$T/list" | awk '{print $3}')
[ $((now - $(date -u -d "$when" +%s))) -lt 120 ] || die "the commit time is not now: $when"

# selective: only commit 2 (txid 3, route 2's leaf2)
ok ctl n0 rollback apply -s 2
[ "$(ctl n0 txid)" = 6 ] || die "selective rollback did not commit"
[ "$(v 0000002 leaf2)" = 15 ] || die "selective rollback did not undo txid 3"
[ "$(v 0000001 leaf1)" = 101 ] || die "selective rollback undid txid 2"
expect_rc 1 ctl n0 get "$R[id='0000003']/leaf1"
[ "$(v 0000006 leaf1)" = 42 ] || die "selective rollback undid txid 5"
ok ctl n0 rollback list
contains "6     " "$(last_out)"

# cumulative: 0..1 = the selective rollback (txid 6) and txid 5
ok ctl n0 rollback apply 1
[ "$(ctl n0 txid)" = 7 ] || die "rollback apply 1 did not commit"
[ "$(v 0000002 leaf2)" = 202 ] || die "undoing the selective rollback"
expect_rc 1 ctl n0 get "$R[id='0000006']/leaf1"
[ "$(v 0000001 leaf1)" = 101 ] || die "rollback apply 1 went too far"

# cumulative back to the state after txid 1: undo 7, 6, 5, 4, 3, 2 (indexes 0..5)
ok ctl n0 rollback apply 5
[ "$(ctl n0 txid)" = 8 ] || die "rollback apply 5 did not commit"
for id in 1 2 3 4 5; do
    [ "$(v "000000$id" leaf4)" = $((id * 7 + 3)) ] || die "route $id after rollback apply 5"
done
[ "$(v 0000001 leaf1)" = 7 ] || die "route 1 after rollback apply 5"
expect_rc 1 ctl n0 get "$R[id='0000006']/leaf1"

# errors change nothing
snap n0 >"$T/ref" || die "snapshot"
expect_rc 1 ctl n0 rollback apply -s 99
contains "no rollback file 99" "$(last_out)"
unchanged n0 "$T/ref"
t() {
    expect_rc 1 ctl n0 rollback apply 99
    contains "no rollback file" "$(last_out)"
    unchanged n0 "$T/ref"
}
subtest "rollback apply beyond the last file" t
t() {
    ok ctl n0 rollback apply 7
    [ "$(ctl n0 txid)" = 9 ] || die "rollback to the empty datastore did not commit"
    [ "$(ctl n0 save | grep -c "<route>")" = 0 ] || die "routes left: $(ctl n0 save)"
}
subtest "rollback of every commit, the first one included (to the empty datastore)" t
node_stop n0

# ---- rollback/max-files 3: after 5 commits only 3 are listed ----
NODE_CONF=$(conf_file max3 "<rollback><max-files>3</max-files></rollback>")
node_start n1
ok ctl n1 load "$T/r5.xml"
for i in 1 2 3 4; do
    ok ctl n1 set "$R[id='0000001']/leaf1" "$i"
done
[ "$(ctl n1 txid)" = 5 ] || die "txid"
ok ctl n1 rollback list
[ "$(last_out | wc -l)" = 4 ] || die "max-files 3: $(last_out)"
[ "$(last_out | awk 'NR > 1 {print $2}' | tr '\n' ' ')" = "5 4 3 " ] || die "kept: $(last_out)"
snap n1 >"$T/ref1" || die "snapshot"
expect_rc 1 ctl n1 rollback apply 3
unchanged n1 "$T/ref1"
ok ctl n1 rollback apply 2
[ "$(ctl n1 get "$R[id='0000001']/leaf1")" = 1 ] || die "rollback apply 2 with max-files 3"
ok ctl n1 rollback list
[ "$(last_out | wc -l)" = 4 ] || die "max-files 3 after a rollback: $(last_out)"
node_stop n1

# ---- the deletion of 1000 routes, rolled back ----
NODE_CONF=
node_start n2
routes_xml 5 >"$T/r5.xml"
routes_xml 1000 --start 2000 --seed 9 >"$T/r1000.xml"
ok ctl n2 load "$T/r5.xml"
ok ctl n2 load "$T/r1000.xml"
ctl n2 save >"$T/before.xml" || die "save"
[ "$(grep -c "<route>" "$T/before.xml")" = 1005 ] || die "routes before"
ok ctl n2 load -r "$T/r5.xml"
[ "$(ctl n2 save | grep -c "<route>")" = 5 ] || die "load -r did not delete the 1000 routes"
ok ctl n2 rollback apply 0
ctl n2 save >"$T/after.xml" || die "save"
same_routes "$T/before.xml" "$T/after.xml" || die "rollback of the deletion of 1000 routes"
t() {
    cmp -s "$T/before.xml" "$T/after.xml" ||
        die "the restored routes are not in their order: $(diff "$T/before.xml" "$T/after.xml" | head -n 8)"
}
subtest "the rollback restores the routes in their order (save output identical)" t
# everything at once, with a delete of the top container
ok ctl n2 delete /routes:active-cfg
expect_rc 1 ctl n2 get "$R[id='0000001']/leaf1"
ok ctl n2 rollback apply 0
ctl n2 save >"$T/after2.xml" || die "save"
same_routes "$T/before.xml" "$T/after2.xml" || die "rollback of the delete of the top container"
[ "$(ctl n2 txid)" = 6 ] || die "txid"
node_stop n2

# undoing the change of a leaf that had its default value: back to the default (the inverse
# record holds the default-tagged old value, parsed under its parent)
node_start n3 --addloadpath "$CHORUS_SRC/tests/integration/models"
ok ctl n3 set /chorus-test:box/name x
ok ctl n3 set /chorus-test:box/mode manual
ok ctl n3 rollback apply 0
[ "$(ctl n3 get /chorus-test:box/mode)" = auto ] || die "mode is not back to its default"
ctl n3 get /chorus-test:box | grep -q "<mode>" && die "the default became explicit"
[ "$(ctl n3 get /chorus-test:box/name)" = x ] || die "rollback 0 went too far"
node_stop n3
subtests_end
clean_exit "$T/n0.out"
clean_exit "$T/n1.out"
clean_exit "$T/n2.out"
clean_exit "$T/n3.out"
pass
