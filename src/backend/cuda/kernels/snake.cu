/*
 * snake.cu — CUDA SnakeBeta: y = x + 1/(beta + 1e-9) * sin(x * alpha)^2 per channel, alpha and
 * beta exponentiated first when they are stored in log scale.
 * As src/backend/cpu/cpu_norm.c ltx_cpu_snake (per-channel tables first, then one pass); sinf is
 * CUDA's (within 2 ulp of the CPU's polynomial). -fmad=false.
 * ref: ltx_core/model/audio_vae/vocoder.py SnakeBeta.forward
 */
#include "common.cuh"

static __global__ void snake_prep_kernel(float *a_out, float *inv_out, ck_operand alpha,
                                         ck_operand beta, int64_t C, int log_scale)
{
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C;
         c += (int64_t)gridDim.x * blockDim.x) {
        float a = load_as<float>(alpha.p, alpha.dtype, c),
              b = load_as<float>(beta.p, beta.dtype, c);
        if (log_scale) {
            a = expf(a);
            b = expf(b);
        }
        a_out[c] = a;
        inv_out[c] = 1.0f / (b + 1e-9f); /* ref: eps = 1e-9 */
    }
}

static __global__ void snake_kernel(float *dst, const float *x, int64_t B, int64_t C, int64_t T,
                                    int64_t d0, int64_t d1, int64_t d2, int64_t x0, int64_t x1,
                                    int64_t x2, const float *a, const float *inv)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * C * T;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = i % T, c = (i / T) % C, b = i / (T * C);
        float v = x[b * x0 + c * x1 + t * x2], sn = sinf(v * a[c]);
        dst[b * d0 + c * d1 + t * d2] = v + inv[c] * (sn * sn);
    }
}

extern "C" cudaError_t ltx_ck_snake_prep(cudaStream_t s, float *a_out, float *inv_out,
                                         ck_operand alpha, ck_operand beta, int64_t C,
                                         int log_scale)
{
    snake_prep_kernel<<<grid_for(C, 256), 256, 0, s>>>(a_out, inv_out, alpha, beta, C, log_scale);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_snake(cudaStream_t s, float *dst, const float *x, int64_t B,
                                    int64_t C, int64_t T, const int64_t *ds, const int64_t *xs,
                                    const float *a, const float *inv)
{
    int64_t n = B * C * T;
    if (n == 0) return cudaSuccess;
    snake_kernel<<<grid_for(n, 256), 256, 0, s>>>(dst, x, B, C, T, ds[0], ds[1], ds[2], xs[0],
                                                  xs[1], xs[2], a, inv);
    CK_LAUNCH_CHECK();
}
