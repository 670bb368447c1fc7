/*
 * conv.cu — the device halves of the CUDA convolution (host side: cuda_conv_attn.c): im2col
 * for the forward GEMM, the gather form of col2im for the transposed GEMM (each output element
 * sums its own taps: no atomics, deterministic), bias initialisation, and a direct depthwise
 * kernel (one input and one output channel per group: the vocoder's anti-alias filters, the
 * upsampler's blur). Every rank is handled as 3-D (leading spatial dims of size 1).
 * ref: src/backend/cpu/cpu_conv.c (same lowering), torch.nn.functional.conv{1,2,3}d /
 *      conv_transpose{1,2}d semantics.
 */
#include "common.cuh"

#define GRID_LOOP(i, n)                                                                            \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)gridDim.x * blockDim.x)

/* col[(ci*Kvol + k) * P + pp] for output positions p0 + pp of sample n, group grp. */
static __global__ void im2col_kernel(ck_conv g, const float *x, int64_t n, int64_t grp, int64_t p0,
                                     int64_t P, void *col, int to_bf16)
{
    GRID_LOOP(e, g.cig * g.Kvol * P)
    {
        int64_t pp = e % P, rk = e / P, k = rk % g.Kvol, ci = rk / g.Kvol;
        int64_t o = p0 + pp;
        int64_t ow = o % g.out[2], oh = (o / g.out[2]) % g.out[1], od = o / (g.out[2] * g.out[1]);
        int64_t kw = k % g.k[2], kh = (k / g.k[2]) % g.k[1], kd = k / (g.k[2] * g.k[1]);
        int64_t id = od * g.s[0] - g.p[0] + kd * g.dl[0];
        int64_t ih = oh * g.s[1] - g.p[1] + kh * g.dl[1];
        int64_t iw = ow * g.s[2] - g.p[2] + kw * g.dl[2];
        float v = 0.0f;
        if (id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2])
            v = x[n * g.xs[0] + (grp * g.cig + ci) * g.xs[1] + id * g.xs[2] + ih * g.xs[3] +
                  iw * g.xs[4]];
        if (to_bf16)
            ((uint16_t *)col)[e] = f32_to_bf16(v);
        else
            ((float *)col)[e] = v;
    }
}

/* Input index along one dim that output o receives from tap k in a transposed conv, or -1. */
__device__ static inline int64_t tsrc(int64_t o, int64_t k, int64_t s, int64_t p, int64_t dl,
                                      int64_t in)
{
    int64_t t = o + p - k * dl;
    if (t < 0 || t % s) return -1;
    t /= s;
    return t < in ? t : -1;
}

/* y[n, grp*cog + co, o] += sum over taps of col[(co*Kvol + k) * Sin + i(o, k)]. */
static __global__ void col2im_kernel(ck_conv g, const float *col, float *y, int64_t n, int64_t grp)
{
    GRID_LOOP(e, g.cog * g.Sout)
    {
        int64_t o = e % g.Sout, co = e / g.Sout;
        int64_t ow = o % g.out[2], oh = (o / g.out[2]) % g.out[1], od = o / (g.out[2] * g.out[1]);
        float acc = 0.0f;
        for (int64_t k = 0; k < g.Kvol; k++) {
            int64_t kw = k % g.k[2], kh = (k / g.k[2]) % g.k[1], kd = k / (g.k[2] * g.k[1]);
            int64_t id = tsrc(od, kd, g.s[0], g.p[0], g.dl[0], g.in[0]);
            int64_t ih = tsrc(oh, kh, g.s[1], g.p[1], g.dl[1], g.in[1]);
            int64_t iw = tsrc(ow, kw, g.s[2], g.p[2], g.dl[2], g.in[2]);
            if (id < 0 || ih < 0 || iw < 0) continue;
            acc += col[(co * g.Kvol + k) * g.Sin + (id * g.in[1] + ih) * g.in[2] + iw];
        }
        y[(n * g.Cout + grp * g.cog + co) * g.Sout + o] += acc;
    }
}

static __global__ void bias_init_kernel(float *y, int64_t N, int64_t C, int64_t S,
                                        const float *bias)
{
    GRID_LOOP(e, N * C * S) y[e] = bias ? bias[(e / S) % C] : 0.0f;
}

static __global__ void depthwise_kernel(ck_conv g, float *y, const float *x, const float *w,
                                        const float *bias, int transposed)
{
    GRID_LOOP(e, g.N * g.Cout * g.Sout)
    {
        int64_t o = e % g.Sout, c = (e / g.Sout) % g.Cout, n = e / (g.Sout * g.Cout);
        int64_t ow = o % g.out[2], oh = (o / g.out[2]) % g.out[1], od = o / (g.out[2] * g.out[1]);
        const float *xc = x + n * g.xs[0] + c * g.xs[1];
        const float *wc = w + c * g.Kvol;
        float acc = 0.0f;
        for (int64_t k = 0; k < g.Kvol; k++) {
            int64_t kw = k % g.k[2], kh = (k / g.k[2]) % g.k[1], kd = k / (g.k[2] * g.k[1]);
            int64_t id, ih, iw;
            if (transposed) {
                id = tsrc(od, kd, g.s[0], g.p[0], g.dl[0], g.in[0]);
                ih = tsrc(oh, kh, g.s[1], g.p[1], g.dl[1], g.in[1]);
                iw = tsrc(ow, kw, g.s[2], g.p[2], g.dl[2], g.in[2]);
                if (id < 0 || ih < 0 || iw < 0) continue;
            } else {
                id = od * g.s[0] - g.p[0] + kd * g.dl[0];
                ih = oh * g.s[1] - g.p[1] + kh * g.dl[1];
                iw = ow * g.s[2] - g.p[2] + kw * g.dl[2];
                if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2])
                    continue;
            }
            acc += xc[id * g.xs[2] + ih * g.xs[3] + iw * g.xs[4]] * wc[k];
        }
        y[e] = (bias ? bias[c] : 0.0f) + acc;
    }
}

extern "C" cudaError_t ltx_ck_im2col(cudaStream_t s, const ck_conv *g, const float *x, int64_t n,
                                     int64_t grp, int64_t p0, int64_t P, void *col, int to_bf16)
{
    int64_t total = g->cig * g->Kvol * P;
    if (total == 0) return cudaSuccess;
    im2col_kernel<<<grid_for(total, 256), 256, 0, s>>>(*g, x, n, grp, p0, P, col, to_bf16);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_col2im(cudaStream_t s, const ck_conv *g, const float *col, float *y,
                                     int64_t n, int64_t grp)
{
    int64_t total = g->cog * g->Sout;
    if (total == 0) return cudaSuccess;
    col2im_kernel<<<grid_for(total, 256), 256, 0, s>>>(*g, col, y, n, grp);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_conv_bias_init(cudaStream_t s, float *y, int64_t N, int64_t C,
                                             int64_t S, const float *bias)
{
    if (N * C * S == 0) return cudaSuccess;
    bias_init_kernel<<<grid_for(N * C * S, 256), 256, 0, s>>>(y, N, C, S, bias);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_conv_depthwise(cudaStream_t s, const ck_conv *g, float *y,
                                             const float *x, const float *w, const float *bias,
                                             int transposed)
{
    int64_t total = g->N * g->Cout * g->Sout;
    if (total == 0) return cudaSuccess;
    depthwise_kernel<<<grid_for(total, 256), 256, 0, s>>>(*g, y, x, w, bias, transposed);
    CK_LAUNCH_CHECK();
}
