/* SPDX-License-Identifier: Apache-2.0 */
/* Schema upgrade: stored module sets and the conversion of data between schemas; see upg.h. */
#include "upg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "fault.h"

#define UPG_DIR "schema"
#define UPG_MANIFEST "MODULES"
#define UPG_LAST "last-upgrade"
/* drops logged one by one; beyond this, one summary line (a removed leaf of a 1M-entry list
 * would otherwise write a million lines) */
#define UPG_LOG_MAX 10000

static enum chorus_err
nomem(struct cerr **e)
{
    return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
}

/* ---- stored module sets ---- */

static int
write_synced(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), r;

    if (fd < 0) {
        return -errno;
    }
    r = fault_write(fd, p, len);
    if (!r) {
        r = fault_sync(fd);
    }
    close(fd);
    return r;
}

/* Remove a directory and the files in it (one level). */
static void
rm_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        char *p;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        p = path_join(path, de->d_name);
        if (p) {
            unlink(p);
            free(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(path);
}

static void
manifest(struct buf *b, const struct schema *s)
{
    for (size_t k = 0; k < s->nmods; k++) {
        char hex[65];

        hex_encode(s->mods[k].sha256, 32, hex);
        buf_printf(b, "%s %s %s\n", s->mods[k].name,
                   s->mods[k].revision ? s->mods[k].revision : "-", hex);
    }
}

enum chorus_err
upg_store(const char *dbdir, const struct schema *s, struct cerr **e)
{
    char *top = path_join(dbdir, UPG_DIR), *dir = NULL, *tmp = NULL, *mpath = NULL;
    struct buf m = BUF_INIT;
    struct stat st;
    enum chorus_err rc = CHORUS_OK;
    int r;

    if (!top || !(dir = path_join(top, s->digest_hex)) || asprintf(&tmp, "%s.tmp", dir) < 0 ||
        !(mpath = path_join(dir, UPG_MANIFEST))) {
        tmp = NULL;
        rc = nomem(e);
        goto out;
    }
    if (!stat(mpath, &st)) {
        goto out; /* stored (a directory is renamed into place complete) */
    }
    free(mpath);
    mpath = NULL;
    rm_dir(tmp); /* a copy that was interrupted */
    r = mkdir_p(tmp);
    for (size_t k = 0; !r && k < s->nfiles; k++) {
        char name[300], *p;

        snprintf(name, sizeof name, "%03zu-%s", k, s->files[k].name);
        p = path_join(tmp, name);
        r = p ? write_synced(p, s->files[k].data, s->files[k].len) : -ENOMEM;
        free(p);
    }
    manifest(&m, s);
    if (!r && !buf_ok(&m)) {
        r = -ENOMEM;
    }
    if (!r) {
        mpath = path_join(tmp, UPG_MANIFEST);
        r = mpath ? write_synced(mpath, m.p, m.len) : -ENOMEM;
    }
    if (!r) {
        r = fsync_dir(tmp);
    }
    if (!r) {
        rm_dir(dir); /* a directory without manifest: not complete */
        r = fault_rename(tmp, dir);
    }
    if (!r) {
        r = fsync_dir(top);
    }
    if (!r) {
        r = fsync_dir(dbdir);
    }
    if (r) {
        rm_dir(tmp);
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s: cannot store the module set: %s", dir,
                      strerror(-r));
    }
out:
    buf_free(&m);
    free(mpath);
    free(tmp);
    free(dir);
    free(top);
    return rc;
}

void
upg_prune(const char *dbdir, const char *keep_hex)
{
    char *top = path_join(dbdir, UPG_DIR);
    DIR *d = top ? opendir(top) : NULL;
    struct dirent *de;

    while (d && (de = readdir(d))) {
        char *p;

        if (de->d_name[0] == '.' || !strcmp(de->d_name, keep_hex)) {
            continue;
        }
        p = path_join(top, de->d_name);
        if (p) {
            rm_dir(p);
            free(p);
        }
    }
    if (d) {
        closedir(d);
        (void)fsync_dir(top);
    }
    free(top);
}

enum chorus_err
upg_load(const char *dbdir, const char *hex, struct schema **ret_schema, struct cerr **e)
{
    char *top = path_join(dbdir, UPG_DIR), *dir = top ? path_join(top, hex) : NULL;
    char *mpath = dir ? path_join(dir, UPG_MANIFEST) : NULL;
    const char *dirs[1];
    struct stat st;
    enum chorus_err rc;

    if (!mpath) {
        rc = nomem(e);
        goto out;
    }
    if (stat(mpath, &st)) {
        rc = cerr_add(e, CHORUS_ERR_NOTFOUND, NULL, NULL,
                      "no schema upgrade: the module files of that set are not kept in %s (a "
                      "database written before schema upgrades were supported); start with the "
                      "modules it was written with",
                      dir);
        goto out;
    }
    dirs[0] = dir;
    rc = schema_load(dirs, 1, ret_schema, e);
    if (rc) {
        cerr_prefix(*e, "the stored module set %s does not compile", hex);
    }
out:
    free(mpath);
    free(dir);
    free(top);
    return rc;
}

char *
upg_changes(const char *dbdir, const char *hex, const struct schema *s)
{
    char *top = path_join(dbdir, UPG_DIR), *dir = top ? path_join(top, hex) : NULL;
    char *mpath = dir ? path_join(dir, UPG_MANIFEST) : NULL, *text = NULL;
    struct buf b = BUF_INIT;
    size_t len;
    bool *seen = calloc(s->nmods ? s->nmods : 1, sizeof *seen);

    if (!seen || !mpath) {
        goto out;
    }
    if (read_file(mpath, &text, &len)) {
        buf_append_str(&b, "(the old module set's manifest is not kept)");
        goto out;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], rev[64], sha[65];
        size_t k;

        if (sscanf(line, "%255s %63s %64s", name, rev, sha) != 3) {
            continue;
        }
        for (k = 0; k < s->nmods && strcmp(s->mods[k].name, name); k++) {
        }
        if (k == s->nmods) {
            buf_printf(&b, "%s%s@%s: removed", b.len ? "; " : "", name, rev);
            continue;
        }
        seen[k] = true;
        {
            const char *nrev = s->mods[k].revision ? s->mods[k].revision : "-";
            char nsha[65];

            hex_encode(s->mods[k].sha256, 32, nsha);
            if (strcmp(nrev, rev)) {
                buf_printf(&b, "%s%s: revision %s -> %s", b.len ? "; " : "", name, rev, nrev);
            } else if (strcmp(nsha, sha)) {
                buf_printf(&b, "%s%s@%s: text changed", b.len ? "; " : "", name, rev);
            }
        }
    }
    for (size_t k = 0; k < s->nmods; k++) {
        if (!seen[k]) {
            buf_printf(&b, "%s%s@%s: added", b.len ? "; " : "", s->mods[k].name,
                       s->mods[k].revision ? s->mods[k].revision : "-");
        }
    }
    if (!b.len) {
        buf_append_str(&b, "enabled features changed");
    }
out:
    free(seen);
    free(text);
    free(mpath);
    free(dir);
    free(top);
    return buf_steal_str(&b);
}

char *
upg_module_list(const struct schema *s)
{
    struct buf b = BUF_INIT;
    bool first = true;

    for (size_t k = 0; k < s->nmods; k++) {
        const struct schema_mod *m = &s->mods[k];

        if (!m->implemented || !m->file) {
            continue;
        }
        buf_printf(&b, "%s%s%s%s", first ? "" : ", ", m->name, m->revision ? "@" : "",
                   m->revision ? m->revision : "");
        first = false;
    }
    return buf_steal_str(&b);
}

/* ---- the last upgrade ---- */

enum chorus_err
upg_last_write(const char *dbdir, const struct upg_last *u, struct cerr **e)
{
    char *path = path_join(dbdir, UPG_LAST), *tmp = NULL;
    struct buf b = BUF_INIT;
    int r = -ENOMEM;

    buf_printf(&b,
               "time %" PRId64 "\ntxid %" PRIu64 "\nfrom %s\nto %s\ndropped %" PRIu64
               "\ndropped-invalid %" PRIu64 "\nfrom-modules %s\n",
               u->time, u->txid, u->from, u->to, u->dropped, u->dropped_invalid,
               u->from_modules ? u->from_modules : "");
    if (path && buf_ok(&b) && asprintf(&tmp, "%s.tmp", path) >= 0) {
        r = write_synced(tmp, b.p, b.len);
        if (!r) {
            r = fault_rename(tmp, path);
        }
        if (!r) {
            r = fsync_dir(dbdir);
        }
        if (r) {
            unlink(tmp);
        }
    } else {
        tmp = NULL;
    }
    buf_free(&b);
    free(tmp);
    free(path);
    return r ? cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s/%s: %s", dbdir, UPG_LAST, strerror(-r))
             : CHORUS_OK;
}

bool
upg_last_read(const char *dbdir, struct upg_last *u)
{
    char *path = path_join(dbdir, UPG_LAST), *text = NULL;
    size_t len;
    int n = 0;

    memset(u, 0, sizeof *u);
    if (!path || read_file(path, &text, &len)) {
        free(path);
        return false;
    }
    free(path);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *v = strchr(line, ' ');

        if (!v) {
            continue;
        }
        *v++ = 0;
        if (!strcmp(line, "time")) {
            n += sscanf(v, "%" SCNd64, &u->time) == 1;
        } else if (!strcmp(line, "txid")) {
            n += sscanf(v, "%" SCNu64, &u->txid) == 1;
        } else if (!strcmp(line, "from")) {
            n += sscanf(v, "%64[0-9a-f]", u->from) == 1;
        } else if (!strcmp(line, "to")) {
            n += sscanf(v, "%64[0-9a-f]", u->to) == 1;
        } else if (!strcmp(line, "dropped")) {
            n += sscanf(v, "%" SCNu64, &u->dropped) == 1;
        } else if (!strcmp(line, "dropped-invalid")) {
            n += sscanf(v, "%" SCNu64, &u->dropped_invalid) == 1;
        } else if (!strcmp(line, "from-modules") && !u->from_modules) {
            u->from_modules = strdup(v);
        }
    }
    free(text);
    if (n != 6) {
        free(u->from_modules);
        memset(u, 0, sizeof *u);
        return false;
    }
    return true;
}

/* ---- conversion ---- */

struct conv {
    const struct ly_ctx *ctx;
    bool drop_invalid;
    struct upg_result res;
    uint64_t logged; /* drops logged so far */
};

static char *
path_of(const struct lyd_node *n)
{
    char *p = lyd_path(n, LYD_PATH_STD, NULL, 0);

    return p ? p : strdup("?");
}

static void
drop(struct conv *cv, const struct lyd_node *o, const char *fmt, const char *arg)
{
    char *p;

    cv->res.dropped++;
    if (++cv->logged > UPG_LOG_MAX) {
        return;
    }
    p = path_of(o);
    LOG(LL_WARN, NULL, "schema upgrade: dropped %s: %s%s", p ? p : "?", fmt, arg ? arg : "");
    free(p);
}

/* A value (or a list entry, for a key) that the new schema refuses. */
static void
invalid(struct conv *cv, const struct lyd_node *o, const char *value)
{
    const struct ly_err_item *le = ly_err_last(cv->ctx);
    char *p = path_of(o), *why = NULL;

    if (asprintf(&why, "%s%s%s%s", value ? "value \"" : "", value ? value : "",
                 value ? "\" no longer fits: " : "", le && le->msg ? le->msg : "not valid") < 0) {
        why = NULL;
    }
    if (cv->drop_invalid) {
        cv->res.dropped_invalid++;
        if (++cv->logged <= UPG_LOG_MAX) {
            LOG(LL_WARN, NULL, "schema upgrade: dropped %s: %s", p ? p : "?", why ? why : "");
        }
    } else {
        cv->res.invalid++;
        cerr_add(&cv->res.invalid_list, CHORUS_ERR_VALIDATION, p, NULL, "%s", why ? why : "");
    }
    ly_err_clean((struct ly_ctx *)cv->ctx, NULL);
    free(why);
    free(p);
}

static const char *
kind_name(uint16_t t)
{
    switch (t) {
    case LYS_CONTAINER:
        return "a container";
    case LYS_LEAF:
        return "a leaf";
    case LYS_LEAFLIST:
        return "a leaf-list";
    case LYS_LIST:
        return "a list";
    case LYS_ANYDATA:
        return "an anydata";
    case LYS_ANYXML:
        return "an anyxml";
    default:
        return "another kind of node";
    }
}

/* The new schema node of old node @p o under new schema parent @p np (NULL: top level). */
static const struct lysc_node *
new_schema(struct conv *cv, const struct lysc_node *np, const struct lyd_node *o)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(cv->ctx, o->schema->module->name);
    const struct lysc_node *ns;

    if (!m) {
        drop(cv, o, "its module is no longer in the load path", NULL);
        return NULL;
    }
    ns = lys_find_child(np, m, o->schema->name, 0, 0, 0);
    if (!ns) {
        drop(cv, o, "its schema node is gone", NULL);
        return NULL;
    }
    if (ns->flags & LYS_CONFIG_R) {
        drop(cv, o, "it is no longer configuration (config false)", NULL);
        return NULL;
    }
    if (ns->nodetype != o->schema->nodetype) {
        drop(cv, o, "it is now ", kind_name(ns->nodetype));
        return NULL;
    }
    return ns;
}

static int conv_children(struct conv *cv, struct lyd_node *np, const struct lyd_node *o);

/* The old child of @p o that is an instance of the new key @p key. */
static const struct lyd_node *
old_key(const struct lyd_node *o, const struct lysc_node *key)
{
    for (const struct lyd_node *c = lyd_child(o); c; c = c->next) {
        if (!strcmp(c->schema->name, key->name) &&
            !strcmp(c->schema->module->name, key->module->name)) {
            return c;
        }
    }
    return NULL;
}

/* Create the new list entry of @p o. 0, 1 (skipped: logged) or -1 (ENOMEM). */
static int
new_list(struct conv *cv, struct lyd_node *parent, const struct lysc_node *ns,
         const struct lyd_node *o, struct lyd_node **ret)
{
    struct buf pred = BUF_INIT;
    LY_ERR r;

    for (const struct lysc_node *k = lysc_node_child(ns); k && (k->flags & LYS_KEY); k = k->next) {
        const struct lyd_node *ok = old_key(o, k);
        const char *v = ok ? lyd_get_value(ok) : NULL;

        if (!v) {
            buf_free(&pred);
            drop(cv, o, "its list has a new key ", k->name);
            return 1;
        }
        if (strchr(v, '\'') && strchr(v, '"')) {
            buf_free(&pred);
            drop(cv, o, "its key value cannot be written in a path", NULL);
            return 1;
        }
        buf_printf(&pred, strchr(v, '\'') ? "[%s=\"%s\"]" : "[%s='%s']", k->name, v);
    }
    if (!buf_ok(&pred)) {
        return -1;
    }
    r = lyd_new_list2(parent, ly_ctx_get_module_implemented(cv->ctx, ns->module->name), ns->name,
                      pred.p ? (const char *)pred.p : "", 0, ret);
    buf_free(&pred);
    if (r == LY_EMEM) {
        return -1;
    }
    if (r) {
        invalid(cv, o, NULL);
        return 1;
    }
    return 0;
}

/* Convert old node @p o under new parent @p np (NULL: top level, appended to *top). */
static int
conv_node(struct conv *cv, struct lyd_node *np, const struct lyd_node *o, struct lyd_node **top)
{
    const struct lysc_node *ns;
    const struct lys_module *m;
    struct lyd_node *n = NULL;
    LY_ERR r = LY_SUCCESS;

    if (o->flags & LYD_DEFAULT) {
        return 0; /* an implicit default: the new schema's apply */
    }
    if (!o->schema) {
        return 0; /* opaque: never in running */
    }
    ns = new_schema(cv, np ? np->schema : NULL, o);
    if (!ns) {
        return 0;
    }
    if (ns->flags & LYS_KEY) {
        return 0; /* created with its list entry */
    }
    m = ly_ctx_get_module_implemented(cv->ctx, ns->module->name);
    switch (ns->nodetype) {
    case LYS_LEAF:
    case LYS_LEAFLIST:
        r = lyd_new_term(np, m, ns->name, lyd_get_value(o), 0, &n);
        if (r && r != LY_EMEM) {
            invalid(cv, o, lyd_get_value(o));
            return 0;
        }
        break;
    case LYS_CONTAINER:
        r = lyd_new_inner(np, m, ns->name, 0, &n);
        break;
    case LYS_LIST: {
        int x = new_list(cv, np, ns, o, &n);

        if (x) {
            return x < 0 ? -1 : 0;
        }
        break;
    }
    case LYS_ANYDATA:
    case LYS_ANYXML: {
        char *v = NULL;

        if (lyd_any_value_str(o, &v)) {
            return -1;
        }
        r = lyd_new_any(np, m, ns->name, v ? v : "", 1, LYD_ANYDATA_STRING, 0, &n);
        if (r) {
            free(v);
        }
        break;
    }
    default:
        return 0;
    }
    if (r) {
        if (r == LY_EMEM) {
            return -1;
        }
        invalid(cv, o, NULL);
        return 0;
    }
    if (!np) {
        lyd_insert_sibling(*top, n, top);
    }
    if (ns->nodetype & (LYS_CONTAINER | LYS_LIST)) {
        return conv_children(cv, n, o);
    }
    return 0;
}

static int
conv_children(struct conv *cv, struct lyd_node *np, const struct lyd_node *o)
{
    for (const struct lyd_node *c = lyd_child(o); c; c = c->next) {
        if (conv_node(cv, np, c, NULL)) {
            return -1;
        }
    }
    return 0;
}

enum chorus_err
upg_convert(const struct lyd_node *old, const struct ly_ctx *ctx, bool drop_invalid,
            struct lyd_node **ret_tree, struct upg_result *ret_res, struct cerr **e)
{
    struct conv cv = {.ctx = ctx, .drop_invalid = drop_invalid};
    struct lyd_node *top = NULL;

    ly_err_clean((struct ly_ctx *)ctx, NULL);
    for (const struct lyd_node *o = old; o; o = o->next) {
        if (conv_node(&cv, NULL, o, &top)) {
            goto nomem;
        }
    }
    if (cv.logged > UPG_LOG_MAX) {
        LOG(LL_WARN, NULL, "schema upgrade: %" PRIu64 " more drops not logged one by one",
            cv.logged - UPG_LOG_MAX);
    }
    if (lyd_new_implicit_all(&top, ctx, LYD_IMPLICIT_NO_STATE, NULL)) {
        goto nomem;
    }
    *ret_tree = top;
    *ret_res = cv.res;
    return CHORUS_OK;
nomem:
    lyd_free_all(top);
    cerr_free(cv.res.invalid_list);
    return nomem(e);
}
