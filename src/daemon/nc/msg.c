/* SPDX-License-Identifier: Apache-2.0 */
/* NETCONF message helpers; see msg.h. */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssize_t
buf_write_clb(void *arg, const void *p, size_t len)
{
    struct buf *b = arg;

    buf_append(b, p, len);
    return buf_ok(b) ? (ssize_t)len : -1;
}

/* Printed straight into the buffer: libyang's memory printer grows its buffer in small steps,
 * quadratic for large trees where realloc cannot grow in place (always under ASan). */
int
ncm_print_xml(struct buf *b, const struct lyd_node *tree, uint32_t opts)
{
    struct ly_out *out = NULL;
    LY_ERR r;

    if (!tree) {
        return 0;
    }
    if (ly_out_new_clb(buf_write_clb, b, &out)) {
        return -1;
    }
    r = lyd_print_all(out, tree, LYD_XML, opts & ~(uint32_t)LYD_PRINT_WITHSIBLINGS);
    ly_out_free(out, NULL, 0);
    return r || !buf_ok(b) ? -1 : 0;
}

/* The same as a malloc'd string ("" for no tree); NULL when out of memory. */
char *
ncm_xml_string(const struct lyd_node *tree, uint32_t opts)
{
    struct buf b = BUF_INIT;

    if (ncm_print_xml(&b, tree, opts) || (buf_append(&b, "", 1), !buf_ok(&b))) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.p; /* NUL-terminated: owned by the caller */
}

/* Printed with every node, empty containers included: an empty non-presence container counts
 * as a default node and would be left out, and with it its nc:operation
 * (`<routes nc:operation="delete"/>`). */
int
ncm_any_xml(const struct lyd_node *any, char **ret)
{
    const struct lyd_node_any *a = (const struct lyd_node_any *)any;

    *ret = NULL;
    if (a->value_type == LYD_ANYDATA_DATATREE) {
        if (!a->value.tree) {
            return 0;
        }
        *ret = ncm_xml_string(a->value.tree, LYD_PRINT_WD_ALL | LYD_PRINT_KEEPEMPTYCONT |
                                             LYD_PRINT_SHRINK);
        return *ret ? 0 : -1;
    }
    return lyd_any_value_str(any, ret) ? -1 : 0;
}

/* The message-id of an <rpc> that libyang could not parse, from its text (for the reply). */
char *
ncm_message_id(const char *msg)
{
    const char *p = strstr(msg, "message-id=");
    const char *end;
    char q, *out = NULL;

    if (!p || (p > msg && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n')) {
        return NULL;
    }
    p += 11;
    q = *p;
    if (q != '"' && q != '\'') {
        return NULL;
    }
    end = strchr(p + 1, q);
    if (!end || end - p > 256 || memchr(p + 1, '<', (size_t)(end - p - 1))) {
        return NULL;
    }
    if (asprintf(&out, " message-id=\"%.*s\"", (int)(end - p - 1), p + 1) < 0) {
        out = NULL;
    }
    return out;
}

/* Name, module and text of a node of a subtree filter (opaque or parsed). */
static void
fnode(const struct ly_ctx *ctx, const struct lyd_node *f, const struct lys_module *inh, const char **name,
      const struct lys_module **mod, const char **value)
{
    if (f->schema) {
        *name = f->schema->name;
        *mod = f->schema->module;
        *value = (f->schema->nodetype & LYD_NODE_TERM) ? lyd_get_value(f) : "";
        return;
    }
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)f;

    *name = o->name.name;
    *mod = o->name.module_ns ? ly_ctx_get_module_implemented_ns(ctx, o->name.module_ns) : inh;
    if (!*mod) {
        *mod = inh;
    }
    *value = o->value ? o->value : "";
}

static bool
blank(const char *s)
{
    for (; s && *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return false;
        }
    }
    return true;
}

static void
xpath_quote(struct buf *b, const char *v)
{
    char q = strchr(v, '\'') ? '"' : '\'';

    buf_printf(b, "%c%s%c", q, v, q);
}

/* RFC 6241 section 6: the XPath expressions that select what a subtree filter selects. */
int
ncm_subtree_paths(const struct ly_ctx *ctx, const struct lyd_node *first, const char *prefix,
                  const struct lys_module *pmod, char ***paths, size_t *n)
{
    const struct lyd_node *f;

    for (f = first; f; f = f->next) {
        const char *name, *value;
        const struct lys_module *mod;
        struct buf step = BUF_INIT;
        bool others = false;
        const struct lyd_node *ch;

        fnode(ctx, f, pmod, &name, &mod, &value);
        if (!mod) {
            continue; /* a namespace of no module selects nothing */
        }
        buf_append_str(&step, prefix);
        buf_append_str(&step, "/");
        if (mod != pmod) {
            buf_printf(&step, "%s:", mod->name);
        }
        buf_append_str(&step, name);
        if (!lyd_child(f) && !blank(value)) {
            /* a content match node at this level: the node with this value */
            buf_append_str(&step, "[.=");
            xpath_quote(&step, value);
            buf_append_str(&step, "]");
        }
        /* content match children become predicates */
        for (ch = lyd_child(f); ch; ch = ch->next) {
            const char *cn, *cv;
            const struct lys_module *cm;

            fnode(ctx, ch, mod, &cn, &cm, &cv);
            if (!lyd_child(ch) && !blank(cv)) {
                buf_printf(&step, "[%s%s%s=", cm && cm != mod ? cm->name : "",
                           cm && cm != mod ? ":" : "", cn);
                xpath_quote(&step, cv);
                buf_append_str(&step, "]");
            } else {
                others = true;
            }
        }
        if (!buf_ok(&step)) {
            return -1;
        }
        if (!others) {
            char **np = realloc(*paths, (*n + 1) * sizeof *np);

            if (!np) {
                buf_free(&step);
                return -1;
            }
            *paths = np;
            (*paths)[(*n)++] = buf_steal_str(&step);
            continue;
        }
        /* the selection and containment children, and the content match ones themselves */
        for (ch = lyd_child(f); ch; ch = ch->next) {
            const char *cn, *cv;
            const struct lys_module *cm;

            fnode(ctx, ch, mod, &cn, &cm, &cv);
            if (!lyd_child(ch) && !blank(cv)) {
                char **np = realloc(*paths, (*n + 1) * sizeof *np);
                char *p = NULL;

                if (!np || asprintf(&p, "%s/%s%s%s", (const char *)step.p,
                                    cm && cm != mod ? cm->name : "", cm && cm != mod ? ":" : "",
                                    cn) < 0) {
                    free(np == *paths ? NULL : np);
                    buf_free(&step);
                    return -1;
                }
                *paths = np;
                (*paths)[(*n)++] = p;
            }
        }
        {
            char *pfx = buf_steal_str(&step);
            int r;
            const struct lyd_node *sel = NULL;

            /* recurse over the children that are not content matches, one at a time */
            r = 0;
            for (ch = lyd_child(f); !r && ch; ch = ch->next) {
                const char *cn, *cv;
                const struct lys_module *cm;
                struct lyd_node *next = ch->next;

                fnode(ctx, ch, mod, &cn, &cm, &cv);
                if (!lyd_child(ch) && !blank(cv)) {
                    continue;
                }
                /* one sibling at a time: cut the list temporarily */
                sel = ch;
                ((struct lyd_node *)ch)->next = NULL;
                r = ncm_subtree_paths(ctx, sel, pfx, mod, paths, n);
                ((struct lyd_node *)ch)->next = next;
            }
            free(pfx);
            if (r) {
                return r;
            }
        }
    }
    return 0;
}

int
ncm_hello(const char *msg, bool *ret_b10, bool *ret_b11, const char **why)
{
    const char *p = msg;
    bool b10 = false, b11 = false;

    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        p++;
    }
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) {
            *why = "a malformed XML declaration";
            return -1;
        }
        p += 2;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        }
    }
    /* the root element: <hello> or <PREFIX:hello> */
    if (*p != '<') {
        *why = "the first message is not a hello";
        return -1;
    }
    {
        const char *name = p + 1, *end = name, *colon;

        while (*end && *end != ' ' && *end != '>' && *end != '/' && *end != '\t' &&
               *end != '\n' && *end != '\r') {
            end++;
        }
        colon = memchr(name, ':', (size_t)(end - name));
        if (colon) {
            name = colon + 1;
        }
        if (end - name != 5 || strncmp(name, "hello", 5)) {
            *why = "the first message is not a hello";
            return -1;
        }
    }
    if (strstr(p, "session-id>")) {
        *why = "its hello carries a session-id";
        return -1;
    }
    for (const char *q = p; (q = strstr(q, "capability>")); q += 11) {
        const char *s = q + 11, *e;

        if (q > p && (q[-1] == '/' || (q[-1] != '<' && q[-1] != ':'))) {
            continue; /* an end tag or another name ending in "capability" */
        }
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
            s++;
        }
        e = strchr(s, '<');
        if (!e) {
            break;
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' || e[-1] == '\r')) {
            e--;
        }
        b10 = b10 || ((size_t)(e - s) == strlen(NCM_BASE10) && !strncmp(s, NCM_BASE10, e - s));
        b11 = b11 || ((size_t)(e - s) == strlen(NCM_BASE11) && !strncmp(s, NCM_BASE11, e - s));
    }
    if (!b10 && !b11) {
        *why = "its hello names neither base:1.0 nor base:1.1";
        return -1;
    }
    *ret_b10 = b10;
    *ret_b11 = b11;
    return 0;
}
