/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rollback files: for each commit, what undoes it (ConfD's and NSO's rollback files).
 *
 * rollback-<txid>.crb holds the meta and the inverse section of the transaction's record
 * (rec.h), after a 40-byte header: magic "CHRSRBK1", u32 version (1), u32 header length (40),
 * u64 txid, u64 payload length, u32 CRC of the payload, u32 CRC of bytes 0..35. Files are
 * written after the commit without fsync: the journal holds the same data until compaction,
 * which syncs them before it deletes the journal (jnl.c, J5); at start-up a missing or
 * damaged file of a replayed transaction is written again.
 *
 * Index 0 is the most recent commit. Only the newest `max` files are kept.
 */
#ifndef CHORUS_RB_H
#define CHORUS_RB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/cerr.h"

struct rb;

struct rb_info {
    uint64_t txid;
    uint64_t time;
    char *user;
    char *context;
    char *label;
    uint32_t flags;
};

enum chorus_err rb_open(const char *dir, uint32_t max, struct rb **ret_rb, struct cerr **e);
void rb_close(struct rb *rb);

/* Write the rollback file of transaction @p txid from its full record; keeps `max` files. */
enum chorus_err rb_write(struct rb *rb, uint64_t txid, const uint8_t *record, size_t len,
                         struct cerr **e);

/* Queue the rollback file of transaction @p txid, to be written by rb_flush() once the reply
 * is on its way: its cost (create, write, rename, and the removal of the oldest) stays off the
 * commit's latency. Takes the record (*record is left empty). rb_list(), rb_load() and
 * rb_close() flush first, so the queue is never visible; a crash loses nothing (the journal
 * holds the record, and the replay writes missing files); compaction must flush before it
 * starts (J5). */
enum chorus_err rb_write_later(struct rb *rb, uint64_t txid, struct buf *record, struct cerr **e);
/* Write the queued files. Errors (one per file not written) go to *e; the queue is emptied. */
enum chorus_err rb_flush(struct rb *rb, struct cerr **e);
/* Whether files are queued. */
bool rb_pending(const struct rb *rb);

/* Whether a valid rollback file of @p txid exists. */
bool rb_has(struct rb *rb, uint64_t txid);

/* Rollback files, newest first. Free with rb_list_free(). */
enum chorus_err rb_list(struct rb *rb, struct rb_info **ret_list, size_t *ret_n, struct cerr **e);
void rb_list_free(struct rb_info *list, size_t n);

/* The record (meta + inverse section) of rollback file @p index (0: newest). Free *ret. */
enum chorus_err rb_load(struct rb *rb, uint32_t index, uint8_t **ret, size_t *ret_len,
                        uint64_t *ret_txid, struct cerr **e);

#endif
