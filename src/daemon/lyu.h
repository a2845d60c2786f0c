/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libyang helpers of the daemon: turning libyang's error items into cerr lists, resolving a
 * data path into per-level instance templates (for hash lookups through any tree), and small
 * tree utilities used by the datastore, the edit trees and the validator.
 */
#ifndef CHORUS_LYU_H
#define CHORUS_LYU_H

#include <libyang/libyang.h>
#include <stdbool.h>

#include "common/cerr.h"

/*
 * Convert (and clear) the error items of @p ctx into *@p e with code @p code. When libyang
 * names no data path, @p path is used. Returns @p code.
 */
enum chorus_err lyu_err(struct cerr **e, const struct ly_ctx *ctx, enum chorus_err code,
                        const char *path);

/* Data path of a node, malloc'd ("/" for NULL). */
char *lyu_path(const struct lyd_node *node);

/*
 * Copy @p n with its ancestors (lyd_dup_single() options @p dup_opts, LYD_DUP_WITH_PARENTS
 * added) and merge the copy into the tree *@p into (LYD_MERGE_WITH_FLAGS when @p dup_opts has
 * LYD_DUP_WITH_FLAGS). Returns 0 or -1 (out of memory).
 */
int lyu_merge_copy(struct lyd_node **into, const struct lyd_node *n, uint32_t dup_opts);

/*
 * A resolved data path: a scratch chain of instances, one per path step, usable as templates
 * for lyd_find_sibling_first() in any tree of the same context.
 */
#define DPATH_MAX_DEPTH 64

struct dpath {
    struct lyd_node *top;           /* scratch chain, owned (lyd_free_all) */
    struct lyd_node *last;          /* the instance of the last step, NULL if @ref term_noval */
    struct lyd_node *parent;        /* the instance of the last step's parent, NULL at top */
    const struct lysc_node *schema; /* schema of the last step */
    bool term_noval;                /* last step is a leaf given without a value */
    unsigned depth;                 /* number of steps */
    /* step[i] is the instance of step i (0 = top); step[depth-1] is NULL if term_noval */
    struct lyd_node *step[DPATH_MAX_DEPTH];
};

/*
 * Resolve @p path. For a leaf, @p value gives its value (validated against the type); with
 * NULL the leaf is identified by schema only. Paths to a list without keys are rejected, as
 * are RPC/notification nodes.
 * Errors: CHORUS_ERR_BADPATH (syntax, unknown module or node), CHORUS_ERR_BADVALUE (value or
 * key value does not fit its type).
 */
enum chorus_err dpath_resolve(struct ly_ctx *ctx, const char *path, const char *value,
                              struct dpath *dp, struct cerr **e);
void dpath_done(struct dpath *dp);

/*
 * Split "/a/b[k='x/y']/c" into the parent path and the last step ("c"); quotes and
 * predicates are respected. Returns 0, or -1 if @p path has no step.
 */
int lyu_split_last(const char *path, char **ret_parent, char **ret_last);

/* Find the sibling of @p first (any sibling) matching template @p tmpl (same schema, same keys
 * or leaf-list value; a leaf or container by schema). NULL if none. */
struct lyd_node *lyu_find(const struct lyd_node *first, const struct lyd_node *tmpl);
/* As lyu_find for a schema node without a template (leaf, container, anydata). */
struct lyd_node *lyu_find_schema(const struct lyd_node *first, const struct lysc_node *schema);
/* First child of @p parent, or the first top-level sibling (@p root) when @p parent is NULL. */
static inline struct lyd_node *
lyu_children(struct lyd_node *parent, struct lyd_node *root)
{
    return parent ? lyd_child(parent) : root;
}

/* Equal value (terminals) or identity (inner nodes); default flags are not compared. */
bool lyu_term_equal(const struct lyd_node *a, const struct lyd_node *b);
/* Whether the schema node is a list key. */
static inline bool
lyu_is_key(const struct lyd_node *n)
{
    return n->schema && (n->schema->flags & LYS_KEY);
}
/* Whether a list or leaf-list is ordered-by user. */
static inline bool
lyu_user_ordered(const struct lysc_node *s)
{
    return s && (s->nodetype & (LYS_LIST | LYS_LEAFLIST)) && (s->flags & LYS_ORDBY_USER);
}
/* Count nodes of a subtree (or of all siblings with @p siblings). */
size_t lyu_count(const struct lyd_node *n, bool siblings);

#endif
