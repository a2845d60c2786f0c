/* SPDX-License-Identifier: Apache-2.0 */
/* User sessions and datastore locks; see sess.h. */
#include "sess.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/proto.h"
#include "sub.h"
#include "txn.h"

const char *
db_name(enum chorus_db db)
{
    switch (db) {
    case CHORUS_DB_RUNNING:
        return "running";
    case CHORUS_DB_CANDIDATE:
        return "candidate";
    case CHORUS_DB_STARTUP:
        return "startup";
    case CHORUS_DB_OPERATIONAL:
        return "operational";
    }
    return "unknown";
}

enum chorus_err
sess_new(struct core *c, const char *user, const char *context, const char *const *groups,
         size_t ngroups, const char *addr, struct sess **ret_sess, struct cerr **e)
{
    struct sess *s;

    if (!user || !*user || !context || !*context) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "a session needs a user and a context");
    }
    if (strlen(user) > 256 || strlen(context) > 64 || ngroups > 64) {
        return cerr_add(e, CHORUS_ERR_TOOBIG, NULL, NULL,
                        "user name (256), context (64) or number of groups (64) too long");
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    s->id = ++c->next_usid;
    s->user = strdup(user);
    s->context = strdup(context);
    s->addr = xstrdup(addr);
    s->since = time(NULL);
    if (ngroups) {
        s->groups = calloc(ngroups, sizeof *s->groups);
        for (size_t k = 0; s->groups && k < ngroups; k++) {
            s->groups[k] = strdup(groups[k]);
        }
        s->ngroups = ngroups;
    }
    if (!s->user || !s->context || (addr && !s->addr) || (ngroups && !s->groups)) {
        s->next = NULL;
        sess_end(c, s);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    s->next = c->sessions;
    c->sessions = s;
    c->nsessions++;
    *ret_sess = s;
    return CHORUS_OK;
}

void
sess_end(struct core *c, struct sess *s)
{
    struct sess **pp;

    if (!s) {
        return;
    }
    while (s->txns) {
        txn_free(c, s->txns);
    }
    txn_cc_session_end(c, s);
    for (int db = 0; db < 5; db++) {
        if (c->locks[db] == s) {
            c->locks[db] = NULL;
            LOG(LL_INFO, (&(struct log_tag){s->id, s->user, s->context, 0}),
                "lock on %s released (session ended)", db_name((enum chorus_db)db));
            sub_notify(c, CHORUS_SUB_DBLOCK, EV_UNLOCK, s, 0, (uint32_t)db, 0);
        }
    }
    for (pp = &c->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            c->nsessions--;
            break;
        }
    }
    free(s->user);
    free(s->context);
    free(s->addr);
    for (size_t k = 0; s->groups && k < s->ngroups; k++) {
        free(s->groups[k]);
    }
    free(s->groups);
    free(s);
}

struct log_tag
sess_tag(const struct sess *s, uint64_t txid)
{
    struct log_tag t = {0, NULL, NULL, txid};

    if (s) {
        t.sess = s->id;
        t.user = s->user;
        t.ctx = s->context;
    }
    return t;
}

static bool
db_enabled(const struct core *c, enum chorus_db db)
{
    switch (db) {
    case CHORUS_DB_RUNNING:
        return true;
    case CHORUS_DB_CANDIDATE:
        return c->cand != NULL;
    case CHORUS_DB_STARTUP:
        return c->cfg->startup;
    case CHORUS_DB_OPERATIONAL:
        return false; /* no locks on operational (as in ConfD) */
    }
    return false;
}

static enum chorus_err
locked_by(const struct core *c, enum chorus_db db, struct cerr **e)
{
    const struct sess *h = c->locks[db];

    return cerr_add(e, CHORUS_ERR_LOCKED, NULL, "lock-denied",
                    "%s is locked by session %u (%s, %s%s%s)", db_name(db), h->id, h->user,
                    h->context, h->addr ? ", " : "", h->addr ? h->addr : "");
}

enum chorus_err
sess_lock(struct core *c, struct sess *s, enum chorus_db db, struct cerr **e)
{
    struct log_tag tag = sess_tag(s, 0);

    if (db < CHORUS_DB_RUNNING || db > CHORUS_DB_OPERATIONAL || !db_enabled(c, db)) {
        return cerr_add(e, CHORUS_ERR_UNSUPPORTED, NULL, NULL, "the %s datastore cannot be locked",
                        db_name(db));
    }
    if (c->locks[db] == s) {
        return cerr_add(e, CHORUS_ERR_LOCKED, NULL, "lock-denied",
                        "%s is already locked by this session", db_name(db));
    }
    if (c->locks[db]) {
        return locked_by(c, db, e);
    }
    if (db == CHORUS_DB_CANDIDATE && !ed_empty(c->cand) && c->cand_writer &&
        c->cand_writer != s->id) {
        /* RFC 6241 §7.5: the candidate has changes of another session */
        return cerr_add(e, CHORUS_ERR_LOCKED, NULL, "lock-denied",
                        "the candidate has uncommitted changes of session %u", c->cand_writer);
    }
    for (struct txn *t = c->txns; t; t = t->next) {
        if (t->db == db && t->sess != s &&
            (t->state == TXN_PREPARED || t->state == TXN_PREPARING)) {
            return cerr_add(e, CHORUS_ERR_LOCKED, NULL, "lock-denied",
                            "a transaction of session %u on %s is being committed", t->sess->id,
                            db_name(db));
        }
    }
    c->locks[db] = s;
    s->lock_time[db] = time(NULL);
    LOG(LL_INFO, &tag, "%s locked", db_name(db));
    sub_notify(c, CHORUS_SUB_DBLOCK, EV_LOCK, s, 0, (uint32_t)db, 0);
    return CHORUS_OK;
}

enum chorus_err
sess_unlock(struct core *c, struct sess *s, enum chorus_db db, struct cerr **e)
{
    struct log_tag tag = sess_tag(s, 0);

    if (db < CHORUS_DB_RUNNING || db > CHORUS_DB_OPERATIONAL || c->locks[db] != s) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, "operation-failed",
                        "this session holds no lock on %s", db_name(db));
    }
    c->locks[db] = NULL;
    LOG(LL_INFO, &tag, "%s unlocked", db_name(db));
    sub_notify(c, CHORUS_SUB_DBLOCK, EV_UNLOCK, s, 0, (uint32_t)db, 0);
    return CHORUS_OK;
}

enum chorus_err
sess_may_write(struct core *c, const struct sess *s, enum chorus_db db, struct cerr **e)
{
    if (db >= CHORUS_DB_RUNNING && db <= CHORUS_DB_OPERATIONAL && c->locks[db] &&
        c->locks[db] != s) {
        return locked_by(c, db, e);
    }
    return CHORUS_OK;
}
