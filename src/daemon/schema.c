/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the schema; see schema.h.
 *
 * The load runs in four steps, each of which aborts the whole load on the first error:
 *  1. list: every directory is read, its *.yang files sorted by name, each file read into
 *     memory once and its first statement scanned ("module NAME" or "submodule NAME"), so
 *     that two files defining one module are refused before libyang sees either;
 *  2. parse: each module file is given to libyang from those bytes (lys_parse, all features
 *     enabled), which compiles the context after each module. Imports and includes are served
 *     by a callback from the same bytes, so a module may import another of the load path
 *     whatever the file names, and the bytes hashed are exactly the bytes compiled; anything
 *     else comes from libyang's search path;
 *  3. the standard modules are loaded (ly_ctx_load_module), from the load path if a file
 *     there defines them, else from the search path;
 *  4. the modules of the context are listed, hashed and digested.
 *
 * libyang reports a syntax error with a line number ("Line number 12.") but a compile error
 * only with a schema path ("/bad:c/{uses='g'}/x"). For the latter the file is found from the
 * module name of the path, and the line by scanning the file's statements for the one that
 * defines the path's nodes (a tiny YANG tokenizer; comments and quoted strings are skipped).
 */
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/util.h"

/* The standard modules every Chorus schema implements (found in /usr/share/yuma/modules). */
static const char *const std_modules[] = {
    "ietf-netconf",          "ietf-netconf-with-defaults", "ietf-netconf-monitoring",
    "ietf-netconf-notifications", "notifications",        "nc-notifications"};

/* Search path after the load-path dirs, where they exist. */
static const char *const std_dirs[] = {"/usr/share/yuma/modules/ietf",
                                       "/usr/share/yuma/modules/ietf-derived",
                                       "/usr/share/yuma/modules/netconfcentral"};

/* One *.yang file of the load path. */
struct sfile {
    char *shown; /* name used in messages: the directory as given + "/" + file name */
    char *abs;   /* absolute name */
    char *name;  /* module or submodule name, NULL if the first statement is neither */
    bool submod; /* the file holds a submodule */
    char *data;  /* the bytes, NUL-terminated */
    size_t len;  /* number of bytes */
    uint8_t sha256[32];
    const struct lys_module *mod; /* the module it became, after step 2 */
};

struct loader {
    struct sfile *files;
    size_t nfiles;
    struct cerr **e;
};

static enum chorus_err
nomem(struct cerr **e)
{
    return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
}

static int
sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/* ---- a minimal YANG tokenizer: enough to find statements and their arguments ---- */

struct tok {
    const char *p; /* start (inside the quotes for a quoted string) */
    size_t len;
    unsigned line;
    char kind; /* 'w' word, 's' quoted string, or one of '{', '}', ';' */
};

/*
 * The next token of @p *pos (advancing it and @p *line). Returns 0, or -1 at the end of the
 * text or on an unterminated comment or string.
 */
static int
tok_next(const char **pos, unsigned *line, struct tok *t)
{
    const char *s = *pos;

    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            *line += *s == '\n';
            s++;
        }
        if (s[0] == '/' && s[1] == '/') {
            while (*s && *s != '\n') {
                s++;
            }
        } else if (s[0] == '/' && s[1] == '*') {
            for (s += 2; *s && !(s[0] == '*' && s[1] == '/'); s++) {
                *line += *s == '\n';
            }
            if (!*s) {
                return -1;
            }
            s += 2;
        } else {
            break;
        }
    }
    if (!*s) {
        return -1;
    }
    t->line = *line;
    if (*s == '{' || *s == '}' || *s == ';') {
        t->kind = *s;
        t->p = s;
        t->len = 1;
        *pos = s + 1;
        return 0;
    }
    if (*s == '"' || *s == '\'') {
        char q = *s++;

        t->kind = 's';
        t->p = s;
        while (*s && *s != q) {
            if (q == '"' && *s == '\\' && s[1]) {
                s++;
            }
            *line += *s == '\n';
            s++;
        }
        if (!*s) {
            return -1;
        }
        t->len = (size_t)(s - t->p);
        *pos = s + 1;
        return 0;
    }
    t->kind = 'w';
    t->p = s;
    while (*s && !strchr(" \t\r\n{};", *s) && !(s[0] == '/' && (s[1] == '/' || s[1] == '*'))) {
        s++;
    }
    t->len = (size_t)(s - t->p);
    *pos = s;
    return 0;
}

static bool
tok_is(const struct tok *t, const char *word)
{
    return t->len == strlen(word) && !memcmp(t->p, word, t->len);
}

/* The first statement of a file: "module NAME" or "submodule NAME". */
static void
scan_header(struct sfile *f)
{
    const char *pos = f->data;
    unsigned line = 1;
    struct tok kw, arg;

    if (tok_next(&pos, &line, &kw) || kw.kind != 'w' || tok_next(&pos, &line, &arg) ||
        (arg.kind != 'w' && arg.kind != 's')) {
        return;
    }
    if (tok_is(&kw, "module") || tok_is(&kw, "submodule")) {
        f->submod = tok_is(&kw, "submodule");
        f->name = strndup(arg.p, arg.len);
    }
}

/* Statements that define a schema node or something a compile error can be about. */
static const char *const def_keywords[] = {
    "leaf",   "leaf-list", "container", "list",   "choice",   "case",         "anydata",
    "anyxml", "grouping",  "typedef",   "rpc",    "action",   "notification", "augment",
    "uses",   "deviation", "input",     "output", "identity", "feature",      "extension"};

static bool
is_def_keyword(const struct tok *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(def_keywords); i++) {
        if (tok_is(t, def_keywords[i])) {
            return true;
        }
    }
    return false;
}

/*
 * Find, in @p text from byte @p *from on, the statement "KW NAME" where KW is @p kw (or any
 * defining keyword when NULL) at the start of a statement; "input" and "output" take no
 * NAME. Returns its line and moves @p *from past it, or returns 0.
 */
static unsigned
find_stmt(const char *text, size_t *from, const char *kw, const char *name, size_t name_len)
{
    const char *pos = text + *from;
    unsigned line = 1;
    struct tok prev = {.kind = ';'}, t, arg;

    for (const char *s = text; s < pos; s++) {
        line += *s == '\n';
    }
    while (!tok_next(&pos, &line, &t)) {
        bool at_start = prev.kind == ';' || prev.kind == '{' || prev.kind == '}';

        prev = t;
        if (!at_start || t.kind != 'w' || (kw ? !tok_is(&t, kw) : !is_def_keyword(&t))) {
            continue;
        }
        if (tok_is(&t, "input") || tok_is(&t, "output")) {
            if (name_len == t.len && !memcmp(name, t.p, t.len)) {
                *from = (size_t)(pos - text);
                return t.line;
            }
            continue;
        }
        if (tok_next(&pos, &line, &arg)) {
            break;
        }
        prev = arg;
        if ((arg.kind == 'w' || arg.kind == 's') && arg.len == name_len &&
            !memcmp(arg.p, name, name_len)) {
            *from = (size_t)(pos - text);
            return t.line;
        }
    }
    return 0;
}

/* One step of a schema path: "pfx:name", "name", "{kw='arg'}" or "pfx:{kw='arg'}". */
struct step {
    const char *kw; /* static keyword or NULL (any defining keyword) */
    char kwbuf[32];
    const char *name;
    size_t name_len;
};

static void
step_parse(const char *s, size_t len, struct step *st)
{
    const char *colon, *eq;

    memset(st, 0, sizeof *st);
    colon = memchr(s, ':', len);
    if (colon && colon + 1 < s + len && colon[1] == '{') {
        /* a top-level "pfx:{augment='...'}" */
        len -= (size_t)(colon + 1 - s);
        s = colon + 1;
    }
    if (len > 2 && s[0] == '{' && s[len - 1] == '}' && (eq = memchr(s, '=', len))) {
        size_t kwlen = (size_t)(eq - s - 1);

        if (kwlen < sizeof st->kwbuf) {
            memcpy(st->kwbuf, s + 1, kwlen);
            st->kw = st->kwbuf;
        }
        st->name = eq + 1;
        st->name_len = (size_t)(s + len - 1 - st->name);
        if (st->name_len >= 2 && (st->name[0] == '\'' || st->name[0] == '"')) {
            st->name++;
            st->name_len -= 2;
        }
        return;
    }
    colon = memchr(s, ':', len);
    st->name = colon ? colon + 1 : s;
    st->name_len = (size_t)(s + len - st->name);
}

/*
 * The line of the statement that defines the node of schema path @p spath in @p text: the
 * steps are searched one after the other (so that "id" in the second list is told from "id"
 * in the first); if that fails (the node comes from a grouping, an implicit case...), the
 * first definition of the last step's name is taken. 0 if not found.
 */
static unsigned
find_path_line(const char *text, const char *spath)
{
    struct step steps[64];
    size_t n = 0, from = 0;
    unsigned line = 0;
    const char *s = spath, *start = NULL;
    int depth = 0;
    bool quote = false;

    for (;; s++) {
        if (*s == '\'' && depth) {
            quote = !quote;
        } else if (*s == '{' && !quote) {
            depth++;
        } else if (*s == '}' && !quote && depth) {
            depth--;
        }
        if ((!*s || (*s == '/' && !depth && !quote))) {
            if (start && s > start && n < ARRAY_SIZE(steps)) {
                step_parse(start, (size_t)(s - start), &steps[n++]);
            }
            if (!*s) {
                break;
            }
            start = s + 1;
        } else if (!start) {
            start = s;
        }
    }
    if (!n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        line = find_stmt(text, &from, steps[i].kw, steps[i].name, steps[i].name_len);
        if (!line) {
            break;
        }
    }
    if (!line) {
        from = 0;
        line = find_stmt(text, &from, steps[n - 1].kw, steps[n - 1].name, steps[n - 1].name_len);
    }
    return line;
}

/* ---- step 1: listing the load path ---- */

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sfile_done(struct sfile *f)
{
    free(f->shown);
    free(f->abs);
    free(f->name);
    free(f->data);
}

/* Append the *.yang files of @p dir (sorted by name) to @p ld. */
static enum chorus_err
list_dir(struct loader *ld, const char *dir, const char *absdir)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    enum chorus_err rc = CHORUS_OK;

    d = opendir(absdir);
    if (!d) {
        return cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s: cannot read the directory: %s",
                        dir, strerror(errno));
    }
    for (;;) {
        size_t len;
        struct stat st;
        char *full;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno) {
                rc = cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL,
                              "%s: cannot read the directory: %s", dir, strerror(errno));
                goto out;
            }
            break;
        }
        len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".yang") || de->d_name[0] == '.') {
            continue;
        }
        full = path_join(absdir, de->d_name);
        if (!full) {
            rc = nomem(ld->e);
            goto out;
        }
        if (stat(full, &st) || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        free(full);
        if (n == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof *names);

            if (!nn) {
                rc = nomem(ld->e);
                goto out;
            }
            names = nn;
            cap = cap ? cap * 2 : 16;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = nomem(ld->e);
            goto out;
        }
        n++;
    }
    if (n) {
        qsort(names, n, sizeof *names, name_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        struct sfile *nf = realloc(ld->files, (ld->nfiles + 1) * sizeof *nf), *f;
        int r;

        if (!nf) {
            rc = nomem(ld->e);
            goto out;
        }
        ld->files = nf;
        f = &ld->files[ld->nfiles++];
        memset(f, 0, sizeof *f);
        f->shown = path_join(dir, names[i]);
        f->abs = path_join(absdir, names[i]);
        if (!f->shown || !f->abs) {
            rc = nomem(ld->e);
            goto out;
        }
        r = read_file(f->abs, &f->data, &f->len);
        if (r) {
            rc = cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s: cannot read the file: %s",
                          f->shown, strerror(-r));
            goto out;
        }
        if (strlen(f->data) != f->len) {
            rc = cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s: the file contains a NUL byte",
                          f->shown);
            goto out;
        }
        if (sha256(f->data, f->len, f->sha256)) {
            rc = cerr_add(ld->e, CHORUS_ERR_INTERNAL, NULL, NULL, "%s: SHA-256 failed", f->shown);
            goto out;
        }
        scan_header(f);
        for (size_t j = 0; f->name && j + 1 < ld->nfiles; j++) {
            const struct sfile *o = &ld->files[j];

            if (o->name && o->submod == f->submod && !strcmp(o->name, f->name)) {
                rc = cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL,
                              "%s: %s \"%s\" is also defined in %s", f->shown,
                              f->submod ? "submodule" : "module", f->name, o->shown);
                goto out;
            }
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    closedir(d);
    return rc;
}

static const struct sfile *
find_file(const struct loader *ld, const char *name, bool submod)
{
    for (size_t i = 0; i < ld->nfiles; i++) {
        if (ld->files[i].name && ld->files[i].submod == submod &&
            !strcmp(ld->files[i].name, name)) {
            return &ld->files[i];
        }
    }
    return NULL;
}

/* Imports and includes: served from the load path's files first, whatever revision is asked
 * for (a mismatch is then reported by libyang rather than hidden by another file). */
static LY_ERR
import_clb(const char *mod_name, const char *mod_rev, const char *submod_name,
           const char *submod_rev, void *user_data, LYS_INFORMAT *format, const char **module_data,
           ly_module_imp_data_free_clb *free_module_data)
{
    const struct sfile *f = submod_name ? find_file(user_data, submod_name, true)
                                        : find_file(user_data, mod_name, false);

    (void)mod_rev;
    (void)submod_rev;
    if (!f) {
        return LY_ENOTFOUND;
    }
    *format = LYS_IN_YANG;
    *module_data = f->data;
    *free_module_data = NULL;
    return LY_SUCCESS;
}

/* ---- step 2: error messages ---- */

/* The schema path of a libyang location ("/a:b" or 'Schema location "/a:b".'), malloc'd. */
static char *
schema_location(const char *loc)
{
    const char *s, *q;

    if (!loc) {
        return NULL;
    }
    s = strstr(loc, "location \"");
    if (s) {
        s += strlen("location \"");
        q = strchr(s, '"');
        return q ? strndup(s, (size_t)(q - s)) : NULL;
    }
    return loc[0] == '/' ? strdup(loc) : NULL;
}

/* "Parsing module "X" failed." and the like: libyang's summary items, not reasons. */
static bool
is_summary(const char *msg)
{
    return !strncmp(msg, "Parsing module \"", 16) || !strncmp(msg, "Parsing submodule \"", 19);
}

/*
 * The file a failure belongs to: the innermost "Parsing (sub)module "X" failed." names the
 * module whose text is wrong (an import may fail inside another file's parse); else the
 * module of the schema path; else @p cur.
 */
static const struct sfile *
blame(const struct loader *ld, const struct sfile *cur, const char *summary, const char *spath)
{
    const struct sfile *f = NULL;

    if (summary) {
        bool sub = !strncmp(summary, "Parsing submodule \"", 19);
        const char *b = strchr(summary, '"') + 1, *q = strchr(b, '"');
        char *name = q ? strndup(b, (size_t)(q - b)) : NULL;

        if (name) {
            f = find_file(ld, name, sub);
        }
        free(name);
    } else if (spath && spath[0] == '/') {
        const char *colon = strchr(spath, ':');
        char *name = colon ? strndup(spath + 1, (size_t)(colon - spath - 1)) : NULL;

        if (name) {
            f = find_file(ld, name, false);
        }
        free(name);
    }
    return f ? f : cur;
}

/*
 * Turn (and clear) libyang's error items after a failed parse of @p cur (NULL: not a load-path
 * file, then named @p what) into one CHORUS_ERR_SCHEMA item: "file:line: reason",
 * "file:line: reason (/path)", "file: reason (/path)" or "file: reason", followed by a space
 * and @p hint if given.
 */
static enum chorus_err
load_err(struct loader *ld, struct ly_ctx *ctx, const struct sfile *cur, const char *what,
         const char *hint)
{
    const char *summary = NULL;
    const struct sfile *f;
    char *reason = NULL, *spath = NULL, lbuf[32] = "";
    size_t rlen = 0;
    unsigned long line = 0;
    bool first = true;
    FILE *mf;
    enum chorus_err rc;

    mf = open_memstream(&reason, &rlen);
    if (!mf) {
        ly_err_clean(ctx, NULL);
        return nomem(ld->e);
    }
    for (const struct ly_err_item *it = ly_err_first(ctx); it; it = it->next) {
        const char *ln;

        if (it->level != LY_LLERR || !it->msg) {
            continue;
        }
        if (is_summary(it->msg)) {
            if (!summary) {
                summary = it->msg;
            }
            continue;
        }
        if (summary) {
            /* reasons after the innermost summary restate it ("Loading ... failed.") */
            continue;
        }
        fprintf(mf, "%s%s", first ? "" : " ", it->msg);
        first = false;
        ln = it->path ? strstr(it->path, "ine number ") : NULL;
        if (ln && !line) {
            line = strtoul(ln + strlen("ine number "), NULL, 10);
        }
        if (!spath && !ln) {
            spath = schema_location(it->path);
        }
    }
    if (fclose(mf) || !reason) {
        free(reason);
        free(spath);
        ly_err_clean(ctx, NULL);
        return nomem(ld->e);
    }
    f = blame(ld, cur, summary, spath);
    if (!line && spath && f) {
        line = find_path_line(f->data, spath);
    }
    if (line) {
        snprintf(lbuf, sizeof lbuf, "%lu:", line);
    }
    rc = cerr_add(ld->e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s:%s %s%s%s%s%s%s", f ? f->shown : what,
                  lbuf, *reason ? reason : (summary ? summary : "libyang gave no reason"),
                  spath ? " (" : "", spath ? spath : "", spath ? ")" : "", hint ? " " : "",
                  hint ? hint : "");
    free(reason);
    free(spath);
    ly_err_clean(ctx, NULL);
    return rc;
}

/* ---- step 4: the module list and the digest ---- */

static void
mod_done(struct schema_mod *m)
{
    free(m->name);
    free(m->revision);
    free(m->file);
}

static int
mod_cmp(const void *a, const void *b)
{
    const struct schema_mod *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c) {
        return c;
    }
    if (!x->revision || !y->revision) {
        return !!x->revision - !!y->revision;
    }
    return strcmp(x->revision, y->revision);
}

/*
 * The bytes-hash of a module or submodule: of the load-path file it was compiled from (looked
 * up in @p ld, if given), else of the file libyang read it from, else (libyang-internal) of
 * "name@revision".
 */
static enum chorus_err
hash_source(const struct loader *ld, const char *name, const char *rev, bool submod,
            const char *filepath, uint8_t out[32], char **ret_file, struct cerr **e)
{
    const struct sfile *f = ld ? find_file(ld, name, submod) : NULL;
    char *data = NULL, *id = NULL;
    size_t len;
    int r;

    *ret_file = NULL;
    if (f) {
        memcpy(out, f->sha256, 32);
        *ret_file = strdup(f->abs);
        return *ret_file ? CHORUS_OK : nomem(e);
    }
    if (filepath) {
        r = read_file(filepath, &data, &len);
        if (r) {
            return cerr_add(e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s: cannot read the file: %s",
                            filepath, strerror(-r));
        }
        r = sha256(data, len, out);
        free(data);
        *ret_file = realpath(filepath, NULL);
        if (!*ret_file) {
            *ret_file = strdup(filepath);
        }
    } else {
        if (asprintf(&id, "%s@%s", name, rev ? rev : "") < 0) {
            return nomem(e);
        }
        r = sha256(id, strlen(id), out);
        free(id);
    }
    if (r) {
        free(*ret_file);
        *ret_file = NULL;
        return cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "%s: SHA-256 failed", name);
    }
    if (filepath && !*ret_file) {
        return nomem(e);
    }
    return CHORUS_OK;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Feed one module's part of the digest (see schema.h) into @p md. */
static enum chorus_err
digest_module(const struct loader *ld, EVP_MD_CTX *md, const struct lys_module *lm,
              const struct schema_mod *m, struct cerr **e)
{
    const struct lysp_feature *feat = NULL;
    const char **feats = NULL;
    size_t nfeats = 0;
    uint32_t idx = 0;
    char *line = NULL;
    int ok = 1;
    enum chorus_err rc = CHORUS_OK;

    if (asprintf(&line, "%s@%s\n", m->name, m->revision ? m->revision : "") < 0) {
        return nomem(e);
    }
    ok &= EVP_DigestUpdate(md, line, strlen(line));
    free(line);
    if (lm->parsed) {
        while ((feat = lysp_feature_next(feat, lm->parsed, &idx))) {
            if (feat->flags & LYS_FENABLED) {
                const char **nf = realloc(feats, (nfeats + 1) * sizeof *nf);

                if (!nf) {
                    rc = nomem(e);
                    goto out;
                }
                feats = nf;
                feats[nfeats++] = feat->name;
            }
        }
    }
    if (nfeats) {
        qsort(feats, nfeats, sizeof *feats, str_cmp);
    }
    for (size_t i = 0; i < nfeats; i++) {
        ok &= EVP_DigestUpdate(md, "+", 1);
        ok &= EVP_DigestUpdate(md, feats[i], strlen(feats[i]));
        ok &= EVP_DigestUpdate(md, "\n", 1);
    }
    ok &= EVP_DigestUpdate(md, m->sha256, 32);
    if (lm->parsed) {
        LY_ARRAY_COUNT_TYPE u;

        LY_ARRAY_FOR(lm->parsed->includes, u)
        {
            const struct lysp_include *inc = &lm->parsed->includes[u];
            const struct lysp_submodule *sub = inc->submodule;
            const char *rev = sub && sub->revs ? sub->revs[0].date : NULL;
            uint8_t h[32];
            char *file = NULL;

            rc = hash_source(ld, inc->name, rev, true, sub ? sub->filepath : NULL, h, &file, e);
            free(file);
            if (rc) {
                goto out;
            }
            if (asprintf(&line, "include %s@%s\n", inc->name, rev ? rev : "") < 0) {
                rc = nomem(e);
                goto out;
            }
            ok &= EVP_DigestUpdate(md, line, strlen(line));
            free(line);
            ok &= EVP_DigestUpdate(md, h, 32);
        }
    }
    if (!ok) {
        rc = cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "SHA-256 failed");
    }
out:
    free(feats);
    return rc;
}

/* List, hash and digest the modules of s->ctx. */
static enum chorus_err
schema_index(const struct loader *ld, struct schema *s, struct cerr **e)
{
    const struct lys_module *lm;
    EVP_MD_CTX *md = NULL;
    unsigned int dlen = 0;
    uint32_t idx = 0;
    size_t n = 0;
    enum chorus_err rc = CHORUS_OK;

    while (ly_ctx_get_module_iter(s->ctx, &idx)) {
        n++;
    }
    s->mods = calloc(n ? n : 1, sizeof *s->mods);
    if (!s->mods) {
        return nomem(e);
    }
    idx = 0;
    while ((lm = ly_ctx_get_module_iter(s->ctx, &idx)) && s->nmods < n) {
        struct schema_mod *m = &s->mods[s->nmods++];
        const struct sfile *f = find_file(ld, lm->name, false);

        m->name = strdup(lm->name);
        m->revision = lm->revision ? strdup(lm->revision) : NULL;
        m->implemented = lm->implemented;
        if (!m->name || (lm->revision && !m->revision)) {
            return nomem(e);
        }
        /* a load-path file counts only for the module compiled from it */
        rc = hash_source(f && f->mod == lm ? ld : NULL, lm->name, lm->revision, false, lm->filepath,
                         m->sha256, &m->file, e);
        if (rc) {
            return rc;
        }
    }
    qsort(s->mods, s->nmods, sizeof *s->mods, mod_cmp);

    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "SHA-256 failed");
        goto out;
    }
    for (size_t i = 0; i < s->nmods; i++) {
        lm = ly_ctx_get_module(s->ctx, s->mods[i].name, s->mods[i].revision);
        if (!lm) {
            rc =
                cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "module %s vanished", s->mods[i].name);
            goto out;
        }
        rc = digest_module(ld, md, lm, &s->mods[i], e);
        if (rc) {
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(md, s->digest, &dlen) != 1 || dlen != 32) {
        rc = cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL, "SHA-256 failed");
        goto out;
    }
    hex_encode(s->digest, 32, s->digest_hex);
out:
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- the whole load ---- */

enum chorus_err
schema_load(const char *const *dirs, size_t ndirs, struct schema **ret_schema, struct cerr **e)
{
    const char *all_features[] = {"*", NULL};
    struct loader ld = {.e = e};
    struct schema *s = NULL;
    char **absdirs = NULL;
    enum chorus_err rc = CHORUS_OK;

    ly_log_options(LY_LOSTORE);
    if (ndirs && !dirs) {
        return cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "no load path given");
    }
    absdirs = calloc(ndirs ? ndirs : 1, sizeof *absdirs);
    s = calloc(1, sizeof *s);
    if (!absdirs || !s) {
        rc = nomem(e);
        goto out;
    }

    /* 1. list */
    for (size_t i = 0; i < ndirs; i++) {
        absdirs[i] = realpath(dirs[i], NULL);
        if (!absdirs[i]) {
            rc = cerr_add(e, CHORUS_ERR_SCHEMA, NULL, NULL, "%s: cannot read the directory: %s",
                          dirs[i], strerror(errno));
            goto out;
        }
        rc = list_dir(&ld, dirs[i], absdirs[i]);
        if (rc) {
            goto out;
        }
    }

    if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD, &s->ctx)) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot create a libyang context");
        goto out;
    }
    for (size_t i = 0; i < ndirs; i++) {
        if (ly_ctx_set_searchdir(s->ctx, absdirs[i])) {
            rc = load_err(&ld, s->ctx, NULL, dirs[i], NULL);
            goto out;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(std_dirs); i++) {
        struct stat st;

        if (!stat(std_dirs[i], &st) && S_ISDIR(st.st_mode) &&
            ly_ctx_set_searchdir(s->ctx, std_dirs[i])) {
            rc = load_err(&ld, s->ctx, NULL, std_dirs[i], NULL);
            goto out;
        }
    }
    ly_ctx_set_module_imp_clb(s->ctx, import_clb, &ld);

    /* 2. parse */
    for (size_t i = 0; i < ld.nfiles; i++) {
        struct sfile *f = &ld.files[i];
        struct ly_in *in = NULL;
        struct lys_module *mod = NULL;
        LY_ERR r;

        if (f->submod) {
            continue;
        }
        if (ly_in_new_memory(f->data, &in)) {
            rc = nomem(e);
            goto out;
        }
        r = lys_parse(s->ctx, in, LYS_IN_YANG, all_features, &mod);
        ly_in_free(in, 0);
        if (r) {
            rc = load_err(&ld, s->ctx, f, f->shown, NULL);
            goto out;
        }
        f->mod = mod;
    }

    /* 3. standard modules */
    for (size_t i = 0; i < ARRAY_SIZE(std_modules); i++) {
        /* every feature of ietf-netconf: the capabilities offered depend on the configuration */
        static const char *all[] = {"*", NULL};
        const struct lys_module *mod = ly_ctx_load_module(
            s->ctx, std_modules[i], NULL, !strcmp(std_modules[i], "ietf-netconf") ? all : NULL);

        if (!mod) {
            rc = load_err(&ld, s->ctx, NULL, std_modules[i],
                          "(a standard module: is libyuma-base installed?)");
            goto out;
        }
    }
    ly_ctx_set_module_imp_clb(s->ctx, NULL, NULL);

    /* 4. index */
    rc = schema_index(&ld, s, e);
    if (rc) {
        goto out;
    }
    ly_err_clean(s->ctx, NULL); /* warnings stored while loading */
    s->files = calloc(ld.nfiles ? ld.nfiles : 1, sizeof *s->files);
    if (!s->files) {
        rc = nomem(e);
        goto out;
    }
    for (size_t i = 0; i < ld.nfiles; i++) {
        const char *slash = strrchr(ld.files[i].abs, '/');

        s->files[i].name = strdup(slash ? slash + 1 : ld.files[i].abs);
        if (!s->files[i].name) {
            rc = nomem(e);
            goto out;
        }
        s->files[i].data = ld.files[i].data;
        s->files[i].len = ld.files[i].len;
        ld.files[i].data = NULL;
        s->nfiles++;
    }
    *ret_schema = s;
    s = NULL;
out:
    if (s && s->ctx) {
        ly_ctx_set_module_imp_clb(s->ctx, NULL, NULL);
    }
    schema_free(s);
    for (size_t i = 0; i < ndirs && absdirs; i++) {
        free(absdirs[i]);
    }
    free(absdirs);
    for (size_t i = 0; i < ld.nfiles; i++) {
        sfile_done(&ld.files[i]);
    }
    free(ld.files);
    return rc;
}

void
schema_free(struct schema *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->nmods; i++) {
        mod_done(&s->mods[i]);
    }
    free(s->mods);
    for (size_t i = 0; i < s->nfiles; i++) {
        free(s->files[i].name);
        free(s->files[i].data);
    }
    free(s->files);
    ly_ctx_destroy(s->ctx);
    free(s);
}

char *
schema_describe(const struct schema *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    bool first = true;

    f = open_memstream(&buf, &len);
    if (!f) {
        return NULL;
    }
    for (size_t i = 0; s && i < s->nmods; i++) {
        const struct schema_mod *m = &s->mods[i];

        if (!m->implemented || !m->file) {
            continue;
        }
        fprintf(f, "%s%s%s%s (", first ? "" : ", ", m->name, m->revision ? "@" : "",
                m->revision ? m->revision : "");
        for (size_t j = 0; j < 6; j++) {
            fprintf(f, "%02x", m->sha256[j]);
        }
        fputc(')', f);
        first = false;
    }
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}
