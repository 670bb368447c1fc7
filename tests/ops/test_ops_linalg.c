/*
 * test_ops_linalg.c — linear, matmul, softmax and attention against naive double-precision loops,
 * on "cpu" and "cpu-restricted" (a 2-thread pool) and on "cpu" without a pool.
 *
 * Inputs are random; shapes are odd-sized and include non-contiguous views (permuted, sliced,
 * transposed, stride-0 expanded), broadcast batch dims, GQA, masks with stride 0, Tk beyond one
 * key block and not a multiple of it, Tq = 1, every weight dtype (f32/bf16/f16/fp8 e4m3/e5m2,
 * w_scale), bias dtypes. Data reaches the device only through ltx_tensor_from_host and comes back
 * through ltx_tensor_download; the reference reads the same host values through each view's
 * offset and strides.
 * Tolerance: |got - ref| <= 1e-5 * (sum of |terms| of the reference sum) + 1e-6, i.e. f32
 * round-off relative to the magnitude of what is accumulated.
 */
#include "harness.h"
#include "ops_common.h"

#include "backend/backend.h"
#include "core/threadpool.h"

#include <stdint.h>

/* ---- fixtures ---------------------------------------------------------------------------------
 */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(void) /* uniform in [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* A device tensor and the f32 values of its whole buffer on the host (exact widening of the
 * stored values), so views can be read back through their strides. */
typedef struct htensor {
    ltx_tensor *t;
    float *h;
} htensor;

static htensor make(ltx_backend *be, ltx_dtype dt, int nd, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    htensor r = {NULL, malloc((size_t)n * sizeof(float) + 4)};
    unsigned char *raw = malloc((size_t)n * 8 + 8);
    for (int64_t i = 0; i < n; i++) {
        float f = frand();
        ltx_convert(raw + i * ltx_dtype_size(dt), dt, &f, LTX_F32, 1);
        ltx_convert(&r.h[i], LTX_F32, raw + i * ltx_dtype_size(dt), dt, 1);
    }
    r.t = ltx_tensor_from_host(be, dt, nd, shape, raw);
    free(raw);
    return r;
}

static void hfree(htensor *h)
{
    ltx_tensor_free(h->t);
    free(h->h);
}

/* Value of view v (over h's buffer) at a full index. */
static double at(const htensor *h, const ltx_tensor *v, const int64_t *idx)
{
    int64_t off = v->offset;
    for (int i = 0; i < v->ndim; i++)
        off += idx[i] * v->stride[i];
    return h->h[off];
}

static double at2(const htensor *h, const ltx_tensor *v, int64_t i, int64_t j)
{
    int64_t idx[LTX_MAX_DIMS] = {i, j};
    return at(h, v, idx);
}

static float *download(const ltx_tensor *t)
{
    float *o = malloc(ltx_tensor_numel(t) * sizeof(float) + 4);
    CHECK(ltx_tensor_download(t, o, LTX_F32) == LTX_OK);
    return o;
}

typedef struct env {
    ltx_threadpool *pool;
    ltx_backend *be[3];
    const char *name[3];
} env;

static env env_open(void)
{
    env e = {ltx_threadpool_create(2), {NULL}, {"cpu+pool", "cpu-restricted+pool", "cpu"}};
    if (tcfg_env_device()) { /* LTX_TEST_DEVICE: every slot is that device (exit 77 if absent) */
        tcfg c = tcfg_open(0);
        ltx_threadpool_destroy(e.pool);
        e.pool = c.pool;
        for (int i = 0; i < 3; i++) {
            e.be[i] = c.be;
            e.name[i] = c.name;
        }
        return e;
    }
    CHECK(ltx_cpu_backend_create(false, NULL, e.pool, &e.be[0]) == LTX_OK);
    CHECK(ltx_cpu_backend_create(true, NULL, e.pool, &e.be[1]) == LTX_OK);
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &e.be[2]) == LTX_OK);
    return e;
}

static void env_close(env *e)
{
    for (int i = 0; i < 3; i++)
        if (i == 0 || e->be[i] != e->be[0]) ltx_backend_destroy(e->be[i]);
    ltx_threadpool_destroy(e->pool);
}

/* Compares got vs ref with per-element bound tol[i]; reports the worst element. */
static void compare(const char *what, const char *dev, const float *got, const double *ref,
                    const double *mag, int64_t n)
{
    int64_t bad = 0, worst = 0;
    double wr = 0;
    for (int64_t i = 0; i < n; i++) {
        double tol = tcfg_gemm_rtol() * mag[i] + 1e-6, err = fabs((double)got[i] - ref[i]);
        bool ok = (isnan(ref[i]) && isnan(got[i])) || err <= tol;
        if (!ok) bad++;
        double r = isnan(err) ? 1e30 : err / tol;
        if (r > wr) wr = r, worst = i;
    }
    CHECK_MSG(bad == 0,
              "%s on %s: %lld of %lld elements off; worst [%lld] got %.9g ref %.9g "
              "(err/tol %.3g)",
              what, dev, (long long)bad, (long long)n, (long long)worst, got[worst], ref[worst],
              wr);
}

/* ---- linear -----------------------------------------------------------------------------------
 */

/* x: f32 (lead..., K) view; w: (N, K) view over wh; bias over bh (or NULL). */
static void check_linear(ltx_backend *be, const char *dev, const char *what, const htensor *xh,
                         const ltx_tensor *x, const htensor *wh, const ltx_tensor *w,
                         const htensor *bh, float scale)
{
    int64_t N = w->shape[0], K = w->shape[1];
    int64_t M = ltx_tensor_numel(x) / K;
    int64_t ys[LTX_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++)
        ys[i] = x->shape[i];
    ys[x->ndim - 1] = N;
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, x->ndim, ys);
    ltx_status s = be->ops->linear(be, y, x, w, bh ? bh->t : NULL, scale);
    CHECK_MSG(s == LTX_OK, "%s on %s: %s", what, dev, ltx_err_message());
    float *got = download(y);
    double *ref = malloc((size_t)(M * N) * sizeof(double)), *mag = malloc((size_t)(M * N) * 8);
    int64_t idx[LTX_MAX_DIMS] = {0};
    for (int64_t m = 0; m < M; m++) {
        int64_t rem = m;
        for (int d = x->ndim - 2; d >= 0; d--)
            idx[d] = rem % x->shape[d], rem /= x->shape[d];
        for (int64_t n = 0; n < N; n++) {
            double acc = bh ? bh->h[bh->t->offset + n] : 0.0, ab = fabs(acc);
            for (int64_t k = 0; k < K; k++) {
                idx[x->ndim - 1] = k;
                double wv = (double)(float)((float)at2(wh, w, n, k) * scale);
                acc += at(xh, x, idx) * wv;
                ab += fabs(at(xh, x, idx) * wv);
            }
            ref[m * N + n] = acc;
            mag[m * N + n] = ab;
        }
    }
    compare(what, dev, got, ref, mag, M * N);
    free(got);
    free(ref);
    free(mag);
    ltx_tensor_free(y);
}

TEST(linear_weight_dtypes)
{
    env e = env_open();
    const ltx_dtype wdt[] = {LTX_F32, LTX_BF16, LTX_F16, LTX_F8E4M3, LTX_F8E5M2};
    const float scales[] = {1.0f, 1.0f, 1.0f, 0.37f, 2.5f};
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 5; t++) {
            ltx_backend *be = e.be[b];
            int64_t xs[3] = {2, 19, 67}, ws[2] = {45, 67}, bs[1] = {45};
            htensor x = make(be, LTX_F32, 3, xs), w = make(be, wdt[t], 2, ws);
            htensor bias = make(be, t == 1 ? LTX_BF16 : LTX_F32, 1, bs);
            char what[64];
            snprintf(what, sizeof what, "linear w=%s", ltx_dtype_name(wdt[t]));
            check_linear(be, e.name[b], what, &x, x.t, &w, w.t, &bias, scales[t]);
            snprintf(what, sizeof what, "linear w=%s nobias", ltx_dtype_name(wdt[t]));
            check_linear(be, e.name[b], what, &x, x.t, &w, w.t, NULL, scales[t]);
            hfree(&x);
            hfree(&w);
            hfree(&bias);
        }
    env_close(&e);
}

TEST(linear_strided_and_panels)
{
    env e = env_open();
    for (int b = 0; b < 3; b++) {
        ltx_backend *be = e.be[b];
        const char *dev = e.name[b];
        /* x rows strided evenly: slice of the last dim of (33, 2K) -> ld = 2K, no copy. */
        int64_t xs[2] = {33, 2 * 51}, ws[2] = {29, 51};
        htensor xb = make(be, LTX_F32, 2, xs), w = make(be, LTX_BF16, 2, ws);
        ltx_tensor *xv = ltx_tensor_slice(xb.t, 1, 10, 61, 1);
        check_linear(be, dev, "linear x sliced", &xb, xv, &w, w.t, NULL, 1.0f);
        ltx_tensor_free(xv);
        /* x transposed (K, M) -> (M, K): last stride != 1 -> copy. */
        int64_t xt[2] = {51, 23};
        htensor xtb = make(be, LTX_F32, 2, xt);
        ltx_tensor *xtv = ltx_tensor_transpose(xtb.t, 0, 1);
        check_linear(be, dev, "linear x transposed", &xtb, xtv, &w, w.t, NULL, 1.0f);
        ltx_tensor_free(xtv);
        /* 3-D x whose leading dims do not flatten: (A, B, K) permuted to (B, A, K). */
        int64_t x3[3] = {3, 7, 51};
        htensor x3b = make(be, LTX_F32, 3, x3);
        int perm[3] = {1, 0, 2};
        ltx_tensor *x3v = ltx_tensor_permute(x3b.t, perm);
        check_linear(be, dev, "linear x permuted", &x3b, x3v, &w, w.t, NULL, 1.0f);
        /* w transposed storage (K, N) -> (N, K), f32 and bf16; f32 with a scale. */
        int64_t wt[2] = {51, 29};
        htensor wtf = make(be, LTX_F32, 2, wt), wtb = make(be, LTX_BF16, 2, wt);
        ltx_tensor *wtfv = ltx_tensor_transpose(wtf.t, 0, 1),
                   *wtbv = ltx_tensor_transpose(wtb.t, 0, 1);
        check_linear(be, dev, "linear w^T f32", &x3b, x3v, &wtf, wtfv, NULL, 1.0f);
        check_linear(be, dev, "linear w^T bf16", &x3b, x3v, &wtb, wtbv, NULL, 1.0f);
        check_linear(be, dev, "linear w f32 scaled", &x3b, x3v, &wtf, wtfv, NULL, 0.5f);
        ltx_tensor_free(x3v);
        ltx_tensor_free(wtfv);
        ltx_tensor_free(wtbv);
        /* Many panels with a remainder: K large enough that a panel holds < N rows. */
        int64_t xk[2] = {5, 9000}, wk[2] = {301, 9000}, bk[1] = {301};
        htensor xkb = make(be, LTX_F32, 2, xk), wkb = make(be, LTX_F16, 2, wk);
        htensor bkb = make(be, LTX_F16, 1, bk);
        check_linear(be, dev, "linear panels f16", &xkb, xkb.t, &wkb, wkb.t, &bkb, 1.0f);
        /* Enough rows to be tiled over the pool (f32 weight in place, and a bf16 panel). */
        int64_t xm[3] = {2, 350, 130}, wm[2] = {90, 130}, bm[1] = {90};
        htensor xmh = make(be, LTX_F32, 3, xm), wmf = make(be, LTX_F32, 2, wm),
                wmb = make(be, LTX_BF16, 2, wm), bmh = make(be, LTX_F32, 1, bm);
        check_linear(be, dev, "linear tiled f32", &xmh, xmh.t, &wmf, wmf.t, &bmh, 1.0f);
        check_linear(be, dev, "linear tiled bf16", &xmh, xmh.t, &wmb, wmb.t, &bmh, 1.0f);
        hfree(&xmh);
        hfree(&wmf);
        hfree(&wmb);
        hfree(&bmh);
        /* M = 1 (a single token). */
        ltx_tensor *x1 = ltx_tensor_slice(xkb.t, 0, 2, 3, 1);
        check_linear(be, dev, "linear M=1", &xkb, x1, &wkb, wkb.t, &bkb, 1.0f);
        ltx_tensor_free(x1);
        hfree(&xb);
        hfree(&w);
        hfree(&xtb);
        hfree(&x3b);
        hfree(&wtf);
        hfree(&wtb);
        hfree(&xkb);
        hfree(&wkb);
        hfree(&bkb);
    }
    env_close(&e);
}

TEST(linear_rejects_bad_shapes)
{
    env e = env_open();
    ltx_backend *be = e.be[0];
    int64_t xs[2] = {4, 8}, ws[2] = {5, 9}, ys[2] = {4, 5};
    htensor x = make(be, LTX_F32, 2, xs), w = make(be, LTX_BF16, 2, ws);
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 2, ys);
    CHECK(be->ops->linear(be, y, x.t, w.t, NULL, 1.0f) == LTX_ERR_INVALID_ARG);
    ltx_tensor_free(y);
    hfree(&x);
    hfree(&w);
    env_close(&e);
}

/* ---- matmul -----------------------------------------------------------------------------------
 */

static void check_matmul(ltx_backend *be, const char *dev, const char *what, const htensor *ah,
                         const ltx_tensor *a, const htensor *bh, const ltx_tensor *b, bool ta,
                         bool tb, float alpha, int nd, const int64_t *cshape)
{
    ltx_tensor *c = ltx_tensor_new(be, LTX_F32, nd, cshape);
    ltx_status s = be->ops->matmul(be, c, a, b, ta, tb, alpha);
    CHECK_MSG(s == LTX_OK, "%s on %s: %s", what, dev, ltx_err_message());
    float *got = download(c);
    int64_t n = ltx_tensor_numel(c), M = cshape[nd - 2], N = cshape[nd - 1];
    int64_t K = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    double *ref = malloc((size_t)n * 8), *mag = malloc((size_t)n * 8);
    for (int64_t e = 0; e < n; e++) {
        int64_t ci[LTX_MAX_DIMS], rem = e;
        for (int d = nd - 1; d >= 0; d--)
            ci[d] = rem % cshape[d], rem /= cshape[d];
        int64_t ai[LTX_MAX_DIMS] = {0}, bi[LTX_MAX_DIMS] = {0};
        for (int d = 0; d < a->ndim - 2; d++) {
            int cd = d + (nd - a->ndim);
            ai[d] = a->shape[d] == 1 ? 0 : ci[cd];
        }
        for (int d = 0; d < b->ndim - 2; d++) {
            int cd = d + (nd - b->ndim);
            bi[d] = b->shape[d] == 1 ? 0 : ci[cd];
        }
        int64_t m = ci[nd - 2], nn = ci[nd - 1];
        double acc = 0, ab = 0;
        for (int64_t k = 0; k < K; k++) {
            ai[a->ndim - 2] = ta ? k : m;
            ai[a->ndim - 1] = ta ? m : k;
            bi[b->ndim - 2] = tb ? nn : k;
            bi[b->ndim - 1] = tb ? k : nn;
            double p = at(ah, a, ai) * at(bh, b, bi);
            acc += p;
            ab += fabs(p);
        }
        ref[e] = alpha * acc;
        mag[e] = fabs(alpha) * ab;
    }
    (void)M;
    (void)N;
    compare(what, dev, got, ref, mag, n);
    free(got);
    free(ref);
    free(mag);
    ltx_tensor_free(c);
}

TEST(matmul_layouts_and_broadcast)
{
    env e = env_open();
    for (int bi = 0; bi < 3; bi++) {
        ltx_backend *be = e.be[bi];
        const char *dev = e.name[bi];
        /* plain 2-D, odd sizes */
        int64_t as[2] = {17, 23}, bs[2] = {23, 13}, cs[2] = {17, 13};
        htensor a = make(be, LTX_F32, 2, as), b = make(be, LTX_F32, 2, bs);
        check_matmul(be, dev, "matmul 2d", &a, a.t, &b, b.t, false, false, 1.0f, 2, cs);
        /* trans flags on contiguous data, and transposed-storage views */
        int64_t cs2[2] = {23, 23};
        check_matmul(be, dev, "matmul a^T a", &a, a.t, &a, a.t, true, false, 0.5f, 2, cs2);
        ltx_tensor *bt = ltx_tensor_transpose(b.t, 0, 1); /* (13, 23) view */
        check_matmul(be, dev, "matmul b view^T", &a, a.t, &b, bt, false, true, 1.0f, 2, cs);
        ltx_tensor *at_ = ltx_tensor_transpose(a.t, 0, 1); /* (23, 17) view, used with ta */
        check_matmul(be, dev, "matmul (a^T view)^T", &a, at_, &b, b.t, true, false, 2.0f, 2, cs);
        ltx_tensor_free(bt);
        ltx_tensor_free(at_);
        /* big enough to be tiled over the pool, with both trans flags and a transposed view */
        int64_t ak[2] = {50, 300}, bn[2] = {50, 200}, cmn[2] = {300, 200};
        htensor akh = make(be, LTX_F32, 2, ak), bnh = make(be, LTX_F32, 2, bn);
        ltx_tensor *bnv = ltx_tensor_transpose(bnh.t, 0, 1); /* (200, 50) */
        check_matmul(be, dev, "matmul tiled a^T b", &akh, akh.t, &bnh, bnh.t, true, false, 1.5f, 2,
                     cmn);
        check_matmul(be, dev, "matmul tiled a^T (b view)^T", &akh, akh.t, &bnh, bnv, true, true,
                     1.0f, 2, cmn);
        int64_t c1n[2] = {1, 200};
        ltx_tensor *a1 = ltx_tensor_slice(akh.t, 1, 7, 8, 1); /* (50, 1): M = 1 */
        check_matmul(be, dev, "matmul tiled M=1", &akh, a1, &bnh, bnh.t, true, false, 1.0f, 2, c1n);
        ltx_tensor_free(a1);
        ltx_tensor_free(bnv);
        hfree(&akh);
        hfree(&bnh);
        /* batch broadcast: a (2, 1, 9, 11), b (3, 11, 7) -> c (2, 3, 9, 7) */
        int64_t a4[4] = {2, 1, 9, 11}, b3[3] = {3, 11, 7}, c4[4] = {2, 3, 9, 7};
        htensor a4h = make(be, LTX_F32, 4, a4), b3h = make(be, LTX_F32, 3, b3);
        check_matmul(be, dev, "matmul broadcast", &a4h, a4h.t, &b3h, b3h.t, false, false, 1.0f, 4,
                     c4);
        /* many small batches (pool path) with a strided (copy) operand: stride-2 slices */
        int64_t ab[3] = {40, 12, 2 * 10}, bb[3] = {40, 2 * 10, 6}, cb[3] = {40, 12, 6};
        htensor abh = make(be, LTX_F32, 3, ab), bbh = make(be, LTX_F32, 3, bb);
        ltx_tensor *av = ltx_tensor_slice(abh.t, 2, 0, 20, 2);  /* (40, 12, 10), col stride 2 */
        ltx_tensor *bv0 = ltx_tensor_slice(bbh.t, 1, 1, 20, 2); /* (40, 10, 6), row stride 12 */
        check_matmul(be, dev, "matmul strided batches", &abh, av, &bbh, bv0, false, false, 1.0f, 3,
                     cb);
        /* b broadcast via expand (stride 0 batch) */
        int64_t eb[3] = {40, 10, 6};
        ltx_tensor *b1 = ltx_tensor_slice(bv0, 0, 3, 4, 1);
        ltx_tensor *bexp = ltx_tensor_expand(b1, 3, eb);
        check_matmul(be, dev, "matmul expanded b", &abh, av, &bbh, bexp, false, false, 1.0f, 3, cb);
        ltx_tensor_free(av);
        ltx_tensor_free(bv0);
        ltx_tensor_free(b1);
        ltx_tensor_free(bexp);
        hfree(&a);
        hfree(&b);
        hfree(&a4h);
        hfree(&b3h);
        hfree(&abh);
        hfree(&bbh);
    }
    env_close(&e);
}

/* ---- softmax ----------------------------------------------------------------------------------
 */

TEST(softmax_rows)
{
    env e = env_open();
    for (int bi = 0; bi < 3; bi++) {
        ltx_backend *be = e.be[bi];
        int64_t s[3] = {3, 29, 41};
        /* values x 8 with some -inf and one all -inf row (NaN like torch.softmax) */
        int64_t n = 3 * 29 * 41;
        float *h = malloc((size_t)n * 4);
        for (int64_t i = 0; i < n; i++)
            h[i] = 8.0f * frand();
        for (int64_t i = 0; i < n; i += 7)
            h[i] = -INFINITY;
        for (int64_t i = 0; i < 41; i++)
            h[41 * 5 + i] = -INFINITY; /* row 5 of batch 0 */
        htensor src = {ltx_tensor_from_host(be, LTX_F32, 3, s, h), h};
        int perm[3] = {0, 2, 1}; /* strided: softmax over dim of stride 41 */
        ltx_tensor *views[2] = {ltx_tensor_view(src.t), ltx_tensor_permute(src.t, perm)};
        for (int v = 0; v < 2; v++) {
            ltx_tensor *sv = views[v];
            ltx_tensor *d = ltx_tensor_new(be, LTX_F32, 3, sv->shape);
            CHECK(be->ops->softmax(be, d, sv) == LTX_OK);
            float *got = download(d);
            int64_t L = sv->shape[2], rows = n / L;
            double *ref = malloc((size_t)n * 8), *mag = malloc((size_t)n * 8);
            for (int64_t r = 0; r < rows; r++) {
                int64_t idx[LTX_MAX_DIMS] = {r / sv->shape[1], r % sv->shape[1], 0};
                double m = -INFINITY, sum = 0;
                for (idx[2] = 0; idx[2] < L; idx[2]++)
                    m = fmax(m, at(&src, sv, idx));
                for (idx[2] = 0; idx[2] < L; idx[2]++)
                    sum += exp(at(&src, sv, idx) - m);
                for (idx[2] = 0; idx[2] < L; idx[2]++) {
                    ref[r * L + idx[2]] = exp(at(&src, sv, idx) - m) / sum;
                    mag[r * L + idx[2]] = ref[r * L + idx[2]];
                }
            }
            compare(v ? "softmax strided" : "softmax", e.name[bi], got, ref, mag, n);
            if (v == 0) CHECK(isnan(got[41 * 5]));
            free(got);
            free(ref);
            free(mag);
            ltx_tensor_free(d);
            ltx_tensor_free(sv);
        }
        hfree(&src);
    }
    env_close(&e);
}

/* ---- attention --------------------------------------------------------------------------------
 */

/* Reference SDPA in double; mask (view over mh, broadcast to (B,H,Tq,Tk)) additive f32 or
 * 0/1 boolean (ismask_bool). Fully masked rows -> 0. */
static void check_attention(ltx_backend *be, const char *dev, const char *what, const htensor *qh,
                            const ltx_tensor *q, const htensor *kh, const ltx_tensor *k,
                            const htensor *vh, const ltx_tensor *v, const htensor *mh,
                            const ltx_tensor *mask, bool mbool, float scale)
{
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3];
    int64_t Hk = k->shape[1], Tk = k->shape[2], Dv = v->shape[3];
    int64_t os[4] = {B, H, Tq, Dv};
    ltx_tensor *o = ltx_tensor_new(be, LTX_F32, 4, os);
    ltx_status s = be->ops->attention(be, o, q, k, v, mask, scale);
    CHECK_MSG(s == LTX_OK, "%s on %s: %s", what, dev, ltx_err_message());
    float *got = download(o);
    int64_t n = B * H * Tq * Dv;
    double *ref = malloc((size_t)n * 8), *mag = malloc((size_t)n * 8), *p = malloc((size_t)Tk * 8);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t hk = h / (H / Hk);
                double m = -INFINITY;
                for (int64_t j = 0; j < Tk; j++) {
                    double acc = 0;
                    for (int64_t d = 0; d < D; d++) {
                        int64_t qi[4] = {b, h, i, d}, ki[4] = {b, hk, j, d};
                        acc += at(qh, q, qi) * at(kh, k, ki);
                    }
                    acc *= scale;
                    if (mask) {
                        int64_t full[4] = {b, h, i, j}, mi[4] = {0};
                        for (int dd = 0; dd < mask->ndim; dd++) {
                            int fd = dd + 4 - mask->ndim;
                            mi[dd] = mask->shape[dd] == 1 ? 0 : full[fd];
                        }
                        double mv = at(mh, mask, mi);
                        /* the sum rounds to f32 as in any f32 SDPA (matters for -FLT_MAX) */
                        if (mbool)
                            acc = mv != 0 ? acc : -INFINITY;
                        else
                            acc = (double)((float)acc + (float)mv);
                    }
                    p[j] = acc;
                    m = fmax(m, acc);
                }
                double sum = 0;
                for (int64_t j = 0; j < Tk; j++)
                    sum += (p[j] = m == -INFINITY ? 0 : exp(p[j] - m));
                for (int64_t d = 0; d < Dv; d++) {
                    double acc = 0, ab = 0;
                    for (int64_t j = 0; j < Tk; j++) {
                        int64_t vi[4] = {b, hk, j, d};
                        double w = sum > 0 ? p[j] / sum : 0;
                        acc += w * at(vh, v, vi);
                        ab += w * fabs(at(vh, v, vi));
                    }
                    int64_t oi = ((b * H + h) * Tq + i) * Dv + d;
                    ref[oi] = acc;
                    mag[oi] = ab;
                }
            }
    compare(what, dev, got, ref, mag, n);
    free(got);
    free(ref);
    free(mag);
    free(p);
    ltx_tensor_free(o);
}

TEST(attention_plain_gqa_views)
{
    env e = env_open();
    for (int bi = 0; bi < 3; bi++) {
        ltx_backend *be = e.be[bi];
        const char *dev = e.name[bi];
        int64_t qs[4] = {2, 6, 37, 16}, ks[4] = {2, 6, 53, 16};
        htensor q = make(be, LTX_F32, 4, qs), k = make(be, LTX_F32, 4, ks),
                v = make(be, LTX_F32, 4, ks);
        check_attention(be, dev, "attn plain", &q, q.t, &k, k.t, &v, v.t, NULL, NULL, false, 0.25f);
        /* GQA: 6 query heads on 2 kv heads (slices of k/v along heads, stride kept) */
        ltx_tensor *k2 = ltx_tensor_slice(k.t, 1, 1, 3, 1), *v2 = ltx_tensor_slice(v.t, 1, 3, 5, 1);
        check_attention(be, dev, "attn gqa", &q, q.t, &k, k2, &v, v2, NULL, NULL, false, 0.25f);
        ltx_tensor_free(k2);
        ltx_tensor_free(v2);
        /* (B, T, H, D) permuted to (B, H, T, D); odd D, Dv != D, Tq = 1 */
        int64_t qt[4] = {1, 1, 3, 9}, kt[4] = {1, 70, 3, 9}, vt[4] = {1, 70, 3, 5};
        htensor qb = make(be, LTX_F32, 4, qt), kb = make(be, LTX_F32, 4, kt),
                vb = make(be, LTX_F32, 4, vt);
        int perm[4] = {0, 2, 1, 3};
        ltx_tensor *qp = ltx_tensor_permute(qb.t, perm), *kp = ltx_tensor_permute(kb.t, perm),
                   *vp = ltx_tensor_permute(vb.t, perm);
        check_attention(be, dev, "attn BTHD Tq=1", &qb, qp, &kb, kp, &vb, vp, NULL, NULL, false,
                        0.3f);
        /* last-dim stride != 1: (B, H, D, T) permuted to (B, H, T, D) -> per-block copies */
        int64_t qd[4] = {1, 2, 8, 33}, kd[4] = {1, 2, 8, 45};
        htensor qdh = make(be, LTX_F32, 4, qd), kdh = make(be, LTX_F32, 4, kd),
                vdh = make(be, LTX_F32, 4, kd);
        int pt[4] = {0, 1, 3, 2};
        ltx_tensor *qx = ltx_tensor_permute(qdh.t, pt), *kx = ltx_tensor_permute(kdh.t, pt),
                   *vx = ltx_tensor_permute(vdh.t, pt);
        check_attention(be, dev, "attn D-strided", &qdh, qx, &kdh, kx, &vdh, vx, NULL, NULL, false,
                        0.35f);
        ltx_tensor_free(qx);
        ltx_tensor_free(kx);
        ltx_tensor_free(vx);
        ltx_tensor_free(qp);
        ltx_tensor_free(kp);
        ltx_tensor_free(vp);
        hfree(&q);
        hfree(&k);
        hfree(&v);
        hfree(&qb);
        hfree(&kb);
        hfree(&vb);
        hfree(&qdh);
        hfree(&kdh);
        hfree(&vdh);
    }
    env_close(&e);
}

TEST(attention_masks_long_keys)
{
    env e = env_open();
    for (int bi = 0; bi < 3; bi++) {
        ltx_backend *be = e.be[bi];
        const char *dev = e.name[bi];
        /* Tk = 1300: several key blocks, last one partial. */
        int64_t qs[4] = {2, 2, 70, 12}, ks[4] = {2, 2, 1300, 12};
        htensor q = make(be, LTX_F32, 4, qs), k = make(be, LTX_F32, 4, ks),
                v = make(be, LTX_F32, 4, ks);
        /* scores spread wider than randoms give: scale 2 */
        check_attention(be, dev, "attn long", &q, q.t, &k, k.t, &v, v.t, NULL, NULL, false, 2.0f);
        /* key padding mask (B, 1, 1, Tk) additive: first 600 keys and every 5th -inf for b=1 */
        int64_t mshape[4] = {2, 1, 1, 1300};
        float *mh = malloc(2 * 1300 * 4);
        for (int64_t i = 0; i < 2 * 1300; i++) {
            int64_t b = i / 1300, j = i % 1300;
            mh[i] = (b == 1 && (j < 600 || j % 5 == 0)) ? -INFINITY : 0.5f * frand();
        }
        htensor m = {ltx_tensor_from_host(be, LTX_F32, 4, mshape, mh), mh};
        check_attention(be, dev, "attn key mask", &q, q.t, &k, k.t, &v, v.t, &m, m.t, false, 2.0f);
        /* one batch's row expanded over Tq with stride 0 (1, 1, Tq, Tk) */
        ltx_tensor *row = ltx_tensor_slice(m.t, 0, 1, 2, 1); /* (1,1,1,Tk) */
        int64_t ex[4] = {1, 1, 70, 1300};
        ltx_tensor *mex = ltx_tensor_expand(row, 4, ex);
        check_attention(be, dev, "attn expanded mask", &q, q.t, &k, k.t, &v, v.t, &m, mex, false,
                        2.0f);
        ltx_tensor_free(row);
        ltx_tensor_free(mex);
        /* full additive (Tq, Tk) mask, Tq = 1 */
        int64_t q1[4] = {1, 3, 1, 12}, k1[4] = {1, 3, 1100, 12}, mf[2] = {1, 1100};
        htensor q1h = make(be, LTX_F32, 4, q1), k1h = make(be, LTX_F32, 4, k1),
                v1h = make(be, LTX_F32, 4, k1), m1h = make(be, LTX_F32, 2, mf);
        check_attention(be, dev, "attn Tq=1 mask2d", &q1h, q1h.t, &k1h, k1h.t, &v1h, v1h.t, &m1h,
                        m1h.t, false, 1.0f);
        /* boolean (U8) causal-ish mask (Tq, Tk) with one fully masked row -> zeros */
        int64_t bq[4] = {1, 2, 20, 8}, bk[4] = {1, 2, 25, 8}, bm[2] = {20, 25};
        htensor bqh = make(be, LTX_F32, 4, bq), bkh = make(be, LTX_F32, 4, bk),
                bvh = make(be, LTX_F32, 4, bk);
        uint8_t mb[20 * 25];
        float *mbf = malloc(20 * 25 * 4);
        for (int i = 0; i < 20; i++)
            for (int j = 0; j < 25; j++) {
                mb[i * 25 + j] = (uint8_t)(i != 7 && j <= i + 3);
                mbf[i * 25 + j] = mb[i * 25 + j];
            }
        htensor bmh = {ltx_tensor_from_host(be, LTX_U8, 2, bm, mb), mbf};
        check_attention(be, dev, "attn bool mask", &bqh, bqh.t, &bkh, bkh.t, &bvh, bvh.t, &bmh,
                        bmh.t, true, 0.4f);
        /* Tk > 4096: ten key blocks, the last partial */
        int64_t lq[4] = {1, 1, 3, 8}, lk[4] = {1, 1, 5000, 8};
        htensor lqh = make(be, LTX_F32, 4, lq), lkh = make(be, LTX_F32, 4, lk),
                lvh = make(be, LTX_F32, 4, lk);
        check_attention(be, dev, "attn Tk=5000", &lqh, lqh.t, &lkh, lkh.t, &lvh, lvh.t, NULL, NULL,
                        false, 3.0f);
        hfree(&lqh);
        hfree(&lkh);
        hfree(&lvh);
        /* finite "-finfo.max" masks as the reference builds them: a fully masked row becomes a
         * uniform average, like torch in f32 */
        int64_t fm[4] = {1, 2, 20, 25};
        float *fmh = malloc(2 * 20 * 25 * 4);
        for (int i = 0; i < 2 * 20 * 25; i++)
            fmh[i] = ((i / 25) % 20 == 3 || (i % 25) > 20) ? -3.4028235e38f : 0.0f;
        htensor fmt = {ltx_tensor_from_host(be, LTX_F32, 4, fm, fmh), fmh};
        check_attention(be, dev, "attn -FLT_MAX mask", &bqh, bqh.t, &bkh, bkh.t, &bvh, bvh.t, &fmt,
                        fmt.t, false, 0.4f);
        /* the same kind of mask in bf16 (the reference's x_dtype), values widened exactly */
        htensor bfm = make(be, LTX_BF16, 4, fm);
        for (int i = 0; i < 2 * 20 * 25; i++)
            if ((i / 25) % 20 == 3) bfm.h[i] = -3.3895314e38f; /* bf16 finfo.max */
        uint16_t *bfraw = malloc(2 * 20 * 25 * 2);
        ltx_f32_to_bf16_row(bfraw, bfm.h, 2 * 20 * 25);
        ltx_tensor_free(bfm.t);
        bfm.t = ltx_tensor_from_host(be, LTX_BF16, 4, fm, bfraw);
        free(bfraw);
        check_attention(be, dev, "attn bf16 mask", &bqh, bqh.t, &bkh, bkh.t, &bvh, bvh.t, &bfm,
                        bfm.t, false, 0.4f);
        hfree(&bfm);
        hfree(&fmt);
        hfree(&q);
        hfree(&k);
        hfree(&v);
        hfree(&m);
        hfree(&q1h);
        hfree(&k1h);
        hfree(&v1h);
        hfree(&m1h);
        hfree(&bqh);
        hfree(&bkh);
        hfree(&bvh);
        hfree(&bmh);
    }
    env_close(&e);
}

/* A NaN score (NaN in q or k, e.g. NaN weights) makes its rows NaN, as in PyTorch; it used to
 * be taken for a masked row and give zeros, hiding the NaN from the pipelines' checks. */
TEST(attention_nan_scores_propagate)
{
    env e = env_open();
    for (int bi = 0; bi < 3; bi++) {
        ltx_backend *be = e.be[bi];
        int64_t qs[4] = {1, 1, 4, 8}, ks[4] = {1, 1, 600, 8}; /* two key blocks */
        float qh[4 * 8], kh[600 * 8], vh[600 * 8], oh[4 * 8];
        for (int i = 0; i < 4 * 8; i++)
            qh[i] = frand();
        for (int i = 0; i < 600 * 8; i++)
            kh[i] = frand(), vh[i] = frand();
        for (int c = 0; c < 2; c++) {
            if (c == 0) qh[1 * 8 + 3] = NAN; /* query row 1 */
            if (c == 1) {
                qh[1 * 8 + 3] = 0.5f;
                kh[550 * 8 + 2] = NAN; /* one key in the second block: every row */
            }
            ltx_tensor *q = ltx_tensor_from_host(be, LTX_F32, 4, qs, qh),
                       *k = ltx_tensor_from_host(be, LTX_F32, 4, ks, kh),
                       *v = ltx_tensor_from_host(be, LTX_F32, 4, ks, vh),
                       *o = ltx_tensor_new(be, LTX_F32, 4, qs);
            CHECK(be->ops->attention(be, o, q, k, v, NULL, 0.5f) == LTX_OK);
            CHECK(ltx_tensor_download(o, oh, LTX_F32) == LTX_OK);
            for (int r = 0; r < 4; r++)
                for (int d = 0; d < 8; d++) {
                    bool want_nan = c == 1 || r == 1;
                    CHECK_MSG(want_nan ? isnan(oh[r * 8 + d]) : isfinite(oh[r * 8 + d]),
                              "%s case %d row %d: %g", e.name[bi], c, r, oh[r * 8 + d]);
                }
            ltx_tensor_free(q);
            ltx_tensor_free(k);
            ltx_tensor_free(v);
            ltx_tensor_free(o);
        }
    }
    env_close(&e);
}

TEST(attention_rejects_bad_heads)
{
    env e = env_open();
    ltx_backend *be = e.be[0];
    int64_t qs[4] = {1, 4, 5, 8}, ks[4] = {1, 3, 5, 8};
    htensor q = make(be, LTX_F32, 4, qs), k = make(be, LTX_F32, 4, ks);
    ltx_tensor *o = ltx_tensor_new(be, LTX_F32, 4, qs);
    CHECK(be->ops->attention(be, o, q.t, k.t, k.t, NULL, 1.0f) == LTX_ERR_INVALID_ARG);
    ltx_tensor_free(o);
    hfree(&q);
    hfree(&k);
    env_close(&e);
}

TEST_MAIN()
