/* SPDX-License-Identifier: Apache-2.0 */
/* The SSH transport of the NETCONF server; see ssh.h. Not built yet: chorusd logs that NETCONF
 * over SSH is not available and serves the other transports. */
#include "ssh.h"

enum chorus_err
nc_ssh_start(struct core *c, nc_ssh_accept_cb cb, void *arg, struct nc_ssh **ret_ssh,
             struct cerr **e)
{
    (void)c;
    (void)cb;
    (void)arg;
    *ret_ssh = NULL;
    return cerr_add(e, CHORUS_ERR_UNSUPPORTED, NULL, NULL, "NETCONF over SSH is not built yet");
}

void
nc_ssh_stop(struct nc_ssh *s)
{
    (void)s;
}

unsigned
nc_ssh_connections(const struct nc_ssh *s)
{
    (void)s;
    return 0;
}
