/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mutation log of a datastore tree. Every change the commit sequence makes to a tree
 * (applying a change set, validation's auto-deletes and defaults) is one of four primitive
 * moves, performed by the functions below and recorded in order:
 *
 *   INSERT  a detached subtree is linked under a parent (or at the top level)
 *   REMOVE  a subtree is unlinked; it stays alive in the log
 *   SWAP    a node is replaced by another of the same identity (a leaf's value, a default
 *           container by an explicit one)
 *   MOVE    an entry of an ordered-by-user list or leaf-list is repositioned
 *
 * Nothing is copied or freed while the log is open, so:
 *  - dl_undo(final=true) restores the tree exactly as it was (list entries at their
 *    positions, whatever their ordering), gives nodes taken from an edit tree back to it, and
 *    frees the nodes the apply or validation created;
 *  - dl_undo(final=false) / dl_redo() toggle the tree between the state before and after the
 *    change (used to serve other sessions' reads while a transaction is prepared);
 *  - dl_commit() makes the change permanent: removed nodes are freed, inserted ones lose
 *    LYD_NEW;
 *  - the entries, read forwards, are the journal record, and read backwards the rollback file.
 *
 * Hooks see every subtree that enters or leaves the tree (indexes of the validator).
 */
#ifndef CHORUS_DLOG_H
#define CHORUS_DLOG_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stddef.h>

#include "edit.h"

enum dl_kind { DL_INSERT = 1, DL_REMOVE = 2, DL_SWAP = 3, DL_MOVE = 4 };

/* Where an inserted node came from, i.e. where a final undo puts it. */
enum dl_src {
    DL_SRC_TREE = 0, /* REMOVE/MOVE: a node of the tree itself */
    DL_SRC_EDIT = 1, /* taken from an edit tree: returned to it */
    DL_SRC_NEW = 2,  /* created by the apply or by validation: freed */
};

struct dl_ent {
    unsigned char kind;      /* enum dl_kind */
    unsigned char src;       /* enum dl_src of @ref node */
    struct lyd_node *node;   /* INSERT: inserted; REMOVE: removed; SWAP: new; MOVE: moved */
    struct lyd_node *old;    /* SWAP: the node replaced */
    struct lyd_node *parent; /* parent in the tree (NULL: top level) */
    struct lyd_node *prev;   /* REMOVE/MOVE: previous instance of the same schema before the
                                change, for ordered-by-user positions (NULL: first) */
    struct lyd_node *after;  /* MOVE: the instance it was moved after (NULL: first) */
    struct lyd_node *home;   /* DL_SRC_EDIT: the edit parent (NULL: the edit's top level) */
    struct ed *home_ed;      /* DL_SRC_EDIT: the edit tree */
};

struct dl_hooks {
    /* @p subtree was linked into the tree (its parent pointers are valid) */
    void (*linked)(void *arg, struct lyd_node *subtree);
    /* @p subtree was unlinked from under @p parent (NULL: the top level); it is intact */
    void (*unlinked)(void *arg, struct lyd_node *subtree, struct lyd_node *parent);
};

struct dlog {
    struct dl_ent *v;
    size_t n, cap;
    struct lyd_node **root; /* the tree's first top-level node */
    bool applied;           /* the entries are in effect */
    bool oom;               /* an entry could not be recorded (the change was not made) */
    const struct dl_hooks *hooks;
    void *hook_arg;
};

void dl_init(struct dlog *log, struct lyd_node **root, const struct dl_hooks *hooks, void *arg);

/* Primitive moves. Each returns 0, or -1 if the entry cannot be recorded (the tree is then
 * unchanged). */
int dl_insert(struct dlog *log, struct lyd_node *parent, struct lyd_node *node, enum dl_src src,
              struct ed *home_ed);
int dl_remove(struct dlog *log, struct lyd_node *node);
int dl_swap(struct dlog *log, struct lyd_node *old, struct lyd_node *node, enum dl_src src,
            struct ed *home_ed);
int dl_move(struct dlog *log, struct lyd_node *node, struct lyd_node *after);

/* Undo all entries, last first. final: give back and free (the log is emptied);
 * otherwise the log keeps the nodes for dl_redo(). */
void dl_undo(struct dlog *log, bool final);
/* Redo after a non-final undo. */
void dl_redo(struct dlog *log);
/* Make the change permanent and empty the log. */
void dl_commit(struct dlog *log);
/* Release the log's memory (after undo(final) or commit). */
void dl_done(struct dlog *log);

/* Low-level tree linking used by the log and by journal replay. */
void tree_link(struct lyd_node **root, struct lyd_node *parent, struct lyd_node *node);
void tree_unlink(struct lyd_node **root, struct lyd_node *node);
/* Place list or leaf-list entry @p node (linked under @p parent or detached) after @p after,
 * or first among its instances (@p after NULL), whatever its ordering. */
void tree_place(struct lyd_node **root, struct lyd_node *parent, struct lyd_node *node,
                struct lyd_node *after);

/*
 * Entries whose target lies inside a subtree inserted (or swapped in) by an earlier entry are
 * "absorbed": the earlier entry's subtree, read in its final state, already contains them.
 * Fills @p absorbed (log->n flags). Returns 0 or -1 (OOM).
 */
int dl_absorbed(const struct dlog *log, bool *absorbed);

#endif
