/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema loading (schema.c) against the fixture directories next to this file: a good module
 * set (imports across file names and directories, a submodule, a feature, an augment), the
 * module-set digest (stable, independent of directories and file names, sensitive to any
 * byte of any module or submodule file), and each error with its file, line and reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/schema.h"

static char fixtures[PATH_MAX]; /* <CHORUS_SRC>/tests/unit/schema */

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            print_error("\"%s\"\n  does not contain \"%s\"\n", h_ ? h_ : "(null)", n_);            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* <fixtures>/@p name, malloc'd. */
static char *
fixture(const char *name)
{
    char *p;

    assert_true(asprintf(&p, "%s/%s", fixtures, name) > 0);
    return p;
}

static struct schema *
load_ok(const char *const *dirs, size_t n)
{
    struct schema *s = NULL;
    struct cerr *e = NULL;
    enum chorus_err rc = schema_load(dirs, n, &s, &e);

    if (rc) {
        print_error("schema_load: %d: %s\n", rc, e && e->msg ? e->msg : "(no message)");
    }
    assert_int_equal(rc, CHORUS_OK);
    assert_null(e);
    assert_non_null(s);
    return s;
}

/* Load the fixture directory @p name; must fail with CHORUS_ERR_SCHEMA; returns the message. */
static char *
load_fail_dirs(const char *const *dirs, size_t n)
{
    struct schema *s = (struct schema *)(uintptr_t)0x1;
    struct cerr *e = NULL;
    char *msg;

    assert_int_equal(schema_load(dirs, n, &s, &e), CHORUS_ERR_SCHEMA);
    assert_ptr_equal(s, (struct schema *)(uintptr_t)0x1);
    assert_non_null(e);
    assert_int_equal(e->code, CHORUS_ERR_SCHEMA);
    msg = strdup(e->msg);
    cerr_free(e);
    return msg;
}

static char *
load_fail(const char *name)
{
    char *dir = fixture(name), *msg;
    const char *dirs[] = {dir};

    msg = load_fail_dirs(dirs, 1);
    free(dir);
    return msg;
}

static const struct schema_mod *
find_mod(const struct schema *s, const char *name)
{
    for (size_t i = 0; i < s->nmods; i++) {
        if (!strcmp(s->mods[i].name, name)) {
            return &s->mods[i];
        }
    }
    return NULL;
}

static void
sha256_of(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
}

static void
sha256_file(const char *path, uint8_t out[32])
{
    char *data;
    size_t len;

    assert_int_equal(read_file(path, &data, &len), 0);
    sha256_of(data, len, out);
    free(data);
}

static void
test_good(void **state)
{
    char *good = fixture("good"), *good2 = fixture("good2"), *d, hex[16], want[PATH_MAX * 3];
    const char *dirs[] = {good, good2};
    struct schema *s = load_ok(dirs, 2);
    const struct schema_mod *m;
    const struct lys_module *lm;
    uint8_t h[32];

    (void)state;
    /* every module of the context, sorted, once */
    for (size_t i = 1; i < s->nmods; i++) {
        assert_true(strcmp(s->mods[i - 1].name, s->mods[i].name) < 0);
    }
    {
        uint32_t idx = 0;
        size_t n = 0;

        while (ly_ctx_get_module_iter(s->ctx, &idx)) {
            n++;
        }
        assert_int_equal(n, s->nmods);
    }

    m = find_mod(s, "app");
    assert_non_null(m);
    assert_string_equal(m->revision, "2026-11-23");
    assert_true(m->implemented);
    snprintf(want, sizeof want, "%s/good/app.yang", fixtures);
    assert_string_equal(m->file, want);
    sha256_file(want, h);
    assert_memory_equal(m->sha256, h, 32);

    /* a module in a file named otherwise, imported before it was listed */
    m = find_mod(s, "types");
    assert_non_null(m);
    assert_string_equal(m->revision, "2026-01-01");
    assert_true(m->implemented);
    assert_contains(m->file, "/good/zz-types.yang");

    /* no revision; from the second directory */
    m = find_mod(s, "extra");
    assert_non_null(m);
    assert_null(m->revision);
    assert_contains(m->file, "/good2/extra.yang");

    /* the standard module, from libyuma-base */
    m = find_mod(s, "ietf-netconf-with-defaults");
    assert_non_null(m);
    assert_string_equal(m->revision, "2011-06-01");
    assert_true(m->implemented);
    assert_contains(m->file, "/usr/share/yuma/modules/ietf/");

    /* a libyang-internal module: no file, hashed by name@revision */
    m = find_mod(s, "ietf-yang-types");
    assert_non_null(m);
    assert_null(m->file);
    sha256_of("ietf-yang-types@2013-07-15", strlen("ietf-yang-types@2013-07-15"), h);
    assert_memory_equal(m->sha256, h, 32);

    /* compiled as one: features on, the submodule's grouping and the augment in place */
    lm = ly_ctx_get_module_implemented(s->ctx, "app");
    assert_non_null(lm);
    assert_int_equal(lys_feature_value(lm, "fast"), LY_SUCCESS);
    assert_non_null(lys_find_path(s->ctx, NULL, "/app:top/speed", 0));
    assert_non_null(lys_find_path(s->ctx, NULL, "/app:top/from-sub", 0));
    assert_non_null(lys_find_path(s->ctx, NULL, "/app:top/extra:more", 0));

    for (size_t i = 0; i < 32; i++) {
        snprintf(hex, sizeof hex, "%02x", s->digest[i]);
        assert_memory_equal(s->digest_hex + 2 * i, hex, 2);
    }
    assert_int_equal(strlen(s->digest_hex), 64);

    d = schema_describe(s);
    assert_non_null(d);
    m = find_mod(s, "app");
    snprintf(want, sizeof want, "app@2026-11-23 (%02x%02x%02x%02x%02x%02x), ", m->sha256[0],
             m->sha256[1], m->sha256[2], m->sha256[3], m->sha256[4], m->sha256[5]);
    assert_true(!strncmp(d, want, strlen(want)));
    assert_contains(d, ", extra (");
    assert_contains(d, ", ietf-netconf-with-defaults@2011-06-01 (");
    assert_contains(d, ", types@2026-01-01 (");
    assert_null(strstr(d, "ietf-yang-library")); /* libyang-internal modules are left out */
    free(d);

    schema_free(s);
    schema_free(NULL);
    free(good);
    free(good2);
}

/* Without a load path: only the standard modules (and libyang's). */
static void
test_empty_path(void **state)
{
    struct schema *s = load_ok(NULL, 0), *s2;
    char *d;

    (void)state;
    assert_non_null(find_mod(s, "ietf-netconf-with-defaults"));
    assert_null(find_mod(s, "app"));
    d = schema_describe(s);
    assert_contains(d, "ietf-netconf-with-defaults@2011-06-01 (");
    free(d);
    s2 = load_ok(NULL, 0);
    assert_string_equal(s->digest_hex, s2->digest_hex);
    schema_free(s);
    schema_free(s2);
}

/* ---- the digest ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Copy fixture file <fixtures>/@p from to @p dir/@p to. */
static void
copy_to(const char *from, const char *dir, const char *to)
{
    char *src = fixture(from), *dst = path_join(dir, to), *data;
    size_t len;
    FILE *f;

    assert_int_equal(read_file(src, &data, &len), 0);
    f = fopen(dst, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(data);
    free(src);
    free(dst);
}

/* Flip the case of the first letter of @p word in @p dir/@p name (one byte changes). */
static void
change_byte(const char *dir, const char *name, const char *word)
{
    char *path = path_join(dir, name), *data, *p;
    size_t len;
    FILE *f;

    assert_int_equal(read_file(path, &data, &len), 0);
    p = strstr(data, word);
    assert_non_null(p);
    *p ^= 0x20;
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(data);
    free(path);
}

static void
digest_of(const char *const *dirs, size_t n, char hex[65])
{
    struct schema *s = load_ok(dirs, n);

    memcpy(hex, s->digest_hex, 65);
    schema_free(s);
}

static void
test_digest(void **state)
{
    char *good = fixture("good"), *good2 = fixture("good2");
    char tmp[PATH_MAX], *a, *b, base[65], again[65], other[65];
    const char *tmpdir = getenv("TMPDIR");
    const char *dirs[] = {good, good2}, *copies[2];

    (void)state;
    digest_of(dirs, 2, base);
    digest_of(dirs, 2, again);
    assert_string_equal(base, again);
    digest_of(dirs, 1, other);
    assert_string_not_equal(base, other);

    /* the same bytes elsewhere, under other file names: the same digest */
    snprintf(tmp, sizeof tmp, "%s/chorus-schema-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    assert_non_null(mkdtemp(tmp));
    a = path_join(tmp, "one");
    b = path_join(tmp, "two");
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(b, 0700), 0);
    copy_to("good/app.yang", a, "app@2026-11-23.yang");
    copy_to("good/app-sub.yang", a, "sub.yang");
    copy_to("good/zz-types.yang", a, "types.yang");
    copy_to("good2/extra.yang", b, "extra.yang");
    copies[0] = a;
    copies[1] = b;
    digest_of(copies, 2, again);
    assert_string_equal(base, again);

    /* one byte of a submodule (in a description) */
    change_byte(a, "sub.yang", "Nodes defined");
    digest_of(copies, 2, other);
    assert_string_not_equal(base, other);
    change_byte(a, "sub.yang", "nodes defined");
    digest_of(copies, 2, again);
    assert_string_equal(base, again);

    /* one byte of an imported module */
    change_byte(a, "types.yang", "A short name");
    digest_of(copies, 2, other);
    assert_string_not_equal(base, other);
    change_byte(a, "types.yang", "a short name");

    /* one byte of a module of the second directory */
    change_byte(b, "extra.yang", "More.");
    digest_of(copies, 2, other);
    assert_string_not_equal(base, other);

    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(a);
    free(b);
    free(good);
    free(good2);
}

/* ---- errors ---- */

static void
test_err_dir(void **state)
{
    char *dir = fixture("no-such-dir"), *file = fixture("good/app.yang"), *msg, want[PATH_MAX * 3];
    const char *dirs[] = {dir};

    (void)state;
    msg = load_fail_dirs(dirs, 1);
    snprintf(want, sizeof want, "%s: cannot read the directory: No such file or directory", dir);
    assert_string_equal(msg, want);
    free(msg);

    dirs[0] = file;
    msg = load_fail_dirs(dirs, 1);
    snprintf(want, sizeof want, "%s: cannot read the directory: Not a directory", file);
    assert_string_equal(msg, want);
    free(msg);
    free(dir);
    free(file);
}

static void
test_err_syntax(void **state)
{
    char *msg = load_fail("bad-syntax"), want[PATH_MAX * 3];

    (void)state;
    snprintf(want, sizeof want, "%s/bad-syntax/routes.yang:12: Invalid character sequence",
             fixtures);
    assert_true(!strncmp(msg, want, strlen(want)));
    assert_contains(msg, "mandatory-");
    free(msg);
}

static void
test_err_compile(void **state)
{
    char *msg, want[PATH_MAX * 3];

    (void)state;
    msg = load_fail("bad-compile");
    snprintf(want, sizeof want,
             "%s/bad-compile/bad.yang:4: Referenced type \"no-such-type\" not found. (/bad:x)",
             fixtures);
    assert_string_equal(msg, want);
    free(msg);

    /* the second "leaf id", not the first one nor the one in a comment */
    msg = load_fail("bad-deep");
    snprintf(want, sizeof want,
             "%s/bad-deep/deep.yang:17: Referenced type \"nothing\" not found. (/deep:b/l2/id)",
             fixtures);
    assert_string_equal(msg, want);
    free(msg);

    /* a node from a grouping: the leaf in the grouping */
    msg = load_fail("bad-uses");
    snprintf(want, sizeof want, "%s/bad-uses/uses.yang:6: Invalid range restriction", fixtures);
    assert_true(!strncmp(msg, want, strlen(want)));
    assert_contains(msg, "(/uses:c/{uses='g'}/y)");
    free(msg);

    /* an augment */
    msg = load_fail("bad-augment");
    snprintf(want, sizeof want,
             "%s/bad-augment/aug.yang:7: Augment target node \"/a:nothere\" from module \"aug\" "
             "was not found. (/aug:{augment='/a:nothere'})",
             fixtures);
    assert_string_equal(msg, want);
    free(msg);

    /* no statement defines the node literally: no line */
    msg = load_fail("bad-noline");
    snprintf(want, sizeof want,
             "%s/bad-noline/noline.yang: Referenced type \"no-such-type\" not found. "
             "(/noline:badleaf)",
             fixtures);
    assert_string_equal(msg, want);
    free(msg);
}

static void
test_err_import(void **state)
{
    char *msg, want[PATH_MAX * 3], cwd[PATH_MAX], tmp[PATH_MAX], *mod;
    const char *tmpdir = getenv("TMPDIR");
    FILE *f;

    (void)state;
    /* the current directory is never searched, even when it holds the module */
    snprintf(tmp, sizeof tmp, "%s/chorus-schema-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    assert_non_null(mkdtemp(tmp));
    mod = path_join(tmp, "no-such-module.yang");
    f = fopen(mod, "w");
    assert_non_null(f);
    fputs("module no-such-module { namespace \"urn:x\"; prefix x; }\n", f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    msg = load_fail("missing-import");
    assert_int_equal(chdir(cwd), 0);
    remove(mod);
    remove(tmp);
    free(mod);
    snprintf(want, sizeof want,
             "%s/missing-import/app.yang: Data model \"no-such-module\" not found in local "
             "searchdirs.",
             fixtures);
    assert_true(!strncmp(msg, want, strlen(want)));
    free(msg);

    /* an imported module with a syntax error: its own file and line */
    msg = load_fail("import-bad");
    snprintf(want, sizeof want, "%s/import-bad/zbroken.yang:6: Invalid keyword \"}\"", fixtures);
    assert_true(!strncmp(msg, want, strlen(want)));
    free(msg);
}

static void
test_err_duplicate(void **state)
{
    char *msg, want[PATH_MAX * 3], *good = fixture("good"), *other = fixture("missing-import");
    const char *dirs[] = {other, good};

    (void)state;
    msg = load_fail("dup");
    snprintf(want, sizeof want, "%s/dup/b.yang: module \"dup\" is also defined in %s/dup/a.yang",
             fixtures, fixtures);
    assert_string_equal(msg, want);
    free(msg);

    /* across directories; found before anything is parsed (else the missing import of the
     * first directory's app.yang would be reported) */
    msg = load_fail_dirs(dirs, 2);
    snprintf(want, sizeof want,
             "%s/good/app.yang: module \"app\" is also defined in %s/missing-import/app.yang",
             fixtures, fixtures);
    assert_string_equal(msg, want);
    free(msg);
    free(good);
    free(other);
}

static int
setup_group(void **state)
{
    const char *src = getenv("CHORUS_SRC");
    char path[PATH_MAX];

    (void)state;
    snprintf(path, sizeof path, "%s/tests/unit/schema", src ? src : ".");
    if (!realpath(path, fixtures)) {
        fprintf(stderr, "%s: %s (set CHORUS_SRC to the source directory)\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),       cmocka_unit_test(test_empty_path),
        cmocka_unit_test(test_digest),     cmocka_unit_test(test_err_dir),
        cmocka_unit_test(test_err_syntax), cmocka_unit_test(test_err_compile),
        cmocka_unit_test(test_err_import), cmocka_unit_test(test_err_duplicate),
    };

    return cmocka_run_group_tests(tests, setup_group, NULL);
}
