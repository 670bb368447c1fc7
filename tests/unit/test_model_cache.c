/*
 * test_model_cache.c — the engine's resident-model cache (src/api/model_cache.c): hits only
 * while the file keeps its size and mtime and the kind and variant match, least-recently-used
 * eviction under the budget, entries in use never evicted, parents (open files) outliving
 * their children and closing when left unused and childless, budget 0 = off; and an engine
 * opened with an older ltx_engine_params (no cache_bytes field) gets no cache.
 */
#include "harness.h"

#include "api/model_cache.h"
#include "ltx.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_freed[8];

static void free_obj(void *p)
{
    g_freed[*(int *)p]++;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static ltx_cache_key key(const char *kind, const char *path)
{
    return (ltx_cache_key){.kind = kind, .path = path};
}

TEST(model_cache_lru_uses_stale)
{
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "/tmp/ltx_mc_%d_a", (int)getpid());
    snprintf(b, sizeof b, "/tmp/ltx_mc_%d_b", (int)getpid());
    snprintf(c, sizeof c, "/tmp/ltx_mc_%d_c", (int)getpid());
    write_file(a, "a");
    write_file(b, "b");
    write_file(c, "c");
    static int ids[3] = {0, 1, 2};
    memset(g_freed, 0, sizeof g_freed);
    ltx_model_cache *mc = ltx_model_cache_new(100);
    ltx_cache_key ka = key("k", a), kb = key("k", b), kc = key("k", c);
    CHECK(ltx_model_cache_get(mc, &ka) == NULL);
    CHECK(ltx_model_cache_put(mc, &ka, &ids[0], 60, free_obj) == 1);
    /* b does not fit, but a is in use by the running call: both kept, over budget */
    CHECK(ltx_model_cache_put(mc, &kb, &ids[1], 60, free_obj) == 1);
    CHECK(g_freed[0] == 0);
    CHECK(ltx_model_cache_put(mc, &kc, &ids[2], 101, free_obj) == 0); /* over the budget */
    CHECK(ltx_model_cache_release(mc, &ids[0]) == 1);
    CHECK(ltx_model_cache_release(mc, &ids[1]) == 1);
    CHECK(ltx_model_cache_release(mc, &ids[2]) == 0); /* not the cache's: the caller frees */
    /* next call: a used again, b not */
    CHECK(ltx_model_cache_get(mc, &ka) == &ids[0]);
    ltx_cache_key other = key("other", a);
    CHECK(ltx_model_cache_get(mc, &other) == NULL); /* kind is part of the key */
    ltx_cache_key va = {.kind = "k", .path = a, .variant = "lora=x*0.5"};
    CHECK(ltx_model_cache_get(mc, &va) == NULL); /* and the variant */
    CHECK(ltx_model_cache_release(mc, &ids[0]) == 1);
    CHECK(ltx_model_cache_put(mc, &kc, &ids[2], 40, free_obj) == 1);
    /* LRU among the unused: b (used longer ago than a) goes, and then 60 + 40 fit */
    CHECK(g_freed[1] == 1);
    CHECK(g_freed[0] == 0);
    int entries = 0, hits = 0, misses = 0;
    size_t bytes = 0;
    ltx_model_cache_stats(mc, &bytes, &entries, &hits, &misses);
    CHECK_MSG(entries == 2 && bytes == 100 && hits == 1 && misses == 3, "%d %zu %d %d", entries,
              bytes, hits, misses);
    /* a model over the budget will not be cached: reserving for it evicts nothing */
    ltx_model_cache_reserve(mc, 101);
    CHECK(g_freed[0] == 0);
    /* reserve before a load evicts the unused ones; c is in use and stays */
    ltx_model_cache_reserve(mc, 50);
    CHECK(g_freed[0] == 1 && g_freed[2] == 0);
    CHECK(ltx_model_cache_release(mc, &ids[2]) == 1);
    /* a changed file is a miss and drops the (unused) entry */
    write_file(c, "changed: longer");
    CHECK(ltx_model_cache_get(mc, &kc) == NULL);
    CHECK(g_freed[2] == 1);
    ltx_model_cache_free(mc);
    /* budget 0: off */
    ltx_model_cache *off = ltx_model_cache_new(0);
    CHECK(ltx_model_cache_put(off, &ka, &ids[0], 1, free_obj) == 0);
    CHECK(ltx_model_cache_get(off, &ka) == NULL);
    CHECK(ltx_model_cache_release(off, &ids[0]) == 0);
    ltx_model_cache_free(off);
    remove(a);
    remove(b);
    remove(c);
}

/* A model borrowing an open file's mapping is a child entry: never cached without its parent,
 * dropped before it, and the file entry (0 bytes) closes once unused and childless. */
TEST(model_cache_parents)
{
    char a[64];
    snprintf(a, sizeof a, "/tmp/ltx_mc_%d_p", (int)getpid());
    write_file(a, "file");
    static int ids[4] = {0, 1, 2, 3};
    memset(g_freed, 0, sizeof g_freed);
    ltx_model_cache *mc = ltx_model_cache_new(100);
    ltx_cache_key kf = key("checkpoint", a);
    ltx_cache_key km = {.kind = "vae", .parent = &ids[0]};
    CHECK(ltx_model_cache_put(mc, &km, &ids[1], 10, free_obj) == 0); /* parent not cached */
    CHECK(ltx_model_cache_put(mc, &kf, &ids[0], 0, free_obj) == 1);
    CHECK(ltx_model_cache_put(mc, &km, &ids[1], 10, free_obj) == 1);
    ltx_model_cache_release(mc, &ids[1]);
    ltx_model_cache_release(mc, &ids[0]);
    CHECK(g_freed[0] == 0); /* has a child: stays open */
    /* next call: the same file, then its model */
    CHECK(ltx_model_cache_get(mc, &kf) == &ids[0]);
    CHECK(ltx_model_cache_get(mc, &km) == &ids[1]);
    ltx_model_cache_release(mc, &ids[1]);
    ltx_model_cache_release(mc, &ids[0]);
    /* evicting the model for room leaves the file unused and childless: closed too */
    ltx_model_cache_reserve(mc, 95);
    CHECK(g_freed[1] == 1 && g_freed[0] == 1);
    int entries = -1;
    ltx_model_cache_stats(mc, NULL, &entries, NULL, NULL);
    CHECK(entries == 0);
    /* a file in use keeps its children through a reserve that cannot evict them... */
    CHECK(ltx_model_cache_put(mc, &kf, &ids[0], 0, free_obj) == 1);
    CHECK(ltx_model_cache_put(mc, &km, &ids[2], 60, free_obj) == 1);
    ltx_model_cache_reserve(mc, 60);
    CHECK(g_freed[2] == 0);
    ltx_model_cache_release(mc, &ids[2]);
    /* ...and a changed file drops the parent with its child once they are unused */
    ltx_model_cache_release(mc, &ids[0]);
    write_file(a, "changed file");
    CHECK(ltx_model_cache_get(mc, &kf) == NULL);
    CHECK(g_freed[2] == 1 && g_freed[0] == 2);
    ltx_model_cache_free(mc);
    remove(a);
}

TEST(engine_cache_budget_and_older_params)
{
    ltx_engine_params p;
    ltx_engine_params_init(&p);
    p.device = "cpu";
    p.n_threads = 1;
    p.log = NULL;
    p.cache_bytes = 1 << 20;
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&p, &e) == LTX_OK);
    int entries = -1;
    ltx_engine_cache_stats(e, NULL, &entries, NULL, NULL);
    CHECK(entries == 0);
    ltx_engine_close(e);
    /* a caller built before cache_bytes existed: smaller struct, accepted, cache off */
    p.struct_size = offsetof(ltx_engine_params, cache_bytes);
    CHECK(ltx_engine_open(&p, &e) == LTX_OK);
    ltx_engine_close(e);
}

TEST_MAIN()
