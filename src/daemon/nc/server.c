/* SPDX-License-Identifier: Apache-2.0 */
/* The NETCONF server; see server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libyang/libyang.h>

#include "../schema.h"
#include "../sess.h"
#include "../sub.h"
#include "../lyu.h"
#include "../txn.h"
#include "common/util.h"
#include "frame.h"
#include "msg.h"
#include "ssh.h"

#define NC_NS "urn:ietf:params:xml:ns:netconf:base:1.0"
#define NC_BASE10 "urn:ietf:params:netconf:base:1.0"
#define NC_BASE11 "urn:ietf:params:netconf:base:1.1"
#define READ_CHUNK 65536
#define TCP_HDR_MAX 512

struct ncs {
    struct nc_server *srv;
    int fd;
    char peer[64];
    bool tcp;      /* plain TCP: may start with a "[user;addr;...]" header */
    bool hdr_done; /* the header (or its absence) is settled */
    struct sess *sess;
    struct ncf_dec dec;
    enum ncf_mode out_mode;
    struct buf in, out;
    bool hello;      /* the client's hello arrived */
    bool busy;       /* an RPC waits for the transaction engine */
    bool closing;    /* close once the output is written */
    bool dead;       /* closed; freed at the end of the event */
    bool processing; /* inside process() */
    char *attrs;     /* attributes of the <rpc> being answered, for the <rpc-reply> */
    struct txn *t;   /* the transaction of the RPC in progress */
    struct cerr *pend_err; /* continue-on-error: the errors to answer with after the commit */
    struct getreq *greq;   /* a get waiting for data providers */
    struct rpcreq *rreq;   /* an RPC waiting for its application handler */
    bool notif;            /* subscribed to the NETCONF stream (create-subscription) */
    struct ev_timer *idle;
    struct ncs *next;
};

struct nc_server {
    struct core *c;
    int tcp_fd;
    bool listening;
    struct phase_waiter *pw;
    struct nc_ssh *ssh;
    struct ncs *list;
    unsigned n;
};

static void process(struct ncs *k);
static void ncs_close(struct ncs *k);

/* ---- XML text ---- */

static void
xml_esc(struct buf *b, const char *s, bool attr)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            buf_append_str(b, "&lt;");
            break;
        case '>':
            buf_append_str(b, "&gt;");
            break;
        case '&':
            buf_append_str(b, "&amp;");
            break;
        case '"':
            buf_append_str(b, attr ? "&quot;" : "\"");
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static void
flush(struct ncs *k)
{
    struct core *c = k->srv->c;

    while (k->out.len) {
        ssize_t n = write(k->fd, k->out.p, k->out.len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            ncs_close(k);
            return;
        }
        buf_consume(&k->out, (size_t)n);
    }
    if (!k->out.len && k->out.cap > (4u << 20)) {
        buf_free(&k->out);
    }
    if (k->out.len) {
        ev_mod(c->ev, k->fd, EV_WRITE | EV_HUP | (k->busy || k->closing ? 0 : EV_READ));
    } else if (k->closing) {
        ncs_close(k);
    } else {
        ev_mod(c->ev, k->fd, EV_HUP | (k->busy ? 0 : EV_READ));
    }
}

/* Frame and queue one message. */
static void
send_msg(struct ncs *k, const struct buf *msg)
{
    if (!buf_ok(msg) || ncf_encode(k->out_mode, (const char *)msg->p, msg->len, &k->out)) {
        LOGE("NETCONF session %u: out of memory for a reply", k->sess ? k->sess->id : 0);
        k->closing = true;
    }
}

/* ---- errors ---- */

static bool
is_error_tag(const char *s)
{
    static const char *const tags[] = {
        "in-use",          "invalid-value",      "too-big",          "missing-attribute",
        "bad-attribute",   "unknown-attribute",  "missing-element",  "bad-element",
        "unknown-element", "unknown-namespace",  "access-denied",    "lock-denied",
        "resource-denied", "rollback-failed",    "data-exists",      "data-missing",
        "operation-not-supported", "operation-failed", "partial-operation", "malformed-message"};

    for (size_t i = 0; s && i < sizeof tags / sizeof tags[0]; i++) {
        if (!strcmp(s, tags[i])) {
            return true;
        }
    }
    return false;
}

static const char *
error_type(enum chorus_err code)
{
    switch (code) {
    case CHORUS_ERR_LOCKED:
    case CHORUS_ERR_INUSE:
    case CHORUS_ERR_ACCESS:
    case CHORUS_ERR_STATE:
    case CHORUS_ERR_UNSUPPORTED:
    case CHORUS_ERR_TOOBIG:
    case CHORUS_ERR_TIMEOUT:
        return "protocol";
    case CHORUS_ERR_PROTO:
        return "rpc";
    default:
        return "application";
    }
}

static const char *
error_tag(enum chorus_err code)
{
    switch (code) {
    case CHORUS_ERR_LOCKED:
        return "lock-denied";
    case CHORUS_ERR_INUSE:
        return "in-use";
    case CHORUS_ERR_ACCESS:
        return "access-denied";
    case CHORUS_ERR_UNSUPPORTED:
        return "operation-not-supported";
    case CHORUS_ERR_STATE:
    case CHORUS_ERR_ABORTED:
    case CHORUS_ERR_TIMEOUT:
    case CHORUS_ERR_INTERNAL:
    case CHORUS_ERR_VALIDATION:
        return "operation-failed";
    default:
        return chorus_err_netconf_tag(code);
    }
}

/* <@p elem> holding @p path, with a namespace declaration for each module prefix in it. */
static void
put_path_elem(struct core *c, struct buf *b, const char *elem, const char *path)
{
    const char *p = path;
    char seen[8][64];
    int nseen = 0;

    buf_printf(b, "<%s", elem);
    while ((p = strchr(p, '/'))) {
        const char *s = ++p, *colon = s;
        char name[64];
        const struct lys_module *m;
        bool dup = false;

        while (*colon && *colon != ':' && *colon != '/' && *colon != '[') {
            colon++;
        }
        if (*colon != ':' || colon - s >= (long)sizeof name || colon == s) {
            continue;
        }
        memcpy(name, s, (size_t)(colon - s));
        name[colon - s] = 0;
        for (int i = 0; i < nseen; i++) {
            dup = dup || !strcmp(seen[i], name);
        }
        if (dup || nseen == 8 || !(m = ly_ctx_get_module_implemented(c->ctx, name))) {
            continue;
        }
        strcpy(seen[nseen++], name);
        buf_printf(b, " xmlns:%s=\"", name);
        xml_esc(b, m->ns, true);
        buf_append_str(b, "\"");
    }
    buf_append_str(b, ">");
    xml_esc(b, path, false);
    buf_printf(b, "</%s>", elem);
}

static void
put_error(struct core *c, struct buf *b, const char *type, const char *tag, const char *apptag,
          const char *path, const char *msg, const char *info)
{
    buf_printf(b, "<rpc-error><error-type>%s</error-type><error-tag>%s</error-tag>"
                  "<error-severity>error</error-severity>",
               type, tag);
    if (apptag && *apptag) {
        buf_append_str(b, "<error-app-tag>");
        xml_esc(b, apptag, false);
        buf_append_str(b, "</error-app-tag>");
    }
    if (path && *path) {
        put_path_elem(c, b, "error-path", path);
    }
    if (msg && *msg) {
        buf_append_str(b, "<error-message xml:lang=\"en\">");
        xml_esc(b, msg, false);
        buf_append_str(b, "</error-message>");
    }
    if (info) {
        buf_printf(b, "<error-info>%s</error-info>", info);
    }
    buf_append_str(b, "</rpc-error>");
}

static void
put_cerr(struct core *c, struct buf *b, const struct cerr *e, const char *info)
{
    for (; e; e = e->next) {
        /* the engine puts a NETCONF error-tag in the app-tag field of its own errors (e.g.
         * "lock-denied"); a validation error's app-tag is YANG's or an application's */
        bool tag_in_apptag = e->code != CHORUS_ERR_VALIDATION && is_error_tag(e->apptag);

        put_error(c, b, error_type(e->code), tag_in_apptag ? e->apptag : error_tag(e->code),
                  tag_in_apptag ? NULL : e->apptag, e->path, e->msg, info);
    }
}

/* ---- replies ---- */

static void
reply_begin(struct ncs *k, struct buf *b)
{
    buf_append_str(b, "<rpc-reply xmlns=\"" NC_NS "\"");
    if (k->attrs) {
        buf_append_str(b, k->attrs);
    }
    buf_append_str(b, ">");
}

static void
reply_end(struct ncs *k, struct buf *b)
{
    buf_append_str(b, "</rpc-reply>");
    send_msg(k, b);
    buf_free(b);
    free(k->attrs);
    k->attrs = NULL;
}

static void
reply_ok(struct ncs *k)
{
    struct buf b = BUF_INIT;

    reply_begin(k, &b);
    buf_append_str(&b, "<ok/>");
    reply_end(k, &b);
}

static void
reply_errors(struct ncs *k, const struct cerr *e, const char *info)
{
    struct buf b = BUF_INIT;

    reply_begin(k, &b);
    put_cerr(k->srv->c, &b, e, info);
    reply_end(k, &b);
}

static void
reply_error(struct ncs *k, const char *type, const char *tag, const char *path, const char *msg,
            const char *info)
{
    struct buf b = BUF_INIT;

    reply_begin(k, &b);
    put_error(k->srv->c, &b, type, tag, NULL, path, msg, info);
    reply_end(k, &b);
}

/* Resume reading after an asynchronous RPC. */
static void
resume(struct ncs *k)
{
    k->busy = false;
    flush(k);
    if (!k->processing && !k->dead) {
        process(k);
    }
}

/* ---- requests ---- */

struct rq {
    struct ncs *k;
    struct core *c;
    struct lyd_node *op;
    struct buf body; /* reply content; empty: <ok/> */
    struct cerr *err;
    const char *info; /* <error-info> content of the error, or NULL */
    bool pending;     /* answered later */
};

static struct lyd_node *
child(const struct lyd_node *op, const char *name)
{
    struct lyd_node *n = NULL;

    if (lyd_find_path(op, name, 0, &n)) {
        return NULL;
    }
    return n;
}

static const char *
child_value(const struct lyd_node *op, const char *name)
{
    struct lyd_node *n = child(op, name);

    return n ? lyd_get_value(n) : NULL;
}

/* The datastore named by the choice inside @p cont (target, source): running, candidate,
 * startup; *ret_config the inline <config> if that is what it holds. */
static enum chorus_err
which_db(struct rq *r, const struct lyd_node *cont, enum chorus_db *db,
         struct lyd_node **ret_config)
{
    struct lyd_node *x;

    if (ret_config) {
        *ret_config = NULL;
    }
    LY_LIST_FOR(lyd_child(cont), x)
    {
        const char *n = LYD_NAME(x);

        if (!strcmp(n, "running")) {
            *db = CHORUS_DB_RUNNING;
            return CHORUS_OK;
        }
        if (!strcmp(n, "candidate")) {
            *db = CHORUS_DB_CANDIDATE;
            return CHORUS_OK;
        }
        if (!strcmp(n, "startup")) {
            *db = CHORUS_DB_STARTUP;
            return CHORUS_OK;
        }
        if (!strcmp(n, "config") && ret_config) {
            *ret_config = x;
            *db = 0;
            return CHORUS_OK;
        }
        if (!strcmp(n, "url")) {
            return cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                            "the :url capability is not supported");
        }
    }
    return cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "missing-element", "no datastore given");
}

/* ---- reads: filters ---- */

static int
select_xpath(struct lyd_node *tree, const char *xpath, struct lyd_node **out, struct cerr **e)
{
    struct ly_set *set = NULL;
    int r = 0;

    if (!tree) {
        return 0;
    }
    if (lyd_find_xpath(tree, xpath, &set)) {
        const struct ly_err_item *le = ly_err_last(LYD_CTX(tree));

        cerr_add(e, CHORUS_ERR_INVAL, NULL, "invalid-value", "invalid filter \"%s\": %s", xpath,
                 le && le->msg ? le->msg : "not an XPath expression of this schema");
        return -1;
    }
    for (uint32_t i = 0; !r && i < set->count; i++) {
        r = lyu_merge_copy(out, set->dnodes[i], LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS);
    }
    ly_set_free(set, NULL);
    if (r) {
        cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    return r;
}

/* Apply the <filter> of get/get-config to @p tree; *ret is the result (owned), *ret_all true
 * if there is no filter (the whole tree). */
static int
apply_filter(struct rq *r, const struct lyd_node *filter, struct lyd_node *tree,
             struct lyd_node **ret, bool *ret_all)
{
    struct lyd_meta *m;
    const char *type = "subtree";

    *ret = NULL;
    *ret_all = !filter;
    if (!filter) {
        return 0;
    }
    if ((m = lyd_find_meta(filter->meta, NULL, "ietf-netconf:type"))) {
        type = lyd_get_meta_value(m);
    }
    if (!strcmp(type, "xpath")) {
        m = lyd_find_meta(filter->meta, NULL, "ietf-netconf:select");
        if (!m) {
            cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "missing-attribute",
                     "an xpath filter needs a select attribute");
            r->info = "<bad-attribute>select</bad-attribute><bad-element>filter</bad-element>";
            return -1;
        }
        return select_xpath(tree, lyd_get_meta_value(m), ret, &r->err);
    }
    if (strcmp(type, "subtree")) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "bad-attribute", "unknown filter type \"%s\"",
                 type);
        return -1;
    }
    {
        const struct lyd_node_any *a = (const struct lyd_node_any *)filter;
        char **paths = NULL;
        size_t n = 0;
        int rc = 0;

        if (a->value_type != LYD_ANYDATA_DATATREE || !a->value.tree) {
            return 0; /* an empty filter selects nothing */
        }
        if (ncm_subtree_paths(r->c->ctx, a->value.tree, "", NULL, &paths, &n)) {
            rc = -1;
            cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        for (size_t i = 0; !rc && i < n; i++) {
            rc = select_xpath(tree, paths[i], ret, &r->err);
        }
        for (size_t i = 0; i < n; i++) {
            free(paths[i]);
        }
        free(paths);
        return rc;
    }
}

/* RFC 6243 section 6: the "default" attribute is in the namespace
 * urn:ietf:params:xml:ns:netconf:default:1.0; libyang 2.1 prints it in the module's. Rewrites
 * the declarations from offset @p from on (same length or shorter: done in place). */
static void
wd_tag_namespace(struct buf *b, size_t from)
{
    static const char bad[] = "=\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\"";
    static const char good[] = "=\"urn:ietf:params:xml:ns:netconf:default:1.0\"";
    char *w = (char *)b->p + from, *r = w, *end = (char *)b->p + b->len;

    while (r < end) {
        if ((size_t)(end - r) >= sizeof bad - 1 && !memcmp(r, bad, sizeof bad - 1)) {
            memcpy(w, good, sizeof good - 1);
            w += sizeof good - 1;
            r += sizeof bad - 1;
        } else {
            *w++ = *r++;
        }
    }
    b->len = (size_t)(w - (char *)b->p);
}

static uint32_t
wd_flags(struct rq *r)
{
    const char *wd = child_value(r->op, "ietf-netconf-with-defaults:with-defaults");

    if (!wd || !strcmp(wd, "explicit")) {
        return LYD_PRINT_WD_EXPLICIT;
    }
    if (!strcmp(wd, "report-all")) {
        return LYD_PRINT_WD_ALL;
    }
    if (!strcmp(wd, "report-all-tagged")) {
        return LYD_PRINT_WD_ALL_TAG;
    }
    return LYD_PRINT_WD_TRIM;
}

/* <data> with the filtered view of @p t. */
static void
put_data(struct rq *r, struct txn *t)
{
    struct lyd_node *tree = NULL, *res = NULL;
    bool owned = false, all = false;

    if (txn_tree(r->c, t, &tree, &owned, &r->err)) {
        return;
    }
    if (!apply_filter(r, child(r->op, "filter"), tree, &res, &all)) {
        uint32_t wd = wd_flags(r);
        size_t from;

        buf_append_str(&r->body, "<data>");
        from = r->body.len;
        if (ncm_print_xml(&r->body, all ? tree : res, wd | LYD_PRINT_SHRINK)) {
            cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        } else if (wd == LYD_PRINT_WD_ALL_TAG) {
            wd_tag_namespace(&r->body, from);
        }
        buf_append_str(&r->body, "</data>");
    }
    lyd_free_all(res);
    if (owned) {
        lyd_free_all(tree);
    }
}

static void
op_get_config(struct rq *r)
{
    enum chorus_db db;
    struct txn *t = NULL;

    if (which_db(r, child(r->op, "source"), &db, NULL)) {
        return;
    }
    if (txn_new(r->c, r->k->sess, db, false, &t, &r->err)) {
        return;
    }
    put_data(r, t);
    txn_free(r->c, t);
}

/* ---- ietf-netconf-monitoring and ietf-yang-library state ---- */

static void capabilities(struct core *c, struct buf *b);

static void
iso_time(time_t t, char *out, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool
is_ip(const char *s)
{
    unsigned char ip[16];

    return s && (inet_pton(AF_INET, s, ip) == 1 || inet_pton(AF_INET6, s, ip) == 1);
}

/* /netconf-state (RFC 6022: capabilities, datastores and their locks, schemas, sessions) and
 * /yang-library (RFC 8525), as top-level siblings; NULL on failure (logged). */
static struct lyd_node *
state_tree(struct nc_server *srv)
{
    struct core *c = srv->c;
    const struct lys_module *mon =
        ly_ctx_get_module_implemented(c->ctx, "ietf-netconf-monitoring");
    struct lyd_node *ns = NULL, *x, *list, *yl = NULL;
    struct buf caps = BUF_INIT;
    char tm[40], num[16];
    static const struct {
        enum chorus_db db;
        const char *name;
    } dss[] = {{CHORUS_DB_RUNNING, "running"},
               {CHORUS_DB_CANDIDATE, "candidate"},
               {CHORUS_DB_STARTUP, "startup"}};
    LY_ERR r = LY_SUCCESS;

    if (!mon || lyd_new_inner(NULL, mon, "netconf-state", 0, &ns)) {
        return NULL;
    }
    capabilities(c, &caps);
    r = lyd_new_inner(ns, NULL, "capabilities", 0, &x);
    for (const char *p = (const char *)caps.p; !r && caps.p && *p; p += strlen(p) + 1) {
        r = lyd_new_term(x, NULL, "capability", p, 0, NULL);
    }
    buf_free(&caps);
    if (!r) {
        r = lyd_new_inner(ns, NULL, "datastores", 0, &list);
    }
    for (size_t i = 0; !r && i < sizeof dss / sizeof dss[0]; i++) {
        struct lyd_node *d, *locks, *gl;
        const struct sess *h = c->locks[dss[i].db];

        if ((dss[i].db == CHORUS_DB_CANDIDATE && !c->cfg->candidate) ||
            (dss[i].db == CHORUS_DB_STARTUP && !c->cfg->startup)) {
            continue;
        }
        r = lyd_new_list(list, NULL, "datastore", 0, &d, dss[i].name);
        if (!r && h) {
            snprintf(num, sizeof num, "%u", h->id);
            iso_time(h->lock_time[dss[i].db], tm, sizeof tm);
            r = lyd_new_inner(d, NULL, "locks", 0, &locks);
            r = r ? r : lyd_new_inner(locks, NULL, "global-lock", 0, &gl);
            r = r ? r : lyd_new_term(gl, NULL, "locked-by-session", num, 0, NULL);
            r = r ? r : lyd_new_term(gl, NULL, "locked-time", tm, 0, NULL);
        }
    }
    if (!r) {
        r = lyd_new_inner(ns, NULL, "schemas", 0, &list);
    }
    for (size_t i = 0; !r && i < c->schema->nmods; i++) {
        const struct schema_mod *m = &c->schema->mods[i];
        const struct lys_module *lm;
        struct lyd_node *s;

        if (!m->file || !m->implemented ||
            !(lm = ly_ctx_get_module(c->ctx, m->name, m->revision))) {
            continue;
        }
        r = lyd_new_list(list, NULL, "schema", 0, &s, m->name, m->revision ? m->revision : "",
                         "ietf-netconf-monitoring:yang");
        r = r ? r : lyd_new_term(s, NULL, "namespace", lm->ns, 0, NULL);
        r = r ? r : lyd_new_term(s, NULL, "location", "NETCONF", 0, NULL);
    }
    if (!r) {
        r = lyd_new_inner(ns, NULL, "sessions", 0, &list);
    }
    for (struct ncs *k = srv->list; !r && k; k = k->next) {
        struct lyd_node *s;

        if (k->dead || !k->sess) {
            continue;
        }
        snprintf(num, sizeof num, "%u", k->sess->id);
        iso_time(k->sess->since, tm, sizeof tm);
        r = lyd_new_list(list, NULL, "session", 0, &s, num);
        if (!r && !k->tcp) {
            r = lyd_new_term(s, NULL, "transport", "ietf-netconf-monitoring:netconf-ssh", 0,
                             NULL);
        }
        r = r ? r : lyd_new_term(s, NULL, "username", k->sess->user, 0, NULL);
        if (!r && is_ip(k->sess->addr)) {
            r = lyd_new_term(s, NULL, "source-host", k->sess->addr, 0, NULL);
        }
        r = r ? r : lyd_new_term(s, NULL, "login-time", tm, 0, NULL);
    }
    if (!r && !ly_ctx_get_yanglib_data(c->ctx, &yl, "%s", c->schema->digest_hex)) {
        r = lyd_merge_siblings(&ns, yl, LYD_MERGE_DESTRUCT);
    }
    if (r) {
        LOGE("NETCONF: cannot build the monitoring state: %s",
             ly_err_last(c->ctx) ? ly_err_last(c->ctx)->msg : "error");
        lyd_free_all(ns);
        return NULL;
    }
    return ns;
}

/* put_data() of the operational datastore with @p extra (consumed) over it. */
static void
put_data_extra(struct rq *r, struct txn *t, struct lyd_node *extra)
{
    struct ed *x = NULL;

    if (extra) {
        if (!(x = ed_new(r->c->ctx))) {
            lyd_free_all(extra);
            cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            return;
        }
        if (ed_merge_tree(x, extra, &r->err)) {
            ed_free(x);
            return;
        }
    }
    t->oper_extra = x;
    put_data(r, t);
    t->oper_extra = NULL;
    ed_free(x);
}

/* A get waiting for the data providers' answers (sub.h). */
struct getreq {
    struct ncs *k;        /* NULL once the session is gone */
    struct lyd_node *rpc; /* a copy of the RPC, for its filter */
    uint32_t th;          /* its read transaction, in the session */
};

static void
get_done(void *arg, enum chorus_err rc, struct cerr *e, struct lyd_node *data)
{
    struct getreq *q = arg;
    struct ncs *k = q->k;
    struct rq r = {k, NULL, NULL, BUF_INIT, NULL, NULL, false};
    struct ed *extra = NULL;
    struct txn *t;

    if (!k) {
        lyd_free_siblings(data);
        lyd_free_all(q->rpc);
        free(q);
        return;
    }
    k->greq = NULL;
    r.c = k->srv->c;
    t = txn_find(r.c, k->sess, q->th);
    if (!rc && !t) {
        rc = cerr_add(&r.err, CHORUS_ERR_INTERNAL, NULL, NULL, "the read transaction went away");
        e = r.err;
    }
    if (rc) {
        lyd_free_siblings(data);
        reply_errors(k, e, NULL);
    } else {
        struct lyd_node *st = state_tree(k->srv);

        if (st && lyd_merge_siblings(&data, st, LYD_MERGE_DESTRUCT)) {
            lyd_free_all(st);
        }
        r.op = q->rpc;
        put_data_extra(&r, t, data);
        if (r.err) {
            reply_errors(k, r.err, NULL);
        } else {
            struct buf b = BUF_INIT;

            reply_begin(k, &b);
            buf_append(&b, r.body.p, r.body.len);
            reply_end(k, &b);
        }
    }
    lyd_free_all(q->rpc);
    free(q);
    ed_free(extra);
    cerr_free(r.err);
    buf_free(&r.body);
    txn_free(r.c, t);
    resume(k);
}

static void
op_get(struct rq *r)
{
    struct txn *t = NULL;
    struct lyd_node *keep = NULL;

    if (txn_new(r->c, r->k->sess, CHORUS_DB_OPERATIONAL, false, &t, &r->err)) {
        return;
    }
    if (sub_count(r->c, CHORUS_SUB_OPER)) {
        /* keep the RPC (its filter) until the providers answer */
        struct getreq *q = calloc(1, sizeof *q);

        if (!q || lyd_dup_single(r->op, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS, &keep)) {
            free(q);
            cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            txn_free(r->c, t);
            return;
        }
        while (keep->parent) {
            keep = lyd_parent(keep);
        }
        *q = (struct getreq){r->k, keep, t->th};
        r->k->greq = q;
        r->k->busy = true;
        if (sub_oper_get(r->c, r->k->sess, NULL, get_done, q)) {
            r->pending = true;
            return;
        }
        r->k->busy = false;
        r->k->greq = NULL;
        lyd_free_all(keep);
        free(q);
    }
    put_data_extra(r, t, state_tree(r->k->srv));
    txn_free(r->c, t);
}

/* ---- writes ---- */

static void
async_done(void *arg, enum chorus_err rc, struct cerr *e, uint64_t txid)
{
    struct ncs *k = arg;

    (void)txid;
    if (k->dead) {
        return;
    }
    if (k->t) {
        struct txn *t = k->t;

        k->t = NULL;
        t->cb = NULL;
        txn_free(k->srv->c, t);
    }
    if (k->pend_err) {
        struct cerr *all = k->pend_err;

        k->pend_err = NULL;
        cerr_copy(&all, e);
        reply_errors(k, all, NULL);
        cerr_free(all);
    } else if (rc) {
        reply_errors(k, e, NULL);
    } else {
        reply_ok(k);
    }
    resume(k);
}

/* The transaction of an RPC that commits asynchronously: finished by async_done(). */
static void
go_async(struct rq *r, struct txn *t)
{
    r->k->t = t;
    r->k->busy = true;
    r->pending = true;
}

static bool
has_op_below(const struct lyd_node *n)
{
    const struct lyd_node *x;

    LYD_TREE_DFS_BEGIN(n, x)
    {
        if (x != n && lyd_find_meta(x->meta, NULL, "ietf-netconf:operation")) {
            return true;
        }
        LYD_TREE_DFS_END(n, x);
    }
    return false;
}

/* Replacements and deletions, applied after the merges (a merge of an ancestor must not
 * undo them). */
struct deferred {
    char *path;
    struct lyd_node *content; /* replace: the new subtree; NULL: delete */
};

struct defer_list {
    struct deferred *v;
    size_t n;
};

static int
defer(struct defer_list *l, char *path, struct lyd_node *content)
{
    struct deferred *nv = realloc(l->v, (l->n + 1) * sizeof *nv);

    if (!nv) {
        free(path);
        lyd_free_tree(content);
        return -1;
    }
    l->v = nv;
    l->v[l->n++] = (struct deferred){path, content};
    return 0;
}

static void
defer_free(struct defer_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        lyd_free_tree(l->v[i].content);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* One node of <config> (RFC 6241 section 7.2), @p inh the operation it inherits. */
static enum chorus_err
edit_node(struct rq *r, struct txn *t, struct lyd_node *n, const char *inh,
          struct lyd_node **merge, struct defer_list *dl, bool cont)
{
    struct lyd_meta *m = lyd_find_meta(n->meta, NULL, "ietf-netconf:operation");
    const char *op = m ? lyd_get_meta_value(m) : inh;
    char *path = lyu_path(n);
    enum chorus_err rc = CHORUS_OK;
    bool x = false;

    if (!path) {
        return cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (lysc_is_key(n->schema)) {
        free(path);
        return CHORUS_OK; /* a key identifies its entry; it has no operation of its own */
    }
    if (!strcmp(op, "delete") || !strcmp(op, "remove")) {
        if ((rc = txn_exists(r->c, t, path, &x, &r->err))) {
            goto out;
        }
        if (!x) {
            if (!strcmp(op, "delete")) {
                rc = cerr_add(&r->err, CHORUS_ERR_NOTFOUND, path, "data-missing",
                              "delete: the node does not exist");
            }
            goto out;
        }
        if (defer(dl, path, NULL)) {
            rc = cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        path = NULL; /* owned by the list now */
        goto out;
    }
    if (!strcmp(op, "create")) {
        if ((rc = txn_exists(r->c, t, path, &x, &r->err))) {
            goto out;
        }
        if (x) {
            rc = cerr_add(&r->err, CHORUS_ERR_EXISTS, path, "data-exists",
                          "create: the node already exists");
            goto out;
        }
        op = "merge";
    }
    if (!strcmp(op, "replace")) {
        struct lyd_node *d = NULL;

        if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_NO_META, &d)) {
            rc = cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            goto out;
        }
        if (defer(dl, path, d)) {
            rc = cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        path = NULL;
        goto out;
    }
    if (!strcmp(op, "merge")) {
        /* the whole subtree, or, when its children carry operations of their own, the node
         * alone (it exists: merged) before them */
        bool whole = !has_op_below(n) || (n->schema->nodetype & LYD_NODE_TERM);

        if (lyu_merge_copy(merge, n, LYD_DUP_NO_META | (whole ? LYD_DUP_RECURSIVE : 0))) {
            rc = cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            goto out;
        }
        if (whole) {
            goto out;
        }
    } else if (strcmp(op, "none")) {
        rc = cerr_add(&r->err, CHORUS_ERR_INVAL, path, "bad-attribute",
                      "unknown operation \"%s\"", op);
        goto out;
    } else if (n->schema->nodetype & LYD_NODE_TERM) {
        goto out; /* a leaf under "none" without an operation changes nothing */
    }
    {
        struct lyd_node *ch;

        LY_LIST_FOR(lyd_child(n), ch)
        {
            enum chorus_err crc = edit_node(r, t, ch, op, merge, dl, cont);

            if (crc && !rc) {
                rc = crc;
            }
            if (crc && !cont) {
                break;
            }
        }
    }
out:
    free(path);
    return rc;
}

/* Whether the data tree of anydata @p any was parsed wholly against the schema (no opaque node),
 * holds configuration only, and starts at the top level. */
static bool
any_tree_clean(const struct lyd_node *any)
{
    const struct lyd_node_any *a = (const struct lyd_node_any *)any;
    const struct lyd_node *top, *x;

    if (a->value_type != LYD_ANYDATA_DATATREE || !a->value.tree) {
        return false;
    }
    LY_LIST_FOR(a->value.tree, top)
    {
        if (!top->schema || lysc_data_parent(top->schema)) {
            return false;
        }
        LYD_TREE_DFS_BEGIN(top, x)
        {
            if (!x->schema || (x->schema->flags & LYS_CONFIG_R) ||
                (x->schema->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF))) {
                return false;
            }
            LYD_TREE_DFS_END(top, x);
        }
    }
    return true;
}

/* Write <config> (the anydata of edit-config) into @p t. */
static enum chorus_err
edit_config_into(struct rq *r, struct txn *t, const struct lyd_node *config, const char *defop,
                 bool cont)
{
    char *xml = NULL;
    struct lyd_node *data = NULL, *merge = NULL, *n, *next;
    struct defer_list dl = {NULL, 0};
    enum chorus_err rc = CHORUS_OK, first = CHORUS_OK;

    /* The content is anydata. When libyang could parse all of it against the schema (no opaque
     * node: every element known, every value valid) and it holds configuration only, the tree
     * is taken as it is; otherwise it is printed and parsed again strictly, for the error. */
    if (any_tree_clean(config)) {
        struct lyd_node_any *a = (struct lyd_node_any *)config;

        data = a->value.tree;
        a->value.tree = NULL; /* taken: the RPC is freed without it */
        goto walk;
    }
    if (ncm_any_xml(config, &xml)) {
        return cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (xml && lyd_parse_data_mem(r->c->ctx, xml, LYD_XML,
                                  LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0,
                                  &data)) {
        free(xml);
        return lyu_err(&r->err, r->c->ctx, CHORUS_ERR_BADVALUE, NULL);
    }
    free(xml);
walk:
    LY_LIST_FOR_SAFE(data, next, n)
    {
        if (!strcmp(defop, "merge") && !lyd_find_meta(n->meta, NULL, "ietf-netconf:operation") &&
            !has_op_below(n)) {
            /* the common case, a plain merge of a whole subtree: moved, not copied */
            if (n == data) {
                data = n->next;
            }
            lyd_unlink_tree(n);
            if (lyd_merge_siblings(&merge, n, LYD_MERGE_DESTRUCT)) {
                lyd_free_tree(n);
                rc = cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
                if (!first) {
                    first = rc;
                }
                if (!cont) {
                    break;
                }
            }
            continue;
        }
        rc = edit_node(r, t, n, defop, &merge, &dl, cont);
        if (rc && !first) {
            first = rc;
        }
        if (rc && !cont) {
            break;
        }
    }
    lyd_free_all(data);
    if (merge && (!first || cont)) {
        rc = txn_merge(r->c, t, merge, &r->err);
        merge = NULL;
        if (rc && !first) {
            first = rc;
        }
    }
    for (size_t i = 0; i < dl.n && (!first || cont); i++) {
        struct deferred *d = &dl.v[i];

        rc = d->content ? txn_replace(r->c, t, d->path, d->content, &r->err)
                        : txn_delete(r->c, t, d->path, &r->err);
        d->content = NULL;
        if (rc && !first) {
            first = rc;
        }
    }
    defer_free(&dl);
    lyd_free_all(merge);
    return first;
}

static void
op_edit_config(struct rq *r)
{
    enum chorus_db db;
    const char *defop = child_value(r->op, "default-operation");
    const char *test = child_value(r->op, "test-option");
    const char *erropt = child_value(r->op, "error-option");
    struct lyd_node *config = child(r->op, "config");
    struct txn *t = NULL;
    bool cont = erropt && !strcmp(erropt, "continue-on-error");
    enum chorus_err rc;

    if (which_db(r, child(r->op, "target"), &db, NULL)) {
        return;
    }
    if (!config) {
        if (child(r->op, "url")) {
            cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                     "the :url capability is not supported");
        } else {
            cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "missing-element", "no <config> given");
            r->info = "<bad-element>config</bad-element>";
        }
        return;
    }
    if (db == CHORUS_DB_STARTUP) {
        cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                 "edit-config cannot target startup: use copy-config");
        return;
    }
    if (txn_new(r->c, r->k->sess, db, true, &t, &r->err)) {
        return;
    }
    rc = edit_config_into(r, t, config, defop ? defop : "merge", cont);
    if (rc && !cont) {
        txn_free(r->c, t);
        return;
    }
    if (test && !strcmp(test, "test-only")) {
        go_async(r, t);
        txn_check(r->c, t, async_done, r->k);
        return;
    }
    if (r->err) {
        /* continue-on-error: what succeeded is applied; the errors are the answer */
        r->k->pend_err = r->err;
        r->err = NULL;
    }
    go_async(r, t);
    txn_apply(r->c, t, async_done, r->k);
}

/* copy-config: target running, candidate or startup, from another datastore or <config>. */
static void
op_copy_config(struct rq *r)
{
    enum chorus_db dst, src;
    struct lyd_node *config = NULL, *tree = NULL;
    struct txn *t = NULL, *s = NULL;
    char *xml = NULL;
    bool owned = false;

    if (which_db(r, child(r->op, "target"), &dst, NULL) ||
        which_db(r, child(r->op, "source"), &src, &config)) {
        return;
    }
    if (!config && src == dst) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "copy-config: source and target are the same datastore");
        return;
    }
    if (config) {
        if (ncm_any_xml(config, &xml)) {
            cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            return;
        }
    } else {
        if (txn_new(r->c, r->k->sess, src, false, &s, &r->err) ||
            txn_tree(r->c, s, &tree, &owned, &r->err)) {
            txn_free(r->c, s);
            return;
        }
        xml = tree ? ncm_xml_string(tree, LYD_PRINT_SHRINK) : NULL;
        if (owned) {
            lyd_free_all(tree);
        }
        txn_free(r->c, s);
    }
    if (txn_new(r->c, r->k->sess, dst, true, &t, &r->err) ||
        txn_edit(r->c, t, CHORUS_EDIT_REPLACE_ALL, CHORUS_FMT_XML, xml ? xml : "",
                 xml ? strlen(xml) : 0, &r->err)) {
        free(xml);
        txn_free(r->c, t);
        return;
    }
    free(xml);
    go_async(r, t);
    txn_apply(r->c, t, async_done, r->k);
}

static void
op_delete_config(struct rq *r)
{
    enum chorus_db db;
    struct txn *t = NULL;

    if (which_db(r, child(r->op, "target"), &db, NULL)) {
        return;
    }
    if (db != CHORUS_DB_STARTUP) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "delete-config: only the startup datastore can be deleted");
        return;
    }
    if (txn_new(r->c, r->k->sess, db, true, &t, &r->err) ||
        txn_edit(r->c, t, CHORUS_EDIT_REPLACE_ALL, CHORUS_FMT_XML, "", 0, &r->err)) {
        txn_free(r->c, t);
        return;
    }
    go_async(r, t);
    txn_apply(r->c, t, async_done, r->k);
}

static void
op_lock(struct rq *r, bool lock)
{
    enum chorus_db db;
    enum chorus_err rc;

    if (which_db(r, child(r->op, "target"), &db, NULL)) {
        return;
    }
    rc = lock ? sess_lock(r->c, r->k->sess, db, &r->err)
              : sess_unlock(r->c, r->k->sess, db, &r->err);
    if (rc == CHORUS_ERR_LOCKED && r->c->locks[db] && r->c->locks[db] != r->k->sess) {
        static char info[64];

        snprintf(info, sizeof info, "<session-id>%u</session-id>", r->c->locks[db]->id);
        r->info = info;
    } else if (rc == CHORUS_ERR_LOCKED) {
        r->info = "<session-id>0</session-id>";
    }
}

static void
op_commit(struct rq *r)
{
    const char *pid = child_value(r->op, "persist-id");

    if (child(r->op, "confirmed")) {
        const char *tmo = child_value(r->op, "confirm-timeout");

        r->k->busy = true;
        r->pending = true;
        txn_confirmed_commit(r->c, r->k->sess, tmo ? (uint32_t)strtoul(tmo, NULL, 10) : 600,
                             child_value(r->op, "persist"), pid, async_done, r->k);
        return;
    }
    r->k->busy = true;
    r->pending = true;
    txn_confirming_commit(r->c, r->k->sess, pid, async_done, r->k);
}

static void
op_cancel_commit(struct rq *r)
{
    r->k->busy = true;
    r->pending = true;
    txn_cancel_commit(r->c, r->k->sess, child_value(r->op, "persist-id"), async_done, r->k);
}

static void
op_discard(struct rq *r)
{
    txn_candidate_discard(r->c, r->k->sess, &r->err);
}

static void
op_validate(struct rq *r)
{
    enum chorus_db db;
    struct lyd_node *config = NULL;
    struct txn *t = NULL;

    if (which_db(r, child(r->op, "source"), &db, &config)) {
        return;
    }
    if (db == CHORUS_DB_STARTUP) {
        cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                 "validate of startup is not supported");
        return;
    }
    if (txn_new(r->c, r->k->sess, config ? CHORUS_DB_RUNNING : db, true, &t, &r->err)) {
        return;
    }
    if (config) {
        char *xml = NULL;

        if (ncm_any_xml(config, &xml) ||
            txn_edit(r->c, t, CHORUS_EDIT_REPLACE_ALL, CHORUS_FMT_XML, xml ? xml : "",
                     xml ? strlen(xml) : 0, &r->err)) {
            if (!r->err) {
                cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
            free(xml);
            txn_free(r->c, t);
            return;
        }
        free(xml);
    }
    go_async(r, t);
    txn_check(r->c, t, async_done, r->k);
}

static struct ncs *
find_session(struct nc_server *srv, uint32_t id)
{
    for (struct ncs *k = srv->list; k; k = k->next) {
        if (!k->dead && k->sess && k->sess->id == id) {
            return k;
        }
    }
    return NULL;
}

static void
op_kill_session(struct rq *r)
{
    const char *v = child_value(r->op, "session-id");
    uint32_t id = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    struct ncs *o;

    if (id == r->k->sess->id) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "kill-session: use close-session to end this session");
        return;
    }
    o = find_session(r->k->srv, id);
    if (!o) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "kill-session: no NETCONF session %u", id);
        return;
    }
    LOG(LL_INFO, (&(struct log_tag){r->k->sess->id, r->k->sess->user, "netconf", 0}),
        "killed NETCONF session %u", id);
    ncs_close(o);
}

static void
op_get_schema(struct rq *r)
{
    const char *id = child_value(r->op, "identifier");
    const char *ver = child_value(r->op, "version");
    const char *fmt = child_value(r->op, "format");
    const struct schema *sc = r->c->schema;
    char *text = NULL;
    size_t len = 0;

    if (fmt && !strstr(fmt, "yang")) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "get-schema: only the YANG format is served");
        return;
    }
    for (size_t i = 0; id && i < sc->nmods; i++) {
        const struct schema_mod *m = &sc->mods[i];

        if (strcmp(m->name, id) || (ver && *ver && (!m->revision || strcmp(ver, m->revision)))) {
            continue;
        }
        if (!m->file || read_file(m->file, &text, &len)) {
            break;
        }
        buf_append_str(&r->body, "<data xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-"
                                 "monitoring\">");
        xml_esc(&r->body, text, false);
        buf_append_str(&r->body, "</data>");
        free(text);
        return;
    }
    cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value", "get-schema: no module %s%s%s",
             id ? id : "", ver && *ver ? "@" : "", ver && *ver ? ver : "");
}

/* ---- RPCs and actions of other modules: the applications' handlers (sub.h) ---- */

struct rpcreq {
    struct ncs *k; /* NULL once the session is gone */
};

static void
app_rpc_done(void *arg, enum chorus_err rc, struct cerr *e, const char *data, size_t len)
{
    struct rpcreq *q = arg;
    struct ncs *k = q->k;
    struct core *c;
    struct cerr *err = NULL;
    struct lyd_node *tree = NULL, *op = NULL;
    struct ly_in *in = NULL;
    struct buf b = BUF_INIT;

    free(q);
    if (!k) {
        return;
    }
    k->rreq = NULL;
    c = k->srv->c;
    if (!rc && data && len) {
        if (ly_in_new_memory(data, &in) ||
            lyd_parse_op(c->ctx, NULL, in, LYD_JSON, LYD_TYPE_REPLY_YANG, &tree, &op) || !op) {
            rc = lyu_err(&err, c->ctx, CHORUS_ERR_INTERNAL, NULL);
            cerr_prefix(err, "the handler's output does not parse");
        } else if (lyd_validate_op(tree, c->running, LYD_TYPE_REPLY_YANG, NULL)) {
            rc = lyu_err(&err, c->ctx, CHORUS_ERR_INTERNAL, NULL);
            cerr_prefix(err, "the handler's output is not valid");
        }
        ly_in_free(in, 0);
    }
    if (rc) {
        reply_errors(k, err ? err : e, NULL);
    } else if (!op || !lyd_child(op)) {
        reply_ok(k);
    } else {
        char *text = NULL;

        reply_begin(k, &b);
        if (!lyd_print_mem(&text, lyd_child(op), LYD_XML, LYD_PRINT_WITHSIBLINGS) && text) {
            buf_append_str(&b, text);
        }
        free(text);
        reply_end(k, &b);
    }
    lyd_free_all(tree);
    cerr_free(err);
    resume(k);
}

static void
op_app_rpc(struct rq *r)
{
    struct rpcreq *q;
    struct lyd_node *top = r->op;

    while (lyd_parent(top)) {
        top = lyd_parent(top);
    }
    core_running(r->c, NULL);
    if (lyd_validate_op(top, r->c->running, LYD_TYPE_RPC_YANG, NULL)) {
        lyu_err(&r->err, r->c->ctx, CHORUS_ERR_VALIDATION, NULL);
        cerr_prefix(r->err, "invalid input");
        return;
    }
    q = calloc(1, sizeof *q);
    if (!q) {
        cerr_add(&r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        return;
    }
    q->k = r->k;
    if (sub_rpc(r->c, r->k->sess, r->op, app_rpc_done, q, &r->err)) {
        free(q);
        return;
    }
    r->k->rreq = q;
    r->k->busy = true;
    r->pending = true;
}

/* ---- notifications (RFC 5277, RFC 6470) ---- */

static void
op_create_subscription(struct rq *r)
{
    const char *stream = child_value(r->op, "stream");

    if (stream && strcmp(stream, "NETCONF")) {
        cerr_add(&r->err, CHORUS_ERR_INVAL, NULL, "invalid-value",
                 "create-subscription: no stream \"%s\" (there is NETCONF)", stream);
    } else if (child(r->op, "startTime")) {
        cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-failed",
                 "create-subscription: replay is not supported (no startTime)");
    } else if (child(r->op, "filter")) {
        cerr_add(&r->err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-failed",
                 "create-subscription: filters are not supported yet");
    } else if (r->k->notif) {
        cerr_add(&r->err, CHORUS_ERR_STATE, NULL, "operation-failed",
                 "create-subscription: this session is already subscribed");
    } else {
        r->k->notif = true;
    }
}

static bool
notif_wanted(void *arg)
{
    struct nc_server *srv = arg;

    for (struct ncs *k = srv->list; k; k = k->next) {
        if (k->notif && !k->dead) {
            return true;
        }
    }
    return false;
}

#define MAX_EDITS 1000

/* netconf-config-change edits: the nodes of the diff with an operation of their own. */
static void
put_edits(struct core *c, struct buf *b, const struct lyd_node *diff)
{
    const struct lyd_node *top, *x;
    size_t n = 0;

    LY_LIST_FOR(diff, top)
    {
        LYD_TREE_DFS_BEGIN(top, x)
        {
            struct lyd_meta *m = lyd_find_meta(x->meta, NULL, "yang:operation");
            const char *op = m ? lyd_get_meta_value(m) : NULL;

            if (op && strcmp(op, "none")) {
                char *p = lyd_path(x, LYD_PATH_STD, NULL, 0);

                if (p && n < MAX_EDITS) {
                    buf_append_str(b, "<edit>");
                    put_path_elem(c, b, "target", p);
                    buf_printf(b, "<operation>%s</operation></edit>", op);
                }
                free(p);
                n++;
                LYD_TREE_DFS_continue = 1; /* its subtree is part of this edit */
            }
            LYD_TREE_DFS_END(top, x);
        }
    }
}

/* After a commit to running: netconf-config-change to the subscribed sessions. */
static void
notif_commit(void *arg, struct txn *t)
{
    struct nc_server *srv = arg;
    struct core *c = srv->c;
    struct buf b = BUF_INIT;
    char when[40];
    struct timespec ts;
    struct tm tm;
    unsigned char ip[16];

    if (!notif_wanted(srv)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(&b,
               "<notification xmlns=\"urn:ietf:params:xml:ns:netconf:notification:1.0\">"
               "<eventTime>%s.%03ldZ</eventTime><netconf-config-change xmlns=\"urn:ietf:"
               "params:xml:ns:yang:ietf-netconf-notifications\"><changed-by><username>",
               when, ts.tv_nsec / 1000000);
    xml_esc(&b, t->sess->user, false);
    buf_printf(&b, "</username><session-id>%u</session-id>", t->sess->id);
    if (t->sess->addr && (inet_pton(AF_INET, t->sess->addr, ip) == 1 ||
                          inet_pton(AF_INET6, t->sess->addr, ip) == 1)) {
        buf_printf(&b, "<source-host>%s</source-host>", t->sess->addr);
    }
    buf_append_str(&b, "</changed-by><datastore>running</datastore>");
    put_edits(c, &b, sub_txn_get_diff(t));
    buf_append_str(&b, "</netconf-config-change></notification>");
    for (struct ncs *k = srv->list; k; k = k->next) {
        if (k->notif && !k->dead && !k->closing) {
            send_msg(k, &b);
            flush(k);
        }
    }
    buf_free(&b);
}

/* ---- messages ---- */

/* The attributes of <rpc> copied to <rpc-reply> (RFC 6241 section 4.2). */
static char *
reply_attrs(const struct lyd_node *env)
{
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)env;
    struct buf b = BUF_INIT;

    for (const struct lyd_attr *a = o->attr; a; a = a->next) {
        if (a->name.prefix) {
            buf_printf(&b, " xmlns:%s=\"", a->name.prefix);
            xml_esc(&b, a->name.module_ns, true);
            buf_printf(&b, "\" %s:", a->name.prefix);
        } else {
            buf_append_str(&b, " ");
        }
        buf_printf(&b, "%s=\"", a->name.name);
        xml_esc(&b, a->value, true);
        buf_append_str(&b, "\"");
    }
    return buf_ok(&b) ? buf_steal_str(&b) : NULL;
}

static bool
has_message_id(const struct lyd_node *env)
{
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)env;

    for (const struct lyd_attr *a = o->attr; a; a = a->next) {
        if (!a->name.prefix && !strcmp(a->name.name, "message-id")) {
            return true;
        }
    }
    return false;
}

static void
handle_rpc(struct ncs *k, const char *msg, size_t len)
{
    struct core *c = k->srv->c;
    struct ly_in *in = NULL;
    struct lyd_node *env = NULL, *op = NULL;
    struct rq r = {k, c, NULL, BUF_INIT, NULL, NULL, false};
    const char *name;

    (void)len;
    if (ly_in_new_memory(msg, &in)) {
        k->closing = true;
        return;
    }
    core_running(c, NULL);
    if (lyd_parse_op(c->ctx, NULL, in, LYD_XML, LYD_TYPE_RPC_NETCONF, &env, &op) || !op) {
        struct cerr *pe = NULL;
        bool unknown;

        lyu_err(&pe, c->ctx, CHORUS_ERR_PROTO, NULL);
        unknown = pe && pe->msg &&
                  (strstr(pe->msg, "not found") || strstr(pe->msg, "nknown") ||
                   strstr(pe->msg, "No module"));
        ly_in_free(in, 0);
        k->attrs = env ? reply_attrs(env) : ncm_message_id(msg);
        reply_error(k, unknown ? "protocol" : "rpc",
                    unknown ? "operation-not-supported" : "malformed-message",
                    pe ? pe->path : NULL, pe && pe->msg ? pe->msg : "malformed message", NULL);
        cerr_free(pe);
        lyd_free_all(env);
        lyd_free_all(op);
        return;
    }
    ly_in_free(in, 0);
    k->attrs = reply_attrs(env);
    if (!has_message_id(env)) {
        reply_error(k, "rpc", "missing-attribute", NULL, "the rpc has no message-id attribute",
                    "<bad-attribute>message-id</bad-attribute><bad-element>rpc</bad-element>");
        lyd_free_all(env);
        lyd_free_all(op);
        return;
    }
    r.op = op;
    name = op->schema->name;
    if (!strcmp(op->schema->module->name, "ietf-netconf")) {
        if (!strcmp(name, "get-config")) {
            op_get_config(&r);
        } else if (!strcmp(name, "get")) {
            op_get(&r);
        } else if (!strcmp(name, "edit-config")) {
            op_edit_config(&r);
        } else if (!strcmp(name, "copy-config")) {
            op_copy_config(&r);
        } else if (!strcmp(name, "delete-config")) {
            op_delete_config(&r);
        } else if (!strcmp(name, "lock") || !strcmp(name, "unlock")) {
            op_lock(&r, !strcmp(name, "lock"));
        } else if (!strcmp(name, "close-session")) {
            k->closing = true;
        } else if (!strcmp(name, "kill-session")) {
            op_kill_session(&r);
        } else if (!strcmp(name, "commit")) {
            op_commit(&r);
        } else if (!strcmp(name, "cancel-commit")) {
            op_cancel_commit(&r);
        } else if (!strcmp(name, "discard-changes")) {
            op_discard(&r);
        } else if (!strcmp(name, "validate")) {
            op_validate(&r);
        } else {
            cerr_add(&r.err, CHORUS_ERR_UNSUPPORTED, NULL, "operation-not-supported",
                     "%s is not supported", name);
        }
    } else if (!strcmp(op->schema->module->name, "ietf-netconf-monitoring") &&
               !strcmp(name, "get-schema")) {
        op_get_schema(&r);
    } else if (!strcmp(op->schema->module->name, "notifications") &&
               !strcmp(name, "create-subscription")) {
        op_create_subscription(&r);
    } else {
        /* an RPC or action of another module: its application handler answers */
        struct lyd_node *opn = op;

        /* the operation itself (an action is inside its parents) */
        while (opn && !(opn->schema->nodetype & (LYS_RPC | LYS_ACTION))) {
            opn = lyd_child(opn);
            while (opn && opn->schema && lysc_is_key(opn->schema)) {
                opn = opn->next;
            }
        }
        if (opn && r.op != opn) {
            r.op = opn;
        }
        op_app_rpc(&r);
    }
    if (!r.pending) {
        if (r.err) {
            reply_errors(k, r.err, r.info);
        } else if (r.body.len) {
            struct buf b = BUF_INIT;

            reply_begin(k, &b);
            buf_append(&b, r.body.p, r.body.len);
            reply_end(k, &b);
        } else {
            reply_ok(k);
        }
    }
    cerr_free(r.err);
    buf_free(&r.body);
    lyd_free_all(env);
    lyd_free_all(op); /* the operation is a tree of its own, not inside the envelope */
}

/* The client's <hello>: its capabilities decide the framing; a session-id in it is an error. */
static void
handle_hello(struct ncs *k, const char *msg)
{
    bool b10 = false, b11 = false;
    const char *why = NULL;

    if (ncm_hello(msg, &b10, &b11, &why)) {
        LOGW("NETCONF session from %s: %s; closed", k->peer, why);
        k->closing = true;
        return;
    }
    k->hello = true;
    if (b11) {
        ncf_set_mode(&k->dec, NCF_CHUNKED);
        k->out_mode = NCF_CHUNKED;
    }
}

/* ---- sessions ---- */

#define CAP "urn:ietf:params:netconf:capability:"

/* The capabilities of the server, as text (NUL-separated, ending with an empty string). */
static void
capabilities(struct core *c, struct buf *b)
{
    const struct cfg *cf = c->cfg;
    uint32_t idx = 0;
    const struct lys_module *m;
    static const char *const always[] = {
        NC_BASE10,
        NC_BASE11,
        CAP "rollback-on-error:1.0",
        CAP "validate:1.0",
        CAP "validate:1.1",
        CAP "xpath:1.0",
        CAP "with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,"
            "trim",
        CAP "notification:1.0",
        CAP "interleave:1.0"};

    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++) {
        buf_append(b, always[i], strlen(always[i]) + 1);
    }
    if (cf->running_access != CFG_RUNNING_VIA_CANDIDATE) {
        buf_append(b, CAP "writable-running:1.0", sizeof CAP "writable-running:1.0");
    }
    if (cf->candidate) {
        buf_append(b, CAP "candidate:1.0", sizeof CAP "candidate:1.0");
        if (cf->confirmed_commit) {
            buf_append(b, CAP "confirmed-commit:1.0", sizeof CAP "confirmed-commit:1.0");
            buf_append(b, CAP "confirmed-commit:1.1", sizeof CAP "confirmed-commit:1.1");
        }
    }
    if (cf->startup) {
        buf_append(b, CAP "startup:1.0", sizeof CAP "startup:1.0");
    }
    while ((m = ly_ctx_get_module_iter(c->ctx, &idx))) {
        uint32_t fi = 0;
        const struct lysp_feature *f = NULL;
        bool first = true;

        if (!m->implemented) {
            continue;
        }
        buf_printf(b, "%s?module=%s", m->ns, m->name);
        if (m->revision) {
            buf_printf(b, "&revision=%s", m->revision);
        }
        while (m->parsed && (f = lysp_feature_next(f, m->parsed, &fi))) {
            if (f->flags & LYS_FENABLED) {
                buf_printf(b, "%s%s", first ? "&features=" : ",", f->name);
                first = false;
            }
        }
        buf_append(b, "", 1);
    }
    buf_append(b, "", 1);
}

static void
send_hello(struct ncs *k)
{
    struct core *c = k->srv->c;
    struct buf b = BUF_INIT, caps = BUF_INIT;

    capabilities(c, &caps);
    buf_append_str(&b, "<hello xmlns=\"" NC_NS "\"><capabilities>");
    for (const char *p = (const char *)caps.p; caps.p && *p; p += strlen(p) + 1) {
        buf_append_str(&b, "<capability>");
        xml_esc(&b, p, false);
        buf_append_str(&b, "</capability>");
    }
    buf_free(&caps);
    buf_printf(&b, "</capabilities><session-id>%u</session-id></hello>", k->sess->id);
    send_msg(k, &b);
    buf_free(&b);
    flush(k);
}

static void idle_fire(void *arg);

static void
idle_arm(struct ncs *k)
{
    struct core *c = k->srv->c;

    if (k->idle) {
        ev_timer_cancel(c->ev, k->idle);
        k->idle = NULL;
    }
    if (c->cfg->nc_idle_timeout && !k->dead) {
        k->idle = ev_timer(c->ev, (uint64_t)c->cfg->nc_idle_timeout * 1000, idle_fire, k);
    }
}

static void
idle_fire(void *arg)
{
    struct ncs *k = arg;

    k->idle = NULL;
    if (k->busy) {
        idle_arm(k); /* an RPC in progress is not idleness */
        return;
    }
    LOGI("NETCONF session %u (%s) closed: idle for %u s (netconf/idle-timeout)",
         k->sess ? k->sess->id : 0, k->peer, k->srv->c->cfg->nc_idle_timeout);
    ncs_close(k);
}

/* The plain-TCP header "[USER;ADDRESS;...]\n"; returns bytes consumed, 0 to wait, -1 error. */
static long
tcp_header(struct ncs *k, const uint8_t *p, size_t len)
{
    const uint8_t *nl;
    char line[TCP_HDR_MAX + 1], *user, *addr, *semi;

    if (!len || p[0] != '[') {
        return 0;
    }
    nl = memchr(p, '\n', len < TCP_HDR_MAX ? len : TCP_HDR_MAX);
    if (!nl) {
        return len >= TCP_HDR_MAX ? -1 : -2;
    }
    memcpy(line, p, (size_t)(nl - p));
    line[nl - p] = 0;
    user = line + 1;
    if (!(semi = strchr(user, ';'))) {
        return -1;
    }
    *semi = 0;
    addr = semi + 1;
    if ((semi = strpbrk(addr, ";]"))) {
        *semi = 0;
    }
    if (!*user) {
        return -1;
    }
    free(k->sess->user);
    k->sess->user = strdup(user);
    if (*addr) {
        free(k->sess->addr);
        k->sess->addr = strdup(addr);
    }
    return (long)(nl - p) + 1;
}

/* Handle the complete messages buffered, as long as no RPC waits. */
static void
process(struct ncs *k)
{
    k->processing = true;
    while (!k->busy && !k->closing && !k->dead && k->in.len) {
        size_t used = 0;
        enum ncf_res res;

        if (k->tcp && !k->hdr_done) {
            long h = tcp_header(k, k->in.p, k->in.len);

            if (h == -2) {
                break; /* wait for the rest of the header */
            }
            if (h < 0) {
                LOGW("NETCONF over TCP from %s: malformed [user;address;...] header; closed",
                     k->peer);
                k->closing = true;
                break;
            }
            buf_consume(&k->in, (size_t)h);
            k->hdr_done = true;
            continue;
        }
        res = ncf_feed(&k->dec, k->in.p, k->in.len, &used);
        buf_consume(&k->in, used);
        if (res == NCF_ERROR) {
            LOGW("NETCONF session %u (%s) closed: %s", k->sess->id, k->peer, ncf_error(&k->dec));
            k->closing = true;
            break;
        }
        if (res == NCF_NEED_MORE) {
            break;
        }
        {
            size_t mlen;
            const char *msg = ncf_message(&k->dec, &mlen);

            if (!k->hello) {
                handle_hello(k, msg);
            } else {
                handle_rpc(k, msg, mlen);
            }
        }
    }
    k->processing = false;
    if (!k->dead) {
        flush(k);
    }
}

static void
ncs_free(struct ncs *k)
{
    ncf_done(&k->dec);
    buf_free(&k->in);
    buf_free(&k->out);
    free(k->attrs);
    free(k);
}

static void
reap(struct nc_server *srv)
{
    for (struct ncs **pp = &srv->list; *pp;) {
        struct ncs *k = *pp;

        if (k->dead && !k->processing) {
            *pp = k->next;
            ncs_free(k);
        } else {
            pp = &k->next;
        }
    }
}

static void
ncs_close(struct ncs *k)
{
    struct core *c = k->srv->c;

    if (k->dead) {
        return;
    }
    k->dead = true;
    if (k->idle) {
        ev_timer_cancel(c->ev, k->idle);
        k->idle = NULL;
    }
    ev_del(c->ev, k->fd);
    close(k->fd);
    k->fd = -1;
    if (k->t) {
        k->t->cb = NULL;
        k->t = NULL; /* freed with the session's transactions */
    }
    if (k->greq) {
        k->greq->k = NULL; /* freed when the providers have answered */
        k->greq = NULL;
    }
    if (k->rreq) {
        k->rreq->k = NULL; /* freed when the handler has answered */
        k->rreq = NULL;
    }
    cerr_free(k->pend_err);
    k->pend_err = NULL;
    if (k->sess) {
        LOG(LL_INFO, (&(struct log_tag){k->sess->id, k->sess->user, k->sess->context, 0}),
            "NETCONF session ended (%s)", k->peer);
        sess_end(c, k->sess); /* aborts its transactions, releases its locks */
        k->sess = NULL;
    }
    k->srv->n--;
}

static void
on_ncs(void *arg, int fd, uint32_t events)
{
    struct ncs *k = arg;
    struct nc_server *srv = k->srv;

    (void)fd;
    if ((events & EV_HUP) && k->busy && !k->dead) {
        ncs_close(k);
    }
    if ((events & EV_WRITE) && !k->dead) {
        flush(k);
    }
    if ((events & EV_READ) && !k->dead && !k->busy && !k->closing) {
        if (buf_read_fd(&k->in, k->fd, READ_CHUNK) <= 0) {
            ncs_close(k); /* end of file, a read error, or no memory for the input */
        }
        if (!k->dead) {
            idle_arm(k);
            process(k);
        }
    }
    reap(srv);
}

/* A new transport connection (TCP, or a socketpair from the SSH thread). */
static void
ncs_new(struct nc_server *srv, int fd, const char *user, const char *peer, bool tcp)
{
    struct core *c = srv->c;
    struct ncs *k;
    struct cerr *e = NULL;

    if (srv->n >= c->cfg->nc_max_sessions) {
        LOGW("NETCONF session from %s refused: netconf/max-sessions (%u) reached", peer,
             c->cfg->nc_max_sessions);
        close(fd);
        return;
    }
    k = calloc(1, sizeof *k);
    if (!k || sess_new(c, user, "netconf", NULL, 0, peer, &k->sess, &e)) {
        LOGW("NETCONF session from %s refused: %s", peer, e && e->msg ? e->msg : "out of memory");
        cerr_free(e);
        free(k);
        close(fd);
        return;
    }
    k->sess->northbound = true;
    k->srv = srv;
    k->fd = fd;
    k->tcp = tcp;
    snprintf(k->peer, sizeof k->peer, "%s", peer);
    ncf_init(&k->dec, NCF_EOM, c->cfg->nc_max_msg);
    k->out_mode = NCF_EOM;
    if (ev_add(c->ev, fd, EV_READ | EV_HUP, on_ncs, k)) {
        sess_end(c, k->sess);
        ncs_free(k);
        close(fd);
        return;
    }
    k->next = srv->list;
    srv->list = k;
    srv->n++;
    LOG(LL_INFO, (&(struct log_tag){k->sess->id, k->sess->user, "netconf", 0}),
        "NETCONF session from %s over %s", peer, tcp ? "TCP" : "SSH");
    send_hello(k);
    idle_arm(k);
}

static void
on_tcp_accept(void *arg, int lfd, uint32_t events)
{
    struct nc_server *srv = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd, one = 1;

    (void)events;
    while ((fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        char peer[64] = "?";

        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, sizeof peer);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, sizeof peer);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ncs_new(srv, fd, "netconf", peer, true);
        sl = sizeof ss;
    }
}

static void
on_ssh_channel(void *arg, int fd, const char *user, const char *peer)
{
    ncs_new(arg, fd, user, peer, false);
}

static int
listen_tcp(const char *addr, uint16_t port, struct cerr **e)
{
    int fd = tcp_listen(addr, port, 64);

    if (fd == -EINVAL) {
        cerr_add(e, CHORUS_ERR_INVAL, NULL, NULL, "NETCONF TCP address %s is not an IP address",
                 addr);
    } else if (fd < 0) {
        cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot listen on %s port %u (netconf/tcp): %s",
                 addr, port, strerror(-fd));
    }
    return fd < 0 ? -1 : fd;
}

/* Phase 2: the northbound interfaces open. */
static void
phase2(void *arg)
{
    struct nc_server *srv = arg;
    struct core *c = srv->c;

    srv->pw = NULL;
    if (srv->tcp_fd >= 0 && !ev_add(c->ev, srv->tcp_fd, EV_READ, on_tcp_accept, srv)) {
        srv->listening = true;
    }
}

enum chorus_err
nc_start(struct core *c, struct nc_server **ret_srv, struct cerr **e)
{
    struct nc_server *srv;
    bool done = false;

    *ret_srv = NULL;
    if (!c->cfg->nc_enabled) {
        return CHORUS_OK;
    }
    srv = calloc(1, sizeof *srv);
    if (!srv) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    srv->c = c;
    srv->tcp_fd = -1;
    if (c->cfg->nc_tcp_enabled) {
        srv->tcp_fd = listen_tcp(c->cfg->nc_tcp_addr, c->cfg->nc_tcp_port, e);
        if (srv->tcp_fd < 0) {
            free(srv);
            return CHORUS_ERR_IO;
        }
    }
    if (c->cfg->nc_ssh_enabled) {
        struct cerr *se = NULL;
        enum chorus_err rc = nc_ssh_start(c, on_ssh_channel, srv, &srv->ssh, &se);

        if (rc == CHORUS_ERR_UNSUPPORTED) {
            LOGW("%s", se && se->msg ? se->msg : "NETCONF over SSH is not available");
            cerr_free(se);
        } else if (rc) {
            cerr_move(e, &se);
            nc_stop(srv);
            return rc;
        }
    }
    c->commit_hook = notif_commit;
    c->commit_hook_wants = notif_wanted;
    c->commit_hook_arg = srv;
    srv->pw = core_wait_phase(c, 2, phase2, srv, &done);
    if (done) {
        phase2(srv);
    }
    *ret_srv = srv;
    return CHORUS_OK;
}

void
nc_stop(struct nc_server *srv)
{
    if (!srv) {
        return;
    }
    for (struct ncs *k = srv->list; k; k = k->next) {
        if (!k->dead) {
            flush(k);
            ncs_close(k);
        }
    }
    reap(srv);
    if (srv->pw) {
        core_cancel_wait(srv->c, srv->pw);
    }
    nc_ssh_stop(srv->ssh);
    if (srv->c->commit_hook_arg == srv) {
        srv->c->commit_hook = NULL;
        srv->c->commit_hook_wants = NULL;
        srv->c->commit_hook_arg = NULL;
    }
    if (srv->tcp_fd >= 0) {
        if (srv->listening) {
            ev_del(srv->c->ev, srv->tcp_fd);
        }
        close(srv->tcp_fd);
    }
    free(srv);
}

unsigned
nc_sessions(const struct nc_server *srv)
{
    return srv ? srv->n : 0;
}
