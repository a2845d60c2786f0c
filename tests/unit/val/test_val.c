/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The validator oracle: random change sets on a model full of constraints, each validated
 * incrementally and by libyang's full validation side by side (val_full compares verdicts and
 * resulting trees and reports any disagreement as CHORUS_ERR_INTERNAL). Also checks that an
 * aborted change restores the tree exactly, that a prepared change toggles (undo/redo) exactly,
 * and that the committed tree stays fully valid and complete.
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
static struct lyd_node *running;
static uint64_t rng = 88172645463325252ULL;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static int
setup(void **state)
{
    const char *src = getenv("CHORUS_SRC");
    char path[1024];
    struct ly_in *in = NULL;

    (void)state;
    snprintf(path, sizeof path, "%s/tests/unit/val/vt.yang", src ? src : ".");
    if (ly_ctx_new(NULL, 0, &ctx) || lys_parse_path(ctx, path, LYS_IN_YANG, NULL)) {
        return -1;
    }
    vv = val_new(ctx);
    if (!vv) {
        return -1;
    }
    ly_in_new_memory("<top xmlns=\"urn:chorus:test:vt\"><group><id>0</id></group></top>", &in);
    if (lyd_parse_data(ctx, NULL, in, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_NO_STATE, &running)) {
        return -1;
    }
    ly_in_free(in, 0);
    if (getenv("CHORUS_SEED")) {
        rng = strtoull(getenv("CHORUS_SEED"), NULL, 10) | 1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    lyd_free_all(running);
    val_free(vv);
    ly_ctx_destroy(ctx);
    return 0;
}

static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};

struct gen {
    struct ed *ed;
    char desc[4096];
    size_t dlen;
};

static void note(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(struct gen *g, const char *fmt, ...)
{
    va_list ap;

    if (g->dlen >= sizeof g->desc - 2) {
        return;
    }
    va_start(ap, fmt);
    g->dlen += (size_t)vsnprintf(g->desc + g->dlen, sizeof g->desc - g->dlen, fmt, ap);
    va_end(ap);
    if (g->dlen < sizeof g->desc - 1) {
        g->desc[g->dlen++] = '\n';
        g->desc[g->dlen] = 0;
    }
}

static void
op_set(struct gen *g, const char *path, const char *value)
{
    struct dpath dp;
    struct cerr *e = NULL;

    note(g, "set %s %s", path, value ? value : "");
    if (dpath_resolve(ctx, path, value, &dp, &e)) {
        /* an invalid value is refused with the path and a reason */
        assert_non_null(e);
        assert_non_null(e->msg);
        assert_non_null(e->path);
        cerr_free(e);
        return;
    }
    if (ed_set(g->ed, &dp, &e)) {
        fprintf(stderr, "ed_set %s: %s\nchange set:\n%s", path, e->msg, g->desc);
        fail();
    }
    dpath_done(&dp);
    assert_null(ed_check(g->ed));
}

static void
op_delete(struct gen *g, const char *path)
{
    struct dpath dp;
    struct cerr *e = NULL;
    const struct lyd_node *cur = NULL;
    struct view view = {running, {g->ed}, 1};

    note(g, "delete %s", path);
    assert_int_equal(dpath_resolve(ctx, path, NULL, &dp, &e), CHORUS_OK);
    if (view_find(&view, &dp, &cur) == CHORUS_OK) {
        assert_int_equal(ed_delete(g->ed, &dp, cur, &e), CHORUS_OK);
        assert_null(ed_check(g->ed));
    }
    dpath_done(&dp);
}

static void
op_merge_item(struct gen *g, bool replace)
{
    struct lyd_node *t = NULL, *n;
    char base[64], p[128];
    const char *nm = names[rnd(8)];
    struct cerr *e = NULL;

    snprintf(base, sizeof base, "/vt:top/item[name='%s']", nm);
    note(g, "%s item %s", replace ? "replace" : "merge", nm);
    snprintf(p, sizeof p, "%s/weight", base);
    lyd_new_path(NULL, ctx, p, names[0] ? (char[]){(char)('0' + rnd(10)), 0} : "1", 0, &t);
    if (rnd(2)) {
        snprintf(p, sizeof p, "%s/rank", base);
        lyd_new_path(t, ctx, p, (char[]){(char)('0' + rnd(4)), 0}, 0, NULL);
    }
    if (rnd(2)) {
        snprintf(p, sizeof p, "%s/group", base);
        lyd_new_path(t, ctx, p, (char[]){(char)('0' + rnd(4)), 0}, 0, NULL);
    }
    if (rnd(3) == 0) {
        snprintf(p, sizeof p, "%s/k2b", base);
        lyd_new_path(t, ctx, p, "5", 0, NULL);
    }
    if (rnd(3) == 0) {
        snprintf(p, sizeof p, "%s/sub/tag[.='%c']", base, 'p' + rnd(4));
        lyd_new_path(t, ctx, p, NULL, 0, NULL);
    }
    if (rnd(4) == 0) {
        snprintf(p, sizeof p, "%s/peer", base);
        lyd_new_path(t, ctx, p, names[rnd(8)], 0, NULL);
    }
    if (!replace) {
        assert_int_equal(ed_merge_tree(g->ed, t, &e), CHORUS_OK);
    } else {
        struct dpath dp;

        assert_int_equal(dpath_resolve(ctx, base, NULL, &dp, &e), CHORUS_OK);
        lyd_find_path(t, base, 0, &n);
        lyd_unlink_tree(n);
        lyd_free_all(t);
        assert_int_equal(ed_replace(g->ed, &dp, n, &e), CHORUS_OK);
        dpath_done(&dp);
    }
    assert_null(ed_check(g->ed));
}

static void
random_op(struct gen *g)
{
    char p[160], v[8];
    const char *nm = names[rnd(8)];

    snprintf(v, sizeof v, "%u", rnd(12)); /* sometimes out of range */
    switch (rnd(24)) {
    case 0:
    case 1:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/weight", nm);
        op_set(g, p, v);
        break;
    case 2:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/rank", nm);
        snprintf(v, sizeof v, "%u", rnd(4));
        op_set(g, p, v);
        break;
    case 3:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/group", nm);
        snprintf(v, sizeof v, "%u", rnd(4));
        op_set(g, p, v);
        break;
    case 4:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/extra", nm);
        op_set(g, p, v);
        break;
    case 5:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/peer", nm);
        op_set(g, p, names[rnd(8)]);
        break;
    case 6:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/gref", nm);
        snprintf(v, sizeof v, "%u", rnd(6));
        op_set(g, p, v);
        break;
    case 7:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/%s", nm,
                 (const char *[]){"k1val", "k2a", "k2b"}[rnd(3)]);
        op_set(g, p, v);
        break;
    case 8:
    case 9:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']", nm);
        op_delete(g, p);
        break;
    case 10:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/%s", nm,
                 (const char *[]){"rank", "extra", "k2b", "k2a", "group", "peer", "weight",
                                  "sub"}[rnd(8)]);
        op_delete(g, p);
        break;
    case 11:
    case 12:
        op_merge_item(g, false);
        break;
    case 13:
        op_merge_item(g, true);
        break;
    case 14:
        snprintf(p, sizeof p, "/vt:top/group[id='%u']/ownername", rnd(6));
        op_set(g, p, names[rnd(8)]);
        break;
    case 15:
        snprintf(p, sizeof p, "/vt:top/group[id='%u']/owner", rnd(6));
        op_set(g, p, names[rnd(8)]);
        break;
    case 16:
        snprintf(p, sizeof p, "/vt:top/group[id='%u']", rnd(6));
        if (rnd(2)) {
            op_delete(g, p);
        } else {
            op_set(g, p, NULL);
        }
        break;
    case 17:
        op_set(g, "/vt:top/mode", rnd(2) ? "a" : "b");
        break;
    case 18:
        snprintf(v, sizeof v, "%u", rnd(14));
        op_set(g, "/vt:top/limit", v);
        break;
    case 19:
        if (rnd(2)) {
            op_set(g, "/vt:top/opts/note", "hi");
        } else {
            op_set(g, "/vt:top/opts/flag", rnd(2) ? "true" : "false");
        }
        break;
    case 20:
        snprintf(p, sizeof p, "/vt:top/%s[.='%u']", rnd(2) ? "defs" : "defs", rnd(5));
        if (rnd(2)) {
            op_set(g, p, NULL);
        } else {
            op_delete(g, p);
        }
        break;
    case 21:
        snprintf(p, sizeof p, "/vt:top/item[name='%s']/sub/tag[.='%c']", nm, 'p' + rnd(4));
        if (rnd(3)) {
            op_set(g, p, NULL);
        } else {
            op_delete(g, p);
        }
        break;
    case 22:
        switch (rnd(5)) {
        case 0:
            op_set(g, "/vt:top/box/must-have", "x");
            break;
        case 1:
            op_set(g, "/vt:top/box/left", "1");
            break;
        case 2:
            op_set(g, "/vt:top/box/right", "2");
            break;
        case 3:
            op_delete(g, "/vt:top/box");
            break;
        default:
            op_set(g, "/vt:top/box", NULL);
            break;
        }
        break;
    default:
        snprintf(p, sizeof p, "/vt:top/seq[.='%c']", 'w' + rnd(4));
        if (rnd(2)) {
            op_set(g, p, NULL);
        } else {
            op_delete(g, p);
        }
        if (rnd(3) == 0) {
            snprintf(v, sizeof v, "%u", rnd(8));
            op_set(g, "/vt:total", v);
        }
        break;
    }
}

/* The ordered-by-user leaf-list's order, as a string. */
static void
seq_order(const struct lyd_node *root, char *out)
{
    struct lyd_node *top = NULL, *it;
    const struct lysc_node *s = lys_find_path(ctx, NULL, "/vt:top/seq", 0);

    *out = 0;
    lyd_find_path(root, "/vt:top", 0, &top);
    if (top) {
        LYD_LIST_FOR_INST(lyd_child(top), s, it)
        {
            strcat(out, lyd_get_value(it));
        }
    }
}

static struct lyd_node *
dup_all(const struct lyd_node *t)
{
    struct lyd_node *d = NULL;

    if (t) {
        assert_int_equal(lyd_dup_siblings(t, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &d),
                         LY_SUCCESS);
    }
    return d;
}

static void
assert_same(const struct lyd_node *a, const struct lyd_node *b, const char *what,
            const struct gen *g)
{
    char *d = val_tree_diff(a, b);
    char sa[64], sb[64];

    if (d) {
        fprintf(stderr, "%s: %s\nchange set:\n%s", what, d, g->desc);
    }
    assert_null(d);
    seq_order(a, sa);
    seq_order(b, sb);
    if (strcmp(sa, sb)) {
        fprintf(stderr, "%s: ordered-by-user order %s vs %s\nchange set:\n%s", what, sa, sb,
                g->desc);
    }
    assert_string_equal(sa, sb);
}

static void
test_oracle(void **state)
{
    unsigned iters = getenv("CHORUS_VAL_ITERS") ? (unsigned)atoi(getenv("CHORUS_VAL_ITERS")) : 4000;
    unsigned valid = 0, invalid = 0;
    unsigned cat_must = 0, cat_when = 0, cat_lref = 0, cat_uniq = 0, cat_mand = 0, cat_minmax = 0,
             cat_gfull = 0, cat_total = 0, cat_choice = 0, cat_custom = 0;

    (void)state;
    for (unsigned it = 0; it < iters; it++) {
        struct gen g = {.ed = ed_new(ctx)};
        struct dlog log;
        struct cerr *e = NULL;
        struct lyd_node *pre = dup_all(running), *post;
        unsigned nops = 1 + rnd(4);
        enum chorus_err r;

        for (unsigned k = 0; k < nops; k++) {
            random_op(&g);
        }
        dl_init(&log, &running, val_hooks(), vv);
        assert_int_equal(ds_apply(&log, g.ed, &e), CHORUS_OK);
        r = val_full(vv, &log, &e);
        if (r == CHORUS_ERR_INTERNAL) {
            fprintf(stderr, "iteration %u: %s\nchange set:\n%s", it, e->msg, g.desc);
        }
        assert_int_not_equal(r, CHORUS_ERR_INTERNAL);
        if (r == CHORUS_OK) {
            post = dup_all(running);
            dl_undo(&log, false);
            assert_same(running, pre, "toggle undo", &g);
            dl_redo(&log);
            assert_same(running, post, "toggle redo", &g);
            dl_commit(&log);
            lyd_free_all(post);
            valid++;
        } else {
            const char *m = e->msg ? e->msg : "";
            const char *tag = e->apptag ? e->apptag : "";

            assert_int_equal(r, CHORUS_ERR_VALIDATION);
            dl_undo(&log, true);
            assert_same(running, pre, "abort", &g);
            invalid++;
            cat_must += !strcmp(tag, "must-violation") || strstr(m, "weight must") != NULL;
            cat_custom += strstr(m, "weight must") != NULL;
            cat_when += strstr(m, "When condition") != NULL;
            cat_lref += strstr(m, "leafref") != NULL;
            cat_uniq += !strcmp(tag, "data-not-unique");
            cat_mand += strstr(m, "Mandatory") != NULL;
            cat_minmax += !strcmp(tag, "too-few-elements") || !strcmp(tag, "too-many-elements");
            cat_gfull += !strcmp(tag, "group-full");
            cat_total += !strcmp(tag, "too-many-items");
            cat_choice += strstr(m, "both cases") != NULL;
        }
        cerr_free(e);
        dl_done(&log);
        ed_free(g.ed);
        lyd_free_all(pre);
        if (it % 50 == 49) {
            /* the committed tree is fully valid and complete */
            struct lyd_node *c = dup_all(running);
            char *d;

            assert_int_equal(lyd_validate_all(&c, ctx, LYD_VALIDATE_NO_STATE, NULL), LY_SUCCESS);
            d = val_tree_diff(c, running);
            if (d) {
                fprintf(stderr, "after %u: full validation changes the tree: %s\n", it, d);
            }
            assert_null(d);
            lyd_free_all(c);
        }
    }
    fprintf(stderr,
            "oracle: %u change sets, %u valid, %u invalid (must %u, custom must %u, when %u, "
            "leafref %u, unique %u, mandatory %u, min/max %u, group-full %u, total %u, "
            "choice %u)\n",
            iters, valid, invalid, cat_must, cat_custom, cat_when, cat_lref, cat_uniq, cat_mand,
            cat_minmax, cat_gfull, cat_total, cat_choice);
    if (iters >= 2000) {
        assert_true(valid > iters / 10);
        assert_true(invalid > iters / 10);
        assert_true(cat_must && cat_when && cat_lref && cat_uniq && cat_mand && cat_minmax &&
                    cat_gfull && cat_total);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
