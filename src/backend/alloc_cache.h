/*
 * alloc_cache.h — a generic caching allocator of device blocks over a raw alloc/free pair
 * (cf. PyTorch's CUDACachingAllocator, c10/cuda/CUDACachingAllocator.cpp, much simplified).
 *
 * Freed blocks are kept for reuse instead of going back to the device: re-faulting (CPU) or
 * cudaMalloc/cudaFree (CUDA) on every transformer block cost ~20% of its time. Policy:
 *   - sizes are rounded up to 64 bytes;
 *   - alloc takes the best-fitting cached block no more than 25% larger than asked;
 *   - on a miss, the oldest cached blocks worth at least the request are given back before the
 *     raw allocator is asked, so cached-but-unusable blocks never add to the footprint;
 *   - a raw allocation failure gives every cached block back and retries once;
 *   - free caches the block (oldest evicted first) while at most 64 blocks and
 *     `cache_limit_bytes` are kept; blocks larger than the limit go straight back.
 * Blocks below the "min cached" size (0 by default; ltx_alloc_cache_set_min_cached) bypass the
 * cache (still counted as live).
 * Stream order: the cache serves one stream (the backend's compute stream). A block freed while
 * another stream may still use it must be freed only after that stream's work completed.
 * Thread-safe (one mutex).
 */
#ifndef LTX_ALLOC_CACHE_H
#define LTX_ALLOC_CACHE_H

#include "core/error.h"

#include <stddef.h>

typedef struct ltx_alloc_cache ltx_alloc_cache;
typedef ltx_status (*ltx_raw_alloc_fn)(void *ctx, size_t bytes, void **out);
typedef void (*ltx_raw_free_fn)(void *ctx, void *p);

/* `ctx` is passed to a/f unchanged and must outlive the cache. *out owned by the caller
 * (ltx_alloc_cache_destroy). */
ltx_status ltx_alloc_cache_create(ltx_raw_alloc_fn a, ltx_raw_free_fn f, void *ctx,
                                  size_t cache_limit_bytes, ltx_alloc_cache **out);
void ltx_alloc_cache_destroy(ltx_alloc_cache *c); /* frees every cached block; NULL ok */
/* *out: a block of at least `bytes` (0 is served as 64). */
ltx_status ltx_alloc_cache_alloc(ltx_alloc_cache *c, size_t bytes, void **out);
void ltx_alloc_cache_free(ltx_alloc_cache *c, void *p);      /* keeps it for reuse; NULL ok */
void ltx_alloc_cache_trim(ltx_alloc_cache *c);               /* give all cached blocks back */
size_t ltx_alloc_cache_live_bytes(const ltx_alloc_cache *c); /* handed out, not yet freed */
size_t ltx_alloc_cache_peak_bytes(const ltx_alloc_cache *c); /* high-water mark of live */
void ltx_alloc_cache_reset_peak(ltx_alloc_cache *c);         /* peak = live */

/* Additions beyond the v2 contract (optional for a backend). */
/* Requests below `bytes` bypass the cache (raw alloc/free); CPU uses 1 MiB. */
void ltx_alloc_cache_set_min_cached(ltx_alloc_cache *c, size_t bytes);
size_t ltx_alloc_cache_cached_bytes(const ltx_alloc_cache *c); /* held in the cache, unused */
int ltx_alloc_cache_cached_blocks(const ltx_alloc_cache *c);
/* Hits/misses of cache-eligible requests since creation. */
void ltx_alloc_cache_stats(const ltx_alloc_cache *c, size_t *hits, size_t *misses);

#endif
