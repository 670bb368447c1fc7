/*
 * test_blas_threads.c — OpenBLAS's workers are parked after the CPU backend's threaded GEMM
 * (cpu_sgemm, the conv products; src/backend/cpu/cpu_blas_threads.c), they come back for the
 * next one, parking changes neither the bits of a product nor the memory it holds, and it is
 * left off while a second CPU backend lives (its BLAS calls could be on the workers).
 * Threads are counted in /proc/self/task. With a serial or OpenMP OpenBLAS nothing is parked
 * (the documented fallback), which the test checks instead.
 */
#include "backend/backend.h"
#include "backend/cpu/cpu_gemm.h"
#include "core/threadpool.h"
#include "harness.h"

#include <cblas.h>
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#define M 128
#define N 256
#define K 512 /* 16.8 MFLOP: above OpenBLAS's single-thread threshold (2^18 m*n*k) */

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void fill(float *v, int n, uint32_t s)
{
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
}

/* The pre-park path: one threaded call, OpenBLAS back to one thread, workers left as they are. */
static void sgemm_unparked(int nth, const float *a, const float *b, float *c)
{
    openblas_set_num_threads(nth);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    openblas_set_num_threads(1);
}

TEST(workers_parked_and_bits_unchanged)
{
    ltx_threadpool *pool = ltx_threadpool_create(2);
    ltx_backend *be = NULL;
    CHECK(pool && ltx_cpu_backend_create(false, NULL, pool, &be) == LTX_OK);
    if (!be) return;
    static float a[M * K], b[K * N], ref[M * N], c[M * N];
    fill(a, M * K, 1);
    fill(b, K * N, 2);
    sgemm_unparked(2, a, b, ref);
    int unparked = count_threads();
    cpu_sgemm(pool, false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    int parked = count_threads();
    CHECK(memcmp(c, ref, sizeof c) == 0);
    if (openblas_get_parallel() == 1) {
        /* pthreads build: exactly OpenBLAS's one worker (2 threads) is gone, the pool stays */
        CHECK_MSG(parked == unparked - 1, "threads %d unparked, %d parked", unparked, parked);
        CHECK(parked == 2); /* the caller and the pool's worker */
    } else {
        printf("  note: OpenBLAS build %d (not pthreads): nothing to park\n",
               openblas_get_parallel());
        CHECK(parked == unparked);
    }
    /* restarts: same bits every time, no memory kept per restart, parked after each */
    long rss0 = resident_kib();
    bool same = true, stays_parked = true;
    for (int i = 0; i < 300; i++) {
        memset(c, 0, sizeof c);
        cpu_sgemm(pool, false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        same = same && memcmp(c, ref, sizeof c) == 0;
        stays_parked = stays_parked && count_threads() == parked;
    }
    long grown = resident_kib() - rss0;
    CHECK(same);
    CHECK(stays_parked);
    CHECK_MSG(rss0 > 0 && grown < 16 * 1024, "resident grew by %ld KiB over 300 restarts", grown);
    /* the unparked path still works after parking (OpenBLAS restarts its worker itself) */
    sgemm_unparked(2, a, b, c);
    CHECK(memcmp(c, ref, sizeof c) == 0);
    if (openblas_get_parallel() == 1) {
        /* a second live CPU backend (an engine on another thread may call BLAS at any time):
         * no parking while it lives, parking again once it is gone */
        ltx_backend *be2 = NULL;
        CHECK(ltx_cpu_backend_create(false, NULL, pool, &be2) == LTX_OK);
        cpu_sgemm(pool, false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        CHECK_MSG(count_threads() == unparked, "threads %d with two backends", count_threads());
        CHECK(memcmp(c, ref, sizeof c) == 0);
        ltx_backend_destroy(be2);
        cpu_sgemm(pool, false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        CHECK_MSG(count_threads() == parked, "threads %d after the second backend went",
                  count_threads());
    }
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
}

TEST_MAIN()
