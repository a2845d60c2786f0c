/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's schema: every YANG module of the load path (--addloadpath DIR, repeatable)
 * compiled into one libyang context, plus the standard modules Chorus itself needs, and a
 * digest that identifies the module set.
 *
 * The digest is what nodes and caches compare to know whether they speak about the same
 * models (the IPC and cluster hellos, the LYB cache of the datastore). It is SHA-256 over, for
 * each module of the context in name (then revision) order:
 *
 *     "<name>@<revision>\n"            ("<name>@\n" for a module without revision)
 *     "+<feature>\n"                   for each enabled feature, sorted by name
 *     <sha256 of the module>           32 bytes, see struct schema_mod
 *     "include <name>@<revision>\n" <sha256 of the submodule file>   for each include
 *
 * so a change of any byte of any module or submodule file, of the set of modules or of the
 * enabled features changes it, while the directory the files are read from, their file names
 * and the version of libyang do not.
 *
 * Invariants of a struct schema returned by schema_load(): the context is fully compiled and
 * owned by the struct; mods lists every module of the context exactly once, sorted by name
 * then revision; the digest matches mods.
 */
#ifndef CHORUS_SCHEMA_H
#define CHORUS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libyang/libyang.h>

#include "common/cerr.h"

/* One module of the context. */
struct schema_mod {
    char *name;
    char *revision; /* or NULL */
    char *file;     /* absolute, or NULL for libyang-internal */
    /* of the file's bytes (the bytes compiled, for load-path files); of "name@revision" if
     * internal */
    uint8_t sha256[32];
    bool implemented;
};

/* One *.yang file of the load path, as compiled (the database keeps a copy of the module set
 * it was written with, upg.h). */
struct schema_file {
    char *name; /* the file name, without its directory */
    char *data; /* its bytes, NUL-terminated */
    size_t len;
};

struct schema {
    struct ly_ctx *ctx;
    struct schema_mod *mods; /* every module in the context, sorted by name */
    size_t nmods;
    struct schema_file *files; /* the load path's files in load order (directories in the
                                  order given, names sorted within each) */
    size_t nfiles;
    uint8_t digest[32]; /* the module-set digest (see above) */
    char digest_hex[65];
};

/*
 * Compile every *.yang file of every directory in @p dirs (in order; files sorted by name
 * within a directory) into one new context, all features of those modules enabled, plus the
 * standard modules Chorus needs implemented: ietf-netconf-with-defaults (from Debian's
 * libyuma-base /usr/share/yuma/modules/ietf). Files holding a submodule are not compiled on
 * their own; they are found when their module includes them. Imports and includes are
 * resolved first among the files of @p dirs (whatever their file names), then in the search
 * path: the load-path dirs first, then /usr/share/yuma/modules/ietf,
 * /usr/share/yuma/modules/ietf-derived, /usr/share/yuma/modules/netconfcentral (only those
 * that exist); never the current directory. libyang's log goes to its error store, not to
 * stderr (ly_log_options(LY_LOSTORE), left set).
 *
 * @param[in] dirs Directories, absolute or relative to the current directory; @p ndirs may
 *     be 0 (only the standard modules).
 * @param[out] ret_schema New schema, owned by the caller (schema_free()); written on success
 *     only.
 * @param[out] e Error items, appended to (may be NULL).
 * @return CHORUS_OK on success.
 * @return CHORUS_ERR_SCHEMA, the load aborted, with a message naming the file (as the
 *     directory given joined with the file name): a directory that does not exist or cannot
 *     be read; a file that cannot be read; a file that is not valid YANG ("routes.yang:12:
 *     <reason>"); a module that parses but does not compile ("bad.yang:4: <reason> (/bad:x)",
 *     the line being that of the statement defining the node named by libyang's schema path,
 *     omitted if it cannot be found); a missing import ("app.yang: <reason>"); two files
 *     defining the same module; a standard module that cannot be loaded.
 * @return CHORUS_ERR_NOMEM.
 */
enum chorus_err schema_load(const char *const *dirs, size_t ndirs, struct schema **ret_schema,
                            struct cerr **e);

/* Free a schema and its context. NULL is accepted. */
void schema_free(struct schema *s);

/*
 * The implemented modules that come from files, in name order, for logs and status:
 * "ietf-netconf-with-defaults@2011-06-01 (9a1c3e5f0b2d), routes@2026-11-23 (3f2a...)" with the
 * first 12 hex digits of each module's sha256. Malloc'd (caller frees); NULL on ENOMEM.
 */
char *schema_describe(const struct schema *s);

#endif
