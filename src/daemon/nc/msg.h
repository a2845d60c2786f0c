/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of the NETCONF server that read what clients send, without sessions or the
 * transaction engine (so that tests/fuzz/fuzz_ncrpc.c can exercise them): the hello, the
 * message-id of an rpc libyang cannot parse, the content of anydata (<config>), subtree
 * filters turned into XPath (RFC 6241 section 6), and printing trees into a buffer.
 * None of them trusts its input: every pointer stays inside the NUL-terminated message.
 */
#ifndef CHORUS_NC_MSG_H
#define CHORUS_NC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libyang/libyang.h>

#include "common/buf.h"

#define NCM_BASE10 "urn:ietf:params:netconf:base:1.0"
#define NCM_BASE11 "urn:ietf:params:netconf:base:1.1"

/* A client's <hello>: 0 with the base versions it names, or -1 with the reason in *@p why
 * (not a hello, a session-id in it, no base version). */
int ncm_hello(const char *msg, bool *ret_b10, bool *ret_b11, const char **why);

/* " message-id=\"...\"" scraped from the text of an <rpc> (for the reply to one that does not
 * parse), malloc'd, or NULL when there is none usable. */
char *ncm_message_id(const char *msg);

/* The content of anydata (<config>) as XML, every node printed (an empty non-presence container
 * with an nc:operation too); *ret NULL for no content. 0 or -1 (out of memory). */
int ncm_any_xml(const struct lyd_node *any, char **ret);

/* Append @p tree and its siblings as XML (libyang print options @p opts) to @p b. 0 or -1. */
int ncm_print_xml(struct buf *b, const struct lyd_node *tree, uint32_t opts);
/* The same, malloc'd; "" for no tree, NULL when out of memory. */
char *ncm_xml_string(const struct lyd_node *tree, uint32_t opts);

/* The XPath expressions that select what the subtree filter @p first (top-level siblings,
 * opaque or parsed) selects, appended to *@p paths (malloc'd strings). 0 or -1. */
int ncm_subtree_paths(const struct ly_ctx *ctx, const struct lyd_node *first, const char *prefix,
                      const struct lys_module *pmod, char ***paths, size_t *n);

#endif
