/*
 * strmap.h — an open-addressing hash map from NUL-terminated strings to int values, for
 * duplicate detection and lookup in untrusted inputs (safetensors metadata, inspect's component
 * groups) where a linear scan per key would make parsing quadratic.
 *
 * Keys are borrowed, not copied: each key must stay alive and unchanged while it is in the map.
 * Not thread-safe; no removal. No reference counterpart.
 */
#ifndef LTX_CORE_STRMAP_H
#define LTX_CORE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ltx_strmap {
    const char **keys; /* NULL = empty slot */
    int *vals;
    size_t cap, n; /* cap is 0 or a power of two */
} ltx_strmap;

/* FNV-1a over the bytes of s (also usable for composite keys). */
size_t ltx_strmap_hash(const char *s);
/* Value stored for key, or -1 when absent (values are expected to be >= 0). m may be empty. */
int ltx_strmap_get(const ltx_strmap *m, const char *key);
/* Inserts key -> val unless key is present. Returns 1 inserted, 0 already present (value kept),
 * -1 out of memory (map unchanged). */
int ltx_strmap_put(ltx_strmap *m, const char *key, int val);
/* Frees the table (not the keys); the map is empty and reusable afterwards. NULL is fine. */
void ltx_strmap_free(ltx_strmap *m);

#endif
