/*
 * strmap.c — string -> int hash map with linear probing (contract in strmap.h). The table is
 * kept at most half full, so a lookup probes O(1) slots on average whatever the input; the
 * load bound, not the hash, is what keeps a hostile header linear. No reference counterpart.
 */
#include "core/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t ltx_strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64-bit offset basis */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static size_t find_slot(const char **keys, size_t cap, const char *key)
{
    size_t i = ltx_strmap_hash(key) & (cap - 1);
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

int ltx_strmap_get(const ltx_strmap *m, const char *key)
{
    if (!m || !m->cap || !key) return -1;
    size_t i = find_slot(m->keys, m->cap, key);
    return m->keys[i] ? m->vals[i] : -1;
}

static int grow(ltx_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (cap > SIZE_MAX / 2 / sizeof(const char *)) return -1;
    const char **keys = calloc(cap, sizeof *keys);
    int *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = find_slot(keys, cap, m->keys[i]);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int ltx_strmap_put(ltx_strmap *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0) return -1;
    size_t i = find_slot(m->keys, m->cap, key);
    if (m->keys[i]) return 0;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

void ltx_strmap_free(ltx_strmap *m)
{
    if (!m) return;
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
