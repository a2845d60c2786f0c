/* SPDX-License-Identifier: Apache-2.0 */
/* The mutation log of a datastore tree; see dlog.h. */
#include "dlog.h"

#include <stdlib.h>
#include <string.h>

#include "common/pset.h"
#include "common/vec.h"

void
dl_init(struct dlog *log, struct lyd_node **root, const struct dl_hooks *hooks, void *arg)
{
    memset(log, 0, sizeof *log);
    log->root = root;
    log->hooks = hooks;
    log->hook_arg = arg;
    log->applied = true;
}

static struct dl_ent *
push(struct dlog *log)
{
    if (vec_reserve(&log->v, &log->cap, log->n, sizeof *log->v)) {
        log->oom = true;
        return NULL;
    }
    memset(&log->v[log->n], 0, sizeof log->v[0]);
    return &log->v[log->n++];
}

void
tree_link(struct lyd_node **root, struct lyd_node *parent, struct lyd_node *node)
{
    if (parent) {
        lyd_insert_child(parent, node);
    } else if (!*root) {
        *root = node;
    } else {
        lyd_insert_sibling(*root, node, root);
    }
}

void
tree_unlink(struct lyd_node **root, struct lyd_node *node)
{
    if (!node->parent && *root == node) {
        *root = node->next;
    }
    lyd_unlink_tree(node);
}

/* The previous instance of @p node's schema among its siblings, or NULL if first. */
static struct lyd_node *
prev_instance(const struct lyd_node *node)
{
    struct lyd_node *p = node->prev;

    if (!p->next || p->schema != node->schema) {
        return NULL;
    }
    return p;
}

/*
 * Place list or leaf-list entry @p node (linked or not) after @p after, or first among its
 * instances under @p parent when @p after is NULL.
 *
 * libyang 2.1 positions only ordered-by-user instances (lyd_insert_after/before refuse the
 * others), yet an aborted change must give back an ordered-by-system entry exactly where it
 * was, or an observer would see the order change. Sibling order is free for libyang except
 * for the hash-table entry of a list's first instance, which those two functions maintain;
 * so for the duration of the call the schema node is marked ordered-by-user. The daemon is
 * single-threaded and nothing else runs meanwhile. tests/unit/edit checks the result.
 */
void
tree_place(struct lyd_node **root, struct lyd_node *parent, struct lyd_node *node,
           struct lyd_node *after)
{
    struct lysc_node *s = (struct lysc_node *)node->schema;
    struct lyd_node *first = NULL;
    bool sys = !(s->flags & LYS_ORDBY_USER);

    if (!after) {
        first = lyu_find_schema(lyu_children(parent, *root), s);
        if (!first || first == node) {
            if (!node->parent && node->prev == node && node != *root) {
                tree_link(root, parent, node);
            }
            return;
        }
    }
    if (after == node) {
        return;
    }
    if (sys) {
        s->flags |= LYS_ORDBY_USER;
    }
    if (!node->parent && *root == node) {
        *root = node->next;
    }
    if (after) {
        lyd_insert_after(after, node);
    } else {
        lyd_insert_before(first, node);
        if (!node->parent && *root == first) {
            *root = node;
        }
    }
    if (sys) {
        s->flags &= ~LYS_ORDBY_USER;
    }
}

/* Link @p node at its position: after @p prev among its instances (NULL: first) for list
 * entries, at its schema position for other nodes. */
static void
link_at(struct dlog *log, struct lyd_node *parent, struct lyd_node *node, struct lyd_node *prev)
{
    if (!node->schema || !(node->schema->nodetype & (LYS_LIST | LYS_LEAFLIST))) {
        tree_link(log->root, parent, node);
        return;
    }
    tree_place(log->root, parent, node, prev);
}

static void
hook_linked(struct dlog *log, struct lyd_node *n)
{
    if (log->hooks && log->hooks->linked) {
        log->hooks->linked(log->hook_arg, n);
    }
}

/* Unlink @p n from the tree and tell the hooks. */
static void
unlink_hooked(struct dlog *log, struct lyd_node *n)
{
    struct lyd_node *parent = lyd_parent(n);

    tree_unlink(log->root, n);
    if (log->hooks && log->hooks->unlinked) {
        log->hooks->unlinked(log->hook_arg, n, parent);
    }
}

/* Take @p node out of its edit tree, remembering where it was. */
static void
take_from_edit(struct dl_ent *e, struct lyd_node *node, struct ed *ed)
{
    e->home = lyd_parent(node);
    e->home_ed = ed;
    if (!node->parent && ed && ed->tree == node) {
        ed->tree = node->next;
    }
    lyd_unlink_tree(node);
}

static void
give_back(struct dl_ent *e, struct lyd_node *node)
{
    struct lyd_node *it;

    if (e->src == DL_SRC_EDIT) {
        /* validation may have marked whens true; the edit's nodes are new again */
        LYD_TREE_DFS_BEGIN(node, it)
        {
            it->flags &= ~LYD_WHEN_TRUE;
            LYD_TREE_DFS_END(node, it);
        }
    }
    if (e->home) {
        lyd_insert_child(e->home, node);
    } else if (e->home_ed) {
        if (!e->home_ed->tree) {
            e->home_ed->tree = node;
        } else {
            lyd_insert_sibling(e->home_ed->tree, node, &e->home_ed->tree);
        }
    } else {
        lyd_free_tree(node);
    }
}

int
dl_insert(struct dlog *log, struct lyd_node *parent, struct lyd_node *node, enum dl_src src,
          struct ed *home_ed)
{
    struct dl_ent *e = push(log);

    if (!e) {
        return -1;
    }
    e->kind = DL_INSERT;
    e->src = (unsigned char)src;
    e->node = node;
    e->parent = parent;
    if (src == DL_SRC_EDIT) {
        take_from_edit(e, node, home_ed);
    } else if (node->parent || node->prev != node) {
        lyd_unlink_tree(node);
    }
    tree_link(log->root, parent, node);
    hook_linked(log, node);
    return 0;
}

int
dl_remove(struct dlog *log, struct lyd_node *node)
{
    struct dl_ent *e = push(log);

    if (!e) {
        return -1;
    }
    e->kind = DL_REMOVE;
    e->src = DL_SRC_TREE;
    e->node = node;
    e->parent = lyd_parent(node);
    e->prev = prev_instance(node);
    unlink_hooked(log, node);
    return 0;
}

int
dl_swap(struct dlog *log, struct lyd_node *old, struct lyd_node *node, enum dl_src src,
        struct ed *home_ed)
{
    struct dl_ent *e = push(log);

    if (!e) {
        return -1;
    }
    e->kind = DL_SWAP;
    e->src = (unsigned char)src;
    e->node = node;
    e->old = old;
    e->parent = lyd_parent(old);
    e->prev = prev_instance(old);
    if (src == DL_SRC_EDIT) {
        take_from_edit(e, node, home_ed);
    } else if (node->parent || node->prev != node) {
        lyd_unlink_tree(node);
    }
    unlink_hooked(log, old);
    link_at(log, e->parent, node, e->prev);
    hook_linked(log, node);
    return 0;
}

int
dl_move(struct dlog *log, struct lyd_node *node, struct lyd_node *after)
{
    struct dl_ent *e = push(log);

    if (!e) {
        return -1;
    }
    e->kind = DL_MOVE;
    e->src = DL_SRC_TREE;
    e->node = node;
    e->parent = lyd_parent(node);
    e->prev = prev_instance(node);
    e->after = after;
    tree_unlink(log->root, node);
    link_at(log, e->parent, node, after);
    return 0;
}

static void
undo_one(struct dlog *log, struct dl_ent *e, bool final)
{
    switch (e->kind) {
    case DL_INSERT:
        unlink_hooked(log, e->node);
        if (final) {
            give_back(e, e->node);
        }
        break;
    case DL_REMOVE:
        link_at(log, e->parent, e->node, e->prev);
        hook_linked(log, e->node);
        break;
    case DL_SWAP:
        unlink_hooked(log, e->node);
        link_at(log, e->parent, e->old, e->prev);
        hook_linked(log, e->old);
        if (final) {
            give_back(e, e->node);
        }
        break;
    case DL_MOVE:
        tree_unlink(log->root, e->node);
        link_at(log, e->parent, e->node, e->prev);
        break;
    }
}

void
dl_undo(struct dlog *log, bool final)
{
    if (log->applied) {
        for (size_t i = log->n; i-- > 0;) {
            undo_one(log, &log->v[i], final);
        }
    } else if (final) {
        /* already undone: only give the nodes back */
        for (size_t i = log->n; i-- > 0;) {
            struct dl_ent *e = &log->v[i];

            if (e->kind == DL_INSERT || e->kind == DL_SWAP) {
                give_back(e, e->node);
            }
        }
    }
    log->applied = false;
    if (final) {
        log->n = 0;
    }
}

void
dl_redo(struct dlog *log)
{
    if (log->applied) {
        return;
    }
    for (size_t i = 0; i < log->n; i++) {
        struct dl_ent *e = &log->v[i];

        switch (e->kind) {
        case DL_INSERT:
            tree_link(log->root, e->parent, e->node);
            hook_linked(log, e->node);
            break;
        case DL_REMOVE:
            unlink_hooked(log, e->node);
            break;
        case DL_SWAP:
            unlink_hooked(log, e->old);
            link_at(log, e->parent, e->node, e->prev);
            hook_linked(log, e->node);
            break;
        case DL_MOVE:
            tree_unlink(log->root, e->node);
            link_at(log, e->parent, e->node, e->after);
            break;
        }
    }
    log->applied = true;
}

static void
clear_new(struct lyd_node *root)
{
    struct lyd_node *it;

    LYD_TREE_DFS_BEGIN(root, it)
    {
        it->flags &= ~LYD_NEW;
        LYD_TREE_DFS_END(root, it);
    }
}

void
dl_commit(struct dlog *log)
{
    /* Clear LYD_NEW first: a node inserted and later removed is freed below. */
    for (size_t i = 0; i < log->n; i++) {
        struct dl_ent *e = &log->v[i];

        if ((e->kind == DL_INSERT || e->kind == DL_SWAP) && e->node->parent) {
            clear_new(e->node);
        } else if ((e->kind == DL_INSERT || e->kind == DL_SWAP) && *log->root) {
            /* top-level: linked iff it is one of the root's siblings */
            for (struct lyd_node *s = *log->root; s; s = s->next) {
                if (s == e->node) {
                    clear_new(e->node);
                    break;
                }
            }
        }
    }
    /* Free what left the tree, latest first; a node removed twice (restored in between cannot
     * happen within one log) is freed once. Nodes inserted and then removed are freed through
     * their REMOVE entry. */
    for (size_t i = log->n; i-- > 0;) {
        struct dl_ent *e = &log->v[i];

        if (e->kind == DL_REMOVE) {
            lyd_free_tree(e->node);
        } else if (e->kind == DL_SWAP) {
            lyd_free_tree(e->old);
        }
    }
    log->n = 0;
    log->applied = true;
}

void
dl_done(struct dlog *log)
{
    free(log->v);
    log->v = NULL;
    log->n = log->cap = 0;
}

int
dl_absorbed(const struct dlog *log, bool *absorbed)
{
    struct pset ins = PSET_INIT;
    int ret = 0;

    for (size_t i = 0; i < log->n; i++) {
        const struct dl_ent *e = &log->v[i];
        bool a = false;

        for (const struct lyd_node *p = e->parent; p; p = lyd_parent(p)) {
            if (pset_has(&ins, p)) {
                a = true;
                break;
            }
        }
        absorbed[i] = a;
        if (!a && (e->kind == DL_INSERT || e->kind == DL_SWAP)) {
            if (pset_add(&ins, e->node) < 0) {
                ret = -1;
                break;
            }
        }
    }
    pset_free(&ins);
    return ret;
}
