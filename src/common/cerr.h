/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error information inside the daemon: a list of items, each an error code, a human reason,
 * the data path of the offending node and a YANG app-tag. It crosses every layer unchanged
 * and becomes IPC error items or NETCONF <rpc-error>s at the boundary.
 */
#ifndef CHORUS_CERR_H
#define CHORUS_CERR_H

#include "chorus/chorus.h"

struct cerr {
    enum chorus_err code;
    char *msg;
    char *path;
    char *apptag;
    struct cerr *next;
};

/* Append an item to *@p e (e may be NULL: then nothing is recorded). Returns @p code. */
enum chorus_err cerr_add(struct cerr **e, enum chorus_err code, const char *path,
                         const char *apptag, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Prefix the first item's message with "prefix: ". */
void cerr_prefix(struct cerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cerr_free(struct cerr *e);
/* Append copies of all items of @p src to *@p dst. */
void cerr_copy(struct cerr **dst, const struct cerr *src);
/* Move all items of @p src to the end of *@p dst. */
void cerr_move(struct cerr **dst, struct cerr **src);

#endif
