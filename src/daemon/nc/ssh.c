/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SSH transport of the NETCONF server; see ssh.h for the contract.
 *
 * Threads. nc_ssh_start() (daemon's thread) reads the host key, binds the listening socket
 * and starts the SSH thread; from then on every libssh object (the bind, the ssh_event, the
 * sessions and channels) and every connection and relay below belongs to the SSH thread
 * alone. The two threads share only the fields marked "shared": the stop flag and the
 * connection count (atomics) and a queue of items for the daemon's thread (mutex + eventfd):
 * new NETCONF channels and log lines. log.c is not made thread-safe: the SSH thread never
 * calls it, it queues its lines and the daemon's thread writes them. Configuration is copied
 * at start (users, keys), so the SSH thread never reads struct cfg.
 *
 * The SSH thread's loop: ssh_event_dopoll() over the listening socket, the wake-up eventfd,
 * every session and every relay socket; then one turn: service the relays, close the
 * connections that are over, accept new ones. Invariants that keep it safe with libssh:
 *  1. Callbacks (libssh's and the fd callbacks) only record state (flags, bytes into a relay's
 *     buffer, a new relay at the head of a list, a new socketpair); they never free anything
 *     and never add or remove poll handles, because libssh calls them from inside its poll
 *     loop, and also from nested polls inside ssh_channel_write() and ssh_channel_close().
 *  2. Objects are freed in the turn only, after they were unlinked from every list; a relay's
 *     channel callbacks are removed before its channel is freed; a session leaves the event
 *     before it is disconnected and freed; a relay's socket leaves the event before it is
 *     closed.
 *  3. Connections that are over are closed before new ones are accepted, so that a closed
 *     session's descriptor number is never reused while its poll handle may still be in the
 *     event.
 *
 * A relay is one session channel. After the "netconf" subsystem request it owns one end of a
 * socketpair and two bounded buffers: channel -> socket (filled by the data callback; what
 * does not fit stays in libssh's channel buffer, which shrinks the client's window) and
 * socket -> channel (read from the socket only while there is room, written to the channel
 * only within its window and while the session has no unsent output). Closing:
 *   channel EOF      -> (after the buffered bytes) shutdown(SHUT_WR) of the socket;
 *   channel close    -> (after the buffered bytes) our end is closed, the close is answered;
 *   socket EOF/error -> (after the buffered bytes) EOF + close on the channel, our end closed;
 * a relay is gone when both are closed (or SSH_LINGER_MS after our close), and a connection
 * ends when its last NETCONF relay is gone.
 */
#include "ssh.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define SSH_RELAY_BUF 65536       /* each direction of a relay */
#define SSH_AUTH_TIMEOUT_MS 30000 /* accept -> authenticated; authenticated -> NETCONF */
#define SSH_MAX_AUTH_TRIES 6      /* failed attempts (passwords, keys) per connection */
#define SSH_MAX_CHANNELS 4        /* session channels open at once on a connection */
#define SSH_LINGER_MS 5000        /* wait for the client's close after ours */
#define SSH_DRAIN_MS 30000        /* to deliver the last bytes after one side closed */
#define SSH_MAX_UNREAD (4u << 20) /* channel data held for us: more violates the window */
#define SSH_POLL_MS 1000          /* longest sleep of the SSH thread (deadlines) */
#define SSH_LOG_NAME 64           /* longest user name written to the log */
#define SSH_NOUSER_SETTING "$6$chorus.nouser$" /* crypt setting for unknown users */

/* A user of aaa/user, copied at start with the authorized keys parsed. */
struct ssh_user {
    char *name;
    char *hash; /* crypt(3) hash or NULL */
    ssh_key *keys;
    size_t nkeys;
};

/* An item for the daemon's thread: a NETCONF channel (fd >= 0) or a log line (fd < 0). */
struct ssh_item {
    struct ssh_item *next;
    int fd;
    enum log_level level;
    const char *user; /* into data[] */
    const char *peer; /* into data[] */
    char data[];      /* the log line, or user and peer */
};

struct conn;

/* One session channel of a connection. */
struct relay {
    struct conn *conn;
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    int fd;    /* our end of the socketpair, -1 before "netconf" and after closing */
    short reg; /* poll events of fd registered in the event (0: not registered) */
    bool netconf;
    bool dirty;      /* something happened: service it in this turn */
    bool ch_pending; /* libssh holds channel data that did not fit into in[] */
    bool ch_eof;     /* the client sent EOF (or close) */
    bool ch_closed;  /* the client sent close */
    bool shut_wr;    /* the socket was shut down for writing (after ch_eof) */
    bool sock_eof;   /* nothing more to read from the socket (EOF or error) */
    bool sent_close; /* we sent EOF + close on the channel */
    bool done;       /* to be freed in this turn */
    uint64_t deadline;
    size_t in_len;  /* channel -> socket */
    size_t out_len; /* socket -> channel */
    char *in;
    char *out;
    struct relay *next;
};

/* One SSH connection. */
struct conn {
    struct nc_ssh *s;
    ssh_session sess;
    struct ssh_server_callbacks_struct cb;
    char peer[NI_MAXHOST];
    char *user; /* authenticated user, NULL before */
    unsigned fails;
    uint64_t deadline; /* authenticate / open a NETCONF channel before (0: none) */
    struct relay *relays;
    unsigned nrelays;
    unsigned nnetconf; /* relays that are NETCONF channels */
    bool had_netconf;
    bool kill; /* close it in this turn */
    struct conn *next;
};

struct nc_ssh {
    struct core *c;
    nc_ssh_accept_cb cb;
    void *arg;
    int qfd; /* eventfd: items queued for the daemon's thread (watched by c->ev) */

    /* set at start, then read only by the SSH thread */
    struct ssh_user *users;
    size_t nusers;
    unsigned max_conns;
    ssh_bind bind;
    ssh_event event;
    int lfd;    /* listening socket */
    int wakefd; /* eventfd: wakes the SSH thread to stop */
    pthread_t thread;
    bool thread_started;
    bool ssh_inited;

    /* shared */
    atomic_bool stop;
    atomic_uint nconns;
    pthread_mutex_t qlock;
    struct ssh_item *qhead; /* FIFO */
    struct ssh_item **qtail;

    /* the SSH thread's */
    struct conn *conns;
    struct crypt_data *cd;
    bool dirty;        /* some relay or connection needs service: do not sleep */
    bool accept_ready; /* the listening socket is readable */
    uint64_t lfd_paused_until;
    uint64_t refused_logged; /* time of the last "refused" line */
    unsigned refused;        /* refusals not logged since */
};

/* ---- the queue to the daemon's thread ---- */

static struct ssh_item *
item_new(int fd, enum log_level level, const char *text, const char *user, const char *peer)
{
    size_t lt = text ? strlen(text) + 1 : 0, lu = user ? strlen(user) + 1 : 0,
           lp = peer ? strlen(peer) + 1 : 0;
    struct ssh_item *it = malloc(sizeof *it + lt + lu + lp);
    char *p;

    if (!it) {
        return NULL;
    }
    it->next = NULL;
    it->fd = fd;
    it->level = level;
    p = it->data;
    if (text) {
        memcpy(p, text, lt);
        p += lt;
    }
    it->user = user ? memcpy(p, user, lu) : NULL;
    p += lu;
    it->peer = peer ? memcpy(p, peer, lp) : NULL;
    return it;
}

static void
q_push(struct nc_ssh *s, struct ssh_item *it)
{
    uint64_t one = 1;

    pthread_mutex_lock(&s->qlock);
    *s->qtail = it;
    s->qtail = &it->next;
    pthread_mutex_unlock(&s->qlock);
    if (write(s->qfd, &one, sizeof one) < 0) {
        /* the counter is saturated: the daemon's thread has been woken already */
    }
}

static struct ssh_item *
q_take(struct nc_ssh *s)
{
    struct ssh_item *all;

    pthread_mutex_lock(&s->qlock);
    all = s->qhead;
    s->qhead = NULL;
    s->qtail = &s->qhead;
    pthread_mutex_unlock(&s->qlock);
    return all;
}

/* A log line from the SSH thread (written by the daemon's thread). */
static void tlog(struct nc_ssh *s, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tlog(struct nc_ssh *s, enum log_level level, const char *fmt, ...)
{
    char line[512];
    struct ssh_item *it;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || !(it = item_new(-1, level, line, NULL, NULL))) {
        return;
    }
    q_push(s, it);
}

/* Daemon's thread: deliver the queued items (or, with @p deliver false, drop the channels). */
static void
q_drain(struct nc_ssh *s, bool deliver)
{
    struct ssh_item *it = q_take(s), *next;

    for (; it; it = next) {
        next = it->next;
        if (it->fd < 0) {
            LOG(it->level, NULL, "%s", it->data);
        } else if (deliver) {
            s->cb(s->arg, it->fd, it->user, it->peer);
        } else {
            close(it->fd);
        }
        free(it);
    }
}

static void
on_queue(void *arg, int fd, uint32_t events)
{
    struct nc_ssh *s = arg;
    uint64_t n;

    (void)events;
    if (read(fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing new */
    }
    q_drain(s, true);
}

/* ---- helpers ---- */

/* A name from the client, fit for the log: printable ASCII, at most SSH_LOG_NAME chars. */
static const char *
clean_name(char *buf, size_t cap, const char *name)
{
    size_t i;

    for (i = 0; name && name[i] && i < cap - 1 && i < SSH_LOG_NAME; i++) {
        buf[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
    }
    buf[i] = '\0';
    return buf;
}

static const struct ssh_user *
user_find(const struct nc_ssh *s, const char *name)
{
    for (size_t i = 0; name && i < s->nusers; i++) {
        if (!strcmp(s->users[i].name, name)) {
            return &s->users[i];
        }
    }
    return NULL;
}

static void
users_free(struct nc_ssh *s)
{
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        free(s->users[i].hash);
        for (size_t k = 0; k < s->users[i].nkeys; k++) {
            ssh_key_free(s->users[i].keys[k]);
        }
        free(s->users[i].keys);
    }
    free(s->users);
    s->users = NULL;
    s->nusers = 0;
}

/* Copy aaa/user, parsing each authorized-key line ("type base64 [comment]"). A line libssh
 * cannot read is skipped with a warning (the module's pattern lets some through). */
static enum chorus_err
users_copy(struct nc_ssh *s, const struct cfg *cfg, struct cerr **e)
{
    if (!cfg->nusers) {
        return CHORUS_OK;
    }
    if (!(s->users = calloc(cfg->nusers, sizeof *s->users))) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    for (size_t i = 0; i < cfg->nusers; i++) {
        const struct cfg_user *cu = &cfg->users[i];
        struct ssh_user *u = &s->users[s->nusers++];

        u->name = strdup(cu->name);
        u->hash = cu->password ? strdup(cu->password) : NULL;
        u->keys = cu->nkeys ? calloc(cu->nkeys, sizeof *u->keys) : NULL;
        if (!u->name || (cu->password && !u->hash) || (cu->nkeys && !u->keys)) {
            return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        }
        for (size_t k = 0; k < cu->nkeys; k++) {
            char *line = strdup(cu->keys[k]), *sp, *b64, *end;
            enum ssh_keytypes_e type;
            ssh_key key = NULL;

            if (!line) {
                return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
            }
            sp = strchr(line, ' ');
            if (sp) {
                *sp = '\0';
                b64 = sp + 1;
                if ((end = strchr(b64, ' '))) {
                    *end = '\0';
                }
                type = ssh_key_type_from_name(line);
                if (type != SSH_KEYTYPE_UNKNOWN &&
                    ssh_pki_import_pubkey_base64(b64, type, &key) == SSH_OK) {
                    u->keys[u->nkeys++] = key;
                }
            }
            if (!key) {
                LOG(LL_WARN, NULL,
                    "aaa/user %s: authorized-key %zu is not a public key libssh reads", cu->name,
                    k + 1);
            }
            free(line);
        }
    }
    return CHORUS_OK;
}

/* ---- the host key ---- */

/* Generate an ed25519 key into @p path: written to "<path>.tmp" (mode 0600), renamed. */
static enum chorus_err
hostkey_generate(const char *path, struct cerr **e)
{
    ssh_key key = NULL;
    char *b64 = NULL, *tmp = NULL, *dir = NULL, *slash;
    enum chorus_err rc = CHORUS_OK;
    size_t len;
    int fd = -1, r;

    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
        ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot generate the SSH host key %s", path);
        goto out;
    }
    if (!(tmp = malloc(strlen(path) + 5)) || !(dir = strdup(path))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto out;
    }
    sprintf(tmp, "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    len = strlen(b64);
    if (fd < 0 || fchmod(fd, 0600) < 0 || (r = write_all(fd, b64, len)) < 0 ||
        (len && b64[len - 1] != '\n' && (r = write_all(fd, "\n", 1)) < 0) || fsync(fd) < 0) {
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot write the SSH host key %s: %s", tmp,
                      strerror(errno));
        goto out;
    }
    r = close(fd);
    fd = -1;
    if (r < 0 || rename(tmp, path) < 0) {
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot write the SSH host key %s: %s", path,
                      strerror(errno));
        goto out;
    }
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        fsync_dir(dir);
    }
    LOG(LL_INFO, NULL, "generated the SSH host key %s (ed25519)", path);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc && tmp) {
        unlink(tmp);
    }
    free(tmp);
    free(dir);
    ssh_string_free_char(b64);
    ssh_key_free(key);
    return rc;
}

static enum chorus_err
hostkey_load(const char *path, ssh_key *ret_key, struct cerr **e)
{
    struct stat st;
    ssh_key key = NULL;
    enum chorus_err rc;
    int fd;

    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            return cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot read the SSH host key %s: %s",
                            path, strerror(errno));
        }
        if ((rc = hostkey_generate(path, e))) {
            return rc;
        }
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot read the SSH host key %s: %s", path,
                      strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    close(fd);
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
        return cerr_add(e, CHORUS_ERR_IO, NULL, NULL,
                        "cannot read the SSH host key %s: not an unencrypted private key", path);
    }
    if (st.st_mode & 077) {
        LOG(LL_WARN, NULL, "the SSH host key %s is accessible to others (mode %03o)", path,
            (unsigned)(st.st_mode & 0777));
    }
    *ret_key = key;
    return CHORUS_OK;
}

/* ---- the listening socket ---- */

static enum chorus_err
listen_on(const char *addr, uint16_t port, int *ret_fd, struct cerr **e)
{
    int fd = tcp_listen(addr, port, 64);

    if (fd < 0) {
        return cerr_add(e, CHORUS_ERR_IO, NULL, NULL,
                        "cannot listen for NETCONF over SSH on %s port %u: %s", addr,
                        (unsigned)port,
                        fd == -EINVAL ? "not an IP address" : strerror(-fd));
    }
    *ret_fd = fd;
    return CHORUS_OK;
}

/* ---- authentication (libssh callbacks, SSH thread) ---- */

static void
mark_dirty(struct relay *r)
{
    r->dirty = true;
    r->conn->s->dirty = true;
}

/* The outcome of one attempt: log it, count failures, disconnect after too many. */
static int
auth_result(struct conn *cn, const struct ssh_user *u, const char *name, bool ok,
            const char *method)
{
    struct nc_ssh *s = cn->s;
    char buf[SSH_LOG_NAME + 1];

    if (ok && !(cn->user = strdup(u->name))) {
        ok = false;
    }
    if (ok) {
        cn->deadline = now_ms() + SSH_AUTH_TIMEOUT_MS;
        tlog(s, LL_INFO, "SSH login: user %s from %s (%s)", u->name, cn->peer, method);
        return SSH_AUTH_SUCCESS;
    }
    cn->fails++;
    tlog(s, LL_WARN, "SSH login failed: user %s from %s (%s)", clean_name(buf, sizeof buf, name),
         cn->peer, method);
    if (cn->fails >= SSH_MAX_AUTH_TRIES) {
        tlog(s, LL_WARN, "SSH connection from %s closed after %u failed logins", cn->peer,
             cn->fails);
        cn->kill = true;
        s->dirty = true;
    }
    return SSH_AUTH_DENIED;
}

static int
on_auth_password(ssh_session sess, const char *name, const char *password, void *userdata)
{
    struct conn *cn = userdata;
    const struct ssh_user *u = user_find(cn->s, name);
    const char *h;
    size_t len;
    bool ok;

    (void)sess;
    if (cn->user || cn->kill) {
        return SSH_AUTH_DENIED;
    }
    /* unknown users and users without a password cost the same crypt_r as the others */
    h = crypt_r(password ? password : "", u && u->hash ? u->hash : SSH_NOUSER_SETTING, cn->s->cd);
    len = u && u->hash ? strlen(u->hash) : 0;
    ok =
        u && u->hash && h && h[0] != '*' && strlen(h) == len && CRYPTO_memcmp(h, u->hash, len) == 0;
    return auth_result(cn, u, name, ok, "password");
}

static bool
key_allowed(const struct ssh_user *u, const ssh_key key)
{
    for (size_t i = 0; u && key && i < u->nkeys; i++) {
        if (ssh_key_cmp(u->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Public key: the client first may offer the key without a signature (state NONE: a probe,
 * answered with PK_OK if the key is allowed; this authenticates nobody), then sends the
 * signature, which libssh has verified against the key when the state is VALID.
 */
static int
on_auth_pubkey(ssh_session sess, const char *name, struct ssh_key_struct *key, char state,
               void *userdata)
{
    struct conn *cn = userdata;
    const struct ssh_user *u = user_find(cn->s, name);
    bool allowed = key_allowed(u, key);

    (void)sess;
    if (cn->user || cn->kill) {
        return SSH_AUTH_DENIED;
    }
    if (state == SSH_PUBLICKEY_STATE_NONE) {
        return allowed ? SSH_AUTH_SUCCESS : auth_result(cn, u, name, false, "publickey");
    }
    if (state == SSH_PUBLICKEY_STATE_VALID) {
        return auth_result(cn, u, name, allowed, "publickey");
    }
    return auth_result(cn, u, name, false, "publickey, bad signature");
}

/* ---- channels (libssh callbacks, SSH thread) ---- */

static int
on_data(ssh_session sess, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *userdata)
{
    struct relay *r = userdata;
    size_t take;

    (void)sess;
    (void)ch;
    if (is_stderr || r->fd < 0 || r->ch_closed) {
        return (int)len; /* nobody to deliver it to */
    }
    if (len > SSH_MAX_UNREAD) {
        tlog(r->conn->s, LL_WARN, "SSH connection of %s from %s closed: it ignores its window",
             r->conn->user, r->conn->peer);
        r->conn->kill = true;
        mark_dirty(r);
        return (int)len;
    }
    take = SSH_RELAY_BUF - r->in_len;
    if (take > len) {
        take = len;
    }
    memcpy(r->in + r->in_len, data, take);
    r->in_len += take;
    r->ch_pending = take < len;
    mark_dirty(r);
    return (int)take;
}

static void
on_eof(ssh_session sess, ssh_channel ch, void *userdata)
{
    struct relay *r = userdata;

    (void)sess;
    (void)ch;
    r->ch_eof = true;
    mark_dirty(r);
}

static void
on_close(ssh_session sess, ssh_channel ch, void *userdata)
{
    struct relay *r = userdata;

    (void)sess;
    (void)ch;
    r->ch_eof = true;
    r->ch_closed = true;
    mark_dirty(r);
}

static int
refuse_request(struct relay *r, const char *what, const char *detail)
{
    char buf[SSH_LOG_NAME + 1];

    tlog(r->conn->s, LL_INFO, "SSH: refused %s%s%s of user %s from %s", what, detail ? " " : "",
         detail ? clean_name(buf, sizeof buf, detail) : "", r->conn->user, r->conn->peer);
    return 1;
}

static int
on_exec(ssh_session sess, ssh_channel ch, const char *command, void *userdata)
{
    (void)sess;
    (void)ch;
    (void)command; /* not logged: it may hold anything */
    return refuse_request(userdata, "exec request", NULL);
}

static int
on_shell(ssh_session sess, ssh_channel ch, void *userdata)
{
    (void)sess;
    (void)ch;
    return refuse_request(userdata, "shell request", NULL);
}

static int
on_pty(ssh_session sess, ssh_channel ch, const char *term, int w, int h, int pxw, int pxh,
       void *userdata)
{
    (void)sess;
    (void)ch;
    (void)term;
    (void)w;
    (void)h;
    (void)pxw;
    (void)pxh;
    return refuse_request(userdata, "pty request", NULL);
}

/* "netconf": create the socketpair and queue the daemon's end. Anything else is refused. */
static int
on_subsystem(ssh_session sess, ssh_channel ch, const char *name, void *userdata)
{
    struct relay *r = userdata;
    struct conn *cn = r->conn;
    struct ssh_item *it = NULL;
    int sv[2] = {-1, -1};

    (void)sess;
    (void)ch;
    if (strcmp(name, "netconf") != 0 || r->netconf) {
        return refuse_request(r, "subsystem", name);
    }
    if ((!r->in && !(r->in = malloc(SSH_RELAY_BUF))) ||
        (!r->out && !(r->out = malloc(SSH_RELAY_BUF))) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
        !(it = item_new(sv[1], LL_INFO, NULL, cn->user, cn->peer))) {
        tlog(cn->s, LL_ERROR, "SSH: cannot open a NETCONF channel for %s from %s: %s", cn->user,
             cn->peer, strerror(errno ? errno : ENOMEM));
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        return 1;
    }
    q_push(cn->s, it);
    r->fd = sv[0];
    r->netconf = true;
    cn->nnetconf++;
    cn->had_netconf = true;
    cn->deadline = 0;
    mark_dirty(r);
    return 0;
}

static ssh_channel
on_channel_open(ssh_session sess, void *userdata)
{
    struct conn *cn = userdata;
    struct relay *r;

    if (!cn->user || cn->kill || cn->nrelays >= SSH_MAX_CHANNELS || !(r = calloc(1, sizeof *r))) {
        return NULL;
    }
    if (!(r->ch = ssh_channel_new(sess))) {
        free(r);
        return NULL;
    }
    r->conn = cn;
    r->fd = -1;
    ssh_callbacks_init(&r->cb);
    r->cb.userdata = r;
    r->cb.channel_data_function = on_data;
    r->cb.channel_eof_function = on_eof;
    r->cb.channel_close_function = on_close;
    r->cb.channel_subsystem_request_function = on_subsystem;
    r->cb.channel_exec_request_function = on_exec;
    r->cb.channel_shell_request_function = on_shell;
    r->cb.channel_pty_request_function = on_pty;
    if (ssh_set_channel_callbacks(r->ch, &r->cb) != SSH_OK) {
        ssh_channel_free(r->ch);
        free(r);
        return NULL;
    }
    r->next = cn->relays;
    cn->relays = r;
    cn->nrelays++;
    return r->ch;
}

static int
on_relay_fd(socket_t fd, int revents, void *userdata)
{
    (void)fd;
    (void)revents;
    mark_dirty(userdata);
    return 0;
}

/* ---- relays (the SSH thread's turn) ---- */

static void
relay_reg(struct nc_ssh *s, struct relay *r, short want)
{
    if (want == r->reg) {
        return;
    }
    if (r->reg) {
        ssh_event_remove_fd(s->event, r->fd);
        r->reg = 0;
    }
    if (want) {
        if (ssh_event_add_fd(s->event, r->fd, want, on_relay_fd, r) != SSH_OK) {
            tlog(s, LL_ERROR, "SSH connection of %s from %s closed: out of memory", r->conn->user,
                 r->conn->peer);
            r->conn->kill = true;
            return;
        }
        r->reg = want;
    }
}

static void
relay_close_fd(struct nc_ssh *s, struct relay *r)
{
    if (r->fd >= 0) {
        relay_reg(s, r, 0);
        close(r->fd);
        r->fd = -1;
    }
    r->in_len = 0;
    r->sock_eof = true;
}

/* The socket cannot take more (error): what it would have got is dropped. */
static void
relay_sock_gone(struct relay *r, uint64_t now)
{
    r->in_len = 0;
    if (!r->sock_eof && !r->deadline) {
        r->deadline = now + SSH_DRAIN_MS;
    }
    r->sock_eof = true;
}

/* channel -> socket: in[], then what libssh still holds for us */
static void
relay_to_sock(struct relay *r, uint64_t now)
{
    for (;;) {
        if (r->in_len > 0) {
            ssize_t n = send(r->fd, r->in, r->in_len, MSG_NOSIGNAL);

            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    relay_sock_gone(r, now);
                }
                return;
            }
            memmove(r->in, r->in + n, r->in_len - (size_t)n);
            r->in_len -= (size_t)n;
            continue;
        }
        if (!r->ch_pending) {
            return;
        }
        /* libssh's buffer is not empty: this read does not poll */
        int n = ssh_channel_read_nonblocking(r->ch, r->in, SSH_RELAY_BUF, 0);

        if (n <= 0) {
            r->ch_pending = false;
            return;
        }
        r->in_len = (size_t)n;
        r->ch_pending = (size_t)n == SSH_RELAY_BUF;
    }
}

/* socket -> channel: out[] into the channel's window, then more from the socket */
static void
relay_from_sock(struct relay *r, uint64_t now)
{
    for (;;) {
        if (r->out_len > 0) {
            uint32_t win;
            int n;

            if (r->ch_closed || r->sent_close) {
                r->out_len = 0; /* the client is gone */
            } else {
                win = ssh_channel_window_size(r->ch);
                if (win == 0 || (ssh_get_status(r->conn->sess) & SSH_WRITE_PENDING)) {
                    return; /* wait for a window adjust, or for the connection to drain */
                }
                n = ssh_channel_write(r->ch, r->out, r->out_len < win ? (uint32_t)r->out_len : win);
                if (n < 0) {
                    r->out_len = 0;
                    r->ch_closed = true;
                    r->ch_eof = true;
                    return;
                }
                memmove(r->out, r->out + n, r->out_len - (size_t)n);
                r->out_len -= (size_t)n;
                if (r->out_len > 0) {
                    return;
                }
            }
        }
        if (r->sock_eof || r->fd < 0) {
            return;
        }
        ssize_t n = recv(r->fd, r->out, SSH_RELAY_BUF, 0);

        if (n > 0) {
            r->out_len = (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        /* EOF or an error: the daemon is done with this session */
        r->sock_eof = true;
        if (!r->deadline) {
            r->deadline = now + SSH_DRAIN_MS;
        }
    }
}

static void
relay_service(struct nc_ssh *s, struct relay *r, uint64_t now)
{
    bool expired = r->deadline && now >= r->deadline;

    r->dirty = false;
    if (r->netconf && r->fd >= 0 && !expired) {
        relay_to_sock(r, now);
        if (r->fd >= 0 && r->ch_eof && !r->ch_pending && r->in_len == 0 && !r->shut_wr &&
            !r->sock_eof) {
            shutdown(r->fd, SHUT_WR);
            r->shut_wr = true;
        }
        relay_from_sock(r, now);
    }
    if (r->ch_closed && !r->deadline && (r->in_len > 0 || r->ch_pending)) {
        r->deadline = now + SSH_DRAIN_MS;
    }
    /* our end of the socketpair: closed when neither direction has anything left to do */
    if (r->fd >= 0 && (expired || (r->sock_eof && r->out_len == 0) ||
                       (r->ch_closed && r->in_len == 0 && !r->ch_pending))) {
        relay_close_fd(s, r);
    }
    /* the channel: EOF + close once the daemon's bytes are out (or to answer the client's) */
    if (!r->sent_close && (expired || r->ch_closed || (r->netconf && r->fd < 0))) {
        if (r->netconf && !r->ch_closed) {
            ssh_channel_request_send_exit_status(r->ch, 0); /* as sshd does for a subsystem */
        }
        ssh_channel_close(r->ch);
        r->sent_close = true;
        if (!r->ch_closed) {
            r->deadline = now + SSH_LINGER_MS;
        }
    }
    if (r->fd >= 0) {
        short want = 0;

        if (r->in_len > 0) {
            want |= POLLOUT;
        }
        if (!r->sock_eof && r->out_len < SSH_RELAY_BUF) {
            want |= POLLIN;
        }
        relay_reg(s, r, want);
    }
    r->done = r->fd < 0 && r->sent_close && (r->ch_closed || expired);
}

/* Free a relay that is unlinked from its connection. */
static void
relay_free(struct nc_ssh *s, struct relay *r, bool free_channel)
{
    relay_close_fd(s, r);
    if (free_channel) {
        ssh_remove_channel_callbacks(r->ch, &r->cb);
        ssh_channel_free(r->ch);
    }
    if (r->netconf) {
        r->conn->nnetconf--;
    }
    r->conn->nrelays--;
    free(r->in);
    free(r->out);
    free(r);
}

/* ---- connections ---- */

static void
conn_service(struct nc_ssh *s, struct conn *cn, uint64_t now)
{
    struct relay *r, **pp, *done = NULL;

    for (r = cn->relays; r; r = r->next) {
        if (r->dirty || (r->deadline && now >= r->deadline) ||
            (r->out_len > 0 && ssh_channel_window_size(r->ch) > 0 &&
             !(ssh_get_status(cn->sess) & SSH_WRITE_PENDING))) {
            relay_service(s, r, now);
        }
    }
    for (pp = &cn->relays; *pp;) {
        r = *pp;
        if (r->done) {
            *pp = r->next;
            r->next = done;
            done = r;
        } else {
            pp = &r->next;
        }
    }
    while (done) {
        r = done;
        done = r->next;
        relay_free(s, r, true);
    }
}

/* Whether the connection is over (and why, logged). Makes no libssh call that polls. */
static bool
conn_over(struct nc_ssh *s, struct conn *cn, uint64_t now)
{
    if (cn->kill) {
        return true;
    }
    if (cn->had_netconf && cn->nnetconf == 0) {
        tlog(s, LL_INFO, "SSH connection of %s from %s closed", cn->user, cn->peer);
        return true;
    }
    if (!ssh_is_connected(cn->sess) ||
        (ssh_get_status(cn->sess) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
        if (cn->user) {
            tlog(s, LL_INFO, "SSH connection of %s from %s closed by the client", cn->user,
                 cn->peer);
        }
        return true;
    }
    if (cn->deadline && now >= cn->deadline) {
        tlog(s, LL_WARN, "SSH connection from %s closed: %s within %d s", cn->peer,
             cn->user ? "no NETCONF channel" : "not authenticated", SSH_AUTH_TIMEOUT_MS / 1000);
        return true;
    }
    return false;
}

static void
conn_free(struct nc_ssh *s, struct conn *cn, bool in_event)
{
    struct relay *r;

    if (cn->sess) {
        if (in_event) {
            ssh_event_remove_session(s->event, cn->sess);
        }
        ssh_disconnect(cn->sess); /* frees the channels */
        ssh_free(cn->sess);
    }
    while ((r = cn->relays)) {
        cn->relays = r->next;
        relay_free(s, r, false);
    }
    free(cn->user);
    free(cn);
}

static void
conn_new(struct nc_ssh *s, int fd, const char *peer, uint64_t now)
{
    struct conn *cn = calloc(1, sizeof *cn);
    int rc;

    if (!cn || !(cn->sess = ssh_new())) {
        tlog(s, LL_ERROR, "SSH connection from %s refused: out of memory", peer);
        close(fd);
        free(cn);
        return;
    }
    cn->s = s;
    snprintf(cn->peer, sizeof cn->peer, "%s", peer);
    if (ssh_bind_accept_fd(s->bind, cn->sess, fd) != SSH_OK) {
        tlog(s, LL_ERROR, "SSH connection from %s refused: %s", peer, ssh_get_error(s->bind));
        if (ssh_get_fd(cn->sess) != fd) {
            close(fd);
        }
        conn_free(s, cn, false);
        return;
    }
    ssh_callbacks_init(&cn->cb);
    cn->cb.userdata = cn;
    cn->cb.auth_password_function = on_auth_password;
    cn->cb.auth_pubkey_function = on_auth_pubkey;
    cn->cb.channel_open_request_session_function = on_channel_open;
    ssh_set_server_callbacks(cn->sess, &cn->cb);
    ssh_set_auth_methods(cn->sess, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY);
    ssh_set_blocking(cn->sess, 0);
    /* sends the banner and starts the key exchange; the event's polls complete it */
    rc = ssh_handle_key_exchange(cn->sess);
    if (rc == SSH_ERROR || ssh_event_add_session(s->event, cn->sess) != SSH_OK) {
        tlog(s, LL_INFO, "SSH connection from %s failed: %s", peer, ssh_get_error(cn->sess));
        conn_free(s, cn, false);
        return;
    }
    cn->deadline = now + SSH_AUTH_TIMEOUT_MS;
    cn->next = s->conns;
    s->conns = cn;
    atomic_fetch_add(&s->nconns, 1);
    s->dirty = true;
}

static void
accept_all(struct nc_ssh *s, uint64_t now)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char peer[NI_MAXHOST];
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* the listener stays readable: stop watching it for a second */
                tlog(s, LL_ERROR, "SSH: cannot accept connections: %s", strerror(errno));
                ssh_event_remove_fd(s->event, s->lfd);
                s->lfd_paused_until = now + 1000;
            }
            return;
        }
        if (getnameinfo((struct sockaddr *)&ss, sl, peer, sizeof peer, NULL, 0, NI_NUMERICHOST)) {
            snprintf(peer, sizeof peer, "?");
        }
        {
            /* every message is one write; without this, Nagle and delayed ACKs cost ~40 ms */
            int one = 1;

            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (atomic_load(&s->nconns) >= s->max_conns) {
            close(fd);
            s->refused++;
            if (now >= s->refused_logged + 1000) {
                tlog(s, LL_WARN,
                     "SSH connection from %s refused: %u connections open (netconf/max-sessions)"
                     "%s",
                     peer, s->max_conns, s->refused > 1 ? "; and more refused since" : "");
                s->refused_logged = now;
                s->refused = 0;
            }
            continue;
        }
        conn_new(s, fd, peer, now);
    }
}

static int
on_listen_fd(socket_t fd, int revents, void *userdata)
{
    struct nc_ssh *s = userdata;

    (void)fd;
    (void)revents;
    s->accept_ready = true;
    return 0;
}

static int
on_wake_fd(socket_t fd, int revents, void *userdata)
{
    uint64_t n;

    (void)revents;
    (void)userdata;
    if (read(fd, &n, sizeof n) < 0) {
        /* EAGAIN: already read */
    }
    return 0;
}

/* One turn after a poll: relays, then connections that are over, then new connections. */
static void
ssh_turn(struct nc_ssh *s)
{
    uint64_t now = now_ms();
    struct conn *cn, **pp, *over = NULL;

    for (cn = s->conns; cn; cn = cn->next) {
        conn_service(s, cn, now);
    }
    for (pp = &s->conns; *pp;) {
        cn = *pp;
        if (conn_over(s, cn, now)) {
            *pp = cn->next;
            cn->next = over;
            over = cn;
        } else {
            pp = &cn->next;
        }
    }
    while (over) {
        cn = over;
        over = cn->next;
        conn_free(s, cn, true);
        atomic_fetch_sub(&s->nconns, 1);
    }
    if (s->lfd_paused_until && now >= s->lfd_paused_until) {
        if (ssh_event_add_fd(s->event, s->lfd, POLLIN, on_listen_fd, s) == SSH_OK) {
            s->lfd_paused_until = 0;
            s->accept_ready = true;
        }
    }
    if (s->accept_ready && !s->lfd_paused_until) {
        s->accept_ready = false;
        accept_all(s, now);
    }
}

static void *
ssh_thread(void *arg)
{
    struct nc_ssh *s = arg;
    struct conn *cn;

    while (!atomic_load(&s->stop)) {
        int timeout = s->dirty ? 0 : SSH_POLL_MS;

        s->dirty = false;
        /* SSH_ERROR only says that a session's socket closed: found in the turn */
        ssh_event_dopoll(s->event, timeout);
        if (atomic_load(&s->stop)) {
            break;
        }
        ssh_turn(s);
    }
    while ((cn = s->conns)) {
        s->conns = cn->next;
        conn_free(s, cn, true);
        atomic_fetch_sub(&s->nconns, 1);
    }
    return NULL;
}

/* ---- the daemon's side ---- */

enum chorus_err
nc_ssh_start(struct core *c, nc_ssh_accept_cb cb, void *arg, struct nc_ssh **ret_ssh,
             struct cerr **e)
{
    const struct cfg *cfg = c->cfg;
    struct nc_ssh *s = calloc(1, sizeof *s);
    char *key_path = NULL;
    ssh_key key = NULL;
    bool no_config = false;
    sigset_t all, old;
    enum chorus_err rc;
    int r;

    if (!s) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    s->c = c;
    s->cb = cb;
    s->arg = arg;
    s->lfd = s->wakefd = s->qfd = -1;
    s->max_conns = cfg->nc_max_sessions ? cfg->nc_max_sessions : 1;
    s->qtail = &s->qhead;
    atomic_init(&s->stop, false);
    atomic_init(&s->nconns, 0);
    pthread_mutex_init(&s->qlock, NULL);
    if (ssh_init() != SSH_OK) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot initialise libssh");
        goto fail;
    }
    s->ssh_inited = true;
    if ((rc = users_copy(s, cfg, e))) {
        goto fail;
    }
    key_path = cfg->nc_host_key ? strdup(cfg->nc_host_key)
                                : path_join(cfg->db_dir, "ssh_host_ed25519_key");
    if (!key_path || !(s->cd = calloc(1, sizeof *s->cd))) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory");
        goto fail;
    }
    if ((rc = hostkey_load(key_path, &key, e)) ||
        (rc = listen_on(cfg->nc_ssh_addr, cfg->nc_ssh_port, &s->lfd, e))) {
        goto fail;
    }
    if (!(s->bind = ssh_bind_new()) ||
        ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no_config) < 0 ||
        ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) < 0) {
        rc = cerr_add(e, CHORUS_ERR_IO, NULL, NULL, "cannot use the SSH host key %s: %s", key_path,
                      s->bind ? ssh_get_error(s->bind) : "out of memory");
        goto fail;
    }
    key = NULL; /* the bind owns it */
    s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->qfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wakefd < 0 || s->qfd < 0 || !(s->event = ssh_event_new()) ||
        ssh_event_add_fd(s->event, s->wakefd, POLLIN, on_wake_fd, s) != SSH_OK ||
        ssh_event_add_fd(s->event, s->lfd, POLLIN, on_listen_fd, s) != SSH_OK) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot set up the SSH thread: %s",
                      strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    if ((r = ev_add(c->ev, s->qfd, EV_READ, on_queue, s)) < 0) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot watch the SSH thread: %s",
                      strerror(-r));
        close(s->qfd); /* not watched: nc_ssh_stop must not ev_del it */
        s->qfd = -1;
        goto fail;
    }
    /* the daemon takes its signals through signalfd: the SSH thread must never get one */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&s->thread, NULL, ssh_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        rc = cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "cannot start the SSH thread: %s",
                      strerror(r));
        goto fail;
    }
    s->thread_started = true;
    LOG(LL_INFO, NULL, "NETCONF over SSH on %s port %u, host key %s", cfg->nc_ssh_addr,
        (unsigned)cfg->nc_ssh_port, key_path);
    free(key_path);
    *ret_ssh = s;
    return CHORUS_OK;
fail:
    ssh_key_free(key);
    free(key_path);
    nc_ssh_stop(s);
    return rc;
}

void
nc_ssh_stop(struct nc_ssh *s)
{
    uint64_t one = 1;

    if (!s) {
        return;
    }
    if (s->thread_started) {
        atomic_store(&s->stop, true);
        if (write(s->wakefd, &one, sizeof one) < 0) {
            /* saturated: the thread is being woken already */
        }
        pthread_join(s->thread, NULL);
    }
    if (s->qfd >= 0) {
        ev_del(s->c->ev, s->qfd);
        close(s->qfd);
    }
    q_drain(s, false); /* the thread's last log lines; channels not delivered are closed */
    if (s->event) {
        /* fd handles left in an event leak their wrappers in ssh_event_free() */
        ssh_event_remove_fd(s->event, s->wakefd);
        ssh_event_remove_fd(s->event, s->lfd);
        ssh_event_free(s->event);
    }
    ssh_bind_free(s->bind);
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    if (s->wakefd >= 0) {
        close(s->wakefd);
    }
    users_free(s);
    free(s->cd);
    pthread_mutex_destroy(&s->qlock);
    if (s->ssh_inited) {
        ssh_finalize();
    }
    free(s);
}

unsigned
nc_ssh_connections(const struct nc_ssh *s)
{
    return s ? atomic_load(&s->nconns) : 0;
}
