#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Damaged rollback files (rb.h: written after the commit without fsync; "at start-up a missing
# or damaged file of a replayed transaction is written again"): a rollback file with a flipped
# byte, one truncated and one deleted are not offered by `rollback list`; a restart (kill -9
# or clean) that replays their transactions from the journal writes them again, and they
# undo exactly their transaction.
. "$(dirname "$0")/crashlib.sh"

rbfile() {
    printf '%s/n0/rollback/rollback-%020d.crb' "$T" "$1"
}
listed() {
    ctl n0 rollback list | awk 'NR > 1 { printf "%s ", $2 }'
}

node_up n0
routes_gen 10 >"$T/r10.xml"
ok ctl n0 load "$T/r10.xml" # txid 1
for i in 2 3 4 5 6; do
    ok ctl n0 set "${RT}[id='000000$i']/leaf2" $((5000 + i)) # txid i
done
[ "$(listed)" = "6 5 4 3 2 1 " ] || die "rollback list: $(listed)"

flip "$(rbfile 4)" 50
truncate -s 10 "$(rbfile 2)"
rm "$(rbfile 3)"
[ "$(listed)" = "6 5 1 " ] || bad "damaged rollback files are listed: $(listed) (want 6 5 1)"

node_crash n0
node_up n0
[ "$(ctl n0 txid)" = 6 ] || bad "txid after kill -9: $(ctl n0 txid)"
[ "$(listed)" = "6 5 4 3 2 1 " ] || bad "after kill -9 and the replay, rollback list is $(listed) (want 6 5 4 3 2 1)"
flip "$(rbfile 5)" 45
node_down n0
node_up n0
[ "$(listed)" = "6 5 4 3 2 1 " ] || bad "after a clean restart that restores the file of txid 5, rollback list is $(listed) (want 6 5 4 3 2 1)"
# a restart without damage: the list as read from the directory
node_down n0
node_up n0
[ "$(listed)" = "6 5 4 3 2 1 " ] || bad "the rewritten rollback files are not all there: $(listed)"

# the restored files undo their transaction: selective rollback of 4 (index 2)
ok ctl n0 rollback apply -s 2
[ "$(ctl n0 get "${RT}[id='0000004']/leaf2")" = 29 ] || bad "selective rollback of the restored file of txid 4 did not restore leaf2: $(ctl n0 get "${RT}[id='0000004']/leaf2")"
[ "$(ctl n0 get "${RT}[id='0000005']/leaf2")" = 5005 ] || bad "selective rollback of txid 4 changed route 5"
[ "$(ctl n0 txid)" = 7 ] || bad "the rollback did not commit as txid 7"
# and 2 (index 5 after the new commit 7)
ok ctl n0 rollback apply -s 5
[ "$(ctl n0 get "${RT}[id='0000002']/leaf2")" = 15 ] || bad "selective rollback of the restored file of txid 2 did not restore leaf2"
node_down n0
echo "rollback files: 4 damaged files (flipped, truncated, deleted; one more flipped later): rollback list, their rewriting by the replay at kill -9 and at a clean restart, and selective rollbacks with the rewritten files checked"
check_bad "damaged rollback files"
pass
