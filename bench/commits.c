/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_commits: small commits through libchorus, as an application makes them.
 *
 *   bench_commits -t HOST:PORT [-c CLIENTS] [-n COMMITS] [-m set|create] [-b FIRST_ID]
 *                 [-r RANGE] [-v VALUE_BASE] [-w WARMUP] [-o FILE]
 *
 * Each of CLIENTS threads opens its own connection and user session, then makes COMMITS /
 * CLIENTS transactions, each one chorus_trans_start() + chorus_set() + chorus_apply() +
 * chorus_trans_finish() on running:
 *
 *   set     one leaf change: leaf1 of route FIRST_ID + (k mod RANGE) gets the value
 *           VALUE_BASE + k (k counts the commits of all clients, so every write is a change)
 *   create  one new route FIRST_ID + k: four chorus_set() calls (leaf1..leaf4; the list entry
 *           is created with the first) in the one transaction
 *
 * WARMUP commits per client come first and are not counted. The latency of a commit is the
 * wall time of its four (or seven) calls as the client sees it; the rate is the counted
 * commits over the wall time from the common start (a barrier) to the last client's end.
 *
 * Output: one line of KEY=VALUE pairs (latencies in us); with -o, FILE receives every counted
 * latency in us, sorted, one per line. Every commit must produce a new
 * transaction id (running's id must grow by the number of commits made); a commit that fails
 * or changes nothing fails the run (exit 1).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <chorus/chorus.h>
#include <chorus/mgmt.h>

#define ROUTE "/routes:active-cfg/routes/route[id='%07lu']"

struct opts {
    const char *target;
    int clients;
    long commits; /* counted, all clients */
    int create;
    unsigned long first_id;
    unsigned long range;
    unsigned long value_base;
    long warmup; /* per client */
    const char *lat_file;
};

struct client {
    const struct opts *o;
    int idx;
    long n;             /* counted commits of this client */
    uint64_t *lat;      /* their latencies, ns */
    uint64_t t_end;     /* end of the last counted commit */
    uint64_t last_txid; /* txid of its last commit */
    char err[512];      /* empty if the client succeeded */
    struct chorus_conn *conn;
};

static pthread_barrier_t barrier;
static uint64_t t_start;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
fail(struct client *cl, const char *what, enum chorus_err rc)
{
    const struct chorus_error *e = chorus_last_error(cl->conn);

    snprintf(cl->err, sizeof cl->err, "client %d: %s: %s%s%s", cl->idx, what,
             e && e->message ? e->message : chorus_strerror(rc), e && e->path ? " at " : "",
             e && e->path ? e->path : "");
}

/* One transaction; @p k numbers it among all commits of all clients. Returns 0 or -1. */
static int
one_commit(struct client *cl, unsigned long k)
{
    const struct opts *o = cl->o;
    char path[160], val[32];
    enum chorus_err rc;
    uint32_t th;
    uint64_t txid = 0;

    rc = chorus_trans_start(cl->conn, CHORUS_DB_RUNNING, 1, &th);
    if (rc) {
        fail(cl, "chorus_trans_start", rc);
        return -1;
    }
    if (o->create) {
        unsigned long id = o->first_id + k;

        for (int leaf = 1; leaf <= 4 && !rc; leaf++) {
            snprintf(path, sizeof path, ROUTE "/leaf%d", id, leaf);
            snprintf(val, sizeof val, "%lu", (id * 7 + (unsigned long)leaf) % 1000000);
            rc = chorus_set(cl->conn, th, path, val);
        }
    } else {
        snprintf(path, sizeof path, ROUTE "/leaf1", o->first_id + k % o->range);
        snprintf(val, sizeof val, "%lu", o->value_base + k);
        rc = chorus_set(cl->conn, th, path, val);
    }
    if (rc) {
        fail(cl, "chorus_set", rc);
        (void)chorus_trans_finish(cl->conn, th);
        return -1;
    }
    rc = chorus_apply(cl->conn, th, &txid);
    if (rc) {
        fail(cl, "chorus_apply", rc);
        (void)chorus_trans_finish(cl->conn, th);
        return -1;
    }
    rc = chorus_trans_finish(cl->conn, th);
    if (rc) {
        fail(cl, "chorus_trans_finish", rc);
        return -1;
    }
    if (txid <= cl->last_txid) {
        snprintf(cl->err, sizeof cl->err, "client %d: commit %lu changed nothing", cl->idx, k);
        return -1;
    }
    cl->last_txid = txid;
    return 0;
}

static void *
client_main(void *arg)
{
    struct client *cl = arg;
    const struct opts *o = cl->o;
    enum chorus_err rc;
    unsigned long c = (unsigned long)o->clients;
    /* commit numbers: warm-up ones after all counted ones, so both stay distinct */
    unsigned long warm0 = (unsigned long)o->commits + (unsigned long)cl->idx;

    rc = chorus_connect(o->target, "bench_commits", &cl->conn);
    if (rc) {
        snprintf(cl->err, sizeof cl->err, "client %d: cannot connect to %s: %s", cl->idx, o->target,
                 chorus_strerror(rc));
    } else if ((rc = chorus_session_start(cl->conn, "bench", "bench", NULL, 0, NULL, NULL))) {
        fail(cl, "chorus_session_start", rc);
    }
    for (long i = 0; !cl->err[0] && i < o->warmup; i++) {
        (void)one_commit(cl, warm0 + (unsigned long)i * c);
    }
    pthread_barrier_wait(&barrier);
    for (long i = 0; !cl->err[0] && i < cl->n; i++) {
        uint64_t t0 = now_ns();

        if (one_commit(cl, (unsigned long)i * c + (unsigned long)cl->idx)) {
            break;
        }
        cl->lat[i] = now_ns() - t0;
    }
    cl->t_end = now_ns();
    if (cl->conn) {
        (void)chorus_session_end(cl->conn);
        chorus_disconnect(cl->conn);
    }
    return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* The transaction id of running, through a connection of its own. */
static int
read_txid(const char *target, uint64_t *ret)
{
    struct chorus_conn *conn = NULL;
    enum chorus_err rc = chorus_connect(target, "bench_commits", &conn);

    if (!rc) {
        rc = chorus_session_start(conn, "bench", "bench", NULL, 0, NULL, NULL);
    }
    if (!rc) {
        rc = chorus_txid(conn, ret);
    }
    if (rc) {
        fprintf(stderr, "bench_commits: cannot read the txid from %s: %s\n", target,
                chorus_strerror(rc));
    }
    chorus_disconnect(conn);
    return rc ? -1 : 0;
}

static int
write_latencies(const char *path, const uint64_t *lat, long n)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fprintf(stderr, "bench_commits: cannot write %s\n", path);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        fprintf(f, "%.1f\n", lat[i] / 1e3);
    }
    if (fclose(f)) {
        fprintf(stderr, "bench_commits: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench_commits -t HOST:PORT [-c CLIENTS] [-n COMMITS] "
                    "[-m set|create] [-b FIRST_ID] [-r RANGE] [-v VALUE_BASE] [-w WARMUP] "
                    "[-o FILE]\n");
}

int
main(int argc, char **argv)
{
    struct opts o = {NULL, 1, 2000, 0, 1, 1000, 2000000, 20, NULL};
    struct client *cls;
    pthread_t *tids;
    uint64_t *all, t_end = 0, sum = 0, txid0 = 0, txid1 = 0;
    long n = 0;
    int opt, rc = 0;

    while ((opt = getopt(argc, argv, "t:c:n:m:b:r:v:w:o:h")) != -1) {
        switch (opt) {
        case 't':
            o.target = optarg;
            break;
        case 'c':
            o.clients = atoi(optarg);
            break;
        case 'n':
            o.commits = atol(optarg);
            break;
        case 'm':
            if (!strcmp(optarg, "create")) {
                o.create = 1;
            } else if (strcmp(optarg, "set")) {
                usage();
                return 2;
            }
            break;
        case 'b':
            o.first_id = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            o.range = strtoul(optarg, NULL, 10);
            break;
        case 'v':
            o.value_base = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            o.warmup = atol(optarg);
            break;
        case 'o':
            o.lat_file = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!o.target || o.clients < 1 || o.clients > 256 || o.commits < o.clients || o.range < 1 ||
        o.warmup < 0) {
        usage();
        return 2;
    }
    if (o.create) {
        o.warmup = 0; /* every create must be counted: ids are consecutive */
    }

    cls = calloc((size_t)o.clients, sizeof *cls);
    tids = calloc((size_t)o.clients, sizeof *tids);
    all = calloc((size_t)o.commits, sizeof *all);
    if (!cls || !tids || !all) {
        fprintf(stderr, "bench_commits: out of memory\n");
        return 1;
    }
    if (read_txid(o.target, &txid0)) {
        return 1;
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)o.clients + 1);
    for (int i = 0; i < o.clients; i++) {
        cls[i].o = &o;
        cls[i].idx = i;
        cls[i].n = o.commits / o.clients + (i < o.commits % o.clients);
        cls[i].lat = calloc((size_t)cls[i].n, sizeof *cls[i].lat);
        if (!cls[i].lat || pthread_create(&tids[i], NULL, client_main, &cls[i])) {
            fprintf(stderr, "bench_commits: cannot start client %d\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&barrier);
    t_start = now_ns();
    for (int i = 0; i < o.clients; i++) {
        pthread_join(tids[i], NULL);
        if (cls[i].err[0]) {
            fprintf(stderr, "bench_commits: %s\n", cls[i].err);
            rc = 1;
        }
        if (cls[i].t_end > t_end) {
            t_end = cls[i].t_end;
        }
        memcpy(all + n, cls[i].lat, (size_t)cls[i].n * sizeof *all);
        n += cls[i].n;
        free(cls[i].lat);
    }
    if (!rc && read_txid(o.target, &txid1)) {
        rc = 1;
    }
    if (!rc && txid1 - txid0 != (uint64_t)n + (uint64_t)o.warmup * (uint64_t)o.clients) {
        fprintf(stderr, "bench_commits: running's txid grew by %" PRIu64 ", not by %ld\n",
                txid1 - txid0, n + o.warmup * o.clients);
        rc = 1;
    }
    if (!rc) {
        double wall = (double)(t_end - t_start) / 1e9;

        qsort(all, (size_t)n, sizeof *all, cmp_u64);
        for (long i = 0; i < n; i++) {
            sum += all[i];
        }
        printf("clients=%d commits=%ld mode=%s wall_s=%.3f commits_per_s=%.1f p50_us=%.1f "
               "p99_us=%.1f min_us=%.1f max_us=%.1f mean_us=%.1f\n",
               o.clients, n, o.create ? "create" : "set", wall, (double)n / wall, all[n / 2] / 1e3,
               all[(size_t)((double)n * 0.99)] / 1e3, all[0] / 1e3, all[n - 1] / 1e3,
               (double)sum / (double)n / 1e3);
        if (o.lat_file && write_latencies(o.lat_file, all, n)) {
            rc = 1;
        }
    }
    pthread_barrier_destroy(&barrier);
    free(all);
    free(cls);
    free(tids);
    return rc;
}
