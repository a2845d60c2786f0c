#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The example applications of examples/api (docs/api.md) against a real chorusd, driven with
# chorusctl: chorus-sub-print prints the PREPARE and COMMIT of a change with the committer
# and the route in the diff, and with --veto-id its veto makes the commit fail with its
# message and path, changes nothing and sends ABORT to the subscribers that prepared;
# chorus-validator refuses a route whose leaf3 exceeds leaf1 + leaf2 with its message and the
# leaf3 path, also when only leaf1 changes, and accepts a good one; chorus-hook-leaf4 fills
# in the mandatory leaf4 of new routes; chorus-oper-routes answers route-count and
# commits-seen in reads of the operational datastore, and both follow commits. Every
# example stops cleanly on SIGTERM.
. "$(dirname "$0")/../lib.sh"

EX="${CHORUS_BUILD:-}/examples"
for x in chorus-sub-print chorus-validator chorus-hook-leaf4 chorus-oper-routes; do
    [ -x "$EX/$x" ] || die "$EX/$x is not built"
done
ROUTE="/routes:active-cfg/routes/route"
R1="$ROUTE[id='0000001']" R2="$ROUTE[id='0000002']" R3="$ROUTE[id='0000003']"
R4="$ROUTE[id='0000004']" R5="$ROUTE[id='0000005']" R6="$ROUTE[id='0000006']"

# ex_start VAR PROGRAM [ARGS...]: run an example against node n0 in the background (output in
# $T/VAR.out, pid in VAR_PID, killed by the cleanup if need be) and wait for its "ready" line,
# which it prints once chorusd has accepted its registration.
ex_start() {
    local var=$1 prog=$2 pid i
    shift 2
    "$EX/$prog" -p "$n0_PORT" "$@" >"$T/$var.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    eval "${var}_PID=$pid"
    for i in $(seq 1 600); do
        grep -q '^ready:' "$T/$var.out" && return 0
        kill -0 "$pid" 2>/dev/null || die "$prog exited: $(cat "$T/$var.out")"
        sleep 0.05
    done
    die "$prog did not register: $(cat "$T/$var.out")"
}

# ex_stop VAR: SIGTERM; the example must say so and exit 0 (under the sanitizers: cleanly).
ex_stop() {
    local var=$1 pid i st
    eval "pid=\${${var}_PID}"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; die "$var did not stop on SIGTERM"; }
    wait "$pid"
    st=$?
    pids_forget "$pid"
    [ "$st" -eq 0 ] || die "$var exited with status $st: $(tail -n 20 "$T/$var.out")"
    grep -q '^stopped by signal 15' "$T/$var.out" || die "$var: no stop message"
    clean_exit "$T/$var.out"
}

# route_file NAME ID LEAF1 LEAF2 LEAF3 [LEAF4]: one route as XML in $T/NAME.xml
route_file() {
    {
        echo '<active-cfg xmlns="urn:chorus:example:routes"><routes><route>'
        echo "<id>$2</id><leaf1>$3</leaf1><leaf2>$4</leaf2><leaf3>$5</leaf3>"
        if [ -n "${6:-}" ]; then
            echo "<leaf4>$6</leaf4>"
        fi
        echo '</route></routes></active-cfg>'
    } >"$T/$1.xml"
    echo "$T/$1.xml"
}

# first line of FILE holding the fixed string STR (0 if none)
line_of() {
    local n
    n=$(grep -nF -- "$1" "$2" | head -n 1 | cut -d: -f1)
    echo "${n:-0}"
}

# The text of EXAMPLE's output after line N (what the last command made it print).
out_after() {
    tail -n "+$(($2 + 1))" "$T/$1.out"
}

# oper_get [PATH]: a read of the operational datastore (PATH, or everything) as JSON.
oper_get() {
    if [ -n "${1:-}" ]; then
        ctl n0 get -o -F json "$1"
    else
        ctl n0 save -o -F json
    fi
}

# state: the provider's "route-count commits-seen"
state() {
    oper_get /routes:routes-state >"$T/oper.json" || die "operational read failed: $(cat "$T/oper.json")"
    json_get 'str(d["routes:routes-state"]["route-count"]) + " " + str(d["routes:routes-state"]["commits-seen"])' \
        <"$T/oper.json" || die "no routes-state in: $(cat "$T/oper.json")"
}

node_start n0

# ---- chorus-sub-print: events with committer and diff; the veto ----
ex_start sp chorus-sub-print -P 5
ok ctl n0 -u alice -x cli load "$(route_file r1 0000001 1 2 3 6)"
txid=$(ctl n0 txid)
s=$(cat "$T/sp.out")
contains "PREPARE txid=$txid user=alice context=cli" "$s"
contains "COMMIT txid=$txid user=alice context=cli" "$s"
contains '"id": "0000001"' "$s"
contains '"yang:operation": "create"' "$s"
p=$(line_of "PREPARE txid=$txid" "$T/sp.out") c=$(line_of "COMMIT txid=$txid" "$T/sp.out")
[ "$p" -gt 0 ] && [ "$c" -gt "$p" ] || die "PREPARE (line $p) is not before COMMIT (line $c): $s"
# a replaced leaf: its old value in the diff
n=$(wc -l <"$T/sp.out")
ok ctl n0 set "$R1/leaf1" 2
s=$(out_after sp "$n")
contains "PREPARE txid=$((txid + 1)) user=" "$s"
contains "COMMIT txid=$((txid + 1)) user=" "$s"
contains '"leaf1": 2' "$s"
contains '"yang:orig-value": "1"' "$s"
ok ctl n0 load "$(route_file r2 0000002 1 2 3 6)"

# a second subscriber, later in priority, that vetoes route 0000002 (diffs in XML)
ex_start vt chorus-sub-print -P 10 -f xml --veto-id 0000002
snap n0 >"$T/ref" || die "snapshot"
n=$(wc -l <"$T/sp.out") m=$(wc -l <"$T/vt.out")
expect_rc 1 ctl n0 set "$R2/leaf1" 9
contains "route 0000002 is reserved: chorus-sub-print refuses to create or change it" "$(last_out)"
contains "(path: $R2)" "$(last_out)"
unchanged n0 "$T/ref"
[ "$(ctl n0 get "$R2/leaf1")" = 1 ] || die "leaf1 of the vetoed route changed"
s=$(out_after vt "$m")
contains "vetoed: route 0000002 is reserved" "$s"
contains "<id>0000002</id>" "$s"
contains "ABORT txid=" "$s"
lacks "COMMIT" "$s"
# the first subscriber prepared (lower priority first), then heard of the abort
s=$(out_after sp "$n")
contains "PREPARE txid=" "$s"
contains "ABORT txid=" "$s"
lacks "COMMIT" "$s"
# creating it again is refused too; deleting it, or changing another route, is not
ok ctl n0 delete "$R2"
expect_rc 1 ctl n0 load "$T/r2.xml"
contains "route 0000002 is reserved" "$(last_out)"
fails ctl n0 get "$R2"
m=$(wc -l <"$T/vt.out")
ok ctl n0 set "$R1/leaf2" 3
s=$(out_after vt "$m")
contains "COMMIT txid=" "$s"
contains "<id>0000001</id>" "$s"
contains '<leaf2 yang:operation="replace" yang:orig-value="2">3</leaf2>' "$s"
ex_stop vt
ex_stop sp

# ---- chorus-validator: leaf3 <= leaf1 + leaf2 ----
ex_start va chorus-validator
snap n0 >"$T/ref" || die "snapshot"
expect_rc 1 ctl n0 load "$(route_file r3bad 0000003 1 2 4 0)"
contains "route 0000003: leaf3 (4) must not be greater than leaf1 + leaf2 (3)" "$(last_out)"
contains "(path: $R3/leaf3)" "$(last_out)"
unchanged n0 "$T/ref"
ok ctl n0 load "$(route_file r3 0000003 1 2 3 0)"
[ "$(ctl n0 get "$R3/leaf3")" = 3 ] || die "the good route was not committed"
# a change of leaf1 alone: the validator reads leaf2 and leaf3 from the transaction
snap n0 >"$T/ref" || die "snapshot"
expect_rc 1 ctl n0 set "$R3/leaf1" 0
contains "route 0000003: leaf3 (3) must not be greater than leaf1 + leaf2 (2)" "$(last_out)"
contains "(path: $R3/leaf3)" "$(last_out)"
unchanged n0 "$T/ref"
ok ctl n0 set "$R3/leaf1" 5
[ "$(ctl n0 get "$R3/leaf1")" = 5 ] || die "leaf1 was not changed"
s=$(cat "$T/va.out")
contains "route 0000003: leaf3 4 > leaf1 + leaf2 = 3: refused" "$s"
contains "route 0000003: leaf3 3 <= leaf1 + leaf2 = 7: ok" "$s"
ex_stop va

# ---- chorus-hook-leaf4: leaf4 = leaf1 + leaf2 + leaf3 for new routes ----
# without the hook, leaf4 is missing (it is mandatory)
expect_rc 1 ctl n0 load "$(route_file r4 0000004 10 20 30)"
contains "leaf4" "$(last_out)"
ex_start hk chorus-hook-leaf4
ok ctl n0 load "$T/r4.xml"
[ "$(ctl n0 get "$R4/leaf4")" = 60 ] || die "leaf4 is $(ctl n0 get "$R4/leaf4" 2>&1), want 60"
# a route created with leaf4 keeps it; a changed route is not recomputed
ok ctl n0 load "$(route_file r5 0000005 1 1 1 7)"
[ "$(ctl n0 get "$R5/leaf4")" = 7 ] || die "the hook overwrote leaf4"
ok ctl n0 set "$R4/leaf1" 11
[ "$(ctl n0 get "$R4/leaf4")" = 60 ] || die "the hook changed leaf4 of an existing route"
s=$(cat "$T/hk.out")
contains "route 0000004: leaf4 = 60" "$s"
contains "route 0000005: created with leaf4, left alone" "$s"
ex_stop hk

# ---- chorus-oper-routes: route-count and commits-seen in the operational datastore ----
nroutes=$(ctl n0 save -F json | json_get 'len(d["routes:active-cfg"]["routes"]["route"])')
[ "$nroutes" = 4 ] || die "expected 4 routes at this point, found $nroutes"
ex_start op chorus-oper-routes
[ "$(state)" = "4 0" ] || die "state is $(state), want 4 0"
contains "OPER /routes:routes-state: route-count=4 commits-seen=0" "$(cat "$T/op.out")"
ok ctl n0 set "$R1/leaf1" 1
[ "$(state)" = "4 1" ] || die "state after a change is $(state), want 4 1"
ok ctl n0 load "$(route_file r6 0000006 1 2 3 6)"
[ "$(state)" = "5 2" ] || die "state after a new route is $(state), want 5 2"
# a refused commit and a change to nothing are not commits
fails ctl n0 load "$(route_file r7 0000007 1 2 3)"
ok ctl n0 set "$R1/leaf1" 1
[ "$(state)" = "5 2" ] || die "state after commits of nothing is $(state), want 5 2"
ok ctl n0 delete "$R6"
[ "$(state)" = "4 3" ] || die "state after a delete is $(state), want 4 3"
# the provider answers reads of the whole operational datastore too; running holds no state
oper_get >"$T/all.json" || die "read of the whole operational datastore failed"
[ "$(json_get 'd["routes:routes-state"]["route-count"]' <"$T/all.json")" = 4 ] ||
    die "no routes-state in a read of everything: $(cat "$T/all.json")"
lacks "routes-state" "$(ctl n0 save)"
ex_stop op

[ "$(ctl n0 status | json_get 'd["locks"]')" = "[]" ] || die "locks left"
node_stop n0
clean_exit "$T/n0.out"
pass
