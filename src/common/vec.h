/* SPDX-License-Identifier: Apache-2.0 */
/* Growable arrays: one helper instead of a realloc dance at every push. */
#ifndef CHORUS_VEC_H
#define CHORUS_VEC_H

#include <stdlib.h>

/*
 * Make room for element @p n of the array *@p v (elements of @p size bytes, *@p cap allocated),
 * doubling the allocation. Returns 0, or -1 when out of memory (the array is unchanged).
 */
static inline int
vec_reserve(void *v, size_t *cap, size_t n, size_t size)
{
    void **pv = (void **)v;
    size_t ncap;
    void *nv;

    if (n < *cap) {
        return 0;
    }
    ncap = *cap ? *cap * 2 : 16;
    if (ncap <= n) {
        ncap = n + 1;
    }
    nv = realloc(*pv, ncap * size);
    if (!nv) {
        return -1;
    }
    *pv = nv;
    *cap = ncap;
    return 0;
}

#endif
