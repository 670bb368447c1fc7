/*
 * interpolate.cu — CUDA resize of 1-3 spatial dims (nearest, linear, bicubic, area) from
 * per-dim tap tables built on the host with the CPU's formulas (cuda_ops.c build_dim). The
 * weighted sums run in the CPU's order (innermost dim first, the first tap assigned, later taps
 * added; -fmad=false), so results are bit-identical to src/backend/cpu/cpu_conv.c interp_rows.
 * One thread per output element.
 * ref: aten/src/ATen/native/UpSample.h, cpu/UpSampleKernel.cpp
 */
#include "common.cuh"

static __global__ void interp_kernel(ck_interp c)
{
    int64_t n = c.rows * c.out[2];
    int T0 = c.taps[0], T1 = c.taps[1], T2 = c.taps[2];
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t ow = e % c.out[2], r = e / c.out[2];
        int64_t oh = r % c.out[1], od = (r / c.out[1]) % c.out[0];
        int64_t nc = r / (c.out[1] * c.out[0]);
        const float *xb = c.x + (nc / c.C) * c.xs0 + (nc % c.C) * c.xs1;
        float acc0 = 0;
        for (int a = 0; a < T0; a++) {
            const float *xa = xb + c.idx[0][od * T0 + a];
            float acc1 = 0;
            for (int b = 0; b < T1; b++) {
                const float *xbb = xa + c.idx[1][oh * T1 + b];
                float acc2 = 0;
                for (int k = 0; k < T2; k++) {
                    float t = xbb[c.idx[2][ow * T2 + k]] * c.wt[2][ow * T2 + k];
                    acc2 = k ? acc2 + t : t;
                }
                float t = acc2 * c.wt[1][oh * T1 + b];
                acc1 = b ? acc1 + t : t;
            }
            float t = acc1 * c.wt[0][od * T0 + a];
            acc0 = a ? acc0 + t : t;
        }
        c.y[e] = acc0;
    }
}

extern "C" cudaError_t ltx_ck_interpolate(cudaStream_t s, const ck_interp *c)
{
    int64_t n = c->rows * c->out[2];
    if (n == 0) return cudaSuccess;
    interp_kernel<<<grid_for(n, 256), 256, 0, s>>>(*c);
    CK_LAUNCH_CHECK();
}
