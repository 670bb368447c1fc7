/*
 * attention.cu — fused scaled-dot-product attention (flash-attention style: online softmax over
 * key blocks, never the Tq x Tk matrix) for q (B, H, Tq, D), k/v (B, Hk, Tk, D) with GQA
 * (H % Hk == 0), v/o head dim Dv may differ from D, any element strides, an optional mask
 * broadcast to (B, H, Tq, Tk) — additive
 * F32/BF16/F16, or BOOL/U8 keep-flags (0 = masked out) — and head dims up to 256 (templates for
 * 32/64/128/256; smaller dims are zero-padded in shared memory).
 *
 * One block per (query tile, head, batch); each warp owns 16 query rows. Per key block:
 *   S = Q K^T (f32 accumulation) -> s * scale + mask -> running max m / sum l per row (two lanes
 *   per row) -> O = O * exp(m_old - m_new) + exp(S - m_new) V. Finally O / l. Rows whose scores
 *   are all -inf give zeros (as the CPU backend and PyTorch >= 2.5's math SDPA).
 * Two variants:
 *   f32  (be->precision F32): scalar f32 FMA; S in shared memory, O in registers (lane owns
 *        columns d = lane + 32c for the warp's 16 rows). Matches the CPU to f32 rounding.
 *   bf16 (BF16): q, k, v and P rounded to bf16 (RNE) in shared memory, WMMA 16x16x16 tensor-core
 *        products with f32 accumulation, O in accumulator fragments; the row of each accumulator
 *        element is read from a fragment loaded from a row-index matrix, which is how O rows are
 *        rescaled without relying on the fragment layout.
 * Not here: cp.async/TMA pipelining, wgmma (sm_90a), causal skipping — correctness first.
 * ref: ltx_core/model/transformer/attention.py (SDPA on (B, H, T, D)); FlashAttention-2 (Dao,
 *      2023) for the online-softmax recurrence (ideas only).
 */
#include "common.cuh"

#include <cuda_bf16.h>
#include <mma.h>

using namespace nvcuda;

/* Additive value of the mask at (b, h, i, j), -inf for a masked-out flag. */
__device__ static inline float mask_at(const ck_attn &a, int64_t b, int64_t h, int64_t i, int64_t j)
{
    int64_t o = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
    if (a.mdtype == DT_BOOL || a.mdtype == DT_U8)
        return ((const uint8_t *)a.mask)[o] ? 0.0f : -INFINITY;
    return load_as<float>(a.mask, a.mdtype, o);
}

/* rows x DP tile from global (row stride rs, col stride cs) into shared f32 (ld), zero-padded
 * beyond `valid` rows and D columns. Whole block. */
__device__ static inline void load_tile_f32(float *dst, int ld, const float *src, int64_t rs,
                                            int64_t cs, int rows, int valid, int D, int DP)
{
    for (int i = threadIdx.x; i < rows * DP; i += blockDim.x) {
        int r = i / DP, d = i - r * DP;
        dst[r * ld + d] = (r < valid && d < D) ? src[r * rs + d * cs] : 0.0f;
    }
}

__device__ static inline void load_tile_bf16(uint16_t *dst, int ld, const float *src, int64_t rs,
                                             int64_t cs, int rows, int valid, int D, int DP)
{
    for (int i = threadIdx.x; i < rows * DP; i += blockDim.x) {
        int r = i / DP, d = i - r * DP;
        dst[r * ld + d] = (r < valid && d < D) ? f32_to_bf16(src[r * rs + d * cs]) : (uint16_t)0;
    }
}

/* Online-softmax update of one row held by lanes 2r and 2r+1 (half = lane & 1): row `srow` of
 * S (length BK, already scaled and masked) becomes P = exp(s - m_new); returns alpha =
 * exp(m_old - m_new) and updates m, l. P is written through `put`. */
template <int BK, typename PutP>
__device__ static inline float softmax_row(const float *srow, float &m, float &l, PutP put)
{
    int half = threadIdx.x & 1;
    const int c0 = half * (BK / 2), c1 = c0 + BK / 2;
    float mx = -INFINITY;
    for (int c = c0; c < c1; c++)
        mx = fmaxf(mx, srow[c]);
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    float m_new = fmaxf(m, mx);
    float m_use = m_new == -INFINITY ? 0.0f : m_new; /* all -inf so far: p = 0, no NaN */
    float alpha = expf(m - m_use);
    float sum = 0.0f;
    for (int c = c0; c < c1; c++) {
        float p = expf(srow[c] - m_use);
        put(c, p);
        sum += p;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    return alpha;
}

/* ---- f32 variant ---------------------------------------------------------------------------- */

template <int DP, int NW, int BK> struct f32_cfg {
    static constexpr int BQ = 16 * NW, LQ = DP + 1, LS = BK + 1;
    static constexpr size_t smem =
        sizeof(float) * (size_t)(BQ * LQ + BK * LQ + BK * DP + NW * 16 * LS + NW * 16);
};

template <int DP, int NW, int BK>
static __global__ void __launch_bounds__(NW * 32) attn_f32_kernel(ck_attn a)
{
    using C = f32_cfg<DP, NW, BK>;
    constexpr int NC = DP / 32, LG = 32 / BK, RPL = 16 / LG;
    extern __shared__ float smem[];
    float *Qs = smem, *Ks = Qs + C::BQ * C::LQ, *Vs = Ks + BK * C::LQ, *Ss = Vs + BK * DP;
    float *As = Ss + NW * 16 * C::LS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t b = blockIdx.z, h = blockIdx.y, q0 = (int64_t)blockIdx.x * C::BQ;
    const int64_t hk = h / (a.H / a.Hk);
    const int D = (int)a.D, Dv = (int)a.Dv;
    const int qvalid = (int)min((int64_t)C::BQ, a.Tq - q0);
    load_tile_f32(Qs, C::LQ, a.q + b * a.qs[0] + h * a.qs[1] + q0 * a.qs[2], a.qs[2], a.qs[3],
                  C::BQ, qvalid, D, DP);
    float o[16][NC];
#pragma unroll
    for (int r = 0; r < 16; r++)
#pragma unroll
        for (int c = 0; c < NC; c++)
            o[r][c] = 0.0f;
    float m = -INFINITY, l = 0.0f; /* row lane/2 of this warp */
    float *Sw = Ss + warp * 16 * C::LS, *Aw = As + warp * 16;
    const int j = lane % BK, g = lane / BK;
    for (int64_t k0 = 0; k0 < a.Tk; k0 += BK) {
        const int kvalid = (int)min((int64_t)BK, a.Tk - k0);
        __syncthreads(); /* the previous block's K/V are no longer read */
        load_tile_f32(Ks, C::LQ, a.k + b * a.ks[0] + hk * a.ks[1] + k0 * a.ks[2], a.ks[2], a.ks[3],
                      BK, kvalid, D, DP);
        load_tile_f32(Vs, DP, a.v + b * a.vs[0] + hk * a.vs[1] + k0 * a.vs[2], a.vs[2], a.vs[3], BK,
                      kvalid, Dv, DP);
        __syncthreads();
        float acc[RPL];
#pragma unroll
        for (int i = 0; i < RPL; i++)
            acc[i] = 0.0f;
        const float *kr = Ks + j * C::LQ, *qw = Qs + (warp * 16 + g) * C::LQ;
        for (int d = 0; d < DP; d++) {
            float kv = kr[d];
#pragma unroll
            for (int i = 0; i < RPL; i++)
                acc[i] += qw[i * LG * C::LQ + d] * kv;
        }
#pragma unroll
        for (int i = 0; i < RPL; i++) {
            int r = g + LG * i;
            int64_t qi = q0 + warp * 16 + r, kj = k0 + j;
            float s = acc[i] * a.scale;
            if (j >= kvalid)
                s = -INFINITY;
            else if (a.mask && qi < a.Tq)
                s = s + mask_at(a, b, h, qi, kj);
            Sw[r * C::LS + j] = s;
        }
        __syncwarp();
        float *prow = Sw + (lane >> 1) * C::LS;
        float alpha = softmax_row<BK>(prow, m, l, [&](int c, float p) { prow[c] = p; });
        if (!(lane & 1)) Aw[lane >> 1] = alpha;
        __syncwarp();
#pragma unroll
        for (int r = 0; r < 16; r++) {
            float al = Aw[r];
#pragma unroll
            for (int c = 0; c < NC; c++)
                o[r][c] *= al;
        }
        for (int jj = 0; jj < kvalid; jj++) {
            float vv[NC];
#pragma unroll
            for (int c = 0; c < NC; c++)
                vv[c] = Vs[jj * DP + lane + 32 * c];
#pragma unroll
            for (int r = 0; r < 16; r++) {
                float p = Sw[r * C::LS + jj];
#pragma unroll
                for (int c = 0; c < NC; c++)
                    o[r][c] += p * vv[c];
            }
        }
        __syncwarp();
    }
    if (!(lane & 1)) Aw[lane >> 1] = l;
    __syncwarp();
#pragma unroll
    for (int r = 0; r < 16; r++) {
        int64_t qi = q0 + warp * 16 + r;
        if (qi >= a.Tq) continue;
        float lr = Aw[r];
        float *orow = a.o + b * a.os[0] + h * a.os[1] + qi * a.os[2];
#pragma unroll
        for (int c = 0; c < NC; c++) {
            int d = lane + 32 * c;
            if (d < Dv) orow[d * a.os[3]] = lr > 0.0f ? o[r][c] / lr : 0.0f;
        }
    }
}

/* ---- bf16 tensor-core variant --------------------------------------------------------------- */

template <int DP, int BK> struct bf_cfg {
    static constexpr int NW = 4, BQ = 64, LQ = DP + 8, LS = BK + 4, LP = BK + 8;
    static constexpr size_t q_bytes = 2u * BQ * LQ, kv_bytes = 2u * BK * LQ;
    static constexpr size_t s_bytes = 4u * NW * 16 * LS, p_bytes = 2u * NW * 16 * LP;
    static constexpr size_t smem =
        q_bytes + 2 * kv_bytes + s_bytes + p_bytes + 4u * (256 + NW * 16);
};

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_frag;

template <int DP, int BK> __global__ void __launch_bounds__(128) attn_bf16_kernel(ck_attn a)
{
    using C = bf_cfg<DP, BK>;
    constexpr int NT = DP / 16;
    extern __shared__ __align__(128) unsigned char sm[];
    uint16_t *Qs = (uint16_t *)sm, *Ks = (uint16_t *)(sm + C::q_bytes),
             *Vs = (uint16_t *)(sm + C::q_bytes + C::kv_bytes);
    float *Ss = (float *)(sm + C::q_bytes + 2 * C::kv_bytes);
    uint16_t *Ps = (uint16_t *)(sm + C::q_bytes + 2 * C::kv_bytes + C::s_bytes);
    float *Rid = (float *)(sm + C::q_bytes + 2 * C::kv_bytes + C::s_bytes + C::p_bytes);
    float *As = Rid + 256;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t b = blockIdx.z, h = blockIdx.y, q0 = (int64_t)blockIdx.x * C::BQ;
    const int64_t hk = h / (a.H / a.Hk);
    const int D = (int)a.D, Dv = (int)a.Dv;
    const int qvalid = (int)min((int64_t)C::BQ, a.Tq - q0);
    for (int i = threadIdx.x; i < 256; i += blockDim.x)
        Rid[i] = (float)(i / 16);
    load_tile_bf16(Qs, C::LQ, a.q + b * a.qs[0] + h * a.qs[1] + q0 * a.qs[2], a.qs[2], a.qs[3],
                   C::BQ, qvalid, D, DP);
    __syncthreads();
    acc_frag rowid, o[NT];
    wmma::load_matrix_sync(rowid, Rid, 16, wmma::mem_row_major);
#pragma unroll
    for (int t = 0; t < NT; t++)
        wmma::fill_fragment(o[t], 0.0f);
    float m = -INFINITY, l = 0.0f;
    float *Sw = Ss + warp * 16 * C::LS, *Aw = As + warp * 16;
    uint16_t *Pw = Ps + warp * 16 * C::LP;
    const __nv_bfloat16 *Qw = (const __nv_bfloat16 *)(Qs + warp * 16 * C::LQ);
    for (int64_t k0 = 0; k0 < a.Tk; k0 += BK) {
        const int kvalid = (int)min((int64_t)BK, a.Tk - k0);
        __syncthreads();
        load_tile_bf16(Ks, C::LQ, a.k + b * a.ks[0] + hk * a.ks[1] + k0 * a.ks[2], a.ks[2], a.ks[3],
                       BK, kvalid, D, DP);
        load_tile_bf16(Vs, C::LQ, a.v + b * a.vs[0] + hk * a.vs[1] + k0 * a.vs[2], a.vs[2], a.vs[3],
                       BK, kvalid, Dv, DP);
        __syncthreads();
        /* S (16 x BK) = Q_w K^T */
        for (int nt = 0; nt < BK / 16; nt++) {
            acc_frag s;
            wmma::fill_fragment(s, 0.0f);
#pragma unroll
            for (int kt = 0; kt < NT; kt++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> qa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> kb;
                wmma::load_matrix_sync(qa, Qw + kt * 16, C::LQ);
                wmma::load_matrix_sync(kb, (const __nv_bfloat16 *)Ks + nt * 16 * C::LQ + kt * 16,
                                       C::LQ);
                wmma::mma_sync(s, qa, kb, s);
            }
            wmma::store_matrix_sync(Sw + nt * 16, s, C::LS, wmma::mem_row_major);
        }
        __syncwarp();
        /* scale + mask + online softmax; P to bf16 */
        const int r = lane >> 1;
        const int64_t qi = q0 + warp * 16 + r;
        float *srow = Sw + r * C::LS;
        for (int c = (lane & 1) * (BK / 2); c < (lane & 1) * (BK / 2) + BK / 2; c++) {
            float s = srow[c] * a.scale;
            if (c >= kvalid)
                s = -INFINITY;
            else if (a.mask && qi < a.Tq)
                s = s + mask_at(a, b, h, qi, k0 + c);
            srow[c] = s;
        }
        uint16_t *prow = Pw + r * C::LP;
        float alpha =
            softmax_row<BK>(srow, m, l, [&](int c, float p) { prow[c] = f32_to_bf16(p); });
        if (!(lane & 1)) Aw[r] = alpha;
        __syncwarp();
#pragma unroll
        for (int t = 0; t < NT; t++)
#pragma unroll
            for (int i = 0; i < o[t].num_elements; i++)
                o[t].x[i] *= Aw[(int)rowid.x[i]];
                /* O (16 x DP) += P V */
#pragma unroll
        for (int t = 0; t < NT; t++) {
#pragma unroll
            for (int kt = 0; kt < BK / 16; kt++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> pa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> vb;
                wmma::load_matrix_sync(pa, (const __nv_bfloat16 *)Pw + kt * 16, C::LP);
                wmma::load_matrix_sync(vb, (const __nv_bfloat16 *)Vs + kt * 16 * C::LQ + t * 16,
                                       C::LQ);
                wmma::mma_sync(o[t], pa, vb, o[t]);
            }
        }
        __syncwarp();
    }
    if (!(lane & 1)) Aw[lane >> 1] = l;
    __syncwarp();
    /* O / l, staged 16x16 at a time through the warp's S area, written with bounds (unrolled:
     * o[] must stay in registers) */
#pragma unroll
    for (int t = 0; t < NT; t++) {
#pragma unroll
        for (int i = 0; i < o[t].num_elements; i++) {
            float lr = Aw[(int)rowid.x[i]];
            o[t].x[i] = lr > 0.0f ? o[t].x[i] / lr : 0.0f;
        }
        wmma::store_matrix_sync(Sw, o[t], C::LS, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 256; e += 32) {
            int rr = e / 16, cc = e % 16, d = t * 16 + cc;
            int64_t qi = q0 + warp * 16 + rr;
            if (qi < a.Tq && d < Dv)
                a.o[b * a.os[0] + h * a.os[1] + qi * a.os[2] + d * a.os[3]] = Sw[rr * C::LS + cc];
        }
        __syncwarp();
    }
}

/* ---- launch --------------------------------------------------------------------------------- */

template <typename K>
static cudaError_t launch(K kern, size_t smem, dim3 grid, int threads, cudaStream_t s,
                          const ck_attn *a)
{
    if (smem > 48 * 1024) {
        cudaError_t e =
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return e;
    }
    kern<<<grid, threads, smem, s>>>(*a);
    return cudaGetLastError();
}

template <int DP, int NW, int BK> static cudaError_t run_f32(cudaStream_t s, const ck_attn *a)
{
    using C = f32_cfg<DP, NW, BK>;
    dim3 grid((unsigned)((a->Tq + C::BQ - 1) / C::BQ), (unsigned)a->H, (unsigned)a->B);
    return launch(attn_f32_kernel<DP, NW, BK>, C::smem, grid, NW * 32, s, a);
}

template <int DP, int BK> static cudaError_t run_bf16(cudaStream_t s, const ck_attn *a)
{
    using C = bf_cfg<DP, BK>;
    dim3 grid((unsigned)((a->Tq + C::BQ - 1) / C::BQ), (unsigned)a->H, (unsigned)a->B);
    return launch(attn_bf16_kernel<DP, BK>, C::smem, grid, 128, s, a);
}

extern "C" cudaError_t ltx_ck_attention(cudaStream_t s, const ck_attn *a)
{
    if (a->B == 0 || a->H == 0 || a->Tq == 0) return cudaSuccess;
    int64_t dm = a->D > a->Dv ? a->D : a->Dv; /* both padded to one template width */
    if (dm > 256 || a->D < 1 || a->Dv < 1 || a->H > 65535 || a->B > 65535)
        return cudaErrorInvalidValue;
    if (a->bf16) {
        if (dm <= 32) return run_bf16<32, 64>(s, a);
        if (dm <= 64) return run_bf16<64, 64>(s, a);
        if (dm <= 128) return run_bf16<128, 64>(s, a);
        return run_bf16<256, 32>(s, a);
    }
    if (dm <= 32) return run_f32<32, 4, 32>(s, a);
    if (dm <= 64) return run_f32<64, 4, 32>(s, a);
    if (dm <= 128) return run_f32<128, 4, 32>(s, a);
    return run_f32<256, 2, 16>(s, a);
}
