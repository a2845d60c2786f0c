/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file sub.h
 * @brief Chorus subscriber and data-provider APIs: subscriptions to configuration changes
 * (one- or two-phase, with priorities), transaction hooks, validation callbacks,
 * operational-data callbacks and RPC/action handlers.
 *
 * All of them are registrations on a connection, and `chorusd` delivers their events on that
 * connection's socket. The application owns the socket: it polls chorus_fd() (or just calls
 * chorus_dispatch() in a thread of its own) and each chorus_dispatch() reads one event, calls
 * the callback registered for it, and sends the callback's answer. The daemon waits for the
 * answer (up to commit/subscriber-timeout), so a callback should be quick; it may use the
 * management API (mgmt.h) on the same connection, e.g. to read the transaction being committed
 * through the event's transaction handle.
 *
 * Lifecycle: chorus_connect() → chorus_load_schemas() (once; the context is kept by the
 * connection) → chorus_subscribe() / chorus_register_*() → loop { poll(chorus_fd()) →
 * chorus_dispatch() } → chorus_disconnect() (the daemon drops the registrations).
 *
 * The commit sequence and what each event may do (txn.h in the daemon holds the contract):
 *
 *  - CHORUS_EV_HOOK (transaction hooks, in priority order, one at a time): the change is
 *    applied but not validated; the hook reads the transaction through ev->th and writes into it
 *    with chorus_set()/chorus_create()/chorus_delete()/chorus_edit() on ev->th. Its writes are
 *    seen by later hooks, by validation and by subscribers. Returning an error aborts the
 *    commit.
 *  - CHORUS_EV_VALIDATE (validation callbacks, all at once): after YANG validation; read
 *    through ev->th; an error vetoes the commit (chorus_event_error() gives path and message).
 *  - CHORUS_EV_PREPARE (two-phase subscribers, lowest priority first, equal priorities in
 *    parallel): an error aborts the transaction; its message reaches the client that committed.
 *  - CHORUS_EV_ABORT: the subscribers that saw PREPARE of an aborted transaction, in the
 *    reverse order.
 *  - CHORUS_EV_COMMIT (every subscriber whose subtree changed, in priority order): the change
 *    is durable; the committing client gets its answer once all have acknowledged.
 *  - CHORUS_EV_OPER: a read of the operational datastore reaches a registered `config false`
 *    subtree; answer with chorus_event_reply_data().
 *  - CHORUS_EV_RPC: an RPC or action was invoked (chorus_rpc(), NETCONF); answer with the
 *    output through chorus_event_reply_data(), or an error.
 *  - CHORUS_EV_TRANS_LOCK (transaction callbacks, all at once): a transaction took the commit
 *    lock, before its hooks; an error aborts it (e.g. an external resource is busy).
 *  - CHORUS_EV_TRANS_INIT, CHORUS_EV_TRANS_FINISH, CHORUS_EV_LOCK, CHORUS_EV_UNLOCK:
 *    notifications; they are answered like the others, but nothing waits for the answer.
 *
 * A subscriber that does not answer within commit/subscriber-timeout, or whose connection
 * closes while an event waits, aborts a transaction in HOOK/VALIDATE/PREPARE; after the point
 * of no return it is logged and (on timeout) disconnected.
 */
#ifndef CHORUS_SUB_H
#define CHORUS_SUB_H

#include <libyang/libyang.h>

#include "chorus.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Kinds of registration. Stable numbers: they travel on the wire. */
enum chorus_sub_kind {
    CHORUS_SUB_CONFIG = 1,   /**< configuration changes of a subtree (subscriber API) */
    CHORUS_SUB_HOOK = 2,     /**< transaction hook on a subtree */
    CHORUS_SUB_VALIDATE = 3, /**< validation callback on a subtree */
    CHORUS_SUB_OPER = 4,     /**< operational-data callback for a config false subtree */
    CHORUS_SUB_RPC = 5,      /**< handler of an RPC or action */
    CHORUS_SUB_TRANS = 6,    /**< transaction callbacks: init, trans_lock, finish (no path) */
    CHORUS_SUB_DBLOCK = 7,   /**< datastore lock callbacks: lock, unlock (no path) */
};

/** @brief Flags of chorus_subscribe(). */
enum chorus_sub_flags {
    CHORUS_SUB_TWO_PHASE = 0x1, /**< also receive PREPARE (and ABORT), and may abort */
    CHORUS_SUB_NOT_OWN_USER = 0x2, /**< CONFIG, HOOK, VALIDATE: no events for transactions of
                                        sessions whose user is the user of this connection's
                                        own session (an application's own writes through
                                        other connections, e.g. a replicator's) */
};

/** @brief Event types. Stable numbers. */
enum chorus_event_type {
    CHORUS_EV_PREPARE = 100,
    CHORUS_EV_COMMIT = 101,
    CHORUS_EV_ABORT = 102,
    CHORUS_EV_HOOK = 103,
    CHORUS_EV_VALIDATE = 104,
    CHORUS_EV_OPER = 105,
    CHORUS_EV_RPC = 106,
    CHORUS_EV_TRANS_INIT = 107,   /**< a read-write transaction started (notification) */
    CHORUS_EV_TRANS_LOCK = 108,   /**< a transaction took the commit lock; an error aborts it */
    CHORUS_EV_TRANS_FINISH = 109, /**< a read-write transaction ended (notification) */
    CHORUS_EV_LOCK = 110,         /**< a datastore was locked (notification) */
    CHORUS_EV_UNLOCK = 111,       /**< a datastore was unlocked (notification) */
};

/** @brief Flags of an event. */
enum chorus_event_flags {
    CHORUS_EVF_REVERT = 0x1,    /**< the revert of a confirmed commit (timeout, cancel) */
    CHORUS_EVF_ROLLBACK = 0x2,  /**< a rollback file applied */
    CHORUS_EVF_INIT = 0x4,      /**< the init transaction, committed when start phase 1 begins:
                                     applications registered in phase 0 receive its events */
    CHORUS_EVF_COMMITTED = 0x8, /**< TRANS_FINISH: the transaction committed (else aborted) */
    CHORUS_EVF_UPGRADE = 0x10,  /**< with CHORUS_EVF_INIT: the init transaction carries a schema
                                    upgrade (the database was written with another module set;
                                    its data was converted). Every hook and validation callback
                                    receives HOOK and VALIDATE, even if its subtree did not
                                    change, so that it can migrate its data (e.g. fill a new
                                    mandatory leaf from an old one); the whole result is then
                                    validated. */
};

/**
 * @brief One event, valid during its callback.
 */
struct chorus_event {
    enum chorus_event_type type;
    uint32_t id;          /**< event id (the answer refers to it) */
    uint32_t subid;       /**< the registration it is for */
    uint32_t th;          /**< HOOK, VALIDATE: handle of the transaction being committed, for
                               mgmt.h calls on this connection during the callback */
    uint64_t txid;        /**< COMMIT: the new transaction id; PREPARE, ABORT, HOOK, VALIDATE:
                               the id the commit would produce */
    uint32_t usid;        /**< session that committed, reads (OPER) or invokes (RPC) */
    const char *user;     /**< its user */
    const char *context;  /**< its context ("netconf", "cli", "system", ...) */
    uint32_t flags;       /**< ::chorus_event_flags */
    uint32_t db;          /**< TRANS_*, LOCK, UNLOCK: the datastore (enum chorus_db) */
    /** PREPARE, COMMIT, ABORT, HOOK, VALIDATE: the change within the registered subtree, as a
     * libyang diff (yang:operation create/delete/replace/none metadata, yang:orig-value on
     * replaced leaves); NULL for none. */
    const struct lyd_node *diff;
    const char *path;              /**< OPER: the registered path; RPC: the operation's path */
    const struct lyd_node *input;  /**< RPC: the operation with its input */
};

/**
 * @brief Callback of a registration. Return CHORUS_OK to acknowledge (or, for OPER and RPC,
 * after chorus_event_reply_data()); return an error to abort (HOOK, VALIDATE, PREPARE) or to
 * fail the read or RPC, after chorus_event_error() for a message and path. For COMMIT and
 * ABORT an error is only logged by the daemon.
 */
typedef enum chorus_err (*chorus_event_cb)(struct chorus_conn *conn,
                                           const struct chorus_event *ev, void *arg);

/**
 * @brief Build (once per connection) a libyang context holding the daemon's modules, fetched
 * from the daemon; events' trees live in it.
 *
 * @param[out] ret_ctx The context, owned by the connection (freed by chorus_disconnect()), may
 * be NULL.
 */
enum chorus_err chorus_load_schemas(struct chorus_conn *conn, const struct ly_ctx **ret_ctx);

/**
 * @brief The connection's libyang context (NULL before chorus_load_schemas()).
 */
const struct ly_ctx *chorus_ctx(const struct chorus_conn *conn);

/**
 * @brief The operation of a node of an event's diff: its own `yang:operation` annotation or the
 * one it inherits from its ancestors (a list entry created with its parent carries none of its
 * own).
 * @return "create", "delete", "replace" or "none"; "none" for NULL.
 */
const char *chorus_diff_op(const struct lyd_node *node);

/**
 * @brief Register for events.
 *
 * Loads the schemas (chorus_load_schemas()) if not done yet.
 *
 * @param[in] conn Connection.
 * @param[in] kind What is registered.
 * @param[in] path Schema-level data path of the subtree (`/routes:active-cfg`, or
 * `/routes:active-cfg/routes/route` for every entry); for RPC the operation's path
 * (`/mod:rpc` or `/mod:cont/action`); NULL or "/" for everything (CONFIG, HOOK, VALIDATE).
 * @param[in] priority CONFIG, HOOK: lower first; equal priorities of CONFIG run in parallel.
 * @param[in] flags ::chorus_sub_flags (CONFIG only).
 * @param[in] cb Callback.
 * @param[in] arg Its argument.
 * @param[out] ret_subid Registration id, may be NULL.
 * @return CHORUS_OK, CHORUS_ERR_BADPATH (unknown node, or a config false node for CONFIG/HOOK/
 * VALIDATE, config true for OPER, not an operation for RPC), CHORUS_ERR_EXISTS (a second
 * handler for an RPC), CHORUS_ERR_TOOBIG (ipc/max-subscriptions reached).
 */
enum chorus_err chorus_subscribe(struct chorus_conn *conn, enum chorus_sub_kind kind,
                                 const char *path, int32_t priority, uint32_t flags,
                                 chorus_event_cb cb, void *arg, uint32_t *ret_subid);

/** @brief Remove a registration of this connection. */
enum chorus_err chorus_unsubscribe(struct chorus_conn *conn, uint32_t subid);

/**
 * @brief Read one event (waiting up to @p timeout_ms, -1 forever), call its callback and send
 * the answer.
 * @return CHORUS_OK when an event was handled, CHORUS_ERR_TIMEOUT when none came,
 * CHORUS_ERR_CLOSED when the daemon closed the connection, or a transport error.
 */
enum chorus_err chorus_dispatch(struct chorus_conn *conn, int timeout_ms);

/**
 * @brief Whether events have been read from the socket and wait in the connection (poll() on
 * chorus_fd() does not see them): call chorus_dispatch() until this is 0.
 */
int chorus_events_pending(const struct chorus_conn *conn);

/**
 * @brief From a callback: the error to send with the answer. The message reaches the client
 * that committed (NETCONF `<rpc-error>`, chorusctl).
 * @return @p code, so that a callback can `return chorus_event_error(...)`.
 */
enum chorus_err chorus_event_error(struct chorus_conn *conn, const struct chorus_event *ev,
                                   enum chorus_err code, const char *path, const char *app_tag,
                                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/**
 * @brief From an OPER or RPC callback: the data to answer with.
 *
 * OPER: data trees (top-level siblings) holding nodes of the registered subtree, in the
 * connection's context. RPC: the operation node with its output children (lyd_new_path() with
 * LYD_NEW_PATH_OUTPUT), or NULL for no output.
 */
enum chorus_err chorus_event_reply_data(struct chorus_conn *conn, const struct chorus_event *ev,
                                        const struct lyd_node *data);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_SUB_H */
