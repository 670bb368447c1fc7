/*
 * ic_lora.c — in-context LoRA: reference (control) videos appended as extra tokens in stage 1
 * of the distilled two-stage pipeline, optionally with per-token attention weights from a mask
 * video; the IC-LoRA(s) fused into stage 1 only.
 *
 * ref: ltx_pipelines/ic_lora.py (ICLoraPipeline.__call__, _create_conditionings,
 * _downsample_mask_to_latent) @ a2c3f24; spec pipelines.md §4.4, §4.5, §6.8. Stage-1
 * conditionings, in order: the images (combined_image_conditionings), then per reference
 * video: first num_frames frames resized + center-cropped to the stage-1 size / downscale,
 * VAE encoded (untiled; trailing frames beyond 8k+1 dropped like the reference encoder),
 * appended with positions x downscale and, when a mask is given (or a strength < 1), wrapped
 * in the attention-strength mask. Stage 2: upsampled, images only, no LoRA, no references.
 */
#include "pipelines/pipelines_cond.h"

#include "core/dtype.h"
#include "io/media.h"
#include "models/video_vae.h"
#include "nn/nn.h"
#include "sampling/conditioning.h"
#include "sampling/schedulers.h"

#include <stdlib.h>
#include <string.h>

typedef struct refs {
    const ltx_cond_inputs *c;
    ltx_tensor *latent[LTX_COND_MAX_REFS];
    float *weights[LTX_COND_MAX_REFS]; /* per-token attention weights or NULL */
    int64_t n_weights[LTX_COND_MAX_REFS];
} refs;

static void refs_free(refs *r)
{
    for (int i = 0; i < LTX_COND_MAX_REFS; i++) {
        ltx_tensor_free(r->latent[i]);
        free(r->weights[i]);
    }
}

/* Appends the reference tokens after the image conditionings (stage 1, video only). */
static ltx_status append_refs(void *user, ltx_pipe *p, const ltx_stage_spec *s, bool audio,
                              ltx_latent_state *st)
{
    refs *r = user;
    if (audio) return LTX_OK;
    int64_t T = s->video_shape[2] * s->video_shape[3] * s->video_shape[4];
    for (int i = 0; i < r->c->n_refs; i++)
        LTX_TRY(ltx_cond_reference(p->be, st, T, r->latent[i], r->c->downscale,
                                   r->c->refs[i].strength, s->fps, r->weights[i], r->n_weights[i],
                                   p->state_dtype, p->ref));
    return LTX_OK;
}

/* Attention weights of one reference (ref: _create_conditionings step c). */
static ltx_status ref_weights(ltx_pipe *p, const ltx_cond_inputs *c, const ltx_tensor *lat, int h1,
                              int w1, float **w, int64_t *n)
{
    *w = NULL;
    *n = 0;
    if (!c->attn_mask && !(c->attn_strength < 1.0)) return LTX_OK; /* no wrapper */
    if (!c->attn_mask) {                                           /* scalar strength */
        *w = malloc(sizeof(float));
        if (!*w) return ltx_err(LTX_ERR_OOM, "out of memory");
        **w = (float)c->attn_strength;
        *n = 1;
        return LTX_OK;
    }
    int64_t Fl = lat->shape[2], Hl = lat->shape[3], Wl = lat->shape[4], M = Fl * Hl * Wl;
    *w = malloc(sizeof(float) * (size_t)M);
    if (!*w) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_cond_mask_to_latent(c->attn_mask, c->mask_n, h1, w1, Fl, Hl, Wl, *w);
    if (s == LTX_OK && p->record) {
        int64_t shape[2] = {1, M};
        ltx_tensor *t = ltx_tensor_from_host(p->be, LTX_F32, 2, shape, *w);
        ltx_pipe_rec(p, "reference.latent_attention_mask", t);
        ltx_tensor_free(t);
    }
    /* ref: latent_mask * conditioning_attention_strength on the bf16 mask: the scalar is
     * taken as bf16 too (checked against the golden: 0.8 acts as 0.80078125) */
    float sb = ltx_round_bf16((float)c->attn_strength);
    for (int64_t j = 0; s == LTX_OK && j < M; j++)
        (*w)[j] = ltx_round_bf16((*w)[j] * sb);
    if (s != LTX_OK) {
        free(*w);
        *w = NULL;
        return s;
    }
    *n = M;
    return LTX_OK;
}

/* Encodes every reference video at (h1, w1) / downscale. */
static ltx_status encode_refs(ltx_pipe *p, const ltx_gen_inputs *in, refs *r, int h1, int w1)
{
    const ltx_cond_inputs *c = r->c;
    int ds = c->downscale;
    if (ds != 1 && (h1 % ds || w1 % ds))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "ic_lora: stage-1 size %dx%d is not divisible by the "
                       "reference_downscale_factor %d",
                       w1, h1, ds);
    int rh = h1 / ds, rw = w1 / ds;
    double t0 = ltx_pipe_now();
    ltx_video_encoder *enc = NULL;
    LTX_TRY(ltx_pipe_video_encoder(p, in->ckpt, &enc));
    ltx_status s = LTX_OK;
    for (int i = 0; s == LTX_OK && i < c->n_refs; i++) {
        const ltx_cond_video *v = &c->refs[i];
        int n = v->n < in->num_frames ? v->n : in->num_frames; /* ref: frame_cap=num_frames */
        n = (n - 1) / 8 * 8 + 1; /* ref: the encoder drops trailing frames to reach 8k+1 */
        size_t plane = (size_t)n * rh * rw;
        float *pix = malloc(sizeof(float) * 3 * plane);
        if (!pix) {
            s = ltx_err(LTX_ERR_OOM, "ic_lora: out of memory");
            break;
        }
        s = ltx_media_preprocess(v->rgb, n, v->h, v->w, rh, rw, p->state_dtype == LTX_BF16, pix);
        ltx_tensor *x = NULL;
        if (s == LTX_OK) {
            int64_t shape[5] = {1, 3, n, rh, rw};
            x = ltx_tensor_from_host(p->be, LTX_F32, 5, shape, pix);
            if (!x) s = ltx_err(LTX_ERR_OOM, "ic_lora: out of memory");
        }
        free(pix);
        if (s == LTX_OK) ltx_pipe_rec(p, "reference.preprocessed", x);
        if (s == LTX_OK) s = ltx_video_encoder_forward(enc, x, NULL, &r->latent[i]);
        ltx_tensor_free(x);
        if (s == LTX_OK && p->state_dtype == LTX_BF16)
            s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, r->latent[i], r->latent[i], 0, 0);
        if (s == LTX_OK) ltx_pipe_rec(p, "reference.latent", r->latent[i]);
        if (s == LTX_OK)
            s = ref_weights(p, c, r->latent[i], h1, w1, &r->weights[i], &r->n_weights[i]);
    }
    if (!ltx_pipe_model_done(p, enc)) ltx_video_encoder_free(enc);
    ltx_pipe_add_time(p, "reference_encode", ltx_pipe_now() - t0);
    return s;
}

ltx_status ltx_pipeline_ic_lora(ltx_pipe *p, const ltx_gen_inputs *in, const ltx_cond_inputs *c,
                                ltx_gen_output *out)
{
    memset(out, 0, sizeof *out);
    if (in->height % 64 || in->width % 64)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "ic_lora: height/width must be multiples of 64 (got "
                       "%dx%d)",
                       in->height, in->width);
    if (!(c->attn_strength >= 0.0 && c->attn_strength <= 1.0))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "ic_lora: conditioning attention strength %g is "
                       "outside [0, 1]",
                       c->attn_strength);
    if (c->n_refs > LTX_COND_MAX_REFS || in->n_images > LTX_PIPE_MAX_IMAGES)
        return ltx_err(LTX_ERR_INVALID_ARG, "ic_lora: too many conditionings");
    const float *s1;
    int n1 = ltx_sched_distilled(1, &s1);
    int64_t F = (in->num_frames - 1) / 8 + 1, Ta = ltx_audio_latent_frames(in->num_frames, in->fps);
    ltx_denoiser den = {.v_ctx = in->v_ctx, .a_ctx = in->a_ctx};
    ltx_image_latent im[LTX_PIPE_MAX_IMAGES];
    int h1 = in->height / 2, w1 = in->width / 2;
    refs r = {.c = c};
    ltx_tensor *v1 = NULL, *a1 = NULL;

    /* stage 1: images, then the reference tokens; IC-LoRA(s) fused */
    ltx_status st =
        ltx_stage_encode_images(p, in->ckpt, "stage1", in->images, in->n_images, h1, w1, im);
    if (st == LTX_OK) st = encode_refs(p, in, &r, h1, w1);
    if (st == LTX_OK) {
        ltx_stage_spec s = {.name = "stage1",
                            .video_shape = {1, 128, F, h1 / 32, w1 / 32},
                            .audio_shape = {1, 8, Ta, 16},
                            .fps = in->fps,
                            .video_noise_scale = 1.0,
                            .audio_noise_scale = 1.0,
                            .images = im,
                            .n_images = in->n_images,
                            .sigmas = s1,
                            .n_sigmas = n1,
                            .denoiser = &den,
                            .cond = append_refs,
                            .cond_user = &r};
        st = ltx_pipeline_run_stage(p, in, false, -1, &s, &v1, &a1);
    }
    ltx_image_latents_free(im, in->n_images);
    refs_free(&r);
    if (st == LTX_OK && c->skip_stage_2) {
        st = ltx_pipeline_decode(p, in, v1, a1, out);
        ltx_tensor_free(v1);
        ltx_tensor_free(a1);
        if (st != LTX_OK) ltx_gen_output_free(out);
        return st;
    }
    /* stage 2: full size, images only, the distilled checkpoint without any LoRA */
    ltx_two_stage t = {.what = "ic_lora", .stage2_loras = LTX_STAGE2_NO_LORAS};
    return ltx_two_stage_finish(p, in, &t, st, v1, a1, out);
}
