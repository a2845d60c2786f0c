#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Larger data: 20000 routes loaded in one transaction through the C API (api_client count),
# counted with chorus_num_instances, then deleted one by one in one transaction; the journal
# replays both after a restart.
. "$(dirname "$0")/../lib.sh"

N=${CHORUS_LARGE_N:-20000}
ms() {
    date +%s%3N
}

node_start n0
api n0 count "$N" >/dev/null || die "count $N: $(tail -n 5 "$T/api-count.out")"
load_ms=$(sed -n 's/.*committed in \([0-9]*\) ms/\1/p' "$T/api-count.out" | head -n 1)
echo "load of $N routes next to 5: ${load_ms} ms (api_client; timings are measured in bench/, not asserted here)"
# seed (1), load (2), delete (3)
[ "$(ctl n0 txid)" = 3 ] || die "txid $(ctl n0 txid)"
[ "$(ctl n0 save | grep -c "<route>")" = 5 ] || die "routes left"
snap n0 >"$T/n0.snap" || die "snapshot"
node_stop n0
t0=$(ms)
node_start n0
echo "restart (replay of the load and the deletes): $(($(ms) - t0)) ms"
unchanged n0 "$T/n0.snap"
node_stop n0
clean_exit "$T/n0.out"

pass
