/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SSH transport of the NETCONF server (RFC 6242), on libssh's server API.
 *
 * libssh runs in a thread of its own (its own poll loop: key exchange, authentication,
 * channels), so that a slow or hostile SSH client never stalls the daemon's event loop. For
 * every channel that requested the "netconf" subsystem after a successful authentication, the
 * thread creates a socketpair, relays bytes both ways between the channel and its end, and
 * hands the other end to the daemon's thread, which runs the NETCONF session over it as over a
 * TCP connection. Either side closing ends both: the daemon closing its end closes the channel
 * (and the SSH session), the client closing the channel (or the connection) closes the
 * socketpair.
 *
 * Authentication: the users of the configuration (aaa/user): password (checked against the
 * crypt(3) hash with crypt_r) and public key (the user's authorized-key lines; the client must
 * prove it holds the private key). Anything else is refused; failed attempts are logged with the
 * user name and the peer address, never with the password. At most netconf/max-sessions SSH
 * connections are served at once, authenticated or not (more are refused at accept); a
 * connection that has not authenticated within 30 s is closed, so is one that has not opened
 * a NETCONF channel within 30 s of authenticating, and one after 6 failed attempts (a refused
 * password, a public key that is not the user's, a bad signature). A connection may have 4
 * channels open at once; it ends when its last NETCONF channel is closed.
 *
 * The host key: netconf/ssh/host-key, or <database dir>/ssh_host_ed25519_key; generated
 * (ed25519, mode 0600) at the first start when the file does not exist.
 */
#ifndef CHORUS_NC_SSH_H
#define CHORUS_NC_SSH_H

#include "../core.h"

struct nc_ssh;

/*
 * A NETCONF channel is open. @p fd is the daemon's end of the socketpair (non-blocking,
 * close-on-exec; the callee owns it). @p user is the authenticated user, @p peer the client's
 * address ("127.0.0.1"). Called in the daemon's thread, from its event loop.
 */
typedef void (*nc_ssh_accept_cb)(void *arg, int fd, const char *user, const char *peer);

/*
 * Listen on netconf/ssh/address and port (c->cfg) and start the SSH thread.
 * Errors: CHORUS_ERR_IO (cannot listen: the message names address and port; the host key file
 * cannot be read or written: the message names the file), CHORUS_ERR_NOMEM.
 */
enum chorus_err nc_ssh_start(struct core *c, nc_ssh_accept_cb cb, void *arg,
                             struct nc_ssh **ret_ssh, struct cerr **e);
/* Stop the thread, close every SSH session and the listener. NULL-safe. */
void nc_ssh_stop(struct nc_ssh *s);
/* Number of SSH connections open (for status). */
unsigned nc_ssh_connections(const struct nc_ssh *s);

#endif
