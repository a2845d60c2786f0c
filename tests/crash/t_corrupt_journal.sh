#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Corruption that is not a torn tail (jnl.c J2a): one flipped byte inside a committed record in
# the middle of the journal -- in a payload, a length, a CRC, a type, a completion mark, the
# module-set record -- or in the header of a journal holding committed records must refuse the
# start with a message naming the file, and must leave the file as it was (a refused start cuts
# nothing). With the byte restored the database starts with all its data. Also shown, not
# asserted: what a damaged record at the very end does (J2a treats it as a torn tail).
. "$(dirname "$0")/crashlib.sh"

J=journal-00000000000000000000.log

# base: 7 transactions
node_up base
routes_gen 10 >"$T/r10.xml"
ok ctl base load "$T/r10.xml"
for i in 1 2 3 4 5 6; do
    ok ctl base set "${RT}[id='000000$i']/leaf1" $((7000 + i))
done
state base "$T/s"
node_down base
jnl_records "$T/base/$J" >"$T/records"
# OFFSET TYPE LENGTH TXID of the record of type TYPE and txid TXID
rec() {
    awk -v t="$1" -v x="$2" '$2 == t && $4 == x { print $1; exit }' "$T/records"
}
[ "$(grep -c ' 1 ' "$T/records")" = 7 ] || die "expected 7 TXN records: $(cat "$T/records")"

fresh() {
    node_crash p
    rm -rf "$T/p"
    cp -a "$T/base" "$T/p"
}

N=0
# corrupt WHAT OFFSET: flip the byte at OFFSET of the journal; the start must be refused
corrupt() {
    local what=$1 off=$2 sum
    N=$((N + 1))
    fresh
    flip "$T/p/$J" "$off"
    sum=$(md5sum <"$T/p/$J")
    if node_spawn p; then
        bad "$what (offset $off): the start is accepted with txid $(ctl p txid 2>&1) (7 committed) and the journal is now $(file_size "$T/p/$J") bytes ($(file_size "$T/base/$J") before): $(grep -m 1 recovered "$T/p.out" | sed 's/.*(/(/')"
        node_crash p
        return
    else
        [ "$p_STATUS" != 0 ] || bad "$what: refused with exit status 0"
        grep -q "$T/p/$J" "$T/p.out" || bad "$what: the message does not name the journal: $(why p)"
        MSG=$(grep -m 1 ERROR "$T/p.out" | sed 's/.*ERROR //')
    fi
    [ "$(md5sum <"$T/p/$J")" = "$sum" ] || bad "$what: the start changed the journal (now $(file_size "$T/p/$J") bytes)"
    # restored, the database is whole (under the sanitizers: every third case)
    is_asan && [ $((N % 3)) != 1 ] && return
    flip "$T/p/$J" "$off"
    if node_spawn p; then
        state p "$T/cur"
        same_state "$T/cur" "$T/s" || bad "$what: after restoring the byte the data differs: $(state_diff "$T/cur" "$T/s" "$T/s")"
        node_down p
    else
        bad "$what: after restoring the byte the start is refused: $(why p)"
    fi
}

t3=$(rec 1 3)
c2=$(rec 2 2)
t5=$(rec 1 5)
c6=$(rec 2 6)
ms=$(rec 4 0)
corrupt "payload of TXN 3" $((t3 + 20 + 10))
corrupt "length of TXN 3" "$t3"
corrupt "length of TXN 3, low byte" $((t3 + 3))
corrupt "type of TXN 3" $((t3 + 4))
corrupt "txid of TXN 3" $((t3 + 15))
corrupt "CRC of TXN 3" $((t3 + 17))
corrupt "COMMIT mark of txn 2" $((c2 + 21))
corrupt "header of the COMMIT mark of txn 6" $((c2 + 2))
corrupt "payload of TXN 5" $((t5 + 20 + 40))
corrupt "COMMIT mark of txn 6" $((c6 + 20))
corrupt "module-set record" $((ms + 30))
echo "corrupt journal: $N single-byte corruptions inside committed records refused, the file untouched; e.g.: $MSG"

# the journal header: damaged while committed records follow it
M=0
for off in 0 9 20 30 61; do
    M=$((M + 1))
    corrupt "journal header byte $off" "$off"
done
echo "corrupt journal: $M damaged headers of a journal with 7 committed transactions checked"

# shown, not asserted: the last committed record damaged
fresh
t7=$(rec 1 7)
flip "$T/p/$J" $((t7 + 30))
if node_spawn p; then
    echo "corrupt journal: a damaged last TXN record (its COMMIT mark intact) is taken for a torn tail (J2a): the start succeeds with txid $(ctl p txid), $(grep -m 1 recovered "$T/p.out" | sed 's/.*(/(/')"
    node_down p
else
    echo "corrupt journal: a damaged last TXN record refuses the start: $(grep -m 1 ERROR "$T/p.out" | sed 's/.*ERROR //')"
fi
check_bad "corruption accepted"
pass
