#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""NETCONF over plain TCP, spoken with raw frames (driven by t_netconf_tcp.sh).

usage: nc_raw.py PORT MAX_MESSAGE

Each case prints its name; the first expectation that does not hold prints
"FAIL: <case>: <what>" and exits 1. Cases: hello and framing (base:1.0 and base:1.1), the
operations of RFC 6241 with their errors (error-tag, error-path, error-message), locks across
sessions, the candidate and confirmed commit, filters, with-defaults, get-schema, and bad
input: malformed XML, a malformed chunk header, a message over the limit, an unknown RPC, a
missing message-id -- after each, the server still serves a session opened before.
"""
import socket
import sys
import time
import xml.etree.ElementTree as ET

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
R = "urn:chorus:example:routes"
T = "urn:chorus:test"
PORT = int(sys.argv[1])
MAX_MSG = int(sys.argv[2])
CASE = "?"


def fail(what):
    print("FAIL: %s: %s" % (CASE, what), flush=True)
    sys.exit(1)


def case(name):
    global CASE
    CASE = name
    print("case:", name, flush=True)


class Session:
    def __init__(self, base11=True, header=None):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.buf = b""
        self.chunked = False
        self.mid = 0
        if header:
            self.s.sendall(header.encode())
        hello = self.read_eom()
        root = ET.fromstring(hello)
        if root.tag != "{%s}hello" % NC:
            fail("the server's first message is not a hello: %r" % hello[:200])
        self.caps = [c.text for c in root.iter("{%s}capability" % NC)]
        sid = root.find("{%s}session-id" % NC)
        if sid is None:
            fail("the server's hello has no session-id")
        self.id = int(sid.text)
        caps = "<capability>urn:ietf:params:netconf:base:1.0</capability>"
        if base11:
            caps += "<capability>urn:ietf:params:netconf:base:1.1</capability>"
        self.send_eom('<hello xmlns="%s"><capabilities>%s</capabilities></hello>' % (NC, caps))
        self.chunked = base11 and "urn:ietf:params:netconf:base:1.1" in self.caps

    def send_eom(self, msg):
        self.s.sendall(msg.encode() + b"]]>]]>")

    def send(self, msg):
        if self.chunked:
            data = msg.encode()
            self.s.sendall(b"\n#%d\n" % len(data) + data + b"\n##\n")
        else:
            self.send_eom(msg)

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_eom(self):
        while b"]]>]]>" not in self.buf:
            if not self.fill():
                return None
        msg, self.buf = self.buf.split(b"]]>]]>", 1)
        return msg.decode()

    def read_chunked(self):
        out = b""
        while True:
            while len(self.buf) < 4 or b"\n" not in self.buf[2:]:
                if not self.fill():
                    return None
            if not self.buf.startswith(b"\n#"):
                fail("bad chunk framing from the server: %r" % self.buf[:40])
            if self.buf.startswith(b"\n##\n"):
                self.buf = self.buf[4:]
                return out.decode()
            nl = self.buf.index(b"\n", 2)
            size = int(self.buf[2:nl])
            while len(self.buf) < nl + 1 + size:
                if not self.fill():
                    return None
            out += self.buf[nl + 1:nl + 1 + size]
            self.buf = self.buf[nl + 1 + size:]

    def read(self):
        return self.read_chunked() if self.chunked else self.read_eom()

    def rpc(self, body, attrs=None):
        self.mid += 1
        a = ' message-id="%d"' % self.mid if attrs is None else attrs
        self.send('<rpc xmlns="%s"%s>%s</rpc>' % (NC, a, body))
        reply = self.read()
        if reply is None:
            fail("the session was closed instead of a reply to %s" % body[:80])
        root = ET.fromstring(reply)
        if root.tag != "{%s}rpc-reply" % NC:
            fail("not an rpc-reply: %r" % reply[:200])
        return root

    def closed(self):
        """The server closes the session soon (end of file)."""
        self.s.settimeout(10)
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    return True
        except (ConnectionResetError, socket.timeout):
            return False


def ok(reply, what):
    if reply.find("{%s}ok" % NC) is None:
        fail("%s: expected <ok/>, got %s" % (what, ET.tostring(reply).decode()[:600]))


def error(reply, tag, what, path=None, words=()):
    err = reply.find("{%s}rpc-error" % NC)
    if err is None:
        fail("%s: expected an rpc-error, got %s" % (what, ET.tostring(reply).decode()[:400]))
    got = err.findtext("{%s}error-tag" % NC)
    msg = err.findtext("{%s}error-message" % NC) or ""
    if got != tag:
        fail("%s: error-tag %s, expected %s (%s)" % (what, got, tag, msg))
    if path is not None:
        p = err.findtext("{%s}error-path" % NC)
        if p != path:
            fail("%s: error-path %r, expected %r" % (what, p, path))
    for w in words:
        if w not in msg:
            fail("%s: the error-message %r does not mention %r" % (what, msg, w))
    return err


def data(reply):
    d = reply.find("{%s}data" % NC)
    if d is None:
        fail("expected <data>, got %s" % ET.tostring(reply).decode()[:400])
    return d


def routes(d):
    return sorted(e.findtext("{%s}id" % R) for e in d.iter("{%s}route" % R))


def route_xml(rid, v=1, op=None):
    a = ' xmlns:nc="%s" nc:operation="%s"' % (NC, op) if op else ""
    return ("<route%s><id>%s</id><leaf1>%d</leaf1><leaf2>%d</leaf2><leaf3>%d</leaf3>"
            "<leaf4>%d</leaf4></route>" % (a, rid, v, v, v, v))


def edit(s, target, content, extra=""):
    return s.rpc("<edit-config><target><%s/></target>%s<config>"
                 '<active-cfg xmlns="%s"><routes>%s</routes></active-cfg></config></edit-config>'
                 % (target, extra, R, content))


def get_config(s, source="running", filt=""):
    return data(s.rpc("<get-config><source><%s/></source>%s</get-config>" % (source, filt)))


def wait_notification():
    """Mode --wait-notification: subscribe, say "subscribed", print the next change's user."""
    s = Session()
    NF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
    NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
    ok(s.rpc('<create-subscription xmlns="%s"/>' % NF), "create-subscription")
    print("subscribed", flush=True)
    n = ET.fromstring(s.read())
    print("user=%s target=%s" % (n.findtext(".//{%s}username" % NCN),
                                 n.findtext(".//{%s}target" % NCN)), flush=True)


def app_rpcs():
    """Mode --rpc: RPCs and actions answered by an application (sub_client serve-rpc)."""
    s = Session()
    case("an RPC of another module, answered by its application")
    r = s.rpc('<ping xmlns="%s"><text>hello</text></ping>' % T)
    if r.findtext("{%s}echo" % T) != "hello":
        fail("ping output: %s" % ET.tostring(r).decode()[:300])
    err = error(s.rpc('<ping xmlns="%s"><text>fail</text></ping>' % T), "invalid-value",
                "the handler's refusal", path="/chorus-test:ping/text", words=("ping refused",))
    error(s.rpc('<ping xmlns="%s"/>' % T), "operation-failed", "missing mandatory input")
    case("an action, answered by its application")
    r = s.rpc('<action xmlns="urn:ietf:params:xml:ns:yang:1"><box xmlns="%s"><reset/></box>'
              "</action>" % T)
    if r.findtext("{%s}was" % T) != "7":
        fail("action output: %s" % ET.tostring(r).decode()[:300])
    case("an application's validator vetoes an edit-config: its message, path and app-tag")
    err = error(edit(s, "running", "<route><id>0000001</id><leaf1>2000000</leaf1></route>"),
                "operation-failed", "validator veto",
                path="/routes:active-cfg/routes/route[id='0000001']/leaf1",
                words=("leaf1 must not exceed 1000000",))
    if err.findtext("{%s}error-app-tag" % NC) != "too-big":
        fail("error-app-tag: %s" % err.findtext("{%s}error-app-tag" % NC))
    if err.findtext("{%s}error-type" % NC) != "application":
        fail("error-type: %s" % err.findtext("{%s}error-type" % NC))
    print("PASS nc_raw --rpc", flush=True)


def big_edit(k):
    """Mode --big K: one edit-config of K routes, read back whole, then deleted in one edit."""
    global CASE
    s = Session()
    s.s.settimeout(600)  # the sanitizer build is several times slower
    case("edit-config of %d routes in one transaction" % k)
    body = "".join(route_xml("%07d" % (i + 1), i % 1000) for i in range(k))
    t0 = time.time()
    ok(edit(s, "running", body), "big edit")
    t1 = time.time()
    got = routes(get_config(s))
    t2 = time.time()
    if len(got) != k or got[0] != "0000001" or got[-1] != "%07d" % k:
        fail("read back %d routes (%s..%s)" % (len(got), got[:1], got[-1:]))
    case("delete of all %d routes in one edit-config" % k)
    ok(s.rpc('<edit-config><target><running/></target><config><active-cfg xmlns="%s" '
             'xmlns:nc="%s"><routes nc:operation="delete"/></active-cfg></config></edit-config>'
             % (R, NC)), "delete all")
    if routes(get_config(s)):
        fail("routes left after the delete")
    print("edit %.2f s, get-config %.2f s" % (t1 - t0, t2 - t1), flush=True)
    print("PASS nc_raw --big", flush=True)


def limits():
    """Mode --limits: netconf/max-sessions 2 and idle-timeout 1 s."""
    case("netconf/max-sessions: a third session is closed at once")
    a, b = Session(), Session()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.settimeout(10)
    got = b""
    try:
        while True:
            x = s.recv(65536)
            if not x:
                break
            got += x
    except socket.timeout:
        fail("the third session stays open")
    if b"<hello" in got:
        fail("the third session got a hello")
    data(a.rpc("<get-config><source><running/></source></get-config>"))
    case("netconf/idle-timeout: an idle session is closed, a busy one is not")
    for _ in range(4):
        time.sleep(0.5)
        data(a.rpc("<get-config><source><running/></source></get-config>"))
    if not b.closed():
        fail("the idle session is still open")
    data(a.rpc("<get-config><source><running/></source></get-config>"))
    print("PASS nc_raw --limits", flush=True)


def main():
    if len(sys.argv) > 3 and sys.argv[3] == "--limits":
        limits()
        return
    if len(sys.argv) > 3 and sys.argv[3] == "--big":
        big_edit(int(sys.argv[4]))
        return
    if len(sys.argv) > 3 and sys.argv[3] == "--wait-notification":
        wait_notification()
        return
    if len(sys.argv) > 3 and sys.argv[3] == "--rpc":
        app_rpcs()
        return
    keeper = Session()

    case("hello: capabilities, session-id, base:1.1 chunked framing")
    for c in ("urn:ietf:params:netconf:base:1.1", "urn:ietf:params:netconf:capability:candidate:1.0",
              "urn:ietf:params:netconf:capability:notification:1.0",
              "urn:ietf:params:netconf:capability:interleave:1.0",
              "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
              "urn:ietf:params:netconf:capability:writable-running:1.0",
              "urn:ietf:params:netconf:capability:validate:1.1",
              "urn:ietf:params:netconf:capability:xpath:1.0"):
        if c not in keeper.caps:
            fail("capability %s missing" % c)
    if not any(c.startswith(R + "?module=routes") for c in keeper.caps):
        fail("the routes module is not advertised")
    if not keeper.chunked:
        fail("base:1.1 was not chosen")
    ok(keeper.rpc('<lock><target><running/></target></lock>',
                  attrs=' message-id="m1" xmlns:x="urn:x" x:tag="keep"'), "lock")
    r = keeper.rpc("<unlock><target><running/></target></unlock>",
                   attrs=' message-id="m2" xmlns:x="urn:x" x:tag="keep"')
    if r.get("message-id") != "m2" or r.get("{urn:x}tag") != "keep":
        fail("the rpc-reply does not carry the rpc's attributes: %s" % r.attrib)

    case("base:1.0 end-of-message framing")
    s10 = Session(base11=False)
    if s10.chunked:
        fail("a base:1.0 client got chunked framing")
    data(s10.rpc("<get-config><source><running/></source></get-config>"))

    case("edit-config merge, then get-config with filters")
    ok(edit(keeper, "running", route_xml("0000001") + route_xml("0000002", 2)), "merge")
    d = get_config(keeper)
    if routes(d) != ["0000001", "0000002"]:
        fail("routes after merge: %s" % routes(d))
    d = get_config(keeper, filt='<filter type="xpath" xmlns:r="%s" '
                   'select="/r:active-cfg/r:routes/r:route[r:id=\'0000002\']"/>' % R)
    if routes(d) != ["0000002"]:
        fail("xpath filter: %s" % routes(d))
    d = get_config(keeper, filt='<filter type="subtree"><active-cfg xmlns="%s"><routes><route>'
                   "<id>0000001</id></route></routes></active-cfg></filter>" % R)
    if routes(d) != ["0000001"] or d.find(".//{%s}leaf4" % R) is None:
        fail("subtree filter with a content match: %s" % ET.tostring(d).decode()[:300])
    d = get_config(keeper, filt='<filter type="subtree"><active-cfg xmlns="%s"><routes><route>'
                   "<id>0000002</id><leaf3/></route></routes></active-cfg></filter>" % R)
    if d.find(".//{%s}leaf3" % R) is None or d.find(".//{%s}leaf4" % R) is not None:
        fail("subtree filter with a selection node: %s" % ET.tostring(d).decode()[:300])

    case("edit-config errors: create of an existing node, delete of a missing one, a bad value")
    p1 = "/routes:active-cfg/routes/route[id='0000001']"
    error(edit(keeper, "running", route_xml("0000001", op="create")), "data-exists", "create",
          path=p1)
    error(edit(keeper, "running", '<route xmlns:nc="%s" nc:operation="delete"><id>0000009</id>'
               "</route>" % NC), "data-missing", "delete", path="/routes:active-cfg/routes/"
          "route[id='0000009']")
    error(edit(keeper, "running", "<route><id>0000001</id><leaf1>x</leaf1></route>"),
          "invalid-value", "bad value", path=p1 + "/leaf1")
    error(edit(keeper, "running", "<route><id>0000003</id><leaf1>1</leaf1></route>"),
          "operation-failed", "missing mandatory leaves", words=("leaf2",))
    if routes(get_config(keeper)) != ["0000001", "0000002"]:
        fail("a failed edit changed running")

    case("edit-config remove, delete, replace, default-operation none")
    ok(edit(keeper, "running", '<route xmlns:nc="%s" nc:operation="remove"><id>0000009</id>'
            "</route>" % NC), "remove of a missing node")
    ok(edit(keeper, "running", route_xml("0000002", 7, op="replace")), "replace")
    d = get_config(keeper)
    if d.findtext(".//{%s}route[{%s}id='0000002']/{%s}leaf1" % (R, R, R)) != "7":
        fail("replace did not set leaf1 to 7")
    ok(edit(keeper, "running", '<route xmlns:nc="%s" nc:operation="delete"><id>0000002</id>'
            "</route>" % NC, "<default-operation>none</default-operation>"), "delete under none")
    if routes(get_config(keeper)) != ["0000001"]:
        fail("delete under default-operation none")

    case("error-option continue-on-error applies what it can")
    r = edit(keeper, "running", route_xml("0000001", op="create") + route_xml("0000005"),
             "<error-option>continue-on-error</error-option>")
    error(r, "data-exists", "continue-on-error")
    if routes(get_config(keeper)) != ["0000001", "0000005"]:
        fail("continue-on-error did not apply the good part")

    case("error-option rollback-on-error: all or nothing")
    r = edit(keeper, "running", route_xml("0000008") + route_xml("0000001", op="create"),
             "<error-option>rollback-on-error</error-option>")
    error(r, "data-exists", "rollback-on-error")
    if "0000008" in routes(get_config(keeper)):
        fail("rollback-on-error kept the good part")

    case("wrong namespaces: of the operation, of the data")
    error(keeper.rpc('<get-config xmlns="urn:ietf:params:xml:ns:netconf:base:1.1">'
                     "<source><running/></source></get-config>"), "operation-not-supported",
          "get-config in a wrong namespace")
    r = keeper.rpc('<edit-config><target><running/></target><config><active-cfg xmlns="urn:x">'
                   "<routes/></active-cfg></config></edit-config>")
    if r.find("{%s}rpc-error" % NC) is None:
        fail("data in an unknown namespace was accepted")
    if routes(get_config(keeper)) != ["0000001", "0000005"]:
        fail("a wrong namespace changed running: %s" % routes(get_config(keeper)))

    case("with-defaults: explicit, report-all, report-all-tagged, trim")
    WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
    flt = '<filter type="subtree"><box xmlns="%s"/></filter>' % T

    def box(mode):
        wd = '<with-defaults xmlns="%s">%s</with-defaults>' % (WD, mode) if mode else ""
        return data(keeper.rpc("<get-config><source><running/></source>%s%s</get-config>"
                               % (flt, wd)))
    if box(None).find(".//{%s}mode" % T) is not None:
        fail("the default leaf is reported without with-defaults")
    m = box("report-all").find(".//{%s}mode" % T)
    if m is None or m.text != "auto":
        fail("report-all does not report the default")
    m = box("report-all-tagged").find(".//{%s}mode" % T)
    if m is None or m.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") != "true":
        fail("report-all-tagged does not tag the default")
    ok(keeper.rpc('<edit-config><target><running/></target><config><box xmlns="%s">'
                  "<mode>auto</mode></box></config></edit-config>" % T), "set mode to its default")
    if box("explicit").find(".//{%s}mode" % T) is None:
        fail("explicit does not report a value set explicitly")
    if box("trim").find(".//{%s}mode" % T) is not None:
        fail("trim reports a value equal to its default")

    case("test-option test-only changes nothing")
    ok(edit(keeper, "running", route_xml("0000006"), "<test-option>test-only</test-option>"),
       "test-only")
    if "0000006" in routes(get_config(keeper)):
        fail("test-only committed")

    case("locks across sessions")
    other = Session()
    ok(keeper.rpc("<lock><target><running/></target></lock>"), "lock")
    err = error(other.rpc("<lock><target><running/></target></lock>"), "lock-denied", "lock")
    if err.findtext(".//{%s}session-id" % NC) != str(keeper.id):
        fail("lock-denied does not name session %d" % keeper.id)
    r = edit(other, "running", route_xml("0000007"))
    if r.find("{%s}rpc-error" % NC) is None:
        fail("a write of another session went through the lock")
    ok(keeper.rpc("<unlock><target><running/></target></unlock>"), "unlock")
    ok(edit(other, "running", route_xml("0000007")), "write after unlock")
    ok(other.rpc("<lock><target><running/></target></lock>"), "lock by the other")
    other.s.close()  # the lock goes with the session
    for _ in range(50):
        r = keeper.rpc("<lock><target><running/></target></lock>")
        if r.find("{%s}ok" % NC) is not None:
            break
        time.sleep(0.1)
    else:
        fail("the lock of a closed session was not released")
    ok(keeper.rpc("<unlock><target><running/></target></unlock>"), "unlock")

    case("candidate: edit, discard, commit")
    ok(edit(keeper, "candidate", route_xml("0000010")), "edit candidate")
    if "0000010" in routes(get_config(keeper)):
        fail("a candidate edit reached running")
    if "0000010" not in routes(get_config(keeper, "candidate")):
        fail("the candidate does not show its edit")
    ok(keeper.rpc("<discard-changes/>"), "discard")
    if "0000010" in routes(get_config(keeper, "candidate")):
        fail("discard-changes kept the edit")
    ok(edit(keeper, "candidate", route_xml("0000011")), "edit candidate")
    ok(keeper.rpc("<commit/>"), "commit")
    if "0000011" not in routes(get_config(keeper)):
        fail("commit did not reach running")

    case("confirmed commit: confirmed from another session with persist-id; a timeout reverts")
    ok(edit(keeper, "candidate", route_xml("0000012")), "edit")
    ok(keeper.rpc("<commit><confirmed/><confirm-timeout>30</confirm-timeout>"
                  "<persist>p1</persist></commit>"), "confirmed commit")
    s2 = Session()
    error(s2.rpc("<commit><persist-id>nope</persist-id></commit>"), "invalid-value", "wrong id")
    ok(s2.rpc("<commit><persist-id>p1</persist-id></commit>"), "confirming commit")
    ok(edit(keeper, "candidate", route_xml("0000013")), "edit")
    ok(keeper.rpc("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>"),
       "confirmed commit")
    if "0000013" not in routes(get_config(keeper)):
        fail("the confirmed commit is not in running")
    time.sleep(2.5)
    rs = routes(get_config(keeper))
    if "0000013" in rs or "0000012" not in rs:
        fail("after the timeout: %s" % rs)
    ok(edit(keeper, "candidate", route_xml("0000014")), "edit")
    ok(keeper.rpc("<commit><confirmed/><persist>p2</persist></commit>"), "confirmed")
    ok(s2.rpc("<cancel-commit><persist-id>p2</persist-id></cancel-commit>"), "cancel-commit")
    if "0000014" in routes(get_config(keeper)):
        fail("cancel-commit did not revert")
    error(s2.rpc("<cancel-commit/>"), "operation-failed", "cancel without a pending commit",
          words=("no confirmed commit",))

    case("validate, copy-config, with-defaults, get, get-schema")
    ok(keeper.rpc("<validate><source><candidate/></source></validate>"), "validate candidate")
    error(keeper.rpc('<validate><source><config><active-cfg xmlns="%s"><routes><route>'
                     "<id>0000020</id><leaf1>1</leaf1></route></routes></active-cfg></config>"
                     "</source></validate>" % R), "operation-failed", "validate config",
          words=("leaf2",))
    ok(keeper.rpc("<copy-config><target><candidate/></target><source><running/></source>"
                  "</copy-config>"), "copy running to candidate")
    if routes(get_config(keeper, "candidate")) != routes(get_config(keeper)):
        fail("copy-config: the candidate differs from running")
    d = data(keeper.rpc("<get><filter type=\"subtree\"><active-cfg xmlns=\"%s\"/></filter></get>"
                        % R))
    if "0000001" not in routes(d):
        fail("get: %s" % ET.tostring(d).decode()[:300])
    r = keeper.rpc('<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
                   "<identifier>routes</identifier></get-schema>")
    text = "".join(r.itertext())
    if "module routes" not in text:
        fail("get-schema: %s" % text[:200])
    error(keeper.rpc('<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
                     "<identifier>nosuch</identifier></get-schema>"), "invalid-value",
          "get-schema of an unknown module")

    case("notifications: netconf-config-change after every commit, whoever made it")
    sub = Session()
    NF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
    NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
    ok(sub.rpc('<create-subscription xmlns="%s"/>' % NF), "create-subscription")
    error(sub.rpc('<create-subscription xmlns="%s"/>' % NF), "operation-failed",
          "a second subscription", words=("already subscribed",))
    error(keeper.rpc('<create-subscription xmlns="%s"><stream>nope</stream>'
                     "</create-subscription>" % NF), "invalid-value", "an unknown stream")
    ok(edit(keeper, "running", route_xml("0000030")), "edit while subscribed")
    n = ET.fromstring(sub.read())
    if n.tag != "{%s}notification" % NF or n.find("{%s}eventTime" % NF) is None:
        fail("not a notification: %s" % ET.tostring(n).decode()[:300])
    cc = n.find("{%s}netconf-config-change" % NCN)
    if cc is None:
        fail("no netconf-config-change: %s" % ET.tostring(n).decode()[:300])
    if cc.findtext(".//{%s}session-id" % NCN) != str(keeper.id):
        fail("changed-by names session %s, not %d" % (cc.findtext(".//{%s}session-id" % NCN),
                                                      keeper.id))
    if cc.findtext(".//{%s}username" % NCN) != "netconf":
        fail("changed-by username: %s" % cc.findtext(".//{%s}username" % NCN))
    tgt = cc.findtext(".//{%s}edit/{%s}target" % (NCN, NCN))
    if tgt != "/routes:active-cfg/routes/route[id='0000030']" or \
            cc.findtext(".//{%s}edit/{%s}operation" % (NCN, NCN)) != "create":
        fail("edit: %s" % ET.tostring(cc).decode()[:400])
    # the subscribed session still answers RPCs (interleave)
    data(sub.rpc("<get-config><source><running/></source></get-config>"))
    ok(edit(keeper, "running", '<route><id>0000030</id><leaf2>9</leaf2></route>'), "change")
    n = ET.fromstring(sub.read())
    op = n.findtext(".//{%s}edit/{%s}operation" % (NCN, NCN))
    tgt = n.findtext(".//{%s}edit/{%s}target" % (NCN, NCN))
    if op != "replace" or not tgt.endswith("/leaf2"):
        fail("a leaf change: %s %s" % (op, tgt))
    sub.s.close()

    case("ietf-netconf-monitoring and ietf-yang-library in get")
    MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
    ok(keeper.rpc("<lock><target><candidate/></target></lock>"), "lock candidate")
    d = data(keeper.rpc('<get><filter type="subtree"><netconf-state xmlns="%s"/></filter></get>'
                        % MON))
    ids = [e.findtext("{%s}session-id" % MON) for e in d.iter("{%s}session" % MON)]
    if str(keeper.id) not in ids:
        fail("netconf-state/sessions lacks session %d: %s" % (keeper.id, ids))
    lk = [ds for ds in d.iter("{%s}datastore" % MON) if ds.findtext("{%s}name" % MON) == "candidate"]
    if not lk or lk[0].findtext(".//{%s}locked-by-session" % MON) != str(keeper.id):
        fail("netconf-state/datastores does not show the candidate lock")
    if "routes" not in [e.findtext("{%s}identifier" % MON) for e in d.iter("{%s}schema" % MON)]:
        fail("netconf-state/schemas lacks routes")
    if not any("candidate" in (c.text or "") for c in d.iter("{%s}capability" % MON)):
        fail("netconf-state/capabilities")
    ok(keeper.rpc("<unlock><target><candidate/></target></unlock>"), "unlock candidate")
    d = data(keeper.rpc('<get><filter type="xpath" xmlns:yl="%s" select="/yl:yang-library"/>'
                        "</get>" % YL))
    names = [e.findtext("{%s}name" % YL) for e in d.iter("{%s}module" % YL)]
    if "routes" not in names or "ietf-netconf" not in names:
        fail("yang-library modules: %s" % names)
    if d.findtext(".//{%s}content-id" % YL) is None:
        fail("yang-library has no content-id")

    case("bad RPCs: unknown operation, missing message-id, malformed XML")
    error(keeper.rpc('<frobnicate xmlns="urn:x"/>'), "operation-not-supported", "unknown rpc")
    error(keeper.rpc("<get-config><source><running/></source></get-config>", attrs=""),
          "missing-attribute", "no message-id")
    keeper.mid += 1
    keeper.send('<rpc xmlns="%s" message-id="%d"><get-config><source>' % (NC, keeper.mid))
    r = ET.fromstring(keeper.read())
    if r.get("message-id") != str(keeper.mid):
        fail("malformed XML: the reply does not carry the message-id")
    error(r, "malformed-message", "malformed XML")
    data(keeper.rpc("<get-config><source><running/></source></get-config>"))

    case("a malformed chunk header closes only that session")
    bad = Session()
    bad.s.sendall(b"\n#abc\n<rpc/>\n##\n")
    if not bad.closed():
        fail("the session with a malformed chunk header stays open")
    data(keeper.rpc("<get-config><source><running/></source></get-config>"))

    case("a message over netconf/max-message-size closes the session")
    big = Session()
    big.s.sendall(b"\n#%d\n" % (MAX_MSG + 10))
    if not big.closed():
        fail("a chunk over the limit was accepted")
    data(keeper.rpc("<get-config><source><running/></source></get-config>"))

    case("the first message must be a hello")
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.sendall(b'<rpc xmlns="%s" message-id="1"><get/></rpc>]]>]]>' % NC.encode())
    s.settimeout(10)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        fail("a session without a hello stays open")
    if b"rpc-reply" in got:
        fail("an rpc before the hello was answered")

    case("kill-session and close-session")
    victim = Session()
    error(keeper.rpc("<kill-session><session-id>%d</session-id></kill-session>" % keeper.id),
          "invalid-value", "kill self")
    ok(keeper.rpc("<kill-session><session-id>%d</session-id></kill-session>" % victim.id),
       "kill-session")
    if not victim.closed():
        fail("the killed session stays open")
    ok(s10.rpc("<close-session/>"), "close-session")
    if not s10.closed():
        fail("close-session did not close the session")

    case("a plain TCP session names its user in a header")
    named = Session(header="[alice;10.1.2.3;tcp;1000;1000;;/home/alice;;]\n")
    ok(named.rpc("<lock><target><running/></target></lock>"), "lock as alice")
    err = error(keeper.rpc("<lock><target><running/></target></lock>"), "lock-denied", "lock")
    if "alice" not in (err.findtext("{%s}error-message" % NC) or ""):
        fail("the lock holder's user is not named: %s" % err.findtext("{%s}error-message" % NC))
    named.s.close()

    data(keeper.rpc("<get-config><source><running/></source></get-config>"))
    print("PASS nc_raw", flush=True)


main()
