/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's state: schema, datastores, journal, sessions, transactions, the commit lock
 * and the start phase. One instance, owned by main.c, reached by every module through a
 * pointer (no globals), and touched only from the event loop (ev.h): single-threaded. (The one
 * other thread, the SSH transport of nc/ssh.c, never touches it: it hands sockets and log lines
 * to the loop through a queue. The snapshot child forked by jnl.c uses libyang, zlib and
 * malloc only, and inherits the relay sockets until it exits.)
 *
 * Running and the change in flight: while a transaction is prepared (it holds the commit lock
 * and its change is applied to running in place, through its mutation log), the tree can be
 * shown either with or without that change. core_running() gives every reader the state it
 * must see: the holder sees its change, everybody else the committed state (the log is
 * toggled, dlog.h). After the commit the change is simply there.
 */
#ifndef CHORUS_CORE_H
#define CHORUS_CORE_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "common/cerr.h"
#include "common/log.h"
#include "edit.h"
#include "ev.h"
#include "upg.h"

struct sess;
struct txn;
struct jnl;
struct rb;
struct val;
struct schema;
struct ipc;
struct subs;
struct nc_server;

/* Somebody waiting for a start phase (wait-start). */
struct phase_waiter {
    int phase;
    void (*cb)(void *arg);
    void *arg;
    struct phase_waiter *next;
};

struct core {
    struct cfg *cfg;
    struct schema *schema;
    struct ly_ctx *ctx;
    struct val *val;
    struct ev *ev;
    struct jnl *jnl;
    struct rb *rb;             /* NULL when rollback files are disabled */
    struct ev_timer *rb_timer; /* writes the queued rollback files at the next turn */
    struct ipc *ipc;
    struct subs *subs; /* registrations of applications (sub.h) */
    struct nc_server *nc; /* the NETCONF server (nc/server.h), NULL when disabled */
    /* Called after every commit to running that changed it, with the transaction (its diff,
     * sub_txn_diff(), is built when commit_hook_wants says so): NETCONF notifications. */
    void (*commit_hook)(void *arg, struct txn *t);
    bool (*commit_hook_wants)(void *arg);
    void *commit_hook_arg;

    /* datastores */
    struct lyd_node *running; /* first top-level node */
    uint64_t txid;            /* last committed transaction of running */
    struct ed *cand;          /* the candidate's changes against running; NULL if disabled */
    uint32_t cand_writer;     /* session that last wrote the candidate (0: nobody) */
    struct lyd_node *startup; /* the startup datastore when enabled */
    struct ed *oper;          /* operational (config false) data written by applications, as
                                 a change set layered over running in operational reads */

    /* a pending confirmed commit (RFC 6241 section 8.4), see txn_confirmed_commit() */
    struct {
        bool active;
        bool reverting;
        uint32_t owner;        /* session that started it */
        char *persist;         /* persist token, or NULL: bound to the owner's session */
        uint64_t base_txid;    /* running's transaction id before it */
        struct buf *recs;      /* records of every commit since, oldest first */
        size_t nrecs;
        struct ev_timer *timer;
    } cc;

    /* the commit lock */
    struct txn *holder;  /* transaction inside the commit sequence, NULL when free */
    struct txn *waiters; /* transactions waiting for it, FIFO (txn->wnext) */

    /* transactions and sessions */
    struct txn *txns; /* all open transactions */
    uint32_t next_th;
    struct txn *init; /* the init transaction until phase 1 */
    struct sess *sys; /* the daemon's own session (init transaction) */
    struct sess *sessions;
    uint32_t nsessions;
    uint32_t next_usid;
    struct sess *locks[5]; /* datastore locks, by enum chorus_db */

    /* schema upgrade (upg.h): set at start-up when the database was written with another
     * module set; the init transaction carries it out */
    struct {
        bool pending;       /* the init transaction is an upgrade, not committed yet */
        char from[65];      /* the old module-set digest (hex) */
        char *from_modules; /* its load-path modules, "name@revision, ..." */
        const char *modset; /* the new module set as text, for the journal (main.c's) */
        uint64_t dropped, dropped_invalid;
    } upg;
    struct upg_last last_upgrade; /* the last one committed (last_upgrade.time 0: none) */

    /* start phases */
    int phase;
    struct phase_waiter *phase_waiters;
    /* who waits for the init transaction's commit (entering phase 1 with applications
     * registered waits for their answers) */
    bool entering1;
    void (*phase1_cb)(void *arg, enum chorus_err rc, struct cerr *e);
    void *phase1_arg;
    bool stopping;
    time_t started;
    uint64_t started_ms;
};

/* Make running show what @p t must see (its own prepared change, or the committed state). */
void core_running(struct core *c, const struct txn *t);

/* Move to start phase @p phase (current + 1). Entering phase 1 commits the init transaction,
 * synchronously: for the daemon's own start, when no application can be registered. */
enum chorus_err core_start_phase(struct core *c, int phase, struct cerr **e);

/*
 * The same for a client: @p done is called once, when the phase is entered or refused (maybe
 * before this returns). Entering phase 1 runs the init transaction's commit sequence with the
 * events of the applications registered in phase 0 (their hooks may write into it), so it may
 * wait for their answers. A refusal leaves the daemon in phase 0 with the init transaction open.
 */
void core_start_phase_async(struct core *c, int phase,
                            void (*done)(void *arg, enum chorus_err rc, struct cerr *e), void *arg);
/* The requester @p arg of a pending core_start_phase_async() went away: do not call it. */
void core_start_phase_forget(struct core *c, void *arg);

/*
 * Commit stage of a schema upgrade's init transaction (txn.h): store the new module set
 * (upg_store), write @p tree as snapshot @p txid under it (jnl_upgrade), record the upgrade
 * (last-upgrade, status) and drop the older stored sets. On error nothing was switched unless
 * the message says so.
 */
enum chorus_err core_upgrade_commit(struct core *c, const struct lyd_node *tree, uint64_t txid,
                                    struct cerr **e);

/* Call @p cb when the phase reaches @p phase (at once if it has). Returns the waiter (to
 * cancel it) or NULL if called at once or out of memory (then *ret_done tells). */
struct phase_waiter *core_wait_phase(struct core *c, int phase, void (*cb)(void *), void *arg,
                                     bool *ret_done);
void core_cancel_wait(struct core *c, struct phase_waiter *w);

/* The status document (JSON), malloc'd. */
char *core_status_json(struct core *c);

/* Stop the daemon after the current turn of the event loop. */
void core_stop(struct core *c);

/* Maybe start journal compaction (after a commit, with the commit lock free). */
void core_maybe_compact(struct core *c);
/* Write the queued rollback files now / at the next turn of the loop (after the reply). */
void core_rb_flush(struct core *c);
void core_rb_flush_soon(struct core *c);

#endif
