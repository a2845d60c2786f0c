/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User sessions and datastore locks. Every transaction belongs to a session; a session knows
 * who (user, groups), through what (context: "system", "cli", "netconf") and from where
 * (source address). Logs, locks and — later — subscribers see this. Ending a session aborts
 * its transactions and releases its locks (a client that disconnects mid-transaction leaves
 * nothing behind).
 */
#ifndef CHORUS_SESS_H
#define CHORUS_SESS_H

#include <stdint.h>
#include <time.h>

#include "core.h"

struct sess {
    uint32_t id;
    char *user;
    char *context;
    char *addr;
    char **groups;
    size_t ngroups;
    time_t since;
    bool northbound;     /* a session of a northbound interface (NETCONF), not of the API */
    time_t lock_time[5]; /* when it took the lock of each datastore */
    struct txn *txns; /* its transactions (txn->snext) */
    struct sess *next;
};

/* Start a session. Errors: CHORUS_ERR_INVAL (empty user or context), CHORUS_ERR_NOMEM. */
enum chorus_err sess_new(struct core *c, const char *user, const char *context,
                         const char *const *groups, size_t ngroups, const char *addr,
                         struct sess **ret_sess, struct cerr **e);

/* End a session: abort and free its transactions, release its locks. NULL-safe. */
void sess_end(struct core *c, struct sess *s);

/* The log tag of a session (and transaction id). */
struct log_tag sess_tag(const struct sess *s, uint64_t txid);

/* Datastore locks (RFC 6241 §7.5). Errors: CHORUS_ERR_LOCKED naming the holder,
 * CHORUS_ERR_UNSUPPORTED (datastore not enabled), CHORUS_ERR_INVAL (unlock without lock). */
enum chorus_err sess_lock(struct core *c, struct sess *s, enum chorus_db db, struct cerr **e);
enum chorus_err sess_unlock(struct core *c, struct sess *s, enum chorus_db db, struct cerr **e);

/* Whether @p s may change @p db: CHORUS_OK, or CHORUS_ERR_LOCKED naming the holder. */
enum chorus_err sess_may_write(struct core *c, const struct sess *s, enum chorus_db db,
                               struct cerr **e);

const char *db_name(enum chorus_db db);

#endif
