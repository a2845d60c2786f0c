/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's configuration file (chorusd -c FILE): an XML or RFC 7951 JSON document
 * validated against yang/chorus-config.yang, which is compiled into the binary, in a private
 * libyang context that lives only while the file is read. The result is a plain struct with
 * every default filled in, so the rest of the daemon never sees libyang for its own settings.
 *
 * Invariants of a struct cfg returned by cfg_load():
 *  - every value satisfies chorus-config.yang (types, ranges, patterns, must expressions);
 *  - every file and directory name is absolute: names in the file are taken relative to the
 *    directory of the file; db_dir and rb_dir are never NULL;
 *  - rb_dir is "<db_dir>/rollback" unless the file names another directory.
 * All strings and arrays are owned by the struct and released by cfg_free().
 */
#ifndef CHORUS_CFG_H
#define CHORUS_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cerr.h"
#include "common/log.h"

/* How commits are validated (database/validation). */
enum cfg_validation { CFG_VAL_INCREMENTAL, CFG_VAL_FULL };

/* How NETCONF may write the running datastore (datastores/running/access). */
enum cfg_running_access { CFG_RUNNING_RW, CFG_RUNNING_VIA_CANDIDATE };

/* One aaa/user entry. */
struct cfg_user {
    char *name;     /* login name */
    char *password; /* crypt(3) hash ("$6$..." or "$5$..."), or NULL: public keys only */
    char **keys;    /* authorized-key lines, in document order */
    size_t nkeys;
    char **groups; /* group names, in document order */
    size_t ngroups;
};

/* The daemon's settings; see chorus-config.yang for the meaning of each. */
struct cfg {
    char *path;   /* the file read (absolute) */
    char *db_dir; /* absolute */
    uint64_t compact_threshold;
    enum cfg_validation validation;
    /* ipc */
    char *ipc_addr;
    uint16_t ipc_port;
    char *ipc_unix_path; /* absolute or NULL */
    uint32_t max_frame;
    uint32_t max_sessions;
    uint32_t max_subscriptions;
    uint32_t max_cursor_chunk;
    char *secret_file; /* absolute or NULL */
    /* netconf */
    bool nc_enabled;
    uint32_t nc_max_sessions;
    uint32_t nc_max_msg;
    uint32_t nc_idle_timeout; /* seconds, 0 = none */
    bool nc_ssh_enabled;
    char *nc_ssh_addr;
    uint16_t nc_ssh_port;
    char *nc_host_key; /* absolute or NULL */
    bool nc_tcp_enabled;
    char *nc_tcp_addr;
    uint16_t nc_tcp_port;
    /* aaa */
    struct cfg_user *users; /* in document order */
    size_t nusers;
    /* datastores */
    bool candidate;
    enum cfg_running_access running_access;
    bool startup;
    bool confirmed_commit;
    /* rollback */
    bool rb_enabled;
    char *rb_dir; /* absolute, defaulted to <db_dir>/rollback */
    uint32_t rb_max;
    /* logging */
    char *log_file; /* absolute or NULL (not set: the daemon logs to <db_dir>/chorusd.log) */
    enum log_level log_level;
    /* commit */
    uint32_t lock_timeout_ms;
    uint32_t subscriber_timeout_ms;
};

/*
 * Read and validate a configuration file. Relative paths inside it are relative to the file's
 * directory. The document is JSON if its first non-space character is '{', else XML; it is
 * parsed strictly (unknown elements and state data are errors) and validated completely.
 * Directories named in the file are not created or checked here.
 *
 * @param[in] path The file (absolute, or relative to the current directory).
 * @param[out] ret_cfg New configuration, owned by the caller (cfg_free()); written on success
 *     only.
 * @param[out] e Error items, appended to (may be NULL). Each message starts with @p path as
 *     given, then "line N: " when libyang knows the line, then the data path and the reason,
 *     e.g. "chorusd.conf: line 7: /chorus-config:chorusd/ipc/port: Value "70000" is out of
 *     type uint16 min/max bounds."; the item's path is the data path.
 * @return CHORUS_OK on success.
 * @return CHORUS_ERR_IO if the file cannot be read (the message names it and says why).
 * @return CHORUS_ERR_INVAL if the document is malformed or does not satisfy the module.
 * @return CHORUS_ERR_NOMEM.
 * @return CHORUS_ERR_INTERNAL if the embedded module does not compile (a build defect).
 */
enum chorus_err cfg_load(const char *path, struct cfg **ret_cfg, struct cerr **e);

/*
 * Apply a command-line override of the database directory (--dbdir). A relative @p dir is
 * taken relative to the current directory. If the rollback directory is the default
 * "<db_dir>/rollback" of the old db_dir, it moves along to "<dir>/rollback"; a rollback
 * directory named elsewhere stays. On failure @p c is unchanged. Ports are overridden by the
 * caller directly (they need no resolution).
 *
 * @return CHORUS_OK on success.
 * @return CHORUS_ERR_INVAL if @p dir is NULL or empty, or the current directory is unknown.
 * @return CHORUS_ERR_NOMEM.
 */
enum chorus_err cfg_set_db_dir(struct cfg *c, const char *dir, struct cerr **e);

/* Free a configuration and everything it owns. NULL is accepted. */
void cfg_free(struct cfg *c);

#endif
