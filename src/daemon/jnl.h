/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journal: durability of running. The file format and its invariants are described at
 * the top of jnl.c. This interface opens a database directory (recovering the tree from the
 * newest snapshot and the journals after it), appends transaction records and their
 * completion marks, and compacts into a snapshot in a forked child.
 */
#ifndef CHORUS_JNL_H
#define CHORUS_JNL_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/cerr.h"

struct jnl;

/* What recovery found; for the log and `status`. */
struct jnl_recovery {
    uint64_t snapshot_txid;    /* 0: no snapshot */
    bool from_cache;           /* the snapshot was read from its LYB cache */
    const char *cache_rebuilt; /* the LYB cache was not usable and was written again: why
                                  ("missing", "written by libyang X", ...); NULL if not */
    unsigned journals;         /* journal files read */
    uint64_t replayed;         /* committed records applied */
    uint64_t aborted;          /* records with an abort mark */
    uint64_t discarded;        /* a record without completion mark at the end (cut) */
    uint64_t cut_bytes;        /* bytes cut from a torn or unfinished tail */
    bool empty;                /* nothing was ever committed: a new database */
    uint64_t ms;               /* duration */
};

/* Called for each committed record replayed at start-up (e.g. to restore rollback files). */
typedef void (*jnl_replay_cb)(void *arg, uint64_t txid, const uint8_t *payload, size_t len);

struct jnl_params {
    const char *dir;            /* database directory, created if missing */
    struct ly_ctx *ctx;         /* schema */
    const uint8_t *digest;      /* 32-byte module-set digest */
    const char *modset;         /* module set, human-readable (one per line) */
    uint64_t compact_threshold; /* journal bytes that make compaction due */
    const char *rollback_dir;   /* synced by compaction before old journals go (or NULL) */
    jnl_replay_cb replayed;     /* optional */
    void *replayed_arg;
    bool rebuild_cache; /* write the newest snapshot's LYB cache again if it is not
                           usable (missing, damaged, other libyang or module set) */
    /* optional: when the database was written with another module set (CHORUS_ERR_SCHEMA),
     * the digest and text (malloc'd, the caller frees it) of that set */
    struct jnl_modset *ret_other;
};

/* A module set as the durable files record it. */
struct jnl_modset {
    uint8_t digest[32];
    char *text; /* one "name@revision" per line */
};

/*
 * Lock @p p->dir, recover its content and open the active journal for appending.
 * *ret_tree receives the tree (not validated; the caller validates), *ret_txid the last
 * committed transaction id. Errors: CHORUS_ERR_IO (file access), CHORUS_ERR_INUSE (another
 * chorusd holds the directory), CHORUS_ERR_SCHEMA (written with another module set, or a
 * record does not apply), CHORUS_ERR_PROTO (a corrupt file that is not a torn tail).
 */
enum chorus_err jnl_open(const struct jnl_params *p, struct jnl **ret_jnl,
                         struct lyd_node **ret_tree, uint64_t *ret_txid,
                         struct jnl_recovery *ret_rec, struct cerr **e);

/*
 * Schema upgrade, the switch to a new module set (@p ctx, @p digest, @p modset): write the
 * snapshot of @p tree (valid in @p ctx) as transaction @p txid under the new module set, durably
 * and in this process, then start journal-<txid> with it, and delete the older journals and
 * snapshots. The snapshot's rename is the switch point: before it recovery reads the old files
 * with the old module set, after it the new snapshot (journals older than a snapshot and
 * written with another module set are skipped, J7). Errors: CHORUS_ERR_IO; the message says
 * whether the switch happened. On success the journal writes with the new module set.
 */
enum chorus_err jnl_upgrade(struct jnl *j, struct ly_ctx *ctx, const uint8_t *digest,
                            const char *modset, const struct lyd_node *tree, uint64_t txid,
                            struct cerr **e);

/* Close the journal (waits for a compaction child) and release the directory. NULL-safe. */
void jnl_close(struct jnl *j);

/*
 * Append the record of transaction @p txid. With @p commit the completion mark is written in
 * the same write; either way the data is durable (fdatasync) when this returns CHORUS_OK.
 */
enum chorus_err jnl_write_txn(struct jnl *j, uint64_t txid, const struct buf *payload, bool commit,
                              struct cerr **e);

/*
 * Append the completion mark (@p commit) or the abort mark of the last record. A completion
 * mark is durable when this returns; an abort mark need not be.
 */
enum chorus_err jnl_write_mark(struct jnl *j, uint64_t txid, bool commit, struct cerr **e);

/* Whether the active journal has grown past the threshold and no compaction is running. */
bool jnl_compaction_due(const struct jnl *j);

/*
 * Start compaction at transaction @p txid with @p tree (the committed state): a new journal
 * is started at once, and a forked child writes the snapshot. Returns CHORUS_OK or an error
 * (nothing changes on error).
 */
enum chorus_err jnl_compact(struct jnl *j, const struct lyd_node *tree, uint64_t txid,
                            struct cerr **e);

/* The compaction child's pid (0: none). */
pid_t jnl_child(const struct jnl *j);

/* The child @p pid exited with wait status @p status: finish or abandon the compaction.
 * Returns whether @p pid was the compaction child. */
bool jnl_reap(struct jnl *j, pid_t pid, int status);

/* Statistics for `status`. */
struct jnl_stats {
    const char *file;       /* active journal's name */
    uint64_t bytes;         /* its size */
    uint64_t records;       /* records in it */
    uint64_t snapshot_txid; /* newest durable snapshot */
    bool compacting;
};
void jnl_stats(const struct jnl *j, struct jnl_stats *s);

#endif
