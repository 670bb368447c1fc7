/*
 * softmax.cu — CUDA softmax over the last dim (f32): row max, exp(x - max) and their sum,
 * then one division per element, as src/backend/cpu/cpu_attention.c ltx_cpu_softmax (the sum's
 * order differs: a block tree instead of a running sum). All -inf rows give NaN (torch.softmax).
 * One block per row; the row is read three times (L2 keeps it for the model's row lengths).
 */
#include "common.cuh"
#include "reduce_util.cuh"

static __global__ void softmax_kernel(ck_iter rows, int64_t L, int64_t ss, float *dst,
                                      const float *src)
{
    __shared__ float sh[32];
    for (int64_t r = blockIdx.x; r < rows.n; r += gridDim.x) {
        int64_t off[2];
        iter_offsets<2>(rows, r, off);
        const float *x = src + off[1];
        float *o = dst + off[0];
        float m = -INFINITY;
        for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
            float v = x[i * ss];
            m = (v > m || v != v) ? v : m;
        }
        m = block_max(m, sh, -INFINITY);
        float sum = 0.0f;
        for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
            float e = expf(x[i * ss] - m);
            o[i] = e;
            sum += e;
        }
        sum = block_sum(sum, sh);
        for (int64_t i = threadIdx.x; i < L; i += blockDim.x)
            o[i] = o[i] / sum;
    }
}

extern "C" cudaError_t ltx_ck_softmax(cudaStream_t s, const ck_iter *rows, int64_t L, int64_t ss,
                                      float *dst, const float *src)
{
    if (rows->n == 0) return cudaSuccess;
    unsigned g = (unsigned)(rows->n < 1048576 ? rows->n : 1048576);
    softmax_kernel<<<g, L >= 1024 ? 256 : 128, 0, s>>>(*rows, L, ss, dst, src);
    CK_LAUNCH_CHECK();
}
