/* SPDX-License-Identifier: Apache-2.0 */
/* Pointer map; see pmap.h. */
#include "pmap.h"

#include <stdint.h>
#include <stdlib.h>

static const char tomb;

static size_t
hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int
grow(struct pmap *m)
{
    size_t ncap = m->cap ? (m->count * 4 > m->cap ? m->cap * 2 : m->cap) : 16;
    struct pmap_ent *ne = calloc(ncap, sizeof *ne);

    if (!ne) {
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].key && m->e[i].key != &tomb) {
            size_t j = hash(m->e[i].key) & (ncap - 1);

            while (ne[j].key) {
                j = (j + 1) & (ncap - 1);
            }
            ne[j] = m->e[i];
        }
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    m->used = m->count;
    return 0;
}

int
pmap_set(struct pmap *m, const void *key, void *val)
{
    size_t j, t = SIZE_MAX;

    if ((m->used + 1) * 2 > m->cap && grow(m)) {
        return -1;
    }
    for (j = hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->e[j].key == key) {
            m->e[j].val = val;
            return 0;
        }
        if (m->e[j].key == &tomb && t == SIZE_MAX) {
            t = j;
        }
    }
    if (t != SIZE_MAX) {
        j = t;
    } else {
        m->used++;
    }
    m->e[j].key = key;
    m->e[j].val = val;
    m->count++;
    return 0;
}

void *
pmap_get(const struct pmap *m, const void *key)
{
    if (!m->cap) {
        return NULL;
    }
    for (size_t j = hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->e[j].key == key) {
            return m->e[j].val;
        }
    }
    return NULL;
}

void
pmap_remove(struct pmap *m, const void *key)
{
    if (!m->cap) {
        return;
    }
    for (size_t j = hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->e[j].key == key) {
            m->e[j].key = &tomb;
            m->e[j].val = NULL;
            m->count--;
            return;
        }
    }
}

void
pmap_free(struct pmap *m)
{
    free(m->e);
    m->e = NULL;
    m->cap = m->count = m->used = 0;
}
