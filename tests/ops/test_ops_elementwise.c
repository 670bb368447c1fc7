/*
 * test_ops_elementwise.c — copy, fill, unary, binary, axpby, reduce and pad on "cpu" (with and
 * without a thread pool) and "cpu-restricted", against naive double-precision loops written
 * here. Inputs come in contiguous, sliced-with-step, permuted and sliced+permuted layouts, with
 * broadcasting and odd sizes. f32 results must match to ~1e-6 relative (1e-5 for
 * transcendental ops); f64 to 1e-12; the restricted device must refuse f64.
 */
#include "harness.h"
#include "ops_common.h"

static const int64_t SHAPES[][3] = {{3, 5, 7}, {1, 17, 33}, {4, 1, 129}, {2, 3, 1}, {5, 37, 301}};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

TEST(copy_layouts_and_dtypes)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 11;
        for (int s = 0; s < NSHAPES; s++)
            for (int lay = 0; lay < LAY_COUNT; lay++) {
                tin a = tin_make(c.be, LTX_F32, 3, SHAPES[s], lay, -3, 3, &rng);
                int64_t n = ltx_tensor_numel(a.t);
                /* f32 -> f32, bf16, f16 (and f64 on cpu) */
                ltx_dtype dts[4] = {LTX_F32, LTX_BF16, LTX_F16, LTX_F64};
                for (int k = 0; k < 4; k++) {
                    ltx_tensor *d = ltx_tensor_new(c.be, dts[k], 3, SHAPES[s]);
                    if (dts[k] == LTX_F64 && !c.be->caps.f64) {
                        CHECK(d == NULL);
                        continue;
                    }
                    CHECK(c.be->ops->copy(c.be, d, a.t) == LTX_OK);
                    double *o = tdown(d);
                    int bad = 0;
                    for (int64_t i = 0; i < n; i++) {
                        double want = a.v[i];
                        if (dts[k] == LTX_BF16)
                            want = ltx_bf16_to_f32(ltx_f32_to_bf16((float)want));
                        if (dts[k] == LTX_F16) want = ltx_f16_to_f32(ltx_f32_to_f16((float)want));
                        if (o[i] != want) bad++;
                    }
                    CHECK_MSG(bad == 0, "%s shape %d lay %d dtype %d: %d bad", c.name, s, lay, k,
                              bad);
                    free(o);
                    ltx_tensor_free(d);
                }
                /* strided bf16 source -> f32 */
                tin b = tin_make(c.be, LTX_BF16, 3, SHAPES[s], lay, -3, 3, &rng);
                ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 3, SHAPES[s]);
                CHECK(c.be->ops->copy(c.be, d, b.t) == LTX_OK);
                double *o = tdown(d);
                int bad = 0;
                for (int64_t i = 0; i < n; i++)
                    bad += o[i] != b.v[i];
                CHECK(bad == 0);
                free(o);
                ltx_tensor_free(d);
                tin_free(&b);
                tin_free(&a);
            }
        tcfg_close(&c);
    }
}

TEST(copy_into_strided_dst_and_broadcast)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 5;
        /* concat-style: write (4, 3, 9) into columns [2, 5) of a (4, 7, 9) tensor */
        int64_t big[3] = {4, 7, 9}, sh[3] = {4, 3, 9};
        ltx_tensor *y = ltx_tensor_zeros(c.be, LTX_F32, 3, big);
        tin a = tin_make(c.be, LTX_F32, 3, sh, LAY_PERMUTED, -1, 1, &rng);
        ltx_tensor *part = ltx_tensor_slice(y, 1, 2, 5, 1);
        CHECK(c.be->ops->copy(c.be, part, a.t) == LTX_OK);
        double *o = tdown(y);
        int bad = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 7; j++)
                for (int k = 0; k < 9; k++) {
                    double want = (j >= 2 && j < 5) ? a.v[(i * 3 + j - 2) * 9 + k] : 0.0;
                    if (o[(i * 7 + j) * 9 + k] != want) bad++;
                }
        CHECK(bad == 0);
        free(o);
        /* broadcast (1, 9) -> (4, 9) */
        int64_t rsh[2] = {1, 9}, dsh[2] = {4, 9};
        tin r = tin_make(c.be, LTX_F32, 2, rsh, LAY_SLICED, -1, 1, &rng);
        ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 2, dsh);
        CHECK(c.be->ops->copy(c.be, d, r.t) == LTX_OK);
        o = tdown(d);
        bad = 0;
        for (int i = 0; i < 36; i++)
            bad += o[i] != r.v[i % 9];
        CHECK(bad == 0);
        /* writing into a broadcast view is refused */
        ltx_tensor *e = ltx_tensor_expand(r.t, 2, dsh);
        CHECK(c.be->ops->copy(c.be, e, d) == LTX_ERR_INVALID_ARG);
        /* fill of a strided slice */
        ltx_tensor *col = ltx_tensor_slice(y, 2, 1, 9, 3);
        CHECK(c.be->ops->fill(c.be, col, -2.5) == LTX_OK);
        free(o);
        o = tdown(y);
        bad = 0;
        for (int i = 0; i < 4 * 7 * 9; i++) {
            int k = i % 9;
            if ((k == 1 || k == 4 || k == 7) && o[i] != -2.5) bad++;
        }
        CHECK(bad == 0);
        free(o);
        ltx_tensor_free(col);
        ltx_tensor_free(e);
        ltx_tensor_free(d);
        tin_free(&r);
        ltx_tensor_free(part);
        tin_free(&a);
        ltx_tensor_free(y);
        tcfg_close(&c);
    }
}

static double ref_unary(ltx_unary_op op, double x, double p0, double p1)
{
    switch (op) {
    case LTX_UNARY_NEG:
        return -x;
    case LTX_UNARY_EXP:
        return exp(x);
    case LTX_UNARY_LOG:
        return log(x);
    case LTX_UNARY_SQRT:
        return sqrt(x);
    case LTX_UNARY_RSQRT:
        return 1 / sqrt(x);
    case LTX_UNARY_SIN:
        return sin(x);
    case LTX_UNARY_COS:
        return cos(x);
    case LTX_UNARY_TANH:
        return tanh(x);
    case LTX_UNARY_SIGMOID:
        return 1 / (1 + exp(-x));
    case LTX_UNARY_SILU:
        return x / (1 + exp(-x));
    case LTX_UNARY_GELU_TANH:
        return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case LTX_UNARY_GELU_ERF:
        return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case LTX_UNARY_RELU:
        return x > 0 ? x : 0;
    case LTX_UNARY_LEAKY_RELU:
        return x > 0 ? x : x * p0;
    case LTX_UNARY_ABS:
        return fabs(x);
    case LTX_UNARY_SQUARE:
        return x * x;
    case LTX_UNARY_SCALE:
        return x * p0 + p1;
    case LTX_UNARY_DIVS:
        return x / p0;
    case LTX_UNARY_RECIP:
        return 1 / x;
    case LTX_UNARY_CLAMP:
        return x < p0 ? p0 : x > p1 ? p1 : x;
    case LTX_UNARY_ROUND_BF16:
        return ltx_round_bf16((float)x);
    default:
        return NAN;
    }
}

TEST(unary_all_ops)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 7;
        for (int op = 0; op < LTX_UNARY_COUNT; op++) {
            bool pos = op == LTX_UNARY_LOG || op == LTX_UNARY_SQRT || op == LTX_UNARY_RSQRT ||
                       op == LTX_UNARY_RECIP;
            double p0 = op == LTX_UNARY_CLAMP ? -0.7 : 0.37,
                   p1 = op == LTX_UNARY_CLAMP ? 1.3 : -1.1;
            for (int s = 0; s < NSHAPES; s++)
                for (int lay = 0; lay < LAY_COUNT; lay++)
                    for (int f64 = 0; f64 < 2; f64++) {
                        ltx_dtype dt = f64 ? LTX_F64 : LTX_F32;
                        if (f64 && !c.be->caps.f64) continue;
                        tin a = tin_make(c.be, dt, 3, SHAPES[s], lay, pos ? 0.05 : -4, 4, &rng);
                        ltx_tensor *d = ltx_tensor_new(c.be, dt, 3, SHAPES[s]);
                        CHECK(c.be->ops->unary(c.be, op, d, a.t, p0, p1) == LTX_OK);
                        double *o = tdown(d);
                        int64_t n = ltx_tensor_numel(d);
                        double *w = malloc(sizeof(double) * (size_t)n);
                        for (int64_t i = 0; i < n; i++)
                            w[i] = ref_unary(op, a.v[i], p0, p1);
                        double tol = f64 ? 1e-12 : 2e-6;
                        if (op == LTX_UNARY_ROUND_BF16) tol = 0;
                        double atol = op == LTX_UNARY_ROUND_BF16 ? 1e-300 : (f64 ? 1e-14 : 1e-6);
                        /* f32 SCALE/DIVS/CLAMP/LEAKY round the scalar to f32 first */
                        if (!f64 && (op == LTX_UNARY_SCALE || op == LTX_UNARY_DIVS ||
                                     op == LTX_UNARY_CLAMP || op == LTX_UNARY_LEAKY_RELU))
                            for (int64_t i = 0; i < n; i++)
                                w[i] = ref_unary(op, a.v[i], (float)p0, (float)p1);
                        double e = err_ratio(o, w, n, atol, tol);
                        CHECK_MSG(e <= 1, "%s op %d shape %d lay %d f64 %d: err ratio %g", c.name,
                                  op, s, lay, f64, e);
                        free(w);
                        free(o);
                        ltx_tensor_free(d);
                        tin_free(&a);
                    }
        }
        tcfg_close(&c);
    }
}

TEST(activations_wide_range_and_specials)
{
    /* sigmoid / SiLU / GELU-tanh use a vectorised exp: check far tails, Inf and NaN */
    tcfg c = tcfg_open(0);
    int64_t n = 4003;
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n - 3; i++)
        v[i] = -120.0 + 240.0 * (double)i / (double)(n - 4);
    v[n - 3] = INFINITY;
    v[n - 2] = -INFINITY;
    v[n - 1] = NAN;
    ltx_tensor *x = ltx_tensor_new(c.be, LTX_F32, 1, &n), *d = ltx_tensor_new(c.be, LTX_F32, 1, &n);
    CHECK(ltx_tensor_upload(x, v, LTX_F64) == LTX_OK);
    ltx_unary_op ops[3] = {LTX_UNARY_SIGMOID, LTX_UNARY_SILU, LTX_UNARY_GELU_TANH};
    for (int k = 0; k < 3; k++) {
        CHECK(c.be->ops->unary(c.be, ops[k], d, x, 0, 0) == LTX_OK);
        double *o = tdown(d), *w = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            double xv = (float)v[i];
            w[i] = ref_unary(ops[k], xv, 0, 0);
            if (isinf(xv))
                w[i] = xv > 0 ? (ops[k] == LTX_UNARY_SIGMOID ? 1 : INFINITY)
                              : (ops[k] == LTX_UNARY_SIGMOID ? 0 : NAN);
        }
        /* x * 0 at -Inf: torch gives NaN for SiLU/GELU too (-inf * 0) */
        double e = err_ratio(o, w, n, 1e-6, 2e-6);
        CHECK_MSG(e <= 1, "op %d: err %g", (int)ops[k], e);
        free(o);
        free(w);
    }
    free(v);
    ltx_tensor_free(x);
    ltx_tensor_free(d);
    tcfg_close(&c);
}

TEST(unary_scale_two_roundings_bitexact)
{
    tcfg c = tcfg_open(0);
    uint64_t rng = 3;
    int64_t sh[1] = {4099};
    tin a = tin_make(c.be, LTX_F32, 1, sh, LAY_CONTIG, -10, 10, &rng);
    ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 1, sh);
    double p0 = 0.1234567890123, p1 = -3.3333333333;
    CHECK(c.be->ops->unary(c.be, LTX_UNARY_SCALE, d, a.t, p0, p1) == LTX_OK);
    float *o = ltx_tensor_to_host_f32(d);
    int bad = 0;
    for (int i = 0; i < 4099; i++) {
        volatile float prod = (float)a.v[i] * (float)p0; /* rounded product, then the add */
        float want = prod + (float)p1;
        bad += o[i] != want;
    }
    CHECK_MSG(bad == 0, "%d values differ from two-rounding x*a+b (FMA contraction?)", bad);
    /* DIVS is a true division, not a multiply by the reciprocal */
    CHECK(c.be->ops->unary(c.be, LTX_UNARY_DIVS, d, a.t, 3.0, 0) == LTX_OK);
    free(o);
    o = ltx_tensor_to_host_f32(d);
    bad = 0;
    for (int i = 0; i < 4099; i++)
        bad += o[i] != (float)a.v[i] / 3.0f;
    CHECK(bad == 0);
    free(o);
    ltx_tensor_free(d);
    tin_free(&a);
    tcfg_close(&c);
}

static double ref_binary(int op, double x, double y)
{
    switch (op) {
    case LTX_BINARY_ADD:
        return x + y;
    case LTX_BINARY_SUB:
        return x - y;
    case LTX_BINARY_MUL:
        return x * y;
    case LTX_BINARY_DIV:
        return x / y;
    case LTX_BINARY_MAX:
        return x > y ? x : y;
    case LTX_BINARY_MIN:
        return x < y ? x : y;
    case LTX_BINARY_POW:
        return pow(x, y);
    default:
        return NAN;
    }
}

/* broadcast cases: result shape, a shape (rank na), b shape (rank nb) */
typedef struct bcase {
    int nd, na, nb;
    int64_t d[4], a[4], b[4];
} bcase;
static const bcase BCASES[] = {
    {3, 3, 3, {5, 7, 33}, {5, 7, 33}, {5, 7, 33}}, {3, 3, 1, {5, 7, 33}, {5, 7, 33}, {33}},
    {3, 3, 3, {4, 6, 17}, {4, 1, 17}, {1, 6, 1}},  {4, 2, 4, {2, 3, 5, 9}, {5, 1}, {2, 3, 1, 9}},
    {2, 2, 2, {257, 130}, {257, 130}, {1, 1}},
};

TEST(binary_broadcast_all_ops)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 9;
        for (int op = 0; op < LTX_BINARY_COUNT; op++)
            for (size_t bc = 0; bc < sizeof BCASES / sizeof BCASES[0]; bc++)
                for (int lay = 0; lay < LAY_COUNT; lay++)
                    for (int mix = 0; mix < 4; mix++) { /* bit0: a f64, bit1: b f64 */
                        if (mix && !c.be->caps.f64) continue;
                        const bcase *B = &BCASES[bc];
                        bool pw = op == LTX_BINARY_POW;
                        ltx_dtype ta = (mix & 1) ? LTX_F64 : LTX_F32;
                        ltx_dtype tb = (mix & 2) ? LTX_F64 : LTX_F32;
                        tin a = tin_make(c.be, ta, B->na, B->a, lay, pw ? 0.1 : -3, 3, &rng);
                        tin b = tin_make(c.be, tb, B->nb, B->b, (lay + 1) % LAY_COUNT,
                                         pw ? -2 : 0.2, 2, &rng);
                        ltx_dtype td = mix ? LTX_F64 : LTX_F32;
                        ltx_tensor *d = ltx_tensor_new(c.be, td, B->nd, B->d);
                        CHECK(c.be->ops->binary(c.be, op, d, a.t, b.t) == LTX_OK);
                        double *o = tdown(d);
                        int64_t n = ltx_tensor_numel(d), idx[4] = {0};
                        double *w = malloc(sizeof(double) * (size_t)n);
                        for (int64_t i = 0; i < n; i++, next_idx(B->nd, B->d, idx))
                            w[i] = ref_binary(op, a.v[bcast_off(B->nd, idx, B->na, B->a)],
                                              b.v[bcast_off(B->nd, idx, B->nb, B->b)]);
                        double e = err_ratio(o, w, n, mix ? 1e-14 : 1e-6, mix ? 1e-13 : 1e-6);
                        CHECK_MSG(e <= 1, "%s op %d case %zu lay %d mix %d: err %g", c.name, op, bc,
                                  lay, mix, e);
                        free(w);
                        free(o);
                        ltx_tensor_free(d);
                        tin_free(&a);
                        tin_free(&b);
                    }
        tcfg_close(&c);
    }
}

TEST(axpby_and_f64_refused_on_restricted)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 21;
        int64_t sh[3] = {3, 65, 31};
        for (int lay = 0; lay < LAY_COUNT; lay++) {
            tin x = tin_make(c.be, LTX_F32, 3, sh, lay, -2, 2, &rng);
            tin y = tin_make(c.be, LTX_F32, 3, sh, LAY_COUNT - 1 - lay, -2, 2, &rng);
            ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 3, sh);
            CHECK(c.be->ops->axpby(c.be, d, 0.3, x.t, -1.7, y.t) == LTX_OK);
            float *o = ltx_tensor_to_host_f32(d);
            int bad = 0;
            for (int64_t i = 0; i < 3 * 65 * 31; i++) {
                volatile float p = 0.3f * (float)x.v[i], q = -1.7f * (float)y.v[i];
                bad += o[i] != p + q;
            }
            CHECK_MSG(bad == 0, "%s lay %d: %d values differ", c.name, lay, bad);
            free(o);
            ltx_tensor_free(d);
            tin_free(&x);
            tin_free(&y);
        }
        if (!c.be->caps.f64) {
            ltx_err_clear();
            CHECK(ltx_tensor_new(c.be, LTX_F64, 3, sh) == NULL);
            CHECK(strstr(ltx_err_message(), "F64") != NULL);
            /* smuggle an f64 tensor onto the device through a raw buffer: every op refuses */
            ltx_buffer *buf = ltx_buffer_new(c.be, 8 * 3 * 65 * 31);
            ltx_tensor *f = ltx_tensor_on_buffer(buf, LTX_F64, 3, sh, 0);
            ltx_buffer_release(buf);
            ltx_tensor *g = ltx_tensor_new(c.be, LTX_F32, 3, sh);
            int64_t rs[3] = {3, 65, 1};
            ltx_tensor *r = ltx_tensor_new(c.be, LTX_F32, 3, rs);
            CHECK(c.be->ops->unary(c.be, LTX_UNARY_EXP, g, f, 0, 0) == LTX_ERR_UNSUPPORTED);
            CHECK(c.be->ops->binary(c.be, LTX_BINARY_ADD, g, g, f) == LTX_ERR_UNSUPPORTED);
            CHECK(c.be->ops->axpby(c.be, g, 1, g, 1, f) == LTX_ERR_UNSUPPORTED);
            CHECK(c.be->ops->copy(c.be, g, f) == LTX_ERR_UNSUPPORTED);
            CHECK(c.be->ops->fill(c.be, f, 1.0) == LTX_ERR_UNSUPPORTED);
            CHECK(c.be->ops->reduce(c.be, LTX_REDUCE_SUM, r, f, 2) == LTX_ERR_UNSUPPORTED);
            ltx_tensor_free(r);
            ltx_tensor_free(g);
            ltx_tensor_free(f);
        }
        tcfg_close(&c);
    }
}

static double ref_reduce(ltx_reduce_op op, const double *v, int64_t n, int64_t s)
{
    double acc = op == LTX_REDUCE_MAX ? -INFINITY : op == LTX_REDUCE_MIN ? INFINITY : 0;
    for (int64_t r = 0; r < n; r++) {
        double x = v[r * s];
        if (op == LTX_REDUCE_MAX)
            acc = x > acc ? x : acc;
        else if (op == LTX_REDUCE_MIN)
            acc = x < acc ? x : acc;
        else
            acc += x;
    }
    if (op == LTX_REDUCE_MEAN) acc /= (double)n;
    if (op == LTX_REDUCE_VAR) {
        double m = acc / (double)n, q = 0;
        for (int64_t r = 0; r < n; r++)
            q += (v[r * s] - m) * (v[r * s] - m);
        acc = q / (double)(n - 1);
    }
    return acc;
}

TEST(reduce_all_ops_all_dims)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 13;
        for (int op = 0; op < LTX_REDUCE_COUNT; op++)
            for (int s = 0; s < NSHAPES; s++)
                for (int lay = 0; lay < LAY_COUNT; lay++)
                    for (int dim = 0; dim < 3; dim++)
                        for (int f64 = 0; f64 < 2; f64++) {
                            if (f64 && !c.be->caps.f64) continue;
                            const int64_t *sh = SHAPES[s];
                            if (op == LTX_REDUCE_VAR && sh[dim] < 2) continue;
                            ltx_dtype dt = f64 ? LTX_F64 : LTX_F32;
                            tin a = tin_make(c.be, dt, 3, sh, lay, -2, 3, &rng);
                            int64_t ds[3] = {sh[0], sh[1], sh[2]};
                            ds[dim] = 1;
                            ltx_tensor *d = ltx_tensor_new(c.be, dt, 3, ds);
                            CHECK(c.be->ops->reduce(c.be, op, d, a.t, dim - (lay & 1) * 3) ==
                                  LTX_OK);
                            double *o = tdown(d);
                            int64_t n = ltx_tensor_numel(d), idx[3] = {0};
                            int64_t st = dim == 2 ? 1 : dim == 1 ? sh[2] : sh[1] * sh[2];
                            double *w = malloc(sizeof(double) * (size_t)n);
                            for (int64_t i = 0; i < n; i++, next_idx(3, ds, idx))
                                w[i] =
                                    ref_reduce(op, a.v + (idx[0] * sh[1] + idx[1]) * sh[2] + idx[2],
                                               sh[dim], st);
                            double e = err_ratio(o, w, n, f64 ? 1e-13 : 1e-6, f64 ? 1e-12 : 1e-6);
                            CHECK_MSG(e <= 1, "%s op %d shape %d lay %d dim %d: err %g", c.name, op,
                                      s, lay, dim, e);
                            free(w);
                            free(o);
                            ltx_tensor_free(d);
                            tin_free(&a);
                        }
        tcfg_close(&c);
    }
}

static int64_t ref_pad_index(ltx_pad_mode m, int64_t j, int64_t n)
{
    if (j >= 0 && j < n) return j;
    if (m == LTX_PAD_CONSTANT) return -1;
    if (m == LTX_PAD_REPLICATE) return j < 0 ? 0 : n - 1;
    if (m == LTX_PAD_CIRCULAR) return j < 0 ? j + n : j - n;
    return j < 0 ? -j : 2 * n - 2 - j; /* reflect */
}

TEST(pad_all_modes)
{
    static const int PADS[][6] = {
        {0, 0, 1, 2, 3, 1},
        {1, 1, 0, 0, 2, 2},
        {0, 1, 2, 0, 0, 0},
        {2, 0, 1, 1, -1, 2},
    };
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 17;
        int64_t sh[3] = {3, 4, 9};
        for (int mode = 0; mode < 4; mode++)
            for (size_t pc = 0; pc < sizeof PADS / sizeof PADS[0]; pc++)
                for (int lay = 0; lay < LAY_COUNT; lay++) {
                    const int *p = PADS[pc];
                    tin a = tin_make(c.be, LTX_F32, 3, sh, lay, -1, 1, &rng);
                    int64_t ds[3];
                    for (int d = 0; d < 3; d++)
                        ds[d] = sh[d] + p[2 * d] + p[2 * d + 1];
                    ltx_tensor *d = ltx_tensor_new(c.be, LTX_F32, 3, ds);
                    CHECK(c.be->ops->pad(c.be, d, a.t, p, mode, 0.75) == LTX_OK);
                    double *o = tdown(d);
                    int64_t n = ltx_tensor_numel(d), idx[3] = {0};
                    int bad = 0;
                    for (int64_t i = 0; i < n; i++, next_idx(3, ds, idx)) {
                        int64_t si[3];
                        bool cst = false;
                        for (int k = 0; k < 3; k++) {
                            si[k] = ref_pad_index(mode, idx[k] - p[2 * k], sh[k]);
                            if (si[k] < 0) cst = true;
                        }
                        double want = cst ? 0.75 : a.v[(si[0] * sh[1] + si[1]) * sh[2] + si[2]];
                        bad += o[i] != want;
                    }
                    CHECK_MSG(bad == 0, "%s mode %d pads %zu lay %d: %d bad", c.name, mode, pc, lay,
                              bad);
                    /* bf16 source into an f32 destination: same values */
                    ltx_tensor *ab = ltx_tensor_to(a.t, c.be, LTX_BF16);
                    ltx_tensor *d2 = ltx_tensor_new(c.be, LTX_F32, 3, ds);
                    CHECK(c.be->ops->pad(c.be, d2, ab, p, mode, 0.75) == LTX_OK);
                    double *o2 = tdown(d2);
                    bad = 0;
                    for (int64_t i = 0; i < n; i++)
                        bad += o2[i] != (o[i] == 0.75 ? 0.75 : ltx_round_bf16((float)o[i]));
                    CHECK(bad == 0);
                    free(o2);
                    ltx_tensor_free(d2);
                    ltx_tensor_free(ab);
                    free(o);
                    ltx_tensor_free(d);
                    tin_free(&a);
                }
        tcfg_close(&c);
    }
}

TEST(tiled_transpose_copy)
{
    for (int ci = 0; ci < NCFG; ci++) {
        tcfg c = tcfg_open(ci);
        uint64_t rng = 23;
        ltx_dtype dts[3] = {LTX_F32, LTX_BF16, LTX_F16};
        for (int k = 0; k < 6; k++) {
            int64_t sh[3] = {3, 245, 167};
            tin a = tin_make(c.be, dts[k % 3], 3, sh, k < 3 ? LAY_CONTIG : LAY_SLICED, -2, 2, &rng);
            /* (3, 245, 167) -> transposed last two dims: src contiguous along dst's dim 1 */
            ltx_tensor *t = ltx_tensor_transpose(a.t, 1, 2);
            int64_t ds[3] = {3, 167, 245};
            ltx_tensor *d = ltx_tensor_new(c.be, dts[k % 3], 3, ds);
            CHECK(c.be->ops->copy(c.be, d, t) == LTX_OK);
            double *o = tdown(d);
            int bad = 0;
            for (int b = 0; b < 3; b++)
                for (int i = 0; i < 167; i++)
                    for (int j = 0; j < 245; j++)
                        bad += o[(b * 167 + i) * 245 + j] != a.v[(b * 245 + j) * 167 + i];
            CHECK_MSG(bad == 0, "%s dtype %d: %d bad", c.name, k, bad);
            free(o);
            ltx_tensor_free(d);
            ltx_tensor_free(t);
            tin_free(&a);
        }
        tcfg_close(&c);
    }
}

TEST(large_threaded_matches_serial)
{
    /* A big contiguous unary/binary on the pool must equal the serial result bit for bit. */
    tcfg cp = tcfg_open(0), cs = tcfg_open(1);
    uint64_t rng = 99;
    int64_t sh[2] = {3, 200003};
    tin a = tin_make(cp.be, LTX_F32, 2, sh, LAY_CONTIG, -3, 3, &rng);
    ltx_tensor *d1 = ltx_tensor_new(cp.be, LTX_F32, 2, sh);
    ltx_tensor *d2 = ltx_tensor_new(cs.be, LTX_F32, 2, sh);
    /* the same values uploaded separately (host f64 -> f32 conversion, exact here) */
    ltx_tensor *a2 = NULL, *a3 = ltx_tensor_new(cs.be, LTX_F32, 2, sh);
    CHECK(a3 && ltx_tensor_upload(a3, a.v, LTX_F64) == LTX_OK);
    CHECK(cp.be->ops->unary(cp.be, LTX_UNARY_GELU_TANH, d1, a.t, 0, 0) == LTX_OK);
    CHECK(cs.be->ops->unary(cs.be, LTX_UNARY_GELU_TANH, d2, a3, 0, 0) == LTX_OK);
    float *o1 = ltx_tensor_to_host_f32(d1), *o2 = ltx_tensor_to_host_f32(d2);
    CHECK(memcmp(o1, o2, sizeof(float) * 3 * 200003) == 0);
    free(o1);
    free(o2);
    ltx_tensor_free(a3);
    ltx_tensor_free(a2);
    ltx_tensor_free(d1);
    ltx_tensor_free(d2);
    tin_free(&a);
    tcfg_close(&cp);
    tcfg_close(&cs);
}

TEST_MAIN()
