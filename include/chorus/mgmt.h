/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mgmt.h
 * @brief Chorus management API: user sessions, transactions, reads and writes by data path,
 * load/save, the commit sequence, locks, start phases, rollback and status.
 *
 * Lifecycle: chorus_connect() → chorus_session_start() → chorus_trans_start() → reads and
 * writes → chorus_apply() (or chorus_validate(), chorus_prepare(), chorus_commit()) →
 * chorus_trans_finish() → chorus_session_end() → chorus_disconnect().
 *
 * Paths are libyang data paths with module prefixes on the first node of each module, e.g.
 * `/routes:active-cfg/routes/route[id='0000001']/leaf1`. A transaction is a change set against
 * its datastore: writing a value equal to the datastore's is no change, and reads inside the
 * transaction see the datastore with the change set applied.
 */
#ifndef CHORUS_MGMT_H
#define CHORUS_MGMT_H

#include "chorus.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Flags of chorus_get(). */
enum chorus_get_flags {
    CHORUS_GET_WD_EXPLICIT =
        0x0,                     /**< omit default values (with-defaults "explicit"), the default */
    CHORUS_GET_WD_ALL = 0x1,     /**< include default values (with-defaults "report-all") */
    CHORUS_GET_WD_ALL_TAG = 0x2, /**< include and tag default values ("report-all-tagged") */
    CHORUS_GET_WD_TRIM = 0x3,    /**< omit values equal to their default ("trim") */
    CHORUS_GET_WD_MASK = 0x3,
    CHORUS_GET_CONFIG_ONLY = 0x4, /**< operational datastore: omit config false nodes */
    CHORUS_GET_PRETTY = 0x8,      /**< indent the output */
};

/** @brief Operations of chorus_edit(). */
enum chorus_edit_op {
    CHORUS_EDIT_MERGE = 1,       /**< merge the data into the datastore */
    CHORUS_EDIT_REPLACE = 2,     /**< replace each top-level subtree present in the data */
    CHORUS_EDIT_REPLACE_ALL = 3, /**< replace the whole configuration with the data */
    CHORUS_EDIT_DIFF = 4,        /**< apply a libyang diff (yang:operation metadata, as in the
                                      events of sub.h): created and replaced nodes are set,
                                      deleted ones deleted (they must exist), "none" descends */
};

/** @brief Start phases. */
enum chorus_phase {
    CHORUS_PHASE0 = 0, /**< database loaded, init transaction open, northbound closed */
    CHORUS_PHASE1 = 1, /**< init transaction committed; subscribers and callbacks register */
    CHORUS_PHASE2 = 2, /**< northbound interfaces (NETCONF) open */
};

/**
 * @brief Start the user session of a connection; every transaction belongs to one.
 *
 * @param[in] conn Connection.
 * @param[in] user User name, shown in logs, locks and to subscribers.
 * @param[in] context Context such as "system", "cli", "netconf".
 * @param[in] groups Group names, may be NULL if @p ngroups is 0.
 * @param[in] ngroups Number of groups.
 * @param[in] src_addr Source address of the user, or NULL.
 * @param[out] ret_usid Session id, may be NULL.
 * @return CHORUS_OK, CHORUS_ERR_EXISTS if the connection already has a session,
 * CHORUS_ERR_TOOBIG if the daemon's session limit is reached, or a transport error.
 */
enum chorus_err chorus_session_start(struct chorus_conn *conn, const char *user,
                                     const char *context, const char *const *groups, size_t ngroups,
                                     const char *src_addr, uint32_t *ret_usid);

/**
 * @brief End the user session: abort its transactions, release its locks.
 */
enum chorus_err chorus_session_end(struct chorus_conn *conn);

/**
 * @brief Start a transaction on a datastore.
 *
 * @param[in] conn Connection with a user session.
 * @param[in] db Datastore.
 * @param[in] readwrite 0 for read-only, 1 for read-write.
 * @param[out] ret_th Transaction handle.
 * @return CHORUS_OK, CHORUS_ERR_STATE (e.g. writes in start phase 0, or running not writable
 * in writable-through-candidate mode), CHORUS_ERR_UNSUPPORTED (datastore not enabled).
 */
enum chorus_err chorus_trans_start(struct chorus_conn *conn, enum chorus_db db, int readwrite,
                                   uint32_t *ret_th);

/**
 * @brief Attach to the init transaction (start phase 0 only).
 *
 * Writes go into the transaction that `chorusd` commits on entering phase 1.
 */
enum chorus_err chorus_trans_attach_init(struct chorus_conn *conn, uint32_t *ret_th);

/**
 * @brief Finish a transaction: abort it if it was not committed, release it.
 */
enum chorus_err chorus_trans_finish(struct chorus_conn *conn, uint32_t th);

/**
 * @brief Read a subtree (or the whole datastore for path NULL or "/") as text.
 *
 * @param[in] conn Connection.
 * @param[in] th Transaction.
 * @param[in] path Data path or NULL.
 * @param[in] format CHORUS_FMT_XML or CHORUS_FMT_JSON.
 * @param[in] flags ::chorus_get_flags.
 * @param[out] ret_data NUL-terminated text, owned by the caller (free()); "" if no data.
 * @return CHORUS_OK, CHORUS_ERR_BADPATH, CHORUS_ERR_NOTFOUND if the node does not exist.
 */
enum chorus_err chorus_get(struct chorus_conn *conn, uint32_t th, const char *path,
                           enum chorus_format format, uint32_t flags, char **ret_data);

/**
 * @brief chorus_get() with the length of the data, and CHORUS_FMT_LYB as a third format
 * (libyang binary: both ends need the same module set; not for the operational datastore).
 * Copying a large subtree from one daemon to another (chorus_edit() with the same format)
 * is several times faster in LYB than in JSON.
 * @param[out] ret_data The data, owned by the caller (free()); NUL-terminated as well.
 * @param[out] ret_len Its length in bytes.
 */
enum chorus_err chorus_get_data(struct chorus_conn *conn, uint32_t th, const char *path,
                                enum chorus_format format, uint32_t flags, char **ret_data,
                                size_t *ret_len);

/**
 * @brief Read the canonical value of a leaf (or a leaf-list entry's path).
 * @param[out] ret_value Value, owned by the caller (free()).
 * @return CHORUS_OK, CHORUS_ERR_NOTFOUND, CHORUS_ERR_BADPATH, CHORUS_ERR_INVAL if not a leaf.
 */
enum chorus_err chorus_get_value(struct chorus_conn *conn, uint32_t th, const char *path,
                                 char **ret_value);

/** @brief Whether a data node exists. */
enum chorus_err chorus_exists(struct chorus_conn *conn, uint32_t th, const char *path,
                              int *ret_exists);

/**
 * @brief Number of instances of a list or leaf-list given by a path without the last
 * predicate (e.g. `/routes:active-cfg/routes/route`).
 */
enum chorus_err chorus_num_instances(struct chorus_conn *conn, uint32_t th, const char *path,
                                     uint64_t *ret_count);

struct lyd_node; /* libyang's data node */

/** @brief A cursor over the entries of a list (chorus_cursor_start()). */
struct chorus_cursor;

/**
 * @brief Iterate over the entries of a list in chunks, without reading it whole.
 *
 * Each chunk is one request for up to @p chunk entries following the last one returned, so a
 * list of a million entries is read in bounded memory on both sides. Entries added or removed
 * between chunks are seen or not as they come; if the last entry returned is deleted the next
 * chunk fails with CHORUS_ERR_NOTFOUND. Loads the schemas (sub.h) if needed.
 *
 * @param[in] conn Connection; the cursor uses it for its requests.
 * @param[in] th Transaction.
 * @param[in] path The list without the last predicate, e.g. `/routes:active-cfg/routes/route`.
 * @param[in] chunk Entries per request (1 to the daemon's ipc/max-cursor-chunk).
 * @param[out] ret_cursor New cursor; free with chorus_cursor_free().
 */
enum chorus_err chorus_cursor_start(struct chorus_conn *conn, uint32_t th, const char *path,
                                    uint32_t chunk, struct chorus_cursor **ret_cursor);

/**
 * @brief The next entry: *ret_entry is the list entry (its ancestors above it) in the
 * connection's libyang context, valid until the next call; NULL after the last one.
 */
enum chorus_err chorus_cursor_next(struct chorus_cursor *cursor,
                                   const struct lyd_node **ret_entry);

/** @brief Free a cursor. NULL is accepted. */
void chorus_cursor_free(struct chorus_cursor *cursor);

/**
 * @brief Set a leaf's value, creating missing ancestors (as NETCONF merge).
 *
 * For a leaf-list entry, a list entry or a presence container, @p value is NULL and the
 * path names the node (`.../leaf-list[.='x']`, `.../list[key='k']`).
 * @return CHORUS_OK, CHORUS_ERR_BADPATH, CHORUS_ERR_BADVALUE.
 */
enum chorus_err chorus_set(struct chorus_conn *conn, uint32_t th, const char *path,
                           const char *value);

/** @brief Create a list entry, leaf-list entry or presence container; it must not exist. */
enum chorus_err chorus_create(struct chorus_conn *conn, uint32_t th, const char *path);

/** @brief Delete a data node and its subtree; it must exist (CHORUS_ERR_NOTFOUND). */
enum chorus_err chorus_delete(struct chorus_conn *conn, uint32_t th, const char *path);

/**
 * @brief Write a data tree into the transaction.
 *
 * @param[in] conn Connection.
 * @param[in] th Read-write transaction.
 * @param[in] op Merge, replace the top-level subtrees present, or replace everything.
 * @param[in] format Encoding of @p data.
 * @param[in] data The data (need not be NUL-terminated).
 * @param[in] len Length of @p data.
 * @return CHORUS_OK, CHORUS_ERR_BADVALUE/BADPATH with the path of the offending node.
 */
enum chorus_err chorus_edit(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
                            enum chorus_format format, const char *data, size_t len);

/**
 * @brief Write a libyang data tree (top-level siblings) into the transaction: chorus_edit()
 * with the tree printed as JSON. With CHORUS_EDIT_DIFF the tree is a libyang diff, such as the
 * one a subscriber receives (sub.h), so a change seen on one daemon can be written to
 * another in one call.
 */
enum chorus_err chorus_edit_tree(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
                                 const struct lyd_node *tree);

/**
 * @brief Read a configuration file (XML, or JSON if its name ends in ".json") into the
 * transaction with @p op (merge, replace, replace-all).
 * @return CHORUS_OK, CHORUS_ERR_IO naming the file, or chorus_edit()'s errors.
 */
enum chorus_err chorus_load_config(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
                                   const char *filename);

/**
 * @brief Write the transaction's view of @p path (NULL: everything) to a file (XML, or JSON if
 * its name ends in ".json"), with chorus_get()'s @p flags; the file is replaced atomically.
 */
enum chorus_err chorus_save_config(struct chorus_conn *conn, uint32_t th, const char *path,
                                   uint32_t flags, const char *filename);

/**
 * @brief Run transaction hooks and validation of the transaction without committing it.
 *
 * On running and the candidate, with transaction callbacks, hooks or validators registered
 * (sub.h), this takes the commit lock (waiting up to commit/lock-timeout), runs what a commit
 * would up to the validation callbacks, and undoes it all; otherwise it validates the YANG
 * constraints only, without the lock. Startup: YANG constraints only.
 * @return CHORUS_OK or CHORUS_ERR_VALIDATION with the path and reason, or an application's
 * error.
 */
enum chorus_err chorus_validate(struct chorus_conn *conn, uint32_t th);

/**
 * @brief Commit sequence up to the point of no return: take the commit lock, run hooks,
 * validate, write the journal record and collect participants' votes.
 *
 * The commit lock stays held until chorus_commit() or chorus_abort().
 */
enum chorus_err chorus_prepare(struct chorus_conn *conn, uint32_t th);

/**
 * @brief Commit a prepared transaction; returns after the commit is durable.
 * @param[out] ret_txid New transaction id of the datastore, may be NULL; unchanged (the
 * current id) if the transaction changed nothing.
 */
enum chorus_err chorus_commit(struct chorus_conn *conn, uint32_t th, uint64_t *ret_txid);

/** @brief Abort a transaction (prepared or not); its changes are discarded. */
enum chorus_err chorus_abort(struct chorus_conn *conn, uint32_t th);

/**
 * @brief Prepare and commit in one call.
 * @param[out] ret_txid As for chorus_commit().
 */
enum chorus_err chorus_apply(struct chorus_conn *conn, uint32_t th, uint64_t *ret_txid);

/**
 * @brief Lock a datastore for the session (RFC 6241 §7.5 semantics).
 * @return CHORUS_OK or CHORUS_ERR_LOCKED naming the holder in the error message.
 */
enum chorus_err chorus_lock(struct chorus_conn *conn, enum chorus_db db);

/**
 * @brief Who holds the lock of a datastore.
 * @param[out] ret_usid Session id of the holder, 0 when the datastore is not locked.
 * @param[out] ret_user Its user (free()), NULL when not locked; may be NULL.
 * @param[out] ret_context Its context (free()), NULL when not locked; may be NULL.
 * @param[out] ret_since When it took the lock (seconds since the epoch); may be NULL.
 */
enum chorus_err chorus_lock_holder(struct chorus_conn *conn, enum chorus_db db, uint32_t *ret_usid,
                                   char **ret_user, char **ret_context, int64_t *ret_since);

/** @brief Release a datastore lock held by the session. */
enum chorus_err chorus_unlock(struct chorus_conn *conn, enum chorus_db db);

/**
 * @brief Commit the candidate datastore to running.
 * @param[out] ret_txid As for chorus_commit().
 */
enum chorus_err chorus_candidate_commit(struct chorus_conn *conn, uint64_t *ret_txid);

/**
 * @brief Confirmed commit of the candidate (RFC 6241 section 8.4, confirmed-commit:1.1).
 *
 * Commits the candidate and starts a confirmed-commit period: unless a confirming commit
 * (chorus_confirm_commit(), or chorus_candidate_commit() from the same session) comes within
 * @p timeout_s seconds, every commit made to running since the period began is undone, as one
 * transaction that subscribers see flagged CHORUS_EVF_REVERT. The period also ends with a
 * revert on chorus_cancel_commit() and, without @p persist, when this session ends. Another
 * confirmed commit during the period (same session, or @p persist_id) commits the candidate
 * again and restarts the timer with the new timeout.
 *
 * @param[in] timeout_s Confirm timeout in seconds (NETCONF's default is 600).
 * @param[in] persist Persist token, or NULL: with one, any session may confirm or cancel by
 * giving it as persist-id, and the period survives the end of this session.
 * @param[in] persist_id The token of the pending period when extending it, or NULL.
 * @param[out] ret_txid As for chorus_commit().
 * @return CHORUS_OK; CHORUS_ERR_INVAL (bad persist-id), CHORUS_ERR_INUSE (another session's
 * period is pending), or the commit's errors.
 */
enum chorus_err chorus_confirmed_commit(struct chorus_conn *conn, uint32_t timeout_s,
                                        const char *persist, const char *persist_id,
                                        uint64_t *ret_txid);

/**
 * @brief The confirming commit: commit the candidate and end the pending confirmed-commit
 * period, keeping its changes. @p persist_id is the period's persist token (NULL when it has
 * none; then only the session that started it can confirm).
 */
enum chorus_err chorus_confirm_commit(struct chorus_conn *conn, const char *persist_id,
                                      uint64_t *ret_txid);

/**
 * @brief cancel-commit: end the pending confirmed-commit period by reverting its changes now.
 *
 * Returns once the revert is queued for the commit lock: without subscribers it has committed
 * by then; with them it commits after their acknowledgements. A new confirmed commit may start
 * at once (it commits after the revert).
 * @param[in] persist_id The period's persist token, or NULL (same session only).
 */
enum chorus_err chorus_cancel_commit(struct chorus_conn *conn, const char *persist_id);

/** @brief Discard the candidate's changes (it becomes equal to running again). */
enum chorus_err chorus_candidate_discard(struct chorus_conn *conn);

/** @brief Current start phase. */
enum chorus_err chorus_phase_get(struct chorus_conn *conn, enum chorus_phase *ret_phase);

/**
 * @brief Move the daemon to a start phase (only forward, one phase at a time).
 *
 * Entering phase 1 commits the init transaction; its validation errors are returned.
 */
enum chorus_err chorus_start_phase(struct chorus_conn *conn, enum chorus_phase phase);

/**
 * @brief Wait until the daemon has reached @p phase (or later).
 */
enum chorus_err chorus_wait_start(struct chorus_conn *conn, enum chorus_phase phase);

/** @brief Transaction id of running: increases with every commit that changes running. */
enum chorus_err chorus_txid(struct chorus_conn *conn, uint64_t *ret_txid);

/** @brief One rollback file. */
struct chorus_rollback {
    uint32_t index; /**< 0 is the most recent commit */
    uint64_t txid;  /**< transaction id the commit produced */
    int64_t time;   /**< commit time, seconds since the epoch */
    char *user;     /**< user who committed */
    char *context;  /**< context of the committing session */
    char *label;    /**< optional label, may be NULL */
};

/**
 * @brief List rollback files, most recent first.
 * @param[out] ret_list Array owned by the caller; free with chorus_rollback_list_free().
 * @param[out] ret_count Number of entries.
 */
enum chorus_err chorus_rollback_list(struct chorus_conn *conn, struct chorus_rollback **ret_list,
                                     size_t *ret_count);

/** @brief Free a list from chorus_rollback_list(). NULL is accepted. */
void chorus_rollback_list_free(struct chorus_rollback *list, size_t count);

/** @brief Flags of chorus_rollback_apply(). */
enum chorus_rollback_flags {
    CHORUS_ROLLBACK_SELECTIVE = 0x1, /**< undo only commit @p index, not 0..index */
};

/**
 * @brief Undo commits as a new transaction: by default the @p index + 1 most recent commits
 * (rollback files 0..index); with CHORUS_ROLLBACK_SELECTIVE only commit @p index.
 * @param[out] ret_txid New transaction id, may be NULL.
 */
enum chorus_err chorus_rollback_apply(struct chorus_conn *conn, uint32_t index, uint32_t flags,
                                      uint64_t *ret_txid);

/**
 * @brief Daemon status as JSON text: phase, transaction id, datastore sizes, sessions,
 * locks, journal. See docs/protocol.md for the members.
 * @param[out] ret_json Text owned by the caller (free()).
 */
enum chorus_err chorus_status(struct chorus_conn *conn, char **ret_json);

/**
 * @brief Invoke an RPC or action; the application registered for it (sub.h,
 * CHORUS_SUB_RPC) answers.
 *
 * @param[in] conn Connection with a user session (the handler sees its user and context).
 * @param[in] format CHORUS_FMT_XML or CHORUS_FMT_JSON, of @p data and of the output.
 * @param[in] data The operation with its input, e.g. `<ping xmlns="urn:...">...</ping>`; an
 * action inside its parents.
 * @param[out] ret_output The operation with its output children as text ("" for no output),
 * owned by the caller (free()).
 * @return CHORUS_OK; CHORUS_ERR_BADVALUE (does not parse), CHORUS_ERR_VALIDATION (the input
 * is not valid), CHORUS_ERR_UNSUPPORTED (no handler), or the handler's error.
 */
enum chorus_err chorus_rpc(struct chorus_conn *conn, enum chorus_format format, const char *data,
                           char **ret_output);

/** @brief Stop the daemon gracefully (open transactions are aborted). */
enum chorus_err chorus_stop(struct chorus_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_MGMT_H */
