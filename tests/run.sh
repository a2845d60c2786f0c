#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite (make test): every test of the normal build; unit, integration and
# crash tests again in the sanitizer (ASan+UBSan) build; a short run of every fuzz target.
# Exits non-zero if anything fails.
set -u
B=${1:-build} A=${2:-build-asan} F=${3:-build-fuzz}
SRC=$(cd "$(dirname "$0")/.." && pwd)
FUZZ_SECONDS=${CHORUS_FUZZ_SECONDS:-30}
fail=0
start=$(date +%s)

echo "== tests (build: $B)"
(cd "$B" && ctest -j2 --output-on-failure) || fail=1

echo "== tests under ASan+UBSan (build: $A)"
(cd "$A" && ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions="$SRC/tests/lsan.supp" \
    CHORUS_VAL_ITERS=600 CHORUS_NC_BIG=20000 CHORUS_CLUSTER_SECS=10 ctest -j2 --output-on-failure) || fail=1

echo "== fuzzing (${FUZZ_SECONDS}s per target, build: $F)"
for f in "$F"/tests/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="$SRC/tests/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    # a crashing input is kept in /tmp (libFuzzer's default is the current directory)
    if ! "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="/tmp/$name-" "$work" \
        >"$work.log" 2>&1; then
        echo "FAIL $name:"; tail -n 40 "$work.log"; fail=1
    else
        echo "PASS $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" || tail -n 1 "$work.log")"
    fi
    rm -rf "$work" "$work.log"
done

echo "== done in $(( $(date +%s) - start ))s: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
