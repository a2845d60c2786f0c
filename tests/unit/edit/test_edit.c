/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Change sets (edit.c) and their application (ds.c, dlog.c): the set semantics of a
 * transaction, reads through layers, composition (a transaction into the candidate), and
 * exact undo. Each case builds a datastore, writes a change set, and compares the view and
 * the applied result with the expected data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/dlog.h"
#include "daemon/ds.h"
#include "daemon/edit.h"
#include "daemon/lyu.h"
#include "daemon/val.h"

static struct ly_ctx *ctx;
static struct val *vv;

#define NS "xmlns=\"urn:chorus:test:vt\""

static int
setup(void **state)
{
    const char *src = getenv("CHORUS_SRC");
    char path[1024];

    (void)state;
    snprintf(path, sizeof path, "%s/tests/unit/val/vt.yang", src ? src : ".");
    if (ly_ctx_new(NULL, 0, &ctx) || lys_parse_path(ctx, path, LYS_IN_YANG, NULL)) {
        return -1;
    }
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

/* A validated tree from XML (the datastore as the daemon keeps it). */
static struct lyd_node *
tree(const char *xml)
{
    struct lyd_node *t = NULL;
    struct ly_in *in = NULL;

    assert_int_equal(ly_in_new_memory(xml, &in), LY_SUCCESS);
    if (lyd_parse_data(ctx, NULL, in, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_NO_STATE, &t)) {
        fprintf(stderr, "%s\n", ly_err_first(ctx) ? ly_err_first(ctx)->msg : "?");
        fail();
    }
    ly_in_free(in, 0);
    return t;
}

/* Input data for a change set: parsed, not validated (it is partial). */
static struct lyd_node *
data(const char *xml)
{
    struct lyd_node *t = NULL;
    struct ly_in *in = NULL;

    assert_int_equal(ly_in_new_memory(xml, &in), LY_SUCCESS);
    assert_int_equal(
        lyd_parse_data(ctx, NULL, in, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &t),
        LY_SUCCESS);
    ly_in_free(in, 0);
    return t;
}

static const char *base_xml = "<top " NS "><group><id>0</id></group>"
                              "<item><name>a</name><weight>5</weight><rank>1</rank></item>"
                              "<item><name>b</name><weight>6</weight></item>"
                              "<seq>w</seq><seq>x</seq><seq>y</seq></top>";

static void
expect_same(const struct lyd_node *got, const char *xml)
{
    struct lyd_node *want = tree(xml);
    char *d = val_tree_diff(got, want);

    if (d) {
        char *s = NULL;

        lyd_print_mem(&s, got, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_ALL);
        fprintf(stderr, "difference: %s\ngot:\n%s\n", d, s ? s : "");
        free(s);
    }
    assert_null(d);
    lyd_free_all(want);
}

static void
resolve(struct dpath *dp, const char *path, const char *value)
{
    struct cerr *e = NULL;

    if (dpath_resolve(ctx, path, value, dp, &e)) {
        fprintf(stderr, "%s: %s\n", path, e ? e->msg : "?");
        fail();
    }
}

static void
set(struct ed *ed, const char *path, const char *value)
{
    struct dpath dp;
    struct cerr *e = NULL;

    resolve(&dp, path, value);
    assert_int_equal(ed_set(ed, &dp, &e), CHORUS_OK);
    assert_null(ed_check(ed));
    dpath_done(&dp);
}

static void
del(struct ed *ed, const struct lyd_node *base, const char *path)
{
    struct dpath dp;
    struct cerr *e = NULL;
    const struct lyd_node *cur = NULL;
    struct view v = {(struct lyd_node *)base, {ed}, 1};

    resolve(&dp, path, NULL);
    assert_int_equal(view_find(&v, &dp, &cur), CHORUS_OK);
    assert_int_equal(ed_delete(ed, &dp, cur, &e), CHORUS_OK);
    assert_null(ed_check(ed));
    dpath_done(&dp);
}

/* Apply @p ed to a copy of @p base, validate, return the result (base untouched). Also checks
 * that undo restores the copy exactly. */
static struct lyd_node *
applied(const struct lyd_node *base, struct ed *ed, size_t *ret_entries)
{
    struct lyd_node *t = NULL, *before = NULL;
    struct dlog log;
    struct cerr *e = NULL;
    char *d;

    assert_int_equal(lyd_dup_siblings(base, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &t),
                     LY_SUCCESS);
    assert_int_equal(lyd_dup_siblings(base, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &before),
                     LY_SUCCESS);
    dl_init(&log, &t, val_hooks(), vv);
    assert_int_equal(ds_apply(&log, ed, &e), CHORUS_OK);
    if (ret_entries) {
        *ret_entries = log.n;
    }
    if (val_full(vv, &log, &e)) {
        fprintf(stderr, "validation: %s\n", e ? e->msg : "?");
        fail();
    }
    /* undo gives back exactly the original and the whole change set; redo it */
    dl_undo(&log, false);
    d = val_tree_diff(t, before);
    assert_null(d);
    dl_redo(&log);
    dl_commit(&log);
    dl_done(&log);
    lyd_free_all(before);
    val_reset(vv);
    return t;
}

/* The view of @p path through @p ed over @p base, printed as XML with its ancestors. */
static char *
view_xml(const struct lyd_node *base, const struct ed *ed, const char *path)
{
    struct view v = {(struct lyd_node *)base, {ed}, 1};
    struct dpath dp;
    struct lyd_node *t = NULL, *n = NULL, *dup = NULL;
    bool owned;
    char *s = NULL;

    resolve(&dp, path, NULL);
    if (view_get(&v, &dp, &t, &n, &owned)) {
        dpath_done(&dp);
        return NULL;
    }
    assert_int_equal(lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS, &dup),
                     LY_SUCCESS);
    while (dup->parent) {
        dup = lyd_parent(dup);
    }
    lyd_print_mem(&s, dup, LYD_XML, LYD_PRINT_SHRINK);
    lyd_free_all(dup);
    if (owned) {
        lyd_free_all(t);
    }
    dpath_done(&dp);
    return s;
}

/* Reads inside a transaction see the change; the datastore does not. */
static void
test_view(void **state)
{
    struct lyd_node *base = tree(base_xml);
    struct ed *ed = ed_new(ctx);
    char *s;

    (void)state;
    set(ed, "/vt:top/item[name='a']/weight", "9");
    set(ed, "/vt:top/item[name='c']/weight", "1");
    s = view_xml(base, ed, "/vt:top/item[name='a']");
    assert_non_null(strstr(s, "<weight>9</weight>"));
    assert_non_null(strstr(s, "<rank>1</rank>"));
    free(s);
    s = view_xml(base, ed, "/vt:top/item[name='c']");
    assert_non_null(strstr(s, "<weight>1</weight>"));
    free(s);
    /* the base is untouched */
    s = view_xml(base, NULL, "/vt:top/item[name='a']");
    assert_non_null(strstr(s, "<weight>5</weight>"));
    free(s);
    assert_null(view_xml(base, NULL, "/vt:top/item[name='c']"));
    ed_free(ed);
    lyd_free_all(base);
}

/* A set is a set: the last write wins; a write equal to the datastore changes nothing. */
static void
test_set_semantics(void **state)
{
    struct lyd_node *base = tree(base_xml), *r;
    struct ed *ed = ed_new(ctx);
    size_t n;

    (void)state;
    set(ed, "/vt:top/item[name='a']/weight", "7");
    set(ed, "/vt:top/item[name='a']/weight", "8");
    r = applied(base, ed, &n);
    assert_int_equal(n, 1);
    expect_same(r, "<top " NS "><group><id>0</id></group>"
                   "<item><name>a</name><weight>8</weight><rank>1</rank></item>"
                   "<item><name>b</name><weight>6</weight></item>"
                   "<seq>w</seq><seq>x</seq><seq>y</seq></top>");
    lyd_free_all(r);
    ed_free(ed);

    /* equal value: no entry in the log at all */
    ed = ed_new(ctx);
    set(ed, "/vt:top/item[name='b']/weight", "6");
    r = applied(base, ed, &n);
    assert_int_equal(n, 0);
    lyd_free_all(r);
    ed_free(ed);
    lyd_free_all(base);
}

/* Deleting then writing below recreates the node with only what was written. */
static void
test_delete_then_set(void **state)
{
    struct lyd_node *base = tree(base_xml), *r;
    struct ed *ed = ed_new(ctx);

    (void)state;
    del(ed, base, "/vt:top/item[name='a']");
    set(ed, "/vt:top/item[name='a']/weight", "3");
    r = applied(base, ed, NULL);
    expect_same(r, "<top " NS "><group><id>0</id></group>"
                   "<item><name>a</name><weight>3</weight></item>"
                   "<item><name>b</name><weight>6</weight></item>"
                   "<seq>w</seq><seq>x</seq><seq>y</seq></top>");
    lyd_free_all(r);
    ed_free(ed);

    /* and writing then deleting removes it from the datastore as well */
    ed = ed_new(ctx);
    set(ed, "/vt:top/item[name='b']/rank", "2");
    del(ed, base, "/vt:top/item[name='b']/rank");
    r = applied(base, ed, NULL);
    expect_same(r, base_xml);
    lyd_free_all(r);
    ed_free(ed);
    lyd_free_all(base);
}

/* Replacing a subtree removes what the replacement lacks. */
static void
test_replace(void **state)
{
    struct lyd_node *base = tree(base_xml), *r, *content = NULL, *n = NULL;
    struct ed *ed = ed_new(ctx);
    struct dpath dp;
    struct cerr *e = NULL;

    (void)state;
    assert_int_equal(lyd_new_path(NULL, ctx, "/vt:top/item[name='a']/weight", "4", 0, &content),
                     LY_SUCCESS);
    lyd_find_path(content, "/vt:top/item[name='a']", 0, &n);
    lyd_unlink_tree(n);
    lyd_free_all(content);
    resolve(&dp, "/vt:top/item[name='a']", NULL);
    assert_int_equal(ed_replace(ed, &dp, n, &e), CHORUS_OK);
    dpath_done(&dp);
    assert_null(ed_check(ed));
    r = applied(base, ed, NULL);
    expect_same(r, "<top " NS "><group><id>0</id></group>"
                   "<item><name>a</name><weight>4</weight></item>"
                   "<item><name>b</name><weight>6</weight></item>"
                   "<seq>w</seq><seq>x</seq><seq>y</seq></top>");
    lyd_free_all(r);
    ed_free(ed);

    /* replacing everything removes the top-level data that is absent */
    ed = ed_new(ctx);
    assert_int_equal(ed_replace_tree(ed,
                                     data("<total " NS ">3</total>"
                                          "<top " NS "><group><id>1</id></group></top>"),
                                     true, &e),
                     CHORUS_OK);
    r = applied(base, ed, NULL);
    expect_same(r, "<total " NS ">3</total><top " NS "><group><id>1</id></group></top>");
    lyd_free_all(r);
    ed_free(ed);
    lyd_free_all(base);
}

/* A merged data tree moves into the change set whole (no copy), and merges into it. */
static void
test_merge(void **state)
{
    struct lyd_node *base = tree(base_xml), *r, *in;
    struct ed *ed = ed_new(ctx);
    struct cerr *e = NULL;

    (void)state;
    in = data("<top " NS "><item><name>c</name><weight>2</weight></item></top>");
    assert_int_equal(ed_merge_tree(ed, in, &e), CHORUS_OK);
    assert_ptr_equal(ed->tree, in); /* moved, not copied */
    in = data("<top " NS "><item><name>c</name><rank>2</rank></item></top>");
    assert_int_equal(ed_merge_tree(ed, in, &e), CHORUS_OK);
    assert_null(ed_check(ed));
    r = applied(base, ed, NULL);
    expect_same(r, "<top " NS "><group><id>0</id></group>"
                   "<item><name>a</name><weight>5</weight><rank>1</rank></item>"
                   "<item><name>b</name><weight>6</weight></item>"
                   "<item><name>c</name><weight>2</weight><rank>2</rank></item>"
                   "<seq>w</seq><seq>x</seq><seq>y</seq></top>");
    lyd_free_all(r);
    ed_free(ed);
    lyd_free_all(base);
}

/* A transaction composed into the candidate describes both changes. */
static void
test_compose(void **state)
{
    struct lyd_node *base = tree(base_xml), *r;
    struct ed *cand = ed_new(ctx), *t = ed_new(ctx);
    struct cerr *e = NULL;

    (void)state;
    set(cand, "/vt:top/item[name='a']/weight", "1");
    set(cand, "/vt:top/item[name='c']/weight", "2");
    del(t, base, "/vt:top/item[name='b']");
    set(t, "/vt:top/item[name='c']/rank", "1");
    del(t, base, "/vt:top/seq[.='x']");
    set(t, "/vt:total", "3"); /* a new top-level node moves into the candidate */
    assert_int_equal(ed_compose(cand, t, &e), CHORUS_OK);
    assert_null(t->tree);
    assert_null(ed_check(cand));
    r = applied(base, cand, NULL);
    expect_same(r, "<top " NS "><group><id>0</id></group>"
                   "<item><name>a</name><weight>1</weight><rank>1</rank></item>"
                   "<item><name>c</name><weight>2</weight><rank>1</rank></item>"
                   "<seq>w</seq><seq>y</seq></top><total " NS ">3</total>");
    lyd_free_all(r);
    ed_free(cand);
    ed_free(t);
    lyd_free_all(base);
}

static void
seq_of(const struct lyd_node *root, char *out)
{
    struct lyd_node *top = NULL, *it;
    const struct lysc_node *s = lys_find_path(ctx, NULL, "/vt:top/seq", 0);

    *out = 0;
    lyd_find_path(root, "/vt:top", 0, &top);
    LYD_LIST_FOR_INST(lyd_child(top), s, it)
    {
        strcat(out, lyd_get_value(it));
    }
}

/* An aborted change restores ordered-by-user entries at their positions. */
static void
test_undo_positions(void **state)
{
    struct lyd_node *t = tree(base_xml);
    struct ed *ed = ed_new(ctx);
    struct dlog log;
    struct cerr *e = NULL;
    char order[16];

    (void)state;
    del(ed, t, "/vt:top/seq[.='w']");
    del(ed, t, "/vt:top/seq[.='x']");
    set(ed, "/vt:top/seq[.='z']", NULL);
    dl_init(&log, &t, val_hooks(), vv);
    assert_int_equal(ds_apply(&log, ed, &e), CHORUS_OK);
    seq_of(t, order);
    assert_string_equal(order, "yz");
    dl_undo(&log, true);
    seq_of(t, order);
    assert_string_equal(order, "wxy");
    /* the change set is whole again: applying it once more gives the same result */
    assert_null(ed_check(ed));
    dl_done(&log);
    dl_init(&log, &t, val_hooks(), vv);
    assert_int_equal(ds_apply(&log, ed, &e), CHORUS_OK);
    seq_of(t, order);
    assert_string_equal(order, "yz");
    dl_commit(&log);
    dl_done(&log);
    val_reset(vv);
    ed_free(ed);
    lyd_free_all(t);
}

static void
items_of(const struct lyd_node *root, char *out)
{
    struct lyd_node *top = NULL, *it;
    const struct lysc_node *s = lys_find_path(ctx, NULL, "/vt:top/item", 0);

    *out = 0;
    lyd_find_path(root, "/vt:top", 0, &top);
    LYD_LIST_FOR_INST(lyd_child(top), s, it)
    {
        strcat(out, lyd_get_value(lyd_child(it)));
    }
}

/* ... and ordered-by-system entries too, including a first one, with the first-instance
 * lookup still right afterwards (libyang's hash table). */
static void
test_undo_system_order(void **state)
{
    struct lyd_node *t = tree("<top " NS "><group><id>0</id></group>"
                              "<item><name>a</name><weight>1</weight></item>"
                              "<item><name>b</name><weight>1</weight></item>"
                              "<item><name>c</name><weight>1</weight></item>"
                              "<item><name>d</name><weight>1</weight></item>"
                              "<item><name>e</name><weight>1</weight></item></top>");
    struct ed *ed = ed_new(ctx);
    struct dlog log;
    struct cerr *e = NULL;
    struct lyd_node *top = NULL, *first = NULL;
    char order[16];

    (void)state;
    del(ed, t, "/vt:top/item[name='a']");
    del(ed, t, "/vt:top/item[name='c']");
    del(ed, t, "/vt:top/item[name='e']");
    dl_init(&log, &t, val_hooks(), vv);
    assert_int_equal(ds_apply(&log, ed, &e), CHORUS_OK);
    items_of(t, order);
    assert_string_equal(order, "bd");
    dl_undo(&log, true);
    items_of(t, order);
    assert_string_equal(order, "abcde");
    lyd_find_path(t, "/vt:top", 0, &top);
    assert_int_equal(lyd_find_sibling_val(lyd_child(top),
                                          lys_find_path(ctx, NULL, "/vt:top/item", 0), NULL, 0,
                                          &first),
                     LY_SUCCESS);
    assert_string_equal(lyd_get_value(lyd_child(first)), "a");
    /* the schema is ordered-by-system again */
    assert_false(lys_find_path(ctx, NULL, "/vt:top/item", 0)->flags & LYS_ORDBY_USER);
    dl_done(&log);
    val_reset(vv);
    ed_free(ed);
    lyd_free_all(t);
}

/* Paths and values from outside are checked with a reason. */
static void
test_bad_paths(void **state)
{
    struct dpath dp;
    struct cerr *e = NULL;

    (void)state;
    assert_int_equal(dpath_resolve(ctx, "vt:top", NULL, &dp, &e), CHORUS_ERR_BADPATH);
    cerr_free(e);
    e = NULL;
    assert_int_equal(dpath_resolve(ctx, "/nosuch:x", NULL, &dp, &e), CHORUS_ERR_BADPATH);
    assert_non_null(e->msg);
    cerr_free(e);
    e = NULL;
    assert_int_equal(dpath_resolve(ctx, "/vt:top/item[name='a']/weight", "10", &dp, &e),
                     CHORUS_ERR_BADVALUE);
    assert_non_null(strstr(e->msg, "range"));
    assert_string_equal(e->path, "/vt:top/item[name='a']/weight");
    cerr_free(e);
    e = NULL;
    assert_int_equal(dpath_resolve(ctx, "/vt:top/item[name='abc']", NULL, &dp, &e),
                     CHORUS_ERR_BADVALUE);
    cerr_free(e);
    e = NULL;
    assert_int_equal(dpath_resolve(ctx, "/vt:top/item[name='a']/name", "b", &dp, &e),
                     CHORUS_ERR_INVAL);
    assert_non_null(strstr(e->msg, "key"));
    cerr_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_set_semantics),
        cmocka_unit_test(test_delete_then_set),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_undo_positions),
        cmocka_unit_test(test_undo_system_order),
        cmocka_unit_test(test_bad_paths),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
