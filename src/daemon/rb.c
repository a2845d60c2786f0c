/* SPDX-License-Identifier: Apache-2.0 */
/* Rollback files; see rb.h. */
#include "rb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/vec.h"
#include "proto/proto.h"
#include "rec.h"

#define RB_MAGIC "CHRSRBK1"
#define RB_HDR 40

struct rb {
    char *dir;
    uint32_t max;
    uint64_t *txids; /* existing files, ascending */
    size_t n, cap;
    struct rb_later {
        uint64_t txid;
        struct buf record;
    } * later; /* queued by rb_write_later(), in commit order */
    size_t nlater, later_cap;
};

static char *
rb_path(const struct rb *rb, uint64_t txid)
{
    char *p;

    if (asprintf(&p, "%s/rollback-%020" PRIu64 ".crb", rb->dir, txid) < 0) {
        return NULL;
    }
    return p;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

enum chorus_err
rb_open(const char *dir, uint32_t max, struct rb **ret_rb, struct cerr **e)
{
    struct rb *rb = calloc(1, sizeof *rb);
    DIR *d;
    struct dirent *de;
    int r;

    if (!rb || !(rb->dir = strdup(dir))) {
        free(rb);
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    rb->max = max ? max : 1;
    r = mkdir_p(dir);
    if (r || !(d = opendir(dir))) {
        cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s: cannot use the rollback directory: %s", dir,
                 strerror(r ? -r : errno));
        rb_close(rb);
        return CHORUS_ERR_IO;
    }
    while ((de = readdir(d))) {
        uint64_t t;
        char ext[8];

        if (sscanf(de->d_name, "rollback-%" SCNu64 ".%7s", &t, ext) == 2 && !strcmp(ext, "crb")) {
            if (vec_reserve(&rb->txids, &rb->cap, rb->n, sizeof *rb->txids)) {
                closedir(d);
                rb_close(rb);
                return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
            rb->txids[rb->n++] = t;
        }
    }
    closedir(d);
    if (rb->n) {
        qsort(rb->txids, rb->n, sizeof *rb->txids, cmp_u64);
    }
    *ret_rb = rb;
    return CHORUS_OK;
}

void
rb_close(struct rb *rb)
{
    if (rb) {
        struct cerr *e = NULL;

        (void)rb_flush(rb, &e); /* a clean stop leaves every file written */
        cerr_free(e);
        free(rb->later);
        free(rb->dir);
        free(rb->txids);
        free(rb);
    }
}

/* Read and check a file; *ret is the payload (malloc'd). */
static int
read_rb(const struct rb *rb, uint64_t txid, uint8_t **ret, size_t *ret_len)
{
    char *p = rb_path(rb, txid), *data = NULL;
    size_t len = 0;
    const uint8_t *h;
    int r;

    if (!p) {
        return -ENOMEM;
    }
    r = read_file(p, &data, &len);
    free(p);
    if (r) {
        return r;
    }
    h = (const uint8_t *)data;
    if (len < RB_HDR || memcmp(h, RB_MAGIC, 8) || rd_u32(h + 36) != (uint32_t)crc32(0, h, 36) ||
        rd_u64(h + 16) != txid || rd_u64(h + 24) != len - RB_HDR ||
        rd_u32(h + 32) != (uint32_t)crc32(0, h + RB_HDR, (uInt)(len - RB_HDR))) {
        free(data);
        return -EBADMSG;
    }
    memmove(data, data + RB_HDR, len - RB_HDR);
    *ret = (uint8_t *)data;
    *ret_len = len - RB_HDR;
    return 0;
}

bool
rb_has(struct rb *rb, uint64_t txid)
{
    uint8_t *p = NULL;
    size_t l;

    if (read_rb(rb, txid, &p, &l)) {
        return false;
    }
    free(p);
    return true;
}

enum chorus_err
rb_write(struct rb *rb, uint64_t txid, const uint8_t *record, size_t len, struct cerr **e)
{
    struct rec_view v;
    struct buf pl = BUF_INIT, b = BUF_INIT;
    uint8_t h[RB_HDR] = {0};
    char *p = NULL, *tmp = NULL;
    enum chorus_err rc;
    int fd, r;

    rc = rec_parse(record, len, &v, e);
    if (rc) {
        return rc;
    }
    /* meta + an empty forward section + the inverse section */
    proto_put_str(&pl, RT_USER, v.meta.user);
    proto_put_str(&pl, RT_CONTEXT, v.meta.context);
    proto_put_u32(&pl, RT_SESSION, v.meta.session);
    proto_put_u64(&pl, RT_TIME, v.meta.time);
    proto_put_str(&pl, RT_LABEL, v.meta.label);
    proto_put_u32(&pl, RT_FLAGS, v.meta.flags);
    proto_put_u32(&pl, RT_FWD, 0);
    proto_put_u32(&pl, RT_INV, v.ninv);
    buf_append(&pl, v.inv, v.inv_len);
    memcpy(h, RB_MAGIC, 8);
    wr_u32(h + 8, 1);
    wr_u32(h + 12, RB_HDR);
    wr_u32(h + 16, (uint32_t)(txid >> 32));
    wr_u32(h + 20, (uint32_t)txid);
    wr_u32(h + 24, (uint32_t)((uint64_t)pl.len >> 32));
    wr_u32(h + 28, (uint32_t)pl.len);
    wr_u32(h + 32, (uint32_t)crc32(0, pl.p, (uInt)pl.len));
    wr_u32(h + 36, (uint32_t)crc32(0, h, 36));
    buf_append(&b, h, RB_HDR);
    buf_append(&b, pl.p, pl.len);
    buf_free(&pl);
    p = rb_path(rb, txid);
    if (!buf_ok(&b) || !p || asprintf(&tmp, "%s.tmp", p) < 0) {
        tmp = NULL;
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = -errno;
    } else {
        r = write_all(fd, b.p, b.len);
        close(fd);
        if (!r && rename(tmp, p) < 0) {
            r = -errno;
        }
    }
    if (r) {
        unlink(tmp);
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s: cannot write the rollback file: %s", p,
                      strerror(-r));
        goto out;
    }
    /* remember it, and keep only the newest `max` */
    if (!rb->n || !bsearch(&txid, rb->txids, rb->n, sizeof *rb->txids, cmp_u64)) {
        if (vec_reserve(&rb->txids, &rb->cap, rb->n, sizeof *rb->txids)) {
            rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            goto out;
        }
        rb->txids[rb->n++] = txid;
        qsort(rb->txids, rb->n, sizeof *rb->txids, cmp_u64);
    }
    while (rb->n > rb->max) {
        char *old = rb_path(rb, rb->txids[0]);

        if (old) {
            unlink(old);
            free(old);
        }
        memmove(rb->txids, rb->txids + 1, (rb->n - 1) * sizeof *rb->txids);
        rb->n--;
    }
out:
    free(p);
    free(tmp);
    buf_free(&b);
    return rc;
}

enum chorus_err
rb_write_later(struct rb *rb, uint64_t txid, struct buf *record, struct cerr **e)
{
    if (vec_reserve(&rb->later, &rb->later_cap, rb->nlater, sizeof *rb->later)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    rb->later[rb->nlater].txid = txid;
    rb->later[rb->nlater].record = *record;
    rb->nlater++;
    *record = (struct buf)BUF_INIT;
    return CHORUS_OK;
}

bool
rb_pending(const struct rb *rb)
{
    return rb && rb->nlater;
}

enum chorus_err
rb_flush(struct rb *rb, struct cerr **e)
{
    enum chorus_err rc = CHORUS_OK, r;

    for (size_t k = 0; k < rb->nlater; k++) {
        r = rb_write(rb, rb->later[k].txid, rb->later[k].record.p, rb->later[k].record.len, e);
        if (r && !rc) {
            rc = r;
        }
        buf_free(&rb->later[k].record);
    }
    rb->nlater = 0;
    return rc;
}

/* The queue is written before the files are read; one that cannot be written is not offered
 * (as a damaged one is not). The daemon's own flush, right after the reply, logs errors. */
static void
flush_quiet(struct rb *rb)
{
    struct cerr *e = NULL;

    if (rb->nlater) {
        (void)rb_flush(rb, &e);
        cerr_free(e);
    }
}

enum chorus_err
rb_list(struct rb *rb, struct rb_info **ret_list, size_t *ret_n, struct cerr **e)
{
    struct rb_info *l;
    size_t n = 0;

    flush_quiet(rb);
    l = calloc(rb->n ? rb->n : 1, sizeof *l);

    if (!l) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    for (size_t k = rb->n; k-- > 0;) {
        uint8_t *p = NULL;
        size_t len;
        struct rec_view v;

        if (read_rb(rb, rb->txids[k], &p, &len) || rec_parse(p, len, &v, NULL)) {
            free(p);
            continue; /* damaged: not offered */
        }
        l[n].txid = rb->txids[k];
        l[n].time = v.meta.time;
        l[n].user = xstrdup(v.meta.user);
        l[n].context = xstrdup(v.meta.context);
        l[n].label = xstrdup(v.meta.label);
        l[n].flags = v.meta.flags;
        n++;
        free(p);
    }
    *ret_list = l;
    *ret_n = n;
    return CHORUS_OK;
}

void
rb_list_free(struct rb_info *list, size_t n)
{
    for (size_t k = 0; list && k < n; k++) {
        free(list[k].user);
        free(list[k].context);
        free(list[k].label);
    }
    free(list);
}

enum chorus_err
rb_load(struct rb *rb, uint32_t index, uint8_t **ret, size_t *ret_len, uint64_t *ret_txid,
        struct cerr **e)
{
    uint32_t seen = 0;

    flush_quiet(rb);
    for (size_t k = rb->n; k-- > 0;) {
        uint8_t *p = NULL;
        size_t len;

        if (read_rb(rb, rb->txids[k], &p, &len)) {
            continue;
        }
        if (seen++ == index) {
            *ret = p;
            *ret_len = len;
            *ret_txid = rb->txids[k];
            return CHORUS_OK;
        }
        free(p);
    }
    return cerr_add(e, CHORUS_ERR_NOTFOUND, NULL, NULL, "there is no rollback file %u (%u exist)",
                    index, seen);
}
