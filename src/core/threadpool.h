/*
 * threadpool.h — the engine's worker pool: a blocking parallel-for.
 *
 * ltx_threadpool_for(pool, n, fn, ctx) splits [0, n) into contiguous chunks, runs
 * fn(ctx, begin, end, worker) on the workers and the calling thread, and returns when all are
 * done. `worker` is in [0, ltx_threadpool_size(pool)) and unique among concurrently running
 * chunks, so it can index per-thread scratch. Nested calls from inside fn run serially on the
 * calling worker. One caller at a time (the engine serialises work). NULL pool = serial.
 */
#ifndef LTX_CORE_THREADPOOL_H
#define LTX_CORE_THREADPOOL_H

#include <stdint.h>

typedef struct ltx_threadpool ltx_threadpool;
typedef void (*ltx_parallel_fn)(void *ctx, int64_t begin, int64_t end, int worker);

/* Most threads a pool runs (more are capped here; ltx_engine_open refuses them). */
#define LTX_MAX_THREADS 512

/* n_threads <= 0: number of online CPUs. Returns NULL on failure. */
ltx_threadpool *ltx_threadpool_create(int n_threads);
void ltx_threadpool_destroy(ltx_threadpool *pool);
int ltx_threadpool_size(const ltx_threadpool *pool); /* 1 for NULL */
/* `grain`: minimum chunk size (>= 1). */
void ltx_threadpool_for(ltx_threadpool *pool, int64_t n, int64_t grain, ltx_parallel_fn fn,
                        void *ctx);

#endif
