/*
 * rng.c — PyTorch 1.13 CPU generator (mt19937 + torch's normal kernels), bit-exact.
 *
 * Mirrors (read, not copied): aten/src/ATen/core/MT19937RNGEngine.h (engine + seeding),
 * aten/src/ATen/CPUGeneratorImpl.cpp (random / random64 / cached normal),
 * aten/src/ATen/core/TransformationHelper.h (uniform_real), aten/src/ATen/core/
 * DistributionsHelper.h (normal_distribution), aten/src/ATen/native/cpu/DistributionTemplates.h
 * (normal_kernel, normal_fill, normal_fill_16, normal_fill_16_AVX2) and
 * aten/src/ATen/native/cpu/avx_mathfun.h (log256_ps, sincos256_ps) of torch v1.13.
 *
 * The AVX2 kernel's vector log / sincos are re-implemented here in scalar float arithmetic that
 * performs the same IEEE operations in the same order, so the result does not depend on the
 * build machine having AVX2. Torch's build lets GCC contract some multiply-adds of those
 * intrinsics into FMAs; which ones was measured against torch itself (see tests/unit/test_rng.c)
 * and is spelled out with explicit fmaf() calls below. No expression in this file has the
 * a*b+c shape a compiler could contract on its own, so the result does not depend on
 * -ffp-contract; it does on value-changing flags such as -ffast-math (never use them here).
 *
 * See rng.h for the contract and the list of paths.
 */
#include "core/rng.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- mt19937 (ref: MT19937RNGEngine.h) ----------------------------------------------------- */

enum { MT_N = 624, MT_M = 397 };

typedef struct mt19937 {
    uint32_t state[MT_N];
    int left; /* outputs left before the next twist + 1 (torch's `left_`) */
    int next; /* index of the next state word */
} mt19937;

/* ref: init_with_uint32 — only the low 32 bits of the 64-bit seed enter the state. */
static void mt_seed(mt19937 *mt, uint64_t seed)
{
    mt->state[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < MT_N; j++) {
        uint32_t p = mt->state[j - 1];
        mt->state[j] = 1812433253u * (p ^ (p >> 30)) + (uint32_t)j;
    }
    mt->left = 1;
    mt->next = 0;
}

static uint32_t mt_twist(uint32_t u, uint32_t v)
{
    uint32_t mix = (u & 0x80000000u) | (v & 0x7fffffffu);
    return (mix >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}

static void mt_next_state(mt19937 *mt)
{
    uint32_t *s = mt->state;
    int k = 0;
    for (; k < MT_N - MT_M; k++) s[k] = s[k + MT_M] ^ mt_twist(s[k], s[k + 1]);
    for (; k < MT_N - 1; k++) s[k] = s[k + MT_M - MT_N] ^ mt_twist(s[k], s[k + 1]);
    s[MT_N - 1] = s[MT_M - 1] ^ mt_twist(s[MT_N - 1], s[0]);
    mt->left = MT_N;
    mt->next = 0;
}

static uint32_t mt_u32(mt19937 *mt)
{
    if (--mt->left == 0) mt_next_state(mt);
    uint32_t y = mt->state[mt->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* ref: CPUGeneratorImpl::random64 — first output is the high word. */
static uint64_t mt_u64(mt19937 *mt)
{
    uint32_t hi = mt_u32(mt);
    uint32_t lo = mt_u32(mt);
    return ((uint64_t)hi << 32) | lo;
}

/* ref: transformation::uniform_real<float> — 24 random bits in [0, 1). */
static float uniform_f32(mt19937 *mt)
{
    return (float)(mt_u32(mt) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* ref: transformation::uniform_real<double> — 53 random bits in [0, 1). */
static double uniform_f64(mt19937 *mt)
{
    return (double)(mt_u64(mt) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* ---- scalar emulation of avx_mathfun.h (float, lane by lane) ------------------------------- */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ref: log256_ps. Cephes logf: split x = m·2^e with m in [sqrt(1/2), sqrt(2)), then a degree-9
 * polynomial in (m - 1). Valid for the x > 0 the Box–Muller kernel feeds it (x >= 2^-24). */
static float avx_logf(float x)
{
    if (!(x > 0.0f)) return NAN; /* ref: invalid_mask (x <= 0 -> all-ones bits = NaN) */
    if (x < 1.17549435e-38f) x = 1.17549435e-38f; /* ref: max with min_norm_pos */
    uint32_t bits = f2u(x);
    int32_t ex = (int32_t)(bits >> 23) - 0x7f;
    x = u2f((bits & ~0x7f800000u) | f2u(0.5f)); /* mantissa in [0.5, 1) */
    float e = (float)ex + 1.0f;
    int small = x < 0.707106781186547524f; /* ref: cephes_SQRTHF */
    float tmp = small ? x : 0.0f;
    x = x - 1.0f;
    e = e - (small ? 1.0f : 0.0f);
    x = x + tmp;

    float z = x * x;
    float y = 7.0376836292E-2f;
    y = fmaf(y, x, -1.1514610310E-1f);
    y = fmaf(y, x, 1.1676998740E-1f);
    y = fmaf(y, x, -1.2420140846E-1f);
    y = fmaf(y, x, 1.4249322787E-1f);
    y = fmaf(y, x, -1.6668057665E-1f);
    y = fmaf(y, x, 2.0000714765E-1f);
    y = fmaf(y, x, -2.4999993993E-1f);
    y = fmaf(y, x, 3.3333331174E-1f);
    y = y * x;
    y = fmaf(y, z, e * -2.12194440e-4f); /* ref: cephes_log_q1; GCC fused y*z, not e*q1 */
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    x = fmaf(e, 0.693359375f, x); /* ref: cephes_log_q2 */
    return x;
}

/* ref: sincos256_ps. Cephes sinf/cosf: reduce by multiples of pi/4 (three-part pi/4 for extra
 * precision), evaluate both minimax polynomials, select per octant, fix signs. */
static void avx_sincosf(float xin, float *s, float *c)
{
    uint32_t sign_sin = f2u(xin) & 0x80000000u;
    float x = u2f(f2u(xin) & 0x7fffffffu);
    float y = x * 1.27323954473516f; /* ref: cephes_FOPI = 4/pi */
    int32_t j = (int32_t)y;          /* truncation (cvttps) */
    j = (j + 1) & ~1;
    y = (float)j;
    uint32_t swap_sin = ((uint32_t)j & 4u) << 29;
    int poly2 = (j & 2) == 0; /* ref: poly_mask — lanes that take the sine polynomial */

    x = fmaf(y, -0.78515625f, x); /* ref: minus_cephes_DP1..3 */
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);

    uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    sign_sin ^= swap_sin;

    float z = x * x;
    float yc = 2.443315711809948E-005f; /* ref: coscof_p0..2 */
    yc = fmaf(yc, z, -1.388731625493765E-003f);
    yc = fmaf(yc, z, 4.166664568298827E-002f);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f)); /* z*0.5 is exact */
    yc = yc + 1.0f;

    float ys = -1.9515295891E-4f; /* ref: sincof_p0..2 */
    ys = fmaf(ys, z, 8.3321608736E-3f);
    ys = fmaf(ys, z, -1.6666654611E-1f);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    float ysin2 = poly2 ? ys : 0.0f;
    float ysin1 = poly2 ? 0.0f : yc;
    ys = ys - ysin2;
    yc = yc - ysin1;
    *s = u2f(f2u(ysin1 + ysin2) ^ sign_sin);
    *c = u2f(f2u(yc + ys) ^ sign_cos);
}

/* ---- torch normal kernels ------------------------------------------------------------------ */

typedef struct torch_cpu_rng {
    ltx_rng base;
    mt19937 mt;
    ltx_rng_variant variant;
    int has_next_double; /* ref: CPUGeneratorImpl::next_double_normal_sample_ */
    double next_double;
} torch_cpu_rng;

/* ref: normal_fill_16_AVX2 on 16 uniforms in place. */
static void fill16_avx2(float *d)
{
    const float two_pi = (float)(2.0 * 3.14159265358979323846); /* ref: set1_ps(2.0f * pi<double>) */
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float radius = sqrtf(-2.0f * avx_logf(u1));
        float theta = two_pi * d[j + 8];
        float st, ct;
        avx_sincosf(theta, &st, &ct);
        d[j] = radius * ct; /* ref: fmadd(n, std = 1, mean = 0) is exact */
        d[j + 8] = radius * st;
    }
}

/* ref: normal_fill_16<float> (libm). */
static void fill16_default_f32(float *d)
{
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float radius = sqrtf(-2.0f * logf(u1));
        float theta = (float)(2.0 * 3.14159265358979323846 * (double)d[j + 8]);
        d[j] = radius * cosf(theta);
        d[j + 8] = radius * sinf(theta);
    }
}

/* ref: normal_fill_16<double>. */
static void fill16_f64(double *d)
{
    for (int j = 0; j < 8; j++) {
        double u1 = 1.0 - d[j];
        double radius = sqrt(-2.0 * log(u1));
        double theta = 2.0 * 3.14159265358979323846 * d[j + 8];
        d[j] = radius * cos(theta);
        d[j + 8] = radius * sin(theta);
    }
}

/* ref: normal_distribution<double>::operator() with mean 0, std 1. */
static double normal_scalar(torch_cpu_rng *g)
{
    if (g->has_next_double) {
        g->has_next_double = 0;
        return g->next_double;
    }
    double u1 = uniform_f64(&g->mt);
    double u2 = uniform_f64(&g->mt);
    double r = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * 3.14159265358979323846 * u1;
    g->next_double = r * sin(theta);
    g->has_next_double = 1;
    return r * cos(theta);
}

static ltx_status torch_seed(ltx_rng *r, uint64_t seed)
{
    torch_cpu_rng *g = (torch_cpu_rng *)r;
    mt_seed(&g->mt, seed);
    g->has_next_double = 0; /* ref: CPUGeneratorImpl::set_current_seed resets both caches */
    return LTX_OK;
}

/* ref: normal_kernel, float32 branch. */
static ltx_status torch_randn_f32(ltx_rng *r, float *out, int64_t n)
{
    torch_cpu_rng *g = (torch_cpu_rng *)r;
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) out[i] = (float)normal_scalar(g);
        return LTX_OK;
    }
    void (*fill16)(float *) = g->variant == LTX_RNG_TORCH_AVX2 ? fill16_avx2 : fill16_default_f32;
    for (int64_t i = 0; i < n; i++) out[i] = uniform_f32(&g->mt);
    for (int64_t i = 0; i + 16 <= n; i += 16) fill16(out + i);
    if (n % 16 != 0) {
        /* ref: "Recompute the last 16 values" — overwrites some already finished outputs. */
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform_f32(&g->mt);
        fill16(tail);
    }
    return LTX_OK;
}

/* ref: normal_kernel, dispatch to normal_fill<double> / the scalar path. */
static ltx_status torch_randn_f64(ltx_rng *r, double *out, int64_t n)
{
    torch_cpu_rng *g = (torch_cpu_rng *)r;
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) out[i] = normal_scalar(g);
        return LTX_OK;
    }
    for (int64_t i = 0; i < n; i++) out[i] = uniform_f64(&g->mt);
    for (int64_t i = 0; i + 16 <= n; i += 16) fill16_f64(out + i);
    if (n % 16 != 0) {
        double *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform_f64(&g->mt);
        fill16_f64(tail);
    }
    return LTX_OK;
}

static void torch_destroy(ltx_rng *r) { free(r); }

static const ltx_rng_vtable torch_avx2_vt = {"torch-cpu-mt19937/avx2", torch_seed,
                                             torch_randn_f32, torch_randn_f64, torch_destroy};
static const ltx_rng_vtable torch_default_vt = {"torch-cpu-mt19937/default", torch_seed,
                                                torch_randn_f32, torch_randn_f64, torch_destroy};

ltx_rng *ltx_rng_new_torch_cpu_variant(uint64_t seed, ltx_rng_variant variant)
{
    if (variant != LTX_RNG_TORCH_AVX2 && variant != LTX_RNG_TORCH_DEFAULT) {
        ltx_err(LTX_ERR_INVALID_ARG, "rng: unknown torch cpu variant %d", (int)variant);
        return NULL;
    }
    torch_cpu_rng *g = calloc(1, sizeof *g);
    if (!g) {
        ltx_err(LTX_ERR_OOM, "rng: out of memory");
        return NULL;
    }
    g->base.vt = variant == LTX_RNG_TORCH_AVX2 ? &torch_avx2_vt : &torch_default_vt;
    g->variant = variant;
    torch_seed(&g->base, seed);
    return &g->base;
}

ltx_rng *ltx_rng_new_torch_cpu(uint64_t seed)
{
    return ltx_rng_new_torch_cpu_variant(seed, LTX_RNG_TORCH_AVX2);
}

ltx_status ltx_rng_variant_parse(const char *s, ltx_rng_variant *out)
{
    if (s && (!strcmp(s, "avx2") || !strcmp(s, "avx512"))) {
        *out = LTX_RNG_TORCH_AVX2;
        return LTX_OK;
    }
    if (s && !strcmp(s, "default")) {
        *out = LTX_RNG_TORCH_DEFAULT;
        return LTX_OK;
    }
    return ltx_err(LTX_ERR_INVALID_ARG, "rng: unknown variant '%s' (avx2, avx512, default)",
                   s ? s : "(null)");
}

/* ---- generic dispatch ----------------------------------------------------------------------- */

void ltx_rng_free(ltx_rng *r)
{
    if (r) r->vt->destroy(r);
}

const char *ltx_rng_name(const ltx_rng *r) { return r ? r->vt->name : ""; }

ltx_status ltx_rng_seed(ltx_rng *r, uint64_t seed)
{
    if (!r) return ltx_err(LTX_ERR_INVALID_ARG, "rng: NULL generator");
    return r->vt->seed(r, seed);
}

static ltx_status check_args(const ltx_rng *r, const void *out, int64_t n)
{
    if (!r) return ltx_err(LTX_ERR_INVALID_ARG, "rng: NULL generator");
    if (n < 0) return ltx_err(LTX_ERR_INVALID_ARG, "rng: negative count %lld", (long long)n);
    if (n > 0 && !out) return ltx_err(LTX_ERR_INVALID_ARG, "rng: NULL output for %lld values",
                                      (long long)n);
    return LTX_OK;
}

ltx_status ltx_rng_randn_f32(ltx_rng *r, float *out, int64_t n)
{
    LTX_TRY(check_args(r, out, n));
    return r->vt->randn_f32(r, out, n);
}

ltx_status ltx_rng_randn_f64(ltx_rng *r, double *out, int64_t n)
{
    LTX_TRY(check_args(r, out, n));
    return r->vt->randn_f64(r, out, n);
}
