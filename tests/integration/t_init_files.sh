#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# First start with *.xml files in the database directory: they form the init transaction
# (committed as transaction 1, files in name order, merged); at later starts they are not
# read again. With --start-phase0 they wait in the init transaction for start-phase 1.
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
count() {
    ctl "$1" save | grep -c "<route>"
}

mkdir -p "$T/n0"
routes_xml 5 >"$T/n0/a.xml"
routes_xml 2 --start 10 >"$T/n0/b.xml"
# c.xml changes a value of a.xml's route 1: merged after it
printf '<active-cfg xmlns="urn:chorus:example:routes"><routes><route><id>0000001</id><leaf1>111</leaf1></route></routes></active-cfg>\n' \
    >"$T/n0/c.xml"
echo "not an init file" >"$T/n0/notes.txt"
node_start n0
[ "$(ctl n0 txid)" = 1 ] || die "the init files are not transaction 1"
[ "$(count n0)" = 7 ] || die "routes after the first start: $(count n0)"
[ "$(ctl n0 get "$R[id='0000011']/leaf4")" = 80 ] || die "b.xml"
[ "$(ctl n0 get "$R[id='0000001']/leaf1")" = 111 ] || die "c.xml is not merged after a.xml"
ok ctl n0 rollback list
[ "$(last_out | wc -l)" = 2 ] || die "one rollback file expected: $(last_out)"
grep -q "a.xml" "$T/n0/chorusd.log" || die "the log does not name the init files"

# later starts do not read them again
routes_xml 1 --start 12 >"$T/n0/d.xml"
ok ctl n0 set "$R[id='0000001']/leaf1" 5
node_stop n0
node_start n0
[ "$(ctl n0 txid)" = 2 ] || die "txid after the restart"
[ "$(count n0)" = 7 ] || die "the init files were loaded again"
[ "$(ctl n0 get "$R[id='0000001']/leaf1")" = 5 ] || die "the init files overwrote a commit"
node_stop n0

# --start-phase0: the files wait in the init transaction
mkdir -p "$T/n1"
routes_xml 3 >"$T/n1/a.xml"
node_start n1 --start-phase0
[ "$(ctl n1 txid)" = 0 ] || die "committed in phase 0"
routes_xml 1 --start 20 >"$T/r20.xml"
ok ctl n1 load -i "$T/r20.xml"
ok ctl n1 start-phase 1
ok ctl n1 start-phase 2
[ "$(ctl n1 txid)" = 1 ] || die "txid after phase 1"
[ "$(count n1)" = 4 ] || die "the init files and load -i: $(count n1) routes"
node_stop n1
clean_exit "$T/n0.out"
clean_exit "$T/n1.out"
pass
