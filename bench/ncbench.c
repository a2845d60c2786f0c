/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_nc: a NETCONF client for benchmarks, on the routes model (examples/routes).
 *
 *   bench_nc (-t HOST:PORT [-u USER] | -s HOST:PORT -u USER (-P PASSWORD | -i KEYFILE))
 *            [-T auto|running|candidate] [-n N] [-k K] [-b FIRST_ID] [-r RANGE]
 *            [-v VALUE_BASE] [-W WARMUP] [-L SECONDS] [-H MS] [-o FILE] WORKLOAD
 *
 * Transports: plain TCP (-t; with -u the session starts with ConfD's header
 * "[USER;127.0.0.1;tcp;0;0;;/;;]\n" before the hello), or SSH (-s, libssh's client API:
 * password authentication as USER, or public-key authentication with the private key in
 * KEYFILE (-i), subsystem "netconf"; the host key is not checked: this is a tool for loopback
 * benchmarks). Hello with base:1.0 and base:1.1; when the server offers base:1.1 every message
 * after the hellos is chunk-framed (RFC 6242 section 4.2), otherwise end-of-message framed
 * ("]]>]]>", base:1.0). Each request is framed in one buffer, prepared before its clock
 * starts, and handed to one write call; TCP_NODELAY on the socket (SSH_OPTIONS_NODELAY over
 * SSH).
 *
 * -H MS: a pause of MS ms after the client's hello, before the first request (not part of any
 * figure; connect_ms includes it). Yuma123's netconfd 2.13 behind OpenSSH and
 * netconf-subsystem leaves a request that follows the client's hello at once unanswered (the
 * session hangs; seen with get-config and close-session, while a 10 KB edit-config got
 * through); with a pause of 100 ms every session of the harness was answered. The harness
 * passes -H 100 to netconfd, and nothing to chorusd.
 *
 * Edits target running when the server's hello offers :writable-running (or with -T
 * running); otherwise (or with -T candidate) they go to candidate, each followed by a
 * <commit/>, and the latency or wall time of an edit covers both requests. Reads always
 * come from running.
 *
 * Workloads; routes are generated as examples/routes/gen-routes.py does
 * (id "%07lu", leaf1..4 = v..v+3 with v = (id * 7) % 1000000), so that a K-route edit is
 * byte for byte the file `gen-routes.py K --start FIRST_ID` inside <config>:
 *
 *   rtt     N get-configs with a subtree filter selecting route FIRST_ID (after WARMUP ones):
 *           latency p50/p99/mean; routes= is how many routes the replies held (1 or 0)
 *   edit    one edit-config (default-operation merge) of K routes FIRST_ID.. : wall ms
 *   seq     N one-route edit-configs one after the other (after WARMUP ones), each a merge of
 *           route FIRST_ID + (j mod RANGE) with all four leaves set to VALUE_BASE + j.. (j
 *           counts warm-ups first, then counted edits; RANGE 0: no wrap, every edit a new
 *           route): commits/s, latency p50/p99; with -L, the counted edits stop once SECONDS
 *           have passed (commits= says how many were made)
 *   getall  one get-config with the subtree filter <active-cfg/>: wall ms, reply bytes; with
 *           -k K the reply must hold exactly K routes
 *   delete  one edit-config with nc:operation="delete" on /active-cfg/routes: wall ms
 *
 * A latency or wall time runs from just before the request's write to the end of its reply
 * (the whole reply read and deframed); checking the reply comes after. Every reply must be
 * an <rpc-reply> with the request's message-id holding <ok/> (edits) or <data> (reads); an
 * <rpc-error> is printed and ends the run with exit 3 (the server refused the request),
 * anything else fails it (exit 1).
 *
 * Output: one line of KEY=VALUE pairs (latencies in us, wall times in ms; target= and
 * framing= say what the hello chose); with -o, FILE receives every counted latency in us,
 * sorted, one per line. Exit 0, 1 on a failure (with a message on stderr), 2 on bad usage,
 * 3 on an <rpc-error> (its error-tag and error-message on stderr).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define NC_NS "urn:ietf:params:xml:ns:netconf:base:1.0"
#define RT_NS "urn:chorus:example:routes"
#define BASE11 "urn:ietf:params:netconf:base:1.1"
#define CAP_WRUN "urn:ietf:params:netconf:capability:writable-running:1.0"
#define CAP_CAND "urn:ietf:params:netconf:capability:candidate:1.0"
#define READ_STEP (256 * 1024)
#define SHOW_MAX 4000 /* bytes of an unexpected reply printed */

struct buf {
    char *d;
    size_t len, cap;
};

struct conn {
    int fd; /* TCP socket, or -1 over SSH */
    ssh_session ssh;
    ssh_channel ch;
    struct buf in; /* bytes received, d[off..len) not yet consumed */
    size_t off;
    unsigned long mid; /* message-id of the last request */
    bool chunked;      /* base:1.1 framing (else base:1.0 end-of-message) */
    bool candidate;    /* edits go to candidate, each followed by <commit/> */
};

struct opts {
    const char *tcp, *ssh, *user, *password, *keyfile, *target;
    const char *workload;
    long n, warmup, k, hello_pause_ms;
    double limit_s;
    unsigned long first_id, range, value_base;
    const char *lat_file;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;

    fputs("bench_nc: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void
buf_reserve(struct buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 4096;

    if (b->len + more + 1 <= b->cap) {
        return;
    }
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    if (!(b->d = realloc(b->d, cap))) {
        die("out of memory (%zu bytes)", cap);
    }
    b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        die("vsnprintf failed");
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->d + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- transport ---- */

static void
split_hostport(const char *arg, char *host, size_t hsize, char **ret_port)
{
    const char *colon = strrchr(arg, ':');

    if (!colon || (size_t)(colon - arg) >= hsize || !colon[1]) {
        die("%s is not HOST:PORT", arg);
    }
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    *ret_port = (char *)colon + 1;
}

static void
conn_write(struct conn *c, const char *data, size_t len)
{
    while (len) {
        if (c->fd >= 0) {
            ssize_t n = write(c->fd, data, len);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                die("write: %s", n < 0 ? strerror(errno) : "nothing written");
            }
            data += n;
            len -= (size_t)n;
        } else {
            uint32_t part = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
            int n = ssh_channel_write(c->ch, data, part);

            if (n <= 0) {
                die("ssh_channel_write: %s", ssh_get_error(c->ssh));
            }
            data += n;
            len -= (size_t)n;
        }
    }
}

/* Reads what is available (at least one byte) into c->in; dies at end of file. */
static void
conn_fill(struct conn *c)
{
    long n;

    if (c->off && c->off == c->in.len) {
        c->off = c->in.len = 0;
    } else if (c->off > (1u << 20) && c->off * 2 > c->in.len) {
        memmove(c->in.d, c->in.d + c->off, c->in.len - c->off);
        c->in.len -= c->off;
        c->off = 0;
    }
    buf_reserve(&c->in, READ_STEP);
    for (;;) {
        if (c->fd >= 0) {
            n = read(c->fd, c->in.d + c->in.len, READ_STEP);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                die("read: %s", strerror(errno));
            }
        } else {
            n = ssh_channel_read(c->ch, c->in.d + c->in.len, READ_STEP, 0);
            if (n == SSH_ERROR) {
                die("ssh_channel_read: %s", ssh_get_error(c->ssh));
            }
            if (n == 0 && !ssh_channel_is_eof(c->ch)) {
                continue;
            }
        }
        break;
    }
    if (n == 0) {
        die("the server closed the session");
    }
    c->in.len += (size_t)n;
    c->in.d[c->in.len] = '\0';
}

/* Makes sure at least @p n unconsumed bytes are buffered. */
static void
conn_need(struct conn *c, size_t n)
{
    if (c->in.len - c->off < n) {
        buf_reserve(&c->in, n);
    }
    while (c->in.len - c->off < n) {
        conn_fill(c);
    }
}

/* One base:1.0 message (the hello) into @p msg (replaced). */
static void
read_eom(struct conn *c, struct buf *msg)
{
    char *end;

    for (;;) {
        if (c->in.len > c->off && (end = strstr(c->in.d + c->off, "]]>]]>"))) {
            break;
        }
        conn_fill(c);
    }
    msg->len = 0;
    buf_add(msg, c->in.d + c->off, (size_t)(end - (c->in.d + c->off)));
    c->off = (size_t)(end - c->in.d) + 6;
}

/* One chunk-framed message into @p msg (replaced); dies on bad framing. */
static void
read_chunked(struct conn *c, struct buf *msg)
{
    msg->len = 0;
    for (;;) {
        size_t i = 2, size = 0;
        const char *p;

        conn_need(c, 4);
        p = c->in.d + c->off;
        if (p[0] != '\n' || p[1] != '#') {
            die("bad chunk framing from the server: \"%.20s\"", p);
        }
        if (p[2] == '#') {
            if (p[3] != '\n') {
                die("bad end-of-chunks marker from the server");
            }
            c->off += 4;
            if (!msg->d) {
                buf_reserve(msg, 0);
            }
            msg->d[msg->len] = '\0';
            return;
        }
        for (;;) {
            conn_need(c, i + 1);
            p = c->in.d + c->off;
            if (p[i] == '\n') {
                break;
            }
            if (p[i] < '0' || p[i] > '9' || i > 12) {
                die("bad chunk header from the server: \"%.20s\"", p);
            }
            size = size * 10 + (size_t)(p[i] - '0');
            i++;
        }
        if (i == 2 || !size) {
            die("bad chunk size from the server");
        }
        conn_need(c, i + 1 + size);
        buf_add(msg, c->in.d + c->off + i + 1, size);
        c->off += i + 1 + size;
    }
}

/* The next message in the session's framing. */
static void
read_msg(struct conn *c, struct buf *msg)
{
    if (c->chunked) {
        read_chunked(c, msg);
    } else {
        read_eom(c, msg);
    }
}

static void
tcp_connect(struct conn *c, const char *arg, const char *user)
{
    struct addrinfo hints = {0}, *ai = NULL, *a;
    char host[256], *port;
    int one = 1, rc;

    split_hostport(arg, host, sizeof host, &port);
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &ai))) {
        die("%s: %s", arg, gai_strerror(rc));
    }
    for (a = ai; a; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (c->fd >= 0 && !connect(c->fd, a->ai_addr, a->ai_addrlen)) {
            break;
        }
        if (c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        die("cannot connect to %s: %s", arg, strerror(errno));
    }
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) {
        die("TCP_NODELAY: %s", strerror(errno));
    }
    if (user) {
        struct buf h = {0};

        buf_printf(&h, "[%s;127.0.0.1;tcp;0;0;;/;;]\n", user);
        conn_write(c, h.d, h.len);
        free(h.d);
    }
}

static void
ssh_open(struct conn *c, const char *arg, const char *user, const char *password,
         const char *keyfile)
{
    char host[256], *port;
    unsigned int portnum;
    int yes = 1, no = 0;
    bool no_config = false;

    split_hostport(arg, host, sizeof host, &port);
    portnum = (unsigned int)strtoul(port, NULL, 10);
    c->fd = -1;
    if (!(c->ssh = ssh_new())) {
        die("ssh_new failed");
    }
    if (ssh_options_set(c->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no_config) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_HOST, host) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_PORT, &portnum) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_USER, user) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_NODELAY, &yes) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no) ||
        ssh_options_set(c->ssh, SSH_OPTIONS_KNOWNHOSTS, "/dev/null")) {
        die("ssh options: %s", ssh_get_error(c->ssh));
    }
    if (ssh_connect(c->ssh) != SSH_OK) {
        die("cannot connect over SSH to %s: %s", arg, ssh_get_error(c->ssh));
    }
    if (keyfile) {
        ssh_key key = NULL;

        if (ssh_pki_import_privkey_file(keyfile, NULL, NULL, NULL, &key) != SSH_OK) {
            die("cannot read the private key %s", keyfile);
        }
        if (ssh_userauth_publickey(c->ssh, NULL, key) != SSH_AUTH_SUCCESS) {
            die("SSH public-key authentication of %s failed: %s", user, ssh_get_error(c->ssh));
        }
        ssh_key_free(key);
    } else if (ssh_userauth_password(c->ssh, NULL, password) != SSH_AUTH_SUCCESS) {
        die("SSH password authentication of %s failed: %s", user, ssh_get_error(c->ssh));
    }
    if (!(c->ch = ssh_channel_new(c->ssh)) || ssh_channel_open_session(c->ch) != SSH_OK ||
        ssh_channel_request_subsystem(c->ch, "netconf") != SSH_OK) {
        die("cannot open the netconf subsystem: %s", ssh_get_error(c->ssh));
    }
}

/* Connects, exchanges hellos, and chooses the framing and the target of edits. */
static void
nc_open(struct conn *c, const struct opts *o)
{
    struct buf hello = {0};
    static const char client_hello[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><hello xmlns=\"" NC_NS "\"><capabilities>"
        "<capability>urn:ietf:params:netconf:base:1.0</capability>"
        "<capability>" BASE11 "</capability></capabilities></hello>]]>]]>";

    c->fd = -1;
    if (o->tcp) {
        tcp_connect(c, o->tcp, o->user);
    } else {
        ssh_open(c, o->ssh, o->user, o->password, o->keyfile);
    }
    read_eom(c, &hello);
    if (!strstr(hello.d, "<hello") || !strstr(hello.d, "session-id")) {
        die("the server's first message is not a hello: %.*s", SHOW_MAX, hello.d);
    }
    c->chunked = strstr(hello.d, BASE11 "<") != NULL;
    if (!strcmp(o->target, "candidate")) {
        c->candidate = true;
    } else if (!strcmp(o->target, "running")) {
        c->candidate = false;
    } else if (strstr(hello.d, CAP_WRUN)) {
        c->candidate = false;
    } else if (strstr(hello.d, CAP_CAND)) {
        c->candidate = true;
    } else {
        die("the server offers neither :writable-running nor :candidate");
    }
    conn_write(c, client_hello, sizeof client_hello - 1);
    free(hello.d);
    if (o->hello_pause_ms > 0) {
        struct timespec ts = {o->hello_pause_ms / 1000, (o->hello_pause_ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
}

static void
nc_close(struct conn *c)
{
    if (c->ch) {
        ssh_channel_send_eof(c->ch);
        ssh_channel_close(c->ch);
        ssh_channel_free(c->ch);
    }
    if (c->ssh) {
        ssh_disconnect(c->ssh);
        ssh_free(c->ssh);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->in.d);
}

/* ---- requests and replies ---- */

/* @p out (replaced): the chunk-framed <rpc> with the next message-id around @p body. */
static void
frame_rpc(struct conn *c, const char *body, size_t blen, struct buf *out)
{
    char head[96];
    int hl;

    c->mid++;
    hl = snprintf(head, sizeof head, "<rpc xmlns=\"" NC_NS "\" message-id=\"%lu\">", c->mid);
    out->len = 0;
    if (c->chunked) {
        buf_printf(out, "\n#%zu\n", (size_t)hl + blen + 6);
    }
    buf_add(out, head, (size_t)hl);
    buf_add(out, body, blen);
    if (c->chunked) {
        buf_add(out, "</rpc>\n##\n", 10);
    } else {
        buf_add(out, "</rpc>]]>]]>", 12);
    }
}

/* Sends a framed request and reads its reply into @p reply; returns the elapsed ns. */
static uint64_t
exchange(struct conn *c, const struct buf *req, struct buf *reply)
{
    uint64_t t0 = now_ns();

    conn_write(c, req->d, req->len);
    read_msg(c, reply);
    return now_ns() - t0;
}

/* The text of element @p name inside @p s (up to @p max bytes), or "" */
static void
element_text(const char *s, const char *name, char *out, size_t max)
{
    char open[64];
    const char *p, *gt, *end;

    out[0] = '\0';
    snprintf(open, sizeof open, "<%s", name);
    for (p = s; (p = strstr(p, open)); p++) {
        if (p[strlen(open)] == '>' || p[strlen(open)] == ' ') {
            break;
        }
    }
    if (!p || !(gt = strchr(p, '>')) || !(end = strchr(gt, '<'))) {
        return;
    }
    gt++;
    while (gt < end && (*gt == ' ' || *gt == '\n')) {
        gt++;
    }
    snprintf(out, max, "%.*s", (int)(end - gt), gt);
    for (char *q = out; *q; q++) {
        if (*q == '\n' || *q == '\t' || *q == '\r') {
            *q = ' ';
        }
    }
}

/* Dies unless @p reply answers message-id c->mid with <data> (@p want_data) or <ok/>. */
static void
check_reply(const struct conn *c, const struct buf *reply, int want_data, const char *what)
{
    char mid[48];
    const char *p = reply->d, *gt;

    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
        p++;
    }
    if (!strncmp(p, "<?xml", 5) && (gt = strstr(p, "?>"))) {
        p = gt + 2;
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            p++;
        }
    }
    snprintf(mid, sizeof mid, "message-id=\"%lu\"", c->mid);
    if (strncmp(p, "<rpc-reply", 10) || !(gt = strchr(p, '>'))) {
        die("%s: not an rpc-reply: %.*s", what, SHOW_MAX, reply->d);
    }
    {
        const char *m = strstr(p, mid);

        if (!m || m > gt) {
            die("%s: the reply does not carry %s: %.*s", what, mid, SHOW_MAX, reply->d);
        }
    }
    p = gt + 1;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
        p++;
    }
    if (!strncmp(p, "<rpc-error", 10)) {
        char tag[128], msg[512];

        element_text(p, "error-tag", tag, sizeof tag);
        element_text(p, "error-message", msg, sizeof msg);
        fflush(stdout);
        fprintf(stderr, "bench_nc: %s: rpc-error: error-tag=%s error-message=%s\n", what, tag, msg);
        fprintf(stderr, "%.*s\n", SHOW_MAX, reply->d);
        exit(3);
    }
    if (want_data ? strncmp(p, "<data", 5) || (p[5] != '>' && p[5] != ' ' && p[5] != '/')
                  : strncmp(p, "<ok/>", 5)) {
        die("%s: expected %s, got: %.*s", what, want_data ? "<data>" : "<ok/>", SHOW_MAX, reply->d);
    }
}

static long
count_routes(const struct buf *reply)
{
    long n = 0;

    for (const char *p = reply->d; (p = strstr(p, "<route>")); p += 7) {
        n++;
    }
    return n;
}

static void
add_route(struct buf *b, unsigned long id, unsigned long v)
{
    buf_printf(b,
               "<route><id>%07lu</id><leaf1>%lu</leaf1><leaf2>%lu</leaf2><leaf3>%lu</leaf3>"
               "<leaf4>%lu</leaf4></route>\n",
               id, v, v + 1, v + 2, v + 3);
}

#define EDIT_HEAD_R                                                                                \
    "<edit-config><target><running/></target><config><active-cfg xmlns=\"" RT_NS "\"><routes>"
#define EDIT_HEAD_C                                                                                \
    "<edit-config><target><candidate/></target><config><active-cfg xmlns=\"" RT_NS "\"><routes>"
#define EDIT_HEAD(c) ((c)->candidate ? EDIT_HEAD_C : EDIT_HEAD_R)
#define EDIT_TAIL "</routes></active-cfg></config></edit-config>"

/* Sends a framed edit and, on candidate, a <commit/> after it; returns the elapsed ns. */
static uint64_t
edit_exchange(struct conn *c, const struct buf *req, struct buf *commit, struct buf *reply,
              const char *what)
{
    uint64_t t0 = now_ns();

    conn_write(c, req->d, req->len);
    read_msg(c, reply);
    check_reply(c, reply, 0, what);
    if (c->candidate) {
        frame_rpc(c, "<commit/>", 9, commit);
        conn_write(c, commit->d, commit->len);
        read_msg(c, reply);
        check_reply(c, reply, 0, "commit");
    }
    return now_ns() - t0;
}

/* ---- workloads ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Sorts @p lat (ns) and prints the latency figures of @p n values. */
static void
print_latencies(uint64_t *lat, long n)
{
    uint64_t sum = 0;

    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    for (long i = 0; i < n; i++) {
        sum += lat[i];
    }
    printf("p50_us=%.1f p99_us=%.1f min_us=%.1f max_us=%.1f mean_us=%.1f", lat[n / 2] / 1e3,
           lat[(size_t)((double)n * 0.99)] / 1e3, lat[0] / 1e3, lat[n - 1] / 1e3,
           (double)sum / (double)n / 1e3);
}

static int
write_latencies(const char *path, const uint64_t *lat, long n)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fprintf(stderr, "bench_nc: cannot write %s\n", path);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        fprintf(f, "%.1f\n", lat[i] / 1e3);
    }
    if (fclose(f)) {
        fprintf(stderr, "bench_nc: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int
run_rtt(struct conn *c, const struct opts *o, struct buf *req, struct buf *reply)
{
    struct buf body = {0};
    uint64_t *lat = calloc((size_t)o->n, sizeof *lat);
    long found = -1;
    int rc = 0;

    if (!lat) {
        die("out of memory");
    }
    buf_printf(&body,
               "<get-config><source><running/></source><filter type=\"subtree\">"
               "<active-cfg xmlns=\"" RT_NS "\"><routes><route><id>%07lu</id></route></routes>"
               "</active-cfg></filter></get-config>",
               o->first_id);
    for (long i = -o->warmup; i < o->n; i++) {
        uint64_t t;
        long k;

        frame_rpc(c, body.d, body.len, req);
        t = exchange(c, req, reply);
        check_reply(c, reply, 1, "get-config of one route");
        k = count_routes(reply);
        if (found >= 0 && k != found) {
            die("get-config of one route: %ld routes in one reply, %ld in another", k, found);
        }
        found = k;
        if (i >= 0) {
            lat[i] = t;
        }
    }
    printf("op=rtt n=%ld routes=%ld reply_bytes=%zu ", o->n, found, reply->len);
    print_latencies(lat, o->n);
    printf("\n");
    if (o->lat_file && write_latencies(o->lat_file, lat, o->n)) {
        rc = 1;
    }
    free(lat);
    free(body.d);
    return rc;
}

static int
run_edit(struct conn *c, const struct opts *o, struct buf *req, struct buf *reply)
{
    struct buf body = {0}, commit = {0};
    const char *head = EDIT_HEAD(c);
    uint64_t t;

    buf_reserve(&body, (size_t)o->k * 120 + 256);
    buf_add(&body, head, strlen(head));
    buf_add(&body, "\n", 1);
    for (unsigned long id = o->first_id; id < o->first_id + (unsigned long)o->k; id++) {
        add_route(&body, id, (id * 7) % 1000000);
    }
    buf_add(&body, EDIT_TAIL, sizeof EDIT_TAIL - 1);
    frame_rpc(c, body.d, body.len, req);
    t = edit_exchange(c, req, &commit, reply, "edit-config of the routes");
    printf("op=edit routes=%ld request_bytes=%zu wall_ms=%.2f\n", o->k, req->len, t / 1e6);
    free(body.d);
    free(commit.d);
    return 0;
}

static int
run_seq(struct conn *c, const struct opts *o, struct buf *req, struct buf *reply)
{
    struct buf body = {0}, commit = {0};
    const char *head = EDIT_HEAD(c);
    uint64_t *lat = calloc((size_t)o->n, sizeof *lat), t_start = 0, limit_ns = 0;
    double wall;
    long done = 0;
    int rc = 0;

    if (!lat) {
        die("out of memory");
    }
    if (o->limit_s > 0) {
        limit_ns = (uint64_t)(o->limit_s * 1e9);
    }
    for (long i = -o->warmup; i < o->n; i++) {
        unsigned long j = (unsigned long)(i + o->warmup);
        unsigned long id = o->first_id + (o->range ? j % o->range : j);

        if (i == 0) {
            t_start = now_ns();
        } else if (i > 0 && limit_ns && now_ns() - t_start >= limit_ns) {
            break;
        }
        body.len = 0;
        buf_add(&body, head, strlen(head));
        add_route(&body, id, o->value_base + j);
        buf_add(&body, EDIT_TAIL, sizeof EDIT_TAIL - 1);
        frame_rpc(c, body.d, body.len, req);
        if (i >= 0) {
            lat[i] = edit_exchange(c, req, &commit, reply, "edit-config of one route");
            done = i + 1;
        } else {
            (void)edit_exchange(c, req, &commit, reply, "edit-config of one route");
        }
    }
    wall = (double)(now_ns() - t_start) / 1e9;
    printf("op=seq commits=%ld wall_s=%.3f commits_per_s=%.1f ", done, wall, (double)done / wall);
    print_latencies(lat, done);
    printf("\n");
    if (o->lat_file && write_latencies(o->lat_file, lat, done)) {
        rc = 1;
    }
    free(lat);
    free(body.d);
    free(commit.d);
    return rc;
}

static int
run_getall(struct conn *c, const struct opts *o, struct buf *req, struct buf *reply)
{
    static const char body[] = "<get-config><source><running/></source><filter type=\"subtree\">"
                               "<active-cfg xmlns=\"" RT_NS "\"/></filter></get-config>";
    uint64_t t;
    long n;

    frame_rpc(c, body, sizeof body - 1, req);
    t = exchange(c, req, reply);
    check_reply(c, reply, 1, "get-config of all routes");
    n = count_routes(reply);
    if (o->k >= 0 && n != o->k) {
        die("get-config of all routes: %ld routes, expected %ld", n, o->k);
    }
    printf("op=getall routes=%ld reply_bytes=%zu wall_ms=%.2f\n", n, reply->len, t / 1e6);
    return 0;
}

static int
run_delete(struct conn *c, const struct opts *o, struct buf *req, struct buf *reply)
{
    struct buf body = {0}, commit = {0};
    uint64_t t;

    (void)o;
    buf_printf(&body,
               "<edit-config><target><%s/></target><config><active-cfg xmlns=\"" RT_NS "\">"
               "<routes xmlns:nc=\"" NC_NS "\" nc:operation=\"delete\"/></active-cfg></config>"
               "</edit-config>",
               c->candidate ? "candidate" : "running");
    frame_rpc(c, body.d, body.len, req);
    t = edit_exchange(c, req, &commit, reply, "edit-config deleting all routes");
    printf("op=delete wall_ms=%.2f\n", t / 1e6);
    free(body.d);
    free(commit.d);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: bench_nc (-t HOST:PORT [-u USER] | -s HOST:PORT -u USER (-P PASSWORD | "
            "-i KEYFILE)) [-T auto|running|candidate] [-n N] [-k K] [-b FIRST_ID] [-r RANGE] "
            "[-v VALUE_BASE] [-W WARMUP] [-L SECONDS] [-H MS] [-o FILE] "
            "rtt|edit|seq|getall|delete\n");
}

static int
num(const char *s, unsigned long max, unsigned long *ret)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max) {
        return -1;
    }
    *ret = v;
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o = {0};
    struct conn c = {0};
    struct buf req = {0}, reply = {0};
    unsigned long v;
    int opt, rc;
    uint64_t t0;
    double connect_ms;

    o.n = 1000;
    o.warmup = 20;
    o.k = -1;
    o.first_id = 1;
    o.value_base = 2000000;
    o.target = "auto";
    while ((opt = getopt(argc, argv, "t:s:u:P:i:T:L:H:n:k:b:r:v:W:o:h")) != -1) {
        switch (opt) {
        case 't':
            o.tcp = optarg;
            break;
        case 's':
            o.ssh = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'P':
            o.password = optarg;
            break;
        case 'i':
            o.keyfile = optarg;
            break;
        case 'T':
            if (strcmp(optarg, "auto") && strcmp(optarg, "running") && strcmp(optarg, "candidate")) {
                usage();
                return 2;
            }
            o.target = optarg;
            break;
        case 'L': {
            char *end;

            o.limit_s = strtod(optarg, &end);
            if (end == optarg || *end || o.limit_s <= 0) {
                usage();
                return 2;
            }
            break;
        }
        case 'n':
        case 'k':
        case 'W':
        case 'H':
            if (num(optarg, 100000000, &v)) {
                usage();
                return 2;
            }
            *(opt == 'n'   ? &o.n
              : opt == 'k' ? &o.k
              : opt == 'H' ? &o.hello_pause_ms
                           : &o.warmup) = (long)v;
            break;
        case 'b':
        case 'r':
        case 'v':
            if (num(optarg, 9999999, &v)) {
                usage();
                return 2;
            }
            *(opt == 'b' ? &o.first_id : opt == 'r' ? &o.range : &o.value_base) = v;
            break;
        case 'o':
            o.lat_file = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (optind != argc - 1 || !o.tcp == !o.ssh || (o.ssh && (!o.user || !o.password == !o.keyfile)) || o.n < 1) {
        usage();
        return 2;
    }
    o.workload = argv[optind];
    if (!strcmp(o.workload, "edit") && (o.k < 1 || o.first_id + (unsigned long)o.k > 10000000)) {
        fprintf(stderr, "bench_nc: edit needs -k K, ids within 7 digits\n");
        return 2;
    }
    if (!strcmp(o.workload, "seq") &&
        o.first_id + (o.range ? o.range : (unsigned long)(o.n + o.warmup)) > 10000000) {
        fprintf(stderr, "bench_nc: seq: ids must stay within 7 digits\n");
        return 2;
    }
    if (o.value_base + (unsigned long)(o.n + o.warmup) + 3 > INT32_MAX) {
        fprintf(stderr, "bench_nc: values must stay within int32\n");
        return 2;
    }

    if (o.ssh) {
        ssh_init();
    }
    t0 = now_ns();
    nc_open(&c, &o);
    connect_ms = (double)(now_ns() - t0) / 1e6;
    printf("transport=%s framing=%s target=%s connect_ms=%.2f ", o.tcp ? "tcp" : "ssh",
           c.chunked ? "1.1" : "1.0", c.candidate ? "candidate" : "running", connect_ms);
    if (!strcmp(o.workload, "rtt")) {
        rc = run_rtt(&c, &o, &req, &reply);
    } else if (!strcmp(o.workload, "edit")) {
        rc = run_edit(&c, &o, &req, &reply);
    } else if (!strcmp(o.workload, "seq")) {
        rc = run_seq(&c, &o, &req, &reply);
    } else if (!strcmp(o.workload, "getall")) {
        rc = run_getall(&c, &o, &req, &reply);
    } else if (!strcmp(o.workload, "delete")) {
        rc = run_delete(&c, &o, &req, &reply);
    } else {
        usage();
        return 2;
    }
    fflush(stdout);
    /* a clean end of the session */
    frame_rpc(&c, "<close-session/>", 16, &req);
    (void)exchange(&c, &req, &reply);
    check_reply(&c, &reply, 0, "close-session");
    nc_close(&c);
    if (o.ssh) {
        ssh_finalize();
    }
    free(req.d);
    free(reply.d);
    return rc;
}
