#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# database/validation full: t_basic.sh's scenario passes, and a series of valid and invalid
# commits (types, mandatory leaves, must, leafref, deletes) behaves identically on a node
# validating incrementally and one validating fully: the same exit status, the same error
# messages, the same data and transaction ids.
. "$(dirname "$0")/../lib.sh"

FULL_CONF=$(conf_file full "<database><dir>db</dir><validation>full</validation></database>")
NODE_CONF=$FULL_CONF "$CHORUS_SRC/tests/integration/t_basic.sh" >"$T/basic.out" 2>&1 ||
    die "t_basic.sh with validation full: $(tail -n 20 "$T/basic.out")"

R="/routes:active-cfg/routes/route"
MODELS="$CHORUS_SRC/tests/integration/models"
node_start inc --addloadpath "$MODELS"
NODE_CONF=$FULL_CONF node_start full --addloadpath "$MODELS"
[ "$(ctl full status | json_get 'd["validation"]')" = full ] || die "not validating fully"
[ "$(ctl inc status | json_get 'd["validation"]')" = incremental ] || die "not incremental"

routes_xml 20 >"$T/r20.xml"
cat >"$T/nol4.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3></route>
</routes></active-cfg>
XML
cat >"$T/partial.xml" <<'XML'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000003</id><leaf1>300</leaf1></route>
<route><id>0000004</id><leaf4>400</leaf4></route>
</routes></active-cfg>
XML
# the same command on both nodes: the same exit status and output, then the same data
both() {
    local rc_inc rc_full
    ctl inc "$@" >"$T/cmp-inc.txt" 2>&1
    rc_inc=$?
    ctl full "$@" >"$T/cmp-full.txt" 2>&1
    rc_full=$?
    [ "$rc_inc" = "$rc_full" ] ||
        die "$*: exit status $rc_inc (incremental) vs $rc_full (full): $(cat "$T/cmp-inc.txt") / $(cat "$T/cmp-full.txt")"
    cmp -s "$T/cmp-inc.txt" "$T/cmp-full.txt" ||
        die "$*: incremental said \"$(cat "$T/cmp-inc.txt")\", full said \"$(cat "$T/cmp-full.txt")\""
    snap inc >"$T/inc.snap" 2>&1
    snap full >"$T/full.snap" 2>&1
    cmp -s "$T/inc.snap" "$T/full.snap" ||
        die "$*: the data differs: $(diff "$T/inc.snap" "$T/full.snap" | head)"
    return "$rc_inc"
}
# step ok|fails CMD...: a subtest running CMD on both nodes (see both)
step() {
    local want=$1
    shift
    t() {
        local rc=0
        both "$@" || rc=$?
        if [ "$want" = ok ]; then
            [ "$rc" = 0 ] || die "$*: failed: $(cat "$T/cmp-inc.txt")"
        else
            [ "$rc" != 0 ] || die "$*: committed"
        fi
    }
    subtest "$want: $*" t "$@"
}
step ok load "$T/r20.xml"
step ok set "$R[id='0000001']/leaf1" 5
step fails set "$R[id='0000001']/leaf1" abc
step fails set "$R[id='0000001']/leaf1" -1
step fails create "$R[id='0000030']"
step fails set "$R[id='0000030']/leaf1" 1
step fails load "$T/nol4.xml"
step ok load "$T/partial.xml"
step ok delete "$R[id='0000005']"
step fails delete "$R[id='0000005']"
step fails delete "$R[id='0000005']/leaf1"
step fails delete "$R[id='0000006']/leaf2"
step ok set /chorus-test:box/low 10
step fails set /chorus-test:box/high 5
step ok set /chorus-test:box/high 15
step fails set /chorus-test:box/low 20
step ok set /chorus-test:box/route-ref 0000007
step fails delete "$R[id='0000007']"
step fails set /chorus-test:box/route-ref 0000099
step ok delete /chorus-test:box
step ok load -r "$T/r20.xml"
step ok rollback apply 1
subtests_end
node_stop inc
node_stop full
clean_exit "$T/inc.out"
clean_exit "$T/full.out"
pass
