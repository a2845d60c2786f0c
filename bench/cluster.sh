#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster benchmark (bench/run.sh runs it; alone: bench/cluster.sh BUILD_DIR OUT.md):
# clusters of examples/routes/cluster.sh (chorusd + chorus-aasync per node) on 127.0.0.1.
#
#   commits   bench_commits through node 0 (libchorus, one client, one-leaf changes of 1000
#             routes): commits/s, p50, p99, for clusters of 1, 2, 3 and 5 nodes; the ratio of
#             each to the 1-node cluster of the same repetition
#   edit      one NETCONF edit-config (bench_nc over TCP to node 0) of K routes into an empty
#             cluster of 3 nodes and of 1 node, one after the other in each repetition
#   join      `cluster.sh join 3` against a 3-node cluster holding K routes: from the start
#             of the 4th node's chorusd to its phase 2, i.e. the copy and the node list change
#
# Each figure is the median of BENCH_REPS repetitions (min and max beside it); wall time as
# the client sees it. Writes a Markdown section to OUT.md and prints it.
#
# Environment: BENCH_QUICK=1 (100k routes only, fewer commits), BENCH_REPS (default 3).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:?usage: bench/cluster.sh BUILD_DIR OUT.md}" && pwd)
OUT=${2:?usage: bench/cluster.sh BUILD_DIR OUT.md}
export CHORUS_BUILD=$BUILD
CLUSTER=$ROOT/examples/routes/cluster.sh
COMMITS=$BUILD/bench/bench_commits
NCB=$BUILD/bench/bench_nc
CTL=$BUILD/chorusctl
REPS=${BENCH_REPS:-3}
T=$(mktemp -d) # removed on exit
if [ -n "${BENCH_QUICK:-}" ]; then
    NCOMMITS=1000 EDITK=100000 JOINS="100000"
else
    NCOMMITS=3000 EDITK=100000 JOINS="100000 1000000"
fi
OFF=$("$CLUSTER" free-offset) || exit 1
RUN=0
cl() { "$CLUSTER" "$@" --dir "$T/c$RUN" --port-offset "$OFF"; }
fresh() { # N ROUTES: a new cluster
    [ -d "$T/c$RUN" ] && cl stop >/dev/null 2>&1
    rm -rf "$T/c$RUN"
    RUN=$((RUN + 1))
    cl start "$1" --routes "$2" >/dev/null || { echo "bench/cluster.sh: cluster start failed" >&2; exit 1; }
}
cleanup() {
    for d in "$T"/c*; do [ -d "$d" ] && "$CLUSTER" stop --dir "$d" >/dev/null 2>&1; done
    rm -rf "$T"
}
trap cleanup EXIT
say() { echo "bench/cluster: $*" >&2; }
val() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
declare -A F
rec() { F[$1]="${F[$1]:-} $2"; }
stats() { # median min max of the recorded values
    tr ' ' '\n' <<<"${F[$1]:-}" | grep . | sort -g | awk '{a[NR]=$1} END {if (!NR) {print "- - -"; exit}
        m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f %.1f %.1f\n", m, a[1], a[NR]}'
}

for rep in $(seq 1 "$REPS"); do
    for n in 1 2 3 5; do
        say "rep $rep: $NCOMMITS one-leaf commits through node 0 of $n node(s)"
        fresh "$n" 1000
        line=$("$COMMITS" -t "127.0.0.1:$((4565 + OFF))" -c 1 -n "$NCOMMITS" -w 50 -b 1 -r 1000 -v $((rep * 1000000))) ||
            { say "bench_commits failed"; exit 1; }
        rec "c${n}_rate" "$(val commits_per_s "$line")"
        rec "c${n}_p50" "$(val p50_us "$line")"
        rec "c${n}_p99" "$(val p99_us "$line")"
        [ "$n" = 1 ] && base=$(val commits_per_s "$line")
        rec "c${n}_ratio" "$(awk -v a="$(val commits_per_s "$line")" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
        "$CTL" -p $((4565 + OFF)) cluster status >/dev/null || say "warning: the $n-node cluster is not in sync after the run"
    done
    for n in 3 1; do
        say "rep $rep: one edit-config of $EDITK routes into an empty cluster of $n"
        fresh "$n" 0
        line=$("$NCB" -t "127.0.0.1:$((2023 + OFF))" -u admin -b 1 -k "$EDITK" edit) || { say "bench_nc failed"; exit 1; }
        rec "e${n}" "$(val wall_ms "$line")"
        [ "$n" = 3 ] && e3=$(val wall_ms "$line")
        [ "$n" = 1 ] && rec e_ratio "$(awk -v a="$e3" -v b="$(val wall_ms "$line")" 'BEGIN {printf "%.2f", a / b}')"
    done
    for k in $JOINS; do
        say "rep $rep: a 4th node joins a 3-node cluster holding $k routes"
        fresh 3 0
        /usr/bin/python3 "$ROOT/examples/routes/gen-routes.py" "$k" >"$T/r.xml"
        "$CTL" -t 600 -p $((4565 + OFF)) load "$T/r.xml" >/dev/null || { say "load failed"; exit 1; }
        t0=$(date +%s%N)
        CLUSTER_WAIT=600 cl join 3 >/dev/null || { say "join failed"; exit 1; }
        rec "j$k" "$(( ($(date +%s%N) - t0) / 1000000 ))"
        "$CTL" -p $((4565 + 30 + OFF)) cluster status >/dev/null || say "warning: not in sync after the join"
    done
done
cl stop >/dev/null 2>&1

{
    echo "## Cluster (chorus-aasync)"
    echo
    echo "$(nproc) cores, $(date -u +%Y-%m-%d), $REPS repetitions: median (min-max). Nodes of one"
    echo "machine on 127.0.0.1, each a chorusd and a chorus-aasync; wall time seen by the client."
    echo
    echo "| nodes | one-leaf commits/s through node 0 | ratio to 1 node | p50 µs | p99 µs |"
    echo "|---|---|---|---|---|"
    for n in 1 2 3 5; do
        read -r m lo hi <<<"$(stats "c${n}_rate")"
        read -r r _ _ <<<"$(stats "c${n}_ratio")"
        read -r p50 _ _ <<<"$(stats "c${n}_p50")"
        read -r p99 _ _ <<<"$(stats "c${n}_p99")"
        echo "| $n | $m ($lo-$hi) | $r | $p50 | $p99 |"
    done
    echo
    read -r m3 lo3 hi3 <<<"$(stats e3)"
    read -r m1 lo1 hi1 <<<"$(stats e1)"
    read -r r _ _ <<<"$(stats e_ratio)"
    echo "One NETCONF edit-config of $EDITK routes (TCP, into an empty datastore): 3 nodes"
    echo "$m3 ms ($lo3-$hi3), 1 node $m1 ms ($lo1-$hi1): ratio $r (goal ≤ 2)."
    echo
    echo "| routes in the cluster | join of a 4th node, ms |"
    echo "|---|---|"
    for k in $JOINS; do
        read -r m lo hi <<<"$(stats "j$k")"
        echo "| $k | $m ($lo-$hi) |"
    done
    echo
    read -r c3 _ _ <<<"$(stats c3_rate)"
    read -r jm _ _ <<<"$(stats j1000000)"
    yes() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN {if (a == "-") print "-"; else if ((op == "ge" && a >= b) || (op == "le" && a <= b)) print "yes"; else print "**no**"}'; }
    echo "| goal | result | reached |"
    echo "|---|---|---|"
    echo "| one-leaf commits through a 3-node cluster ≥ 1000/s | $c3/s | $(yes "$c3" 1000 ge) |"
    echo "| 100k-route edit-config, 3 nodes / 1 node ≤ 2× | ${r}× | $(yes "$r" 2 le) |"
    echo "| join of a node to a cluster holding 1M routes ≤ 15 s | ${jm} ms | $(yes "${jm:--}" 15000 le) |"
    echo
    echo "Where the time goes: a small commit costs about seven round trips to each peer (lock,"
    echo "transaction, write, prepare, unlock, commit, finish), a thread per peer per phase, and the"
    echo "originator's hook, PREPARE and COMMIT events; with 3 nodes, six processes share the 2"
    echo "cores."
    echo "The 1-node cluster is the baseline of the ratios: a chorusd without a synchronizer is"
    echo "faster still (docs/cluster.md)."
    echo
} >"$OUT"
cat "$OUT"
