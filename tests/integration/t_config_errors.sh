#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# chorusd refuses to start on a bad configuration file or a bad YANG module, with and without
# --foreground (detached, the parent must still report the failure and exit non-zero): the
# message on stderr names the file, the line when known, the data path and the reason. Also a
# failure after detaching (the IPC port is taken) and the command-line usage errors.
. "$(dirname "$0")/../lib.sh"

# refuses NAME CONF [ARGS...] -- WORDS...: chorusd -c CONF ARGS refuses to start in the
# foreground and detached, and its stderr names every word
refuses() {
    local name=$1 conf=$2 mode w args=()
    shift 2
    while [ "$1" != "--" ]; do
        args+=("$1")
        shift
    done
    shift
    for mode in fg bg; do
        chorusd_once "$mode" "$T/$name.$mode" -c "$conf" --addloadpath "$ROUTES_DIR" "${args[@]}"
        [ "$RC" -ne 0 ] || die "$name ($mode): chorusd started"
        for w in "$@"; do
            contains "$w" "$(cat "$T/$name.$mode")"
        done
        clean_exit "$T/$name.$mode"
    done
}

cd "$T" || die "cd"
cfg() {
    cat >"$T/$1"
}

cfg malformed.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <ipc>
</chorusd>
EOF
t() { refuses malformed malformed.xml -- "malformed.xml: line 6" '"ipc"' '"chorusd"'; }
subtest "malformed XML" t

cfg unknown.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <bogus>1</bogus>
</chorusd>
EOF
t() { refuses unknown unknown.xml -- "unknown.xml: line 5" "/chorus-config:chorusd" '"bogus"'; }
subtest "unknown element" t

cfg port.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <ipc>
    <port>70000</port>
  </ipc>
</chorusd>
EOF
t() { refuses port port.xml -- "port.xml: line 6" "/chorus-config:chorusd/ipc/port" '"70000"'; }
subtest "port out of range" t

cfg port-type.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <ipc>
    <port>http</port>
  </ipc>
</chorusd>
EOF
t() { refuses port-type port-type.xml -- "port-type.xml: line 6" "/chorus-config:chorusd/ipc/port" '"http"'; }
subtest "port not a number" t

cfg frame.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <ipc>
    <max-frame-size>100</max-frame-size>
  </ipc>
</chorusd>
EOF
t() { refuses frame frame.xml -- "frame.xml: line 6" "/chorus-config:chorusd/ipc/max-frame-size" '"100"'; }
subtest "max-frame-size below its range" t

cfg nodb.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <ipc>
    <port>4565</port>
  </ipc>
</chorusd>
EOF
t() { refuses nodb nodb.xml -- "nodb.xml" "/chorus-config:chorusd/database/dir" "Mandatory"; }
subtest "database/dir missing" t

cfg must-ipc.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database>
    <dir>db</dir>
  </database>
  <ipc>
    <address>10.1.2.3</address>
  </ipc>
</chorusd>
EOF
t() {
    refuses must-ipc must-ipc.xml -- "must-ipc.xml" "/chorus-config:chorusd/ipc" \
        "ipc/address is not a loopback address: ipc/secret-file is required"
}
subtest "must: non-loopback IPC without a secret" t

cfg must-wtc.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database><dir>db</dir></database>
  <datastores>
    <candidate><enabled>false</enabled></candidate>
    <running><access>writable-through-candidate</access></running>
  </datastores>
</chorusd>
EOF
t() {
    refuses must-wtc must-wtc.xml -- "must-wtc.xml" "/chorus-config:chorusd/datastores" \
        "writable-through-candidate requires candidate/enabled"
}
subtest "must: writable-through-candidate without a candidate" t

cfg password.xml <<'EOF'
<chorusd xmlns="urn:chorus:params:xml:ns:yang:chorus-config">
  <database><dir>db</dir></database>
  <aaa>
    <user>
      <name>admin</name>
      <password>admin</password>
    </user>
  </aaa>
</chorusd>
EOF
t() {
    refuses password password.xml -- "password.xml: line 6" "/password" \
        "not a clear-text password"
}
subtest "clear-text password" t

printf '{"chorus-config:chorusd": {"database": {"dir": "db"},\n "ipc": {"port": "x"}}}\n' \
    >"$T/bad.json"
t() { refuses json bad.json -- "bad.json: line 2" "/chorus-config:chorusd/ipc/port" '"x"'; }
subtest "JSON configuration with a bad value" t

printf '{"chorus-config:chorusd": {"database": {"dir": "db"}\n' >"$T/truncated.json"
t() { refuses truncated truncated.json -- "truncated.json"; }
subtest "truncated JSON configuration" t

t() { refuses missing "$T/no-such.conf" -- "no-such.conf" "No such file"; }
subtest "configuration file missing" t

# the database directory cannot be used: it is a file
touch "$T/afile"
conf_file okconf >/dev/null
t() { refuses dbfile "$T/okconf.conf" --dbdir "$T/afile" -- "$T/afile" "Not a directory"; }
subtest "database directory is a file" t

# ---- a bad YANG module in the load path: file:line: reason ----
mkdir -p "$T/typo" "$T/badtype" "$T/noimport" "$T/dup1" "$T/dup2"
printf 'module typo {\n  namespace "urn:typo";\n  prefix t;\n  leaf x {\n    mandatory-true;\n  }\n}\n' \
    >"$T/typo/typo.yang"
printf 'module badtype {\n  namespace "urn:badtype";\n  prefix b;\n  leaf x {\n    type no-such-type;\n  }\n}\n' \
    >"$T/badtype/badtype.yang"
printf 'module noimport {\n  namespace "urn:noimport";\n  prefix n;\n  import no-such-module {\n    prefix m;\n  }\n}\n' \
    >"$T/noimport/noimport.yang"
printf 'module dup {\n  namespace "urn:dup";\n  prefix d;\n}\n' >"$T/dup1/a.yang"
printf 'module dup {\n  namespace "urn:dup2";\n  prefix d;\n}\n' >"$T/dup2/b.yang"
t() {
    refuses typo "$T/okconf.conf" --dbdir "$T/db-typo" --addloadpath "$T/typo" -- \
        "typo/typo.yang:5:" "mandatory-"
}
subtest "YANG syntax error" t
t() {
    refuses badtype "$T/okconf.conf" --dbdir "$T/db-badtype" --addloadpath "$T/badtype" -- \
        "badtype/badtype.yang:" '"no-such-type"' "(/badtype:x)"
}
subtest "YANG unknown type" t
t() {
    refuses noimport "$T/okconf.conf" --dbdir "$T/db-noimport" --addloadpath "$T/noimport" -- \
        "noimport/noimport.yang" '"no-such-module"'
}
subtest "YANG import not found" t
t() {
    refuses dup "$T/okconf.conf" --dbdir "$T/db-dup" --addloadpath "$T/dup1" --addloadpath \
        "$T/dup2" -- "b.yang" '"dup"' "a.yang"
}
subtest "YANG module defined twice" t
t() {
    refuses nodir "$T/okconf.conf" --dbdir "$T/db-nodir" --addloadpath "$T/no-such-dir" -- \
        "no-such-dir"
}
subtest "load path directory missing" t

# ---- a failure after detaching: the IPC port is taken ----
node_start n0
t() {
    refuses inuse "$T/okconf.conf" --dbdir "$T/db-inuse" --ipc-port "$n0_PORT" -- \
        "port $n0_PORT" "Address already in use"
}
subtest "IPC port in use" t
node_stop n0

# ---- command-line usage: exit status 2 ----
t() {
    expect_rc 2 "$CHORUSD"
    contains "usage: chorusd" "$(last_out)"
    expect_rc 2 "$CHORUSD" -c "$T/okconf.conf" --no-such-option
    expect_rc 2 "$CHORUSD" -c "$T/okconf.conf" --ipc-port 0
    contains "not a port number" "$(last_out)"
    expect_rc 2 "$CHORUSD" -c "$T/okconf.conf" --ipc-port 65536
    expect_rc 2 "$CHORUSD" -c "$T/okconf.conf" extra-operand
    expect_rc 0 "$CHORUSD" --version
    contains "chorusd" "$(last_out)"
}
subtest "command-line usage" t

subtests_end
pass
