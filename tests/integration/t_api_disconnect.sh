#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A client that disconnects in the middle of a transaction (api_client): an open read-write
# transaction changes nothing; its lock on running is released; a prepared transaction
# releases the commit lock, so that another client's apply succeeds promptly (also one that
# was already waiting for it), and its change is absent; a client killed while its apply
# waits for the commit lock leaves no trace and does not hold up the next commit.
. "$(dirname "$0")/../lib.sh"

node_start n0
for s in disconnect-open disconnect-lock disconnect-prepared disconnect-prepared-waiter \
    disconnect-waiting; do
    t() {
        api n0 "$1" >/dev/null || die "$1: $(tail -n 5 "$T/api-$1.out")"
    }
    subtest "$s" t "$s"
done
subtests_end
# every api_client session has ended
[ "$(ctl n0 status | json_get '[s["user"] for s in d["sessions"] if s["user"] in ("alice", "bob", "observer", "seed", "waiter")]')" = "[]" ] ||
    die "sessions left: $(ctl n0 status)"
[ "$(ctl n0 status | json_get 'd["transactions"], d["commit_lock"], d["locks"]')" = "(0, None, [])" ] ||
    die "transactions or locks left: $(ctl n0 status)"
node_stop n0
clean_exit "$T/n0.out"
pass
