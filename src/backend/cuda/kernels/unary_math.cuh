/*
 * unary_math.cuh — the unary ops in the CPU backend's arithmetic (cpu_elementwise.c
 * DEFINE_UNARY), shared by elementwise.cu and the GEMM epilogue kernel (gemm_aux.cu). Files
 * including it are compiled with -fmad=false so "x * a + b" stays two roundings.
 */
#ifndef LTX_CUDA_UNARY_MATH_CUH
#define LTX_CUDA_UNARY_MATH_CUH

#include "common.cuh"

#include <math.h>

/* ltx_unary_op / ltx_binary_op codes (backend.h order; checked by static asserts on the host) */
enum {
    U_NEG,
    U_EXP,
    U_LOG,
    U_SQRT,
    U_RSQRT,
    U_SIN,
    U_COS,
    U_TANH,
    U_SIGMOID,
    U_SILU,
    U_GELU_TANH,
    U_GELU_ERF,
    U_RELU,
    U_LEAKY_RELU,
    U_ABS,
    U_SQUARE,
    U_SCALE,
    U_DIVS,
    U_RECIP,
    U_CLAMP,
    U_ROUND_BF16
};
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_AXPBY };

#define GELU_BETA  0.7978845608028654
#define GELU_KAPPA 0.044715

/* The CPU's branch-free exp for the f32 activations (cpu_elementwise.c exp_fast), so sigmoid,
 * SiLU and GELU-tanh agree bit for bit. */
__device__ static inline float exp_fast(float x)
{
    float xc = (x >= -87.3f && x <= 88.7f) ? x : (x > 0 ? 88.7f : -87.3f);
    float n = rintf(xc * 1.44269504088896341f);
    float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) *
                   r +
               1.6666665459e-1f) *
                  r +
              5.0000001201e-1f;
    p = (p * (r * r) + r) + 1.0f;
    float sc = __int_as_float((int32_t)((uint32_t)((int32_t)n + 127) << 23));
    float y = p * sc;
    y = x > 88.7f ? INFINITY : (x < -87.3f ? 0.0f : y);
    return x != x ? x : y;
}
__device__ static inline float tanh_gelu_fast(float u)
{
    return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f);
}

__device__ static inline float m_exp(float x)
{
    return expf(x);
}
__device__ static inline double m_exp(double x)
{
    return exp(x);
}
__device__ static inline float act_exp(float x)
{
    return exp_fast(x);
}
__device__ static inline double act_exp(double x)
{
    return exp(x);
}
__device__ static inline float act_tanh(float x)
{
    return tanh_gelu_fast(x);
}
__device__ static inline double act_tanh(double x)
{
    return tanh(x);
}
__device__ static inline float rnd_bf16(float x)
{
    return round_bf16(x);
}
__device__ static inline double rnd_bf16(double x)
{
    return (double)round_bf16((float)x);
}

/* One unary op in compute type T (float or double): cpu_elementwise.c DEFINE_UNARY. */
template <typename T> __device__ static inline T unary_eval(int op, T x, T c0, T c1)
{
    const T one = 1, half = (T)0.5, beta = (T)GELU_BETA, kappa = (T)GELU_KAPPA;
    const T rsq2 = (T)0.70710678118654752440;
    switch (op) {
    case U_NEG:
        return -x;
    case U_EXP:
        return m_exp(x);
    case U_LOG:
        return log(x);
    case U_SQRT:
        return sqrt(x);
    case U_RSQRT:
        return one / sqrt(x);
    case U_SIN:
        return sin(x);
    case U_COS:
        return cos(x);
    case U_TANH:
        return tanh(x);
    case U_SIGMOID:
        return one / (one + act_exp(-x));
    case U_SILU:
        return x / (one + act_exp(-x));
    case U_GELU_TANH:
        return (half * x) * (one + act_tanh(beta * (x + kappa * (x * x * x))));
    case U_GELU_ERF:
        return (x * half) * (one + erf(x * rsq2));
    case U_RELU:
        return x > 0 ? x : (x != x ? x : (T)0);
    case U_LEAKY_RELU:
        return x > 0 ? x : x * c0;
    case U_ABS:
        return fabs(x);
    case U_SQUARE:
        return x * x;
    case U_SCALE:
        return (x * c0) + c1;
    case U_DIVS:
        return x / c0;
    case U_RECIP:
        return one / x;
    case U_CLAMP:
        return x < c0 ? c0 : (x > c1 ? c1 : x);
    default:
        return rnd_bf16(x); /* U_ROUND_BF16 */
    }
}

#endif
