/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation of a change against YANG's constraints at a cost that follows the size of the
 * change, not of the datastore.
 *
 * The change has been applied to the datastore tree through a mutation log (ds_apply). The
 * validator reads the log to learn what changed, then checks exactly what the change can
 * affect, with libyang's own rules (validation.c of libyang 2.1.30 is the reference):
 *
 *  - new nodes (everything in an inserted subtree): duplicates, when, must, leafref and other
 *    tree-dependent types, and for new inner nodes the checks of their children (mandatory,
 *    min/max-elements, unique, choice cases) and their implicit defaults;
 *  - parents whose children were inserted or removed: choice exclusivity (an old case's data
 *    is auto-deleted by a new case), mandatory and min/max of the affected schema node,
 *    defaults coming back for removed nodes, leftover defaults of dead cases;
 *  - dependants: every must/when whose expression references a changed schema node is
 *    re-evaluated, for the instances it can concern. Expressions that provably stay inside one
 *    entry of their nearest list ("local") are re-evaluated in that entry only; others for
 *    every instance ("global": correct, not proportional);
 *  - leafrefs backwards: removing or changing a target re-checks the referrers of its value
 *    (an index from value to referrers, built on first use, kept current by log hooks);
 *  - unique: an index per list instance set, built on first use, kept current the same way.
 *
 * `when` is evaluated to a fixpoint: a false when auto-deletes an old node (one that was
 * valid before, LYD_WHEN_TRUE) and is an error for a node created by this change; each
 * auto-delete is a change of its own whose dependants are checked in turn. All side effects
 * go through the log, so an abort restores the tree exactly.
 *
 * Full mode runs libyang's lyd_validate_all on a copy of the result as the authority, and
 * reports any disagreement with the incremental result as an internal error: the test
 * oracle, and a paranoid mode for operators.
 */
#ifndef CHORUS_VAL_H
#define CHORUS_VAL_H

#include <libyang/libyang.h>
#include <stdbool.h>

#include "common/cerr.h"
#include "dlog.h"

struct val;

/* Analyse the schema of @p ctx (dependencies of must/when, leafref targets, unique lists,
 * defaults). The context's compiled schema nodes' `priv` pointers are taken. */
struct val *val_new(struct ly_ctx *ctx);
void val_free(struct val *v);
/* A validator for another tree of the same context: it shares @p v's schema analysis (so it
 * must be freed before @p v) and keeps indexes of its own. */
struct val *val_clone(const struct val *v);

/* Hooks keeping the indexes current; pass with the validator as argument to dl_init(). */
const struct dl_hooks *val_hooks(void);

/* Forget every index (they are rebuilt on demand), e.g. after the tree was replaced. */
void val_reset(struct val *v);

/*
 * Validate the change recorded in @p log (all its entries), incrementally; side effects are
 * made through @p log. Returns CHORUS_OK, CHORUS_ERR_VALIDATION (first violation, with path
 * and app-tag) or CHORUS_ERR_NOMEM. On error the caller undoes the log.
 */
enum chorus_err val_incremental(struct val *v, struct dlog *log, struct cerr **e);

/*
 * As val_incremental, then libyang's full validation of a copy of the result: its verdict is
 * authoritative; a disagreement in verdict or in the resulting tree is CHORUS_ERR_INTERNAL.
 */
enum chorus_err val_full(struct val *v, struct dlog *log, struct cerr **e);

/* Validate a whole tree with libyang (start-up, init transaction). Adds defaults. */
enum chorus_err val_tree(struct ly_ctx *ctx, struct lyd_node **root, struct cerr **e);

/*
 * Compare two trees as sets (ordered-by-system lists in any order), values and default flags
 * included. Returns NULL if equal, else a malloc'd description of the first difference.
 */
char *val_tree_diff(const struct lyd_node *a, const struct lyd_node *b);

#endif
