#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Schema upgrade: a database written with model v1 (tests/integration/models/upgrade/v1) comes
# up under v2, which (a) adds a leaf with a default, (b) removes a leaf, (c) narrows a range so
# that stored values no longer fit, (d) adds a mandatory leaf that an application's transaction
# hook fills in the init transaction, (e) changes only the module's revision, (f) adds a must
# that stored data violates. Each case checks the data afterwards, the log lines, `status`,
# the refusal where the data does not fit (foreground and detached, naming the paths), and that
# a refused start loses nothing: a restart with v1 gives the original data back.
. "$(dirname "$0")/../lib.sh"

UPG="$CHORUS_SRC/tests/integration/models/upgrade"
HOOK_APP="${CHORUS_BUILD:-}/tests/upgrade_hook"
NODE_CONF=$(conf_file upg)

cat >"$T/v1.xml" <<'EOF'
<sys xmlns="urn:chorus:test:upgrade">
  <name>n1</name>
  <old-leaf>kept until v2b</old-leaf>
  <item><id>i1</id><size>50</size><label>a</label></item>
  <item><id>i2</id><size>500</size><label>bb</label></item>
  <item><id>i3</id><size>900</size><label>long</label></item>
</sys>
EOF

# v1_node NAME: node NAME's database holds v1.xml under model v1 (txid 1); its state (txid and
# saved configuration) is in $T/NAME.ref, the v1 module-set digest in $T/NAME.digest
v1_node() {
    LOADPATH="$UPG/v1" node_start "$1"
    ok ctl "$1" load "$T/v1.xml"
    snap "$1" >"$T/$1.ref" || die "snapshot"
    ctl "$1" status | json_get 'd["module_set_digest"]' >"$T/$1.digest"
    node_stop "$1"
}

# start_with NAME VERSION [chorusd options...]: start node NAME with model VERSION
start_with() {
    local name=$1 v=$2
    shift 2
    LOADPATH="$UPG/$v" node_start "$name" "$@"
}

# refused NAME VERSION OUT [chorusd options...]: a start of NAME's database with VERSION is
# refused, foreground and detached; the messages are in OUT.fg and OUT.bg
refused() {
    local name=$1 v=$2 out=$3 mode
    shift 3
    for mode in fg bg; do
        chorusd_once "$mode" "$out.$mode" -c "$NODE_CONF" --addloadpath "$UPG/$v" \
            --dbdir "$T/$name" "$@"
        [ "$RC" -ne 0 ] || die "$name: started with $v: $(cat "$out.$mode")"
        clean_exit "$out.$mode"
    done
}

# back_to_v1 NAME: a restart with v1 finds the original data, unchanged
back_to_v1() {
    start_with "$1" v1
    unchanged "$1" "$T/$1.ref"
    node_stop "$1"
}

log_of() {
    cat "$T/$1/chorusd.log"
}

status_get() {
    ctl "$1" status | json_get "$2"
}

# ---- (a) a leaf with a default added ----
v1_node a
start_with a v2a
[ "$(ctl a get /chorus-upg:sys/mtu)" = 1500 ] || die "(a) the new default does not apply"
[ "$(ctl a get /chorus-upg:sys/item\[id=\'i2\'\]/size)" = 500 ] || die "(a) data lost"
[ "$(ctl a txid)" = 2 ] || die "(a) the upgrade is not transaction 2: $(ctl a txid)"
ctl a save >"$T/a.now"
[ "$(tail -n +2 "$T/a.ref")" = "$(cat "$T/a.now")" ] || die "(a) the data changed: $(cat "$T/a.now")"
contains "schema upgrade: the database was written with module set $(cut -c1-12 "$T/a.digest")" \
    "$(log_of a)"
contains "chorus-upg: revision 2026-12-01 -> 2026-12-02" "$(log_of a)"
contains "schema upgrade committed" "$(log_of a)"
contains "commit: 0 changes (init transaction, schema upgrade)" "$(log_of a)"
lacks "dropped /" "$(log_of a)"
# status: the module set (the module's digest is the SHA-256 of its file) and the last upgrade
st=$(ctl a status)
want=$(sha256sum "$UPG/v2a/chorus-upg.yang" | cut -d' ' -f1)
[ "$(echo "$st" | json_get '[(m["revision"], m["digest"]) for m in d["modules"] if m["name"] == "chorus-upg"]')" = "[('2026-12-02', '$want')]" ] ||
    die "(a) status modules: $st"
[ "$(echo "$st" | json_get 'len(d["module_set_digest"]) == 64 and d["module_set_digest"] != open("'"$T/a.digest"'").read().strip()')" = True ] ||
    die "(a) module_set_digest: $st"
[ "$(echo "$st" | json_get '(d["last_upgrade"]["from"], d["last_upgrade"]["to"] == d["module_set_digest"], d["last_upgrade"]["txid"], d["last_upgrade"]["dropped"], d["last_upgrade"]["dropped_invalid"], d["last_upgrade"]["from_modules"].startswith("chorus-upg@2026-12-01"))')" = "('$(cat "$T/a.digest")', True, 2, 0, 0, True)" ] ||
    die "(a) status last_upgrade: $st"
node_stop a
# the same modules again: no upgrade, the record stays
start_with a v2a
[ "$(grep -c 'schema upgrade committed' "$T/a/chorusd.log")" = 1 ] || die "(a) upgraded twice"
[ "$(ctl a txid)" = 2 ] || die "(a) txid after a plain restart"
[ "$(status_get a 'd["last_upgrade"]["txid"]')" = 2 ] || die "(a) the last upgrade is forgotten"
# the upgrade wrote a snapshot with its LYB cache (a tree holding a default), read back now
contains "(snapshot 2 from its cache" "$(grep 'recovered in' "$T/a/chorusd.log" | tail -n 1)"
node_stop a
# back to v1 (a downgrade is an upgrade too): the default was never stored, nothing dropped
start_with a v1
ctl a save >"$T/a.now"
[ "$(tail -n +2 "$T/a.ref")" = "$(cat "$T/a.now")" ] || die "(a) v1 again: $(cat "$T/a.now")"
[ "$(ctl a txid)" = 3 ] || die "(a) the downgrade is not transaction 3"
node_stop a
ls "$T/a/schema" >"$T/a.sets"
[ "$(wc -l <"$T/a.sets")" = 1 ] || die "(a) old module sets are kept: $(cat "$T/a.sets")"

# ---- (b) a leaf removed ----
v1_node b
start_with b v2b
contains "schema upgrade: dropped /chorus-upg:sys/old-leaf: its schema node is gone" "$(log_of b)"
lacks "old-leaf" "$(ctl b save)"
[ "$(ctl b get /chorus-upg:sys/name)" = n1 ] || die "(b) data lost"
[ "$(status_get b '(d["last_upgrade"]["dropped"], d["last_upgrade"]["dropped_invalid"])')" = "(1, 0)" ] ||
    die "(b) status: $(ctl b status)"
node_stop b

# ---- (c) a range narrowed: refused, nothing lost; accepted with --upgrade-drop-invalid ----
v1_node c
refused c v2c "$T/c"
for mode in fg bg; do
    out=$(cat "$T/c.$mode")
    contains "schema upgrade refused: 2 stored values no longer fit the new models" "$out"
    contains "--upgrade-drop-invalid" "$out"
    contains "/chorus-upg:sys/item[id='i2']/size: value \"500\" no longer fits" "$out"
    contains "/chorus-upg:sys/item[id='i3']/size: value \"900\" no longer fits" "$out"
    lacks "id='i1'" "$out"
done
contains "ERROR schema upgrade: /chorus-upg:sys/item[id='i2']/size: value \"500\" no longer fits" \
    "$(log_of c)"
back_to_v1 c
start_with c v2c --upgrade-drop-invalid
contains "schema upgrade: dropped /chorus-upg:sys/item[id='i2']/size: value \"500\" no longer fits" \
    "$(log_of c)"
contains "schema upgrade: dropped /chorus-upg:sys/item[id='i3']/size" "$(log_of c)"
[ "$(ctl c get /chorus-upg:sys/item\[id=\'i1\'\]/size)" = 50 ] || die "(c) a fitting value lost"
fails ctl c get /chorus-upg:sys/item\[id=\'i2\'\]/size
[ "$(ctl c get /chorus-upg:sys/item\[id=\'i2\'\]/label)" = bb ] || die "(c) the entry was dropped"
[ "$(status_get c '(d["last_upgrade"]["dropped"], d["last_upgrade"]["dropped_invalid"])')" = "(0, 2)" ] ||
    die "(c) status: $(ctl c status)"
node_stop c

# ---- (d) a mandatory leaf added, filled by an application's transaction hook ----
[ -x "$HOOK_APP" ] || die "$HOOK_APP is not built"
v1_node d
# without the application: refused, naming the path
refused d v2d "$T/d"
contains "schema upgrade refused: /chorus-upg:sys/item[id='i1']: Mandatory node \"weight\"" \
    "$(cat "$T/d.fg")"
# an application that registers in phase 0 but migrates nothing: phase 1 is refused, the
# daemon stays in phase 0 with the data intact
start_with d v2d --start-phase0
timeout 120 "$HOOK_APP" "$d_PORT" fail >"$T/d.app" 2>&1 &
app=$!
for i in $(seq 1 200); do
    grep -q ready "$T/d.app" && break
    sleep 0.05
done
expect_rc 1 ctl d start-phase 1
contains "Mandatory node \"weight\"" "$(last_out)"
contains "/chorus-upg:sys/item[id='i1']" "$(last_out)"
wait "$app" || die "(d) the application failed: $(cat "$T/d.app")"
contains "HOOK flags=0x14" "$(cat "$T/d.app")"
[ "$(ctl d status | json_get 'd["phase"]')" = 0 ] || die "(d) left phase 0 after a refusal"
contains "start phase 1 refused: the schema upgrade does not commit" "$(log_of d)"
node_stop d
back_to_v1 d
# the application fills weight from size in the init transaction's HOOK event
start_with d v2d --start-phase0
timeout 120 "$HOOK_APP" "$d_PORT" >"$T/d.app" 2>&1 &
app=$!
for i in $(seq 1 200); do
    grep -q ready "$T/d.app" && break
    sleep 0.05
done
grep -q ready "$T/d.app" || die "(d) the application did not register: $(cat "$T/d.app")"
ok ctl d start-phase 1
wait "$app" || die "(d) the application failed: $(cat "$T/d.app")"
# HOOK, PREPARE and COMMIT of the init transaction, flagged INIT (0x4) | UPGRADE (0x10)
contains "HOOK flags=0x14" "$(cat "$T/d.app")"
contains "PREPARE flags=0x14 txid=2" "$(cat "$T/d.app")"
contains "COMMIT flags=0x14 txid=2" "$(cat "$T/d.app")"
ok ctl d start-phase 2
for w in "i1 100" "i2 1000" "i3 1800"; do
    set -- $w
    [ "$(ctl d get "/chorus-upg:sys/item[id='$1']/weight")" = "$2" ] ||
        die "(d) weight of $1: $(ctl d save)"
done
contains "commit: 3 changes (init transaction, schema upgrade)" "$(log_of d)"
node_stop d
# durable: a restart with v2d (no application) finds the migrated data
start_with d v2d
[ "$(ctl d get "/chorus-upg:sys/item[id='i3']/weight")" = 1800 ] || die "(d) not durable"
[ "$(ctl d txid)" = 2 ] || die "(d) txid after restart"
node_stop d

# ---- (e) only the revision changes ----
v1_node e
start_with e v2e
ctl e save >"$T/e.now"
[ "$(tail -n +2 "$T/e.ref")" = "$(cat "$T/e.now")" ] || die "(e) the data changed"
contains "chorus-upg: revision 2026-12-01 -> 2026-12-02" "$(log_of e)"
lacks "dropped /" "$(log_of e)"
[ "$(status_get e '[m["revision"] for m in d["modules"] if m["name"] == "chorus-upg"]')" = "['2026-12-02']" ] ||
    die "(e) status: $(ctl e status)"
node_stop e

# ---- (f) a must that stored data violates: refused with the path and the reason ----
v1_node f
refused f v2f "$T/f"
for mode in fg bg; do
    contains "schema upgrade refused: /chorus-upg:sys/item[id='i3']: a label has at most 3 characters" \
        "$(cat "$T/f.$mode")"
done
back_to_v1 f

# ---- a database whose module files are not kept cannot be upgraded, and is not damaged ----
v1_node g
rm -rf "$T/g/schema"
refused g v2a "$T/g"
contains "was written with a different module set" "$(cat "$T/g.fg")"
contains "chorus-upg@2026-12-01" "$(cat "$T/g.fg")"
contains "the module files of that set are not kept" "$(cat "$T/g.fg")"
back_to_v1 g
[ -f "$T/g/schema/$(cat "$T/g.digest")/MODULES" ] || die "the module set is not stored again"

for n in a b c d e f g; do
    clean_exit "$T/$n.out"
done
pass
