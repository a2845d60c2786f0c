/* SPDX-License-Identifier: Apache-2.0 */
/* Transactions and the commit sequence; the contract is in txn.h. */
#include "txn.h"

#include "proto/proto.h"
#include "sub.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "ds.h"
#include "fault.h"
#include "jnl.h"
#include "lyu.h"
#include "rb.h"
#include "rec.h"
#include "sess.h"
#include "val.h"

#define MAX_TXN_PER_SESSION 1024

static struct log_tag
tag_of(const struct txn *t)
{
    return sess_tag(t->sess, t->txid);
}

/* ---- lifecycle ---- */

static bool
db_enabled(const struct core *c, enum chorus_db db)
{
    switch (db) {
    case CHORUS_DB_RUNNING:
    case CHORUS_DB_OPERATIONAL:
        return true;
    case CHORUS_DB_CANDIDATE:
        return c->cand != NULL;
    case CHORUS_DB_STARTUP:
        return c->cfg->startup;
    }
    return false;
}

static enum chorus_err
txn_alloc(struct core *c, struct sess *s, enum chorus_db db, bool rw, struct txn **ret,
          struct cerr **e)
{
    struct txn *t;
    size_t n = 0;

    for (t = s->txns; t; t = t->snext) {
        n++;
    }
    if (n >= MAX_TXN_PER_SESSION) {
        return cerr_add(e, CHORUS_ERR_TOOBIG, NULL, NULL,
                        "a session may have at most %d open transactions", MAX_TXN_PER_SESSION);
    }
    t = calloc(1, sizeof *t);
    if (!t || (rw && !(t->ed = ed_new(c->ctx)))) {
        free(t);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    do {
        t->th = ++c->next_th;
    } while (!t->th);
    t->core = c;
    t->sess = s;
    t->db = db;
    t->rw = rw;
    t->state = TXN_OPEN;
    t->txid = c->txid;
    t->next = c->txns;
    c->txns = t;
    t->snext = s->txns;
    s->txns = t;
    *ret = t;
    return CHORUS_OK;
}

enum chorus_err
txn_new(struct core *c, struct sess *s, enum chorus_db db, bool rw, struct txn **ret_txn,
        struct cerr **e)
{
    if (db < CHORUS_DB_RUNNING || db > CHORUS_DB_OPERATIONAL) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "unknown datastore %d", (int)db);
    }
    if (!db_enabled(c, db)) {
        return cerr_add(e, CHORUS_ERR_UNSUPPORTED, NULL, NULL,
                        "the %s datastore is not enabled (datastores/%s/enabled)", db_name(db),
                        db_name(db));
    }
    if (rw && c->phase == 0) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL,
                        "start phase 0: only the init transaction is writable (attach to it)");
    }
    if (rw && db == CHORUS_DB_RUNNING && c->cfg->running_access == CFG_RUNNING_VIA_CANDIDATE &&
        s->northbound) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL,
                        "running is writable through the candidate only "
                        "(datastores/running/access)");
    }
    enum chorus_err rc = txn_alloc(c, s, db, rw, ret_txn, e);

    if (rc) {
        return rc;
    }
    if (rw) {
        sub_notify(c, CHORUS_SUB_TRANS, EV_TRANS_INIT, s, (*ret_txn)->th, (uint32_t)db, 0);
    }
    return CHORUS_OK;
}

enum chorus_err
txn_new_init(struct core *c, struct cerr **e)
{
    enum chorus_err rc = txn_alloc(c, c->sys, CHORUS_DB_RUNNING, true, &c->init, e);

    if (!rc) {
        c->init->is_init = true;
        c->init->flags = REC_F_INIT;
    }
    return rc;
}

struct txn *
txn_find(struct core *c, const struct sess *s, uint32_t th)
{
    for (struct txn *t = c->txns; t; t = t->next) {
        if (t->th == th && (t->sess == s || (t->is_init && t == c->init))) {
            return t;
        }
    }
    return NULL;
}

static void
waiters_remove(struct core *c, struct txn *t)
{
    for (struct txn **pp = &c->waiters; *pp; pp = &(*pp)->wnext) {
        if (*pp == t) {
            *pp = t->wnext;
            t->wnext = NULL;
            break;
        }
    }
    ev_timer_cancel(c->ev, t->timer);
    t->timer = NULL;
}

static void internal_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid);

void
txn_free(struct core *c, struct txn *t)
{
    struct txn **pp;

    if (!t) {
        return;
    }
    if (t->cb == internal_done) {
        free(t->cb_arg); /* an internal transaction whose requester went away */
    }
    t->cb = NULL; /* nobody waits for an answer any more */
    txn_abort(c, t);
    sub_txn_done(c, t);
    if (t->rw && !t->is_init) {
        sub_notify(c, CHORUS_SUB_TRANS, EV_TRANS_FINISH, t->sess, t->th, (uint32_t)t->db,
                   t->state == TXN_COMMITTED ? CHORUS_EVF_COMMITTED : 0);
    }
    if (c->init == t) {
        c->init = NULL;
    }
    for (pp = &c->txns; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    for (pp = &t->sess->txns; *pp; pp = &(*pp)->snext) {
        if (*pp == t) {
            *pp = t->snext;
            break;
        }
    }
    if (t->ed != c->cand) {
        ed_free(t->ed);
    }
    buf_free(&t->record);
    dl_done(&t->log);
    lyd_free_all(t->upg_tree);
    free(t);
}

/* ---- the view of a transaction ---- */

static void
view_of(struct core *c, struct txn *t, struct view *v)
{
    memset(v, 0, sizeof *v);
    core_running(c, t);
    switch (t->db) {
    case CHORUS_DB_RUNNING:
        v->base = c->running;
        if (t->ed && t->state != TXN_PREPARED && t->state != TXN_PREPARING) {
            v->layer[v->n++] = t->ed;
        }
        if (t->hook_ed) {
            v->layer[v->n++] = t->hook_ed; /* a hook's writes, not yet applied */
        }
        break;
    case CHORUS_DB_OPERATIONAL:
        v->base = c->running;
        v->layer[v->n++] = c->oper;
        if (t->ed && t->state != TXN_PREPARED) {
            v->layer[v->n++] = t->ed;
        }
        if (t->oper_extra && v->n < VIEW_MAX_LAYERS) {
            v->layer[v->n++] = t->oper_extra; /* data providers' answers */
        }
        break;
    case CHORUS_DB_CANDIDATE:
        v->base = c->running;
        v->layer[v->n++] = c->cand;
        if (t->ed) {
            v->layer[v->n++] = t->ed;
        }
        break;
    case CHORUS_DB_STARTUP:
        v->base = c->startup;
        if (t->ed) {
            v->layer[v->n++] = t->ed;
        }
        break;
    }
}

/* ---- writes ---- */

static const char *
state_name(enum txn_state s)
{
    switch (s) {
    case TXN_OPEN:
        return "open";
    case TXN_WAITING:
        return "waiting for the commit lock";
    case TXN_PREPARING:
        return "in the commit sequence";
    case TXN_PREPARED:
        return "prepared";
    case TXN_COMMITTED:
        return "committed";
    case TXN_ABORTED:
        return "aborted";
    }
    return "?";
}

static enum chorus_err
writable(struct core *c, struct txn *t, struct cerr **e)
{
    if (!t->rw) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL, "the transaction is read-only");
    }
    if (t->hook_ed && t->state == TXN_PREPARING) {
        return CHORUS_OK; /* a transaction hook writing into the transaction it is called for */
    }
    if (t->state != TXN_OPEN) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL, "the transaction is %s",
                        state_name(t->state));
    }
    if (t->is_init && c->phase != 0) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL,
                        "the init transaction was committed when phase 1 began");
    }
    return t->is_init ? CHORUS_OK : sess_may_write(c, t->sess, t->db, e);
}

/* The change set writes go to: a hook's own while its event is pending. */
static struct ed *
wed(struct txn *t)
{
    return t->hook_ed ? t->hook_ed : t->ed;
}

/* Writes to config datastores take config true nodes, to operational config false ones. */
static enum chorus_err
check_kind(const struct txn *t, const struct lysc_node *s, const char *path, struct cerr **e)
{
    bool state = (s->flags & LYS_CONFIG_R) != 0;

    if (t->db == CHORUS_DB_OPERATIONAL && !state) {
        return cerr_add(e, CHORUS_ERR_INVAL, path, NULL,
                        "configuration (config true) is not written in the operational datastore");
    }
    if (t->db != CHORUS_DB_OPERATIONAL && state) {
        return cerr_add(e, CHORUS_ERR_INVAL, path, NULL,
                        "state data (config false) cannot be written in %s", db_name(t->db));
    }
    return CHORUS_OK;
}

enum chorus_err
txn_set(struct core *c, struct txn *t, const char *path, const char *value, struct cerr **e)
{
    struct dpath dp;
    enum chorus_err rc = writable(c, t, e);

    if (rc || (rc = dpath_resolve(c->ctx, path, value, &dp, e))) {
        return rc;
    }
    if (dp.term_noval) {
        rc = cerr_add(e, CHORUS_ERR_INVAL, path, NULL, "a value is required to set leaf \"%s\"",
                      dp.schema->name);
    } else if (value && !(dp.schema->nodetype & (LYS_LEAF | LYS_LEAFLIST | LYD_NODE_ANY))) {
        rc =
            cerr_add(e, CHORUS_ERR_INVAL, path, NULL, "\"%s\" is a %s: it takes no value",
                     dp.schema->name, dp.schema->nodetype == LYS_LIST ? "list entry" : "container");
    } else if (!(rc = check_kind(t, dp.schema, path, e))) {
        rc = ed_set(wed(t), &dp, e);
    }
    dpath_done(&dp);
    return rc;
}

enum chorus_err
txn_create(struct core *c, struct txn *t, const char *path, struct cerr **e)
{
    struct dpath dp;
    struct view v;
    const struct lyd_node *cur;
    enum chorus_err rc = writable(c, t, e);

    if (rc || (rc = dpath_resolve(c->ctx, path, NULL, &dp, e))) {
        return rc;
    }
    if (dp.term_noval) {
        rc = cerr_add(e, CHORUS_ERR_INVAL, path, NULL,
                      "create makes list entries, leaf-list entries and presence containers; "
                      "set a leaf with set");
    } else if (!(rc = check_kind(t, dp.schema, path, e))) {
        view_of(c, t, &v);
        if (view_find(&v, &dp, &cur) == CHORUS_OK) {
            rc = cerr_add(e, CHORUS_ERR_EXISTS, path, "data-exists", "the node already exists");
        } else {
            rc = ed_set(wed(t), &dp, e);
        }
    }
    dpath_done(&dp);
    return rc;
}

enum chorus_err
txn_delete(struct core *c, struct txn *t, const char *path, struct cerr **e)
{
    struct dpath dp;
    struct view v;
    const struct lyd_node *cur = NULL;
    enum chorus_err rc = writable(c, t, e);

    if (rc || (rc = dpath_resolve(c->ctx, path, NULL, &dp, e))) {
        return rc;
    }
    if (!(rc = check_kind(t, dp.schema, path, e))) {
        view_of(c, t, &v);
        if (view_find(&v, &dp, &cur) != CHORUS_OK || (cur->flags & LYD_DEFAULT)) {
            rc = cerr_add(e, CHORUS_ERR_NOTFOUND, path, "data-missing",
                          cur ? "the node has only its default value; there is nothing to delete"
                              : "the node does not exist");
        } else {
            rc = ed_delete(wed(t), &dp, cur, e);
        }
    }
    dpath_done(&dp);
    return rc;
}

static LYD_FORMAT
ly_format(enum chorus_format f)
{
    switch (f) {
    case CHORUS_FMT_XML:
        return LYD_XML;
    case CHORUS_FMT_JSON:
        return LYD_JSON;
    case CHORUS_FMT_LYB:
        return LYD_LYB;
    }
    return LYD_UNKNOWN;
}

/*
 * Apply node @p n of a libyang diff (yang:operation metadata; @p inh is the operation it
 * inherits): created and replaced subtrees are collected in *@p merge (merged into the change
 * set at the end, in one pass), replaced terminals are set, deleted nodes deleted (they must
 * exist), "none" descends.
 */
static enum chorus_err
diff_walk(struct core *c, struct txn *t, struct lyd_node *n, const char *inh,
          struct lyd_node **merge, struct cerr **e)
{
    struct lyd_meta *m = lyd_find_meta(n->meta, NULL, "yang:operation");
    const char *op = m ? lyd_get_meta_value(m) : inh;
    enum chorus_err rc = CHORUS_OK;
    char *path = NULL;

    if (!strcmp(op, "none")) {
        struct lyd_node *ch;

        LY_LIST_FOR(lyd_child(n), ch)
        {
            if (lyu_is_key(ch)) {
                continue;
            }
            if ((rc = diff_walk(c, t, ch, "none", merge, e))) {
                break;
            }
        }
        return rc;
    }
    if (!strcmp(op, "create") || !strcmp(op, "replace")) {
        if (n->schema->nodetype == LYS_LEAF && !strcmp(op, "replace")) {
            path = lyu_path(n);
            rc = path ? txn_set(c, t, path, lyd_get_value(n), e)
                      : cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            free(path);
            return rc;
        }
        return lyu_merge_copy(merge, n, LYD_DUP_RECURSIVE | LYD_DUP_NO_META)
                   ? lyu_err(e, c->ctx, CHORUS_ERR_NOMEM, NULL)
                   : CHORUS_OK;
    }
    if (!strcmp(op, "delete")) {
        path = lyu_path(n);
        rc = path ? txn_delete(c, t, path, e)
                  : cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        free(path);
        return rc;
    }
    path = lyu_path(n);
    rc = cerr_add(e, CHORUS_ERR_INVAL, path, NULL, "unknown diff operation \"%s\"", op);
    free(path);
    return rc;
}

enum chorus_err
txn_edit(struct core *c, struct txn *t, enum chorus_edit_op op, enum chorus_format fmt,
         const char *data, size_t len, struct cerr **e)
{
    struct lyd_node *tree = NULL;
    struct ly_in *in = NULL;
    uint32_t opts = LYD_PARSE_ONLY | LYD_PARSE_STRICT;
    enum chorus_err rc = writable(c, t, e);

    if (rc) {
        return rc;
    }
    if (ly_format(fmt) == LYD_UNKNOWN) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "unknown data format %d", (int)fmt);
    }
    if (op < CHORUS_EDIT_MERGE || op > CHORUS_EDIT_DIFF ||
        (t->db == CHORUS_DB_OPERATIONAL && op != CHORUS_EDIT_MERGE)) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "unsupported edit operation %d", (int)op);
    }
    if (t->db != CHORUS_DB_OPERATIONAL) {
        opts |= LYD_PARSE_NO_STATE;
    }
    /* the data is NUL-terminated (protocol) */
    if (ly_in_new_memory(data, &in)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    {
        uint64_t t0 = now_ns();
        struct log_tag tag = tag_of(t);

        if (lyd_parse_data(c->ctx, NULL, in, ly_format(fmt), opts, 0, &tree)) {
            ly_in_free(in, 0);
            return lyu_err(e, c->ctx, CHORUS_ERR_BADVALUE, NULL);
        }
        LOG(LL_DEBUG, &tag, "edit: parsed %zu bytes in %.3f ms", len, (now_ns() - t0) / 1e6);
    }
    ly_in_free(in, 0);
    if (t->db == CHORUS_DB_OPERATIONAL) {
        /* only state data: refuse configuration */
        struct lyd_node *it;

        LY_LIST_FOR(tree, it)
        {
            struct lyd_node *x;

            LYD_TREE_DFS_BEGIN(it, x)
            {
                if (x->schema && !(x->schema->flags & LYS_CONFIG_R) &&
                    !(x->schema->nodetype & (LYS_CONTAINER | LYS_LIST)) && !lyu_is_key(x)) {
                    char *p = lyu_path(x);

                    rc = cerr_add(e, CHORUS_ERR_INVAL, p, NULL,
                                  "configuration (config true) is not written in the "
                                  "operational datastore");
                    free(p);
                    lyd_free_all(tree);
                    return rc;
                }
                LYD_TREE_DFS_END(it, x);
            }
        }
    }
    if (op == CHORUS_EDIT_MERGE) {
        return ed_merge_tree(wed(t), tree, e);
    }
    if (op == CHORUS_EDIT_DIFF) {
        struct lyd_node *merge = NULL, *it;

        LY_LIST_FOR(tree, it)
        {
            if ((rc = diff_walk(c, t, it, "none", &merge, e))) {
                break;
            }
        }
        lyd_free_all(tree);
        if (rc) {
            lyd_free_all(merge);
            return rc;
        }
        return merge ? ed_merge_tree(wed(t), merge, e) : CHORUS_OK;
    }
    return ed_replace_tree(wed(t), tree, op == CHORUS_EDIT_REPLACE_ALL, e);
}

/* ---- reads ---- */

static uint32_t
print_opts(uint32_t flags)
{
    uint32_t o = (flags & CHORUS_GET_PRETTY) ? 0 : LYD_PRINT_SHRINK;

    switch (flags & CHORUS_GET_WD_MASK) {
    case CHORUS_GET_WD_ALL:
        return o | LYD_PRINT_WD_ALL;
    case CHORUS_GET_WD_ALL_TAG:
        return o | LYD_PRINT_WD_ALL_TAG;
    case CHORUS_GET_WD_TRIM:
        return o | LYD_PRINT_WD_TRIM;
    default:
        return o | LYD_PRINT_WD_EXPLICIT;
    }
}

/* Print @p n (with its siblings if @p sib) into *s, its length (LYB holds NUL bytes) in *len. */
static LY_ERR
print_len(char **s, size_t *len, const struct lyd_node *n, enum chorus_format fmt, bool sib,
          uint32_t opts)
{
    struct ly_out *out = NULL;
    LY_ERR lr;

    *s = NULL;
    *len = 0;
    if ((lr = ly_out_new_memory(s, 0, &out))) {
        return lr;
    }
    lr = sib ? lyd_print_all(out, n, ly_format(fmt), opts & ~LYD_PRINT_WITHSIBLINGS)
             : lyd_print_tree(out, n, ly_format(fmt), opts);
    *len = ly_out_printed(out);
    ly_out_free(out, NULL, lr != LY_SUCCESS);
    if (lr) {
        *s = NULL;
        *len = 0;
    }
    return lr;
}

enum chorus_err
txn_get(struct core *c, struct txn *t, const char *path, enum chorus_format fmt, uint32_t flags,
        char **ret_text, size_t *ret_len, struct cerr **e)
{
    return txn_get_with(c, t, path, fmt, flags, NULL, ret_text, ret_len, e);
}

enum chorus_err
txn_get_with(struct core *c, struct txn *t, const char *path, enum chorus_format fmt,
             uint32_t flags, const struct ed *extra, char **ret_text, size_t *ret_len,
             struct cerr **e)
{
    size_t len = 0;
    struct view v;
    struct dpath dp;
    struct lyd_node *tree = NULL, *node = NULL, *dup = NULL;
    bool owned = false, whole = !path || !strcmp(path, "/");
    char *s = NULL;
    enum chorus_err rc;
    LY_ERR lr;

    if (fmt != CHORUS_FMT_XML && fmt != CHORUS_FMT_JSON &&
        (fmt != CHORUS_FMT_LYB || !ret_len)) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "get returns XML or JSON%s",
                        ret_len ? " or LYB" : "");
    }
    t->oper_extra = extra;
    view_of(c, t, &v);
    t->oper_extra = NULL;
    if (whole) {
        rc = view_get(&v, NULL, &tree, &node, &owned);
    } else {
        rc = dpath_resolve(c->ctx, path, NULL, &dp, e);
        if (rc) {
            return rc;
        }
        rc = view_get(&v, &dp, &tree, &node, &owned);
        dpath_done(&dp);
    }
    if (rc == CHORUS_ERR_NOTFOUND) {
        return cerr_add(e, rc, path, "data-missing", "the node does not exist");
    }
    if (rc) {
        return cerr_add(e, rc, path, NULL, "cannot read the datastore");
    }
    if (whole) {
        lr = tree ? print_len(&s, &len, tree, fmt, true, print_opts(flags)) : LY_SUCCESS;
    } else if (!node->parent) {
        lr = print_len(&s, &len, node, fmt, false, print_opts(flags));
    } else {
        /* the node with its ancestors, and nothing else of them */
        lr = lyd_dup_single(node, NULL,
                            LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS, &dup);
        if (!lr) {
            while (dup->parent) {
                dup = lyd_parent(dup);
            }
            lr = print_len(&s, &len, dup, fmt, false, print_opts(flags));
        }
    }
    if (lr) {
        rc = lyu_err(e, c->ctx, CHORUS_ERR_NOMEM, path);
        goto out;
    }
    if (ret_len) {
        *ret_len = s ? len : 0;
    }
    *ret_text = s ? s : strdup("");
    rc = *ret_text ? CHORUS_OK : cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
out:
    lyd_free_all(dup);
    if (owned) {
        lyd_free_all(tree);
    }
    return rc;
}

/* Whether the parent of the last step of @p path exists in the view. */
static bool
parent_exists(struct core *c, const struct view *v, const char *path)
{
    char *pp = NULL, *last = NULL;
    struct dpath dp;
    const struct lyd_node *n;
    bool r = false;

    if (lyu_split_last(path, &pp, &last)) {
        return false;
    }
    if (!*pp) {
        r = true; /* top level */
    } else if (!dpath_resolve(c->ctx, pp, NULL, &dp, NULL)) {
        r = view_find(v, &dp, &n) == CHORUS_OK;
        dpath_done(&dp);
    }
    ly_err_clean(c->ctx, NULL);
    free(pp);
    free(last);
    return r;
}

enum chorus_err
txn_get_value(struct core *c, struct txn *t, const char *path, char **ret_value, struct cerr **e)
{
    struct view v;
    struct dpath dp;
    const struct lyd_node *n;
    enum chorus_err rc = dpath_resolve(c->ctx, path, NULL, &dp, e);
    const char *val = NULL;

    if (rc) {
        return rc;
    }
    if (!(dp.schema->nodetype & (LYS_LEAF | LYS_LEAFLIST))) {
        rc = cerr_add(e, CHORUS_ERR_INVAL, path, NULL, "\"%s\" is not a leaf", dp.schema->name);
        goto out;
    }
    view_of(c, t, &v);
    if (view_find(&v, &dp, &n) == CHORUS_OK) {
        val = lyd_get_value(n);
    } else if (dp.schema->nodetype == LYS_LEAF && ((struct lysc_node_leaf *)dp.schema)->dflt &&
               parent_exists(c, &v, path)) {
        val = lyd_value_get_canonical(c->ctx, ((struct lysc_node_leaf *)dp.schema)->dflt);
    }
    if (!val) {
        rc = cerr_add(e, CHORUS_ERR_NOTFOUND, path, "data-missing", "the node does not exist");
        goto out;
    }
    *ret_value = strdup(val);
    if (!*ret_value) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
out:
    dpath_done(&dp);
    return rc;
}

enum chorus_err
txn_exists(struct core *c, struct txn *t, const char *path, bool *ret, struct cerr **e)
{
    struct view v;
    struct dpath dp;
    const struct lyd_node *n;
    enum chorus_err rc = dpath_resolve(c->ctx, path, NULL, &dp, e);

    if (rc) {
        return rc;
    }
    view_of(c, t, &v);
    *ret = view_find(&v, &dp, &n) == CHORUS_OK;
    dpath_done(&dp);
    return CHORUS_OK;
}

/* A list or leaf-list given by its path without the last predicate: its schema node and the
 * data path of its parent (*ret_pdp NULL for the top level; free dp with dpath_done()). */
static enum chorus_err
resolve_list(struct core *c, const char *path, struct dpath *dp, struct dpath **ret_pdp,
             const struct lysc_node **ret_s, struct cerr **e)
{
    char *pp = NULL, *last = NULL, *colon;
    const struct lys_module *mod = NULL;
    const struct lysc_node *s;
    enum chorus_err rc = CHORUS_OK;

    *ret_pdp = NULL;
    if (!path || lyu_split_last(path, &pp, &last) || strchr(last, '[')) {
        rc = cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                      "give the path of a list or leaf-list without the last predicate");
        goto out;
    }
    if (*pp) {
        rc = dpath_resolve(c->ctx, pp, NULL, dp, e);
        if (rc) {
            goto out;
        }
        *ret_pdp = dp;
    }
    colon = strchr(last, ':');
    if (colon) {
        *colon = 0;
        mod = ly_ctx_get_module_implemented(c->ctx, last);
    } else if (*ret_pdp) {
        mod = dp->schema->module;
    }
    s = mod ? lys_find_child(*ret_pdp ? dp->schema : NULL, mod, colon ? colon + 1 : last, 0,
                             LYS_LIST | LYS_LEAFLIST, 0)
            : NULL;
    if (!s) {
        rc = cerr_add(e, CHORUS_ERR_BADPATH, path, NULL, "no such list or leaf-list");
        goto out;
    }
    *ret_s = s;
out:
    free(pp);
    free(last);
    return rc;
}

enum chorus_err
txn_count(struct core *c, struct txn *t, const char *path, uint64_t *ret, struct cerr **e)
{
    const struct lysc_node *s = NULL;
    struct dpath dp = {0}, *pdp = NULL;
    struct view v;
    enum chorus_err rc = resolve_list(c, path, &dp, &pdp, &s, e);

    if (!rc) {
        view_of(c, t, &v);
        rc = view_count(&v, pdp, s, ret);
        if (rc == CHORUS_ERR_NOTFOUND) {
            *ret = 0;
            rc = CHORUS_OK;
        }
    }
    dpath_done(&dp);
    return rc;
}

enum chorus_err
txn_cursor(struct core *c, struct txn *t, const char *path, const char *after, uint32_t max,
           char **ret_text, char **ret_last, struct cerr **e)
{
    const struct lysc_node *s = NULL;
    struct dpath dp = {0}, *pdp = NULL;
    struct view v;
    struct lyd_node *tree = NULL, *node = NULL, *x = NULL, *out = NULL, *oparent = NULL;
    struct lyd_node *lastn = NULL;
    bool owned = false;
    uint32_t n = 0;
    enum chorus_err rc = resolve_list(c, path, &dp, &pdp, &s, e);

    *ret_text = NULL;
    *ret_last = NULL;
    if (rc) {
        goto out;
    }
    view_of(c, t, &v);
    rc = view_get(&v, pdp, &tree, &node, &owned);
    if (rc == CHORUS_ERR_NOTFOUND) {
        rc = CHORUS_OK; /* no parent: no entries */
        goto print;
    }
    if (rc) {
        cerr_add(e, rc, path, NULL, "cannot read the datastore");
        goto out;
    }
    if (after) {
        struct lyd_node *a = NULL;

        if (lyd_find_path(tree, after, 0, &a) || !a || a->schema != s) {
            rc = cerr_add(e, CHORUS_ERR_NOTFOUND, after, "data-missing",
                          "the cursor's last entry no longer exists");
            goto out;
        }
        x = a->next;
    } else {
        /* instances of one schema node are adjacent among their siblings */
        for (x = pdp ? lyd_child(node) : tree; x && x->schema != s; x = x->next) {
        }
    }
    for (; x && x->schema == s && n < max; x = x->next, n++) {
        struct lyd_node *d = NULL;

        if (!oparent && !out) {
            if (lyd_dup_single(x, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS, &d)) {
                rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
                goto out;
            }
            oparent = lyd_parent(d);
            for (out = d; out->parent; out = lyd_parent(out)) {
            }
        } else if (lyd_dup_single(x, NULL, LYD_DUP_RECURSIVE, &d) ||
                   (oparent ? lyd_insert_child(oparent, d) : lyd_insert_sibling(out, d, &out))) {
            lyd_free_tree(d);
            rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            goto out;
        }
        lastn = x;
    }
    if (lastn && x && x->schema == s && !(*ret_last = lyu_path(lastn))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
print:
    if (out ? lyd_print_mem(ret_text, out, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)
            : !(*ret_text = strdup(""))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
out:
    if (rc) {
        free(*ret_text);
        free(*ret_last);
        *ret_text = *ret_last = NULL;
    }
    lyd_free_all(out);
    if (owned) {
        lyd_free_all(tree);
    }
    dpath_done(&dp);
    return rc;
}

/* ---- the commit sequence ---- */

static void
finish(struct txn *t, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    txn_done_cb cb = t->cb;
    void *arg = t->cb_arg;

    t->cb = NULL;
    if (cb) {
        cb(arg, rc, e, txid);
    }
    cerr_free(e);
}

static void do_prepare(struct core *c, struct txn *t);

static void
resume_waiter(void *arg)
{
    struct core *c = arg;
    struct txn *t = c->holder;

    if (t && t->state == TXN_WAITING) {
        do_prepare(c, t);
    }
}

/* Stage 8: the lock passes to the next waiter, who already counts as the holder (FIFO). */
static void
release_lock(struct core *c, struct txn *t)
{
    struct txn *next;

    if (c->holder != t) {
        return;
    }
    c->holder = NULL;
    next = c->waiters;
    if (next) {
        c->waiters = next->wnext;
        next->wnext = NULL;
        ev_timer_cancel(c->ev, next->timer);
        next->timer = NULL;
        c->holder = next;
        ev_timer(c->ev, 0, resume_waiter, c);
    }
}

static void
lock_timeout(void *arg)
{
    struct txn *t = arg;
    struct core *c = t->core;
    const struct txn *h = c->holder;
    struct cerr *e = NULL;

    t->timer = NULL;
    waiters_remove(c, t);
    t->state = TXN_OPEN;
    if (h) {
        cerr_add(&e, CHORUS_ERR_INUSE, NULL, "in-use",
                 "the commit lock is held by transaction %u of session %u (%s, %s) for longer "
                 "than commit/lock-timeout (%u ms)",
                 h->th, h->sess->id, h->sess->user, h->sess->context, c->cfg->lock_timeout_ms);
    } else {
        cerr_add(&e, CHORUS_ERR_INUSE, NULL, "in-use",
                 "the commit lock was not obtained within commit/lock-timeout (%u ms)",
                 c->cfg->lock_timeout_ms);
    }
    finish(t, CHORUS_ERR_INUSE, e, c->txid);
}

static enum chorus_err
validate_log(struct core *c, struct dlog *log, struct cerr **e)
{
    return c->cfg->validation == CFG_VAL_FULL ? val_full(c->val, log, e)
                                              : val_incremental(c->val, log, e);
}

/* libyang names a missing mandatory node by its schema path only: name the first instance of
 * its parent that lacks it instead (the operator must find the data). */
static void
mandatory_instance(const struct lyd_node *tree, struct cerr *e)
{
    for (; e; e = e->next) {
        const char *slash = e->path ? strrchr(e->path, '/') : NULL;
        struct ly_set *set = NULL;
        char *xp = NULL, *p;

        if (!slash || slash == e->path || strchr(e->path, '[') || !e->msg ||
            strncmp(e->msg, "Mandatory node", 14) ||
            asprintf(&xp, "%.*s[not(%s)]", (int)(slash - e->path), e->path, slash + 1) < 0) {
            continue;
        }
        if (!lyd_find_xpath(tree, xp, &set) && set->count &&
            (p = lyd_path(set->dnodes[0], LYD_PATH_STD, NULL, 0))) {
            free(e->path);
            e->path = p;
        }
        ly_set_free(set, NULL);
        ly_err_clean((struct ly_ctx *)LYD_CTX(tree), NULL);
        free(xp);
    }
}

/*
 * Stage 3 of a schema upgrade's init transaction (txn.h): libyang validates a copy of the whole
 * result; the copy (with its defaults) is kept for the commit.
 */
static enum chorus_err
validate_upgrade(struct core *c, struct txn *t, struct cerr **e)
{
    struct lyd_node *copy = NULL;
    enum chorus_err rc;

    lyd_free_all(t->upg_tree);
    t->upg_tree = NULL;
    if (c->running &&
        lyd_dup_siblings(c->running, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &copy)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    rc = val_tree(c->ctx, &copy, e);
    if (rc) {
        if (copy) {
            mandatory_instance(copy, *e);
        }
        lyd_free_all(copy);
        return rc;
    }
    t->upg_tree = copy;
    return CHORUS_OK;
}

static void prepare_fail(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);
static void after_hooks(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);
static void after_validators(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);
static void after_prepare_events(struct core *c, struct txn *t, enum chorus_err rc,
                                 struct cerr *e);

/* Stages 2-4. The caller holds the lock (c->holder == t). The change is applied first, so
 * that hooks see it in running; their writes are applied after each hook (sub.h). */
static void after_lock(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);

static void
do_prepare(struct core *c, struct txn *t)
{
    core_running(c, t);
    dl_init(&t->log, &c->running, val_hooks(), c->val);
    t->prep_t0 = now_ns();
    t->state = TXN_PREPARING;
    /* transaction callbacks (trans_lock) may still refuse */
    if (sub_stage(c, t, SS_LOCK, after_lock)) {
        return;
    }
    after_lock(c, t, CHORUS_OK, NULL);
}

static void
after_lock(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e0)
{
    struct cerr *e = NULL;

    if (!rc) {
        core_running(c, t);
        rc = ds_apply(&t->log, t->ed, &e);
        if (!rc && t->extra_ed) {
            rc = ds_apply(&t->log, t->extra_ed, &e);
        }
    } else {
        cerr_copy(&e, e0);
    }
    if (rc) {
        prepare_fail(c, t, rc, e);
        return;
    }
    /* 2. HOOKS */
    if (sub_stage(c, t, SS_HOOK, after_hooks)) {
        return;
    }
    after_hooks(c, t, CHORUS_OK, NULL);
}

static void
after_hooks(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e)
{
    struct log_tag tag = tag_of(t);

    t->prep_t1 = now_ns();
    if (rc) {
        struct cerr *copy = NULL;

        cerr_copy(&copy, e); /* e belongs to the caller */
        prepare_fail(c, t, rc, copy);
        return;
    }
    /* 3. VALIDATE */
    core_running(c, t);
    rc = t->upgrade ? validate_upgrade(c, t, &e) : validate_log(c, &t->log, &e);
    if (rc) {
        if (rc == CHORUS_ERR_INTERNAL) {
            LOG(LL_ERROR, &tag, "validation: %s", e && e->msg ? e->msg : "internal error");
        }
        prepare_fail(c, t, rc, e);
        return;
    }
    if (sub_stage(c, t, SS_VALIDATE, after_validators)) {
        return;
    }
    after_validators(c, t, CHORUS_OK, NULL);
}

static void
after_validators(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e0)
{
    struct cerr *e = NULL;
    struct rec_meta meta;
    struct log_tag tag = tag_of(t);

    t->prep_t2 = now_ns();
    if (rc) {
        cerr_copy(&e, e0);
        prepare_fail(c, t, rc, e);
        return;
    }
    if (t->validate_only) {
        /* txn_check(): valid; everything is undone */
        prepare_fail(c, t, CHORUS_OK, NULL);
        return;
    }
    /* 4. PREPARE */
    core_running(c, t);
    buf_reset(&t->record);
    meta = (struct rec_meta){t->sess->user, t->sess->context, t->sess->id, (uint64_t)time(NULL),
                             NULL,          t->flags};
    rc = rec_build(&t->log, &meta, &t->record, &t->nfwd, &e);
    if (rc) {
        prepare_fail(c, t, rc, e);
        return;
    }
    /* (bench/report.py reads this line) apply includes the hooks and their events, validate the
     * validation callbacks */
    LOG(LL_DEBUG, &tag,
        "prepare: apply %.3f ms (%zu log entries), validate %.3f ms, record %.3f ms (%zu bytes)",
        (t->prep_t1 - t->prep_t0) / 1e6, t->log.n, (t->prep_t2 - t->prep_t1) / 1e6,
        (now_ns() - t->prep_t2) / 1e6, t->record.len);
    if (t->nfwd && !t->commit_after_prepare) {
        rc = jnl_write_txn(c->jnl, c->txid + 1, &t->record, false, &e);
        if (rc) {
            LOG(LL_ERROR, &tag, "prepare: %s", e && e->msg ? e->msg : "journal error");
            prepare_fail(c, t, rc, e);
            return;
        }
        t->journaled = true;
    }
    if (t->nfwd && sub_stage(c, t, SS_PREPARE, after_prepare_events)) {
        return;
    }
    after_prepare_events(c, t, CHORUS_OK, NULL);
}

static void
after_prepare_events(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e0)
{
    struct cerr *e = NULL;

    if (rc) {
        cerr_copy(&e, e0);
        prepare_fail(c, t, rc, e);
        return;
    }
    t->state = TXN_PREPARED;
    if (t->commit_after_prepare) {
        txn_commit(c, t, t->cb, t->cb_arg);
        return;
    }
    finish(t, CHORUS_OK, NULL, c->txid);
}

/* Stages 2-4 failed (or txn_check() is done, @p rc CHORUS_OK): running is exactly as before,
 * the transaction open again. */
static void
prepare_fail(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e)
{
    core_running(c, t);
    dl_undo(&t->log, true);
    dl_done(&t->log);
    lyd_free_all(t->upg_tree);
    t->upg_tree = NULL;
    if (t->journaled) {
        (void)jnl_write_mark(c->jnl, c->txid + 1, false, NULL);
        t->journaled = false;
    }
    sub_txn_done(c, t);
    t->state = TXN_OPEN;
    t->commit_after_prepare = false;
    t->validate_only = false;
    release_lock(c, t);
    finish(t, rc, e, c->txid);
}

/* Stage 1 for running. */
static void
prepare_running(struct core *c, struct txn *t)
{
    struct cerr *e = NULL;
    enum chorus_err rc;

    if (!t->is_init && c->phase == 0) {
        cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL,
                 "start phase 0: nothing but the init "
                 "transaction commits before phase 1");
        finish(t, CHORUS_ERR_STATE, e, c->txid);
        return;
    }
    if (!t->is_init && !t->validate_only &&
        (rc = sess_may_write(c, t->sess, CHORUS_DB_RUNNING, &e))) {
        finish(t, rc, e, c->txid);
        return;
    }
    if (c->holder) {
        const struct txn *h = c->holder;

        if (!c->cfg->lock_timeout_ms) {
            cerr_add(&e, CHORUS_ERR_INUSE, NULL, "in-use",
                     "the commit lock is held by transaction %u of session %u (%s, %s)", h->th,
                     h->sess->id, h->sess->user, h->sess->context);
            finish(t, CHORUS_ERR_INUSE, e, c->txid);
            return;
        }
        t->state = TXN_WAITING;
        {
            struct txn **pp = &c->waiters;

            while (*pp) {
                pp = &(*pp)->wnext;
            }
            *pp = t;
        }
        t->timer = ev_timer(c->ev, c->cfg->lock_timeout_ms, lock_timeout, t);
        return;
    }
    c->holder = t;
    do_prepare(c, t);
}

/* Write the startup datastore's file durably. */
static enum chorus_err
startup_write(struct core *c, const struct lyd_node *tree, struct cerr **e)
{
    char *json = NULL, *path = NULL, *tmp = NULL;
    enum chorus_err rc = CHORUS_OK;
    int fd, r;

    if ((tree &&
         lyd_print_mem(&json, tree, LYD_JSON,
                       LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_ALL_TAG | LYD_PRINT_KEEPEMPTYCONT)) ||
        !(path = path_join(c->cfg->db_dir, "startup.json")) || asprintf(&tmp, "%s.tmp", path) < 0) {
        tmp = NULL;
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    r = fd < 0 ? -errno : fault_write(fd, json ? json : "", json ? strlen(json) : 0);
    if (!r) {
        r = fault_sync(fd);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (!r) {
        r = fault_rename(tmp, path);
    }
    if (!r) {
        r = fsync_dir(c->cfg->db_dir);
    }
    if (r) {
        unlink(tmp);
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s: cannot write the startup datastore: %s",
                      path, strerror(-r));
    }
out:
    free(json);
    free(path);
    free(tmp);
    return rc;
}

/*
 * Startup: the change is applied to a copy of the startup tree (its nodes move there, and back
 * on failure) and validated there like running (incremental, with indexes of its own), then
 * written durably; the copy becomes the startup datastore.
 */
static enum chorus_err
startup_commit(struct core *c, struct txn *t, bool write, struct cerr **e)
{
    struct lyd_node *copy = NULL;
    struct val *sv = val_clone(c->val);
    struct dlog log;
    enum chorus_err rc;

    if (!sv || (c->startup && lyd_dup_siblings(c->startup, NULL,
                                               LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &copy))) {
        val_free(sv);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (!copy && (rc = val_tree(c->ctx, &copy, e))) {
        /* an empty startup datastore has its implicit defaults, like running */
        val_free(sv);
        return rc;
    }
    dl_init(&log, &copy, val_hooks(), sv);
    rc = ds_apply(&log, t->ed, e);
    if (!rc) {
        rc = c->cfg->validation == CFG_VAL_FULL ? val_full(sv, &log, e)
                                                : val_incremental(sv, &log, e);
    }
    if (!rc && write) {
        rc = startup_write(c, copy, e);
    }
    if (rc || !write) {
        dl_undo(&log, true); /* the change set is whole again */
        lyd_free_all(copy);
    } else {
        dl_commit(&log);
        lyd_free_all(c->startup);
        c->startup = copy;
    }
    dl_done(&log);
    val_free(sv);
    return rc;
}

void
txn_prepare(struct core *c, struct txn *t, txn_done_cb done, void *arg)
{
    struct cerr *e = NULL;
    enum chorus_err rc;

    t->cb = done;
    t->cb_arg = arg;
    if (!t->rw || t->state != TXN_OPEN) {
        cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL,
                 t->rw ? "the transaction is %s" : "the transaction is read-only%s",
                 t->rw ? state_name(t->state) : "");
        finish(t, CHORUS_ERR_STATE, e, c->txid);
        return;
    }
    switch (t->db) {
    case CHORUS_DB_RUNNING:
        prepare_running(c, t);
        return;
    case CHORUS_DB_CANDIDATE:
    case CHORUS_DB_STARTUP:
        rc = txn_validate(c, t, &e);
        if (!rc) {
            t->state = TXN_PREPARED;
        }
        finish(t, rc, e, c->txid);
        return;
    case CHORUS_DB_OPERATIONAL:
        t->state = TXN_PREPARED;
        finish(t, CHORUS_OK, NULL, c->txid);
        return;
    }
}

static void after_notify(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e);
static void cc_keep_record(struct core *c, const struct buf *rec);

/* Stages 6-8 of running. */
static void
commit_running(struct core *c, struct txn *t)
{
    struct cerr *e = NULL;
    enum chorus_err rc;
    struct log_tag tag;

    core_running(c, t);
    if (t->nfwd || t->upgrade) {
        uint64_t txid = c->txid + 1, t0 = now_ns();

        /* 6. COMMIT */
        rc = t->upgrade     ? core_upgrade_commit(c, t->upg_tree, txid, &e)
             : t->journaled ? jnl_write_mark(c->jnl, txid, true, &e)
                            : jnl_write_txn(c->jnl, txid, &t->record, true, &e);
        LOG(LL_DEBUG, (&(struct log_tag){t->sess->id, t->sess->user, t->sess->context, txid}),
            "commit: journal %.3f ms", (now_ns() - t0) / 1e6);
        if (rc) {
            tag = tag_of(t);
            LOG(LL_ERROR, &tag, "commit failed, the change is undone: %s",
                e && e->msg ? e->msg : "journal error");
            dl_undo(&t->log, true);
            dl_done(&t->log);
            lyd_free_all(t->upg_tree);
            t->upg_tree = NULL;
            if (t->journaled) {
                (void)jnl_write_mark(c->jnl, txid, false, NULL);
            }
            sub_txn_cancel(c, t); /* the subscribers that saw PREPARE */
            sub_txn_done(c, t);
            t->state = TXN_OPEN;
            t->journaled = false;
            release_lock(c, t);
            finish(t, rc, e, c->txid);
            return;
        }
        c->txid = txid;
        t->txid = txid;
        if ((sub_count(c, CHORUS_SUB_CONFIG) ||
             (c->commit_hook_wants && c->commit_hook_wants(c->commit_hook_arg))) &&
            (!t->st || !sub_txn_has_diff(t)) && sub_txn_diff(c, t, &e)) {
            tag = tag_of(t);
            LOG(LL_ERROR, &tag, "no COMMIT events: %s", e && e->msg ? e->msg : "");
            cerr_free(e);
            e = NULL;
        }
        dl_commit(&t->log);
        tag = tag_of(t);
        LOG(LL_INFO, &tag, "commit: %zu change%s%s", t->nfwd, t->nfwd == 1 ? "" : "s",
            t->upgrade                    ? " (init transaction, schema upgrade)"
            : t->is_init                  ? " (init transaction)"
            : (t->flags & REC_F_ROLLBACK) ? " (rollback)"
                                          : "");
        if (c->cc.active && !(t->flags & REC_F_REVERT)) {
            cc_keep_record(c, &t->record);
        }
        /* written once the reply is on its way (core_rb_flush) */
        if (c->rb && t->nfwd && (rc = rb_write_later(c->rb, txid, &t->record, &e))) {
            LOG(LL_WARN, &tag, "rollback file not written: %s", e && e->msg ? e->msg : "");
            cerr_free(e);
            e = NULL;
        }
    } else {
        dl_commit(&t->log);
        tag = tag_of(t);
        LOG(LL_DEBUG, &tag, "commit: no changes");
    }
    dl_done(&t->log);
    buf_free(&t->record);
    if (t->upgrade) {
        /* the validated copy, with its defaults, becomes running (txn.h) */
        lyd_free_all(c->running);
        c->running = t->upg_tree;
        t->upg_tree = NULL;
        val_reset(c->val);
    }
    if (t->ed != c->cand) {
        ed_clear(t->ed); /* what was not moved into running: paths, deletions */
    }
    t->state = TXN_COMMITTED;
    /* 7. NOTIFY */
    if (t->nfwd && sub_stage(c, t, SS_COMMIT, after_notify)) {
        return;
    }
    after_notify(c, t, CHORUS_OK, NULL);
}

/* Stage 8 of running. */
static void
after_notify(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e)
{
    (void)rc;
    (void)e; /* subscribers' errors after the point of no return are logged by sub.c */
    if (t->nfwd && c->commit_hook) {
        c->commit_hook(c->commit_hook_arg, t);
    }
    sub_txn_done(c, t);
    release_lock(c, t);
    finish(t, CHORUS_OK, NULL, t->txid);
    core_rb_flush_soon(c);
    core_maybe_compact(c);
}

void
txn_commit(struct core *c, struct txn *t, txn_done_cb done, void *arg)
{
    struct cerr *e = NULL;
    enum chorus_err rc = CHORUS_OK;

    t->cb = done;
    t->cb_arg = arg;
    t->commit_after_prepare = false;
    if (t->state != TXN_PREPARED) {
        cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL, "the transaction is %s, not prepared",
                 state_name(t->state));
        finish(t, CHORUS_ERR_STATE, e, c->txid);
        return;
    }
    switch (t->db) {
    case CHORUS_DB_RUNNING:
        commit_running(c, t);
        return;
    case CHORUS_DB_CANDIDATE:
        rc = sess_may_write(c, t->sess, CHORUS_DB_CANDIDATE, &e);
        if (!rc) {
            rc = ed_compose(c->cand, t->ed, &e);
            c->cand_writer = t->sess->id;
        }
        break;
    case CHORUS_DB_STARTUP:
        rc = startup_commit(c, t, true, &e);
        break;
    case CHORUS_DB_OPERATIONAL:
        /* no transactions or locks here (as in ConfD): published at once */
        rc = ed_compose(c->oper, t->ed, &e);
        break;
    }
    t->state = rc ? TXN_OPEN : TXN_COMMITTED;
    finish(t, rc, e, c->txid);
}

void
txn_apply(struct core *c, struct txn *t, txn_done_cb done, void *arg)
{
    if (!t->rw || t->state != TXN_OPEN) {
        txn_prepare(c, t, done, arg); /* reports the state */
        return;
    }
    if (t->db == CHORUS_DB_RUNNING) {
        t->commit_after_prepare = true;
        txn_prepare(c, t, done, arg);
        return;
    }
    /* the candidate takes unvalidated changes (as NETCONF edit-config does); startup is
     * validated in its commit; operational is merged */
    t->state = TXN_PREPARED;
    txn_commit(c, t, done, arg);
}

void
txn_abort(struct core *c, struct txn *t)
{
    struct log_tag tag = tag_of(t);

    switch (t->state) {
    case TXN_WAITING:
        waiters_remove(c, t);
        if (c->holder == t) {
            release_lock(c, t);
        }
        break;
    case TXN_PREPARING:
    case TXN_PREPARED:
        if (t->db == CHORUS_DB_RUNNING && c->holder == t) {
            sub_txn_cancel(c, t);
            core_running(c, t);
            dl_undo(&t->log, true);
            dl_done(&t->log);
            sub_txn_done(c, t);
            if (t->journaled) {
                (void)jnl_write_mark(c->jnl, c->txid + 1, false, NULL);
                t->journaled = false;
            }
            LOG(LL_INFO, &tag, "%s transaction aborted",
                t->state == TXN_PREPARED ? "prepared" : "preparing");
            release_lock(c, t);
        }
        break;
    case TXN_COMMITTED:
        if (c->holder == t) {
            /* gone while subscribers are notified: they still are, nobody waits */
            sub_txn_done(c, t);
            release_lock(c, t);
        }
        break;
    default:
        break;
    }
    if (t->state != TXN_COMMITTED) {
        t->state = TXN_ABORTED;
    }
    if (t->ed && t->ed != c->cand) {
        ed_clear(t->ed);
    }
}

enum chorus_err
txn_validate(struct core *c, struct txn *t, struct cerr **e)
{
    struct dlog log;
    enum chorus_err rc;

    if (!t->rw || t->state != TXN_OPEN) {
        return cerr_add(e, CHORUS_ERR_STATE, NULL, NULL, "the transaction is %s",
                        t->rw ? state_name(t->state) : "read-only");
    }
    switch (t->db) {
    case CHORUS_DB_RUNNING:
    case CHORUS_DB_CANDIDATE:
        core_running(c, t);
        dl_init(&log, &c->running, val_hooks(), c->val);
        rc = CHORUS_OK;
        if (t->db == CHORUS_DB_CANDIDATE) {
            rc = ds_apply(&log, c->cand, e);
        }
        if (!rc) {
            rc = ds_apply(&log, t->ed, e);
        }
        if (!rc) {
            rc = validate_log(c, &log, e);
        }
        dl_undo(&log, true);
        dl_done(&log);
        return rc;
    case CHORUS_DB_STARTUP:
        return startup_commit(c, t, false, e);
    case CHORUS_DB_OPERATIONAL:
        return CHORUS_OK;
    }
    return CHORUS_OK;
}

/* ---- candidate and rollback: internal transactions ---- */

struct internal {
    struct core *c;
    struct txn *t;
    txn_done_cb done;
    void *arg;
    bool candidate;
};

static void
internal_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct internal *in = arg;
    struct cerr *copy = NULL;

    if (!rc && in->candidate) {
        ed_clear(in->c->cand);
        in->c->cand_writer = 0;
    }
    /* the callee frees e after we return: hand a copy to our caller */
    cerr_copy(&copy, e);
    in->t->cb = NULL;
    txn_free(in->c, in->t);
    if (in->done) {
        in->done(in->arg, rc, copy, txid);
    }
    cerr_free(copy);
    free(in);
}

static struct internal *
internal_new(struct core *c, struct sess *s, txn_done_cb done, void *arg, struct cerr **e)
{
    struct internal *in = calloc(1, sizeof *in);

    if (!in || txn_alloc(c, s, CHORUS_DB_RUNNING, true, &in->t, e)) {
        free(in);
        if (e && !*e) {
            cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        return NULL;
    }
    in->c = c;
    in->done = done;
    in->arg = arg;
    return in;
}

void
txn_candidate_commit(struct core *c, struct sess *s, txn_done_cb done, void *arg)
{
    struct cerr *e = NULL;
    struct internal *in;
    enum chorus_err rc = CHORUS_OK;

    if (!c->cand) {
        rc = cerr_add(&e, CHORUS_ERR_UNSUPPORTED, NULL, NULL, "the candidate is not enabled");
    } else if (c->phase == 0) {
        rc = cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL, "start phase 0: no commits yet");
    } else if (!(rc = sess_may_write(c, s, CHORUS_DB_CANDIDATE, &e))) {
        rc = sess_may_write(c, s, CHORUS_DB_RUNNING, &e);
    }
    if (rc || !(in = internal_new(c, s, done, arg, &e))) {
        done(arg, rc ? rc : CHORUS_ERR_NOMEM, e, c->txid);
        cerr_free(e);
        return;
    }
    in->candidate = true;
    ed_free(in->t->ed);
    in->t->ed = c->cand; /* borrowed: moved into running, given back on failure */
    txn_apply(c, in->t, internal_done, in);
}

enum chorus_err
txn_candidate_discard(struct core *c, struct sess *s, struct cerr **e)
{
    enum chorus_err rc;

    if (!c->cand) {
        return cerr_add(e, CHORUS_ERR_UNSUPPORTED, NULL, NULL, "the candidate is not enabled");
    }
    rc = sess_may_write(c, s, CHORUS_DB_CANDIDATE, e);
    if (rc) {
        return rc;
    }
    ed_clear(c->cand);
    c->cand_writer = 0;
    return CHORUS_OK;
}

void
txn_rollback_apply(struct core *c, struct sess *s, uint32_t index, bool selective, txn_done_cb done,
                   void *arg)
{
    struct cerr *e = NULL;
    struct internal *in = NULL;
    enum chorus_err rc = CHORUS_OK;

    if (!c->rb) {
        rc = cerr_add(&e, CHORUS_ERR_UNSUPPORTED, NULL, NULL,
                      "rollback files are disabled (rollback/enabled)");
    } else if (c->phase == 0) {
        rc = cerr_add(&e, CHORUS_ERR_STATE, NULL, NULL, "start phase 0: no commits yet");
    } else if (!(in = internal_new(c, s, done, arg, &e))) {
        rc = CHORUS_ERR_NOMEM;
    }
    for (uint32_t k = selective ? index : 0; !rc && k <= index; k++) {
        uint8_t *p = NULL;
        size_t len;
        uint64_t txid;
        struct rec_view v;

        rc = rb_load(c->rb, k, &p, &len, &txid, &e);
        if (!rc) {
            rc = rec_parse(p, len, &v, &e);
        }
        if (!rc) {
            core_running(c, in->t);
            rc = rec_to_edit(c->ctx, v.inv, v.inv_len, v.ninv, c->running, in->t->ed, &e);
        }
        if (rc) {
            cerr_prefix(e, "rollback %u", k);
        }
        free(p);
    }
    if (rc) {
        if (in) {
            txn_free(c, in->t);
            free(in);
        }
        done(arg, rc, e, c->txid);
        cerr_free(e);
        return;
    }
    in->t->flags = REC_F_ROLLBACK;
    txn_apply(c, in->t, internal_done, in);
}

/* ---- confirmed commit ---- */

static void
cc_keep_record(struct core *c, const struct buf *rec)
{
    struct buf *nr = realloc(c->cc.recs, (c->cc.nrecs + 1) * sizeof *nr);

    if (!nr) {
        LOGE("confirmed commit: out of memory keeping a record; a revert will be partial");
        return;
    }
    c->cc.recs = nr;
    c->cc.recs[c->cc.nrecs] = (struct buf)BUF_INIT;
    buf_append(&c->cc.recs[c->cc.nrecs], rec->p, rec->len);
    c->cc.nrecs++;
}

void
txn_cc_free(struct core *c)
{
    if (c->cc.timer) {
        ev_timer_cancel(c->ev, c->cc.timer);
    }
    for (size_t i = 0; i < c->cc.nrecs; i++) {
        buf_free(&c->cc.recs[i]);
    }
    free(c->cc.recs);
    free(c->cc.persist);
    memset(&c->cc, 0, sizeof c->cc);
}

/* May session @p s (with @p persist_id) act on the pending confirmed commit? */
static enum chorus_err
cc_authorized(struct core *c, const struct sess *s, const char *persist_id, struct cerr **e)
{
    if (c->cc.persist) {
        if (!persist_id || strcmp(persist_id, c->cc.persist)) {
            return cerr_add(e, CHORUS_ERR_INVAL, NULL, "invalid-value",
                            persist_id ? "persist-id \"%s\" does not match the pending confirmed "
                                         "commit"
                                       : "%sthe pending confirmed commit was given a persist "
                                         "token: give it as persist-id",
                            persist_id ? persist_id : "");
        }
        return CHORUS_OK;
    }
    if (persist_id) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, "invalid-value",
                        "persist-id given, but the pending confirmed commit has no persist token");
    }
    if (s->id != c->cc.owner) {
        return cerr_add(e, CHORUS_ERR_INUSE, NULL, "in-use",
                        "a confirmed commit of session %u is pending; only that session can "
                        "confirm or cancel it",
                        c->cc.owner);
    }
    return CHORUS_OK;
}

struct cc_revert {
    struct core *c;
    txn_done_cb done;
    void *arg;
    uint64_t base_txid;
    char why[96];
};

static void
revert_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct cc_revert *rv = arg;
    struct core *c = rv->c;

    if (rc) {
        LOGE("confirmed commit: the revert (%s) failed: %s", rv->why,
             e && e->msg ? e->msg : chorus_strerror(rc));
    } else {
        LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, txid}),
            "confirmed commit reverted (%s): running is back to transaction %llu's data",
            rv->why, (unsigned long long)rv->base_txid);
    }
    (void)c;
    if (rv->done) {
        rv->done(rv->arg, rc, e, txid);
    }
    free(rv);
}

/* Undo every commit of the period, newest first, as one transaction of the daemon. */
static void
cc_revert(struct core *c, const char *why, txn_done_cb done, void *arg)
{
    struct cc_revert *rv = calloc(1, sizeof *rv);
    struct internal *in = NULL;
    struct cerr *e = NULL;
    enum chorus_err rc = CHORUS_OK;

    if (c->cc.timer) {
        ev_timer_cancel(c->ev, c->cc.timer);
        c->cc.timer = NULL;
    }
    if (!rv || !(in = internal_new(c, c->sys, revert_done, rv, &e))) {
        free(rv);
        LOGE("confirmed commit: cannot revert: out of memory");
        if (done) {
            done(arg, CHORUS_ERR_NOMEM, e, c->txid);
        }
        cerr_free(e);
        return;
    }
    rv->c = c;
    rv->done = done;
    rv->arg = arg;
    snprintf(rv->why, sizeof rv->why, "%s", why);
    for (size_t k = c->cc.nrecs; !rc && k > 0; k--) {
        struct rec_view v;

        rc = rec_parse(c->cc.recs[k - 1].p, c->cc.recs[k - 1].len, &v, &e);
        if (!rc) {
            core_running(c, in->t);
            rc = rec_to_edit(c->ctx, v.inv, v.inv_len, v.ninv, c->running, in->t->ed, &e);
        }
    }
    if (rc) {
        LOGE("confirmed commit: cannot revert: %s", e && e->msg ? e->msg : "");
        txn_free(c, in->t);
        free(in);
        revert_done(rv, rc, e, c->txid);
        cerr_free(e);
        return;
    }
    in->t->flags = REC_F_REVERT;
    /* The period is over now: the revert is queued for the commit lock ahead of anything that
     * comes after, so a new confirmed commit may start at once. */
    rv->base_txid = c->cc.base_txid;
    txn_cc_free(c);
    txn_apply(c, in->t, internal_done, in);
}

static void
cc_timeout(void *arg)
{
    struct core *c = arg;

    c->cc.timer = NULL;
    LOGI("confirmed commit: not confirmed in time; reverting");
    cc_revert(c, "confirm-timeout expired", NULL, NULL);
}

struct cc_req {
    struct core *c;
    txn_done_cb done;
    void *arg;
    uint32_t timeout_s;
    bool started; /* this commit started the period */
    bool confirming;
};

static void
cc_commit_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct cc_req *q = arg;
    struct core *c = q->c;

    if (q->confirming) {
        if (!rc && c->cc.active) {
            LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, txid}), "confirmed commit confirmed");
            txn_cc_free(c);
        }
    } else if (rc) {
        if (q->started) {
            txn_cc_free(c); /* nothing was committed under it */
        }
    } else {
        if (c->cc.timer) {
            ev_timer_cancel(c->ev, c->cc.timer);
        }
        c->cc.timer = ev_timer(c->ev, (uint64_t)q->timeout_s * 1000, cc_timeout, c);
        LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, txid}),
            "confirmed commit: to be confirmed within %u s%s", q->timeout_s,
            c->cc.persist ? " (persist)" : "");
    }
    q->done(q->arg, rc, e, txid);
    free(q);
}

void
txn_confirmed_commit(struct core *c, struct sess *s, uint32_t timeout_s, const char *persist,
                     const char *persist_id, txn_done_cb done, void *arg)
{
    struct cerr *e = NULL;
    struct cc_req *q;
    enum chorus_err rc = CHORUS_OK;

    if (!timeout_s) {
        rc = cerr_add(&e, CHORUS_ERR_INVAL, NULL, "invalid-value",
                      "confirm-timeout must be at least 1 second");
    } else if (!c->cfg->confirmed_commit) {
        rc = cerr_add(&e, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                      "confirmed commit is disabled (datastores/confirmed-commit/enabled)");
    } else if (!c->cand) {
        rc = cerr_add(&e, CHORUS_ERR_UNSUPPORTED, NULL, NULL, "the candidate is not enabled");
    } else if (c->cc.reverting) {
        rc = cerr_add(&e, CHORUS_ERR_INUSE, NULL, "in-use",
                      "the pending confirmed commit is being reverted");
    } else if (c->cc.active) {
        rc = cc_authorized(c, s, persist_id, &e);
    } else if (persist_id) {
        rc = cerr_add(&e, CHORUS_ERR_INVAL, NULL, "invalid-value",
                      "persist-id given, but no confirmed commit is pending");
    }
    if (rc || !(q = calloc(1, sizeof *q))) {
        done(arg, rc ? rc : CHORUS_ERR_NOMEM, e, c->txid);
        cerr_free(e);
        return;
    }
    q->c = c;
    q->done = done;
    q->arg = arg;
    q->timeout_s = timeout_s;
    if (!c->cc.active) {
        c->cc.active = true;
        c->cc.owner = s->id;
        c->cc.base_txid = c->txid;
        q->started = true;
    }
    if (persist) {
        free(c->cc.persist);
        c->cc.persist = strdup(persist);
    }
    txn_candidate_commit(c, s, cc_commit_done, q);
}

void
txn_confirming_commit(struct core *c, struct sess *s, const char *persist_id, txn_done_cb done,
                      void *arg)
{
    struct cerr *e = NULL;
    struct cc_req *q;
    enum chorus_err rc = CHORUS_OK;

    if (c->cc.active && !c->cc.reverting) {
        rc = cc_authorized(c, s, persist_id, &e);
        if (rc && !persist_id && !c->cc.persist) {
            /* another session's plain commit: allowed, it does not confirm */
            cerr_free(e);
            e = NULL;
            txn_candidate_commit(c, s, done, arg);
            return;
        }
    } else if (persist_id) {
        rc = cerr_add(&e, CHORUS_ERR_INVAL, NULL, "invalid-value",
                      "persist-id given, but no confirmed commit is pending");
    }
    if (rc) {
        done(arg, rc, e, c->txid);
        cerr_free(e);
        return;
    }
    if (!c->cc.active) {
        txn_candidate_commit(c, s, done, arg);
        return;
    }
    if (!(q = calloc(1, sizeof *q))) {
        done(arg, CHORUS_ERR_NOMEM, NULL, c->txid);
        return;
    }
    q->c = c;
    q->done = done;
    q->arg = arg;
    q->confirming = true;
    txn_candidate_commit(c, s, cc_commit_done, q);
}

void
txn_cancel_commit(struct core *c, struct sess *s, const char *persist_id, txn_done_cb done,
                  void *arg)
{
    struct cerr *e = NULL;
    enum chorus_err rc;

    if (!c->cc.active || c->cc.reverting) {
        rc = cerr_add(&e, CHORUS_ERR_STATE, NULL, "operation-failed",
                      "no confirmed commit is pending");
    } else {
        rc = cc_authorized(c, s, persist_id, &e);
    }
    if (rc) {
        done(arg, rc, e, c->txid);
        cerr_free(e);
        return;
    }
    /* The answer does not wait for the revert's commit (which may wait for the commit lock and
     * subscribers): the requester may be gone by then. Without either it is already done. */
    cc_revert(c, "cancel-commit", NULL, NULL);
    done(arg, CHORUS_OK, NULL, c->txid);
}

void
txn_cc_session_end(struct core *c, const struct sess *s)
{
    if (c->cc.active && !c->cc.reverting && !c->cc.persist && c->cc.owner == s->id &&
        !c->stopping) {
        LOG(LL_INFO, (&(struct log_tag){s->id, s->user, s->context, 0}),
            "confirmed commit: its session ended before confirming; reverting");
        cc_revert(c, "the session that made it ended", NULL, NULL);
    }
}

/* ---- validate with the applications ---- */

void
txn_check(struct core *c, struct txn *t, txn_done_cb done, void *arg)
{
    struct cerr *e = NULL;
    enum chorus_err rc;
    struct internal *in;

    if (!t->rw || t->state != TXN_OPEN ||
        (t->db != CHORUS_DB_RUNNING && t->db != CHORUS_DB_CANDIDATE) || t->is_init ||
        !(sub_count(c, CHORUS_SUB_HOOK) || sub_count(c, CHORUS_SUB_VALIDATE) ||
          sub_count(c, CHORUS_SUB_TRANS))) {
        rc = txn_validate(c, t, &e);
        done(arg, rc, e, c->txid);
        cerr_free(e);
        return;
    }
    if (t->db == CHORUS_DB_RUNNING) {
        t->cb = done;
        t->cb_arg = arg;
        t->validate_only = true;
        prepare_running(c, t);
        return;
    }
    /* the candidate: its changes, then the transaction's, over running */
    if (!(in = internal_new(c, t->sess, done, arg, &e))) {
        done(arg, CHORUS_ERR_NOMEM, e, c->txid);
        cerr_free(e);
        return;
    }
    ed_free(in->t->ed);
    in->t->ed = c->cand; /* borrowed: given back by the undo */
    in->t->extra_ed = t->ed;
    in->t->validate_only = true;
    in->t->cb = internal_done;
    in->t->cb_arg = in;
    prepare_running(c, in->t);
}

/* ---- trees, for the NETCONF server ---- */

enum chorus_err
txn_merge(struct core *c, struct txn *t, struct lyd_node *tree, struct cerr **e)
{
    enum chorus_err rc = writable(c, t, e);

    if (rc) {
        lyd_free_all(tree);
        return rc;
    }
    return ed_merge_tree(wed(t), tree, e);
}

enum chorus_err
txn_replace(struct core *c, struct txn *t, const char *path, struct lyd_node *content,
            struct cerr **e)
{
    struct dpath dp;
    enum chorus_err rc = writable(c, t, e);

    if (!rc) {
        rc = dpath_resolve(c->ctx, path, NULL, &dp, e);
        if (!rc) {
            rc = check_kind(t, dp.schema, path, e);
            if (!rc) {
                rc = ed_replace(wed(t), &dp, content, e);
                content = NULL;
            }
            dpath_done(&dp);
        }
    }
    lyd_free_tree(content);
    return rc;
}

enum chorus_err
txn_tree(struct core *c, struct txn *t, struct lyd_node **ret_tree, bool *ret_owned,
         struct cerr **e)
{
    struct view v;
    struct lyd_node *node = NULL;
    enum chorus_err rc;

    view_of(c, t, &v);
    rc = view_get(&v, NULL, ret_tree, &node, ret_owned);
    if (rc == CHORUS_ERR_NOTFOUND) {
        *ret_tree = NULL;
        *ret_owned = false;
        return CHORUS_OK;
    }
    return rc ? cerr_add(e, rc, NULL, NULL, "cannot read the datastore") : CHORUS_OK;
}
