#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start phases (--start-phase0): in phase 0 only the init transaction is writable; load -i
# adds to it; wait-start 2 returns only once phase 2 is reached; entering phase 1 commits the
# init data as transaction 1. (An invalid init transaction: t_init_invalid.sh.)
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
routes_xml 5 >"$T/r5.xml"
cat >"$T/r100.xml" <<'EOF'
<active-cfg xmlns="urn:chorus:example:routes"><routes>
<route><id>0000100</id><leaf1>1</leaf1><leaf2>2</leaf2><leaf3>3</leaf3><leaf4>4</leaf4></route>
</routes></active-cfg>
EOF
phase() {
    ctl n0 status | json_get 'd["phase"]'
}

node_start n0 --start-phase0
[ "$(phase)" = 0 ] || die "status does not show phase 0"
[ "$(ctl n0 txid)" = 0 ] || die "txid in phase 0"
ok ctl n0 wait-start 0

# writes are refused, naming phase 0 and the init transaction
expect_rc 1 ctl n0 set "$R[id='0000001']/leaf1" 5
contains "phase 0" "$(last_out)"
contains "init transaction" "$(last_out)"
expect_rc 1 ctl n0 load "$T/r5.xml"
contains "phase 0" "$(last_out)"
expect_rc 1 ctl n0 rollback apply 0
contains "phase 0" "$(last_out)"
expect_rc 1 ctl n0 start-phase 2
contains "phase 0" "$(last_out)"
[ "$(ctl n0 txid)" = 0 ] || die "a refused write moved the txid"

# wait-start 2, in the background, returns only after phases 1 and 2
ctl n0 wait-start 2 >"$T/wait.out" 2>&1 &
WAITER=$!
sleep 0.3
kill -0 "$WAITER" 2>/dev/null || die "wait-start 2 returned in phase 0: $(cat "$T/wait.out")"
expect_rc 1 ctl n0 -t 1 wait-start 1
contains "chorusctl: " "$(last_out)"

# load -i goes into the init transaction: nothing is committed or visible yet
ok ctl n0 load -i "$T/r5.xml"
ok ctl n0 load -i "$T/r100.xml"
[ "$(ctl n0 txid)" = 0 ] || die "load -i committed"
expect_rc 1 ctl n0 get "$R[id='0000001']/leaf1"

# phase 1 commits the init data (both loads) as transaction 1
ok ctl n0 start-phase 1
[ "$(phase)" = 1 ] || die "not in phase 1"
[ "$(ctl n0 txid)" = 1 ] || die "the init transaction is not transaction 1"
[ "$(ctl n0 get "$R[id='0000003']/leaf2")" = 22 ] || die "init data missing"
[ "$(ctl n0 get "$R[id='0000100']/leaf4")" = 4 ] || die "the second load -i is missing"
ok ctl n0 rollback list
[ "$(last_out | wc -l)" = 2 ] || die "rollback list after phase 1: $(last_out)"
sleep 0.2
kill -0 "$WAITER" 2>/dev/null || die "wait-start 2 returned in phase 1"

# phase 2: the waiter returns (successfully)
ok ctl n0 start-phase 2
wait "$WAITER" || die "wait-start 2 failed: $(cat "$T/wait.out")"
[ "$(phase)" = 2 ] || die "not in phase 2"
ok ctl n0 wait-start 1

# after phase 0: no init transaction, no going back
expect_rc 1 ctl n0 load -i "$T/r5.xml"
contains "phase 0" "$(last_out)"
expect_rc 1 ctl n0 start-phase 1
contains "phase" "$(last_out)"
[ "$(phase)" = 2 ] || die "phase changed"
ok ctl n0 set "$R[id='0000001']/leaf1" 5
[ "$(ctl n0 txid)" = 2 ] || die "write in phase 2"

# a restart in phase 0 with data: the data is there, phase 1 commits nothing new
ctl n0 save >"$T/before.xml" || die "save"
node_stop n0
node_start n0 --start-phase0
[ "$(phase)" = 0 ] || die "not in phase 0 after the restart"
[ "$(ctl n0 txid)" = 2 ] || die "txid after the restart"
ok ctl n0 start-phase 1
ok ctl n0 start-phase 2
[ "$(ctl n0 txid)" = 2 ] || die "an empty init transaction made a commit"
ctl n0 save >"$T/after.xml" || die "save"
cmp -s "$T/before.xml" "$T/after.xml" || die "restart changed the data"

# a client that disconnects while waiting does not disturb the daemon
node_stop n0
node_start n0 --start-phase0
timeout 1 "$CHORUSCTL" -p "$n0_PORT" wait-start 2 >/dev/null 2>&1
ok ctl n0 load -i "$T/r5.xml"
ok ctl n0 start-phase 1
ok ctl n0 start-phase 2
node_stop n0
clean_exit "$T/n0.out"
pass
