/*
 * patchifier.c — token layouts, positions, initial states, noiser formula, latent-index
 * conditioning (see patchifier.h for the reference files mirrored).
 *
 * Every layout change is "reshape the contiguous source into split axes, permute, copy
 * contiguous" through the backend copy op; nothing reads device memory from the host.
 */
#include "sampling/patchifier.h"

#include "core/dtype.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ltx_latent_state_clear(ltx_latent_state *s)
{
    if (!s) return;
    ltx_tensor_free(s->latent);
    ltx_tensor_free(s->denoise_mask);
    ltx_tensor_free(s->positions);
    ltx_tensor_free(s->clean_latent);
    ltx_tensor_free(s->attention_mask);
    memset(s, 0, sizeof *s);
}

/* src viewed as `vshape` (nv dims), permuted by perm, copied contiguous, reshaped to oshape. */
static ltx_tensor *permute_copy(ltx_backend *be, const ltx_tensor *src, int nv,
                                const int64_t *vshape, const int *perm, int no,
                                const int64_t *oshape)
{
    ltx_tensor *c = NULL, *v = NULL, *p = NULL, *d = NULL, *out = NULL;
    const ltx_tensor *s = src;
    if (!ltx_tensor_is_contiguous(src)) {
        c = ltx_nn_contiguous(be, src, src->dtype);
        if (!c) return NULL;
        s = c;
    }
    v = ltx_tensor_reshape(s, nv, vshape);
    if (v) p = ltx_tensor_permute(v, perm);
    if (p) d = ltx_nn_contiguous(be, p, src->dtype);
    if (d) out = ltx_tensor_reshape(d, no, oshape);
    ltx_tensor_free(c);
    ltx_tensor_free(v);
    ltx_tensor_free(p);
    ltx_tensor_free(d);
    return out;
}

static bool check_rank(const ltx_tensor *t, int nd, const char *what)
{
    if (t->ndim == nd) return true;
    char s[96];
    ltx_err(LTX_ERR_INVALID_ARG, "%s: expected %d dims, got %s", what, nd,
            ltx_tensor_shape_str(t, s, sizeof s));
    return false;
}

/* Patch sizes come from configs and golden params: 0 would divide by zero, huge ones overflow
 * the products below. ref: the models use 1 (transformer), 2 and 4 (VAE). */
#define MAX_PATCH 64
static bool patch_ok(const char *what, int p)
{
    if (p >= 1 && p <= MAX_PATCH) return true;
    ltx_err(LTX_ERR_INVALID_ARG, "%s: patch size %d outside 1..%d", what, p, MAX_PATCH);
    return false;
}

ltx_tensor *ltx_video_patchify(ltx_backend *be, const ltx_tensor *latent, int patch)
{
    if (!check_rank(latent, 5, "video patchify")) return NULL;
    const int64_t *s = latent->shape;
    if (patch < 1 || s[3] % patch || s[4] % patch) {
        ltx_err(LTX_ERR_INVALID_ARG, "video patchify: H %lld W %lld not divisible by %d",
                (long long)s[3], (long long)s[4], patch);
        return NULL;
    }
    int64_t hp = s[3] / patch, wp = s[4] / patch;
    int64_t v[7] = {s[0], s[1], s[2], hp, patch, wp, patch};
    static const int perm[7] = {0, 2, 3, 5, 1, 4, 6}; /* b f h w c p q */
    int64_t o[3] = {s[0], s[2] * hp * wp, s[1] * patch * patch};
    return permute_copy(be, latent, 7, v, perm, 3, o);
}

ltx_tensor *ltx_video_unpatchify(ltx_backend *be, const ltx_tensor *tokens, int64_t frames,
                                 int64_t height, int64_t width, int patch)
{
    if (!check_rank(tokens, 3, "video unpatchify") || !patch_ok("video unpatchify", patch))
        return NULL;
    int64_t hp = height / patch, wp = width / patch, B = tokens->shape[0], n;
    int64_t C = tokens->shape[2] / (patch * patch);
    if (frames < 0 || hp < 0 || wp < 0 || __builtin_mul_overflow(frames, hp, &n) ||
        __builtin_mul_overflow(n, wp, &n) || tokens->shape[1] != n ||
        C * patch * patch != tokens->shape[2]) {
        ltx_err(LTX_ERR_INVALID_ARG, "video unpatchify: %lld tokens x %lld for %lldx%lldx%lld p%d",
                (long long)tokens->shape[1], (long long)tokens->shape[2], (long long)frames,
                (long long)height, (long long)width, patch);
        return NULL;
    }
    int64_t v[7] = {B, frames, hp, wp, C, patch, patch};
    static const int perm[7] = {0, 4, 1, 2, 5, 3, 6}; /* b c f h p w q */
    int64_t o[5] = {B, C, frames, hp * patch, wp * patch};
    return permute_copy(be, tokens, 7, v, perm, 5, o);
}

ltx_status ltx_video_patch_grid_bounds_host(const int64_t *shape, int patch, int64_t **out)
{
    *out = NULL;
    if (!patch_ok("grid bounds", patch)) return LTX_ERR_INVALID_ARG;
    int64_t B = shape[0], F = shape[2], H = shape[3] / patch, W = shape[4] / patch;
    int64_t T = 0, n; /* T = F*H*W tokens; n = bytes of the (B, 3, T, 2) int64 table */
    int64_t both[6] = {B, 3, F, H, W, 2 * (int64_t)sizeof(int64_t)};
    if (!ltx_shape_numel_ok(6, both, 1, &n) || !ltx_shape_numel_ok(3, both + 2, 1, &T))
        return ltx_err(LTX_ERR_INVALID_ARG, "grid bounds: latent %lldx%lldx%lldx%lld too large",
                       (long long)B, (long long)F, (long long)H, (long long)W);
    int64_t *c = malloc((size_t)n + sizeof(int64_t));
    if (!c) return ltx_err(LTX_ERR_OOM, "grid bounds: out of memory");
    int64_t step[3] = {1, patch, patch};
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    int64_t t = (f * H + h) * W + w;
                    int64_t st[3] = {f * step[0], h * step[1], w * step[2]};
                    for (int a = 0; a < 3; a++) {
                        c[((b * 3 + a) * T + t) * 2 + 0] = st[a];
                        c[((b * 3 + a) * T + t) * 2 + 1] = st[a] + step[a];
                    }
                }
    *out = c;
    return LTX_OK;
}

void ltx_video_pixel_coords_host(int64_t *coords, int64_t B, int64_t T, const int scale[3],
                                 bool causal_fix)
{
    for (int64_t b = 0; b < B; b++)
        for (int a = 0; a < 3; a++)
            for (int64_t i = 0; i < T * 2; i++) {
                int64_t *v = &coords[(b * 3 + a) * T * 2 + i];
                *v *= scale[a];
                /* ref: causal VAE — the first frame has temporal stride 1 */
                if (a == 0 && causal_fix) *v = *v + 1 - scale[0] < 0 ? 0 : *v + 1 - scale[0];
            }
}

/* Contiguous f32 tensor of ones/zeros with `shape`. */
static ltx_tensor *filled(ltx_backend *be, ltx_dtype dt, int nd, const int64_t *shape, double v)
{
    ltx_tensor *t = ltx_tensor_new(be, dt, nd, shape);
    if (t && be->ops->fill(be, t, v) != LTX_OK) {
        ltx_tensor_free(t);
        return NULL;
    }
    return t;
}

/* Shared tail of the initial states: latent tokens, ones mask, clean copy. */
static ltx_status init_tokens(ltx_backend *be, const ltx_tensor *initial, const int64_t *shape,
                              int nd, ltx_tensor *(*patchify)(ltx_backend *, const ltx_tensor *,
                                                              int),
                              int patch, ltx_latent_state *out)
{
    ltx_tensor *zeros = NULL;
    if (!initial) {
        zeros = filled(be, LTX_F32, nd, shape, 0.0);
        if (!zeros) return ltx_err_context(ltx_err_failed(), "initial state: ");
        initial = zeros;
    } else {
        for (int i = 0; i < nd; i++)
            if (initial->ndim != nd || initial->shape[i] != shape[i]) {
                ltx_tensor_free(zeros);
                return ltx_err(LTX_ERR_INVALID_ARG, "initial state: latent shape differs from "
                               "the target shape (dim %d)", i);
            }
    }
    out->latent = patchify(be, initial, patch);
    ltx_tensor_free(zeros);
    if (!out->latent) return ltx_err_failed();
    out->clean_latent = ltx_nn_contiguous(be, out->latent, out->latent->dtype);
    int64_t ms[3] = {out->latent->shape[0], out->latent->shape[1], 1};
    out->denoise_mask = filled(be, LTX_F32, 3, ms, 1.0);
    if (!out->clean_latent || !out->denoise_mask) return ltx_err(LTX_ERR_OOM, "initial state");
    return LTX_OK;
}

ltx_status ltx_video_initial_state(ltx_backend *be, const int64_t *shape, int patch,
                                   const int scale[3], bool causal_fix, double fps,
                                   const ltx_tensor *initial, ltx_dtype pos_dtype,
                                   ltx_latent_state *out)
{
    memset(out, 0, sizeof *out);
    ltx_status s = init_tokens(be, initial, shape, 5, ltx_video_patchify, patch, out);
    if (s != LTX_OK) goto fail;
    int64_t *c = NULL;
    s = ltx_video_patch_grid_bounds_host(shape, patch, &c);
    if (s != LTX_OK) goto fail;
    int64_t B = shape[0], T = out->latent->shape[1];
    ltx_video_pixel_coords_host(c, B, T, scale, causal_fix);
    float *pf = malloc(sizeof(float) * (size_t)(B * 3 * T * 2));
    if (!pf) {
        free(c);
        s = ltx_err(LTX_ERR_OOM, "positions");
        goto fail;
    }
    for (int64_t b = 0; b < B; b++)
        for (int a = 0; a < 3; a++)
            for (int64_t i = 0; i < T * 2; i++) {
                int64_t k = (b * 3 + a) * T * 2 + i;
                float v = (float)c[k];
                if (a == 0) v = v / (float)fps; /* ref: positions[:, 0] / fps in f32 */
                pf[k] = v;
            }
    free(c);
    int64_t ps[4] = {B, 3, T, 2};
    ltx_tensor *p32 = ltx_tensor_from_host(be, LTX_F32, 4, ps, pf);
    free(pf);
    if (!p32) {
        s = ltx_err(LTX_ERR_OOM, "positions");
        goto fail;
    }
    if (pos_dtype == LTX_F32) {
        out->positions = p32;
    } else { /* ref: positions.to(dtype) */
        out->positions = ltx_nn_contiguous(be, p32, pos_dtype);
        ltx_tensor_free(p32);
        if (!out->positions) {
            s = ltx_err_failed();
            goto fail;
        }
    }
    return LTX_OK;
fail:
    ltx_latent_state_clear(out);
    return s;
}

static ltx_tensor *audio_patchify_p(ltx_backend *be, const ltx_tensor *x, int unused)
{
    (void)unused;
    return ltx_audio_patchify(be, x);
}

ltx_tensor *ltx_audio_patchify(ltx_backend *be, const ltx_tensor *latent)
{
    if (!check_rank(latent, 4, "audio patchify")) return NULL;
    const int64_t *s = latent->shape;
    static const int perm[4] = {0, 2, 1, 3}; /* b t c f */
    int64_t o[3] = {s[0], s[2], s[1] * s[3]};
    return permute_copy(be, latent, 4, s, perm, 3, o);
}

ltx_tensor *ltx_audio_unpatchify(ltx_backend *be, const ltx_tensor *tokens, int64_t channels,
                                 int64_t mel_bins)
{
    if (!check_rank(tokens, 3, "audio unpatchify")) return NULL;
    if (channels * mel_bins != tokens->shape[2]) {
        ltx_err(LTX_ERR_INVALID_ARG, "audio unpatchify: %lld features != %lld x %lld",
                (long long)tokens->shape[2], (long long)channels, (long long)mel_bins);
        return NULL;
    }
    int64_t v[4] = {tokens->shape[0], tokens->shape[1], channels, mel_bins};
    static const int perm[4] = {0, 2, 1, 3};
    int64_t o[4] = {tokens->shape[0], channels, tokens->shape[1], mel_bins};
    return permute_copy(be, tokens, 4, v, perm, 4, o);
}

void ltx_audio_timing_default(ltx_audio_timing *t)
{
    t->sample_rate = 16000;
    t->hop_length = 160;
    t->downsample = 4;
    t->is_causal = true;
    t->shift = 0;
}

/* ref: AudioPatchifier._get_audio_latent_time_in_sec, all in f32 */
static float audio_time(const ltx_audio_timing *tm, int64_t i)
{
    float mel = (float)i * (float)tm->downsample;
    if (tm->is_causal) {
        mel = (mel + 1.0f) - (float)tm->downsample;
        if (mel < 0) mel = 0;
    }
    return mel * (float)tm->hop_length / (float)tm->sample_rate;
}

ltx_status ltx_audio_patch_grid_bounds_host(const ltx_audio_timing *tm, int64_t B, int64_t T,
                                            float **out)
{
    float *c = malloc(sizeof(float) * (size_t)(B * T * 2 + 1));
    if (!c) return ltx_err(LTX_ERR_OOM, "audio bounds: out of memory");
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            c[(b * T + t) * 2 + 0] = audio_time(tm, tm->shift + t);
            c[(b * T + t) * 2 + 1] = audio_time(tm, tm->shift + t + 1);
        }
    *out = c;
    return LTX_OK;
}

ltx_status ltx_audio_initial_state(ltx_backend *be, const int64_t *shape,
                                   const ltx_audio_timing *tm, const ltx_tensor *initial,
                                   ltx_latent_state *out)
{
    memset(out, 0, sizeof *out);
    ltx_status s = init_tokens(be, initial, shape, 4, audio_patchify_p, 1, out);
    if (s != LTX_OK) goto fail;
    float *c = NULL;
    s = ltx_audio_patch_grid_bounds_host(tm, shape[0], shape[2], &c);
    if (s != LTX_OK) goto fail;
    int64_t ps[4] = {shape[0], 1, shape[2], 2};
    out->positions = ltx_tensor_from_host(be, LTX_F32, 4, ps, c);
    free(c);
    if (!out->positions) {
        s = ltx_err(LTX_ERR_OOM, "audio positions");
        goto fail;
    }
    return LTX_OK;
fail:
    ltx_latent_state_clear(out);
    return s;
}

ltx_tensor *ltx_vae_patchify(ltx_backend *be, const ltx_tensor *x, int p, int pt)
{
    const int64_t *s = x->shape;
    if (!patch_ok("vae patchify", p) || !patch_ok("vae patchify (time)", pt)) return NULL;
    if (p == 1 && pt == 1) return ltx_nn_contiguous(be, x, x->dtype);
    if (x->ndim == 4) {
        int64_t v[6] = {s[0], s[1], s[2] / p, p, s[3] / p, p};
        static const int perm[6] = {0, 1, 5, 3, 2, 4}; /* b c r q h w */
        int64_t o[4] = {s[0], s[1] * p * p, s[2] / p, s[3] / p};
        return permute_copy(be, x, 6, v, perm, 4, o);
    }
    if (!check_rank(x, 5, "vae patchify")) return NULL;
    int64_t v[8] = {s[0], s[1], s[2] / pt, pt, s[3] / p, p, s[4] / p, p};
    static const int perm[8] = {0, 1, 3, 7, 5, 2, 4, 6}; /* b c p r q f h w */
    int64_t o[5] = {s[0], s[1] * pt * p * p, s[2] / pt, s[3] / p, s[4] / p};
    return permute_copy(be, x, 8, v, perm, 5, o);
}

ltx_tensor *ltx_vae_unpatchify(ltx_backend *be, const ltx_tensor *x, int p, int pt)
{
    const int64_t *s = x->shape;
    if (!patch_ok("vae unpatchify", p) || !patch_ok("vae unpatchify (time)", pt)) return NULL;
    if (p == 1 && pt == 1) return ltx_nn_contiguous(be, x, x->dtype);
    if (x->ndim == 4) {
        int64_t C = s[1] / (p * p);
        int64_t v[6] = {s[0], C, p, p, s[2], s[3]}; /* b c r q h w */
        static const int perm[6] = {0, 1, 4, 3, 5, 2};
        int64_t o[4] = {s[0], C, s[2] * p, s[3] * p};
        return permute_copy(be, x, 6, v, perm, 4, o);
    }
    if (!check_rank(x, 5, "vae unpatchify")) return NULL;
    int64_t C = s[1] / (pt * p * p);
    int64_t v[8] = {s[0], C, pt, p, p, s[2], s[3], s[4]}; /* b c p r q f h w */
    static const int perm[8] = {0, 1, 5, 2, 6, 4, 7, 3};
    int64_t o[5] = {s[0], C, s[2] * pt, s[3] * p, s[4] * p};
    return permute_copy(be, x, 8, v, perm, 5, o);
}

/* torch.lerp(start, end, w) for w a scalar (w_t NULL) or a (B, T, 1) tensor of weights (w_t):
 * ATen's formula, w < 0.5 ? start + w * (end - start) : end - (end - start) * (1 - w), each
 * product and sum rounded to f32. Tensor weights: both branches are formed and the per-token
 * choice is made by multiplying with 0/1 selectors (exact). */
static ltx_tensor *lerp(ltx_backend *be, const ltx_tensor *start, const ltx_tensor *end, double w,
                        const ltx_tensor *w_t)
{
    ltx_tensor *d = ltx_nn_binary(be, LTX_BINARY_SUB, end, start);
    if (!d) return NULL;
    if (!w_t) {
        float wf = (float)w;
        ltx_tensor *r = NULL;
        if (wf < 0.5f) {
            ltx_tensor *t = ltx_nn_unary(be, LTX_UNARY_SCALE, d, wf, 0.0);
            r = t ? ltx_nn_binary(be, LTX_BINARY_ADD, start, t) : NULL;
            ltx_tensor_free(t);
        } else {
            ltx_tensor *t = ltx_nn_unary(be, LTX_UNARY_SCALE, d, 1.0f - wf, 0.0);
            r = t ? ltx_nn_binary(be, LTX_BINARY_SUB, end, t) : NULL;
            ltx_tensor_free(t);
        }
        ltx_tensor_free(d);
        return r;
    }
    float *wh = ltx_tensor_to_host_f32(w_t);
    int64_t n = ltx_tensor_numel(w_t);
    float *sel = wh ? malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)) : NULL;
    for (int64_t i = 0; sel && i < n; i++)
        sel[i] = wh[i] < 0.5f ? 1.0f : 0.0f;
    ltx_tensor *small = sel ? ltx_tensor_from_host(be, LTX_F32, w_t->ndim, w_t->shape, sel) : NULL;
    ltx_tensor *large = small ? ltx_nn_unary(be, LTX_UNARY_SCALE, small, -1.0, 1.0) : NULL;
    ltx_tensor *om = large ? ltx_nn_unary(be, LTX_UNARY_SCALE, w_t, -1.0, 1.0) : NULL; /* 1 - w */
    ltx_tensor *t1 = om ? ltx_nn_binary(be, LTX_BINARY_MUL, w_t, d) : NULL;
    ltx_tensor *a = t1 ? ltx_nn_binary(be, LTX_BINARY_ADD, start, t1) : NULL; /* w < 0.5 */
    ltx_tensor *t2 = a ? ltx_nn_binary(be, LTX_BINARY_MUL, d, om) : NULL;
    ltx_tensor *b = t2 ? ltx_nn_binary(be, LTX_BINARY_SUB, end, t2) : NULL; /* w >= 0.5 */
    ltx_tensor *as = b ? ltx_nn_binary(be, LTX_BINARY_MUL, a, small) : NULL;
    ltx_tensor *bs = as ? ltx_nn_binary(be, LTX_BINARY_MUL, b, large) : NULL;
    ltx_tensor *r = bs ? ltx_nn_binary(be, LTX_BINARY_ADD, as, bs) : NULL;
    ltx_tensor *fr[] = {d, small, large, om, t1, a, t2, b, as, bs};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    free(wh);
    free(sel);
    return r;
}

ltx_tensor *ltx_gaussian_noiser(ltx_backend *be, const ltx_tensor *latent,
                                const ltx_tensor *clean_latent, const ltx_tensor *mask,
                                const ltx_tensor *noise, double noise_scale,
                                ltx_reference_version ref)
{
    if (ltx_refver_is_1_2(ref)) {
        /* ref: 400fd31 (1.2, f4b06fb): lerp(clean, lerp(latent, noise, s), mask) in float32 */
        ltx_tensor *x = lerp(be, latent, noise, noise_scale, NULL);
        ltx_tensor *r = x ? lerp(be, clean_latent, x, 0.0, mask) : NULL;
        ltx_tensor_free(x);
        return r;
    }
    /* ref: a2c3f24 (2026-04): scaled_mask = mask * s; noise * scaled_mask + latent *
     * (1 - scaled_mask) */
    ltx_tensor *sm = ltx_nn_unary(be, LTX_UNARY_SCALE, mask, (double)(float)noise_scale, 0.0);
    ltx_tensor *om = sm ? ltx_nn_unary(be, LTX_UNARY_SCALE, sm, -1.0, 1.0) : NULL;
    ltx_tensor *a = om ? ltx_nn_binary(be, LTX_BINARY_MUL, noise, sm) : NULL;
    ltx_tensor *b = a ? ltx_nn_binary(be, LTX_BINARY_MUL, latent, om) : NULL;
    ltx_tensor *r = b ? ltx_nn_binary(be, LTX_BINARY_ADD, a, b) : NULL;
    ltx_tensor_free(sm);
    ltx_tensor_free(om);
    ltx_tensor_free(a);
    ltx_tensor_free(b);
    return r;
}

ltx_status ltx_video_condition_by_latent_index(ltx_backend *be, ltx_latent_state *state,
                                               const int64_t *ts, int patch, const ltx_tensor *cond,
                                               double strength, int latent_idx,
                                               ltx_reference_version ref)
{
    if (cond->ndim != 5 || cond->shape[0] != ts[0] || cond->shape[1] != ts[1] ||
        cond->shape[3] != ts[3] || cond->shape[4] != ts[4])
        return ltx_err(LTX_ERR_INVALID_ARG, "image conditioning: latent spatial shape differs "
                       "from the target (%lld, %lld, %lld, %lld)", (long long)ts[0],
                       (long long)ts[1], (long long)ts[3], (long long)ts[4]);
    ltx_tensor *tok = ltx_video_patchify(be, cond, patch);
    if (!tok) return ltx_err_failed();
    int64_t start = (int64_t)latent_idx * (ts[3] / patch) * (ts[4] / patch);
    int64_t stop = start + tok->shape[1];
    ltx_status s = LTX_OK;
    if (stop > state->latent->shape[1]) {
        s = ltx_err(LTX_ERR_INVALID_ARG, "image conditioning: tokens [%lld, %lld) past %lld",
                    (long long)start, (long long)stop, (long long)state->latent->shape[1]);
    }
    /* per batch item: the [start, stop) token slice of one item is contiguous */
    for (int64_t b = 0; s == LTX_OK && b < ts[0]; b++) {
        ltx_tensor *src = ltx_tensor_slice(tok, 0, b, b + 1, 1);
        /* ref: 400fd31 (1.2, f4b06fb): only clean_latent gets the tokens (the latent keeps its
         * initial value); a2c3f24 (2026-04): latent and clean_latent */
        ltx_tensor *targets[2] = {state->clean_latent, state->latent};
        int n_targets = ltx_refver_is_1_2(ref) ? 1 : 2;
        for (int k = 0; k < n_targets && s == LTX_OK; k++) {
            ltx_tensor *tb = ltx_tensor_slice(targets[k], 0, b, b + 1, 1);
            ltx_tensor *dst = tb ? ltx_tensor_slice(tb, 1, start, stop, 1) : NULL;
            s = dst ? be->ops->copy(be, dst, src) : ltx_err_failed();
            ltx_tensor_free(tb);
            ltx_tensor_free(dst);
        }
        ltx_tensor *mb = ltx_tensor_slice(state->denoise_mask, 0, b, b + 1, 1);
        ltx_tensor *md = mb ? ltx_tensor_slice(mb, 1, start, stop, 1) : NULL;
        if (s == LTX_OK)
            s = md ? be->ops->fill(be, md, (double)(float)(1.0 - strength)) : ltx_err_failed();
        ltx_tensor_free(mb);
        ltx_tensor_free(md);
        ltx_tensor_free(src);
    }
    ltx_tensor_free(tok);
    return s;
}
