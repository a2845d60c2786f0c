#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The SSH transport of the NETCONF server (src/daemon/nc/ssh.c) alone, through
# tests/ssh_relay_test (an echo server behind nc_ssh_start()), with Debian's OpenSSH client
# and paramiko: public-key and password logins, the "netconf" subsystem relaying bytes both
# ways (a large transfer too), closing from either side, refused keys, passwords, exec, shell
# and other subsystems, the limit on failed logins and on connections, the host key (created
# 0600, reused at the next start) and a refused bind.
. "$(dirname "$0")/../lib.sh"

RELAY="${CHORUS_BUILD:-}/tests/ssh_relay_test"
[ -x "$RELAY" ] || die "$RELAY is not built"
PY=/usr/bin/python3
# the password of admin is "admin" (the example's hash)
HASH=$(sed -n 's:.*<password>\(.*\)</password>.*:\1:p' "$CONF")
[ -n "$HASH" ] || die "no password hash in $CONF"

ssh-keygen -q -t ed25519 -N '' -C good -f "$T/good" || die "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -C bad -f "$T/bad" || die "ssh-keygen"
conf_file relay \
    "<netconf><max-sessions>3</max-sessions></netconf>" \
    "<aaa><user><name>admin</name><password>$HASH</password></user>
          <user><name>keyuser</name><authorized-key>$(cat "$T/good.pub")</authorized-key></user></aaa>" \
    "<logging><level>info</level></logging>" >/dev/null
DB="$T/relay-db"

# relay_start: start ssh_relay_test on a free port (another on a port taken meanwhile);
# sets PORT and RPID, output in $T/relay.out / $T/relay.err (appended)
relay_start() {
    local try i
    for try in 1 2 3 4 5; do
        PORT=$(free_port)
        : >"$T/relay.out"
        "$RELAY" "$T/relay.conf" "$PORT" >>"$T/relay.out" 2>>"$T/relay.err" &
        RPID=$!
        PIDS+=("$RPID")
        for i in $(seq 1 200); do
            grep -q '^READY' "$T/relay.out" && return 0
            kill -0 "$RPID" 2>/dev/null || break
            sleep 0.05
        done
        wait "$RPID" 2>/dev/null
        pids_forget "$RPID"
        tail -n 2 "$T/relay.err" | grep -q "Address already in use" || break
    done
    die "ssh_relay_test did not start: $(tail -n 5 "$T/relay.err")"
}

relay_stop() {
    local st
    kill -TERM "$RPID"
    wait "$RPID"
    st=$?
    pids_forget "$RPID"
    [ "$st" -eq 0 ] || die "ssh_relay_test exited with status $st: $(tail -n 20 "$T/relay.err")"
}

# the number of open SSH connections, as nc_ssh_connections() says
connections() {
    local n
    n=$(grep -c '^CONNECTIONS' "$T/relay.out")
    kill -USR1 "$RPID"
    for _ in $(seq 1 100); do
        [ "$(grep -c '^CONNECTIONS' "$T/relay.out")" -gt "$n" ] && break
        sleep 0.02
    done
    grep '^CONNECTIONS' "$T/relay.out" | tail -n 1 | cut -d' ' -f2
}

# wait until nc_ssh_connections() is N
connections_are() {
    for _ in $(seq 1 100); do
        [ "$(connections)" = "$1" ] && return 0
        sleep 0.05
    done
    die "expected $1 SSH connections, have $(connections)"
}

sshc() {
    timeout 20 ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o IdentityAgent=none -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR \
        -o ConnectTimeout=10 -p "$PORT" "$@"
}

# paramiko (through python3-ncclient's dependency): password logins
paramiko() {
    timeout 60 "$PY" - "$PORT" "$@" <<'EOF'
import os, socket, sys, time, paramiko
port, what = int(sys.argv[1]), sys.argv[2]

def transport():
    t = paramiko.Transport(("127.0.0.1", port))
    t.start_client(timeout=10)
    return t

if what == "echo":  # USER PASSWORD: the subsystem echoes
    t = transport()
    t.auth_password(sys.argv[3], sys.argv[4])
    ch = t.open_session()
    ch.invoke_subsystem("netconf")
    ch.sendall(b"<hello/>]]>]]>")
    got = b""
    while len(got) < 14:
        d = ch.recv(100)
        if not d:
            break
        got += d
    print("ECHO", got.decode())
    ch.close()
    t.close()
elif what == "denied":  # USER PASSWORD: refused
    t = transport()
    try:
        t.auth_password(sys.argv[3], sys.argv[4])
        print("ACCEPTED")
    except paramiko.AuthenticationException:
        print("DENIED")
    t.close()
elif what == "tries":  # wrong passwords until the server hangs up
    t = transport()
    n = 0
    for i in range(20):
        try:
            t.auth_password("admin", "wrong%d" % i)
        except paramiko.AuthenticationException:
            n += 1
        except (paramiko.SSHException, EOFError, OSError):
            break
        if not t.is_active():
            break
    print("FAILED", n, "ACTIVE", t.is_active())
    t.close()
elif what == "hold":  # N plain TCP connections that got the banner; the next one must not
    n = int(sys.argv[3])
    held = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if not s.recv(100).startswith(b"SSH-2.0-"):
            print("NO BANNER", i)
        held.append(s)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("EXTRA", repr(s.recv(100)))
    sys.stdout.flush()
    for i in range(600):  # hold them until told (the file sys.argv[4] exists)
        if os.path.exists(sys.argv[4]):
            break
        time.sleep(0.05)
EOF
}

relay_start

# ---- the host key: generated 0600 into the database directory ----
KEY="$DB/ssh_host_ed25519_key"
[ -f "$KEY" ] || die "no host key in $DB: $(ls -la "$DB")"
[ "$(stat -c %a "$KEY")" = 600 ] || die "host key mode $(stat -c %a "$KEY")"
served_key() {
    ssh-keyscan -T 10 -t ed25519 -p "$PORT" 127.0.0.1 2>/dev/null | awk '{print $2, $3}'
}
FP1=$(served_key)
[ "$FP1" = "$(ssh-keygen -y -f "$KEY" | awk '{print $1, $2}')" ] ||
    die "served host key [$FP1] is not $KEY"

subtest_pubkey() {
    local out
    # public key + subsystem netconf: echoed, and the client's EOF ends the session cleanly
    out=$(printf 'hello\nworld\n' | sshc -i "$T/good" keyuser@127.0.0.1 -s netconf) ||
        die "public-key login: $out"
    [ "$out" = "$(printf 'hello\nworld\n')" ] || die "echo: [$out]"
    grep -q '^ACCEPT keyuser 127.0.0.1$' "$T/relay.out" || die "no ACCEPT line: $(cat "$T/relay.out")"
    # the daemon's side closes first ("bye"): the client is told and exits, though its input
    # stays open
    mkfifo "$T/in"
    sshc -i "$T/good" keyuser@127.0.0.1 -s netconf <"$T/in" >"$T/bye.out" 2>&1 &
    exec 8>"$T/in"
    printf 'one\nbye\n' >&8
    wait $! || die "server-side close: $(cat "$T/bye.out")"
    exec 8>&-
    out=$(cat "$T/bye.out")
    [ "$out" = "$(printf 'one\nbye\n')" ] || die "echo before the close: [$out]"
    # 4 MB both ways through the bounded buffers
    head -c 4000000 /dev/urandom >"$T/big"
    sshc -i "$T/good" keyuser@127.0.0.1 -s netconf <"$T/big" >"$T/big.back" || die "large transfer"
    cmp -s "$T/big" "$T/big.back" || die "large transfer: $(stat -c %s "$T/big.back") bytes back"
    connections_are 0
}

subtest_refused() {
    local out
    # a key the user does not have
    fails sshc -i "$T/bad" keyuser@127.0.0.1 -s netconf </dev/null
    contains "Permission denied" "$(last_out)"
    grep -q 'WARN SSH login failed: user keyuser from 127.0.0.1 (publickey)' "$T/relay.err" ||
        die "no log line for the refused key"
    # the right key for another user
    fails sshc -i "$T/good" admin@127.0.0.1 -s netconf </dev/null
    contains "Permission denied" "$(last_out)"
    # exec, shell (with and without a pty), another subsystem
    fails sshc -i "$T/good" keyuser@127.0.0.1 ls </dev/null
    contains "exec request failed" "$(last_out)"
    fails sshc -i "$T/good" -T keyuser@127.0.0.1 </dev/null
    fails sshc -i "$T/good" -tt keyuser@127.0.0.1 </dev/null
    contains "PTY allocation request failed" "$(last_out)"
    fails sshc -i "$T/good" keyuser@127.0.0.1 -s sftp </dev/null
    contains "subsystem request failed" "$(last_out)"
    grep -q 'refused exec request of user keyuser' "$T/relay.err" || die "exec not logged"
    grep -q 'refused shell request of user keyuser' "$T/relay.err" || die "shell not logged"
    out=$(grep -c '^ACCEPT' "$T/relay.out")
    [ "$out" = 3 ] || die "a refused request reached the daemon: $(cat "$T/relay.out")"
    connections_are 0
}

subtest_password() {
    local out
    out=$(paramiko echo admin admin) || die "password login: $out"
    [ "$out" = "ECHO <hello/>]]>]]>" ] || die "password login: [$out]"
    grep -q '^ACCEPT admin 127.0.0.1$' "$T/relay.out" || die "no ACCEPT for admin"
    [ "$(paramiko denied admin wrong)" = DENIED ] || die "a wrong password was accepted"
    [ "$(paramiko denied nobody admin)" = DENIED ] || die "an unknown user was accepted"
    [ "$(paramiko denied keyuser admin)" = DENIED ] || die "a user without password was accepted"
    grep -q 'SSH login failed: user nobody from 127.0.0.1 (password)' "$T/relay.err" ||
        die "no log line for the unknown user"
    ! grep -q 'wrong' "$T/relay.err" || die "a password reached the log"
    # six failed attempts, then the server hangs up (paramiko reports the hang-up during a
    # 7th attempt as one more failure when it sent it before it noticed)
    n=$(grep -c 'login failed: user admin from' "$T/relay.err")
    out=$(paramiko tries)
    case "$out" in "FAILED 6 ACTIVE False" | "FAILED 7 ACTIVE False") ;; *) die "failed logins: $out" ;; esac
    [ "$(grep -c 'login failed: user admin from' "$T/relay.err")" = $((n + 6)) ] ||
        die "not six failures logged: $(grep 'login failed' "$T/relay.err")"
    grep -q 'closed after 6 failed logins' "$T/relay.err" || die "not logged: too many failures"
    connections_are 0
}

subtest_max_sessions() {
    local out i
    paramiko hold 3 "$T/hold.release" >"$T/hold.out" &
    for i in $(seq 1 200); do
        grep -q EXTRA "$T/hold.out" && break
        sleep 0.05
    done
    out=$(cat "$T/hold.out")
    i=$(connections)
    touch "$T/hold.release"
    wait
    [ "$out" = "EXTRA b''" ] || die "a 4th connection was served: [$out]"
    [ "$i" = 3 ] || die "connections while 3 are held: $i"
    grep -q 'refused: 3 connections open' "$T/relay.err" || die "refusal not logged"
    connections_are 0
    out=$(printf 'again\n' | sshc -i "$T/good" keyuser@127.0.0.1 -s netconf) || die "after the limit: $out"
    [ "$out" = again ] || die "after the limit: [$out]"
}

subtest "public key, netconf subsystem, closing" subtest_pubkey
subtest "refused keys and requests" subtest_refused
subtest "password" subtest_password
subtest "max-sessions" subtest_max_sessions

# ---- the same host key after a restart; a port in use is refused with its address ----
relay_stop
cp "$KEY" "$T/key.before"
relay_start
[ "$(served_key)" = "$FP1" ] || die "the host key changed at the restart"
cmp -s "$KEY" "$T/key.before" || die "the host key file was rewritten"
"$RELAY" "$T/relay.conf" "$PORT" >"$T/second.out" 2>&1
[ $? = 1 ] || die "a second server on port $PORT: $(cat "$T/second.out")"
contains "cannot listen for NETCONF over SSH on 127.0.0.1 port $PORT: Address already in use" \
    "$(cat "$T/second.out")"
# stopping with a NETCONF session open ends it (and frees everything: sanitizer build)
mkfifo "$T/open.in"
sshc -i "$T/good" keyuser@127.0.0.1 -s netconf <"$T/open.in" >"$T/open.txt" 2>&1 &
SSH_PID=$!
exec 9>"$T/open.in"
printf 'still here\n' >&9
for _ in $(seq 1 200); do
    grep -q 'still here' "$T/open.txt" && break
    sleep 0.05
done
grep -q 'still here' "$T/open.txt" || die "the open session: $(cat "$T/open.txt")"
relay_stop
wait "$SSH_PID"
exec 9>&-
clean_exit "$T/relay.err"
clean_exit "$T/second.out"
subtests_end
pass
