/*
 * model_cache.h — weights kept resident across generate calls on one engine (ltx2c serve runs
 * job after job on one engine): loaded objects keyed by (kind, path) and the file's size and
 * mtime, under a byte budget with least-recently-used eviction. An entry used by the running
 * call is never evicted during it (the budget may be exceeded until the call ends). Calls on
 * an engine are serialised by its lock, so the cache itself takes no lock.
 * No reference counterpart (the reference loads every model per pipeline run).
 */
#ifndef LTX_API_MODEL_CACHE_H
#define LTX_API_MODEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ltx_model_cache ltx_model_cache;
typedef void (*ltx_cache_free_fn)(void *obj);

/* New cache of budget bytes (0 = caching off: get always misses, put refuses). NULL on OOM. */
ltx_model_cache *ltx_model_cache_new(size_t budget);
/* Frees every entry with its free function; c may be NULL. */
void ltx_model_cache_free(ltx_model_cache *c);
/* Starts a new call: entries used from now on are pinned until the next begin. */
void ltx_model_cache_begin(ltx_model_cache *c);
/* The cached object for (kind, path) if the file at path still has the size and mtime it had
 * when cached; NULL otherwise (a stale entry is dropped). Borrowed: valid until the next
 * ltx_model_cache_begin. c may be NULL (miss). */
void *ltx_model_cache_get(ltx_model_cache *c, const char *kind, const char *path);
/* Hands obj (bytes large) to the cache, evicting the least recently used unpinned entries to
 * fit the budget. Returns 1 when the cache took ownership, 0 when it did not (no cache, over
 * the budget, OOM): the caller keeps and frees obj. */
int ltx_model_cache_put(ltx_model_cache *c, const char *kind, const char *path, void *obj,
                        size_t bytes, ltx_cache_free_fn free_fn);
/* The budget in bytes (0 when c is NULL or caching is off). */
size_t ltx_model_cache_budget(const ltx_model_cache *c);
/* Bytes held and entries, hits and misses so far (any pointer may be NULL). */
void ltx_model_cache_stats(const ltx_model_cache *c, size_t *bytes, int *entries, int *hits,
                           int *misses);

#endif
