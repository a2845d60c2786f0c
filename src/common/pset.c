/* SPDX-License-Identifier: Apache-2.0 */
/* Pointer set; see pset.h. */
#include "pset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char pset_tomb_;

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
grow(struct pset *s)
{
    size_t ncap = s->cap ? (s->count * 4 > s->cap ? s->cap * 2 : s->cap) : 16;
    const void **ns = calloc(ncap, sizeof *ns);

    if (!ns) {
        return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
        const void *p = s->slot[i];

        if (p && p != PSET_TOMB) {
            size_t j = hash(p) & (ncap - 1);

            while (ns[j]) {
                j = (j + 1) & (ncap - 1);
            }
            ns[j] = p;
        }
    }
    free(s->slot);
    s->slot = ns;
    s->cap = ncap;
    s->used = s->count;
    return 0;
}

int
pset_add(struct pset *s, const void *p)
{
    size_t j, tomb = SIZE_MAX;

    if ((s->used + 1) * 2 > s->cap && grow(s)) {
        return -1;
    }
    for (j = hash(p) & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == p) {
            return 0;
        }
        if (s->slot[j] == PSET_TOMB && tomb == SIZE_MAX) {
            tomb = j;
        }
    }
    if (tomb != SIZE_MAX) {
        s->slot[tomb] = p;
    } else {
        s->slot[j] = p;
        s->used++;
    }
    s->count++;
    return 1;
}

bool
pset_has(const struct pset *s, const void *p)
{
    if (!s->cap) {
        return false;
    }
    for (size_t j = hash(p) & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == p) {
            return true;
        }
    }
    return false;
}

void
pset_del(struct pset *s, const void *p)
{
    if (!s->cap) {
        return;
    }
    for (size_t j = hash(p) & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == p) {
            s->slot[j] = PSET_TOMB;
            s->count--;
            return;
        }
    }
}

void
pset_clear(struct pset *s)
{
    if (s->cap) {
        memset(s->slot, 0, s->cap * sizeof *s->slot);
    }
    s->count = 0;
    s->used = 0;
}

void
pset_free(struct pset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->count = s->used = 0;
}
