/*
 * bench_util.h — timing helpers shared by the programs in bench/: monotonic and process-CPU
 * clocks in seconds, and the median of a sample of timings.
 *
 * Header-only (static inline) so that each bench stays one translation unit (bench/CMakeLists.txt
 * builds every .c file in bench/ as its own program). Deliberately not here: workload generators
 * and baselines — each bench writes its own method at its top and keeps its inputs visible there.
 * No reference counterpart.
 */
#ifndef LTX_BENCH_UTIL_H
#define LTX_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Seconds on clock `id` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...). */
static inline double bench_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall-clock seconds (monotonic); only differences are meaningful. */
static inline double bench_now(void)
{
    return bench_clock(CLOCK_MONOTONIC);
}

/* CPU seconds used by all threads of this process. */
static inline double bench_cpu_now(void)
{
    return bench_clock(CLOCK_PROCESS_CPUTIME_ID);
}

/* qsort comparator for doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (n >= 1; the mean of the middle two when n is even). Sorts v in place. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
