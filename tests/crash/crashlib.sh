#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers of the crash tests (sourced; sources ../lib.sh). A crash test kills chorusd with
# SIGKILL -- from outside (kill -9) or from inside at the N-th write, fsync or rename of the
# journal and snapshot code (CHORUS_FAULT, src/daemon/fault.h) -- restarts it without the fault
# and checks what jnl.c promises: the start succeeds, running is exactly the state before or
# exactly the state after the interrupted transaction, the transaction id matches that state,
# acknowledged commits are never lost and the next commit works and survives a restart.
#
#   node_spawn NAME [opts]   like node_start, but a death during start-up is an outcome: returns
#                            1 with NAME_STATUS set (137 after SIGKILL). Keeps NAME's port over
#                            restarts (python's start-up costs 0.3 s per free_port here).
#   node_up NAME [opts]      node_spawn that must succeed
#   node_reap NAME [SECS]    wait for NAME's process to exit; sets NAME_STATUS
#   node_crash NAME          kill -9, and wait until it is gone
#   node_down NAME           chorusctl stop; the exit status must be 0
#   wait_unlocked DIR [SECS] wait until no process holds DIR/LOCK open (a compaction child
#                            outlives a killed daemon and keeps the lock)
#   state NAME FILE          running (chorusctl save) into FILE, its txid into FILE.txid
#   state_is FILE A B        prints "before"/"after"/"neither": which of A and B FILE equals
#   fault_max FILE KIND      highest N of "fault: KIND N" lines in FILE (0 if none)
#   route_xml ID [SEED]      one route as XML, generated without python
#   routes_gen ARGS          examples/routes/gen-routes.py (python -S: fast start-up)
#   bad MSG / check_bad      collect an inconsistency and go on; fail at the end with all of them
. "$(dirname "$0")/../lib.sh"

RT="/routes:active-cfg/routes/route"
FAILS=()

# The default configuration of the crash tests: the defaults, NETCONF off (tests run in
# parallel and must not share the NETCONF ports).
CONF=$T/chorusd.conf
cat >"$CONF" <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database><dir>./unused</dir></database>
  <netconf><enabled>false</enabled></netconf>
</chorusd>
EOF

# A configuration with the smallest compaction threshold (4096 bytes) and no NETCONF: every
# few commits write a snapshot in a forked child.
small_conf() {
    cat >"$1" <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>./unused</dir>
    <compact-threshold>4096</compact-threshold>
  </database>
  <netconf><enabled>false</enabled></netconf>
</chorusd>
EOF
}

# Processes that hold a LOCK under $T open: daemons and their compaction children. Only our own
# processes can have these files open.
lock_holders() {
    local pat=${1:-$T/*/LOCK} f
    find /proc/[0-9]*/fd -maxdepth 1 -lname "$pat" 2>/dev/null | while read -r f; do
        f=${f#/proc/}
        echo "${f%%/*}"
    done | sort -u
}

# Why NAME's start failed: its exit status and its error (or last) line.
why() {
    local st l
    eval "st=\${${1}_STATUS:-?}"
    l=$(grep -m 1 ERROR "$T/$1.out")
    [ -n "$l" ] || l=$(tail -n 1 "$T/$1.out")
    echo "(exit $st) ${l#*ERROR }"
}

# stale *.tmp files of DIR (nothing when there are none)
tmp_files() {
    local f out=
    for f in "$1"/*.tmp; do
        [ -e "$f" ] && out+="${f##*/} "
    done
    echo "$out"
}

# the files of a database directory other than LOCK, the log, the rollback directory and the
# stored module set (schema/, src/daemon/upg.h)
db_files() {
    (cd "$T/$1" && ls -1 | grep -v -e '^LOCK$' -e '^chorusd.log$' -e '^rollback$' -e '^schema$' |
        tr '\n' ' ')
}

# what db_files shows after compaction T: journal-T, snapshot-T.json and snapshot-T.lyb
only_newest() {
    printf 'journal-%020d.log snapshot-%020d.json snapshot-%020d.lyb ' "$1" "$1" "$1"
}

# whether process PID holds DIR/LOCK open
holds_lock() {
    local h
    h=" $(lock_holders "$1/LOCK" | tr '\n' ' ') "
    [[ "$h" == *" $2 "* ]]
}

wait_unlocked() {
    local dir=$1 secs=${2:-60} i
    for ((i = 0; i < secs * 20; i++)); do
        [ -z "$(lock_holders "$dir/LOCK")" ] && return 0
        sleep 0.05
    done
    die "$dir/LOCK is still held by $(lock_holders "$dir/LOCK") after ${secs}s"
}

crash_kill_orphans() {
    local rc=$? p
    for p in $(lock_holders); do
        kill -9 "$p" 2>/dev/null
    done
    return $rc
}
trap 'crash_kill_orphans; cleanup' EXIT

# chorusd runs under a subshell that records its exit status in $T/NAME.status (bash would
# otherwise print a "Killed" notice for every injected crash on the test's stderr).
node_spawn() {
    local name=$1 port pid i st
    shift
    mkdir -p "$T/$name"
    for _ in 1 2 3; do
        eval "port=\${${name}_PORT:-}"
        [ -n "$port" ] || port=$(free_port)
        rm -f "$T/$name.pid" "$T/$name.status"
        (
            "$CHORUSD" -c "${NODE_CONF:-$CONF}" --addloadpath "${LOADPATH:-$ROUTES_DIR}" \
                --dbdir "$T/$name" --ipc-port "$port" --foreground "$@" &
            echo $! >"$T/$name.pid.tmp"
            mv "$T/$name.pid.tmp" "$T/$name.pid"
            wait $!
            echo $? >"$T/$name.status.tmp"
            mv "$T/$name.status.tmp" "$T/$name.status"
        ) >"$T/$name.out" 2>&1 &
        PIDS+=("$!")
        eval "${name}_SPID=$!"
        for ((i = 0; i < 500; i++)); do
            [ -f "$T/$name.pid" ] && break
            sleep 0.01
        done
        pid=$(cat "$T/$name.pid")
        PIDS+=("$pid")
        eval "${name}_PORT=$port ${name}_PID=$pid ${name}_STATUS="
        # the port may be held by an orphaned snapshot writer of a killed daemon (it inherits
        # the listening socket): the daemon that answers must be this one
        # (timeout(1): chorusctl -t does not bound the connection's hello)
        if wait_port "$port" "$pid"; then
            for ((i = 0; i < 10; i++)); do
                st=$(timeout 3 "$CHORUSCTL" -p "$port" -t 3 status 2>/dev/null)
                [[ "$st" == *"\"pid\": $pid,"* ]] && return 0
                kill -0 "$pid" 2>/dev/null || break
            done
        fi
        node_reap "$name" 20 || die "node $name neither answers on port $port nor exits"
        # somebody else took the port while the node was down: take another one
        grep -q "cannot open the IPC port" "$T/$name.out" || return 1
        eval "${name}_PORT="
    done
    return 1
}

# Wait for NAME's chorusd to exit; sets NAME_STATUS (137 after SIGKILL).
node_reap() {
    local name=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 50; i++)); do
        if [ -f "$T/$name.status" ]; then
            eval "${name}_STATUS=$(cat "$T/$name.status")"
            forget_pids "$name"
            if grep -q -e "Sanitizer" -e "runtime error:" "$T/$name.out"; then
                die "node $name: sanitizer report: $(grep -m 5 -e Sanitizer -e 'runtime error:' -e '#[0-9]' "$T/$name.out")"
            fi
            return 0
        fi
        sleep 0.02
    done
    return 1
}

# Dead processes leave the cleanup list (their pids may be reused by then).
forget_pids() {
    local pid spid p keep=()
    eval "pid=\${${1}_PID} spid=\${${1}_SPID}"
    wait "$spid" 2>/dev/null
    for p in "${PIDS[@]}"; do
        [ "$p" = "$pid" ] || [ "$p" = "$spid" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# kill -9 (if still running) and wait until it is gone
node_crash() {
    local pid
    eval "pid=\${${1}_PID:-}"
    [ -n "$pid" ] || return 0
    [ -f "$T/$1.status" ] || kill -9 "$pid" 2>/dev/null
    node_reap "$1" 30 || die "node $1 survives kill -9"
}

# chorusctl stop; the daemon must exit with status 0 (under the sanitizers: no error, no leak)
node_down() {
    local st
    ctl "$1" stop >/dev/null 2>&1
    node_reap "$1" 30 || { node_crash "$1"; die "node $1 did not stop"; }
    eval "st=\${${1}_STATUS}"
    [ "$st" = 0 ] || die "node $1 exited with status $st: $(tail -n 20 "$T/$1.out")"
}

node_up() {
    node_spawn "$@" || die "node $1 did not start (status $(eval echo "\${$1_STATUS}")): $(tail -n 5 "$T/$1.out")"
}

state() {
    ctl "$1" save >"$2" 2>"$2.err" || die "save of $1 failed: $(cat "$2.err")"
    ctl "$1" txid >"$2.txid" 2>"$2.err" || die "txid of $1 failed: $(cat "$2.err")"
}

same_state() {
    cmp -s "$1" "$2" && cmp -s "$1.txid" "$2.txid"
}

state_is() {
    if same_state "$1" "$2"; then
        echo before
    elif same_state "$1" "$3"; then
        echo after
    else
        echo neither
    fi
}

# One line explaining how FILE differs from the states A and B.
state_diff() {
    local f=$1 a=$2 b=$3
    echo "txid $(cat "$f.txid") (before $(cat "$a.txid"), after $(cat "$b.txid")); data equals" \
        "$(cmp -s "$f" "$a" && echo before || { cmp -s "$f" "$b" && echo after || echo neither; })" \
        "($(wc -l <"$f") lines; before $(wc -l <"$a"), after $(wc -l <"$b"))"
}

fault_max() {
    awk -v k="$2" '$1 == "fault:" && $2 == k && $3 + 0 > m { m = $3 + 0 } END { print m + 0 }' "$1"
}

route_xml() {
    local id=$((10#$1)) s=${2:-0} v
    v=$(((id * 7 + s) % 1000000))
    printf '<active-cfg xmlns="urn:chorus:example:routes"><routes><route><id>%07d</id>' "$id"
    printf '<leaf1>%d</leaf1><leaf2>%d</leaf2><leaf3>%d</leaf3><leaf4>%d</leaf4></route>' \
        "$v" $((v + 1)) $((v + 2)) $((v + 3))
    printf '</routes></active-cfg>\n'
}

routes_gen() {
    /usr/bin/python3 -S "$ROUTES_DIR/gen-routes.py" "$@"
}

# The txid of the newest rollback file (rollback list, first row), or "none".
newest_rollback() {
    ctl "$1" rollback list 2>/dev/null | awk 'NR == 2 { print $2; found = 1 } END { if (!found) print "none" }'
}

# A status member of a node (a number or true/false), e.g. status_of n0 snapshot_txid.
status_of() {
    ctl "$1" status 2>/dev/null | tr ',{}' '\n\n\n' | awk -v k="\"$2\":" '$1 == k { print $2; exit }'
}

# Wait until no compaction runs on NAME (its child was reaped).
wait_compacted() {
    local name=$1 secs=${2:-60} i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(status_of "$name" compacting)" = false ] && return 0
        sleep 0.05
    done
    die "node $name is still compacting after ${secs}s"
}

is_asan() {
    grep -q __asan_init "$CHORUSD" 2>/dev/null
}

bad() {
    FAILS+=("$*")
    echo "  INCONSISTENT: $*" >&2
}

check_bad() {
    if [ "${#FAILS[@]}" -gt 0 ]; then
        echo "---- ${#FAILS[@]} failure(s):" >&2
        printf '  %s\n' "${FAILS[@]}" >&2
        die "$1"
    fi
}

# The records of a journal file, one per line: OFFSET TYPE LENGTH TXID (jnl.c: a 64-byte
# header, then records of a 20-byte header and a payload; types 1 TXN, 2 COMMIT, 3 ABORT,
# 4 MODSET). Stops at the first record that does not fit.
jnl_records() {
    /usr/bin/python3 -S - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos = 64
while pos + 20 <= len(d):
    l, t = struct.unpack(">IB", d[pos:pos + 5])
    txid = struct.unpack(">Q", d[pos + 8:pos + 16])[0]
    if pos + 20 + l > len(d):
        break
    print(pos, t, l, txid)
    pos += 20 + l
PY
}

# flip FILE OFFSET: invert the byte at OFFSET
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

file_size() {
    stat -c %s "$1"
}
