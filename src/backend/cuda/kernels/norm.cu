/*
 * norm.cu — CUDA RMS / layer norm over the last dim, group norm, pixel norm, and the fused
 * AdaLN modulate (norm(x) * (1 + scale) + shift).
 *
 * As the CPU backend (src/backend/cpu/cpu_norm.c): f32 data, statistics accumulated in double
 * (two passes for the layer/group variance), rs = (float)(1 / sqrt(mean + eps)) in double, then
 * the f32 products in the CPU's order — so results differ from the CPU only where the double
 * sums (different order) round to a different float, i.e. almost never. -fmad=false.
 * One block per row (last-dim norms) or per (sample, group); pixel norm one thread per
 * position. Weight/bias/scale/shift may be any float dtype (read through load_as).
 * ref: torch.nn.functional.rms_norm / layer_norm / group_norm; ltx_core/model/transformer/
 *      transformer.py (AdaLN: x * (1 + scale) + shift after a parameter-free norm).
 */
#include "common.cuh"
#include "reduce_util.cuh"

#define NORM_THREADS 256

/* Row statistics: RMS -> rs over x^2; LAYER -> mean m and rs over (x-m)^2. */
__device__ static inline void row_stats(int op, const float *x, int64_t D, int64_t xs, float eps,
                                        float *rs_out, float *m_out, double *sh)
{
    double acc = 0;
    if (op == 0) {
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            double v = (double)x[i * xs];
            acc += v * v;
        }
        double ss = block_sum(acc, sh);
        *rs_out = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
        *m_out = 0.0f;
        return;
    }
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x)
        acc += (double)x[i * xs];
    double m = block_sum(acc, sh) / (double)D;
    acc = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
        double e = (double)x[i * xs] - m;
        acc += e * e;
    }
    double q = block_sum(acc, sh);
    *rs_out = (float)(1.0 / sqrt(q / (double)D + (double)eps));
    *m_out = (float)m;
}

static __global__ void norm_lastdim_kernel(int op, ck_iter rows, int64_t D, int64_t ds, int64_t xs,
                                           float *dst, const float *x, ck_operand w, ck_operand b,
                                           float eps)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows.n; r += gridDim.x) {
        int64_t off[2];
        iter_offsets<2>(rows, r, off);
        const float *xr = x + off[1];
        float *dr = dst + off[0];
        float rs, m;
        row_stats(op, xr, D, xs, eps, &rs, &m, sh);
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            float v = xr[i * xs];
            float y;
            if (op == 0) {
                y = v * rs;
                if (w.p) y = y * load_as<float>(w.p, w.dtype, i);
            } else {
                y = (v - m) * rs;
                if (w.p) y = y * load_as<float>(w.p, w.dtype, i);
                if (b.p) y = y + load_as<float>(b.p, b.dtype, i);
            }
            dr[i * ds] = y;
        }
    }
}

static __global__ void norm_modulate_kernel(int op, ck_iter rows, int64_t D, int64_t ds, int64_t xs,
                                            int64_t scs, int64_t shs, float *dst, const float *x,
                                            ck_operand sc, ck_operand sf, float eps)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows.n; r += gridDim.x) {
        int64_t off[4];
        iter_offsets<4>(rows, r, off);
        const float *xr = x + off[1];
        float *dr = dst + off[0];
        float rs, m;
        row_stats(op, xr, D, xs, eps, &rs, &m, sh);
        for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
            float v = xr[i * xs];
            float n = op == 0 ? v * rs : (v - m) * rs;
            float s = load_as<float>(sc.p, sc.dtype, off[2] + i * scs);
            float t = load_as<float>(sf.p, sf.dtype, off[3] + i * shs);
            dr[i * ds] = (n * (1.0f + s)) + t;
        }
    }
}

static __global__ void norm_group_kernel(float *dst, const float *x, int64_t C, int64_t S,
                                         int64_t G, ck_operand w, ck_operand b, float eps)
{
    __shared__ double sh[32];
    int64_t cpg = C / G, len = cpg * S;
    int64_t n = blockIdx.x / G, g = blockIdx.x % G;
    const float *xg = x + (n * C + g * cpg) * S;
    float *dg = dst + (n * C + g * cpg) * S;
    double acc = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
        acc += (double)xg[i];
    double m = block_sum(acc, sh) / (double)len;
    acc = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
        double e = (double)xg[i] - m;
        acc += e * e;
    }
    double q = block_sum(acc, sh);
    float rs = (float)(1.0 / sqrt(q / (double)len + (double)eps)), mf = (float)m;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
        int64_t ch = g * cpg + i / S;
        float wv = w.p ? load_as<float>(w.p, w.dtype, ch) : 1.0f;
        float bv = b.p ? load_as<float>(b.p, b.dtype, ch) : 0.0f;
        dg[i] = ((xg[i] - mf) * rs) * wv + bv;
    }
}

static __global__ void norm_pixel_kernel(float *dst, const float *x, int64_t N, int64_t C,
                                         int64_t S, float eps)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * S;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / S, s = i % S;
        const float *xp = x + n * C * S + s;
        float *dp = dst + n * C * S + s;
        double acc = 0;
        for (int64_t c = 0; c < C; c++)
            acc += (double)xp[c * S] * xp[c * S];
        float rs = (float)(1.0 / sqrt(acc / (double)C + (double)eps));
        for (int64_t c = 0; c < C; c++)
            dp[c * S] = xp[c * S] * rs;
    }
}

static unsigned row_grid(int64_t rows)
{
    return (unsigned)(rows < 1048576 ? rows : 1048576);
}

extern "C" cudaError_t ltx_ck_norm_lastdim(cudaStream_t s, int op, const ck_iter *rows, int64_t D,
                                           int64_t ds, int64_t xs, float *dst, const float *x,
                                           ck_operand w, ck_operand b, float eps)
{
    if (rows->n == 0) return cudaSuccess;
    int threads = D >= 2048 ? NORM_THREADS : 128;
    norm_lastdim_kernel<<<row_grid(rows->n), threads, 0, s>>>(op, *rows, D, ds, xs, dst, x, w, b,
                                                              eps);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_norm_modulate(cudaStream_t s, int op, const ck_iter *rows, int64_t D,
                                            int64_t ds, int64_t xs, int64_t scs, int64_t shs,
                                            float *dst, const float *x, ck_operand scale,
                                            ck_operand shift, float eps)
{
    if (rows->n == 0) return cudaSuccess;
    int threads = D >= 2048 ? NORM_THREADS : 128;
    norm_modulate_kernel<<<row_grid(rows->n), threads, 0, s>>>(op, *rows, D, ds, xs, scs, shs, dst,
                                                               x, scale, shift, eps);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_norm_group(cudaStream_t s, float *dst, const float *x, int64_t N,
                                         int64_t C, int64_t S, int64_t G, ck_operand w,
                                         ck_operand b, float eps)
{
    if (N * G == 0) return cudaSuccess;
    norm_group_kernel<<<(unsigned)(N * G), 1024, 0, s>>>(dst, x, C, S, G, w, b, eps);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_norm_pixel(cudaStream_t s, float *dst, const float *x, int64_t N,
                                         int64_t C, int64_t S, float eps)
{
    if (N * S == 0) return cudaSuccess;
    norm_pixel_kernel<<<grid_for(N * S, 256), 256, 0, s>>>(dst, x, N, C, S, eps);
    CK_LAUNCH_CHECK();
}
