/*
 * stages.c — one diffusion stage (state, conditioning, noising, Euler loop, cleanup), image
 * conditioning and the run context. The denoisers are in denoise.c, the model blocks around
 * the stages (upsampler, decoders) in blocks.c.
 *
 * ref: ltx_pipelines/utils/blocks.py (DiffusionStage), utils/samplers.py
 * (euler_denoising_loop), utils/helpers.py (combined_image_conditionings, post_process_latent),
 * ltx_core/tools.py (create_initial_state), ltx_core/components/noisers.py @ a2c3f24; the
 * 400fd31 (v1.2) differences follow p->ref (core/refver.h).
 */
#include "pipelines/stages.h"

#include "core/dtype.h"
#include "io/media.h"
#include "models/video_vae.h"
#include "nn/nn.h"
#include "sampling/conditioning.h"
#include "sampling/diffusion_steps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void ltx_pipe_init(ltx_pipe *p, ltx_backend *be)
{
    memset(p, 0, sizeof *p);
    p->be = be;
    p->state_dtype = LTX_BF16;
    p->pos_dtype = LTX_BF16;
    p->tiled_decode = true;
    p->lora_target = LTX_DTYPE_COUNT;
    p->lora_product = LTX_DTYPE_COUNT;
    p->max_batch = 1;
    p->ref = LTX_REFERENCE_1_2;
}

double ltx_pipe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ltx_pipe_add_time(ltx_pipe *p, const char *name, double seconds)
{
    if (p->n_times >= LTX_PIPE_MAX_TIMES) return;
    ltx_stage_time *t = &p->times[p->n_times++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->seconds = seconds;
}

void ltx_pipe_rec(const ltx_pipe *p, const char *name, const ltx_tensor *t)
{
    if (p->record && t) ltx_tap(p->record, name, t);
}

static void rec_fmt(const ltx_pipe *p, const ltx_tensor *t, const char *fmt, const char *a, int i,
                    const char *b)
{
    if (!p->record || !t) return;
    char name[128];
    snprintf(name, sizeof name, fmt, a, i, b);
    ltx_tap(p->record, name, t);
}

ltx_status ltx_pipe_noise(ltx_pipe *p, const char *name, int64_t T, int64_t C, ltx_tensor **out)
{
    *out = NULL;
    if (p->noise_fn) {
        LTX_TRY(p->noise_fn(p->noise_user, name, T, C, out));
        if ((*out)->ndim != 3 || (*out)->shape[1] != T || (*out)->shape[2] != C) {
            ltx_tensor_free(*out);
            *out = NULL;
            return ltx_err(LTX_ERR_FORMAT,
                           "injected noise %s has the wrong shape (want (1, %lld, "
                           "%lld))",
                           name, (long long)T, (long long)C);
        }
        return LTX_OK;
    }
    if (!p->rng) return ltx_err(LTX_ERR_INVALID_ARG, "pipeline has no generator for %s", name);
    size_t n = (size_t)(T * C);
    float *h = malloc(sizeof(float) * (n ? n : 1));
    if (!h) return ltx_err(LTX_ERR_OOM, "noise %s: out of memory", name);
    ltx_status s = ltx_rng_randn_f32(p->rng, h, (int64_t)n);
    /* The reference draws bf16 noise for its bf16 latents; our stream is torch's f32 CPU one,
     * rounded to bf16 (spec §1.5, §11). */
    if (s == LTX_OK && p->state_dtype == LTX_BF16)
        for (size_t i = 0; i < n; i++)
            h[i] = ltx_round_bf16(h[i]);
    if (s == LTX_OK) {
        int64_t shape[3] = {1, T, C};
        *out = ltx_tensor_from_host(p->be, LTX_F32, 3, shape, h);
        if (!*out) s = ltx_err_failed();
    }
    free(h);
    return s;
}

ltx_status ltx_pipe_check_finite(ltx_pipe *p, const ltx_tensor *t, const char *stage,
                                 const char *what)
{
    ltx_backend *be = p->be;
    int64_t n = ltx_tensor_numel(t), one = 1;
    if (n == 0) return LTX_OK;
    /* x * 0 is 0 for finite x and NaN for NaN/Inf; the sum of those is NaN iff one was (no
     * overflow of a plain sum can fake it) */
    ltx_tensor *z = ltx_tensor_new(be, LTX_F32, 1, &n), *sum = ltx_tensor_new(be, LTX_F32, 1, &one);
    ltx_tensor *flat = z ? ltx_tensor_reshape(z, t->ndim, t->shape) : NULL;
    ltx_status s = z && sum && flat ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, flat, t, 0.0, 0.0);
    if (s == LTX_OK) s = be->ops->reduce(be, LTX_REDUCE_SUM, sum, z, 0);
    float v = 0;
    if (s == LTX_OK) s = ltx_tensor_download(sum, &v, LTX_F32);
    ltx_tensor_free(flat);
    ltx_tensor_free(z);
    ltx_tensor_free(sum);
    if (s != LTX_OK) return s;
    if (!isfinite(v))
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: the %s hold non-finite values (NaN or Inf): a checkpoint or LoRA "
                       "with non-finite weights, or scales that overflow; nothing was written",
                       stage, what);
    return LTX_OK;
}

int64_t ltx_audio_latent_frames(int num_frames, double fps)
{
    /* ref: AudioLatentShape.from_video_pixel_shape: round(float(frames) / float(fps) * 25.0) */
    double x = (double)num_frames / fps * 25.0;
    double r = nearbyint(x); /* default rounding mode: half to even, like Python round() */
    /* At least one latent frame: the reference makes an empty audio track for a clip shorter
     * than 20 ms (1 frame at >= 50 fps) and then fails on it; a non-finite or huge length
     * (callers bound fps to [1, 240]) is clamped rather than cast out of range. */
    if (!(r >= 1)) return 1;
    return r < 1e9 ? (int64_t)r : (int64_t)1e9;
}

/* ---- image conditioning ---- */

void ltx_image_latents_free(ltx_image_latent *l, int n)
{
    for (int i = 0; l && i < n; i++) {
        ltx_tensor_free(l[i].latent);
        l[i].latent = NULL;
    }
}

/* Pixels of one image after the optional CRF round trip: (h, w, 3), malloc'd in *rgb. */
static ltx_status image_pixels(const ltx_pipe_image *im, uint8_t **rgb, int *h, int *w)
{
    if (im->rgb) {
        size_t n = (size_t)im->h * im->w * 3;
        *rgb = malloc(n);
        if (!*rgb) return ltx_err(LTX_ERR_OOM, "out of memory");
        memcpy(*rgb, im->rgb, n);
        *h = im->h;
        *w = im->w;
        return LTX_OK;
    }
    ltx_frames f = {0};
    LTX_TRY(ltx_image_load(im->path, &f));
    if (im->crf != 0) {
        ltx_frames r = {0};
        ltx_status s = ltx_image_crf_roundtrip(f.rgb, f.h, f.w, im->crf, &r);
        ltx_frames_free(&f);
        if (s != LTX_OK) return s;
        f = r;
    }
    *rgb = f.rgb;
    *h = f.h;
    *w = f.w;
    return LTX_OK;
}

ltx_status ltx_stage_encode_images(ltx_pipe *p, const ltx_st_file *ckpt, const char *name,
                                   const ltx_pipe_image *imgs, int n, int height, int width,
                                   ltx_image_latent *out)
{
    memset(out, 0, sizeof *out * (size_t)(n > 0 ? n : 0));
    if (n <= 0) return LTX_OK;
    double t0 = ltx_pipe_now();
    ltx_video_encoder *enc = NULL;
    LTX_TRY(ltx_pipe_video_encoder(p, ckpt, &enc));
    ltx_status s = LTX_OK;
    float *pix = malloc(sizeof(float) * 3 * (size_t)height * width);
    if (!pix) s = ltx_err(LTX_ERR_OOM, "out of memory");
    for (int i = 0; s == LTX_OK && i < n; i++) {
        uint8_t *rgb = NULL;
        int h = 0, w = 0;
        s = image_pixels(&imgs[i], &rgb, &h, &w);
        /* (3, 1, H, W) bf16-rounded: the reference's hard-coded bfloat16 preprocessing */
        if (s == LTX_OK) s = ltx_media_preprocess(rgb, 1, h, w, height, width, true, pix);
        free(rgb);
        ltx_tensor *x = NULL;
        if (s == LTX_OK) {
            int64_t shape[5] = {1, 3, 1, height, width};
            x = ltx_tensor_from_host(p->be, LTX_F32, 5, shape, pix);
            if (!x) s = ltx_err_failed();
        }
        rec_fmt(p, x, "%s.image%d.%s", name, i, "preprocessed");
        if (s == LTX_OK) s = ltx_video_encoder_forward(enc, x, NULL, &out[i].latent);
        ltx_tensor_free(x);
        if (s == LTX_OK && p->state_dtype == LTX_BF16) {
            ltx_tensor *r = ltx_nn_unary(p->be, LTX_UNARY_ROUND_BF16, out[i].latent, 0, 0);
            ltx_tensor_free(out[i].latent);
            out[i].latent = r;
            if (!r) s = ltx_err_failed();
        }
        rec_fmt(p, out[i].latent, "%s.image%d.%s", name, i, "latent");
        out[i].frame_idx = imgs[i].frame_idx;
        out[i].strength = imgs[i].strength;
    }
    free(pix);
    if (!ltx_pipe_model_done(p, enc)) ltx_video_encoder_free(enc);
    if (s != LTX_OK) ltx_image_latents_free(out, n);
    char tn[40];
    snprintf(tn, sizeof tn, "%.24s.image_encode", name);
    ltx_pipe_add_time(p, tn, ltx_pipe_now() - t0);
    return s;
}

/* ---- the stage ---- */

static ltx_status round_state(ltx_pipe *p, ltx_tensor *t)
{
    if (p->state_dtype != LTX_BF16) return LTX_OK;
    return p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, t, t, 0, 0);
}

static ltx_status noise_state(ltx_pipe *p, const char *stage, const char *mod, ltx_latent_state *st,
                              double scale)
{
    char name[64];
    snprintf(name, sizeof name, "%s.noise.%s", stage, mod);
    ltx_tensor *noise = NULL;
    LTX_TRY(ltx_pipe_noise(p, name, st->latent->shape[1], st->latent->shape[2], &noise));
    /* the draw happens even when scale is 0 (RNG consumed regardless, spec §1.5) */
    ltx_tensor *x = ltx_gaussian_noiser(p->be, st->latent, st->clean_latent, st->denoise_mask,
                                        noise, scale, p->ref);
    ltx_tensor_free(noise);
    if (!x) return ltx_err_failed();
    ltx_tensor_free(st->latent);
    st->latent = x;
    return round_state(p, x);
}

static ltx_status apply_images(ltx_pipe *p, const ltx_stage_spec *s, ltx_latent_state *vs)
{
    int64_t T = s->video_shape[2] * s->video_shape[3] * s->video_shape[4];
    for (int i = 0; i < s->n_images; i++) {
        const ltx_image_latent *im = &s->images[i];
        if (im->frame_idx != 0 || s->images_as_keyframes)
            /* keyframe tokens appended at pixel frame frame_idx (spec §4.2, §4.3) */
            LTX_TRY(ltx_cond_keyframe(p->be, vs, T, im->latent, im->frame_idx, im->strength, s->fps,
                                      p->state_dtype, p->ref));
        else
            LTX_TRY(ltx_video_condition_by_latent_index(p->be, vs, s->video_shape, 1, im->latent,
                                                        im->strength, 0, p->ref));
    }
    return LTX_OK;
}

/* ref: DiffusionStage._build_state: frozen -> denoise_mask zeros after noising. */
static ltx_status freeze(ltx_pipe *p, const char *stage, const char *mod, ltx_latent_state *st)
{
    LTX_TRY(p->be->ops->fill(p->be, st->denoise_mask, 0.0));
    st->frozen = true;
    char name[96];
    snprintf(name, sizeof name, "%s.loop_denoise_mask.%s", stage, mod);
    ltx_pipe_rec(p, name, st->denoise_mask);
    return LTX_OK;
}

static void rec_state(ltx_pipe *p, const char *stage, const char *what, const char *mod,
                      const ltx_tensor *t)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s.%s", stage, what, mod);
    ltx_pipe_rec(p, name, t);
}

/* ref: the end of DiffusionStage: keep the first T tokens, unpatchify. */
static ltx_status finish_video(ltx_pipe *p, const ltx_stage_spec *s, const ltx_latent_state *vs,
                               ltx_tensor **out)
{
    int64_t T = s->video_shape[2] * s->video_shape[3] * s->video_shape[4];
    ltx_tensor *tok = ltx_tensor_slice(vs->latent, 1, 0, T, 1);
    if (!tok) return ltx_err_failed();
    *out = ltx_video_unpatchify(p->be, tok, s->video_shape[2], s->video_shape[3], s->video_shape[4],
                                1);
    ltx_tensor_free(tok);
    return *out ? LTX_OK : ltx_err_failed();
}

/* ---- res_2s: the loop calls back into the stage's denoiser ---- */

typedef struct res2s_ctx {
    ltx_pipe *p;
    ltx_transformer *m;
    const ltx_stage_spec *s;
    const ltx_latent_state *vs, *as;
    int calls;
    double t0;
} res2s_ctx;

static ltx_status res2s_denoise(void *user, const ltx_tensor *vl, const ltx_tensor *al,
                                double sigma, bool sigma_f64, int step, ltx_tensor **x0v,
                                ltx_tensor **x0a)
{
    res2s_ctx *c = user;
    (void)sigma_f64; /* f64 timesteps differ by <= 1 f32 ulp (spec §2.6 note) */
    ltx_latent_state v = *c->vs, a = *c->as;
    v.latent = (ltx_tensor *)vl;
    a.latent = (ltx_tensor *)al;
    const char *nm = c->s->name;
    int j = c->calls++;
    rec_fmt(c->p, vl, "%s.call%d.%s", nm, j, "video_latent");
    rec_fmt(c->p, al, "%s.call%d.%s", nm, j, "audio_latent");
    if (c->p->record) {
        float sg = (float)sigma;
        int64_t one = 1;
        ltx_tensor *t = ltx_tensor_from_host(c->p->be, LTX_F32, 1, &one, &sg);
        rec_fmt(c->p, t, "%s.call%d.%s", nm, j, "sigma");
        ltx_tensor_free(t);
    }
    LTX_TRY(ltx_denoise_step(c->p, c->m, c->s->denoiser, &v, &a, sigma, step, x0v, x0a));
    rec_fmt(c->p, *x0v, "%s.call%d.%s", nm, j, "video_denoised");
    rec_fmt(c->p, *x0a, "%s.call%d.%s", nm, j, "audio_denoised");
    if (c->p->progress && c->p->progress(c->p->progress_user, nm, j + 1,
                                         2 * (c->s->n_sigmas - 1) + 1, ltx_pipe_now() - c->t0))
        return ltx_err(LTX_ERR_ABORTED, "aborted by the progress callback in %s", nm);
    return LTX_OK;
}

static ltx_status run_res2s(ltx_pipe *p, ltx_transformer *m, const ltx_stage_spec *s,
                            ltx_latent_state *vs, ltx_latent_state *as)
{
    ltx_res2s_params rp;
    ltx_res2s_params_init(&rp);
    rp.model_dtype = p->state_dtype;
    res2s_ctx c = {p, m, s, vs, as, 0, ltx_pipe_now()};
    return ltx_res2s_loop(p->be, s->sigmas, s->n_sigmas, vs, as, &rp, res2s_denoise, &c,
                          p->sde_noise, p->sde_user);
}

ltx_status ltx_stage_run(ltx_pipe *p, ltx_transformer *model, const ltx_stage_spec *s,
                         ltx_tensor **video_out, ltx_tensor **audio_out)
{
    *video_out = *audio_out = NULL;
    const char *nm = s->name;
    double t0 = ltx_pipe_now();
    /* RoPE tables and mask biases are cached per stage (positions/masks are the stage's) */
    ltx_transformer_clear_tables(model);
    ltx_backend_reset_peak(p->be);
    ltx_latent_state vs = {0}, as = {0};
    static const int scale[3] = {8, 32, 32}; /* ref: VideoLatentTools scale factors */
    ltx_audio_timing tm;
    ltx_audio_timing_default(&tm);
    ltx_status st = ltx_video_initial_state(p->be, s->video_shape, 1, scale, true, s->fps,
                                            s->video_init, p->pos_dtype, &vs);
    if (st == LTX_OK) st = apply_images(p, s, &vs);
    if (st == LTX_OK && s->cond) st = s->cond(s->cond_user, p, s, false, &vs);
    if (st == LTX_OK) {
        rec_state(p, nm, "pre_noise", "video", vs.latent);
        rec_state(p, nm, "clean_latent", "video", vs.clean_latent);
        rec_state(p, nm, "denoise_mask", "video", vs.denoise_mask);
        rec_state(p, nm, "positions", "video", vs.positions);
        if (vs.attention_mask) rec_state(p, nm, "attention_mask", "video", vs.attention_mask);
        st = noise_state(p, nm, "video", &vs, s->video_noise_scale);
    }
    if (st == LTX_OK && s->video_frozen) st = freeze(p, nm, "video", &vs);
    if (st == LTX_OK) st = ltx_audio_initial_state(p->be, s->audio_shape, &tm, s->audio_init, &as);
    if (st == LTX_OK && s->cond) st = s->cond(s->cond_user, p, s, true, &as);
    if (st == LTX_OK) {
        rec_state(p, nm, "pre_noise", "audio", as.latent);
        rec_state(p, nm, "clean_latent", "audio", as.clean_latent);
        rec_state(p, nm, "denoise_mask", "audio", as.denoise_mask);
        rec_state(p, nm, "positions", "audio", as.positions);
        st = noise_state(p, nm, "audio", &as, s->audio_noise_scale);
    }
    if (st == LTX_OK && s->audio_frozen) st = freeze(p, nm, "audio", &as);
    if (st == LTX_OK) {
        rec_state(p, nm, "noised", "video", vs.latent);
        rec_state(p, nm, "noised", "audio", as.latent);
        if (p->record) {
            int64_t n = s->n_sigmas;
            ltx_tensor *sg = ltx_tensor_from_host(p->be, LTX_F32, 1, &n, s->sigmas);
            char name[64];
            snprintf(name, sizeof name, "%s.sigmas", nm);
            ltx_pipe_rec(p, name, sg);
            ltx_tensor_free(sg);
        }
    }
    int steps = s->n_sigmas - 1;
    double tl = ltx_pipe_now();
    uint64_t syncs0 = ltx_backend_host_syncs(p->be);
    p->cur_stage = nm;
    if (st == LTX_OK && s->res2s) {
        rec_state(p, nm, "init", "video", vs.latent);
        rec_state(p, nm, "init", "audio", as.latent);
        st = run_res2s(p, model, s, &vs, &as);
        steps = 0;
    }
    for (int i = 0; st == LTX_OK && i < steps; i++) {
        char what[32];
        snprintf(what, sizeof what, "step%d", i);
        rec_fmt(p, vs.latent, "%s.step%d.%s", nm, i, "video_latent");
        rec_fmt(p, as.latent, "%s.step%d.%s", nm, i, "audio_latent");
        ltx_tensor *x0v = NULL, *x0a = NULL;
        st = ltx_denoise_step(p, model, s->denoiser, &vs, &as, s->sigmas[i], i, &x0v, &x0a);
        if (st == LTX_OK) {
            rec_fmt(p, x0v, "%s.step%d.%s", nm, i, "video_denoised");
            rec_fmt(p, x0a, "%s.step%d.%s", nm, i, "audio_denoised");
            st = ltx_post_process_latent(p->be, x0v, vs.denoise_mask, vs.clean_latent,
                                         p->state_dtype);
        }
        if (st == LTX_OK)
            st = ltx_post_process_latent(p->be, x0a, as.denoise_mask, as.clean_latent,
                                         p->state_dtype);
        if (st == LTX_OK)
            st = ltx_euler_step(p->be, vs.latent, x0v, s->sigmas[i], s->sigmas[i + 1],
                                p->state_dtype);
        if (st == LTX_OK)
            st = ltx_euler_step(p->be, as.latent, x0a, s->sigmas[i], s->sigmas[i + 1],
                                p->state_dtype);
        ltx_tensor_free(x0v);
        ltx_tensor_free(x0a);
        if (st == LTX_OK && p->progress &&
            p->progress(p->progress_user, nm, i + 1, steps, ltx_pipe_now() - tl))
            st = ltx_err(LTX_ERR_ABORTED, "aborted by the progress callback in %s", nm);
    }
    ltx_denoiser_reset(s->denoiser);
    ltx_transformer_clear_tables(model);
    uint64_t loop_syncs = ltx_backend_host_syncs(p->be) - syncs0;
    int loop_steps = s->res2s ? s->n_sigmas - 1 : steps;
    if (st == LTX_OK) {
        rec_state(p, nm, "final_tokens", "video", vs.latent);
        rec_state(p, nm, "final_tokens", "audio", as.latent);
        st = finish_video(p, s, &vs, video_out);
    }
    if (st == LTX_OK) {
        *audio_out = ltx_audio_unpatchify(p->be, as.latent, s->audio_shape[1], s->audio_shape[3]);
        if (!*audio_out) st = ltx_err_failed();
    }
    ltx_latent_state_clear(&vs);
    ltx_latent_state_clear(&as);
    if (st != LTX_OK) {
        ltx_tensor_free(*video_out);
        ltx_tensor_free(*audio_out);
        *video_out = *audio_out = NULL;
        return st;
    }
    if (st == LTX_OK) st = ltx_pipe_check_finite(p, *video_out, nm, "denoised video latents");
    if (st == LTX_OK) st = ltx_pipe_check_finite(p, *audio_out, nm, "denoised audio latents");
    if (st != LTX_OK) {
        ltx_tensor_free(*video_out);
        ltx_tensor_free(*audio_out);
        *video_out = *audio_out = NULL;
        return st;
    }
    char name[64];
    snprintf(name, sizeof name, "out.%s.video_latent", nm);
    ltx_pipe_rec(p, name, *video_out);
    snprintf(name, sizeof name, "out.%s.audio_latent", nm);
    ltx_pipe_rec(p, name, *audio_out);
    ltx_pipe_add_time(p, nm, ltx_pipe_now() - t0);
    ltx_stage_time *tt = p->n_times > 0 ? &p->times[p->n_times - 1] : NULL;
    if (tt && !strcmp(tt->name, nm)) {
        tt->steps = loop_steps;
        tt->host_syncs = loop_syncs;
        tt->peak_bytes = ltx_backend_peak_bytes(p->be);
    }
    return LTX_OK;
}

/* LoRA weight hook that also records the fused weights (golden probes
 * "<stage>.fused.<weight name>"; the recorder ignores names its file lacks). */
typedef struct rec_hook {
    ltx_pipe *p;
    ltx_lora_set *set;
    const char *stage;
    const ltx_st_file *ckpt;
    bool skip_streamed; /* layer streaming fuses the block weights per block instead */
} rec_hook;

static ltx_status recording_hook(void *user, ltx_backend *be, const char *name,
                                 const ltx_tensor *stored, ltx_tensor **replacement)
{
    rec_hook *h = user;
    if (h->skip_streamed && ltx_transformer_streams_weight(name, stored->ndim)) {
        /* count the match here (the fusion happens when the block is streamed in) */
        const ltx_st_entry *a, *b;
        for (int i = 0; i < h->set->n; i++)
            if (ltx_lora_find(h->set->lora[i], name, &a, &b)) h->set->matched[i]++;
        *replacement = NULL;
        return LTX_OK;
    }
    /* The fused weight takes the checkpoint's dtype (ref: deltas in the weight's dtype), also
     * for the weights the model keeps as f32 copies (AdaLN linears, ...). */
    if (h->p->lora_target == LTX_DTYPE_COUNT) {
        char key[256];
        snprintf(key, sizeof key, "model.diffusion_model.%s", name);
        const ltx_st_entry *e = ltx_st_find(h->ckpt, key);
        h->set->target_dtype = e ? e->dtype : LTX_DTYPE_COUNT;
    }
    /* Scaled-fp8 base (official fp8 checkpoints): the model computes x @ (W * weight_scale)^T
     * with W the stored fp8 values, so the fused tensor must be W + delta / weight_scale: the
     * LoRA strengths are divided by the scale, and the result kept in bf16 (no new fp8 scale:
     * the reference requantizes with scale 448 / max|W'|; bf16 avoids clipping at 448). */
    char sk[300];
    snprintf(sk, sizeof sk, "model.diffusion_model.%s_scale", name);
    const ltx_st_entry *se = stored->dtype == LTX_F8E4M3 ? ltx_st_find(h->ckpt, sk) : NULL;
    double saved[LTX_MAX_LORAS];
    ltx_dtype saved_target = h->set->target_dtype;
    if (se) {
        int64_t k = 0;
        float *v = ltx_st_read_f32(h->ckpt, sk, &k);
        float ws = v && k == 1 ? v[0] : 0.0f;
        free(v);
        if (!(ws > 0.0f))
            return ltx_err(LTX_ERR_FORMAT, "%s: %s must be one positive value",
                           ltx_st_path(h->ckpt), sk);
        for (int i = 0; i < h->set->n; i++) {
            saved[i] = h->set->strength[i];
            h->set->strength[i] /= ws;
        }
        h->set->target_dtype = LTX_BF16;
    }
    ltx_status s = ltx_lora_weight_hook(h->set, be, name, stored, replacement);
    if (se) {
        for (int i = 0; i < h->set->n; i++)
            h->set->strength[i] = saved[i];
        h->set->target_dtype = saved_target;
    }
    LTX_TRY(s);
    if (*replacement && h->p->record) {
        char full[160];
        snprintf(full, sizeof full, "%s.fused.%s", h->stage, name);
        ltx_pipe_rec(h->p, full, *replacement);
    }
    return LTX_OK;
}

/* LoRA fusion (when a set is given) then --quantization of the result (when a policy is). */
typedef struct chain_hook {
    rec_hook *lora;
    const ltx_quant_policy *quant;
} chain_hook;

static ltx_status chained_hook(void *user, ltx_backend *be, const char *name,
                               const ltx_tensor *stored, ltx_tensor **replacement)
{
    chain_hook *c = user;
    ltx_tensor *fused = NULL, *q = NULL;
    *replacement = NULL;
    if (c->lora) LTX_TRY(recording_hook(c->lora, be, name, stored, &fused));
    ltx_status s = LTX_OK;
    if (c->quant) s = ltx_quant_weight_hook((void *)c->quant, be, name, fused ? fused : stored, &q);
    if (s != LTX_OK || q) ltx_tensor_free(fused);
    *replacement = q ? q : s == LTX_OK ? fused : NULL;
    return s;
}

static ltx_status load_transformer(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                                   const char *stage, bool streamed, ltx_transformer **out)
{
    const ltx_quant_policy *q = p->quant.kind != LTX_QPOL_NONE ? &p->quant : NULL;
    if (q && q->kind == LTX_QPOL_FP8_SCALED_MM) /* no fp8 matmul here: logged, counted */
        LTX_TRY(ltx_backend_fallback(p->be, "quantization.fp8_scaled_mm",
                                     "--quantization fp8-scaled-mm: no fp8 x fp8 matmul on this "
                                     "device; using fp8-cast (fp8 weights upcast at use)"));
    chain_hook c = {NULL, q};
    if (!loras || loras->n == 0) {
        LTX_TRY(q ? ltx_transformer_load_ex(ckpt, p->be, false, chained_hook, &c, out)
                  : ltx_transformer_load(ckpt, p->be, false, out));
        ltx_transformer_set_reference(*out, p->ref);
        return LTX_OK;
    }
    loras->target_dtype = p->lora_target;
    loras->product_dtype = p->lora_product;
    /* ref: 400fd31 (1.2) fuses with bf16_fuse_rule (bf16 aggregation, W + delta in bf16);
     * a2c3f24 (2026-04) in the weight's dtype (models/lora.h) */
    loras->flags = p->lora_flags | (ltx_refver_is_1_2(p->ref) ? LTX_LORA_BF16_FUSE_RULE : 0u);
    loras->fused = 0;
    rec_hook h = {p, loras, stage ? stage : "stage", ckpt, streamed};
    c.lora = &h;
    LTX_TRY(ltx_transformer_load_ex(ckpt, p->be, false, chained_hook, &c, out));
    ltx_transformer_set_reference(*out, p->ref);
    for (int i = 0; i < loras->n; i++)
        if (loras->matched[i] == 0)
            LTX_WARN(p->log, "LoRA %s matched no weight of the transformer",
                     ltx_lora_path(loras->lora[i]));
    return LTX_OK;
}

/* load_transformer + layer streaming when p->stream_prefetch > 0 (spec §10.3). */
static ltx_status load_streamed(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                                const char *stage, ltx_transformer **out)
{
    bool streamed = p->stream_prefetch > 0;
    LTX_TRY(load_transformer(p, ckpt, loras, stage, streamed, out));
    if (!streamed) return LTX_OK;
    /* LoRA block weights are fused per block as they stream in (same fusion, same values) */
    if (loras && loras->n) {
        loras->target_dtype = p->lora_target;
        loras->product_dtype = p->lora_product;
        loras->flags = p->lora_flags;
    }
    ltx_status s = ltx_transformer_set_streaming_ex(*out, ckpt, true, p->stream_prefetch,
                                                    LTX_PREFETCH_ADVISE, loras, p->lora_target);
    if (s != LTX_OK) {
        ltx_transformer_free(*out);
        *out = NULL;
    }
    return s;
}

ltx_status ltx_stage_load_transformer(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                                      ltx_transformer **out)
{
    return load_streamed(p, ckpt, loras, NULL, out);
}

/* Everything besides the checkpoint that changes a loaded transformer, as the cache variant:
 * reference numerics (cross-attention timesteps, LoRA fuse rule), precision, --quantization,
 * the LoRA dtypes and flags, and every LoRA of the set with its file's size and mtime and its
 * strength (printed exactly), in order — so fused weights never serve a job with other LoRAs
 * or strengths. False when the text does not fit (then the model is not cached). */
static bool transformer_variant(const ltx_pipe *p, const ltx_lora_set *loras, char *buf, size_t cap)
{
    size_t n =
        (size_t)snprintf(buf, cap, "ref=%d prec=%d quant=%d/%d lora_dtypes=%d/%d flags=%u",
                         (int)p->ref, (int)p->be->precision, (int)p->quant.kind, (int)p->quant.type,
                         (int)p->lora_target, (int)p->lora_product, p->lora_flags);
    for (int i = 0; loras && i < loras->n && n < cap; i++) {
        const char *path = ltx_lora_path(loras->lora[i]);
        struct stat st;
        if (!path || stat(path, &st) != 0) return false;
        n += (size_t)snprintf(buf + n, cap - n, " lora=%s:%lld:%lld.%09ld*%.17g", path,
                              (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                              st.st_mtim.tv_nsec, loras->strength[i]);
    }
    return n < cap;
}

static void free_transformer(void *m)
{
    ltx_transformer_free(m);
}

/* The stage's transformer: from p's model cache or loaded (and offered to it). A streamed
 * transformer (--streaming-prefetch-count) is never cached: it holds no resident block
 * weights (they stream in from the checkpoint at every step, LoRA deltas fused per block from
 * the call's LoRA files), so there is no load to save, and streaming is chosen to keep memory
 * low. */
static ltx_status get_transformer(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                                  const char *stage, ltx_transformer **out)
{
    double t0 = ltx_pipe_now();
    char variant[4096];
    bool cacheable = ltx_pipe_caching(p) && p->stream_prefetch <= 0 &&
                     transformer_variant(p, loras, variant, sizeof variant);
    *out = cacheable ? ltx_pipe_cache_get(p, "transformer", ckpt, variant) : NULL;
    if (!*out) {
        static const char *const inc[] = {"model.diffusion_model.", NULL};
        static const char *const exc[] = {"model.diffusion_model.video_embeddings_connector.",
                                          "model.diffusion_model.audio_embeddings_connector.",
                                          NULL};
        size_t bytes = cacheable ? ltx_pipe_weight_bytes(ckpt, inc, exc) : 0;
        if (cacheable) ltx_pipe_cache_reserve(p, bytes);
        LTX_TRY(load_streamed(p, ckpt, loras, stage, out));
        if (cacheable)
            ltx_pipe_cache_put(p, "transformer", ckpt, variant, *out, bytes, free_transformer);
    }
    p->transformer_load_s += ltx_pipe_now() - t0;
    return LTX_OK;
}

ltx_status ltx_stage_run_fresh(ltx_pipe *p, const ltx_st_file *ckpt, ltx_lora_set *loras,
                               const ltx_stage_spec *s, ltx_tensor **video_out,
                               ltx_tensor **audio_out)
{
    ltx_transformer *m = NULL;
    *video_out = *audio_out = NULL;
    LTX_TRY(get_transformer(p, ckpt, loras, s->name, &m));
    ltx_status st = ltx_stage_run(p, m, s, video_out, audio_out);
    if (!ltx_pipe_model_done(p, m)) ltx_transformer_free(m);
    /* End of stage: give cached device blocks back (cf. the reference's cleanup_memory()). */
    p->be->ops->memory_cleanup(p->be);
    return st;
}
