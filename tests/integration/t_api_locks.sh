#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Locks (api_client): a lock on running refuses other sessions' writes with CHORUS_ERR_LOCKED
# naming the holder's session and user, while their reads go on; after unlock they succeed.
# The commit lock: a second apply waits for a prepared transaction and completes after its
# commit; with commit/lock-timeout 500 ms it fails with CHORUS_ERR_INUSE naming the holder
# after about that long; with 0 it fails at once. (The candidate lock: t_api_candidate.sh.)
. "$(dirname "$0")/../lib.sh"

node_start n0
NODE_CONF=$(conf_file lt500 "<commit><lock-timeout>500</lock-timeout></commit>")
node_start n1
NODE_CONF=$(conf_file lt0 "<commit><lock-timeout>0</lock-timeout></commit>")
node_start n2
t() {
    api "$1" "$2" "${@:3}" >/dev/null || die "$2 $*: $(tail -n 5 "$T/api-$2.out")"
}
subtest "lock on running" t n0 lock-running
subtest "commit lock: a waiting apply" t n0 commit-lock-wait
subtest "commit lock: lock-timeout 500 ms" t n1 commit-lock-timeout 500
subtest "commit lock: lock-timeout 0" t n2 commit-lock-timeout 0
subtests_end
for n in n0 n1 n2; do
    [ "$(ctl "$n" status | json_get 'd["locks"]')" = "[]" ] || die "$n: locks left"
    node_stop "$n"
    clean_exit "$T/$n.out"
done
pass
