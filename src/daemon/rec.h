/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transaction records: the durable description of one committed change, written into the
 * journal and (its inverse part) into a rollback file.
 *
 * A record is schema-independent: every change is addressed by a data path and carries its
 * data as RFC 7951 JSON with default values tagged (ietf-netconf-with-defaults), so a record
 * outlives a libyang upgrade and can be examined by the schema-upgrade code entry by entry.
 *
 * Encoding: a sequence of fields (u16 tag, u32 length, value; big-endian), the same field
 * syntax as the IPC protocol (src/proto). Meta fields first, then the forward section
 * (RT_FWD, then its entries) and the inverse section (RT_INV, then its entries). An entry is
 * RT_OP, RT_PATH and optionally RT_DATA and RT_ANCHOR. Entry operations:
 *
 *   J_INSERT  RT_PATH = the parent ("" for the top level), RT_DATA = the node's subtree;
 *             for a list or leaf-list entry also RT_NODE (its path) and RT_ANCHOR (the
 *             entry it follows, "" = first, "\x01" = last)
 *   J_REMOVE  RT_PATH = the node
 *   J_SWAP    RT_PATH = the node, RT_DATA = its new value/subtree (same identity)
 *   J_MOVE    RT_PATH = the node, RT_ANCHOR = the instance it follows ("" = first)
 *
 * Replaying the forward section on the tree the change was made to reproduces the result
 * exactly (values, default flags, ordered-by-user positions); replaying the inverse section
 * on the result reproduces the original.
 */
#ifndef CHORUS_REC_H
#define CHORUS_REC_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/cerr.h"
#include "dlog.h"
#include "edit.h"

enum rec_tag {
    RT_USER = 1,    /* str */
    RT_CONTEXT = 2, /* str */
    RT_SESSION = 3, /* u32 */
    RT_TIME = 4,    /* u64, seconds since the epoch */
    RT_LABEL = 5,   /* str */
    RT_FLAGS = 6,   /* u32, REC_F_* */
    RT_FWD = 10,    /* u32: number of forward entries; starts the section */
    RT_INV = 11,    /* u32: number of inverse entries; starts the section */
    RT_OP = 20,     /* u32: enum rec_op; starts an entry */
    RT_PATH = 21,   /* str */
    RT_DATA = 22,   /* data (JSON) */
    RT_ANCHOR = 23, /* str */
    RT_NODE = 24,   /* str: J_INSERT of an ordered-by-user entry: the node's own path */
};

enum rec_op { J_INSERT = 1, J_REMOVE = 2, J_SWAP = 3, J_MOVE = 4 };

#define REC_F_INIT 0x1     /* the init transaction */
#define REC_F_ROLLBACK 0x2 /* made by rollback apply */
#define REC_F_REVERT 0x4   /* a confirmed-commit revert */

struct rec_meta {
    const char *user;
    const char *context;
    uint32_t session;
    uint64_t time;
    const char *label;
    uint32_t flags;
};

/*
 * Encode the change in @p log (applied, validated, not yet committed) into @p out: meta,
 * forward and inverse sections. *ret_nfwd is the number of forward entries (0: the change
 * is empty). Returns CHORUS_OK or CHORUS_ERR_NOMEM.
 */
enum chorus_err rec_build(const struct dlog *log, const struct rec_meta *meta, struct buf *out,
                          size_t *ret_nfwd, struct cerr **e);

/* A decoded record: meta, and the byte ranges of its sections (views into the caller's
 * buffer, which must stay alive). */
struct rec_view {
    struct rec_meta meta;
    const uint8_t *fwd, *inv; /* first field after RT_FWD / RT_INV */
    size_t fwd_len, inv_len;
    uint32_t nfwd, ninv;
};

/* Check the encoding of a record and locate its parts. CHORUS_ERR_PROTO if malformed. */
enum chorus_err rec_parse(const uint8_t *p, size_t len, struct rec_view *v, struct cerr **e);

/*
 * Replay a section (forward or inverse) onto *@p root exactly, without validation. Errors
 * (a path that does not resolve, data that does not parse) are CHORUS_ERR_SCHEMA or
 * CHORUS_ERR_PROTO with the entry's path; the tree may then be partly changed.
 */
enum chorus_err rec_replay(struct ly_ctx *ctx, struct lyd_node **root, const uint8_t *sec,
                           size_t len, uint32_t n, struct cerr **e);

/*
 * Turn a section into edits of @p ed with set semantics (the way rollback apply changes the
 * configuration): inserted subtrees become replacements without their default nodes, at
 * their recorded positions among their siblings; removals become deletions (of what still
 * exists in @p base); swaps set the old value or return a default. Moves of existing
 * ordered-by-user entries are not replayed.
 */
enum chorus_err rec_to_edit(struct ly_ctx *ctx, const uint8_t *sec, size_t len, uint32_t n,
                            const struct lyd_node *base, struct ed *ed, struct cerr **e);

#endif
