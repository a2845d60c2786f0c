/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-secret access check of the IPC hello (docs/protocol.md, "Access check").
 *
 * A daemon with ipc/secret-file puts a fresh random challenge (64 hex digits) in its hello
 * reply to every TCP connection; the client proves it knows the secret by sending `auth` with
 * HMAC-SHA256(secret, challenge) in hex. The secret itself never crosses the wire, and an
 * answer is worth nothing for another connection.
 */
#ifndef CHORUS_PROTO_AUTH_H
#define CHORUS_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* The secret of file @p path: its bytes without a final newline (LF or CRLF). Returns 0,
 * -errno if the file cannot be read, or -ENODATA if it is empty. */
int auth_read_secret(const char *path, struct buf *out);

/* HMAC-SHA256(@p secret, @p challenge) as 64 lower-case hex digits and a NUL in @p out.
 * Returns false if OpenSSL fails. */
bool auth_answer(const void *secret, size_t len, const char *challenge, char out[65]);

/* Wipe and free a secret. */
void auth_secret_free(struct buf *secret);

#endif
