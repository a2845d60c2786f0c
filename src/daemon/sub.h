/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registrations of applications (subscriptions, hooks, validators, data providers, RPC
 * handlers) and the events that the commit sequence, operational reads and RPCs send them.
 *
 * A registration belongs to one IPC connection (its "owner", opaque here; ipc.c sends the
 * frames). An event is sent to one registration and waits for the owner's answer
 * (OP_EV_REPLY). Events are grouped in ROUNDS: a round sends its events at once and completes
 * when every one is answered, or when commit/subscriber-timeout expires, or when their owners
 * go away. The commit sequence (txn.c) runs STAGES made of rounds:
 *
 *   SS_LOCK      transaction callbacks (TRANS_LOCK), all in one round, when the transaction
 *                has taken the commit lock; any error fails it.
 *   SS_HOOK      hooks whose subtree the change touches, one round per hook, in priority
 *                order (then registration order). During its round a hook may write into the
 *                transaction (sub_event_txn() hands it out); after the round its writes are
 *                applied to running through the transaction's log before the next hook runs.
 *                An error ends the stage with that error.
 *   SS_VALIDATE  validators whose subtree changed, all in one round; any error fails it.
 *   SS_PREPARE   two-phase subscribers whose subtree changed, one round per priority (equal
 *                priorities in parallel). If any fails, the subscribers that received PREPARE
 *                get ABORT in reverse order (round by round) and the stage ends with the
 *                first error.
 *   SS_COMMIT    every subscriber whose subtree changed, one round per priority; errors and
 *                timeouts are logged (a subscriber that timed out is disconnected).
 * A stage with nothing to send returns false at once and never calls back. The change each
 * event carries is a libyang diff (yang:operation metadata) built from the transaction's log
 * (sub_txn_diff()) and cut to the registration's subtree.
 *
 * Invariants: a transaction has at most one stage running (t->st->stage); a pending event
 * refers to its registration by id (a registration that goes away fails or acknowledges its
 * events, never leaves them dangling); the transaction outlives its stage or cancels it
 * (sub_txn_cancel()).
 */
#ifndef CHORUS_SUB_H_DAEMON
#define CHORUS_SUB_H_DAEMON

#include <stdbool.h>
#include <stdint.h>

#include "chorus/sub.h"
#include "common/buf.h"
#include "core.h"

struct txn;
struct subs;

/* Transaction handles given to hooks and validators: the event id with this bit set. */
#define SUB_TH_EVENT 0x80000000u

enum sub_stage { SS_NONE = 0, SS_LOCK, SS_HOOK, SS_VALIDATE, SS_PREPARE, SS_COMMIT, SS_ABORT };

/* Completion of a stage. @p e is owned by the callee (freed after the callback returns). */
typedef void (*sub_stage_cb)(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);

/* Completion of an OPER or RPC event: @p data is the answer's text (JSON), or NULL. */
typedef void (*sub_data_cb)(void *arg, enum chorus_err rc, struct cerr *e, const char *data,
                            size_t len);

/* What ipc.c provides. */
struct sub_transport {
    /* Queue an event frame (body prepared in @p body) to @p owner. */
    void (*send)(void *owner, uint16_t ev, uint32_t evid, const struct buf *body);
    /* "name (peer)" of the owner, for messages. */
    const char *(*name)(const void *owner);
    /* Disconnect an owner that did not answer in time. */
    void (*kick)(void *owner);
    /* The user of the owner's session, or NULL (CHORUS_SUB_NOT_OWN_USER). */
    const char *(*user)(const void *owner);
};

struct subs *subs_new(struct core *c, const struct sub_transport *tr);
void subs_free(struct subs *s);

/* Register. Errors: CHORUS_ERR_BADPATH, CHORUS_ERR_EXISTS, CHORUS_ERR_TOOBIG, CHORUS_ERR_INVAL. */
enum chorus_err sub_add(struct core *c, void *owner, enum chorus_sub_kind kind, const char *path,
                        int32_t prio, uint32_t flags, uint32_t *ret_id, struct cerr **e);
enum chorus_err sub_del(struct core *c, void *owner, uint32_t id, struct cerr **e);
/* The owner's connection closed: drop its registrations; its pending events fail (before the
 * point of no return) or count as acknowledged. */
void sub_owner_gone(struct core *c, void *owner);
/* The owner's answer to event @p evid (@p e consumed; @p data may be NULL). */
enum chorus_err sub_reply(struct core *c, void *owner, uint32_t evid, enum chorus_err rc,
                          struct cerr *e, const char *data, size_t len, struct cerr **err);
/* The transaction that event handle @p th (SUB_TH_EVENT | evid) lets @p owner use, or NULL. */
struct txn *sub_event_txn(struct core *c, const void *owner, uint32_t th);

/* Number of registrations; of those of @p kind. */
unsigned sub_count(const struct core *c, int kind);

/* ---- the commit sequence ---- */

/* Run a stage for @p t; false if there was nothing to send (@p cb not called). */
bool sub_stage(struct core *c, struct txn *t, enum sub_stage stage, sub_stage_cb cb);
/* Send ABORT (without waiting) to the subscribers that saw PREPARE of @p t, stop a running
 * stage, free the per-transaction state. Safe to call on any transaction. */
void sub_txn_cancel(struct core *c, struct txn *t);
/* Free the per-transaction state (after the commit). */
void sub_txn_done(struct core *c, struct txn *t);
/* The diff of @p t (NULL when not built or empty): a libyang diff tree, owned by @p t. */
const struct lyd_node *sub_txn_get_diff(const struct txn *t);
/* Whether the diff of @p t has been built. */
bool sub_txn_has_diff(const struct txn *t);
/* Build (again) the diff of @p t from its log; call while the log is applied. */
enum chorus_err sub_txn_diff(struct core *c, struct txn *t, struct cerr **e);

/* Notify the registrations of @p kind (CHORUS_SUB_TRANS or CHORUS_SUB_DBLOCK) of @p ev; answers
 * are collected but nobody waits for them. */
void sub_notify(struct core *c, int kind, uint16_t ev, const struct sess *s, uint32_t th,
                uint32_t db, uint32_t flags);

/* ---- operational data and RPCs ---- */

/* Registered operational-data providers whose subtree intersects @p path (NULL: all): send
 * each an OPER event and merge the answers into *@p tree. @p done is called once (possibly
 * before this returns) with the merged data. Returns false if there is no provider. */
bool sub_oper_get(struct core *c, const struct sess *s, const char *path,
                  void (*done)(void *arg, enum chorus_err rc, struct cerr *e,
                               struct lyd_node *data),
                  void *arg);
/* Invoke the handler of the operation in @p op (a parsed RPC/action tree, top node). */
enum chorus_err sub_rpc(struct core *c, const struct sess *s, const struct lyd_node *op,
                        sub_data_cb done, void *arg, struct cerr **e);

#endif
