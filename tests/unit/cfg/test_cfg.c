/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's configuration file (cfg.c): defaults, relative file names, XML and JSON, the
 * example configuration, the --dbdir override, and one test per kind of error with the exact
 * content of the message (file, line, data path, reason). Each test writes its files into a
 * fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cfg.h"

#define NS "urn:chorus:params:xml:ns:yang:chorus-config"
#define TOP "/chorus-config:chorusd"

struct fixture {
    char dir[PATH_MAX]; /* the temporary directory, resolved (no symbolic links) */
    char cwd[PATH_MAX]; /* to restore */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char tmpl[PATH_MAX];
    const char *tmp = getenv("TMPDIR");

    if (!fx || !getcwd(fx->cwd, sizeof fx->cwd)) {
        return -1;
    }
    snprintf(tmpl, sizeof tmpl, "%s/chorus-cfg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl) || !realpath(tmpl, fx->dir)) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    if (chdir(fx->cwd)) {
        return -1;
    }
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Write @p text into <dir>/@p name (creating one level of subdirectory if named). */
static void
put(const struct fixture *fx, const char *name, const char *text, size_t len)
{
    char path[PATH_MAX * 2], *slash;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0700);
    *slash = '/';
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *
fx_path(const struct fixture *fx, const char *name)
{
    char *p;

    assert_true(asprintf(&p, "%s/%s", fx->dir, name) > 0);
    return p;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            print_error("\"%s\"\n  does not contain \"%s\"\n", h_ ? h_ : "(null)", n_);            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Load @p text written as @p name; must succeed. */
static struct cfg *
load_ok(const struct fixture *fx, const char *name, const char *text)
{
    struct cfg *c = NULL;
    struct cerr *e = NULL;
    char *path = fx_path(fx, name);
    enum chorus_err rc;

    put(fx, name, text, strlen(text));
    rc = cfg_load(path, &c, &e);
    if (rc) {
        print_error("cfg_load: %d: %s\n", rc, e && e->msg ? e->msg : "(no message)");
    }
    assert_int_equal(rc, CHORUS_OK);
    assert_null(e);
    assert_non_null(c);
    free(path);
    return c;
}

/*
 * Load @p text written as "chorusd.conf"; must fail with @p code, leave the out-parameter
 * alone and give a first message that starts with the file name. Returns the error list.
 */
static struct cerr *
load_fail_n(const struct fixture *fx, const char *text, size_t len, enum chorus_err code)
{
    struct cfg *c = (struct cfg *)(uintptr_t)0x1;
    struct cerr *e = NULL;
    char *path = fx_path(fx, "chorusd.conf");

    put(fx, "chorusd.conf", text, len);
    assert_int_equal(cfg_load(path, &c, &e), code);
    assert_ptr_equal(c, (struct cfg *)(uintptr_t)0x1);
    assert_non_null(e);
    assert_int_equal(e->code, code);
    assert_non_null(e->msg);
    assert_true(!strncmp(e->msg, path, strlen(path)));
    assert_true(!strncmp(e->msg + strlen(path), ": ", 2));
    free(path);
    return e;
}

static struct cerr *
load_fail(const struct fixture *fx, const char *text, enum chorus_err code)
{
    return load_fail_n(fx, text, strlen(text), code);
}

static void
assert_dir(const struct fixture *fx, const char *got, const char *rel)
{
    char want[PATH_MAX * 2];

    snprintf(want, sizeof want, "%s/%s", fx->dir, rel);
    assert_non_null(got);
    assert_string_equal(got, want);
}

static const char minimal[] = "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                              "</chorusd>\n";

static void
test_defaults(void **state)
{
    struct fixture *fx = *state;
    struct cfg *c = load_ok(fx, "chorusd.conf", minimal);

    assert_dir(fx, c->path, "chorusd.conf");
    assert_dir(fx, c->db_dir, "db");
    assert_true(c->compact_threshold == 67108864u);
    assert_int_equal(c->validation, CFG_VAL_INCREMENTAL);
    assert_string_equal(c->ipc_addr, "127.0.0.1");
    assert_int_equal(c->ipc_port, 4565);
    assert_null(c->ipc_unix_path);
    assert_int_equal(c->max_frame, 268435456u);
    assert_int_equal(c->max_sessions, 256);
    assert_null(c->secret_file);
    assert_true(c->nc_enabled);
    assert_int_equal(c->nc_max_sessions, 64);
    assert_int_equal(c->nc_max_msg, 268435456u);
    assert_int_equal(c->nc_idle_timeout, 3600);
    assert_true(c->nc_ssh_enabled);
    assert_string_equal(c->nc_ssh_addr, "127.0.0.1");
    assert_int_equal(c->nc_ssh_port, 2022);
    assert_null(c->nc_host_key);
    assert_false(c->nc_tcp_enabled);
    assert_string_equal(c->nc_tcp_addr, "127.0.0.1");
    assert_int_equal(c->nc_tcp_port, 2023);
    assert_int_equal(c->nusers, 0);
    assert_null(c->users);
    assert_true(c->candidate);
    assert_int_equal(c->running_access, CFG_RUNNING_RW);
    assert_false(c->startup);
    assert_true(c->confirmed_commit);
    assert_true(c->rb_enabled);
    assert_dir(fx, c->rb_dir, "db/rollback");
    assert_int_equal(c->rb_max, 100);
    assert_null(c->log_file);
    assert_int_equal(c->log_level, LL_INFO);
    assert_int_equal(c->lock_timeout_ms, 60000);
    assert_int_equal(c->subscriber_timeout_ms, 60000);
    cfg_free(c);
}

#define HASH6                                                                                      \
    "$6$chorusdemo$/1zSeyqBeCdn0guwwCLEvn6r89t.5/v.ssw445fRVEEf3XO51PWIyifPwCXwcer4fVeJfw/"        \
    "sWbAxXAmW389d3/"
#define HASH5 "$5$abc$h9hBGvwEDgwYOxlTcWtufou3cVr.N2bWkk4oxFPll.D"
#define KEY1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBHxn2c1pZkqYl0d3Qm1nq2bW1+vJ2bQ3o0QvQm6c5mV a@b"
#define KEY2 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY="

/* Every leaf away from its default; file names relative, dotted and absolute. */
static const char full_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!-- a comment -->\n"
    "<chorusd xmlns=\"" NS "\">\n"
    "  <database><dir>./var//node1/</dir><compact-threshold>4096</compact-threshold>"
    "<validation>full</validation></database>\n"
    "  <ipc><address>192.0.2.1</address><port>4575</port><unix-path>run/ipc.sock</unix-path>"
    "<max-frame-size>4096</max-frame-size><max-sessions>1</max-sessions>"
    "<secret-file>../secret</secret-file></ipc>\n"
    "  <netconf><enabled>false</enabled><max-sessions>65535</max-sessions>"
    "<max-message-size>2147483647</max-message-size><idle-timeout>0</idle-timeout>\n"
    "    <ssh><enabled>false</enabled><address>::1</address><port>2032</port>"
    "<host-key>/etc/chorus/key</host-key></ssh>\n"
    "    <tcp><enabled>true</enabled><address>0.0.0.0</address><port>2033</port></tcp>\n"
    "  </netconf>\n"
    "  <aaa>\n"
    "    <user><name>admin</name><password>" HASH6 "</password>"
    "<authorized-key>" KEY1 "</authorized-key><authorized-key>" KEY2 "</authorized-key>"
    "<group>admin</group><group>ops</group></user>\n"
    "    <user><name>_ro.user-1</name><password>" HASH5 "</password></user>\n"
    "    <user><name>keyonly</name><authorized-key>" KEY1 "</authorized-key></user>\n"
    "  </aaa>\n"
    "  <datastores><candidate><enabled>true</enabled></candidate>"
    "<running><access>writable-through-candidate</access></running>"
    "<startup><enabled>true</enabled></startup>"
    "<confirmed-commit><enabled>false</enabled></confirmed-commit></datastores>\n"
    "  <rollback><enabled>false</enabled><dir>rb</dir><max-files>100000</max-files></rollback>\n"
    "  <logging><file>log/chorusd.log</file><level>debug</level></logging>\n"
    "  <commit><lock-timeout>0</lock-timeout><subscriber-timeout>1</subscriber-timeout></commit>\n"
    "</chorusd>\n";

static const char full_json[] =
    "  \n{\n"
    "  \"chorus-config:chorusd\": {\n"
    "    \"database\": {\"dir\": \"./var//node1/\", \"compact-threshold\": \"4096\","
    " \"validation\": \"full\"},\n"
    "    \"ipc\": {\"address\": \"192.0.2.1\", \"port\": 4575, \"unix-path\": \"run/ipc.sock\","
    " \"max-frame-size\": 4096, \"max-sessions\": 1, \"secret-file\": \"../secret\"},\n"
    "    \"netconf\": {\"enabled\": false, \"max-sessions\": 65535,"
    " \"max-message-size\": 2147483647, \"idle-timeout\": 0,\n"
    "      \"ssh\": {\"enabled\": false, \"address\": \"::1\", \"port\": 2032,"
    " \"host-key\": \"/etc/chorus/key\"},\n"
    "      \"tcp\": {\"enabled\": true, \"address\": \"0.0.0.0\", \"port\": 2033}},\n"
    "    \"aaa\": {\"user\": [\n"
    "      {\"name\": \"admin\", \"password\": \"" HASH6 "\","
    " \"authorized-key\": [\"" KEY1 "\", \"" KEY2 "\"], \"group\": [\"admin\", \"ops\"]},\n"
    "      {\"name\": \"_ro.user-1\", \"password\": \"" HASH5 "\"},\n"
    "      {\"name\": \"keyonly\", \"authorized-key\": [\"" KEY1 "\"]}]},\n"
    "    \"datastores\": {\"candidate\": {\"enabled\": true},"
    " \"running\": {\"access\": \"writable-through-candidate\"},"
    " \"startup\": {\"enabled\": true}, \"confirmed-commit\": {\"enabled\": false}},\n"
    "    \"rollback\": {\"enabled\": false, \"dir\": \"rb\", \"max-files\": 100000},\n"
    "    \"logging\": {\"file\": \"log/chorusd.log\", \"level\": \"debug\"},\n"
    "    \"commit\": {\"lock-timeout\": 0, \"subscriber-timeout\": 1}\n"
    "  }\n"
    "}\n";

/* The values of full_xml, with file names relative to @p base (the file's directory). */
static void
check_full(const struct cfg *c, const char *base)
{
    char want[PATH_MAX * 2];
    const struct cfg_user *u;

    snprintf(want, sizeof want, "%s/var/node1", base);
    assert_string_equal(c->db_dir, want);
    assert_true(c->compact_threshold == 4096);
    assert_int_equal(c->validation, CFG_VAL_FULL);
    assert_string_equal(c->ipc_addr, "192.0.2.1");
    assert_int_equal(c->ipc_port, 4575);
    snprintf(want, sizeof want, "%s/run/ipc.sock", base);
    assert_string_equal(c->ipc_unix_path, want);
    assert_int_equal(c->max_frame, 4096);
    assert_int_equal(c->max_sessions, 1);
    /* ".." is kept: resolving it lexically would be wrong across symbolic links */
    snprintf(want, sizeof want, "%s/../secret", base);
    assert_string_equal(c->secret_file, want);
    assert_false(c->nc_enabled);
    assert_int_equal(c->nc_max_sessions, 65535);
    assert_int_equal(c->nc_max_msg, 2147483647u);
    assert_int_equal(c->nc_idle_timeout, 0);
    assert_false(c->nc_ssh_enabled);
    assert_string_equal(c->nc_ssh_addr, "::1");
    assert_int_equal(c->nc_ssh_port, 2032);
    assert_string_equal(c->nc_host_key, "/etc/chorus/key");
    assert_true(c->nc_tcp_enabled);
    assert_string_equal(c->nc_tcp_addr, "0.0.0.0");
    assert_int_equal(c->nc_tcp_port, 2033);

    assert_int_equal(c->nusers, 3);
    u = &c->users[0];
    assert_string_equal(u->name, "admin");
    assert_string_equal(u->password, HASH6);
    assert_int_equal(u->nkeys, 2);
    assert_string_equal(u->keys[0], KEY1);
    assert_string_equal(u->keys[1], KEY2);
    assert_int_equal(u->ngroups, 2);
    assert_string_equal(u->groups[0], "admin");
    assert_string_equal(u->groups[1], "ops");
    u = &c->users[1];
    assert_string_equal(u->name, "_ro.user-1");
    assert_string_equal(u->password, HASH5);
    assert_int_equal(u->nkeys, 0);
    assert_null(u->keys);
    assert_int_equal(u->ngroups, 0);
    assert_null(u->groups);
    u = &c->users[2];
    assert_string_equal(u->name, "keyonly");
    assert_null(u->password);
    assert_int_equal(u->nkeys, 1);

    assert_true(c->candidate);
    assert_int_equal(c->running_access, CFG_RUNNING_VIA_CANDIDATE);
    assert_true(c->startup);
    assert_false(c->confirmed_commit);
    assert_false(c->rb_enabled);
    snprintf(want, sizeof want, "%s/rb", base);
    assert_string_equal(c->rb_dir, want);
    assert_int_equal(c->rb_max, 100000);
    snprintf(want, sizeof want, "%s/log/chorusd.log", base);
    assert_string_equal(c->log_file, want);
    assert_int_equal(c->log_level, LL_DEBUG);
    assert_int_equal(c->lock_timeout_ms, 0);
    assert_int_equal(c->subscriber_timeout_ms, 1);
}

static void
test_full_xml(void **state)
{
    struct fixture *fx = *state;
    struct cfg *c = load_ok(fx, "chorusd.conf", full_xml);

    check_full(c, fx->dir);
    cfg_free(c);
}

/* Relative names follow the file's directory, not the current directory. */
static void
test_relative_paths(void **state)
{
    struct fixture *fx = *state;
    struct cfg *c = NULL;
    struct cerr *e = NULL;
    char base[PATH_MAX + 16], want[PATH_MAX * 2];

    put(fx, "etc/chorusd.conf", full_xml, strlen(full_xml));
    snprintf(base, sizeof base, "%s/elsewhere", fx->dir);
    assert_int_equal(mkdir(base, 0700), 0);
    assert_int_equal(chdir(base), 0);
    assert_int_equal(cfg_load("../etc/chorusd.conf", &c, &e), CHORUS_OK);
    assert_null(e);
    snprintf(base, sizeof base, "%s/etc", fx->dir);
    snprintf(want, sizeof want, "%s/chorusd.conf", base);
    assert_string_equal(c->path, want);
    check_full(c, base);
    cfg_free(c);
}

static void
test_json_equals_xml(void **state)
{
    struct fixture *fx = *state;
    struct cfg *x = load_ok(fx, "a.xml", full_xml);
    struct cfg *j = load_ok(fx, "b.json", full_json);

    check_full(x, fx->dir);
    check_full(j, fx->dir);
    cfg_free(x);
    cfg_free(j);

    /* the smallest file too, in JSON */
    j = load_ok(fx, "c.conf", "{\"chorus-config:chorusd\":{\"database\":{\"dir\":\"/db\"}}}");
    assert_string_equal(j->db_dir, "/db");
    assert_string_equal(j->rb_dir, "/db/rollback");
    assert_int_equal(j->ipc_port, 4565);
    cfg_free(j);
}

static void
test_example(void **state)
{
    const char *src = getenv("CHORUS_SRC");
    char path[PATH_MAX * 2], root[PATH_MAX], want[PATH_MAX * 2];
    struct cfg *c = NULL;
    struct cerr *e = NULL;

    (void)state;
    snprintf(path, sizeof path, "%s/examples/routes/chorusd.conf", src ? src : ".");
    assert_int_equal(cfg_load(path, &c, &e), CHORUS_OK);
    assert_null(e);
    assert_non_null(realpath(src ? src : ".", root));
    snprintf(want, sizeof want, "%s/examples/routes/var/node0", root);
    assert_string_equal(c->db_dir, want);
    snprintf(want, sizeof want, "%s/examples/routes/var/node0/rollback", root);
    assert_string_equal(c->rb_dir, want);
    assert_null(c->log_file); /* the daemon's default, in the database directory */
    assert_int_equal(c->log_level, LL_INFO);
    assert_string_equal(c->ipc_addr, "127.0.0.1");
    assert_int_equal(c->ipc_port, 4565);
    assert_true(c->nc_enabled);
    assert_true(c->nc_ssh_enabled);
    assert_int_equal(c->nc_ssh_port, 2022);
    assert_true(c->nc_tcp_enabled);
    assert_int_equal(c->nc_tcp_port, 2023);
    assert_int_equal(c->nusers, 1);
    assert_string_equal(c->users[0].name, "admin");
    assert_string_equal(c->users[0].password, HASH6);
    assert_true(c->candidate);
    assert_int_equal(c->running_access, CFG_RUNNING_RW);
    assert_true(c->confirmed_commit);
    assert_true(c->rb_enabled);
    assert_int_equal(c->rb_max, 100);
    cfg_free(c);
}

/* ---- errors ---- */

static void
test_err_unreadable(void **state)
{
    struct fixture *fx = *state;
    struct cfg *c = (struct cfg *)(uintptr_t)0x1;
    struct cerr *e = NULL;
    char *path = fx_path(fx, "missing.conf"), want[PATH_MAX * 2];

    assert_int_equal(cfg_load(path, &c, &e), CHORUS_ERR_IO);
    assert_ptr_equal(c, (struct cfg *)(uintptr_t)0x1);
    snprintf(want, sizeof want, "%s: cannot read the file: No such file or directory", path);
    assert_string_equal(e->msg, want);
    cerr_free(e);
    e = NULL;
    /* a directory is not a configuration file */
    assert_int_equal(cfg_load(fx->dir, &c, &e), CHORUS_ERR_IO);
    assert_contains(e->msg, fx->dir);
    assert_contains(e->msg, "Is a directory");
    cerr_free(e);
    free(path);
}

static void
test_err_malformed_xml(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "<chorusd xmlns=\"" NS "\">\n"
                               "  <database>\n"
                               "    <dir>db</dir>\n"
                               "</chorusd>\n";
    static const char with_nul[] = "<chorusd xmlns=\"" NS "\">\0</chorusd>";
    struct cerr *e = load_fail(fx, text, CHORUS_ERR_INVAL);

    assert_contains(e->msg, ": line 4: ");
    assert_contains(e->msg, "tag mismatch");
    cerr_free(e);

    e = load_fail(fx, "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n<",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 2");
    cerr_free(e);

    e = load_fail(fx, "{\"chorus-config:chorusd\": {\n\"database\": {\"dir\": \"x\",}}}",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 2");
    cerr_free(e);

    e = load_fail_n(fx, with_nul, sizeof with_nul - 1, CHORUS_ERR_INVAL);
    assert_contains(e->msg, "NUL byte");
    cerr_free(e);
}

static void
test_err_unknown_element(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "<chorusd xmlns=\"" NS "\">\n"
                               "  <database><dir>db</dir></database>\n"
                               "  <ipc>\n"
                               "    <bogus>1</bogus>\n"
                               "  </ipc>\n"
                               "</chorusd>\n";
    struct cerr *e = load_fail(fx, text, CHORUS_ERR_INVAL);

    assert_contains(e->msg,
                    ": line 4: " TOP "/ipc: Node \"bogus\" not found as a child of \"ipc\"");
    assert_string_equal(e->path, TOP "/ipc");
    cerr_free(e);
}

static void
test_err_namespace(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "<chorusd xmlns=\"urn:wrong\">\n"
                               "  <database><dir>db</dir></database>\n"
                               "</chorusd>\n";
    struct cerr *e = load_fail(fx, text, CHORUS_ERR_INVAL);

    assert_contains(e->msg, "No module with namespace \"urn:wrong\" in the context");
    cerr_free(e);

    e = load_fail(fx, "{\"other:chorusd\": {}}", CHORUS_ERR_INVAL);
    assert_contains(e->msg, "\"other\"");
    cerr_free(e);
}

static void
test_err_type(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "<chorusd xmlns=\"" NS "\">\n"
                               "  <database><dir>db</dir></database>\n"
                               "  <ipc>\n"
                               "    <port>70000</port>\n"
                               "  </ipc>\n"
                               "</chorusd>\n";
    struct cerr *e = load_fail(fx, text, CHORUS_ERR_INVAL);
    char *path = fx_path(fx, "chorusd.conf"), want[PATH_MAX * 2];

    snprintf(want, sizeof want,
             "%s: line 4: " TOP "/ipc/port: Value \"70000\" is out of type uint16 min/max bounds.",
             path);
    assert_string_equal(e->msg, want);
    assert_string_equal(e->path, TOP "/ipc/port");
    cerr_free(e);

    e = load_fail(fx,
                  "{\"chorus-config:chorusd\": {\"database\": {\"dir\": \"db\"},\n"
                  "\"ipc\": {\"port\": 70000}}}",
                  CHORUS_ERR_INVAL);
    snprintf(want, sizeof want,
             "%s: line 2: " TOP "/ipc/port: Value \"70000\" is out of type uint16 min/max bounds.",
             path);
    assert_string_equal(e->msg, want);
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<netconf><enabled>maybe</enabled></netconf></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 2: " TOP "/netconf/enabled: Invalid boolean value \"maybe\"");
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir>\n"
                  "<validation>fastest</validation></database></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, TOP "/database/validation: Invalid enumeration value \"fastest\"");
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<ipc><address>localhost</address></ipc></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, TOP "/ipc/address: ");
    assert_contains(e->msg, "localhost");
    cerr_free(e);
    free(path);
}

static void
test_err_range(void **state)
{
    struct fixture *fx = *state;
    struct cerr *e;

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir>\n"
                  "<compact-threshold>4095</compact-threshold></database></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 2: " TOP "/database/compact-threshold: Unsatisfied range - "
                            "value \"4095\" is out of the allowed range.");
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<netconf><max-sessions>0</max-sessions></netconf></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, TOP "/netconf/max-sessions: Unsatisfied range");
    cerr_free(e);
}

static void
test_err_pattern(void **state)
{
    struct fixture *fx = *state;
    struct cerr *e;

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<aaa><user><name>9lives</name></user></aaa></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 2: " TOP "/aaa/user/name: Unsatisfied pattern - \"9lives\"");
    cerr_free(e);

    /* a clear-text password gets the module's own error-message */
    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<aaa><user><name>admin</name>\n<password>admin</password></user></aaa>"
                  "</chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "line 3: ");
    assert_contains(e->msg, "/password: password must be a SHA-512 ('$6$') or SHA-256 ('$5$') "
                            "crypt(3) hash, not a clear-text password");
    cerr_free(e);

    /* a SHA-512 hash cut short */
    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<aaa><user><name>admin</name><password>$6$salt$abc</password></user></aaa>"
                  "</chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "/password: password must be");
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<aaa><user><name>admin</name><authorized-key>not a key</authorized-key>"
                  "</user></aaa></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "/authorized-key: Unsatisfied pattern - \"not a key\"");
    cerr_free(e);
}

static void
test_err_must(void **state)
{
    struct fixture *fx = *state;
    struct cerr *e;
    struct cfg *c;
    char *path = fx_path(fx, "chorusd.conf"), want[PATH_MAX * 2];

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<ipc><address>10.0.0.1</address></ipc></chorusd>",
                  CHORUS_ERR_INVAL);
    snprintf(want, sizeof want,
             "%s: " TOP "/ipc: ipc/address is not a loopback address: ipc/secret-file is "
             "required",
             path);
    assert_string_equal(e->msg, want);
    assert_string_equal(e->path, TOP "/ipc");
    assert_string_equal(e->apptag, "must-violation");
    cerr_free(e);

    /* with the secret, or on a loopback address, it is fine */
    c = load_ok(fx, "ok.conf",
                "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                "<ipc><address>10.0.0.1</address><secret-file>s</secret-file></ipc></chorusd>");
    assert_string_equal(c->ipc_addr, "10.0.0.1");
    assert_dir(fx, c->secret_file, "s");
    cfg_free(c);
    c = load_ok(fx, "ok.conf",
                "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                "<ipc><address>::1</address></ipc></chorusd>");
    cfg_free(c);
    c = load_ok(fx, "ok.conf",
                "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                "<ipc><address>127.3.2.1</address></ipc></chorusd>");
    cfg_free(c);
    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                  "<ipc><address>::</address></ipc></chorusd>",
                  CHORUS_ERR_INVAL);
    assert_contains(e->msg, "secret-file is required");
    cerr_free(e);

    e = load_fail(fx,
                  "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>\n"
                  "<datastores><candidate><enabled>false</enabled></candidate>\n"
                  "<running><access>writable-through-candidate</access></running></datastores>"
                  "</chorusd>",
                  CHORUS_ERR_INVAL);
    snprintf(want, sizeof want,
             "%s: " TOP "/datastores: running/access writable-through-candidate requires "
             "candidate/enabled",
             path);
    assert_string_equal(e->msg, want);
    assert_string_equal(e->apptag, "must-violation");
    cerr_free(e);
    free(path);
}

static void
test_err_mandatory(void **state)
{
    struct fixture *fx = *state;
    struct cerr *e;
    char *path = fx_path(fx, "chorusd.conf"), want[PATH_MAX * 2];

    snprintf(want, sizeof want,
             "%s: " TOP "/database/dir: Mandatory node \"dir\" instance does not exist.", path);
    e = load_fail(fx, "<chorusd xmlns=\"" NS "\"><ipc/></chorusd>\n", CHORUS_ERR_INVAL);
    assert_string_equal(e->msg, want);
    assert_string_equal(e->path, TOP "/database/dir");
    cerr_free(e);
    /* an empty file (XML) and an empty object (JSON) lack it too */
    e = load_fail(fx, "", CHORUS_ERR_INVAL);
    assert_string_equal(e->msg, want);
    cerr_free(e);
    e = load_fail(fx, " {}", CHORUS_ERR_INVAL);
    assert_string_equal(e->msg, want);
    cerr_free(e);
    free(path);
}

static void
test_set_db_dir(void **state)
{
    struct fixture *fx = *state;
    struct cfg *c = load_ok(fx, "chorusd.conf", minimal);
    struct cerr *e = NULL;
    char sub[PATH_MAX * 2];

    /* absolute: the defaulted rollback directory follows */
    assert_int_equal(cfg_set_db_dir(c, "/srv/node1/", &e), CHORUS_OK);
    assert_string_equal(c->db_dir, "/srv/node1");
    assert_string_equal(c->rb_dir, "/srv/node1/rollback");
    /* relative: to the current directory, not to the file */
    snprintf(sub, sizeof sub, "%s/x", fx->dir);
    mkdir(sub, 0700);
    assert_int_equal(chdir(sub), 0);
    assert_int_equal(cfg_set_db_dir(c, "./var/node2", &e), CHORUS_OK);
    assert_dir(fx, c->db_dir, "x/var/node2");
    assert_dir(fx, c->rb_dir, "x/var/node2/rollback");
    /* errors leave it alone */
    assert_int_equal(cfg_set_db_dir(c, "", &e), CHORUS_ERR_INVAL);
    assert_non_null(e);
    assert_dir(fx, c->db_dir, "x/var/node2");
    cerr_free(e);
    e = NULL;
    assert_int_equal(cfg_set_db_dir(c, NULL, NULL), CHORUS_ERR_INVAL);
    cfg_free(c);

    /* a rollback directory named in the file stays */
    c = load_ok(fx, "chorusd.conf",
                "<chorusd xmlns=\"" NS "\"><database><dir>db</dir></database>"
                "<rollback><dir>/var/rb</dir></rollback></chorusd>");
    assert_string_equal(c->rb_dir, "/var/rb");
    assert_int_equal(cfg_set_db_dir(c, "/srv/node3", &e), CHORUS_OK);
    assert_string_equal(c->db_dir, "/srv/node3");
    assert_string_equal(c->rb_dir, "/var/rb");
    cfg_free(c);
    cfg_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_equals_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_malformed_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_unknown_element, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_must, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_mandatory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_db_dir, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
