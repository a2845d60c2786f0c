#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The LYB cache of a snapshot is only a cache (jnl.c J7): a snapshot and a journal written by
# this build are read back from the durable form (JSON snapshot + journal records) when the
# cache is deleted, damaged, or written by another libyang version (what a libyang upgrade with
# an unchanged module set looks like); the start rebuilds the cache, says so in one log line,
# and the next start uses the cache again. The data is the same every time.
. "$(dirname "$0")/crashlib.sh"

small_conf "$T/small.conf"
export NODE_CONF=$T/small.conf
routes_gen 60 >"$T/r60.xml"

# a snapshot (compaction) and committed records after it in the new journal
node_up n
ok ctl n load "$T/r60.xml"
wait_compacted n
TS=$(status_of n snapshot_txid)
[ "$TS" -ge 1 ] || die "no snapshot"
ok ctl n set "${RT}[id='0000002']/leaf1" 4242
ok ctl n set "${RT}[id='0000003']/leaf1" 4343
wait_compacted n
TS=$(status_of n snapshot_txid)
state n "$T/s"
node_down n
LYB=$(printf 'snapshot-%020d.lyb' "$TS")
[ -f "$T/n/$LYB" ] || die "no LYB cache $LYB"
[ "$(cat "$T/s.txid")" -gt "$TS" ] || die "nothing in the journal after the snapshot"

# restart NAME WHY: start, check the data and that the cache was rebuilt because of WHY
restart_rebuilds() {
    local why=$1 lines
    lines=$(grep -c "LYB cache" "$T/n/chorusd.log")
    node_up n
    state n "$T/now"
    same_state "$T/s" "$T/now" || die "cache $why: the data differs: $(state_diff "$T/now" "$T/s" "$T/s")"
    node_down n
    [ "$(grep -c "LYB cache" "$T/n/chorusd.log")" = $((lines + 1)) ] ||
        die "cache $why: not one log line: $(grep "LYB cache" "$T/n/chorusd.log")"
    contains "the LYB cache of snapshot $TS was rebuilt from its JSON (the cache was $why" \
        "$(grep "LYB cache" "$T/n/chorusd.log" | tail -n 1)"
    [ -f "$T/n/$LYB" ] || die "cache $why: not written again"
    # the next start reads the rebuilt cache
    node_up n
    state n "$T/now"
    same_state "$T/s" "$T/now" || die "cache $why: the data differs after the rebuild"
    node_down n
    contains "(snapshot $TS from its cache" "$(grep 'recovered in' "$T/n/chorusd.log" | tail -n 1)"
    [ "$(grep -c "LYB cache" "$T/n/chorusd.log")" = $((lines + 1)) ] || die "cache $why: rebuilt twice"
}

# 1. the cache deleted
rm "$T/n/$LYB"
restart_rebuilds missing

# 2. the cache damaged (its payload: the header's CRC of the payload no longer matches)
flip "$T/n/$LYB" $(($(file_size "$T/n/$LYB") - 10))
restart_rebuilds damaged

# 3. the cache written by another libyang version (header rewritten with a valid CRC)
/usr/bin/python3 -S - "$T/n/$LYB" <<'PY'
import struct, sys, zlib
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[56:88] = b"9.9.9".ljust(32, b"\0")
d[124:128] = struct.pack(">I", zlib.crc32(bytes(d[0:124])) & 0xffffffff)
open(p, "wb").write(bytes(d))
PY
restart_rebuilds "written by libyang 9.9.9"

# 4. the cache truncated to less than its header
head -c 100 "$T/n/$LYB" >"$T/lyb.short" && mv "$T/lyb.short" "$T/n/$LYB"
restart_rebuilds damaged

# the next commit works and survives a restart
node_up n
ok ctl n set "${RT}[id='0000004']/leaf1" 4444
state n "$T/s2"
node_down n
node_up n
state n "$T/now"
same_state "$T/s2" "$T/now" || die "the last commit was lost"
node_down n
clean_exit "$T/n.out"
pass
