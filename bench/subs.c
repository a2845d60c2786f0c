/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_subs: two-phase subscribers that only acknowledge, for the cost of subscribers on the
 * commit path.
 *
 *   bench_subs -t TARGET -n SUBSCRIBERS [-p PATH] [-s]
 *
 * Each of SUBSCRIBERS threads opens its own connection to chorusd at TARGET and registers
 * chorus_subscribe(CHORUS_SUB_CONFIG, PATH (default /routes:active-cfg), priority 0,
 * CHORUS_SUB_TWO_PHASE); with -s subscriber i has priority i instead, so that PREPARE and
 * COMMIT go to the subscribers one after the other rather than in parallel. Each thread then
 * runs a chorus_dispatch() loop whose callback counts the event and returns CHORUS_OK.
 *
 * Once every subscriber is registered (chorus_subscribe() returned, so the daemon will send
 * it the events of the next commit), the line "ready" is written to stdout. On SIGTERM or
 * SIGINT the subscribers disconnect and one line of KEY=VALUE pairs follows: the number of
 * PREPARE, COMMIT and ABORT events, the fewest and the most any one subscriber received.
 * Exit 1 if a subscriber could not register or its connection failed before the signal.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chorus/chorus.h>
#include <chorus/sub.h>

struct subscriber {
    int idx;
    int32_t prio;
    const char *target, *path;
    long prepare, commit, abort_, other; /* events received, by type */
    char err[512];                       /* empty while the subscriber is fine */
};

static pthread_barrier_t ready;
static atomic_int stop;

static enum chorus_err
on_event(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    struct subscriber *s = arg;

    (void)conn;
    switch (ev->type) {
    case CHORUS_EV_PREPARE:
        s->prepare++;
        break;
    case CHORUS_EV_COMMIT:
        s->commit++;
        break;
    case CHORUS_EV_ABORT:
        s->abort_++;
        break;
    default:
        s->other++;
        break;
    }
    return CHORUS_OK;
}

static void
fail(struct subscriber *s, struct chorus_conn *conn, const char *what, enum chorus_err rc)
{
    const struct chorus_error *e = chorus_last_error(conn);

    snprintf(s->err, sizeof s->err, "subscriber %d: %s: %s", s->idx, what,
             e && e->message ? e->message : chorus_strerror(rc));
}

static void *
sub_main(void *arg)
{
    struct subscriber *s = arg;
    struct chorus_conn *conn = NULL;
    enum chorus_err rc;

    rc = chorus_connect(s->target, "bench_subs", &conn);
    if (rc) {
        fail(s, NULL, "chorus_connect", rc);
    } else if ((rc = chorus_subscribe(conn, CHORUS_SUB_CONFIG, s->path, s->prio,
                                      CHORUS_SUB_TWO_PHASE, on_event, s, NULL))) {
        fail(s, conn, "chorus_subscribe", rc);
    }
    pthread_barrier_wait(&ready);
    while (!s->err[0] && !atomic_load(&stop)) {
        rc = chorus_dispatch(conn, 100);
        if (rc && rc != CHORUS_ERR_TIMEOUT) {
            fail(s, conn, "chorus_dispatch", rc);
        }
    }
    chorus_disconnect(conn);
    return NULL;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench_subs -t TARGET -n SUBSCRIBERS [-p PATH] [-s]\n");
}

int
main(int argc, char **argv)
{
    const char *target = NULL, *path = "/routes:active-cfg";
    struct subscriber *subs;
    pthread_t *tids;
    sigset_t set;
    long pmin = -1, pmax = 0, cmin = -1, cmax = 0, aborts = 0, other = 0;
    int opt, n = 0, serial = 0, sig, rc = 0;

    while ((opt = getopt(argc, argv, "t:n:p:sh")) != -1) {
        switch (opt) {
        case 't':
            target = optarg;
            break;
        case 'n':
            n = atoi(optarg);
            break;
        case 'p':
            path = optarg;
            break;
        case 's':
            serial = 1;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!target || n < 1 || n > 256) {
        usage();
        return 2;
    }
    subs = calloc((size_t)n, sizeof *subs);
    tids = calloc((size_t)n, sizeof *tids);
    if (!subs || !tids) {
        fprintf(stderr, "bench_subs: out of memory\n");
        return 1;
    }
    /* the signals are taken by sigwait() below, in this thread only */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        subs[i] =
            (struct subscriber){.idx = i, .prio = serial ? i : 0, .target = target, .path = path};
        if (pthread_create(&tids[i], NULL, sub_main, &subs[i])) {
            fprintf(stderr, "bench_subs: cannot start subscriber %d\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&ready);
    for (int i = 0; i < n; i++) {
        if (subs[i].err[0]) {
            fprintf(stderr, "bench_subs: %s\n", subs[i].err);
            rc = 1;
        }
    }
    if (!rc) {
        printf("ready\n");
        fflush(stdout);
        sigwait(&set, &sig);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++) {
        struct subscriber *s = &subs[i];

        pthread_join(tids[i], NULL);
        if (!rc && s->err[0]) {
            fprintf(stderr, "bench_subs: %s\n", s->err);
            rc = 1;
        }
        pmin = pmin < 0 || s->prepare < pmin ? s->prepare : pmin;
        pmax = s->prepare > pmax ? s->prepare : pmax;
        cmin = cmin < 0 || s->commit < cmin ? s->commit : cmin;
        cmax = s->commit > cmax ? s->commit : cmax;
        aborts += s->abort_;
        other += s->other;
    }
    if (!rc) {
        printf("subscribers=%d prepare_min=%ld prepare_max=%ld commit_min=%ld commit_max=%ld "
               "abort=%ld other=%ld\n",
               n, pmin, pmax, cmin, cmax, aborts, other);
    }
    pthread_barrier_destroy(&ready);
    free(subs);
    free(tids);
    return rc;
}
