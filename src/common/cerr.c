/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon error lists; see cerr.h. */
#include "cerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum chorus_err
cerr_add(struct cerr **e, enum chorus_err code, const char *path, const char *apptag,
         const char *fmt, ...)
{
    struct cerr *n, **tail;
    va_list ap;

    if (!e) {
        return code;
    }
    n = calloc(1, sizeof *n);
    if (!n) {
        return code;
    }
    n->code = code;
    va_start(ap, fmt);
    if (vasprintf(&n->msg, fmt, ap) < 0) {
        n->msg = NULL;
    }
    va_end(ap);
    n->path = path ? strdup(path) : NULL;
    n->apptag = apptag ? strdup(apptag) : NULL;
    for (tail = e; *tail; tail = &(*tail)->next) {
    }
    *tail = n;
    return code;
}

void
cerr_prefix(struct cerr *e, const char *fmt, ...)
{
    char *pre = NULL, *msg = NULL;
    va_list ap;

    if (!e) {
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&pre, fmt, ap) < 0) {
        pre = NULL;
    }
    va_end(ap);
    if (pre && asprintf(&msg, "%s: %s", pre, e->msg ? e->msg : "") >= 0) {
        free(e->msg);
        e->msg = msg;
    }
    free(pre);
}

void
cerr_free(struct cerr *e)
{
    while (e) {
        struct cerr *n = e->next;

        free(e->msg);
        free(e->path);
        free(e->apptag);
        free(e);
        e = n;
    }
}

void
cerr_move(struct cerr **dst, struct cerr **src)
{
    struct cerr **tail;

    for (tail = dst; *tail; tail = &(*tail)->next) {
    }
    *tail = *src;
    *src = NULL;
}

void
cerr_copy(struct cerr **dst, const struct cerr *src)
{
    for (; src; src = src->next) {
        cerr_add(dst, src->code, src->path, src->apptag, "%s", src->msg ? src->msg : "");
    }
}
