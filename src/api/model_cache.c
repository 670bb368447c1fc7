/*
 * model_cache.c — the engine's resident-model cache (see model_cache.h): a small array of
 * entries, linear lookups (a handful of models), LRU by a use clock, use counts for the
 * objects the running call holds, parent links for models that borrow an open file's mapping.
 * No reference counterpart.
 */
#include "api/model_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct cache_entry {
    char *kind, *path, *variant;
    const void *parent;
    long long size, mtime_ns; /* of path at put (path NULL: unused) */
    void *obj;
    size_t bytes;
    ltx_cache_free_fn free_fn;
    uint64_t last_use;
    int uses; /* held by the running call */
} cache_entry;

struct ltx_model_cache {
    size_t budget, held;
    cache_entry *e;
    int n, cap;
    uint64_t clock;
    int hits, misses;
};

ltx_model_cache *ltx_model_cache_new(size_t budget)
{
    ltx_model_cache *c = calloc(1, sizeof *c);
    if (c) c->budget = budget;
    return c;
}

static int find_obj(const ltx_model_cache *c, const void *obj)
{
    for (int i = 0; obj && i < c->n; i++)
        if (c->e[i].obj == obj) return i;
    return -1;
}

static int first_child(const ltx_model_cache *c, const void *obj)
{
    for (int i = 0; i < c->n; i++)
        if (c->e[i].parent == obj) return i;
    return -1;
}

/* In use by the running call, itself or through a child. */
static bool busy(const ltx_model_cache *c, int i)
{
    if (c->e[i].uses > 0) return true;
    for (int j = 0; j < c->n; j++)
        if (c->e[j].parent == c->e[i].obj && busy(c, j)) return true;
    return false;
}

static void drop_unused_file(ltx_model_cache *c, const void *obj);

/* Drops the entry holding obj, its children first; then its parent when that was a file
 * entry left unused and childless. */
static void drop(ltx_model_cache *c, const void *obj)
{
    for (int k; (k = first_child(c, obj)) >= 0;)
        drop(c, c->e[k].obj);
    int i = find_obj(c, obj);
    if (i < 0) return;
    cache_entry x = c->e[i];
    c->e[i] = c->e[--c->n];
    c->held -= x.bytes;
    if (x.free_fn) x.free_fn(x.obj);
    free(x.kind);
    free(x.path);
    free(x.variant);
    if (x.parent) drop_unused_file(c, x.parent);
}

static void drop_unused_file(ltx_model_cache *c, const void *obj)
{
    int i = find_obj(c, obj);
    if (i >= 0 && c->e[i].bytes == 0 && c->e[i].uses == 0 && first_child(c, obj) < 0) drop(c, obj);
}

void ltx_model_cache_free(ltx_model_cache *c)
{
    if (!c) return;
    while (c->n)
        drop(c, c->e[c->n - 1].obj);
    free(c->e);
    free(c);
}

static int file_id(const char *path, long long *size, long long *mtime_ns)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    *size = (long long)st.st_size;
    *mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static bool key_matches(const cache_entry *x, const ltx_cache_key *k)
{
    return !strcmp(x->kind, k->kind) && same_str(x->path, k->path) &&
           same_str(x->variant, k->variant) && x->parent == k->parent;
}

void *ltx_model_cache_get(ltx_model_cache *c, const ltx_cache_key *k)
{
    if (!c || !c->budget || !k || !k->kind) return NULL;
    long long size = 0, mt = 0;
    bool ok = !k->path || file_id(k->path, &size, &mt) == 0;
    for (int i = 0; i < c->n; i++) {
        cache_entry *x = &c->e[i];
        if (!key_matches(x, k)) continue;
        if (!ok || (k->path && (x->size != size || x->mtime_ns != mt))) {
            /* the file changed: a miss; the stale entry goes now unless the call holds it */
            if (!busy(c, i)) {
                drop(c, x->obj);
                i = -1; /* drop reorders the array: scan again */
            }
            continue;
        }
        x->last_use = ++c->clock;
        x->uses++;
        c->hits++;
        return x->obj;
    }
    c->misses++;
    return NULL;
}

/* Evicts unused entries that hold bytes, least recently used first, until `need` more bytes
 * fit; stops when none is left to evict. A model larger than the budget will not be cached
 * and evicts nothing. */
void ltx_model_cache_reserve(ltx_model_cache *c, size_t need)
{
    if (!c || need > c->budget) return;
    while (c->held + need > c->budget) {
        int victim = -1;
        for (int i = 0; i < c->n; i++)
            if (c->e[i].bytes > 0 && !busy(c, i) &&
                (victim < 0 || c->e[i].last_use < c->e[victim].last_use))
                victim = i;
        if (victim < 0) return;
        drop(c, c->e[victim].obj);
    }
}

int ltx_model_cache_put(ltx_model_cache *c, const ltx_cache_key *k, void *obj, size_t bytes,
                        ltx_cache_free_fn free_fn)
{
    long long size = 0, mt = 0;
    if (!c || !c->budget || !k || !k->kind || !obj || bytes > c->budget || find_obj(c, obj) >= 0)
        return 0;
    if (k->path && file_id(k->path, &size, &mt) != 0) return 0;
    if (k->parent && find_obj(c, k->parent) < 0) return 0;
    ltx_model_cache_reserve(c, bytes);
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        cache_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
        if (!ne) return 0;
        c->e = ne;
        c->cap = cap;
    }
    cache_entry x = {.kind = strdup(k->kind),
                     .path = k->path ? strdup(k->path) : NULL,
                     .variant = strdup(k->variant ? k->variant : ""),
                     .parent = k->parent,
                     .size = size,
                     .mtime_ns = mt,
                     .obj = obj,
                     .bytes = bytes,
                     .free_fn = free_fn,
                     .last_use = ++c->clock,
                     .uses = 1};
    if (!x.kind || (k->path && !x.path) || !x.variant) {
        free(x.kind);
        free(x.path);
        free(x.variant);
        return 0;
    }
    c->e[c->n++] = x;
    c->held += bytes;
    return 1;
}

int ltx_model_cache_release(ltx_model_cache *c, const void *obj)
{
    int i = c ? find_obj(c, obj) : -1;
    if (i < 0) return 0;
    if (c->e[i].uses > 0) c->e[i].uses--;
    drop_unused_file(c, obj);
    return 1;
}

size_t ltx_model_cache_budget(const ltx_model_cache *c)
{
    return c ? c->budget : 0;
}

void ltx_model_cache_stats(const ltx_model_cache *c, size_t *bytes, int *entries, int *hits,
                           int *misses)
{
    if (bytes) *bytes = c ? c->held : 0;
    if (entries) *entries = c ? c->n : 0;
    if (hits) *hits = c ? c->hits : 0;
    if (misses) *misses = c ? c->misses : 0;
}
