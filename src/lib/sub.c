/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subscriber and data-provider APIs (include/chorus/sub.h): the connection's libyang
 * context built from the daemon's module texts, registrations with their callbacks, and
 * chorus_dispatch(), which decodes one event, calls its callback and sends the answer
 * (OP_EV_REPLY).
 *
 * Invariants: an event's trees live in the connection's context and are freed when its
 * callback returns; the answer being built (conn->ev_answer) is reset before each callback;
 * every event that was decoded is answered, even when its registration is unknown (the daemon
 * would otherwise wait for commit/subscriber-timeout).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/sub.h"
#include "internal.h"

struct sub_reg {
    uint32_t id;
    enum chorus_sub_kind kind;
    chorus_event_cb cb;
    void *arg;
};

/* ---- schemas ---- */

struct modtext {
    const char *name, *rev;
    const char *text;
    uint32_t impl; /* 0 imported, 1 implemented, 2 submodule */
    const char *features[64];
    size_t nfeat;
};

struct modset {
    struct modtext *m;
    size_t n;
};

static LY_ERR
imp_clb(const char *mod_name, const char *mod_rev, const char *submod_name,
        const char *submod_rev, void *user_data, LYS_INFORMAT *format, const char **module_data,
        void (**free_module_data)(void *model_data, void *user_data))
{
    const struct modset *set = user_data;
    const char *name = submod_name ? submod_name : mod_name;
    const char *rev = submod_name ? submod_rev : mod_rev;

    for (size_t i = 0; i < set->n; i++) {
        const struct modtext *m = &set->m[i];

        if (!strcmp(m->name, name) && (!rev || (m->rev && !strcmp(m->rev, rev)))) {
            *format = LYS_IN_YANG;
            *module_data = m->text;
            *free_module_data = NULL;
            return LY_SUCCESS;
        }
    }
    return LY_ENOTFOUND;
}

static enum chorus_err
build_ctx(struct chorus_conn *c, const struct modset *set, struct ly_ctx **ret)
{
    struct ly_ctx *ctx = NULL;

    if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIRS, &ctx)) {
        return conn_set_error(c, CHORUS_ERR_NOMEM, "cannot create a libyang context");
    }
    ly_ctx_set_module_imp_clb(ctx, imp_clb, (void *)set);
    for (size_t i = 0; i < set->n; i++) {
        const struct modtext *m = &set->m[i];
        const char *feats[65];
        struct ly_in *in = NULL;
        LY_ERR lr;

        if (m->impl != 1) {
            continue;
        }
        memcpy(feats, m->features, m->nfeat * sizeof *feats);
        feats[m->nfeat] = NULL;
        if (ly_in_new_memory(m->text, &in)) {
            ly_ctx_destroy(ctx);
            return conn_set_error(c, CHORUS_ERR_NOMEM, "out of memory");
        }
        lr = lys_parse(ctx, in, LYS_IN_YANG, feats, NULL);
        ly_in_free(in, 0);
        if (lr && lr != LY_EEXIST) {
            const struct ly_err_item *le = ly_err_last(ctx);
            enum chorus_err err =
                conn_set_error(c, CHORUS_ERR_SCHEMA, "module %s from chorusd does not load: %s",
                               m->name, le && le->msg ? le->msg : "invalid");

            ly_ctx_destroy(ctx);
            return err;
        }
    }
    ly_ctx_set_module_imp_clb(ctx, NULL, NULL);
    *ret = ctx;
    return CHORUS_OK;
}

enum chorus_err
chorus_load_schemas(struct chorus_conn *conn, const struct ly_ctx **ret_ctx)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    struct modset set = {0};
    struct ly_ctx *ctx = NULL;
    enum chorus_err err;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (conn->ly) {
        if (ret_ctx) {
            *ret_ctx = conn->ly;
        }
        return CHORUS_OK;
    }
    proto_begin(&b, OP_SCHEMAS, 0, 0);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < r.m.nf; i++) {
        const struct proto_field *f = &r.m.f[i];
        struct modtext *m = set.n ? &set.m[set.n - 1] : NULL;
        const char *s;
        struct modtext *nm;

        switch (f->tag) {
        case T_MODNAME:
            nm = realloc(set.m, (set.n + 1) * sizeof *set.m);
            if (!nm || proto_field_str(f, &s)) {
                free(nm ? nm : set.m);
                conn_reply_done(&r);
                return nm ? conn_bad_reply(conn, &r, "malformed module name")
                          : conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
            }
            set.m = nm;
            memset(&set.m[set.n], 0, sizeof *set.m);
            set.m[set.n++].name = s;
            break;
        case T_REVISION:
            if (m && !proto_field_str(f, &s)) {
                m->rev = s;
            }
            break;
        case T_IMPLEMENTED:
            if (m) {
                (void)proto_field_u32(f, &m->impl);
            }
            break;
        case T_FEATURE:
            if (m && m->nfeat < 64 && !proto_field_str(f, &s)) {
                m->features[m->nfeat++] = s;
            }
            break;
        case T_DATA:
            if (m && f->len && f->val[f->len - 1] == '\0') {
                m->text = (const char *)f->val;
            }
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < set.n; i++) {
        if (!set.m[i].text) {
            free(set.m);
            err = conn_bad_reply(conn, &r, "a module without its text");
            conn_reply_done(&r);
            return err;
        }
    }
    err = build_ctx(conn, &set, &ctx);
    free(set.m);
    conn_reply_done(&r);
    if (err) {
        return err;
    }
    conn->ly = ctx;
    if (ret_ctx) {
        *ret_ctx = ctx;
    }
    return CHORUS_OK;
}

const struct ly_ctx *
chorus_ctx(const struct chorus_conn *conn)
{
    return conn ? conn->ly : NULL;
}

void
conn_events_free(struct chorus_conn *c)
{
    free(c->regs);
    c->regs = NULL;
    c->nregs = 0;
    buf_free(&c->ev_answer);
    if (c->ly) {
        ly_ctx_destroy(c->ly);
        c->ly = NULL;
    }
}

int
chorus_events_pending(const struct chorus_conn *conn)
{
    return conn && conn->nevq ? 1 : 0;
}

/* ---- registrations ---- */

enum chorus_err
chorus_subscribe(struct chorus_conn *conn, enum chorus_sub_kind kind, const char *path,
                 int32_t priority, uint32_t flags, chorus_event_cb cb, void *arg,
                 uint32_t *ret_subid)
{
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    uint32_t id;
    struct sub_reg *nr;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!cb) {
        return conn_set_error(conn, CHORUS_ERR_INVAL, "chorus_subscribe: no callback");
    }
    if ((err = chorus_load_schemas(conn, NULL))) {
        return err;
    }
    nr = realloc(conn->regs, (conn->nregs + 1) * sizeof *nr);
    if (!nr) {
        return conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
    }
    conn->regs = nr;
    proto_begin(&b, OP_SUBSCRIBE, 0, 0);
    proto_put_u32(&b, T_SUBKIND, (uint32_t)kind);
    proto_put_str(&b, T_PATH, path);
    proto_put_u32(&b, T_PRIORITY, (uint32_t)priority);
    proto_put_u32(&b, T_FLAGS, flags);
    err = conn_call(conn, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_u32(&r.m, T_SUBID, &id)) {
        err = conn_bad_reply(conn, &r, "missing T_SUBID");
        conn_reply_done(&r);
        return err;
    }
    conn_reply_done(&r);
    conn->regs[conn->nregs++] = (struct sub_reg){id, kind, cb, arg};
    if (ret_subid) {
        *ret_subid = id;
    }
    return CHORUS_OK;
}

enum chorus_err
chorus_unsubscribe(struct chorus_conn *conn, uint32_t subid)
{
    struct buf b = BUF_INIT;
    enum chorus_err err;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    proto_begin(&b, OP_UNSUBSCRIBE, 0, 0);
    proto_put_u32(&b, T_SUBID, subid);
    err = conn_call(conn, &b, NULL);
    if (!err) {
        for (size_t i = 0; i < conn->nregs; i++) {
            if (conn->regs[i].id == subid) {
                conn->regs[i] = conn->regs[--conn->nregs];
                break;
            }
        }
    }
    return err;
}

/* ---- answers built in callbacks ---- */

enum chorus_err
chorus_event_error(struct chorus_conn *conn, const struct chorus_event *ev, enum chorus_err code,
                   const char *path, const char *app_tag, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    (void)ev;
    if (!conn) {
        return code ? code : CHORUS_ERR_INVAL;
    }
    if (!code) {
        code = CHORUS_ERR_ABORTED;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt ? fmt : "", ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    proto_put_error(&conn->ev_answer, code, msg && *msg ? msg : chorus_strerror(code), path,
                    app_tag);
    free(msg);
    conn->ev_answered_err = 1;
    return code;
}

enum chorus_err
chorus_event_reply_data(struct chorus_conn *conn, const struct chorus_event *ev,
                        const struct lyd_node *data)
{
    char *text = NULL;

    if (!conn || !ev) {
        return CHORUS_ERR_INVAL;
    }
    if (ev->type != CHORUS_EV_OPER && ev->type != CHORUS_EV_RPC) {
        return conn_set_error(conn, CHORUS_ERR_INVAL,
                              "chorus_event_reply_data: only OPER and RPC events answer with data");
    }
    if (!data) {
        return CHORUS_OK;
    }
    if (lyd_print_mem(&text, data, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)) {
        return conn_set_error(conn, CHORUS_ERR_NOMEM, "cannot print the answer");
    }
    proto_put_data(&conn->ev_answer, T_DATA, text, strlen(text));
    free(text);
    return CHORUS_OK;
}

/* ---- dispatch ---- */

static struct lyd_node *
parse_tree(struct chorus_conn *c, const char *text, int op)
{
    struct lyd_node *tree = NULL;
    struct ly_in *in = NULL;

    if (!text || !*text) {
        return NULL;
    }
    if (op) {
        if (!ly_in_new_memory(text, &in)) {
            if (lyd_parse_op(c->ly, NULL, in, LYD_JSON, LYD_TYPE_RPC_YANG, &tree, NULL)) {
                tree = NULL;
            }
            ly_in_free(in, 0);
        }
        return tree;
    }
    if (lyd_parse_data_mem(c->ly, text, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &tree)) {
        return NULL;
    }
    return tree;
}

static enum chorus_err
send_answer(struct chorus_conn *c, uint32_t evid, enum chorus_err rc)
{
    struct buf b = BUF_INIT;

    proto_begin(&b, OP_EV_REPLY, 0, 0);
    proto_put_u32(&b, T_EVID, evid);
    if (rc && !c->ev_answered_err) {
        proto_put_error(&b, rc, chorus_strerror(rc), NULL, NULL);
    }
    /* the data of a successful answer, or the error items of a failed one */
    if (c->ev_answer.len && (rc || !c->ev_answered_err)) {
        buf_append(&b, c->ev_answer.p, c->ev_answer.len);
    }
    buf_reset(&c->ev_answer);
    c->ev_answered_err = 0;
    return conn_send(c, &b); /* one-way: nothing waits for a reply (docs/protocol.md) */
}

enum chorus_err
chorus_dispatch(struct chorus_conn *conn, int timeout_ms)
{
    struct conn_event *ce = NULL;
    struct proto_msg m = {0};
    struct chorus_event ev = {0};
    struct lyd_node *tree = NULL;
    const struct sub_reg *reg = NULL;
    const char *data = NULL;
    size_t dlen = 0;
    enum chorus_err err, rc;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    err = conn_next_event(conn, timeout_ms, &ce);
    if (err) {
        return err;
    }
    if (proto_body_parse(ce->body, ce->len, PROTO_MAX_FIELDS, &m)) {
        free(ce->body);
        free(ce);
        return conn_set_error(conn, CHORUS_ERR_PROTO, "malformed event from chorusd");
    }
    ev.type = (enum chorus_event_type)ce->op;
    ev.id = ce->evid;
    (void)proto_get_u32(&m, T_SUBID, &ev.subid);
    (void)proto_get_u32(&m, T_TH, &ev.th);
    (void)proto_get_u64(&m, T_TXID, &ev.txid);
    (void)proto_get_u32(&m, T_USID, &ev.usid);
    (void)proto_get_str(&m, T_USER, &ev.user);
    (void)proto_get_str(&m, T_CONTEXT, &ev.context);
    (void)proto_get_u32(&m, T_FLAGS, &ev.flags);
    (void)proto_get_u32(&m, T_DB, &ev.db);
    (void)proto_get_str(&m, T_PATH, &ev.path);
    (void)proto_get_data(&m, T_DATA, &data, &dlen);
    for (size_t i = 0; i < conn->nregs; i++) {
        if (conn->regs[i].id == ev.subid) {
            reg = &conn->regs[i];
            break;
        }
    }
    buf_reset(&conn->ev_answer);
    conn->ev_answered_err = 0;
    if (!reg) {
        rc = chorus_event_error(conn, &ev, CHORUS_ERR_NOTFOUND, NULL, NULL,
                                "registration %u is unknown to the application", ev.subid);
    } else if (data && dlen && !(tree = parse_tree(conn, data, ev.type == CHORUS_EV_RPC))) {
        const struct ly_err_item *le = conn->ly ? ly_err_last(conn->ly) : NULL;

        rc = chorus_event_error(conn, &ev, CHORUS_ERR_SCHEMA, NULL, NULL,
                                "the application cannot read the event's data: %s",
                                le && le->msg ? le->msg : "no schema");
    } else {
        if (ev.type == CHORUS_EV_RPC) {
            ev.input = tree;
        } else {
            ev.diff = tree;
        }
        rc = reg->cb(conn, &ev, reg->arg);
    }
    err = send_answer(conn, ev.id, rc);
    lyd_free_all(tree);
    proto_msg_done(&m);
    free(ce->body);
    free(ce);
    return err;
}

/* ---- management helpers that take libyang trees or files ---- */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "chorus/mgmt.h"

enum chorus_err
chorus_edit_tree(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
                 const struct lyd_node *tree)
{
    char *text = NULL;
    enum chorus_err err;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (tree && lyd_print_mem(&text, tree, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)) {
        return conn_set_error(conn, CHORUS_ERR_NOMEM, "chorus_edit_tree: cannot print the tree");
    }
    err = chorus_edit(conn, th, op, CHORUS_FMT_JSON, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
    return err;
}

static int
is_json(const char *filename)
{
    size_t n = strlen(filename);

    return n > 5 && !strcmp(filename + n - 5, ".json");
}

enum chorus_err
chorus_load_config(struct chorus_conn *conn, uint32_t th, enum chorus_edit_op op,
                   const char *filename)
{
    FILE *f;
    char *data = NULL;
    size_t len = 0, cap = 0;
    enum chorus_err err;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!filename || !(f = fopen(filename, "rb"))) {
        return conn_set_error(conn, CHORUS_ERR_IO, "%s: %s", filename ? filename : "(null)",
                              strerror(errno));
    }
    for (;;) {
        size_t n;

        if (len + 65536 + 1 > cap) {
            char *nd = realloc(data, cap = (cap ? cap * 2 : 131072));

            if (!nd) {
                free(data);
                fclose(f);
                return conn_set_error(conn, CHORUS_ERR_NOMEM, "%s: out of memory", filename);
            }
            data = nd;
        }
        n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        fclose(f);
        free(data);
        return conn_set_error(conn, CHORUS_ERR_IO, "%s: read error", filename);
    }
    fclose(f);
    data[len] = '\0';
    err = chorus_edit(conn, th, op, is_json(filename) ? CHORUS_FMT_JSON : CHORUS_FMT_XML, data,
                      len);
    free(data);
    return err;
}

/* Write @p len bytes to @p path through a temporary file renamed over it. 0 or an errno. */
static int
write_atomic(const char *path, const char *text, size_t len)
{
    char *tmp = NULL;
    size_t off = 0;
    int fd, err = 0;

    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        return ENOMEM;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
        free(tmp);
        return err;
    }
    while (!err && off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno != EINTR) {
            err = errno;
        } else if (n > 0) {
            off += (size_t)n;
        }
    }
    if (!err && fsync(fd)) {
        err = errno;
    }
    if (close(fd) && !err) {
        err = errno;
    }
    if (!err && rename(tmp, path)) {
        err = errno;
    }
    if (err) {
        unlink(tmp);
    }
    free(tmp);
    return err;
}

enum chorus_err
chorus_save_config(struct chorus_conn *conn, uint32_t th, const char *path, uint32_t flags,
                   const char *filename)
{
    char *text = NULL;
    enum chorus_err err;
    int e;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!filename) {
        return conn_set_error(conn, CHORUS_ERR_INVAL, "chorus_save_config: no file name");
    }
    err = chorus_get(conn, th, path, is_json(filename) ? CHORUS_FMT_JSON : CHORUS_FMT_XML, flags,
                     &text);
    if (err) {
        return err;
    }
    e = write_atomic(filename, text, strlen(text));
    free(text);
    return e ? conn_set_error(conn, CHORUS_ERR_IO, "%s: %s", filename, strerror(e)) : CHORUS_OK;
}

/* ---- cursors ---- */

struct chorus_cursor {
    struct chorus_conn *conn;
    uint32_t th;
    char *path;
    uint32_t chunk;
    char *last;                /* data path of the last entry of the chunk; NULL: no more */
    struct lyd_node *tree;     /* the current chunk */
    struct lyd_node *next;     /* the next entry to return from it */
    const struct lysc_node *s; /* the list */
    int started, done;
};

enum chorus_err
chorus_cursor_start(struct chorus_conn *conn, uint32_t th, const char *path, uint32_t chunk,
                    struct chorus_cursor **ret_cursor)
{
    struct chorus_cursor *cur;
    enum chorus_err err;

    if (!conn) {
        return CHORUS_ERR_INVAL;
    }
    if (!path || !chunk || !ret_cursor) {
        return conn_set_error(conn, CHORUS_ERR_INVAL,
                              "chorus_cursor_start: path, chunk and ret_cursor are required");
    }
    if ((err = chorus_load_schemas(conn, NULL))) {
        return err;
    }
    cur = calloc(1, sizeof *cur);
    if (!cur || !(cur->path = strdup(path))) {
        free(cur);
        return conn_set_error(conn, CHORUS_ERR_NOMEM, "out of memory");
    }
    cur->conn = conn;
    cur->th = th;
    cur->chunk = chunk;
    *ret_cursor = cur;
    return CHORUS_OK;
}

/* Fetch the chunk after cur->last (or the first). */
static enum chorus_err
cursor_fetch(struct chorus_cursor *cur)
{
    struct chorus_conn *c = cur->conn;
    struct buf b = BUF_INIT;
    struct conn_reply r = {0};
    enum chorus_err err;
    const char *data, *last = NULL;
    size_t len;
    struct lyd_node *x;

    lyd_free_all(cur->tree);
    cur->tree = cur->next = NULL;
    proto_begin(&b, OP_CURSOR, 0, 0);
    proto_put_u32(&b, T_TH, cur->th);
    proto_put_str(&b, T_PATH, cur->path);
    proto_put_str(&b, T_KEY, cur->last);
    proto_put_u64(&b, T_COUNT, cur->chunk);
    err = conn_call(c, &b, &r);
    if (err) {
        return err;
    }
    if (proto_get_data(&r.m, T_DATA, &data, &len) ||
        proto_get_str(&r.m, T_KEY, &last) == CHORUS_ERR_PROTO) {
        err = conn_bad_reply(c, &r, "missing T_DATA or malformed T_KEY");
        conn_reply_done(&r);
        return err;
    }
    free(cur->last);
    cur->last = last ? strdup(last) : NULL;
    if (last && !cur->last) {
        conn_reply_done(&r);
        return conn_set_error(c, CHORUS_ERR_NOMEM, "out of memory");
    }
    if (len && lyd_parse_data_mem(c->ly, data, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0,
                                  &cur->tree)) {
        const struct ly_err_item *le = ly_err_last(c->ly);

        conn_reply_done(&r);
        return conn_set_error(c, CHORUS_ERR_SCHEMA, "a cursor chunk does not parse: %s",
                              le && le->msg ? le->msg : "invalid");
    }
    conn_reply_done(&r);
    if (!cur->s) {
        cur->s = lys_find_path(c->ly, NULL, cur->path, 0);
    }
    /* the first entry of the chunk: depth-first to the list's instances */
    for (x = cur->tree; x;) {
        if (x->schema == cur->s) {
            break;
        }
        x = lyd_child(x);
        while (x && x->schema && lysc_is_key(x->schema)) {
            x = x->next;
        }
    }
    cur->next = x;
    if (!cur->last) {
        cur->done = 1;
    }
    return CHORUS_OK;
}

enum chorus_err
chorus_cursor_next(struct chorus_cursor *cur, const struct lyd_node **ret_entry)
{
    enum chorus_err err;

    if (!cur || !ret_entry) {
        return CHORUS_ERR_INVAL;
    }
    for (;;) {
        if (cur->next) {
            struct lyd_node *e = cur->next;

            cur->next = e->next && e->next->schema == cur->s ? e->next : NULL;
            *ret_entry = e;
            return CHORUS_OK;
        }
        if (cur->started && cur->done) {
            *ret_entry = NULL;
            return CHORUS_OK;
        }
        cur->started = 1;
        if ((err = cursor_fetch(cur))) {
            return err;
        }
        if (!cur->next) {
            cur->done = 1;
        }
    }
}

void
chorus_cursor_free(struct chorus_cursor *cur)
{
    if (cur) {
        lyd_free_all(cur->tree);
        free(cur->path);
        free(cur->last);
        free(cur);
    }
}

const char *
chorus_diff_op(const struct lyd_node *node)
{
    for (const struct lyd_node *n = node; n; n = lyd_parent(n)) {
        const struct lyd_meta *m = lyd_find_meta(n->meta, NULL, "yang:operation");

        if (m) {
            return lyd_get_meta_value(m);
        }
    }
    return "none";
}
