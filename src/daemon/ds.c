/* SPDX-License-Identifier: Apache-2.0 */
/* Applying edit trees and reading through edit layers; see ds.h. */
#include "ds.h"

#include <stdlib.h>
#include <string.h>

#include "common/pset.h"

/* One apply: either through the log, moving nodes out of the edit (commit), or onto a private
 * copy, duplicating edit nodes (reads through layers). */
struct apply {
    struct dlog *log;       /* MOVE mode */
    struct ed *ed;          /* MOVE mode: the edit the nodes come from */
    struct lyd_node **root; /* COPY mode: the copy's first top-level node */
    struct pset moved;      /* MOVE mode: nodes this apply moved in from the edit */
    struct lyd_node *dup;   /* a node the edit holds twice (input with duplicates) */
    bool failed;
};

static struct lyd_node **
ap_root(struct apply *a)
{
    return a->log ? a->log->root : a->root;
}

static void
ap_insert(struct apply *a, struct lyd_node *parent, struct lyd_node *e, bool from_edit)
{
    struct lyd_node *n;

    if (a->failed) {
        return;
    }
    if (a->log) {
        if (dl_insert(a->log, parent, e, from_edit ? DL_SRC_EDIT : DL_SRC_NEW,
                      from_edit ? a->ed : NULL) ||
            pset_add(&a->moved, e) < 0) {
            a->failed = true;
        }
        return;
    }
    if (from_edit) {
        if (lyd_dup_single(e, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &n)) {
            a->failed = true;
            return;
        }
    } else {
        n = e;
    }
    tree_link(a->root, parent, n);
}

static void
ap_remove(struct apply *a, struct lyd_node *m)
{
    if (a->failed) {
        return;
    }
    if (a->log) {
        if (dl_remove(a->log, m)) {
            a->failed = true;
        }
        return;
    }
    tree_unlink(a->root, m);
    lyd_free_tree(m);
}

static void
ap_swap(struct apply *a, struct lyd_node *m, struct lyd_node *e)
{
    struct lyd_node *n, *parent;

    if (a->failed) {
        return;
    }
    if (a->log) {
        if (dl_swap(a->log, m, e, DL_SRC_EDIT, a->ed) || pset_add(&a->moved, e) < 0) {
            a->failed = true;
        }
        return;
    }
    if (lyd_dup_single(e, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &n)) {
        a->failed = true;
        return;
    }
    parent = lyd_parent(m);
    if (lyu_user_ordered(m->schema)) {
        lyd_insert_after(m, n);
        tree_unlink(a->root, m);
    } else {
        tree_unlink(a->root, m);
        tree_link(a->root, parent, n);
    }
    lyd_free_tree(m);
}

static void apply_children(struct apply *a, struct lyd_node *tparent, struct lyd_node *efirst,
                           enum ed_op ctx);

/* A list entry the change created goes where the change set says (ed_position). */
static void
ap_position(struct apply *a, struct lyd_node *tparent, struct lyd_node *e)
{
    const struct ed_pos *p;
    struct lyd_node *after = NULL;

    if (!a->log || a->failed || !(p = ed_pos_of(a->ed, e))) {
        return;
    }
    if (p->after) {
        after = lyu_find(lyu_children(tparent, *a->log->root), p->after);
        if (!after || after == e) {
            return; /* the entry it should follow is not there: it stays last */
        }
    }
    if (dl_move(a->log, e, after)) {
        a->failed = true;
    }
}

static bool
default_container(const struct lyd_node *m)
{
    return m->schema->nodetype == LYS_CONTAINER && (m->flags & LYD_DEFAULT);
}

static void
apply_term(struct apply *a, struct lyd_node *tparent, struct lyd_node *m, struct lyd_node *e)
{
    if (!m) {
        ap_insert(a, tparent, e, true);
        ap_position(a, tparent, e);
    } else if ((m->flags & LYD_DEFAULT) || !lyu_term_equal(m, e)) {
        ap_swap(a, m, e);
    }
}

/* Bring the order of ordered-by-user instances under @p tparent to @p want (templates). */
static void
fix_order(struct apply *a, struct lyd_node *tparent, struct lyd_node **want, size_t n)
{
    struct lyd_node *after = NULL;

    for (size_t i = 0; i < n && !a->failed; i++) {
        struct lyd_node *cur = lyu_find(lyu_children(tparent, *ap_root(a)), want[i]);
        struct lyd_node *prev;

        if (!cur) {
            continue;
        }
        prev = (cur->prev->next && cur->prev->schema == cur->schema) ? cur->prev : NULL;
        if (prev != after) {
            if (a->log) {
                if (dl_move(a->log, cur, after)) {
                    a->failed = true;
                }
            } else {
                if (after) {
                    lyd_insert_after(after, cur);
                } else {
                    struct lyd_node *first =
                        lyu_find_schema(lyu_children(tparent, *ap_root(a)), cur->schema);

                    if (first != cur) {
                        lyd_insert_before(first, cur);
                    }
                }
            }
        }
        after = cur;
    }
}

static void
replace_content(struct apply *a, struct lyd_node *m, struct lyd_node *e)
{
    struct lyd_node *x, *next, **order = NULL;
    size_t norder = 0, cap = 0;
    bool ordered = false;

    /* what the replacement lacks goes (defaults are left to validation) */
    for (x = lyd_child_no_keys(m); x; x = next) {
        next = x->next;
        if (!(x->flags & LYD_DEFAULT) && !lyu_find(lyd_child(e), x)) {
            ap_remove(a, x);
        }
    }
    for (x = lyd_child_no_keys(e); x; x = x->next) {
        if (lyu_user_ordered(x->schema)) {
            ordered = true;
            break;
        }
    }
    if (ordered) {
        /* remember the wanted order: the edit nodes move, but stay the same nodes */
        for (x = lyd_child_no_keys(e); x; x = x->next) {
            if (!lyu_user_ordered(x->schema)) {
                continue;
            }
            if (norder == cap) {
                struct lyd_node **no;

                cap = cap ? cap * 2 : 16;
                no = realloc(order, cap * sizeof *order);
                if (!no) {
                    a->failed = true;
                    free(order);
                    return;
                }
                order = no;
            }
            order[norder++] = x;
        }
    }
    apply_children(a, m, lyd_child_no_keys(e), ED_CONTENT);
    if (ordered) {
        /* templates that were moved are now the tree's nodes; matched ones find theirs */
        size_t i = 0;

        while (i < norder) {
            size_t j = i;

            while (j < norder && order[j]->schema == order[i]->schema) {
                j++;
            }
            fix_order(a, m, order + i, j - i);
            i = j;
        }
        free(order);
    }
}

static void
apply_node(struct apply *a, struct lyd_node *tparent, struct lyd_node *e, enum ed_op op)
{
    struct lyd_node *m = lyu_find(lyu_children(tparent, *ap_root(a)), e), *copy;
    bool term = (e->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) != 0;

    if (m && a->log && pset_has(&a->moved, m)) {
        /* the change set holds this node twice: input with duplicate instances */
        a->dup = m;
        a->failed = true;
        return;
    }
    switch (op) {
    case ED_NONE:
        if (m && !term) {
            apply_children(a, m, lyd_child_no_keys(e), ED_NONE);
        }
        return;
    case ED_DELETE:
        if (m && !(m->flags & LYD_DEFAULT)) {
            ap_remove(a, m);
        }
        return;
    case ED_MERGE:
        if (term) {
            apply_term(a, tparent, m, e);
        } else if (!m) {
            if (!ed_impure(e)) {
                ap_insert(a, tparent, e, true);
                ap_position(a, tparent, e);
                return;
            }
            if (lyd_dup_single(e, NULL, 0, &copy)) {
                a->failed = true;
                return;
            }
            copy->priv = NULL;
            ap_insert(a, tparent, copy, false);
            apply_children(a, copy, lyd_child_no_keys(e), ED_MERGE);
        } else if (default_container(m) && !ed_impure(e)) {
            ap_swap(a, m, e);
        } else {
            apply_children(a, m, lyd_child_no_keys(e), ED_MERGE);
        }
        return;
    case ED_REPLACE:
    case ED_CONTENT:
        if (term) {
            apply_term(a, tparent, m, e);
        } else if (!m) {
            ap_insert(a, tparent, e, true);
            ap_position(a, tparent, e);
        } else if (default_container(m)) {
            ap_swap(a, m, e);
        } else {
            replace_content(a, m, e);
        }
        return;
    case ED_INHERIT:
        return;
    }
}

static void
apply_children(struct apply *a, struct lyd_node *tparent, struct lyd_node *efirst, enum ed_op ctx)
{
    struct lyd_node *c, *next;

    for (c = efirst; c && !a->failed; c = next) {
        enum ed_op op = ed_op_get(c);

        next = c->next;
        if (lyu_is_key(c)) {
            continue;
        }
        if (op == ED_INHERIT) {
            op = ctx == ED_MERGE ? ED_MERGE : ED_CONTENT;
        }
        apply_node(a, tparent, c, op);
    }
}

static void
apply_top(struct apply *a, struct ed *ed)
{
    struct lyd_node *x, *next;

    if (ed->replace_all) {
        for (x = *ap_root(a); x; x = next) {
            next = x->next;
            if (!(x->flags & LYD_DEFAULT) && x->schema && (x->schema->flags & LYS_CONFIG_W) &&
                !lyu_find(ed->tree, x)) {
                ap_remove(a, x);
            }
        }
    }
    for (x = ed->tree; x && !a->failed; x = next) {
        next = x->next;
        apply_node(a, NULL, x, ed_op_get(x));
    }
}

enum chorus_err
ds_apply(struct dlog *log, struct ed *ed, struct cerr **e)
{
    struct apply a = {.log = log, .ed = ed};
    enum chorus_err rc = CHORUS_OK;

    if (ed_empty(ed)) {
        return CHORUS_OK;
    }
    apply_top(&a, ed);
    if (a.dup) {
        char *p = lyu_path(a.dup);

        rc = cerr_add(e, CHORUS_ERR_VALIDATION, p, NULL, "Duplicate instance of \"%s\".",
                      a.dup->schema->name);
        free(p);
    } else if (a.failed) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory applying the change");
    }
    pset_free(&a.moved);
    return rc;
}

/* ---- views ---- */

/* Walk @p dp through a plain tree. */
static struct lyd_node *
tree_find(struct lyd_node *root, const struct dpath *dp)
{
    struct lyd_node *n = NULL, *first = root;

    for (unsigned i = 0; i < dp->depth; i++) {
        if (i == dp->depth - 1 && dp->term_noval) {
            n = lyu_find_schema(first, dp->schema);
        } else {
            n = lyu_find(first, dp->step[i]);
        }
        if (!n) {
            return NULL;
        }
        first = lyd_child(n);
    }
    return n;
}

enum chorus_err
view_find(const struct view *v, const struct dpath *dp, const struct lyd_node **ret)
{
    const struct lyd_node *overlay = NULL;
    struct lyd_node *n;

    for (unsigned l = v->n; l-- > 0;) {
        enum ed_op op;

        switch (ed_find(v->layer[l], dp, &n, &op)) {
        case ED_R_ABSENT:
            return CHORUS_ERR_NOTFOUND;
        case ED_R_CONTENT:
            *ret = n;
            return CHORUS_OK;
        case ED_R_OVERLAY:
            if (op == ED_MERGE) {
                *ret = n;
                return CHORUS_OK;
            }
            if (!overlay) {
                overlay = n;
            }
            break;
        case ED_R_PASS:
            break;
        }
    }
    n = tree_find(v->base, dp);
    if (!n) {
        return CHORUS_ERR_NOTFOUND;
    }
    *ret = n;
    return CHORUS_OK;
}

/* Build a copy of the base's node at @p dp with its ancestors; or a bare chain of the path's
 * templates when the base lacks it (*ret_present false). */
static enum chorus_err
copy_base(const struct view *v, const struct dpath *dp, struct lyd_node **ret_top,
          struct lyd_node **ret_node, bool *ret_present)
{
    struct lyd_node *n = tree_find(v->base, dp), *copy = NULL, *top;

    if (n) {
        if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS,
                           &copy)) {
            return CHORUS_ERR_NOMEM;
        }
        *ret_present = true;
    } else {
        /* the ancestors only: a chain of templates down to the parent */
        if (dp->depth == 1) {
            *ret_top = NULL;
            *ret_node = NULL;
            *ret_present = false;
            return CHORUS_OK;
        }
        if (lyd_dup_single(dp->parent, NULL, LYD_DUP_WITH_PARENTS, &copy)) {
            return CHORUS_ERR_NOMEM;
        }
        *ret_present = false;
    }
    for (top = copy; top->parent; top = lyd_parent(top)) {
    }
    *ret_top = top;
    *ret_node = copy;
    return CHORUS_OK;
}

enum chorus_err
view_get(const struct view *v, const struct dpath *dp, struct lyd_node **ret_tree,
         struct lyd_node **ret_node, bool *ret_owned)
{
    struct lyd_node *top = NULL, *node = NULL, *n;
    struct apply a = {0};
    bool touched = false, present;
    enum chorus_err r;

    if (!dp) {
        for (unsigned l = 0; l < v->n; l++) {
            touched |= !ed_empty(v->layer[l]);
        }
        if (!touched) {
            *ret_tree = v->base;
            *ret_node = NULL;
            *ret_owned = false;
            return CHORUS_OK;
        }
        if (v->base &&
            lyd_dup_siblings(v->base, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &top)) {
            return CHORUS_ERR_NOMEM;
        }
        a.root = &top;
        for (unsigned l = 0; l < v->n && !a.failed; l++) {
            if (!ed_empty(v->layer[l])) {
                apply_top(&a, (struct ed *)v->layer[l]);
            }
        }
        if (a.failed) {
            lyd_free_all(top);
            return CHORUS_ERR_NOMEM;
        }
        *ret_tree = top;
        *ret_node = NULL;
        *ret_owned = true;
        return CHORUS_OK;
    }

    for (unsigned l = 0; l < v->n; l++) {
        enum ed_op op;

        if (ed_find(v->layer[l], dp, &n, &op) != ED_R_PASS) {
            touched = true;
        }
    }
    if (!touched) {
        n = tree_find(v->base, dp);
        if (!n) {
            return CHORUS_ERR_NOTFOUND;
        }
        for (top = n; top->parent; top = lyd_parent(top)) {
        }
        *ret_tree = top;
        *ret_node = n;
        *ret_owned = false;
        return CHORUS_OK;
    }

    r = copy_base(v, dp, &top, &node, &present);
    if (r) {
        return r;
    }
    a.root = &top;
    for (unsigned l = 0; l < v->n && !a.failed; l++) {
        enum ed_op op;
        struct lyd_node *parent = present ? lyd_parent(node) : node;
        struct lyd_node *cur = present ? node : NULL;

        switch (ed_find(v->layer[l], dp, &n, &op)) {
        case ED_R_PASS:
            break;
        case ED_R_ABSENT:
            if (present) {
                tree_unlink(&top, node);
                lyd_free_tree(node);
                node = parent;
                present = false;
            }
            break;
        case ED_R_CONTENT: {
            struct lyd_node *c;

            if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &c)) {
                a.failed = true;
                break;
            }
            if (present) {
                tree_unlink(&top, cur);
                lyd_free_tree(cur);
            }
            tree_link(&top, parent, c);
            node = c;
            present = true;
            break;
        }
        case ED_R_OVERLAY:
            if (!present) {
                if (op != ED_MERGE) {
                    break; /* only deletions below a node that does not exist */
                }
                if (lyd_dup_single(n, NULL, 0, &cur)) {
                    a.failed = true;
                    break;
                }
                tree_link(&top, parent, cur);
                node = cur;
                present = true;
            }
            apply_children(&a, node, lyd_child_no_keys(n), op == ED_MERGE ? ED_MERGE : ED_NONE);
            break;
        }
    }
    if (a.failed) {
        lyd_free_all(top);
        return CHORUS_ERR_NOMEM;
    }
    if (!present) {
        lyd_free_all(top);
        return CHORUS_ERR_NOTFOUND;
    }
    for (top = node; top->parent; top = lyd_parent(top)) {
    }
    *ret_tree = top;
    *ret_node = node;
    *ret_owned = true;
    return CHORUS_OK;
}

enum chorus_err
view_count(const struct view *v, const struct dpath *parent_dp, const struct lysc_node *schema,
           uint64_t *ret_count)
{
    struct lyd_node *tree, *node, *it;
    bool owned;
    uint64_t c = 0;
    enum chorus_err r;

    if (parent_dp) {
        r = view_get(v, parent_dp, &tree, &node, &owned);
        if (r) {
            return r;
        }
        LYD_LIST_FOR_INST(lyd_child(node), schema, it)
        {
            c++;
        }
    } else {
        r = view_get(v, NULL, &tree, &node, &owned);
        if (r) {
            return r;
        }
        LYD_LIST_FOR_INST(tree, schema, it)
        {
            c++;
        }
    }
    if (owned) {
        lyd_free_all(tree);
    }
    *ret_count = c;
    return CHORUS_OK;
}
