/*
 * dtype.c — element type table and exact conversions between every pair of ltx_dtype.
 *
 * Implements src/core/dtype.h. Every rounding rule reproduces PyTorch bit for bit:
 *   f32 -> bf16   round to nearest even on the bit pattern; NaN -> 0x7FC0 (c10 scalar rule
 *                 round_to_nearest_even; torch 1.13's vectorised CPU .to() writes 0xFFFF
 *                 instead, see tests/unit/test_dtype.c).
 *   f32 -> f16    IEEE binary16 RNE incl. subnormals; |x| >= 65520 -> Inf; NaN -> 0x7E00|sign.
 *   f16 -> f32    exact; a signalling NaN comes back quiet (what x86 F16C and torch's CPU .float()
 *                 do), payload kept otherwise.
 *   fp8           c10's fp8e4m3fn_/fp8e5m2_from_fp32_value and _to_fp32_value, re-derived here.
 *   float -> int  truncation toward zero; NaN and out-of-range give the x86 "integer indefinite"
 *                 value (INT32_MIN / INT64_MIN) exactly like torch on x86 CPUs; -> u8 goes through
 *                 int64 and keeps the low byte (c10 static_cast_with_inter_type<uint8_t>).
 *   int -> float  one rounding to f32 (RNE), then to the narrower type: double rounding like
 *                 torch's int -> BFloat16(float(x)).
 * Not handled here: strided data (callers pass contiguous rows) and complex types.
 * ref: c10/util/BFloat16.h, c10/util/Half.h, c10/util/Float8_e4m3fn.h, c10/util/Float8_e5m2.h,
 *      c10/util/TypeCast.h
 */
#include "core/dtype.h"

#include "core/error.h"
#include "core/quant.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- type table (from ltx.h's X-macro list) ------------------------------------------------ */

static const char *const dtype_names[LTX_DTYPE_COUNT] = {
#define LTX_X_NAME(name, text, size) text,
    LTX_DTYPE_LIST(LTX_X_NAME)
#undef LTX_X_NAME
};

static const unsigned char dtype_sizes[LTX_DTYPE_COUNT] = {
#define LTX_X_SIZE(name, text, size) size,
    LTX_DTYPE_LIST(LTX_X_SIZE)
#undef LTX_X_SIZE
};

/* Returns 0 for values outside the enum. */
size_t ltx_dtype_size(ltx_dtype t)
{
    return ((unsigned)t < LTX_DTYPE_COUNT) ? dtype_sizes[t] : 0;
}

/* Returns a static string; "?" for values outside the enum. */
const char *ltx_dtype_name(ltx_dtype t)
{
    return ((unsigned)t < LTX_DTYPE_COUNT) ? dtype_names[t] : "?";
}

/* Exact, case-sensitive match on the safetensors names. name may be NULL (-> false). */
bool ltx_dtype_parse(const char *name, ltx_dtype *out)
{
    if (!name) return false;
    for (int i = 0; i < LTX_DTYPE_COUNT; i++) {
        if (dtype_sizes[i] != 0 && strcmp(name, dtype_names[i]) == 0) {
            if (out) *out = (ltx_dtype)i;
            return true;
        }
    }
    return false;
}

/* Case-insensitive; quantized types included. name may be NULL (-> false). */
bool ltx_dtype_parse_any(const char *name, ltx_dtype *out)
{
    if (!name) return false;
    for (int i = 0; i < LTX_DTYPE_COUNT; i++) {
        if (strcasecmp(name, dtype_names[i]) == 0) {
            if (out) *out = (ltx_dtype)i;
            return true;
        }
    }
    return false;
}

bool ltx_dtype_is_float(ltx_dtype t)
{
    return t == LTX_F32 || t == LTX_F16 || t == LTX_BF16 || t == LTX_F64 || t == LTX_F8E4M3 ||
           t == LTX_F8E5M2;
}

/* ---- bit casts ------------------------------------------------------------------------------ */

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- bf16 ------------------------------------------------------------------------------------ */

float ltx_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

/* ref: c10/util/BFloat16.h round_to_nearest_even: add 0x7FFF plus the lsb of the kept half. */
static inline uint16_t bf16_from_bits(uint32_t u)
{
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)0x7FC0 : (uint16_t)r;
}

uint16_t ltx_f32_to_bf16(float f) { return bf16_from_bits(f2u(f)); }

/* ---- f16 ------------------------------------------------------------------------------------- */

/* binary16 bits -> binary32 bits. `quiet` sets the quiet bit of NaNs (F16C behaviour); c10's
 * scalar fp16_ieee_to_fp32_value (used for e5m2) keeps signalling NaNs as they are. Written
 * with selects only so that row loops vectorise. */
static inline uint32_t half_bits_to_f32_bits(uint16_t h, int quiet)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = (uint32_t)(h & 0x7FFFu);
    uint32_t normal = (em << 13) + ((127u - 15u) << 23);
    /* subnormal: m * 2^-24 computed exactly in float as 2^-14 * (1 + m/1024) - 2^-14 (the
     * mantissa placed under the exponent 113 = 127 - 14, then the implicit 1 subtracted) */
    uint32_t sub = f2u(u2f((113u << 23) | (em << 13)) - u2f(113u << 23));
    uint32_t infnan = 0x7F800000u | ((em & 0x3FFu) << 13) |
                      ((quiet && (em & 0x3FFu)) ? 0x00400000u : 0u);
    uint32_t mag = em >= 0x7C00u ? infnan : (em < 0x0400u ? sub : normal);
    return sign | mag;
}

float ltx_f16_to_f32(uint16_t h) { return u2f(half_bits_to_f32_bits(h, 1)); }

/* ref: c10/util/Half.h fp16_ieee_from_fp32_value (same results, different formulation).
 * All four cases are computed and selected, so row loops vectorise. */
static inline uint16_t f16_from_bits(uint32_t u)
{
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t x = u & 0x7FFFFFFFu;
    /* normal half (x >= 2^-14): rebias 127 -> 15 with RNE on the 13 dropped bits; a carry out of
     * the mantissa bumps the exponent, which is the correct rounding */
    uint32_t normal = ((x + 0x0FFFu + ((x >> 13) & 1u)) >> 13) - ((127u - 15u) << 10);
    /* subnormal half (x < 2^-14): adding 0.5f puts the half's lsb (2^-24) at the f32 lsb, so
     * the float add does the RNE; f32 subnormals and anything <= 2^-25 round to 0 */
    uint32_t sub = f2u(u2f(x) + 0.5f) - 0x3F000000u;
    uint32_t r = x > 0x7F800000u   ? 0x7E00u               /* NaN -> canonical quiet NaN */
                 : x >= 0x477FF000u ? 0x7C00u              /* >= 65520 (and Inf) -> Inf */
                 : x >= 0x38800000u ? normal
                                    : sub;
    return (uint16_t)(sign | r);
}

uint16_t ltx_f32_to_f16(float f) { return f16_from_bits(f2u(f)); }

/* ---- fp8 e4m3fn: 1-4-3, bias 7, no Inf, NaN = S.1111.111, max 448 ---------------------------- */

/* ref: c10/util/Float8_e4m3fn.h fp8e4m3fn_to_fp32_value. NaN decodes to sign|0x7FF00000. */
float ltx_fp8e4m3_to_f32(uint8_t v)
{
    uint32_t sign = (uint32_t)(v & 0x80u) << 24;
    uint32_t e = (v >> 3) & 0xFu, m = v & 7u;
    if ((v & 0x7Fu) == 0x7Fu) return u2f(sign | 0x7FF00000u);
    if (e == 0) { /* subnormal: m * 2^-9, exact in float */
        float a = (float)m * 0x1p-9f;
        return u2f(sign | f2u(a));
    }
    return u2f(sign | ((e + 120u) << 23) | (m << 20));
}

/* ref: c10/util/Float8_e4m3fn.h fp8e4m3fn_from_fp32_value. */
uint8_t ltx_f32_to_fp8e4m3(float f)
{
    uint32_t x = f2u(f);
    uint8_t sign = (uint8_t)((x >> 24) & 0x80u);
    uint8_t r;
    x &= 0x7FFFFFFFu;
    if (x >= (1087u << 20)) { /* >= 480 (first value past the top code), Inf, NaN */
        r = 0x7F;
    } else if (x < (121u << 23)) {
        /* below 2^-6: adding 2^(141-127) aligns the fp8 subnormal lsb with the f32 lsb, so the
         * float add does the RNE; subtracting the magic's bits leaves the code. */
        const uint32_t magic = 141u << 23;
        r = (uint8_t)(f2u(u2f(x) + u2f(magic)) - magic);
    } else {
        /* rebias 127 -> 7, RNE on the 20 dropped bits (ties go to the even code). 448 < x < 480
         * rounds to 464's tie rule: up to 0x7F (NaN) above 464, down to 448 at/below it. */
        x += ((uint32_t)(7 - 127) << 23) + 0x7FFFFu + ((x >> 20) & 1u);
        r = (uint8_t)(x >> 20);
    }
    return r | sign;
}

/* ---- fp8 e5m2: 1-5-2, bias 15, IEEE-like (Inf = S.11111.00) ---------------------------------- */

/* ref: c10/util/Float8_e5m2.h fp8e5m2_to_fp32_value: the code is the top byte of a half. */
float ltx_fp8e5m2_to_f32(uint8_t v) { return u2f(half_bits_to_f32_bits((uint16_t)(v << 8), 0)); }

/* ref: c10/util/Float8_e5m2.h fp8e5m2_from_fp32_value. */
uint8_t ltx_f32_to_fp8e5m2(float f)
{
    uint32_t x = f2u(f);
    uint8_t sign = (uint8_t)((x >> 24) & 0x80u);
    uint8_t r;
    x &= 0x7FFFFFFFu;
    if (x >= (143u << 23)) {          /* >= 65536: NaN -> 0x7F, everything else -> Inf */
        r = x > 0x7F800000u ? 0x7F : 0x7C;
    } else if (x < (113u << 23)) {    /* below 2^-14: float-add RNE into the subnormal grid */
        const uint32_t magic = 134u << 23;
        r = (uint8_t)(f2u(u2f(x) + u2f(magic)) - magic);
    } else {                          /* rebias 127 -> 15, RNE on 21 dropped bits */
        x += ((uint32_t)(15 - 127) << 23) + 0xFFFFFu + ((x >> 21) & 1u);
        r = (uint8_t)(x >> 21);       /* 57344 < x < 65536 may carry into 0x7C = Inf */
    }
    return r | sign;
}

/* ---- rows ----------------------------------------------------------------------------------- */

void ltx_bf16_to_f32_row(float *dst, const uint16_t *src, size_t n)
{
    /* u2f/f2u are 4-byte memcpys: no aliasing games, and the loop still vectorises */
    for (size_t i = 0; i < n; i++) dst[i] = u2f((uint32_t)src[i] << 16);
}

void ltx_f32_to_bf16_row(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = bf16_from_bits(f2u(src[i]));
}

void ltx_f32_to_f16_row(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = f16_from_bits(f2u(src[i]));
}

void ltx_f16_to_f32_row(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = u2f(half_bits_to_f32_bits(src[i], 1));
}

/* ---- generic conversion --------------------------------------------------------------------- */

/* One element on its way between types: integers stay exact in int64, f32 and narrower floats
 * stay in float (so NaN payloads survive: a float -> double -> float trip would quiet
 * signalling NaNs), f64 in double. */
typedef enum { V_INT, V_F32, V_F64 } value_kind;
typedef struct {
    value_kind kind;
    int64_t i;
    float f;
    double d;
} value;

static value load(const void *p, ltx_dtype t, size_t k)
{
    value v = {V_F32, 0, 0.0f, 0.0};
    switch (t) {
    case LTX_F32: v.f = ((const float *)p)[k]; break;
    case LTX_F16: v.f = ltx_f16_to_f32(((const uint16_t *)p)[k]); break;
    case LTX_BF16: v.f = ltx_bf16_to_f32(((const uint16_t *)p)[k]); break;
    case LTX_F64: v.kind = V_F64; v.d = ((const double *)p)[k]; break;
    case LTX_F8E4M3: v.f = ltx_fp8e4m3_to_f32(((const uint8_t *)p)[k]); break;
    case LTX_F8E5M2: v.f = ltx_fp8e5m2_to_f32(((const uint8_t *)p)[k]); break;
    case LTX_I64: v.kind = V_INT; v.i = ((const int64_t *)p)[k]; break;
    case LTX_I32: v.kind = V_INT; v.i = ((const int32_t *)p)[k]; break;
    case LTX_U8: v.kind = V_INT; v.i = ((const uint8_t *)p)[k]; break;
    case LTX_BOOL: v.kind = V_INT; v.i = ((const uint8_t *)p)[k] != 0; break;
    default: LTX_ASSERT(!"ltx_convert: bad source dtype");
    }
    return v;
}

/* Truncation toward zero with x86 "integer indefinite" for NaN/out of range, as torch on x86. */
static int64_t d_to_i64(double d)
{
    if (!(d >= -0x1p63 && d < 0x1p63)) return INT64_MIN; /* NaN fails both tests */
    return (int64_t)d;
}

static int32_t d_to_i32(double d)
{
    if (!(d > -0x1p31 - 1.0 && d < 0x1p31)) return INT32_MIN;
    return (int32_t)d;
}

/* The f32 a value becomes before narrowing: ints round once (RNE), f64 rounds once. */
static float to_f32(value v)
{
    return v.kind == V_INT ? (float)v.i : v.kind == V_F64 ? (float)v.d : v.f;
}

/* Any float value as double (exact); only meaningful for non-int values. */
static double to_f64(value v) { return v.kind == V_F64 ? v.d : (double)v.f; }

static void store(void *p, ltx_dtype t, size_t k, value v)
{
    int isint = v.kind == V_INT;
    switch (t) {
    case LTX_F32: ((float *)p)[k] = to_f32(v); break;
    case LTX_F16: ((uint16_t *)p)[k] = ltx_f32_to_f16(to_f32(v)); break;
    case LTX_BF16: ((uint16_t *)p)[k] = ltx_f32_to_bf16(to_f32(v)); break;
    case LTX_F64: ((double *)p)[k] = isint ? (double)v.i : to_f64(v); break;
    case LTX_F8E4M3: ((uint8_t *)p)[k] = ltx_f32_to_fp8e4m3(to_f32(v)); break;
    case LTX_F8E5M2: ((uint8_t *)p)[k] = ltx_f32_to_fp8e5m2(to_f32(v)); break;
    case LTX_I64: ((int64_t *)p)[k] = isint ? v.i : d_to_i64(to_f64(v)); break;
    case LTX_I32: /* int64 -> int32 wraps modulo 2^32 (two's complement), like torch */
        ((int32_t *)p)[k] = isint ? (int32_t)(uint32_t)(uint64_t)v.i : d_to_i32(to_f64(v));
        break;
    case LTX_U8: /* ref: c10/util/TypeCast.h: to uint8 via int64, keep the low byte */
        ((uint8_t *)p)[k] = (uint8_t)(uint64_t)(isint ? v.i : d_to_i64(to_f64(v)));
        break;
    case LTX_BOOL: ((uint8_t *)p)[k] = isint ? (v.i != 0) : (to_f64(v) != 0.0); break;
    default: LTX_ASSERT(!"ltx_convert: bad destination dtype");
    }
}

static const ltx_type_traits type_traits[LTX_DTYPE_COUNT];

/* Quantized on either side: 256 elements at a time through f32 (f32 itself is used directly). */
static void convert_blocks(void *dst, ltx_dtype dt, const void *src, ltx_dtype st, size_t n)
{
    const ltx_type_traits *ts = &type_traits[st], *td = &type_traits[dt];
    LTX_ASSERT(n % (size_t)ts->blck == 0 && n % (size_t)td->blck == 0);
    float buf[LTX_QK_K];
    const char *s = src;
    char *d = dst;
    for (size_t i = 0; i < n; i += LTX_QK_K) {
        size_t m = n - i < LTX_QK_K ? n - i : LTX_QK_K;
        const float *f = buf;
        if (st == LTX_F32)
            f = (const float *)s;
        else if (ts->to_float)
            ts->to_float(s, buf, (int64_t)m);
        else
            ltx_convert(buf, LTX_F32, s, st, m);
        if (dt == LTX_F32)
            memcpy(d, f, m * sizeof(float));
        else if (td->from_float)
            td->from_float(f, d, (int64_t)m);
        else
            ltx_convert(d, dt, f, LTX_F32, m);
        s += ltx_dtype_bytes(st, (int64_t)m);
        d += ltx_dtype_bytes(dt, (int64_t)m);
    }
}

/* dst and src must not overlap unless identical with st == dt. n == 0 is a no-op. Unknown
 * dtypes are an invariant violation (LTX_ASSERT). */
void ltx_convert(void *dst, ltx_dtype dt, const void *src, ltx_dtype st, size_t n)
{
    if (n == 0) return;
    if (dt == st) {
        if (dst != src) memcpy(dst, src, ltx_dtype_bytes(dt, (int64_t)n));
        return;
    }
    if (ltx_dtype_is_quant(st) || ltx_dtype_is_quant(dt)) {
        convert_blocks(dst, dt, src, st, n);
        return;
    }
    /* fast paths for the pairs hot loops use */
    if (st == LTX_BF16 && dt == LTX_F32) {
        ltx_bf16_to_f32_row(dst, src, n);
        return;
    }
    if (st == LTX_F16 && dt == LTX_F32) {
        ltx_f16_to_f32_row(dst, src, n);
        return;
    }
    if (st == LTX_F32 && dt == LTX_BF16) {
        ltx_f32_to_bf16_row(dst, src, n);
        return;
    }
    if (st == LTX_F32 && dt == LTX_F16) {
        ltx_f32_to_f16_row(dst, src, n);
        return;
    }
    if (st == LTX_F32 && dt == LTX_F64) {
        const float *s = src;
        double *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = s[i];
        return;
    }
    if (st == LTX_F64 && dt == LTX_F32) {
        const double *s = src;
        float *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = (float)s[i];
        return;
    }
    for (size_t i = 0; i < n; i++) store(dst, dt, i, load(src, st, i));
}

/* ---- storage traits --------------------------------------------------------------------------
 * Element rows reuse the conversions above; quantized rows are quant.c's. The vec_dot entries
 * are the scalar references: 256 elements dequantized at a time, summed in order in f32. */

static void f32_to_float(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void f32_from_float(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void bf16_to_float(const void *src, float *dst, int64_t n)
{
    ltx_bf16_to_f32_row(dst, src, (size_t)n);
}
static void bf16_from_float(const float *src, void *dst, int64_t n)
{
    ltx_f32_to_bf16_row(dst, src, (size_t)n);
}
static void f16_to_float(const void *src, float *dst, int64_t n)
{
    ltx_f16_to_f32_row(dst, src, (size_t)n);
}
static void f16_from_float(const float *src, void *dst, int64_t n)
{
    ltx_f32_to_f16_row(dst, src, (size_t)n);
}
static void f64_to_float(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
}
static void f64_from_float(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = src[i];
}
static void e4m3_to_float(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = ltx_fp8e4m3_to_f32(((const uint8_t *)src)[i]);
}
static void e4m3_from_float(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = ltx_f32_to_fp8e4m3(src[i]);
}
static void e5m2_to_float(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = ltx_fp8e5m2_to_f32(((const uint8_t *)src)[i]);
}
static void e5m2_from_float(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = ltx_f32_to_fp8e5m2(src[i]);
}

/* Scalar dot of a quantized row against f32 x through a 256-element dequantized window. */
static float dot_via(ltx_to_float_fn deq, size_t chunk_bytes, const void *w, const float *x,
                     int64_t n)
{
    float buf[LTX_QK_K], sum = 0.0f;
    const char *wp = w;
    for (int64_t i = 0; i < n; i += LTX_QK_K, wp += chunk_bytes, x += LTX_QK_K) {
        int64_t m = n - i < LTX_QK_K ? n - i : LTX_QK_K;
        deq(wp, buf, m);
        for (int64_t k = 0; k < m; k++) sum += buf[k] * x[k];
    }
    return sum;
}

#define LTX_X_DOT(t)                                                                               \
    static float vec_dot_##t(const void *w, const float *x, int64_t n)                          \
    {                                                                                              \
        return dot_via(ltx_dequantize_row_##t, sizeof(ltx_block_##t) * (LTX_QK_K / BLCK_##t), w, \
                       x, n);                                                                      \
    }
#define BLCK_q8_0 LTX_QK8_0
#define BLCK_q4_0 LTX_QK4_0
#define BLCK_q4_1 LTX_QK4_1
#define BLCK_q5_0 LTX_QK5_0
#define BLCK_q5_1 LTX_QK5_1
#define BLCK_q2_K LTX_QK_K
#define BLCK_q3_K LTX_QK_K
#define BLCK_q4_K LTX_QK_K
#define BLCK_q5_K LTX_QK_K
#define BLCK_q6_K LTX_QK_K
LTX_QUANT_TYPES(LTX_X_DOT)
#undef LTX_X_DOT

#define ELEM(nm, sz, to, from) {nm, 1, sz, false, to, from, NULL}
#define QUANT(nm, t) \
    {nm, BLCK_##t, sizeof(ltx_block_##t), true, ltx_dequantize_row_##t, ltx_quantize_row_##t, vec_dot_##t}

static const ltx_type_traits type_traits[LTX_DTYPE_COUNT] = {
    [LTX_F32] = ELEM("F32", 4, f32_to_float, f32_from_float),
    [LTX_F16] = ELEM("F16", 2, f16_to_float, f16_from_float),
    [LTX_BF16] = ELEM("BF16", 2, bf16_to_float, bf16_from_float),
    [LTX_F64] = ELEM("F64", 8, f64_to_float, f64_from_float),
    [LTX_F8E4M3] = ELEM("F8_E4M3", 1, e4m3_to_float, e4m3_from_float),
    [LTX_F8E5M2] = ELEM("F8_E5M2", 1, e5m2_to_float, e5m2_from_float),
    [LTX_I64] = ELEM("I64", 8, NULL, NULL),
    [LTX_I32] = ELEM("I32", 4, NULL, NULL),
    [LTX_U8] = ELEM("U8", 1, NULL, NULL),
    [LTX_BOOL] = ELEM("BOOL", 1, NULL, NULL),
    [LTX_Q8_0] = QUANT("Q8_0", q8_0),
    [LTX_Q4_0] = QUANT("Q4_0", q4_0),
    [LTX_Q4_1] = QUANT("Q4_1", q4_1),
    [LTX_Q5_0] = QUANT("Q5_0", q5_0),
    [LTX_Q5_1] = QUANT("Q5_1", q5_1),
    [LTX_Q2_K] = QUANT("Q2_K", q2_K),
    [LTX_Q3_K] = QUANT("Q3_K", q3_K),
    [LTX_Q4_K] = QUANT("Q4_K", q4_K),
    [LTX_Q5_K] = QUANT("Q5_K", q5_K),
    [LTX_Q6_K] = QUANT("Q6_K", q6_K),
};
#undef ELEM
#undef QUANT

const ltx_type_traits *ltx_type_traits_of(ltx_dtype t)
{
    return (unsigned)t < LTX_DTYPE_COUNT ? &type_traits[t] : NULL;
}

bool ltx_dtype_is_quant(ltx_dtype t)
{
    return (unsigned)t < LTX_DTYPE_COUNT && type_traits[t].quantized;
}

int64_t ltx_dtype_block_size(ltx_dtype t)
{
    return (unsigned)t < LTX_DTYPE_COUNT ? type_traits[t].blck : 0;
}

size_t ltx_dtype_bytes(ltx_dtype t, int64_t n)
{
    const ltx_type_traits *tt = ltx_type_traits_of(t);
    LTX_ASSERT(tt && n >= 0 && n % tt->blck == 0);
    return (size_t)(n / tt->blck) * tt->type_size;
}

bool ltx_dtype_bytes_checked(ltx_dtype t, int64_t n, size_t *out)
{
    const ltx_type_traits *tt = ltx_type_traits_of(t);
    if (!tt || n < 0 || n % tt->blck) return false;
    return !__builtin_mul_overflow((size_t)(n / tt->blck), tt->type_size, out);
}
