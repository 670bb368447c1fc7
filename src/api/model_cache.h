/*
 * model_cache.h — weights kept resident across generate calls on one engine (ltx2c serve runs
 * job after job on one engine), under a byte budget with least-recently-used eviction.
 *
 * An entry is one loaded object (a Gemma model, a transformer with its LoRAs fused, a VAE
 * decoder, an open checkpoint file, ...) under a key of four parts:
 *   kind     what it is ("transformer", "video_decoder", "checkpoint", ...);
 *   path     a file or folder it was loaded from; its size and mtime are recorded at put and a
 *            get with a changed file misses (the stale entry is dropped when unused). NULL = none;
 *   variant  everything else that changes the loaded object, as text (quantization policy,
 *            precision, LoRA files with their size/mtime and strengths, ...; "" = nothing);
 *   parent   the cached object it borrows from (the open checkpoint whose mapping a model's
 *            weights wrap on the CPU), or NULL. A parent is never dropped before its children:
 *            dropping it drops them, and it is not evictable while a child is in use.
 * Objects are reference-counted by use: get and a successful put hand the caller one use,
 * ltx_model_cache_release gives it back. Only unused entries are evicted, so the budget can
 * be exceeded while the running call holds more than it (it is restored at the next put or
 * reserve). Entries of 0 bytes (open files: their mapping is not resident by itself) are
 * dropped as soon as they are unused and have no child.
 *
 * Calls on an engine are serialised by its lock, so the cache itself takes no lock.
 * No reference counterpart (the reference loads every model per pipeline run).
 */
#ifndef LTX_API_MODEL_CACHE_H
#define LTX_API_MODEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ltx_model_cache ltx_model_cache;
typedef void (*ltx_cache_free_fn)(void *obj);

/* The key of an entry (see above); the strings are copied at put. */
typedef struct ltx_cache_key {
    const char *kind;    /* required */
    const char *path;    /* NULL = no file identity */
    const char *variant; /* NULL = "" */
    const void *parent;  /* a cached object or NULL */
} ltx_cache_key;

/* New cache of budget bytes (0 = caching off: get always misses, put refuses). NULL on OOM. */
ltx_model_cache *ltx_model_cache_new(size_t budget);
/* Frees every entry with its free function (children before parents); c may be NULL. */
void ltx_model_cache_free(ltx_model_cache *c);
/* The cached object for k, with one use for the caller, or NULL (miss; also when the file at
 * k->path changed since the put, or c is NULL or off). Valid until released. */
void *ltx_model_cache_get(ltx_model_cache *c, const ltx_cache_key *k);
/* Evicts unused entries, least recently used first, until `bytes` more fit the budget (call
 * before loading a model of that size, so the old one is gone before the new one loads).
 * Nothing when bytes exceed the budget (that model will not be cached). */
void ltx_model_cache_reserve(ltx_model_cache *c, size_t bytes);
/* Hands obj (bytes large) to the cache under k, with one use for the caller, evicting unused
 * entries to fit. Returns 1 when the cache took ownership (release it, never free it), 0 when
 * it did not (no cache, off, larger than the budget, k->parent not cached, OOM): the caller
 * keeps and frees obj. */
int ltx_model_cache_put(ltx_model_cache *c, const ltx_cache_key *k, void *obj, size_t bytes,
                        ltx_cache_free_fn free_fn);
/* Gives back one use of obj. Returns 1 when obj is the cache's (the caller must not free it),
 * 0 when it is not (obj or c NULL, or never put): the caller frees it as if uncached. */
int ltx_model_cache_release(ltx_model_cache *c, const void *obj);
/* The budget in bytes (0 when c is NULL or caching is off). */
size_t ltx_model_cache_budget(const ltx_model_cache *c);
/* Bytes held and entries, hits and misses so far (any pointer may be NULL). */
void ltx_model_cache_stats(const ltx_model_cache *c, size_t *bytes, int *entries, int *hits,
                           int *misses);

#endif
