#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A database written with one module set and opened with another is upgraded (upg.h): a
# restart with an additional module in the load path (--addloadpath models/extra) keeps the
# data and logs the added module; a restart with the original load path (a downgrade: the
# module is removed) finds the data intact. A database whose module files are not kept (written
# before schema upgrades) cannot be upgraded: that start is refused, foreground and detached,
# with a message naming both module sets, and a restart with the original load path finds the
# data intact. The same with a snapshot (after compaction) instead of a journal.
. "$(dirname "$0")/../lib.sh"

EXTRA="$CHORUS_SRC/tests/integration/models/extra"

# refused_with_extra NAME: without its stored module set, a start of node NAME's database with
# the extra module is refused
refused_with_extra() {
    local name=$1 mode out
    rm -rf "$T/$name/schema"
    for mode in fg bg; do
        out="$T/$name-extra.$mode"
        chorusd_once "$mode" "$out" -c "${NODE_CONF:-$CONF}" --addloadpath "$ROUTES_DIR" \
            --addloadpath "$EXTRA" --dbdir "$T/$name"
        [ "$RC" -ne 0 ] || die "$name ($mode): started with another module set"
        contains "different module set" "$(cat "$out")"
        contains "$T/$name/" "$(cat "$out")"
        contains "routes@2026-11-23" "$(cat "$out")"
        contains "chorus-test-extra@2026-11-24" "$(cat "$out")"
        contains "the module files of that set are not kept" "$(cat "$out")"
        clean_exit "$out"
    done
}

# upgraded_with_extra NAME: node NAME's database is upgraded to the extra module and back, the
# configuration intact both ways (each upgrade is one transaction)
upgraded_with_extra() {
    local name=$1 txid
    txid=$(head -n 1 "$T/$name.ref")
    node_start "$name" --addloadpath "$EXTRA"
    [ "$(ctl "$name" txid)" = $((txid + 1)) ] || die "$name: the upgrade is not one transaction"
    [ "$(ctl "$name" save)" = "$(tail -n +2 "$T/$name.ref")" ] || die "$name: data changed (extra)"
    contains "chorus-test-extra@2026-11-24: added" "$(cat "$T/$name/chorusd.log")"
    node_stop "$name"
    node_start "$name"
    [ "$(ctl "$name" txid)" = $((txid + 2)) ] || die "$name: the downgrade is not one transaction"
    [ "$(ctl "$name" save)" = "$(tail -n +2 "$T/$name.ref")" ] || die "$name: data changed"
    contains "chorus-test-extra@2026-11-24: removed" "$(cat "$T/$name/chorusd.log")"
    node_stop "$name"
}

# ---- a journal ----
node_start n0
routes_xml 50 >"$T/r50.xml"
ok ctl n0 load "$T/r50.xml"
ok ctl n0 set "/routes:active-cfg/routes/route[id='0000007']/leaf1" 4242
snap n0 >"$T/n0.ref" || die "snapshot"
node_stop n0
refused_with_extra n0
node_start n0
unchanged n0 "$T/n0.ref"
node_stop n0
upgraded_with_extra n0

# ---- a snapshot: a small compaction threshold makes the daemon write one ----
NODE_CONF=$(conf_file small "<database><dir>db</dir><compact-threshold>4096</compact-threshold></database>")
node_start n1
ok ctl n1 load "$T/r50.xml"
for i in 1 2 3; do
    ok ctl n1 set "/routes:active-cfg/routes/route[id='0000007']/leaf2" "$i"
done
for i in $(seq 1 100); do
    st=$(ctl n1 status)
    [ "$(echo "$st" | json_get 'd["journal"]["snapshot_txid"] > 0 and not d["journal"]["compacting"]')" = True ] && break
    sleep 0.1
done
[ "$(echo "$st" | json_get 'd["journal"]["snapshot_txid"]')" -gt 0 ] || die "no snapshot: $st"
snap n1 >"$T/n1.ref" || die "snapshot"
node_stop n1
refused_with_extra n1
node_start n1
unchanged n1 "$T/n1.ref"
node_stop n1
upgraded_with_extra n1
clean_exit "$T/n0.out"
clean_exit "$T/n1.out"
pass
