/*
 * bench_util.h — timing helpers shared by the programs in bench/: monotonic and process-CPU
 * clocks in seconds, the median of a sample of timings, and a resident-memory sampler.
 *
 * Header-only (static inline) so that each bench stays one translation unit (bench/CMakeLists.txt
 * builds every .c file in bench/ as its own program). Deliberately not here: workload generators
 * and baselines — each bench writes its own method at its top and keeps its inputs visible there.
 * No reference counterpart.
 */
#ifndef LTX_BENCH_UTIL_H
#define LTX_BENCH_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The real Gemma 3 tokenizer that setup puts in <repo>/.cache (LTX_TEST_DATA is <repo>/tests/data).
 */
static inline void bench_tokenizer_path(char *out, size_t cap)
{
    const char *data = LTX_TEST_DATA;
    size_t n = strlen(data), suf = strlen("/tests/data");
    if (n >= suf && strcmp(data + n - suf, "/tests/data") == 0) n -= suf;
    snprintf(out, cap, "%.*s/.cache/tokenizer-gemma3/tokenizer.json", (int)n, data);
}

/* ---- resident-memory sampler ----
 * A thread reads /proc/self/status every 2 ms: RssAnon (memory outside mapped files) and
 * RssAnon + RssFile (mapped file pages too); peaks kept. Start with pthread_create(&th, NULL,
 * sampler_main, &s), stop with atomic_store(&s.stop, 1) and pthread_join. */

typedef struct sampler {
    atomic_int stop;
    atomic_long peak_anon_kb, peak_total_kb; /* total = anon + file */
} sampler;

static inline void read_rss(long *anon, long *file)
{
    *anon = *file = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "RssAnon:", 8)) *anon = atol(line + 8);
        if (!strncmp(line, "RssFile:", 8)) *file = atol(line + 8);
    }
    fclose(f);
}

static inline void sample_once(sampler *s)
{
    long a, f;
    read_rss(&a, &f);
    if (a > atomic_load(&s->peak_anon_kb)) atomic_store(&s->peak_anon_kb, a);
    if (a + f > atomic_load(&s->peak_total_kb)) atomic_store(&s->peak_total_kb, a + f);
}

static inline void *sampler_main(void *arg)
{
    sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        sample_once(s);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

#endif
