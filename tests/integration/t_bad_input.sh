#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad values and schema violations through chorusctl set/create/delete: each one gets a
# clear error naming the path and the reason, exit status 1, and changes nothing (transaction
# id and data, compared with `chorusctl save`). Every check is a subtest, so that one failure
# does not hide the others. (Load files, usage errors, no daemon: t_bad_load.sh.)
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
bad_input_node n0

# ---- values: type, range, bounds, pattern ----
t() {
    refused set "$R[id='0000001']/leaf1" abc
    has 'Invalid type int32 value "abc"' "(path: " "0000001" "/leaf1)"
}
subtest "set: not an integer" t
t() {
    refused set "$R[id='0000001']/leaf1" -5
    has "range" '"-5"' "(path: " "0000001" "/leaf1)"
}
subtest "set: out of the range 0..max" t
t() {
    refused set "$R[id='0000001']/leaf1" 99999999999
    has '"99999999999"' "int32" "(path: " "/leaf1)"
}
subtest "set: out of int32" t
t() {
    refused set "$R[id='12']/leaf1" 5
    has "pattern" '"12"' "(path: " "[id="
}
subtest "set: key against its pattern (id '12')" t
t() {
    refused -d candidate set "$R[id='0000001']/leaf2" abc
    has '"abc"' "/leaf2)"
}
subtest "set -d candidate: not an integer" t

# ---- constraints checked when the change is validated ----
t() {
    refused create "$R[id='0000009']"
    has 'Mandatory node "leaf1"' "(path: $R[id='0000009']/leaf1)"
}
subtest "create: a route without its mandatory leaves" t
t() {
    refused set "$R[id='0000009']/leaf1" 1
    has "Mandatory" "(path: $R[id='0000009']/leaf"
}
subtest "set: a new route with only leaf1" t
t() {
    refused set /chorus-test:box/high 5
    has "high must not be below low" "(path: /chorus-test:box/high)"
}
subtest "set: must violation" t
t() {
    refused set /chorus-test:box/route-ref 0000077
    has "leafref" '"0000077"' "(path: /chorus-test:box/route-ref)"
}
subtest "set: leafref to a missing route" t
t() {
    refused delete "$R[id='0000002']"
    has "leafref" "0000002" "(path: /chorus-test:box/route-ref)"
}
subtest "delete: a route that a leafref points to" t

# ---- what exists and what does not ----
t() {
    refused delete "$R[id='0000099']"
    has "does not exist" "(path: " "0000099"
}
subtest "delete: a missing route" t
t() {
    refused delete /chorus-test:box/name
    has "does not exist" "(path: /chorus-test:box/name)"
}
subtest "delete: a missing leaf" t
t() {
    refused create "$R[id='0000001']"
    has "already exists" "(path: " "0000001"
}
subtest "create: an existing route" t
t() {
    refused get "$R[id='0000099']/leaf1"
    has "does not exist" "0000099"
}
subtest "get: a missing route" t

# ---- paths ----
t() {
    refused set "$R[id='0000001']/nosuch" 1
    has '"nosuch"' "(path: "
}
subtest "set: unknown node" t
t() {
    refused set /nosuch:box/x 1
    has '"nosuch"' "(path: /nosuch:box/x)"
}
subtest "set: unknown module" t
t() {
    refused set "$R[id='0000001']" 5
    has '"route"' "no value" "(path: $R[id='0000001'])"
}
subtest "set: a value for a list entry" t
t() {
    refused set "$R[id='0000001']/id" 0000002
    has "key" "(path: " "/id)"
}
subtest "set: the key leaf on its own" t
t() {
    refused delete "$R[id='0000001']/id"
    has "key" "/id)"
}
subtest "delete: the key leaf on its own" t

# ---- state data (config false) is not configuration ----
t() {
    refused set /chorus-test:box/counter 5
    has "config false" "(path: /chorus-test:box/counter)"
}
subtest "set: a config false leaf" t
t() {
    refused set /chorus-test:box/stats/packets 5
    has "config false" "(path: /chorus-test:box/stats/packets)"
}
subtest "set: a leaf in a config false container" t
t() {
    printf '<box xmlns="urn:chorus:test"><name>a</name><counter>5</counter></box>\n' >"$T/state.xml"
    refused load "$T/state.xml"
    has '"counter"' "(path: /chorus-test:box/counter)"
}
subtest "load: a config false leaf" t

subtests_end
unchanged n0 "$T/ref"
node_stop n0
clean_exit "$T/n0.out"
pass
