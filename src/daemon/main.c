/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chorusd: start-up and shutdown. Reads the configuration, compiles the schema, recovers the
 * database (snapshot + journal), validates what it recovered, builds the init transaction
 * (at first start from the *.xml files of the database directory), opens the IPC port and
 * walks the start phases (or stops in phase 0 with --start-phase0). Without --foreground it
 * detaches and returns only when the daemon is ready (or failed), so scripts can rely on its
 * exit status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libyang/version.h>

#include "cfg.h"
#include "common/buf.h"
#include "common/util.h"
#include "core.h"
#include "ds.h"
#include "fault.h"
#include "ipc.h"
#include "nc/server.h"
#include "jnl.h"
#include "rb.h"
#include "schema.h"
#include "sess.h"
#include "txn.h"
#include "upg.h"
#include "val.h"

static const char usage[] =
    "usage: chorusd -c FILE [--addloadpath DIR]... [--start-phase0] [--foreground]\n"
    "               [--dbdir DIR] [--ipc-port N] [--netconf-ssh-port N] [--netconf-tcp-port N]\n"
    "               [--upgrade-drop-invalid]\n"
    "\n"
    "  -c, --config FILE         the configuration (XML or JSON, see docs/configuration.md)\n"
    "      --addloadpath DIR     compile every .yang file of DIR (repeatable)\n"
    "      --start-phase0        stop in start phase 0 (init transaction open; chorusctl\n"
    "                            start-phase 1 and 2 continue)\n"
    "      --foreground          do not detach; also log to stderr\n"
    "      --dbdir DIR           database directory (overrides database/dir)\n"
    "      --ipc-port N          IPC port (overrides ipc/port)\n"
    "      --netconf-ssh-port N  NETCONF over SSH port (overrides netconf/ssh/port)\n"
    "      --netconf-tcp-port N  NETCONF over TCP port (overrides netconf/tcp/port)\n"
    "      --upgrade-drop-invalid  in a schema upgrade, drop (and log) stored values that no\n"
    "                            longer fit the new models instead of refusing the start\n"
    "  -V, --version             print the version\n";

static int ready_fd = -1;

/* Tell the waiting parent (without --foreground) how the start went. */
static void
report(const char *msg)
{
    if (ready_fd >= 0) {
        (void)write_all(ready_fd, msg, strlen(msg));
        close(ready_fd);
        ready_fd = -1;
    }
}

static void
fail_start(const char *what, struct cerr *e)
{
    struct buf b = BUF_INIT;

    buf_printf(&b, "chorusd: %s", what);
    for (; e; e = e->next) {
        buf_printf(&b, "%s%s%s%s", e == NULL ? "" : ": ", e->path ? e->path : "",
                   e->path ? ": " : "", e->msg ? e->msg : chorus_strerror(e->code));
        if (e->next) {
            buf_printf(&b, "\nchorusd: %s", what);
        }
    }
    /* in the foreground the log goes to stderr too */
    LOG(LL_ERROR, NULL, "%s", b.p ? (char *)b.p + strlen("chorusd: ") : what);
    buf_append_str(&b, "\n");
    report(b.p ? (char *)b.p : "chorusd: start failed\n");
    buf_free(&b);
}

/* Detach; the parent waits for the child's report and exits with its outcome. */
static int
daemonize(void)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0) {
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid > 0) {
        char msg[8192];
        ssize_t n;
        size_t got = 0;
        int st;

        close(p[1]);
        while (got < sizeof msg - 1 && (n = read(p[0], msg + got, sizeof msg - 1 - got)) > 0) {
            got += (size_t)n;
        }
        msg[got] = 0;
        if (!strncmp(msg, "OK", 2)) {
            _exit(0);
        }
        if (got) {
            fputs(msg, stderr);
        } else {
            fputs("chorusd: the daemon exited during start-up (see its log)\n", stderr);
            waitpid(pid, &st, WNOHANG);
        }
        _exit(1);
    }
    close(p[0]);
    ready_fd = p[1];
    setsid();
    {
        int fd = open("/dev/null", O_RDWR);

        if (fd >= 0) {
            dup2(fd, STDIN_FILENO);
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            if (fd > 2) {
                close(fd);
            }
        }
    }
    return 0;
}

static void
on_stop_signal(void *arg, int signo)
{
    LOG(LL_INFO, NULL, "signal %d: stopping", signo);
    core_stop(arg);
}

static void
on_hup(void *arg, int signo)
{
    (void)arg;
    (void)signo;
    log_reopen();
}

static void
on_child(void *arg, int signo)
{
    struct core *c = arg;
    pid_t pid;
    int st;

    (void)signo;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (jnl_reap(c->jnl, pid, st)) {
            if (WIFEXITED(st) && !WEXITSTATUS(st)) {
                struct jnl_stats js;

                jnl_stats(c->jnl, &js);
                LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, js.snapshot_txid}),
                    "compaction: snapshot written, older journals removed");
            } else {
                LOG(LL_ERROR, NULL,
                    "compaction: the snapshot writer failed (status %d); the journals are kept",
                    st);
            }
        }
    }
}

/* Rollback files of replayed transactions: written again if missing or damaged. */
static void
on_replayed(void *arg, uint64_t txid, const uint8_t *payload, size_t len)
{
    struct rb *rb = arg;
    struct cerr *e = NULL;

    if (rb && !rb_has(rb, txid) && rb_write(rb, txid, payload, len, &e)) {
        LOG(LL_WARN, NULL, "rollback file of transaction %llu not restored: %s",
            (unsigned long long)txid, e && e->msg ? e->msg : "");
        cerr_free(e);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* At first start, the *.xml files of the database directory form the init transaction. */
static enum chorus_err
load_init_files(struct core *c, struct cerr **e)
{
    DIR *d = opendir(c->cfg->db_dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    enum chorus_err rc = CHORUS_OK;

    if (!d) {
        return CHORUS_OK;
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        char **nn;

        if (l < 5 || strcmp(de->d_name + l - 4, ".xml")) {
            continue;
        }
        nn = realloc(names, (n + 1) * sizeof *names);
        if (!nn) {
            rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            break;
        }
        names = nn;
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n) {
        qsort(names, n, sizeof *names, cmp_str);
    }
    for (size_t k = 0; k < n && !rc; k++) {
        char *path = path_join(c->cfg->db_dir, names[k]), *data = NULL;
        size_t len;
        int r = path ? read_file(path, &data, &len) : -ENOMEM;

        if (r) {
            rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "%s: %s", path ? path : names[k],
                          strerror(-r));
        } else if ((rc = txn_edit(c, c->init, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, data, len, e))) {
            cerr_prefix(*e, "%s", path);
        } else {
            LOG(LL_INFO, NULL, "init transaction: loaded %s", path);
        }
        free(data);
        free(path);
    }
    for (size_t k = 0; k < n; k++) {
        free(names[k]);
    }
    free(names);
    return rc;
}

/* The module set as text (one module per line) for the journal headers. */
static char *
modset_text(const struct schema *s)
{
    struct buf b = BUF_INIT;

    for (size_t k = 0; k < s->nmods; k++) {
        buf_printf(&b, "%s@%s\n", s->mods[k].name, s->mods[k].revision ? s->mods[k].revision : "");
    }
    return buf_steal_str(&b);
}

/* At most this many values that no longer fit are named in the refusal (all are logged, up to
 * the log's own limit): the message must fit the start-up report. */
#define UPG_REPORT_MAX 20

/*
 * The database was written with module set @p other: open it with that set's stored schema,
 * convert its data to the load path's (upg.h) as running's base, and make the init transaction
 * an upgrade. Values that no longer fit refuse the start (unless @p drop_invalid). Nothing is
 * written but what recovery always does (a torn tail is cut).
 */
static enum chorus_err
open_upgrade(struct core *c, const struct jnl_params *jp, const struct jnl_modset *other,
             const char *modset, bool drop_invalid, struct jnl_recovery *rv, struct cerr **e)
{
    struct jnl_params op = *jp;
    struct schema *old = NULL;
    struct lyd_node *otree = NULL, *ntree = NULL;
    struct upg_result res = {0};
    char hex[65], *changes;
    enum chorus_err rc;

    hex_encode(other->digest, 32, hex);
    changes = upg_changes(c->cfg->db_dir, hex, c->schema);
    LOG(LL_INFO, NULL,
        "schema upgrade: the database was written with module set %.12s, the load path has "
        "%.12s: %s",
        hex, c->schema->digest_hex, changes ? changes : "");
    rc = upg_load(c->cfg->db_dir, hex, &old, e);
    if (rc) {
        goto out;
    }
    op.ctx = old->ctx;
    op.digest = other->digest;
    op.modset = other->text;
    op.rebuild_cache = false;
    op.ret_other = NULL;
    rc = jnl_open(&op, &c->jnl, &otree, &c->txid, rv, e);
    if (rc) {
        goto out;
    }
    rc = upg_convert(otree, c->ctx, drop_invalid, &ntree, &res, e);
    if (rc) {
        goto out;
    }
    if (res.invalid) {
        uint64_t k = 0;

        for (struct cerr *x = res.invalid_list; x && k < 10000; x = x->next, k++) {
            LOG(LL_ERROR, NULL, "schema upgrade: %s: %s", x->path ? x->path : "", x->msg);
        }
        rc = cerr_add(e, CHORUS_ERR_VALIDATION, NULL, NULL,
                      "%llu stored value%s no longer fit%s the new models; nothing was changed: "
                      "start with --upgrade-drop-invalid to drop them, or with the old modules",
                      (unsigned long long)res.invalid, res.invalid == 1 ? "" : "s",
                      res.invalid == 1 ? "s" : "");
        k = 0;
        for (struct cerr *x = res.invalid_list; x; x = x->next, k++) {
            if (k == UPG_REPORT_MAX) {
                cerr_add(e, CHORUS_ERR_VALIDATION, NULL, NULL, "and %llu more (see the log)",
                         (unsigned long long)(res.invalid - k));
                break;
            }
            cerr_add(e, x->code, x->path, NULL, "%s", x->msg);
        }
        goto out;
    }
    c->running = ntree;
    ntree = NULL;
    c->upg.pending = true;
    memcpy(c->upg.from, hex, sizeof hex);
    c->upg.from_modules = upg_module_list(old);
    c->upg.modset = modset;
    c->upg.dropped = res.dropped;
    c->upg.dropped_invalid = res.dropped_invalid;
    LOG(LL_INFO, NULL,
        "schema upgrade: %llu node%s dropped (schema node gone), %llu dropped (value no longer "
        "fits); the init transaction validates and commits the result",
        (unsigned long long)res.dropped, res.dropped == 1 ? "" : "s",
        (unsigned long long)res.dropped_invalid);
out:
    lyd_free_all(otree);
    lyd_free_all(ntree);
    cerr_free(res.invalid_list);
    schema_free(old);
    free(changes);
    return rc;
}

static enum chorus_err
load_startup(struct core *c, struct cerr **e)
{
    char *path = path_join(c->cfg->db_dir, "startup.json"), *data = NULL;
    size_t len;
    struct ly_in *in = NULL;
    enum chorus_err rc = CHORUS_OK;

    if (!path) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    if (read_file(path, &data, &len)) {
        free(path);
        return CHORUS_OK; /* no startup datastore yet */
    }
    if (ly_in_new_memory(data, &in) ||
        lyd_parse_data(c->ctx, NULL, in, LYD_JSON, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                       LYD_VALIDATE_NO_STATE, &c->startup)) {
        rc = lyu_err(e, c->ctx, CHORUS_ERR_SCHEMA, NULL);
        cerr_prefix(*e, "%s", path);
    }
    ly_in_free(in, 0);
    free(data);
    free(path);
    return rc;
}

/*
 * Run malloc's heap on transparent huge pages (glibc.malloc.hugetlb=1, glibc >= 2.35). A
 * large datastore is millions of small allocations; on 4 KiB pages a start or a large load
 * spends a large part of its time in page faults (docs/benchmarks.md). glibc reads the tunable
 * once, at process start, so chorusd adds it to GLIBC_TUNABLES and executes itself again, once,
 * before anything else. CHORUS_HUGEPAGES=0 in the environment turns this off.
 */
static void
heap_on_huge_pages(char **argv)
{
    const char *t = getenv("GLIBC_TUNABLES"), *off = getenv("CHORUS_HUGEPAGES");
    char *v;

    if ((off && !strcmp(off, "0")) || (t && strstr(t, "glibc.malloc.hugetlb"))) {
        return;
    }
    if (asprintf(&v, "%s%sglibc.malloc.hugetlb=1", t ? t : "", t && *t ? ":" : "") < 0) {
        return;
    }
    if (!setenv("GLIBC_TUNABLES", v, 1)) {
        execv("/proc/self/exe", argv); /* returns only if it failed: go on as we are */
    }
    free(v);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"addloadpath", required_argument, NULL, 'L'},
        {"start-phase0", no_argument, NULL, '0'},
        {"foreground", no_argument, NULL, 'f'},
        {"dbdir", required_argument, NULL, 'd'},
        {"ipc-port", required_argument, NULL, 'p'},
        {"netconf-ssh-port", required_argument, NULL, 's'},
        {"netconf-tcp-port", required_argument, NULL, 't'},
        {"upgrade-drop-invalid", no_argument, NULL, 'U'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cfg_path = NULL, *dbdir = NULL, **loadpaths = NULL;
    size_t nload = 0;
    bool phase0 = false, fg = false, drop_invalid = false;
    uint32_t ipc_port = 0, ssh_port = 0, tcp_port = 0;
    struct core core = {0}, *c = &core;
    struct cerr *e = NULL;
    struct jnl_recovery rv;
    struct jnl_params jp;
    struct jnl_modset other = {{0}, NULL};
    char *modset = NULL;
    enum chorus_err rc;
    int opt, status = 1;

    heap_on_huge_pages(argv);
    while ((opt = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'L': {
            const char **nl = realloc(loadpaths, (nload + 1) * sizeof *nl);

            if (!nl) {
                free(loadpaths);
                return 1;
            }
            loadpaths = nl;
            loadpaths[nload++] = optarg;
            break;
        }
        case '0':
            phase0 = true;
            break;
        case 'f':
            fg = true;
            break;
        case 'U':
            drop_invalid = true;
            break;
        case 'd':
            dbdir = optarg;
            break;
        case 'p':
        case 's':
        case 't':
            if (parse_u32(optarg, 65535,
                          opt == 'p'   ? &ipc_port
                          : opt == 's' ? &ssh_port
                                       : &tcp_port) ||
                !(opt == 'p'   ? ipc_port
                  : opt == 's' ? ssh_port
                               : tcp_port)) {
                fprintf(stderr, "chorusd: %s: not a port number (1-65535)\n", optarg);
                free(loadpaths);
                return 2;
            }
            break;
        case 'V':
            printf("chorusd %s (libyang %s)\n", CHORUS_VERSION, LY_VERSION);
            free(loadpaths);
            return 0;
        case 'h':
            fputs(usage, stdout);
            free(loadpaths);
            return 0;
        default:
            fputs(usage, stderr);
            free(loadpaths);
            return 2;
        }
    }
    if (!cfg_path || optind != argc) {
        fputs(usage, stderr);
        free(loadpaths);
        return 2;
    }
    fault_init();
    ly_log_options(LY_LOSTORE);
    signal(SIGPIPE, SIG_IGN);

    /* configuration */
    if (cfg_load(cfg_path, &c->cfg, &e) || (dbdir && cfg_set_db_dir(c->cfg, dbdir, &e))) {
        for (struct cerr *x = e; x; x = x->next) {
            fprintf(stderr, "chorusd: %s\n", x->msg ? x->msg : chorus_strerror(x->code));
        }
        cerr_free(e);
        cfg_free(c->cfg);
        free(loadpaths);
        return 1;
    }
    if (ipc_port) {
        c->cfg->ipc_port = (uint16_t)ipc_port;
    }
    if (ssh_port) {
        c->cfg->nc_ssh_port = (uint16_t)ssh_port;
    }
    if (tcp_port) {
        c->cfg->nc_tcp_port = (uint16_t)tcp_port;
    }
    if (mkdir_p(c->cfg->db_dir) < 0) {
        fprintf(stderr, "chorusd: cannot create %s: %s\n", c->cfg->db_dir, strerror(errno));
        goto out;
    }
    if (!c->cfg->log_file) {
        c->cfg->log_file = path_join(c->cfg->db_dir, "chorusd.log");
    } else {
        char *dir = strdup(c->cfg->log_file), *slash = dir ? strrchr(dir, '/') : NULL;

        if (slash && slash != dir) {
            *slash = 0;
            (void)mkdir_p(dir);
        }
        free(dir);
    }
    if (log_setup(c->cfg->log_file, c->cfg->log_level, fg) < 0) {
        fprintf(stderr, "chorusd: cannot open the log file %s: %s\n", c->cfg->log_file,
                strerror(errno));
        goto out;
    }

    /* schema */
    if (schema_load(loadpaths, nload, &c->schema, &e)) {
        for (struct cerr *x = e; x; x = x->next) {
            fprintf(stderr, "chorusd: %s\n", x->msg ? x->msg : chorus_strerror(x->code));
            LOG(LL_ERROR, NULL, "%s", x->msg ? x->msg : "schema error");
        }
        goto out;
    }
    c->ctx = c->schema->ctx;
    if (!fg && daemonize() < 0) {
        fprintf(stderr, "chorusd: cannot detach: %s\n", strerror(errno));
        goto out;
    }
    c->started = time(NULL);
    c->started_ms = now_ms();
    c->ev = ev_new();
    c->val = val_new(c->ctx);
    modset = modset_text(c->schema);
    if (!c->ev || !c->val || !modset) {
        cerr_add(&e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        fail_start("cannot start", e);
        goto out;
    }
    if (c->cfg->rb_enabled && rb_open(c->cfg->rb_dir, c->cfg->rb_max, &c->rb, &e)) {
        fail_start("rollback files", e);
        goto out;
    }

    /* recovery; the module set is kept before anything is written with it (upg.h) */
    if (upg_store(c->cfg->db_dir, c->schema, &e)) {
        fail_start("cannot open the database", e);
        goto out;
    }
    jp = (struct jnl_params){c->cfg->db_dir,
                             c->ctx,
                             c->schema->digest,
                             modset,
                             c->cfg->compact_threshold,
                             c->cfg->rb_enabled ? c->cfg->rb_dir : NULL,
                             on_replayed,
                             c->rb,
                             true,
                             &other};
    rc = jnl_open(&jp, &c->jnl, &c->running, &c->txid, &rv, &e);
    if (rc == CHORUS_ERR_SCHEMA && other.text) {
        /* written with another module set: a schema upgrade */
        struct cerr *why = e;

        e = NULL;
        rc = open_upgrade(c, &jp, &other, modset, drop_invalid, &rv, &e);
        if (rc == CHORUS_ERR_NOTFOUND) {
            /* the old set cannot be compiled: say which sets differ, then why */
            cerr_move(&why, &e);
            e = why;
            fail_start("cannot open the database", e);
            goto out;
        }
        cerr_free(why);
        if (rc) {
            fail_start("schema upgrade refused", e);
            goto out;
        }
    } else if (rc) {
        fail_start("cannot open the database", e);
        goto out;
    } else {
        if (val_tree(c->ctx, &c->running, &e)) {
            fail_start("the recovered database is not valid", e);
            goto out;
        }
        upg_prune(c->cfg->db_dir, c->schema->digest_hex);
    }
    if (rv.cache_rebuilt) {
        LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, rv.snapshot_txid}),
            "the LYB cache of snapshot %llu was rebuilt from its JSON (the cache was %s)",
            (unsigned long long)rv.snapshot_txid, rv.cache_rebuilt);
    }
    (void)upg_last_read(c->cfg->db_dir, &c->last_upgrade);
    LOG(LL_INFO, (&(struct log_tag){0, NULL, NULL, c->txid}),
        "chorusd %s: database %s %s in %llu ms (snapshot %llu%s, %u journal%s, %llu replayed, "
        "%llu discarded, %llu bytes of torn tail cut)",
        CHORUS_VERSION, c->cfg->db_dir, rv.empty ? "created" : "recovered",
        (unsigned long long)rv.ms, (unsigned long long)rv.snapshot_txid,
        rv.from_cache ? " from its cache" : "", rv.journals, rv.journals == 1 ? "" : "s",
        (unsigned long long)rv.replayed, (unsigned long long)rv.discarded,
        (unsigned long long)rv.cut_bytes);
    if ((c->cfg->candidate && !(c->cand = ed_new(c->ctx))) || !(c->oper = ed_new(c->ctx))) {
        cerr_add(&e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        fail_start("cannot start", e);
        goto out;
    }
    if (c->cfg->startup && load_startup(c, &e)) {
        fail_start("cannot load the startup datastore", e);
        goto out;
    }

    /* phase 0: the init transaction */
    if (sess_new(c, "system", "system", NULL, 0, NULL, &c->sys, &e) || txn_new_init(c, &e)) {
        fail_start("cannot start", e);
        goto out;
    }
    c->init->upgrade = c->upg.pending;
    if (rv.empty && load_init_files(c, &e)) {
        fail_start("cannot load the init files", e);
        goto out;
    }
    if (ipc_start(c, &c->ipc, &e)) {
        fail_start("cannot open the IPC port", e);
        goto out;
    }
    /* listening now (a port in use refuses the start); sessions are accepted from phase 2 */
    if (nc_start(c, &c->nc, &e)) {
        fail_start("cannot open the NETCONF ports", e);
        goto out;
    }
    ev_signal(c->ev, SIGTERM, on_stop_signal, c);
    ev_signal(c->ev, SIGINT, on_stop_signal, c);
    ev_signal(c->ev, SIGHUP, on_hup, NULL);
    ev_signal(c->ev, SIGCHLD, on_child, c);
    LOG(LL_INFO, NULL, "start phase 0: IPC on %s port %u, %zu modules, schema %s", c->cfg->ipc_addr,
        c->cfg->ipc_port, c->schema->nmods, c->schema->digest_hex);
    if (!phase0) {
        if (core_start_phase(c, 1, &e) || core_start_phase(c, 2, &e)) {
            fail_start(c->upg.pending ? "schema upgrade refused" : "cannot enter the start phases",
                       e);
            goto out;
        }
    }
    report("OK\n");
    if (ev_run(c->ev) < 0) {
        LOG(LL_ERROR, NULL, "event loop failed: %s", strerror(errno));
        goto out;
    }
    status = 0;
    LOG(LL_INFO, NULL, "stopping");
out:
    cerr_free(e);
    nc_stop(c->nc);
    ipc_stop(c->ipc);
    txn_cc_free(c); /* a pending confirmed commit stays committed */
    while (c->sessions) {
        sess_end(c, c->sessions);
    }
    jnl_close(c->jnl);
    rb_close(c->rb);
    ed_free(c->cand);
    lyd_free_all(c->running);
    lyd_free_all(c->startup);
    ed_free(c->oper);
    val_free(c->val);
    schema_free(c->schema);
    while (c->phase_waiters) {
        struct phase_waiter *w = c->phase_waiters;

        c->phase_waiters = w->next;
        free(w);
    }
    ev_free(c->ev);
    if (!status) {
        LOG(LL_INFO, NULL, "stopped");
    }
    cfg_free(c->cfg);
    free(c->upg.from_modules);
    free(c->last_upgrade.from_modules);
    free(other.text);
    free(modset);
    free(loadpaths);
    log_close();
    return status;
}
