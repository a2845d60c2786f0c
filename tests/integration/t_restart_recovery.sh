#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Commit sequences that re-create what an earlier commit deleted, each followed by a clean
# restart and by a kill -9: the node comes back with exactly the committed data and
# transaction id (the journal replays what the daemon committed).
. "$(dirname "$0")/../lib.sh"

R="/routes:active-cfg/routes/route"
routes_xml 5 >"$T/r5.xml"
routes_xml 3 --start 3 --seed 2 >"$T/r3.xml"

# survives NAME: a clean restart and a kill -9 keep node NAME's data and txid
survives() {
    local name=$1
    snap "$name" >"$T/$name.ref" || die "snapshot"
    node_stop "$name"
    node_start "$name"
    unchanged "$name" "$T/$name.ref"
    node_kill "$name"
    node_start "$name"
    unchanged "$name" "$T/$name.ref"
}

# each sequence SEQ NODE runs on a node of its own
seq_top_container() {
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" delete /routes:active-cfg
    ok ctl "$1" load "$T/r5.xml"
}
seq_list_parent() {
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" delete /routes:active-cfg/routes
    ok ctl "$1" load "$T/r3.xml"
}
seq_entry() {
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" delete "$R[id='0000002']"
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" load -r "$T/r3.xml"
}
seq_rollback_of_delete() {
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" delete /routes:active-cfg
    ok ctl "$1" rollback apply 0
}
seq_everything_deleted() {
    ok ctl "$1" load "$T/r5.xml"
    ok ctl "$1" delete /routes:active-cfg
}
# the sequences that re-create a top-level container come last: the others tell more if
# those fail
n=0
for s in seq_entry seq_list_parent seq_everything_deleted seq_rollback_of_delete \
    seq_top_container; do
    n=$((n + 1))
    echo "-- $s"
    node_start "s$n"
    "$s" "s$n"
    survives "s$n"
    node_stop "s$n"
    clean_exit "$T/s$n.out"
done
pass
