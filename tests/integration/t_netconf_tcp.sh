#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NETCONF over plain TCP with raw frames (nc_raw.py): hello and both framings, the RFC 6241
# operations and their rpc-errors (error-tag, error-path, error-message), filters, locks across
# sessions, the candidate, confirmed commit with persist-id and its timeout, validate,
# copy-config, get, get-schema, kill/close-session, the plain-TCP user header, and bad input
# (malformed XML, a malformed chunk header, a message over the limit, an unknown RPC, no
# message-id, an RPC before the hello): each gets an error or closes only its session, and the
# daemon keeps serving the others. netconf/max-sessions and idle-timeout. 100k routes in one edit-config, read back and deleted. Notifications: netconf-config-change after commits made over
# NETCONF and through chorusctl.
. "$(dirname "$0")/../lib.sh"

NODE_CONF=$(conf_file nc \
    "<netconf><enabled>true</enabled><max-message-size>65536</max-message-size><ssh><enabled>false</enabled></ssh><tcp><enabled>true</enabled></tcp></netconf>" \
    "<datastores><candidate><enabled>true</enabled></candidate><confirmed-commit><enabled>true</enabled></confirmed-commit></datastores>")
node_start n0 --addloadpath "$CHORUS_SRC/tests/integration/models"
timeout 300 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n0_NCTCP" 65536 \
    >"$T/nc_raw.out" 2>&1 || die "nc_raw.py: $(tail -n 5 "$T/nc_raw.out")"
grep -q "PASS nc_raw" "$T/nc_raw.out" || die "nc_raw.py did not finish: $(tail -n 3 "$T/nc_raw.out")"
# a change made through the IPC API (chorusctl) is notified to NETCONF subscribers too
/usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n0_NCTCP" 65536 --wait-notification \
    >"$T/notif.out" 2>&1 &
npid=$!
PIDS+=("$npid")
for _ in $(seq 1 100); do
    grep -q subscribed "$T/notif.out" && break
    sleep 0.05
done
ok ctl n0 -u bob set "/routes:active-cfg/routes/route[id='0000001']/leaf3" 33
wait "$npid" || die "the notification did not come: $(cat "$T/notif.out")"
pids_forget "$npid"
grep -q "user=bob target=/routes:active-cfg/routes/route\[id='0000001'\]/leaf3" "$T/notif.out" ||
    die "notification: $(cat "$T/notif.out")"
# RPCs and actions of other modules reach the application registered for them
"$CHORUS_BUILD/tests/sub_client" "$n0_PORT" serve-rpc >"$T/serve.out" 2>&1 &
spid=$!
PIDS+=("$spid")
for _ in $(seq 1 200); do
    grep -q ready "$T/serve.out" && break
    sleep 0.05
done
timeout 120 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n0_NCTCP" 65536 --rpc \
    >"$T/nc_rpc.out" 2>&1 || die "nc_raw.py --rpc: $(tail -n 5 "$T/nc_rpc.out")"
kill -TERM "$spid"
wait "$spid" || die "sub_client serve-rpc: $(cat "$T/serve.out")"
pids_forget "$spid"
# the sessions were user sessions of the transaction engine
grep -q "NETCONF session from 127.0.0.1 over TCP" "$T/n0.out" || die "no session log line"
grep -q "alice" "$T/n0.out" || die "the header's user is not in the log"
[ "$(ctl n0 status | json_get 'd["locks"]')" = "[]" ] || die "locks left"
node_stop n0
clean_exit "$T/n0.out"

# limits: sessions and idleness
NODE_CONF=$(conf_file lim \
    "<netconf><enabled>true</enabled><max-sessions>2</max-sessions><idle-timeout>1</idle-timeout><ssh><enabled>false</enabled></ssh><tcp><enabled>true</enabled></tcp></netconf>")
node_start n2
timeout 120 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n2_NCTCP" 65536 --limits \
    >"$T/nc_lim.out" 2>&1 || die "nc_raw.py --limits: $(tail -n 5 "$T/nc_lim.out")"
grep -q "netconf/max-sessions (2) reached" "$T/n2.out" || die "the refused session is not logged"
grep -q "idle for 1 s (netconf/idle-timeout)" "$T/n2.out" || die "the idle close is not logged"
node_stop n2
clean_exit "$T/n2.out"

# 100k routes in one edit-config (a node with room for the message), read back, deleted
NODE_CONF=$(conf_file big \
    "<netconf><enabled>true</enabled><max-message-size>67108864</max-message-size><ssh><enabled>false</enabled></ssh><tcp><enabled>true</enabled></tcp></netconf>")
node_start n1
# (tests/run.sh asks for 20k under the sanitizers: libyang's buffers grow by realloc, which
# ASan always copies, so a 100k-route message costs minutes there)
timeout 300 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n1_NCTCP" 67108864 --big \
    "${CHORUS_NC_BIG:-100000}" >"$T/nc_big.out" 2>&1 || die "nc_raw.py --big: $(tail -n 5 "$T/nc_big.out")"
cat "$T/nc_big.out"
node_stop n1
clean_exit "$T/n1.out"
pass
