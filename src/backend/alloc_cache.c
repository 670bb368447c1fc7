/*
 * alloc_cache.c — the generic caching allocator (see alloc_cache.h for the policy).
 * ref: PyTorch c10/cuda/CUDACachingAllocator.cpp (idea only: keep freed blocks, best fit,
 * give back on OOM); the size limit and oldest-first eviction are this project's policy, moved
 * here unchanged from the CPU backend's former ad-hoc cache.
 *
 * Live blocks are tracked in an open-addressing hash map (pointer -> rounded size, linear
 * probing, backward-shift deletion), because device memory cannot carry a host header.
 */
#include "backend/alloc_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 64

typedef struct cached_block {
    void *ptr;
    size_t size;
} cached_block;

typedef struct live_slot {
    void *ptr; /* NULL = empty */
    size_t size;
} live_slot;

struct ltx_alloc_cache {
    ltx_raw_alloc_fn raw_alloc;
    ltx_raw_free_fn raw_free;
    void *ctx;
    size_t limit, min_cached;
    pthread_mutex_t lock;
    cached_block cache[CACHE_SLOTS]; /* age order: [0] is the oldest */
    int n_cached;
    size_t cached_bytes;
    live_slot *live; /* hash map of blocks handed out */
    size_t live_cap, live_count;
    size_t live_bytes, peak_bytes;
    size_t hits, misses;
};

static size_t hash_ptr(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static bool live_grow(ltx_alloc_cache *c)
{
    size_t cap = c->live_cap ? c->live_cap * 2 : 256;
    live_slot *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < c->live_cap; i++) {
        if (!c->live[i].ptr) continue;
        size_t h = hash_ptr(c->live[i].ptr, cap);
        while (t[h].ptr)
            h = (h + 1) & (cap - 1);
        t[h] = c->live[i];
    }
    free(c->live);
    c->live = t;
    c->live_cap = cap;
    return true;
}

static bool live_insert(ltx_alloc_cache *c, void *p, size_t size)
{
    if ((c->live_count + 1) * 2 > c->live_cap && !live_grow(c)) return false;
    size_t h = hash_ptr(p, c->live_cap);
    while (c->live[h].ptr)
        h = (h + 1) & (c->live_cap - 1);
    c->live[h] = (live_slot){p, size};
    c->live_count++;
    c->live_bytes += size;
    if (c->live_bytes > c->peak_bytes) c->peak_bytes = c->live_bytes;
    return true;
}

/* Removes p; returns its size, or 0 when p is not a live block of this cache. */
static size_t live_remove(ltx_alloc_cache *c, void *p)
{
    if (!c->live_cap) return 0;
    size_t mask = c->live_cap - 1, h = hash_ptr(p, c->live_cap);
    while (c->live[h].ptr && c->live[h].ptr != p)
        h = (h + 1) & mask;
    if (!c->live[h].ptr) return 0;
    size_t size = c->live[h].size;
    /* backward-shift deletion keeps every probe chain unbroken */
    size_t i = h, j = h;
    for (;;) {
        j = (j + 1) & mask;
        if (!c->live[j].ptr) break;
        size_t k = hash_ptr(c->live[j].ptr, c->live_cap);
        bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            c->live[i] = c->live[j];
            i = j;
        }
    }
    c->live[i].ptr = NULL;
    c->live_count--;
    c->live_bytes -= size;
    return size;
}

ltx_status ltx_alloc_cache_create(ltx_raw_alloc_fn a, ltx_raw_free_fn f, void *ctx,
                                  size_t cache_limit_bytes, ltx_alloc_cache **out)
{
    *out = NULL;
    if (!a || !f) return ltx_err(LTX_ERR_INVALID_ARG, "alloc cache: raw alloc/free missing");
    ltx_alloc_cache *c = calloc(1, sizeof *c);
    if (!c) return ltx_err(LTX_ERR_OOM, "out of memory creating an allocation cache");
    c->raw_alloc = a;
    c->raw_free = f;
    c->ctx = ctx;
    c->limit = cache_limit_bytes;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return LTX_OK;
}

/* Gives back the oldest `n` cached blocks. Lock held. */
static void drop_oldest(ltx_alloc_cache *c, int n)
{
    for (int i = 0; i < n; i++) {
        c->cached_bytes -= c->cache[i].size;
        c->raw_free(c->ctx, c->cache[i].ptr);
    }
    memmove(c->cache, c->cache + n, sizeof c->cache[0] * (size_t)(c->n_cached - n));
    c->n_cached -= n;
}

void ltx_alloc_cache_destroy(ltx_alloc_cache *c)
{
    if (!c) return;
    drop_oldest(c, c->n_cached);
    /* Blocks still live are the owner's leak; give them back too so nothing stays mapped. */
    for (size_t i = 0; i < c->live_cap; i++)
        if (c->live[i].ptr) c->raw_free(c->ctx, c->live[i].ptr);
    free(c->live);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Best fit among cached blocks no more than 25% larger; -1 when none. Lock held. */
static int best_fit(const ltx_alloc_cache *c, size_t sz)
{
    int best = -1;
    for (int i = 0; i < c->n_cached; i++) {
        size_t s = c->cache[i].size;
        if (s >= sz && s - sz <= sz / 4 && (best < 0 || s < c->cache[best].size)) best = i;
    }
    return best;
}

ltx_status ltx_alloc_cache_alloc(ltx_alloc_cache *c, size_t bytes, void **out)
{
    size_t sz = (bytes + 63) & ~(size_t)63;
    if (!sz) sz = 64;
    void *p = NULL;
    pthread_mutex_lock(&c->lock);
    bool eligible = sz >= c->min_cached;
    if (eligible) {
        int best = best_fit(c, sz);
        if (best >= 0) {
            p = c->cache[best].ptr;
            sz = c->cache[best].size;
            c->cached_bytes -= sz;
            memmove(c->cache + best, c->cache + best + 1,
                    sizeof c->cache[0] * (size_t)(c->n_cached - best - 1));
            c->n_cached--;
            c->hits++;
        } else {
            /* miss: give back the oldest blocks worth at least this request first */
            c->misses++;
            size_t freed = 0;
            int drop = 0;
            while (drop < c->n_cached && freed < sz)
                freed += c->cache[drop++].size;
            drop_oldest(c, drop);
        }
    }
    ltx_status s = LTX_OK;
    if (!p) {
        s = c->raw_alloc(c->ctx, sz, &p);
        if (s != LTX_OK && c->n_cached) {
            /* out of memory with blocks cached: give them back and retry once */
            drop_oldest(c, c->n_cached);
            ltx_err_clear();
            s = c->raw_alloc(c->ctx, sz, &p);
        }
    }
    if (s == LTX_OK && !live_insert(c, p, sz)) {
        c->raw_free(c->ctx, p);
        s = ltx_err(LTX_ERR_OOM, "alloc cache: out of host memory for the block table");
    }
    pthread_mutex_unlock(&c->lock);
    *out = s == LTX_OK ? p : NULL;
    return s;
}

void ltx_alloc_cache_free(ltx_alloc_cache *c, void *p)
{
    if (!p) return;
    pthread_mutex_lock(&c->lock);
    size_t sz = live_remove(c, p);
    LTX_ASSERT(sz > 0); /* p must be a live block of this cache */
    if (sz >= c->min_cached && sz <= c->limit) {
        while (c->n_cached && (c->n_cached == CACHE_SLOTS || c->cached_bytes + sz > c->limit))
            drop_oldest(c, 1);
        c->cache[c->n_cached++] = (cached_block){p, sz};
        c->cached_bytes += sz;
    } else {
        c->raw_free(c->ctx, p);
    }
    pthread_mutex_unlock(&c->lock);
}

void ltx_alloc_cache_trim(ltx_alloc_cache *c)
{
    pthread_mutex_lock(&c->lock);
    drop_oldest(c, c->n_cached);
    pthread_mutex_unlock(&c->lock);
}

/* The getters read under the lock; the cast only drops const for the mutex. */
#define LOCKED_READ(c, expr)                                                                       \
    do {                                                                                           \
        ltx_alloc_cache *m_ = (ltx_alloc_cache *)(c);                                              \
        pthread_mutex_lock(&m_->lock);                                                             \
        v = (expr);                                                                                \
        pthread_mutex_unlock(&m_->lock);                                                           \
    } while (0)

size_t ltx_alloc_cache_live_bytes(const ltx_alloc_cache *c)
{
    size_t v;
    LOCKED_READ(c, c->live_bytes);
    return v;
}

size_t ltx_alloc_cache_peak_bytes(const ltx_alloc_cache *c)
{
    size_t v;
    LOCKED_READ(c, c->peak_bytes);
    return v;
}

size_t ltx_alloc_cache_cached_bytes(const ltx_alloc_cache *c)
{
    size_t v;
    LOCKED_READ(c, c->cached_bytes);
    return v;
}

int ltx_alloc_cache_cached_blocks(const ltx_alloc_cache *c)
{
    int v;
    LOCKED_READ(c, c->n_cached);
    return v;
}

void ltx_alloc_cache_reset_peak(ltx_alloc_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->peak_bytes = c->live_bytes;
    pthread_mutex_unlock(&c->lock);
}

void ltx_alloc_cache_set_min_cached(ltx_alloc_cache *c, size_t bytes)
{
    pthread_mutex_lock(&c->lock);
    c->min_cached = bytes;
    pthread_mutex_unlock(&c->lock);
}

void ltx_alloc_cache_stats(const ltx_alloc_cache *c, size_t *hits, size_t *misses)
{
    ltx_alloc_cache *m = (ltx_alloc_cache *)c;
    pthread_mutex_lock(&m->lock);
    *hits = m->hits;
    *misses = m->misses;
    pthread_mutex_unlock(&m->lock);
}
