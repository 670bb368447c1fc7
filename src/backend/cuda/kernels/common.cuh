/*
 * common.cuh — device helpers shared by the CUDA kernels: dtype loads/stores with the exact
 * rounding rules of src/core/dtype.c (bf16/f16 RNE, fp8 e4m3fn/e5m2 as c10, float -> int
 * truncation with x86's "integer indefinite"), the strided index walk of a ck_iter, and launch
 * geometry. Everything here is header-only device code (no state).
 * ref: c10/util/BFloat16.h, Half.h, Float8_e4m3fn.h, Float8_e5m2.h (re-derived in dtype.c).
 */
#ifndef LTX_CUDA_COMMON_CUH
#define LTX_CUDA_COMMON_CUH

#include "../cuda_kernels.h"

#include <cuda_runtime.h>
#include <stdint.h>

/* ltx_dtype codes (include/ltx.h order). */
enum {
    DT_F32 = 0,
    DT_F16 = 1,
    DT_BF16 = 2,
    DT_F64 = 3,
    DT_E4M3 = 4,
    DT_E5M2 = 5,
    DT_I64 = 6,
    DT_I32 = 7,
    DT_U8 = 8,
    DT_BOOL = 9
};

__host__ __device__ static inline int dt_size(int dt)
{
    switch (dt) {
    case DT_F32:
    case DT_I32:
        return 4;
    case DT_F16:
    case DT_BF16:
        return 2;
    case DT_F64:
    case DT_I64:
        return 8;
    default:
        return 1;
    }
}

__device__ static inline float u2f(uint32_t u)
{
    return __uint_as_float(u);
}
__device__ static inline uint32_t f2u(float f)
{
    return __float_as_uint(f);
}

/* ---- bf16 / f16 / fp8 bit conversions (dtype.c, line for line in meaning) ---- */
__device__ static inline float bf16_to_f32(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}
__device__ static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u = f2u(f);
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)0x7FC0 : (uint16_t)r;
}
__device__ static inline float round_bf16(float f)
{
    return bf16_to_f32(f32_to_bf16(f));
}

__device__ static inline uint32_t half_bits_to_f32_bits(uint16_t h, int quiet)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = (uint32_t)(h & 0x7FFFu);
    uint32_t normal = (em << 13) + ((127u - 15u) << 23);
    /* __fsub_rn: never contracted, exact here anyway */
    uint32_t sub = f2u(__fsub_rn(u2f((113u << 23) | (em << 13)), u2f(113u << 23)));
    uint32_t infnan =
        0x7F800000u | ((em & 0x3FFu) << 13) | ((quiet && (em & 0x3FFu)) ? 0x00400000u : 0u);
    uint32_t mag = em >= 0x7C00u ? infnan : (em < 0x0400u ? sub : normal);
    return sign | mag;
}
__device__ static inline float f16_to_f32(uint16_t h)
{
    return u2f(half_bits_to_f32_bits(h, 1));
}
__device__ static inline uint16_t f32_to_f16(float f)
{
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t x = u & 0x7FFFFFFFu;
    uint32_t normal = ((x + 0x0FFFu + ((x >> 13) & 1u)) >> 13) - ((127u - 15u) << 10);
    uint32_t sub = f2u(__fadd_rn(u2f(x), 0.5f)) - 0x3F000000u;
    uint32_t r = x > 0x7F800000u    ? 0x7E00u
                 : x >= 0x477FF000u ? 0x7C00u
                 : x >= 0x38800000u ? normal
                                    : sub;
    return (uint16_t)(sign | r);
}

__device__ static inline float e4m3_to_f32(uint8_t v)
{
    uint32_t sign = (uint32_t)(v & 0x80u) << 24;
    uint32_t e = (v >> 3) & 0xFu, m = v & 7u;
    if ((v & 0x7Fu) == 0x7Fu) return u2f(sign | 0x7FF00000u);
    if (e == 0) return u2f(sign | f2u(__fmul_rn((float)m, 0x1p-9f)));
    return u2f(sign | ((e + 120u) << 23) | (m << 20));
}
__device__ static inline uint8_t f32_to_e4m3(float f)
{
    uint32_t x = f2u(f);
    uint8_t sign = (uint8_t)((x >> 24) & 0x80u);
    uint8_t r;
    x &= 0x7FFFFFFFu;
    if (x >= (1087u << 20)) {
        r = 0x7F;
    } else if (x < (121u << 23)) {
        const uint32_t magic = 141u << 23;
        r = (uint8_t)(f2u(__fadd_rn(u2f(x), u2f(magic))) - magic);
    } else {
        x += ((uint32_t)(7 - 127) << 23) + 0x7FFFFu + ((x >> 20) & 1u);
        r = (uint8_t)(x >> 20);
    }
    return (uint8_t)(r | sign);
}
__device__ static inline float e5m2_to_f32(uint8_t v)
{
    return u2f(half_bits_to_f32_bits((uint16_t)(v << 8), 0));
}
__device__ static inline uint8_t f32_to_e5m2(float f)
{
    uint32_t x = f2u(f);
    uint8_t sign = (uint8_t)((x >> 24) & 0x80u);
    uint8_t r;
    x &= 0x7FFFFFFFu;
    if (x >= (143u << 23)) {
        r = x > 0x7F800000u ? 0x7F : 0x7C;
    } else if (x < (113u << 23)) {
        const uint32_t magic = 134u << 23;
        r = (uint8_t)(f2u(__fadd_rn(u2f(x), u2f(magic))) - magic);
    } else {
        x += ((uint32_t)(15 - 127) << 23) + 0xFFFFFu + ((x >> 21) & 1u);
        r = (uint8_t)(x >> 21);
    }
    return (uint8_t)(r | sign);
}

/* ---- generic element load/store ---- */

/* An element as it travels between types (dtype.c's `value`): integers exact in int64, f32 and
 * narrower floats as float, f64 as double. */
struct elem {
    int kind; /* 0 int, 1 f32, 2 f64 */
    int64_t i;
    float f;
    double d;
};

__device__ static inline elem load_elem(const void *p, int dt, int64_t k)
{
    elem v;
    v.kind = 1;
    v.i = 0;
    v.f = 0.0f;
    v.d = 0.0;
    switch (dt) {
    case DT_F32:
        v.f = ((const float *)p)[k];
        break;
    case DT_F16:
        v.f = f16_to_f32(((const uint16_t *)p)[k]);
        break;
    case DT_BF16:
        v.f = bf16_to_f32(((const uint16_t *)p)[k]);
        break;
    case DT_F64:
        v.kind = 2;
        v.d = ((const double *)p)[k];
        break;
    case DT_E4M3:
        v.f = e4m3_to_f32(((const uint8_t *)p)[k]);
        break;
    case DT_E5M2:
        v.f = e5m2_to_f32(((const uint8_t *)p)[k]);
        break;
    case DT_I64:
        v.kind = 0;
        v.i = ((const int64_t *)p)[k];
        break;
    case DT_I32:
        v.kind = 0;
        v.i = ((const int32_t *)p)[k];
        break;
    case DT_U8:
        v.kind = 0;
        v.i = ((const uint8_t *)p)[k];
        break;
    default:
        v.kind = 0;
        v.i = ((const uint8_t *)p)[k] != 0;
        break; /* BOOL */
    }
    return v;
}

__device__ static inline int64_t d_to_i64(double d)
{
    if (!(d >= -0x1p63 && d < 0x1p63)) return INT64_MIN;
    return (int64_t)d;
}
__device__ static inline int32_t d_to_i32(double d)
{
    if (!(d > -0x1p31 - 1.0 && d < 0x1p31)) return INT32_MIN;
    return (int32_t)d;
}
__device__ static inline float elem_f32(elem v)
{
    return v.kind == 0 ? (float)v.i : v.kind == 2 ? (float)v.d : v.f;
}
__device__ static inline double elem_f64(elem v)
{
    return v.kind == 2 ? v.d : (double)v.f;
}

__device__ static inline void store_elem(void *p, int dt, int64_t k, elem v)
{
    int isint = v.kind == 0;
    switch (dt) {
    case DT_F32:
        ((float *)p)[k] = elem_f32(v);
        break;
    case DT_F16:
        ((uint16_t *)p)[k] = f32_to_f16(elem_f32(v));
        break;
    case DT_BF16:
        ((uint16_t *)p)[k] = f32_to_bf16(elem_f32(v));
        break;
    case DT_F64:
        ((double *)p)[k] = isint ? (double)v.i : elem_f64(v);
        break;
    case DT_E4M3:
        ((uint8_t *)p)[k] = f32_to_e4m3(elem_f32(v));
        break;
    case DT_E5M2:
        ((uint8_t *)p)[k] = f32_to_e5m2(elem_f32(v));
        break;
    case DT_I64:
        ((int64_t *)p)[k] = isint ? v.i : d_to_i64(elem_f64(v));
        break;
    case DT_I32:
        ((int32_t *)p)[k] = isint ? (int32_t)(uint32_t)(uint64_t)v.i : d_to_i32(elem_f64(v));
        break;
    case DT_U8:
        ((uint8_t *)p)[k] = (uint8_t)(uint64_t)(isint ? v.i : d_to_i64(elem_f64(v)));
        break;
    default:
        ((uint8_t *)p)[k] = isint ? (v.i != 0) : (elem_f64(v) != 0.0);
        break;
    }
}

/* Float load in the compute type T (float or double); only float dtypes reach these. */
template <typename T> __device__ static inline T load_as(const void *p, int dt, int64_t k);
template <> __device__ inline float load_as<float>(const void *p, int dt, int64_t k)
{
    switch (dt) {
    case DT_F32:
        return ((const float *)p)[k];
    case DT_BF16:
        return bf16_to_f32(((const uint16_t *)p)[k]);
    case DT_F16:
        return f16_to_f32(((const uint16_t *)p)[k]);
    case DT_F64:
        return (float)((const double *)p)[k];
    case DT_E4M3:
        return e4m3_to_f32(((const uint8_t *)p)[k]);
    case DT_E5M2:
        return e5m2_to_f32(((const uint8_t *)p)[k]);
    default:
        return elem_f32(load_elem(p, dt, k));
    }
}
template <> __device__ inline double load_as<double>(const void *p, int dt, int64_t k)
{
    if (dt == DT_F64) return ((const double *)p)[k];
    return (double)load_as<float>(p, dt, k);
}
template <typename T> __device__ static inline void store_as(void *p, int dt, int64_t k, T v);
template <> __device__ inline void store_as<float>(void *p, int dt, int64_t k, float v)
{
    switch (dt) {
    case DT_F32:
        ((float *)p)[k] = v;
        return;
    case DT_BF16:
        ((uint16_t *)p)[k] = f32_to_bf16(v);
        return;
    case DT_F16:
        ((uint16_t *)p)[k] = f32_to_f16(v);
        return;
    case DT_F64:
        ((double *)p)[k] = (double)v;
        return;
    case DT_E4M3:
        ((uint8_t *)p)[k] = f32_to_e4m3(v);
        return;
    case DT_E5M2:
        ((uint8_t *)p)[k] = f32_to_e5m2(v);
        return;
    default: {
        elem e;
        e.kind = 1;
        e.i = 0;
        e.f = v;
        e.d = 0;
        store_elem(p, dt, k, e);
    }
    }
}
template <> __device__ inline void store_as<double>(void *p, int dt, int64_t k, double v)
{
    if (dt == DT_F64) {
        ((double *)p)[k] = v;
        return;
    }
    store_as<float>(p, dt, k, (float)v);
}

/* Operand element offsets of flat index i of the space (NOPS operands). */
template <int NOPS>
__device__ static inline void iter_offsets(const ck_iter &it, int64_t i, int64_t *off)
{
#pragma unroll
    for (int k = 0; k < NOPS; k++)
        off[k] = 0;
    for (int d = it.ndim - 1; d >= 0; d--) {
        int64_t sz = it.shape[d];
        int64_t j = i % sz;
        i /= sz;
#pragma unroll
        for (int k = 0; k < NOPS; k++)
            off[k] += j * it.stride[k][d];
    }
}

/* Grid of at most 65535*... blocks for n work items with `threads` per block, grid-stride. */
static inline unsigned grid_for(int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 1048576) b = 1048576; /* kernels loop grid-stride past this */
    return (unsigned)b;
}

#define CK_LAUNCH_CHECK() return cudaGetLastError()

#endif
