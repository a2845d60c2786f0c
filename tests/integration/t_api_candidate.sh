#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The candidate datastore through the C API (api_client): a candidate transaction leaves
# running alone and shows in candidate reads; candidate-commit brings it into running with a
# new txid; an invalid candidate fails candidate-commit with the validation error and changes
# neither running nor the candidate; discard. The candidate lock is refused while the
# candidate holds another session's uncommitted changes. With running writable through the
# candidate only, read-write transactions on running are refused with a clear message and
# the candidate path works. Each scenario on a node of its own.
. "$(dirname "$0")/../lib.sh"

node_start n0
node_start n1
# writable-through-candidate: the routes come from an init file (running cannot be written)
mkdir -p "$T/n2"
routes_xml 5 >"$T/n2/routes.xml"
NODE_CONF=$(conf_file wtc "<datastores><running><access>writable-through-candidate</access></running></datastores>")
node_start n2
t() {
    api "$1" "$2" >/dev/null || die "$2: $(tail -n 5 "$T/api-$2.out")"
}
subtest "candidate: write, read, commit, invalid commit, discard" t n0 candidate
subtest "candidate lock with another session's changes" t n1 lock-candidate
subtest "running writable through the candidate only" t n2 writable-through-candidate
subtests_end
for n in n0 n1 n2; do
    node_stop "$n"
    clean_exit "$T/$n.out"
done
pass
