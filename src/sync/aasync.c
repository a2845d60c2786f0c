/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorus-aasync: the active-active cluster synchronizer, one per node, built on the public
 * libchorus API only (docs/cluster.md).
 *
 * The cluster is described by /chorus-aacluster:cluster (yang/chorus-aacluster.yang), which is
 * itself kept synchronous. On its own node the synchronizer is
 *   - a transaction hook on everything: a transaction that changes synchronized data gets
 *     /chorus-aacluster:cluster/transaction-id incremented in it, and one that changes the
 *     cluster container without being the synchronizer's own (join, leave) is refused, as is
 *     every such transaction while the node is behind the cluster (fencing);
 *   - a two-phase subscriber on everything, last in priority: in PREPARE it writes the same
 *     change set (the diff cut to the synchronized subtrees) on every peer in the voting set:
 *     peers locked one after the other in ascending node id (a busy peer with a lower id than
 *     ours fails the transaction at once, a higher one is retried up to lock-wait: deadlock
 *     free), then written, validated and prepared in parallel; COMMIT commits them, ABORT aborts
 *     them, in parallel. A transaction of the cluster user in context "aasync" is a
 *     replicated one: it is not replicated again (decided per transaction, from the event);
 *     in PREPARE its transaction id must follow this node's, else it is refused ("behind");
 *   - the handler of the leave operation and the provider of /chorus-aacluster:cluster-state.
 * Heartbeats (one thread per peer) read each peer's start phase and cluster transaction id:
 * a peer that does not answer for dead-after leaves the voting set; one that stays behind is
 * left out until it has re-synced; and when a live peer stays ahead of this node, this node is
 * behind: it refuses northbound writes and copies the synchronized data from that peer under
 * the peer's lock (re-sync).
 *
 * Start (chorusd in start phase 0): a node finding a live member in phase 2 copies from it
 * (restart, or -j: join, adding itself to the node list in one cluster transaction on that
 * member); otherwise the cluster is being initialised: the init node waits for the others to
 * have copied its init transaction and entered phase 1, then enters phases 1 and 2; the others
 * enter phase 2 after it.
 *
 * Threads: main (start, re-sync, leave), events (hook and two-phase subscription on one
 * connection), aux (leave RPC and cluster-state on another), one heartbeat thread per peer,
 * and one short-lived thread per peer while a cluster transaction is driven in parallel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libyang/libyang.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chorus/chorus.h"
#include "chorus/mgmt.h"
#include "chorus/sub.h"

#define PROG "chorus-aasync"
#define NS "urn:chorus:params:xml:ns:yang:chorus-aacluster"
#define CLUSTER "/chorus-aacluster:cluster"
#define CLUSTER_NAME "chorus-aacluster:cluster"
#define TXID_PATH CLUSTER "/transaction-id"
#define NODE_PATH CLUSTER "/node"
#define STATE_PATH "/chorus-aacluster:cluster-state"
#define CTX_REPL "aasync"          /* replicated transactions: not replicated again */
#define CTX_RESYNC "aasync-resync" /* copies into this node: not replicated */
#define CTX_ADMIN "aasync-admin"   /* join, leave: replicated, may change the node list */
#define MAX_NODES 256
#define MAX_SYNC 32

enum nstate { ST_STARTING, ST_INSYNC, ST_BEHIND, ST_RESYNCING, ST_LEAVING };
static const char *const nstate_name[] = {"starting", "in-sync", "behind", "resyncing",
                                          "leaving"};
enum pstate { P_UNKNOWN, P_UP, P_DOWN, P_BEHIND };
static const char *const pstate_name[] = {"unknown", "up", "down", "behind"};

struct peer {
    /* under g.mu */
    bool present;
    unsigned gen; /* heartbeat thread generation: a thread of an older one stops */
    char target[80];
    enum pstate st;
    int phase;
    uint64_t txid;
    uint64_t last_ok, lag_since, lag_tx, lead_since, lead_tx;
    char unpaired[600]; /* why it is not paired with (its modules differ), or "" */
    /* events thread only: the replication connection and the transaction on it */
    struct chorus_conn *rc;
    uint32_t th;
    bool has_th, locked, in;
    enum chorus_err err;
    char *msg, *epath, *etag;
};

static struct {
    int id;
    bool join;
    char addr[64];
    unsigned port;
    char local[80];
    char user[64];
    char admin[80]; /* the user of join and leave transactions (replicated): USER-admin */
    uint32_t init_timeout_ms;
    pthread_mutex_t mu;
    /* under mu */
    struct peer peers[MAX_NODES];
    uint64_t txid;
    enum nstate state;
    int behind_src;
    char *sync[MAX_SYNC];
    int nsync;
    int init_node;
    uint32_t hb_ms, dead_ms, peer_ms, lock_wait_ms;
    char last_error[512];
    /* a replicated transaction this node has prepared and not yet committed or aborted (its
     * id): while it commits, a peer ahead by it is not a sign of being behind */
    uint64_t pending;
    /* events thread: the cluster transaction in progress */
    volatile bool cur_active;
    uint64_t cur_txid;
    /* connections */
    struct chorus_conn *ev, *aux, *mg;
    volatile sig_atomic_t stop;
    volatile int leave_req, leave_done;
    /* digest cache (aux thread) */
    uint64_t dig_txid;
    char dig[40];
    bool dig_valid;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .init_timeout_ms = 120000};

/* ---- small things ---- */

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) && errno == EINTR && !g.stop) {
    }
}

static void __attribute__((format(printf, 1, 2))) logm(const char *fmt, ...)
{
    char ts[32], line[2048];
    struct timespec t;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &t);
    localtime_r(&t.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ld %s[%d]: %s\n", ts, t.tv_nsec / 1000000, PROG, g.id, line);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    logm("fatal: %s", line);
    exit(1);
}

static const char *
lasterr(const struct chorus_conn *c)
{
    const struct chorus_error *e = c ? chorus_last_error(c) : NULL;

    return e && e->message ? e->message : "unknown error";
}

/* A failure that leaves the connection unusable or the peer unreachable. */
static bool
transport_err(enum chorus_err e)
{
    return e == CHORUS_ERR_IO || e == CHORUS_ERR_TIMEOUT || e == CHORUS_ERR_CLOSED ||
           e == CHORUS_ERR_PROTO;
}

static void
set_state(enum nstate st, const char *why)
{
    pthread_mutex_lock(&g.mu);
    if (g.state != st) {
        logm("state %s -> %s%s%s", nstate_name[g.state], nstate_name[st], why ? ": " : "",
             why ? why : "");
        g.state = st;
    }
    pthread_mutex_unlock(&g.mu);
}

static enum nstate
get_state(void)
{
    pthread_mutex_lock(&g.mu);
    enum nstate s = g.state;
    pthread_mutex_unlock(&g.mu);
    return s;
}

/* "/module:name" of a top-level data node. */
static void
top_name(const struct lyd_node *n, char *out, size_t len)
{
    snprintf(out, len, "/%s:%s", lyd_owner_module(n)->name, LYD_NAME(n));
}

/* Whether a top-level node is synchronized (g.mu held or not: g.sync changes only with it). */
static bool
is_synced(const struct lyd_node *n)
{
    char name[256];
    bool yes = false;

    top_name(n, name, sizeof name);
    if (!strcmp(name + 1, CLUSTER_NAME)) {
        return true;
    }
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.nsync && !yes; i++) {
        yes = !strcmp(g.sync[i], name);
    }
    pthread_mutex_unlock(&g.mu);
    return yes;
}

/* Whether an event is of a transaction the synchronizers write (replication, re-sync). */
static bool
is_cluster_txn(const struct chorus_event *ev)
{
    return ev->user && !strcmp(ev->user, g.user) && ev->context &&
           (!strcmp(ev->context, CTX_REPL) || !strcmp(ev->context, CTX_RESYNC));
}

static const struct lyd_node *
find_top(const struct lyd_node *tree, const char *modname, const char *name)
{
    for (const struct lyd_node *n = tree; n; n = n->next) {
        if (!strcmp(LYD_NAME(n), name) && !strcmp(lyd_owner_module(n)->name, modname)) {
            return n;
        }
    }
    return NULL;
}

static const struct lyd_node *
child(const struct lyd_node *n, const char *name)
{
    for (const struct lyd_node *c = n ? lyd_child(n) : NULL; c; c = c->next) {
        if (!strcmp(LYD_NAME(c), name)) {
            return c;
        }
    }
    return NULL;
}

static const char *
child_value(const struct lyd_node *n, const char *name)
{
    const struct lyd_node *c = child(n, name);

    return c ? lyd_get_value(c) : NULL;
}

/* ---- the cluster configuration ---- */

struct ccfg {
    int init_node;
    uint64_t txid;
    char *sync[MAX_SYNC];
    int nsync;
    uint32_t hb_ms, dead_ms, peer_ms, lock_wait_ms;
    bool present[MAX_NODES];
    char addr[MAX_NODES][64];
    unsigned port[MAX_NODES];
    int nnodes;
};

static void
ccfg_free(struct ccfg *c)
{
    for (int i = 0; i < c->nsync; i++) {
        free(c->sync[i]);
    }
    memset(c, 0, sizeof *c);
}

/* Read /chorus-aacluster:cluster (with its defaults) through transaction @p th. */
static enum chorus_err
read_ccfg(struct chorus_conn *c, uint32_t th, struct ccfg *out, char *err, size_t errlen)
{
    const struct ly_ctx *ctx;
    struct lyd_node *tree = NULL;
    const struct lyd_node *cl, *n;
    char *text = NULL;
    enum chorus_err rc;

    memset(out, 0, sizeof *out);
    if ((rc = chorus_load_schemas(c, &ctx))) {
        snprintf(err, errlen, "cannot load the schemas: %s", lasterr(c));
        return rc;
    }
    if (!ly_ctx_get_module_implemented(ctx, "chorus-aacluster")) {
        snprintf(err, errlen, "chorusd does not implement the module chorus-aacluster: add "
                              "yang/chorus-aacluster.yang to its load path");
        return CHORUS_ERR_SCHEMA;
    }
    rc = chorus_get(c, th, CLUSTER, CHORUS_FMT_JSON, CHORUS_GET_WD_ALL, &text);
    if (rc && rc != CHORUS_ERR_NOTFOUND) {
        snprintf(err, errlen, "cannot read %s: %s", CLUSTER, lasterr(c));
        return rc;
    }
    if (text && *text &&
        lyd_parse_data_mem(ctx, text, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_OPAQ, 0, &tree)) {
        snprintf(err, errlen, "cannot parse %s: %s", CLUSTER, ly_errmsg(ctx));
        free(text);
        return CHORUS_ERR_PROTO;
    }
    free(text);
    /* the defaults (a transaction's view before validation holds none) */
    if (lyd_new_implicit_all(&tree, ctx, LYD_IMPLICIT_NO_STATE, NULL)) {
        snprintf(err, errlen, "cannot add the defaults of %s: %s", CLUSTER, ly_errmsg(ctx));
        lyd_free_all(tree);
        return CHORUS_ERR_INTERNAL;
    }
    out->init_node = 0;
    out->hb_ms = 250;
    out->dead_ms = 1500;
    out->peer_ms = 10000;
    out->lock_wait_ms = 3000;
    cl = find_top(tree, "chorus-aacluster", "cluster");
    LY_LIST_FOR(cl ? lyd_child(cl) : NULL, n)
    {
        const char *nm = LYD_NAME(n), *v = lyd_get_value(n);

        if (!strcmp(nm, "init-node")) {
            out->init_node = atoi(v);
        } else if (!strcmp(nm, "transaction-id")) {
            out->txid = strtoull(v, NULL, 10);
        } else if (!strcmp(nm, "sync-path") && out->nsync < MAX_SYNC) {
            out->sync[out->nsync++] = strdup(v);
        } else if (!strcmp(nm, "heartbeat-interval")) {
            out->hb_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(nm, "dead-after")) {
            out->dead_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(nm, "peer-timeout")) {
            out->peer_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(nm, "lock-wait")) {
            out->lock_wait_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(nm, "node")) {
            const char *id = child_value(n, "id"), *a = child_value(n, "address"),
                       *p = child_value(n, "ipc-port");

            if (id && a && p) {
                int i = atoi(id);

                out->present[i] = true;
                snprintf(out->addr[i], sizeof out->addr[i], "%s", a);
                out->port[i] = (unsigned)atoi(p);
                out->nnodes++;
            }
        }
    }
    lyd_free_all(tree);
    return CHORUS_OK;
}

static void *hb_main(void *arg);

/* Make the peers and settings those of @p c (peers added get a heartbeat thread). */
static void
apply_ccfg(const struct ccfg *c)
{
    pthread_mutex_lock(&g.mu);
    g.init_node = c->init_node;
    g.hb_ms = c->hb_ms;
    g.dead_ms = c->dead_ms;
    g.peer_ms = c->peer_ms;
    g.lock_wait_ms = c->lock_wait_ms;
    for (int i = 0; i < g.nsync; i++) {
        free(g.sync[i]);
    }
    g.nsync = 0;
    for (int i = 0; i < c->nsync; i++) {
        g.sync[g.nsync++] = strdup(c->sync[i]);
    }
    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];
        char target[80];

        if (i == g.id) {
            continue;
        }
        snprintf(target, sizeof target, strchr(c->addr[i], ':') ? "[%s]:%u" : "%s:%u",
                 c->addr[i], c->port[i]);
        if (c->present[i] && (!p->present || strcmp(p->target, target))) {
            pthread_t t;

            p->present = true;
            p->gen++;
            snprintf(p->target, sizeof p->target, "%s", target);
            p->st = P_UNKNOWN;
            p->phase = -1;
            p->last_ok = now_ms();
            p->lag_since = p->lead_since = 0;
            logm("node %d (%s) is a member", i, target);
            if (!pthread_create(&t, NULL, hb_main, (void *)(intptr_t)i)) {
                pthread_detach(t);
            }
        } else if (!c->present[i] && p->present) {
            p->present = false;
            p->gen++;
            logm("node %d (%s) is no longer a member", i, p->target);
        }
    }
    pthread_mutex_unlock(&g.mu);
}

/* ---- digest of the synchronized data, independent of the order of list entries ---- */

static uint64_t
fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    }
    return (h ^ 0xff) * 0x100000001b3ULL;
}

static uint64_t
mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void
hash_node(const struct lyd_node *n, uint64_t ph, uint64_t *sum, uint64_t *count)
{
    uint64_t h = fnv(fnv(ph, lyd_owner_module(n)->name), LYD_NAME(n));
    const struct lyd_node *c;

    if (n->schema && (n->schema->nodetype & LYD_NODE_TERM)) {
        *sum += mix(fnv(h, lyd_get_value(n)));
        ++*count;
        return;
    }
    if (n->schema && n->schema->nodetype == LYS_LIST) {
        LY_LIST_FOR(lyd_child(n), c)
        {
            if (c->schema && lysc_is_key(c->schema)) {
                h = fnv(h, lyd_get_value(c));
            }
        }
    }
    *sum += mix(h ^ 0x5bd1e995ULL);
    ++*count;
    LY_LIST_FOR(lyd_child(n), c)
    {
        hash_node(c, h, sum, count);
    }
}

/* Digest of the synchronized subtrees as read through @p th (values equal to their default
 * omitted, so that an explicit default and an implicit one hash alike). */
static enum chorus_err
digest(struct chorus_conn *c, uint32_t th, char *out, size_t len)
{
    const struct ly_ctx *ctx;
    uint64_t sum = 0, count = 0;
    char *paths[MAX_SYNC + 1];
    int np = 0;
    enum chorus_err rc = CHORUS_OK;

    if ((rc = chorus_load_schemas(c, &ctx))) {
        return rc;
    }
    paths[np++] = strdup(CLUSTER);
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.nsync; i++) {
        paths[np++] = strdup(g.sync[i]);
    }
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < np && !rc; i++) {
        char *text = NULL;
        struct lyd_node *tree = NULL;

        rc = chorus_get(c, th, paths[i], CHORUS_FMT_JSON, CHORUS_GET_WD_TRIM, &text);
        if (rc == CHORUS_ERR_NOTFOUND) {
            rc = CHORUS_OK;
        } else if (!rc && *text) {
            if (lyd_parse_data_mem(ctx, text, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_OPAQ, 0,
                                   &tree)) {
                rc = CHORUS_ERR_PROTO;
            } else {
                const struct lyd_node *t;

                LY_LIST_FOR(tree, t)
                {
                    hash_node(t, 0xcbf29ce484222325ULL, &sum, &count);
                }
            }
        }
        lyd_free_all(tree);
        free(text);
    }
    for (int i = 0; i < np; i++) {
        free(paths[i]);
    }
    snprintf(out, len, "%016" PRIx64 "-%" PRIu64, mix(sum ^ count), count);
    return rc;
}

/* ---- module sets: nodes pair only with equal ones ---- */

/* The module set of a daemon from its status: the digest and "name@revision digest" lines. */
static enum chorus_err
modset(struct chorus_conn *c, char *digest, size_t dlen, char **lines)
{
    char *st = NULL, *p, *q;
    size_t n = 0, cap = 0;
    enum chorus_err rc = chorus_status(c, &st);

    *lines = NULL;
    *digest = 0;
    if (rc) {
        return rc;
    }
    if ((p = strstr(st, "\"module_set_digest\": \"")) && (q = strchr(p + 22, '"'))) {
        snprintf(digest, dlen, "%.*s", (int)(q - p - 22), p + 22);
    }
    for (p = strstr(st, "\"modules\": ["); p && (p = strstr(p, "{\"name\": \""));) {
        char name[128] = "", rev[32] = "", dig[80] = "";

        if (sscanf(p, "{\"name\": \"%127[^\"]\", \"revision\": \"%31[^\"]\", \"digest\": \"%79[^\"]\"",
                   name, rev, dig) >= 1) {
            size_t need = strlen(name) + strlen(rev) + strlen(dig) + 4;

            if (n + need + 1 > cap) {
                char *nl = realloc(*lines, cap = (n + need + 1) * 2);

                if (!nl) {
                    break;
                }
                *lines = nl;
            }
            n += (size_t)sprintf(*lines + n, "%s@%s %s\n", name, rev, dig);
        }
        p++;
    }
    free(st);
    return CHORUS_OK;
}

/* "" if @p c's module set equals this node's, else what differs ("routes@2026-11-23 here,
 * routes@2026-12-01 there; chorus-test only there"). */
static char my_modset_digest[80], *my_modset_lines;

static void
modset_diff(struct chorus_conn *remote, int id, char *out, size_t len)
{
    char *d1 = my_modset_digest, d2[80], *l1 = my_modset_lines, *l2 = NULL, there[32];
    size_t o = 0;

    snprintf(there, sizeof there, "node %d", id);
    *out = 0;
    if (!*d1 || modset(remote, d2, sizeof d2, &l2) || !strcmp(d1, d2)) {
        free(l2);
        return;
    }
    /* lines present in one list only */
    for (int side = 0; side < 2; side++) {
        char *a = side ? l2 : l1, *b = side ? l1 : l2;

        for (char *line = a; line && *line;) {
            char *nl = strchr(line, '\n'), name[160];
            size_t ll = nl ? (size_t)(nl - line) : strlen(line);
            bool found = false;

            for (char *x = b; x && *x;) {
                char *xn = strchr(x, '\n');
                size_t xl = xn ? (size_t)(xn - x) : strlen(x);

                found |= xl == ll && !strncmp(x, line, ll);
                x = xn ? xn + 1 : x + xl;
            }
            if (!found && o < len) {
                snprintf(name, sizeof name, "%.*s", (int)strcspn(line, " "), line);
                o += (size_t)snprintf(out + o, len - o, "%s%s on %s", o ? ", " : "", name,
                                      side ? there : "this node");
            }
            line = nl ? nl + 1 : line + ll;
        }
    }
    if (!*out) {
        snprintf(out, len, "module set digests %.12s and %.12s", d1, d2);
    }
    free(l2);
}

/* ---- heartbeats ---- */

static bool
hb_read(int id, struct chorus_conn **cp, const char *target, uint32_t to, int *phase,
        uint64_t *txid)
{
    enum chorus_phase ph;
    uint32_t th;
    char *v = NULL;
    enum chorus_err rc;

    if (!*cp) {
        if (chorus_connect_timeout(target, PROG "-heartbeat", to, cp)) {
            *cp = NULL;
            return false;
        }
        chorus_set_timeout(*cp, to);
        if (chorus_session_start(*cp, g.user, "aasync-heartbeat", NULL, 0, NULL, NULL)) {
            goto fail;
        }
        char diff[600];

        modset_diff(*cp, id, diff, sizeof diff);
        pthread_mutex_lock(&g.mu);
        if (*diff && strcmp(g.peers[id].unpaired, diff)) {
            logm("node %d (%s): not paired: its YANG modules differ from this node's: %s", id,
                 target, diff);
        }
        snprintf(g.peers[id].unpaired, sizeof g.peers[id].unpaired, "%s", diff);
        pthread_mutex_unlock(&g.mu);
        if (*diff) {
            chorus_disconnect(*cp);
            *cp = NULL;
            return false;
        }
    }
    if (chorus_phase_get(*cp, &ph) || chorus_trans_start(*cp, CHORUS_DB_RUNNING, 0, &th)) {
        goto fail;
    }
    rc = chorus_get_value(*cp, th, TXID_PATH, &v);
    if (rc && rc != CHORUS_ERR_NOTFOUND && rc != CHORUS_ERR_BADPATH) {
        goto fail;
    }
    *txid = v ? strtoull(v, NULL, 10) : 0;
    free(v);
    if (chorus_trans_finish(*cp, th)) {
        goto fail;
    }
    *phase = (int)ph;
    return true;
fail:
    chorus_disconnect(*cp);
    *cp = NULL;
    return false;
}

/* How long a difference of transaction ids may last before it counts (a commit reaches the
 * nodes one after the other). */
static uint32_t
grace_ms(void)
{
    return 2 * g.dead_ms > 4 * g.hb_ms ? 2 * g.dead_ms : 4 * g.hb_ms;
}

static void
hb_update(int id, bool ok, int phase, uint64_t tx)
{
    struct peer *p = &g.peers[id];
    uint64_t now = now_ms();

    if (!ok) {
        if ((p->st == P_UP || p->st == P_UNKNOWN || p->st == P_BEHIND) &&
            now - p->last_ok > g.dead_ms) {
            logm("node %d (%s): no heartbeat for %u ms: out of the voting set", id, p->target,
                 g.dead_ms);
            p->st = P_DOWN;
            p->phase = -1;
        }
        return;
    }
    p->last_ok = now;
    p->phase = phase;
    p->txid = tx;
    if (phase < 1) {
        /* phase 0 takes no transaction; from phase 1 on (the init transaction committed, the
         * synchronizer registering) it does */
        if (p->st == P_UP) {
            logm("node %d (%s) is in start phase %d: out of the voting set", id, p->target,
                 phase);
        }
        p->st = P_DOWN;
        p->lag_since = p->lead_since = 0;
        return;
    }
    if (tx == g.txid) {
        if (p->st != P_UP) {
            logm("node %d (%s) is in the voting set (cluster transaction %" PRIu64 ")", id,
                 p->target, tx);
        }
        p->st = P_UP;
        p->lag_since = p->lead_since = 0;
        return;
    }
    if (tx < g.txid) {
        p->lead_since = 0;
        if (g.cur_active && p->in) {
            p->lag_since = 0; /* it is committing our transaction right now */
            return;
        }
        if (p->lag_since && tx >= p->lag_tx) {
            p->lag_since = 0;
        }
        if (!p->lag_since) {
            p->lag_since = now;
            p->lag_tx = g.txid;
        } else if (now - p->lag_since > grace_ms() && p->st != P_BEHIND) {
            logm("node %d (%s) is behind (cluster transaction %" PRIu64 ", this node %" PRIu64
                 "): out of the voting set until it has re-synced",
                 id, p->target, tx, g.txid);
            p->st = P_BEHIND;
        }
        return;
    }
    /* the peer is ahead of this node */
    p->lag_since = 0;
    if (g.pending && tx <= g.pending) {
        p->lead_since = 0; /* this node is committing that transaction right now */
        return;
    }
    if (p->st == P_UNKNOWN || p->st == P_DOWN) {
        p->st = P_UP;
    }
    if (p->lead_since && g.txid >= p->lead_tx) {
        p->lead_since = 0;
    }
    if (!p->lead_since) {
        p->lead_since = now;
        p->lead_tx = tx;
    } else if (now - p->lead_since > grace_ms() && g.state == ST_INSYNC) {
        logm("behind: node %d (%s) has applied cluster transaction %" PRIu64
             ", this node %" PRIu64 ": northbound writes are refused until re-synced",
             id, p->target, tx, g.txid);
        g.state = ST_BEHIND;
        g.behind_src = id;
    }
}

static void *
hb_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct peer *p = &g.peers[id];
    struct chorus_conn *c = NULL;
    char target[80];
    unsigned gen;
    uint32_t hb, to;

    pthread_mutex_lock(&g.mu);
    gen = p->gen;
    pthread_mutex_unlock(&g.mu);
    while (!g.stop) {
        int phase = -1;
        uint64_t tx = 0;
        bool ok;

        pthread_mutex_lock(&g.mu);
        if (!p->present || p->gen != gen) {
            pthread_mutex_unlock(&g.mu);
            break;
        }
        snprintf(target, sizeof target, "%s", p->target);
        hb = g.hb_ms;
        to = g.dead_ms;
        pthread_mutex_unlock(&g.mu);
        ok = hb_read(id, &c, target, to, &phase, &tx);
        pthread_mutex_lock(&g.mu);
        if (p->present && p->gen == gen) {
            hb_update(id, ok, phase, tx);
        }
        pthread_mutex_unlock(&g.mu);
        sleep_ms(hb);
    }
    chorus_disconnect(c);
    return NULL;
}

/* ---- driving the peers ---- */

enum job { J_PREPARE, J_COMMIT, J_ABORT };

struct jobarg {
    int id;
    enum job job;
    const char *data;
    size_t len;
};

static void
peer_fail(struct peer *p, enum chorus_err rc)
{
    const struct chorus_error *e = p->rc ? chorus_last_error(p->rc) : NULL;

    p->err = rc;
    free(p->msg);
    free(p->epath);
    free(p->etag);
    p->msg = strdup(e && e->message ? e->message : chorus_strerror(rc));
    p->epath = e && e->path ? strdup(e->path) : NULL;
    p->etag = e && e->app_tag ? strdup(e->app_tag) : NULL;
}

static void
peer_drop_conn(struct peer *p)
{
    chorus_disconnect(p->rc); /* the peer aborts what the connection had open */
    p->rc = NULL;
    p->has_th = p->locked = false;
}

static void *
job_main(void *arg)
{
    struct jobarg *a = arg;
    struct peer *p = &g.peers[a->id];
    enum chorus_err rc = CHORUS_OK;

    switch (a->job) {
    case J_PREPARE:
        if (!(rc = chorus_trans_start(p->rc, CHORUS_DB_RUNNING, 1, &p->th))) {
            p->has_th = true;
            if (!(rc = chorus_edit(p->rc, p->th, CHORUS_EDIT_DIFF, CHORUS_FMT_LYB, a->data,
                                   a->len)) &&
                !(rc = chorus_prepare(p->rc, p->th))) {
                /* the prepared transaction holds the peer's commit lock: its own writers now
                 * wait for it instead of failing on the datastore lock */
                rc = chorus_unlock(p->rc, CHORUS_DB_RUNNING);
                p->locked = rc != CHORUS_OK;
            }
        }
        break;
    case J_COMMIT:
        rc = chorus_commit(p->rc, p->th, NULL);
        if (!rc) {
            rc = chorus_trans_finish(p->rc, p->th);
            p->has_th = false;
        }
        break;
    case J_ABORT:
        if (p->has_th) {
            rc = chorus_trans_finish(p->rc, p->th);
            p->has_th = false;
        }
        if (!rc && p->locked) {
            rc = chorus_unlock(p->rc, CHORUS_DB_RUNNING);
            p->locked = false;
        }
        break;
    }
    if (rc) {
        peer_fail(p, rc);
    } else {
        p->err = CHORUS_OK;
    }
    return NULL;
}

/* Run @p job on the peers marked "in", in parallel. */
static void
run_jobs(enum job job, const char *data, size_t len)
{
    struct jobarg args[MAX_NODES];
    pthread_t thr[MAX_NODES];
    bool started[MAX_NODES] = {false};
    int n = 0, last = -1;

    for (int i = 0; i < MAX_NODES; i++) {
        if (g.peers[i].in) {
            args[i] = (struct jobarg){i, job, data, len};
            n++;
            last = i;
        }
    }
    if (n == 1) {
        job_main(&args[last]);
        return;
    }
    for (int i = 0; i < MAX_NODES; i++) {
        if (g.peers[i].in) {
            started[i] = !pthread_create(&thr[i], NULL, job_main, &args[i]);
            if (!started[i]) {
                job_main(&args[i]);
            }
        }
    }
    for (int i = 0; i < MAX_NODES; i++) {
        if (started[i]) {
            pthread_join(thr[i], NULL);
        }
    }
}

static void
mark_peer(int id, enum pstate st, const char *why)
{
    pthread_mutex_lock(&g.mu);
    if (g.peers[id].st != st) {
        logm("node %d (%s): %s: %s", id, g.peers[id].target, why, pstate_name[st]);
        g.peers[id].st = st;
        g.peers[id].lag_since = g.peers[id].lead_since = 0;
    }
    pthread_mutex_unlock(&g.mu);
}

/* The replication connection of a peer, with a session of the cluster user. */
static enum chorus_err
peer_conn(int id)
{
    struct peer *p = &g.peers[id];
    char target[80];
    uint32_t to;
    enum chorus_err rc;

    pthread_mutex_lock(&g.mu);
    snprintf(target, sizeof target, "%s", p->target);
    to = g.peer_ms;
    pthread_mutex_unlock(&g.mu);
    if (p->rc) {
        chorus_set_timeout(p->rc, to); /* a large change's PREPARE set a longer one */
        return CHORUS_OK;
    }
    if ((rc = chorus_connect_timeout(target, PROG, to, &p->rc))) {
        p->rc = NULL;
        free(p->msg);
        p->msg = strdup("cannot connect");
        p->err = rc;
        return rc;
    }
    chorus_set_timeout(p->rc, to);
    if ((rc = chorus_session_start(p->rc, g.user, CTX_REPL, NULL, 0, g.addr, NULL))) {
        peer_fail(p, rc);
        peer_drop_conn(p);
    }
    return rc;
}

/* Lock a peer's running: retried (with backoff) up to lock-wait when its id is higher than
 * ours, not at all when it is lower (ordered locking: no deadlock between originators). */
static enum chorus_err
peer_lock(int id)
{
    struct peer *p = &g.peers[id];
    uint64_t until = now_ms() + g.lock_wait_ms;
    unsigned pause = 1;
    enum chorus_err rc;

    for (;;) {
        rc = chorus_lock(p->rc, CHORUS_DB_RUNNING);
        if (rc != CHORUS_ERR_LOCKED || id < g.id || now_ms() >= until || g.stop) {
            break;
        }
        sleep_ms(pause);
        pause = pause < 16 ? pause * 2 : 16;
    }
    if (rc) {
        peer_fail(p, rc);
    } else {
        p->locked = true;
    }
    return rc;
}

static void
abort_peers(void)
{
    run_jobs(J_ABORT, NULL, 0);
    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];

        if (p->in && p->err && transport_err(p->err)) {
            peer_drop_conn(p);
        }
        p->in = false;
    }
}

/* A peer that failed in a transaction for a reason of its own (unreachable, behind): the
 * transaction goes on without it; it leaves the voting set until heartbeats bring it back. */
static void
leave_out(int id, uint64_t txid, enum pstate st, const char *why)
{
    struct peer *p = &g.peers[id];

    logm("node %d (%s) left out of transaction %" PRIu64 ": %s", id, p->target, txid, p->msg);
    peer_drop_conn(p);
    p->in = false;
    mark_peer(id, st, why);
}

/* PREPARE of a transaction of this node: the change set on every peer in the voting set. */
static enum chorus_err
cluster_prepare(struct chorus_conn *c, const struct chorus_event *ev, const char *data,
                size_t len)
{
    int ids[MAX_NODES], n = 0;

    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < MAX_NODES; i++) {
        g.peers[i].in = false;
        if (i != g.id && g.peers[i].present && g.peers[i].st == P_UP) {
            ids[n++] = i;
        }
    }
    pthread_mutex_unlock(&g.mu);
    /* 1. lock, in ascending node id */
    for (int k = 0; k < n; k++) {
        int id = ids[k];
        struct peer *p = &g.peers[id];
        enum chorus_err rc = peer_conn(id);

        if (!rc) {
            rc = peer_lock(id);
        }
        if (!rc) {
            p->in = true;
            continue;
        }
        if (transport_err(rc) || rc == CHORUS_ERR_STATE) {
            leave_out(id, ev->txid, P_DOWN, "unreachable");
            continue;
        }
        /* busy */
        char msg[1024];

        snprintf(msg, sizeof msg, "%s", p->msg ? p->msg : "");
        abort_peers();
        if (rc == CHORUS_ERR_LOCKED) {
            return chorus_event_error(c, ev, CHORUS_ERR_INUSE, NULL, "cluster-busy",
                                      "cluster busy, retry: node %d (%s): %s", id, p->target,
                                      msg);
        }
        return chorus_event_error(c, ev, rc, NULL, NULL, "node %d (%s): %s", id, p->target, msg);
    }
    /* 2. write, validate and prepare, in parallel; a large change takes the peer a while
     * (its event loop is busy meanwhile): peer-timeout plus 1 ms per KB of change */
    pthread_mutex_lock(&g.mu);
    uint32_t to = g.peer_ms + (uint32_t)(len / 1000 > 3600000 ? 3600000 : len / 1000);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < MAX_NODES; i++) {
        if (g.peers[i].in) {
            chorus_set_timeout(g.peers[i].rc, to);
        }
    }
    run_jobs(J_PREPARE, data, len);
    int veto = -1;

    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];

        if (!p->in || !p->err) {
            continue;
        }
        if (transport_err(p->err)) {
            leave_out(i, ev->txid, P_DOWN, "unreachable");
        } else if (p->etag && !strcmp(p->etag, "cluster-peer-behind")) {
            leave_out(i, ev->txid, P_BEHIND, "missed a cluster transaction");
        } else if (veto < 0) {
            veto = i;
        }
    }
    if (veto >= 0) {
        struct peer *p = &g.peers[veto];
        char *msg = strdup(p->msg ? p->msg : ""), *path = p->epath ? strdup(p->epath) : NULL,
             *tag = p->etag ? strdup(p->etag) : NULL;
        enum chorus_err rc = p->err;

        abort_peers();
        if (tag && !strcmp(tag, "cluster-originator-behind")) {
            pthread_mutex_lock(&g.mu);
            if (g.state == ST_INSYNC) {
                g.state = ST_BEHIND;
                g.behind_src = veto;
                logm("behind: node %d refused transaction %" PRIu64 ": %s", veto, ev->txid, msg);
            }
            pthread_mutex_unlock(&g.mu);
        }
        rc = chorus_event_error(c, ev, rc == CHORUS_ERR_LOCKED ? CHORUS_ERR_INUSE : rc, path, tag,
                                "%snode %d (%s): %s", rc == CHORUS_ERR_LOCKED ? "cluster busy, retry: " : "",
                                veto, g.peers[veto].target, msg);
        free(msg);
        free(path);
        free(tag);
        return rc;
    }
    g.cur_active = true;
    g.cur_txid = ev->txid;
    return CHORUS_OK;
}

/* Test hook (tests/crash/t_cluster_faults.sh): CHORUS_AASYNC_CRASH=after-first-commit makes
 * the originating node die (chorusd and this process, kill -9) once one peer has committed. */
static void
crash_after_first_commit(void)
{
    struct chorus_conn *c = NULL;
    char *st = NULL, *p;

    for (int i = 0; i < MAX_NODES; i++) {
        if (g.peers[i].in) {
            job_main(&(struct jobarg){i, J_COMMIT, NULL, 0});
            break;
        }
    }
    if (!chorus_connect(g.local, PROG "-crash", &c) && !chorus_status(c, &st) &&
        (p = strstr(st, "\"pid\": "))) {
        logm("CHORUS_AASYNC_CRASH: killing chorusd (pid %ld) and this process", atol(p + 7));
        kill((pid_t)atol(p + 7), SIGKILL);
    }
    raise(SIGKILL);
}

static void
cluster_commit(const struct chorus_event *ev)
{
    const char *crash = getenv("CHORUS_AASYNC_CRASH");
    /* the timeouts of PREPARE (scaled to the change) still apply: a peer's commit of a large
     * change writes its journal mark and applies nothing more */

    if (crash && !strcmp(crash, "after-first-commit")) {
        crash_after_first_commit();
    }
    run_jobs(J_COMMIT, NULL, 0);
    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];

        if (p->in && p->err) {
            logm("node %d (%s) did not commit transaction %" PRIu64 ": %s", i, p->target,
                 ev->txid, p->msg);
            peer_drop_conn(p);
            mark_peer(i, P_DOWN, "failed after the point of no return");
        }
        p->in = false;
    }
    g.cur_active = false;
}

/* @p tree and its siblings in LYB (libyang binary, yang:operation metadata included): the
 * peers have the same modules (pairing), and LYB parses several times faster than JSON. */
static char *
print_lyb(const struct lyd_node *tree, size_t *len)
{
    struct ly_out *out = NULL;
    char *s = NULL;

    *len = 0;
    if (ly_out_new_memory(&s, 0, &out)) {
        return NULL;
    }
    if (lyd_print_all(out, tree, LYD_LYB, 0)) {
        ly_out_free(out, NULL, 1);
        return NULL;
    }
    *len = ly_out_printed(out);
    ly_out_free(out, NULL, 0);
    return s;
}

/* The diff cut to the synchronized subtrees, as LYB of length *len; NULL when none is
 * changed. */
static char *
synced_change(const struct lyd_node *diff, bool *touches_cluster, size_t *len)
{
    struct lyd_node *out = NULL;
    char *text = NULL;
    bool all = true, any = false;

    *touches_cluster = false;
    for (const struct lyd_node *n = diff; n; n = n->next) {
        bool s = is_synced(n);

        all &= s;
        any |= s;
        if (find_top(n, "chorus-aacluster", "cluster") == n) {
            *touches_cluster = true;
        }
    }
    if (!any) {
        return NULL;
    }
    if (all) {
        return print_lyb(diff, len);
    }
    for (const struct lyd_node *n = diff; n; n = n->next) {
        struct lyd_node *d = NULL;

        if (is_synced(n) && !lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &d)) {
            lyd_insert_sibling(out, d, &out);
        }
    }
    text = print_lyb(out, len);
    lyd_free_all(out);
    return text;
}

/* The transaction-id leaf of a diff, with its old value (0 if created). */
static bool
diff_txid(const struct lyd_node *diff, uint64_t *oldv, uint64_t *newv)
{
    const struct lyd_node *cl = find_top(diff, "chorus-aacluster", "cluster"), *t;
    struct lyd_meta *m;

    if (!cl || !(t = child(cl, "transaction-id"))) {
        return false;
    }
    *newv = strtoull(lyd_get_value(t), NULL, 10);
    m = lyd_find_meta(t->meta, NULL, "yang:orig-value");
    *oldv = m ? strtoull(lyd_get_meta_value(m), NULL, 10) : 0;
    if (!strcmp(chorus_diff_op(t), "delete")) {
        *newv = 0;
    }
    return true;
}

/* Node list changes of a committed diff: reread the configuration. */
static void
reload_if_cluster(const struct lyd_node *diff)
{
    struct ccfg cc;
    char err[512];
    uint32_t th;

    if (!find_top(diff, "chorus-aacluster", "cluster")) {
        return;
    }
    const struct lyd_node *cl = find_top(diff, "chorus-aacluster", "cluster"), *n;
    bool other = false;

    LY_LIST_FOR(lyd_child(cl), n)
    {
        other |= strcmp(LYD_NAME(n), "transaction-id") != 0;
    }
    if (!other) {
        return;
    }
    /* read on the aux connection's session: this thread's connection is in a callback */
    struct chorus_conn *c = NULL;

    if (chorus_connect(g.local, PROG "-config", &c) ||
        chorus_session_start(c, g.user, CTX_RESYNC, NULL, 0, NULL, NULL) ||
        chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th) || read_ccfg(c, th, &cc, err, sizeof err)) {
        logm("cannot reread the cluster configuration: %s", c ? lasterr(c) : "cannot connect");
        chorus_disconnect(c);
        return;
    }
    chorus_disconnect(c);
    if (!cc.present[g.id] && get_state() != ST_LEAVING) {
        logm("this node was removed from the node list");
    }
    apply_ccfg(&cc);
    ccfg_free(&cc);
}

/* ---- events ---- */

static enum chorus_err
on_hook(struct chorus_conn *c, const struct chorus_event *ev, void *arg)
{
    bool cl;
    char num[32];
    enum chorus_err rc;
    uint64_t cur;

    (void)arg;
    if (is_cluster_txn(ev) || (ev->flags & CHORUS_EVF_INIT) || !ev->diff) {
        return CHORUS_OK;
    }
    /* only whether synchronized data changes: the top-level names of the diff */
    cl = false;
    {
        bool any = false;

        for (const struct lyd_node *n = ev->diff; n; n = n->next) {
            any |= is_synced(n);
            cl |= find_top(n, "chorus-aacluster", "cluster") == n;
        }
        if (!any) {
            return CHORUS_OK;
        }
    }
    /* a change of the transaction id alone (a confirmed commit's revert, a rollback: they
     * restore an old one) is overwritten below */
    if (cl) {
        const struct lyd_node *top = find_top(ev->diff, "chorus-aacluster", "cluster"), *n;

        cl = strcmp(chorus_diff_op(top), "none") != 0;
        LY_LIST_FOR(lyd_child(top), n)
        {
            cl |= strcmp(LYD_NAME(n), "transaction-id") != 0;
        }
    }
    if (cl && !(ev->user && !strcmp(ev->user, g.admin) && ev->context &&
                !strcmp(ev->context, CTX_ADMIN))) {
        return chorus_event_error(c, ev, CHORUS_ERR_ACCESS, CLUSTER, "cluster-managed",
                                  "%s is changed by the cluster only: nodes join with "
                                  "chorus-aasync -j and leave with the leave operation "
                                  "(chorusctl cluster leave)",
                                  CLUSTER);
    }
    pthread_mutex_lock(&g.mu);
    enum nstate st = g.state;
    uint64_t known = g.txid;
    pthread_mutex_unlock(&g.mu);
    if (st != ST_INSYNC && st != ST_LEAVING) {
        return chorus_event_error(c, ev, CHORUS_ERR_STATE, NULL, "cluster-fenced",
                                  "node %d is %s (cluster transaction %" PRIu64
                                  "): writes are refused until it has re-synced; retry "
                                  "later or on another node",
                                  g.id, nstate_name[st], known);
    }
    /* running's id (the transaction's view may hold another: a revert's, a rollback's);
     * stable: hooks run under the commit lock, and the COMMIT of the previous transaction has
     * been handled on this connection before this event */
    cur = known;
    snprintf(num, sizeof num, "%" PRIu64, cur + 1);
    if ((rc = chorus_set(c, ev->th, TXID_PATH, num))) {
        return chorus_event_error(c, ev, rc, TXID_PATH, NULL, "cannot set %s: %s", TXID_PATH,
                                  lasterr(c));
    }
    return CHORUS_OK;
}

/*
 * The subscription to /chorus-aacluster:cluster (every transaction, its own included, with
 * the small diff of that subtree): PREPARE checks that a replicated transaction follows this
 * node's transaction id; COMMIT keeps the id and the node list.
 */
static enum chorus_err
on_cluster(struct chorus_conn *c, const struct chorus_event *ev, void *arg)
{
    uint64_t oldv = 0, newv = 0;
    bool has = ev->diff && diff_txid(ev->diff, &oldv, &newv);

    (void)arg;
    if (ev->flags & CHORUS_EVF_INIT) {
        return CHORUS_OK;
    }
    switch (ev->type) {
    case CHORUS_EV_PREPARE:
        if (is_cluster_txn(ev)) {
            if (!has || !strcmp(ev->context, CTX_RESYNC)) {
                return CHORUS_OK;
            }
            if (newv <= oldv) {
                return chorus_event_error(
                    c, ev, CHORUS_ERR_ABORTED, TXID_PATH, "cluster-originator-behind",
                    "the change follows cluster transaction %" PRIu64 " but node %d has applied %" PRIu64
                    ": the originating node is behind; it re-syncs, retry",
                    newv - 1, g.id, oldv);
            }
            if (newv > oldv + 1) {
                pthread_mutex_lock(&g.mu);
                if (g.state == ST_INSYNC) {
                    g.state = ST_BEHIND;
                    g.behind_src = -1;
                    logm("behind: a peer's cluster transaction %" PRIu64
                         " follows %" PRIu64 ", this node has applied %" PRIu64,
                         newv, newv - 1, oldv);
                }
                pthread_mutex_unlock(&g.mu);
                return chorus_event_error(c, ev, CHORUS_ERR_ABORTED, TXID_PATH,
                                          "cluster-peer-behind",
                                          "node %d has applied cluster transaction %" PRIu64
                                          " only, the change is %" PRIu64 ": it re-syncs",
                                          g.id, oldv, newv);
            }
            pthread_mutex_lock(&g.mu);
            g.pending = newv;
            pthread_mutex_unlock(&g.mu);
        }
        return CHORUS_OK;
    case CHORUS_EV_COMMIT:
        pthread_mutex_lock(&g.mu);
        if (has) {
            g.txid = newv;
        }
        g.pending = 0;
        pthread_mutex_unlock(&g.mu);
        if (ev->diff) {
            reload_if_cluster(ev->diff);
        }
        return CHORUS_OK;
    case CHORUS_EV_ABORT:
        pthread_mutex_lock(&g.mu);
        g.pending = 0;
        pthread_mutex_unlock(&g.mu);
        return CHORUS_OK;
    default:
        return CHORUS_OK;
    }
}

/* The two-phase subscription to everything, but for the transactions of the cluster user
 * (CHORUS_SUB_NOT_OWN_USER: replicated ones, copies): replication. */
static enum chorus_err
on_config(struct chorus_conn *c, const struct chorus_event *ev, void *arg)
{
    (void)arg;
    if ((ev->flags & CHORUS_EVF_INIT) || is_cluster_txn(ev)) {
        return CHORUS_OK;
    }
    switch (ev->type) {
    case CHORUS_EV_PREPARE: {
            bool cl;
            size_t len = 0;
            char *change = synced_change(ev->diff, &cl, &len);
            enum chorus_err rc;

            if (!change) {
                return CHORUS_OK;
            }
            rc = cluster_prepare(c, ev, change, len);
            free(change);
            return rc;
        }
    case CHORUS_EV_COMMIT:
        if (g.cur_active) {
            cluster_commit(ev);
        }
        return CHORUS_OK;
    case CHORUS_EV_ABORT:
        if (g.cur_active) {
            abort_peers();
            g.cur_active = false;
        }
        return CHORUS_OK;
    default:
        return CHORUS_OK;
    }
}

static enum chorus_err
on_leave(struct chorus_conn *c, const struct chorus_event *ev, void *arg)
{
    struct lyd_node *out = NULL;
    const struct ly_ctx *ctx = chorus_ctx(c);
    enum chorus_err rc;
    char msg[700];

    (void)arg;
    g.leave_req = 1;
    while (!g.leave_done && !g.stop) {
        sleep_ms(20);
    }
    pthread_mutex_lock(&g.mu);
    if (g.leave_done > 0) {
        snprintf(msg, sizeof msg,
                 "node %d left the cluster (removed from every member's node list); its "
                 "chorusd stops now",
                 g.id);
        rc = CHORUS_OK;
    } else {
        snprintf(msg, sizeof msg, "node %d could not leave the cluster: %s", g.id,
                 g.last_error);
        rc = CHORUS_ERR_ABORTED;
    }
    pthread_mutex_unlock(&g.mu);
    if (rc) {
        g.leave_done = 0;
        return chorus_event_error(c, ev, rc, NULL, NULL, "%s", msg);
    }
    if (lyd_new_path(NULL, ctx, "/chorus-aacluster:leave/message", msg, LYD_NEW_PATH_OUTPUT,
                     &out)) {
        return chorus_event_error(c, ev, CHORUS_ERR_INTERNAL, NULL, NULL, "%s",
                                  ly_errmsg(ctx));
    }
    rc = chorus_event_reply_data(c, ev, out);
    lyd_free_all(out);
    g.leave_done = 2; /* answered: the main thread stops chorusd */
    return rc;
}

static enum chorus_err
on_state(struct chorus_conn *c, const struct chorus_event *ev, void *arg)
{
    const struct ly_ctx *ctx = chorus_ctx(c);
    struct lyd_node *tree = NULL;
    char v[64], path[160];
    static struct chorus_conn *dc;
    uint32_t th;

    (void)arg;
    pthread_mutex_lock(&g.mu);
    uint64_t tx = g.txid;
    enum nstate st = g.state;
    pthread_mutex_unlock(&g.mu);
    /* the digest costs a read of all the synchronized data: not for the synchronizers' own
     * checks (wait_seen_up(), context aasync-resync), only for status readers */
    bool want_digest = !(ev->context && !strcmp(ev->context, CTX_RESYNC));

    if (want_digest && (!g.dig_valid || g.dig_txid != tx)) {
        /* reads of this node's data go through a connection of their own */
        if (!dc && (chorus_connect(g.local, PROG "-digest", &dc) ||
                    chorus_session_start(dc, g.user, CTX_RESYNC, NULL, 0, NULL, NULL))) {
            chorus_disconnect(dc);
            dc = NULL;
        }
        if (dc && !chorus_trans_start(dc, CHORUS_DB_RUNNING, 0, &th)) {
            g.dig_valid = !digest(dc, th, g.dig, sizeof g.dig);
            g.dig_txid = tx;
            chorus_trans_finish(dc, th);
        }
    }
    snprintf(v, sizeof v, "%d", g.id);
    lyd_new_path(NULL, ctx, STATE_PATH "/node-id", v, 0, &tree);
    lyd_new_path(tree, ctx, STATE_PATH "/state", nstate_name[st], 0, NULL);
    snprintf(v, sizeof v, "%" PRIu64, tx);
    lyd_new_path(tree, ctx, STATE_PATH "/transaction-id", v, 0, NULL);
    if (want_digest && g.dig_valid) {
        lyd_new_path(tree, ctx, STATE_PATH "/digest", g.dig, 0, NULL);
    }
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];

        if (i == g.id || !p->present) {
            continue;
        }
        snprintf(path, sizeof path, STATE_PATH "/peer[id='%d']/state", i);
        lyd_new_path(tree, ctx, path, pstate_name[p->st], 0, NULL);
        if (p->phase >= 0) {
            snprintf(path, sizeof path, STATE_PATH "/peer[id='%d']/phase", i);
            snprintf(v, sizeof v, "%d", p->phase);
            lyd_new_path(tree, ctx, path, v, 0, NULL);
            snprintf(path, sizeof path, STATE_PATH "/peer[id='%d']/transaction-id", i);
            snprintf(v, sizeof v, "%" PRIu64, p->txid);
            lyd_new_path(tree, ctx, path, v, 0, NULL);
        }
    }
    pthread_mutex_unlock(&g.mu);
    enum chorus_err rc = chorus_event_reply_data(c, ev, tree);

    lyd_free_all(tree);
    return rc;
}

static void *
dispatch_main(void *arg)
{
    struct chorus_conn *c = arg;

    while (!g.stop) {
        enum chorus_err rc = chorus_dispatch(c, 500);

        if (rc && rc != CHORUS_ERR_TIMEOUT) {
            if (!g.stop) {
                logm("chorusd closed the connection (%s): exiting", lasterr(c));
            }
            g.stop = 1;
            break;
        }
    }
    return NULL;
}

/* ---- copying the synchronized data ---- */

/* Copy the synchronized subtrees (the source's list of them) from @p src's transaction into
 * @p dst's. Returns the copied cluster transaction id in @p ret_txid. */
static enum chorus_err
copy_data(struct chorus_conn *src, uint32_t sth, struct chorus_conn *dst, uint32_t dth,
          uint64_t *ret_txid, char *err, size_t errlen)
{
    struct ccfg cc;
    const char *paths[MAX_SYNC + 1];
    enum chorus_err rc;
    int np = 0;

    if ((rc = read_ccfg(src, sth, &cc, err, errlen))) {
        return rc;
    }
    paths[np++] = CLUSTER;
    for (int i = 0; i < cc.nsync; i++) {
        paths[np++] = cc.sync[i];
    }
    for (int i = 0; i < np && !rc; i++) {
        char *text = NULL;
        size_t tlen = 0;
        int ex = 0;

        /* LYB: the module sets are equal (nodes pair only then), and it parses several times
         * faster than JSON */
        rc = chorus_get_data(src, sth, paths[i], CHORUS_FMT_LYB, 0, &text, &tlen);
        if (rc == CHORUS_ERR_NOTFOUND) {
            rc = CHORUS_OK;
        }
        if (rc) {
            snprintf(err, errlen, "cannot read %s: %s", paths[i], lasterr(src));
            break;
        }
        if (!(rc = chorus_exists(dst, dth, paths[i], &ex)) && ex &&
            (rc = chorus_delete(dst, dth, paths[i])) == CHORUS_ERR_NOTFOUND) {
            rc = CHORUS_OK; /* a container holding only defaults */
        }
        if (rc ||
            (text && tlen &&
             (rc = chorus_edit(dst, dth, CHORUS_EDIT_MERGE, CHORUS_FMT_LYB, text, tlen)))) {
            snprintf(err, errlen, "cannot write %s: %s", paths[i], lasterr(dst));
        }
        free(text);
    }
    *ret_txid = cc.txid;
    ccfg_free(&cc);
    return rc;
}

/* A session on a member, with its running locked (retried up to @p wait_ms). */
static enum chorus_err
member_lock(int id, const char *ctx, uint32_t wait_ms, struct chorus_conn **ret, char *err,
            size_t errlen)
{
    char target[80];
    uint64_t until = now_ms() + wait_ms;
    struct chorus_conn *c = NULL;
    enum chorus_err rc;

    pthread_mutex_lock(&g.mu);
    snprintf(target, sizeof target, "%s", g.peers[id].target);
    uint32_t to = g.peer_ms;
    pthread_mutex_unlock(&g.mu);
    if ((rc = chorus_connect_timeout(target, PROG, to, &c))) {
        snprintf(err, errlen, "node %d (%s): cannot connect", id, target);
        return rc;
    }
    chorus_set_timeout(c, to > 60000 ? to : 60000);
    if ((rc = chorus_session_start(c, strcmp(ctx, CTX_ADMIN) ? g.user : g.admin, ctx, NULL, 0,
                                   g.addr, NULL))) {
        snprintf(err, errlen, "node %d (%s): %s", id, target, lasterr(c));
        chorus_disconnect(c);
        return rc;
    }
    while ((rc = chorus_lock(c, CHORUS_DB_RUNNING)) == CHORUS_ERR_LOCKED && now_ms() < until &&
           !g.stop) {
        sleep_ms(5 + (unsigned)(rand() % 20));
    }
    if (rc) {
        snprintf(err, errlen, "node %d (%s): %s", id, target, lasterr(c));
        chorus_disconnect(c);
        return rc;
    }
    *ret = c;
    return CHORUS_OK;
}

/* A live member in phase 2 (the one with the highest cluster transaction id), or -1. */
static int
live_member(void)
{
    int best = -1;
    uint64_t tx = 0;

    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < MAX_NODES; i++) {
        struct peer *p = &g.peers[i];

        if (i != g.id && p->present && p->phase == 2 && (best < 0 || p->txid > tx)) {
            best = i;
            tx = p->txid;
        }
    }
    pthread_mutex_unlock(&g.mu);
    return best;
}

/* Whether every peer has been heard from or given up on once. */
static bool
peers_probed(void)
{
    bool all = true;

    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < MAX_NODES; i++) {
        if (i != g.id && g.peers[i].present && g.peers[i].st == P_UNKNOWN &&
            g.peers[i].phase < 0) {
            all = false;
        }
    }
    pthread_mutex_unlock(&g.mu);
    return all;
}

/* Wait until the live members see this node in their voting set (their cluster-state), so
 * that no commit misses it right after it opened. Bounded: logs and goes on. */
static void
wait_seen_up(void)
{
    uint64_t until = now_ms() + 4 * g.hb_ms + 2000;
    char want[64];

    snprintf(want, sizeof want, "\"id\":%d,\"state\":\"up\"", g.id);
    for (int i = 0; i < MAX_NODES; i++) {
        char target[80];
        struct chorus_conn *c = NULL;
        bool live;

        pthread_mutex_lock(&g.mu);
        live = i != g.id && g.peers[i].present && g.peers[i].st == P_UP;
        snprintf(target, sizeof target, "%s", g.peers[i].target);
        pthread_mutex_unlock(&g.mu);
        if (!live || chorus_connect_timeout(target, PROG, 2000, &c)) {
            chorus_disconnect(c);
            continue;
        }
        chorus_set_timeout(c, 2000);
        bool seen = false;

        if (!chorus_session_start(c, g.user, CTX_RESYNC, NULL, 0, NULL, NULL)) {
            while (!seen && now_ms() < until) {
                uint32_t th;
                char *text = NULL;

                if (chorus_trans_start(c, CHORUS_DB_OPERATIONAL, 0, &th)) {
                    break;
                }
                if (!chorus_get(c, th, STATE_PATH, CHORUS_FMT_JSON, CHORUS_GET_WD_ALL, &text) &&
                    text) {
                    /* compact JSON: "peer":[{"id":N,"state":"up",...}] */
                    seen = strstr(text, want) != NULL;
                }
                free(text);
                chorus_trans_finish(c, th);
                if (!seen) {
                    sleep_ms(50);
                }
            }
        }
        if (!seen) {
            logm("node %d (%s) does not list this node as up yet", i, target);
        }
        chorus_disconnect(c);
    }
}

/* Copy from member @p m (its running, under its lock) into this node's transaction @p dth;
 * with @p join, first add this node to the node list through @p m. */
static enum chorus_err
sync_from_member(int m, struct chorus_conn *dst, uint32_t dth, bool join,
                 struct chorus_conn **ret_lock, uint64_t *ret_txid, char *err, size_t errlen)
{
    struct chorus_conn *c = NULL;
    struct ccfg cc;
    uint32_t th;
    enum chorus_err rc;

    if ((rc = member_lock(m, CTX_ADMIN, g.init_timeout_ms, &c, err, errlen))) {
        return rc;
    }
    modset_diff(c, m, err, errlen);
    if (*err) {
        char d[900];
        snprintf(d, sizeof d, "%s", err);
        if (snprintf(err, errlen, "refusing to pair with node %d: the YANG modules differ: %.800s",
                     m, d) < 0) {
            *err = 0;
        }
        chorus_disconnect(c);
        return CHORUS_ERR_SCHEMA;
    }
    if ((rc = chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th)) ||
        (rc = read_ccfg(c, th, &cc, err, errlen))) {
        if (!*err) {
            snprintf(err, errlen, "node %d: %s", m, lasterr(c));
        }
        chorus_disconnect(c);
        return rc;
    }
    if (cc.present[g.id] && (strcmp(cc.addr[g.id], g.addr) || cc.port[g.id] != g.port)) {
        snprintf(err, errlen,
                 "node %d: the node list has node %d at %s:%u, this node is %s:%u: choose "
                 "another id",
                 m, g.id, cc.addr[g.id], cc.port[g.id], g.addr, g.port);
        rc = CHORUS_ERR_EXISTS;
    } else if (!cc.present[g.id] && !join) {
        snprintf(err, errlen,
                 "node %d is not in the node list of node %d: start it with -j to join",
                 g.id, m);
        rc = CHORUS_ERR_NOTFOUND;
    } else if (!cc.present[g.id]) {
        char path[160], port[16];

        snprintf(path, sizeof path, NODE_PATH "[id='%d']/address", g.id);
        snprintf(port, sizeof port, "%u", g.port);
        if ((rc = chorus_set(c, th, path, g.addr))) {
            snprintf(err, errlen, "node %d: %s", m, lasterr(c));
        } else {
            snprintf(path, sizeof path, NODE_PATH "[id='%d']/ipc-port", g.id);
            if ((rc = chorus_set(c, th, path, port)) || (rc = chorus_apply(c, th, NULL))) {
                snprintf(err, errlen, "joining through node %d: %s", m, lasterr(c));
            } else {
                logm("joined: node %d added this node (%s:%u) to every member's node list", m,
                     g.addr, g.port);
            }
        }
    }
    ccfg_free(&cc);
    chorus_trans_finish(c, th);
    if (!rc && !(rc = chorus_trans_start(c, CHORUS_DB_RUNNING, 0, &th))) {
        uint64_t t0 = now_ms();

        rc = copy_data(c, th, dst, dth, ret_txid, err, errlen);
        chorus_trans_finish(c, th);
        if (!rc) {
            logm("copied the synchronized data of node %d (cluster transaction %" PRIu64
                 ") in %" PRIu64 " ms",
                 m, *ret_txid, now_ms() - t0);
        }
    } else if (!rc || !*err) {
        snprintf(err, errlen, "node %d: %s", m, lasterr(c));
    }
    if (rc) {
        chorus_disconnect(c);
        return rc;
    }
    *ret_lock = c; /* released by the caller once this node serves */
    return CHORUS_OK;
}

/* ---- registration, start, re-sync, leave ---- */

static void
register_all(void)
{
    const struct ly_ctx *ctx;
    pthread_t t;

    if (chorus_connect(g.local, PROG, &g.ev) || chorus_connect(g.local, PROG "-aux", &g.aux)) {
        fatal("cannot connect to chorusd at %s: %s", g.local, chorus_last_error(NULL)->message);
    }
    if (chorus_load_schemas(g.ev, &ctx) || chorus_load_schemas(g.aux, &ctx)) {
        fatal("cannot load the schemas: %s", lasterr(g.ev));
    }
    /* the session's user is the cluster user: CHORUS_SUB_NOT_OWN_USER spares this node's
     * synchronizer the events (and whole diffs) of replicated transactions; the
     * subscription to the cluster container (small diffs) sees them all */
    if (chorus_session_start(g.ev, g.user, CTX_REPL, NULL, 0, NULL, NULL) ||
        chorus_subscribe(g.ev, CHORUS_SUB_HOOK, NULL, 0, CHORUS_SUB_NOT_OWN_USER, on_hook, NULL,
                         NULL) ||
        chorus_subscribe(g.ev, CHORUS_SUB_CONFIG, CLUSTER, 0, CHORUS_SUB_TWO_PHASE, on_cluster,
                         NULL, NULL) ||
        chorus_subscribe(g.ev, CHORUS_SUB_CONFIG, NULL, 1000000,
                         CHORUS_SUB_TWO_PHASE | CHORUS_SUB_NOT_OWN_USER, on_config, NULL,
                         NULL)) {
        fatal("cannot subscribe: %s", lasterr(g.ev));
    }
    if (chorus_subscribe(g.aux, CHORUS_SUB_RPC, "/chorus-aacluster:leave", 0, 0, on_leave, NULL,
                         NULL) ||
        chorus_subscribe(g.aux, CHORUS_SUB_OPER, STATE_PATH, 0, 0, on_state, NULL, NULL)) {
        fatal("cannot register the leave operation or cluster-state: %s", lasterr(g.aux));
    }
    if (pthread_create(&t, NULL, dispatch_main, g.ev) ||
        pthread_create(&t, NULL, dispatch_main, g.aux)) {
        fatal("cannot start threads");
    }
}

static void
wait_phase_of(int id, int phase, const char *why)
{
    uint64_t t0 = now_ms(), last = 0;

    for (;;) {
        pthread_mutex_lock(&g.mu);
        int ph = g.peers[id].phase;
        bool present = g.peers[id].present;
        pthread_mutex_unlock(&g.mu);
        if (!present || ph >= phase || g.stop) {
            return;
        }
        if (now_ms() - t0 > g.init_timeout_ms) {
            logm("node %d did not reach start phase %d within %u ms (%s): going on without it", id,
                 phase, g.init_timeout_ms, why);
            return;
        }
        if (now_ms() - last > 5000) {
            logm("waiting for node %d to reach start phase %d (%s)", id, phase, why);
            last = now_ms();
        }
        sleep_ms(20);
    }
}

static void
local_phase(int phase)
{
    if (chorus_start_phase(g.mg, (enum chorus_phase)phase)) {
        fatal("cannot enter start phase %d: %s", phase, lasterr(g.mg));
    }
    logm("start phase %d", phase);
}

static void
start(void)
{
    enum chorus_phase ph;
    struct ccfg cc;
    char err[1024] = "";
    uint32_t ith;
    uint64_t t0 = now_ms();

    while (chorus_connect(g.local, PROG "-main", &g.mg)) {
        if (now_ms() - t0 > 30000 || g.stop) {
            fatal("cannot connect to chorusd at %s: %s", g.local,
                  chorus_last_error(NULL)->message);
        }
        sleep_ms(50);
    }
    if (chorus_session_start(g.mg, g.user, CTX_RESYNC, NULL, 0, NULL, NULL) ||
        chorus_phase_get(g.mg, &ph) ||
        modset(g.mg, my_modset_digest, sizeof my_modset_digest, &my_modset_lines)) {
        fatal("chorusd at %s: %s", g.local, lasterr(g.mg));
    }
    if (ph != CHORUS_PHASE0) {
        /* chorusd already runs: take up service; heartbeats tell whether this node is behind */
        uint32_t th;
        uint64_t tx = 0;

        if (chorus_trans_start(g.mg, CHORUS_DB_RUNNING, 0, &th) ||
            read_ccfg(g.mg, th, &cc, err, sizeof err)) {
            fatal("%s", *err ? err : lasterr(g.mg));
        }
        chorus_trans_finish(g.mg, th);
        tx = cc.txid;
        apply_ccfg(&cc);
        ccfg_free(&cc);
        g.txid = tx;
        register_all();
        if (ph == CHORUS_PHASE1) {
            local_phase(2);
        }
        set_state(ST_INSYNC, "chorusd was already running");
        return;
    }
    if (chorus_trans_attach_init(g.mg, &ith) || read_ccfg(g.mg, ith, &cc, err, sizeof err)) {
        fatal("init transaction: %s", *err ? err : lasterr(g.mg));
    }
    if (!cc.present[g.id] && !g.join) {
        fatal("node %d is not in the node list of %s: add it to the node's initial data, or "
              "start with -j to join a running cluster",
              g.id, CLUSTER);
    }
    if (cc.present[g.id]) {
        snprintf(g.addr, sizeof g.addr, "%s", cc.addr[g.id]);
        if (cc.port[g.id] != g.port) {
            fatal("node %d is %s:%u in %s, but its chorusd is on port %u", g.id, cc.addr[g.id],
                  cc.port[g.id], CLUSTER, g.port);
        }
    }
    apply_ccfg(&cc);
    g.txid = cc.txid;
    ccfg_free(&cc);

    /* a live member in phase 2: the cluster runs; copy from it */
    uint64_t probe_until = now_ms() + (g.join ? g.init_timeout_ms : 2 * g.dead_ms + 500);
    int m = -1;

    while (!g.stop && (m = live_member()) < 0 && now_ms() < probe_until &&
           (g.join || !peers_probed() || now_ms() < t0 + 2 * g.hb_ms)) {
        bool unpaired = false;

        pthread_mutex_lock(&g.mu);
        for (int i = 0; i < MAX_NODES; i++) {
            unpaired |= i != g.id && g.peers[i].present && *g.peers[i].unpaired;
        }
        pthread_mutex_unlock(&g.mu);
        if (unpaired) {
            break;
        }
        sleep_ms(20);
    }
    if (m < 0) {
        /* members that answer but have other modules: refuse rather than start a cluster */
        for (int i = 0; i < MAX_NODES; i++) {
            if (i != g.id && g.peers[i].present && *g.peers[i].unpaired) {
                fatal("refusing to pair with node %d: the YANG modules differ: %s", i,
                      g.peers[i].unpaired);
            }
        }
    }
    if (g.join && m < 0) {
        fatal("no member of the cluster is reachable in start phase 2 to join through");
    }
    if (m >= 0) {
        struct chorus_conn *lk = NULL;
        uint64_t tx = 0;

        logm("%s through node %d", g.join ? "joining" : "re-syncing from the cluster", m);
        if (sync_from_member(m, g.mg, ith, g.join, &lk, &tx, err, sizeof err)) {
            fatal("%s", err);
        }
        pthread_mutex_lock(&g.mu);
        g.txid = tx;
        pthread_mutex_unlock(&g.mu);
        /* the node list may have changed (join) */
        if (!read_ccfg(g.mg, ith, &cc, err, sizeof err)) {
            apply_ccfg(&cc);
            ccfg_free(&cc);
        }
        local_phase(1);
        register_all();
        set_state(ST_INSYNC, "copied the cluster's data");
        /* keep the member locked (no commit can miss this node) until the members see it in
         * their voting set, then open */
        wait_seen_up();
        chorus_disconnect(lk);
        local_phase(2);
        return;
    }
    if (g.id == g.init_node) {
        /* cluster init: the others copy our init transaction, then enter phase 1 */
        logm("initialising the cluster (init node): waiting for the other nodes to copy the data");
        for (int i = 0; i < MAX_NODES; i++) {
            if (i != g.id && g.peers[i].present) {
                wait_phase_of(i, 1, "copying the init node's data");
            }
        }
        local_phase(1);
        register_all();
        set_state(ST_INSYNC, "cluster initialised");
        local_phase(2);
        return;
    }
    /* cluster init, not the init node: copy the init node's init transaction */
    int in = g.init_node;
    struct chorus_conn *ic = NULL;
    uint32_t ith2;
    uint64_t tx = 0;

    if (!g.peers[in].present) {
        fatal("the init node %d is not in the node list", in);
    }
    logm("initialising the cluster: copying the init transaction of node %d (%s)", in,
         g.peers[in].target);
    for (;;) {
        wait_phase_of(in, 0, "its start");
        pthread_mutex_lock(&g.mu);
        int iph = g.peers[in].phase;
        pthread_mutex_unlock(&g.mu);
        if (iph == 2) {
            /* it opened meanwhile (it gave up waiting): join as a restarting node */
            struct chorus_conn *lk = NULL;

            if (sync_from_member(in, g.mg, ith, false, &lk, &tx, err, sizeof err)) {
                fatal("%s", err);
            }
            g.txid = tx;
            local_phase(1);
            register_all();
            set_state(ST_INSYNC, "copied the cluster's data");
            wait_seen_up();
            chorus_disconnect(lk);
            local_phase(2);
            return;
        }
        if (!chorus_connect_timeout(g.peers[in].target, PROG, 5000, &ic)) {
            chorus_set_timeout(ic, 600000);
            if (!chorus_session_start(ic, g.user, CTX_RESYNC, NULL, 0, g.addr, NULL) &&
                !chorus_trans_attach_init(ic, &ith2)) {
                break;
            }
            chorus_disconnect(ic);
            ic = NULL;
        }
        if (g.stop || now_ms() - t0 > g.init_timeout_ms) {
            fatal("cannot attach to the init transaction of node %d", in);
        }
        sleep_ms(50);
    }
    modset_diff(ic, in, err, sizeof err);
    if (*err) {
        fatal("refusing to pair with the init node %d: the YANG modules differ: %s", in, err);
    }
    if (copy_data(ic, ith2, g.mg, ith, &tx, err, sizeof err)) {
        fatal("copying from node %d: %s", in, err);
    }
    chorus_disconnect(ic);
    g.txid = tx;
    if (!read_ccfg(g.mg, ith, &cc, err, sizeof err)) {
        apply_ccfg(&cc);
        ccfg_free(&cc);
    }
    logm("copied the init node's data (cluster transaction %" PRIu64 ")", tx);
    local_phase(1);
    register_all();
    set_state(ST_INSYNC, "cluster initialised");
    wait_phase_of(in, 2, "the init node opens the cluster");
    /* every other node too has copied and entered phase 1 (the init node waited for it): see
     * them in the voting set before opening, so that no commit of ours leaves one out */
    for (int i = 0; i < MAX_NODES; i++) {
        if (i != g.id && g.peers[i].present) {
            wait_phase_of(i, 1, "the cluster opens");
        }
    }
    local_phase(2);
}

/* Copy everything from a live member into running (this node is behind). */
static void
resync(void)
{
    char err[1024] = "";
    struct chorus_conn *lk = NULL;
    uint32_t th;
    uint64_t tx = 0, t0 = now_ms();
    int src;

    pthread_mutex_lock(&g.mu);
    src = g.behind_src;
    g.state = ST_RESYNCING;
    pthread_mutex_unlock(&g.mu);
    if (src < 0 || !g.peers[src].present) {
        src = live_member();
    }
    if (src < 0) {
        logm("re-sync: no live member to copy from yet");
        set_state(ST_BEHIND, NULL);
        sleep_ms(500);
        return;
    }
    logm("re-syncing from node %d (%s)", src, g.peers[src].target);
    /* lock the member, then copy into a transaction of our own and commit it */
    if (member_lock(src, CTX_RESYNC, 10000, &lk, err, sizeof err)) {
        logm("re-sync from node %d failed: %s", src, err);
        set_state(ST_BEHIND, NULL);
        sleep_ms(200);
        return;
    }
    uint32_t sth;
    enum chorus_err rc = chorus_trans_start(lk, CHORUS_DB_RUNNING, 0, &sth);

    if (!rc && !(rc = chorus_trans_start(g.mg, CHORUS_DB_RUNNING, 1, &th))) {
        rc = copy_data(lk, sth, g.mg, th, &tx, err, sizeof err);
        if (!rc && (rc = chorus_apply(g.mg, th, NULL))) {
            snprintf(err, sizeof err, "%s", lasterr(g.mg));
        }
        chorus_trans_finish(g.mg, th);
    } else if (rc) {
        snprintf(err, sizeof err, "%s", lasterr(lk));
    }
    if (rc) {
        logm("re-sync from node %d failed: %s", src, err);
        chorus_disconnect(lk);
        set_state(ST_BEHIND, NULL);
        sleep_ms(200);
        return;
    }
    pthread_mutex_lock(&g.mu);
    g.txid = tx;
    for (int i = 0; i < MAX_NODES; i++) {
        g.peers[i].lead_since = g.peers[i].lag_since = 0;
    }
    g.state = ST_INSYNC;
    pthread_mutex_unlock(&g.mu);
    logm("re-synced from node %d: cluster transaction %" PRIu64 " in %" PRIu64 " ms; serving",
         src, tx, now_ms() - t0);
    wait_seen_up();
    chorus_disconnect(lk);
}

/* Remove this node from every member's node list in one cluster transaction. */
static void
leave(void)
{
    struct chorus_conn *c = NULL;
    uint32_t th;
    char path[128], v[16];
    enum chorus_err rc;
    int next = -1;

    set_state(ST_LEAVING, "leave requested");
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < MAX_NODES && next < 0; i++) {
        if (i != g.id && g.peers[i].present) {
            next = i;
        }
    }
    bool was_init = g.init_node == g.id;
    pthread_mutex_unlock(&g.mu);
    snprintf(path, sizeof path, NODE_PATH "[id='%d']", g.id);
    rc = chorus_connect(g.local, PROG "-leave", &c);
    if (!rc) {
        chorus_set_timeout(c, 120000);
        rc = chorus_session_start(c, g.admin, CTX_ADMIN, NULL, 0, NULL, NULL);
    }
    if (!rc) {
        rc = chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th);
    }
    if (!rc) {
        rc = chorus_delete(c, th, path);
        if (!rc && was_init && next >= 0) {
            snprintf(v, sizeof v, "%d", next);
            rc = chorus_set(c, th, CLUSTER "/init-node", v);
        }
        if (!rc) {
            rc = chorus_apply(c, th, NULL);
        }
    }
    pthread_mutex_lock(&g.mu);
    if (rc) {
        snprintf(g.last_error, sizeof g.last_error, "%s", c ? lasterr(c) : "cannot connect");
        logm("leave failed: %s", g.last_error);
        g.state = ST_INSYNC;
        g.leave_done = -1;
    } else {
        logm("left the cluster: removed from every member's node list");
        g.leave_done = 1;
    }
    pthread_mutex_unlock(&g.mu);
    chorus_disconnect(c);
}

static void
on_signal(int sig)
{
    (void)sig;
    g.stop = 1;
}

static const char usage[] =
    "usage: " PROG " -n ID [-p IPC_PORT] [-a ADDRESS] [-j] [-c FILE]\n"
    "  -n ID       this node's id (0..255) in /chorus-aacluster:cluster/node\n"
    "  -p PORT     the IPC port of this node's chorusd (default $CHORUS_IPC_PORT, else 4565)\n"
    "  -a ADDRESS  the address of this node's chorusd (default 127.0.0.1)\n"
    "  -j          join a running cluster through a live member of the node list\n"
    "  -c FILE     settings: lines 'user NAME' (the cluster user, default chorus-cluster),\n"
    "              'init-timeout MS' (default 120000); '#' starts a comment\n"
    "chorusd must run with chorus-aacluster.yang in its load path; start it in phase 0\n"
    "(--start-phase0) so that it opens NETCONF only once the node is in sync.\n";

static void
read_settings(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[512];
    int ln = 0;

    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", file, strerror(errno));
        exit(2);
    }
    while (fgets(line, sizeof line, f)) {
        char key[64], val[256], extra[8];
        char *h = strchr(line, '#');
        int n;

        ln++;
        if (h) {
            *h = 0;
        }
        n = sscanf(line, "%63s %255s %7s", key, val, extra);
        if (n <= 0) {
            continue;
        }
        if (n != 2) {
            fprintf(stderr, PROG ": %s:%d: expected 'KEY VALUE'\n", file, ln);
            exit(2);
        }
        if (!strcmp(key, "user")) {
            if (strlen(val) >= sizeof g.user) {
                fprintf(stderr, PROG ": %s:%d: user: longer than %zu characters\n", file, ln,
                        sizeof g.user - 1);
                exit(2);
            }
            memcpy(g.user, val, strlen(val) + 1);
        } else if (!strcmp(key, "init-timeout")) {
            char *end;
            unsigned long v = strtoul(val, &end, 10);

            if (*end || v < 1000 || v > 86400000) {
                fprintf(stderr, PROG ": %s:%d: init-timeout: %s: not 1000..86400000 ms\n", file,
                        ln, val);
                exit(2);
            }
            g.init_timeout_ms = (uint32_t)v;
        } else {
            fprintf(stderr, PROG ": %s:%d: unknown setting '%s' (user, init-timeout)\n", file,
                    ln, key);
            exit(2);
        }
    }
    fclose(f);
}

int
main(int argc, char **argv)
{
    const char *portenv = getenv("CHORUS_IPC_PORT");
    int opt, id = -1;
    char *end;

    snprintf(g.user, sizeof g.user, "chorus-cluster");
    snprintf(g.addr, sizeof g.addr, "127.0.0.1");
    g.port = portenv ? (unsigned)atoi(portenv) : CHORUS_DEFAULT_IPC_PORT;
    while ((opt = getopt(argc, argv, "n:p:a:jc:h")) != -1) {
        switch (opt) {
        case 'n':
            id = (int)strtol(optarg, &end, 10);
            if (*end || id < 0 || id > 255) {
                fprintf(stderr, PROG ": -n %s: a node id is 0..255\n", optarg);
                return 2;
            }
            break;
        case 'p': {
            long p = strtol(optarg, &end, 10);

            if (*end || p < 1 || p > 65535) {
                fprintf(stderr, PROG ": -p %s: not a port number\n", optarg);
                return 2;
            }
            g.port = (unsigned)p;
            break;
        }
        case 'a':
            snprintf(g.addr, sizeof g.addr, "%s", optarg);
            break;
        case 'j':
            g.join = true;
            break;
        case 'c':
            read_settings(optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (id < 0 || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    g.id = id;
    snprintf(g.admin, sizeof g.admin, "%s-admin", g.user);
    snprintf(g.local, sizeof g.local, strchr(g.addr, ':') ? "[%s]:%u" : "%s:%u", g.addr, g.port);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    srand((unsigned)(getpid() ^ now_ms()));
    ly_log_options(0);
    logm("starting: node %d, chorusd at %s%s", g.id, g.local, g.join ? ", joining" : "");
    start();
    logm("serving (cluster transaction %" PRIu64 ")", g.txid);
    while (!g.stop) {
        enum nstate st = get_state();

        if (g.leave_req && !g.leave_done) {
            leave();
            g.leave_req = 0;
        }
        if (g.leave_done == 2) {
            logm("stopping chorusd");
            chorus_stop(g.mg);
            break;
        }
        if (st == ST_BEHIND) {
            resync();
            continue;
        }
        sleep_ms(20);
    }
    g.stop = 1;
    logm("exiting");
    return 0;
}
