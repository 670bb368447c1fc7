/*
 * ops_common.h — helpers shared by tests/ops/test_ops_*.c: backends to test on ("cpu" with a
 * 2-thread pool, "cpu" serial, "cpu-restricted" with a pool), a deterministic RNG, and test
 * tensors in non-contiguous layouts whose logical values are known on the host in double.
 *
 * Host values are read back only through ltx_tensor_download (legal on cpu-restricted) and
 * inputs are created only through ltx_tensor_from_host + views, so every test runs unchanged on
 * both CPU flavours.
 */
#ifndef LTX_TEST_OPS_COMMON_H
#define LTX_TEST_OPS_COMMON_H

#include "backend/backend.h"
#include "core/threadpool.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

/* Devices under test: by default the three CPU configurations below; LTX_TEST_DEVICE=name
 * (e.g. "cuda", "cpu-restricted") runs every test on that one device instead, in the precision
 * LTX_TEST_PRECISION (f32 default, or bf16). A device that cannot open because it is absent
 * (no CUDA device) makes the test exit 77, which ctest reports as skipped (SKIP_RETURN_CODE). */
#define NCFG tcfg_count()
typedef struct tcfg {
    ltx_backend *be;
    ltx_threadpool *pool;
    const char *name;
    bool exact; /* CPU: fused and composed ops must agree bit for bit */
} tcfg;

static inline const char *tcfg_env_device(void)
{
    const char *d = getenv("LTX_TEST_DEVICE");
    return d && *d ? d : NULL;
}

/* Relative tolerance (of sum |terms|) for the GEMM-like ops (linear, matmul, attention, conv):
 * 1e-5 in f32; in LTX_TEST_PRECISION=bf16 the inputs are rounded to bf16 (relative 2^-9 each,
 * so |err| <= ~2^-8 sum|terms| for a product sum; attention also moves the softmax weights by
 * the rounded scores), so 3e-2 (docs/NUMERICS.md "Backend v2"). */
static inline double tcfg_gemm_rtol(void)
{
    const char *p = getenv("LTX_TEST_PRECISION");
    return p && !strcmp(p, "bf16") ? 3e-2 : 1e-5;
}

static inline int tcfg_count(void)
{
    return tcfg_env_device() ? 1 : 3;
}

static inline tcfg tcfg_open(int i)
{
    tcfg c = {0};
    const char *dev = tcfg_env_device();
    if (dev) {
        c.pool = ltx_threadpool_create(2);
        c.name = dev;
        if (ltx_backend_create(dev, NULL, c.pool, false, &c.be) != LTX_OK) {
            printf("SKIP: device %s unavailable: %s\n", dev, ltx_err_message());
            exit(77);
        }
        const char *p = getenv("LTX_TEST_PRECISION");
        if (p && !ltx_precision_parse(p, &c.be->precision)) abort();
        c.exact = !strncmp(dev, "cpu", 3);
        return c;
    }
    bool restricted = i == 2;
    if (i != 1) c.pool = ltx_threadpool_create(2);
    c.name = i == 0 ? "cpu+pool" : i == 1 ? "cpu serial" : "cpu-restricted+pool";
    if (ltx_cpu_backend_create(restricted, NULL, c.pool, &c.be) != LTX_OK) abort();
    c.exact = true;
    return c;
}

static inline void tcfg_close(tcfg *c)
{
    ltx_backend_destroy(c->be);
    ltx_threadpool_destroy(c->pool);
}

/* xorshift64* in [-1, 1) */
static inline double trand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ull;
    return (double)(r >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static inline int64_t numel_of(int nd, const int64_t *sh)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= sh[i];
    return n;
}

/* A test input: tensor t (a view, possibly strided) and its logical values v (row-major over
 * t's shape, double). */
typedef struct tin {
    ltx_tensor *t;
    double *v;
} tin;

enum { LAY_CONTIG, LAY_SLICED, LAY_PERMUTED, LAY_BOTH, LAY_COUNT };

/* Reads the logical values of view t from the host copy `base` of its buffer (f64 values). */
static inline void view_values(const ltx_tensor *t, const double *base, double *out)
{
    int64_t n = ltx_tensor_numel(t), idx[LTX_MAX_DIMS] = {0};
    for (int64_t e = 0; e < n; e++) {
        int64_t off = t->offset;
        for (int d = 0; d < t->ndim; d++)
            off += idx[d] * t->stride[d];
        out[e] = base[off];
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
}

/* Makes a tensor of logical shape `sh` in layout `lay`, dtype dt (values rounded to dt), with
 * random values in [lo, hi). */
static inline tin tin_make(ltx_backend *be, ltx_dtype dt, int nd, const int64_t *sh, int lay,
                           double lo, double hi, uint64_t *rng)
{
    int64_t bs[LTX_MAX_DIMS];
    int perm[LTX_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        bs[i] = sh[i];
    bool sliced = (lay == LAY_SLICED || lay == LAY_BOTH) && nd > 0;
    bool permuted = (lay == LAY_PERMUTED || lay == LAY_BOTH) && nd > 1;
    if (sliced) {
        if (nd > 1) bs[0] += 1;
        bs[nd - 1] = 2 * bs[nd - 1] + 1;
    }
    int64_t ps[LTX_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        perm[i] = permuted ? nd - 1 - i : i;
        ps[i] = bs[perm[i]];
    }
    int64_t n = numel_of(nd, ps);
    double *base = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        double x = lo + (hi - lo) * (trand(rng) * 0.5 + 0.5);
        float f;
        uint16_t h;
        switch (dt) {
        case LTX_F64:
            break;
        case LTX_BF16:
            h = ltx_f32_to_bf16((float)x);
            x = ltx_bf16_to_f32(h);
            break;
        case LTX_F16:
            h = ltx_f32_to_f16((float)x);
            x = ltx_f16_to_f32(h);
            break;
        default:
            f = (float)x;
            x = f;
        }
        base[i] = x;
    }
    ltx_tensor *b = ltx_tensor_new(be, dt, nd, ps);
    if (!b || ltx_tensor_upload(b, base, LTX_F64) != LTX_OK) abort();
    ltx_tensor *v = permuted ? ltx_tensor_permute(b, perm) : ltx_tensor_view(b);
    ltx_tensor_free(b);
    if (sliced) {
        ltx_tensor *s1 = ltx_tensor_slice(v, 0, nd > 1 ? 1 : 0, v->shape[0], 1);
        ltx_tensor *s2 = ltx_tensor_slice(s1, nd - 1, 1, s1->shape[nd - 1], 2);
        ltx_tensor_free(v);
        ltx_tensor_free(s1);
        v = s2;
    }
    for (int i = 0; i < nd; i++)
        if (v->shape[i] != sh[i]) abort();
    tin r = {v, malloc(sizeof(double) * (size_t)(numel_of(nd, sh) + 1))};
    view_values(v, base, r.v);
    free(base);
    return r;
}

static inline void tin_free(tin *x)
{
    ltx_tensor_free(x->t);
    free(x->v);
    x->t = NULL;
    x->v = NULL;
}

/* Downloads t as double (malloc'd). */
static inline double *tdown(const ltx_tensor *t)
{
    double *o = malloc(sizeof(double) * (size_t)(ltx_tensor_numel(t) + 1));
    if (ltx_tensor_download(t, o, LTX_F64) != LTX_OK) abort();
    return o;
}

/* Max of |a-b| / (atol + rtol |b|) over n values (<= 1 passes). */
static inline double err_ratio(const double *a, const double *b, int64_t n, double atol,
                               double rtol)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e;
        if (isnan(b[i]) || isnan(a[i]))
            e = (isnan(a[i]) && isnan(b[i])) ? 0 : INFINITY;
        else if (isinf(b[i]))
            e = a[i] == b[i] ? 0 : INFINITY;
        else
            e = fabs(a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* Index helpers: row-major offset of idx in shape, with size-1 dims broadcasting (right-aligned
 * operand of rank nd_op inside a result of rank nd). */
static inline int64_t bcast_off(int nd, const int64_t *idx, int nd_op, const int64_t *sh_op)
{
    int64_t off = 0;
    for (int d = 0; d < nd_op; d++) {
        int64_t i = sh_op[d] == 1 ? 0 : idx[nd - nd_op + d];
        off = off * sh_op[d] + i;
    }
    return off;
}

static inline bool next_idx(int nd, const int64_t *sh, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < sh[d]) return true;
        idx[d] = 0;
    }
    return false;
}

#endif
