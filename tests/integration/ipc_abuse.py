#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""IPC protocol abuse against a running chorusd (driven by t_ipc_abuse.sh).

usage: ipc_abuse.py PORT MAX_FRAME MAX_SESSIONS
       ipc_abuse.py PORT MAX_FRAME MAX_SESSIONS --secret FILE   (the shared-secret cases)

Speaks docs/protocol.md with raw sockets: frames over the size limit, malformed bodies,
requests before hello, a wrong protocol version, unknown operations, garbage, half frames,
too many connections. After each case the daemon must still answer a well-behaved client on a
connection that was open all along and on a new one. Exits 0 if every expectation held;
otherwise prints "FAIL: <case>: <what>" and exits 1.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

T_PROTO_VERSION, T_NAME, T_CHALLENGE, T_AUTH = 1, 2, 5, 6
T_ERR_CODE, T_ERR_MSG, T_ERR_PATH = 10, 11, 12
T_USER, T_CONTEXT, T_DB, T_RW, T_TH, T_PATH, T_TXID = 20, 21, 30, 31, 32, 40, 50
T_STATUS = 60
T_FORMAT, T_DATA, T_COUNT = 42, 44, 47
T_SUBKIND, T_PRIORITY, T_EVID, T_TIMEOUT = 71, 72, 73, 79
OP_SUBSCRIBE, OP_EV_REPLY, OP_RPC, OP_CURSOR = 91, 93, 94, 95
OP_CONFIRMED_COMMIT, OP_CANCEL_COMMIT = 97, 98
ERR_NOTFOUND, ERR_BADPATH, ERR_BADVALUE = 6, 8, 9
OP_HELLO, OP_SESSION_START, OP_TRANS_START, OP_GET_VALUE = 1, 2, 10, 21
OP_SET, OP_TXID, OP_STATUS, OP_STOP, OP_AUTH = 30, 63, 80, 81, 4
F_REPLY, F_ERROR = 0x1, 0x2
ERR_INVAL, ERR_PROTO, ERR_TOOBIG, ERR_EXISTS, ERR_STATE, ERR_UNSUPPORTED = 1, 4, 5, 7, 14, 20
ERR_ACCESS = 13

PORT = int(sys.argv[1])
MAX_FRAME = int(sys.argv[2])
MAX_SESSIONS = int(sys.argv[3])
TIMEOUT = 20.0
CASE = "?"


def fail(what):
    print("FAIL: %s: %s" % (CASE, what), flush=True)
    sys.exit(1)


def field(tag, value):
    return struct.pack(">HI", tag, len(value)) + value


def u32(tag, v):
    return field(tag, struct.pack(">I", v))


def u64(tag, v):
    return field(tag, struct.pack(">Q", v))


def sstr(tag, s):
    return field(tag, s.encode() + b"\0")


def frame(op, body=b"", reqid=1, flags=0, length=None):
    return struct.pack(">IHHI", len(body) if length is None else length, op, flags, reqid) + body


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            return None
        b += chunk
    return b


def read_frame(s):
    """(op, flags, reqid, [(tag, value)]) or None at end of file."""
    h = recv_exact(s, 12)
    if h is None:
        return None
    length, op, flags, reqid = struct.unpack(">IHHI", h)
    body = recv_exact(s, length) if length else b""
    if body is None:
        fail("the reply frame is cut short")
    fields, pos = [], 0
    while pos < len(body):
        tag, flen = struct.unpack(">HI", body[pos:pos + 6])
        fields.append((tag, body[pos + 6:pos + 6 + flen]))
        pos += 6 + flen
    return op, flags, reqid, fields


def errors(fields):
    """[(code, message)] of an error reply."""
    out = []
    for tag, v in fields:
        if tag == T_ERR_CODE:
            out.append([struct.unpack(">I", v)[0], ""])
        elif tag == T_ERR_MSG and out:
            out[-1][1] = v.rstrip(b"\0").decode(errors="replace")
    return out


def expect_error(s, code, reqid=None, op=None, words=()):
    r = read_frame(s)
    if r is None:
        fail("no reply: the connection was closed without an error frame")
    rop, flags, rreqid, fields = r
    if flags & (F_REPLY | F_ERROR) != F_REPLY | F_ERROR:
        fail("expected an error reply, got flags 0x%x" % flags)
    if reqid is not None and rreqid != reqid:
        fail("error reply with request id %d, expected %d" % (rreqid, reqid))
    if op is not None and rop != op:
        fail("error reply for operation %d, expected %d" % (rop, op))
    errs = errors(fields)
    if not errs or errs[0][0] != code:
        fail("expected error code %d, got %s" % (code, errs))
    for w in words:
        if w not in errs[0][1]:
            fail("the error message %r does not mention %r" % (errs[0][1], w))
    return errs[0][1]


def expect_closed(s):
    """The daemon closes the connection (end of file, or a reset) soon."""
    s.settimeout(TIMEOUT)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return
    except ConnectionResetError:
        return
    except socket.timeout:
        fail("the connection is still open %ds later" % TIMEOUT)


def expect_ok(s, op, reqid):
    r = read_frame(s)
    if r is None:
        fail("connection closed instead of a reply to operation %d" % op)
    rop, flags, rreqid, fields = r
    if flags & F_ERROR:
        fail("operation %d failed: %s" % (op, errors(fields)))
    if not flags & F_REPLY or rreqid != reqid or rop != op:
        fail("unexpected frame op %d flags 0x%x reqid %d" % (rop, flags, rreqid))
    return fields


def hello(s, version=1, reqid=1):
    s.sendall(frame(OP_HELLO, u32(T_PROTO_VERSION, version) + sstr(T_NAME, "ipc_abuse"), reqid))


SECRET = None  # bytes of --secret FILE: good_client() answers the challenge with it


def challenge_of(fields):
    c = [v for tag, v in fields if tag == T_CHALLENGE]
    return c[0].rstrip(b"\0") if c else None


def answer(secret, challenge):
    return hmac.new(secret, challenge, hashlib.sha256).hexdigest()


def good_client():
    s = connect()
    hello(s)
    ch = challenge_of(expect_ok(s, OP_HELLO, 1))
    if SECRET is not None:
        if ch is None or len(ch) != 64:
            fail("the hello reply carries no 64-digit challenge: %r" % ch)
        s.sendall(frame(OP_AUTH, sstr(T_AUTH, answer(SECRET, ch)), 2))
        expect_ok(s, OP_AUTH, 2)
    return s


def txid(s, reqid=100):
    s.sendall(frame(OP_TXID, b"", reqid))
    for tag, v in expect_ok(s, OP_TXID, reqid):
        if tag == T_TXID:
            return struct.unpack(">Q", v)[0]
    fail("txid reply without T_TXID")


def still_serving(keeper, want_txid):
    """The daemon answers on the connection open all along and on a new one; nothing changed."""
    if txid(keeper) != want_txid:
        fail("the transaction id changed")
    s = good_client()
    s.sendall(frame(OP_STATUS, b"", 7))
    st = [v for tag, v in expect_ok(s, OP_STATUS, 7) if tag == T_STATUS]
    if not st or b'"phase": 2' not in st[0]:
        fail("status on a new connection: %r" % st)
    s.close()


def case(name):
    global CASE
    CASE = name
    print("case:", name, flush=True)


def main():
    global CASE
    keeper = good_client()
    t0 = txid(keeper)

    case("frame larger than ipc/max-frame-size, after hello")
    s = good_client()
    # only the header: the daemon must answer without waiting for the body
    s.sendall(frame(OP_SET, length=MAX_FRAME + 1, reqid=42))
    expect_error(s, ERR_TOOBIG, reqid=42, words=("max-frame-size",))
    expect_closed(s)
    s.close()
    still_serving(keeper, t0)

    case("frame larger than the limit with its body streaming in")
    s = good_client()
    try:
        s.sendall(frame(OP_SET, length=MAX_FRAME + 1, reqid=43) + b"\x00" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = None
    try:
        r = read_frame(s)
    except ConnectionResetError:
        pass
    if r is not None:
        rop, flags, rreqid, fields = r
        if not flags & F_ERROR or errors(fields)[0][0] != ERR_TOOBIG:
            fail("expected TOOBIG, got flags 0x%x %s" % (flags, errors(fields)))
    still_serving(keeper, t0)

    case("frame of exactly ipc/max-frame-size is accepted")
    s = good_client()
    pad = MAX_FRAME - 6 - len(u32(T_DB, 1) + u32(T_RW, 0))
    s.sendall(frame(OP_TXID, u32(T_DB, 1) + u32(T_RW, 0) + field(999, b"\x00" * pad), 44))
    expect_ok(s, OP_TXID, 44)
    s.close()
    still_serving(keeper, t0)

    case("oversized frame before hello")
    s = connect()
    s.sendall(frame(OP_HELLO, length=0x7FFFFFFF, reqid=9))
    expect_error(s, ERR_TOOBIG, reqid=9)
    expect_closed(s)
    still_serving(keeper, t0)

    case("field overrunning the body")
    s = good_client()
    body = struct.pack(">HI", T_PATH, 100) + b"/abc\0"
    s.sendall(frame(OP_GET_VALUE, body, 5))
    expect_error(s, ERR_PROTO, reqid=5)
    expect_closed(s)
    still_serving(keeper, t0)

    case("field header cut by the end of the body")
    s = good_client()
    s.sendall(frame(OP_TXID, b"\x00\x01\x00", 6))
    expect_error(s, ERR_PROTO, reqid=6)
    expect_closed(s)
    still_serving(keeper, t0)

    case("zero tag")
    s = good_client()
    s.sendall(frame(OP_TXID, field(0, b"abcd"), 8))
    expect_error(s, ERR_PROTO, reqid=8)
    expect_closed(s)
    still_serving(keeper, t0)

    case("more than 65536 fields")
    if MAX_FRAME >= 65537 * 6:
        s = good_client()
        s.sendall(frame(OP_TXID, field(999, b"") * 65537, 10))
        expect_error(s, ERR_TOOBIG, reqid=10)
        expect_closed(s)
        still_serving(keeper, t0)

    case("session-start before hello")
    s = connect()
    s.sendall(frame(OP_SESSION_START, sstr(T_USER, "eve") + sstr(T_CONTEXT, "x"), 3))
    expect_error(s, ERR_PROTO, reqid=3, words=("hello",))
    expect_closed(s)
    still_serving(keeper, t0)

    case("status before hello")
    s = connect()
    s.sendall(frame(OP_STATUS, b"", 4))
    expect_error(s, ERR_PROTO, reqid=4, words=("hello",))
    expect_closed(s)
    still_serving(keeper, t0)

    case("wrong protocol version")
    s = connect()
    hello(s, version=2, reqid=11)
    expect_error(s, ERR_PROTO, reqid=11, op=OP_HELLO, words=("version",))
    expect_closed(s)
    still_serving(keeper, t0)

    case("hello without a protocol version")
    s = connect()
    s.sendall(frame(OP_HELLO, sstr(T_NAME, "x"), 12))
    r = read_frame(s)
    if r is None or not r[1] & F_ERROR:
        fail("a hello without T_PROTO_VERSION was not refused")
    s.close()
    still_serving(keeper, t0)

    case("unknown operation: UNSUPPORTED, the connection stays usable")
    s = good_client()
    s.sendall(frame(999, b"", 13))
    expect_error(s, ERR_UNSUPPORTED, reqid=13, op=999)
    s.sendall(frame(0, b"", 14))
    expect_error(s, ERR_UNSUPPORTED, reqid=14, op=0)
    if txid(s, 15) != t0:
        fail("txid")
    s.close()
    still_serving(keeper, t0)

    case("a reply frame sent as a request")
    s = good_client()
    s.sendall(frame(OP_TXID, b"", 16, flags=F_REPLY))
    r = read_frame(s)
    if r is not None and not r[1] & F_ERROR:
        fail("the daemon answered a reply frame as a request")
    s.close()
    still_serving(keeper, t0)

    case("missing required field: INVAL, the connection stays usable")
    s = good_client()
    s.sendall(frame(OP_SESSION_START, sstr(T_USER, "eve") + sstr(T_CONTEXT, "cli"), 17))
    expect_ok(s, OP_SESSION_START, 17)
    s.sendall(frame(OP_TRANS_START, u32(T_RW, 0), 18))
    expect_error(s, ERR_INVAL, reqid=18)
    s.sendall(frame(OP_SET, u32(T_TH, 1), 19))
    r = read_frame(s)
    if r is None or not r[1] & F_ERROR:
        fail("set without a path was not refused")
    if txid(s, 20) != t0:
        fail("txid")
    s.close()
    still_serving(keeper, t0)

    case("a string without its NUL, a u32 of the wrong size")
    s = good_client()
    s.sendall(frame(OP_SESSION_START, field(T_USER, b"eve") + sstr(T_CONTEXT, "cli"), 21))
    r = read_frame(s)
    if r is None or not r[1] & F_ERROR:
        fail("a user name without its NUL was accepted")
    s.close()
    s = good_client()
    s.sendall(frame(OP_SESSION_START, sstr(T_USER, "eve") + sstr(T_CONTEXT, "cli"), 22))
    expect_ok(s, OP_SESSION_START, 22)
    s.sendall(frame(OP_TRANS_START, field(T_DB, b"\x00\x01") + u32(T_RW, 0), 23))
    r = read_frame(s)
    if r is None or not r[1] & F_ERROR:
        fail("a 2-byte u32 was accepted")
    s.close()
    still_serving(keeper, t0)

    case("pipelined requests are answered in order, one reply each")
    s = good_client()
    s.sendall(frame(OP_TXID, b"", 31) + frame(999, b"", 32) + frame(OP_TXID, b"", 33)
              + frame(OP_SESSION_START, sstr(T_USER, "eve") + sstr(T_CONTEXT, "cli"), 34)
              + frame(OP_SESSION_START, sstr(T_USER, "eve") + sstr(T_CONTEXT, "cli"), 35))
    expect_ok(s, OP_TXID, 31)
    expect_error(s, ERR_UNSUPPORTED, reqid=32)
    expect_ok(s, OP_TXID, 33)
    expect_ok(s, OP_SESSION_START, 34)
    expect_error(s, ERR_EXISTS, reqid=35, op=OP_SESSION_START)
    s.close()
    still_serving(keeper, t0)

    case("write operation without a session")
    s = good_client()
    s.sendall(frame(OP_TRANS_START, u32(T_DB, 1) + u32(T_RW, 1), 24))
    expect_error(s, ERR_STATE, reqid=24, words=("session",))
    s.close()
    still_serving(keeper, t0)

    case("garbage: an HTTP request")
    s = connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    expect_error(s, ERR_TOOBIG)
    expect_closed(s)
    still_serving(keeper, t0)

    case("garbage: random bytes")
    for seed in range(20):
        s = connect()
        rnd = os.urandom(200)
        # a small body length so the rest is parsed as a frame
        s.sendall(struct.pack(">I", 188) + rnd[4:])
        try:
            r = read_frame(s)
        except ConnectionResetError:
            r = None
        if r is not None and not r[1] & F_ERROR:
            fail("random bytes got a success reply: %r" % (r,))
        s.close()
    still_serving(keeper, t0)

    case("half a frame, then the client goes away")
    s = good_client()
    s.sendall(frame(OP_SET, b"\x00" * 1000, 25)[:500])
    s.close()
    s = connect()
    s.sendall(frame(OP_HELLO, u32(T_PROTO_VERSION, 1) + sstr(T_NAME, "x"), 26)[:7])
    s.close()
    still_serving(keeper, t0)

    case("half a frame kept open does not block others")
    lazy = good_client()
    lazy.sendall(frame(OP_SET, b"\x00" * 1000, 27)[:500])
    still_serving(keeper, t0)
    lazy.sendall(b"\x00" * 10)
    still_serving(keeper, t0)
    lazy.close()

    case("event answers and registrations that cannot be")
    s = good_client()
    # answers to events are one-way: wrong ones are logged, never answered, and change nothing
    s.sendall(frame(OP_EV_REPLY, u32(T_EVID, 4242), 50))
    s.sendall(frame(OP_EV_REPLY, u32(T_EVID, 1) + u32(T_ERR_CODE, 999) + sstr(T_ERR_MSG, "x"), 51))
    s.sendall(frame(OP_EV_REPLY, field(T_EVID, b"\0\0\1"), 52))
    if txid(s, 49) != t0:
        fail("the transaction id changed")
    s.sendall(frame(OP_SUBSCRIBE, u32(T_SUBKIND, 77) + sstr(T_PATH, "/routes:active-cfg"), 53))
    expect_error(s, ERR_INVAL, reqid=53, words=("kind",))
    s.sendall(frame(OP_SUBSCRIBE, u32(T_SUBKIND, 1) + sstr(T_PATH, "/nosuch:x"), 54))
    expect_error(s, ERR_BADPATH, reqid=54, words=("/nosuch:x",))
    s.sendall(frame(OP_SUBSCRIBE, u32(T_SUBKIND, 1) + field(T_PRIORITY, b"\1"), 55))
    expect_error(s, ERR_PROTO, reqid=55, words=("priority",))
    # no session: cursor and rpc are refused; a forged event handle names no transaction
    s.sendall(frame(OP_CURSOR, u32(T_TH, 1) + sstr(T_PATH, "/routes:active-cfg/routes/route")
                    + u64(T_COUNT, 5), 56))
    expect_error(s, ERR_STATE, reqid=56, words=("session",))
    s.sendall(frame(OP_GET_VALUE, u32(T_TH, 0x80000001) + sstr(T_PATH, "/routes:active-cfg"), 57))
    expect_error(s, ERR_NOTFOUND, reqid=57, words=("event transaction",))
    s.sendall(frame(OP_SESSION_START, sstr(T_USER, "abuser") + sstr(T_CONTEXT, "cli"), 58))
    expect_ok(s, OP_SESSION_START, 58)
    s.sendall(frame(OP_RPC, u32(T_FORMAT, 1) + sstr(T_DATA, "<ping xmlns='urn:nowhere'"), 59))
    expect_error(s, ERR_BADVALUE, reqid=59, words=("invalid operation",))
    s.sendall(frame(OP_TRANS_START, u32(T_DB, 1) + u32(T_RW, 0), 60))
    th = [struct.unpack(">I", v)[0] for tag, v in expect_ok(s, OP_TRANS_START, 60) if tag == T_TH][0]
    for reqid, count in ((61, 0), (62, 1 << 40)):
        s.sendall(frame(OP_CURSOR, u32(T_TH, th) + sstr(T_PATH, "/routes:active-cfg/routes/route")
                        + u64(T_COUNT, count), reqid))
        expect_error(s, ERR_TOOBIG, reqid=reqid, words=("max-cursor-chunk",))
    s.sendall(frame(OP_CURSOR, u32(T_TH, th) + sstr(T_PATH, "/routes:active-cfg/routes/route")
                    + u32(T_COUNT, 5), 63))
    expect_error(s, ERR_INVAL, reqid=63, words=("T_COUNT",))
    s.sendall(frame(OP_CONFIRMED_COMMIT, u32(T_TIMEOUT, 0), 64))
    expect_error(s, ERR_INVAL, reqid=64, words=("confirm-timeout",))
    s.sendall(frame(OP_CANCEL_COMMIT, b"", 65))
    expect_error(s, ERR_STATE, reqid=65, words=("no confirmed commit",))
    s.close()
    still_serving(keeper, t0)

    case("more connections than ipc/max-sessions")
    # wait until the daemon has seen every earlier connection close: only keeper is left
    for i in range(500):
        keeper.sendall(frame(OP_STATUS, b"", 400 + i))
        st = [v for tag, v in expect_ok(keeper, OP_STATUS, 400 + i) if tag == T_STATUS][0]
        if b'"connections": 1}' in st:
            break
        time.sleep(0.01)
    else:
        fail("closed connections are still counted: %r" % st[-60:])
    conns = [keeper]
    for _ in range(MAX_SESSIONS - 1):
        conns.append(good_client())
    time.sleep(0.2)
    s = connect()
    r = read_frame(s)
    if r is None:
        fail("the connection over the limit was closed without a refusal frame")
    rop, flags, rreqid, fields = r
    errs = errors(fields)
    if rop != OP_HELLO or flags & 0x3 != 0x3 or rreqid != 0 or not errs or errs[0][0] != ERR_TOOBIG:
        fail("refusal frame: op %d flags 0x%x reqid %d errors %s" % (rop, flags, rreqid, errs))
    if "max-sessions" not in errs[0][1]:
        fail("the refusal does not name ipc/max-sessions: %r" % errs[0][1])
    expect_closed(s)
    # the admitted connections all work
    for i, c in enumerate(conns):
        if txid(c, 200 + i) != t0:
            fail("txid on connection %d" % i)
    # a freed slot can be used again
    conns.pop().close()
    s = None
    for _ in range(100):
        time.sleep(0.05)
        s = connect()
        hello(s, reqid=1)
        r = read_frame(s)
        if r is not None and r[1] == F_REPLY and r[2] == 1:
            break
        s.close()
        s = None
    if s is None:
        fail("the slot of a closed connection is not given to a new one")
    conns.append(s)
    if txid(s, 300) != t0:
        fail("txid on the connection that took the freed slot")
    for c in conns[1:]:
        c.close()
    time.sleep(0.2)
    still_serving(keeper, t0)
    keeper.close()
    print("PASS ipc_abuse", flush=True)


def secret_cases():
    """A daemon with ipc/secret-file: nothing but hello and auth before the right answer."""
    keeper = good_client()
    t0 = txid(keeper)

    for op, name in ((OP_TXID, "txid"), (OP_STATUS, "status"), (OP_STOP, "stop"),
                     (OP_SET, "set")):
        case("%s before answering the challenge" % name)
        s = connect()
        hello(s)
        if challenge_of(expect_ok(s, OP_HELLO, 1)) is None:
            fail("no challenge in the hello reply")
        s.sendall(frame(op, b"", 5))
        expect_error(s, ERR_ACCESS, reqid=5, words=("shared-secret",))
        expect_closed(s)
        s.close()
        still_serving(keeper, t0)

    case("a wrong answer")
    s = connect()
    hello(s)
    ch = challenge_of(expect_ok(s, OP_HELLO, 1))
    s.sendall(frame(OP_AUTH, sstr(T_AUTH, answer(SECRET + b"x", ch)), 2))
    expect_error(s, ERR_ACCESS, reqid=2, words=("wrong answer",))
    expect_closed(s)
    s.close()
    still_serving(keeper, t0)

    case("the answer to another connection's challenge")
    a, b = connect(), connect()
    hello(a)
    hello(b)
    cha = challenge_of(expect_ok(a, OP_HELLO, 1))
    chb = challenge_of(expect_ok(b, OP_HELLO, 1))
    if cha == chb:
        fail("two connections got the same challenge")
    b.sendall(frame(OP_AUTH, sstr(T_AUTH, answer(SECRET, cha)), 2))
    expect_error(b, ERR_ACCESS, reqid=2)
    expect_closed(b)
    b.close()
    a.close()

    case("auth without an answer, and a malformed answer")
    for body in (b"", sstr(T_AUTH, "00")):
        s = connect()
        hello(s)
        expect_ok(s, OP_HELLO, 1)
        s.sendall(frame(OP_AUTH, body, 2))
        expect_error(s, ERR_ACCESS if body else ERR_INVAL, reqid=2)
        s.close()
    still_serving(keeper, t0)
    print("PASS ipc_abuse --secret", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[4] == "--secret":
        with open(sys.argv[5], "rb") as f:
            SECRET = f.read().rstrip(b"\r\n")
        secret_cases()
    else:
        main()
