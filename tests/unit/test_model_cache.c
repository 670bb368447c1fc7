/*
 * test_model_cache.c — the engine's resident-model cache (src/api/model_cache.c): hits only
 * while the file keeps its size and mtime, least-recently-used eviction under the budget,
 * entries used by the running call never evicted, budget 0 = off; and an engine opened with
 * an older ltx_engine_params (no cache_bytes field) gets no cache.
 */
#include "harness.h"

#include "api/model_cache.h"
#include "ltx.h"

#include <stdio.h>
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

TEST(model_cache_lru_pin_stale)
{
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "/tmp/ltx_mc_%d_a", (int)getpid());
    snprintf(b, sizeof b, "/tmp/ltx_mc_%d_b", (int)getpid());
    snprintf(c, sizeof c, "/tmp/ltx_mc_%d_c", (int)getpid());
    write_file(a, "a");
    write_file(b, "b");
    write_file(c, "c");
    static int ids[3] = {0, 1, 2};
    ltx_model_cache *mc = ltx_model_cache_new(100);
    ltx_model_cache_begin(mc);
    CHECK(ltx_model_cache_get(mc, "k", a) == NULL);
    CHECK(ltx_model_cache_put(mc, "k", a, &ids[0], 60, free_obj) == 1);
    /* b does not fit, but a is pinned by the running call: both kept, over budget */
    CHECK(ltx_model_cache_put(mc, "k", b, &ids[1], 60, free_obj) == 1);
    CHECK(g_freed[0] == 0);
    CHECK(ltx_model_cache_put(mc, "k", c, &ids[2], 101, free_obj) == 0); /* over the budget */
    ltx_model_cache_begin(mc); /* next call: a used again, b not */
    CHECK(ltx_model_cache_get(mc, "k", a) == &ids[0]);
    CHECK(ltx_model_cache_get(mc, "other", a) == NULL); /* kind is part of the key */
    ltx_model_cache_begin(mc);
    CHECK(ltx_model_cache_put(mc, "k", c, &ids[2], 40, free_obj) == 1);
    /* LRU among the unpinned: b (used longer ago than a) goes, and then 60 + 40 fit */
    CHECK(g_freed[1] == 1);
    CHECK(g_freed[0] == 0);
    int entries = 0, hits = 0, misses = 0;
    size_t bytes = 0;
    ltx_model_cache_stats(mc, &bytes, &entries, &hits, &misses);
    CHECK(entries == 2 && bytes == 100 && hits == 1 && misses == 2);
    /* a changed file is a miss and drops the entry */
    ltx_model_cache_begin(mc);
    write_file(c, "changed: longer");
    CHECK(ltx_model_cache_get(mc, "k", c) == NULL);
    CHECK(g_freed[2] == 1);
    ltx_model_cache_free(mc);
    CHECK(g_freed[0] == 1); /* the rest freed with the cache */
    /* budget 0: off */
    ltx_model_cache *off = ltx_model_cache_new(0);
    CHECK(ltx_model_cache_put(off, "k", a, &ids[0], 1, free_obj) == 0);
    CHECK(ltx_model_cache_get(off, "k", a) == NULL);
    ltx_model_cache_free(off);
    remove(a);
    remove(b);
    remove(c);
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
