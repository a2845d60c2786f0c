/* SPDX-License-Identifier: Apache-2.0 */
/* Registrations and events; see sub.h. */
#include "sub.h"

#include <stdlib.h>
#include <string.h>

#include "common/pmap.h"
#include "common/util.h"
#include "ds.h"
#include "rec.h"
#include "proto/proto.h"
#include "sess.h"
#include "txn.h"

struct sub {
    uint32_t id;
    enum chorus_sub_kind kind;
    char *path;                   /* as registered; NULL: everything */
    const struct lysc_node *snode; /* its schema node; NULL: everything */
    int32_t prio;
    uint32_t flags;
    void *owner;
    struct sub *next;
};

struct round;

/* One event waiting for its answer. */
struct pend {
    uint32_t evid;
    uint32_t subid;
    const struct lysc_node *snode; /* the registration's subtree (OPER answers are checked) */
    void *owner;
    bool answered;
    enum chorus_err rc;
    struct cerr *err;
    char *data; /* OPER/RPC answers */
    size_t dlen;
};

enum round_kind { RK_TXN, RK_OPER, RK_RPC, RK_NOTIFY };

struct round {
    struct subs *ss;
    enum round_kind rk;
    uint16_t ev;
    struct pend *p;
    size_t n, nleft;
    struct ev_timer *timer;
    struct txn *t; /* RK_TXN */
    /* RK_OPER / RK_RPC */
    void (*oper_done)(void *arg, enum chorus_err rc, struct cerr *e, struct lyd_node *data);
    sub_data_cb rpc_done;
    void *arg;
    struct round *next;
};

struct cached {
    uint32_t subid;
    char *text; /* "" when the subtree did not change */
};

/* Per-transaction state (t->st). */
struct sub_txn {
    enum sub_stage stage;
    sub_stage_cb cb;
    struct lyd_node *diff; /* the whole change, NULL if empty */
    bool diff_built;
    struct cached *cache; /* restricted diffs by registration */
    size_t ncache;
    uint32_t *ids; /* the stage's registrations in order */
    size_t nids, pos;
    uint32_t *prepared; /* saw PREPARE, in order */
    size_t nprep;
    struct round *round;
    struct ed **eds; /* hooks' writes applied to running (alive while the log is) */
    size_t neds;
    enum chorus_err abort_rc; /* PREPARE failed: the error reported once ABORT is done */
    struct cerr *abort_err;
};

struct subs {
    struct core *c;
    struct sub_transport tr;
    struct sub *list;
    unsigned n;
    uint32_t next_id, next_evid;
    struct round *rounds;
};

static const char *
ev_name(uint16_t ev)
{
    switch (ev) {
    case EV_PREPARE:
        return "PREPARE";
    case EV_COMMIT:
        return "COMMIT";
    case EV_ABORT:
        return "ABORT";
    case EV_HOOK:
        return "HOOK";
    case EV_VALIDATE:
        return "VALIDATE";
    case EV_OPER:
        return "OPER";
    case EV_RPC:
        return "RPC";
    case EV_TRANS_INIT:
        return "TRANS_INIT";
    case EV_TRANS_LOCK:
        return "TRANS_LOCK";
    case EV_TRANS_FINISH:
        return "TRANS_FINISH";
    case EV_LOCK:
        return "LOCK";
    case EV_UNLOCK:
        return "UNLOCK";
    }
    return "?";
}

static const char *
kind_name(enum chorus_sub_kind k)
{
    switch (k) {
    case CHORUS_SUB_CONFIG:
        return "subscription";
    case CHORUS_SUB_HOOK:
        return "transaction hook";
    case CHORUS_SUB_VALIDATE:
        return "validator";
    case CHORUS_SUB_OPER:
        return "data provider";
    case CHORUS_SUB_RPC:
        return "RPC handler";
    case CHORUS_SUB_TRANS:
        return "transaction callback";
    case CHORUS_SUB_DBLOCK:
        return "lock callback";
    }
    return "registration";
}

struct subs *
subs_new(struct core *c, const struct sub_transport *tr)
{
    struct subs *s = calloc(1, sizeof *s);

    if (s) {
        s->c = c;
        s->tr = *tr;
        s->next_id = 1;
        s->next_evid = 1;
    }
    return s;
}

static void
sub_free1(struct sub *s)
{
    free(s->path);
    free(s);
}

static void round_free(struct round *r);

void
subs_free(struct subs *s)
{
    if (!s) {
        return;
    }
    while (s->rounds) {
        struct round *r = s->rounds;

        s->rounds = r->next;
        round_free(r);
    }
    while (s->list) {
        struct sub *x = s->list;

        s->list = x->next;
        sub_free1(x);
    }
    free(s);
}

static struct sub *
sub_find(const struct subs *ss, uint32_t id)
{
    for (struct sub *s = ss->list; s; s = s->next) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

unsigned
sub_count(const struct core *c, int kind)
{
    unsigned n = 0;

    if (!c->subs) {
        return 0;
    }
    if (!kind) {
        return c->subs->n;
    }
    for (const struct sub *s = c->subs->list; s; s = s->next) {
        n += (int)s->kind == kind;
    }
    return n;
}

/* ---- registration ---- */

static const struct lysc_node *
schema_of(struct core *c, const char *path, enum chorus_sub_kind kind, struct cerr **e)
{
    const struct lysc_node *sn;

    if (kind == CHORUS_SUB_RPC) {
        sn = lys_find_path(c->ctx, NULL, path, 0);
        if (!sn) {
            sn = lys_find_path(c->ctx, NULL, path, 1);
        }
    } else {
        sn = lys_find_path(c->ctx, NULL, path, 0);
    }
    if (!sn) {
        cerr_add(e, CHORUS_ERR_BADPATH, path, NULL, "%s: no such schema node", path);
        return NULL;
    }
    switch (kind) {
    case CHORUS_SUB_RPC:
        if (!(sn->nodetype & (LYS_RPC | LYS_ACTION))) {
            cerr_add(e, CHORUS_ERR_BADPATH, path, NULL, "%s is not an RPC or action", path);
            return NULL;
        }
        break;
    case CHORUS_SUB_OPER:
        if (!(sn->flags & LYS_CONFIG_R)) {
            cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                     "%s is configuration: operational-data callbacks serve config false nodes",
                     path);
            return NULL;
        }
        break;
    default:
        if (sn->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF) || (sn->flags & LYS_CONFIG_R)) {
            cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                     "%s is not configuration: a %s watches config true nodes", path,
                     kind_name(kind));
            return NULL;
        }
    }
    return sn;
}

enum chorus_err
sub_add(struct core *c, void *owner, enum chorus_sub_kind kind, const char *path, int32_t prio,
        uint32_t flags, uint32_t *ret_id, struct cerr **e)
{
    struct subs *ss = c->subs;
    const struct lysc_node *sn = NULL;
    struct sub *s, **pp;

    if (kind < CHORUS_SUB_CONFIG || kind > CHORUS_SUB_DBLOCK) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "unknown registration kind %d", (int)kind);
    }
    if (flags & ~(uint32_t)(CHORUS_SUB_TWO_PHASE | CHORUS_SUB_NOT_OWN_USER) ||
        ((flags & CHORUS_SUB_TWO_PHASE) && kind != CHORUS_SUB_CONFIG) ||
        ((flags & CHORUS_SUB_NOT_OWN_USER) && kind != CHORUS_SUB_CONFIG &&
         kind != CHORUS_SUB_HOOK && kind != CHORUS_SUB_VALIDATE)) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL,
                        "unknown flags 0x%x (two-phase is for subscriptions only; not-own-user "
                        "for subscriptions, hooks and validators)",
                        flags);
    }
    if (path && !strcmp(path, "/")) {
        path = NULL;
    }
    if (path && (kind == CHORUS_SUB_TRANS || kind == CHORUS_SUB_DBLOCK)) {
        return cerr_add(e, CHORUS_ERR_INVAL, path, NULL, "a %s takes no path", kind_name(kind));
    }
    if (!path && (kind == CHORUS_SUB_RPC || kind == CHORUS_SUB_OPER)) {
        return cerr_add(e, CHORUS_ERR_BADPATH, NULL, NULL, "a %s needs a path", kind_name(kind));
    }
    if (path && !(sn = schema_of(c, path, kind, e))) {
        return CHORUS_ERR_BADPATH;
    }
    if (ss->n >= c->cfg->max_subscriptions) {
        return cerr_add(e, CHORUS_ERR_TOOBIG, NULL, NULL,
                        "too many registrations (ipc/max-subscriptions is %u)",
                        c->cfg->max_subscriptions);
    }
    if (kind == CHORUS_SUB_RPC) {
        for (s = ss->list; s; s = s->next) {
            if (s->kind == kind && s->snode == sn) {
                return cerr_add(e, CHORUS_ERR_EXISTS, path, NULL,
                                "%s already has a handler (%s)", path, ss->tr.name(s->owner));
            }
        }
    }
    s = calloc(1, sizeof *s);
    if (!s || (path && !(s->path = strdup(path)))) {
        free(s);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    s->id = ss->next_id++;
    s->kind = kind;
    s->snode = sn;
    s->prio = prio;
    s->flags = flags;
    s->owner = owner;
    for (pp = &ss->list; *pp; pp = &(*pp)->next) {
    }
    *pp = s;
    ss->n++;
    LOGD("%s %u registered by %s on %s (priority %d%s)", kind_name(kind), s->id,
         ss->tr.name(owner), path ? path : "/", prio,
         flags & CHORUS_SUB_TWO_PHASE ? ", two-phase" : "");
    *ret_id = s->id;
    return CHORUS_OK;
}

static void unlink_sub(struct subs *ss, struct sub *s);

enum chorus_err
sub_del(struct core *c, void *owner, uint32_t id, struct cerr **e)
{
    struct sub *s = sub_find(c->subs, id);

    if (!s || s->owner != owner) {
        return cerr_add(e, CHORUS_ERR_NOTFOUND, NULL, NULL,
                        "no registration %u on this connection", id);
    }
    unlink_sub(c->subs, s);
    return CHORUS_OK;
}

static void
unlink_sub(struct subs *ss, struct sub *s)
{
    for (struct sub **pp = &ss->list; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            ss->n--;
            sub_free1(s);
            return;
        }
    }
}

/* ---- the diff of a transaction ---- */

static int
set_op(struct lyd_node *n, const char *op)
{
    struct lyd_meta *m = lyd_find_meta(n->meta, NULL, "yang:operation");

    if (m) {
        lyd_free_meta_single(m);
    }
    return lyd_new_meta(LYD_CTX(n), n, NULL, "yang:operation", op, 0, NULL) ? -1 : 0;
}

struct dbuild {
    struct lyd_node *diff; /* first top-level node */
    struct pmap map;       /* tree node → its copy in the diff */
};

/* Link @p n (detached, in the diff's context) under @p parent (NULL: top level). */
static int
dlink(struct dbuild *b, struct lyd_node *parent, struct lyd_node *n)
{
    if (parent) {
        return lyd_insert_child(parent, n) ? -1 : 0;
    }
    return lyd_insert_sibling(b->diff, n, &b->diff) ? -1 : 0;
}

/* The copy in the diff of @p tn, an inner node of the tree (created with operation none). */
static struct lyd_node *
ensure(struct dbuild *b, struct lyd_node *tn)
{
    struct lyd_node *d, *dp = NULL, *found = NULL, *first;

    if (!tn) {
        return NULL;
    }
    if ((d = pmap_get(&b->map, tn))) {
        return d;
    }
    if (tn->parent) {
        dp = ensure(b, lyd_parent(tn));
        if (!dp) {
            return NULL;
        }
    } else if (lysc_data_parent(tn->schema)) {
        return NULL; /* detached (removed earlier in the log): not expressible */
    }
    first = dp ? lyd_child(dp) : b->diff;
    if (first && !lyd_find_sibling_first(first, tn, &found) && found) {
        d = found;
    } else {
        if (lyd_dup_single(tn, NULL, LYD_DUP_WITH_FLAGS, &d)) {
            return NULL;
        }
        if (set_op(d, "none") || dlink(b, dp, d)) {
            lyd_free_tree(d);
            return NULL;
        }
    }
    if (pmap_set(&b->map, tn, d)) {
        return NULL;
    }
    return d;
}

/* Add subtree @p tn (under tree parent @p tparent) with operation @p op. */
static int
add_subtree(struct dbuild *b, struct lyd_node *tparent, struct lyd_node *tn, const char *op)
{
    struct lyd_node *dp = NULL, *d, *found = NULL, *first;

    if (tparent && !(dp = ensure(b, tparent))) {
        return -1;
    }
    first = dp ? lyd_child(dp) : b->diff;
    if (first &&
        ((tn->schema->nodetype == LYS_LEAF)
             /* a leaf is one instance whatever its value (lyd_find_sibling_first() compares
              * values: a leaf deleted and set again would appear twice) */
             ? !lyd_find_sibling_val(first, tn->schema, NULL, 0, &found)
             : !lyd_find_sibling_first(first, tn, &found)) &&
        found) {
        /* the same node removed and inserted again (a replacement): the difference of the
         * two versions */
        struct lyd_meta *m = lyd_find_meta(found->meta, NULL, "yang:operation");
        const char *was = m ? lyd_get_meta_value(m) : "none";

        if (!strcmp(was, "delete") && !strcmp(op, "create")) {
            struct lyd_node *dd = NULL;

            if (found->schema->nodetype & LYD_NODE_TERM) {
                char *orig = strdup(lyd_get_value(found));
                int r = -1;

                if (orig && !lyd_dup_single(tn, NULL, LYD_DUP_WITH_FLAGS, &d)) {
                    lyd_free_tree(found);
                    r = (set_op(d, "replace") ||
                         lyd_new_meta(LYD_CTX(d), d, NULL, "yang:orig-value", orig, 0, NULL) ||
                         dlink(b, dp, d))
                            ? -1
                            : 0;
                }
                free(orig);
                return r;
            }
            /* inner node: found holds the old subtree (delete) */
            if (lyd_diff_tree(found, tn, 0, &dd)) {
                return -1;
            }
            lyd_free_tree(found);
            if (dd) {
                return dlink(b, dp, dd);
            }
            return 0;
        }
        return 0; /* other combinations do not occur in one log */
    }
    if (lyd_dup_single(tn, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &d)) {
        return -1;
    }
    if (set_op(d, op) || dlink(b, dp, d)) {
        lyd_free_tree(d);
        return -1;
    }
    return 0;
}

/*
 * Node @p old replaced by @p n under tree parent @p tparent (the log entry's: @p n may have been
 * replaced in turn later in the log, and be detached now). A leaf already in the diff (set
 * twice in one transaction: a confirmed commit's revert, then a hook) keeps one entry: its
 * first old value and its last new one, none if they are equal.
 */
static int
add_swap(struct dbuild *b, struct lyd_node *tparent, struct lyd_node *old, struct lyd_node *n)
{
    struct lyd_node *dp = NULL, *d = NULL, *found = NULL;

    if (n->schema->nodetype & LYD_NODE_TERM) {
        if (tparent && !(dp = ensure(b, tparent))) {
            return -1;
        }
        if (n->schema->nodetype == LYS_LEAF && (dp ? lyd_child(dp) : b->diff) &&
            !lyd_find_sibling_val(dp ? lyd_child(dp) : b->diff, n->schema, NULL, 0, &found) &&
            found) {
            struct lyd_meta *m = lyd_find_meta(found->meta, NULL, "yang:orig-value");
            struct lyd_meta *o = lyd_find_meta(found->meta, NULL, "yang:operation");
            const char *was = o ? lyd_get_meta_value(o) : "none";
            char *orig = m ? strdup(lyd_get_meta_value(m)) : NULL;
            bool create = !strcmp(was, "create");
            int r = -1;

            if (!orig && !strcmp(was, "delete")) {
                orig = strdup(lyd_get_value(found));
            }
            /* a leaf is never top-level in a diff of config data here: found has a parent */
            lyd_free_tree(found);
            if (create) {
                /* created earlier in this transaction: still a create, of the last value */
                if (!lyd_dup_single(n, NULL, LYD_DUP_WITH_FLAGS, &d) && !set_op(d, "create")) {
                    r = dlink(b, dp, d);
                }
            } else if (orig && !strcmp(orig, lyd_get_value(n))) {
                r = 0; /* back to where it was */
            } else if (orig && !lyd_dup_single(n, NULL, LYD_DUP_WITH_FLAGS, &d) &&
                       !set_op(d, "replace") &&
                       !lyd_new_meta(LYD_CTX(d), d, NULL, "yang:orig-value", orig, 0, NULL)) {
                r = dlink(b, dp, d);
            }
            free(orig);
            if (r) {
                lyd_free_tree(d);
            }
            return r;
        }
        if (!lyd_compare_single(old, n, 0)) {
            return 0; /* the same value (a default made explicit) */
        }
        if (lyd_dup_single(n, NULL, LYD_DUP_WITH_FLAGS, &d) || set_op(d, "replace") ||
            lyd_new_meta(LYD_CTX(d), d, NULL, "yang:orig-value", lyd_get_value(old), 0, NULL) ||
            dlink(b, dp, d)) {
            lyd_free_tree(d);
            return -1;
        }
        return 0;
    }
    if (lyd_diff_tree(old, n, 0, &d)) {
        return -1;
    }
    if (!d) {
        return 0;
    }
    if (tparent && !(dp = ensure(b, tparent))) {
        lyd_free_siblings(d);
        return -1;
    }
    return dlink(b, dp, d);
}

static struct sub_txn *st_of(struct txn *t);

const struct lyd_node *
sub_txn_get_diff(const struct txn *t)
{
    return t->st ? t->st->diff : NULL;
}

bool
sub_txn_has_diff(const struct txn *t)
{
    return t->st && t->st->diff_built;
}

enum chorus_err
sub_txn_diff(struct core *c, struct txn *t, struct cerr **e)
{
    struct sub_txn *st = st_of(t);
    struct dbuild b = {NULL, PMAP_INIT};
    bool *absorbed = NULL;
    int r = 0;

    (void)c;
    if (!st) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    lyd_free_siblings(st->diff);
    st->diff = NULL;
    for (size_t i = 0; i < st->ncache; i++) {
        free(st->cache[i].text);
    }
    st->ncache = 0;
    if (t->log.n && (!(absorbed = calloc(t->log.n, sizeof *absorbed)) ||
                     dl_absorbed(&t->log, absorbed))) {
        free(absorbed);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    for (size_t i = 0; !r && i < t->log.n; i++) {
        const struct dl_ent *en = &t->log.v[i];

        if (absorbed[i]) {
            continue;
        }
        switch (en->kind) {
        case DL_INSERT:
            if (!(en->node->flags & LYD_DEFAULT)) {
                r = add_subtree(&b, lyd_parent(en->node), en->node, "create");
            }
            break;
        case DL_REMOVE:
            if (!(en->node->flags & LYD_DEFAULT)) {
                r = add_subtree(&b, en->parent, en->node, "delete");
            }
            break;
        case DL_SWAP:
            r = add_swap(&b, en->parent, en->old, en->node);
            break;
        default: /* DL_MOVE: positions are not described (docs/api.md) */
            break;
        }
    }
    free(absorbed);
    pmap_free(&b.map);
    if (r) {
        lyd_free_siblings(b.diff);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot build the change's diff");
    }
    st->diff = b.diff;
    st->diff_built = true;
    return CHORUS_OK;
}

/* Copy @p n of the diff with its parents into @p out (merging parents already there). */
static int
copy_with_parents(struct lyd_node **out, struct pmap *map, struct lyd_node *n)
{
    struct lyd_node *dp = NULL, *d;

    if (n->parent) {
        struct lyd_node *p = lyd_parent(n);

        if (!(dp = pmap_get(map, p))) {
            /* copy the parent chain once */
            struct lyd_node *chain[64];
            size_t k = 0;
            struct lyd_node *up = NULL;

            for (struct lyd_node *q = p; q && k < 64; q = lyd_parent(q)) {
                if (pmap_get(map, q)) {
                    up = pmap_get(map, q);
                    break;
                }
                chain[k++] = q;
            }
            while (k--) {
                if (lyd_dup_single(chain[k], NULL, LYD_DUP_WITH_FLAGS, &d)) {
                    return -1;
                }
                if (up ? lyd_insert_child(up, d) : lyd_insert_sibling(*out, d, out)) {
                    lyd_free_tree(d);
                    return -1;
                }
                if (pmap_set(map, chain[k], d)) {
                    return -1;
                }
                up = d;
            }
            dp = up;
        }
    }
    if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &d)) {
        return -1;
    }
    if (dp ? lyd_insert_child(dp, d) : lyd_insert_sibling(*out, d, out)) {
        lyd_free_tree(d);
        return -1;
    }
    return 0;
}

static bool
has_ancestor_in(const struct ly_set *set, const struct lyd_node *n)
{
    for (const struct lyd_node *p = lyd_parent(n); p; p = lyd_parent(p)) {
        for (uint32_t i = 0; i < set->count; i++) {
            if (set->dnodes[i] == p) {
                return true;
            }
        }
    }
    return false;
}

/* The diff of @p t cut to registration @p s, as JSON text ("" if nothing changed there). */
static const char *
restricted(struct core *c, struct txn *t, const struct sub *s)
{
    struct sub_txn *st = t->st;
    struct ly_set *set = NULL;
    struct lyd_node *out = NULL;
    struct pmap map = PMAP_INIT;
    char *text = NULL;
    struct cached *nc;
    int r = 0;

    for (size_t i = 0; i < st->ncache; i++) {
        if (st->cache[i].subid == s->id) {
            return st->cache[i].text;
        }
    }
    if (!st->diff) {
        text = strdup("");
    } else if (!s->path) {
        if (lyd_print_mem(&text, st->diff, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)) {
            text = NULL;
        }
    } else if (lyd_find_xpath(st->diff, s->path, &set)) {
        text = strdup(""); /* e.g. a module the change does not touch */
    } else {
        for (uint32_t i = 0; !r && i < set->count; i++) {
            if (!has_ancestor_in(set, set->dnodes[i])) {
                r = copy_with_parents(&out, &map, set->dnodes[i]);
            }
        }
        if (!r && out) {
            if (lyd_print_mem(&text, out, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)) {
                text = NULL;
            }
        } else if (!r) {
            text = strdup("");
        }
        lyd_free_siblings(out);
        pmap_free(&map);
        ly_set_free(set, NULL);
    }
    if (!text) {
        return NULL;
    }
    nc = realloc(st->cache, (st->ncache + 1) * sizeof *st->cache);
    if (!nc) {
        free(text);
        return NULL;
    }
    st->cache = nc;
    st->cache[st->ncache].subid = s->id;
    st->cache[st->ncache].text = text;
    return st->cache[st->ncache++].text;
}

/* ---- rounds ---- */

static void
round_free(struct round *r)
{
    if (!r) {
        return;
    }
    if (r->timer) {
        ev_timer_cancel(r->ss->c->ev, r->timer);
    }
    for (size_t i = 0; i < r->n; i++) {
        cerr_free(r->p[i].err);
        free(r->p[i].data);
    }
    free(r->p);
    free(r);
}

static void
round_unlink(struct round *r)
{
    for (struct round **pp = &r->ss->rounds; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static void round_timeout(void *arg);

static struct round *
round_new(struct subs *ss, enum round_kind rk, uint16_t ev)
{
    struct round *r = calloc(1, sizeof *r);

    if (!r) {
        return NULL;
    }
    r->ss = ss;
    r->rk = rk;
    r->ev = ev;
    r->next = ss->rounds;
    ss->rounds = r;
    return r;
}

/* Send one event of round @p r to registration @p s; the body's common part is in @p body. */
static int
round_send(struct round *r, const struct sub *s, struct buf *body)
{
    struct subs *ss = r->ss;
    struct pend *np = realloc(r->p, (r->n + 1) * sizeof *r->p);
    uint32_t evid;

    if (!np) {
        return -1;
    }
    r->p = np;
    evid = ss->next_evid++;
    if (!ss->next_evid || ss->next_evid >= SUB_TH_EVENT) {
        ss->next_evid = 1;
    }
    r->p[r->n] = (struct pend){evid, s->id, s->snode, s->owner, false, CHORUS_OK, NULL, NULL, 0};
    r->n++;
    r->nleft++;
    proto_put_u32(body, T_SUBID, s->id);
    if (r->ev == EV_HOOK || r->ev == EV_VALIDATE) {
        proto_put_u32(body, T_TH, SUB_TH_EVENT | evid);
    }
    if (!buf_ok(body)) {
        return -1;
    }
    ss->tr.send(s->owner, r->ev, evid, body);
    return 0;
}

static void
round_arm(struct round *r)
{
    uint32_t ms = r->ss->c->cfg->subscriber_timeout_ms;

    if (ms && r->nleft) {
        r->timer = ev_timer(r->ss->c->ev, ms, round_timeout, r);
    }
}

static void round_complete(struct round *r);

static void
pend_answer(struct round *r, struct pend *p, enum chorus_err rc, struct cerr *e)
{
    p->answered = true;
    p->rc = rc;
    p->err = e;
    r->nleft--;
}

static void
round_timeout(void *arg)
{
    struct round *r = arg;
    struct subs *ss = r->ss;
    bool after = r->ev == EV_COMMIT || r->ev == EV_ABORT;

    if (r->rk == RK_NOTIFY) {
        r->timer = NULL;
        for (size_t i = 0; i < r->n; i++) {
            if (!r->p[i].answered) {
                pend_answer(r, &r->p[i], CHORUS_OK, NULL);
            }
        }
        round_complete(r);
        return;
    }
    void *kick[64];
    size_t nk = 0;

    r->timer = NULL;
    for (size_t i = 0; i < r->n; i++) {
        struct pend *p = &r->p[i];
        struct cerr *e = NULL;

        if (p->answered) {
            continue;
        }
        cerr_add(&e, CHORUS_ERR_TIMEOUT, NULL, NULL,
                 "%s did not answer the %s event of registration %u within "
                 "commit/subscriber-timeout (%u ms)",
                 ss->tr.name(p->owner), ev_name(r->ev), p->subid, ss->c->cfg->subscriber_timeout_ms);
        LOGW("%s", e->msg);
        if (after && nk < 64) {
            kick[nk++] = p->owner;
        }
        pend_answer(r, p, CHORUS_ERR_TIMEOUT, e);
    }
    for (size_t i = 0; i < nk; i++) {
        ss->tr.kick(kick[i]); /* its pending events are answered: nothing re-enters here */
    }
    round_complete(r);
}

/* ---- stages ---- */

static void stage_next(struct core *c, struct txn *t);

static struct sub_txn *
st_of(struct txn *t)
{
    if (!t->st) {
        t->st = calloc(1, sizeof *t->st);
    }
    return t->st;
}

static void
stage_end(struct core *c, struct txn *t, enum chorus_err rc, struct cerr *e)
{
    struct sub_txn *st = t->st;
    sub_stage_cb cb = st->cb;

    st->stage = SS_NONE;
    st->cb = NULL;
    free(st->ids);
    st->ids = NULL;
    st->nids = st->pos = 0;
    if (cb) {
        cb(c, t, rc, e);
    }
    cerr_free(e);
}

static void
txn_body(struct core *c, struct txn *t, uint16_t ev, struct buf *body)
{
    uint32_t fl = 0;

    proto_put_u64(body, T_TXID, ev == EV_COMMIT ? t->txid : c->txid + 1);
    proto_put_u32(body, T_USID, t->sess->id);
    proto_put_str(body, T_USER, t->sess->user);
    proto_put_str(body, T_CONTEXT, t->sess->context);
    if (t->flags & REC_F_ROLLBACK) {
        fl |= CHORUS_EVF_ROLLBACK;
    }
    if (t->flags & REC_F_REVERT) {
        fl |= CHORUS_EVF_REVERT;
    }
    if (t->is_init) {
        fl |= CHORUS_EVF_INIT;
    }
    if (t->upgrade) {
        fl |= CHORUS_EVF_UPGRADE;
    }
    proto_put_u32(body, T_FLAGS, fl);
}

static uint16_t
stage_ev(enum sub_stage s)
{
    switch (s) {
    case SS_HOOK:
        return EV_HOOK;
    case SS_VALIDATE:
        return EV_VALIDATE;
    case SS_PREPARE:
        return EV_PREPARE;
    case SS_COMMIT:
        return EV_COMMIT;
    case SS_ABORT:
        return EV_ABORT;
    case SS_LOCK:
        return EV_TRANS_LOCK;
    default:
        return 0;
    }
}

/* Send the next group of the stage; false if the stage has no group left. */
static bool
send_group(struct core *c, struct txn *t)
{
    struct sub_txn *st = t->st;
    struct subs *ss = c->subs;
    uint16_t ev = stage_ev(st->stage);

    while (st->pos < st->nids) {
        struct round *r = round_new(ss, RK_TXN, ev);
        size_t end = st->pos + 1;
        struct sub *first = sub_find(ss, st->ids[st->pos]);

        if (!r) {
            return false;
        }
        r->t = t;
        /* the group: one hook; all validators; one priority of subscribers */
        if (st->stage == SS_VALIDATE || st->stage == SS_LOCK) {
            end = st->nids;
        } else if (st->stage != SS_HOOK) {
            while (end < st->nids && first) {
                struct sub *o = sub_find(ss, st->ids[end]);

                if (o && o->prio != first->prio) {
                    break;
                }
                end++;
            }
        }
        if (st->stage == SS_HOOK) {
            struct cerr *e = NULL;

            /* a hook sees the change with the earlier hooks' writes */
            if (sub_txn_diff(c, t, &e)) {
                LOGE("hook stage: %s", e->msg);
                cerr_free(e);
            }
        }
        for (size_t i = st->pos; i < end; i++) {
            struct sub *s = sub_find(ss, st->ids[i]);
            const char *text;
            struct buf body = BUF_INIT;

            if (!s) {
                continue; /* gone */
            }
            if (st->stage == SS_LOCK) {
                txn_body(c, t, ev, &body);
                proto_put_u32(&body, T_DB, (uint32_t)t->db);
                proto_put_u32(&body, T_TH, t->th);
            } else {
                /* a schema upgrade reaches every hook and validator: their data may need
                 * migrating although nothing changed in the init transaction (txn.h) */
                if (!(text = restricted(c, t, s)) ||
                    (!*text &&
                     !(t->upgrade && (st->stage == SS_HOOK || st->stage == SS_VALIDATE)))) {
                    continue; /* its subtree did not change */
                }
                txn_body(c, t, ev, &body);
                if (*text) {
                    proto_put_data(&body, T_DATA, text, strlen(text));
                }
            }
            if (round_send(r, s, &body) == 0 && st->stage == SS_PREPARE) {
                uint32_t *np = realloc(st->prepared, (st->nprep + 1) * sizeof *np);

                if (np) {
                    st->prepared = np;
                    st->prepared[st->nprep++] = s->id;
                }
            }
            buf_free(&body);
        }
        st->pos = end;
        if (r->n) {
            if (st->stage == SS_HOOK) {
                t->hook_ed = ed_new(c->ctx);
            }
            st->round = r;
            round_arm(r);
            return true;
        }
        round_unlink(r);
        round_free(r);
    }
    return false;
}

/* Candidates of a stage, in priority then registration order. */
static int
collect(struct core *c, struct txn *t, enum sub_stage stage)
{
    struct sub_txn *st = t->st;
    size_t n = 0;

    free(st->ids);
    st->ids = NULL;
    st->nids = st->pos = 0;
    if (stage == SS_ABORT) {
        /* reverse order of PREPARE */
        if (!st->nprep) {
            return 0;
        }
        st->ids = malloc(st->nprep * sizeof *st->ids);
        if (!st->ids) {
            return -1;
        }
        for (size_t i = 0; i < st->nprep; i++) {
            st->ids[i] = st->prepared[st->nprep - 1 - i];
        }
        st->nids = st->nprep;
        return 0;
    }
    for (struct sub *s = c->subs->list; s; s = s->next) {
        n++;
    }
    if (!n) {
        return 0;
    }
    st->ids = malloc(n * sizeof *st->ids);
    if (!st->ids) {
        return -1;
    }
    /* insertion sort by priority: registrations are few */
    for (struct sub *s = c->subs->list; s; s = s->next) {
        bool want = false;
        size_t k;

        switch (stage) {
        case SS_LOCK:
            want = s->kind == CHORUS_SUB_TRANS;
            break;
        case SS_HOOK:
            want = s->kind == CHORUS_SUB_HOOK;
            break;
        case SS_VALIDATE:
            want = s->kind == CHORUS_SUB_VALIDATE;
            break;
        case SS_PREPARE:
            want = s->kind == CHORUS_SUB_CONFIG && (s->flags & CHORUS_SUB_TWO_PHASE);
            break;
        case SS_COMMIT:
            want = s->kind == CHORUS_SUB_CONFIG;
            break;
        default:
            break;
        }
        if (want && (s->flags & CHORUS_SUB_NOT_OWN_USER) && c->subs->tr.user && t->sess) {
            const char *u = c->subs->tr.user(s->owner);

            want = !u || strcmp(u, t->sess->user) != 0;
        }
        if (!want) {
            continue;
        }
        for (k = st->nids; k > 0; k--) {
            struct sub *o = sub_find(c->subs, st->ids[k - 1]);

            if (o && o->prio <= s->prio) {
                break;
            }
            st->ids[k] = st->ids[k - 1];
        }
        st->ids[k] = s->id;
        st->nids++;
    }
    return 0;
}

bool
sub_stage(struct core *c, struct txn *t, enum sub_stage stage, sub_stage_cb cb)
{
    struct sub_txn *st;
    struct cerr *e = NULL;

    if (!c->subs || !c->subs->n) {
        return false;
    }
    if (!(st = st_of(t))) {
        return false;
    }
    if (collect(c, t, stage) || !st->nids) {
        return false;
    }
    if (stage != SS_HOOK && stage != SS_LOCK && !st->diff_built && sub_txn_diff(c, t, &e)) {
        LOGE("cannot build the diff for subscribers: %s", e->msg);
        if (stage == SS_VALIDATE || stage == SS_PREPARE) {
            /* never commit behind the back of the validators and subscribers */
            cb(c, t, e->code, e);
            cerr_free(e);
            return true;
        }
        cerr_free(e);
        return false;
    }
    st->stage = stage;
    st->cb = cb;
    if (!send_group(c, t)) {
        st->stage = SS_NONE;
        st->cb = NULL;
        return false;
    }
    return true;
}

/* The stage's current round is complete. */
static void
stage_round_done(struct core *c, struct txn *t, struct round *r)
{
    struct sub_txn *st = t->st;
    enum chorus_err rc = CHORUS_OK;
    struct cerr *e = NULL;

    st->round = NULL;
    for (size_t i = 0; i < r->n; i++) {
        struct pend *p = &r->p[i];

        if (p->rc && !rc) {
            rc = p->rc;
            e = p->err;
            p->err = NULL;
        } else if (p->rc && (r->ev == EV_COMMIT || r->ev == EV_ABORT)) {
            LOGW("registration %u answered the %s event with an error: %s", p->subid,
                 ev_name(r->ev), p->err && p->err->msg ? p->err->msg : chorus_strerror(p->rc));
        }
    }
    if (rc && (r->ev == EV_COMMIT || r->ev == EV_ABORT)) {
        LOGW("%s event answered with an error: %s", ev_name(r->ev),
             e && e->msg ? e->msg : chorus_strerror(rc));
        cerr_free(e);
        e = NULL;
        rc = CHORUS_OK;
    }
    if (rc && !e) {
        cerr_add(&e, rc, NULL, NULL, "aborted by a %s callback: %s",
                 r->ev == EV_PREPARE ? "subscriber" : ev_name(r->ev), chorus_strerror(rc));
    }
    round_free(r);
    if (st->stage == SS_HOOK && t->hook_ed) {
        struct ed *hed = t->hook_ed;

        t->hook_ed = NULL;
        if (!rc && !ed_empty(hed)) {
            struct ed **ne = realloc(st->eds, (st->neds + 1) * sizeof *ne);

            if (!ne) {
                ed_free(hed);
                rc = cerr_add(&e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            } else {
                st->eds = ne;
                st->eds[st->neds++] = hed;
                core_running(c, t);
                rc = ds_apply(&t->log, hed, &e);
                st->diff_built = false; /* later stages see the hook's writes */
            }
        } else {
            ed_free(hed);
        }
    }
    if (rc && st->stage == SS_PREPARE) {
        /* the ones that saw PREPARE get ABORT, in reverse order; then report */
        st->abort_rc = rc;
        st->abort_err = e;
        LOGI("transaction aborted in PREPARE: %s", e && e->msg ? e->msg : "");
        st->stage = SS_ABORT;
        if (!collect(c, t, SS_ABORT) && send_group(c, t)) {
            return;
        }
        stage_next(c, t);
        return;
    }
    if (rc) {
        stage_end(c, t, rc, e);
        return;
    }
    stage_next(c, t);
}

static void
stage_next(struct core *c, struct txn *t)
{
    struct sub_txn *st = t->st;

    if (send_group(c, t)) {
        return;
    }
    if (st->stage == SS_ABORT) {
        enum chorus_err rc = st->abort_rc;
        struct cerr *e = st->abort_err;

        st->abort_err = NULL;
        st->abort_rc = CHORUS_OK;
        st->nprep = 0;
        stage_end(c, t, rc ? rc : CHORUS_ERR_ABORTED, e);
        return;
    }
    stage_end(c, t, CHORUS_OK, NULL);
}

/* ---- notifications ---- */

void
sub_notify(struct core *c, int kind, uint16_t ev, const struct sess *s, uint32_t th, uint32_t db,
           uint32_t flags)
{
    struct subs *ss = c->subs;
    struct round *r;

    if (!ss || !sub_count(c, kind) || !(r = round_new(ss, RK_NOTIFY, ev))) {
        return;
    }
    for (struct sub *x = ss->list; x; x = x->next) {
        struct buf body = BUF_INIT;

        if ((int)x->kind != kind) {
            continue;
        }
        proto_put_u32(&body, T_USID, s->id);
        proto_put_str(&body, T_USER, s->user);
        proto_put_str(&body, T_CONTEXT, s->context);
        proto_put_u32(&body, T_DB, db);
        proto_put_u32(&body, T_TH, th);
        proto_put_u32(&body, T_FLAGS, flags);
        proto_put_u64(&body, T_TXID, c->txid);
        round_send(r, x, &body);
        buf_free(&body);
    }
    if (!r->n) {
        round_unlink(r);
        round_free(r);
        return;
    }
    round_arm(r);
}

/* ---- OPER and RPC rounds ---- */

static bool
schema_under(const struct lysc_node *x, const struct lysc_node *top)
{
    for (; x; x = x->parent) {
        if (x == top) {
            return true;
        }
    }
    return false;
}

/* An OPER answer holds the registered subtree and its ancestors, nothing else. */
static enum chorus_err
oper_check(const struct lyd_node *data, const struct pend *p, struct cerr **e)
{
    const struct lyd_node *top, *x;

    LY_LIST_FOR(data, top)
    {
        LYD_TREE_DFS_BEGIN(top, x)
        {
            if (!x->schema || (!schema_under(x->schema, p->snode) &&
                               !schema_under(p->snode, x->schema))) {
                char *path = lyd_path(x, LYD_PATH_STD, NULL, 0);
                enum chorus_err rc =
                    cerr_add(e, CHORUS_ERR_BADVALUE, path, NULL,
                             "the data provider of registration %u answered with %s, outside "
                             "its subtree",
                             p->subid, path ? path : "an unknown node");

                free(path);
                return rc;
            }
            LYD_TREE_DFS_END(top, x);
        }
    }
    return CHORUS_OK;
}

static void
oper_round_done(struct round *r)
{
    struct core *c = r->ss->c;
    struct lyd_node *all = NULL;
    enum chorus_err rc = CHORUS_OK;
    struct cerr *e = NULL;

    for (size_t i = 0; i < r->n && !rc; i++) {
        struct pend *p = &r->p[i];
        struct lyd_node *d = NULL;

        if (p->rc) {
            rc = p->rc;
            e = p->err;
            p->err = NULL;
            break;
        }
        if (!p->data || !p->dlen) {
            continue;
        }
        if (lyd_parse_data_mem(c->ctx, p->data, LYD_JSON,
                               LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0,
                               &d)) {
            const struct ly_err_item *le = ly_err_last(c->ctx);

            rc = cerr_add(&e, CHORUS_ERR_BADVALUE, le && le->path ? le->path : NULL, NULL,
                          "registration %u answered with data that does not parse: %s",
                          p->subid, le && le->msg ? le->msg : "invalid data");
            break;
        }
        if (d && (rc = oper_check(d, p, &e))) {
            lyd_free_siblings(d);
            break;
        }
        if (d && lyd_merge_siblings(&all, d, LYD_MERGE_DESTRUCT)) {
            lyd_free_siblings(d);
            rc = cerr_add(&e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
    }
    if (rc) {
        lyd_free_siblings(all);
        all = NULL;
    }
    r->oper_done(r->arg, rc, e, all);
    cerr_free(e);
}

static void
rpc_round_done(struct round *r)
{
    struct pend *p = &r->p[0];

    r->rpc_done(r->arg, p->rc, p->err, p->data, p->dlen);
}

static void
round_complete(struct round *r)
{
    round_unlink(r);
    if (r->timer) {
        ev_timer_cancel(r->ss->c->ev, r->timer);
        r->timer = NULL;
    }
    switch (r->rk) {
    case RK_TXN:
        stage_round_done(r->ss->c, r->t, r); /* frees r */
        return;
    case RK_OPER:
        oper_round_done(r);
        break;
    case RK_RPC:
        rpc_round_done(r);
        break;
    case RK_NOTIFY:
        break;
    }
    round_free(r);
}

static bool
intersects(const struct lysc_node *a, const struct lysc_node *b)
{
    for (const struct lysc_node *x = a; x; x = x->parent) {
        if (x == b) {
            return true;
        }
    }
    for (const struct lysc_node *x = b; x; x = x->parent) {
        if (x == a) {
            return true;
        }
    }
    return false;
}

/* @p path without its predicates ("/a:l[k='x']/m" → "/a:l/m"), malloc'd. */
static char *
strip_predicates(const char *path)
{
    char *out = malloc(strlen(path) + 1), *o = out;
    int depth = 0;
    char quote = 0;

    if (!out) {
        return NULL;
    }
    for (const char *p = path; *p; p++) {
        if (quote) {
            quote = *p == quote ? 0 : quote;
        } else if (depth && (*p == '\'' || *p == '"')) {
            quote = *p;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']' && depth) {
            depth--;
        } else if (!depth) {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

bool
sub_oper_get(struct core *c, const struct sess *sess, const char *path,
             void (*done)(void *arg, enum chorus_err rc, struct cerr *e, struct lyd_node *data),
             void *arg)
{
    struct subs *ss = c->subs;
    const struct lysc_node *want = NULL;
    struct round *r;

    if (!ss || !sub_count(c, CHORUS_SUB_OPER)) {
        return false;
    }
    if (path && strcmp(path, "/")) {
        /* a data path: its schema node (predicates do not matter here) */
        char *sp = strip_predicates(path);

        want = sp ? lys_find_path(c->ctx, NULL, sp, 0) : NULL;
        free(sp);
        if (!want) {
            return false;
        }
    }
    if (!(r = round_new(ss, RK_OPER, EV_OPER))) {
        return false;
    }
    r->oper_done = done;
    r->arg = arg;
    for (struct sub *s = ss->list; s; s = s->next) {
        struct buf body = BUF_INIT;

        if (s->kind != CHORUS_SUB_OPER || (want && !intersects(want, s->snode))) {
            continue;
        }
        proto_put_str(&body, T_PATH, s->path);
        proto_put_u32(&body, T_USID, sess->id);
        proto_put_str(&body, T_USER, sess->user);
        proto_put_str(&body, T_CONTEXT, sess->context);
        round_send(r, s, &body);
        buf_free(&body);
    }
    if (!r->n) {
        round_unlink(r);
        round_free(r);
        return false;
    }
    round_arm(r);
    return true;
}

enum chorus_err
sub_rpc(struct core *c, const struct sess *s, const struct lyd_node *op, sub_data_cb done,
        void *arg, struct cerr **e)
{
    struct subs *ss = c->subs;
    struct sub *h = NULL;
    struct round *r;
    struct buf body = BUF_INIT;
    const struct lyd_node *top = op;
    char *text = NULL;

    for (struct sub *x = ss ? ss->list : NULL; x; x = x->next) {
        if (x->kind == CHORUS_SUB_RPC && x->snode == op->schema) {
            h = x;
            break;
        }
    }
    if (!h) {
        char *p = lysc_path(op->schema, LYSC_PATH_DATA, NULL, 0);
        enum chorus_err rc = cerr_add(e, CHORUS_ERR_UNSUPPORTED, p, "operation-not-supported",
                                      "no application handles %s", p ? p : "the operation");

        free(p);
        return rc;
    }
    while (lyd_parent(top)) {
        top = lyd_parent(top);
    }
    if (lyd_print_mem(&text, top, LYD_JSON, LYD_PRINT_SHRINK) ||
        !(r = round_new(ss, RK_RPC, EV_RPC))) {
        free(text);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    r->rpc_done = done;
    r->arg = arg;
    proto_put_str(&body, T_PATH, h->path);
    proto_put_u32(&body, T_USID, s->id);
    proto_put_str(&body, T_USER, s->user);
    proto_put_str(&body, T_CONTEXT, s->context);
    proto_put_data(&body, T_DATA, text, strlen(text));
    free(text);
    if (round_send(r, h, &body)) {
        buf_free(&body);
        round_unlink(r);
        round_free(r);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    buf_free(&body);
    round_arm(r);
    return CHORUS_OK;
}

/* ---- answers ---- */

static struct pend *
pend_find(struct subs *ss, uint32_t evid, struct round **ret_r)
{
    for (struct round *r = ss->rounds; r; r = r->next) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->p[i].evid == evid) {
                *ret_r = r;
                return &r->p[i];
            }
        }
    }
    return NULL;
}

enum chorus_err
sub_reply(struct core *c, void *owner, uint32_t evid, enum chorus_err rc, struct cerr *e,
          const char *data, size_t len, struct cerr **err)
{
    struct round *r = NULL;
    struct pend *p = pend_find(c->subs, evid, &r);

    if (!p || p->owner != owner) {
        cerr_free(e);
        return cerr_add(err, CHORUS_ERR_NOTFOUND, NULL, NULL,
                        "no event %u waits for an answer on this connection", evid);
    }
    if (p->answered) {
        cerr_free(e);
        return cerr_add(err, CHORUS_ERR_TIMEOUT, NULL, NULL,
                        "event %u was not answered in time (commit/subscriber-timeout)", evid);
    }
    if (rc && !e) {
        cerr_add(&e, rc, NULL, NULL, "%s %u (%s) refused: %s", "registration", p->subid,
                 c->subs->tr.name(owner), chorus_strerror(rc));
    }
    if (data && len) {
        p->data = malloc(len + 1);
        if (p->data) {
            memcpy(p->data, data, len);
            p->data[len] = '\0';
            p->dlen = len;
        }
    }
    pend_answer(r, p, rc, e);
    if (!r->nleft) {
        round_complete(r);
    }
    return CHORUS_OK;
}

void
sub_owner_gone(struct core *c, void *owner)
{
    struct subs *ss = c->subs;
    bool again = true;

    if (!ss) {
        return;
    }
    for (struct sub **pp = &ss->list; *pp;) {
        struct sub *s = *pp;

        if (s->owner == owner) {
            *pp = s->next;
            ss->n--;
            LOGD("%s %u removed: %s went away", kind_name(s->kind), s->id, ss->tr.name(owner));
            sub_free1(s);
        } else {
            pp = &s->next;
        }
    }
    /* its events: failed (they count as an abort before the point of no return); completing
     * a round may start others, so look again from the start after each */
    while (again) {
        struct round *r = NULL;
        struct pend *p = NULL;
        struct cerr *e = NULL;

        again = false;
        for (r = ss->rounds; r && !p; r = p ? r : r->next) {
            for (size_t i = 0; i < r->n; i++) {
                if (r->p[i].owner == owner && !r->p[i].answered) {
                    p = &r->p[i];
                    break;
                }
            }
            if (p) {
                break;
            }
        }
        if (!p) {
            break;
        }
        again = true;
        p->owner = NULL;
        cerr_add(&e, CHORUS_ERR_ABORTED, NULL, NULL,
                 "the application of registration %u (%s) disconnected during the %s event",
                 p->subid, ss->tr.name(owner), ev_name(r->ev));
        pend_answer(r, p,
                    r->ev == EV_COMMIT || r->ev == EV_ABORT ? CHORUS_OK : CHORUS_ERR_ABORTED, e);
        if (!r->nleft) {
            round_complete(r);
        }
    }
    for (struct round *r = ss->rounds; r; r = r->next) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->p[i].owner == owner) {
                r->p[i].owner = NULL;
            }
        }
    }
}

struct txn *
sub_event_txn(struct core *c, const void *owner, uint32_t th)
{
    struct round *r = NULL;
    struct pend *p;

    if (!(th & SUB_TH_EVENT) || !c->subs) {
        return NULL;
    }
    p = pend_find(c->subs, th & ~SUB_TH_EVENT, &r);
    if (!p || p->owner != owner || p->answered || r->rk != RK_TXN) {
        return NULL;
    }
    return r->t;
}

/* ---- the end of a transaction ---- */

void
sub_txn_cancel(struct core *c, struct txn *t)
{
    struct sub_txn *st = t->st;
    struct subs *ss = c->subs;

    if (!st) {
        return;
    }
    if (st->round) {
        round_unlink(st->round);
        round_free(st->round);
        st->round = NULL;
    }
    /* every subscriber that saw PREPARE hears of the abort (nobody waits for the answers) */
    for (size_t i = st->nprep; ss && i > 0; i--) {
        struct sub *s = sub_find(ss, st->prepared[i - 1]);
        const char *text;
        struct buf body = BUF_INIT;
        uint32_t evid;

        if (!s || !(text = restricted(c, t, s))) {
            continue;
        }
        evid = ss->next_evid++;
        if (!ss->next_evid || ss->next_evid >= SUB_TH_EVENT) {
            ss->next_evid = 1;
        }
        txn_body(c, t, EV_ABORT, &body);
        proto_put_data(&body, T_DATA, text, strlen(text));
        proto_put_u32(&body, T_SUBID, s->id);
        if (buf_ok(&body)) {
            ss->tr.send(s->owner, EV_ABORT, evid, &body);
        }
        buf_free(&body);
    }
    st->nprep = 0;
    if (t->hook_ed) {
        ed_free(t->hook_ed);
        t->hook_ed = NULL;
    }
    st->stage = SS_NONE;
    st->cb = NULL;
}

void
sub_txn_done(struct core *c, struct txn *t)
{
    struct sub_txn *st = t->st;

    (void)c;
    if (!st) {
        return;
    }
    if (st->round) {
        round_unlink(st->round);
        round_free(st->round);
    }
    lyd_free_siblings(st->diff);
    for (size_t i = 0; i < st->ncache; i++) {
        free(st->cache[i].text);
    }
    free(st->cache);
    free(st->ids);
    free(st->prepared);
    for (size_t i = 0; i < st->neds; i++) {
        ed_free(st->eds[i]);
    }
    free(st->eds);
    cerr_free(st->abort_err);
    free(st);
    t->st = NULL;
}
