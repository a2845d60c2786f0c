/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file chorus.h
 * @brief Chorus client library: connections, errors and common types.
 *
 * Applications talk to `chorusd` only through this library. Each API call is one request and
 * one response on a socket the application owns (see chorus_fd()); calls on one connection are
 * serialized by the library, so a connection may be shared between threads, but one slow call
 * blocks the others on that connection. Use one connection per thread for parallelism.
 *
 * Every call returns an ::chorus_err; CHORUS_OK (0) is success. On failure the details (a
 * human message, the data path of the offending node, an application tag) are kept in the
 * connection and read with chorus_last_error(); they map 1:1 onto a NETCONF `<rpc-error>`.
 * Out-parameters are written only on success.
 *
 * The wire protocol is documented in docs/protocol.md.
 */
#ifndef CHORUS_CHORUS_H
#define CHORUS_CHORUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Version of the IPC protocol spoken by this library. */
#define CHORUS_PROTO_VERSION 1

/** @brief Default IPC port of `chorusd` (node i of a local cluster uses 4565 + 10 i). */
#define CHORUS_DEFAULT_IPC_PORT 4565

/**
 * @brief Error codes. Stable numbers: they travel on the wire.
 */
enum chorus_err {
    CHORUS_OK = 0,               /**< success */
    CHORUS_ERR_INVAL = 1,        /**< invalid argument or malformed request */
    CHORUS_ERR_NOMEM = 2,        /**< out of memory */
    CHORUS_ERR_IO = 3,           /**< socket or file I/O failed */
    CHORUS_ERR_PROTO = 4,        /**< protocol violation (malformed frame, unexpected reply) */
    CHORUS_ERR_TOOBIG = 5,       /**< a limit was exceeded (frame size, sessions, entries) */
    CHORUS_ERR_NOTFOUND = 6,     /**< the data node, transaction or object does not exist */
    CHORUS_ERR_EXISTS = 7,       /**< the data node or object already exists */
    CHORUS_ERR_BADPATH = 8,      /**< malformed data path or unknown schema node */
    CHORUS_ERR_BADVALUE = 9,     /**< value does not fit the node's type, range or pattern */
    CHORUS_ERR_VALIDATION = 10,  /**< a YANG constraint or application validation failed */
    CHORUS_ERR_LOCKED = 11,      /**< the datastore is locked by another session */
    CHORUS_ERR_INUSE = 12,       /**< resource busy (commit lock not obtained in time) */
    CHORUS_ERR_ACCESS = 13,      /**< access denied */
    CHORUS_ERR_STATE = 14,       /**< not allowed in the current state or start phase */
    CHORUS_ERR_ABORTED = 15,     /**< the transaction was aborted by a participant */
    CHORUS_ERR_TIMEOUT = 16,     /**< the operation timed out */
    CHORUS_ERR_CLOSED = 17,      /**< the connection was closed */
    CHORUS_ERR_SCHEMA = 18,      /**< schema (module set) mismatch */
    CHORUS_ERR_INTERNAL = 19,    /**< internal error; see the daemon's log */
    CHORUS_ERR_UNSUPPORTED = 20, /**< operation not supported or not enabled */
};

/**
 * @brief Details of an error; maps 1:1 onto a NETCONF `<rpc-error>`.
 *
 * Strings are owned by the connection and valid until the next call on it.
 */
struct chorus_error {
    enum chorus_err code; /**< error code */
    const char *message;  /**< human-readable reason, never NULL */
    const char *path;     /**< data path of the offending node, or NULL */
    const char *app_tag;  /**< YANG error-app-tag (e.g. "must-violation"), or NULL */
};

/** @brief Datastores. */
enum chorus_db {
    CHORUS_DB_RUNNING = 1,
    CHORUS_DB_CANDIDATE = 2,
    CHORUS_DB_STARTUP = 3,
    CHORUS_DB_OPERATIONAL = 4,
};

/** @brief Data encodings for trees sent to or read from `chorusd`. */
enum chorus_format {
    CHORUS_FMT_XML = 1,  /**< XML */
    CHORUS_FMT_JSON = 2, /**< RFC 7951 JSON */
    CHORUS_FMT_LYB = 3,  /**< libyang binary; only when both ends have the same module set */
};

/** @brief Opaque connection to `chorusd`. */
struct chorus_conn;

/**
 * @brief Static description of an error code.
 * @param[in] err Error code.
 * @return Constant string, never NULL.
 */
const char *chorus_strerror(enum chorus_err err);

/**
 * @brief NETCONF error-tag (RFC 6241 Appendix A) that corresponds to an error code.
 * @param[in] err Error code.
 * @return Constant string such as "invalid-value", never NULL.
 */
const char *chorus_err_netconf_tag(enum chorus_err err);

/**
 * @brief Connect to `chorusd` and exchange hellos.
 *
 * @param[in] target "HOST:PORT", "PORT", "unix:/path", or NULL for 127.0.0.1 and the port in
 * the environment variable CHORUS_IPC_PORT (default ::CHORUS_DEFAULT_IPC_PORT).
 * @param[in] client_name Name of the application, shown in the daemon's logs and status.
 * @param[out] ret_conn New connection; free with chorus_disconnect().
 * @return CHORUS_OK on success.
 * @return CHORUS_ERR_IO if the daemon cannot be reached.
 * @return CHORUS_ERR_PROTO if the daemon does not speak this protocol version.
 * @return CHORUS_ERR_ACCESS if the daemon requires the shared secret (ipc/secret-file) and
 * the environment variable CHORUS_IPC_SECRET_FILE names no file holding it, or the answer to
 * its challenge was refused (docs/protocol.md, "Access check").
 * @return CHORUS_ERR_NOMEM.
 */
enum chorus_err chorus_connect(const char *target, const char *client_name,
                               struct chorus_conn **ret_conn);

/**
 * @brief chorus_connect() with a deadline on the hello: a daemon that accepts the TCP
 * connection but does not answer (stopped, overloaded) makes it fail with CHORUS_ERR_TIMEOUT
 * after @p timeout_ms (0: wait forever, as chorus_connect()). Later calls have no deadline
 * until chorus_set_timeout().
 */
enum chorus_err chorus_connect_timeout(const char *target, const char *client_name,
                                       uint32_t timeout_ms, struct chorus_conn **ret_conn);

/**
 * @brief Close a connection. The daemon aborts the connection's open transactions and
 * releases its session's locks. NULL is accepted.
 */
void chorus_disconnect(struct chorus_conn *conn);

/**
 * @brief The error of the last failed call on @p conn (CHORUS_OK if the last call succeeded).
 *
 * With @p conn NULL: the calling thread's last failed chorus_connect(), which has no
 * connection to keep its error in (likewise for chorus_error_count() and chorus_error_at()).
 * @return Pointer owned by @p conn (or by the thread), valid until the next call on it.
 */
const struct chorus_error *chorus_last_error(const struct chorus_conn *conn);

/**
 * @brief Number of error items of the last failed call (NETCONF may carry several).
 */
size_t chorus_error_count(const struct chorus_conn *conn);

/**
 * @brief The @p idx-th error item of the last failed call, or NULL.
 */
const struct chorus_error *chorus_error_at(const struct chorus_conn *conn, size_t idx);

/**
 * @brief The socket of the connection, for poll(); readable only when the daemon sends.
 */
int chorus_fd(const struct chorus_conn *conn);

/**
 * @brief Set the reply timeout of calls on @p conn (default: 0 = wait forever).
 *
 * A call that times out returns CHORUS_ERR_TIMEOUT and closes the connection, since the
 * reply may still arrive.
 *
 * @param[in] conn Connection.
 * @param[in] timeout_ms Timeout in milliseconds, 0 for none.
 */
void chorus_set_timeout(struct chorus_conn *conn, uint32_t timeout_ms);

/**
 * @brief Version string of the daemon at the other end of @p conn ("chorusd 0.1.0").
 */
const char *chorus_server_version(const struct chorus_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_CHORUS_H */
