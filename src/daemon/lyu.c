/* SPDX-License-Identifier: Apache-2.0 */
/* libyang helpers of the daemon; see lyu.h. */
#include "lyu.h"

#include <stdlib.h>
#include <string.h>

/* libyang formats locations as 'Schema location "/a:b", data location "/a:b[k='1']", line
 * number 3.'; extract the data location, else the schema location. */
static char *
loc_path(const char *lypath)
{
    const char *keys[] = {"Data location \"", "data location \"", "Schema location \""};

    if (!lypath) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *s = strstr(lypath, keys[i]);

        if (s) {
            const char *b = s + strlen(keys[i]);
            const char *q = strchr(b, '"');

            return q ? strndup(b, (size_t)(q - b)) : NULL;
        }
    }
    return NULL;
}

enum chorus_err
lyu_err(struct cerr **e, const struct ly_ctx *ctx, enum chorus_err code, const char *path)
{
    const struct ly_err_item *it = ly_err_first(ctx);
    int n = 0;

    for (; it; it = it->next) {
        char *p;

        if (it->level != LY_LLERR) {
            continue;
        }
        p = loc_path(it->path);
        /* prefer the caller's data path over a mere schema location */
        if (path && (!p || (it->path && strstr(it->path, "Schema location") &&
                            !strstr(it->path, "data location")))) {
            free(p);
            p = strdup(path);
        }
        cerr_add(e, code, p, it->apptag, "%s", it->msg ? it->msg : "libyang error");
        free(p);
        n++;
    }
    if (!n) {
        cerr_add(e, code, path, NULL, "%s", chorus_strerror(code));
    }
    ly_err_clean((struct ly_ctx *)ctx, NULL);
    return code;
}

char *
lyu_path(const struct lyd_node *node)
{
    return node ? lyd_path(node, LYD_PATH_STD, NULL, 0) : strdup("/");
}

void
dpath_done(struct dpath *dp)
{
    if (dp) {
        lyd_free_all(dp->top);
        memset(dp, 0, sizeof *dp);
    }
}

static const struct lys_module *
opaq_module(const struct ly_ctx *ctx, const struct lyd_node_opaq *o)
{
    if (o->name.module_name) {
        return ly_ctx_get_module_implemented(ctx, o->name.module_name);
    }
    return NULL;
}

enum chorus_err
dpath_resolve(struct ly_ctx *ctx, const char *path, const char *value, struct dpath *dp,
              struct cerr **e)
{
    struct lyd_node *top = NULL, *node = NULL, *n;
    const struct lysc_node *schema;
    LY_ERR r;
    unsigned depth = 0;

    memset(dp, 0, sizeof *dp);
    if (!path || path[0] != '/' || !path[1]) {
        return cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                        "a data path must start with '/' and name a node");
    }
    r = lyd_new_path2(NULL, ctx, path, value, 0, 0, value ? 0 : LYD_NEW_PATH_OPAQ, &top, &node);
    if (r) {
        const struct ly_err_item *it = ly_err_first(ctx);
        enum chorus_err code = CHORUS_ERR_BADPATH;

        if (it && it->msg &&
            (strstr(it->msg, "Invalid") || strstr(it->msg, "Unsatisfied") ||
             strstr(it->msg, "does not conform")) &&
            !strstr(it->msg, "character")) {
            code = CHORUS_ERR_BADVALUE;
        }
        return lyu_err(e, ctx, code, path);
    }
    if (!node) {
        /* the path exists as a whole already? cannot happen with a NULL parent */
        lyd_free_all(top);
        return cerr_add(e, CHORUS_ERR_BADPATH, path, NULL, "cannot resolve the path");
    }
    if (!node->schema) {
        /* a leaf given without a value: the last step is an opaque node */
        struct lyd_node_opaq *o = (struct lyd_node_opaq *)node;
        const struct lysc_node *ps = node->parent ? node->parent->schema : NULL;
        const struct lys_module *mod = opaq_module(ctx, o);

        if (!mod && ps) {
            mod = ps->module;
        }
        schema = mod ? lys_find_child(ps, mod, o->name.name, 0, 0, 0) : NULL;
        if (!schema || !(schema->nodetype & (LYS_LEAF | LYS_LEAFLIST | LYD_NODE_ANY))) {
            lyd_free_all(top);
            return cerr_add(e, CHORUS_ERR_BADPATH, path, NULL, "no such data node");
        }
        if (schema->nodetype == LYS_LEAFLIST) {
            lyd_free_all(top);
            return cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                            "a leaf-list entry path needs a value predicate [.='value']");
        }
        dp->term_noval = true;
        dp->parent = lyd_parent(node);
        lyd_free_tree(node);
        if (!dp->parent) {
            top = NULL;
        }
        dp->last = NULL;
    } else {
        schema = node->schema;
        if (schema->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF)) {
            lyd_free_all(top);
            return cerr_add(e, CHORUS_ERR_BADPATH, path, NULL,
                            "operations and notifications are not data nodes");
        }
        if (schema->flags & LYS_KEY) {
            /* lyd_new_path2 would happily create a key leaf; a key is not a node of its own */
            lyd_free_all(top);
            return cerr_add(e, CHORUS_ERR_INVAL, path, NULL,
                            "list keys cannot be addressed on their own; change the entry");
        }
        dp->last = node;
        dp->parent = lyd_parent(node);
    }
    dp->top = top;
    dp->schema = schema;
    for (n = dp->parent; n; n = lyd_parent(n)) {
        depth++;
    }
    if (depth + 1 > DPATH_MAX_DEPTH) {
        dpath_done(dp);
        return cerr_add(e, CHORUS_ERR_TOOBIG, path, NULL, "the path has more than %d steps",
                        DPATH_MAX_DEPTH);
    }
    dp->depth = depth + 1;
    dp->step[depth] = dp->last;
    for (n = dp->parent; n; n = lyd_parent(n)) {
        dp->step[--depth] = n;
    }
    return CHORUS_OK;
}

int
lyu_split_last(const char *path, char **ret_parent, char **ret_last)
{
    const char *last = NULL;
    int depth = 0;
    char quote = 0;

    for (const char *p = path; *p; p++) {
        if (quote) {
            if (*p == quote) {
                quote = 0;
            }
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']') {
            depth--;
        } else if (*p == '/' && !depth) {
            last = p;
        }
    }
    if (!last || !last[1]) {
        return -1;
    }
    *ret_parent = strndup(path, (size_t)(last - path));
    *ret_last = strdup(last + 1);
    return 0;
}

struct lyd_node *
lyu_find(const struct lyd_node *first, const struct lyd_node *tmpl)
{
    struct lyd_node *match = NULL;

    if (!first || !tmpl) {
        return NULL;
    }
    if (tmpl->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
        if (lyd_find_sibling_first(first, tmpl, &match)) {
            return NULL;
        }
        return match;
    }
    return lyu_find_schema(first, tmpl->schema);
}

struct lyd_node *
lyu_find_schema(const struct lyd_node *first, const struct lysc_node *schema)
{
    struct lyd_node *match = NULL;

    if (!first || lyd_find_sibling_val(first, schema, NULL, 0, &match)) {
        return NULL;
    }
    return match;
}

bool
lyu_term_equal(const struct lyd_node *a, const struct lyd_node *b)
{
    if (a->schema != b->schema) {
        return false;
    }
    if (a->schema->nodetype & LYD_NODE_TERM) {
        return !lyd_compare_single(a, b, 0);
    }
    if (a->schema->nodetype & LYD_NODE_ANY) {
        return !lyd_compare_single(a, b, 0);
    }
    return true;
}

size_t
lyu_count(const struct lyd_node *n, bool siblings)
{
    size_t c = 0;
    const struct lyd_node *it, *start = n;

    for (; n; n = siblings ? n->next : NULL) {
        LYD_TREE_DFS_BEGIN(n, it)
        {
            c++;
            LYD_TREE_DFS_END(n, it);
        }
        if (!siblings) {
            break;
        }
    }
    (void)start;
    return c;
}

int
lyu_merge_copy(struct lyd_node **into, const struct lyd_node *n, uint32_t dup_opts)
{
    struct lyd_node *d = NULL, *top;
    uint32_t mopts = LYD_MERGE_DESTRUCT | (dup_opts & LYD_DUP_WITH_FLAGS ? LYD_MERGE_WITH_FLAGS : 0);

    if (lyd_dup_single(n, NULL, dup_opts | LYD_DUP_WITH_PARENTS, &d)) {
        return -1;
    }
    for (top = d; top->parent; top = lyd_parent(top)) {
    }
    if (lyd_merge_siblings(into, top, mopts)) {
        lyd_free_all(top);
        return -1;
    }
    return 0;
}
