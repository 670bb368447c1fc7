/*
 * gemm_aux.cu — the small kernels around cuBLASLt GEMMs: dtype conversion of weights and
 * activations into GEMM operands (bf16 with the CPU's RNE rounding, or f32; optional per-tensor
 * weight scale, applied as (float)w * scale like the CPU's fp8 tables), a strided-rows gather,
 * and the bias + activation epilogue used when cuBLASLt's epilogue is not (f32 exact path, or
 * no algorithm). Compiled with -fmad=false.
 */
#include "common.cuh"
#include "unary_math.cuh"

#define GRID_LOOP(i, n)                                                                            \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)gridDim.x * blockDim.x)

static __global__ void to_bf16_kernel(uint16_t *d, ck_operand s, int64_t n, float scale)
{
    GRID_LOOP(i, n)
    {
        float v = load_as<float>(s.p, s.dtype, i);
        d[i] = f32_to_bf16(scale == 1.0f ? v : v * scale);
    }
}

static __global__ void to_f32_kernel(float *d, ck_operand s, int64_t n, float scale)
{
    GRID_LOOP(i, n)
    {
        float v = load_as<float>(s.p, s.dtype, i);
        d[i] = scale == 1.0f ? v : v * scale;
    }
}

static __global__ void gather_rows_kernel(void *d, int to_bf16, const float *s, int64_t rows,
                                          int64_t cols, int64_t rs, int64_t cs)
{
    GRID_LOOP(i, rows * cols)
    {
        int64_t r = i / cols, c = i - r * cols;
        float v = s[r * rs + c * cs];
        if (to_bf16)
            ((uint16_t *)d)[i] = f32_to_bf16(v);
        else
            ((float *)d)[i] = v;
    }
}

static __global__ void bias_act_kernel(float *y, int64_t M, int64_t N, ck_operand bias, int act)
{
    GRID_LOOP(i, M * N)
    {
        float v = y[i];
        if (bias.p) v = v + load_as<float>(bias.p, bias.dtype, i % N);
        if (act >= 0) v = unary_eval<float>(act, v, 0.0f, 0.0f);
        y[i] = v;
    }
}

extern "C" cudaError_t ltx_ck_to_bf16(cudaStream_t s, void *dst, ck_operand src, int64_t n,
                                      float scale)
{
    if (n == 0) return cudaSuccess;
    to_bf16_kernel<<<grid_for(n, 256), 256, 0, s>>>((uint16_t *)dst, src, n, scale);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_to_f32(cudaStream_t s, float *dst, ck_operand src, int64_t n,
                                     float scale)
{
    if (n == 0) return cudaSuccess;
    to_f32_kernel<<<grid_for(n, 256), 256, 0, s>>>(dst, src, n, scale);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_gather_rows(cudaStream_t s, void *dst, int to_bf16, const float *src,
                                          int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    if (rows * cols == 0) return cudaSuccess;
    gather_rows_kernel<<<grid_for(rows * cols, 256), 256, 0, s>>>(dst, to_bf16, src, rows, cols, rs,
                                                                  cs);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_bias_act(cudaStream_t s, float *y, int64_t M, int64_t N,
                                       ck_operand bias, int act)
{
    if (M * N == 0 || (!bias.p && act < 0)) return cudaSuccess;
    bias_act_kernel<<<grid_for(M * N, 256), 256, 0, s>>>(y, M, N, bias, act);
    CK_LAUNCH_CHECK();
}
