/*
 * video_vae_tiling.c — tiled / temporally chunked decode and encode of the video VAE, plus
 * the uint8 frame conversion.
 *
 * ref: ltx_core/tiling.py (split_by_size, split_temporal_causal, split_temporal,
 *      compute_trapezoidal_mask_1d, compute_rectangular_mask_1d, Tile.blend_mask),
 *      ltx_core/model/video_vae/video_vae.py (VideoDecoder._prepare_tiles / tiled_decode /
 *      _accumulate_temporal_group_into_buffer, VideoEncoder.tiled_encode,
 *      prepare_tiles_for_encoding, map_* functions), tiling.py (config checks); spec §5.6.
 * Tiles run in the reference's order (itertools.product over (F, H, W): time outermost), so
 * accumulation sums are formed in the same order. Blend masks are built on the host in float32
 * (torch.linspace's CPU kernel emulated, vector path included) and uploaded; the weight
 * accumulator is one channel wide (the reference's is C wide with identical values).
 * Deliberate difference: a decode tiling without a temporal part decodes all frames as one
 * group (the reference raises a TypeError there).
 */
#include "models/video_vae_internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


ltx_vae_tiling ltx_vae_tiling_default(void)
{
    return (ltx_vae_tiling){.spatial_tile_px = 512,
                            .spatial_overlap_px = 64,
                            .temporal_tile_frames = 64,
                            .temporal_overlap_frames = 24};
}

ltx_vae_tiling ltx_vae_tiling_auto_v12(void)
{
    /* ref: 400fd31 _CONV_AUTO_LONG_SIDE (768, 64) through TileSizeConfig.from_long_side — the
     * same latent-grid round(size * axis / long) per axis as a2c3f24's enable_on_axis — and
     * _CONV_AUTO_FRAMES (80, 24) through split_temporal_causal, as a2c3f24's temporal split.
     * Not mirrored: 400fd31 skips the weight division when the blend masks sum to 1 within
     * 1e-5 (masks_are_complementary); dividing by those weights differs by f32 ulps. */
    return (ltx_vae_tiling){.spatial_tile_px = 768,
                            .spatial_overlap_px = 64,
                            .temporal_tile_frames = 80,
                            .temporal_overlap_frames = 24};
}

ltx_status ltx_vae_tiling_validate(const ltx_vae_tiling *t)
{
    if (t->spatial_tile_px) {
        if (t->spatial_tile_px < 64 || t->spatial_tile_px % 32)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "spatial tile size %d px: must be >= 64 and a "
                           "multiple of 32",
                           t->spatial_tile_px);
        if (t->spatial_overlap_px < 0 || t->spatial_overlap_px % 32 ||
            t->spatial_overlap_px >= t->spatial_tile_px)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "spatial tile overlap %d px: must be a multiple "
                           "of 32 below the tile size",
                           t->spatial_overlap_px);
    }
    if (t->temporal_tile_frames) {
        if (t->temporal_tile_frames < 16 || t->temporal_tile_frames % 8)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "temporal tile size %d frames: must be >= 16 "
                           "and a multiple of 8",
                           t->temporal_tile_frames);
        if (t->temporal_overlap_frames < 0 || t->temporal_overlap_frames % 8 ||
            t->temporal_overlap_frames >= t->temporal_tile_frames)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "temporal tile overlap %d frames: must be a "
                           "multiple of 8 below the tile size",
                           t->temporal_overlap_frames);
    }
    return LTX_OK;
}

/* ---- 1-D intervals and masks --------------------------------------------------------------- */

typedef struct ivl {
    int64_t start, end, lramp, rramp;
} ivl;

/* One axis: input intervals, output slices and float masks (NULL = all ones). */
typedef struct axis_plan {
    int n;
    ivl in[64];
    int64_t out0[64], out1[64];
    float *mask[64];
} axis_plan;

static void axis_free(axis_plan *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->mask[i]);
    a->n = 0;
}

/* ref: split_by_size — returns the count or -1 (too many tiles). */
static int split_by_size(int64_t len, int64_t size, int64_t ov, ivl *out)
{
    if (len <= size) {
        out[0] = (ivl){0, len, 0, 0};
        return 1;
    }
    int64_t n = (len + size - 2 * ov - 1) / (size - ov);
    if (n > 64) return -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = i * (size - ov);
        out[i] = (ivl){s, s + size, i ? ov : 0, ov};
    }
    out[n - 1].end = len;
    out[n - 1].rramp = 0;
    return (int)n;
}

/* torch.linspace(start, end, steps) for float32 on CPU (RangeFactoriesKernel.cpp: scalar
 * formula per index, or per 8-wide vector chunk `base + k·step` inside the 16-element
 * vectorised loop). */
static void torch_linspace(float start, float end, int64_t steps, float *out)
{
    if (steps <= 0) return;
    if (steps == 1) {
        out[0] = start;
        return;
    }
    float step = (end - start) / (float)(steps - 1);
    int64_t half = steps / 2, i = 0;
    for (; i + 16 <= steps; i += 8) {
        float base = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
        for (int k = 0; k < 8; k++)
            out[i + k] = base + (float)k * step;
    }
    for (; i < steps; i++)
        out[i] = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

/* ref: compute_trapezoidal_mask_1d. */
static float *trapezoid(int64_t len, int64_t rl, int64_t rr, bool left_from0)
{
    float *m = malloc(sizeof(float) * (size_t)len),
          *tmp = malloc(sizeof(float) * (size_t)(len + 3));
    if (!m || !tmp) {
        free(m);
        free(tmp);
        return NULL;
    }
    rl = rl < 0 ? 0 : rl > len ? len : rl;
    rr = rr < 0 ? 0 : rr > len ? len : rr;
    for (int64_t i = 0; i < len; i++)
        m[i] = 1.0f;
    if (rl > 0) {
        int64_t n = left_from0 ? rl + 1 : rl + 2;
        torch_linspace(0.0f, 1.0f, n, tmp);
        const float *f = left_from0 ? tmp : tmp + 1; /* [:-1] (and [1:]) */
        for (int64_t i = 0; i < rl; i++)
            m[i] *= f[i];
    }
    if (rr > 0) {
        torch_linspace(1.0f, 0.0f, rr + 2, tmp);
        for (int64_t i = 0; i < rr; i++)
            m[len - rr + i] *= tmp[1 + i];
    }
    for (int64_t i = 0; i < len; i++)
        m[i] = m[i] < 0 ? 0 : m[i] > 1 ? 1 : m[i];
    free(tmp);
    return m;
}

/* ref: compute_rectangular_mask_1d. */
static float *rectangle(int64_t len, int64_t zl, int64_t zr)
{
    float *m = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
    if (!m) {
        ltx_err(LTX_ERR_OOM, "VAE tile blend mask: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < len; i++)
        m[i] = (i < zl || i >= len - zr) ? 0.0f : 1.0f;
    return m;
}

/* Python round(): half to even. */
static int64_t py_round(double v)
{
    return (int64_t)nearbyint(v);
}

/* ---- tiled decode -------------------------------------------------------------------------- */

/* Latent-space decode plan (ref: VideoDecoder._prepare_tiles + map_spatial_slice /
 * map_temporal_slice). */
static ltx_status plan_decode(const ltx_vae_tiling *t, const int64_t *lat, int ft, int fs,
                              axis_plan ax[3])
{
    memset(ax, 0, sizeof(axis_plan) * 3);
    for (int a = 0; a < 3; a++) {
        int64_t len = lat[2 + a];
        int scale = a == 0 ? ft : fs;
        bool tiled = a == 0 ? t->temporal_tile_frames > 0 : t->spatial_tile_px > 0;
        if (!tiled) {
            ax[a].n = 1;
            ax[a].in[0] = (ivl){0, len, 0, 0};
            ax[a].out0[0] = 0;
            ax[a].out1[0] = a == 0 ? 1 + (len - 1) * scale : len * scale;
            continue;
        }
        int n;
        if (a == 0) {
            int64_t size = t->temporal_tile_frames / scale, ov = t->temporal_overlap_frames / scale;
            if (ov >= size || size < 1)
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "temporal tiling: overlap %lld >= size %lld "
                               "latent frames",
                               (long long)ov, (long long)size);
            n = split_by_size(len, size, ov, ax[a].in);
            /* ref: split_temporal_causal — later tiles start one latent earlier */
            for (int i = 1; i < n; i++) {
                ax[a].in[i].start -= 1;
                ax[a].in[i].lramp += 1;
            }
        } else {
            int64_t size = t->spatial_tile_px / scale, ov = t->spatial_overlap_px / scale;
            int64_t long_side = lat[3] > lat[4] ? lat[3] : lat[4];
            int64_t lower = ov + 1 > 2 ? ov + 1 : 2;
            int64_t tile = py_round((double)size * (double)len / (double)long_side);
            if (tile < lower) tile = lower;
            n = split_by_size(len, tile, ov, ax[a].in);
        }
        if (n < 0) return ltx_err(LTX_ERR_UNSUPPORTED, "tiling: more than 64 tiles on an axis");
        ax[a].n = n;
        for (int i = 0; i < n; i++) {
            const ivl *v = &ax[a].in[i];
            if (a == 0) {
                int64_t s = v->start * scale, e = 1 + (v->end - 1) * scale;
                int64_t rl = v->lramp == 0 ? 0 : 1 + (v->lramp - 1) * scale;
                ax[a].out0[i] = s;
                ax[a].out1[i] = e;
                ax[a].mask[i] = trapezoid(e - s, rl, v->rramp * scale, true);
            } else {
                ax[a].out0[i] = v->start * scale;
                ax[a].out1[i] = v->end * scale;
                ax[a].mask[i] = trapezoid((v->end - v->start) * scale, v->lramp * scale,
                                          v->rramp * scale, false);
            }
            if (!ax[a].mask[i]) return ltx_err(LTX_ERR_OOM, "tiling masks");
        }
    }
    return LTX_OK;
}

/* (1, 1, T, H, W) mask = ((mt·mh)·mw) on the backend; NULL masks are ones. */
static ltx_tensor *blend_mask(ltx_backend *be, const float *mt, const float *mh, const float *mw,
                              int64_t T, int64_t H, int64_t W)
{
    float *m = malloc(sizeof(float) * (size_t)(T * H * W));
    if (!m) {
        ltx_err(LTX_ERR_OOM, "blend mask");
        return NULL;
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            float th = (mt ? mt[t] : 1.0f) * (mh ? mh[h] : 1.0f);
            float *row = m + (t * H + h) * W;
            for (int64_t w = 0; w < W; w++)
                row[w] = th * (mw ? mw[w] : 1.0f);
        }
    int64_t shape[5] = {1, 1, T, H, W};
    ltx_tensor *x = ltx_tensor_from_host(be, LTX_F32, 5, shape, m);
    free(m);
    return x;
}

/* dst_region += src (in place on a strided view). */
static ltx_status add_into(ltx_backend *be, ltx_tensor *region, const ltx_tensor *src)
{
    return be->ops->binary(be, LTX_BINARY_ADD, region, region, src);
}

/* View of t (5-D) restricted to [t0,t1) x [h0,h1) x [w0,w1) on dims 2..4. */
static ltx_tensor *box(const ltx_tensor *t, int64_t t0, int64_t t1, int64_t h0, int64_t h1,
                       int64_t w0, int64_t w1)
{
    ltx_tensor *a = ltx_tensor_slice(t, 2, t0, t1, 1);
    ltx_tensor *b = a ? ltx_tensor_slice(a, 3, h0, h1, 1) : NULL;
    ltx_tensor *c = b ? ltx_tensor_slice(b, 4, w0, w1, 1) : NULL;
    ltx_tensor_free(a);
    ltx_tensor_free(b);
    return c;
}

/* Decodes every tile of temporal group `ti` into buf (B, C, T, H, W) / wts (1, 1, T, H, W),
 * both zero on entry (ref: _accumulate_temporal_group_into_buffer). */
static ltx_status decode_group(const ltx_video_decoder *d, const ltx_tensor *latent,
                               const axis_plan ax[3], int ti, const ltx_vae_decode_opts *opts,
                               ltx_tensor *buf, ltx_tensor *wts)
{
    ltx_backend *be = buf->buf->be;
    ltx_status s = LTX_OK;
    int64_t T = buf->shape[2];
    for (int hi = 0; hi < ax[1].n && s == LTX_OK; hi++)
        for (int wi = 0; wi < ax[2].n && s == LTX_OK; wi++) {
            ltx_tensor *lt = box(latent, ax[0].in[ti].start, ax[0].in[ti].end, ax[1].in[hi].start,
                                 ax[1].in[hi].end, ax[2].in[wi].start, ax[2].in[wi].end);
            ltx_tensor *dec = NULL, *mask = NULL, *dv = NULL, *mv = NULL;
            ltx_tensor *bv = NULL, *wv = NULL;
            if (!lt) return ltx_vae_failed_status();
            s = ltx_video_decoder_forward(d, lt, opts, NULL, &dec);
            ltx_tensor_free(lt);
            if (s != LTX_OK) return s;
            int64_t h0 = ax[1].out0[hi], h1 = ax[1].out1[hi];
            int64_t w0 = ax[2].out0[wi], w1 = ax[2].out1[wi];
            int64_t expect = ax[0].out1[ti] - ax[0].out0[ti];
            int64_t len = expect < dec->shape[2] ? expect : dec->shape[2];
            if (len > T) len = T;
            if (dec->shape[3] != h1 - h0 || dec->shape[4] != w1 - w0) {
                ltx_tensor_free(dec);
                return ltx_err(LTX_ERR_INTERNAL, "tiled decode: tile size mismatch");
            }
            mask = blend_mask(be, ax[0].mask[ti], ax[1].mask[hi], ax[2].mask[wi], expect, h1 - h0,
                              w1 - w0);
            dv = ltx_tensor_slice(dec, 2, 0, len, 1);
            mv = mask ? ltx_tensor_slice(mask, 2, 0, len, 1) : NULL;
            bv = box(buf, 0, len, h0, h1, w0, w1);
            wv = box(wts, 0, len, h0, h1, w0, w1);
            /* decoded tile · mask in place (the tile is ours), then accumulate */
            s = (dv && mv && bv && wv) ? be->ops->binary(be, LTX_BINARY_MUL, dv, dv, mv)
                                       : ltx_vae_failed_status();
            if (s == LTX_OK) s = add_into(be, bv, dv);
            if (s == LTX_OK) s = add_into(be, wv, mv);
            ltx_tensor_free(dec);
            ltx_tensor_free(mask);
            ltx_tensor_free(dv);
            ltx_tensor_free(mv);
            ltx_tensor_free(bv);
            ltx_tensor_free(wv);
            /* Tiles differ in size, so blocks cached for one rarely fit the next: hand them
             * back so a tiled decode stays within its live-memory budget. */
            be->ops->memory_cleanup(be);
        }
    return s;
}

/* Emits (chunk / clamp(w, 1e-8))[:, :, :n]. The reference yields an empty chunk when a causal
 * tile starts where the previous one did (overlap of size - 1 latents); we skip it. */
static ltx_status emit(ltx_backend *be, const ltx_tensor *chunk, const ltx_tensor *w, int64_t n,
                       int64_t frame0, ltx_vae_chunk_fn fn, void *user)
{
    if (n <= 0) return LTX_OK;
    ltx_tensor *cv = ltx_tensor_slice(chunk, 2, 0, n, 1);
    ltx_tensor *wv = ltx_tensor_slice(w, 2, 0, n, 1);
    ltx_tensor *wc = wv ? ltx_nn_unary(be, LTX_UNARY_CLAMP, wv, 1e-8, INFINITY) : NULL;
    ltx_tensor *y = (cv && wc) ? ltx_nn_binary(be, LTX_BINARY_DIV, cv, wc) : NULL;
    ltx_status s = y ? fn(user, y, frame0) : ltx_vae_failed_status();
    ltx_tensor_free(cv);
    ltx_tensor_free(wv);
    ltx_tensor_free(wc);
    ltx_tensor_free(y);
    return s;
}

ltx_status ltx_video_decoder_tiled(const ltx_video_decoder *d, const ltx_tensor *latent,
                                   const ltx_vae_tiling *tiling, const ltx_vae_decode_opts *opts,
                                   ltx_vae_chunk_fn fn, void *user)
{
    LTX_TRY(ltx_vae_tiling_validate(tiling));
    if (latent->ndim != 5) return ltx_err(LTX_ERR_INVALID_ARG, "tiled decode: latent must be 5-D");
    ltx_backend *be = latent->buf->be;
    int ft, fs, oc;
    ltx_vae_decoder_factors(d, &ft, &fs, &oc);
    axis_plan ax[3];
    ltx_status s = plan_decode(tiling, latent->shape, ft, fs, ax);
    int64_t B = latent->shape[0], Ho = latent->shape[3] * fs, Wo = latent->shape[4] * fs;
    ltx_tensor *prev = NULL, *prev_w = NULL;
    int64_t prev0 = 0, prev1 = 0;
    for (int ti = 0; s == LTX_OK && ti < ax[0].n; ti++) {
        int64_t c0 = ax[0].out0[ti], c1 = ax[0].out1[ti], T = c1 - c0;
        ltx_tensor *buf = ltx_tensor_zeros(be, LTX_F32, 5, (int64_t[]){B, oc, T, Ho, Wo});
        ltx_tensor *w = buf ? ltx_tensor_zeros(be, LTX_F32, 5, (int64_t[]){1, 1, T, Ho, Wo}) : NULL;
        s = w ? decode_group(d, latent, ax, ti, opts, buf, w) : ltx_vae_failed_status();
        if (s == LTX_OK && prev) {
            if (prev1 > c0) {
                /* ref: blend the overlap into the previous chunk, then copy it back */
                int64_t ovl = prev1 - c0, off = c0 - prev0;
                ltx_tensor *pv = ltx_tensor_slice(prev, 2, off, off + ovl, 1);
                ltx_tensor *pwv = ltx_tensor_slice(prev_w, 2, off, off + ovl, 1);
                ltx_tensor *bv = ltx_tensor_slice(buf, 2, 0, ovl, 1);
                ltx_tensor *wv = ltx_tensor_slice(w, 2, 0, ovl, 1);
                s = (pv && pwv && bv && wv) ? add_into(be, pv, bv) : ltx_vae_failed_status();
                if (s == LTX_OK) s = add_into(be, pwv, wv);
                if (s == LTX_OK) s = be->ops->copy(be, bv, pv);
                if (s == LTX_OK) s = be->ops->copy(be, wv, pwv);
                ltx_tensor_free(pv);
                ltx_tensor_free(pwv);
                ltx_tensor_free(bv);
                ltx_tensor_free(wv);
            }
            if (s == LTX_OK) s = emit(be, prev, prev_w, c0 - prev0, prev0, fn, user);
        }
        ltx_tensor_free(prev);
        ltx_tensor_free(prev_w);
        prev = buf;
        prev_w = w;
        prev0 = c0;
        prev1 = c1;
    }
    if (s == LTX_OK && prev) s = emit(be, prev, prev_w, prev1 - prev0, prev0, fn, user);
    ltx_tensor_free(prev);
    ltx_tensor_free(prev_w);
    for (int a = 0; a < 3; a++)
        axis_free(&ax[a]);
    return s;
}

/* ---- tiled encode -------------------------------------------------------------------------- */

/* Pixel-space plan mapped to latent slices (ref: prepare_tiles_for_encoding,
 * map_spatial_interval_to_latent, map_temporal_interval_to_latent). */
static ltx_status plan_encode(const ltx_vae_tiling *t, const int64_t *vid, int ft, int fs,
                              axis_plan ax[3])
{
    memset(ax, 0, sizeof(axis_plan) * 3);
    for (int a = 0; a < 3; a++) {
        int64_t len = vid[2 + a];
        int scale = a == 0 ? ft : fs;
        bool tiled = a == 0 ? t->temporal_tile_frames > 0 : t->spatial_tile_px > 0;
        if (!tiled) {
            ax[a].n = 1;
            ax[a].in[0] = (ivl){0, len, 0, 0};
            ax[a].out0[0] = 0;
            ax[a].out1[0] = a == 0 ? (len - 1) / scale + 1 : len / scale;
            continue;
        }
        int64_t size = a == 0 ? t->temporal_tile_frames : t->spatial_tile_px;
        int64_t ov = a == 0 ? t->temporal_overlap_frames : t->spatial_overlap_px;
        int64_t min_ov = a == 0 ? 16 : 64; /* ref: minimum overlaps, raised with a warning */
        if (ov < min_ov) ov = min_ov;
        if (ov >= size)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "tiled encode: overlap %lld (raised to the "
                           "minimum %lld) must be below the tile size %lld",
                           (long long)ov, (long long)min_ov, (long long)size);
        int n = split_by_size(len, size, ov, ax[a].in);
        if (n < 0) return ltx_err(LTX_ERR_UNSUPPORTED, "tiling: more than 64 tiles on an axis");
        if (a == 0 && n > 1) { /* ref: split_temporal — end + 1 except the last, no right ramp */
            for (int i = 0; i < n - 1; i++) {
                ax[a].in[i].end += 1;
                ax[a].in[i].rramp = 0;
            }
            ax[a].in[n - 1].rramp = 0;
        }
        ax[a].n = n;
        for (int i = 0; i < n; i++) {
            const ivl *v = &ax[a].in[i];
            int64_t s, e, zl, zr;
            if (a == 0) {
                s = v->start / scale;
                e = (v->end - 1) / scale + 1;
                zl = v->lramp == 0 ? 0 : 1 + (v->lramp - 1) / scale;
                zr = 0;
            } else {
                s = v->start / scale;
                e = v->end / scale;
                zl = v->lramp / scale - 1 > 0 ? v->lramp / scale - 1 : 0;
                zr = v->rramp == 0 ? 0 : 1;
            }
            ax[a].out0[i] = s;
            ax[a].out1[i] = e;
            if (!(ax[a].mask[i] = rectangle(e - s, zl, zr)))
                return ltx_err(LTX_ERR_OOM, "tiling masks");
        }
    }
    return LTX_OK;
}

ltx_status ltx_video_encoder_tiled(const ltx_video_encoder *e, const ltx_tensor *video,
                                   const ltx_vae_tiling *tiling, ltx_tensor **out)
{
    *out = NULL;
    if (!tiling) return ltx_video_encoder_forward(e, video, NULL, out);
    LTX_TRY(ltx_vae_tiling_validate(tiling));
    if (video->ndim != 5) return ltx_err(LTX_ERR_INVALID_ARG, "tiled encode: video must be 5-D");
    ltx_backend *be = video->buf->be;
    int ft, fs;
    ltx_video_encoder_factors(e, &ft, &fs);
    int64_t F = video->shape[2];
    if (F < 1 || (F - 1) % ft)
        return ltx_err(LTX_ERR_INVALID_ARG, "tiled encode: %lld frames is not 1 + %d·k",
                       (long long)F, ft);
    axis_plan ax[3];
    ltx_status s = plan_encode(tiling, video->shape, ft, fs, ax);
    const ltx_vae_stats *st = ltx_video_encoder_stats(e);
    int64_t lshape[5] = {video->shape[0], st->mean->shape[0], (F - 1) / ft + 1,
                         video->shape[3] / fs, video->shape[4] / fs};
    int64_t wshape[5] = {1, 1, lshape[2], lshape[3], lshape[4]};
    ltx_tensor *acc = s == LTX_OK ? ltx_tensor_zeros(be, LTX_F32, 5, lshape) : NULL;
    ltx_tensor *wts = acc ? ltx_tensor_zeros(be, LTX_F32, 5, wshape) : NULL;
    if (s == LTX_OK && !wts) s = ltx_vae_failed_status();
    for (int ti = 0; s == LTX_OK && ti < ax[0].n; ti++)
        for (int hi = 0; s == LTX_OK && hi < ax[1].n; hi++)
            for (int wi = 0; s == LTX_OK && wi < ax[2].n; wi++) {
                int64_t f1 = ax[0].in[ti].end < F ? ax[0].in[ti].end : F;
                ltx_tensor *vt = box(video, ax[0].in[ti].start, f1, ax[1].in[hi].start,
                                     ax[1].in[hi].end, ax[2].in[wi].start, ax[2].in[wi].end);
                ltx_tensor *lt = NULL;
                s = vt ? ltx_video_encoder_forward(e, vt, NULL, &lt) : ltx_vae_failed_status();
                ltx_tensor_free(vt);
                if (s != LTX_OK) break;
                int64_t t0 = ax[0].out0[ti], t1 = ax[0].out1[ti], h0 = ax[1].out0[hi],
                        h1 = ax[1].out1[hi], w0 = ax[2].out0[wi], w1 = ax[2].out1[wi];
                if (lt->shape[2] != t1 - t0 || lt->shape[3] != h1 - h0 || lt->shape[4] != w1 - w0) {
                    ltx_tensor_free(lt);
                    s = ltx_err(LTX_ERR_INVALID_ARG, "tiled encode: tile latent does not fit its "
                                                     "slot (the reference fails the same way)");
                    break;
                }
                ltx_tensor *mask = blend_mask(be, ax[0].mask[ti], ax[1].mask[hi], ax[2].mask[wi],
                                              t1 - t0, h1 - h0, w1 - w0);
                ltx_tensor *prod = mask ? ltx_nn_binary(be, LTX_BINARY_MUL, lt, mask) : NULL;
                ltx_tensor *av = box(acc, t0, t1, h0, h1, w0, w1);
                ltx_tensor *wv = box(wts, t0, t1, h0, h1, w0, w1);
                s = (prod && av && wv) ? add_into(be, av, prod) : ltx_vae_failed_status();
                if (s == LTX_OK) s = add_into(be, wv, mask);
                ltx_tensor_free(lt);
                ltx_tensor_free(mask);
                ltx_tensor_free(prod);
                ltx_tensor_free(av);
                ltx_tensor_free(wv);
            }
    if (s == LTX_OK) {
        ltx_tensor *wc = ltx_nn_unary(be, LTX_UNARY_CLAMP, wts, 1e-8, INFINITY);
        *out = wc ? ltx_nn_binary(be, LTX_BINARY_DIV, acc, wc) : NULL;
        ltx_tensor_free(wc);
        if (!*out) s = ltx_vae_failed_status();
    }
    ltx_tensor_free(acc);
    ltx_tensor_free(wts);
    for (int a = 0; a < 3; a++)
        axis_free(&ax[a]);
    return s;
}

/* ---- uint8 frames -------------------------------------------------------------------------- */

ltx_tensor *ltx_video_to_uint8(ltx_backend *be, const ltx_tensor *video)
{
    if (video->ndim != 5) {
        ltx_err(LTX_ERR_INVALID_ARG, "uint8 conversion: video must be (B, C, F, H, W)");
        return NULL;
    }
    /* ref: decode_video.convert_to_uint8 — (((x + 1) / 2).clamp(0, 1) · 255).to(uint8) */
    ltx_tensor *x = ltx_tensor_slice(video, 0, 0, 1, 1), *n = NULL, *y = NULL;
    /* one op at a time, freeing as we go: at most two full-size float temporaries */
    static const struct {
        ltx_unary_op op;
        double p0, p1;
    } steps[4] = {
        {LTX_UNARY_SCALE, 1.0, 1.0},   /* x + 1 */
        {LTX_UNARY_DIVS, 2.0, 0.0},    /* / 2 */
        {LTX_UNARY_CLAMP, 0.0, 1.0},   /* clamp(0, 1) */
        {LTX_UNARY_SCALE, 255.0, 0.0}, /* · 255 */
    };
    for (int i = 0; x && i < 4; i++) {
        n = ltx_nn_unary(be, steps[i].op, x, steps[i].p0, steps[i].p1);
        ltx_tensor_free(x);
        x = n;
    }
    if (x) {
        const int64_t *sh = x->shape, *st = x->stride;
        /* (F, H, W, C) view of item 0; the U8 copy truncates like .to(torch.uint8) */
        int64_t shape[4] = {sh[2], sh[3], sh[4], sh[1]}, stride[4] = {st[2], st[3], st[4], st[1]};
        ltx_tensor *pv = ltx_vae_view(x, 4, shape, stride, 0);
        y = pv ? ltx_tensor_new(be, LTX_U8, 4, shape) : NULL;
        if (y && be->ops->copy(be, y, pv) != LTX_OK) {
            ltx_tensor_free(y);
            y = NULL;
        }
        ltx_tensor_free(pv);
    }
    ltx_tensor_free(x);
    return y;
}
