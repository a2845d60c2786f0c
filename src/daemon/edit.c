/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Edit trees (change sets); see edit.h for the representation and its invariants E1–E5.
 * Every function here keeps the invariants; ed_check() verifies them in tests.
 */
#include "edit.h"

#include <stdlib.h>
#include <string.h>

static void
op_set(struct lyd_node *n, enum ed_op op)
{
    n->priv = (void *)(((uintptr_t)n->priv & ~(uintptr_t)ED_OPMASK) | (uintptr_t)op);
}

/* Flag @p n and its ancestors: their subtree holds a NONE or DELETE node (E5). */
static void
mark_impure(struct lyd_node *n)
{
    for (; n; n = lyd_parent(n)) {
        n->priv = (void *)((uintptr_t)n->priv | ED_IMPURE);
    }
}

/* Clear the operation bits of a whole subtree (it becomes content or inherits). */
static void
clear_ops(struct lyd_node *root)
{
    struct lyd_node *it;

    LYD_TREE_DFS_BEGIN(root, it)
    {
        it->priv = NULL;
        LYD_TREE_DFS_END(root, it);
    }
}

struct ed *
ed_new(struct ly_ctx *ctx)
{
    struct ed *ed = calloc(1, sizeof *ed);

    if (ed) {
        ed->ctx = ctx;
    }
    return ed;
}

static void
pos_free(struct ed_pos *p)
{
    if (p) {
        lyd_free_all(p->after);
        free(p);
    }
}

static void
pos_clear(struct ed *ed)
{
    for (size_t i = 0; i < ed->pos.cap; i++) {
        const void *k = ed->pos.e[i].key;

        if (k && ed->pos.e[i].val) {
            pos_free(ed->pos.e[i].val);
        }
    }
    pmap_free(&ed->pos);
}

/* Forget the positions of the nodes of a subtree about to be freed. */
static void
pos_forget(struct ed *ed, struct lyd_node *root)
{
    struct lyd_node *it;

    if (!ed->pos.count) {
        return;
    }
    LYD_TREE_DFS_BEGIN(root, it)
    {
        struct ed_pos *p = pmap_get(&ed->pos, it);

        if (p) {
            pos_free(p);
            pmap_remove(&ed->pos, it);
        }
        LYD_TREE_DFS_END(root, it);
    }
}

int
ed_position(struct ed *ed, struct lyd_node *node, struct lyd_node *after)
{
    struct ed_pos *p = calloc(1, sizeof *p), *old;

    if (!p) {
        lyd_free_all(after);
        return -1;
    }
    p->after = after;
    old = pmap_get(&ed->pos, node);
    if (pmap_set(&ed->pos, node, p)) {
        pos_free(p);
        return -1;
    }
    pos_free(old);
    return 0;
}

const struct ed_pos *
ed_pos_of(const struct ed *ed, const struct lyd_node *node)
{
    return ed && ed->pos.count ? pmap_get(&ed->pos, node) : NULL;
}

void
ed_clear(struct ed *ed)
{
    if (ed) {
        lyd_free_all(ed->tree);
        ed->tree = NULL;
        ed->replace_all = false;
        ed->nwrites = 0;
        pos_clear(ed);
    }
}

void
ed_free(struct ed *ed)
{
    if (ed) {
        ed_clear(ed);
        free(ed);
    }
}

enum ed_op
ed_eff(const struct lyd_node *n)
{
    enum ed_op own = ed_op_get(n), found = own;
    const struct lyd_node *p;

    for (p = lyd_parent(n); p; p = lyd_parent(p)) {
        enum ed_op op = ed_op_get(p);

        if (op == ED_REPLACE) {
            return ED_CONTENT;
        }
        if (found == ED_INHERIT && op != ED_INHERIT) {
            found = op == ED_MERGE ? ED_MERGE : ED_NONE;
        }
    }
    return found == ED_INHERIT ? ED_NONE : found;
}

/* Effective operation that children of @p parent inherit; NONE for the top level. */
static enum ed_op
child_ctx(const struct lyd_node *parent)
{
    enum ed_op e;

    if (!parent) {
        return ED_NONE;
    }
    e = ed_eff(parent);
    return e == ED_REPLACE ? ED_CONTENT : e;
}

/* NONE ancestors become MERGE (E1) once something below them is written. */
static void
promote(struct lyd_node *p)
{
    for (; p; p = lyd_parent(p)) {
        enum ed_op op = ed_op_get(p);

        if (op == ED_NONE) {
            op_set(p, ED_MERGE);
        } else {
            break;
        }
    }
}

static struct lyd_node *
first_child(const struct ed *ed, struct lyd_node *parent)
{
    return parent ? lyd_child(parent) : ed->tree;
}

static void
insert(struct ed *ed, struct lyd_node *parent, struct lyd_node *node)
{
    if (parent) {
        lyd_insert_child(parent, node);
    } else if (!ed->tree) {
        ed->tree = node;
    } else {
        lyd_insert_sibling(ed->tree, node, &ed->tree);
    }
}

static void
unlink_node(struct ed *ed, struct lyd_node *node)
{
    if (node == ed->tree) {
        ed->tree = node->next;
    }
    lyd_unlink_tree(node);
}

static void
free_node(struct ed *ed, struct lyd_node *node)
{
    unlink_node(ed, node);
    pos_forget(ed, node);
    lyd_free_tree(node);
}

static void
free_children(struct ed *ed, struct lyd_node *n)
{
    struct lyd_node *c = lyd_child_no_keys(n), *next;

    for (; c; c = next) {
        next = c->next;
        pos_forget(ed, c);
        lyd_free_tree(c);
    }
}

/* Give a freshly inserted node (whose priv bits are all 0) the right operation for its place.
 * @p wop is the operation a write wants (MERGE for terminals/merges, REPLACE for replacement). */
static void
place(struct lyd_node *parent, struct lyd_node *node, enum ed_op wop)
{
    enum ed_op pc = child_ctx(parent);

    if (pc == ED_CONTENT) {
        return; /* content of a replacement */
    }
    if (pc == ED_MERGE && wop == ED_MERGE) {
        return; /* inherits MERGE */
    }
    op_set(node, wop);
    promote(parent);
}

enum ed_res
ed_find(const struct ed *ed, const struct dpath *dp, struct lyd_node **ret_node, enum ed_op *ret_op)
{
    struct lyd_node *parent = NULL, *m = NULL;

    if (!ed) {
        return ED_R_PASS;
    }
    for (unsigned i = 0; i < dp->depth; i++) {
        struct lyd_node *first = first_child(ed, parent);
        enum ed_op e;

        if (i == dp->depth - 1 && dp->term_noval) {
            m = lyu_find_schema(first, dp->schema);
        } else {
            m = lyu_find(first, dp->step[i]);
        }
        if (!m) {
            enum ed_op pc = child_ctx(parent);

            if (pc == ED_CONTENT || pc == ED_DELETE) {
                return ED_R_ABSENT;
            }
            if (!parent && ed->replace_all) {
                return ED_R_ABSENT;
            }
            return ED_R_PASS;
        }
        e = ed_eff(m);
        if (e == ED_DELETE) {
            return ED_R_ABSENT;
        }
        if (e == ED_REPLACE || e == ED_CONTENT) {
            if (i == dp->depth - 1) {
                *ret_node = m;
                *ret_op = e;
                return ED_R_CONTENT;
            }
            /* continue inside content: anything missing below is absent */
        }
        if (i == dp->depth - 1) {
            *ret_node = m;
            *ret_op = e;
            if (m->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) {
                return ED_R_CONTENT;
            }
            return ED_R_OVERLAY;
        }
        parent = m;
    }
    return ED_R_PASS;
}

/* Walk @p dp in @p ed as far as it matches. Returns the number of steps matched; *ret_parent
 * is the last matched node (NULL if none). */
static unsigned
walk(const struct ed *ed, const struct dpath *dp, struct lyd_node **ret_parent)
{
    struct lyd_node *parent = NULL;
    unsigned i;

    for (i = 0; i < dp->depth; i++) {
        struct lyd_node *first = first_child(ed, parent), *m;

        if (i == dp->depth - 1 && dp->term_noval) {
            m = lyu_find_schema(first, dp->schema);
        } else {
            m = lyu_find(first, dp->step[i]);
        }
        if (!m) {
            break;
        }
        parent = m;
        if (ed_eff(m) == ED_DELETE) {
            i++;
            break;
        }
    }
    *ret_parent = parent;
    return i;
}

/* Duplicate the template chain from step @p i down to the last step. */
static struct lyd_node *
dup_chain(const struct dpath *dp, unsigned i, struct lyd_node **ret_last)
{
    struct lyd_node *copy = NULL, *n;

    if (lyd_dup_single(dp->step[i], NULL, LYD_DUP_RECURSIVE, &copy)) {
        return NULL;
    }
    n = copy;
    while (n && n->schema != dp->schema) {
        n = lyd_child_no_keys(n);
    }
    *ret_last = n;
    return copy;
}

/* Duplicate the template chain from step @p i down to the parent of the last step; *ret_bottom
 * is that parent's copy. Requires i < depth - 1. */
static struct lyd_node *
dup_parent_chain(const struct dpath *dp, unsigned i, struct lyd_node **ret_bottom)
{
    struct lyd_node *copy = NULL, *n;

    if (lyd_dup_single(dp->step[i], NULL, LYD_DUP_RECURSIVE, &copy)) {
        return NULL;
    }
    for (n = copy; lyd_child_no_keys(n); n = lyd_child_no_keys(n)) {
    }
    if (n->schema == dp->schema && n != copy) {
        struct lyd_node *p = lyd_parent(n);

        lyd_free_tree(n);
        n = p;
    }
    *ret_bottom = n;
    return copy;
}

enum chorus_err
ed_set(struct ed *ed, const struct dpath *dp, struct cerr **e)
{
    struct lyd_node *m, *parent, *copy, *last;
    unsigned i;

    if (dp->term_noval) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "a value is required to set a leaf");
    }
    i = walk(ed, dp, &m);
    if (i == dp->depth && m && ed_eff(m) != ED_DELETE) {
        /* the node is in the edit already: update it */
        enum ed_op eo = ed_eff(m);

        if (m->schema->nodetype == LYS_LEAF) {
            LY_ERR r = lyd_change_term(m, lyd_get_value(dp->last));

            if (r && r != LY_EEXIST && r != LY_ENOT) {
                return lyu_err(e, ed->ctx, CHORUS_ERR_BADVALUE, NULL);
            }
        } else if (m->schema->nodetype & LYD_NODE_ANY) {
            struct lyd_node *n;

            if (lyd_dup_single(dp->last, NULL, 0, &n)) {
                return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
            }
            parent = lyd_parent(m);
            free_node(ed, m);
            insert(ed, parent, n);
            place(parent, n, ED_MERGE);
            ed->nwrites++;
            return CHORUS_OK;
        }
        if (eo == ED_NONE) {
            op_set(m, ED_MERGE);
            promote(lyd_parent(m));
        }
        ed->nwrites++;
        return CHORUS_OK;
    }
    if (m && ed_eff(m) == ED_DELETE) {
        /* delete then write: the deleted node comes back with only what is written now */
        if (i == dp->depth) {
            /* the node itself */
            if (m->schema->nodetype & LYD_NODE_INNER) {
                op_set(m, ED_REPLACE);
            } else {
                parent = lyd_parent(m);
                free_node(ed, m);
                if (lyd_dup_single(dp->last, NULL, 0, &m)) {
                    return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
                }
                insert(ed, parent, m);
                place(parent, m, ED_MERGE);
                ed->nwrites++;
                return CHORUS_OK;
            }
            promote(lyd_parent(m));
            ed->nwrites++;
            return CHORUS_OK;
        }
        /* an ancestor was deleted: it is recreated with the path below as content */
        op_set(m, ED_REPLACE);
        promote(lyd_parent(m));
        parent = m;
    } else {
        parent = m;
    }
    copy = dup_chain(dp, i, &last);
    if (!copy) {
        return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
    }
    insert(ed, parent, copy);
    place(parent, copy, ED_MERGE);
    ed->nwrites++;
    return CHORUS_OK;
}

enum chorus_err
ed_delete(struct ed *ed, const struct dpath *dp, const struct lyd_node *cur, struct cerr **e)
{
    struct lyd_node *m, *copy, *last, *n;
    unsigned i;
    enum ed_op pc;

    i = walk(ed, dp, &m);
    if (m && ed_eff(m) == ED_DELETE) {
        return CHORUS_OK; /* already deleted */
    }
    if (i == dp->depth) {
        enum ed_op eo = ed_eff(m);

        if (eo == ED_CONTENT || (m->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY) &&
                                 child_ctx(lyd_parent(m)) == ED_CONTENT)) {
            free_node(ed, m);
        } else {
            free_children(ed, m);
            op_set(m, ED_DELETE);
            mark_impure(m);
        }
        ed->nwrites++;
        return CHORUS_OK;
    }
    pc = child_ctx(m);
    if (pc == ED_CONTENT || (!m && ed->replace_all)) {
        return CHORUS_OK; /* absent from an authoritative replacement */
    }
    if (dp->term_noval) {
        struct lyd_node *leaf;

        if (!cur) {
            return cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "no current value to delete");
        }
        if (lyd_dup_single(cur, NULL, 0, &leaf)) {
            return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
        }
        leaf->flags &= ~LYD_DEFAULT;
        if (i == dp->depth - 1) {
            copy = last = leaf;
        } else {
            copy = dup_parent_chain(dp, i, &n);
            if (!copy) {
                lyd_free_tree(leaf);
                return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
            }
            lyd_insert_child(n, leaf);
            last = leaf;
        }
    } else {
        copy = dup_chain(dp, i, &last);
        if (!copy) {
            return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
        }
    }
    /* every new non-key node on the chain is a path (NONE), the last one is DELETE */
    for (n = copy; n; n = lyd_child_no_keys(n)) {
        op_set(n, n == last ? ED_DELETE : ED_NONE);
        if (n == last) {
            free_children(ed, n);
            break;
        }
    }
    insert(ed, m, copy);
    mark_impure(last);
    ed->nwrites++;
    return CHORUS_OK;
}

enum chorus_err
ed_replace(struct ed *ed, const struct dpath *dp, struct lyd_node *content, struct cerr **e)
{
    struct lyd_node *m, *parent, *copy, *last;
    unsigned i;
    enum ed_op wop = (content->schema->nodetype & LYD_NODE_INNER) ? ED_REPLACE : ED_MERGE;

    clear_ops(content);
    i = walk(ed, dp, &m);
    if (i == dp->depth) {
        /* replace the edit node itself */
        parent = lyd_parent(m);
        free_node(ed, m);
        insert(ed, parent, content);
        place(parent, content, wop);
        ed->nwrites++;
        return CHORUS_OK;
    }
    if (m && ed_eff(m) == ED_DELETE) {
        op_set(m, ED_REPLACE);
        promote(lyd_parent(m));
    }
    parent = m;
    if (i == dp->depth - 1) {
        insert(ed, parent, content);
        place(parent, content, wop);
        ed->nwrites++;
        return CHORUS_OK;
    }
    /* graft the template chain down to the parent of the last step, then the content */
    copy = dup_parent_chain(dp, i, &last);
    if (!copy) {
        lyd_free_tree(content);
        return lyu_err(e, ed->ctx, CHORUS_ERR_NOMEM, NULL);
    }
    lyd_insert_child(last, content);
    insert(ed, parent, copy);
    place(parent, copy, ED_MERGE);
    if (child_ctx(lyd_parent(content)) != ED_CONTENT && wop == ED_REPLACE) {
        op_set(content, ED_REPLACE);
    }
    ed->nwrites++;
    return CHORUS_OK;
}

/* Merge data node @p d (detached or still in its data tree) under edit parent @p parent.
 * Returns whether @p d itself moved into the edit (otherwise it stays where it was). */
static bool
merge_node(struct ed *ed, struct lyd_node *parent, struct lyd_node *d)
{
    struct lyd_node *m = lyu_find(first_child(ed, parent), d), *c, *next;
    enum ed_op em;

    if (!m) {
        lyd_unlink_tree(d);
        clear_ops(d);
        insert(ed, parent, d);
        place(parent, d, ED_MERGE);
        return true;
    }
    em = ed_eff(m);
    if (m->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) {
        if (!lyu_term_equal(m, d) || em == ED_DELETE) {
            lyd_unlink_tree(d);
            d->priv = NULL;
            free_node(ed, m);
            insert(ed, parent, d);
            place(parent, d, ED_MERGE);
            return true;
        }
        return false;
    }
    if (em == ED_DELETE) {
        op_set(m, ED_REPLACE);
        promote(lyd_parent(m));
    } else if (em == ED_NONE) {
        op_set(m, ED_MERGE);
        promote(lyd_parent(m));
    }
    for (c = lyd_child_no_keys(d); c; c = next) {
        next = c->next;
        merge_node(ed, m, c);
    }
    return false;
}

enum chorus_err
ed_merge_tree(struct ed *ed, struct lyd_node *data, struct cerr **e)
{
    struct lyd_node *d, *next;

    for (d = data; d; d = next) {
        next = d->next;
        if (!merge_node(ed, NULL, d)) {
            lyd_free_tree(d); /* what stayed behind merged into existing edit nodes */
        }
        ed->nwrites++;
    }
    (void)e;
    return CHORUS_OK;
}

enum chorus_err
ed_replace_tree(struct ed *ed, struct lyd_node *data, bool all, struct cerr **e)
{
    struct lyd_node *d, *next, *m;

    if (all) {
        ed_clear(ed);
        ed->replace_all = true;
    }
    for (d = data; d; d = next) {
        next = d->next;
        lyd_unlink_tree(d);
        clear_ops(d);
        m = lyu_find(ed->tree, d);
        if (m) {
            free_node(ed, m);
        }
        insert(ed, NULL, d);
        op_set(d, (d->schema->nodetype & LYD_NODE_INNER) ? ED_REPLACE : ED_MERGE);
        ed->nwrites++;
    }
    (void)e;
    return CHORUS_OK;
}

/* Compose node @p t of edit @p top (effective operation @p op) under @p parent of @p base. */
static void
compose_node(struct ed *base, struct ed *top, struct lyd_node *parent, struct lyd_node *t,
             enum ed_op op)
{
    struct lyd_node *m = lyu_find(first_child(base, parent), t), *c, *next, *n;
    enum ed_op pc = child_ctx(parent);

    switch (op) {
    case ED_DELETE:
        if (m) {
            if (ed_eff(m) == ED_CONTENT ||
                ((m->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) && pc == ED_CONTENT)) {
                free_node(base, m);
            } else {
                free_children(base, m);
                op_set(m, ED_DELETE);
                mark_impure(m);
            }
        } else if (pc != ED_CONTENT && !(!parent && base->replace_all)) {
            if (lyd_dup_single(t, NULL, 0, &n)) {
                return;
            }
            insert(base, parent, n);
            op_set(n, ED_DELETE);
            mark_impure(n);
        }
        return;
    case ED_REPLACE:
    case ED_CONTENT:
        if (m) {
            free_node(base, m);
        }
        unlink_node(top, t);
        clear_ops(t);
        insert(base, parent, t);
        place(parent, t, (t->schema->nodetype & LYD_NODE_INNER) ? ED_REPLACE : ED_MERGE);
        return;
    case ED_MERGE:
        if (t->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) {
            if (m) {
                free_node(base, m);
            }
            unlink_node(top, t);
            clear_ops(t);
            insert(base, parent, t);
            place(parent, t, ED_MERGE);
            return;
        }
        if (!m) {
            if (!ed_impure(t)) {
                unlink_node(top, t);
                clear_ops(t);
                insert(base, parent, t);
                place(parent, t, ED_MERGE);
                return;
            }
            if (lyd_dup_single(t, NULL, 0, &m)) {
                return;
            }
            insert(base, parent, m);
            place(parent, m, ED_MERGE);
        } else if (ed_eff(m) == ED_DELETE) {
            op_set(m, ED_REPLACE);
            promote(lyd_parent(m));
        } else if (ed_eff(m) == ED_NONE) {
            op_set(m, ED_MERGE);
            promote(lyd_parent(m));
        }
        for (c = lyd_child_no_keys(t); c; c = next) {
            enum ed_op cop = ed_op_get(c);

            next = c->next;
            compose_node(base, top, m, c, cop == ED_INHERIT ? ED_MERGE : cop);
        }
        return;
    case ED_NONE:
        if (!m) {
            if (pc == ED_CONTENT || (!parent && base->replace_all)) {
                return; /* only deletions below, of nodes absent from the replacement */
            }
            if (lyd_dup_single(t, NULL, 0, &m)) {
                return;
            }
            insert(base, parent, m);
            op_set(m, ED_NONE);
            mark_impure(m);
        }
        for (c = lyd_child_no_keys(t); c; c = next) {
            next = c->next;
            compose_node(base, top, m, c, ed_op_get(c));
        }
        return;
    case ED_INHERIT:
        return;
    }
}

enum chorus_err
ed_compose(struct ed *base, struct ed *top, struct cerr **e)
{
    struct lyd_node *t, *next;

    if (top->replace_all) {
        ed_clear(base);
        base->replace_all = true;
        base->tree = top->tree;
        base->nwrites = top->nwrites;
        top->tree = NULL;
        return CHORUS_OK;
    }
    for (t = top->tree; t; t = next) {
        next = t->next;
        compose_node(base, top, NULL, t, ed_op_get(t));
    }
    base->nwrites += top->nwrites;
    ed_clear(top);
    (void)e;
    return CHORUS_OK;
}

static const char *
check_node(const struct lyd_node *n, enum ed_op ctx)
{
    enum ed_op op = ed_op_get(n);
    const struct lyd_node *c;

    if (lyu_is_key(n)) {
        return op ? "E3: a key leaf has an operation" : NULL;
    }
    if (ctx == ED_CONTENT) {
        if (op) {
            return "E4: an operation below REPLACE";
        }
    } else if (ctx == ED_NONE) {
        if (!op) {
            return "E2: a child of NONE without an operation";
        }
    }
    if (op == ED_DELETE && lyd_child_no_keys(n)) {
        return "E3: a DELETE node with children";
    }
    if ((op == ED_DELETE || op == ED_NONE) && !ed_impure(n)) {
        return "E5: NONE/DELETE node not flagged impure";
    }
    {
        enum ed_op eff = op ? op : (ctx == ED_CONTENT ? ED_CONTENT : ED_MERGE);
        enum ed_op cctx = eff == ED_REPLACE ? ED_CONTENT : eff;

        for (c = lyd_child_no_keys(n); c; c = c->next) {
            const char *r;
            enum ed_op cop = ed_op_get(c);

            if ((cop == ED_MERGE || cop == ED_REPLACE) && eff == ED_NONE) {
                return "E1: a write below a NONE node";
            }
            if ((cop == ED_DELETE || cop == ED_NONE) && !ed_impure(n)) {
                return "E5: impure subtree not flagged";
            }
            r = check_node(c, cctx);
            if (r) {
                return r;
            }
        }
    }
    return NULL;
}

const char *
ed_check(const struct ed *ed)
{
    for (const struct lyd_node *n = ed->tree; n; n = n->next) {
        const char *r;

        if (!ed_op_get(n)) {
            return "top-level node without an operation";
        }
        r = check_node(n, ED_NONE);
        if (r) {
            return r;
        }
    }
    return NULL;
}

size_t
ed_size(const struct ed *ed)
{
    return ed ? lyu_count(ed->tree, true) : 0;
}
