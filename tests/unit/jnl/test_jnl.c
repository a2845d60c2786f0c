/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journal (jnl.c) in-process: records written through the real commit path (change set,
 * mutation log, validation, record) and recovered; a torn tail is cut; a record without its
 * completion mark is discarded; corruption that is not a tail refuses the start; another
 * module set refuses the start; a second opener is refused; compaction writes a snapshot and
 * its LYB cache, and recovery uses the cache when valid and the JSON snapshot otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/dlog.h"
#include "daemon/ds.h"
#include "daemon/edit.h"
#include "daemon/jnl.h"
#include "daemon/rec.h"
#include "daemon/val.h"

static struct ly_ctx *ctx;
static struct val *vv;
static uint8_t digest[32] = {1, 2, 3};
static char dir[256];

#define NS "xmlns=\"urn:chorus:example:routes\""

static int
setup(void **state)
{
    const char *src = getenv("CHORUS_SRC");
    char path[1024];

    (void)state;
    snprintf(path, sizeof path, "%s/examples/routes/routes.yang", src ? src : ".");
    if (ly_ctx_new(NULL, 0, &ctx) || lys_parse_path(ctx, path, LYS_IN_YANG, NULL)) {
        return -1;
    }
    ly_ctx_set_searchdir(ctx, "/usr/share/yuma/modules/ietf");
    if (!ly_ctx_load_module(ctx, "ietf-netconf-with-defaults", NULL, NULL)) {
        return -1;
    }
    ly_log_options(LY_LOSTORE);
    vv = val_new(ctx);
    return vv ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    val_free(vv);
    ly_ctx_destroy(ctx);
    return 0;
}

static void
fresh_dir(void)
{
    char cmd[300];

    snprintf(dir, sizeof dir, "/tmp/chorus-test-jnl-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static struct jnl *
open_jnl(struct lyd_node **tree, uint64_t *txid, struct jnl_recovery *rv, enum chorus_err want)
{
    struct jnl_params p = {dir,  ctx,   digest, "routes@2026-11-23\n", 1 << 30, NULL, NULL,
                           NULL, false, NULL};
    struct jnl *j = NULL;
    struct cerr *e = NULL;
    enum chorus_err rc = jnl_open(&p, &j, tree, txid, rv, &e);

    if (rc != want) {
        fprintf(stderr, "jnl_open: %d (want %d): %s\n", rc, want, e && e->msg ? e->msg : "");
    }
    assert_int_equal(rc, want);
    if (!rc) {
        assert_int_equal(lyd_validate_all(tree, ctx, LYD_VALIDATE_NO_STATE, NULL), LY_SUCCESS);
    } else {
        assert_non_null(e);
        assert_non_null(e->msg);
    }
    cerr_free(e);
    return j;
}

static char *
routes(int from, int n, int v)
{
    struct buf b = BUF_INIT;

    buf_printf(&b, "<active-cfg " NS "><routes>");
    for (int i = from; i < from + n; i++) {
        buf_printf(&b,
                   "<route><id>%07d</id><leaf1>%d</leaf1><leaf2>1</leaf2><leaf3>2</leaf3>"
                   "<leaf4>3</leaf4></route>",
                   i, v);
    }
    buf_printf(&b, "</routes></active-cfg>");
    return buf_steal_str(&b);
}

/* Commit @p xml (merged) through the real path; @p commit false leaves the record unmarked. */
static void
commit(struct jnl *j, struct lyd_node **tree, uint64_t *txid, const char *xml, bool mark)
{
    struct lyd_node *d = NULL;
    struct ly_in *in = NULL;
    struct ed *ed = ed_new(ctx);
    struct dlog log;
    struct buf rec = BUF_INIT;
    struct rec_meta meta = {"tester", "system", 1, 1, NULL, 0};
    struct cerr *e = NULL;
    size_t n;

    ly_in_new_memory(xml, &in);
    assert_int_equal(
        lyd_parse_data(ctx, NULL, in, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &d),
        LY_SUCCESS);
    ly_in_free(in, 0);
    ed_merge_tree(ed, d, &e);
    dl_init(&log, tree, val_hooks(), vv);
    assert_int_equal(ds_apply(&log, ed, &e), CHORUS_OK);
    assert_int_equal(val_incremental(vv, &log, &e), CHORUS_OK);
    assert_int_equal(rec_build(&log, &meta, &rec, &n, &e), CHORUS_OK);
    assert_true(n > 0);
    assert_int_equal(jnl_write_txn(j, *txid + 1, &rec, mark, &e), CHORUS_OK);
    if (mark) {
        dl_commit(&log);
        (*txid)++;
    } else {
        dl_undo(&log, true);
    }
    dl_done(&log);
    buf_free(&rec);
    ed_free(ed);
}

static char *
dump(const struct lyd_node *t)
{
    char *s = NULL;

    lyd_print_mem(&s, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_ALL_TAG);
    return s;
}

static char *
journal_path(uint64_t base)
{
    char *p;

    assert_true(asprintf(&p, "%s/journal-%020llu.log", dir, (unsigned long long)base) > 0);
    return p;
}

static off_t
file_size(const char *p)
{
    struct stat st;

    return stat(p, &st) ? -1 : st.st_size;
}

/* Committed records come back; the database is created empty the first time. */
static void
test_recover(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    char *a, *b, *x;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    assert_true(rv.empty);
    assert_int_equal(txid, 0);
    x = routes(1, 20, 5);
    commit(j, &t, &txid, x, true);
    free(x);
    x = routes(5, 3, 77);
    commit(j, &t, &txid, x, true);
    free(x);
    assert_int_equal(txid, 2);
    a = dump(t);
    jnl_close(j);

    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_false(rv.empty);
    assert_int_equal(txid2, 2);
    assert_int_equal(rv.replayed, 2);
    b = dump(t2);
    assert_string_equal(a, b);
    jnl_close(j);
    free(a);
    free(b);
    lyd_free_all(t);
    lyd_free_all(t2);
}

/* A torn tail (a record cut short or garbage) is cut; what was committed stays. */
static void
test_torn_tail(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    char *a, *b, *x, *jp;
    off_t size;
    FILE *f;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    x = routes(1, 10, 5);
    commit(j, &t, &txid, x, true);
    free(x);
    a = dump(t);
    jp = journal_path(0);
    size = file_size(jp);
    x = routes(20, 10, 6);
    commit(j, &t, &txid, x, true);
    free(x);
    jnl_close(j);
    /* cut the second commit in the middle of its record */
    assert_int_equal(truncate(jp, size + 40), 0);
    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_int_equal(txid2, 1);
    assert_int_equal(rv.cut_bytes, 40);
    b = dump(t2);
    assert_string_equal(a, b);
    assert_int_equal(file_size(jp), size);
    jnl_close(j);
    free(b);
    lyd_free_all(t2);
    t2 = NULL;

    /* garbage after the last record */
    f = fopen(jp, "a");
    fputs("this is not a record at all", f);
    fclose(f);
    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_int_equal(txid2, 1);
    assert_int_equal(file_size(jp), size);
    b = dump(t2);
    assert_string_equal(a, b);
    /* and the journal takes new commits after the cut */
    x = routes(50, 1, 9);
    commit(j, &t2, &txid2, x, true);
    free(x);
    assert_int_equal(txid2, 2);
    jnl_close(j);
    free(a);
    free(b);
    free(jp);
    lyd_free_all(t);
    lyd_free_all(t2);
}

/* A record without its completion mark at the end did not happen. */
static void
test_unmarked(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    char *a, *b, *x;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    x = routes(1, 5, 5);
    commit(j, &t, &txid, x, true);
    free(x);
    a = dump(t);
    x = routes(10, 5, 5);
    commit(j, &t, &txid, x, false);
    free(x);
    jnl_close(j);
    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_int_equal(txid2, 1);
    assert_int_equal(rv.discarded, 1);
    b = dump(t2);
    assert_string_equal(a, b);
    jnl_close(j);
    free(a);
    free(b);
    lyd_free_all(t);
    lyd_free_all(t2);
}

/* Corruption inside the committed part is not a torn tail: the start is refused. */
static void
test_corrupt_middle(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    char *x, *jp;
    FILE *f;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    for (int k = 0; k < 3; k++) {
        x = routes(1 + k * 10, 5, k);
        commit(j, &t, &txid, x, true);
        free(x);
    }
    jnl_close(j);
    jp = journal_path(0);
    /* flip a byte in the first transaction's payload */
    f = fopen(jp, "r+");
    fseek(f, 64 + 20 + 18 + 20 + 30, SEEK_SET);
    fputc('#', f);
    fclose(f);
    j = open_jnl(&t2, &txid2, &rv, CHORUS_ERR_PROTO);
    assert_null(j);
    free(jp);
    lyd_free_all(t);
}

/* A journal of another module set refuses the start and names the module sets. */
static void
test_other_schema(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    struct jnl_params p = {NULL, NULL,  NULL, "other@2020-01-01\n", 1 << 30, NULL, NULL,
                           NULL, false, NULL};
    uint8_t other[32] = {9};
    struct jnl_modset found = {{0}, NULL};
    struct cerr *e = NULL;
    char *x;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    x = routes(1, 5, 5);
    commit(j, &t, &txid, x, true);
    free(x);
    jnl_close(j);
    p.dir = dir;
    p.ctx = ctx;
    p.digest = other;
    p.ret_other = &found;
    assert_int_equal(jnl_open(&p, &j, &t2, &txid2, &rv, &e), CHORUS_ERR_SCHEMA);
    assert_non_null(strstr(e->msg, "routes@2026-11-23"));
    assert_non_null(strstr(e->msg, "other@2020-01-01"));
    /* the set the files were written with, for a schema upgrade */
    assert_memory_equal(found.digest, digest, 32);
    assert_string_equal(found.text, "routes@2026-11-23\n");
    free(found.text);
    cerr_free(e);
    lyd_free_all(t);
}

/* Only one opener per directory. */
static void
test_lock(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j, *j2;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    j2 = open_jnl(&t2, &txid2, &rv, CHORUS_ERR_INUSE);
    assert_null(j2);
    jnl_close(j);
    lyd_free_all(t);
}

static void
wait_child(struct jnl *j)
{
    pid_t pid = jnl_child(j);
    int st;

    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(jnl_reap(j, pid, st));
}

/* Compaction: a snapshot and a new journal; recovery from the cache, then from JSON. */
static void
test_compaction(void **state)
{
    struct lyd_node *t = NULL, *t2 = NULL;
    uint64_t txid = 0, txid2 = 0;
    struct jnl_recovery rv;
    struct jnl *j;
    struct cerr *e = NULL;
    char *a, *b, *x, *lyb, *old;

    (void)state;
    fresh_dir();
    j = open_jnl(&t, &txid, &rv, CHORUS_OK);
    x = routes(1, 300, 5);
    commit(j, &t, &txid, x, true);
    free(x);
    assert_int_equal(jnl_compact(j, t, txid, &e), CHORUS_OK);
    wait_child(j);
    x = routes(500, 2, 8);
    commit(j, &t, &txid, x, true);
    free(x);
    a = dump(t);
    jnl_close(j);
    old = journal_path(0);
    assert_int_equal(file_size(old), -1); /* pruned */
    free(old);

    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_int_equal(rv.snapshot_txid, 1);
    assert_true(rv.from_cache);
    assert_int_equal(rv.replayed, 1);
    assert_int_equal(txid2, 2);
    b = dump(t2);
    assert_string_equal(a, b);
    jnl_close(j);
    free(b);
    lyd_free_all(t2);
    t2 = NULL;

    /* a damaged cache is not trusted: the JSON snapshot gives the same data */
    assert_true(asprintf(&lyb, "%s/snapshot-%020d.lyb", dir, 1) > 0);
    assert_int_equal(truncate(lyb, 200), 0);
    j = open_jnl(&t2, &txid2, &rv, CHORUS_OK);
    assert_false(rv.from_cache);
    assert_int_equal(rv.snapshot_txid, 1);
    b = dump(t2);
    assert_string_equal(a, b);
    jnl_close(j);
    free(lyb);
    free(a);
    free(b);
    lyd_free_all(t);
    lyd_free_all(t2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recover),      cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_unmarked),     cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_other_schema), cmocka_unit_test(test_lock),
        cmocka_unit_test(test_compaction),
    };
    int r = cmocka_run_group_tests(tests, setup, teardown);
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
        r = r ? r : 1;
    }
    return r;
}
