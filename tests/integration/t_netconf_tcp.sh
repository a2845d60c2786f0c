#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NETCONF over plain TCP with raw frames (nc_raw.py): hello and both framings, the RFC 6241
# operations and their rpc-errors (error-tag, error-path, error-message), filters, locks across
# sessions, the candidate, confirmed commit with persist-id and its timeout, validate,
# copy-config, get, get-schema, kill/close-session, the plain-TCP user header, and bad input
# (malformed XML, a malformed chunk header, a message over the limit, an unknown RPC, no
# message-id, an RPC before the hello): each gets an error or closes only its session, and the
# daemon keeps serving the others.
. "$(dirname "$0")/../lib.sh"

NODE_CONF=$(conf_file nc \
    "<netconf><enabled>true</enabled><max-message-size>65536</max-message-size><ssh><enabled>false</enabled></ssh><tcp><enabled>true</enabled></tcp></netconf>" \
    "<datastores><candidate><enabled>true</enabled></candidate><confirmed-commit><enabled>true</enabled></confirmed-commit></datastores>")
node_start n0 --addloadpath "$CHORUS_SRC/tests/integration/models"
timeout 300 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_raw.py" "$n0_NCTCP" 65536 \
    >"$T/nc_raw.out" 2>&1 || die "nc_raw.py: $(tail -n 5 "$T/nc_raw.out")"
grep -q "PASS nc_raw" "$T/nc_raw.out" || die "nc_raw.py did not finish: $(tail -n 3 "$T/nc_raw.out")"
# the sessions were user sessions of the transaction engine
grep -q "NETCONF session from 127.0.0.1 over TCP" "$T/n0.out" || die "no session log line"
grep -q "alice" "$T/n0.out" || die "the header's user is not in the log"
[ "$(ctl n0 status | json_get 'd["locks"]')" = "[]" ] || die "locks left"
node_stop n0
clean_exit "$T/n0.out"
pass
