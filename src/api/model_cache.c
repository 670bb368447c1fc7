/*
 * model_cache.c — the engine's resident-model cache (see model_cache.h): a small array of
 * entries, linear lookups (a handful of models), LRU by a use counter. No reference
 * counterpart.
 */
#include "api/model_cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct cache_entry {
    char *kind, *path;
    long long size, mtime_ns;
    void *obj;
    size_t bytes;
    ltx_cache_free_fn free_fn;
    uint64_t last_use, epoch;
} cache_entry;

struct ltx_model_cache {
    size_t budget, held;
    cache_entry *e;
    int n, cap;
    uint64_t clock, epoch;
    int hits, misses;
};

ltx_model_cache *ltx_model_cache_new(size_t budget)
{
    ltx_model_cache *c = calloc(1, sizeof *c);
    if (c) c->budget = budget;
    return c;
}

static void drop(ltx_model_cache *c, int i)
{
    cache_entry *x = &c->e[i];
    if (x->free_fn) x->free_fn(x->obj);
    c->held -= x->bytes;
    free(x->kind);
    free(x->path);
    c->e[i] = c->e[--c->n];
}

void ltx_model_cache_free(ltx_model_cache *c)
{
    if (!c) return;
    while (c->n)
        drop(c, c->n - 1);
    free(c->e);
    free(c);
}

void ltx_model_cache_begin(ltx_model_cache *c)
{
    if (c) c->epoch++;
}

static int file_id(const char *path, long long *size, long long *mtime_ns)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    *size = (long long)st.st_size;
    *mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

void *ltx_model_cache_get(ltx_model_cache *c, const char *kind, const char *path)
{
    if (!c || !c->budget || !path) return NULL;
    long long size, mt;
    int ok = file_id(path, &size, &mt) == 0;
    for (int i = 0; i < c->n; i++) {
        cache_entry *x = &c->e[i];
        if (strcmp(x->kind, kind) || strcmp(x->path, path)) continue;
        if (!ok || x->size != size || x->mtime_ns != mt) { /* the file changed: reload */
            if (x->epoch != c->epoch) drop(c, i);
            break;
        }
        x->last_use = ++c->clock;
        x->epoch = c->epoch;
        c->hits++;
        return x->obj;
    }
    c->misses++;
    return NULL;
}

/* Evicts unpinned entries, least recently used first, until `need` more bytes fit. */
static void make_room(ltx_model_cache *c, size_t need)
{
    while (c->held + need > c->budget) {
        int victim = -1;
        for (int i = 0; i < c->n; i++)
            if (c->e[i].epoch != c->epoch &&
                (victim < 0 || c->e[i].last_use < c->e[victim].last_use))
                victim = i;
        if (victim < 0) return;
        drop(c, victim);
    }
}

int ltx_model_cache_put(ltx_model_cache *c, const char *kind, const char *path, void *obj,
                        size_t bytes, ltx_cache_free_fn free_fn)
{
    long long size, mt;
    if (!c || !obj || !path || bytes > c->budget || file_id(path, &size, &mt) != 0) return 0;
    make_room(c, bytes);
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        cache_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
        if (!ne) return 0;
        c->e = ne;
        c->cap = cap;
    }
    cache_entry x = {.kind = strdup(kind),
                     .path = strdup(path),
                     .size = size,
                     .mtime_ns = mt,
                     .obj = obj,
                     .bytes = bytes,
                     .free_fn = free_fn,
                     .last_use = ++c->clock,
                     .epoch = c->epoch};
    if (!x.kind || !x.path) {
        free(x.kind);
        free(x.path);
        return 0;
    }
    c->e[c->n++] = x;
    c->held += bytes;
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
