/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Edit trees: the change set of a transaction (or of the candidate) against its backend.
 *
 * A change set is a set, not a sequence (seeds/003): writing a node twice keeps the last
 * value, and it is held as a sparse libyang tree of the nodes it touches. Each node carries an
 * operation in its `priv` field (edit trees only; `priv` means nothing in datastore trees):
 *
 *   INHERIT  no operation of its own: it takes its parent's (MERGE below MERGE; content below
 *            REPLACE). Never on a top-level node.
 *   NONE     a path to deeper operations; the node is not created if it is missing.
 *   MERGE    the node must exist (created if missing); a terminal takes the node's value.
 *   REPLACE  the node must exist with exactly the subtree given below it ("content").
 *   DELETE   the node must not exist.
 *
 * Invariants (checked by ed_check() in tests):
 *  E1. Ancestors of a MERGE or REPLACE node are MERGE (or inherit MERGE): a write implies its
 *      parents exist.
 *  E2. Children of a NONE node have explicit operations.
 *  E3. A DELETE node has no children, a key leaf never has an operation of its own.
 *  E4. Below REPLACE every node is INHERIT (content).
 *  E5. A node whose subtree holds a NONE or DELETE node is flagged impure (ED_IMPURE); a pure
 *      MERGE/REPLACE subtree may be moved into a datastore whole. The flag may be stale in the
 *      safe direction (set while the subtree is pure again).
 *
 * Applying an edit tree to a datastore is ds_apply() (set semantics: MERGE of an equal value
 * and DELETE of an absent node are no change). The edit functions here do not look at the
 * backend; callers check "must exist"/"must not exist" against the view first.
 */
#ifndef CHORUS_EDIT_H
#define CHORUS_EDIT_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/pmap.h"
#include "lyu.h"

enum ed_op {
    ED_INHERIT = 0,
    ED_NONE = 1,
    ED_MERGE = 2,
    ED_REPLACE = 3,
    ED_DELETE = 4,
    ED_CONTENT = 5, /* effective operation of a node below REPLACE (never stored) */
};

#define ED_OPMASK 0x7u
#define ED_IMPURE 0x8u

static inline enum ed_op
ed_op_get(const struct lyd_node *n)
{
    return (enum ed_op)((uintptr_t)n->priv & ED_OPMASK);
}

static inline bool
ed_impure(const struct lyd_node *n)
{
    return ((uintptr_t)n->priv & ED_IMPURE) != 0;
}

struct ed {
    struct ly_ctx *ctx;
    struct lyd_node *tree; /* first top-level node, NULL when empty */
    bool replace_all;      /* top-level config nodes absent from @ref tree are deleted */
    uint64_t nwrites;      /* write operations recorded (statistics, "dirty") */
    struct pmap pos;       /* list entry of the edit → struct ed_pos: where it goes */
};

/* Where a list or leaf-list entry that the change creates is placed among its siblings. */
struct ed_pos {
    struct lyd_node *after; /* a template of the entry it follows (owned), NULL: first */
};

struct ed *ed_new(struct ly_ctx *ctx);
void ed_free(struct ed *ed);
void ed_clear(struct ed *ed);
static inline bool
ed_empty(const struct ed *ed)
{
    return !ed || (!ed->tree && !ed->replace_all);
}

/* The effective operation of an edit node (resolving INHERIT, CONTENT below REPLACE). */
enum ed_op ed_eff(const struct lyd_node *n);

/* What one edit layer says about a path. */
enum ed_res {
    ED_R_PASS,    /* nothing: look below */
    ED_R_ABSENT,  /* deleted, or not in an authoritative replacement */
    ED_R_CONTENT, /* *node is authoritative for the node and its subtree (REPLACE/content, or a
                     MERGE terminal) */
    ED_R_OVERLAY, /* *node (op NONE or MERGE, inner) holds edits below; with MERGE it exists */
};

/* Look up @p dp in @p ed. For term_noval paths the leaf is matched by schema. */
enum ed_res ed_find(const struct ed *ed, const struct dpath *dp, struct lyd_node **ret_node,
                    enum ed_op *ret_op);

/*
 * Set a leaf or make an inner node / leaf-list entry exist (merge semantics). The path must
 * carry the value for a leaf (dp->term_noval false). Consumes nothing of @p dp (copies).
 */
enum chorus_err ed_set(struct ed *ed, const struct dpath *dp, struct cerr **e);

/*
 * Record the deletion of the node @p dp. For a leaf given without a value, @p cur is the
 * node currently seen in the view (its value identifies nothing but is needed to build the
 * edit node); otherwise @p cur may be NULL.
 */
enum chorus_err ed_delete(struct ed *ed, const struct dpath *dp, const struct lyd_node *cur,
                          struct cerr **e);

/*
 * Replace the node at @p dp (an inner node, or a terminal) by @p content, a detached subtree
 * of the same schema (consumed).
 */
enum chorus_err ed_replace(struct ed *ed, const struct dpath *dp, struct lyd_node *content,
                           struct cerr **e);

/* Merge a data tree (top-level siblings, consumed) into the edit. */
enum chorus_err ed_merge_tree(struct ed *ed, struct lyd_node *data, struct cerr **e);

/*
 * Replace by a data tree (consumed): with @p all the whole configuration, otherwise each
 * top-level subtree present in @p data.
 */
enum chorus_err ed_replace_tree(struct ed *ed, struct lyd_node *data, bool all, struct cerr **e);

/*
 * Compose: apply edit @p top on top of @p base (both of the same context) so that @p base
 * afterwards describes both changes. @p top is consumed.
 */
enum chorus_err ed_compose(struct ed *base, struct ed *top, struct cerr **e);

/*
 * Place the list or leaf-list entry @p node of @p ed (created by the change) after the entry
 * identified by template @p after (consumed; NULL: first). Without a position a new entry goes
 * last. Positions are not kept when an edit is composed into another. Returns 0 or -1 (OOM).
 */
int ed_position(struct ed *ed, struct lyd_node *node, struct lyd_node *after);
/* The position of @p node, or NULL. */
const struct ed_pos *ed_pos_of(const struct ed *ed, const struct lyd_node *node);

/* Check invariants E1–E4; returns NULL or a description of the first violation (static). */
const char *ed_check(const struct ed *ed);

/* Number of nodes in the edit tree (memory accounting). */
size_t ed_size(const struct ed *ed);

#endif
