#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two daemons on one database directory (jnl.c: LOCK is flock()ed by the chorusd that owns the
# directory and holds its pid): a second chorusd -- in the foreground or detaching -- is
# refused with a message naming the directory and the pid of the first, before it touches any
# file of the database; the first keeps working; once the first is stopped, or killed with
# SIGKILL (the lock dies with it; the stale pid in LOCK does not matter), the directory opens.
. "$(dirname "$0")/crashlib.sh"

node_up n0
routes_gen 20 >"$T/r20.xml"
ok ctl n0 load "$T/r20.xml"
# a leftover of an interrupted compaction, and the journal as it is: the refused daemon must
# leave both alone (start-up deletes *.tmp only after taking the lock)
echo leftover >"$T/n0/snapshot-00000000000000000099.json.tmp"
sum=$(cat "$T/n0"/journal-*.log | md5sum)
port2=$(free_port)
first=$n0_PID

second() {
    "$CHORUSD" -c "$CONF" --addloadpath "$ROUTES_DIR" --dbdir "$T/n0" --ipc-port "$port2" "$@" \
        >"$T/second.out" 2>&1 </dev/null &
    local pid=$! i
    PIDS+=("$pid")
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        die "a second chorusd ($*) on the directory of node n0 is still running after 10 s"
    fi
    wait "$pid"
}

for mode in --foreground detached; do
    if [ "$mode" = detached ]; then second; else second --foreground; fi
    st=$?
    [ "$st" != 0 ] || die "a second chorusd ($mode) on the same directory exits with 0: $(cat "$T/second.out")"
    msg=$(cat "$T/second.out")
    contains "is in use by another chorusd (pid $n0_PID" "$msg"
    contains "$T/n0" "$msg"
    (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null && die "the refused chorusd ($mode) opened its port"
    [ -f "$T/n0/snapshot-00000000000000000099.json.tmp" ] || die "the refused chorusd ($mode) deleted the .tmp file of the running one"
    [ "$(cat "$T/n0"/journal-*.log | md5sum)" = "$sum" ] || die "the refused chorusd ($mode) changed the journal"
    case $msg in
    *"(pid $n0_PID)"*) ;;
    *) echo "dblock: note: the pid is not followed by ')' on the same line: $(printf '%s' "$msg" | grep -m 1 -A 1 'in use' | tr '\n' '|')" ;;
    esac
    echo "dblock: second chorusd ($mode) refused, exit $st: $(grep -m 1 'in use' "$T/second.out" | sed 's/.*chorusd: //; s/.*ERROR //')"
done

# the first one is unaffected
route_xml 500 >"$T/r500.xml"
ok ctl n0 load "$T/r500.xml"
state n0 "$T/s"
[ "$(cat "$T/s.txid")" = 2 ] || die "node n0: txid $(cat "$T/s.txid") after two commits"

# after a clean stop the directory opens; after kill -9 too (LOCK still names the dead pid)
node_down n0
node_up n0
state n0 "$T/cur"
same_state "$T/cur" "$T/s" || die "after the stop: $(state_diff "$T/cur" "$T/s" "$T/s")"
[ -f "$T/n0/snapshot-00000000000000000099.json.tmp" ] && die "start-up did not delete the stale .tmp file"
old=$n0_PID
node_crash n0
[ "$(tr -d '\n' <"$T/n0/LOCK")" = "$old" ] || die "LOCK does not hold the pid of the killed daemon: $(cat "$T/n0/LOCK")"
node_up n0
state n0 "$T/cur"
same_state "$T/cur" "$T/s" || die "after kill -9: $(state_diff "$T/cur" "$T/s" "$T/s")"
[ "$(tr -d '\n' <"$T/n0/LOCK")" = "$n0_PID" ] || die "LOCK does not hold the new pid: $(cat "$T/n0/LOCK")"
node_down n0
echo "dblock: 2 second daemons (foreground, detached) refused naming pid $first, files untouched; the directory opens after a stop and after kill -9"
pass
