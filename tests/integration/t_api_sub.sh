#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The subscriber and data-provider APIs (sub_client): a two-phase subscriber's veto reaches the
# committer with its message, path and app-tag and changes nothing; priorities run lowest
# first, equal ones in parallel, ABORT in reverse order; a transaction hook reads and writes
# the transaction it is called for (its write is committed and in subscribers' diffs); a
# validator vetoes with a path and cannot write; a subscriber process killed in PREPARE, and
# one slower than commit/subscriber-timeout, abort the transaction; operational data from a
# provider is merged into operational reads; RPC and action handlers answer chorus_rpc();
# a confirmed commit is confirmed (same session, persist-id), reverted on timeout, cancel and
# the end of its session (subscribers see the revert flagged), kept with persist;
# the diff a subscriber of one daemon sees, written to another with CHORUS_EDIT_DIFF, keeps
# them equal (after a start from a file saved on one and loaded on the other);
# list cursors return every entry once in order whatever the chunk, see a transaction's own
# entries, and fail clearly when their position was deleted; the lock holder is reported;
# transaction callbacks see init, trans_lock (which can refuse the commit with its message)
# and finish, lock callbacks see lock and unlock (also when the session ends);
# registrations that cannot be are refused with clear errors.
. "$(dirname "$0")/../lib.sh"

SUB_CLIENT="${CHORUS_BUILD:-}/tests/sub_client"
[ -x "$SUB_CLIENT" ] || die "$SUB_CLIENT is not built"
sub() {
    local name=$1 scen=$2 port
    eval "port=\${${name}_PORT}"
    timeout 300 "$SUB_CLIENT" "$port" "$scen" "${@:3}" >"$T/sub-$scen.out" 2>&1 ||
        die "$scen: $(tail -n 8 "$T/sub-$scen.out")"
}

NODE_CONF=$(conf_file st1000 "<commit><subscriber-timeout>1000</subscriber-timeout></commit>")
node_start n0 --addloadpath "$CHORUS_SRC/tests/integration/models"
NODE_CONF=
node_start n1 --addloadpath "$CHORUS_SRC/tests/integration/models"
for s in veto order hook validator killed oper rpc confirm cursor lockinfo trans bad; do
    subtest "$s" sub n0 "$s"
done
subtest "timeout" sub n0 timeout 1000
subtest "mirror" sub n0 mirror "$n1_PORT"
subtests_end
# the daemon logged who vetoed and who was too slow
grep -q "did not answer the PREPARE event" "$T/n0.out" || die "no log line for the timeout"
[ "$(ctl n0 status | json_get 'd["locks"]')" = "[]" ] || die "locks left"
for n in n0 n1; do
    node_stop "$n"
    clean_exit "$T/$n.out"
done
pass
