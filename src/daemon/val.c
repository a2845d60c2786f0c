/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incremental validation; see val.h for what is checked and why it is enough.
 *
 * Layout of this file:
 *   1. small containers (node queues, a string-keyed index, a pair map)
 *   2. schema analysis (val_new): per-schema-node info in lysc_node.priv
 *   3. indexes (leafref referrers by value, unique tuples), kept current by log hooks
 *   4. the run: reading the log, structure tasks (choices, defaults), when fixpoint, final
 *      checks (types, must, mandatory, min/max, unique)
 *   5. full mode (libyang as the authority) and tree comparison
 *
 * Error messages follow libyang's wording so that both modes read alike.
 */
#include "val.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/plugins_types.h>

#include "common/buf.h"
#include "common/vec.h"
#include "common/pset.h"
#include "lyu.h"

/* ======================================================================================
 * 1. containers
 * ====================================================================================== */

/* A queue of nodes without duplicates. */
struct nq {
    struct lyd_node **v;
    size_t n, cap;
    struct pset in;
};

static int
nq_add(struct nq *q, struct lyd_node *n)
{
    int r = pset_add(&q->in, n);

    if (r <= 0) {
        return r;
    }
    if (vec_reserve(&q->v, &q->cap, q->n, sizeof *q->v)) {
        pset_del(&q->in, n);
        return -1;
    }
    q->v[q->n++] = n;
    return 1;
}

/* Take all queued nodes (the queue is empty afterwards and accepts them again). */
static struct lyd_node **
nq_take(struct nq *q, size_t *ret_n)
{
    struct lyd_node **v = q->v;

    *ret_n = q->n;
    q->v = NULL;
    q->n = q->cap = 0;
    pset_clear(&q->in);
    return v;
}

static void
nq_free(struct nq *q)
{
    free(q->v);
    pset_free(&q->in);
    memset(q, 0, sizeof *q);
}

/* Index: key (a, b, string) → set of nodes. Chained hashing. */
struct vent {
    const void *a, *b;
    char *s;
    uint32_t h;
    struct lyd_node **nodes;
    uint32_t n, cap;
    struct vent *next;
};

struct vmap {
    struct vent **tab;
    size_t cap, count;
};

static uint32_t
vhash(const void *a, const void *b, const char *s)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)a;

    h = (h ^ (uint64_t)(uintptr_t)b) * 1099511628211ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static struct vent *
vmap_get(struct vmap *m, const void *a, const void *b, const char *s, bool create)
{
    uint32_t h = vhash(a, b, s);
    struct vent *e;

    if (m->cap) {
        for (e = m->tab[h & (m->cap - 1)]; e; e = e->next) {
            if (e->h == h && e->a == a && e->b == b && !strcmp(e->s, s)) {
                return e;
            }
        }
    }
    if (!create) {
        return NULL;
    }
    if (m->count + 1 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        struct vent **nt = calloc(ncap, sizeof *nt);

        if (!nt) {
            return NULL;
        }
        for (size_t i = 0; i < m->cap; i++) {
            for (struct vent *x = m->tab[i], *nx; x; x = nx) {
                nx = x->next;
                x->next = nt[x->h & (ncap - 1)];
                nt[x->h & (ncap - 1)] = x;
            }
        }
        free(m->tab);
        m->tab = nt;
        m->cap = ncap;
    }
    e = calloc(1, sizeof *e);
    if (!e || !(e->s = strdup(s))) {
        free(e);
        return NULL;
    }
    e->a = a;
    e->b = b;
    e->h = h;
    e->next = m->tab[h & (m->cap - 1)];
    m->tab[h & (m->cap - 1)] = e;
    m->count++;
    return e;
}

static void
vmap_del(struct vmap *m, struct vent *e)
{
    struct vent **pp = &m->tab[e->h & (m->cap - 1)];

    for (; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            m->count--;
            free(e->s);
            free(e->nodes);
            free(e);
            return;
        }
    }
}

static void
vmap_clear(struct vmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        for (struct vent *x = m->tab[i], *nx; x; x = nx) {
            nx = x->next;
            free(x->s);
            free(x->nodes);
            free(x);
        }
    }
    free(m->tab);
    memset(m, 0, sizeof *m);
}

static int
vent_add(struct vent *e, struct lyd_node *n)
{
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->nodes[i] == n) {
            return 0;
        }
    }
    if (e->n == e->cap) {
        size_t cap = e->cap;

        if (vec_reserve(&e->nodes, &cap, e->n, sizeof *e->nodes)) {
            return -1;
        }
        e->cap = (uint32_t)cap;
    }
    e->nodes[e->n++] = n;
    return 0;
}

static void
vent_del(struct vent *e, const struct lyd_node *n)
{
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->nodes[i] == n) {
            e->nodes[i] = e->nodes[--e->n];
            return;
        }
    }
}

/* Pair map: (a, b) → value. Open addressing. (common/pmap.h maps single pointers.) */
struct ppmap_slot {
    const void *a, *b;
    void *val;
};

struct ppmap {
    struct ppmap_slot *s;
    size_t cap, used, count;
};

static size_t
phash(const void *a, const void *b)
{
    uint64_t x = (uint64_t)(uintptr_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)b;

    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    return (size_t)(x ^ (x >> 29));
}

static const char pm_tomb;

static struct ppmap_slot *
ppmap_slot(struct ppmap *m, const void *a, const void *b, bool create)
{
    size_t j, tomb = SIZE_MAX;

    if (create && (m->used + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? (m->count * 4 > m->cap ? m->cap * 2 : m->cap) : 64;
        struct ppmap_slot *ns = calloc(ncap, sizeof *ns);

        if (!ns) {
            return NULL;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->s[i].a && m->s[i].a != &pm_tomb) {
                size_t k = phash(m->s[i].a, m->s[i].b) & (ncap - 1);

                while (ns[k].a) {
                    k = (k + 1) & (ncap - 1);
                }
                ns[k] = m->s[i];
            }
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
        m->used = m->count;
    }
    if (!m->cap) {
        return NULL;
    }
    for (j = phash(a, b) & (m->cap - 1); m->s[j].a; j = (j + 1) & (m->cap - 1)) {
        if (m->s[j].a == a && m->s[j].b == b) {
            return &m->s[j];
        }
        if (m->s[j].a == &pm_tomb && tomb == SIZE_MAX) {
            tomb = j;
        }
    }
    if (!create) {
        return NULL;
    }
    if (tomb != SIZE_MAX) {
        j = tomb;
    } else {
        m->used++;
    }
    m->s[j].a = a;
    m->s[j].b = b;
    m->s[j].val = NULL;
    m->count++;
    return &m->s[j];
}

static void
ppmap_del(struct ppmap *m, struct ppmap_slot *s)
{
    s->a = &pm_tomb;
    s->b = NULL;
    s->val = NULL;
    m->count--;
}

static void
ppmap_free(struct ppmap *m)
{
    free(m->s);
    memset(m, 0, sizeof *m);
}

/* ======================================================================================
 * 2. schema analysis
 * ====================================================================================== */

#define SI_WHEN 0x1          /* the node (or a choice/case above it) has a when */
#define SI_MUST 0x2          /* the node has musts */
#define SI_TYPES 0x4         /* terminal whose type is checked against the tree */
#define SI_DEFAULT 0x8       /* leaf/leaf-list with defaults, or NP container */
#define SI_SUB_DEPS 0x10     /* the node or a descendant is an atom of some must/when */
#define SI_SUB_LREFT 0x20    /* the node or a descendant is a leafref target/atom */
#define SI_SUB_REFR 0x40     /* the node or a descendant is an indexed leafref referrer */
#define SI_SUB_UNIQ 0x80     /* the node or a descendant is a unique list or its parent */
#define SI_UNIQ_PART 0x100   /* unique participant, or its ancestor inside the entry */
#define SI_UNIQ_LIST 0x200   /* list with unique statements */
#define SI_REFR 0x400        /* leafref referrer indexed by value (simple path) */
#define SI_UNIQ_PARENT 0x800 /* data parent of a list with unique statements */

enum { DEP_WHEN = 1, DEP_MUST = 2 };

struct dep {
    const struct lysc_node *holder;
    unsigned char kind;
    bool local;
};

struct sinfo {
    uint32_t flags;
    struct dep *deps;
    uint32_t ndeps;
    const struct lysc_node **refs; /* referrers (simple leafref) whose target is this node */
    uint32_t nrefs;
    const struct lysc_node **grefs; /* referrers to re-check entirely when this node changes */
    uint32_t ngrefs;
    const struct lysc_node **checks; /* children needing checks when this node is new */
    uint32_t nchecks;
    const struct lysc_node *list; /* nearest list ancestor-or-self */
    char *relpath;                /* path from an entry of `list` to this node's instances */
    char *abspath;                /* data path of all instances */
};

struct topchecks {
    const struct lys_module *mod;
    const struct lysc_node **checks;
    uint32_t n;
};

struct val {
    struct ly_ctx *ctx;
    struct sinfo **all;
    size_t nall, capall;
    struct topchecks *top;
    size_t ntop;
    const struct lysc_node **instids; /* instance-identifiers requiring an instance */
    uint32_t ninstids;
    /* indexes */
    struct vmap lref;        /* (referrer schema, NULL, value) → referrers */
    struct pset lref_built;  /* referrer schemas indexed */
    struct vmap uniq;        /* (parent, uniques[u], tuple) → entries */
    struct ppmap uniq_key;   /* (entry, uniques[u]) → its vent */
    struct ppmap uniq_built; /* (parent, uniques[u]) → built marker */
    bool oom;
    bool clone; /* the analysis belongs to another validator */
};

static inline struct sinfo *
si(const struct lysc_node *s)
{
    return s ? (struct sinfo *)s->priv : NULL;
}

static int
arr_push(const struct lysc_node ***arr, uint32_t *n, const struct lysc_node *s)
{
    const struct lysc_node **na;

    for (uint32_t i = 0; i < *n; i++) {
        if ((*arr)[i] == s) {
            return 0;
        }
    }
    na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na) {
        return -1;
    }
    *arr = na;
    na[(*n)++] = s;
    return 0;
}

static int
dep_push(struct sinfo *i, const struct lysc_node *holder, unsigned char kind, bool local)
{
    struct dep *nd;

    for (uint32_t k = 0; k < i->ndeps; k++) {
        if (i->deps[k].holder == holder && i->deps[k].kind == kind) {
            i->deps[k].local = i->deps[k].local && local;
            return 0;
        }
    }
    nd = realloc(i->deps, (i->ndeps + 1) * sizeof *nd);
    if (!nd) {
        return -1;
    }
    i->deps = nd;
    nd[i->ndeps].holder = holder;
    nd[i->ndeps].kind = kind;
    nd[i->ndeps].local = local;
    i->ndeps++;
    return 0;
}

static bool
is_data_node(const struct lysc_node *s)
{
    return s && !(s->nodetype & (LYS_CHOICE | LYS_CASE));
}

static unsigned
data_depth(const struct lysc_node *s)
{
    unsigned d = 0;

    for (; s; s = s->parent) {
        if (is_data_node(s)) {
            d++;
        }
    }
    return d;
}

static const struct lysc_node *
list_anc(const struct lysc_node *s)
{
    for (; s; s = s->parent) {
        if (s->nodetype == LYS_LIST) {
            return s;
        }
    }
    return NULL;
}

/* Data parent schema (skipping choice/case), NULL at the top level. */
static const struct lysc_node *
data_parent(const struct lysc_node *s)
{
    for (s = s->parent; s && !is_data_node(s); s = s->parent) {
    }
    return s;
}

/*
 * Whether an XPath expression provably stays inside the subtree @p allowed levels above its
 * context node: no absolute path, no '//', no ancestor/following/preceding axes, no deref(),
 * and at most @p allowed parent steps in total (counted over the whole expression, which is
 * conservative for predicates).
 */
static bool
xp_local(const char *x, unsigned allowed)
{
    enum { P_START, P_OPERAND, P_SLASH } prev = P_START;
    unsigned climbs = 0;

    while (*x) {
        if (isspace((unsigned char)*x)) {
            x++;
            continue;
        }
        if (*x == '\'' || *x == '"') {
            const char *q = strchr(x + 1, *x);

            if (!q) {
                return false;
            }
            x = q + 1;
            prev = P_OPERAND;
            continue;
        }
        if (*x == '/') {
            if (x[1] == '/') {
                return false;
            }
            if (prev == P_START) {
                return false; /* absolute location path */
            }
            x++;
            prev = P_SLASH;
            continue;
        }
        if (x[0] == '.' && x[1] == '.') {
            climbs++;
            x += 2;
            prev = P_OPERAND;
            continue;
        }
        if (*x == '.' && !isdigit((unsigned char)x[1])) {
            x++;
            prev = P_OPERAND;
            continue;
        }
        if (*x == '(' || *x == '[' || *x == ',') {
            x++;
            prev = P_START;
            continue;
        }
        if (*x == ')' || *x == ']') {
            x++;
            prev = P_OPERAND;
            continue;
        }
        if (*x == '*' && prev == P_SLASH) {
            x++;
            prev = P_OPERAND;
            continue;
        }
        if (strchr("=!<>+-*|@$", *x)) {
            x++;
            if (*x == '=') {
                x++;
            }
            prev = *(x - 1) == '@' ? P_SLASH : P_START;
            continue;
        }
        if (isdigit((unsigned char)*x) || *x == '.') {
            while (isdigit((unsigned char)*x) || *x == '.') {
                x++;
            }
            prev = P_OPERAND;
            continue;
        }
        if (isalpha((unsigned char)*x) || *x == '_') {
            const char *b = x;
            size_t len;

            while (isalnum((unsigned char)*x) || *x == '_' || *x == '-' || *x == '.' ||
                   (*x == ':' && x[1] != ':')) {
                x++;
            }
            len = (size_t)(x - b);
            while (isspace((unsigned char)*x)) {
                x++;
            }
            if (x[0] == ':' && x[1] == ':') {
                /* an axis */
                if ((len == 6 && !strncmp(b, "parent", 6))) {
                    climbs++;
                } else if (!((len == 5 && !strncmp(b, "child", 5)) ||
                             (len == 4 && !strncmp(b, "self", 4)) ||
                             (len == 9 && !strncmp(b, "attribute", 9)) ||
                             (len == 10 && !strncmp(b, "descendant", 10)) ||
                             (len == 18 && !strncmp(b, "descendant-or-self", 18)))) {
                    return false;
                }
                x += 2;
                prev = P_SLASH;
                continue;
            }
            if (*x == '(') {
                if (len == 5 && !strncmp(b, "deref", 5)) {
                    return false;
                }
                prev = P_OPERAND; /* the '(' resets below */
                continue;
            }
            if (prev == P_OPERAND &&
                ((len == 3 &&
                  (!strncmp(b, "and", 3) || !strncmp(b, "div", 3) || !strncmp(b, "mod", 3))) ||
                 (len == 2 && !strncmp(b, "or", 2)))) {
                prev = P_START;
                continue;
            }
            prev = P_OPERAND;
            continue;
        }
        return false; /* anything unexpected: be conservative */
    }
    return climbs <= allowed;
}

static int
add_expr_deps(struct val *v, const struct lysc_node *holder, const struct lysc_node *ctxnode,
              const struct lys_module *mod, const struct lyxp_expr *cond,
              const struct lysc_prefix *prefixes, unsigned char kind)
{
    struct ly_set *set = NULL;
    const struct lysc_node *l = list_anc(holder);
    bool local = false;

    if (l && ctxnode && list_anc(ctxnode) == l) {
        local = xp_local(lyxp_get_expr(cond), data_depth(ctxnode) - data_depth(l));
    }
    if (lys_find_expr_atoms(ctxnode, mod, cond, prefixes, LYS_FIND_XP_SCHEMA, &set)) {
        ly_err_clean(v->ctx, NULL);
        return 0; /* unresolvable atoms: the expression is evaluated when the holder changes */
    }
    for (uint32_t k = 0; k < set->count; k++) {
        struct sinfo *ai = si(set->snodes[k]);

        if (ai && dep_push(ai, holder, kind, local)) {
            ly_set_free(set, NULL);
            return -1;
        }
    }
    ly_set_free(set, NULL);
    return 0;
}

/* Data nodes under a choice or case (through nested choices). */
static int
for_case_data(const struct lysc_node *scope, int (*cb)(void *, const struct lysc_node *), void *arg)
{
    const struct lysc_node *d = NULL;

    while ((d = lys_getnext(d, scope, NULL, 0))) {
        int r = cb(arg, d);

        if (r) {
            return r;
        }
    }
    return 0;
}

struct when_dep_arg {
    struct val *v;
    const struct lysc_when *w;
    const struct lys_module *mod;
};

static int
when_dep_cb(void *arg, const struct lysc_node *d)
{
    struct when_dep_arg *a = arg;

    return add_expr_deps(a->v, d, a->w->context, a->mod, a->w->cond, a->w->prefixes, DEP_WHEN);
}

static bool
type_needs_tree(const struct lysc_type *t, bool *instid, bool *lref)
{
    bool r = false;

    switch (t->basetype) {
    case LY_TYPE_LEAFREF:
        *lref = true;
        return ((const struct lysc_type_leafref *)t)->require_instance != 0;
    case LY_TYPE_INST:
        if (((const struct lysc_type_instanceid *)t)->require_instance) {
            *instid = true;
            return true;
        }
        return false;
    case LY_TYPE_UNION: {
        const struct lysc_type_union *u = (const struct lysc_type_union *)t;
        LY_ARRAY_COUNT_TYPE i;

        LY_ARRAY_FOR(u->types, i)
        {
            r |= type_needs_tree(u->types[i], instid, lref);
        }
        return r || (t->plugin && t->plugin->validate);
    }
    default:
        return t->plugin && t->plugin->validate;
    }
}

/* Register a leafref type of @p node: simple paths get an index by value, others re-check
 * every referrer when any atom of the path changes. */
static int
add_leafref(struct val *v, const struct lysc_node *node, const struct lysc_type *t)
{
    struct ly_set *set = NULL;
    const char *expr;
    bool simple;
    int ret = 0;

    if (t->basetype == LY_TYPE_UNION) {
        const struct lysc_type_union *u = (const struct lysc_type_union *)t;
        LY_ARRAY_COUNT_TYPE i;

        LY_ARRAY_FOR(u->types, i)
        {
            if (u->types[i]->basetype == LY_TYPE_LEAFREF ||
                u->types[i]->basetype == LY_TYPE_UNION) {
                /* a leafref in a union: any atom change re-checks all referrers */
                const struct lysc_type_leafref *lr = (const void *)u->types[i];

                if (u->types[i]->basetype == LY_TYPE_UNION) {
                    continue;
                }
                if (lys_find_expr_atoms(node, node->module, lr->path, lr->prefixes, 0, &set)) {
                    ly_err_clean(v->ctx, NULL);
                    continue;
                }
                for (uint32_t k = 0; k < set->count && !ret; k++) {
                    struct sinfo *ai = si(set->snodes[k]);

                    if (ai) {
                        ret = arr_push(&ai->grefs, &ai->ngrefs, node);
                        ai->flags |= SI_SUB_LREFT;
                    }
                }
                ly_set_free(set, NULL);
                set = NULL;
            }
        }
        return ret;
    }
    {
        const struct lysc_type_leafref *lr = (const struct lysc_type_leafref *)t;

        if (!lr->require_instance) {
            return 0;
        }
        expr = lyxp_get_expr(lr->path);
        simple = !strchr(expr, '[') && !strstr(expr, "deref");
        if (lys_find_expr_atoms(node, node->module, lr->path, lr->prefixes, 0, &set)) {
            ly_err_clean(v->ctx, NULL);
            return 0;
        }
        if (set->count && simple) {
            const struct lysc_node *target = set->snodes[set->count - 1];
            struct sinfo *ti = si(target);

            if (ti && (target->nodetype & (LYS_LEAF | LYS_LEAFLIST))) {
                ret = arr_push(&ti->refs, &ti->nrefs, node);
                ti->flags |= SI_SUB_LREFT;
                si(node)->flags |= SI_REFR;
                ly_set_free(set, NULL);
                return ret;
            }
        }
        for (uint32_t k = 0; k < set->count && !ret; k++) {
            struct sinfo *ai = si(set->snodes[k]);

            if (ai) {
                ret = arr_push(&ai->grefs, &ai->ngrefs, node);
                ai->flags |= SI_SUB_LREFT;
            }
        }
        ly_set_free(set, NULL);
        return ret;
    }
}

/* Children (getnext with choices) of @p parent / the module's top level that need checks. */
static int
compute_checks(const struct lysc_node *parent, const struct lysc_module *mod,
               const struct lysc_node ***ret, uint32_t *ret_n)
{
    const struct lysc_node *c = NULL;

    while ((c = lys_getnext(c, parent, mod, LYS_GETNEXT_WITHCHOICE))) {
        bool need = false;

        if (c->flags & LYS_CONFIG_R) {
            continue;
        }
        if (c->nodetype == LYS_LIST) {
            const struct lysc_node_list *l = (const struct lysc_node_list *)c;

            need = l->min || l->max || l->uniques;
        } else if (c->nodetype == LYS_LEAFLIST) {
            const struct lysc_node_leaflist *l = (const struct lysc_node_leaflist *)c;

            need = l->min || l->max;
        } else if (c->nodetype == LYS_CHOICE) {
            need = true;
        } else {
            need = (c->flags & LYS_MAND_TRUE) != 0;
        }
        if (need && arr_push(ret, ret_n, c)) {
            return -1;
        }
    }
    return 0;
}

static int
analyse_node(struct val *v, const struct lysc_node *s)
{
    struct sinfo *i = si(s);
    struct lysc_must *musts = lysc_node_musts(s);
    struct lysc_when **whens = lysc_node_when(s);
    LY_ARRAY_COUNT_TYPE u;
    char *p;

    if (lysc_has_when(s) && is_data_node(s)) {
        i->flags |= SI_WHEN;
    }
    if (musts && LY_ARRAY_COUNT(musts)) {
        i->flags |= SI_MUST;
        LY_ARRAY_FOR(musts, u)
        {
            if (add_expr_deps(v, s, s, s->module, musts[u].cond, musts[u].prefixes, DEP_MUST)) {
                return -1;
            }
        }
    }
    LY_ARRAY_FOR(whens, u)
    {
        if (is_data_node(s)) {
            if (add_expr_deps(v, s, whens[u]->context, s->module, whens[u]->cond,
                              whens[u]->prefixes, DEP_WHEN)) {
                return -1;
            }
        } else {
            struct when_dep_arg a = {v, whens[u], s->module};

            if (for_case_data(s, when_dep_cb, &a)) {
                return -1;
            }
        }
    }
    i->list = list_anc(s);
    if (is_data_node(s)) {
        i->abspath = lysc_path(s, LYSC_PATH_DATA, NULL, 0);
        if (!i->abspath) {
            return -1;
        }
        if (i->list) {
            p = lysc_path(i->list, LYSC_PATH_DATA, NULL, 0);
            if (!p) {
                return -1;
            }
            if (i->list == s) {
                i->relpath = strdup(".");
            } else {
                size_t l = strlen(p);

                i->relpath =
                    strdup(!strncmp(i->abspath, p, l) && i->abspath[l] == '/' ? i->abspath + l + 1
                                                                              : i->abspath);
            }
            free(p);
            if (!i->relpath) {
                return -1;
            }
        }
    }
    switch (s->nodetype) {
    case LYS_LEAF:
    case LYS_LEAFLIST: {
        const struct lysc_type *t = ((const struct lysc_node_leaf *)s)->type;
        bool instid = false, lref = false;

        if (type_needs_tree(t, &instid, &lref)) {
            i->flags |= SI_TYPES;
        }
        if (instid && arr_push(&v->instids, &v->ninstids, s)) {
            return -1;
        }
        if (lref && add_leafref(v, s, t)) {
            return -1;
        }
        if ((s->nodetype == LYS_LEAF && ((const struct lysc_node_leaf *)s)->dflt) ||
            (s->nodetype == LYS_LEAFLIST && ((const struct lysc_node_leaflist *)s)->dflts)) {
            i->flags |= SI_DEFAULT;
        }
        break;
    }
    case LYS_CONTAINER:
        if (!(s->flags & LYS_PRESENCE)) {
            i->flags |= SI_DEFAULT;
        }
        if (compute_checks(s, NULL, &i->checks, &i->nchecks)) {
            return -1;
        }
        break;
    case LYS_LIST: {
        const struct lysc_node_list *l = (const struct lysc_node_list *)s;

        if (compute_checks(s, NULL, &i->checks, &i->nchecks)) {
            return -1;
        }
        if (l->uniques) {
            const struct lysc_node *dp = data_parent(s);

            i->flags |= SI_UNIQ_LIST;
            if (dp) {
                si(dp)->flags |= SI_UNIQ_PARENT;
            }
            LY_ARRAY_FOR(l->uniques, u)
            {
                LY_ARRAY_COUNT_TYPE w;

                LY_ARRAY_FOR(l->uniques[u], w)
                {
                    for (const struct lysc_node *q = &l->uniques[u][w]->node; q && q != s;
                         q = q->parent) {
                        si(q)->flags |= SI_UNIQ_PART;
                    }
                }
            }
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static int
alloc_infos(struct val *v, const struct lysc_node *s)
{
    for (; s; s = s->next) {
        struct sinfo *i;
        const struct lysc_node *c;

        if (s->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF)) {
            continue;
        }
        i = calloc(1, sizeof *i);
        if (!i) {
            return -1;
        }
        if (v->nall == v->capall) {
            size_t nc = v->capall ? v->capall * 2 : 256;
            struct sinfo **na = realloc(v->all, nc * sizeof *na);

            if (!na) {
                free(i);
                return -1;
            }
            v->all = na;
            v->capall = nc;
        }
        v->all[v->nall++] = i;
        ((struct lysc_node *)s)->priv = i;
        c = lysc_node_child(s);
        if (c && alloc_infos(v, c)) {
            return -1;
        }
    }
    return 0;
}

static int
analyse_r(struct val *v, const struct lysc_node *s)
{
    for (; s; s = s->next) {
        if (s->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF)) {
            continue;
        }
        if (analyse_node(v, s) || analyse_r(v, lysc_node_child(s))) {
            return -1;
        }
    }
    return 0;
}

/* Propagate the SUB flags bottom-up; returns the node's flags. */
static uint32_t
propagate_r(const struct lysc_node *s)
{
    uint32_t acc = 0;

    for (; s; s = s->next) {
        struct sinfo *i = si(s);
        uint32_t sub;

        if (!i) {
            continue;
        }
        if (i->ndeps) {
            i->flags |= SI_SUB_DEPS;
        }
        if (i->flags & SI_REFR) {
            i->flags |= SI_SUB_REFR;
        }
        if (i->flags & (SI_UNIQ_LIST | SI_UNIQ_PARENT)) {
            i->flags |= SI_SUB_UNIQ;
        }
        sub = propagate_r(lysc_node_child(s));
        i->flags |= sub & (SI_SUB_DEPS | SI_SUB_LREFT | SI_SUB_REFR | SI_SUB_UNIQ);
        acc |= i->flags;
    }
    return acc;
}

static void
sinfo_free(struct sinfo *i)
{
    free(i->deps);
    free(i->refs);
    free(i->grefs);
    free(i->checks);
    free(i->relpath);
    free(i->abspath);
    free(i);
}

struct val *
val_new(struct ly_ctx *ctx)
{
    struct val *v = calloc(1, sizeof *v);
    const struct lys_module *mod;
    uint32_t idx = 0;

    if (!v) {
        return NULL;
    }
    v->ctx = ctx;
    while ((mod = ly_ctx_get_module_iter(ctx, &idx))) {
        if (mod->implemented && mod->compiled && alloc_infos(v, mod->compiled->data)) {
            goto fail;
        }
    }
    idx = 0;
    while ((mod = ly_ctx_get_module_iter(ctx, &idx))) {
        struct topchecks *nt;

        if (!mod->implemented || !mod->compiled) {
            continue;
        }
        if (analyse_r(v, mod->compiled->data)) {
            goto fail;
        }
        nt = realloc(v->top, (v->ntop + 1) * sizeof *nt);
        if (!nt) {
            goto fail;
        }
        v->top = nt;
        memset(&nt[v->ntop], 0, sizeof *nt);
        nt[v->ntop].mod = mod;
        if (compute_checks(NULL, mod->compiled, &nt[v->ntop].checks, &nt[v->ntop].n)) {
            goto fail;
        }
        v->ntop++;
    }
    idx = 0;
    while ((mod = ly_ctx_get_module_iter(ctx, &idx))) {
        if (mod->implemented && mod->compiled) {
            propagate_r(mod->compiled->data);
        }
    }
    return v;
fail:
    val_free(v);
    return NULL;
}

void
val_reset(struct val *v)
{
    vmap_clear(&v->lref);
    pset_free(&v->lref_built);
    vmap_clear(&v->uniq);
    ppmap_free(&v->uniq_key);
    ppmap_free(&v->uniq_built);
}

struct val *
val_clone(const struct val *v)
{
    struct val *c = calloc(1, sizeof *c);

    if (c) {
        c->ctx = v->ctx;
        c->top = v->top;
        c->ntop = v->ntop;
        c->instids = v->instids;
        c->ninstids = v->ninstids;
        c->clone = true;
    }
    return c;
}

void
val_free(struct val *v)
{
    if (!v) {
        return;
    }
    val_reset(v);
    if (v->clone) {
        free(v);
        return;
    }
    for (size_t k = 0; k < v->nall; k++) {
        sinfo_free(v->all[k]);
    }
    /* clear the priv pointers we set, so that a later user of the context starts clean */
    {
        const struct lys_module *mod;
        uint32_t idx = 0;

        while ((mod = ly_ctx_get_module_iter(v->ctx, &idx))) {
            const struct lysc_node *top, *it;

            if (!mod->implemented || !mod->compiled) {
                continue;
            }
            for (top = mod->compiled->data; top; top = top->next) {
                LYSC_TREE_DFS_BEGIN(top, it)
                {
                    ((struct lysc_node *)it)->priv = NULL;
                    LYSC_TREE_DFS_END(top, it);
                }
            }
        }
    }
    free(v->all);
    for (size_t k = 0; k < v->ntop; k++) {
        free(v->top[k].checks);
    }
    free(v->top);
    free(v->instids);
    free(v);
}

/* ======================================================================================
 * 3. indexes
 * ====================================================================================== */

static void
lref_add(struct val *v, struct lyd_node *n)
{
    struct vent *e = vmap_get(&v->lref, n->schema, NULL, lyd_get_value(n), true);

    if (!e || vent_add(e, n)) {
        v->oom = true;
    }
}

static void
lref_del(struct val *v, struct lyd_node *n)
{
    struct vent *e = vmap_get(&v->lref, n->schema, NULL, lyd_get_value(n), false);

    if (e) {
        vent_del(e, n);
        if (!e->n) {
            vmap_del(&v->lref, e);
        }
    }
}

static void
lref_build(struct val *v, struct lyd_node *root, const struct lysc_node *r)
{
    struct ly_set *set = NULL;

    if (pset_add(&v->lref_built, r) <= 0) {
        return;
    }
    if (!root || lyd_find_xpath(root, si(r)->abspath, &set)) {
        ly_err_clean(v->ctx, NULL);
        return;
    }
    for (uint32_t k = 0; k < set->count; k++) {
        lref_add(v, set->dnodes[k]);
    }
    ly_set_free(set, NULL);
}

/* The instance of unique leaf @p ul under @p entry, following the schema path. */
static struct lyd_node *
uniq_leaf(const struct lysc_node_leaf *ul, const struct lyd_node *entry)
{
    const struct lysc_node *chain[32];
    unsigned n = 0;
    const struct lyd_node *cur = entry;

    for (const struct lysc_node *s = &ul->node; s && s != entry->schema; s = s->parent) {
        if (is_data_node(s)) {
            if (n == 32) {
                return NULL;
            }
            chain[n++] = s;
        }
    }
    while (n && cur) {
        cur = lyu_find_schema(lyd_child(cur), chain[--n]);
    }
    return (struct lyd_node *)cur;
}

/* Tuple of unique statement @p uq for @p entry, or NULL if incomplete. */
static char *
uniq_tuple(struct lysc_node_leaf **uq, const struct lyd_node *entry)
{
    struct buf b = BUF_INIT;
    LY_ARRAY_COUNT_TYPE w;

    LY_ARRAY_FOR(uq, w)
    {
        const struct lyd_node *l = uniq_leaf(uq[w], entry);
        const char *val;

        if (l) {
            val = lyd_get_value(l);
        } else if (uq[w]->dflt) {
            val = lyd_value_get_canonical(uq[w]->module->ctx, uq[w]->dflt);
        } else {
            buf_free(&b);
            return NULL;
        }
        buf_printf(&b, "%zu:%s;", strlen(val), val);
    }
    return buf_steal_str(&b);
}

static void
uniq_unindex(struct val *v, const struct lyd_node *entry, struct lysc_node_leaf **uq)
{
    struct ppmap_slot *s = ppmap_slot(&v->uniq_key, entry, uq, false);

    if (s) {
        struct vent *e = s->val;

        vent_del(e, entry);
        if (!e->n) {
            vmap_del(&v->uniq, e);
        }
        ppmap_del(&v->uniq_key, s);
    }
}

static void
uniq_index(struct val *v, struct lyd_node *entry, struct lysc_node_leaf **uq)
{
    char *t;
    struct vent *e;
    struct ppmap_slot *s;

    uniq_unindex(v, entry, uq);
    t = uniq_tuple(uq, entry);
    if (!t) {
        return;
    }
    e = vmap_get(&v->uniq, lyd_parent(entry), uq, t, true);
    free(t);
    s = ppmap_slot(&v->uniq_key, entry, uq, true);
    if (!e || !s || vent_add(e, entry)) {
        v->oom = true;
        return;
    }
    s->val = e;
}

static bool
uniq_is_built(struct val *v, const struct lyd_node *parent, struct lysc_node_leaf **uq)
{
    return ppmap_slot(&v->uniq_built, parent, uq, false) != NULL;
}

static void
uniq_build(struct val *v, struct lyd_node *root, struct lyd_node *parent,
           const struct lysc_node *list, struct lysc_node_leaf **uq)
{
    struct ppmap_slot *s;
    struct lyd_node *it;

    if (uniq_is_built(v, parent, uq)) {
        return;
    }
    s = ppmap_slot(&v->uniq_built, parent, uq, true);
    if (!s) {
        v->oom = true;
        return;
    }
    s->val = (void *)1;
    LYD_LIST_FOR_INST(lyu_children(parent, root), list, it)
    {
        uniq_index(v, it, uq);
    }
}

/* Entry @p entry (of a unique list) changed, entered or left: bring its index entries up to
 * date, if its parent's index exists. */
static void
uniq_touch(struct val *v, struct lyd_node *entry, struct lyd_node *parent, bool linked)
{
    const struct lysc_node_list *l = (const struct lysc_node_list *)entry->schema;
    LY_ARRAY_COUNT_TYPE u;

    LY_ARRAY_FOR(l->uniques, u)
    {
        if (!linked) {
            uniq_unindex(v, entry, l->uniques[u]);
        } else if (uniq_is_built(v, parent, l->uniques[u])) {
            uniq_index(v, entry, l->uniques[u]);
        }
    }
}

/* A node that may be a built index's parent leaves the tree: drop its markers. */
static void
uniq_drop_parent(struct val *v, const struct lyd_node *parent)
{
    const struct lysc_node *c = NULL;

    while ((c = lys_getnext(c, parent->schema, NULL, 0))) {
        if (c->nodetype == LYS_LIST && ((const struct lysc_node_list *)c)->uniques) {
            const struct lysc_node_list *l = (const struct lysc_node_list *)c;
            LY_ARRAY_COUNT_TYPE u;

            LY_ARRAY_FOR(l->uniques, u)
            {
                struct ppmap_slot *s = ppmap_slot(&v->uniq_built, parent, l->uniques[u], false);

                if (s) {
                    ppmap_del(&v->uniq_built, s);
                }
            }
        }
    }
}

static void
index_subtree(struct val *v, struct lyd_node *sub, struct lyd_node *parent, bool linked)
{
    struct lyd_node *it;
    uint32_t f = (sub->schema && si(sub->schema)) ? si(sub->schema)->flags : 0;

    if (f & SI_SUB_REFR && v->lref_built.count) {
        LYD_TREE_DFS_BEGIN(sub, it)
        {
            if (it->schema && si(it->schema) && (si(it->schema)->flags & SI_REFR) &&
                pset_has(&v->lref_built, it->schema)) {
                if (linked) {
                    lref_add(v, it);
                } else {
                    lref_del(v, it);
                }
            }
            LYD_TREE_DFS_END(sub, it);
        }
    }
    if (f & SI_SUB_UNIQ && (v->uniq_key.count || v->uniq_built.count)) {
        LYD_TREE_DFS_BEGIN(sub, it)
        {
            struct sinfo *i = it->schema ? si(it->schema) : NULL;

            if (i && (i->flags & SI_UNIQ_LIST)) {
                uniq_touch(v, it, it == sub ? parent : lyd_parent(it), linked);
            }
            if (i && !linked && (i->flags & SI_UNIQ_PARENT)) {
                uniq_drop_parent(v, it);
            }
            LYD_TREE_DFS_END(sub, it);
        }
    }
    /* a participant changed inside an entry that stays: re-index the entry */
    if ((f & SI_UNIQ_PART) && (v->uniq_key.count || v->uniq_built.count)) {
        struct lyd_node *e = linked ? lyd_parent(sub) : parent;

        for (; e; e = lyd_parent(e)) {
            if (e->schema && si(e->schema) && (si(e->schema)->flags & SI_UNIQ_LIST)) {
                uniq_touch(v, e, lyd_parent(e), true);
                break;
            }
        }
    }
}

static void
hook_linked(void *arg, struct lyd_node *sub)
{
    index_subtree(arg, sub, lyd_parent(sub), true);
}

static void
hook_unlinked(void *arg, struct lyd_node *sub, struct lyd_node *parent)
{
    index_subtree(arg, sub, parent, false);
}

static const struct dl_hooks hooks = {hook_linked, hook_unlinked};

const struct dl_hooks *
val_hooks(void)
{
    return &hooks;
}

/* ======================================================================================
 * 4. the run
 * ====================================================================================== */

enum task_kind {
    TK_NEWINNER, /* a new inner node: its choices, then its implicit children */
    TK_CHOICE,   /* a choice under a parent got new data: cases, then implicit */
    TK_LLDFLT,   /* an explicit leaf-list entry arrived: drop default entries */
    TK_IMPLICIT, /* a node was removed: defaults may come back */
};

struct task {
    enum task_kind kind;
    struct lyd_node *node;          /* TK_NEWINNER: the node; others: the parent (NULL: top) */
    const struct lysc_node *schema; /* the schema node concerned */
};

/* Final checks of a parent for one schema child. */
struct pcheck {
    struct lyd_node *parent;        /* NULL: top level */
    const struct lysc_node *schema; /* child schema */
    unsigned char what;             /* PC_* */
};

#define PC_MAND 0x1
#define PC_MINMAX 0x2
#define PC_CASE 0x4 /* a case got data: its members' constraints apply */

struct vrun {
    struct val *v;
    struct dlog *log;
    struct cerr **err;
    enum chorus_err rc;
    size_t next;
    struct task *tasks;
    size_t ntasks, captasks;
    struct pcheck *pc;
    size_t npc, cappc;
    struct nq when_q, must_q, type_q, inner_q, uniq_q;
    struct pset gwhen, gmust, gtypes; /* schemas: re-check every instance */
    struct pset gdflt;                /* schemas with defaults whose when may have changed */
};

#define RUN_OK(r) ((r)->rc == CHORUS_OK)

static void
oom(struct vrun *r)
{
    if (RUN_OK(r)) {
        r->rc = cerr_add(r->err, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory in validation");
    }
}

static void fail(struct vrun *r, const struct lyd_node *node, const char *extra_path,
                 const char *apptag, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
fail(struct vrun *r, const struct lyd_node *node, const char *extra_path, const char *apptag,
     const char *fmt, ...)
{
    char *msg = NULL, *path = NULL;
    va_list ap;

    if (!RUN_OK(r)) {
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        msg = NULL;
    }
    va_end(ap);
    if (node || extra_path) {
        char *np = node ? lyu_path(node) : NULL;

        if (extra_path) {
            if (asprintf(&path, "%s/%s", np && strcmp(np, "/") ? np : "", extra_path) < 0) {
                path = NULL;
            }
            free(np);
        } else {
            path = np;
        }
    }
    r->rc = cerr_add(r->err, CHORUS_ERR_VALIDATION, path, apptag, "%s",
                     msg ? msg : "validation failed");
    free(msg);
    free(path);
}

static struct lyd_node *
root_of(struct vrun *r)
{
    return *r->log->root;
}

static struct lyd_node *
first_of(struct vrun *r, struct lyd_node *parent)
{
    return lyu_children(parent, root_of(r));
}

/* Whether @p n is linked in the tree (not in a removed subtree). */
static bool
in_tree(struct vrun *r, const struct lyd_node *n)
{
    const struct lyd_node *top = n;

    while (top->parent) {
        top = lyd_parent(top);
    }
    return top == root_of(r) || top->prev != top;
}

static void
task_add(struct vrun *r, enum task_kind kind, struct lyd_node *node, const struct lysc_node *schema)
{
    if (vec_reserve(&r->tasks, &r->captasks, r->ntasks, sizeof *r->tasks)) {
        oom(r);
        return;
    }
    r->tasks[r->ntasks].kind = kind;
    r->tasks[r->ntasks].node = node;
    r->tasks[r->ntasks].schema = schema;
    r->ntasks++;
}

static void
pc_add(struct vrun *r, struct lyd_node *parent, const struct lysc_node *schema, unsigned char what)
{
    if (vec_reserve(&r->pc, &r->cappc, r->npc, sizeof *r->pc)) {
        oom(r);
        return;
    }
    r->pc[r->npc].parent = parent;
    r->pc[r->npc].schema = schema;
    r->pc[r->npc].what = what;
    r->npc++;
}

static void
q(struct vrun *r, struct nq *queue, struct lyd_node *n)
{
    if (nq_add(queue, n) < 0) {
        oom(r);
    }
}

/* The ancestor-or-self of @p x with schema @p list; @p attach continues the walk when @p x
 * belongs to a subtree detached from @p attach. */
static struct lyd_node *
find_entry(struct lyd_node *x, struct lyd_node *attach, const struct lysc_node *list)
{
    for (; x; x = lyd_parent(x)) {
        if (x->schema == list) {
            return x;
        }
        if (!x->parent) {
            break;
        }
    }
    for (x = attach; x; x = lyd_parent(x)) {
        if (x->schema == list) {
            return x;
        }
    }
    return NULL;
}

static void
queue_holder_instances(struct vrun *r, struct lyd_node *entry, const struct dep *d)
{
    struct nq *queue = d->kind == DEP_WHEN ? &r->when_q : &r->must_q;
    struct ly_set *set = NULL;

    if (d->holder == entry->schema) {
        q(r, queue, entry);
        return;
    }
    if (lyd_find_xpath(entry, si(d->holder)->relpath, &set)) {
        ly_err_clean(r->v->ctx, NULL);
        return;
    }
    for (uint32_t k = 0; k < set->count; k++) {
        q(r, queue, set->dnodes[k]);
    }
    ly_set_free(set, NULL);
}

/* Schema node of @p x changed (x created, removed or its value changed): its dependants. */
/* A when-holder with a default may have to appear now: schedule implicit creation under its
 * parent's instances inside @p entry. */
static void
dflt_in_entry(struct vrun *r, struct lyd_node *entry, const struct lysc_node *holder)
{
    const struct lysc_node *ps = data_parent(holder);
    struct ly_set *set = NULL;

    if (ps == entry->schema) {
        task_add(r, TK_IMPLICIT, entry, holder);
        return;
    }
    if (!ps || lyd_find_xpath(entry, si(ps)->relpath, &set)) {
        ly_err_clean(r->v->ctx, NULL);
        return;
    }
    for (uint32_t k = 0; k < set->count; k++) {
        task_add(r, TK_IMPLICIT, set->dnodes[k], holder);
    }
    ly_set_free(set, NULL);
}

/* Schema node of @p x changed (x created, removed or its value changed): its dependants. */
static void
trigger(struct vrun *r, struct lyd_node *x, struct lyd_node *attach)
{
    struct sinfo *i = si(x->schema);

    for (uint32_t k = 0; k < i->ndeps && RUN_OK(r); k++) {
        const struct dep *d = &i->deps[k];
        bool dflt = d->kind == DEP_WHEN && (si(d->holder)->flags & SI_DEFAULT);
        struct lyd_node *entry;

        if (d->local) {
            entry = find_entry(x, attach, si(d->holder)->list);
            if (entry) {
                if ((entry->flags & LYD_NEW) || !in_tree(r, entry)) {
                    continue; /* all new (queued already) or gone */
                }
                queue_holder_instances(r, entry, d);
                if (dflt) {
                    dflt_in_entry(r, entry, d->holder);
                }
                continue;
            }
        }
        if (pset_add(d->kind == DEP_WHEN ? &r->gwhen : &r->gmust, d->holder) < 0 ||
            (dflt && pset_add(&r->gdflt, d->holder) < 0)) {
            oom(r);
        }
    }
}

/* Implicit creation for every parent instance of the when-holders with defaults in gdflt. */
static void
expand_gdflt(struct vrun *r)
{
    struct lyd_node *root = root_of(r);

    for (size_t k = 0; k < r->gdflt.cap && RUN_OK(r); k++) {
        const struct lysc_node *s = r->gdflt.slot[k], *ps;
        struct ly_set *set = NULL;

        if (!s || s == PSET_TOMB) {
            continue;
        }
        ps = data_parent(s);
        if (!ps) {
            task_add(r, TK_IMPLICIT, NULL, s);
            continue;
        }
        if (!root || lyd_find_xpath(root, si(ps)->abspath, &set)) {
            ly_err_clean(r->v->ctx, NULL);
            continue;
        }
        for (uint32_t j = 0; j < set->count; j++) {
            task_add(r, TK_IMPLICIT, set->dnodes[j], s);
        }
        ly_set_free(set, NULL);
    }
    pset_clear(&r->gdflt);
}

/* A leafref target (or atom) @p x was removed or changed. */
static void
backward(struct vrun *r, struct lyd_node *x)
{
    struct sinfo *i = si(x->schema);

    for (uint32_t k = 0; k < i->nrefs; k++) {
        struct vent *e;

        lref_build(r->v, root_of(r), i->refs[k]);
        if (!(x->schema->nodetype & LYD_NODE_TERM)) {
            continue;
        }
        e = vmap_get(&r->v->lref, i->refs[k], NULL, lyd_get_value(x), false);
        for (uint32_t j = 0; e && j < e->n; j++) {
            q(r, &r->type_q, e->nodes[j]);
        }
    }
    for (uint32_t k = 0; k < i->ngrefs; k++) {
        if (pset_add(&r->gtypes, i->grefs[k]) < 0) {
            oom(r);
        }
    }
}

static bool
is_case_member(const struct lysc_node *s)
{
    return s->parent && (s->parent->nodetype & (LYS_CASE | LYS_CHOICE));
}

static void
new_node(struct vrun *r, struct lyd_node *x)
{
    struct sinfo *i = x->schema ? si(x->schema) : NULL;

    if (!i) {
        return;
    }
    if ((x->flags & LYD_NEW) && !lyu_is_key(x) && !lysc_is_dup_inst_list(x->schema)) {
        struct lyd_node *first = first_of(r, lyd_parent(x)), *m = NULL;

        if (x->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
            lyd_find_sibling_first(first, x, &m);
        } else {
            m = lyu_find_schema(first, x->schema);
        }
        if (m && m != x) {
            fail(r, x, NULL, NULL, "Duplicate instance of \"%s\".", x->schema->name);
            return;
        }
    }
    if (i->flags & SI_WHEN) {
        q(r, &r->when_q, x);
    }
    if (i->flags & SI_MUST) {
        q(r, &r->must_q, x);
    }
    if (i->flags & SI_TYPES) {
        q(r, &r->type_q, x);
    }
    if (x->schema->nodetype & (LYS_CONTAINER | LYS_LIST)) {
        task_add(r, TK_NEWINNER, x, x->schema);
        q(r, &r->inner_q, x);
    }
    if (i->flags & SI_UNIQ_PART) {
        for (struct lyd_node *e = lyd_parent(x); e; e = lyd_parent(e)) {
            if (si(e->schema)->flags & SI_UNIQ_LIST) {
                q(r, &r->uniq_q, e);
                break;
            }
        }
    }
    if (i->ndeps) {
        trigger(r, x, NULL);
    }
}

static void
new_subtree(struct vrun *r, struct lyd_node *n)
{
    struct lyd_node *it;

    LYD_TREE_DFS_BEGIN(n, it)
    {
        new_node(r, it);
        if (!RUN_OK(r)) {
            return;
        }
        LYD_TREE_DFS_END(n, it);
    }
}

static void
removed_subtree(struct vrun *r, struct lyd_node *n, struct lyd_node *attach)
{
    struct sinfo *i = n->schema ? si(n->schema) : NULL;
    struct lyd_node *it;

    if (!i) {
        return;
    }
    if (i->flags & (SI_SUB_DEPS | SI_SUB_LREFT)) {
        LYD_TREE_DFS_BEGIN(n, it)
        {
            struct sinfo *ii = it->schema ? si(it->schema) : NULL;

            if (ii && ii->ndeps) {
                trigger(r, it, attach);
            }
            if (ii && (ii->nrefs || ii->ngrefs)) {
                backward(r, it);
            }
            LYD_TREE_DFS_END(n, it);
        }
    }
    for (size_t k = 0; k < r->v->ninstids; k++) {
        if (pset_add(&r->gtypes, r->v->instids[k]) < 0) {
            oom(r);
        }
    }
}

static void
touched_insert(struct vrun *r, struct lyd_node *parent, struct lyd_node *n)
{
    const struct lysc_node *s = n->schema;

    if (is_case_member(s)) {
        task_add(r, TK_CHOICE, parent, s);
        for (const struct lysc_node *k = s->parent; k && !is_data_node(k); k = k->parent) {
            if (k->nodetype == LYS_CASE) {
                pc_add(r, parent, k, PC_CASE);
            }
        }
    }
    if (s->nodetype == LYS_LEAFLIST && !(n->flags & LYD_DEFAULT) && (si(s)->flags & SI_DEFAULT)) {
        task_add(r, TK_LLDFLT, parent, s);
    }
    if (s->nodetype == LYS_LIST && ((const struct lysc_node_list *)s)->max) {
        pc_add(r, parent, s, PC_MINMAX);
    }
    if (s->nodetype == LYS_LEAFLIST && ((const struct lysc_node_leaflist *)s)->max) {
        pc_add(r, parent, s, PC_MINMAX);
    }
    if (si(s)->flags & SI_UNIQ_LIST) {
        q(r, &r->uniq_q, n);
    }
}

static void
touched_remove(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    if ((si(s)->flags & SI_DEFAULT) || is_case_member(s)) {
        task_add(r, TK_IMPLICIT, parent, s);
    }
    pc_add(r, parent, s, PC_MAND);
    if ((s->nodetype == LYS_LIST && ((const struct lysc_node_list *)s)->min) ||
        (s->nodetype == LYS_LEAFLIST && ((const struct lysc_node_leaflist *)s)->min)) {
        pc_add(r, parent, s, PC_MINMAX);
    }
}

static void
process_entry(struct vrun *r, const struct dl_ent *e)
{
    switch (e->kind) {
    case DL_INSERT:
        new_subtree(r, e->node);
        touched_insert(r, e->parent, e->node);
        break;
    case DL_REMOVE:
        removed_subtree(r, e->node, e->parent);
        touched_remove(r, e->parent, e->node->schema);
        break;
    case DL_SWAP:
        removed_subtree(r, e->old, e->parent);
        new_subtree(r, e->node);
        if (e->node->schema->nodetype == LYS_LEAFLIST && !(e->node->flags & LYD_DEFAULT)) {
            task_add(r, TK_LLDFLT, e->parent, e->node->schema);
        }
        break;
    case DL_MOVE:
        if (si(e->node->schema)->ndeps) {
            trigger(r, e->node, NULL);
        }
        break;
    }
}

/* ---- structure tasks ---- */

/* Any (or, with @p explicit_only, any non-default) instance of the data under @p scope. */
static struct lyd_node *
scope_data(const struct lyd_node *first, const struct lysc_node *scope, bool explicit_only)
{
    const struct lysc_node *d = NULL;

    while ((d = lys_getnext(d, scope, NULL, 0))) {
        struct lyd_node *m;

        if (explicit_only) {
            LYD_LIST_FOR_INST(first, d, m)
            {
                if (!(m->flags & LYD_DEFAULT)) {
                    return m;
                }
            }
        } else if ((m = lyu_find_schema(first, d))) {
            return m;
        }
    }
    return NULL;
}

static void
remove_node(struct vrun *r, struct lyd_node *n)
{
    if (dl_remove(r->log, n)) {
        oom(r);
    }
}

/* Remove every instance of the data under @p scope. */
static void
remove_scope(struct vrun *r, struct lyd_node *parent, const struct lysc_node *scope,
             bool defaults_only)
{
    const struct lysc_node *d = NULL;

    while ((d = lys_getnext(d, scope, NULL, 0)) && RUN_OK(r)) {
        struct lyd_node *m;

        while ((m = lyu_find_schema(first_of(r, parent), d)) && RUN_OK(r)) {
            struct lyd_node *it, *victim = m;

            if (defaults_only) {
                /* the first default instance, if any */
                victim = NULL;
                LYD_LIST_FOR_INST(first_of(r, parent), d, it)
                {
                    if (it->flags & LYD_DEFAULT) {
                        victim = it;
                        break;
                    }
                }
                if (!victim) {
                    break;
                }
            }
            remove_node(r, victim);
        }
    }
}

/* libyang's lyd_validate_cases for choice @p ch under @p parent. */
static void
check_cases(struct vrun *r, struct lyd_node *parent, const struct lysc_node *ch)
{
    const struct lysc_node *k, *old_case = NULL, *new_case = NULL;
    struct lyd_node *first = first_of(r, parent);

    LY_LIST_FOR(lysc_node_child(ch), k)
    {
        const struct lysc_node *d = NULL;
        int found = 0;

        while ((d = lys_getnext(d, k, NULL, 0)) && found != 2) {
            struct lyd_node *m;

            LYD_LIST_FOR_INST(first, d, m)
            {
                if (m->flags & LYD_NEW) {
                    found = 2;
                    break;
                }
                found = 1;
            }
        }
        if (found == 1) {
            if (old_case) {
                fail(r, parent, NULL, NULL, "Data for both cases \"%s\" and \"%s\" exist.",
                     old_case->name, k->name);
                return;
            }
            old_case = k;
        } else if (found == 2) {
            if (new_case) {
                fail(r, parent, NULL, NULL, "Data for both cases \"%s\" and \"%s\" exist.",
                     new_case->name, k->name);
                return;
            }
            new_case = k;
        }
    }
    if (old_case && new_case) {
        remove_scope(r, parent, old_case, false);
    }
}

/* Check every choice under @p sparent (recursively into nested choices of existing cases). */
static void
check_choices_r(struct vrun *r, struct lyd_node *parent, const struct lysc_node *sparent,
                const struct lysc_module *mod)
{
    const struct lysc_node *c = NULL;

    while ((c = lys_getnext(c, sparent, mod, LYS_GETNEXT_WITHCHOICE)) && RUN_OK(r)) {
        if (c->nodetype == LYS_CHOICE) {
            const struct lysc_node *k;

            check_cases(r, parent, c);
            LY_LIST_FOR(lysc_node_child(c), k)
            {
                check_choices_r(r, parent, k, NULL);
            }
        }
    }
}

static void
set_dflt_flags(struct lyd_node *n)
{
    n->flags = LYD_DEFAULT | (lysc_has_when(n->schema) ? LYD_WHEN_TRUE : 0);
}

static struct lyd_node *
create_under(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s, const char *value)
{
    struct lyd_node *n = NULL;
    LY_ERR e;

    if (s->nodetype == LYS_CONTAINER) {
        e = lyd_new_inner(parent, parent ? NULL : s->module, s->name, 0, &n);
    } else {
        e = lyd_new_term(parent, parent ? NULL : s->module, s->name, value, 0, &n);
    }
    if (e || !n) {
        ly_err_clean(r->v->ctx, NULL);
        oom(r);
        return NULL;
    }
    if (parent) {
        lyd_unlink_tree(n);
    }
    set_dflt_flags(n);
    if (dl_insert(r->log, parent, n, DL_SRC_NEW, NULL)) {
        lyd_free_tree(n);
        oom(r);
        return NULL;
    }
    return n;
}

static void implicit_scope(struct vrun *r, struct lyd_node *parent, const struct lysc_node *sparent,
                           const struct lysc_module *mod);
static int dummy_when(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s,
                      bool *disabled);

/* A default node is not created while its when is false (libyang's net effect: it would be
 * created and auto-deleted at once). */
static bool
when_allows(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    bool disabled = false;

    if (!lysc_has_when(s)) {
        return true;
    }
    if (dummy_when(r, parent, s, &disabled)) {
        return false;
    }
    return !disabled;
}

/* libyang's lyd_new_implicit_r for one schema child @p s of @p parent. */
static void
implicit_one(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    struct lyd_node *first = first_of(r, parent), *n;
    LY_ARRAY_COUNT_TYPE u;

    if (s->flags & LYS_CONFIG_R) {
        return;
    }
    switch (s->nodetype) {
    case LYS_CHOICE:
        n = scope_data(first, s, false);
        if (!n && ((const struct lysc_node_choice *)s)->dflt) {
            implicit_scope(r, parent, &((const struct lysc_node_choice *)s)->dflt->node, NULL);
        } else if (n) {
            implicit_scope(r, parent, n->schema->parent, NULL);
        }
        break;
    case LYS_CONTAINER:
        if (!(s->flags & LYS_PRESENCE) && !lyu_find_schema(first, s) && when_allows(r, parent, s)) {
            n = create_under(r, parent, s, NULL);
            if (n) {
                implicit_scope(r, n, s, NULL);
            }
        }
        break;
    case LYS_LEAF: {
        const struct lysc_node_leaf *l = (const struct lysc_node_leaf *)s;

        if (l->dflt && !lyu_find_schema(first, s) && when_allows(r, parent, s)) {
            create_under(r, parent, s, lyd_value_get_canonical(r->v->ctx, l->dflt));
        }
        break;
    }
    case LYS_LEAFLIST: {
        const struct lysc_node_leaflist *l = (const struct lysc_node_leaflist *)s;

        if (l->dflts && !lyu_find_schema(first, s) && when_allows(r, parent, s)) {
            LY_ARRAY_FOR(l->dflts, u)
            {
                create_under(r, parent, s, lyd_value_get_canonical(r->v->ctx, l->dflts[u]));
            }
        }
        break;
    }
    default:
        break;
    }
}

static void
implicit_scope(struct vrun *r, struct lyd_node *parent, const struct lysc_node *sparent,
               const struct lysc_module *mod)
{
    const struct lysc_node *c = NULL;

    while ((c = lys_getnext(c, sparent, mod, LYS_GETNEXT_WITHCHOICE)) && RUN_OK(r)) {
        implicit_one(r, parent, c);
    }
}

/* Enclosing choice of a case member (the outermost within the data parent). */
static const struct lysc_node *
top_choice(const struct lysc_node *s)
{
    const struct lysc_node *ch = NULL;

    for (s = s->parent; s && !is_data_node(s); s = s->parent) {
        if (s->nodetype == LYS_CHOICE) {
            ch = s;
        }
    }
    return ch;
}

/* Leftover defaults of cases that no longer have explicit data (libyang's
 * lyd_validate_autodel_case_dflt), for the choice chain of @p s. */
static void
dead_case_defaults(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    for (const struct lysc_node *k = s->parent; k && !is_data_node(k); k = k->parent) {
        const struct lysc_node_choice *ch;

        if (k->nodetype != LYS_CASE) {
            continue;
        }
        ch = (const struct lysc_node_choice *)k->parent;
        if (ch->dflt && &ch->dflt->node == k) {
            continue;
        }
        if (!scope_data(first_of(r, parent), k, true)) {
            remove_scope(r, parent, k, true);
        }
    }
}

static void
run_task(struct vrun *r, const struct task *t)
{
    if (t->node && t->kind != TK_NEWINNER && !in_tree(r, t->node)) {
        return;
    }
    switch (t->kind) {
    case TK_NEWINNER:
        if (!in_tree(r, t->node)) {
            return;
        }
        check_choices_r(r, t->node, t->schema, NULL);
        if (RUN_OK(r)) {
            implicit_scope(r, t->node, t->schema, NULL);
        }
        break;
    case TK_CHOICE: {
        const struct lysc_node *ch = top_choice(t->schema);
        const struct lysc_node *dp = t->node ? t->node->schema : NULL;

        /* the choices from the data parent down, as libyang's choice_r does */
        check_choices_r(r, t->node, dp, dp ? NULL : t->schema->module->compiled);
        if (RUN_OK(r) && ch) {
            implicit_one(r, t->node, ch);
        }
        break;
    }
    case TK_LLDFLT: {
        struct lyd_node *it;
        bool expl = false;

        LYD_LIST_FOR_INST(first_of(r, t->node), t->schema, it)
        {
            if (!(it->flags & LYD_DEFAULT)) {
                expl = true;
                break;
            }
        }
        if (!expl) {
            break;
        }
        for (;;) {
            struct lyd_node *d = NULL;

            LYD_LIST_FOR_INST(first_of(r, t->node), t->schema, it)
            {
                if (it->flags & LYD_DEFAULT) {
                    d = it;
                    break;
                }
            }
            if (!d || !RUN_OK(r)) {
                break;
            }
            remove_node(r, d);
        }
        break;
    }
    case TK_IMPLICIT:
        if (is_case_member(t->schema)) {
            dead_case_defaults(r, t->node, t->schema);
            if (RUN_OK(r)) {
                implicit_one(r, t->node, top_choice(t->schema));
            }
        } else {
            implicit_one(r, t->node, t->schema);
        }
        break;
    }
}

/* ---- when ---- */

/* Evaluate the whens of @p node (schema @p schema, and its choice/case parents).
 * *ret_disabled: the first false one. Returns 0 or -1 (evaluation error, reported). */
static int
eval_when(struct vrun *r, struct lyd_node *node, const struct lysc_node *schema,
          const struct lysc_when **ret_disabled)
{
    *ret_disabled = NULL;
    do {
        struct lysc_when **wl = lysc_node_when(schema);
        LY_ARRAY_COUNT_TYPE u;

        LY_ARRAY_FOR(wl, u)
        {
            const struct lysc_when *w = wl[u];
            struct lyd_node *ctxn = (w->context == schema) ? node : lyd_parent(node);
            ly_bool res = 0;

            if (!ctxn) {
                ctxn = node;
            }
            if (lyd_eval_xpath3(ctxn, schema->module, lyxp_get_expr(w->cond),
                                LY_VALUE_SCHEMA_RESOLVED, w->prefixes, NULL, &res)) {
                r->rc = lyu_err(r->err, r->v->ctx, CHORUS_ERR_VALIDATION, NULL);
                return -1;
            }
            if (!res) {
                *ret_disabled = w;
                return 0;
            }
        }
        schema = schema->parent;
    } while (schema && (schema->nodetype & (LYS_CASE | LYS_CHOICE)));
    return 0;
}

/* Whens of a node that does not exist (libyang's lyd_validate_dummy_when). */
static int
dummy_when(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s, bool *disabled)
{
    struct lyd_node *dummy = NULL;
    const struct lysc_when *w = NULL;
    int ret;

    if (lyd_new_opaq(parent, r->v->ctx, s->name, NULL, NULL, s->module->name, &dummy)) {
        r->rc = lyu_err(r->err, r->v->ctx, CHORUS_ERR_NOMEM, NULL);
        return -1;
    }
    if (!parent) {
        tree_link(r->log->root, NULL, dummy);
    }
    ret = eval_when(r, dummy, s, &w);
    tree_unlink(r->log->root, dummy);
    lyd_free_tree(dummy);
    *disabled = w != NULL;
    return ret;
}

static void
expand_global(struct vrun *r, struct pset *gs, struct nq *queue)
{
    struct lyd_node *root = root_of(r);

    for (size_t k = 0; k < gs->cap && RUN_OK(r); k++) {
        const struct lysc_node *s = gs->slot[k];
        struct ly_set *set = NULL;

        if (!s || s == PSET_TOMB || !root) {
            continue;
        }
        if (lyd_find_xpath(root, si(s)->abspath, &set)) {
            ly_err_clean(r->v->ctx, NULL);
            continue;
        }
        for (uint32_t j = 0; j < set->count; j++) {
            q(r, queue, set->dnodes[j]);
        }
        ly_set_free(set, NULL);
    }
    pset_clear(gs);
}

/* Evaluate the queued whens; returns whether anything was auto-deleted. */
static bool
run_whens(struct vrun *r)
{
    struct lyd_node **v;
    size_t n;
    bool deleted = false;

    expand_global(r, &r->gwhen, &r->when_q);
    v = nq_take(&r->when_q, &n);
    /* deepest first, as libyang evaluates its collected set from the end */
    for (size_t k = n; k-- > 0 && RUN_OK(r);) {
        struct lyd_node *x = v[k];
        const struct lysc_when *w;

        if (!in_tree(r, x) || !(si(x->schema)->flags & SI_WHEN)) {
            continue;
        }
        if (eval_when(r, x, x->schema, &w)) {
            break;
        }
        if (!w) {
            x->flags |= LYD_WHEN_TRUE;
        } else if (x->flags & LYD_WHEN_TRUE) {
            remove_node(r, x);
            deleted = true;
        } else {
            fail(r, x, NULL, NULL, "When condition \"%s\" not satisfied.", lyxp_get_expr(w->cond));
        }
    }
    free(v);
    return deleted;
}

/* ---- final checks ---- */

static void
check_types(struct vrun *r)
{
    struct lyd_node **v, *root = root_of(r);
    size_t n;

    expand_global(r, &r->gtypes, &r->type_q);
    v = nq_take(&r->type_q, &n);
    for (size_t k = 0; k < n && RUN_OK(r); k++) {
        struct lyd_node_term *t = (struct lyd_node_term *)v[k];
        const struct lysc_type *type;
        struct ly_err_item *err = NULL;
        LY_ERR e;

        if (!in_tree(r, v[k])) {
            continue;
        }
        type = ((const struct lysc_node_leaf *)t->schema)->type;
        if (!type->plugin->validate) {
            continue;
        }
        e = type->plugin->validate(r->v->ctx, type, v[k], root, &t->value, &err);
        if (e) {
            fail(r, v[k], NULL, err && err->apptag ? err->apptag : "instance-required", "%s",
                 err && err->msg ? err->msg : "invalid value");
            ly_err_free(err);
        }
    }
    free(v);
}

static void
check_musts(struct vrun *r)
{
    struct lyd_node **v;
    size_t n;

    expand_global(r, &r->gmust, &r->must_q);
    v = nq_take(&r->must_q, &n);
    for (size_t k = 0; k < n && RUN_OK(r); k++) {
        struct lyd_node *x = v[k];
        struct lysc_must *musts;
        LY_ARRAY_COUNT_TYPE u;

        if (!in_tree(r, x)) {
            continue;
        }
        musts = lysc_node_musts(x->schema);
        LY_ARRAY_FOR(musts, u)
        {
            ly_bool res = 0;

            if (lyd_eval_xpath3(x, x->schema->module, lyxp_get_expr(musts[u].cond),
                                LY_VALUE_SCHEMA_RESOLVED, musts[u].prefixes, NULL, &res)) {
                r->rc = lyu_err(r->err, r->v->ctx, CHORUS_ERR_VALIDATION, NULL);
                break;
            }
            if (!res) {
                const char *tag = musts[u].eapptag ? musts[u].eapptag : "must-violation";

                if (musts[u].emsg) {
                    fail(r, x, NULL, tag, "%s", musts[u].emsg);
                } else {
                    fail(r, x, NULL, tag, "Must condition \"%s\" not satisfied.",
                         lyxp_get_expr(musts[u].cond));
                }
                break;
            }
        }
    }
    free(v);
}

static char *
qualified_name(const struct lyd_node *parent, const struct lysc_node *s)
{
    char *p = NULL;

    if (!parent || parent->schema->module != s->module) {
        if (asprintf(&p, "%s:%s", s->module->name, s->name) < 0) {
            p = NULL;
        }
    } else {
        p = strdup(s->name);
    }
    return p;
}

static void
check_mandatory(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    struct lyd_node *first = first_of(r, parent);
    bool disabled = false;
    char *name;

    if (s->nodetype == LYS_CHOICE) {
        if (scope_data(first, s, false)) {
            return;
        }
    } else if (lyu_find_schema(first, s)) {
        return;
    }
    if (lysc_has_when(s) && dummy_when(r, parent, s, &disabled)) {
        return;
    }
    if (disabled) {
        return;
    }
    name = qualified_name(parent, s);
    if (s->nodetype == LYS_CHOICE) {
        fail(r, parent, name, "missing-choice", "Mandatory choice \"%s\" data do not exist.",
             s->name);
    } else {
        fail(r, parent, name, NULL, "Mandatory node \"%s\" instance does not exist.", s->name);
    }
    free(name);
}

static void
check_minmax(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    uint32_t min, max, count = 0;
    struct lyd_node *it, *over = NULL;
    bool disabled = false;

    if (s->nodetype == LYS_LIST) {
        min = ((const struct lysc_node_list *)s)->min;
        max = ((const struct lysc_node_list *)s)->max;
    } else {
        min = ((const struct lysc_node_leaflist *)s)->min;
        max = ((const struct lysc_node_leaflist *)s)->max;
    }
    if (max == UINT32_MAX) {
        max = 0;
    }
    if (!min && !max) {
        return; /* no constraint: counting the instances would cost the size of the list */
    }
    LYD_LIST_FOR_INST(first_of(r, parent), s, it)
    {
        count++;
        if (min && count >= min && !max) {
            break;
        }
        if (max && count > max) {
            over = it;
            break;
        }
    }
    if (min && count < min) {
        if (lysc_has_when(s) && dummy_when(r, parent, s, &disabled)) {
            return;
        }
        if (!disabled) {
            char *name = qualified_name(parent, s);

            fail(r, parent, name, "too-few-elements", "Too few \"%s\" instances.", s->name);
            free(name);
        }
    } else if (over) {
        fail(r, over, NULL, "too-many-elements", "Too many \"%s\" instances.", s->name);
    }
}

static void
uniq_fail(struct vrun *r, struct lysc_node_leaf **uq, const struct lyd_node *a,
          const struct lyd_node *b)
{
    struct buf names = BUF_INIT;
    char *pa = lyu_path(a), *pb = lyu_path(b);
    LY_ARRAY_COUNT_TYPE w;

    LY_ARRAY_FOR(uq, w)
    {
        buf_printf(&names, "%s%s", w ? " " : "", uq[w]->name);
    }
    fail(r, b, NULL, "data-not-unique",
         "Unique data leaf(s) \"%s\" not satisfied in \"%s\" and \"%s\".",
         names.p ? (char *)names.p : "", pa, pb);
    free(pa);
    free(pb);
    buf_free(&names);
}

/* All entries of a new parent: a private hash, no index. */
static void
check_unique_all(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    const struct lysc_node_list *l = (const struct lysc_node_list *)s;
    LY_ARRAY_COUNT_TYPE u;

    LY_ARRAY_FOR(l->uniques, u)
    {
        struct vmap seen = {0};
        struct lyd_node *it;

        LYD_LIST_FOR_INST(first_of(r, parent), s, it)
        {
            char *t = uniq_tuple(l->uniques[u], it);
            struct vent *e;

            if (!t) {
                continue;
            }
            e = vmap_get(&seen, NULL, NULL, t, true);
            free(t);
            if (!e) {
                oom(r);
                break;
            }
            if (e->n) {
                uniq_fail(r, l->uniques[u], e->nodes[0], it);
                break;
            }
            if (vent_add(e, it)) {
                oom(r);
                break;
            }
        }
        vmap_clear(&seen);
        if (!RUN_OK(r)) {
            return;
        }
    }
}

/* One (new or changed) entry against the index of its siblings. */
static void
check_unique_entry(struct vrun *r, struct lyd_node *entry)
{
    const struct lysc_node_list *l = (const struct lysc_node_list *)entry->schema;
    struct lyd_node *parent = lyd_parent(entry);
    LY_ARRAY_COUNT_TYPE u;

    LY_ARRAY_FOR(l->uniques, u)
    {
        struct ppmap_slot *s;
        struct vent *e;

        uniq_build(r->v, root_of(r), parent, entry->schema, l->uniques[u]);
        s = ppmap_slot(&r->v->uniq_key, entry, l->uniques[u], false);
        if (!s) {
            continue; /* incomplete tuple */
        }
        e = s->val;
        for (uint32_t k = 0; k < e->n; k++) {
            if (e->nodes[k] != entry) {
                uniq_fail(r, l->uniques[u], e->nodes[k], entry);
                return;
            }
        }
    }
}

/* Whether every case enclosing @p s (up to the data parent) has data under @p parent. */
static bool
cases_alive(struct vrun *r, struct lyd_node *parent, const struct lysc_node *s)
{
    for (const struct lysc_node *k = s->parent; k && !is_data_node(k); k = k->parent) {
        if (k->nodetype == LYS_CASE && !scope_data(first_of(r, parent), k, false)) {
            return false;
        }
    }
    return true;
}

/* libyang's lyd_validate_siblings_schema_r for one schema child. */
static void check_child_schema(struct vrun *r, struct lyd_node *parent, const struct lysc_node *c);

static void
check_scope_children(struct vrun *r, struct lyd_node *parent, const struct lysc_node *sparent)
{
    const struct lysc_node *c = NULL;

    while ((c = lys_getnext(c, sparent, NULL, LYS_GETNEXT_WITHCHOICE)) && RUN_OK(r)) {
        if (!(c->flags & LYS_CONFIG_R)) {
            check_child_schema(r, parent, c);
        }
    }
}

static void
check_child_schema(struct vrun *r, struct lyd_node *parent, const struct lysc_node *c)
{
    if (c->nodetype == LYS_LIST) {
        const struct lysc_node_list *l = (const struct lysc_node_list *)c;

        if (l->min || l->max) {
            check_minmax(r, parent, c);
        }
        if (RUN_OK(r) && l->uniques) {
            check_unique_all(r, parent, c);
        }
    } else if (c->nodetype == LYS_LEAFLIST) {
        const struct lysc_node_leaflist *l = (const struct lysc_node_leaflist *)c;

        if (l->min || l->max) {
            check_minmax(r, parent, c);
        }
    } else if (c->flags & LYS_MAND_TRUE) {
        check_mandatory(r, parent, c);
    }
    if (RUN_OK(r) && c->nodetype == LYS_CHOICE) {
        const struct lysc_node *k;

        LY_LIST_FOR(lysc_node_child(c), k)
        {
            if (scope_data(first_of(r, parent), k, false)) {
                check_scope_children(r, parent, k);
                break;
            }
        }
    }
}

static void
check_new_inner(struct vrun *r, struct lyd_node *x)
{
    struct sinfo *i = si(x->schema);

    for (uint32_t k = 0; k < i->nchecks && RUN_OK(r); k++) {
        check_child_schema(r, x, i->checks[k]);
    }
}

static void
check_pc(struct vrun *r, const struct pcheck *p)
{
    const struct lysc_node *s = p->schema;

    if (p->parent && !in_tree(r, p->parent)) {
        return;
    }
    if (p->what & PC_MINMAX) {
        if (cases_alive(r, p->parent, s)) {
            check_minmax(r, p->parent, s);
        }
        return;
    }
    if (p->what & PC_CASE) {
        if (scope_data(first_of(r, p->parent), s, false) && cases_alive(r, p->parent, s)) {
            check_scope_children(r, p->parent, s);
        }
        return;
    }
    /* PC_MAND: the node itself, then each mandatory choice above it */
    if ((s->flags & LYS_MAND_TRUE) && s->nodetype != LYS_CHOICE && cases_alive(r, p->parent, s)) {
        check_mandatory(r, p->parent, s);
    }
    for (const struct lysc_node *k = s->parent; k && !is_data_node(k) && RUN_OK(r); k = k->parent) {
        if (k->nodetype == LYS_CHOICE && (k->flags & LYS_MAND_TRUE) &&
            cases_alive(r, p->parent, k)) {
            check_mandatory(r, p->parent, k);
        }
    }
}

static void
run_final(struct vrun *r)
{
    struct lyd_node **v;
    size_t n;

    check_types(r);
    if (RUN_OK(r)) {
        check_musts(r);
    }
    v = nq_take(&r->inner_q, &n);
    for (size_t k = 0; k < n && RUN_OK(r); k++) {
        if (in_tree(r, v[k])) {
            check_new_inner(r, v[k]);
        }
    }
    free(v);
    for (size_t k = 0; k < r->npc && RUN_OK(r); k++) {
        check_pc(r, &r->pc[k]);
    }
    v = nq_take(&r->uniq_q, &n);
    for (size_t k = 0; k < n && RUN_OK(r); k++) {
        struct lyd_node *e = v[k];

        if (!in_tree(r, e)) {
            continue;
        }
        if (lyd_parent(e) && (lyd_parent(e)->flags & LYD_NEW)) {
            continue; /* the whole list was checked with its new parent */
        }
        check_unique_entry(r, e);
    }
    free(v);
    if (RUN_OK(r) && r->v->oom) {
        oom(r);
    }
}

static void
run_free(struct vrun *r)
{
    free(r->tasks);
    free(r->pc);
    nq_free(&r->when_q);
    nq_free(&r->must_q);
    nq_free(&r->type_q);
    nq_free(&r->inner_q);
    nq_free(&r->uniq_q);
    pset_free(&r->gwhen);
    pset_free(&r->gmust);
    pset_free(&r->gtypes);
    pset_free(&r->gdflt);
}

enum chorus_err
val_incremental(struct val *v, struct dlog *log, struct cerr **e)
{
    struct vrun r = {.v = v, .log = log, .err = e, .rc = CHORUS_OK};

    for (;;) {
        size_t t;

        while (r.next < log->n && RUN_OK(&r)) {
            process_entry(&r, &log->v[r.next++]);
        }
        if (!RUN_OK(&r) || log->oom) {
            break;
        }
        /* structure tasks (they may add entries: process those first) */
        expand_gdflt(&r);
        for (t = 0; t < r.ntasks && RUN_OK(&r); t++) {
            struct task tk = r.tasks[t];

            run_task(&r, &tk);
        }
        r.ntasks = 0;
        if (!RUN_OK(&r) || log->oom) {
            break;
        }
        if (r.next < log->n) {
            continue;
        }
        if (run_whens(&r) && RUN_OK(&r)) {
            continue; /* auto-deletes: their consequences first */
        }
        if (r.next < log->n && RUN_OK(&r)) {
            continue;
        }
        break;
    }
    if (log->oom) {
        oom(&r);
    }
    if (RUN_OK(&r)) {
        run_final(&r);
    }
    run_free(&r);
    return r.rc;
}

/* ======================================================================================
 * 5. full mode, whole trees, comparison
 * ====================================================================================== */

enum chorus_err
val_tree(struct ly_ctx *ctx, struct lyd_node **root, struct cerr **e)
{
    if (lyd_validate_all(root, ctx, LYD_VALIDATE_NO_STATE, NULL)) {
        return lyu_err(e, ctx, CHORUS_ERR_VALIDATION, NULL);
    }
    return CHORUS_OK;
}

static void
diff_r(const struct lyd_node *a, const struct lyd_node *b, const char *side, struct buf *out)
{
    for (const struct lyd_node *x = a; x && !out->len; x = x->next) {
        const struct lyd_node *m;

        if (!x->schema) {
            continue;
        }
        m = (x->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) ? lyu_find(b, x)
                                                              : lyu_find_schema(b, x->schema);
        if (!m) {
            char *p = lyu_path(x);

            buf_printf(out, "%s only in %s", p, side);
            free(p);
            return;
        }
        if ((x->flags & LYD_DEFAULT) != (m->flags & LYD_DEFAULT)) {
            char *p = lyu_path(x);

            buf_printf(out, "%s: default flag differs", p);
            free(p);
            return;
        }
        if ((x->schema->nodetype & (LYD_NODE_TERM | LYD_NODE_ANY)) && !lyu_term_equal(x, m)) {
            char *p = lyu_path(x);

            buf_printf(out, "%s: value \"%s\" vs \"%s\"", p, lyd_get_value(x), lyd_get_value(m));
            free(p);
            return;
        }
        if (x->schema->nodetype & LYD_NODE_INNER) {
            diff_r(lyd_child(x), lyd_child(m), side, out);
        }
    }
}

char *
val_tree_diff(const struct lyd_node *a, const struct lyd_node *b)
{
    struct buf out = BUF_INIT;

    diff_r(a, b, "the first tree", &out);
    if (!out.len) {
        diff_r(b, a, "the second tree", &out);
    }
    if (!out.len) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal_str(&out);
}

enum chorus_err
val_full(struct val *v, struct dlog *log, struct cerr **e)
{
    struct lyd_node *copy = NULL;
    struct cerr *mine = NULL;
    enum chorus_err ri;
    LY_ERR rl;
    char *d;

    /* libyang validates the change as applied, before our side effects */
    if (*log->root &&
        lyd_dup_siblings(*log->root, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &copy)) {
        return cerr_add(e, CHORUS_ERR_NOMEM, NULL, NULL, "out of memory copying the tree");
    }
    rl = lyd_validate_all(&copy, v->ctx, LYD_VALIDATE_NO_STATE, NULL);
    ri = val_incremental(v, log, &mine);
    if (rl) {
        struct cerr *theirs = NULL;

        lyu_err(&theirs, v->ctx, CHORUS_ERR_VALIDATION, NULL);
        if (!ri) {
            cerr_add(e, CHORUS_ERR_INTERNAL, theirs ? theirs->path : NULL, NULL,
                     "incremental validation accepted a change libyang rejects: %s",
                     theirs && theirs->msg ? theirs->msg : "?");
            cerr_free(theirs);
            lyd_free_all(copy);
            return CHORUS_ERR_INTERNAL;
        }
        /* both refuse: report ours, which names the data node (libyang often gives only a
         * schema path), so that both modes say the same */
        cerr_free(theirs);
        cerr_move(e, &mine);
        lyd_free_all(copy);
        return CHORUS_ERR_VALIDATION;
    }
    if (ri) {
        if (ri == CHORUS_ERR_VALIDATION) {
            cerr_add(e, CHORUS_ERR_INTERNAL, mine ? mine->path : NULL, NULL,
                     "incremental validation rejected a change libyang accepts: %s",
                     mine && mine->msg ? mine->msg : "?");
            cerr_free(mine);
            lyd_free_all(copy);
            return CHORUS_ERR_INTERNAL;
        }
        cerr_move(e, &mine);
        lyd_free_all(copy);
        return ri;
    }
    d = val_tree_diff(*log->root, copy);
    lyd_free_all(copy);
    if (d) {
        cerr_add(e, CHORUS_ERR_INTERNAL, NULL, NULL,
                 "incremental validation produced a different tree than libyang: %s", d);
        free(d);
        return CHORUS_ERR_INTERNAL;
    }
    return CHORUS_OK;
}
