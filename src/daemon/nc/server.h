/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NETCONF server (RFC 6241) inside chorusd: sessions over plain TCP and over SSH (ssh.h
 * hands over a socket per "netconf" channel), hello and framing (frame.h), and the operations,
 * run on the transaction engine in-process: every NETCONF session is a user session (context
 * "netconf", its user and source address), so subscribers, locks and logs see who changed
 * what.
 *
 * A session handles one RPC at a time, in order: while an RPC waits (a commit waiting for the
 * commit lock or for subscribers, a read waiting for data providers) the session reads
 * nothing more. Replies are framed in one buffer and written with one write call; the sockets
 * have TCP_NODELAY (notes/netconf-over-libssh.md).
 *
 * Plain TCP carries no authentication (bind it to loopback or a trusted link, as ConfD's plain
 * TCP transport): a session may start with ConfD's header "[USER;ADDRESS;...]\n" before its
 * hello to name its user and source address; without one its user is "netconf".
 *
 * Limits (chorus-config.yang, netconf/): max-sessions over all transports (more are closed at
 * once), max-message-size (a longer message closes the session), idle-timeout (a session idle
 * that long is closed; 0: never).
 */
#ifndef CHORUS_NC_SERVER_H
#define CHORUS_NC_SERVER_H

#include "../core.h"

struct nc_server;

/* Start the transports enabled in the configuration. Errors name the address and port. */
enum chorus_err nc_start(struct core *c, struct nc_server **ret_srv, struct cerr **e);
/* Close every session and listener. NULL-safe. */
void nc_stop(struct nc_server *srv);
/* Number of open NETCONF sessions. */
unsigned nc_sessions(const struct nc_server *srv);

#endif
