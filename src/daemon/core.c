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

struct sync_result {
    enum chorus_err rc;
    struct cerr *e;
    uint64_t txid;
    bool done;
};

static void
sync_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct sync_result *r = arg;

    r->rc = rc;
    r->txid = txid;
    r->done = true;
    cerr_copy(&r->e, e); /* e is freed after we return */
}

enum chorus_err
core_start_phase(struct core *c, int phase, struct cerr **e)
{
    struct log_tag tag = {0};

    if (phase == c->phase) {
        return CHORUS_OK;
    }
    if (phase != c->phase + 1) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL,
                        "the daemon is in start phase %d: phases go forward one at a time",
                        c->phase);
    }
    if (phase == 1) {
        struct sync_result r = {0};

        txn_apply(c, c->init, sync_done, &r);
        if (!r.done) {
            /* cannot happen: nothing else commits in phase 0 */
            txn_abort(c, c->init);
            return cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL,
                            "the init transaction did not complete");
        }
        if (r.rc) {
            tag = sess_tag(c->sys, 0);
            LOG(LL_ERROR, &tag,
                "start phase 1 refused: the init transaction does not commit: %s%s%s",
                r.e && r.e->path ? r.e->path : "", r.e && r.e->path ? ": " : "",
                r.e && r.e->msg ? r.e->msg : "");
            cerr_move(e, &r.e);
            return r.rc;
        }
        txn_free(c, c->init);
        c->init = NULL;
        c->phase = 1;
        tag.txid = c->txid;
        LOG(LL_INFO, &tag, "start phase 1: init transaction committed");
    } else {
        c->phase = 2;
        LOG(LL_INFO, NULL, "start phase 2: northbound interfaces open");
    }
    notify_phase(c);
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
