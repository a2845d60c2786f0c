#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""NETCONF over SSH with Debian's ncclient, one operation per call (t_cluster*.sh).

usage: nc_cluster.py PORT OP [ARGS]
  edit N SEED [START]     one edit-config of running merging N routes (ids START.., default 1)
  cand N SEED             the same into the candidate, then <commit>
  confirmed N SEED T ID   the same into the candidate, then a confirmed commit (timeout T s,
                          persist ID); the session ends without confirming
  confirm ID              <commit> with persist-id ID (from a new session)
  set ID LEAF1            one route's leaf1 (merge into running)
  remove-all              remove every route in one edit-config
  get                     get-config of running: one line per route "id l1 l2 l3 l4", sorted
  edit-running-refused    an edit-config of running must fail (writable-through-candidate)
Logs in as admin/admin. Prints "ok" (or the data) and exits 0, or prints "ERROR: <tag>:
<message> [path]" from the <rpc-error> and exits 1.
"""
import sys

from ncclient import manager
from ncclient.operations import RPCError

R = "urn:chorus:example:routes"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def connect(port):
    return manager.connect(host="127.0.0.1", port=port, username="admin", password="admin",
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=120)


def routes(n, seed, start=1):
    rows = []
    for i in range(start, start + n):
        v = (i * 7 + seed) % 1000000
        rows.append("<route><id>%07d</id><leaf1>%d</leaf1><leaf2>%d</leaf2><leaf3>%d</leaf3>"
                    "<leaf4>%d</leaf4></route>" % (i, v, v + 1, v + 2, v + 3))
    return ('<config xmlns="%s"><active-cfg xmlns="%s"><routes>%s</routes></active-cfg></config>'
            % (NC, R, "".join(rows)))


def main():
    port, op, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    m = connect(port)
    try:
        if op == "edit":
            m.edit_config(target="running", config=routes(int(args[0]), int(args[1]),
                                                            int(args[2]) if len(args) > 2 else 1))
        elif op == "cand":
            m.edit_config(target="candidate", config=routes(int(args[0]), int(args[1])))
            m.commit()
        elif op == "confirmed":
            m.edit_config(target="candidate", config=routes(int(args[0]), int(args[1])))
            m.commit(confirmed=True, timeout=args[2], persist=args[3])
        elif op == "confirm":
            m.commit(persist_id=args[0])
        elif op == "set":
            m.edit_config(target="running", config=(
                '<config xmlns="%s"><active-cfg xmlns="%s"><routes><route><id>%s</id>'
                "<leaf1>%s</leaf1></route></routes></active-cfg></config>"
                % (NC, R, args[0], args[1])))
        elif op == "remove-all":
            m.edit_config(target="running", config=(
                '<config xmlns="%s"><active-cfg xmlns="%s"><routes xmlns:nc="%s" '
                'nc:operation="remove"/></active-cfg></config>' % (NC, R, NC)))
        elif op == "get":
            reply = m.get_config(source="running",
                                 filter=("subtree", '<active-cfg xmlns="%s"/>' % R))
            rows = []
            for e in reply.data_ele.iter("{%s}route" % R):
                rows.append(" ".join(e.findtext("{%s}%s" % (R, k)) or "-"
                                     for k in ("id", "leaf1", "leaf2", "leaf3", "leaf4")))
            print("\n".join(sorted(rows)))
            return 0
        elif op == "edit-running-refused":
            try:
                m.edit_config(target="running", config=routes(1, 5))
            except RPCError as e:
                print("refused: %s: %s" % (e.tag, e.message))
                return 0
            print("ERROR: an edit-config of running was accepted")
            return 1
        else:
            print("unknown operation %s" % op)
            return 2
    except RPCError as e:
        print("ERROR: %s: %s %s" % (e.tag, (e.message or "").strip(), e.path or ""))
        return 1
    finally:
        if op != "confirmed":
            m.close_session()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
