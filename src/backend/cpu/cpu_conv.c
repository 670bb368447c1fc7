/*
 * cpu_conv.c — CPU convolution (1/2/3-D, transposed, groups, stride, dilation, zero padding,
 * output padding) and interpolation (nearest, (bi/tri)linear, bicubic) — contracts in
 * backend.h.
 *
 * Convolution lowers to OpenBLAS sgemm. Every spatial rank is handled as 3-D (missing leading
 * dims have size 1). Forward: per (sample, group) and per tile of output positions,
 *   col (C_in/g·K, P) = im2col(x)   then   y[:, tile] = W_g (C_out/g, C_in/g·K) @ col + bias.
 * A 1×1×1 kernel with stride 1 and no padding skips im2col and multiplies x in place.
 * Transposed: per tile of *input* positions, col (C_out/g·K, Q) = W_gᵀ @ x_tile, then col2im
 * scatter-adds col into y (parallel over output channels, so without races).
 * Pure depthwise convs (one input and one output channel per group, the vocoder's anti-alias
 * filters) use direct loops instead of degenerate 1-row GEMMs; 1-D ones with stride > 1 split
 * the strided side into stride phases so every tap is a contiguous multiply-add.
 * Scratch (bounded, per call): the im2col tile (≤ CONV_TILE_BYTES, at least one output row),
 * an f32 copy of the weights when they are not contiguous f32 (weight-sized), a contiguous copy
 * of a non-contiguous transposed-conv input tile, the bias as f32, one phased row per worker
 * chunk (depthwise 1-D).
 * Threads: im2col/col2im/direct loops run on be->pool; each sgemm is one OpenBLAS call on as
 * many threads as the pool (ltx_cpu_sgemm: whole matrices keep the bits independent of --threads).
 * OpenBLAS's workers then poll for a while beside the pool's next loops; parking them after
 * each product was measured and not adopted (docs/ARCHITECTURE.md "CPU threading").
 *
 * Interpolation follows torch.nn.functional.interpolate (ref: aten/src/ATen/native/UpSample.h,
 * cpu/UpSampleKernel.cpp): index/weight math in f32 (torch's opmath for f32), scale = in/out
 * (torch's rule when `size=` is given, identical for integer scale factors), the taps of the
 * outermost spatial dim summed last. "area" = adaptive average pooling windows. No antialias.
 */
#include "backend/conv_geom.h"
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_isa.h"
#include "backend/cpu/cpu_iter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CONV_TILE_BYTES (32u << 20) /* im2col / col2im tile budget */

typedef ltx_conv_geom geom; /* backend/conv_geom.h */

/* ---- direct depthwise -------------------------------------------------------------------- */

typedef struct dw_ctx {
    const geom *g;
    float *y;
    const float *x, *w, *bias;
    bool transposed;
} dw_ctx;

/* [j0, j1) = the j in [0, count) with 0 <= a + j*s < n (s >= 1). */
static void valid_range(int64_t a, int64_t s, int64_t n, int64_t count, int64_t *j0, int64_t *j1)
{
    int64_t lo = a >= 0 ? 0 : (-a + s - 1) / s;
    int64_t hi = n - a <= 0 ? 0 : (n - a + s - 1) / s;
    if (hi > count) hi = count;
    if (lo > hi) lo = hi;
    *j0 = lo;
    *j1 = hi;
}

/* 1-D depthwise with stride S > 1, one (n, channel) row. The strided side is split into S
 * phases (element i*S + ph at phase ph, position i) in `buf`, so every tap is a contiguous,
 * vectorisable multiply-add: forward reads x by phase, transposed accumulates y by phase.
 * buf holds max(in, out) + S floats. */
static void dw_row_phased(const geom *g, bool transposed, float *y, const float *x, const float *w,
                          float b0, float *buf)
{
    int64_t S = g->s[2], xs = g->xs[4];
    int64_t Lp = transposed ? g->out[2] : g->in[2]; /* length of the phased side */
    int64_t off_ph[64];
    for (int64_t ph = 0, o = 0; ph < S; ph++) {
        off_ph[ph] = o;
        o += ph < Lp ? (Lp - ph + S - 1) / S : 0;
    }
    if (!transposed)
        for (int64_t ph = 0; ph < S && ph < Lp; ph++) {
            float *bp = buf + off_ph[ph];
            const float *xp = x + ph * xs;
            int64_t n = (Lp - ph + S - 1) / S;
            for (int64_t j = 0; j < n; j++)
                bp[j] = xp[j * S * xs];
        }
    else
        memset(buf, 0, sizeof(float) * (size_t)Lp);
    if (!transposed)
        for (int64_t i = 0; i < g->out[2]; i++)
            y[i] = b0;
    /* blocks of 2048 positions keep the rows L1-resident across the taps */
    int64_t nj = transposed ? g->in[2] : g->out[2];
    for (int64_t c0 = 0; c0 < nj; c0 += 2048) {
        int64_t c1 = c0 + 2048 < nj ? c0 + 2048 : nj;
        for (int64_t k = 0; k < g->k[2]; k++) {
            float wv = w[k];
            int64_t a = k * g->dl[2] - g->p[2], j0, j1;
            /* strided index a + j*S lies in the phased side */
            valid_range(a, S, Lp, nj, &j0, &j1);
            if (j0 < c0) j0 = c0;
            if (j1 > c1) j1 = c1;
            int64_t ph = ((a % S) + S) % S, sh = (a - ph) / S;
            float *bp = buf + off_ph[ph];
            if (!transposed)
                for (int64_t j = j0; j < j1; j++)
                    y[j] += wv * bp[j + sh];
            else if (xs == 1)
                for (int64_t j = j0; j < j1; j++)
                    bp[j + sh] += wv * x[j];
            else
                for (int64_t j = j0; j < j1; j++)
                    bp[j + sh] += wv * x[j * xs];
        }
    }
    if (transposed)
        for (int64_t ph = 0; ph < S && ph < Lp; ph++) {
            const float *bp = buf + off_ph[ph];
            int64_t n = (Lp - ph + S - 1) / S;
            for (int64_t j = 0; j < n; j++)
                y[j * S + ph] = bp[j] + b0;
        }
}

static void dw_items(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    dw_ctx *c = vctx;
    const geom *g = c->g;
    const int64_t *xs = g->xs;
    bool phased = g->in[0] == 1 && g->in[1] == 1 && g->out[0] == 1 && g->out[1] == 1 &&
                  g->s[2] > 1 && g->s[2] <= 64;
    float *buf = NULL;
    if (phased) {
        int64_t L = g->in[2] > g->out[2] ? g->in[2] : g->out[2];
        buf = malloc(sizeof(float) * (size_t)(L + g->s[2] + 1));
        if (!buf) phased = false; /* fall back to the plain loops */
    }
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / g->Cout, ch = it % g->Cout;
        if (phased) {
            dw_row_phased(g, c->transposed, c->y + it * g->Sout, c->x + n * xs[0] + ch * xs[1],
                          c->w + ch * g->Kvol, c->bias ? c->bias[ch] : 0.0f, buf);
            continue;
        }
        float *y = c->y + it * g->Sout;
        const float *x = c->x + n * xs[0] + ch * xs[1];
        const float *w = c->w + ch * g->Kvol;
        float b0 = c->bias ? c->bias[ch] : 0.0f;
        for (int64_t i = 0; i < g->Sout; i++)
            y[i] = b0;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++) {
                    float wv = w[(kd * g->k[1] + kh) * g->k[2] + kw];
                    if (!c->transposed) {
                        for (int64_t od = 0; od < g->out[0]; od++) {
                            int64_t id = od * g->s[0] - g->p[0] + kd * g->dl[0];
                            if (id < 0 || id >= g->in[0]) continue;
                            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                                int64_t ih = oh * g->s[1] - g->p[1] + kh * g->dl[1];
                                if (ih < 0 || ih >= g->in[1]) continue;
                                const float *xr = x + id * xs[2] + ih * xs[3];
                                float *yr = y + (od * g->out[1] + oh) * g->out[2];
                                int64_t a = kw * g->dl[2] - g->p[2], j0, j1;
                                valid_range(a, g->s[2], g->in[2], g->out[2], &j0, &j1);
                                for (int64_t ow = j0; ow < j1; ow++)
                                    yr[ow] += wv * xr[(a + ow * g->s[2]) * xs[4]];
                            }
                        }
                    } else {
                        for (int64_t id = 0; id < g->in[0]; id++) {
                            int64_t od = id * g->s[0] - g->p[0] + kd * g->dl[0];
                            if (od < 0 || od >= g->out[0]) continue;
                            for (int64_t ih = 0; ih < g->in[1]; ih++) {
                                int64_t oh = ih * g->s[1] - g->p[1] + kh * g->dl[1];
                                if (oh < 0 || oh >= g->out[1]) continue;
                                const float *xr = x + id * xs[2] + ih * xs[3];
                                float *yr = y + (od * g->out[1] + oh) * g->out[2];
                                int64_t a = kw * g->dl[2] - g->p[2], j0, j1;
                                /* ow = a + iw*s must lie in [0, out) */
                                valid_range(a, g->s[2], g->out[2], g->in[2], &j0, &j1);
                                for (int64_t iw = j0; iw < j1; iw++)
                                    yr[a + iw * g->s[2]] += wv * xr[iw * xs[4]];
                            }
                        }
                    }
                }
    }
    free(buf);
}

/* ---- im2col / col2im --------------------------------------------------------------------- */

typedef struct col_ctx {
    const geom *g;
    float *col;
    const float *x; /* forward: x of sample n, group g (channel 0 of the group) */
    float *y;       /* transposed: y of sample n, group g */
    int64_t p0, P;  /* tile of positions [p0, p0 + P) (output for im2col, input for col2im) */
} col_ctx;

/* One item = one col row r = (ci, kd, kh, kw). */
static void im2col_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    col_ctx *c = vctx;
    const geom *g = c->g;
    const int64_t *xs = g->xs;
    for (int64_t r = begin; r < end; r++) {
        int64_t kw = r % g->k[2], kh = (r / g->k[2]) % g->k[1],
                kd = (r / (g->k[2] * g->k[1])) % g->k[0];
        int64_t ci = r / g->Kvol;
        float *dst = c->col + r * c->P;
        const float *xc = c->x + ci * xs[1];
        int64_t p = c->p0, pend = c->p0 + c->P;
        int64_t ow = p % g->out[2], oh = (p / g->out[2]) % g->out[1],
                od = p / (g->out[2] * g->out[1]);
        while (p < pend) {
            int64_t seg = g->out[2] - ow < pend - p ? g->out[2] - ow : pend - p;
            int64_t id = od * g->s[0] - g->p[0] + kd * g->dl[0];
            int64_t ih = oh * g->s[1] - g->p[1] + kh * g->dl[1];
            if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1]) {
                memset(dst, 0, sizeof(float) * (size_t)seg);
            } else {
                const float *xr = xc + id * xs[2] + ih * xs[3];
                int64_t a = ow * g->s[2] - g->p[2] + kw * g->dl[2], j0, j1;
                valid_range(a, g->s[2], g->in[2], seg, &j0, &j1);
                for (int64_t j = 0; j < j0; j++)
                    dst[j] = 0;
                if (g->s[2] == 1 && xs[4] == 1)
                    memcpy(dst + j0, xr + a + j0, sizeof(float) * (size_t)(j1 - j0));
                else
                    for (int64_t j = j0; j < j1; j++)
                        dst[j] = xr[(a + j * g->s[2]) * xs[4]];
                for (int64_t j = j1; j < seg; j++)
                    dst[j] = 0;
            }
            dst += seg;
            p += seg;
            ow += seg;
            if (ow == g->out[2]) {
                ow = 0;
                if (++oh == g->out[1]) {
                    oh = 0;
                    od++;
                }
            }
        }
    }
}

/* One item = one output channel co of the group: adds its Kvol col rows into y[co]. */
static void col2im_chans(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    col_ctx *c = vctx;
    const geom *g = c->g;
    for (int64_t co = begin; co < end; co++) {
        float *yc = c->y + co * g->Sout;
        for (int64_t kk = 0; kk < g->Kvol; kk++) {
            int64_t kw = kk % g->k[2], kh = (kk / g->k[2]) % g->k[1], kd = kk / (g->k[2] * g->k[1]);
            const float *src = c->col + (co * g->Kvol + kk) * c->P;
            int64_t q = c->p0, qend = c->p0 + c->P;
            int64_t iw = q % g->in[2], ih = (q / g->in[2]) % g->in[1],
                    id = q / (g->in[2] * g->in[1]);
            while (q < qend) {
                int64_t seg = g->in[2] - iw < qend - q ? g->in[2] - iw : qend - q;
                int64_t od = id * g->s[0] - g->p[0] + kd * g->dl[0];
                int64_t oh = ih * g->s[1] - g->p[1] + kh * g->dl[1];
                if (od >= 0 && od < g->out[0] && oh >= 0 && oh < g->out[1]) {
                    float *yr = yc + (od * g->out[1] + oh) * g->out[2];
                    int64_t a = iw * g->s[2] - g->p[2] + kw * g->dl[2], j0, j1;
                    valid_range(a, g->s[2], g->out[2], seg, &j0, &j1);
                    for (int64_t j = j0; j < j1; j++)
                        yr[a + j * g->s[2]] += src[j];
                }
                src += seg;
                q += seg;
                iw += seg;
                if (iw == g->in[2]) {
                    iw = 0;
                    if (++ih == g->in[1]) {
                        ih = 0;
                        id++;
                    }
                }
            }
        }
    }
}

/* ---- the op ------------------------------------------------------------------------------ */

/* Rows [begin, end) of k pairs of a K x N f32 operand into its bf16 pack_kn panels. */
typedef struct packkn_ctx {
    uint32_t *dst;
    const float *src;
    int64_t lds, K, N;
    uint16_t *rowbuf; /* per worker: 2 x N rounded up to 64 */
    int64_t rowbuf_len;
} packkn_ctx;

static void packkn_pairs(void *vctx, int64_t begin, int64_t end, int worker)
{
    packkn_ctx *c = vctx;
    int64_t k0 = 2 * begin, k1 = 2 * end < c->K ? 2 * end : c->K;
    ltx_cpu_bf16_pack_kn_slice(c->dst, c->src + k0 * c->lds, c->lds, k0, k1, c->K, c->N,
                               c->rowbuf + (size_t)worker * (size_t)c->rowbuf_len);
}

/* Forward conv in bf16 precision on AVX-512 BF16: per (sample, group) the weights are rounded
 * once into bf16 rows (A16), per tile of output positions the im2col tile (or x itself for a
 * 1x1x1 conv) is packed into bf16 panels and ltx_cpu_bf16_gemm_a16 adds A16 @ tile into y —
 * vdpbf16ps instead of OpenBLAS's f32 sgemm on rounded copies (same products, f32 sums in
 * another order). Scratch: A16 (weight-sized, bf16), the tile's panels (half the f32 tile). */
static ltx_status conv_forward_bf16(ltx_backend *be, const geom *g, float *y, const float *x,
                                    const float *w, const uint16_t *w16, bool direct, float *col,
                                    int64_t P)
{
    int64_t Kdim = g->cig * g->Kvol, kpn = (Kdim + 1) / 2;
    int nw = ltx_threadpool_size(be->pool);
    int64_t npad = (P + 63) / 64 * 64;
    uint16_t *a16 =
        aligned_alloc(64, ((size_t)ltx_cpu_bf16_rows_pad(g->cog) * 2 * kpn * 2 + 63) / 64 * 64);
    uint32_t *bp =
        aligned_alloc(64, ((size_t)ltx_cpu_bf16_panel_words(P, Kdim) * 4 + 63) / 64 * 64);
    uint16_t *rb = malloc(sizeof(uint16_t) * (size_t)nw * (size_t)(2 * npad));
    ltx_status s = LTX_OK;
    if (!a16 || !bp || !rb) {
        s = ltx_err(LTX_ERR_OOM,
                    "conv (bf16): scratch for %lld x %lld weights and a %lld-position "
                    "tile",
                    (long long)g->cog, (long long)Kdim, (long long)P);
        goto done;
    }
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->G; gi++) {
            const float *xg = x + n * g->xs[0] + gi * g->cig * g->xs[1];
            float *yg = y + (n * g->Cout + gi * g->cog) * g->Sout;
            if (w16) { /* contiguous bf16 weights: their rows as they are */
                int64_t ld = 2 * kpn, rows = ltx_cpu_bf16_rows_pad(g->cog);
                for (int64_t r = 0; r < rows; r++) {
                    uint16_t *d = a16 + r * ld;
                    if (r < g->cog) {
                        memcpy(d, w16 + (gi * g->cog + r) * Kdim, sizeof *d * (size_t)Kdim);
                        if (Kdim < ld) d[Kdim] = 0;
                    } else {
                        memset(d, 0, sizeof *d * (size_t)ld);
                    }
                }
            } else {
                ltx_cpu_bf16_round_rows(a16, w + gi * g->cog * Kdim, g->cog, Kdim, Kdim);
            }
            for (int64_t p0 = 0; p0 < g->Sout; p0 += P) {
                int64_t np = g->Sout - p0 < P ? g->Sout - p0 : P;
                const float *b = xg + p0;
                int64_t ldb = g->Sin;
                if (!direct) {
                    col_ctx c = {g, col, xg, NULL, p0, np};
                    ltx_cpu_parallel(be, Kdim, np, im2col_rows, &c);
                    b = col, ldb = np;
                }
                int64_t npp = (np + 63) / 64 * 64;
                packkn_ctx pc = {bp, b, ldb, Kdim, np, rb, 2 * npp};
                ltx_threadpool_for(be->pool, kpn, 16, packkn_pairs, &pc);
                ltx_cpu_bf16_gemm_a16(be->pool, g->cog, np, Kdim, a16, bp, yg + p0, g->Sout, true);
            }
        }
done:
    free(a16);
    free(bp);
    free(rb);
    return s;
}

static ltx_status conv_forward(ltx_backend *be, const geom *g, float *y, const float *x,
                               const float *w, const uint16_t *w16, const ltx_tensor *xt, bool bf16)
{
    int64_t Kdim = g->cig * g->Kvol;
    bool direct = g->Kvol == 1 && g->s[0] == 1 && g->s[1] == 1 && g->s[2] == 1 && g->p[0] == 0 &&
                  g->p[1] == 0 && g->p[2] == 0 && ltx_conv_geom_x_contiguous(g, xt);
    int64_t P = direct ? g->Sout : (int64_t)(CONV_TILE_BYTES / sizeof(float)) / Kdim;
    if (P < g->out[2]) P = g->out[2]; /* at least one output row */
    if (P >= g->Sout)
        P = g->Sout;
    else if (P > 64)
        P -= P % 64;
    float *col = direct ? NULL : malloc(sizeof(float) * (size_t)(Kdim * P));
    if (!direct && !col)
        return ltx_err(LTX_ERR_OOM, "conv: im2col tile of %lld floats", (long long)(Kdim * P));
    if (bf16) {
        ltx_status s = conv_forward_bf16(be, g, y, x, w, w16, direct, col, P);
        free(col);
        return s;
    }
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->G; gi++) {
            const float *xg = x + n * g->xs[0] + gi * g->cig * g->xs[1];
            float *yg = y + (n * g->Cout + gi * g->cog) * g->Sout;
            const float *wg = w + gi * g->cog * Kdim;
            for (int64_t p0 = 0; p0 < g->Sout; p0 += P) {
                int64_t np = g->Sout - p0 < P ? g->Sout - p0 : P;
                if (direct) {
                    ltx_cpu_sgemm(be->pool, false, false, g->cog, np, Kdim, 1.0f, wg, Kdim, xg + p0,
                                  g->Sin, 1.0f, yg + p0, g->Sout);
                    continue;
                }
                col_ctx c = {g, col, xg, NULL, p0, np};
                ltx_cpu_parallel(be, Kdim, np, im2col_rows, &c);
                ltx_cpu_sgemm(be->pool, false, false, g->cog, np, Kdim, 1.0f, wg, Kdim, col, np,
                              1.0f, yg + p0, g->Sout);
            }
        }
    free(col);
    return LTX_OK;
}

static ltx_status conv_transposed(ltx_backend *be, const geom *g, float *y, const float *x,
                                  const float *w, const ltx_tensor *xt)
{
    int64_t M = g->cog * g->Kvol;
    bool xcontig = ltx_conv_geom_x_contiguous(g, xt);
    int64_t Q = (int64_t)(CONV_TILE_BYTES / sizeof(float)) / (M + (xcontig ? 0 : g->cig));
    if (Q < g->in[2]) Q = g->in[2];
    if (Q >= g->Sin)
        Q = g->Sin;
    else if (Q > 64)
        Q -= Q % 64;
    float *col = malloc(sizeof(float) * (size_t)(M * Q));
    float *xt_tile = xcontig ? NULL : malloc(sizeof(float) * (size_t)(g->cig * Q));
    if (!col || (!xcontig && !xt_tile)) {
        free(col);
        free(xt_tile);
        return ltx_err(LTX_ERR_OOM, "conv transposed: col tile of %lld floats", (long long)(M * Q));
    }
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->G; gi++) {
            const float *xg = x + n * g->xs[0] + gi * g->cig * g->xs[1];
            float *yg = y + (n * g->Cout + gi * g->cog) * g->Sout;
            const float *wg = w + gi * g->cig * M; /* (cig, cog*Kvol) */
            for (int64_t q0 = 0; q0 < g->Sin; q0 += Q) {
                int64_t nq = g->Sin - q0 < Q ? g->Sin - q0 : Q;
                const float *b = xg + q0;
                int64_t ldb = g->Sin;
                if (!xcontig) { /* gather the tile: rows ci, positions q0.. */
                    for (int64_t ci = 0; ci < g->cig; ci++)
                        for (int64_t j = 0; j < nq; j++) {
                            int64_t q = q0 + j, iw = q % g->in[2], ih = (q / g->in[2]) % g->in[1];
                            int64_t id = q / (g->in[2] * g->in[1]);
                            xt_tile[ci * nq + j] =
                                xg[ci * g->xs[1] + id * g->xs[2] + ih * g->xs[3] + iw * g->xs[4]];
                        }
                    b = xt_tile;
                    ldb = nq;
                }
                ltx_cpu_sgemm(be->pool, true, false, M, nq, g->cig, 1.0f, wg, M, b, ldb, 0.0f, col,
                              nq);
                col_ctx c = {g, col, NULL, yg, q0, nq};
                ltx_cpu_parallel(be, g->cog, g->Kvol * nq, col2im_chans, &c);
            }
        }
    free(col);
    free(xt_tile);
    return LTX_OK;
}

/* Convolution (see ltx_conv_params). x f32 (N, C_in, *S) any strides; w any float dtype
 * (converted to f32 scratch once per call unless already contiguous f32); bias NULL or C_out
 * elements of any float dtype; y f32 contiguous of the exact output shape. bf16: a forward,
 * non-depthwise conv in bf16 precision on AVX-512 BF16 (the caller checks), run by
 * conv_forward_bf16, which takes contiguous bf16 weights without an f32 copy. */
static ltx_status conv_run(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                           const ltx_tensor *bias, const ltx_conv_params *p, bool bf16)
{
    if (x->dtype != LTX_F32 || y->dtype != LTX_F32 || !ltx_tensor_is_contiguous(y))
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: x must be f32, y contiguous f32");
    LTX_TRY(ltx_cpu_check_dtype(be, w->dtype, "conv weight"));
    geom g;
    LTX_TRY(ltx_conv_geom_make(y, x, w, p, &g));
    if (bias && (ltx_tensor_numel(bias) != g.Cout || !ltx_tensor_is_contiguous(bias)))
        return ltx_err(LTX_ERR_INVALID_ARG, "conv: bias must have %lld contiguous elements",
                       (long long)g.Cout);
    ltx_status s = LTX_OK;
    float *wbuf = NULL, *bbuf = NULL;
    ltx_tensor *wtmp = NULL;
    const float *wf = cpu_ptr(w);
    int64_t wn = ltx_tensor_numel(w);
    if (!ltx_tensor_is_contiguous(w)) { /* rare: a strided weight view -> contiguous f32 */
        wtmp = ltx_tensor_new(be, LTX_F32, w->ndim, w->shape);
        if (!wtmp) return ltx_err_failed();
        s = ltx_cpu_copy(be, wtmp, w);
        wf = cpu_ptr(wtmp);
    } else if (bf16 && w->dtype == LTX_BF16) {
        wf = NULL; /* conv_forward_bf16 copies the bf16 rows as they are */
    } else if (w->dtype != LTX_F32) {
        wbuf = malloc(sizeof(float) * (size_t)(wn + 1));
        if (!wbuf) return ltx_err(LTX_ERR_OOM, "conv: weight scratch (%lld floats)", (long long)wn);
        ltx_convert(wbuf, LTX_F32, cpu_ptr(w), w->dtype, (size_t)wn);
        wf = wbuf;
    }
    if (s == LTX_OK && bias) {
        bbuf = malloc(sizeof(float) * (size_t)(g.Cout + 1));
        if (!bbuf)
            s = ltx_err(LTX_ERR_OOM, "conv: bias scratch");
        else
            ltx_convert(bbuf, LTX_F32, cpu_ptr(bias), bias->dtype, (size_t)g.Cout);
    }
    float *yp = cpu_ptr(y);
    const float *xp = cpu_ptr(x);
    if (s == LTX_OK && g.cig == 1 && g.cog == 1) {
        dw_ctx c = {&g, yp, xp, wf, bbuf, p->transposed};
        ltx_cpu_parallel(be, g.N * g.Cout, g.Sout * g.Kvol, dw_items, &c);
    } else if (s == LTX_OK) {
        /* y = bias (broadcast over positions), then the GEMMs accumulate */
        for (int64_t r = 0; r < g.N * g.Cout; r++) {
            float b0 = bbuf ? bbuf[r % g.Cout] : 0.0f;
            float *yr = yp + r * g.Sout;
            for (int64_t i = 0; i < g.Sout; i++)
                yr[i] = b0;
        }
        s = p->transposed ? conv_transposed(be, &g, yp, xp, wf, x)
                          : conv_forward(be, &g, yp, xp, wf, wf ? NULL : cpu_ptr(w), x, bf16);
    }
    free(wbuf);
    free(bbuf);
    ltx_tensor_free(wtmp);
    return s;
}

/* ---- interpolate ------------------------------------------------------------------------- */

#define CUBIC_A -0.75f /* ref: UpSample.h upsample_get_cubic_coefficients */

typedef struct interp_dim {
    int taps;
    int64_t *idx; /* out * taps source element offsets (stride applied) */
    float *wt;    /* out * taps weights */
} interp_dim;

static float src_index(float scale, int64_t i, bool align, bool cubic)
{
    if (align) return scale * (float)i;
    float s = scale * ((float)i + 0.5f) - 0.5f;
    return (!cubic && s < 0) ? 0.0f : s;
}

static void build_dim(ltx_interp_mode mode, bool align, int64_t in, int64_t out, int64_t stride,
                      interp_dim *d)
{
    float scale =
        align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        int64_t *ix = d->idx + i * d->taps;
        float *w = d->wt + i * d->taps;
        if (mode == LTX_INTERP_AREA && d->taps > 1) {
            /* ref: AdaptiveAveragePooling.cpp start_index / end_index */
            int64_t s0 = (int64_t)floorf((float)(i * in) / (float)out);
            int64_t s1 = (int64_t)ceilf((float)((i + 1) * in) / (float)out);
            float inv = 1.0f / (float)(s1 - s0);
            for (int k = 0; k < d->taps; k++) {
                bool on = s0 + k < s1;
                ix[k] = (on ? s0 + k : s0) * stride;
                w[k] = on ? inv : 0.0f;
            }
            continue;
        }
        if (d->taps == 1) { /* nearest (or a padded size-1 dim) */
            float ns = (float)in / (float)out;
            int64_t s = in == out ? i : (int64_t)floorf((float)i * ns);
            ix[0] = (s < in - 1 ? s : in - 1) * stride;
            w[0] = 1.0f;
        } else if (d->taps == 2) {
            if (in == out) {
                ix[0] = ix[1] = i * stride;
                w[0] = 1.0f;
                w[1] = 0.0f;
                continue;
            }
            float r = src_index(scale, i, align, false);
            int64_t i0 = (int64_t)r, off = i0 < in - 1 ? 1 : 0;
            float l1 = r - (float)i0;
            l1 = l1 < 0 ? 0 : (l1 > 1 ? 1 : l1);
            ix[0] = i0 * stride;
            ix[1] = (i0 + off) * stride;
            w[0] = 1.0f - l1;
            w[1] = l1;
        } else {
            float r = src_index(scale, i, align, true);
            float fl = floorf(r), t = r - fl;
            int64_t i0 = (int64_t)fl;
            float A = CUBIC_A, x1 = t + 1.0f, x2 = 1.0f - t, x3 = 2.0f - t;
            w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
            w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
            w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
            w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
            for (int k = 0; k < 4; k++) {
                int64_t j = i0 - 1 + k;
                ix[k] = (j < 0 ? 0 : (j > in - 1 ? in - 1 : j)) * stride;
            }
        }
    }
}

typedef struct interp_ctx {
    interp_dim dim[3];
    int64_t out[3], C;
    const float *x;
    int64_t xs0, xs1;
    float *y;
} interp_ctx;

/* One item = one output row (n, c, od, oh). */
static void interp_rows(void *vctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    interp_ctx *c = vctx;
    const interp_dim *D0 = &c->dim[0], *D1 = &c->dim[1], *D2 = &c->dim[2];
    for (int64_t r = begin; r < end; r++) {
        int64_t oh = r % c->out[1], od = (r / c->out[1]) % c->out[0];
        int64_t nc = r / (c->out[1] * c->out[0]);
        const float *xb = c->x + (nc / c->C) * c->xs0 + (nc % c->C) * c->xs1;
        float *yr = c->y + r * c->out[2];
        for (int64_t ow = 0; ow < c->out[2]; ow++) {
            float acc0 = 0;
            for (int a = 0; a < D0->taps; a++) {
                const float *xa = xb + D0->idx[od * D0->taps + a];
                float acc1 = 0;
                for (int b = 0; b < D1->taps; b++) {
                    const float *xbb = xa + D1->idx[oh * D1->taps + b];
                    float acc2 = 0;
                    for (int k = 0; k < D2->taps; k++) {
                        float t = xbb[D2->idx[ow * D2->taps + k]] * D2->wt[ow * D2->taps + k];
                        acc2 = k ? acc2 + t : t;
                    }
                    float t = acc2 * D1->wt[oh * D1->taps + b];
                    acc1 = b ? acc1 + t : t;
                }
                float t = acc1 * D0->wt[od * D0->taps + a];
                acc0 = a ? acc0 + t : t;
            }
            yr[ow] = acc0;
        }
    }
}

/* Resizes the spatial dims (1 to 3, after N and C) of f32 src (any strides) into contiguous f32
 * dst (N, C, *out). Bicubic: 2 spatial dims only. Scratch: per-dim index/weight tables. */
ltx_status ltx_cpu_interpolate(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                               const ltx_tensor *src, bool align_corners)
{
    int ns = src->ndim - 2;
    if (src->dtype != LTX_F32 || dst->dtype != LTX_F32 || !ltx_tensor_is_contiguous(dst) ||
        ns < 1 || ns > 3 || dst->ndim != src->ndim || dst->shape[0] != src->shape[0] ||
        dst->shape[1] != src->shape[1])
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: need f32 (N, C, 1-3 spatial dims) "
                                            "and a contiguous f32 dst of the same N, C");
    if (mode == LTX_INTERP_BICUBIC && ns != 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: bicubic needs 2 spatial dims");
    if ((unsigned)mode > LTX_INTERP_AREA)
        return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: mode %d out of range", (int)mode);
    for (int i = 2; i < src->ndim; i++)
        if (src->shape[i] < 1 || dst->shape[i] < 1)
            return ltx_err(LTX_ERR_INVALID_ARG, "interpolate: empty spatial dim %d", i);
    interp_ctx c = {.C = src->shape[1],
                    .x = cpu_ptr(src),
                    .xs0 = src->stride[0],
                    .xs1 = src->stride[1],
                    .y = cpu_ptr(dst)};
    int taps = mode == LTX_INTERP_NEAREST ? 1 : mode == LTX_INTERP_LINEAR ? 2 : 4;
    int64_t total = 0, in[3], st[3];
    for (int i = 0; i < 3; i++) {
        int si = i - (3 - ns);
        in[i] = si >= 0 ? src->shape[2 + si] : 1;
        c.out[i] = si >= 0 ? dst->shape[2 + si] : 1;
        st[i] = si >= 0 ? src->stride[2 + si] : 0;
        c.dim[i].taps = si >= 0 ? taps : 1;
        if (mode == LTX_INTERP_AREA && si >= 0) { /* widest pooling window of this dim */
            int64_t mx = 1;
            for (int64_t o = 0; o < c.out[i]; o++) {
                int64_t s0 = (int64_t)floorf((float)(o * in[i]) / (float)c.out[i]);
                int64_t s1 = (int64_t)ceilf((float)((o + 1) * in[i]) / (float)c.out[i]);
                if (s1 - s0 > mx) mx = s1 - s0;
            }
            c.dim[i].taps = (int)mx;
        }
        total += c.out[i] * c.dim[i].taps;
    }
    int64_t *ib = malloc(sizeof(int64_t) * (size_t)total);
    float *wb = malloc(sizeof(float) * (size_t)total);
    if (!ib || !wb) {
        free(ib);
        free(wb);
        return ltx_err(LTX_ERR_OOM, "interpolate: tables");
    }
    int64_t o = 0;
    for (int i = 0; i < 3; i++) {
        c.dim[i].idx = ib + o;
        c.dim[i].wt = wb + o;
        build_dim(mode, align_corners, in[i], c.out[i], st[i], &c.dim[i]);
        o += c.out[i] * c.dim[i].taps;
    }
    int64_t rows = src->shape[0] * src->shape[1] * c.out[0] * c.out[1];
    ltx_cpu_parallel(be, rows, c.out[2] * taps * taps * (ns > 1 ? taps : 1), interp_rows, &c);
    free(ib);
    free(wb);
    return LTX_OK;
}

/* ltx_backend_ops.conv: a GEMM too, so in bf16 precision x and w are rounded to bf16 first
 * (f32 sums; bias stays f32), as a GPU's bf16 implicit GEMM / cuDNN conv computes. On AVX-512
 * BF16 the forward GEMMs run on vdpbf16ps (conv_forward_bf16, which rounds as it packs);
 * elsewhere, and for transposed and depthwise convs, x and w are rounded into copies and the
 * f32 path runs on them. */
ltx_status ltx_cpu_conv(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                        const ltx_tensor *bias, const ltx_conv_params *p)
{
    if (!ltx_cpu_gemm_bf16(be) || x->dtype != LTX_F32) return conv_run(be, y, x, w, bias, p, false);
    geom g; /* a bad geometry is reported by conv_run */
    if (ltx_cpu_isa_active() == CPU_ISA_AVX512 && !p->transposed &&
        ltx_conv_geom_make(y, x, w, p, &g) == LTX_OK && !(g.cig == 1 && g.cog == 1))
        return conv_run(be, y, x, w, bias, p, true); /* depthwise: direct loops, no GEMM */
    const ltx_tensor *xr, *wr = w;
    ltx_tensor *tx = NULL, *tw = NULL;
    ltx_status s = ltx_cpu_round_bf16_input(be, x, &xr, &tx);
    if (s == LTX_OK && w->dtype != LTX_BF16) s = ltx_cpu_round_bf16_input(be, w, &wr, &tw);
    if (s == LTX_OK) s = conv_run(be, y, xr, wr, bias, p, false);
    ltx_tensor_free(tx);
    ltx_tensor_free(tw);
    return s;
}
