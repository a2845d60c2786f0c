/* SPDX-License-Identifier: Apache-2.0 */
/* Descriptions of chorus_err codes and their NETCONF error-tags (RFC 6241 Appendix A). */
#include "chorus/chorus.h"

const char *
chorus_strerror(enum chorus_err err)
{
    switch (err) {
    case CHORUS_OK:
        return "success";
    case CHORUS_ERR_INVAL:
        return "invalid argument";
    case CHORUS_ERR_NOMEM:
        return "out of memory";
    case CHORUS_ERR_IO:
        return "I/O error";
    case CHORUS_ERR_PROTO:
        return "protocol error";
    case CHORUS_ERR_TOOBIG:
        return "limit exceeded";
    case CHORUS_ERR_NOTFOUND:
        return "not found";
    case CHORUS_ERR_EXISTS:
        return "already exists";
    case CHORUS_ERR_BADPATH:
        return "bad path";
    case CHORUS_ERR_BADVALUE:
        return "bad value";
    case CHORUS_ERR_VALIDATION:
        return "validation failed";
    case CHORUS_ERR_LOCKED:
        return "locked";
    case CHORUS_ERR_INUSE:
        return "in use";
    case CHORUS_ERR_ACCESS:
        return "access denied";
    case CHORUS_ERR_STATE:
        return "not allowed in this state";
    case CHORUS_ERR_ABORTED:
        return "transaction aborted";
    case CHORUS_ERR_TIMEOUT:
        return "timeout";
    case CHORUS_ERR_CLOSED:
        return "connection closed";
    case CHORUS_ERR_SCHEMA:
        return "schema mismatch";
    case CHORUS_ERR_INTERNAL:
        return "internal error";
    case CHORUS_ERR_UNSUPPORTED:
        return "not supported";
    }
    return "unknown error";
}

const char *
chorus_err_netconf_tag(enum chorus_err err)
{
    switch (err) {
    case CHORUS_OK:
        return "";
    case CHORUS_ERR_INVAL:
        return "invalid-value";
    case CHORUS_ERR_NOMEM:
        return "resource-denied";
    case CHORUS_ERR_IO:
        return "operation-failed";
    case CHORUS_ERR_PROTO:
        return "malformed-message";
    case CHORUS_ERR_TOOBIG:
        return "too-big";
    case CHORUS_ERR_NOTFOUND:
        return "data-missing";
    case CHORUS_ERR_EXISTS:
        return "data-exists";
    case CHORUS_ERR_BADPATH:
        return "unknown-element";
    case CHORUS_ERR_BADVALUE:
        return "invalid-value";
    case CHORUS_ERR_VALIDATION:
        return "operation-failed";
    case CHORUS_ERR_LOCKED:
        return "lock-denied";
    case CHORUS_ERR_INUSE:
        return "in-use";
    case CHORUS_ERR_ACCESS:
        return "access-denied";
    case CHORUS_ERR_STATE:
        return "operation-not-supported";
    case CHORUS_ERR_ABORTED:
        return "operation-failed";
    case CHORUS_ERR_TIMEOUT:
        return "operation-failed";
    case CHORUS_ERR_CLOSED:
        return "operation-failed";
    case CHORUS_ERR_SCHEMA:
        return "operation-failed";
    case CHORUS_ERR_INTERNAL:
        return "operation-failed";
    case CHORUS_ERR_UNSUPPORTED:
        return "operation-not-supported";
    }
    return "operation-failed";
}
