/*
 * test_util.h — small helpers shared by tests/<label>/test_*.c: a monotonic clock, the path of
 * the Gemma 3 tokenizer cache, a file-exists test, and whole-tensor checks (max |a - b|, all
 * finite).
 *
 * Header-only (static inline): each test file is its own executable (tests/CMakeLists.txt).
 * Deliberately not here: the harness itself (harness.h) and the op-test layouts and backends
 * (ops/ops_common.h). No reference counterpart.
 */
#ifndef LTX_TEST_UTIL_H
#define LTX_TEST_UTIL_H

#include "core/tensor.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Wall-clock seconds (monotonic); only differences are meaningful. */
static inline double tu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* True when path names an existing file or folder. */
static inline bool tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* <repo>/.cache/tokenizer-gemma3/tokenizer.json, <repo> = LTX_TEST_DATA minus "/tests/data"
 * (scripts/setup.sh puts the tokenizer there). Writes at most cap bytes into out. */
static inline void tu_tokenizer_path(char *out, size_t cap)
{
    const char *data = LTX_TEST_DATA;
    size_t n = strlen(data), suf = strlen("/tests/data");
    if (n >= suf && strcmp(data + n - suf, "/tests/data") == 0) n -= suf;
    snprintf(out, cap, "%.*s/.cache/tokenizer-gemma3/tokenizer.json", (int)n, data);
}

/* max |a - b| over all elements, read back as f32 (any backend, any dtype). INFINITY when a
 * or b is NULL, their element counts differ or a read-back fails; a NaN on either side gives
 * NaN (so `max_abs_diff(...) < tol` fails on NaN). */
static inline double tu_max_abs_diff(const ltx_tensor *a, const ltx_tensor *b)
{
    if (!a || !b || ltx_tensor_numel(a) != ltx_tensor_numel(b)) return INFINITY;
    float *x = ltx_tensor_to_host_f32(a), *y = ltx_tensor_to_host_f32(b);
    double m = x && y ? 0.0 : INFINITY;
    for (int64_t i = 0; x && y && i < ltx_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    free(x);
    free(y);
    return m;
}

/* True when every element of t is finite; false for NULL or a failed read-back. */
static inline bool tu_all_finite(const ltx_tensor *t)
{
    float *v = t ? ltx_tensor_to_host_f32(t) : NULL;
    if (!v) return false;
    bool ok = true;
    for (int64_t i = 0; i < ltx_tensor_numel(t); i++)
        ok = ok && isfinite(v[i]);
    free(v);
    return ok;
}

#endif
