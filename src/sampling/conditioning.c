/*
 * conditioning.c — keyframe / reference-latent tokens, attention-strength masks, the retake
 * time-window mask and the IC-LoRA mask helpers (see conditioning.h).
 *
 * ref: ltx_core/conditioning/types/{keyframe_cond,reference_video_cond,noise_mask_cond,
 * attention_strength_wrapper}.py, conditioning/mask_utils.py, ltx_pipelines/ic_lora.py,
 * ltx_pipelines/utils/helpers.py @ a2c3f24.
 */
#include "sampling/conditioning.h"

#include "core/dtype.h"
#include "io/media.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int k_scale[3] = {8, 32, 32}; /* ref: SpatioTemporalScaleFactors.default() */

static float value_round(float v, ltx_dtype dt)
{
    return dt == LTX_BF16 ? ltx_round_bf16(v) : v;
}

/* Float32 positions (1, 3, M, 2) of the tokens of a latent (1, C, F, H, W): pixel bounds
 * (optionally causal-fixed), time + time_shift, time / fps, spatial x spatial_mul.
 * ref: get_pixel_coords + the items' own adjustments. *out malloc'd. */
static ltx_status token_positions(const int64_t *shape, bool causal_fix, int time_shift, double fps,
                                  int spatial_mul, bool one_frame_end, float **out)
{
    *out = NULL;
    int64_t *c = NULL;
    LTX_TRY(ltx_video_patch_grid_bounds_host(shape, 1, &c));
    int64_t M = shape[2] * shape[3] * shape[4];
    ltx_video_pixel_coords_host(c, 1, M, k_scale, causal_fix);
    float *p = malloc(sizeof(float) * (size_t)(3 * M * 2));
    if (!p) {
        free(c);
        return ltx_err(LTX_ERR_OOM, "conditioning positions: out of memory");
    }
    for (int a = 0; a < 3; a++)
        for (int64_t i = 0; i < M * 2; i++) {
            int64_t k = a * M * 2 + i;
            if (a == 0 && one_frame_end && (i & 1)) /* end = start + 1 pixel frame (1.2) */
                p[k] = (float)(c[k - 1] + time_shift + 1) / (float)fps;
            else if (a == 0) /* ref: positions[:, 0] += frame_idx (int64), .float(), /= fps */
                p[k] = (float)(c[k] + time_shift) / (float)fps;
            else /* ref: positions[:, 1:] *= downscale_factor (f32, exact) */
                p[k] = (float)c[k] * (float)spatial_mul;
        }
    free(c);
    *out = p;
    return LTX_OK;
}

/* The (1, N+M, N+M) weight matrix of build_attention_mask. `prev` (1, N, N) or NULL (= ones),
 * cross (M) the per-new-token weights. */
static float *build_mask(const float *prev, int64_t N, int64_t n_noisy, int64_t M,
                         const float *cross)
{
    int64_t T = N + M;
    float *m = calloc((size_t)(T * T), sizeof(float));
    if (!m) {
        ltx_err(LTX_ERR_OOM, "conditioning attention mask: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            m[i * T + j] = prev ? prev[i * N + j] : 1.0f;
    for (int64_t i = N; i < T; i++)
        for (int64_t j = N; j < T; j++)
            m[i * T + j] = 1.0f;
    for (int64_t i = 0; i < n_noisy; i++)
        for (int64_t j = 0; j < M; j++)
            m[i * T + N + j] = cross[j]; /* noisy -> new */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < n_noisy; j++)
            m[(N + i) * T + j] = cross[i]; /* new -> noisy */
    return m;
}

/* Appends tokens of `latent` with positions `pos` (1, 3, M, 2 f32), mask value `mval`, and
 * the attention mask update (cross == NULL: only extend an existing mask with ones). The
 * tokens go into clean_latent, and into latent too unless `zeros` (then zeros there). */
static ltx_status append_tokens(ltx_backend *be, ltx_latent_state *st, int64_t n_noisy,
                                const ltx_tensor *latent, const float *pos, float mval,
                                const float *cross, bool zeros)
{
    if (!st->latent || st->latent->ndim != 3 || st->latent->shape[0] != 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "conditioning: state must be (1, T, C) tokens");
    if (latent->ndim != 5 || latent->shape[0] != 1 || latent->shape[1] != st->latent->shape[2])
        return ltx_err(LTX_ERR_INVALID_ARG, "conditioning: latent must be (1, %lld, F, H, W)",
                       (long long)st->latent->shape[2]);
    int64_t N = st->latent->shape[1], M = latent->shape[2] * latent->shape[3] * latent->shape[4];
    ltx_status s = LTX_OK;
    ltx_tensor *tok = NULL, *tok_dt = NULL, *lat = NULL, *cln = NULL, *msk = NULL, *pp = NULL;
    ltx_tensor *pold = NULL, *pos_all = NULL, *am = NULL, *madd = NULL;
    float *mh = NULL, *prev = NULL, *ones = NULL;

    tok = ltx_video_patchify(be, latent, 1); /* (1, M, C) */
    if (tok) tok_dt = ltx_nn_contiguous(be, tok, st->latent->dtype);
    if (!tok_dt) {
        s = ltx_err(LTX_ERR_OOM, "conditioning tokens: out of memory");
        goto done;
    }
    ltx_tensor *zt = zeros ? ltx_tensor_zeros(be, tok_dt->dtype, 3, tok_dt->shape) : NULL;
    if (zeros && !zt) {
        s = ltx_err(LTX_ERR_OOM, "conditioning tokens: out of memory");
        goto done;
    }
    const ltx_tensor *lx[2] = {st->latent, zeros ? zt : tok_dt};
    const ltx_tensor *cx[2] = {st->clean_latent, tok_dt};
    lat = ltx_nn_cat(be, lx, 2, 1);
    ltx_tensor_free(zt);
    cln = ltx_nn_cat(be, cx, 2, 1);
    /* mask: the new tokens' 1 - strength (bf16 value in real runs), promoted onto f32 */
    mh = malloc(sizeof(float) * (size_t)M);
    if (mh)
        for (int64_t i = 0; i < M; i++)
            mh[i] = mval;
    int64_t ms[3] = {1, M, 1};
    if (mh) madd = ltx_tensor_from_host(be, LTX_F32, 3, ms, mh);
    if (madd) {
        const ltx_tensor *mx[2] = {st->denoise_mask, madd};
        msk = ltx_nn_cat(be, mx, 2, 1);
    }
    /* positions: float32 appended onto the grid's (bf16) values -> all f32 (spec §1.4) */
    int64_t ps[4] = {1, 3, M, 2};
    pp = ltx_tensor_from_host(be, LTX_F32, 4, ps, pos);
    pold = ltx_nn_contiguous(be, st->positions, LTX_F32);
    if (pp && pold) {
        const ltx_tensor *px[2] = {pold, pp};
        pos_all = ltx_nn_cat(be, px, 2, 2);
    }
    if (!lat || !cln || !msk || !pos_all) {
        s = ltx_err(LTX_ERR_OOM, "conditioning: out of memory");
        goto done;
    }
    if (cross || st->attention_mask) {
        if (!cross) { /* ref: update_attention_mask(None) with an existing mask: ones */
            ones = malloc(sizeof(float) * (size_t)M);
            if (!ones) {
                s = ltx_err(LTX_ERR_OOM, "attention mask: out of memory");
                goto done;
            }
            for (int64_t i = 0; i < M; i++)
                ones[i] = 1.0f;
            cross = ones;
        }
        if (st->attention_mask && !(prev = ltx_tensor_to_host_f32(st->attention_mask))) {
            s = ltx_err_failed();
            goto done;
        }
        float *full = build_mask(prev, N, n_noisy, M, cross);
        if (!full) {
            s = ltx_err(LTX_ERR_OOM, "attention mask (%lld tokens): out of memory",
                        (long long)(N + M));
            goto done;
        }
        int64_t as[3] = {1, N + M, N + M};
        am = ltx_tensor_from_host(be, LTX_F32, 3, as, full);
        free(full);
        if (!am) {
            s = ltx_err(LTX_ERR_OOM, "attention mask: out of memory");
            goto done;
        }
    }
    /* commit */
    ltx_tensor_free(st->latent);
    ltx_tensor_free(st->clean_latent);
    ltx_tensor_free(st->denoise_mask);
    ltx_tensor_free(st->positions);
    st->latent = lat;
    st->clean_latent = cln;
    st->denoise_mask = msk;
    st->positions = pos_all;
    lat = cln = msk = pos_all = NULL;
    if (am) {
        ltx_tensor_free(st->attention_mask);
        st->attention_mask = am;
        am = NULL;
    }
done:
    ltx_tensor_free(tok);
    ltx_tensor_free(tok_dt);
    ltx_tensor_free(lat);
    ltx_tensor_free(cln);
    ltx_tensor_free(msk);
    ltx_tensor_free(madd);
    ltx_tensor_free(pp);
    ltx_tensor_free(pold);
    ltx_tensor_free(pos_all);
    ltx_tensor_free(am);
    free(mh);
    free(prev);
    free(ones);
    return s;
}

ltx_status ltx_cond_keyframe(ltx_backend *be, ltx_latent_state *st, int64_t n_noisy,
                             const ltx_tensor *latent, int frame_idx, double strength, double fps,
                             ltx_dtype value_dtype, ltx_reference_version ref)
{
    if (latent->ndim != 5) return ltx_err(LTX_ERR_INVALID_ARG, "keyframe latent must be 5-D");
    float *pos = NULL;
    /* ref: 400fd31 (1.2, b604d3f): a latent of one pixel frame (num_pixel_frames=1, every image
     * keyframe) spans [frame_idx, frame_idx + 1) pixel frames and its tokens go into
     * clean_latent only (f4b06fb; zeros in the latent); a2c3f24 (2026-04): the VAE-scaled time
     * range and the tokens in both. Both: causal_fix only for frame_idx == 0. */
    bool v12 = ltx_refver_is_1_2(ref);
    bool one_frame = v12 && latent->shape[2] == 1;
    LTX_TRY(token_positions(latent->shape, frame_idx == 0, frame_idx, fps, 1, one_frame, &pos));
    ltx_status s = append_tokens(be, st, n_noisy, latent, pos,
                                 value_round((float)(1.0 - strength), value_dtype), NULL, v12);
    free(pos);
    return s;
}

ltx_status ltx_cond_reference(ltx_backend *be, ltx_latent_state *st, int64_t n_noisy,
                              const ltx_tensor *latent, int downscale, double strength, double fps,
                              const float *attn, int64_t n_attn, ltx_dtype value_dtype,
                              ltx_reference_version ref)
{
    if (latent->ndim != 5) return ltx_err(LTX_ERR_INVALID_ARG, "reference latent must be 5-D");
    if (downscale < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "reference downscale factor %d must be >= 1",
                       downscale);
    int64_t M = latent->shape[2] * latent->shape[3] * latent->shape[4];
    if (attn && n_attn != 1 && n_attn != M)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "attention weights: %lld values for %lld reference "
                       "tokens (want 1 or %lld)",
                       (long long)n_attn, (long long)M, (long long)M);
    float *pos = NULL, *cross = NULL;
    LTX_TRY(token_positions(latent->shape, true, 0, fps, downscale, false, &pos));
    if (attn) { /* ref: resolve_cross_mask(.., dtype = latent dtype) */
        cross = malloc(sizeof(float) * (size_t)M);
        if (!cross) {
            free(pos);
            return ltx_err(LTX_ERR_OOM, "attention weights: out of memory");
        }
        for (int64_t j = 0; j < M; j++)
            cross[j] = value_round(attn[n_attn == 1 ? 0 : j], value_dtype);
    }
    /* ref: 400fd31 (1.2, f4b06fb): reference tokens into clean_latent only (zeros in the
     * latent); a2c3f24 (2026-04): into both */
    ltx_status s = append_tokens(be, st, n_noisy, latent, pos,
                                 value_round((float)(1.0 - strength), value_dtype), cross,
                                 ltx_refver_is_1_2(ref));
    free(pos);
    free(cross);
    return s;
}

/* ---- TemporalRegionMask ---- */

static float in_region(float t0, float t1, double start_s, double end_s)
{
    /* ref: (t_end > start_time) & (t_start < end_time), scalars promoted to float32 */
    return (t1 > (float)start_s && t0 < (float)end_s) ? 1.0f : 0.0f;
}

void ltx_cond_region_video_frames(int64_t F, double fps, double start_s, double end_s, float *out)
{
    for (int64_t f = 0; f < F; f++) {
        int64_t p0 = 8 * f - 7 > 0 ? 8 * f - 7 : 0, p1 = 8 * f + 1; /* causal pixel bounds */
        out[f] = in_region((float)p0 / (float)fps, (float)p1 / (float)fps, start_s, end_s);
    }
}

void ltx_cond_region_audio_frames(int64_t T, double start_s, double end_s, float *out)
{
    ltx_audio_timing tm;
    ltx_audio_timing_default(&tm);
    float *b = NULL;
    if (ltx_audio_patch_grid_bounds_host(&tm, 1, T, &b) != LTX_OK) {
        /* only fails on allocation: fall back to the same formula in place */
        for (int64_t t = 0; t < T; t++) {
            int64_t a0 = 4 * t - 3 > 0 ? 4 * t - 3 : 0;
            out[t] = in_region((float)a0 * 0.01f, (float)(4 * t + 1) * 0.01f, start_s, end_s);
        }
        return;
    }
    for (int64_t t = 0; t < T; t++)
        out[t] = in_region(b[2 * t], b[2 * t + 1], start_s, end_s);
    free(b);
}

static ltx_status set_mask(ltx_backend *be, ltx_latent_state *st, const float *per_token, int64_t T)
{
    if (!st->denoise_mask || st->denoise_mask->ndim != 3 || st->denoise_mask->shape[1] != T)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "region mask: the state has %lld tokens, the grid "
                       "%lld (apply it before any appended tokens)",
                       (long long)(st->denoise_mask ? st->denoise_mask->shape[1] : 0),
                       (long long)T);
    int64_t s3[3] = {1, T, 1};
    ltx_tensor *m = ltx_tensor_from_host(be, LTX_F32, 3, s3, per_token);
    if (!m) return ltx_err(LTX_ERR_OOM, "region mask: out of memory");
    ltx_tensor_free(st->denoise_mask);
    st->denoise_mask = m;
    return LTX_OK;
}

ltx_status ltx_cond_region_video(ltx_backend *be, ltx_latent_state *st, const int64_t *shape,
                                 double fps, double start_s, double end_s)
{
    int64_t F = shape[2], HW = shape[3] * shape[4];
    float *fr = malloc(sizeof(float) * (size_t)F), *m = malloc(sizeof(float) * (size_t)(F * HW));
    ltx_status s = LTX_OK;
    if (!fr || !m) s = ltx_err(LTX_ERR_OOM, "region mask: out of memory");
    if (s == LTX_OK) {
        ltx_cond_region_video_frames(F, fps, start_s, end_s, fr);
        for (int64_t f = 0; f < F; f++)
            for (int64_t i = 0; i < HW; i++)
                m[f * HW + i] = fr[f];
        s = set_mask(be, st, m, F * HW);
    }
    free(fr);
    free(m);
    return s;
}

ltx_status ltx_cond_region_audio(ltx_backend *be, ltx_latent_state *st, int64_t T, double start_s,
                                 double end_s)
{
    float *m = malloc(sizeof(float) * (size_t)(T > 0 ? T : 1));
    if (!m) return ltx_err(LTX_ERR_OOM, "region mask: out of memory");
    ltx_cond_region_audio_frames(T, start_s, end_s, m);
    ltx_status s = set_mask(be, st, m, T);
    free(m);
    return s;
}

/* ---- IC-LoRA attention-mask video ---- */

ltx_status ltx_cond_mask_from_frames(const uint8_t *rgb, int n, int sh, int sw, int h, int w,
                                     float *out)
{
    size_t plane = (size_t)n * h * w;
    float *pix = malloc(sizeof(float) * 3 * plane);
    if (!pix) return ltx_err(LTX_ERR_OOM, "mask video: out of memory");
    /* ref: video_preprocess(.., torch.bfloat16): (3, n, h, w) bf16 in [-1, 1] */
    ltx_status s = ltx_media_preprocess(rgb, n, sh, sw, h, w, true, pix);
    if (s == LTX_OK)
        for (size_t i = 0; i < plane; i++) {
            /* ref: mean(dim=1) on bf16 = sum (f32 accumulation, bf16 result) then div_ in
             * bf16 (torch 1.13, the goldens' runtime; torch 2.x divides the f32 sum before
             * rounding — at most 1 bf16 ulp apart), then (x + 1) / 2, clamp */
            float m = ltx_round_bf16(pix[i] + pix[plane + i] + pix[2 * plane + i]);
            m = ltx_round_bf16(m / 3.0f);
            m = ltx_round_bf16(ltx_round_bf16(m + 1.0f) / 2.0f);
            out[i] = m < 0.0f ? 0.0f : m > 1.0f ? 1.0f : m;
        }
    free(pix);
    return s;
}

ltx_status ltx_cond_mask_to_latent(const float *mask, int64_t F, int64_t H, int64_t W, int64_t Fl,
                                   int64_t Hl, int64_t Wl, float *out)
{
    const ltx_dtype dt = LTX_BF16; /* ref: the mask from _load_mask_video is bfloat16 */
    if (F < 1 || Fl < 1 || Hl < 1 || Wl < 1 || H < 1 || W < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "attention mask: empty shape");
    if (F > 1 && Fl > 1 && (F - 1) % (Fl - 1))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "attention mask: %lld pixel frames do not map onto "
                       "%lld latent frames ((frames - 1) must be a multiple of %lld)",
                       (long long)F, (long long)Fl, (long long)(Fl - 1));
    /* step 1: per frame adaptive average pooling (F.interpolate mode="area") */
    float *sp = malloc(sizeof(float) * (size_t)(F * Hl * Wl));
    if (!sp) return ltx_err(LTX_ERR_OOM, "attention mask: out of memory");
    for (int64_t f = 0; f < F; f++)
        for (int64_t i = 0; i < Hl; i++) {
            int64_t h0 = i * H / Hl, h1 = ((i + 1) * H + Hl - 1) / Hl;
            for (int64_t j = 0; j < Wl; j++) {
                int64_t w0 = j * W / Wl, w1 = ((j + 1) * W + Wl - 1) / Wl;
                float sum = 0.0f;
                for (int64_t y = h0; y < h1; y++)
                    for (int64_t x = w0; x < w1; x++)
                        sum += mask[(f * H + y) * W + x];
                /* ref: adaptive_avg_pool: sum / kh / kw; the reference's mask is bf16 */
                sp[(f * Hl + i) * Wl + j] =
                    value_round(sum / (float)(h1 - h0) / (float)(w1 - w0), dt);
            }
        }
    /* step 2: frame 0 alone, then group means of t = (F - 1) / (Fl - 1) frames */
    int64_t HW = Hl * Wl;
    memcpy(out, sp, sizeof(float) * (size_t)HW);
    if (F > 1 && Fl > 1) {
        int64_t t = (F - 1) / (Fl - 1);
        for (int64_t g = 0; g < Fl - 1; g++)
            for (int64_t k = 0; k < HW; k++) {
                float sum = 0.0f;
                for (int64_t u = 0; u < t; u++)
                    sum += sp[(1 + g * t + u) * HW + k];
                /* ref: mean on bf16 = bf16 sum, then div_ in bf16 (see mask_from_frames) */
                out[(1 + g) * HW + k] = value_round(value_round(sum, dt) / (float)t, dt);
            }
    } else {
        /* ref: latent_mask = first_frame only; later latent frames (if any) get nothing —
         * the reference would then fail on a token-count mismatch; mirror it as an error */
        if (Fl > 1) {
            free(sp);
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "attention mask: 1 pixel frame cannot cover "
                           "%lld latent frames",
                           (long long)Fl);
        }
    }
    free(sp);
    return LTX_OK;
}

ltx_tensor *ltx_cond_conform_frames(ltx_backend *be, const ltx_tensor *latent, int64_t frames)
{
    if (latent->ndim < 3 || frames < 1) {
        ltx_err(LTX_ERR_INVALID_ARG, "conform latent: need (B, C, T, ...) and frames >= 1");
        return NULL;
    }
    int64_t T = latent->shape[2];
    if (T >= frames) {
        ltx_tensor *v = ltx_tensor_slice(latent, 2, 0, frames, 1);
        ltx_tensor *r = v ? ltx_nn_contiguous(be, v, latent->dtype) : NULL;
        ltx_tensor_free(v);
        return r;
    }
    int64_t shape[8];
    memcpy(shape, latent->shape, sizeof(int64_t) * (size_t)latent->ndim);
    shape[2] = frames - T; /* ref: zero padding in latent space */
    ltx_tensor *z = ltx_tensor_zeros(be, latent->dtype, latent->ndim, shape);
    if (!z) return NULL;
    const ltx_tensor *xs[2] = {latent, z};
    ltx_tensor *r = ltx_nn_cat(be, xs, 2, 2);
    ltx_tensor_free(z);
    return r;
}
