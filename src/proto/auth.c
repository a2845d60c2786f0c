/* SPDX-License-Identifier: Apache-2.0 */
/* The shared-secret access check; see auth.h. */
#include "auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/util.h"

int
auth_read_secret(const char *path, struct buf *out)
{
    char *data = NULL;
    size_t len = 0;
    int r = read_file(path, &data, &len);

    if (r) {
        return r;
    }
    if (len && data[len - 1] == '\n') {
        len--;
        if (len && data[len - 1] == '\r') {
            len--;
        }
    }
    if (!len) {
        free(data);
        return -ENODATA;
    }
    buf_append(out, data, len);
    explicit_bzero(data, len);
    free(data);
    return buf_ok(out) ? 0 : -ENOMEM;
}

bool
auth_answer(const void *secret, size_t len, const char *challenge, char out[65])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (!HMAC(EVP_sha256(), secret, (int)len, (const uint8_t *)challenge, strlen(challenge), mac,
              &n) ||
        n != 32) {
        return false;
    }
    hex_encode(mac, 32, out);
    return true;
}

void
auth_secret_free(struct buf *secret)
{
    if (secret->p) {
        explicit_bzero(secret->p, secret->cap);
    }
    buf_free(secret);
}
