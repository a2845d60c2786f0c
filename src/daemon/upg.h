/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema upgrade (ConfD's CDB upgrade): the configuration stored under one module set comes up
 * under another.
 *
 * The database directory keeps a copy of the load-path files of the module set its durable
 * files were written with, in schema/<digest>/ (<digest> = the module-set digest of schema.h
 * in hex; the files as NNN-<file name>, in load order, and a MODULES manifest: one line
 * "<name> <revision or -> <sha256 hex>" per module of the context). A start with another module
 * set compiles that copy (upg_load()), recovers the data exactly as it was written (jnl.h) and
 * converts it, node by node, into the new schema (upg_convert()):
 *
 *  - a node whose schema node is gone (removed, its module gone, now config false, or now a
 *    different kind of node) is dropped with its subtree, and the drop is logged with its path;
 *  - an implicit default is not carried over: the new schema's defaults apply;
 *  - a value that no longer fits its type (range, length, pattern, enumeration, identity, a
 *    list key that cannot be built) is reported with its path and the reason; the caller
 *    refuses the start, or with drop_invalid the node (a whole list entry for a key) is
 *    dropped and the drop logged;
 *  - everything else is copied with its value; ordered-by-user order is kept.
 *
 * Must, when, leafref, mandatory, unique and min/max-elements are not checked here: the result
 * becomes running's base for the init transaction, which validates the whole tree (txn.c) after
 * the applications' transaction hooks had their chance to migrate their data.
 *
 * Nothing here writes the database's data files: until the init transaction commits (jnl.h
 * jnl_upgrade()), the old files are the durable truth, so a refused start loses nothing.
 *
 * Invariant: schema/<digest>/ exists (complete: renamed into place after its files and
 * manifest were synced) before any journal or snapshot carrying <digest> is written.
 */
#ifndef CHORUS_UPG_H
#define CHORUS_UPG_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cerr.h"
#include "schema.h"

/* The last upgrade, kept in <dbdir>/last-upgrade for `status`. */
struct upg_last {
    int64_t time;          /* seconds since the epoch */
    uint64_t txid;         /* the init transaction that committed it */
    char from[65], to[65]; /* module-set digests (hex) */
    char *from_modules;    /* "name@revision" of the old set's load-path modules, ", "-separated */
    uint64_t dropped;      /* nodes dropped because their schema node is gone */
    uint64_t dropped_invalid; /* values dropped because they no longer fit */
};

/* What a conversion found. */
struct upg_result {
    uint64_t dropped;          /* subtrees dropped: schema node gone (each logged) */
    uint64_t dropped_invalid;  /* subtrees dropped: value no longer fits (drop_invalid) */
    uint64_t invalid;          /* values that no longer fit (not dropped) */
    struct cerr *invalid_list; /* one item per invalid value: its path and the reason */
};

/*
 * Make sure <@p dbdir>/schema/<digest of @p s>/ holds @p s's load-path files and manifest
 * (written into a temporary directory, synced, renamed into place). Returns CHORUS_OK,
 * CHORUS_ERR_IO or CHORUS_ERR_NOMEM.
 */
enum chorus_err upg_store(const char *dbdir, const struct schema *s, struct cerr **e);

/* Remove every stored module set of @p dbdir except @p keep_hex (best effort). */
void upg_prune(const char *dbdir, const char *keep_hex);

/*
 * Compile the module set stored under @p hex. *ret_schema is new (schema_free()), written on
 * success only. CHORUS_ERR_NOTFOUND when no copy is stored (a database written before module
 * sets were kept), or schema_load()'s errors.
 */
enum chorus_err upg_load(const char *dbdir, const char *hex, struct schema **ret_schema,
                         struct cerr **e);

/*
 * The differences between the stored set @p hex and @p s, module by module, for the log
 * ("routes: revision 2026-11-23 -> 2026-12-01; chorus-test-extra@2026-11-24: added").
 * Malloc'd; NULL on ENOMEM. Modules that differ only in their text say "text changed".
 */
char *upg_changes(const char *dbdir, const char *hex, const struct schema *s);

/*
 * Convert @p old (a recovered tree of the old schema; not modified) into a new tree of
 * @p ctx as described above, with the new schema's implicit defaults added (not validated).
 * Drops are logged (LL_WARN, "schema upgrade: dropped <path>: <reason>"). *ret_tree (may be
 * NULL: empty) and *ret_res are written on CHORUS_OK; the caller frees the tree
 * (lyd_free_all()) and ret_res->invalid_list (cerr_free()). CHORUS_ERR_NOMEM otherwise.
 */
enum chorus_err upg_convert(const struct lyd_node *old, const struct ly_ctx *ctx, bool drop_invalid,
                            struct lyd_node **ret_tree, struct upg_result *ret_res,
                            struct cerr **e);

/* Write <@p dbdir>/last-upgrade durably. */
enum chorus_err upg_last_write(const char *dbdir, const struct upg_last *u, struct cerr **e);
/* Read it: true if there is one (then free u->from_modules). */
bool upg_last_read(const char *dbdir, struct upg_last *u);
/* The load-path modules of @p s as "name@revision, ..." (malloc'd, NULL on ENOMEM). */
char *upg_module_list(const struct schema *s);

#endif
