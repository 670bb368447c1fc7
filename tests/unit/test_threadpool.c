/*
 * test_threadpool.c — src/core/threadpool.c: coverage of [0, n) for many n / grain / thread
 * counts, worker ids in range and never shared by two running chunks, deterministic partition,
 * nested calls running serially on the calling worker, NULL pool, and many back-to-back calls.
 */
#include "core/threadpool.h"
#include "harness.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define MAXN 100003
#define MAXW 64

typedef struct {
    atomic_int *hits;          /* per index: how many times it was visited */
    atomic_llong sum;          /* sum of visited indices */
    atomic_int busy[MAXW];     /* 1 while worker w runs a chunk */
    atomic_int collisions;     /* chunks that found their worker id busy */
    atomic_int bad_worker;     /* worker id out of range */
    atomic_int chunks;
    int size;
    int sleep_us;
    int64_t begin_of[MAXW];    /* range start each worker got (for the determinism test) */
} sum_ctx;

static void nap(int us)
{
    struct timespec ts = {0, (long)us * 1000L};
    nanosleep(&ts, NULL);
}

static void sum_fn(void *vctx, int64_t b, int64_t e, int w)
{
    sum_ctx *c = vctx;
    if (w < 0 || w >= c->size || w >= MAXW) {
        atomic_fetch_add(&c->bad_worker, 1);
        return;
    }
    if (atomic_exchange(&c->busy[w], 1) != 0) atomic_fetch_add(&c->collisions, 1);
    c->begin_of[w] = b;
    long long s = 0;
    for (int64_t i = b; i < e; i++) {
        atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
        s += i;
    }
    if (c->sleep_us) nap(c->sleep_us);
    atomic_fetch_add(&c->sum, s);
    atomic_fetch_add(&c->chunks, 1);
    atomic_store(&c->busy[w], 0);
}

static void reset(sum_ctx *c, int size, int64_t n)
{
    for (int64_t i = 0; i < n; i++) atomic_store(&c->hits[i], 0);
    atomic_store(&c->sum, 0);
    for (int w = 0; w < MAXW; w++) {
        atomic_store(&c->busy[w], 0);
        c->begin_of[w] = -1;
    }
    atomic_store(&c->collisions, 0);
    atomic_store(&c->bad_worker, 0);
    atomic_store(&c->chunks, 0);
    c->size = size;
}

static atomic_int g_hits[MAXN];

TEST(threadpool_sums)
{
    const int threads[] = {1, 2, 3, 4, 8};
    const int64_t ns[] = {0, 1, 2, 7, 100, 1000, 4097, MAXN};
    const int64_t grains[] = {0, 1, 3, 64, 1000, 1 << 20};
    static sum_ctx c;
    c.hits = g_hits;
    int cases = 0;
    for (size_t ti = 0; ti < sizeof threads / sizeof *threads; ti++) {
        ltx_threadpool *p = ltx_threadpool_create(threads[ti]);
        CHECK(p != NULL);
        if (!p) continue;
        CHECK(ltx_threadpool_size(p) == threads[ti]);
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
            for (size_t gi = 0; gi < sizeof grains / sizeof *grains; gi++) {
                int64_t n = ns[ni], g = grains[gi];
                reset(&c, threads[ti], n);
                ltx_threadpool_for(p, n, g, sum_fn, &c);
                int once = 1;
                for (int64_t i = 0; i < n; i++) once &= atomic_load(&c.hits[i]) == 1;
                CHECK_MSG(once, "T=%d n=%lld grain=%lld", threads[ti], (long long)n,
                          (long long)g);
                CHECK(atomic_load(&c.sum) == (long long)(n * (n - 1) / 2));
                CHECK(atomic_load(&c.collisions) == 0 && atomic_load(&c.bad_worker) == 0);
                /* chunks never shorter than the grain, never more than the threads */
                int64_t gg = g < 1 ? 1 : g, maxch = (n + gg - 1) / gg;
                int ch = atomic_load(&c.chunks);
                CHECK(ch <= threads[ti] && ch <= (maxch > 0 ? maxch : 0));
                if (n > 0 && threads[ti] > 1 && n >= 2 * gg) CHECK(ch >= 2); /* really parallel */
                cases++;
            }
        }
        ltx_threadpool_destroy(p);
    }
    printf("  %d (threads, n, grain) cases\n", cases);
    ltx_threadpool_destroy(NULL);
}

TEST(threadpool_null_and_default)
{
    static sum_ctx c;
    c.hits = g_hits;
    reset(&c, 1, 1000);
    CHECK(ltx_threadpool_size(NULL) == 1);
    ltx_threadpool_for(NULL, 1000, 1, sum_fn, &c);
    CHECK(atomic_load(&c.chunks) == 1 && atomic_load(&c.sum) == 999 * 1000 / 2);
    ltx_threadpool *p = ltx_threadpool_create(0); /* online CPUs */
    CHECK(p != NULL && ltx_threadpool_size(p) >= 1);
    ltx_threadpool_destroy(p);
}

/* Chunks that sleep overlap in time, so a shared worker id would be caught by the busy flags. */
TEST(threadpool_unique_worker_ids)
{
    static sum_ctx c;
    c.hits = g_hits;
    ltx_threadpool *p = ltx_threadpool_create(6);
    CHECK(p != NULL);
    if (!p) return;
    for (int rep = 0; rep < 20; rep++) {
        reset(&c, 6, 600);
        c.sleep_us = 2000;
        ltx_threadpool_for(p, 600, 10, sum_fn, &c);
        CHECK(atomic_load(&c.collisions) == 0 && atomic_load(&c.bad_worker) == 0);
        CHECK(atomic_load(&c.chunks) == 6);
        /* static partition: worker w always gets range w of 6 equal ranges */
        for (int w = 0; w < 6; w++) CHECK(c.begin_of[w] == w * 100);
    }
    c.sleep_us = 0;
    ltx_threadpool_destroy(p);
}

typedef struct {
    ltx_threadpool *pool;
    atomic_int inner_bad;   /* nested chunk saw another worker id or a partial range */
    atomic_llong inner_sum;
    atomic_int outer_calls;
} nest_ctx;

typedef struct {
    int outer_worker;
    int64_t n;
    nest_ctx *nc;
} inner_ctx;

static void inner_fn(void *vctx, int64_t b, int64_t e, int w)
{
    inner_ctx *ic = vctx;
    if (w != ic->outer_worker || b != 0 || e != ic->n) atomic_fetch_add(&ic->nc->inner_bad, 1);
    long long s = 0;
    for (int64_t i = b; i < e; i++) s += i;
    atomic_fetch_add(&ic->nc->inner_sum, s);
}

static void outer_fn(void *vctx, int64_t b, int64_t e, int w)
{
    nest_ctx *nc = vctx;
    for (int64_t i = b; i < e; i++) {
        inner_ctx ic = {w, 50, nc};
        ltx_threadpool_for(nc->pool, 50, 1, inner_fn, &ic); /* serial on this worker */
    }
    atomic_fetch_add(&nc->outer_calls, 1);
}

TEST(threadpool_nested)
{
    nest_ctx nc;
    nc.pool = ltx_threadpool_create(4);
    CHECK(nc.pool != NULL);
    if (!nc.pool) return;
    atomic_store(&nc.inner_bad, 0);
    atomic_store(&nc.inner_sum, 0);
    atomic_store(&nc.outer_calls, 0);
    ltx_threadpool_for(nc.pool, 40, 1, outer_fn, &nc);
    CHECK(atomic_load(&nc.outer_calls) == 4);
    CHECK(atomic_load(&nc.inner_bad) == 0);
    CHECK(atomic_load(&nc.inner_sum) == 40LL * (49 * 50 / 2));
    /* the pool still works normally after nesting */
    static sum_ctx c;
    c.hits = g_hits;
    reset(&c, 4, 1000);
    ltx_threadpool_for(nc.pool, 1000, 1, sum_fn, &c);
    CHECK(atomic_load(&c.chunks) == 4 && atomic_load(&c.sum) == 999 * 1000 / 2);
    ltx_threadpool_destroy(nc.pool);
}

static void count_fn(void *vctx, int64_t b, int64_t e, int w)
{
    (void)w;
    atomic_fetch_add((atomic_llong *)vctx, e - b);
}

/* Many tiny jobs back to back: catches lost wake-ups and workers reading a stale job. */
TEST(threadpool_back_to_back)
{
    ltx_threadpool *p = ltx_threadpool_create(3);
    CHECK(p != NULL);
    if (!p) return;
    atomic_llong total;
    atomic_store(&total, 0);
    long long want = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t n = 1 + i % 7;
        ltx_threadpool_for(p, n, 1, count_fn, &total);
        want += n;
    }
    CHECK(atomic_load(&total) == want);
    ltx_threadpool_destroy(p);
}

TEST_MAIN()
