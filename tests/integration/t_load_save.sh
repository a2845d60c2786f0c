#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# save and load round trips in XML and JSON; load -r replaces everything (routes not in the
# file disappear), load -m merges; loading what is already there commits nothing; validate
# FILE accepts a valid file and rejects an invalid one without changing anything; get of a
# subtree prints it with its ancestors (and nothing else of them).
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
count() {
    ctl n0 save | grep -c "<route>"
}
node_start n0
routes_xml 50 >"$T/r50.xml"
ok ctl n0 load "$T/r50.xml"

# ---- round trips ----
ctl n0 save >"$T/s.xml" || die "save"
ctl n0 save -F json >"$T/s.json" || die "save -F json"
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["routes:active-cfg"]["routes"]["route"]) == 50' \
    "$T/s.json" || die "save -F json is not the 50 routes: $(head -c 300 "$T/s.json")"
head -n 1 "$T/s.xml" | grep -q '^<active-cfg xmlns="urn:chorus:example:routes">' ||
    die "save XML: $(head -n 3 "$T/s.xml")"
ok ctl n0 load -r "$T/s.xml"
[ "$(ctl n0 txid)" = 1 ] || die "loading the saved data again made a commit"
ok ctl n0 load -r "$T/s.json"
[ "$(ctl n0 txid)" = 1 ] || die "loading the saved JSON again made a commit"

# change things, then load -r the saved XML: back to the saved data (the order of the routes
# may differ: a route deleted and loaded again comes last)
ok ctl n0 set "$R[id='0000003']/leaf2" 99
ok ctl n0 delete "$R[id='0000007']"
routes_xml 2 --start 100 >"$T/r100.xml"
ok ctl n0 load "$T/r100.xml"
[ "$(ctl n0 txid)" = 4 ] || die "txid"
ok ctl n0 load -r "$T/s.xml"
[ "$(ctl n0 txid)" = 5 ] || die "load -r did not make one commit"
ctl n0 save >"$T/s2.xml" || die "save"
same_routes "$T/s.xml" "$T/s2.xml" || die "XML round trip"
# the same through JSON
ok ctl n0 set "$R[id='0000003']/leaf2" 98
ok ctl n0 load -r "$T/s.json"
ctl n0 save -F json >"$T/s2.json" || die "save"
same_routes "$T/s.json" "$T/s2.json" || die "JSON round trip"
ctl n0 save >"$T/s3.xml" || die "save"
same_routes "$T/s.xml" "$T/s3.xml" || die "JSON round trip, seen as XML"
# standard input, both formats
ok ctl n0 set "$R[id='0000003']/leaf2" 97
ok ctl n0 load -r - <"$T/s.xml"
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 22 ] || die "load -r - (XML)"
ok ctl n0 set "$R[id='0000003']/leaf2" 96
ok ctl n0 load -r -F json - <"$T/s.json"
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 22 ] || die "load -r -F json -"

# ---- load -r replaces everything: routes not in the file disappear ----
routes_xml 10 --seed 5 >"$T/r10.xml"
t0=$(ctl n0 txid)
ok ctl n0 load -r "$T/r10.xml"
[ "$(count)" = 10 ] || die "load -r left $(count) routes"
[ "$(ctl n0 get "$R[id='0000004']/leaf1")" = 33 ] || die "load -r did not replace the values"
expect_rc 1 ctl n0 get "$R[id='0000011']/leaf1"
[ "$(ctl n0 txid)" = $((t0 + 1)) ] || die "txid after load -r"

# ---- load -m (and load without option) merges ----
printf '<active-cfg xmlns="urn:chorus:example:routes"><routes><route><id>0000001</id><leaf1>1234</leaf1></route></routes></active-cfg>\n' \
    >"$T/merge.xml"
ok ctl n0 load -m "$T/merge.xml"
[ "$(ctl n0 get "$R[id='0000001']/leaf1")" = 1234 ] || die "load -m did not change leaf1"
[ "$(ctl n0 get "$R[id='0000001']/leaf2")" = 13 ] || die "load -m lost leaf2"
[ "$(count)" = 10 ] || die "load -m changed the number of routes"
ok ctl n0 load "$T/r100.xml"
[ "$(count)" = 12 ] || die "load (merge) of new routes"
# -r then -m: the last one wins (merge)
ok ctl n0 load -r -m "$T/merge.xml"
[ "$(count)" = 12 ] || die "load -r -m did not merge"
ok ctl n0 load -m -r "$T/r10.xml"
[ "$(count)" = 10 ] || die "load -m -r did not replace"

# ---- validate FILE: nothing is committed ----
snap n0 >"$T/ref" || die "snapshot"
ok ctl n0 validate "$T/r100.xml"
[ -z "$(last_out)" ] || die "validate of a valid file printed: $(last_out)"
ok ctl n0 validate -r "$T/s.xml"
ok ctl n0 validate -F json "$T/s.json"
unchanged n0 "$T/ref"
cat >"$T/nol4.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000200</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3></route>
</routes></active-cfg>
XML
expect_rc 1 ctl n0 validate "$T/nol4.xml"
contains 'Mandatory node "leaf4"' "$(last_out)"
contains "(path: $R[id='0000200']/leaf4)" "$(last_out)"
unchanged n0 "$T/ref"
# merged into the datastore, the partial route 1 is valid; replacing everything with it is not
ok ctl n0 validate "$T/merge.xml"
unchanged n0 "$T/ref"
t() {
    expect_rc 1 ctl n0 validate -r "$T/merge.xml"
    contains "Mandatory" "$(last_out)"
    unchanged n0 "$T/ref"
}
subtest "a failed validate -r changes nothing (not even the order of the routes)" t
# a known state again, whatever the subtest left
ok ctl n0 delete /routes:active-cfg/routes
ok ctl n0 load "$T/r10.xml"

# ---- get of a subtree: with its ancestors, without the siblings ----
ok ctl n0 get "$R[id='0000003']"
cat >"$T/want.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes">
  <routes>
    <route>
      <id>0000003</id>
      <leaf1>26</leaf1>
      <leaf2>27</leaf2>
      <leaf3>28</leaf3>
      <leaf4>29</leaf4>
    </route>
  </routes>
</active-cfg>
XML
diff "$T/want.xml" "$T/last.out" >/dev/null || die "get of a route: $(diff "$T/want.xml" "$T/last.out")"
ok ctl n0 get -F json "$R[id='0000003']"
[ "$(last_out | json_get 'd["routes:active-cfg"]["routes"]["route"]')" = \
    "[{'id': '0000003', 'leaf1': 26, 'leaf2': 27, 'leaf3': 28, 'leaf4': 29}]" ] ||
    die "get -F json of a route: $(last_out)"
ok ctl n0 save "$R[id='0000003']"
diff "$T/want.xml" "$T/last.out" >/dev/null || die "save PATH: $(last_out)"
ok ctl n0 get /routes:active-cfg/routes
[ "$(last_out | grep -c "<route>")" = 10 ] || die "get of the list's parent"
[ "$(ctl n0 get "$R[id='0000003']/leaf3")" = 28 ] || die "get of a leaf prints its value"
expect_rc 1 ctl n0 save "$R[id='0000999']"
contains "does not exist" "$(last_out)"

# a restart keeps exactly the data
ctl n0 save >"$T/before.xml" || die "save"
node_stop n0
node_start n0
ctl n0 save >"$T/after.xml" || die "save"
cmp -s "$T/before.xml" "$T/after.xml" || die "restart changed the data"
node_stop n0
subtests_end
clean_exit "$T/n0.out"
pass
