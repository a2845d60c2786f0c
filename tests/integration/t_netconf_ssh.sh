#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# NETCONF over SSH with Debian's ncclient (nc_client.py, /usr/bin/python3): password login as
# admin/admin of the example configuration, capabilities, edit-config of running and of the
# candidate under a lock, a confirmed commit confirmed from a second session with persist-id,
# an rpc-error with its tag and path, get with a filter, close-session; a wrong password is
# refused and logged. (The SSH transport alone: t_ssh_relay.sh; the operations in depth over
# TCP: t_netconf_tcp.sh.)
. "$(dirname "$0")/../lib.sh"

node_start n0
timeout 300 /usr/bin/python3 "$CHORUS_SRC/tests/integration/nc_client.py" "$n0_NCSSH" \
    >"$T/nc_client.out" 2>&1 || die "nc_client.py: $(tail -n 8 "$T/nc_client.out")"
grep -q "PASS nc_client" "$T/nc_client.out" || die "nc_client.py: $(tail -n 3 "$T/nc_client.out")"
grep -q "NETCONF session from 127.0.0.1 over SSH" "$T/n0.out" || die "no SSH session logged"
grep -qi "admin.*127.0.0.1\|127.0.0.1.*admin" "$T/n0.out" || die "the user is not in the log"
node_stop n0
clean_exit "$T/n0.out"
pass
