#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark of `make bench`: bench/run.sh BUILD_DIR
#
# Measures chorusd on the routes model (examples/routes) against the floor of what libyang and
# the disk cost on their own, and writes docs/benchmarks.md (tables, goals, where the time
# goes) and docs/bench-*.png (if gnuplot is installed). Figures, in the order of the report:
#
#   floor     bench_floor: XML parse + validate, tree RSS, LYB print / parse, fdatasync
#   load      `chorusctl load FILE` into an empty database, wall time seen by the client,
#             server CPU (/proc/PID/stat), journal size, peak RSS (VmHWM) of chorusd, and the
#             compaction child's memory (sampled while it lives)
#   commits   bench_commits: one-leaf changes, 1 and 4 clients; one-route creates, 1 client
#   latency   one-leaf commit latency on 1k routes vs on 1M routes, back to back
#   rtt       bench_rtt: round trip of chorus_txid() over TCP on 127.0.0.1 and over the UNIX
#             socket (ipc/unix-path), one client, next to its floor (a bare 32-byte echo
#             between two processes over the same kind of socket); server CPU per call
#   subs      bench_commits (one-leaf changes, 1 client) with 0, 1 and 5 two-phase subscribers
#             (bench_subs: a process of their own, one thread and connection each, all
#             registered before the timing starts) on /routes:active-cfg, and 5 with distinct
#             priorities (one after the other); server and subscriber CPU per commit
#   restart   exec to `chorusctl wait-start 2` succeeding, from (a) the journal only,
#             (b) a snapshot with its LYB cache, (c) the snapshot without the cache; and, as
#             a comparison, (b) with chorusd's heap on 4 KiB pages (CHORUS_HUGEPAGES=0; by
#             default chorusd runs its heap on transparent huge pages)
#   netconf   bench_nc (NETCONF over plain TCP, chorusd's own server): one edit-config of K
#             routes into an empty database, next to the floor's XML parse + validate of the
#             same routes, then a get-config of them all and a delete of them all (a fresh
#             daemon per K: its VmHWM is that K's); round trips of a one-route get-config and
#             sequential one-route edit-configs on an empty database and on one holding
#             NCBIG routes (the same over SSH when chorusd serves it); wall time seen by the
#             client, server CPU and peak RSS of chorusd per workload
#   profile   one more load, small commits and restarts at debug log level (stage timings),
#             under `perf record` when perf works here, and small commits under `strace -c`
#
# Each repetition measures the floor next to the Chorus figure it is compared with, so that
# ratios are taken pair by pair within one repetition (bench/report.py).
#
# Environment:
#   BENCH_QUICK=1   100k routes instead of 1M, fewer commits (about 3 minutes)
#   BENCH_REPS=N    repetitions (default 3)
#   BENCH_OUT=FILE  the report (default docs/benchmarks.md; plots go next to it)
#   BENCH_KEEP=1    keep the temporary directory (printed at the end)
#   BENCH_NO_DEPS=1 do not run scripts/deps.sh --bench
#
# Everything runs in one temporary directory, on 127.0.0.1, on ports the kernel hands out;
# every process started here is stopped on exit (trap).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || {
    echo "bench: no build directory ${1:-$ROOT/build}" >&2
    exit 2
}
CHORUSD=$BUILD/chorusd
CHORUSCTL=$BUILD/chorusctl
FLOOR=$BUILD/bench/bench_floor
COMMITS=$BUILD/bench/bench_commits
RTT=$BUILD/bench/bench_rtt
SUBS=$BUILD/bench/bench_subs
NCB=$BUILD/bench/bench_nc
ROUTES=$ROOT/examples/routes
CONF_EXAMPLE=$ROUTES/chorusd.conf
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
mkdir -p "$(dirname "$OUT")" || exit 2
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""

for b in "$CHORUSD" "$CHORUSCTL" "$FLOOR" "$COMMITS" "$RTT" "$SUBS" "$NCB"; do
    [ -x "$b" ] || {
        echo "bench: $b is missing; build first (make bench does)" >&2
        exit 2
    }
done
if [ -z "${BENCH_NO_DEPS:-}" ]; then
    "$ROOT/scripts/deps.sh" --bench || echo "bench: scripts/deps.sh --bench failed; going on" >&2
fi

if [ -n "$QUICK" ]; then
    SIZES=(100000)
    REPS=${BENCH_REPS:-3}
    NCOMMITS=1000 # per commit run
    LATN=300      # per latency run
    RTTN=10000    # calls per round-trip run
    NCSIZES=(100 1000 10000) # routes per NETCONF edit-config
    NCBIG=10000              # routes of the bigger database of the NETCONF round trips
    NCSEQ=300                # sequential NETCONF edit-configs per run
else
    SIZES=(100000 1000000)
    REPS=${BENCH_REPS:-3}
    NCOMMITS=2000
    LATN=500
    RTTN=20000
    NCSIZES=(100 1000 10000 100000)
    NCBIG=100000
    NCSEQ=1000
fi
BIG=${SIZES[-1]}
THR_DEFAULT=67108864 # database/compact-threshold default (yang/chorus-config.yang)
THR_SMALL=1048576
THP=glibc.malloc.hugetlb=1 # GLIBC_TUNABLES of the floor on huge pages (what chorusd uses)

T=$(mktemp -d "${TMPDIR:-/tmp}/chorus-bench.XXXXXX")
RES=$T/results.tsv
META=$T/meta.txt
PROF=$T/profile
mkdir -p "$PROF"
: >"$RES"
declare -A D_PID D_PORT D_DIR D_NCTCP D_NCSSH
PIDS=()

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        # a chorusd started under perf is perf's child
        kill -9 $(pgrep -P "$p" 2>/dev/null) "$p" 2>/dev/null
    done
    wait 2>/dev/null
    case ${SOCK:-} in /tmp/chorus-bench-sock.*) rm -f "$SOCK" ;; esac
    if [ -n "${BENCH_KEEP:-}" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ]; }; then
        echo "bench: files kept in $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # (files are kept after a failure, for its logs)

# forget PID: a process started here that has been waited for (cleanup must not kill its
# number, which the kernel may hand out again)
forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

die() {
    echo "bench: $*" >&2
    exit 1
}

say() {
    printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2
}

# rec KEY REP VALUE: one measurement
rec() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"
}

now_us() {
    local t=${EPOCHREALTIME/./}
    echo "${t#0}"
}

label() {
    case $1 in
    1000) echo 1k ;;
    10000) echo 10k ;;
    100000) echo 100k ;;
    1000000) echo 1M ;;
    *) echo "$1" ;;
    esac
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cpu_ms() { # user + system CPU of a process, ms
    local f
    read -ra f <"/proc/$1/stat" || return 1
    echo $(((f[13] + f[14]) * 1000 / CLK_TCK))
}

status_kb() { # FIELD PID: a kB field of /proc/PID/status
    awk -v k="$1:" '$1 == k {print $2}' "/proc/$2/status" 2>/dev/null
}

# A configuration derived from the example: THRESHOLD (bytes, or "" for the default), the
# log level and, optionally, the UNIX socket of the IPC server (ipc/unix-path).
make_conf() {
    local out=$1 thr=$2 level=$3 unix=${4:-}
    /usr/bin/python3 - "$CONF_EXAMPLE" "$out" "$thr" "$level" "$unix" <<'EOF'
import sys
src, out, thr, level, unix = sys.argv[1:]
s = open(src).read()
if thr:
    s = s.replace("</dir>", "</dir>\n    <compact-threshold>%s</compact-threshold>" % thr, 1)
s = s.replace("<level>info</level>", "<level>%s</level>" % level)
if unix:
    s = s.replace("<ipc>", "<ipc>\n    <unix-path>%s</unix-path>" % unix, 1)
open(out, "w").write(s)
EOF
}

# wait until the daemon PID answers `wait-start 2` on PORT; fails if it dies or TIMEOUT s pass
wait_ready() {
    local port=$1 pid=$2 deadline=$(($(now_us) + $3 * 1000000))
    while :; do
        if "$CHORUSCTL" -p "$port" -t 30 wait-start 2 >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(now_us)" -gt "$deadline" ] && return 1
        sleep 0.01
    done
}

# d_start NAME CONF DIR [WRAPPER...]: start chorusd (foreground, in the background) and wait
# until it answers; sets D_PID/D_PORT/D_DIR[NAME], its NETCONF ports D_NCTCP/D_NCSSH[NAME]
# and READY_MS (exec to answer).
d_start() {
    local name=$1 conf=$2 dir=$3 try port p2 p3 pid t0
    shift 3
    mkdir -p "$dir"
    for try in 1 2 3; do
        port=$(free_port) p2=$(free_port) p3=$(free_port)
        t0=$(now_us)
        "$@" "$CHORUSD" -c "$conf" --addloadpath "$ROUTES" --dbdir "$dir" --ipc-port "$port" \
            --netconf-ssh-port "$p2" --netconf-tcp-port "$p3" --foreground \
            >>"$T/$name.out" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        if wait_ready "$port" "$pid" 900; then
            READY_MS=$((($(now_us) - t0) / 1000))
            D_PID[$name]=$pid D_PORT[$name]=$port D_DIR[$name]=$dir
            D_NCSSH[$name]=$p2 D_NCTCP[$name]=$p3
            return 0
        fi
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        # a port taken meanwhile by someone else: try other ones
        grep -qE "cannot open the IPC port|cannot listen" "$T/$name.out" || break
    done
    die "chorusd $name did not start: $(tail -n 5 "$T/$name.out")"
}

d_stop() {
    local name=$1 pid=${D_PID[$1]} i
    "$CHORUSCTL" -p "${D_PORT[$name]}" -t 60 stop >/dev/null 2>&1
    for i in $(seq 1 1200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && {
        say "chorusd $name did not stop: killed"
        kill -9 "$pid"
    }
    wait "$pid" 2>/dev/null
    unset "D_PID[$name]"
}

ctl() {
    local name=$1
    shift
    "$CHORUSCTL" -p "${D_PORT[$name]}" "$@"
}

# wait until LOG has more than N lines matching PATTERN (TIMEOUT s)
wait_log() {
    local log=$1 pat=$2 n=$3 timeout=$4 i
    for i in $(seq 1 $((timeout * 10))); do
        [ "$(grep -c -- "$pat" "$log" 2>/dev/null)" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

# sample the memory of the children of PID (the compaction writer) into FILE until killed
child_sampler() {
    local ppid=$1 out=$2 c h p
    while kill -0 "$ppid" 2>/dev/null; do
        for c in $(pgrep -P "$ppid"); do
            h=$(status_kb VmHWM "$c")
            p=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' \
                "/proc/$c/smaps_rollup" 2>/dev/null)
            echo "$c ${h:-0} ${p:-0}"
        done
        sleep 0.05
    done >>"$out"
}

journal_bytes() {
    local s=0 f
    for f in "$1"/journal-*.log; do
        [ -f "$f" ] && s=$((s + $(stat -c %s "$f")))
    done
    echo "$s"
}

# load_run REP SIZE CONF THRESHOLD KEEP: load SIZE routes into an empty database; records
# load_* figures; with KEEP the daemon "big" stays up (after any compaction finished).
load_run() {
    local rep=$1 n=$2 conf=$3 thr=$4 keep=$5 L dir pid c0 c1 t0 t1 jb spid ncomp ts
    L=$(label "$n")
    dir=$T/load-$L-$rep
    rm -rf "$dir"
    d_start big "$conf" "$dir"
    pid=${D_PID[big]}
    rec "idle_rss_kb@$L" "$rep" "$(status_kb VmRSS "$pid")"
    : >"$T/child-$L-$rep"
    child_sampler "$pid" "$T/child-$L-$rep" &
    spid=$!
    PIDS+=("$spid")
    ncomp=$(grep -c "compaction: snapshot written" "$dir/chorusd.log" 2>/dev/null)
    c0=$(cpu_ms "$pid")
    t0=$(now_us)
    ctl big load "$T/r$L.xml" >"$T/load.out" 2>&1 || die "load of $L failed: $(cat "$T/load.out")"
    t1=$(now_us)
    c1=$(cpu_ms "$pid")
    jb=$(journal_bytes "$dir")
    rec "load_ms@$L" "$rep" $(((t1 - t0) / 1000))
    rec "load_cpu_ms@$L" "$rep" $((c1 - c0))
    rec "load_jnl_bytes@$L" "$rep" "$jb"
    if [ "$jb" -ge "$thr" ]; then
        wait_log "$dir/chorusd.log" "compaction: snapshot written" "$ncomp" 900 ||
            die "compaction after the $L load did not finish: $(tail -n 3 "$dir/chorusd.log")"
        ts=$(now_us)
        rec "compact_ms@$L" "$rep" $(((ts - t1) / 1000))
    fi
    sleep 0.1
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    rec "hwm_kb@$L" "$rep" "$(status_kb VmHWM "$pid")"
    rec "rss_kb@$L" "$rep" "$(status_kb VmRSS "$pid")"
    if [ -s "$T/child-$L-$rep" ]; then
        rec "child_hwm_kb@$L" "$rep" "$(awk '$2 > m {m = $2} END {print m + 0}' "$T/child-$L-$rep")"
        rec "child_priv_kb@$L" "$rep" "$(awk '$3 > m {m = $3} END {print m + 0}' "$T/child-$L-$rep")"
    fi
    [ "$keep" ] || {
        d_stop big
        rm -rf "$dir"
    }
}

# commit_run REP KEY NAME ARGS...: bench_commits against daemon NAME, server CPU per commit
VALUE_BASE=2000000
commit_run() {
    local rep=$1 key=$2 name=$3 pid c0 c1 line n
    shift 3
    pid=${D_PID[$name]}
    VALUE_BASE=$((VALUE_BASE + 100000))
    c0=$(cpu_ms "$pid")
    line=$("$COMMITS" -t "127.0.0.1:${D_PORT[$name]}" -v "$VALUE_BASE" "$@") ||
        die "bench_commits $key failed"
    c1=$(cpu_ms "$pid")
    n=$(sed -n 's/.* commits=\([0-9]*\) .*/\1/p' <<<"$line")
    for kv in $line; do
        case ${kv%%=*} in
        commits_per_s | p50_us | p99_us | min_us | max_us) rec "${key}_${kv%%=*}" "$rep" "${kv#*=}" ;;
        esac
    done
    rec "${key}_cpu_us" "$rep" $(((c1 - c0) * 1000 / n))
}

# rtt_run REP KEY NAME ARGS...: bench_rtt; CPU per call of daemon NAME, or (NAME "") of
# bench_rtt's echo child
rtt_run() {
    local rep=$1 key=$2 name=$3 pid="" c0=0 c1=0 line kv
    shift 3
    [ "$name" ] && pid=${D_PID[$name]} && c0=$(cpu_ms "$pid")
    line=$("$RTT" -n "$RTTN" "$@") || die "bench_rtt $key failed"
    if [ "$pid" ]; then
        c1=$(cpu_ms "$pid")
        rec "${key}_cpu_us" "$rep" "$(awk -v d=$((c1 - c0)) -v n="$RTTN" 'BEGIN {printf "%.2f", d * 1000 / n}')"
    fi
    for kv in $line; do
        case ${kv%%=*} in
        p50_us | p99_us | min_us | max_us | mean_us) rec "${key}_${kv%%=*}" "$rep" "${kv#*=}" ;;
        peer_cpu_us) rec "${key}_cpu_us" "$rep" "${kv#*=}" ;;
        esac
    done
}

# sub_run REP KEY NSUBS [BENCH_SUBS FLAGS...]: one-leaf commits (1 client) on daemon "sb" with
# NSUBS two-phase subscribers of bench_subs, started and registered before bench_commits
# starts, stopped after it; checks that each subscriber saw PREPARE and COMMIT of every commit.
sub_run() {
    local rep=$1 key=$2 n=$3 spid out c0 c1 line expect i kv
    shift 3
    if [ "$n" = 0 ]; then
        commit_run "$rep" "$key" sb -n "$NCOMMITS" -c 1 -w 20 -b 1 -r 1000 -o "$T/lat-$key-$rep"
        return
    fi
    out=$T/subs-$key-$rep.out
    "$SUBS" -t "127.0.0.1:${D_PORT[sb]}" -n "$n" "$@" >"$out" 2>&1 &
    spid=$!
    PIDS+=("$spid")
    for i in $(seq 1 600); do
        grep -q '^ready$' "$out" && break
        kill -0 "$spid" 2>/dev/null || die "bench_subs -n $n failed: $(cat "$out")"
        sleep 0.05
    done
    grep -q '^ready$' "$out" || die "bench_subs -n $n did not register within 30 s"
    c0=$(cpu_ms "$spid")
    commit_run "$rep" "$key" sb -n "$NCOMMITS" -c 1 -w 20 -b 1 -r 1000 -o "$T/lat-$key-$rep"
    c1=$(cpu_ms "$spid")
    kill -TERM "$spid"
    wait "$spid" || die "bench_subs -n $n failed: $(cat "$out")"
    forget "$spid"
    rec "${key}_subcpu_us" "$rep" $(((c1 - c0) * 1000 / NCOMMITS))
    line=$(tail -n 1 "$out")
    expect=$((NCOMMITS + 20))
    for kv in prepare_min prepare_max commit_min commit_max; do
        [ "$(sed -n "s/.* $kv=\([0-9]*\).*/\1/p" <<<"$line")" = "$expect" ] ||
            die "bench_subs -n $n: $kv is not $expect: $line"
    done
}

# restart_run REP CASE DIR CONF [WRAPPER...]: exec to ready; the daemon's own recovery time
# from its log
restart_run() {
    local rep=$1 case=$2 dir=$3 conf=$4 line
    shift 4
    d_start rst "$conf" "$dir" "$@"
    rec "rst_${case}_ms" "$rep" "$READY_MS"
    rec "rst_${case}_hwm_kb" "$rep" "$(status_kb VmHWM "${D_PID[rst]}")"
    line=$(grep "database .* recovered in" "$dir/chorusd.log" | tail -n 1)
    rec "rst_${case}_log_ms" "$rep" "$(sed -n 's/.* recovered in \([0-9]*\) ms.*/\1/p' <<<"$line")"
    case $line in *"from its cache"*) rec "rst_${case}_cache" "$rep" 1 ;; *) rec "rst_${case}_cache" "$rep" 0 ;; esac
    d_stop rst
}

floor_run() { # REP SIZE
    local L line kv
    L=$(label "$2")
    line=$("$FLOOR" tree "$ROUTES" "$T/r$L.xml" "$T/r$L.lyb") || die "bench_floor on $L failed"
    line="$line $("$FLOOR" lyb "$ROUTES" "$T/r$L.lyb")" || die "bench_floor on $L.lyb failed"
    for kv in $line; do
        rec "floor_${kv%%=*}@$L" "$1" "${kv#*=}"
    done
    # the same with malloc's heap on transparent huge pages, as chorusd runs
    line=$(GLIBC_TUNABLES=$THP "$FLOOR" tree "$ROUTES" "$T/r$L.xml" "$T/r$L.thp.lyb") ||
        die "bench_floor THP on $L failed"
    rm -f "$T/r$L.thp.lyb"
    line="$line $(GLIBC_TUNABLES=$THP "$FLOOR" lyb "$ROUTES" "$T/r$L.lyb")" ||
        die "bench_floor THP on $L.lyb failed"
    for kv in $line; do
        rec "floor_thp_${kv%%=*}@$L" "$1" "${kv#*=}"
    done
    rm -f "$T/r$L.lyb"
}

# nc_run REP KEY SUFFIX NAME ARGS...: bench_nc ARGS against daemon NAME; records the figures
# of its line as KEY_FIELD SUFFIX, the server CPU (KEY_cpu_ms SUFFIX; per request for round
# trips and sequential edits: KEY_cpu_us SUFFIX) and chorusd's VmHWM after it (KEY_hwm_kb
# SUFFIX); the line is left in NC_LINE.
nc_run() {
    local rep=$1 key=$2 sfx=$3 name=$4 pid c0 c1 kv n=""
    shift 4
    pid=${D_PID[$name]}
    c0=$(cpu_ms "$pid")
    NC_LINE=$("$NCB" "$@") || die "bench_nc $key$sfx failed (bench_nc $*)"
    c1=$(cpu_ms "$pid")
    for kv in $NC_LINE; do
        case ${kv%%=*} in
        wall_ms | p50_us | p99_us | mean_us | min_us | max_us | commits_per_s | request_bytes | \
            reply_bytes | connect_ms)
            rec "${key}_${kv%%=*}$sfx" "$rep" "${kv#*=}"
            ;;
        n | commits) n=${kv#*=} ;;
        esac
    done
    rec "${key}_cpu_ms$sfx" "$rep" $((c1 - c0))
    [ "$n" ] && rec "${key}_cpu_us$sfx" "$rep" $(((c1 - c0) * 1000 / n))
    rec "${key}_hwm_kb$sfx" "$rep" "$(status_kb VmHWM "$pid")"
}

# nc_routes NAME N: the running datastore of daemon NAME holds exactly N routes (bench_nc
# getall checks the count)
nc_routes() {
    "$NCB" -t "127.0.0.1:${D_NCTCP[$1]}" -k "$2" getall >/dev/null || die "running of $1 does not hold $2 routes"
}

# nc_section REP: the NETCONF figures of one repetition (see the header)
nc_section() {
    local rep=$1 n L line kv ssh=() base tcp v
    v=$((3000000 + rep * 10000)) # leaf values of the sequential edits
    for n in "${NCSIZES[@]}"; do
        L=$(label "$n")
        say "rep $rep: netconf: edit-config of $L routes, get-config of them all, delete"
        line=$("$FLOOR" tree "$ROUTES" "$T/r$L.xml") || die "bench_floor on $L failed"
        for kv in $line; do
            case ${kv%%=*} in
            xml_parse_ms | tree_rss_kb) rec "nc_floor_${kv%%=*}@$L" "$rep" "${kv#*=}" ;;
            esac
        done
        rm -rf "$T/nc-$L"
        d_start nc "$CONF_EXAMPLE" "$T/nc-$L"
        tcp=127.0.0.1:${D_NCTCP[nc]}
        rec "nc_idle_rss_kb@$L" "$rep" "$(status_kb VmRSS "${D_PID[nc]}")"
        nc_run "$rep" nc_edit "@$L" nc -t "$tcp" -k "$n" -b 1 edit
        nc_run "$rep" nc_getall "@$L" nc -t "$tcp" -k "$n" getall
        nc_run "$rep" nc_delete "@$L" nc -t "$tcp" delete
        nc_routes nc 0
        d_stop nc
        rm -rf "$T/nc-$L"
    done

    say "rep $rep: netconf: round trips and sequential edit-configs, empty database"
    rm -rf "$T/nc-empty"
    d_start nc "$CONF_EXAMPLE" "$T/nc-empty"
    tcp=127.0.0.1:${D_NCTCP[nc]}
    nc_run "$rep" nc_rtt_empty "" nc -t "$tcp" -n "$RTTN" -W 200 -b 1 rtt
    [[ $NC_LINE == *" routes=0 "* ]] || die "bench_nc rtt on the empty database: $NC_LINE"
    nc_run "$rep" nc_seq_empty "" nc -t "$tcp" -n "$NCSEQ" -W 20 -b 1 \
        -v "$v" -o "$T/lat-ncseq-empty-$rep" seq
    nc_routes nc $((NCSEQ + 20))
    d_stop nc
    rm -rf "$T/nc-empty"

    say "rep $rep: netconf: round trips and sequential edit-configs, $NCBL routes"
    rm -rf "$T/nc-big"
    d_start nc "$CONF_EXAMPLE" "$T/nc-big"
    tcp=127.0.0.1:${D_NCTCP[nc]}
    ctl nc load "$T/r$NCBL.xml" >/dev/null || die "load of $NCBL failed"
    rec "nc_big_hwm_kb" "$rep" "$(status_kb VmHWM "${D_PID[nc]}")"
    nc_run "$rep" nc_rtt_big "" nc -t "$tcp" -n "$RTTN" -W 200 -b 1 rtt
    [[ $NC_LINE == *" routes=1 "* ]] || die "bench_nc rtt on $NCBL routes: $NC_LINE"
    base=$((NCBIG + 1))
    nc_run "$rep" nc_seq_big "" nc -t "$tcp" -n "$NCSEQ" -W 20 -b "$base" \
        -v "$v" -o "$T/lat-ncseq-big-$rep" seq
    base=$((base + NCSEQ + 20))
    # the same over SSH when chorusd serves it (user admin of the example configuration)
    if grep -q "NETCONF over SSH on" "$T/nc-big/chorusd.log" 2>/dev/null; then
        ssh=(-s "127.0.0.1:${D_NCSSH[nc]}" -u admin -P admin)
        say "rep $rep: netconf: the same over SSH"
        nc_run "$rep" nc_ssh_rtt_big "" nc "${ssh[@]}" -n "$RTTN" -W 200 -b 1 rtt
        nc_run "$rep" nc_ssh_seq_big "" nc "${ssh[@]}" -n "$NCSEQ" -W 20 -b "$base" \
            -v "$v" -o "$T/lat-ncseq-ssh-$rep" seq
        base=$((base + NCSEQ + 20))
    else
        say "chorusd serves no NETCONF over SSH: the SSH figures are left out"
    fi
    nc_routes nc $((base - 1))
    d_stop nc
    rm -rf "$T/nc-big"
}

CLK_TCK=$(getconf CLK_TCK)
BL=$(label "$BIG")
NCBL=$(label "$NCBIG")

# ---- the machine ----
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cores=$(nproc)"
    echo "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "mem_gb=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "libyang=$(pkg-config --modversion libyang 2>/dev/null)"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "fs=$(df -T "$T" | awk 'NR == 2 {print $2 " on " $1}')"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "quick=${QUICK:+1}"
    echo "reps=$REPS"
    echo "ncommits=$NCOMMITS"
    echo "latn=$LATN"
    echo "rttn=$RTTN"
    echo "big=$BL"
    echo "sizes=$(for s in "${SIZES[@]}"; do printf '%s ' "$(label "$s")"; done)"
    echo "thr_small=$THR_SMALL"
    echo "nc_sizes=$(for s in "${NCSIZES[@]}"; do printf '%s ' "$(label "$s")"; done)"
    echo "nc_big=$NCBL"
    echo "nc_seq=$NCSEQ"
} >"$META"
T_BEGIN=$(now_us)

# ---- inputs and configurations ----
say "bench: $(label "$BIG") routes, $REPS repetitions, in $T"
for n in 1000 "${SIZES[@]}" "${NCSIZES[@]}" "$NCBIG"; do
    [ -f "$T/r$(label "$n").xml" ] && continue
    /usr/bin/python3 "$ROUTES/gen-routes.py" "$n" >"$T/r$(label "$n").xml" || die "gen-routes failed"
done
make_conf "$T/nocompact.conf" 1000000000000 info
make_conf "$T/small.conf" "$THR_SMALL" info
make_conf "$T/debug.conf" 1000000000000 debug
SOCK=$T/ipc.sock # sun_path holds 107 bytes
[ "${#SOCK}" -le 100 ] || SOCK=$(mktemp -u /tmp/chorus-bench-sock.XXXXXX)
make_conf "$T/unix.conf" "" info "$SOCK"

# ---- long-lived daemons: 1k routes (small commits), an empty one (creates) ----
d_start k1 "$CONF_EXAMPLE" "$T/db-1k"
ctl k1 load "$T/r1k.xml" >/dev/null || die "load of 1k failed"
d_start cr "$CONF_EXAMPLE" "$T/db-create"
# ---- and one with 1k routes and a UNIX socket too, for the round trips and the subscribers ----
d_start sb "$T/unix.conf" "$T/db-sb"
ctl sb load "$T/r1k.xml" >/dev/null || die "load of 1k failed"
[ -S "$SOCK" ] || die "chorusd did not create the UNIX socket $SOCK"

# ---- databases for the restarts ----
say "restart databases: $BL routes journal-only, and compacted to a snapshot"
d_start prep "$T/nocompact.conf" "$T/rst-a"
ctl prep load "$T/r$BL.xml" >/dev/null || die "load for the restart failed"
d_stop prep
d_start prep "$T/small.conf" "$T/rst-b"
ctl prep load "$T/r$BL.xml" >/dev/null || die "load for the restart failed"
wait_log "$T/rst-b/chorusd.log" "compaction: snapshot written" 0 900 || die "no snapshot written"
d_stop prep
ls "$T"/rst-b/snapshot-*.lyb >/dev/null 2>&1 || die "no LYB cache next to the snapshot"
cp -a "$T/rst-b" "$T/rst-c"
rm -f "$T"/rst-c/snapshot-*.lyb
rec snapshot_json_bytes 1 "$(stat -c %s "$T"/rst-b/snapshot-*.json)"
rec snapshot_lyb_bytes 1 "$(stat -c %s "$T"/rst-b/snapshot-*.lyb)"
rec rst_a_jnl_bytes 1 "$(journal_bytes "$T/rst-a")"

# ---- the repetitions ----
for rep in $(seq 1 "$REPS"); do
    for n in "${SIZES[@]}"; do
        L=$(label "$n")
        say "rep $rep: floor $L"
        floor_run "$rep" "$n"
        say "rep $rep: load $L"
        if [ "$n" = "$BIG" ]; then
            load_run "$rep" "$n" "$CONF_EXAMPLE" "$THR_DEFAULT" keep
        else
            load_run "$rep" "$n" "$CONF_EXAMPLE" "$THR_DEFAULT" ""
        fi
    done
    say "rep $rep: one-leaf commit latency, 1k vs $BL routes"
    commit_run "$rep" lat1k k1 -n "$LATN" -b 1 -r 1000 -o "$T/lat-1k-$rep"
    commit_run "$rep" latbig big -n "$LATN" -b 1 -r 1000 -o "$T/lat-big-$rep"
    d_stop big
    rm -rf "$T/load-$BL-$rep"
    say "rep $rep: fdatasync of a 64-byte append, 1000 times; small commits, 1 and 4 clients"
    line=$("$FLOOR" fsync "$T" 1000) || die "bench_floor fsync failed"
    for kv in $line; do
        rec "floor_${kv%%=*}" "$rep" "${kv#*=}"
    done
    commit_run "$rep" c1 k1 -n "$NCOMMITS" -c 1 -b 1 -r 1000 -o "$T/lat-c1-$rep"
    commit_run "$rep" c4 k1 -n "$NCOMMITS" -c 4 -b 1 -r 1000 -o "$T/lat-c4-$rep"
    commit_run "$rep" cr1 cr -n "$NCOMMITS" -c 1 -m create -b $((1000000 + rep * 100000))
    say "rep $rep: round trip of chorus_txid, $RTTN calls over TCP and over the UNIX socket"
    rtt_run "$rep" rtt_floor_tcp "" -e tcp
    rtt_run "$rep" rtt_tcp sb -t "127.0.0.1:${D_PORT[sb]}"
    rtt_run "$rep" rtt_floor_unix "" -e unix
    rtt_run "$rep" rtt_unix sb -t "unix:$SOCK"
    say "rep $rep: one-leaf commits with 0, 1, 5 two-phase subscribers, and 5 one after the other"
    sub_run "$rep" sub0 0
    sub_run "$rep" sub1 1
    sub_run "$rep" sub5 5
    sub_run "$rep" sub5s 5 -s
    say "rep $rep: restarts (a) journal, (b) snapshot + LYB, (c) snapshot JSON"
    restart_run "$rep" a "$T/rst-a" "$T/nocompact.conf"
    restart_run "$rep" b "$T/rst-b" "$T/small.conf"
    restart_run "$rep" c "$T/rst-c" "$T/small.conf"
    restart_run "$rep" b4k "$T/rst-b" "$T/small.conf" env CHORUS_HUGEPAGES=0
    nc_section "$rep"
done

# ---- where the time goes: stage timings at debug level, perf, strace ----
PERF=""
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$PROF/probe.data" true >/dev/null 2>&1; then
    PERF=1
fi
echo "perf=${PERF}" >>"$META"
# DWARF call graphs: libyang and glibc have no frame pointers
PERF_REC=(perf record -q -e cpu-clock -F 250 --call-graph dwarf,8192)
perf_start() { # NAME PID
    [ "$PERF" ] || return 0
    "${PERF_REC[@]}" -p "$2" -o "$PROF/$1.data" >/dev/null 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.3
}
perf_stop() { # NAME
    [ "$PERF" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null
    wait "$PERF_PID" 2>/dev/null
    perf_summary "$1"
}
# NAME.dso: self time by shared object; NAME.sym: time including callees by function (named
# functions only: libyang's static functions have no symbols here)
perf_summary() {
    perf report -i "$PROF/$1.data" --stdio --no-children --sort dso -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -n 8 >"$PROF/$1.dso"
    perf report -i "$PROF/$1.data" --stdio --children --sort sym -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' |
        grep -vE '\] (0x[0-9a-f]+|[0-9a-f]{16}|_start|main|__libc_start_main_impl|__libc_start_call_main|__libc_start_main)( |\(|$)' |
        head -n 300 >"$PROF/$1.sym"
}

# small commits on 1k routes at the example's log level: perf, then system calls
say "profile: 1000 one-leaf commits${PERF:+ under perf}, 200 under strace -c"
perf_start commits-1k "${D_PID[k1]}"
"$COMMITS" -t "127.0.0.1:${D_PORT[k1]}" -n 1000 -b 1 -r 1000 -v 1400000000 >/dev/null ||
    die "commits under perf failed"
perf_stop commits-1k
if command -v strace >/dev/null; then
    strace -c -f -p "${D_PID[k1]}" -o "$PROF/strace.txt" 2>/dev/null &
    SPID=$!
    PIDS+=("$SPID")
    sleep 0.5
    "$COMMITS" -t "127.0.0.1:${D_PORT[k1]}" -n 200 -w 0 -b 1 -r 1000 -v 1600000000 >/dev/null ||
        die "commits under strace failed"
    kill -INT "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
fi
d_stop k1
d_stop cr
d_stop sb

say "profile: $BL load, small commits and restarts at debug level${PERF:+, under perf}"
rm -rf "$T/prof"
d_start prof "$T/debug.conf" "$T/prof"
perf_start load "${D_PID[prof]}"
t0=$(now_us)
ctl prof load "$T/r$BL.xml" >/dev/null || die "profile load failed"
echo $((($(now_us) - t0) / 1000)) >"$PROF/load.ms"
perf_stop load
cp "$T/prof/chorusd.log" "$PROF/load.log"
perf_start commits "${D_PID[prof]}"
"$COMMITS" -t "127.0.0.1:${D_PORT[prof]}" -n 1000 -b 1 -r 1000 -v 1500000000 >"$PROF/commits.out" ||
    die "profile commits failed"
perf_stop commits
cp "$T/prof/chorusd.log" "$PROF/commits.log"
d_stop prof
for c in a b c; do
    case $c in a) dir=$T/rst-a conf=$T/debug.conf ;; b) dir=$T/rst-b conf=$T/small.conf ;; c) dir=$T/rst-c conf=$T/small.conf ;; esac
    if [ "$PERF" ]; then
        # perf runs chorusd; a kill -9 keeps the shutdown out of the profile
        d_start prof "$conf" "$dir" "${PERF_REC[@]}" -o "$PROF/restart-$c.data"
        echo "$READY_MS" >"$PROF/restart-$c.ms"
        kill -9 $(pgrep -P "${D_PID[prof]}") 2>/dev/null
        wait "${D_PID[prof]}" 2>/dev/null
        unset "D_PID[prof]"
        perf_summary "restart-$c"
    else
        d_start prof "$conf" "$dir"
        echo "$READY_MS" >"$PROF/restart-$c.ms"
        d_stop prof
    fi
done
cp "$T/rst-a/chorusd.log" "$PROF/restart-a.log"

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "elapsed_s=$((($(now_us) - T_BEGIN) / 1000000))" >>"$META"
cp "$T"/lat-*-1 "$PROF/" 2>/dev/null

# ---- the report ----
say "report: $OUT"
/usr/bin/python3 "$ROOT/bench/report.py" "$T" "$OUT" || die "report failed"
say "done in $((($(now_us) - T_BEGIN) / 1000)) ms"
