/* SPDX-License-Identifier: Apache-2.0 */
/* A set of pointers (open addressing, linear probing). Used for visited/affected node sets. */
#ifndef CHORUS_PSET_H
#define CHORUS_PSET_H

#include <stdbool.h>
#include <stddef.h>

struct pset {
    const void **slot;
    size_t cap; /* power of two, or 0 */
    size_t count;
    size_t used; /* count + tombstones */
};

#define PSET_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Add @p p; returns 1 if added, 0 if present, -1 on OOM. */
int pset_add(struct pset *s, const void *p);
bool pset_has(const struct pset *s, const void *p);
/* Remove @p p if present. */
void pset_del(struct pset *s, const void *p);
void pset_clear(struct pset *s);
void pset_free(struct pset *s);
/* Iterate: for (size_t i = 0; i < s->cap; i++) if (s->slot[i] && s->slot[i] != PSET_TOMB) */
extern const char pset_tomb_;
#define PSET_TOMB ((const void *)&pset_tomb_)

#endif
