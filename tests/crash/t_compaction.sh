#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compaction (jnl.c J4, J5, recovery): with the smallest threshold (4096 bytes) commits trigger
# compactions: the daemon creates journal-<T>.log and forks a child that writes
# snapshot-<T>.json (tmp, fsync, rename, directory fsync) and its LYB cache. After several
# compactions only the newest journal and snapshot are left; a restart after kill -9 loads the
# snapshot from its LYB cache; without the cache, with a damaged or truncated cache and with a
# cache of another libyang version it loads the JSON snapshot, with identical data.
. "$(dirname "$0")/crashlib.sh"

small_conf "$T/small.conf"
export NODE_CONF=$T/small.conf

# ---- 1. several compactions, the LYB cache ----
node_up c0
for ((i = 1; i <= 40; i++)); do
    route_xml "$i" >"$T/r.xml"
    ok ctl c0 load "$T/r.xml"
done
wait_compacted c0
n=$(grep -c "compaction: snapshot written" "$T/c0.out")
[ "$n" -ge 3 ] || die "40 commits made $n compactions"
t=$(status_of c0 snapshot_txid)
[ "$t" -gt 30 ] || die "the newest snapshot is of txid $t"
[ "$(db_files c0)" = "$(only_newest "$t")" ] ||
    die "after $n compactions the directory holds: $(db_files c0)"
state c0 "$T/s1"
[ "$(cat "$T/s1.txid")" = 40 ] || die "txid $(cat "$T/s1.txid") after 40 commits"
# extend the journal past the snapshot: recovery = snapshot + journal
route_xml 41 >"$T/r.xml"
ok ctl c0 load "$T/r.xml"
state c0 "$T/s1"
node_crash c0
wait_unlocked "$T/c0"
lyb=$(printf 'snapshot-%020d.lyb' "$t")
cp "$T/c0/$lyb" "$T/lyb.orig"

recovered_from() {
    node_up c0
    state c0 "$T/cur"
    same_state "$T/cur" "$T/s1" || die "$1: recovered data differs: $(state_diff "$T/cur" "$T/s1" "$T/s1")"
    grep -m 1 "recovered" "$T/c0.out"
    node_down c0
}
out=$(recovered_from "LYB cache")
contains "(snapshot $t from its cache" "$out"
rm "$T/c0/$lyb"
out=$(recovered_from "no LYB cache")
contains "(snapshot $t," "$out"
cp "$T/lyb.orig" "$T/c0/$lyb"
printf '\x5a' | dd of="$T/c0/$lyb" bs=1 seek=300 conv=notrunc 2>/dev/null
out=$(recovered_from "damaged LYB cache")
contains "(snapshot $t," "$out"
cp "$T/lyb.orig" "$T/c0/$lyb"
/usr/bin/python3 -S - "$T/c0/$lyb" <<'EOF'
import struct, sys, zlib
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[56:88] = b"0.0.1".ljust(32, b"\0")  # another libyang: the header is valid, the version differs
struct.pack_into(">I", d, 124, zlib.crc32(bytes(d[:124])))
open(p, "wb").write(d)
EOF
out=$(recovered_from "LYB cache of another libyang")
contains "(snapshot $t," "$out"
truncate -s 100 "$T/c0/$lyb"
out=$(recovered_from "truncated LYB cache")
contains "(snapshot $t," "$out"
cp "$T/lyb.orig" "$T/c0/$lyb"
out=$(recovered_from "LYB cache restored")
contains "(snapshot $t from its cache" "$out"
echo "compaction: $n compactions in 40 commits; recovery from the LYB cache, and from the JSON snapshot without it, damaged, truncated and of another libyang: identical data"

pass
