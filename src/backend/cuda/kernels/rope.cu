/*
 * rope.cu — CUDA rotary embedding (split and interleaved pairs, backend.h's table layout) and
 * the fused q/k path qk_norm_rope: RMSNorm over the whole H*D row with weight w, then RoPE per
 * head, in one pass over the activation.
 *
 * Arithmetic is the CPU's (src/backend/cpu/cpu_norm.c ltx_cpu_rope, ltx_cpu_norm RMS): per pair
 * out1 = (x1 c) + ((-s) x2), out2 = (x2 c) + (s x1), no FMA (-fmad=false), so rope is
 * bit-identical to the CPU and qk_norm_rope equals norm-then-rope on the CPU up to the double
 * sum's order. One thread per rotation pair (rope, in place allowed); one block per token row
 * for qk_norm_rope (the normalised row staged in shared memory).
 * ref: ltx_core/model/transformer/rope.py (apply_split_rotary_emb, apply_interleaved_rotary_emb),
 *      ltx_core/model/transformer/attention.py (q_norm/k_norm over the full inner dim, then rope).
 */
#include "common.cuh"
#include "reduce_util.cuh"

/* Rotates one pair; `mode` 0 split (pair i, i + D/2), 1 interleaved (2i, 2i+1). */
__device__ static inline void rotate(float x1, float x2, float co, float sn, float *o1, float *o2)
{
    *o1 = (x1 * co) + ((-sn) * x2);
    *o2 = (x2 * co) + (sn * x1);
}

static __global__ void rope_kernel(ck_rope r)
{
    int64_t half = r.D / 2, n = r.B * r.H * r.T * half;
    for (int64_t p = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = p % half, row = p / half;
        int64_t t = row % r.T, h = (row / r.T) % r.H, b = row / (r.T * r.H);
        int64_t j1 = r.mode == 0 ? i : 2 * i, j2 = r.mode == 0 ? i + half : 2 * i + 1;
        const float *xr = r.x + b * r.x_s[0] + h * r.x_s[1] + t * r.x_s[2];
        float *dr = r.dst + b * r.dst_s[0] + h * r.dst_s[1] + t * r.dst_s[2];
        float co = r.cos[b * r.c_s[0] + h * r.c_s[1] + t * r.c_s[2] + i * r.c_s[3]];
        float sn = r.sin[b * r.s_s[0] + h * r.s_s[1] + t * r.s_s[2] + i * r.s_s[3]];
        float x1 = xr[j1 * r.x_s[3]], x2 = xr[j2 * r.x_s[3]], o1, o2;
        rotate(x1, x2, co, sn, &o1, &o2);
        dr[j1 * r.dst_s[3]] = o1;
        dr[j2 * r.dst_s[3]] = o2;
    }
}

/* One block per (b, t) row of x (B, T, H*D); dynamic shared memory holds the H*D normalised
 * values. */
static __global__ void qk_norm_rope_kernel(ck_rope r, int64_t xrow, ck_operand w, float eps)
{
    extern __shared__ float row[];
    __shared__ double sh[32];
    int64_t HD = r.H * r.D, half = r.D / 2;
    for (int64_t bt = blockIdx.x; bt < r.B * r.T; bt += gridDim.x) {
        int64_t b = bt / r.T, t = bt % r.T;
        const float *xr = r.x + b * r.T * xrow + t * xrow;
        double acc = 0;
        for (int64_t i = threadIdx.x; i < HD; i += blockDim.x) {
            double v = (double)xr[i];
            acc += v * v;
        }
        double ss = block_sum(acc, sh);
        float rs = (float)(1.0 / sqrt(ss / (double)HD + (double)eps));
        for (int64_t i = threadIdx.x; i < HD; i += blockDim.x) {
            float y = xr[i] * rs;
            if (w.p) y = y * load_as<float>(w.p, w.dtype, i);
            row[i] = y;
        }
        __syncthreads();
        float *dr = r.dst + bt * HD;
        for (int64_t p = threadIdx.x; p < r.H * half; p += blockDim.x) {
            int64_t h = p / half, i = p % half;
            int64_t j1 = r.mode == 0 ? i : 2 * i, j2 = r.mode == 0 ? i + half : 2 * i + 1;
            float co = r.cos[b * r.c_s[0] + h * r.c_s[1] + t * r.c_s[2] + i * r.c_s[3]];
            float sn = r.sin[b * r.s_s[0] + h * r.s_s[1] + t * r.s_s[2] + i * r.s_s[3]];
            float o1, o2;
            rotate(row[h * r.D + j1], row[h * r.D + j2], co, sn, &o1, &o2);
            dr[h * r.D + j1] = o1;
            dr[h * r.D + j2] = o2;
        }
        __syncthreads(); /* row[] is rewritten by the next iteration */
    }
}

extern "C" cudaError_t ltx_ck_rope_apply(cudaStream_t s, const ck_rope *r)
{
    int64_t n = r->B * r->H * r->T * (r->D / 2);
    if (n == 0) return cudaSuccess;
    rope_kernel<<<grid_for(n, 256), 256, 0, s>>>(*r);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_qk_norm_rope(cudaStream_t s, const ck_rope *r, int64_t xrow,
                                           ck_operand w, float eps)
{
    int64_t rows = r->B * r->T;
    if (rows == 0) return cudaSuccess;
    size_t smem = sizeof(float) * (size_t)(r->H * r->D);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(
            qk_norm_rope_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    unsigned g = (unsigned)(rows < 1048576 ? rows : 1048576);
    qk_norm_rope_kernel<<<g, 256, smem, s>>>(*r, xrow, w, eps);
    CK_LAUNCH_CHECK();
}
