/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorusctl: the scripting tool for chorusd (reads, writes, load/save, validation, start
 * phases, rollback, status). Each invocation runs one command: connect, start a user session,
 * do the work, end the session, disconnect. Manual: docs/chorusctl.md.
 *
 * Commands are rows of one table (name, operands, options, handler, help); the option letters
 * a command accepts are parsed by one shared getopt loop into struct opts.
 *
 * Exit codes: 0 success, 1 an error reported by chorusd, libchorus or the system (every error
 * item is printed to stderr), 2 usage error, 3 cannot connect.
 */
#include <errno.h>
#include <inttypes.h>
#include <libyang/libyang.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chorus/chorus.h"
#include "chorus/mgmt.h"
#include "chorus/sub.h"
#include "common/buf.h"
#include "common/util.h"

#define PROG "chorusctl"

enum { CTL_OK = 0, CTL_ERR = 1, CTL_USAGE = 2, CTL_CONN = 3 };

/* Global state: connection parameters and the open connection. */
struct ctl {
    char *target;
    const char *user;
    const char *context;
    enum chorus_db db; /* datastore for writes */
    uint32_t timeout_s;
    struct chorus_conn *conn;
    int session; /* a user session is open */
    int stopped; /* the daemon was told to stop; do not end the session */
};

/* Options of the commands; which ones a command accepts is its row's `opts`. */
struct opts {
    enum chorus_format fmt; /* -F; 0 if not given */
    int replace;            /* -r (else -m, merge) */
    int init;               /* -i */
    int selective;          /* -s */
    int oper;               /* -o: the operational datastore */
    uint32_t confirm;       /* -c SECONDS: confirmed commit */
    const char *persist;    /* -P TOKEN */
    const char *persist_id; /* -I TOKEN */
};

struct cmd {
    const char *name;
    const char *sub;  /* second word ("rollback list"), or NULL */
    const char *opts; /* getopt letters */
    int min_args, max_args;
    int (*run)(struct ctl *x, const struct opts *o, char **args, int nargs);
    const char *synopsis;
    const char *help;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROG " help' for more information.\n", stderr);
    return CTL_USAGE;
}

/* Print the error items of the last call (or @p err's description) and return CTL_ERR. */
static int
report(const struct ctl *x, enum chorus_err err)
{
    size_t n = x->conn ? chorus_error_count(x->conn) : 0;

    if (!n) {
        fprintf(stderr, PROG ": %s\n", chorus_strerror(err));
        return CTL_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        const struct chorus_error *e = chorus_error_at(x->conn, i);

        if (e->path) {
            fprintf(stderr, PROG ": %s (path: %s)\n", e->message, e->path);
        } else {
            fprintf(stderr, PROG ": %s\n", e->message);
        }
    }
    return CTL_ERR;
}

/* Connect and start the user session. */
static int
ctl_open(struct ctl *x)
{
    enum chorus_err err;

    err = chorus_connect(x->target, PROG, &x->conn);
    if (err) {
        fprintf(stderr, PROG ": %s\n", chorus_last_error(NULL)->message);
        return CTL_CONN;
    }
    if (x->timeout_s) {
        chorus_set_timeout(x->conn, x->timeout_s * 1000);
    }
    err = chorus_session_start(x->conn, x->user, x->context, NULL, 0, NULL, NULL);
    if (err) {
        return report(x, err);
    }
    x->session = 1;
    return CTL_OK;
}

/* Print text followed by a newline unless it already ends with one. */
static void
print_text(const char *s)
{
    size_t len = strlen(s);

    fputs(s, stdout);
    if (len && s[len - 1] != '\n') {
        putchar('\n');
    }
}

/* Read FILE ("-" is stdin) whole. */
static int
read_input(const char *file, char **ret_data, size_t *ret_len)
{
    struct buf b = BUF_INIT;
    char chunk[65536];
    int rc;

    if (strcmp(file, "-")) {
        rc = read_file(file, ret_data, ret_len);
        if (rc) {
            fprintf(stderr, PROG ": cannot read %s: %s\n", file, strerror(-rc));
            return CTL_ERR;
        }
        return CTL_OK;
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fprintf(stderr, PROG ": cannot read standard input: %s\n", strerror(errno));
            buf_free(&b);
            return CTL_ERR;
        }
        if (!n) {
            break;
        }
        buf_append(&b, chunk, (size_t)n);
    }
    *ret_len = b.len;
    *ret_data = buf_steal_str(&b);
    if (!*ret_data) {
        fprintf(stderr, PROG ": out of memory\n");
        return CTL_ERR;
    }
    return CTL_OK;
}

static enum chorus_format
input_format(const struct opts *o, const char *file)
{
    size_t len = strlen(file);

    if (o->fmt) {
        return o->fmt;
    }
    return len >= 5 && !strcmp(file + len - 5, ".json") ? CHORUS_FMT_JSON : CHORUS_FMT_XML;
}

/* Report @p err, then release transaction @p th (its error must not hide the first one). */
static int
fail_trans(struct ctl *x, enum chorus_err err, uint32_t th)
{
    int rc = report(x, err);

    chorus_trans_finish(x->conn, th);
    return rc;
}

/* Start a read-write transaction on the datastore chosen with -d. */
static int
write_begin(struct ctl *x, uint32_t *th)
{
    enum chorus_err err = chorus_trans_start(x->conn, x->db, 1, th);

    return err ? report(x, err) : CTL_OK;
}

/* Apply @p th and release it; with -d candidate, then commit the candidate to running. */
static int
write_commit(struct ctl *x, uint32_t th)
{
    enum chorus_err err;

    err = chorus_apply(x->conn, th, NULL);
    if (err) {
        return fail_trans(x, err, th);
    }
    err = chorus_trans_finish(x->conn, th);
    if (err) {
        return report(x, err);
    }
    if (x->db == CHORUS_DB_CANDIDATE) {
        err = chorus_candidate_commit(x->conn, NULL);
        if (err) {
            return report(x, err);
        }
    }
    return CTL_OK;
}

/* ---- commands ---- */

static int
parse_phase(const char *s, enum chorus_phase *ret)
{
    uint32_t n;

    if (parse_u32(s, CHORUS_PHASE2, &n)) {
        return usage_error("invalid start phase '%s' (expected 0, 1 or 2)", s);
    }
    *ret = (enum chorus_phase)n;
    return CTL_OK;
}

static int
cmd_wait_start(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_phase phase = CHORUS_PHASE0;
    enum chorus_err err;
    int rc;

    rc = parse_phase(args[0], &phase);
    if (rc) {
        return rc;
    }
    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_wait_start(x->conn, phase);
    return err ? report(x, err) : CTL_OK;
}

static int
cmd_start_phase(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_phase phase = CHORUS_PHASE0;
    enum chorus_err err;
    int rc;

    rc = parse_phase(args[0], &phase);
    if (rc) {
        return rc;
    }
    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_start_phase(x->conn, phase);
    return err ? report(x, err) : CTL_OK;
}

static int
cmd_get(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    char *text = NULL;
    uint32_t th;
    int rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_trans_start(x->conn, o->oper ? CHORUS_DB_OPERATIONAL : CHORUS_DB_RUNNING, 0, &th);
    if (err) {
        return report(x, err);
    }
    err = chorus_get_value(x->conn, th, args[0], &text);
    if (err == CHORUS_ERR_INVAL) {
        /* Not a leaf: print the subtree. */
        err = chorus_get(x->conn, th, args[0], o->fmt ? o->fmt : CHORUS_FMT_XML, CHORUS_GET_PRETTY,
                         &text);
    }
    if (err) {
        return fail_trans(x, err, th);
    }
    print_text(text);
    free(text);
    err = chorus_trans_finish(x->conn, th);
    return err ? report(x, err) : CTL_OK;
}

/* set, create, delete: one change by path in its own transaction, committed. */
enum write_kind { W_SET, W_CREATE, W_DELETE };

static int
write_one(struct ctl *x, enum write_kind kind, char **args)
{
    enum chorus_err err;
    uint32_t th;
    int rc;

    rc = ctl_open(x);
    if (!rc) {
        rc = write_begin(x, &th);
    }
    if (rc) {
        return rc;
    }
    err = kind == W_SET      ? chorus_set(x->conn, th, args[0], args[1])
          : kind == W_CREATE ? chorus_create(x->conn, th, args[0])
                             : chorus_delete(x->conn, th, args[0]);
    return err ? fail_trans(x, err, th) : write_commit(x, th);
}

static int
cmd_set(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    return write_one(x, W_SET, args);
}

static int
cmd_create(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    return write_one(x, W_CREATE, args);
}

static int
cmd_delete(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    return write_one(x, W_DELETE, args);
}

static int
cmd_load(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_edit_op op = o->replace ? CHORUS_EDIT_REPLACE_ALL : CHORUS_EDIT_MERGE;
    enum chorus_format fmt = input_format(o, args[0]);
    enum chorus_err err;
    char *data = NULL;
    size_t len;
    uint32_t th;
    int rc;

    if (o->init && x->db != CHORUS_DB_RUNNING) {
        return usage_error("load -i writes the init transaction; it cannot be combined with -d");
    }
    rc = read_input(args[0], &data, &len);
    if (rc) {
        return rc;
    }
    rc = ctl_open(x);
    if (rc) {
        goto out;
    }
    if (o->init) {
        /* The daemon commits the init transaction on entering phase 1; only detach here. */
        err = chorus_trans_attach_init(x->conn, &th);
        if (!err) {
            err = chorus_edit(x->conn, th, op, fmt, data, len);
            if (err) {
                rc = fail_trans(x, err, th);
                goto out;
            }
            err = chorus_trans_finish(x->conn, th);
        }
        rc = err ? report(x, err) : CTL_OK;
        goto out;
    }
    rc = write_begin(x, &th);
    if (rc) {
        goto out;
    }
    err = chorus_edit(x->conn, th, op, fmt, data, len);
    rc = err ? fail_trans(x, err, th) : write_commit(x, th);
out:
    free(data);
    return rc;
}

static int
cmd_save(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    char *text = NULL;
    uint32_t th;
    int rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_trans_start(x->conn, o->oper ? CHORUS_DB_OPERATIONAL : CHORUS_DB_RUNNING, 0, &th);
    if (err) {
        return report(x, err);
    }
    err = chorus_get(x->conn, th, nargs ? args[0] : NULL, o->fmt ? o->fmt : CHORUS_FMT_XML,
                     CHORUS_GET_PRETTY, &text);
    if (err) {
        return fail_trans(x, err, th);
    }
    print_text(text);
    free(text);
    err = chorus_trans_finish(x->conn, th);
    return err ? report(x, err) : CTL_OK;
}

static int
cmd_validate(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_edit_op op = o->replace ? CHORUS_EDIT_REPLACE_ALL : CHORUS_EDIT_MERGE;
    enum chorus_format fmt = input_format(o, args[0]);
    enum chorus_err err;
    char *data = NULL;
    size_t len;
    uint32_t th;
    int rc;

    rc = read_input(args[0], &data, &len);
    if (rc) {
        return rc;
    }
    rc = ctl_open(x);
    if (!rc) {
        rc = write_begin(x, &th);
    }
    if (rc) {
        goto out;
    }
    err = chorus_edit(x->conn, th, op, fmt, data, len);
    if (!err) {
        err = chorus_validate(x->conn, th);
    }
    if (err) {
        rc = report(x, err);
        chorus_abort(x->conn, th);
        chorus_trans_finish(x->conn, th);
        goto out;
    }
    err = chorus_abort(x->conn, th);
    if (!err) {
        err = chorus_trans_finish(x->conn, th);
    }
    rc = err ? report(x, err) : CTL_OK;
out:
    free(data);
    return rc;
}

static void
format_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        snprintf(out, len, "%" PRId64, t);
    }
}

static int
max_width(int w, const char *s)
{
    int n = (int)strlen(s);

    return n > w ? n : w;
}

/* Print one row of the rollback table without trailing blanks. */
static void
rollback_row(const int w[5], const char *const col[6])
{
    struct buf b = BUF_INIT;
    char *line;

    buf_printf(&b, "%-*s  %-*s  %-*s  %-*s  %-*s  %s", w[0], col[0], w[1], col[1], w[2], col[2],
               w[3], col[3], w[4], col[4], col[5]);
    line = buf_steal_str(&b);
    if (line) {
        size_t len = strlen(line);

        while (len && line[len - 1] == ' ') {
            line[--len] = 0;
        }
        puts(line);
        free(line);
    }
}

/* The formatted numbers of one rollback entry. */
struct rb_cells {
    char index[12];
    char txid[24];
    char when[32];
};

static int
cmd_rollback_list(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    static const char *const header[6] = {"INDEX", "TXID", "TIME", "USER", "CONTEXT", "LABEL"};
    struct chorus_rollback *list = NULL;
    struct rb_cells *cells = NULL;
    enum chorus_err err;
    size_t n = 0;
    int w[5], rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_rollback_list(x->conn, &list, &n);
    if (err) {
        return report(x, err);
    }
    cells = calloc(n ? n : 1, sizeof *cells);
    if (!cells) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = CTL_ERR;
        goto out;
    }
    for (int i = 0; i < 5; i++) {
        w[i] = (int)strlen(header[i]);
    }
    for (size_t i = 0; i < n; i++) {
        struct rb_cells *c = &cells[i];

        snprintf(c->index, sizeof c->index, "%" PRIu32, list[i].index);
        snprintf(c->txid, sizeof c->txid, "%" PRIu64, list[i].txid);
        format_time(list[i].time, c->when, sizeof c->when);
        w[0] = max_width(w[0], c->index);
        w[1] = max_width(w[1], c->txid);
        w[2] = max_width(w[2], c->when);
        w[3] = max_width(w[3], list[i].user);
        w[4] = max_width(w[4], list[i].context);
    }
    rollback_row(w, header);
    for (size_t i = 0; i < n; i++) {
        const char *const col[6] = {
            cells[i].index, cells[i].txid,   cells[i].when,
            list[i].user,   list[i].context, list[i].label ? list[i].label : "",
        };

        rollback_row(w, col);
    }
out:
    free(cells);
    chorus_rollback_list_free(list, n);
    return rc;
}

static int
cmd_rollback_apply(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    uint32_t idx;
    int rc;

    if (parse_u32(args[0], UINT32_MAX, &idx)) {
        return usage_error("invalid rollback index '%s'", args[0]);
    }
    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_rollback_apply(x->conn, idx, o->selective ? CHORUS_ROLLBACK_SELECTIVE : 0, NULL);
    return err ? report(x, err) : CTL_OK;
}

static int
cmd_txid(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    uint64_t txid;
    int rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_txid(x->conn, &txid);
    if (err) {
        return report(x, err);
    }
    printf("%" PRIu64 "\n", txid);
    return CTL_OK;
}

static int
cmd_status(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    char *json;
    int rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_status(x->conn, &json);
    if (err) {
        return report(x, err);
    }
    print_text(json);
    free(json);
    return CTL_OK;
}

static int
cmd_stop(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    int rc;

    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = chorus_stop(x->conn);
    if (err) {
        return report(x, err);
    }
    x->stopped = 1;
    return CTL_OK;
}

/* commit: the candidate to running; confirmed (-c), confirming (-I) */
static int
cmd_commit(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    uint64_t txid = 0;
    int rc;

    if (o->persist && !o->confirm) {
        return usage_error("commit: -P (persist) needs -c (a confirmed commit)");
    }
    rc = ctl_open(x);
    if (rc) {
        return rc;
    }
    err = o->confirm ? chorus_confirmed_commit(x->conn, o->confirm, o->persist, o->persist_id,
                                               &txid)
                     : chorus_confirm_commit(x->conn, o->persist_id, &txid);
    if (err) {
        return report(x, err);
    }
    printf("%" PRIu64 "\n", txid);
    return CTL_OK;
}

static int
cmd_cancel_commit(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    int rc = ctl_open(x);

    if (rc) {
        return rc;
    }
    err = chorus_cancel_commit(x->conn, o->persist_id);
    return err ? report(x, err) : CTL_OK;
}

/* rpc: invoke an RPC or action given as XML or JSON; print its output */
static int
cmd_rpc(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_format fmt = input_format(o, args[0]);
    enum chorus_err err;
    char *data = NULL, *out = NULL;
    size_t len;
    int rc = read_input(args[0], &data, &len);

    if (!rc) {
        rc = ctl_open(x);
    }
    if (rc) {
        free(data);
        return rc;
    }
    err = chorus_rpc(x->conn, fmt, data, &out);
    free(data);
    if (err) {
        return report(x, err);
    }
    print_text(out);
    free(out);
    return CTL_OK;
}

/* ---- cluster (chorus-aasync, docs/cluster.md) ---- */

#define AAC_NS "urn:chorus:params:xml:ns:yang:chorus-aacluster"

/* The value of a child leaf of @p n, or NULL. */
static const char *
leaf_of(const struct lyd_node *n, const char *name)
{
    for (const struct lyd_node *c = n ? lyd_child(n) : NULL; c; c = c->next) {
        if (!strcmp(LYD_NAME(c), name)) {
            return lyd_get_value(c);
        }
    }
    return NULL;
}

/* Read @p path of datastore @p db as a libyang tree (NULL if empty). */
static enum chorus_err
read_tree(struct chorus_conn *c, enum chorus_db db, const char *path, struct lyd_node **ret)
{
    const struct ly_ctx *ctx;
    uint32_t th;
    char *text = NULL;
    enum chorus_err err;

    *ret = NULL;
    ly_log_options(LY_LOSTORE);
    if ((err = chorus_load_schemas(c, &ctx)) || (err = chorus_trans_start(c, db, 0, &th))) {
        return err;
    }
    err = chorus_get(c, th, path, CHORUS_FMT_JSON, CHORUS_GET_WD_ALL, &text);
    chorus_trans_finish(c, th);
    if (err == CHORUS_ERR_NOTFOUND) {
        err = CHORUS_OK;
    }
    if (!err && text && *text &&
        lyd_parse_data_mem(ctx, text, LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_OPAQ, 0, ret)) {
        err = CHORUS_ERR_PROTO;
    }
    free(text);
    return err;
}

struct node_view {
    int id;
    char target[96];
    int reachable, phase;
    char state[32], txid[32], digest[64];
};

static void
view_node(struct ctl *x, struct node_view *v)
{
    struct chorus_conn *c = NULL;
    struct lyd_node *t = NULL;
    enum chorus_phase ph;
    const char *s;

    strcpy(v->state, "-");
    strcpy(v->txid, "-");
    strcpy(v->digest, "-");
    v->phase = -1;
    if (chorus_connect_timeout(v->target, PROG, 2000, &c)) {
        snprintf(v->state, sizeof v->state, "unreachable");
        return;
    }
    chorus_set_timeout(c, x->timeout_s ? x->timeout_s * 1000 : 10000);
    if (chorus_session_start(c, x->user, x->context, NULL, 0, NULL, NULL) ||
        chorus_phase_get(c, &ph)) {
        snprintf(v->state, sizeof v->state, "unreachable");
        chorus_disconnect(c);
        return;
    }
    v->reachable = 1;
    v->phase = (int)ph;
    if (read_tree(c, CHORUS_DB_OPERATIONAL, "/chorus-aacluster:cluster-state", &t) || !t) {
        snprintf(v->state, sizeof v->state, "no-synchronizer");
    } else {
        if ((s = leaf_of(t, "state"))) {
            snprintf(v->state, sizeof v->state, "%s", s);
        }
        if ((s = leaf_of(t, "transaction-id"))) {
            snprintf(v->txid, sizeof v->txid, "%s", s);
        }
        if ((s = leaf_of(t, "digest"))) {
            snprintf(v->digest, sizeof v->digest, "%s", s);
        }
    }
    lyd_free_all(t);
    chorus_disconnect(c);
}

static int
cmd_cluster_status(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    struct lyd_node *t = NULL;
    struct node_view *v = NULL;
    size_t n = 0;
    int rc = ctl_open(x), bad = 0;
    enum chorus_err err;

    (void)o;
    (void)args;
    (void)nargs;
    if (rc) {
        return rc;
    }
    ly_log_options(LY_LOSTORE);
    if ((err = chorus_load_schemas(x->conn, NULL))) {
        return report(x, err);
    }
    if (!ly_ctx_get_module_implemented(chorus_ctx(x->conn), "chorus-aacluster")) {
        fprintf(stderr, PROG ": this chorusd has no cluster (module chorus-aacluster)\n");
        return CTL_ERR;
    }
    if ((err = read_tree(x->conn, CHORUS_DB_RUNNING, "/chorus-aacluster:cluster", &t))) {
        return report(x, err);
    }
    for (const struct lyd_node *c = t ? lyd_child(t) : NULL; c; c = c->next) {
        const char *id = leaf_of(c, "id"), *a = leaf_of(c, "address"),
                   *p = leaf_of(c, "ipc-port");
        struct node_view *nv;

        if (strcmp(LYD_NAME(c), "node") || !id || !a || !p || !(nv = realloc(v, (n + 1) * sizeof *v))) {
            continue;
        }
        v = nv;
        memset(&v[n], 0, sizeof *v);
        v[n].id = atoi(id);
        snprintf(v[n].target, sizeof v[n].target, strchr(a, ':') ? "[%s]:%s" : "%s:%s", a, p);
        n++;
    }
    lyd_free_all(t);
    if (!n) {
        fprintf(stderr, PROG ": the node list of /chorus-aacluster:cluster is empty\n");
        return CTL_ERR;
    }
    printf("%-5s %-22s %-6s %-16s %-13s %s\n", "node", "address", "phase", "state",
           "cluster-txid", "digest");
    for (size_t i = 0; i < n; i++) {
        char ph[16] = "-";

        view_node(x, &v[i]);
        if (v[i].phase >= 0) {
            snprintf(ph, sizeof ph, "%d", v[i].phase);
        }
        printf("%-5d %-22s %-6s %-16s %-13s %s\n", v[i].id, v[i].target, ph, v[i].state,
               v[i].txid, v[i].digest);
        if (!v[i].reachable || strcmp(v[i].state, "in-sync") || v[i].phase != 2 ||
            strcmp(v[i].txid, v[0].txid) || strcmp(v[i].digest, v[0].digest)) {
            bad = 1;
        }
    }
    if (bad) {
        printf("the nodes are NOT in sync\n");
    } else {
        printf("in sync: %zu nodes at cluster transaction %s\n", n, v[0].txid);
    }
    free(v);
    return bad ? CTL_ERR : CTL_OK;
}

static int
cmd_cluster_leave(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    enum chorus_err err;
    char *out = NULL;
    int rc = ctl_open(x);

    (void)o;
    (void)args;
    (void)nargs;
    if (rc) {
        return rc;
    }
    err = chorus_rpc(x->conn, CHORUS_FMT_XML, "<leave xmlns=\"" AAC_NS "\"/>", &out);
    if (err) {
        return report(x, err);
    }
    free(out);
    printf("left the cluster; stopping chorusd\n");
    chorus_disconnect(x->conn);
    x->conn = NULL;
    x->session = 0;
    /* wait until the daemon is gone */
    for (int i = 0; i < 600; i++) {
        struct chorus_conn *c = NULL;

        if (chorus_connect_timeout(x->target, PROG, 1000, &c)) {
            printf("chorusd stopped\n");
            return CTL_OK;
        }
        chorus_disconnect(c);
        usleep(50000);
    }
    fprintf(stderr, PROG ": chorusd did not stop within 30 s\n");
    return CTL_ERR;
}

static int cmd_help(struct ctl *x, const struct opts *o, char **args, int nargs);

static const struct cmd commands[] = {
    {"wait-start", NULL, "", 1, 1, cmd_wait_start, "wait-start N",
     "wait until chorusd has reached start phase N (0..2)"},
    {"start-phase", NULL, "", 1, 1, cmd_start_phase, "start-phase N",
     "move chorusd to start phase N (one phase forward)"},
    {"get", NULL, "F:o", 1, 1, cmd_get, "get [-F xml|json] [-o] PATH",
     "print a leaf's value, or the subtree at PATH (running; -o: the operational\n"
     "datastore, with the state data of applications)"},
    {"set", NULL, "", 2, 2, cmd_set, "set PATH VALUE", "set a leaf and commit"},
    {"create", NULL, "", 1, 1, cmd_create, "create PATH",
     "create a list entry, leaf-list entry or presence container and commit"},
    {"delete", NULL, "", 1, 1, cmd_delete, "delete PATH", "delete a subtree and commit"},
    {"load", NULL, "mriF:", 1, 1, cmd_load, "load [-m|-r] [-i] [-F xml|json] FILE",
     "merge (-m) or replace all (-r) with FILE (- for stdin) and commit;\n"
     "-i: write into the init transaction (start phase 0) instead"},
    {"save", NULL, "F:o", 0, 1, cmd_save, "save [-F xml|json] [-o] [PATH]",
     "print the running configuration (or PATH's subtree; -o: operational)"},
    {"commit", NULL, "c:P:I:", 0, 0, cmd_commit, "commit [-c SECONDS [-P TOKEN]] [-I TOKEN]",
     "commit the candidate to running; -c: a confirmed commit, reverted unless\n"
     "confirmed within SECONDS (-P: with a persist token); -I: the persist-id\n"
     "of the pending confirmed commit being confirmed or extended"},
    {"cancel-commit", NULL, "I:", 0, 0, cmd_cancel_commit, "cancel-commit [-I TOKEN]",
     "revert the pending confirmed commit now"},
    {"rpc", NULL, "F:", 1, 1, cmd_rpc, "rpc [-F xml|json] FILE",
     "invoke the RPC or action in FILE (- for stdin) and print its output"},
    {"validate", NULL, "mrF:", 1, 1, cmd_validate, "validate [-m|-r] [-F xml|json] FILE",
     "check that FILE applied to the datastore would be valid; commit nothing"},
    {"rollback", "list", "", 0, 0, cmd_rollback_list, "rollback list",
     "list the rollback files, most recent first"},
    {"rollback", "apply", "s", 1, 1, cmd_rollback_apply, "rollback apply [-s] N",
     "undo commits 0..N, or only commit N with -s (selective)"},
    {"txid", NULL, "", 0, 0, cmd_txid, "txid", "print the transaction id of running"},
    {"status", NULL, "", 0, 0, cmd_status, "status", "print chorusd's status (JSON)"},
    {"stop", NULL, "", 0, 0, cmd_stop, "stop", "stop chorusd"},
    {"cluster", "status", "", 0, 0, cmd_cluster_status, "cluster status",
     "for every node of the cluster: reachable or not, start phase, state, last\n"
     "applied cluster transaction and digest of the synchronized data; exit 1\n"
     "unless all are reachable, in sync and equal"},
    {"cluster", "leave", "", 0, 0, cmd_cluster_leave, "cluster leave",
     "remove this node from every member's node list in one cluster\n"
     "transaction, then stop it"},
    {"help", NULL, "", 0, 0, cmd_help, "help", "show this help"},
};

static void
usage(FILE *f)
{
    fputs("Usage: " PROG " [-a ADDR] [-p PORT] [-u USER] [-x CONTEXT] [-d running|candidate]\n"
          "                 [-t SECONDS] [-S SECRET_FILE] COMMAND [ARGS...]\n"
          "\n"
          "Options:\n"
          "  -a ADDR     address of chorusd: IPv4/IPv6 address or host name (default\n"
          "              127.0.0.1), or unix:/PATH for a UNIX socket\n"
          "  -p PORT     IPC port (default $CHORUS_IPC_PORT, else 4565)\n"
          "  -u USER     user of the session (default $CHORUS_USER, else the login name)\n"
          "  -x CONTEXT  context of the session (default \"system\")\n"
          "  -d DB       datastore written by set, create, delete, load and validate:\n"
          "              running (default) or candidate (then committed to running)\n"
          "  -t SECONDS  reply timeout (default: wait forever)\n"
          "  -S FILE     file holding the shared secret of a chorusd with ipc/secret-file\n"
          "              (default $CHORUS_IPC_SECRET_FILE)\n"
          "  -h          show this help\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        const char *h = commands[i].help;

        fprintf(f, "  %s\n", commands[i].synopsis);
        while (*h) {
            size_t len = strcspn(h, "\n");

            fprintf(f, "      %.*s\n", (int)len, h);
            h += len + (h[len] == '\n');
        }
    }
    fputs("\nExit status: 0 success, 1 error, 2 usage error, 3 cannot connect.\n", f);
}

static int
cmd_help(struct ctl *x, const struct opts *o, char **args, int nargs)
{
    usage(stdout);
    return CTL_OK;
}

static const struct cmd *
find_cmd(int argc, char **argv, int *ret_words)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        const struct cmd *c = &commands[i];

        if (strcmp(c->name, argv[0])) {
            continue;
        }
        if (!c->sub) {
            *ret_words = 1;
            return c;
        }
        if (argc > 1 && !strcmp(c->sub, argv[1])) {
            *ret_words = 2;
            return c;
        }
    }
    return NULL;
}

static int
parse_format(const char *s, enum chorus_format *ret)
{
    if (!strcmp(s, "xml")) {
        *ret = CHORUS_FMT_XML;
    } else if (!strcmp(s, "json")) {
        *ret = CHORUS_FMT_JSON;
    } else {
        return usage_error("invalid format '%s' (expected xml or json)", s);
    }
    return CTL_OK;
}

/* Parse the options of command @p c; argv[0] is the command's last word. */
static int
parse_cmd_opts(const struct cmd *c, int argc, char **argv, struct opts *o)
{
    char optstr[16];
    int ch;

    snprintf(optstr, sizeof optstr, "+:%s", c->opts);
    optind = 0; /* full reset of getopt's state */
    while ((ch = getopt(argc, argv, optstr)) != -1) {
        switch (ch) {
        case 'F':
            if (parse_format(optarg, &o->fmt)) {
                return CTL_USAGE;
            }
            break;
        case 'm':
            o->replace = 0;
            break;
        case 'r':
            o->replace = 1;
            break;
        case 'i':
            o->init = 1;
            break;
        case 's':
            o->selective = 1;
            break;
        case 'o':
            o->oper = 1;
            break;
        case 'c': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);

            if (*end || !v || v > UINT32_MAX) {
                return usage_error("invalid confirm timeout '%s' (seconds, at least 1)", optarg);
            }
            o->confirm = (uint32_t)v;
            break;
        }
        case 'P':
            o->persist = optarg;
            break;
        case 'I':
            o->persist_id = optarg;
            break;
        case ':':
            return usage_error("%s: option -%c needs an argument", argv[0], optopt);
        default:
            return usage_error("%s: unknown option -%c", argv[0], optopt);
        }
    }
    return CTL_OK;
}

/* "ADDR" and "PORT" into a chorus_connect() target. */
static int
make_target(struct ctl *x, const char *addr, const char *port)
{
    struct buf b = BUF_INIT;
    const char *colon;
    uint32_t p;

    if (!strncmp(addr, "unix:", 5)) {
        buf_append_str(&b, addr);
        goto out;
    }
    if (!port) {
        port = getenv("CHORUS_IPC_PORT");
    }
    if (!port || !*port) {
        port = "4565";
    }
    if (parse_u32(port, 65535, &p) || !p) {
        return usage_error("invalid port '%s'", port);
    }
    colon = strchr(addr, ':');
    if (*addr == '[' || (colon && !strchr(colon + 1, ':'))) {
        /* "[v6]", "[v6]:port" or "host:port": the address names its port, if any. */
        if (addr[strlen(addr) - 1] == ']') {
            buf_printf(&b, "%s:%" PRIu32, addr, p);
        } else {
            buf_append_str(&b, addr);
        }
    } else if (colon) {
        buf_printf(&b, "[%s]:%" PRIu32, addr, p);
    } else {
        buf_printf(&b, "%s:%" PRIu32, addr, p);
    }
out:
    x->target = buf_steal_str(&b);
    if (!x->target) {
        fprintf(stderr, PROG ": out of memory\n");
        return CTL_ERR;
    }
    return CTL_OK;
}

static const char *
default_user(void)
{
    const char *u = getenv("CHORUS_USER");
    struct passwd *pw;

    if (u && *u) {
        return u;
    }
    pw = getpwuid(getuid());
    return pw && pw->pw_name && *pw->pw_name ? pw->pw_name : "admin";
}

int
main(int argc, char **argv)
{
    struct ctl x = {.context = "system", .db = CHORUS_DB_RUNNING};
    const char *addr = "127.0.0.1", *port = NULL;
    const struct cmd *c;
    struct opts o = {0};
    int ch, rc, words, nargs;
    enum chorus_err err;

    opterr = 0;
    while ((ch = getopt(argc, argv, "+:a:p:u:x:d:t:S:h")) != -1) {
        switch (ch) {
        case 'a':
            addr = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case 'u':
            x.user = optarg;
            break;
        case 'x':
            x.context = optarg;
            break;
        case 'd':
            if (!strcmp(optarg, "running")) {
                x.db = CHORUS_DB_RUNNING;
            } else if (!strcmp(optarg, "candidate")) {
                x.db = CHORUS_DB_CANDIDATE;
            } else {
                return usage_error("invalid datastore '%s' (expected running or candidate)",
                                   optarg);
            }
            break;
        case 't':
            if (parse_u32(optarg, UINT32_MAX / 1000, &x.timeout_s)) {
                return usage_error("invalid timeout '%s'", optarg);
            }
            break;
        case 'S':
            /* libchorus answers the daemon's challenge with this file's secret */
            if (setenv("CHORUS_IPC_SECRET_FILE", optarg, 1)) {
                return usage_error("cannot use -S %s: %s", optarg, strerror(errno));
            }
            break;
        case 'h':
            usage(stdout);
            return CTL_OK;
        case ':':
            return usage_error("option -%c needs an argument", optopt);
        default:
            return usage_error("unknown option -%c", optopt);
        }
    }
    if (optind >= argc) {
        return usage_error("no command given");
    }
    argc -= optind;
    argv += optind;
    c = find_cmd(argc, argv, &words);
    if (!c) {
        if (!strcmp(argv[0], "rollback")) {
            return usage_error("rollback needs 'list' or 'apply'");
        }
        if (!strcmp(argv[0], "cluster")) {
            return usage_error("cluster needs 'status' or 'leave'");
        }
        return usage_error("unknown command '%s'", argv[0]);
    }
    argc -= words - 1;
    argv += words - 1;
    rc = parse_cmd_opts(c, argc, argv, &o);
    if (rc) {
        return rc;
    }
    nargs = argc - optind;
    if (nargs < c->min_args || nargs > c->max_args) {
        return usage_error("usage: %s %s", PROG, c->synopsis);
    }
    if (!x.user) {
        x.user = default_user();
    }
    rc = make_target(&x, addr, port);
    if (rc) {
        return rc;
    }

    rc = c->run(&x, &o, argv + optind, nargs);
    if (x.session && !x.stopped) {
        err = chorus_session_end(x.conn);
        if (err && !rc) {
            rc = report(&x, err);
        }
    }
    chorus_disconnect(x.conn);
    free(x.target);
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write standard output: %s\n", strerror(errno));
        rc = rc ? rc : CTL_ERR;
    }
    return rc;
}
