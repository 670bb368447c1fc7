/*
 * threadpool.c — persistent pthread workers behind a blocking parallel-for (src/core/threadpool.h).
 *
 * Scheduling is static and deterministic: [0, n) is cut into k = min(size, ceil(n / grain))
 * contiguous chunks of near-equal length (the first n % k chunks are one longer), and chunk c
 * always runs as worker c (chunk 0 on the calling thread). So a given (n, grain, size) always
 * gives the same ranges to the same worker ids, and per-worker partial results combine in a
 * reproducible order.
 *
 * Wake-up: the caller bumps a generation counter and broadcasts a condition variable; workers
 * spin briefly on the counter before sleeping, so back-to-back loops (one per matmul) don't pay
 * a full futex wake each. Every worker acknowledges every generation (even without a chunk), so
 * no worker can still be reading a job's fields when the next job is posted.
 *
 * Nesting: a thread-local marks threads currently inside a chunk of a pool; a call on that same
 * pool from inside fn runs fn(ctx, 0, n, <current worker>) serially on that thread.
 * Not provided: work stealing, priorities, concurrent callers (they are serialised by a mutex).
 * No reference counterpart (PyTorch uses at::parallel_for over OpenMP).
 */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS LTX_MAX_THREADS
#define SPIN_ITERS 2000 /* a few to ~100 us of polling before blocking */

struct ltx_threadpool {
    int size;              /* threads incl. the caller */
    pthread_t *threads;    /* size - 1 workers; threads[i] runs as worker i + 1 */
    pthread_mutex_t mu;    /* guards stop and the sleep/wake handshakes */
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    pthread_mutex_t call_mu; /* serialises callers */
    atomic_uint_fast64_t gen; /* bumped once per posted job */
    atomic_int remaining;     /* workers that have not yet acknowledged the current job */
    bool stop;
    /* the current job, written by the caller before bumping gen */
    ltx_parallel_fn fn;
    void *ctx;
    int64_t n;
    int nchunks;
};

typedef struct {
    ltx_threadpool *pool;
    int id;
} worker_arg;

/* Which pool (and worker id) the current thread is running a chunk for; NULL outside. */
static _Thread_local const ltx_threadpool *tls_pool;
static _Thread_local int tls_worker;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Chunk c of k over [0, n): near-equal contiguous ranges. */
static void chunk_range(int64_t n, int k, int c, int64_t *b, int64_t *e)
{
    int64_t q = n / k, r = n % k;
    *b = c * q + (c < r ? c : r);
    *e = *b + q + (c < r ? 1 : 0);
}

static void run_chunk(ltx_threadpool *p, int c)
{
    int64_t b, e;
    chunk_range(p->n, p->nchunks, c, &b, &e);
    const ltx_threadpool *prev_pool = tls_pool;
    int prev_worker = tls_worker;
    tls_pool = p;
    tls_worker = c;
    p->fn(p->ctx, b, e, c);
    tls_pool = prev_pool;
    tls_worker = prev_worker;
}

static void *worker_main(void *argp)
{
    worker_arg *arg = argp;
    ltx_threadpool *p = arg->pool;
    int id = arg->id;
    free(arg);
    uint_fast64_t seen = 0; /* the pool starts at generation 0 with no job */
    for (;;) {
        uint_fast64_t g = seen;
        for (int i = 0; i < SPIN_ITERS; i++) {
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen) break;
            cpu_relax();
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while (!p->stop && (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->cv_work, &p->mu);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = g;
        if (id < p->nchunks) run_chunk(p, id);
        if (atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* n_threads <= 0 -> online CPUs (capped at MAX_THREADS). Returns NULL if any allocation or
 * pthread call fails (nothing is leaked). A pool of 1 thread has no workers. Caller owns it;
 * free with ltx_threadpool_destroy. */
ltx_threadpool *ltx_threadpool_create(int n_threads)
{
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)(c < MAX_THREADS ? c : MAX_THREADS) : 1;
    }
    if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
    ltx_threadpool *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->size = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->remaining, 0);
    int inited = 0; /* how many sync objects exist, for the cleanup path */
    if (pthread_mutex_init(&p->mu, NULL) != 0) goto fail;
    inited++;
    if (pthread_cond_init(&p->cv_work, NULL) != 0) goto fail;
    inited++;
    if (pthread_cond_init(&p->cv_done, NULL) != 0) goto fail;
    inited++;
    if (pthread_mutex_init(&p->call_mu, NULL) != 0) goto fail;
    inited++;
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) goto fail;
    p->size = 1; /* grows as workers start, so a failed start joins only those */
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof(*a));
        if (!a) goto fail_threads;
        a->pool = p;
        a->id = i;
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            goto fail_threads;
        }
        p->size = i + 1; /* workers actually running, for destroy */
    }
    p->size = n_threads;
    return p;

fail_threads:
    ltx_threadpool_destroy(p);
    return NULL;
fail:
    if (inited > 3) pthread_mutex_destroy(&p->call_mu);
    if (inited > 2) pthread_cond_destroy(&p->cv_done);
    if (inited > 1) pthread_cond_destroy(&p->cv_work);
    if (inited > 0) pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

/* Stops and joins the workers and frees the pool. NULL is a no-op. Must not be called while a
 * parallel-for is running on the pool. */
void ltx_threadpool_destroy(ltx_threadpool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_broadcast(&pool->cv_work);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->size; i++) pthread_join(pool->threads[i - 1], NULL);
    free(pool->threads);
    pthread_mutex_destroy(&pool->call_mu);
    pthread_cond_destroy(&pool->cv_done);
    pthread_cond_destroy(&pool->cv_work);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}

int ltx_threadpool_size(const ltx_threadpool *pool) { return pool ? pool->size : 1; }

/* Blocks until fn has run over all of [0, n). n <= 0 does nothing; grain < 1 counts as 1.
 * NULL pool, a single chunk, or a nested call from inside one of this pool's chunks run
 * fn(ctx, 0, n, w) on the calling thread (w = the caller's current worker id, else 0). */
void ltx_threadpool_for(ltx_threadpool *pool, int64_t n, int64_t grain, ltx_parallel_fn fn,
                        void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!pool || pool->size == 1 || n <= grain) {
        fn(ctx, 0, n, tls_pool == pool && pool ? tls_worker : 0);
        return;
    }
    if (tls_pool == pool) { /* nested: stay on this worker */
        fn(ctx, 0, n, tls_worker);
        return;
    }
    int64_t want = (n + grain - 1) / grain;
    int k = want < pool->size ? (int)want : pool->size;

    pthread_mutex_lock(&pool->call_mu);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->nchunks = k;
    atomic_store_explicit(&pool->remaining, pool->size - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv_work);
    pthread_mutex_unlock(&pool->mu);

    run_chunk(pool, 0);

    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&pool->remaining, memory_order_acquire) == 0) break;
        cpu_relax();
    }
    if (atomic_load_explicit(&pool->remaining, memory_order_acquire) != 0) {
        pthread_mutex_lock(&pool->mu);
        while (atomic_load_explicit(&pool->remaining, memory_order_acquire) != 0)
            pthread_cond_wait(&pool->cv_done, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
    pthread_mutex_unlock(&pool->call_mu);
}
