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
#   netconfd  Chorus vs Yuma123 netconfd (the Debian package), side by side in each repetition,
#             both over NETCONF over SSH, both driven by bench_nc: one edit-config of K routes
#             into an empty datastore, get-config of them all, delete of them all (a fresh
#             server per K: its VmHWM is that K's), sequential one-route edit-configs on an
#             empty datastore and on one holding PEER_BIG routes (the largest K netconfd
#             accepted in repetition 1, at most NCBIG), and get-config round trips on the
#             latter. netconfd runs on loopback with examples/routes/routes.yang, its own state
#             directory (startup file, YUMA_HOME), its own UNIX socket and its own sshd (a
#             generated sshd_config: 127.0.0.1, a port the kernel hands out, host key and a
#             root key made for the run, `Subsystem netconf /usr/sbin/netconf-subsystem
#             --ncxserver-sockname=PORT@SOCKET`); the system sshd is never touched. Each
#             netconfd request has a time limit (PEER_TIMEOUT): a refusal (<rpc-error>) or a
#             timeout is recorded as such, not a failure of the run. Server CPU of netconfd is
#             its own, and separately that of its sshd session and netconf-subsystem processes
#   profile   one more load, small commits and restarts at debug log level (stage timings),
#             under `perf record` when perf works here, and small commits under `strace -c`
#
#   cluster   bench/cluster.sh (after the repetitions, with its own): clusters of 1, 2, 3 and 5
#             nodes of examples/routes/cluster.sh: one-leaf commits/s and p50/p99 through node 0
#             (ratio to 1 node), a 100k-route NETCONF edit-config on 3 nodes vs 1, the join of a
#             4th node to a cluster holding 100k and (full run) 1M routes; appended to the report
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
#   BENCH_ONLY=LIST only these sections (names above, separated by commas or spaces), e.g.
#                   BENCH_ONLY=netconfd; the report leaves out what was not measured (give it a
#                   BENCH_OUT, or it replaces docs/benchmarks.md with the partial report)
#   BENCH_PEER_TIMEOUT=S  time limit of one netconfd request (default 300 s; 60 s quick)
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
SECTIONS="floor load latency commits rtt subs restart netconf netconfd cluster profile"
ONLY=$(echo "${BENCH_ONLY:-}" | tr ',' ' ')
for s in $ONLY; do
    case " $SECTIONS " in *" $s "*) ;; *)
        echo "bench: BENCH_ONLY: no section $s (sections: $SECTIONS)" >&2
        exit 2
        ;;
    esac
done
# want SECTION...: true when one of the sections is to run
want() {
    local s
    [ -z "$ONLY" ] && return 0
    for s in "$@"; do
        case " $ONLY " in *" $s "*) return 0 ;; esac
    done
    return 1
}

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
    PEERSIZES=(100 1000 10000) # routes per edit-config, Chorus vs netconfd
    PEER_TIMEOUT=${BENCH_PEER_TIMEOUT:-60}
    PEER_RTTN=1000
else
    SIZES=(100000 1000000)
    REPS=${BENCH_REPS:-3}
    NCOMMITS=2000
    LATN=500
    RTTN=20000
    NCSIZES=(100 1000 10000 100000)
    NCBIG=100000
    NCSEQ=1000
    PEERSIZES=(100 1000 10000 100000)
    PEER_TIMEOUT=${BENCH_PEER_TIMEOUT:-300}
    PEER_RTTN=2000
fi
PEER_SEQ_LIMIT=$((PEER_TIMEOUT / 5)) # s of sequential edits per run at most (bench_nc -L)
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
    # what the netconfd section made outside $T, if it made it (and nothing was put in since)
    [ -n "${PEER_MADE_RUNSSHD:-}" ] && rmdir /run/sshd 2>/dev/null
    [ -n "${PEER_MADE_YUMADIR:-}" ] && rmdir "$PEER_MADE_YUMADIR" 2>/dev/null
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

# ---- the peer: Yuma123 netconfd behind a private sshd ----
# peer_setup: the sshd (once per run) and netconfd's files; sets PEER_OK (or leaves a reason
# in PEER_WHY)
PEER_OK="" PEER_WHY="" SSHD_PID="" NCD_PID=""
peer_setup() {
    local P=$T/peer try port yhome b
    [ -n "$PEER_OK" ] && return 0
    for b in /usr/sbin/netconfd /usr/sbin/netconf-subsystem /usr/sbin/sshd /usr/bin/ssh-keygen; do
        [ -x "$b" ] || {
            PEER_WHY="$b is not installed (scripts/deps.sh --bench installs netconfd and openssh-server)"
            return 1
        }
    done
    [ "$(id -u)" = 0 ] || {
        PEER_WHY="sshd must run as root to authenticate sessions"
        return 1
    }
    mkdir -p "$P/ssh" "$P/yuma/data"
    cp "$ROUTES/routes.yang" "$P/routes.yang"
    NSOCK=$P/ncx.sock
    # netconfd makes ~/.yuma (the home of its user in the passwd file, whatever HOME says)
    yhome=$(getent passwd "$(id -un)" | cut -d: -f6)/.yuma
    [ -e "$yhome" ] || PEER_MADE_YUMADIR=$yhome
    if [ ! -d /run/sshd ]; then # sshd's privilege separation directory (Debian's unit makes it)
        mkdir -m 755 /run/sshd && PEER_MADE_RUNSSHD=1
    fi
    ssh-keygen -q -t ed25519 -N '' -C chorus-bench-host -f "$P/ssh/host_ed25519" &&
        ssh-keygen -q -t ed25519 -N '' -C chorus-bench-client -f "$P/ssh/client" &&
        cp "$P/ssh/client.pub" "$P/ssh/authorized_keys" || {
        PEER_WHY="ssh-keygen failed"
        return 1
    }
    for try in 1 2 3; do
        port=$(free_port)
        cat >"$P/ssh/sshd_config" <<EOF
# generated by bench/run.sh for this run only
Port $port
ListenAddress 127.0.0.1
HostKey $P/ssh/host_ed25519
PidFile $P/ssh/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $P/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxStartups 100
LogLevel ERROR
Subsystem netconf /usr/sbin/netconf-subsystem --ncxserver-sockname=$port@$NSOCK
EOF
        /usr/sbin/sshd -D -e -f "$P/ssh/sshd_config" 2>>"$P/sshd.log" &
        SSHD_PID=$!
        PIDS+=("$SSHD_PID")
        sleep 0.3
        kill -0 "$SSHD_PID" 2>/dev/null && break
        wait "$SSHD_PID" 2>/dev/null
        forget "$SSHD_PID"
        SSHD_PID=""
    done
    [ -n "$SSHD_PID" ] || {
        PEER_WHY="the private sshd did not start: $(tail -n 2 "$P/sshd.log")"
        return 1
    }
    PEER_PORT=$port
    PEER_SSH=(-s "127.0.0.1:$port" -u "$(id -un)" -i "$P/ssh/client" -H 100)
    PEER_OK=1
}

# nd_start N: a fresh netconfd whose startup file holds N routes (0: empty); fails after
# PEER_TIMEOUT s
nd_start() {
    local n=$1 P=$T/peer dir deadline
    dir=$P/state
    rm -rf "$dir" "$NSOCK"
    mkdir -p "$dir"
    if [ "$n" = 0 ]; then
        echo '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>' >"$dir/startup-cfg.xml"
    else
        /usr/bin/python3 "$ROUTES/gen-routes.py" "$n" --edit-config >"$dir/startup-cfg.xml"
    fi
    YUMA_HOME=$P/yuma /usr/sbin/netconfd --yuma-home="$P/yuma" --module="$P/routes.yang" \
        --startup="$dir/startup-cfg.xml" --ncxserver-sockname="$NSOCK" --log="$dir/netconfd.log" \
        --log-level=info --access-control=off --superuser="$(id -un)" --target=running \
        --indent=0 --port="$PEER_PORT" >"$dir/netconfd.out" 2>&1 &
    NCD_PID=$!
    PIDS+=("$NCD_PID")
    deadline=$(($(now_us) + PEER_TIMEOUT * 1000000))
    until [ -S "$NSOCK" ] && grep -q "Running netconfd server" "$dir/netconfd.log" 2>/dev/null; do
        if ! kill -0 "$NCD_PID" 2>/dev/null || [ "$(now_us)" -gt "$deadline" ]; then
            say "netconfd did not start with $n routes: $(tail -n 3 "$dir/netconfd.log" 2>/dev/null)"
            nd_stop
            return 1
        fi
        sleep 0.05
    done
}

nd_stop() {
    local i
    [ -n "$NCD_PID" ] || return 0
    kill -TERM "$NCD_PID" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$NCD_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$NCD_PID" 2>/dev/null
    wait "$NCD_PID" 2>/dev/null
    forget "$NCD_PID"
    NCD_PID=""
    rm -f "$NSOCK"
}

sshd_child_cpu_ms() { # CPU of the sshd's reaped children (sessions, netconf-subsystem), ms
    local f
    read -ra f <"/proc/$SSHD_PID/stat" || return 1
    echo $(((f[15] + f[16]) * 1000 / CLK_TCK))
}

# peer_run REP KEY SFX PID TIMEOUT ARGS...: bench_nc ARGS against the server PID (chorusd, or
# netconfd when PID is $NCD_PID), killed after TIMEOUT s. Records KEY_FIELD SFX as nc_run
# does, KEY_cpu_ms SFX (the server process), for netconfd KEY_sshcpu_ms SFX (its sshd session
# and netconf-subsystem), KEY_hwm_kb SFX, and KEY_status SFX: 0 done, 1 refused (an
# <rpc-error>, or the server closed the session before its reply), 2 timeout, 3 failed; the
# message of a refusal or failure (and netconfd's last error line) goes to peer-notes.tsv.
# Returns 0 when done.
peer_run() {
    local rep=$1 key=$2 sfx=$3 pid=$4 to=$5 c0 c1 s0=0 s1=0 rc kv n="" err i
    shift 5
    err=$T/peer-run.err
    c0=$(cpu_ms "$pid")
    [ "$pid" = "$NCD_PID" ] && s0=$(sshd_child_cpu_ms)
    NC_LINE=$(timeout -k 5 "$to" "$NCB" "$@" 2>"$err")
    rc=$?
    if [ "$pid" = "$NCD_PID" ]; then
        for i in $(seq 1 100); do # the session's processes end after bench_nc
            [ -z "$(pgrep -P "$SSHD_PID")" ] && break
            sleep 0.02
        done
        s1=$(sshd_child_cpu_ms)
    fi
    c1=$(cpu_ms "$pid")
    PEER_RC=$rc
    case $rc in
    0) rec "${key}_status$sfx" "$rep" 0 ;;
    3)
        rec "${key}_status$sfx" "$rep" 1
        printf '%s\t%s\t%s\n' "${key}$sfx" "$rep" "$(grep -m1 'rpc-error' "$err" | cut -c1-300)" >>"$T/peer-notes.tsv"
        say "$key$sfx: refused: $(grep -m1 'rpc-error' "$err" | cut -c1-200)"
        return 1
        ;;
    124 | 137)
        rec "${key}_status$sfx" "$rep" 2
        printf '%s\t%s\t%s\n' "${key}$sfx" "$rep" "no reply within $to s" >>"$T/peer-notes.tsv"
        say "$key$sfx: no reply within $to s"
        return 1
        ;;
    *)
        local why ncerr=""
        why=$(tail -n 1 "$err" | cut -c1-300)
        [ "$pid" = "$NCD_PID" ] &&
            ncerr=$(grep -i "error" "$T/peer/state/netconfd.log" 2>/dev/null | tail -n 1 | cut -c1-200)
        case $why in
        *"channel is closed"* | *"closed the session"*)
            rec "${key}_status$sfx" "$rep" 1
            why="the server closed the session before its reply ($why)"
            ;;
        *) rec "${key}_status$sfx" "$rep" 3 ;;
        esac
        printf '%s\t%s\t%s%s\n' "${key}$sfx" "$rep" "$why" "${ncerr:+; netconfd's log: $ncerr}" >>"$T/peer-notes.tsv"
        say "$key$sfx: exit $rc: $why${ncerr:+; netconfd's log: $ncerr}"
        return 1
        ;;
    esac
    for kv in $NC_LINE; do
        case ${kv%%=*} in
        wall_ms | p50_us | p99_us | mean_us | min_us | max_us | commits_per_s | request_bytes | \
            reply_bytes | connect_ms)
            rec "${key}_${kv%%=*}$sfx" "$rep" "${kv#*=}"
            ;;
        n | commits) n=${kv#*=} && rec "${key}_n$sfx" "$rep" "$n" ;;
        target | framing) echo "${key}_${kv%%=*}=${kv#*=}" >>"$META" ;;
        esac
    done
    rec "${key}_cpu_ms$sfx" "$rep" $((c1 - c0))
    [ "$pid" = "$NCD_PID" ] && rec "${key}_sshcpu_ms$sfx" "$rep" $((s1 - s0))
    if [ "$n" ] && [ "$n" -gt 0 ]; then
        rec "${key}_cpu_us$sfx" "$rep" $(((c1 - c0) * 1000 / n))
        [ "$pid" = "$NCD_PID" ] && rec "${key}_sshcpu_us$sfx" "$rep" $(((s1 - s0) * 1000 / n))
    fi
    rec "${key}_hwm_kb$sfx" "$rep" "$(status_kb VmHWM "$pid")"
    return 0
}

# peer_section REP: Chorus and netconfd side by side (see the header); keys pc_* (chorusd)
# and pn_* (netconfd)
PEER_SKIP=" " # sizes netconfd timed out on: not tried again in later repetitions
PEER_BIG=""
peer_section() {
    local rep=$1 n L ssh v base big=0
    if ! peer_setup; then
        say "netconfd: left out: $PEER_WHY"
        echo "peer_why=$PEER_WHY" >>"$META"
        return 0
    fi
    v=$((4000000 + rep * 10000))
    for n in "${PEERSIZES[@]}"; do
        L=$(label "$n")
        say "rep $rep: chorus vs netconfd: edit-config of $L routes, get-config, delete (SSH)"
        rm -rf "$T/pc"
        d_start pc "$CONF_EXAMPLE" "$T/pc"
        grep -q "NETCONF over SSH on" "$T/pc/chorusd.log" 2>/dev/null ||
            die "chorusd serves no NETCONF over SSH: no like-for-like comparison"
        ssh=(-s "127.0.0.1:${D_NCSSH[pc]}" -u admin -P admin)
        rec "pc_idle_rss_kb@$L" "$rep" "$(status_kb VmRSS "${D_PID[pc]}")"
        peer_run "$rep" pc_edit "@$L" "${D_PID[pc]}" 3600 "${ssh[@]}" -k "$n" -b 1 edit &&
            peer_run "$rep" pc_getall "@$L" "${D_PID[pc]}" 3600 "${ssh[@]}" -k "$n" getall &&
            peer_run "$rep" pc_delete "@$L" "${D_PID[pc]}" 3600 "${ssh[@]}" delete ||
            die "chorusd failed a NETCONF workload over SSH (see above)"
        "$NCB" "${ssh[@]}" -k 0 getall >/dev/null || die "chorusd still holds routes after the delete of $L"
        d_stop pc
        rm -rf "$T/pc"
        case $PEER_SKIP in *" $L "*)
            rec "pn_edit_status@$L" "$rep" 4
            continue
            ;;
        esac
        nd_start 0 || die "netconfd did not start (empty datastore)"
        rec "pn_idle_rss_kb@$L" "$rep" "$(status_kb VmRSS "$NCD_PID")"
        if peer_run "$rep" pn_edit "@$L" "$NCD_PID" "$PEER_TIMEOUT" "${PEER_SSH[@]}" -k "$n" -b 1 edit; then
            [ "$rep" = 1 ] && [ "$n" -le "$NCBIG" ] && big=$n
            peer_run "$rep" pn_getall "@$L" "$NCD_PID" "$PEER_TIMEOUT" "${PEER_SSH[@]}" -k "$n" getall
            peer_run "$rep" pn_delete "@$L" "$NCD_PID" "$PEER_TIMEOUT" "${PEER_SSH[@]}" delete &&
                { timeout "$PEER_TIMEOUT" "$NCB" "${PEER_SSH[@]}" -k 0 getall >/dev/null ||
                    die "netconfd's running still holds routes after the delete of $L"; }
        else
            case $PEER_RC in 124 | 137) PEER_SKIP="$PEER_SKIP$L " ;; esac
            rec "pn_fail_hwm_kb@$L" "$rep" "$(status_kb VmHWM "$NCD_PID")"
        fi
        nd_stop
    done
    if [ "$rep" = 1 ]; then
        PEER_BIG=$big
        [ "$PEER_BIG" -gt 0 ] || PEER_BIG=100
        echo "peer_big=$(label "$PEER_BIG")" >>"$META"
    fi

    say "rep $rep: chorus vs netconfd: $NCSEQ sequential one-route edit-configs, empty datastore"
    rm -rf "$T/pc"
    d_start pc "$CONF_EXAMPLE" "$T/pc"
    ssh=(-s "127.0.0.1:${D_NCSSH[pc]}" -u admin -P admin)
    peer_run "$rep" pc_seq_empty "" "${D_PID[pc]}" 3600 "${ssh[@]}" -n "$NCSEQ" -W 20 -b 1 -v "$v" \
        -L "$PEER_SEQ_LIMIT" -o "$T/lat-pcseq-empty-$rep" seq || die "chorusd: sequential edits over SSH failed"
    d_stop pc
    nd_start 0 || die "netconfd did not start (empty datastore)"
    peer_run "$rep" pn_seq_empty "" "$NCD_PID" $((PEER_SEQ_LIMIT + PEER_TIMEOUT)) "${PEER_SSH[@]}" \
        -n "$NCSEQ" -W 20 -b 1 -v "$v" -L "$PEER_SEQ_LIMIT" -o "$T/lat-pnseq-empty-$rep" seq
    nd_stop

    L=$(label "$PEER_BIG")
    base=$((PEER_BIG + 1))
    say "rep $rep: chorus vs netconfd: sequential edit-configs and round trips, $L routes"
    rm -rf "$T/pc"
    d_start pc "$CONF_EXAMPLE" "$T/pc"
    ssh=(-s "127.0.0.1:${D_NCSSH[pc]}" -u admin -P admin)
    peer_run "$rep" pc_fill "" "${D_PID[pc]}" 3600 "${ssh[@]}" -k "$PEER_BIG" -b 1 edit ||
        die "chorusd: edit-config of $L routes failed"
    peer_run "$rep" pc_rtt_big "" "${D_PID[pc]}" 3600 "${ssh[@]}" -n "$PEER_RTTN" -W 100 -b 1 rtt ||
        die "chorusd: round trips over SSH failed"
    peer_run "$rep" pc_seq_big "" "${D_PID[pc]}" 3600 "${ssh[@]}" -n "$NCSEQ" -W 20 -b "$base" \
        -v "$v" -L "$PEER_SEQ_LIMIT" -o "$T/lat-pcseq-big-$rep" seq || die "chorusd: sequential edits over SSH failed"
    d_stop pc
    rm -rf "$T/pc"
    nd_start 0 || die "netconfd did not start (empty datastore)"
    if peer_run "$rep" pn_fill "" "$NCD_PID" "$PEER_TIMEOUT" "${PEER_SSH[@]}" -k "$PEER_BIG" -b 1 edit; then
        peer_run "$rep" pn_rtt_big "" "$NCD_PID" "$PEER_TIMEOUT" "${PEER_SSH[@]}" -n "$PEER_RTTN" \
            -W 100 -b 1 rtt
        peer_run "$rep" pn_seq_big "" "$NCD_PID" $((PEER_SEQ_LIMIT + PEER_TIMEOUT)) "${PEER_SSH[@]}" \
            -n "$NCSEQ" -W 20 -b "$base" -v "$v" -L "$PEER_SEQ_LIMIT" -o "$T/lat-pnseq-big-$rep" seq
    fi
    nd_stop
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
    echo "only=$ONLY"
    echo "peer_sizes=$(for s in "${PEERSIZES[@]}"; do printf '%s ' "$(label "$s")"; done)"
    echo "peer_timeout=$PEER_TIMEOUT"
    echo "peer_seq_limit=$PEER_SEQ_LIMIT"
    echo "peer_rttn=$PEER_RTTN"
    echo "netconfd=$(dpkg-query -W -f='${Version}' netconfd 2>/dev/null)"
    echo "openssh=$(dpkg-query -W -f='${Version}' openssh-server 2>/dev/null)"
} >"$META"
T_BEGIN=$(now_us)

# ---- inputs and configurations ----
say "bench: $(label "$BIG") routes, $REPS repetitions, in $T"
GEN=(1000)
want floor load latency restart profile && GEN+=("${SIZES[@]}")
want netconf && GEN+=("${NCSIZES[@]}" "$NCBIG")
for n in "${GEN[@]}"; do
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
if want latency commits profile; then
    d_start k1 "$CONF_EXAMPLE" "$T/db-1k"
    ctl k1 load "$T/r1k.xml" >/dev/null || die "load of 1k failed"
fi
want commits && d_start cr "$CONF_EXAMPLE" "$T/db-create"
# ---- and one with 1k routes and a UNIX socket too, for the round trips and the subscribers ----
if want rtt subs; then
    d_start sb "$T/unix.conf" "$T/db-sb"
    ctl sb load "$T/r1k.xml" >/dev/null || die "load of 1k failed"
    [ -S "$SOCK" ] || die "chorusd did not create the UNIX socket $SOCK"
fi

# ---- databases for the restarts ----
if want restart profile; then
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
fi

# ---- the repetitions ----
for rep in $(seq 1 "$REPS"); do
    for n in "${SIZES[@]}"; do
        L=$(label "$n")
        if want floor; then
            say "rep $rep: floor $L"
            floor_run "$rep" "$n"
        fi
        if [ "$n" = "$BIG" ] && want latency; then
            say "rep $rep: load $L"
            load_run "$rep" "$n" "$CONF_EXAMPLE" "$THR_DEFAULT" keep
        elif want load; then
            say "rep $rep: load $L"
            load_run "$rep" "$n" "$CONF_EXAMPLE" "$THR_DEFAULT" ""
        fi
    done
    if want latency; then
        say "rep $rep: one-leaf commit latency, 1k vs $BL routes"
        commit_run "$rep" lat1k k1 -n "$LATN" -b 1 -r 1000 -o "$T/lat-1k-$rep"
        commit_run "$rep" latbig big -n "$LATN" -b 1 -r 1000 -o "$T/lat-big-$rep"
        d_stop big
        rm -rf "$T/load-$BL-$rep"
    fi
    if want commits; then
        say "rep $rep: fdatasync of a 64-byte append, 1000 times; small commits, 1 and 4 clients"
        line=$("$FLOOR" fsync "$T" 1000) || die "bench_floor fsync failed"
        for kv in $line; do
            rec "floor_${kv%%=*}" "$rep" "${kv#*=}"
        done
        commit_run "$rep" c1 k1 -n "$NCOMMITS" -c 1 -b 1 -r 1000 -o "$T/lat-c1-$rep"
        commit_run "$rep" c4 k1 -n "$NCOMMITS" -c 4 -b 1 -r 1000 -o "$T/lat-c4-$rep"
        commit_run "$rep" cr1 cr -n "$NCOMMITS" -c 1 -m create -b $((1000000 + rep * 100000))
    fi
    if want rtt; then
        say "rep $rep: round trip of chorus_txid, $RTTN calls over TCP and over the UNIX socket"
        rtt_run "$rep" rtt_floor_tcp "" -e tcp
        rtt_run "$rep" rtt_tcp sb -t "127.0.0.1:${D_PORT[sb]}"
        rtt_run "$rep" rtt_floor_unix "" -e unix
        rtt_run "$rep" rtt_unix sb -t "unix:$SOCK"
    fi
    if want subs; then
        say "rep $rep: one-leaf commits with 0, 1, 5 two-phase subscribers, and 5 one after the other"
        sub_run "$rep" sub0 0
        sub_run "$rep" sub1 1
        sub_run "$rep" sub5 5
        sub_run "$rep" sub5s 5 -s
    fi
    if want restart; then
        say "rep $rep: restarts (a) journal, (b) snapshot + LYB, (c) snapshot JSON"
        restart_run "$rep" a "$T/rst-a" "$T/nocompact.conf"
        restart_run "$rep" b "$T/rst-b" "$T/small.conf"
        restart_run "$rep" c "$T/rst-c" "$T/small.conf"
        restart_run "$rep" b4k "$T/rst-b" "$T/small.conf" env CHORUS_HUGEPAGES=0
    fi
    want netconf && nc_section "$rep"
    want netconfd && peer_section "$rep"
done

# ---- the cluster (bench/cluster.sh: clusters of 1, 2, 3, 5 nodes of examples/routes/cluster.sh,
# small-commit rate and latency, a 100k-route edit-config on 3 nodes and on 1, joins of 100k
# and 1M routes; its own repetitions, pair by pair; its section is appended to the report) ----
if want cluster; then
    say "cluster: bench/cluster.sh ($REPS repetitions)"
    BENCH_REPS=$REPS BENCH_QUICK=$QUICK "$ROOT/bench/cluster.sh" "$BUILD" "$T/cluster.md" >/dev/null ||
        die "bench/cluster.sh failed"
fi

if [ -n "$SSHD_PID" ]; then # the netconfd section's sshd
    kill "$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    forget "$SSHD_PID"
fi

# ---- where the time goes: stage timings at debug level, perf, strace ----
PERF=""
if want profile; then
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
    for d in k1 cr sb; do
        [ -n "${D_PID[$d]:-}" ] && d_stop "$d"
    done

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
fi
for d in k1 cr sb; do
    [ -n "${D_PID[$d]:-}" ] && d_stop "$d"
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "elapsed_s=$((($(now_us) - T_BEGIN) / 1000000))" >>"$META"
cp "$T"/lat-*-1 "$PROF/" 2>/dev/null

# ---- the report ----
say "report: $OUT"
/usr/bin/python3 "$ROOT/bench/report.py" "$T" "$OUT" || die "report failed"
if [ -f "$T/cluster.md" ]; then
    { echo; cat "$T/cluster.md"; } >>"$OUT"
fi
say "done in $((($(now_us) - T_BEGIN) / 1000)) ms"
