/* SPDX-License-Identifier: Apache-2.0 */
/* A map from pointers to pointers (open addressing, linear probing). */
#ifndef CHORUS_PMAP_H
#define CHORUS_PMAP_H

#include <stddef.h>

struct pmap_ent {
    const void *key;
    void *val;
};

struct pmap {
    struct pmap_ent *e;
    size_t cap, count, used;
};

#define PMAP_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Set @p key to @p val. Returns 0 or -1 (OOM). */
int pmap_set(struct pmap *m, const void *key, void *val);
/* The value of @p key, or NULL. */
void *pmap_get(const struct pmap *m, const void *key);
void pmap_remove(struct pmap *m, const void *key);
void pmap_free(struct pmap *m);

#endif
