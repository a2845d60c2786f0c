/* SPDX-License-Identifier: Apache-2.0 */
/* Transaction records; see rec.h for the format. */
#include "rec.h"

#include <stdlib.h>
#include <string.h>

#include "common/pmap.h"
#include "ds.h"
#include "lyu.h"
#include "proto/proto.h"

/* ---- building ---- */

struct bctx {
    const struct dlog *log;
    struct pmap attach; /* detached subtree root → the parent it was removed from */
    struct buf *out;
    bool oom;
};

static bool
linked(const struct dlog *log, const struct lyd_node *top)
{
    return top == *log->root || top->prev != top;
}

/* The data path a node had (or has) in the tree, also for nodes in removed subtrees. */
static char *
apath(struct bctx *b, const struct lyd_node *n)
{
    const struct lyd_node *top = n;
    char *rel, *base, *p;

    if (!n) {
        return strdup("");
    }
    while (top->parent) {
        top = lyd_parent(top);
    }
    if (linked(b->log, top)) {
        return lyu_path(n);
    }
    base = apath(b, pmap_get(&b->attach, top));
    rel = lyd_path(n, LYD_PATH_STD, NULL, 0);
    if (!base || !rel || asprintf(&p, "%s%s", base, rel) < 0) {
        p = NULL;
    }
    free(base);
    free(rel);
    return p;
}

/* Path of @p n, which is (or was) a child of @p parent. */
static char *
child_path(struct bctx *b, const struct lyd_node *parent, const struct lyd_node *n)
{
    char *base, *p, *seg;
    struct lyd_node *copy = NULL;

    if (n->parent || linked(b->log, n)) {
        return apath(b, n);
    }
    /* detached (removed): its own segment, appended to the parent's path */
    base = apath(b, parent);
    if (lyd_dup_single(n, NULL, 0, &copy)) {
        free(base);
        return NULL;
    }
    seg = lyd_path(copy, LYD_PATH_STD, NULL, 0);
    lyd_free_tree(copy);
    if (!base || !seg || asprintf(&p, "%s%s", base, seg) < 0) {
        p = NULL;
    }
    free(base);
    free(seg);
    return p;
}

static void
put_str(struct bctx *b, uint16_t tag, char *s)
{
    if (!s) {
        b->oom = true;
        return;
    }
    proto_put_str(b->out, tag, s);
    free(s);
}

static void
put_json(struct bctx *b, const struct lyd_node *n)
{
    char *s = NULL;

    if (lyd_print_mem(&s, n, LYD_JSON,
                      LYD_PRINT_SHRINK | LYD_PRINT_WD_ALL_TAG | LYD_PRINT_KEEPEMPTYCONT) ||
        !s) {
        b->oom = true;
        return;
    }
    proto_put_data(b->out, RT_DATA, s, strlen(s));
    free(s);
}

static void
fwd_entry(struct bctx *b, const struct dl_ent *e)
{
    switch (e->kind) {
    case DL_INSERT:
        proto_put_u32(b->out, RT_OP, J_INSERT);
        put_str(b, RT_PATH, apath(b, e->parent));
        put_json(b, e->node);
        if (lyu_user_ordered(e->node->schema)) {
            /* inserted last among the instances at that moment */
            put_str(b, RT_NODE, child_path(b, e->parent, e->node));
            proto_put_str(b->out, RT_ANCHOR, "\x01"); /* "last" */
        }
        break;
    case DL_REMOVE:
        proto_put_u32(b->out, RT_OP, J_REMOVE);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        break;
    case DL_SWAP:
        proto_put_u32(b->out, RT_OP, J_SWAP);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        put_json(b, e->node);
        break;
    case DL_MOVE:
        proto_put_u32(b->out, RT_OP, J_MOVE);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        put_str(b, RT_ANCHOR, e->after ? child_path(b, e->parent, e->after) : strdup(""));
        break;
    }
}

static void
inv_entry(struct bctx *b, const struct dl_ent *e)
{
    switch (e->kind) {
    case DL_INSERT:
        proto_put_u32(b->out, RT_OP, J_REMOVE);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        break;
    case DL_REMOVE:
        proto_put_u32(b->out, RT_OP, J_INSERT);
        put_str(b, RT_PATH, apath(b, e->parent));
        put_json(b, e->node);
        if (e->node->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
            put_str(b, RT_NODE, child_path(b, e->parent, e->node));
            put_str(b, RT_ANCHOR, e->prev ? child_path(b, e->parent, e->prev) : strdup(""));
        }
        break;
    case DL_SWAP:
        proto_put_u32(b->out, RT_OP, J_SWAP);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        put_json(b, e->old);
        break;
    case DL_MOVE:
        proto_put_u32(b->out, RT_OP, J_MOVE);
        put_str(b, RT_PATH, child_path(b, e->parent, e->node));
        put_str(b, RT_ANCHOR, e->prev ? child_path(b, e->parent, e->prev) : strdup(""));
        break;
    }
}

enum chorus_err
rec_build(const struct dlog *log, const struct rec_meta *meta, struct buf *out, size_t *ret_nfwd,
          struct cerr **e)
{
    struct bctx b = {.log = log, .out = out};
    bool *absorbed = NULL;
    size_t n = 0;

    if (log->n) {
        absorbed = calloc(log->n, sizeof *absorbed);
        if (!absorbed || dl_absorbed(log, absorbed)) {
            free(absorbed);
            return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
    }
    for (size_t i = 0; i < log->n; i++) {
        const struct dl_ent *x = &log->v[i];

        if (x->kind == DL_REMOVE && pmap_set(&b.attach, x->node, x->parent)) {
            b.oom = true;
        } else if (x->kind == DL_SWAP && pmap_set(&b.attach, x->old, x->parent)) {
            b.oom = true;
        }
        n += !absorbed[i];
    }
    proto_put_str(out, RT_USER, meta->user);
    proto_put_str(out, RT_CONTEXT, meta->context);
    proto_put_u32(out, RT_SESSION, meta->session);
    proto_put_u64(out, RT_TIME, meta->time);
    proto_put_str(out, RT_LABEL, meta->label);
    proto_put_u32(out, RT_FLAGS, meta->flags);
    proto_put_u32(out, RT_FWD, (uint32_t)n);
    for (size_t i = 0; i < log->n && !b.oom; i++) {
        if (!absorbed[i]) {
            fwd_entry(&b, &log->v[i]);
        }
    }
    proto_put_u32(out, RT_INV, (uint32_t)n);
    for (size_t i = log->n; i-- > 0 && !b.oom;) {
        if (!absorbed[i]) {
            inv_entry(&b, &log->v[i]);
        }
    }
    free(absorbed);
    pmap_free(&b.attach);
    if (b.oom || !buf_ok(out)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory encoding the record");
    }
    *ret_nfwd = n;
    return CHORUS_OK;
}

/* ---- reading ---- */

struct rit {
    const uint8_t *p;
    size_t len, pos;
};

/* Next field: 1, 0 at the end, -1 if malformed. */
static int
rit_next(struct rit *it, uint16_t *tag, const uint8_t **val, uint32_t *vlen)
{
    uint32_t l;

    if (it->pos == it->len) {
        return 0;
    }
    if (it->len - it->pos < PROTO_FIELD_HDR_LEN) {
        return -1;
    }
    *tag = rd_u16(it->p + it->pos);
    l = rd_u32(it->p + it->pos + 2);
    if (l > it->len - it->pos - PROTO_FIELD_HDR_LEN) {
        return -1;
    }
    *val = it->p + it->pos + PROTO_FIELD_HDR_LEN;
    *vlen = l;
    it->pos += PROTO_FIELD_HDR_LEN + l;
    return 1;
}

static const char *
as_str(const uint8_t *v, uint32_t l)
{
    if (!l || v[l - 1] || memchr(v, 0, l - 1)) {
        return NULL;
    }
    return (const char *)v;
}

enum chorus_err
rec_parse(const uint8_t *p, size_t len, struct rec_view *v, struct cerr **e)
{
    struct rit it = {p, len, 0};
    uint16_t tag;
    const uint8_t *val;
    uint32_t l;
    int r, section = 0;
    size_t sec_start = 0;

    memset(v, 0, sizeof *v);
    while ((r = rit_next(&it, &tag, &val, &l)) > 0) {
        const char *s = NULL;

        if (tag == RT_USER || tag == RT_CONTEXT || tag == RT_LABEL || tag == RT_PATH ||
            tag == RT_ANCHOR || tag == RT_NODE) {
            s = as_str(val, l);
            if (!s) {
                goto bad;
            }
        } else if ((tag == RT_SESSION || tag == RT_FLAGS || tag == RT_FWD || tag == RT_INV ||
                    tag == RT_OP) &&
                   l != 4) {
            goto bad;
        } else if (tag == RT_TIME && l != 8) {
            goto bad;
        }
        switch (tag) {
        case RT_USER:
            v->meta.user = s;
            break;
        case RT_CONTEXT:
            v->meta.context = s;
            break;
        case RT_LABEL:
            v->meta.label = s;
            break;
        case RT_SESSION:
            v->meta.session = rd_u32(val);
            break;
        case RT_FLAGS:
            v->meta.flags = rd_u32(val);
            break;
        case RT_TIME:
            v->meta.time = rd_u64(val);
            break;
        case RT_FWD:
            if (section) {
                goto bad;
            }
            section = 1;
            v->nfwd = rd_u32(val);
            v->fwd = p + it.pos;
            sec_start = it.pos;
            break;
        case RT_INV:
            if (section != 1) {
                goto bad;
            }
            section = 2;
            v->fwd_len = it.pos - PROTO_FIELD_HDR_LEN - 4 - sec_start;
            v->ninv = rd_u32(val);
            v->inv = p + it.pos;
            sec_start = it.pos;
            break;
        default:
            break;
        }
    }
    if (r < 0 || section != 2) {
        goto bad;
    }
    v->inv_len = len - sec_start;
    return CHORUS_OK;
bad:
    return cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL, "malformed transaction record");
}

/* One entry of a section. */
struct rent {
    uint32_t op;
    const char *path, *data, *anchor, *node;
    size_t data_len;
};

/* Read the next entry; 1, 0 at the end, -1 malformed. */
static int
rent_next(struct rit *it, struct rent *re)
{
    uint16_t tag;
    const uint8_t *val;
    uint32_t l;
    size_t save;
    int r;

    memset(re, 0, sizeof *re);
    r = rit_next(it, &tag, &val, &l);
    if (r <= 0) {
        return r;
    }
    if (tag != RT_OP || l != 4) {
        return -1;
    }
    re->op = rd_u32(val);
    for (;;) {
        save = it->pos;
        r = rit_next(it, &tag, &val, &l);
        if (r < 0) {
            return -1;
        }
        if (!r || tag == RT_OP || tag == RT_INV) {
            it->pos = save;
            break;
        }
        switch (tag) {
        case RT_PATH:
            re->path = as_str(val, l);
            if (!re->path) {
                return -1;
            }
            break;
        case RT_DATA:
            if (!l || val[l - 1]) {
                return -1;
            }
            re->data = (const char *)val;
            re->data_len = l - 1;
            break;
        case RT_ANCHOR:
            re->anchor = as_str(val, l);
            if (!re->anchor) {
                return -1;
            }
            break;
        case RT_NODE:
            re->node = as_str(val, l);
            if (!re->node) {
                return -1;
            }
            break;
        default:
            break;
        }
    }
    if (!re->path || re->op < J_INSERT || re->op > J_MOVE ||
        ((re->op == J_INSERT || re->op == J_SWAP) && !re->data)) {
        return -1;
    }
    return 1;
}

static struct lyd_node *
find(struct lyd_node *root, const char *path)
{
    struct lyd_node *n = NULL;

    if (!root || !*path || lyd_find_path(root, path, 0, &n)) {
        return NULL;
    }
    return n;
}

static char *untag_defaults(const char *data, bool *ret_top);

/* Parse JSON data under @p parent (NULL: a new top-level forest in *ret). */
static LY_ERR
parse_under(struct ly_ctx *ctx, struct lyd_node *parent, const char *data, struct lyd_node **ret)
{
    struct ly_in *in = NULL;
    char *plain = NULL;
    bool top_default = false;
    LY_ERR r;

    if (parent) {
        /* libyang 2.1.30 crashes on the default annotation of the node parsed into a parent:
         * parse without it, then flag the node (untag_defaults()) */
        if (!(plain = untag_defaults(data, &top_default))) {
            return LY_EMEM;
        }
        data = plain;
    }
    if (ly_in_new_memory(data, &in)) {
        free(plain);
        return LY_EMEM;
    }
    /* not LYD_PARSE_ORDERED: under a parent the node must find its schema position */
    r = lyd_parse_data(ctx, parent, in, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, ret);
    ly_in_free(in, 0);
    if (!r && top_default) {
        /* the first member: {"mod:name": or {"name": */
        const char *q = strchr(plain + 2, '"'), *name = plain + 2, *colon;
        size_t len = q ? (size_t)(q - name) : 0;

        if ((colon = memchr(name, ':', len))) {
            len -= (size_t)(colon + 1 - name);
            name = colon + 1;
        }
        for (struct lyd_node *c = lyd_child(parent); c; c = c->next) {
            if (strlen(LYD_NAME(c)) == len && !strncmp(LYD_NAME(c), name, len) &&
                (c->schema->nodetype & LYD_NODE_TERM)) {
                c->flags |= LYD_DEFAULT;
            }
        }
    }
    free(plain);
    return r;
}

/* Place list entry @p n after @p anchor_path ("" = first, "\x01" or NULL = where it is). */
static void
position(struct lyd_node **root, struct lyd_node *n, const char *anchor_path)
{
    struct lyd_node *a = NULL;

    if (!anchor_path || !strcmp(anchor_path, "\x01")) {
        return;
    }
    if (*anchor_path && (!(a = find(*root, anchor_path)) || a == n)) {
        return;
    }
    tree_place(root, lyd_parent(n), n, a);
}

enum chorus_err
rec_replay(struct ly_ctx *ctx, struct lyd_node **root, const uint8_t *sec, size_t len, uint32_t n,
           struct cerr **e)
{
    struct rit it = {sec, len, 0};
    struct rent re;
    uint32_t k = 0;
    int r;

    while ((r = rent_next(&it, &re)) > 0) {
        struct lyd_node *node, *parent = NULL, *tree = NULL;

        k++;
        switch (re.op) {
        case J_INSERT:
            if (*re.path && !(parent = find(*root, re.path))) {
                goto notfound;
            }
            if (parse_under(ctx, parent, re.data, parent ? NULL : &tree)) {
                goto baddata;
            }
            if (!parent) {
                while (tree) {
                    struct lyd_node *next = tree->next;

                    lyd_unlink_tree(tree);
                    tree_link(root, NULL, tree);
                    tree = next;
                }
            }
            if (re.node && (node = find(*root, re.node))) {
                position(root, node, re.anchor);
            }
            break;
        case J_REMOVE:
            if (!(node = find(*root, re.path))) {
                goto notfound;
            }
            tree_unlink(root, node);
            lyd_free_tree(node);
            break;
        case J_SWAP:
            if (!(node = find(*root, re.path))) {
                goto notfound;
            }
            parent = lyd_parent(node);
            tree_unlink(root, node);
            lyd_free_tree(node);
            if (parse_under(ctx, parent, re.data, parent ? NULL : &tree)) {
                goto baddata;
            }
            if (!parent && tree) {
                lyd_unlink_tree(tree);
                tree_link(root, NULL, tree);
            }
            break;
        case J_MOVE:
            if (!(node = find(*root, re.path))) {
                goto notfound;
            }
            position(root, node, re.anchor);
            break;
        }
    }
    if (r < 0 || k != n) {
        return cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                        "malformed record section (entry %u of %u)", k, n);
    }
    return CHORUS_OK;
notfound:
    ly_err_clean(ctx, NULL);
    return cerr_add(e, CHORUS_ERR_SCHEMA, re.path, NULL,
                    "record entry %u: the node does not exist in the datastore", k);
baddata:
    return lyu_err(e, ctx, CHORUS_ERR_SCHEMA, re.path);
}

/* Strip default nodes (they are implicit in an edit). */
static void
strip_defaults(struct lyd_node *n)
{
    struct lyd_node *c, *next;

    for (c = lyd_child_no_keys(n); c; c = next) {
        next = c->next;
        if (c->flags & LYD_DEFAULT) {
            lyd_free_tree(c);
        } else {
            strip_defaults(c);
        }
    }
}

/*
 * Remove the with-defaults annotation ("@NAME":{"ietf-netconf-with-defaults:default":true})
 * of the record's node (the first member) from a record's JSON; *ret_top: whether it had one.
 * libyang 2.1.30 dereferences NULL parsing such an annotation of a leaf into an existing
 * parent; the caller sets the default flag back. Annotations of descendants stay (they mark
 * the default descendants that are stripped). Inside JSON strings quotes are escaped, so the
 * pattern only matches annotations.
 */
static char *
untag_defaults(const char *data, bool *ret_top)
{
    static const char tail[] = "\":{\"ietf-netconf-with-defaults:default\":true}",
                      tail_ll[] = "\":[{\"ietf-netconf-with-defaults:default\":true}]";
    size_t len = strlen(data), o = 0;
    char *out = malloc(len + 1), first[256] = "";
    const char *p = data, *q;

    *ret_top = false;
    if (!out) {
        return NULL;
    }
    /* the first member's name: {"mod:name": */
    if (data[0] == '{' && data[1] == '"' && (q = strchr(data + 2, '"')) &&
        (size_t)(q - data - 2) < sizeof first) {
        memcpy(first, data + 2, (size_t)(q - data - 2));
        first[q - data - 2] = 0;
    }
    while ((q = strstr(p, ",\"@"))) {
        const char *name = q + 3, *end = strchr(name, '"');

        size_t tl = !end                                              ? 0
                    : !strncmp(end, tail, sizeof tail - 1)           ? sizeof tail - 1
                    : !strncmp(end, tail_ll, sizeof tail_ll - 1)     ? sizeof tail_ll - 1
                                                                     : 0;

        if (tl && *first && (size_t)(end - name) == strlen(first) &&
            !strncmp(name, first, strlen(first))) {
            *ret_top = true;
            memcpy(out + o, p, (size_t)(q - p));
            o += (size_t)(q - p);
            p = end + tl;
        } else {
            memcpy(out + o, p, (size_t)(q - p) + 3);
            o += (size_t)(q - p) + 3;
            p = q + 3;
        }
    }
    memcpy(out + o, p, strlen(p) + 1);
    return out;
}

/* Parse an entry's data as the node at @p node_path (of parent @p parent_path): returns the
 * detached node (default nodes stripped) and resolves its path. */
static enum chorus_err
data_node(struct ly_ctx *ctx, const char *parent_path, const char *data, struct lyd_node **ret,
          struct cerr **e)
{
    struct lyd_node *scratch = NULL, *parent = NULL, *tree = NULL, *n;

    if (*parent_path) {
        if (lyd_new_path2(NULL, ctx, parent_path, NULL, 0, 0, 0, &scratch, &parent) || !parent) {
            if (!parent && scratch) {
                lyd_find_path(scratch, parent_path, 0, &parent);
            }
            if (!parent) {
                lyd_free_all(scratch);
                return lyu_err(e, ctx, CHORUS_ERR_SCHEMA, parent_path);
            }
        }
    }
    bool top_default;
    char *plain = untag_defaults(data, &top_default);

    if (!plain) {
        lyd_free_all(scratch);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (parse_under(ctx, parent, plain, parent ? NULL : &tree)) {
        free(plain);
        lyd_free_all(scratch);
        return lyu_err(e, ctx, CHORUS_ERR_SCHEMA, parent_path);
    }
    free(plain);
    if (parent) {
        /* the template chain holds only keys below the parent: the parsed node is its only
         * other child */
        n = lyd_child_no_keys(parent);
    } else {
        n = tree;
        tree = n ? n->next : NULL;
    }
    if (!n) {
        lyd_free_all(scratch);
        return cerr_add(e, CHORUS_ERR_PROTO, parent_path, NULL, "empty record data");
    }
    lyd_unlink_tree(n);
    lyd_free_all(scratch);
    lyd_free_all(tree); /* only with no parent: anything parsed besides the node */
    strip_defaults(n);
    if (top_default) {
        n->flags |= LYD_DEFAULT;
    }
    *ret = n;
    return CHORUS_OK;
}

enum chorus_err
rec_to_edit(struct ly_ctx *ctx, const uint8_t *sec, size_t len, uint32_t n,
            const struct lyd_node *base, struct ed *ed, struct cerr **e)
{
    struct rit it = {sec, len, 0};
    struct rent re;
    struct view view = {(struct lyd_node *)base, {ed}, 1};
    enum chorus_err rc = CHORUS_OK;
    uint32_t k = 0;
    int r;

    while (!rc && (r = rent_next(&it, &re)) > 0) {
        struct lyd_node *node = NULL;
        struct dpath dp;
        char *npath = NULL;

        k++;
        switch (re.op) {
        case J_INSERT:
        case J_SWAP: {
            char *pp = NULL, *last = NULL, *seg;
            const struct lyd_node *cur = NULL;

            if (re.op == J_SWAP && lyu_split_last(re.path, &pp, &last)) {
                return cerr_add(e, CHORUS_ERR_PROTO, re.path, NULL, "bad path in record");
            }
            rc = data_node(ctx, re.op == J_SWAP ? pp : re.path, re.data, &node, e);
            free(pp);
            free(last);
            if (rc) {
                break;
            }
            /* the node's own path: given for a swap, the parent's plus its segment otherwise */
            if (re.op == J_SWAP) {
                npath = strdup(re.path);
            } else {
                seg = lyd_path(node, LYD_PATH_STD, NULL, 0);
                if (!seg || asprintf(&npath, "%s%s", re.path, seg) < 0) {
                    npath = NULL;
                }
                free(seg);
            }
            if (!npath) {
                lyd_free_tree(node);
                return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
            if (node->flags & LYD_DEFAULT) {
                /* back to the default value: delete the explicit one if it exists */
                lyd_free_tree(node);
                rc = dpath_resolve(ctx, npath, NULL, &dp, e);
                if (!rc) {
                    if (view_find(&view, &dp, &cur) == CHORUS_OK && !(cur->flags & LYD_DEFAULT)) {
                        rc = ed_delete(ed, &dp, cur, e);
                    }
                    dpath_done(&dp);
                }
                break;
            }
            rc = dpath_resolve(ctx, npath,
                               node->schema->nodetype == LYS_LEAF ? lyd_get_value(node) : NULL, &dp,
                               e);
            if (rc) {
                lyd_free_tree(node);
                break;
            }
            rc = ed_replace(ed, &dp, node, e);
            dpath_done(&dp);
            if (!rc && re.op == J_INSERT && re.anchor && strcmp(re.anchor, "\x01")) {
                /* back where it was: after the entry it followed, or first */
                struct lyd_node *after = NULL;
                struct dpath ap;

                if (*re.anchor) {
                    if (dpath_resolve(ctx, re.anchor, NULL, &ap, NULL)) {
                        ly_err_clean(ctx, NULL);
                        break; /* not a position we can express: the entry goes last */
                    }
                    if (lyd_dup_single(ap.last, NULL, 0, &after)) {
                        dpath_done(&ap);
                        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
                    }
                    dpath_done(&ap);
                }
                if (ed_position(ed, node, after)) {
                    return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
                }
            }
            break;
        }
        case J_REMOVE: {
            const struct lyd_node *cur = NULL;

            rc = dpath_resolve(ctx, re.path, NULL, &dp, e);
            if (!rc) {
                if (view_find(&view, &dp, &cur) == CHORUS_OK) {
                    rc = ed_delete(ed, &dp, cur, e);
                }
                dpath_done(&dp);
            }
            break;
        }
        case J_MOVE:
            break;
        }
        free(npath);
    }
    if (!rc && (r < 0 || k != n)) {
        rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL, "malformed record section");
    }
    return rc;
}
