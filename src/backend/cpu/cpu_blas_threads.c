/*
 * cpu_blas_threads.c — the CPU backend's glue to OpenBLAS's thread count: single-threaded
 * OpenBLAS while the pool runs, one threaded call for a whole-matrix product (cpu_sgemm, i.e.
 * the convolutions), and the parking of OpenBLAS's workers after such a call.
 *
 * Why park: a worker of the pthreads build of OpenBLAS (driver/others/blas_server.c) polls its
 * queue with sched_yield() for OPENBLAS_THREAD_TIMEOUT (default 2^28 TSC ticks, ~0.1 s on this
 * 2.6 GHz machine; read once, at library load) after every job before it sleeps. After a
 * threaded conv GEMM that worker shares a core with our pool's threads, which run the next ops
 * (im2col, norms, activations, the next conv's tiles). blas_thread_shutdown_() (exported by
 * every pthreads libopenblas0; the library's own fork handler) joins the workers; the next
 * threaded call starts them again (blas_thread_init, the same count), so the partitioning of a
 * product, and with it every output bit, is what it was. Measured on 2 cores:
 * bench/thread_rule.c (the cost of the spin and of a restart) and docs/ARCHITECTURE.md.
 *
 * Order matters: openblas_set_num_threads() re-creates the workers when they are parked (its
 * after-fork re-init), so the count is restored first and the workers are parked after.
 * The symbol is looked up at run time (dlsym), and only for the pthreads build
 * (openblas_get_parallel() == 1): the OpenMP build's workers belong to libgomp (its shutdown
 * only frees buffers) and the serial build has none. Without it nothing is parked; that is
 * logged once per process, at info level.
 *
 * Thread-safety: OpenBLAS's thread count is process-wide. Threaded regions (begin .. end) are
 * serialised by one process-wide mutex, and the workers are parked only while a single CPU
 * backend is alive: engines may run on different threads (ltx.h), and another backend's BLAS
 * call in flight on a worker being joined would never complete.
 * No reference counterpart (PyTorch sets its own intra-op pool and leaves BLAS to it).
 */
#include "backend/cpu/cpu_blas_threads.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef int (*park_fn)(void);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static park_fn g_park;           /* NULL: nothing to park, or not found */
static const char *g_why = NULL; /* why g_park is NULL, for the one log line */
static atomic_int g_backends;    /* live CPU backends in this process */
/* One threaded region (begin .. end, park included) at a time in the process. */
static pthread_mutex_t g_region = PTHREAD_MUTEX_INITIALIZER;

static void resolve_park(void)
{
    int par = openblas_get_parallel(); /* 0 serial, 1 pthreads, 2 OpenMP */
    if (par != 1) {
        g_why = par == 0 ? "OpenBLAS is the serial build (no workers)"
                         : "OpenBLAS is the OpenMP build (libgomp owns its workers)";
        return;
    }
    g_park = (park_fn)dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (!g_park) g_why = "this OpenBLAS does not export blas_thread_shutdown_";
}

void cpu_blas_threads_attach(const ltx_log *log)
{
    static atomic_bool logged;
    pthread_once(&g_once, resolve_park);
    atomic_fetch_add(&g_backends, 1);
    if (!g_park && !atomic_exchange(&logged, true))
        LTX_INFO(log, "cpu: OpenBLAS workers are not parked after threaded calls: %s", g_why);
}

void cpu_blas_threads_detach(void)
{
    atomic_fetch_sub(&g_backends, 1);
}

int cpu_blas_threads_begin(int n)
{
    pthread_mutex_lock(&g_region);
    int saved = openblas_get_num_threads();
    if (saved != n) openblas_set_num_threads(n);
    return saved;
}

void cpu_blas_threads_end(int n, int saved)
{
    if (saved != n) { /* else OpenBLAS was already threaded: leave it as it was */
        openblas_set_num_threads(saved);
        /* another backend may run BLAS calls on its own threads at any time: park only when
         * this is the only one (a worker told to exit mid-job would never finish it) */
        if (g_park && saved == 1 && atomic_load(&g_backends) == 1) g_park();
    }
    pthread_mutex_unlock(&g_region);
}
