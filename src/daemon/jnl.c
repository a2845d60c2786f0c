/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journal of running (CDB-style), and its snapshots.
 *
 * FILES (in the database directory)
 *
 *   LOCK                      flock()ed by the chorusd that owns the directory; holds its pid
 *   journal-<base>.log        records of transactions with txid > base (base zero-padded to
 *                             20 digits, so that name order is base order)
 *   snapshot-<txid>.json      the whole of running after transaction <txid> (the durable form)
 *   snapshot-<txid>.lyb       the same in libyang's binary format: a cache, never trusted
 *                             unless its header matches this libyang and this module set
 *   *.tmp                     unfinished files of a compaction; deleted at start-up
 *
 * All integers are big-endian; CRC is CRC-32 (zlib).
 *
 * JOURNAL FILE: a 64-byte header, then records.
 *
 *   header:  0  8  magic "CHRSJNL1"        record:  0  4  payload length L
 *            8  4  format version (1)               4  1  type
 *           12  4  header length (64)               5  3  zero
 *           16  8  base txid                        8  8  txid
 *           24 32  module-set digest               16  4  CRC of bytes 0..15 and the payload
 *           56  4  zero                            20  L  payload
 *           60  4  CRC of bytes 0..59
 *
 *   Record types: 1 TXN (payload: a transaction record, see rec.h), 2 COMMIT and 3 ABORT
 *   (payload: u32 CRC of the TXN record they close), 4 MODSET (payload: the module set as
 *   text, so that a mismatch can be explained).
 *
 * A record is valid if and only if its header lies inside the file, its payload lies inside
 * the file, and its CRC matches. A transaction is committed if and only if its TXN record is
 * valid and is followed by a valid COMMIT record with the same txid whose payload is the TXN
 * record's CRC.
 *
 * SNAPSHOT FILE:  0 8 magic "CHRSSNP1", 8 4 version (1), 12 4 header length (76), 16 8 txid,
 * 24 32 module-set digest, 56 4 module-set text length M, 60 8 payload length P, 68 4 CRC of
 * the text and the payload, 72 4 CRC of bytes 0..71; then M bytes of module-set text and P
 * bytes of JSON (RFC 7951, default values tagged).
 *
 * LYB CACHE:  0 8 magic "CHRSLYB1", 8 4 version (2), 12 4 header length (128), 16 8 txid,
 * 24 32 module-set digest, 56 32 libyang version (NUL-padded), 88 8 payload length P, 96 4
 * CRC of the payload, 100 24 zero, 124 4 CRC of bytes 0..123; then P bytes of LYB (printed
 * with LYD_PRINT_WD_ALL: LYB keeps the default flags itself; version 1 caches, printed with
 * LYD_PRINT_WD_ALL_TAG, are not read back by libyang 2.1.30 when the tree holds a default).
 *
 * INVARIANTS
 *
 *  J1. Files are only appended to, except at start-up when a torn or unfinished tail is cut.
 *  J2. The valid records of a journal are MODSET, then pairs TXN + (COMMIT | ABORT), in
 *      increasing txid order, and at most one TXN without a mark at the very end.
 *  J2a. Only the last write can be torn. A record that fails its check is a torn tail if and
 *      only if no valid record follows it except, at the very end, the mark written together
 *      with it; otherwise the journal is damaged and the start is refused.
 *  J3. A COMMIT is durable (fdatasync) before the transaction's reply is sent. When no
 *      participant can still vote after the record is written, TXN and COMMIT are written in
 *      one write and made durable by one fdatasync.
 *  J4. journal-<T>.log is created and made durable (file and directory) before the snapshot
 *      of T is started, so every committed txid > T is in journal-<T> or a later journal.
 *  J5. snapshot-<T>.json is written to a .tmp file, synced, renamed and the directory synced
 *      before any journal with base < T, or snapshot older than T, is deleted; rollback files
 *      of transactions <= T are synced before those journals go.
 *  J6. Committed txids are consecutive: recovery applies the newest valid snapshot, then
 *      every committed record with txid = current + 1, in journal order; a gap is corruption.
 *  J7. Every journal and snapshot that recovery reads carries one module set. A schema upgrade
 *      (jnl_upgrade) writes snapshot-<T> under the new set before journal-<T>, so a journal with
 *      base < T and another module set is older than the upgrade and is skipped (it is deleted
 *      with the older snapshots right after). The LYB cache is used only when its header
 *      matches this libyang and this module set; otherwise the snapshot is read from its JSON
 *      and, at start-up, the cache is written again.
 *
 * RECOVERY (jnl_open): take the lock; delete *.tmp; load the newest snapshot whose header
 * and CRC are valid (from its LYB cache when valid); read every journal in base order and
 * replay committed records past the snapshot; a record that is not valid ends a journal
 * (a torn tail: the file is cut there), as does a final TXN without a mark (cut too). A
 * module-set digest differing from the one given fails with CHORUS_ERR_SCHEMA and names the
 * set the files were written with: the caller then opens the database again with that set's
 * schema and converts the data (schema upgrade, upg.h).
 */
#include "jnl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libyang/version.h>
#include <zlib.h>

#include "common/util.h"
#include "fault.h"
#include "lyu.h"
#include "rec.h"

#define JNL_MAGIC "CHRSJNL1"
#define SNP_MAGIC "CHRSSNP1"
#define LYB_MAGIC "CHRSLYB1"
#define JNL_HDR 64
#define SNP_HDR 76
#define LYB_HDR 128
#define LYB_VERSION 2
#define REC_HDR 20

enum { R_TXN = 1, R_COMMIT = 2, R_ABORT = 3, R_MODSET = 4 };

struct jnl {
    char *dir;
    struct ly_ctx *ctx;
    uint8_t digest[32];
    char *modset;
    uint64_t threshold;
    char *rb_dir;
    int lockfd;
    int fd;            /* active journal */
    char *name;        /* its file name */
    uint64_t base;     /* its base txid */
    uint64_t size;     /* its size */
    uint64_t records;  /* TXN records in it */
    uint32_t last_crc; /* CRC of the last TXN record written */
    uint64_t snapshot_txid;
    pid_t child;
    uint64_t child_txid;
    /* during jnl_open */
    bool rebuild_cache;
    struct jnl_modset *ret_other;
    char cache_why[256];   /* why the LYB cache was not used */
    bool cache_unreadable; /* ... it matched, but libyang did not parse it */
};

static uint32_t
crc(uint32_t c, const void *p, size_t len)
{
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

        c = (uint32_t)crc32(c, p, n);
        p = (const uint8_t *)p + n;
        len -= n;
    }
    return c;
}

static void
wr_u64(uint8_t *p, uint64_t v)
{
    wr_u32(p, (uint32_t)(v >> 32));
    wr_u32(p + 4, (uint32_t)v);
}

static char *
fname(const char *prefix, uint64_t n, const char *suffix)
{
    char *s;

    if (asprintf(&s, "%s-%020" PRIu64 "%s", prefix, n, suffix) < 0) {
        return NULL;
    }
    return s;
}

static enum chorus_err
io_err(struct cerr **e, const char *dir, const char *file, int err, const char *what)
{
    return cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s/%s: %s: %s", dir, file ? file : "", what,
                    strerror(err < 0 ? -err : err));
}

/* ---- records ---- */

static void
rec_header(uint8_t h[REC_HDR], uint8_t type, uint64_t txid, const void *payload, uint32_t len)
{
    memset(h, 0, REC_HDR);
    wr_u32(h, len);
    h[4] = type;
    wr_u64(h + 8, txid);
    wr_u32(h + 16, crc(crc(0, h, 16), payload, len));
}

/* Append one record to @p b. Returns its CRC. */
static uint32_t
put_record(struct buf *b, uint8_t type, uint64_t txid, const void *payload, uint32_t len)
{
    uint8_t h[REC_HDR];

    rec_header(h, type, txid, payload, len);
    buf_append(b, h, REC_HDR);
    buf_append(b, payload, len);
    return rd_u32(h + 16);
}

static enum chorus_err
append(struct jnl *j, const struct buf *b, bool sync, struct cerr **e)
{
    int r = fault_write(j->fd, b->p, b->len);

    if (!r && sync) {
        r = fault_sync(j->fd);
    }
    if (r) {
        /* keep J1/J2: cut what may have been written, so later appends stay valid */
        if (ftruncate(j->fd, (off_t)j->size) < 0) {
            r = -errno; /* the journal is now unusable; the caller stops writing */
        }
        return io_err(e, j->dir, j->name, r, "cannot write the journal");
    }
    j->size += b->len;
    return CHORUS_OK;
}

enum chorus_err
jnl_write_txn(struct jnl *j, uint64_t txid, const struct buf *payload, bool commit, struct cerr **e)
{
    uint8_t h[REC_HDR], mark[REC_HDR + 4], c[4];
    struct iovec iov[3];
    size_t total;
    int r;

    if (payload->len > UINT32_MAX) {
        return cerr_add(e, CHORUS_ERR_TOOBIG, NULL, NULL,
                        "the transaction record is larger than 4 GiB");
    }
    /* header, payload and mark in one write, without copying the payload */
    rec_header(h, R_TXN, txid, payload->p, (uint32_t)payload->len);
    j->last_crc = rd_u32(h + 16);
    iov[0] = (struct iovec){h, REC_HDR};
    iov[1] = (struct iovec){payload->p, payload->len};
    total = REC_HDR + payload->len;
    if (commit) {
        wr_u32(c, j->last_crc);
        rec_header(mark, R_COMMIT, txid, c, 4);
        memcpy(mark + REC_HDR, c, 4);
        iov[2] = (struct iovec){mark, sizeof mark};
        total += sizeof mark;
    }
    r = fault_writev(j->fd, iov, commit ? 3 : 2);
    if (!r) {
        r = fault_sync(j->fd);
    }
    if (r) {
        if (ftruncate(j->fd, (off_t)j->size) < 0) {
            r = -errno; /* the journal is now unusable; the caller stops writing */
        }
        return io_err(e, j->dir, j->name, r, "cannot write the journal");
    }
    j->size += total;
    j->records++;
    return CHORUS_OK;
}

enum chorus_err
jnl_write_mark(struct jnl *j, uint64_t txid, bool commit, struct cerr **e)
{
    struct buf b = BUF_INIT;
    uint8_t c[4];
    enum chorus_err r;

    wr_u32(c, j->last_crc);
    put_record(&b, commit ? R_COMMIT : R_ABORT, txid, c, 4);
    if (!buf_ok(&b)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory writing the journal");
    }
    r = append(j, &b, commit, e);
    buf_free(&b);
    return r;
}

/* ---- creating a journal ---- */

static enum chorus_err
create_journal(struct jnl *j, uint64_t base, struct cerr **e)
{
    uint8_t h[JNL_HDR] = {0};
    struct buf b = BUF_INIT;
    char *name = fname("journal", base, ".log"), *path = NULL;
    int fd = -1, r;
    enum chorus_err rc = CHORUS_OK;

    if (!name || !(path = path_join(j->dir, name))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    memcpy(h, JNL_MAGIC, 8);
    wr_u32(h + 8, 1);
    wr_u32(h + 12, JNL_HDR);
    wr_u64(h + 16, base);
    memcpy(h + 24, j->digest, 32);
    wr_u32(h + 60, crc(0, h, 60));
    buf_append(&b, h, JNL_HDR);
    put_record(&b, R_MODSET, 0, j->modset, (uint32_t)strlen(j->modset));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = io_err(e, j->dir, name, errno, "cannot create the journal");
        goto out;
    }
    if (!buf_ok(&b)) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    r = fault_write(fd, b.p, b.len);
    if (!r) {
        r = fault_sync(fd);
    }
    if (!r) {
        r = fsync_dir(j->dir);
    }
    if (r) {
        rc = io_err(e, j->dir, name, r, "cannot write the journal");
        goto out;
    }
    if (j->fd >= 0) {
        close(j->fd);
    }
    j->fd = fd;
    fd = -1;
    free(j->name);
    j->name = name;
    name = NULL;
    j->base = base;
    j->size = b.len;
    j->records = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(path);
    free(name);
    buf_free(&b);
    return rc;
}

/* ---- snapshots ---- */

static int
write_file(const char *dir, const char *name, const struct buf *hdr, const void *p1, size_t l1,
           const void *p2, size_t l2, bool sync)
{
    char *tmp = NULL, *path = path_join(dir, name);
    int fd = -1, r = -ENOMEM;

    if (!path || asprintf(&tmp, "%s.tmp", path) < 0) {
        tmp = NULL;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = fault_write(fd, hdr->p, hdr->len);
    if (!r && l1) {
        r = fault_write(fd, p1, l1);
    }
    if (!r && l2) {
        r = fault_write(fd, p2, l2);
    }
    if (!r && sync) {
        r = fault_sync(fd);
    }
    close(fd);
    fd = -1;
    if (!r) {
        r = fault_rename(tmp, path);
    }
    if (!r && sync) {
        r = fsync_dir(dir);
    }
out:
    if (r && tmp) {
        unlink(tmp);
    }
    free(tmp);
    free(path);
    return r;
}

/* Write the LYB cache of snapshot @p txid (not synced: a cache). Returns 0 or -errno. */
static int
write_lyb(struct jnl *j, const struct lyd_node *tree, uint64_t txid)
{
    uint8_t h[LYB_HDR];
    struct buf hb = BUF_INIT;
    char *lyb = NULL, *name = NULL;
    struct ly_out *out = NULL;
    int r = -ENOMEM;

    if (!ly_out_new_memory(&lyb, 0, &out) &&
        !lyd_print_all(out, tree, LYD_LYB, LYD_PRINT_WD_ALL | LYD_PRINT_KEEPEMPTYCONT)) {
        size_t ll = ly_out_printed(out);

        memset(h, 0, LYB_HDR);
        memcpy(h, LYB_MAGIC, 8);
        wr_u32(h + 8, LYB_VERSION);
        wr_u32(h + 12, LYB_HDR);
        wr_u64(h + 16, txid);
        memcpy(h + 24, j->digest, 32);
        snprintf((char *)h + 56, 32, "%s", LY_VERSION);
        wr_u64(h + 88, ll);
        wr_u32(h + 96, crc(0, lyb, ll));
        wr_u32(h + 124, crc(0, h, 124));
        buf_append(&hb, h, LYB_HDR);
        name = fname("snapshot", txid, ".lyb");
        if (name && buf_ok(&hb)) {
            r = write_file(j->dir, name, &hb, lyb, ll, NULL, 0, false);
        }
    }
    free(name);
    buf_free(&hb);
    ly_out_free(out, NULL, 1);
    return r;
}

/* Write snapshot @p txid of @p tree, its LYB cache if @p cache, and sync the rollback files (in
 * the compaction child, or in the daemon for a schema upgrade). Returns 0 or -errno. */
static int
write_snapshot(struct jnl *j, const struct lyd_node *tree, uint64_t txid, bool cache)
{
    uint8_t h[LYB_HDR];
    struct buf hb = BUF_INIT;
    char *json = NULL, *name;
    size_t jlen = 0, ml = strlen(j->modset);
    int r;

    if (tree && lyd_print_mem(&json, tree, LYD_JSON,
                              LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK | LYD_PRINT_WD_ALL_TAG |
                                  LYD_PRINT_KEEPEMPTYCONT)) {
        return -ENOMEM;
    }
    jlen = json ? strlen(json) : 0;
    memset(h, 0, SNP_HDR);
    memcpy(h, SNP_MAGIC, 8);
    wr_u32(h + 8, 1);
    wr_u32(h + 12, SNP_HDR);
    wr_u64(h + 16, txid);
    memcpy(h + 24, j->digest, 32);
    wr_u32(h + 56, (uint32_t)ml);
    wr_u64(h + 60, jlen);
    wr_u32(h + 68, crc(crc(0, j->modset, ml), json ? json : "", jlen));
    wr_u32(h + 72, crc(0, h, 72));
    buf_append(&hb, h, SNP_HDR);
    name = fname("snapshot", txid, ".json");
    r = name ? write_file(j->dir, name, &hb, j->modset, ml, json, jlen, true) : -ENOMEM;
    free(name);
    free(json);
    buf_free(&hb);
    if (r) {
        return r;
    }

    /* the cache: a failure here costs only speed at the next start */
    if (tree && cache) {
        (void)write_lyb(j, tree, txid);
    }

    /* J5: rollback files of the transactions the snapshot covers are durable */
    if (j->rb_dir) {
        DIR *d = opendir(j->rb_dir);
        struct dirent *de;

        while (d && (de = readdir(d))) {
            char *p;
            int fd;

            if (de->d_name[0] == '.' || !(p = path_join(j->rb_dir, de->d_name))) {
                continue;
            }
            fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
            free(p);
        }
        if (d) {
            closedir(d);
            (void)fsync_dir(j->rb_dir);
        }
    }
    return 0;
}

bool
jnl_compaction_due(const struct jnl *j)
{
    return !j->child && j->size >= j->threshold;
}

enum chorus_err
jnl_compact(struct jnl *j, const struct lyd_node *tree, uint64_t txid, struct cerr **e)
{
    enum chorus_err rc;
    pid_t pid;

    if (j->child || txid == j->base) {
        return CHORUS_OK;
    }
    rc = create_journal(j, txid, e); /* J4 */
    if (rc) {
        return rc;
    }
    pid = fork();
    if (pid < 0) {
        return io_err(e, j->dir, "", errno, "cannot fork the snapshot writer");
    }
    if (!pid) {
        /* the child: write the snapshot from its copy-on-write image and leave */
        int r = write_snapshot(j, tree, txid, true);

        _exit(r ? 1 : 0);
    }
    j->child = pid;
    j->child_txid = txid;
    return CHORUS_OK;
}

pid_t
jnl_child(const struct jnl *j)
{
    return j ? j->child : 0;
}

/* Delete journals with base < @p txid and snapshots older than @p txid. */
static void
prune(struct jnl *j, uint64_t txid)
{
    DIR *d = opendir(j->dir);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        uint64_t n;
        char kind[16], ext[8];

        if (sscanf(de->d_name, "%15[a-z]-%" SCNu64 ".%7s", kind, &n, ext) != 3) {
            continue;
        }
        if ((!strcmp(kind, "journal") && n < txid) || (!strcmp(kind, "snapshot") && n < txid)) {
            char *p = path_join(j->dir, de->d_name);

            if (p) {
                unlink(p);
                free(p);
            }
        }
    }
    if (d) {
        closedir(d);
        (void)fsync_dir(j->dir);
    }
}

bool
jnl_reap(struct jnl *j, pid_t pid, int status)
{
    if (!j || !j->child || pid != j->child) {
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        j->snapshot_txid = j->child_txid;
        prune(j, j->child_txid);
    }
    j->child = 0;
    return true;
}

void
jnl_stats(const struct jnl *j, struct jnl_stats *s)
{
    s->file = j->name;
    s->bytes = j->size;
    s->records = j->records;
    s->snapshot_txid = j->snapshot_txid;
    s->compacting = j->child != 0;
}

/* ---- recovery ---- */

struct files {
    uint64_t *snaps, *jnls;
    size_t nsnaps, njnls;
};

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int
push_u64(uint64_t **v, size_t *n, uint64_t x)
{
    uint64_t *nv = realloc(*v, (*n + 1) * sizeof *nv);

    if (!nv) {
        return -1;
    }
    *v = nv;
    nv[(*n)++] = x;
    return 0;
}

static enum chorus_err
scan_dir(struct jnl *j, struct files *f, struct cerr **e)
{
    DIR *d = opendir(j->dir);
    struct dirent *de;

    if (!d) {
        return io_err(e, j->dir, "", errno, "cannot read the database directory");
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        uint64_t n;
        char ext[8];

        if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
            char *p = path_join(j->dir, de->d_name);

            if (p) {
                unlink(p);
                free(p);
            }
            continue;
        }
        if (sscanf(de->d_name, "journal-%" SCNu64 ".%7s", &n, ext) == 2 && !strcmp(ext, "log")) {
            if (push_u64(&f->jnls, &f->njnls, n)) {
                closedir(d);
                return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
        } else if (sscanf(de->d_name, "snapshot-%" SCNu64 ".%7s", &n, ext) == 2 &&
                   !strcmp(ext, "json")) {
            if (push_u64(&f->snaps, &f->nsnaps, n)) {
                closedir(d);
                return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
        }
    }
    closedir(d);
    if (f->njnls) {
        qsort(f->jnls, f->njnls, sizeof *f->jnls, cmp_u64);
    }
    if (f->nsnaps) {
        qsort(f->snaps, f->nsnaps, sizeof *f->snaps, cmp_u64);
    }
    return CHORUS_OK;
}

static enum chorus_err
mismatch(struct jnl *j, struct cerr **e, const char *file, const uint8_t *digest,
         const char *theirs, size_t len)
{
    if (j->ret_other) {
        memcpy(j->ret_other->digest, digest, 32);
        free(j->ret_other->text);
        j->ret_other->text = theirs ? strndup(theirs, len) : NULL;
    }
    return cerr_add(e, CHORUS_ERR_SCHEMA, NULL, NULL,
                    "%s/%s was written with a different module set:\n%.*s\nthe load path has:\n%s",
                    j->dir, file, (int)len, theirs ? theirs : "(unknown)\n", j->modset);
}

static enum chorus_err
parse_data(struct jnl *j, const char *file, LYD_FORMAT fmt, const char *data, size_t len,
           struct lyd_node **ret, struct cerr **e)
{
    struct ly_in *in = NULL;
    LY_ERR r;

    (void)len;
    if (ly_in_new_memory(data, &in)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    r = lyd_parse_data(j->ctx, NULL, in, fmt, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_ORDERED,
                       0, ret);
    ly_in_free(in, 0);
    if (r) {
        lyu_err(e, j->ctx, CHORUS_ERR_SCHEMA, NULL);
        cerr_prefix(*e, "%s/%s", j->dir, file);
        return CHORUS_ERR_SCHEMA;
    }
    return CHORUS_OK;
}

/* Load snapshot @p txid (from its cache if valid). 1: loaded, 0: not valid (skip), or an
 * error code (negative: fatal). */
static enum chorus_err
load_snapshot(struct jnl *j, uint64_t txid, struct lyd_node **ret, bool *ret_cache, bool *ret_valid,
              struct cerr **e)
{
    char *name = fname("snapshot", txid, ".json"), *lname = fname("snapshot", txid, ".lyb");
    char *path = NULL, *data = NULL;
    size_t len = 0;
    enum chorus_err rc = CHORUS_OK;
    int r;

    *ret_valid = false;
    *ret_cache = false;
    if (!name || !lname) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    /* the cache first */
    path = path_join(j->dir, lname);
    snprintf(j->cache_why, sizeof j->cache_why, "missing");
    j->cache_unreadable = false;
    if (path && !read_file(path, &data, &len)) {
        const uint8_t *h = (const uint8_t *)data;
        char ver[33] = {0};

        if (len >= LYB_HDR) {
            memcpy(ver, h + 56, 32);
        }
        if (len < LYB_HDR || memcmp(h, LYB_MAGIC, 8) || rd_u32(h + 124) != crc(0, h, 124) ||
            rd_u64(h + 16) != txid || rd_u64(h + 88) != len - LYB_HDR ||
            rd_u32(h + 96) != crc(0, h + LYB_HDR, len - LYB_HDR)) {
            snprintf(j->cache_why, sizeof j->cache_why, "damaged");
        } else if (rd_u32(h + 8) != LYB_VERSION) {
            snprintf(j->cache_why, sizeof j->cache_why, "of format version %u, this is %u",
                     rd_u32(h + 8), LYB_VERSION);
        } else if (memcmp(h + 24, j->digest, 32)) {
            snprintf(j->cache_why, sizeof j->cache_why, "written with another module set");
        } else if (strcmp(ver, LY_VERSION)) {
            snprintf(j->cache_why, sizeof j->cache_why, "written by libyang %.32s, this is %s", ver,
                     LY_VERSION);
        } else {
            struct ly_in *in = NULL;

            if (!ly_in_new_memory(data + LYB_HDR, &in) &&
                !lyd_parse_data(j->ctx, NULL, in, LYD_LYB, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0,
                                ret)) {
                ly_in_free(in, 0);
                *ret_valid = true;
                *ret_cache = true;
                goto out;
            }
            ly_in_free(in, 0);
            {
                const struct ly_err_item *le = ly_err_last(j->ctx);

                snprintf(j->cache_why, sizeof j->cache_why, "not readable by this libyang: %s",
                         le && le->msg ? le->msg : "?");
                j->cache_unreadable = true;
            }
            ly_err_clean(j->ctx, NULL);
        }
    }
    free(data);
    data = NULL;
    free(path);
    path = path_join(j->dir, name);
    if (!path) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    r = read_file(path, &data, &len);
    if (r) {
        rc = io_err(e, j->dir, name, r, "cannot read the snapshot");
        goto out;
    }
    {
        const uint8_t *h = (const uint8_t *)data;
        uint32_t ml;
        uint64_t pl;

        if (len < SNP_HDR || memcmp(h, SNP_MAGIC, 8) || rd_u32(h + 72) != crc(0, h, 72)) {
            goto out; /* not valid: an older snapshot may be */
        }
        ml = rd_u32(h + 56);
        pl = rd_u64(h + 60);
        if ((uint64_t)SNP_HDR + ml + pl != len ||
            rd_u32(h + 68) != crc(0, h + SNP_HDR, len - SNP_HDR)) {
            goto out;
        }
        if (memcmp(h + 24, j->digest, 32)) {
            rc = mismatch(j, e, name, h + 24, data + SNP_HDR, ml);
            goto out;
        }
        *ret_valid = true;
        if (pl) {
            /* the JSON is followed by nothing: terminate it in place */
            rc = parse_data(j, name, LYD_JSON, data + SNP_HDR + ml, pl, ret, e);
        } else {
            *ret = NULL;
        }
    }
out:
    free(data);
    free(path);
    free(name);
    free(lname);
    return rc;
}

/* Whether a valid record of @p d (length @p len) starts at @p q. */
static bool
valid_at(const uint8_t *d, size_t len, size_t q, uint8_t *ret_type)
{
    uint32_t l;

    if (len - q < REC_HDR || d[q + 5] || d[q + 6] || d[q + 7] || d[q + 4] < R_TXN ||
        d[q + 4] > R_MODSET) {
        return false;
    }
    l = rd_u32(d + q);
    if (l > len - q - REC_HDR || rd_u32(d + q + 16) != crc(crc(0, d + q, 16), d + q + REC_HDR, l)) {
        return false;
    }
    *ret_type = d[q + 4];
    return true;
}

/*
 * A record at @p pos failed its check. It is a torn tail if nothing valid follows it but,
 * at the very end, the completion or abort mark written in the same write (a write that
 * was not synced, so never acknowledged). Anything valid after it means the journal was
 * damaged in its committed part: refusing the start is better than silently losing what
 * follows. Returns the offset of a valid record that proves corruption, or 0.
 */
static size_t
corruption_after(const uint8_t *d, size_t len, size_t pos)
{
    for (size_t q = pos + 1; q + REC_HDR <= len; q++) {
        uint8_t type;

        if (!valid_at(d, len, q, &type)) {
            continue;
        }
        if ((type == R_COMMIT || type == R_ABORT) && q + REC_HDR + rd_u32(d + q) == len) {
            continue; /* the mark of the torn record, written with it */
        }
        return q;
    }
    return 0;
}

/* J7: whether journal @p base was written with another module set than ours (its header is
 * valid and names another set). */
static bool
superseded(struct jnl *j, uint64_t base)
{
    char *name = fname("journal", base, ".log"), *path = name ? path_join(j->dir, name) : NULL;
    uint8_t h[JNL_HDR];
    bool other = false;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

    if (fd >= 0) {
        other = read(fd, h, JNL_HDR) == JNL_HDR && !memcmp(h, JNL_MAGIC, 8) &&
                rd_u32(h + 60) == crc(0, h, 60) && memcmp(h + 24, j->digest, 32);
        close(fd);
    }
    free(path);
    free(name);
    return other;
}

/* Read journal @p base: replay committed records after *txid. *cut is set to the size the
 * file must be cut to (or to its size). */
static enum chorus_err
read_journal(struct jnl *j, uint64_t base, struct lyd_node **root, uint64_t *txid,
             struct jnl_recovery *rv, const struct jnl_params *p, uint64_t *ret_size,
             bool *ret_usable, struct cerr **e)
{
    char *name = fname("journal", base, ".log"), *path = NULL, *data = NULL;
    size_t len = 0, pos, pending_at = 0;
    const uint8_t *d;
    enum chorus_err rc = CHORUS_OK;
    bool pending = false, modset_seen = false;
    uint32_t pending_crc = 0;
    uint64_t pending_txid = 0;
    const uint8_t *pending_payload = NULL;
    uint32_t pending_len = 0;
    int r;

    *ret_usable = false;
    if (!name || !(path = path_join(j->dir, name))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    r = read_file(path, &data, &len);
    if (r) {
        rc = io_err(e, j->dir, name, r, "cannot read the journal");
        goto out;
    }
    d = (const uint8_t *)data;
    if (len < JNL_HDR || memcmp(d, JNL_MAGIC, 8) || rd_u32(d + 60) != crc(0, d, 60) ||
        rd_u64(d + 16) != base) {
        /* a header torn while the file was created: nothing was ever committed in it, unless
         * valid records follow it (J2a), and then the header was damaged later */
        size_t q = len > JNL_HDR ? corruption_after(d, len, JNL_HDR - 1) : 0;

        if (q) {
            rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                          "%s/%s: corrupt journal: its header is damaged but valid records "
                          "follow (at offset %zu); refusing to drop committed transactions",
                          j->dir, name, q);
            goto out;
        }
        *ret_size = 0;
        goto out;
    }
    pos = JNL_HDR;
    while (pos < len) {
        uint32_t l, c;
        uint8_t type;
        uint64_t rt;

        if (len - pos < REC_HDR) {
            break;
        }
        l = rd_u32(d + pos);
        type = d[pos + 4];
        rt = rd_u64(d + pos + 8);
        c = rd_u32(d + pos + 16);
        if (l > len - pos - REC_HDR || c != crc(crc(0, d + pos, 16), d + pos + REC_HDR, l)) {
            size_t q = corruption_after(d, len, pos);

            if (q) {
                rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                              "%s/%s: corrupt journal: the record at offset %zu is damaged but "
                              "valid records follow (at offset %zu); refusing to drop committed "
                              "transactions",
                              j->dir, name, pos, q);
                goto out;
            }
            break; /* torn tail */
        }
        if (!modset_seen) {
            if (type != R_MODSET) {
                rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                              "%s/%s: corrupt journal: no module set record", j->dir, name);
                goto out;
            }
            if (memcmp(d + 24, j->digest, 32)) {
                rc = mismatch(j, e, name, d + 24, (const char *)d + pos + REC_HDR, l);
                goto out;
            }
            modset_seen = true;
        } else if (type == R_TXN) {
            if (pending) {
                rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                              "%s/%s: corrupt journal: transaction %" PRIu64
                              " at offset %zu has no completion mark but is followed by more",
                              j->dir, name, pending_txid, pending_at);
                goto out;
            }
            pending = true;
            pending_at = pos;
            pending_crc = c;
            pending_txid = rt;
            pending_payload = d + pos + REC_HDR;
            pending_len = l;
        } else if (type == R_COMMIT || type == R_ABORT) {
            if (!pending || rt != pending_txid || l != 4 ||
                rd_u32(d + pos + REC_HDR) != pending_crc) {
                rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                              "%s/%s: corrupt journal: a mark at offset %zu closes no record",
                              j->dir, name, pos);
                goto out;
            }
            pending = false;
            if (type == R_ABORT) {
                rv->aborted++;
            } else if (rt > *txid) {
                struct rec_view v;

                if (rt != *txid + 1) {
                    rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                                  "%s/%s: transaction %" PRIu64 " follows %" PRIu64
                                  ": transactions are missing",
                                  j->dir, name, rt, *txid);
                    goto out;
                }
                rc = rec_parse(pending_payload, pending_len, &v, e);
                if (!rc) {
                    rc = rec_replay(j->ctx, root, v.fwd, v.fwd_len, v.nfwd, e);
                }
                if (rc) {
                    cerr_prefix(*e, "%s/%s: transaction %" PRIu64, j->dir, name, rt);
                    goto out;
                }
                *txid = rt;
                rv->replayed++;
                j->last_crc = pending_crc;
                if (p->replayed) {
                    p->replayed(p->replayed_arg, rt, pending_payload, pending_len);
                }
            }
            if (type == R_COMMIT && rt > base) {
                j->records++;
            }
        } else if (type != R_MODSET) {
            rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                          "%s/%s: corrupt journal: unknown record type %u at offset %zu", j->dir,
                          name, type, pos);
            goto out;
        }
        pos += REC_HDR + l;
    }
    if (pending) {
        /* the last transaction never completed: it did not happen */
        rv->discarded++;
        pos = pending_at;
    }
    if (pos < len) {
        rv->cut_bytes += len - pos;
    }
    *ret_size = pos;
    /* without its module-set record (torn while the file was created) nothing was ever
     * committed in it: it is not appended to, but created again */
    *ret_usable = modset_seen;
out:
    free(data);
    free(path);
    free(name);
    return rc;
}

static enum chorus_err
take_lock(struct jnl *j, struct cerr **e)
{
    char *path = path_join(j->dir, "LOCK"), buf[32];
    int n;

    if (!path) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    free(path);
    if (j->lockfd < 0) {
        return io_err(e, j->dir, "LOCK", errno, "cannot open");
    }
    if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
        n = (int)pread(j->lockfd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        return cerr_add(e, CHORUS_ERR_INUSE, NULL, NULL,
                        "the database directory %s is in use by another chorusd (pid %s)", j->dir,
                        n > 0 ? buf : "unknown");
    }
    n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(j->lockfd, 0) < 0 || pwrite(j->lockfd, buf, (size_t)n, 0) != n) {
        return io_err(e, j->dir, "LOCK", errno, "cannot write");
    }
    return CHORUS_OK;
}

enum chorus_err
jnl_open(const struct jnl_params *p, struct jnl **ret_jnl, struct lyd_node **ret_tree,
         uint64_t *ret_txid, struct jnl_recovery *ret_rec, struct cerr **e)
{
    struct jnl *j = calloc(1, sizeof *j);
    struct files f = {0};
    struct lyd_node *tree = NULL;
    struct jnl_recovery rv = {0};
    uint64_t txid = 0, t0 = now_ms(), last_size = 0;
    enum chorus_err rc;
    bool last_usable = false, upgraded = false;
    int r;

    if (!j) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    j->fd = -1;
    j->lockfd = -1;
    j->ctx = p->ctx;
    j->threshold = p->compact_threshold;
    memcpy(j->digest, p->digest, 32);
    j->dir = strdup(p->dir);
    j->modset = strdup(p->modset ? p->modset : "");
    j->rb_dir = xstrdup(p->rollback_dir);
    j->rebuild_cache = p->rebuild_cache;
    j->ret_other = p->ret_other;
    if (!j->dir || !j->modset || (p->rollback_dir && !j->rb_dir)) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto fail;
    }
    r = mkdir_p(j->dir);
    if (r) {
        rc = io_err(e, j->dir, "", r, "cannot create the database directory");
        goto fail;
    }
    rc = take_lock(j, e);
    if (rc || (rc = scan_dir(j, &f, e))) {
        goto fail;
    }

    /* the newest valid snapshot (J5: older ones only exist while a newer is unfinished) */
    for (size_t k = f.nsnaps; k-- > 0;) {
        bool valid, cache;

        rc = load_snapshot(j, f.snaps[k], &tree, &cache, &valid, e);
        if (rc) {
            goto fail;
        }
        if (valid) {
            txid = f.snaps[k];
            rv.snapshot_txid = txid;
            rv.from_cache = cache;
            /* J7: a cache that is not usable is written again from the durable form -- unless
             * this libyang wrote it for this module set and cannot read it (libyang 2.1.30
             * does not read back the LYB of some trees, e.g. a list entry holding a default
             * leaf): writing it again would not help */
            if (!cache && tree && j->rebuild_cache && !j->cache_unreadable &&
                !write_lyb(j, tree, txid)) {
                rv.cache_rebuilt = j->cache_why;
            }
            break;
        }
    }
    j->snapshot_txid = txid;
    if (!f.nsnaps || !rv.snapshot_txid) {
        /* the records were written against a validated tree: start from the empty one's
         * implicit defaults, as the daemon did (a snapshot holds them, tagged) */
        if (lyd_validate_all(&tree, j->ctx, LYD_VALIDATE_NO_STATE, NULL)) {
            rc = lyu_err(e, j->ctx, CHORUS_ERR_SCHEMA, NULL);
            goto fail;
        }
    }

    /* the journals, oldest first */
    for (size_t k = 0; k < f.njnls; k++) {
        uint64_t size = 0;
        bool usable = false;

        if (k + 1 < f.njnls && f.jnls[k + 1] <= rv.snapshot_txid) {
            continue; /* entirely covered by the snapshot (J4) */
        }
        if (f.jnls[k] < rv.snapshot_txid && superseded(j, f.jnls[k])) {
            upgraded = true;
            last_usable = false;
            continue; /* older than a schema upgrade's snapshot (J7) */
        }
        if (f.jnls[k] > txid) {
            /* J4, J6: transactions up to the journal's base live only in a snapshot of that
             * txid or later, and there is no valid one */
            char *sn = fname("snapshot", f.jnls[k], ".json"),
                 *jn = fname("journal", f.jnls[k], ".log");

            rc = cerr_add(e, CHORUS_ERR_PROTO, NULL, NULL,
                          "%s/%s: corrupt database: the journal starts after transaction %" PRIu64
                          " but the newest valid snapshot ends at transaction %" PRIu64
                          " (%s is damaged or missing); refusing to drop committed transactions",
                          j->dir, jn ? jn : "journal", f.jnls[k], txid, sn ? sn : "snapshot");
            free(sn);
            free(jn);
            goto fail;
        }
        rc = read_journal(j, f.jnls[k], &tree, &txid, &rv, p, &size, &usable, e);
        if (rc) {
            goto fail;
        }
        rv.journals++;
        last_size = size;
        last_usable = usable;
    }
    /* nothing was ever committed (a first start, or one that died before its init
     * transaction committed) */
    rv.empty = !rv.snapshot_txid && !txid;

    if (f.njnls && last_usable) {
        /* append to the newest journal, cut to its valid prefix (J1) */
        uint64_t base = f.jnls[f.njnls - 1];
        char *path;

        j->name = fname("journal", base, ".log");
        path = j->name ? path_join(j->dir, j->name) : NULL;
        if (!path) {
            rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            goto fail;
        }
        j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        free(path);
        if (j->fd < 0) {
            rc = io_err(e, j->dir, j->name, errno, "cannot open the journal");
            goto fail;
        }
        if (ftruncate(j->fd, (off_t)last_size) < 0 || fault_sync(j->fd)) {
            rc = io_err(e, j->dir, j->name, errno, "cannot cut the journal's torn tail");
            goto fail;
        }
        j->base = base;
        j->size = last_size;
    } else {
        if (f.njnls) {
            /* a journal whose header or module-set record never became durable: it holds
             * nothing committed; replace it */
            char *n = fname("journal", f.jnls[f.njnls - 1], ".log");
            char *path = n ? path_join(j->dir, n) : NULL;

            if (path) {
                unlink(path);
            }
            free(path);
            free(n);
        }
        rc = create_journal(j, txid, e);
        if (rc) {
            goto fail;
        }
    }
    if (upgraded) {
        prune(j, rv.snapshot_txid); /* J7: what an upgrade's snapshot superseded */
    }
    j->rebuild_cache = false;
    j->ret_other = NULL;
    rv.ms = now_ms() - t0;
    free(f.snaps);
    free(f.jnls);
    *ret_jnl = j;
    *ret_tree = tree;
    *ret_txid = txid;
    if (ret_rec) {
        *ret_rec = rv;
    }
    return CHORUS_OK;
fail:
    free(f.snaps);
    free(f.jnls);
    lyd_free_all(tree);
    jnl_close(j);
    return rc;
}

enum chorus_err
jnl_upgrade(struct jnl *j, struct ly_ctx *ctx, const uint8_t *digest, const char *modset,
            const struct lyd_node *tree, uint64_t txid, struct cerr **e)
{
    uint8_t old_digest[32];
    char *old_modset = j->modset, *nm = strdup(modset);
    int r;

    if (!nm) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (j->child) {
        int st;

        /* a snapshot of the old module set must not land after the upgrade's */
        if (waitpid(j->child, &st, 0) == j->child) {
            jnl_reap(j, j->child, st);
        }
        j->child = 0;
    }
    memcpy(old_digest, j->digest, 32);
    memcpy(j->digest, digest, 32);
    j->modset = nm;
    r = write_snapshot(j, tree, txid, true);
    if (r) {
        memcpy(j->digest, old_digest, 32);
        j->modset = old_modset;
        free(nm);
        return io_err(e, j->dir, "", r,
                      "cannot write the schema upgrade's snapshot (nothing changed: the old "
                      "module set's files are intact)");
    }
    free(old_modset);
    j->ctx = ctx;
    j->snapshot_txid = txid;
    if (create_journal(j, txid, e)) {
        cerr_prefix(*e,
                    "the schema upgrade's snapshot %" PRIu64 " was written, but the new journal "
                    "was not (a restart with the new modules completes it)",
                    txid);
        return CHORUS_ERR_IO;
    }
    prune(j, txid);
    return CHORUS_OK;
}

void
jnl_close(struct jnl *j)
{
    if (!j) {
        return;
    }
    if (j->child) {
        int st;

        if (waitpid(j->child, &st, 0) == j->child) {
            jnl_reap(j, j->child, st);
        }
    }
    if (j->fd >= 0) {
        close(j->fd);
    }
    if (j->lockfd >= 0) {
        close(j->lockfd);
    }
    free(j->dir);
    free(j->modset);
    free(j->rb_dir);
    free(j->name);
    free(j);
}
