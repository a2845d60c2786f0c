#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A damaged newest snapshot (jnl.c recovery: "load the newest snapshot whose header and CRC are
# valid (from its LYB cache when valid)"; J5, J6):
# 1. JSON damaged, LYB cache valid: the cache is used (it has its own CRC): data intact.
# 2. JSON damaged, no cache, an older snapshot and its journal still there (a daemon killed
#    between the rename of the new snapshot and the removal of the old files): recovery falls
#    back to the older snapshot and replays both journals: data intact.
# 3. JSON damaged (payload or header), no cache, no older snapshot: the journal starts at T,
#    so the transactions up to T exist nowhere else: the start must be refused with a message
#    naming the files -- with or without records in journal-T. Starting with an empty (or
#    partial) database would silently lose every committed transaction (J6: a gap is
#    corruption).
. "$(dirname "$0")/crashlib.sh"

small_conf "$T/small.conf"
export NODE_CONF=$T/small.conf
routes_gen 60 >"$T/r60.xml"
name() {
    printf '%s-%020d.%s' "$1" "$2" "$3"
}

# base: compaction at txid 1 (60 routes), kept aside by hard links, then commits up to a
# compaction at T, then two more commits
node_up base
ok ctl base load "$T/r60.xml"
wait_compacted base
[ "$(status_of base snapshot_txid)" = 1 ] || die "no compaction at txid 1"
mkdir "$T/keep"
ln "$T/base/$(name snapshot 1 json)" "$T/base/$(name journal 1 log)" "$T/keep/"
for ((i = 1; i <= 40; i++)); do
    ok ctl base set "${RT}[id='0000001']/leaf1" $((100 + i))
    wait_compacted base
    [ "$(status_of base snapshot_txid)" -gt 1 ] && break
done
TS=$(status_of base snapshot_txid)
[ "$TS" -gt 1 ] || die "no second compaction"
[ -f "$T/base/$(name journal 1 log)" ] && die "journal 1 was not removed by compaction $TS"
state base "$T/s_empty" # the state at TS, nothing in journal-TS
node_down base
cp -a "$T/base" "$T/base_empty"
node_up base
ok ctl base set "${RT}[id='0000002']/leaf1" 4242
ok ctl base set "${RT}[id='0000003']/leaf1" 4343
state base "$T/s"
node_down base
[ "$(cat "$T/s.txid")" = $((TS + 2)) ] || die "txid $(cat "$T/s.txid"), snapshot $TS"
SJ=$(name snapshot "$TS" json)
SL=$(name snapshot "$TS" lyb)

fresh() {
    node_crash p
    rm -rf "$T/p"
    cp -a "$T/${1:-base}" "$T/p"
}

# 1. JSON damaged, cache valid
fresh
flip "$T/p/$SJ" 200
if node_spawn p; then
    state p "$T/cur"
    same_state "$T/cur" "$T/s" || bad "damaged JSON, valid cache: data differs: $(state_diff "$T/cur" "$T/s" "$T/s")"
    grep -q "(snapshot $TS from its cache" "$T/p.out" || bad "damaged JSON, valid cache: the cache is not used: $(grep -m 1 recovered "$T/p.out")"
    node_down p
else
    bad "damaged JSON, valid cache: the start is refused: $(why p)"
fi

# 2. JSON damaged, no cache, the older snapshot and its journal still there
fresh
ln "$T/keep/$(name snapshot 1 json)" "$T/keep/$(name journal 1 log)" "$T/p/"
flip "$T/p/$SJ" 200
rm "$T/p/$SL"
if node_spawn p; then
    state p "$T/cur"
    same_state "$T/cur" "$T/s" || bad "damaged JSON, older snapshot: data differs: $(state_diff "$T/cur" "$T/s" "$T/s")"
    grep -q "(snapshot 1, 2 journals" "$T/p.out" || bad "damaged JSON, older snapshot: not recovered from snapshot 1 and 2 journals: $(grep -m 1 recovered "$T/p.out")"
    node_down p
else
    bad "damaged JSON, older snapshot: the start is refused: $(why p)"
fi
echo "corrupt snapshot: damaged JSON with a valid LYB cache -> the cache; without it -> the older snapshot $((1)) and both journals: data intact"

# 3. the only snapshot damaged, no cache
N=0
refused() {
    local what=$1 base=$2 sum
    N=$((N + 1))
    sum=$(cd "$T/p" && md5sum -- journal-* snapshot-* 2>/dev/null)
    if node_spawn p; then
        bad "$what: the start is accepted with txid $(ctl p txid 2>&1) (committed: $(cat "$T/$base.txid")), $(ctl p save 2>&1 | grep -c '<route>') routes (committed: $(grep -c '<route>' "$T/$base")): $(grep -m 1 recovered "$T/p.out" | sed 's/.*(/(/')"
        node_crash p
        return
    fi
    grep -q -e "$SJ" -e "journal-" "$T/p.out" || bad "$what: the message names neither the snapshot nor the journal: $(why p)"
    MSG=$(grep -m 1 ERROR "$T/p.out" | sed 's/.*ERROR //')
    [ "$(cd "$T/p" && md5sum -- journal-* snapshot-* 2>/dev/null)" = "$sum" ] ||
        bad "$what: the refused start changed the journals or snapshots"
}
for b in base base_empty; do
    for off in 20 71 200; do
        fresh "$b"
        flip "$T/p/$SJ" "$off"
        rm "$T/p/$SL"
        if [ "$b" = base ]; then
            refused "only snapshot ($TS) damaged at byte $off, journal with 2 later commits" s
        else
            refused "only snapshot ($TS) damaged at byte $off, empty journal" s_empty
        fi
    done
done
fresh base_empty
truncate -s 40 "$T/p/$SJ"
rm "$T/p/$SL"
refused "only snapshot ($TS) truncated to 40 bytes, empty journal" s_empty
fresh base_empty
rm "$T/p/$SJ" "$T/p/$SL"
refused "only snapshot ($TS) deleted, empty journal" s_empty
echo "corrupt snapshot: $N cases of the only snapshot damaged or missing checked; e.g.: ${MSG:-none refused}"
check_bad "a damaged snapshot"
pass
