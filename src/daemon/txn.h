/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactions and the commit sequence.
 *
 * A transaction is a change set (edit.h) against a backend datastore (seeds/003): writes go
 * into the change set with set semantics, reads see the backend with the change set applied,
 * and nothing is visible to anybody else before the commit.
 *
 * THE COMMIT SEQUENCE (running). Each stage states what it may do and what holds after it.
 *
 *  1. LOCK       Take the daemon's commit lock; one transaction at a time inside it. If the
 *                lock is held, wait in FIFO order up to commit/lock-timeout, then fail with
 *                CHORUS_ERR_INUSE naming the holder. After: this transaction is the holder.
 *  2. HOOKS      Transaction hooks of applications may add changes to the change set. They
 *                run before validation, so that what is validated is final. (Hooks register
 *                through the data-provider API; with none registered the stage is empty.)
 *  3. VALIDATE   The change set is applied to running in place through the mutation log and
 *                validated (val.h: incremental, or full with libyang as the authority); then
 *                application validation callbacks. May fail: the log is undone, running is
 *                exactly as before, the lock is released; the change set is intact and the
 *                transaction stays open (fix and retry). After: running holds the change,
 *                visible only to this transaction (core_running()).
 *  4. PREPARE    The transaction record (rec.h) is built from the log. If participants can
 *                still vote (two-phase subscribers, or a client that prepares and commits in
 *                separate calls), the record is written and made durable now and the
 *                participants receive PREPARE in priority order; any may abort. Otherwise the
 *                record is kept for stage 6. May fail like VALIDATE; a written record then
 *                gets an abort mark.
 *  5. POINT OF NO RETURN
 *                Any failure before here rolled everything back; the change was invisible to
 *                every other observer. After here the transaction commits.
 *  6. COMMIT     The completion mark is written and made durable (together with the record
 *                in one write when the record was kept, jnl.c J3); the log is made permanent;
 *                the transaction id advances; the rollback file is queued (written at the
 *                next turn of the loop, after the reply: rb.h rb_write_later). An I/O error
 *                here undoes the change and fails the commit (the record never gets its
 *                mark, so recovery agrees).
 *  7. NOTIFY     Subscribers are notified in priority order (equal priorities in parallel);
 *                the transaction is not finished until they acknowledge. (Empty without
 *                subscribers.)
 *  8. UNLOCK     The commit lock passes to the next waiter. The reply is sent.
 *
 * A change that turns out to be empty (every write equal to the backend) commits nothing: no
 * record, no new transaction id, no rollback file.
 *
 * Other datastores: a read-write transaction on the candidate composes its change set into
 * the candidate (no validation; `candidate-commit` runs the sequence above with the
 * candidate's change set). The startup datastore is validated as a whole and written to its
 * file durably. The operational datastore has no transactions in the commit sense (as in
 * ConfD): applying merges the staged data atomically into the operational tree.
 *
 * THE INIT TRANSACTION OF A SCHEMA UPGRADE (upg.h). Running's base is then the old data
 * converted to the new schema, never validated under it. The sequence is the one above, with
 * these differences: hooks and validation callbacks receive their events (flagged
 * CHORUS_EVF_INIT | CHORUS_EVF_UPGRADE) even when their subtree did not change, so that
 * applications can migrate their data; VALIDATE checks the whole result with libyang (must,
 * when, leafref, mandatory, ...) on a copy, which becomes running at the commit; COMMIT writes
 * that copy as a snapshot under the new module set (jnl.h jnl_upgrade()) instead of a journal
 * record, and the transaction id advances even when the change set is empty.
 *
 * States: OPEN → (prepare) → PREPARED → (commit) → COMMITTED, or → ABORTED; a failed
 * validation or prepare returns to OPEN. Only finish is allowed after COMMITTED/ABORTED.
 */
#ifndef CHORUS_TXN_H
#define CHORUS_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "chorus/mgmt.h"
#include "common/buf.h"
#include "core.h"
#include "dlog.h"
#include "edit.h"

struct sub_txn;

enum txn_state {
    TXN_OPEN,
    TXN_WAITING,
    TXN_PREPARING, /* inside stages 2-4 or 7, waiting for applications' answers */
    TXN_PREPARED,
    TXN_COMMITTED,
    TXN_ABORTED
};

/* Completion of an operation that may have to wait for the commit lock. @p e is owned by the
 * callee (freed after the callback returns); @p txid is the new transaction id (or the
 * unchanged one for an empty change). */
typedef void (*txn_done_cb)(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid);

struct txn {
    struct core *core;
    uint32_t th;
    struct sess *sess;
    enum chorus_db db;
    bool rw;
    bool is_init;              /* the init transaction (attach_init) */
    bool upgrade;              /* the init transaction of a schema upgrade (see below) */
    struct lyd_node *upg_tree; /* upgrade: the validated result, running after the commit */
    bool journaled;            /* prepared with its record already in the journal */
    bool commit_after_prepare; /* apply: commit right after prepare */
    bool validate_only;        /* txn_check(): stop after the validation callbacks, undo */
    struct ed *extra_ed;       /* applied after ed (txn_check() of a candidate transaction) */
    const struct ed *oper_extra; /* during one read: data providers' answers, over the view */
    uint32_t flags;            /* REC_F_* for the record */
    enum txn_state state;
    struct ed *ed;     /* the change set (read-write transactions) */
    struct dlog log;   /* the change applied to running (prepared) */
    struct buf record; /* the transaction record built in prepare */
    struct sub_txn *st;  /* events of the commit sequence (sub.c), NULL when none */
    struct ed *hook_ed;  /* writes of the transaction hook whose event is pending */
    uint64_t prep_t0, prep_t1, prep_t2; /* stage timings for the log: start, after apply and
                                           hooks, after validation */
    size_t nfwd;       /* entries of the record (0: empty change) */
    uint64_t txid;
    /* waiting for the commit lock */
    txn_done_cb cb;
    void *cb_arg;
    struct ev_timer *timer;
    struct txn *wnext;
    struct txn *next;  /* core->txns */
    struct txn *snext; /* sess->txns */
};

/* Start a transaction. Errors: CHORUS_ERR_UNSUPPORTED (datastore not enabled),
 * CHORUS_ERR_STATE (writes not allowed now, or running writable through the candidate only). */
enum chorus_err txn_new(struct core *c, struct sess *s, enum chorus_db db, bool rw,
                        struct txn **ret_txn, struct cerr **e);
/* Create the init transaction (phase 0) owned by the daemon's session. */
enum chorus_err txn_new_init(struct core *c, struct cerr **e);
/* The transaction with handle @p th of session @p s, or NULL. */
struct txn *txn_find(struct core *c, const struct sess *s, uint32_t th);
/* Finish: abort if still open or prepared, then free. NULL-safe. */
void txn_free(struct core *c, struct txn *t);

/* ---- writes (set semantics; checked against the transaction's view) ---- */
enum chorus_err txn_set(struct core *c, struct txn *t, const char *path, const char *value,
                        struct cerr **e);
enum chorus_err txn_create(struct core *c, struct txn *t, const char *path, struct cerr **e);
enum chorus_err txn_delete(struct core *c, struct txn *t, const char *path, struct cerr **e);
enum chorus_err txn_edit(struct core *c, struct txn *t, enum chorus_edit_op op,
                         enum chorus_format fmt, const char *data, size_t len, struct cerr **e);

/* Merge a detached data tree (top-level siblings of the schema, consumed) into the change set. */
enum chorus_err txn_merge(struct core *c, struct txn *t, struct lyd_node *tree, struct cerr **e);
/* Replace the node at @p path (it may be missing) by @p content, a detached subtree of the same
 * schema node (consumed), as NETCONF's "replace" operation. */
enum chorus_err txn_replace(struct core *c, struct txn *t, const char *path,
                            struct lyd_node *content, struct cerr **e);

/* ---- reads ---- */
/* The whole view of @p t as a tree: borrowed (*ret_owned false: do not modify or free; valid
 * until the next change of the datastore) or a copy (free with lyd_free_all()). */
enum chorus_err txn_tree(struct core *c, struct txn *t, struct lyd_node **ret_tree,
                         bool *ret_owned, struct cerr **e);
/* Text of the subtree at @p path (NULL: all), with its ancestors; its length in *ret_len if
 * given (then LYB too may be asked for). */
enum chorus_err txn_get(struct core *c, struct txn *t, const char *path, enum chorus_format fmt,
                        uint32_t flags, char **ret_text, size_t *ret_len, struct cerr **e);
/* The same with one more layer over the view (operational data of providers). */
enum chorus_err txn_get_with(struct core *c, struct txn *t, const char *path,
                             enum chorus_format fmt, uint32_t flags, const struct ed *extra,
                             char **ret_text, size_t *ret_len, struct cerr **e);
enum chorus_err txn_get_value(struct core *c, struct txn *t, const char *path, char **ret_value,
                              struct cerr **e);
enum chorus_err txn_exists(struct core *c, struct txn *t, const char *path, bool *ret,
                           struct cerr **e);
enum chorus_err txn_count(struct core *c, struct txn *t, const char *path, uint64_t *ret,
                          struct cerr **e);

/* Up to @p max entries of the list @p path (without the last predicate) following the entry
 * @p after (a data path; NULL: from the first), as JSON with their ancestors; *ret_last is the
 * data path of the last one, or NULL when no entry follows (both malloc'd). */
enum chorus_err txn_cursor(struct core *c, struct txn *t, const char *path, const char *after,
                           uint32_t max, char **ret_text, char **ret_last, struct cerr **e);

/* ---- the commit sequence ---- */
/* Stages 2-3 without the commit lock and without committing: YANG validation only. */
enum chorus_err txn_validate(struct core *c, struct txn *t, struct cerr **e);
/* Validate as applications see it: for running and the candidate, with transaction
 * callbacks, hooks or validators registered, stages 1-3 with their events (the commit lock is
 * taken; hooks' writes are undone with the rest); otherwise txn_validate(). */
void txn_check(struct core *c, struct txn *t, txn_done_cb done, void *arg);
/* Stages 1-4; @p done may be called before this returns. */
void txn_prepare(struct core *c, struct txn *t, txn_done_cb done, void *arg);
/* Stages 6-8 of a prepared transaction. */
void txn_commit(struct core *c, struct txn *t, txn_done_cb done, void *arg);
/* The whole sequence. */
void txn_apply(struct core *c, struct txn *t, txn_done_cb done, void *arg);
/* Abort (open, waiting or prepared); the change is discarded. */
void txn_abort(struct core *c, struct txn *t);

/* Commit the candidate to running (running's sequence with the candidate's change set). */
void txn_candidate_commit(struct core *c, struct sess *s, txn_done_cb done, void *arg);
/* Discard the candidate's changes. */
enum chorus_err txn_candidate_discard(struct core *c, struct sess *s, struct cerr **e);

/*
 * Confirmed commit (RFC 6241 section 8.4, confirmed-commit:1.1). Commits the candidate and
 * starts (or, from the same session or with the matching @p persist_id, extends) a
 * confirmed-commit period of @p timeout_s seconds; @p persist (may be NULL) lets any session
 * confirm or cancel with it as persist-id, and keeps the period alive when the session ends.
 * Every commit to running during the period is recorded; if the period ends without a
 * confirming commit (timeout, cancel, the owner's session ends without persist) they are all
 * undone as one transaction flagged as a revert (REC_F_REVERT; CHORUS_EVF_REVERT for
 * subscribers): running returns to its state before the first confirmed commit.
 */
void txn_confirmed_commit(struct core *c, struct sess *s, uint32_t timeout_s, const char *persist,
                          const char *persist_id, txn_done_cb done, void *arg);
/* A commit of the candidate that confirms a pending confirmed commit (same session, or
 * @p persist_id equal to its persist token); a plain candidate commit otherwise. */
void txn_confirming_commit(struct core *c, struct sess *s, const char *persist_id,
                           txn_done_cb done, void *arg);
/* cancel-commit: revert now. */
void txn_cancel_commit(struct core *c, struct sess *s, const char *persist_id, txn_done_cb done,
                       void *arg);
/* A session ends: revert its pending confirmed commit unless it has a persist token. */
void txn_cc_session_end(struct core *c, const struct sess *s);
/* Free the confirmed-commit state (daemon stop: the committed changes stay). */
void txn_cc_free(struct core *c);

/* Undo commits as a new transaction (rollback files 0..index, or only @p index). */
void txn_rollback_apply(struct core *c, struct sess *s, uint32_t index, bool selective,
                        txn_done_cb done, void *arg);

#endif
