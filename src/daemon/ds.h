/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Datastore trees and change sets meeting: applying an edit tree to a tree (through the
 * mutation log, moving nodes out of the edit rather than copying them), and reading a
 * datastore through layers of edits (a transaction over the candidate over running) without
 * copying what the edits do not touch.
 *
 * Apply semantics (set semantics, seeds/003): MERGE of a value equal to the tree's is no
 * change (but makes a default value explicit); DELETE of an absent or default node is no
 * change; REPLACE makes a subtree equal to the given content, leaving default nodes to
 * validation. The apply never validates; see val.h.
 */
#ifndef CHORUS_DS_H
#define CHORUS_DS_H

#include <libyang/libyang.h>
#include <stdbool.h>

#include "dlog.h"
#include "edit.h"

/*
 * Apply @p ed to the log's tree. Nodes are moved out of @p ed (the edit is consumed: after a
 * final undo of the log it is whole again). Returns CHORUS_OK, CHORUS_ERR_VALIDATION if the
 * change set holds a node twice (input with duplicate list entries) or CHORUS_ERR_NOMEM; on
 * error the log holds a partial apply: undo it.
 */
enum chorus_err ds_apply(struct dlog *log, struct ed *ed, struct cerr **e);

/* A datastore seen through edit layers (layer[0] is the lowest). */
#define VIEW_MAX_LAYERS 3
struct view {
    struct lyd_node *base; /* the datastore tree (first top-level node) */
    const struct ed *layer[VIEW_MAX_LAYERS];
    unsigned n;
};

/*
 * Find the node of @p dp in the view. *ret is a node in the base or in an edit layer (for an
 * inner node found in an overlay, its children are not the view's); use view_get() to read a
 * subtree. Returns CHORUS_OK or CHORUS_ERR_NOTFOUND.
 */
enum chorus_err view_find(const struct view *v, const struct dpath *dp,
                          const struct lyd_node **ret);

/*
 * The subtree of @p dp (NULL: the whole datastore) as the view sees it. *ret_tree is either
 * borrowed from the base (*ret_owned false: do not modify or free) or a copy (*ret_owned true:
 * free with lyd_free_all()). For a path, *ret_node is the node and *ret_tree its top-level
 * ancestor (so that printing *ret_tree with its ancestors works). Returns CHORUS_OK,
 * CHORUS_ERR_NOTFOUND or CHORUS_ERR_NOMEM.
 */
enum chorus_err view_get(const struct view *v, const struct dpath *dp, struct lyd_node **ret_tree,
                         struct lyd_node **ret_node, bool *ret_owned);

/* Count instances of @p schema under the view's node @p parent_dp (NULL: top level). */
enum chorus_err view_count(const struct view *v, const struct dpath *parent_dp,
                           const struct lysc_node *schema, uint64_t *ret_count);

#endif
