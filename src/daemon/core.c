/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's state: running's visibility, start phases, status; see core.h. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "ipc.h"
#include "jnl.h"
#include "lyu.h"
#include "rb.h"
#include "schema.h"
#include "sess.h"
#include "txn.h"

void
core_running(struct core *c, const struct txn *t)
{
    struct txn *h = c->holder;

    if (!h || (h->state != TXN_PREPARED && h->state != TXN_PREPARING) ||
        h->db != CHORUS_DB_RUNNING) {
        return;
    }
    if (h == t) {
        if (!h->log.applied) {
            dl_redo(&h->log);
        }
    } else if (h->log.applied) {
        dl_undo(&h->log, false);
    }
}

static void
notify_phase(struct core *c)
{
    struct phase_waiter **pp = &c->phase_waiters;

    while (*pp) {
        struct phase_waiter *w = *pp;

        if (w->phase <= c->phase) {
            *pp = w->next;
            w->cb(w->arg);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

/* The init transaction's commit is over (entering phase 1). */
static void
init_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct core *c = arg;
    void (*cb)(void *, enum chorus_err, struct cerr *) = c->phase1_cb;
    void *cb_arg = c->phase1_arg;
    bool upgrade = c->upg.pending;
    struct log_tag tag = {0};

    c->entering1 = false;
    c->phase1_cb = NULL;
    c->phase1_arg = NULL;
    if (rc) {
        tag = sess_tag(c->sys, 0);
        for (const struct cerr *x = e; x; x = x->next) {
            LOG(LL_ERROR, &tag, "start phase 1 refused: %s: %s%s%s",
                upgrade ? "the schema upgrade does not commit"
                        : "the init transaction does not commit",
                x->path ? x->path : "", x->path ? ": " : "", x->msg ? x->msg : "");
        }
        if (!e) {
            LOG(LL_ERROR, &tag, "start phase 1 refused: %s", chorus_strerror(rc));
        }
        if (cb) {
            cb(cb_arg, rc, e);
        }
        return;
    }
    txn_free(c, c->init);
    c->init = NULL;
    c->upg.pending = false;
    c->phase = 1;
    tag.txid = txid;
    LOG(LL_INFO, &tag, "start phase 1: init transaction committed%s",
        upgrade ? " (schema upgrade)" : "");
    notify_phase(c);
    if (cb) {
        cb(cb_arg, CHORUS_OK, NULL);
    }
}

void
core_start_phase_async(struct core *c, int phase,
                       void (*done)(void *arg, enum chorus_err rc, struct cerr *e), void *arg)
{
    struct cerr *e = NULL;

    if (phase == c->phase) {
        done(arg, CHORUS_OK, NULL);
        return;
    }
    if (c->entering1) {
        cerr_add(&e, CHORUS_ERR_INUSE, NULL, NULL,
                 "start phase 1 is being entered: the init transaction is committing");
    } else if (phase != c->phase + 1) {
        cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL,
                 "the daemon is in start phase %d: phases go forward one at a time", c->phase);
    }
    if (e) {
        done(arg, e->code, e);
        cerr_free(e);
        return;
    }
    if (phase == 1) {
        c->entering1 = true;
        c->phase1_cb = done;
        c->phase1_arg = arg;
        txn_apply(c, c->init, init_done, c);
        return;
    }
    c->phase = 2;
    LOG(LL_INFO, NULL, "start phase 2: northbound interfaces open");
    notify_phase(c);
    done(arg, CHORUS_OK, NULL);
}

void
core_start_phase_forget(struct core *c, void *arg)
{
    if (c->entering1 && c->phase1_arg == arg) {
        c->phase1_cb = NULL;
        c->phase1_arg = NULL;
    }
}

struct sync_result {
    enum chorus_err rc;
    struct cerr *e;
    bool done;
};

static void
sync_done(void *arg, enum chorus_err rc, struct cerr *e)
{
    struct sync_result *r = arg;

    r->rc = rc;
    r->done = true;
    cerr_copy(&r->e, e); /* e is freed after we return */
}

enum chorus_err
core_start_phase(struct core *c, int phase, struct cerr **e)
{
    struct sync_result r = {0};

    core_start_phase_async(c, phase, sync_done, &r);
    if (!r.done) {
        /* cannot happen: in the daemon's own start no application is registered */
        core_start_phase_forget(c, &r);
        return cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL,
                        "the init transaction waits for applications");
    }
    if (r.rc) {
        cerr_move(e, &r.e);
    }
    return r.rc;
}

enum chorus_err
core_upgrade_commit(struct core *c, const struct lyd_node *tree, uint64_t txid, struct cerr **e)
{
    struct log_tag tag = {0, NULL, NULL, txid};
    struct upg_last u = {0};
    enum chorus_err rc;

    rc = upg_store(c->cfg->db_dir, c->schema, e);
    if (!rc) {
        rc = jnl_upgrade(c->jnl, c->ctx, c->schema->digest, c->upg.modset, tree, txid, e);
    }
    if (rc) {
        return rc;
    }
    u.time = (int64_t)time(NULL);
    u.txid = txid;
    memcpy(u.from, c->upg.from, sizeof u.from);
    memcpy(u.to, c->schema->digest_hex, sizeof u.to);
    u.from_modules = c->upg.from_modules;
    u.dropped = c->upg.dropped;
    u.dropped_invalid = c->upg.dropped_invalid;
    {
        struct cerr *we = NULL;

        if (upg_last_write(c->cfg->db_dir, &u, &we)) {
            LOG(LL_WARN, &tag, "schema upgrade: not recorded: %s", we && we->msg ? we->msg : "");
            cerr_free(we);
        }
    }
    upg_prune(c->cfg->db_dir, c->schema->digest_hex);
    free(c->last_upgrade.from_modules);
    c->last_upgrade = u;
    c->upg.from_modules = NULL; /* now the record's */
    LOG(LL_INFO, &tag,
        "schema upgrade committed: module set %.12s -> %.12s, %llu node%s dropped (schema node "
        "gone), %llu dropped (value no longer fits)",
        u.from, u.to, (unsigned long long)u.dropped, u.dropped == 1 ? "" : "s",
        (unsigned long long)u.dropped_invalid);
    return CHORUS_OK;
}

struct phase_waiter *
core_wait_phase(struct core *c, int phase, void (*cb)(void *), void *arg, bool *ret_done)
{
    struct phase_waiter *w, **pp;

    *ret_done = c->phase >= phase;
    if (*ret_done) {
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    w->phase = phase;
    w->cb = cb;
    w->arg = arg;
    for (pp = &c->phase_waiters; *pp; pp = &(*pp)->next) {
    }
    *pp = w;
    return w;
}

void
core_cancel_wait(struct core *c, struct phase_waiter *w)
{
    for (struct phase_waiter **pp = &c->phase_waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            free(w);
            return;
        }
    }
}

void
core_stop(struct core *c)
{
    c->stopping = true;
    ev_stop(c->ev);
}

void
core_rb_flush(struct core *c)
{
    struct cerr *e = NULL;

    if (c->rb_timer) {
        ev_timer_cancel(c->ev, c->rb_timer);
        c->rb_timer = NULL;
    }
    if (rb_pending(c->rb) && rb_flush(c->rb, &e)) {
        for (struct cerr *x = e; x; x = x->next) {
            LOG(LL_WARN, NULL, "rollback file not written: %s", x->msg ? x->msg : "?");
        }
    }
    cerr_free(e);
}

static void
rb_timer_cb(void *arg)
{
    struct core *c = arg;

    c->rb_timer = NULL;
    core_rb_flush(c);
}

void
core_rb_flush_soon(struct core *c)
{
    if (rb_pending(c->rb) && !c->rb_timer) {
        c->rb_timer = ev_timer(c->ev, 0, rb_timer_cb, c);
        if (!c->rb_timer) {
            core_rb_flush(c);
        }
    }
}

void
core_maybe_compact(struct core *c)
{
    struct cerr *e = NULL;
    uint64_t t0;

    if (c->holder || !c->jnl || !jnl_compaction_due(c->jnl)) {
        return;
    }
    core_rb_flush(c); /* J5: the rollback files of what the snapshot covers exist first */
    core_running(c, NULL);
    t0 = now_ms();
    if (jnl_compact(c->jnl, c->running, c->txid, &e)) {
        LOG(LL_ERROR, NULL, "compaction not started: %s", e && e->msg ? e->msg : "?");
        cerr_free(e);
        return;
    }
    LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, c->txid}),
        "compaction: new journal started in %llu ms; the snapshot is written in the background",
        (unsigned long long)(now_ms() - t0));
}

/* ---- status ---- */

static void
json_str(struct buf *b, const char *s)
{
    buf_append_str(b, "\"");
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            buf_printf(b, "\\%c", ch);
        } else if (ch < 0x20) {
            buf_printf(b, "\\u%04x", ch);
        } else {
            buf_append(b, s, 1);
        }
    }
    buf_append_str(b, "\"");
}

char *
core_status_json(struct core *c)
{
    struct buf b = BUF_INIT;
    struct jnl_stats js;
    unsigned ntxn = 0;
    bool first;

    core_running(c, NULL);
    for (struct txn *t = c->txns; t; t = t->next) {
        ntxn++;
    }
    buf_printf(&b, "{\n  \"version\": \"%s\",\n  \"pid\": %ld,\n  \"phase\": %d,\n", CHORUS_VERSION,
               (long)getpid(), c->phase);
    buf_printf(&b, "  \"txid\": %llu,\n  \"uptime\": %llu,\n", (unsigned long long)c->txid,
               (unsigned long long)((now_ms() - c->started_ms) / 1000));
    buf_printf(&b, "  \"validation\": \"%s\",\n",
               c->cfg->validation == CFG_VAL_FULL ? "full" : "incremental");
    buf_printf(&b, "  \"datastores\": {\n    \"running\": {\"nodes\": %zu},\n",
               lyu_count(c->running, true));
    if (c->cand) {
        buf_printf(&b, "    \"candidate\": {\"enabled\": true, \"dirty\": %s, \"nodes\": %zu},\n",
                   ed_empty(c->cand) ? "false" : "true", ed_size(c->cand));
    } else {
        buf_printf(&b, "    \"candidate\": {\"enabled\": false},\n");
    }
    if (c->cfg->startup) {
        buf_printf(&b, "    \"startup\": {\"enabled\": true, \"nodes\": %zu},\n",
                   lyu_count(c->startup, true));
    } else {
        buf_printf(&b, "    \"startup\": {\"enabled\": false},\n");
    }
    buf_printf(&b, "    \"operational\": {\"nodes\": %zu}\n  },\n", ed_size(c->oper));
    buf_printf(&b, "  \"locks\": [");
    first = true;
    for (int db = 1; db < 5; db++) {
        const struct sess *s = c->locks[db];

        if (!s) {
            continue;
        }
        buf_printf(&b, "%s\n    {\"db\": \"%s\", \"session\": %u, \"user\": ", first ? "" : ",",
                   db_name((enum chorus_db)db), s->id);
        json_str(&b, s->user);
        buf_printf(&b, ", \"context\": ");
        json_str(&b, s->context);
        buf_printf(&b, "}");
        first = false;
    }
    buf_printf(&b, "%s],\n  \"sessions\": [", first ? "" : "\n  ");
    first = true;
    for (const struct sess *s = c->sessions; s; s = s->next) {
        unsigned n = 0;

        for (const struct txn *t = s->txns; t; t = t->snext) {
            n++;
        }
        buf_printf(&b, "%s\n    {\"id\": %u, \"user\": ", first ? "" : ",", s->id);
        json_str(&b, s->user);
        buf_printf(&b, ", \"context\": ");
        json_str(&b, s->context);
        buf_printf(&b, ", \"addr\": ");
        json_str(&b, s->addr ? s->addr : "");
        buf_printf(&b, ", \"transactions\": %u, \"since\": %lld}", n, (long long)s->since);
        first = false;
    }
    buf_printf(&b, "%s],\n  \"transactions\": %u,\n", first ? "" : "\n  ", ntxn);
    if (c->holder) {
        buf_printf(&b, "  \"commit_lock\": {\"transaction\": %u, \"session\": %u},\n",
                   c->holder->th, c->holder->sess->id);
    } else {
        buf_printf(&b, "  \"commit_lock\": null,\n");
    }
    jnl_stats(c->jnl, &js);
    buf_printf(&b, "  \"journal\": {\"file\": ");
    json_str(&b, js.file);
    buf_printf(&b,
               ", \"bytes\": %llu, \"records\": %llu, \"snapshot_txid\": %llu, "
               "\"compacting\": %s},\n",
               (unsigned long long)js.bytes, (unsigned long long)js.records,
               (unsigned long long)js.snapshot_txid, js.compacting ? "true" : "false");
    buf_printf(&b, "  \"module_set_digest\": \"%s\",\n  \"modules\": [", c->schema->digest_hex);
    for (size_t k = 0; k < c->schema->nmods; k++) {
        char hex[65];

        hex_encode(c->schema->mods[k].sha256, 32, hex);
        buf_printf(&b, "%s\n    {\"name\": ", k ? "," : "");
        json_str(&b, c->schema->mods[k].name);
        buf_printf(&b, ", \"revision\": ");
        if (c->schema->mods[k].revision) {
            json_str(&b, c->schema->mods[k].revision);
        } else {
            buf_printf(&b, "null");
        }
        buf_printf(&b, ", \"digest\": \"%s\", \"implemented\": %s}", hex,
                   c->schema->mods[k].implemented ? "true" : "false");
    }
    buf_printf(&b, "%s],\n", c->schema->nmods ? "\n  " : "");
    if (c->last_upgrade.time) {
        const struct upg_last *u = &c->last_upgrade;

        buf_printf(&b,
                   "  \"last_upgrade\": {\"time\": %lld, \"txid\": %llu, \"from\": \"%s\", "
                   "\"to\": \"%s\", \"from_modules\": ",
                   (long long)u->time, (unsigned long long)u->txid, u->from, u->to);
        json_str(&b, u->from_modules);
        buf_printf(&b, ", \"dropped\": %llu, \"dropped_invalid\": %llu},\n",
                   (unsigned long long)u->dropped, (unsigned long long)u->dropped_invalid);
    } else {
        buf_printf(&b, "  \"last_upgrade\": null,\n");
    }
    buf_printf(&b, "  \"schema\": {\"digest\": \"%s\", \"modules\": [", c->schema->digest_hex);
    for (size_t k = 0; k < c->schema->nmods; k++) {
        char *m = NULL;

        if (asprintf(&m, "%s%s%s", c->schema->mods[k].name, c->schema->mods[k].revision ? "@" : "",
                     c->schema->mods[k].revision ? c->schema->mods[k].revision : "") < 0) {
            m = NULL;
        }
        buf_printf(&b, "%s", k ? ", " : "");
        json_str(&b, m);
        free(m);
    }
    buf_printf(&b, "]},\n  \"ipc\": {\"connections\": %u}\n}\n", ipc_connections(c->ipc));
    return buf_steal_str(&b);
}
