#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""NETCONF over SSH with Debian's ncclient (driven by t_netconf_ssh.sh).

usage: nc_client.py PORT

Logs in as admin/admin (the example configuration), checks the capabilities, edits running
and the candidate, locks, commits with confirmed commit confirmed by a second session, reads
back, and checks that a wrong password is refused. Prints "FAIL: <what>" and exits 1 at the
first expectation that does not hold.
"""
import sys

from ncclient import manager
from ncclient.operations import RPCError
from ncclient.transport.errors import AuthenticationError

PORT = int(sys.argv[1])
R = "urn:chorus:example:routes"


def fail(what):
    print("FAIL: %s" % what, flush=True)
    sys.exit(1)


def connect(user="admin", password="admin"):
    return manager.connect(host="127.0.0.1", port=PORT, username=user, password=password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=60)


def route(rid, v):
    return ('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><active-cfg xmlns="%s">'
            "<routes><route><id>%s</id><leaf1>%d</leaf1>"
            "<leaf2>%d</leaf2><leaf3>%d</leaf3><leaf4>%d</leaf4></route></routes></active-cfg>"
            "</config>" % (R, rid, v, v, v, v))


def ids(reply):
    return sorted(e.text for e in reply.data_ele.iter("{%s}id" % R))


def main():
    m = connect()
    caps = list(m.server_capabilities)
    for c in (":candidate", ":confirmed-commit:1.1", ":validate:1.1", ":writable-running"):
        if not any(c in x for x in caps):
            fail("capability %s missing: %s" % (c, caps))
    if m.session_id is None:
        fail("no session id")

    m.edit_config(target="running", config=route("0000101", 1))
    if "0000101" not in ids(m.get_config(source="running")):
        fail("edit-config of running")

    try:
        m.edit_config(target="running", config=route("0000101", 1).replace(
            "<route>", '<route xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" '
            'nc:operation="create">'))
        fail("create of an existing route succeeded")
    except RPCError as e:
        if e.tag != "data-exists" or "route[id='0000101']" not in (e.path or ""):
            fail("create error: tag %s path %s" % (e.tag, e.path))

    with m.locked("candidate"):
        m.edit_config(target="candidate", config=route("0000102", 2))
        m.commit(confirmed=True, timeout="30", persist="tok")
    second = connect()
    second.commit(persist_id="tok")
    if "0000102" not in ids(second.get_config(source="running")):
        fail("the confirmed commit is not in running")

    d = m.get(filter=("subtree", '<active-cfg xmlns="%s"/>' % R))
    if "0000101" not in ids(d):
        fail("get with a subtree filter")
    m.close_session()
    second.close_session()

    try:
        connect(password="wrong")
        fail("a wrong password was accepted")
    except AuthenticationError:
        pass
    print("PASS nc_client", flush=True)


main()
