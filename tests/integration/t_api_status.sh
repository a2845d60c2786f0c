#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# chorusctl status (docs/protocol.md "status JSON"): phase, txid, pid, version, validation
# mode, datastores, the sessions with their user and context, the locks (api_client
# status-lock holds one), the journal.
. "$(dirname "$0")/../lib.sh"

routes_xml 5 >"$T/r5.xml"
node_start n0
ok ctl n0 load "$T/r5.xml"
ok ctl n0 -u stat-user -x stat-ctx status
last_out >"$T/s.json"
j() {
    json_get "$1" <"$T/s.json"
}
[ "$(j 'd["phase"]')" = 2 ] || die "phase: $(cat "$T/s.json")"
[ "$(j 'd["txid"]')" = 1 ] || die "txid"
[ "$(j 'd["pid"]')" = "$n0_PID" ] || die "pid"
[ "$(j 'd["version"]')" = 0.1.0 ] || die "version"
[ "$(j 'd["validation"]')" = incremental ] || die "validation"
[ "$(j 'isinstance(d["uptime"], int) and d["uptime"] >= 0')" = True ] || die "uptime"
[ "$(j 'd["datastores"]["running"]["nodes"] > 0')" = True ] || die "running nodes"
[ "$(j 'd["datastores"]["candidate"]["enabled"]')" = True ] || die "candidate enabled"
[ "$(j 'd["datastores"]["startup"]["enabled"]')" = False ] || die "startup enabled"
[ "$(j 'd["locks"]')" = "[]" ] || die "locks"
[ "$(j '[(s["user"], s["context"], s["addr"]) for s in d["sessions"] if s["user"] == "stat-user"]')" = \
    "[('stat-user', 'stat-ctx', '127.0.0.1')]" ] || die "the session of chorusctl itself: $(cat "$T/s.json")"
[ "$(j 'all(isinstance(s["id"], int) and isinstance(s["since"], int) for s in d["sessions"])')" = True ] ||
    die "session ids"
[ "$(j 'd["journal"]["file"].startswith("journal-") and d["journal"]["bytes"] > 0')" = True ] ||
    die "journal: $(j 'd["journal"]')"
records=$(j 'd["journal"]["records"]')
[ "$records" -ge 1 ] || die "journal records"
ok ctl n0 set "/routes:active-cfg/routes/route[id='0000001']/leaf1" 5
[ "$(ctl n0 status | json_get 'd["journal"]["records"]')" -gt "$records" ] || die "journal records did not grow"

# a lock held by api_client's session of user alice, context cli
api n0 status-lock >/dev/null || die "status-lock: $(tail -n 5 "$T/api-status-lock.out")"
usid=$(sed -n 's/^USID //p' "$T/api-status-lock.out")
[ -n "$usid" ] || die "no session id"
awk '/^USID /{on=1; next} /^----$/{exit} on' "$T/api-status-lock.out" >"$T/locked.json"
awk '/^----$/{on=1; next} /^PASS /{exit} on' "$T/api-status-lock.out" >"$T/unlocked.json"
[ "$(json_get 'd["locks"]' <"$T/locked.json")" = \
    "[{'db': 'running', 'session': $usid, 'user': 'alice', 'context': 'cli'}]" ] ||
    die "locks while alice holds running: $(cat "$T/locked.json")"
[ "$(json_get '[(s["user"], s["context"]) for s in d["sessions"] if s["id"] == '"$usid"']' <"$T/locked.json")" = \
    "[('alice', 'cli')]" ] || die "alice's session"
[ "$(json_get '[s["context"] for s in d["sessions"] if s["user"] == "bob"]' <"$T/locked.json")" = \
    "['script']" ] || die "bob's session"
[ "$(json_get 'd["locks"]' <"$T/unlocked.json")" = "[]" ] || die "the lock outlived alice's session"
[ "$(json_get '[s for s in d["sessions"] if s["user"] == "alice"]' <"$T/unlocked.json")" = "[]" ] ||
    die "alice's session outlived its connection"
node_stop n0

# the validation mode, the startup datastore and the phase as configured
NODE_CONF=$(conf_file full "<database><dir>db</dir><validation>full</validation></database>" \
    "<datastores><startup><enabled>true</enabled></startup><candidate><enabled>false</enabled></candidate></datastores>")
node_start n1 --start-phase0
ctl n1 status >"$T/s1.json" || die "status"
[ "$(json_get 'd["phase"], d["txid"], d["validation"]' <"$T/s1.json")" = "(0, 0, 'full')" ] ||
    die "status in phase 0: $(cat "$T/s1.json")"
[ "$(json_get 'd["datastores"]["startup"]["enabled"], d["datastores"]["candidate"]["enabled"]' <"$T/s1.json")" = \
    "(True, False)" ] || die "datastores: $(cat "$T/s1.json")"
node_stop n1
clean_exit "$T/n0.out"
clean_exit "$T/n1.out"
pass
