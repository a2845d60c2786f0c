#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Torn tails (jnl.c J1, J2, J2a, recovery): whatever an interrupted append can leave at the end
# of the journal -- garbage, zeros, a record cut in its header or payload, a record without
# its completion mark, a mark cut short -- is cut at start-up: the start succeeds, the
# committed data and txid are intact, the file is back to its committed size, the log counts
# the bytes cut, and new commits work and survive kill -9. A journal whose header is torn
# (it was being created: nothing was ever committed in it) is replaced.
. "$(dirname "$0")/crashlib.sh"

J=journal-00000000000000000000.log

# base: 30 routes and four changes (txids 1..5)
node_up base
routes_gen 30 >"$T/r30.xml"
ok ctl base load "$T/r30.xml"
for i in 1 2 3 4; do
    ok ctl base set "${RT}[id='000000$i']/leaf2" $((9000 + i))
done
state base "$T/s"
node_down base
L=$(file_size "$T/base/$J")
# the bytes of one more commit (TXN + COMMIT written in one append), to tear them
cp -a "$T/base" "$T/x"
node_up x
route_xml 77 >"$T/r77.xml"
ok ctl x load "$T/r77.xml"
node_down x
tail -c +$((L + 1)) "$T/x/$J" >"$T/extra"
E=$(file_size "$T/extra")
[ "$E" -gt 100 ] || die "the extra commit has $E bytes"

fresh() {
    node_crash p
    rm -rf "$T/p"
    cp -a "$T/base" "$T/p"
}

SEQ=0
# check_tail WHAT: the journal of p has a tail of $((size - L)) bytes to be cut
check_tail() {
    local what=$1 cut v
    SEQ=$((SEQ + 1))
    cut=$(($(file_size "$T/p/$J") - L))
    if ! node_spawn p; then
        bad "$what: the start is refused: $(why p)"
        return
    fi
    state p "$T/cur"
    same_state "$T/cur" "$T/s" || bad "$what: committed data changed: $(state_diff "$T/cur" "$T/s" "$T/s")"
    [ "$(file_size "$T/p/$J")" = "$L" ] || bad "$what: the journal is $(file_size "$T/p/$J") bytes, not cut to $L"
    grep -q " $cut bytes of torn tail cut" "$T/p.out" ||
        bad "$what: the log does not count $cut bytes cut: $(grep -m 1 recovered "$T/p.out")"
    v=$((600000 + SEQ))
    if ! ctl p set "${RT}[id='0000005']/leaf3" "$v" >"$T/last.out" 2>&1; then
        bad "$what: the commit after recovery fails: $(cat "$T/last.out")"
        node_crash p
        return
    fi
    [ "$(ctl p txid)" = 6 ] || bad "$what: the commit after recovery is not txid 6"
    node_crash p
    if ! node_spawn p; then
        bad "$what: the restart after a further commit is refused: $(why p)"
        return
    fi
    [ "$(ctl p get "${RT}[id='0000005']/leaf3" 2>&1)" = "$v" ] && [ "$(ctl p txid)" = 6 ] ||
        bad "$what: the commit after recovery is lost by kill -9"
    node_down p
    N=$((N + 1))
}

N=0
fresh
head -c 100 /dev/urandom >>"$T/p/$J"
check_tail "100 random bytes"
fresh
head -c 4096 /dev/zero >>"$T/p/$J"
check_tail "4096 zero bytes"
fresh
printf 'garbage that is not a record\n' >>"$T/p/$J"
check_tail "text"
for cut in 7 20 25 $((E / 2)) $((E - 25)) $((E - 24)) $((E - 10)) $((E - 1)); do
    fresh
    head -c "$cut" "$T/extra" >>"$T/p/$J"
    check_tail "the next commit's append ($E bytes) torn after $cut bytes"
done
# a complete commit followed by garbage: the commit stays, the garbage goes
fresh
cat "$T/extra" >>"$T/p/$J"
head -c 33 /dev/urandom >>"$T/p/$J"
if node_spawn p; then
    [ "$(ctl p txid)" = 6 ] && [ "$(ctl p get "${RT}[id='0000077']/leaf1")" = 539 ] ||
        bad "a complete commit before a torn tail is lost: txid $(ctl p txid 2>&1), route 77: $(ctl p get "${RT}[id='0000077']/leaf1" 2>&1)"
    [ "$(file_size "$T/p/$J")" = $((L + E)) ] || bad "a complete commit before a torn tail: the journal is not cut to $((L + E))"
    node_down p
else
    bad "a complete commit before a torn tail: the start is refused: $(why p)"
fi
echo "torn tail: $N torn tails (garbage, zeros, the next append cut at 8 places) cut to the committed size with the data intact; new commits durable"

# torn headers: a journal that was being created
# (1) the first journal of a new database
node_crash p
rm -rf "$T/p"
node_up p
node_down p
truncate -s 30 "$T/p/$J"
if node_spawn p; then
    [ "$(ctl p txid)" = 0 ] || bad "torn header of a new database: txid $(ctl p txid)"
    [ "$(file_size "$T/p/$J")" -gt 64 ] || bad "torn header of a new database: the journal is not replaced"
    ok ctl p load "$T/r77.xml"
    node_crash p
    node_spawn p || die "torn header of a new database: the restart after a commit is refused: $(why p)"
    [ "$(ctl p txid)" = 1 ] && [ "$(ctl p get "${RT}[id='0000077']/leaf1")" = 539 ] ||
        bad "torn header of a new database: the commit after recovery is lost"
    node_down p
else
    bad "torn header of a new database: the start is refused: $(why p)"
fi
# (2) the journal a compaction created, the snapshot written
small_conf "$T/small.conf"
node_crash p
rm -rf "$T/p"
NODE_CONF=$T/small.conf node_up p
routes_gen 60 >"$T/r60.xml"
ok ctl p load "$T/r60.xml" # > 4096 bytes: compaction at txid 1
wait_compacted p
[ "$(status_of p snapshot_txid)" = 1 ] || die "no compaction after 30 routes"
state p "$T/s2"
node_down p
J1=journal-00000000000000000001.log
[ -f "$T/p/$J1" ] || die "no $J1"
truncate -s 50 "$T/p/$J1"
if NODE_CONF=$T/small.conf node_spawn p; then
    state p "$T/cur"
    same_state "$T/cur" "$T/s2" || bad "torn header after compaction: data changed: $(state_diff "$T/cur" "$T/s2" "$T/s2")"
    ok ctl p load "$T/r77.xml"
    node_crash p
    if NODE_CONF=$T/small.conf node_spawn p; then
        [ "$(ctl p txid)" = 2 ] && [ "$(ctl p get "${RT}[id='0000077']/leaf1")" = 539 ] ||
            bad "torn header after compaction: the commit after recovery is lost"
        node_down p
    else
        bad "torn header after compaction: the restart after a commit is refused: $(why p)"
    fi
else
    bad "torn header after compaction: the start is refused: $(why p)"
fi
echo "torn tail: torn journal headers (new database; new journal of a compaction) replaced, data intact, new commits durable"
check_bad "torn tails"
pass
