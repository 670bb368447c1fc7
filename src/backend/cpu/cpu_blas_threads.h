/*
 * cpu_blas_threads.h — OpenBLAS's thread count around one threaded call, and the parking of
 * its workers afterwards (cpu_blas_threads.c has the why and the measurements).
 */
#ifndef LTX_BACKEND_CPU_BLAS_THREADS_H
#define LTX_BACKEND_CPU_BLAS_THREADS_H

#include "core/log.h"

/* Registers a live CPU backend (its create calls this once; cpu_blas_threads_detach at its
 * destroy) and resolves, once per process, how to park OpenBLAS's workers; when that is not
 * possible, says why once per process on `log` (info level; NULL = silent). */
void cpu_blas_threads_attach(const ltx_log *log);
void cpu_blas_threads_detach(void);

/* Enters the process's one threaded-BLAS region (a mutex) and sets OpenBLAS to n threads for
 * the calls that follow; returns the count to give back to cpu_blas_threads_end. */
int cpu_blas_threads_begin(int n);

/* Gives OpenBLAS back its `saved` count (from cpu_blas_threads_begin(n)), parks its workers
 * when that count is 1 and this is the process's only CPU backend (joins them; the next
 * threaded call starts them again with the same count, so results are unchanged), and leaves
 * the region. Call from the thread that called begin. */
void cpu_blas_threads_end(int n, int saved);

#endif
