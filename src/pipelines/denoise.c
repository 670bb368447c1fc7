/*
 * denoise.c — the pipelines' denoisers: SimpleDenoiser (one positive pass) and the guided
 * denoiser (cond / uncond / STG / modality-isolated passes combined by the multi-modal guider).
 *
 * ref: ltx_pipelines/utils/denoisers.py (SimpleDenoiser, GuidedDenoiser,
 * FactoryGuidedDenoiser with constant params, _guided_denoise), ltx_core/model/transformer/
 * model.py (X0Model) @ a2c3f24, and 400fd31 helpers.modality_from_latent_state (the frozen
 * modality's sigma under reference 1.2); spec pipelines.md §2.1, §2.7, §3.
 *
 * Passes run one at a time (batch 1) by default, the reference's --max-batch-size 1. With
 * p->max_batch > 1 they become batch rows of up to max_batch passes per transformer call
 * (ltx_guided_denoise, src/sampling/denoiser.c; the reference's BatchSplitAdapter): the same
 * values up to f32 summation order. A modality whose guider skips this step is passed as
 * disabled and keeps its previous output.
 */
#include "pipelines/stages.h"

#include "nn/nn.h"
#include "sampling/denoiser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void drop_prev(ltx_denoiser *d)
{
    ltx_tensor_free(d->prev_v);
    ltx_tensor_free(d->prev_a);
    d->prev_v = d->prev_a = NULL;
}

void ltx_denoiser_reset(ltx_denoiser *d)
{
    if (!d) return;
    drop_prev(d);
    for (int k = 0; k < 2; k++) {
        free(d->mask_host[k]);
        d->mask_host[k] = NULL;
        d->mask_of[k] = NULL;
    }
}

/* Host copy of a state's denoise mask, downloaded on the stage's first step only (the mask is
 * the stage's: constant while it runs). NULL on failure (the forward then downloads). */
static const float *mask_host(ltx_denoiser *d, int k, const ltx_tensor *mask)
{
    if (d->mask_of[k] != mask) {
        free(d->mask_host[k]);
        d->mask_host[k] = ltx_tensor_to_host_f32(mask);
        d->mask_of[k] = d->mask_host[k] ? mask : NULL;
    }
    return d->mask_host[k];
}

/* timesteps = mask * sigma on the host (f32 product, as the device's SCALE op rounds it). */
static float *host_timesteps(const float *mask, int64_t n, float sigma)
{
    float *t = mask ? malloc(sizeof(float) * (size_t)(n ? n : 1)) : NULL;
    for (int64_t i = 0; t && i < n; i++)
        t[i] = mask[i] * sigma;
    return t;
}

typedef struct pass_io {
    float sigma;               /* the step's sigma */
    ltx_tensor *sig_v, *sig_a; /* (1) Modality.sigma of each modality */
    ltx_tensor *tv, *ta;       /* timesteps (1, T, 1) = mask * sigma */
    float sv, sa;              /* sig_v / sig_a on the host (the forward reads them here) */
    float *tv_host, *ta_host;  /* host mirrors of tv / ta (NULL: the forward downloads) */
} pass_io;

static ltx_status make_io(ltx_pipe *p, ltx_denoiser *d, const ltx_latent_state *vs,
                          const ltx_latent_state *as, double sigma, pass_io *io)
{
    memset(io, 0, sizeof *io);
    io->sigma = (float)sigma;
    /* a frozen modality's sigma is 0 under 1.2 (ltx_state_sigma) */
    float sv = ltx_state_sigma(vs, io->sigma, p->ref), sa = ltx_state_sigma(as, io->sigma, p->ref);
    int64_t one = 1;
    io->sig_v = ltx_tensor_from_host(p->be, LTX_F32, 1, &one, &sv);
    io->sig_a = ltx_tensor_from_host(p->be, LTX_F32, 1, &one, &sa);
    /* ref: timesteps = denoise_mask * sigma (f32) */
    io->tv = ltx_nn_unary(p->be, LTX_UNARY_SCALE, vs->denoise_mask, sv, 0.0);
    io->ta = ltx_nn_unary(p->be, LTX_UNARY_SCALE, as->denoise_mask, sa, 0.0);
    io->sv = sv;
    io->sa = sa;
    io->tv_host =
        host_timesteps(mask_host(d, 0, vs->denoise_mask), ltx_tensor_numel(vs->denoise_mask), sv);
    io->ta_host =
        host_timesteps(mask_host(d, 1, as->denoise_mask), ltx_tensor_numel(as->denoise_mask), sa);
    return io->sig_v && io->sig_a && io->tv && io->ta ? LTX_OK : ltx_err_failed();
}

static void free_io(pass_io *io)
{
    ltx_tensor_free(io->sig_v);
    ltx_tensor_free(io->sig_a);
    ltx_tensor_free(io->tv);
    ltx_tensor_free(io->ta);
    free(io->tv_host);
    free(io->ta_host);
}

/* One X0Model call with the given contexts and perturbations. */
static ltx_status run_pass(ltx_pipe *p, ltx_transformer *m, const ltx_latent_state *vs,
                           const ltx_latent_state *as, const pass_io *io, const ltx_tensor *vctx,
                           const ltx_tensor *actx, bool v_on, bool a_on, const ltx_ptb_item *ptb,
                           ltx_tensor **ov, ltx_tensor **oa)
{
    ltx_modality v = {.latent = vs->latent,
                      .sigma = io->sig_v,
                      .timesteps = io->tv,
                      .positions = vs->positions,
                      .context = vctx,
                      .enabled = v_on,
                      .attention_mask = vs->attention_mask,
                      .sigma_host = &io->sv,
                      .timesteps_host = io->tv_host};
    ltx_modality a = {.latent = as->latent,
                      .sigma = io->sig_a,
                      .timesteps = io->ta,
                      .positions = as->positions,
                      .context = actx,
                      .enabled = a_on,
                      .sigma_host = &io->sa,
                      .timesteps_host = io->ta_host};
    LTX_TRY(ltx_transformer_forward_x0(m, &v, &a, ptb, NULL, ov, oa));
    if (p->state_dtype == LTX_BF16) {
        /* ref: X0Model returns (latent - v * t).to(bf16) */
        ltx_status s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, *ov, *ov, 0, 0);
        if (s == LTX_OK) s = p->be->ops->unary(p->be, LTX_UNARY_ROUND_BF16, *oa, *oa, 0, 0);
        if (s != LTX_OK) {
            ltx_tensor_free(*ov);
            ltx_tensor_free(*oa);
            *ov = *oa = NULL;
            return s;
        }
    }
    return LTX_OK;
}

enum { P_COND, P_UNCOND, P_PTB, P_MOD, P_COUNT };

static bool is_guided(const ltx_guider_params *g)
{
    return g && (ltx_guider_do_uncond(g) || ltx_guider_do_perturbed(g) ||
                 ltx_guider_do_modality(g) || g->rescale_scale != 0.0);
}

/* Keeps copies of this call's outputs for skip_step (the caller post-processes *x0v / *x0a in
 * place). */
static ltx_status remember(ltx_pipe *p, ltx_denoiser *d, const ltx_tensor *x0v,
                           const ltx_tensor *x0a)
{
    drop_prev(d);
    d->prev_v = ltx_nn_contiguous(p->be, x0v, LTX_F32);
    d->prev_a = ltx_nn_contiguous(p->be, x0a, LTX_F32);
    return d->prev_v && d->prev_a ? LTX_OK : ltx_err_failed();
}

/* The guided step with the passes batched (p->max_batch rows per call): the same passes,
 * rounding and guider as the loop in guided() below. */
static ltx_status guided_batched(ltx_pipe *p, ltx_transformer *m, ltx_denoiser *d,
                                 const ltx_latent_state *vs, const ltx_latent_state *as,
                                 const pass_io *io, bool v_skip, bool a_skip, ltx_tensor **x0v,
                                 ltx_tensor **x0a)
{
    ltx_guided_inputs in = {.be = p->be,
                            .video = vs,
                            .audio = as,
                            .v_ctx = d->v_ctx,
                            .a_ctx = d->a_ctx,
                            .v_neg = d->v_neg,
                            .a_neg = d->a_neg,
                            .vg = d->vg,
                            .ag = d->ag,
                            .sigma = io->sigma,
                            .ref = p->ref,
                            .v_mask_host = d->mask_host[0],
                            .a_mask_host = d->mask_host[1],
                            .v_skip = v_skip,
                            .a_skip = a_skip,
                            .max_batch = p->max_batch,
                            .state_dtype = p->state_dtype};
    ltx_tensor *gv = NULL, *ga = NULL, *pv = NULL, *pa = NULL;
    ltx_status s = ltx_guided_denoise(m, &in, &gv, &ga, &pv, &pa, NULL);
    if (s == LTX_OK) {
        /* no guider for a modality: its cond pass (row 0), like the loop below */
        ltx_tensor *cv = pv ? ltx_tensor_slice(pv, 0, 0, 1, 1) : NULL;
        ltx_tensor *ca = pa ? ltx_tensor_slice(pa, 0, 0, 1, 1) : NULL;
        *x0v = ltx_nn_contiguous(p->be, v_skip ? d->prev_v : d->vg ? gv : cv, LTX_F32);
        *x0a = ltx_nn_contiguous(p->be, a_skip ? d->prev_a : d->ag ? ga : ca, LTX_F32);
        ltx_tensor_free(cv), ltx_tensor_free(ca);
        if (!*x0v || !*x0a) s = ltx_err_failed();
    }
    ltx_tensor_free(gv), ltx_tensor_free(ga), ltx_tensor_free(pv), ltx_tensor_free(pa);
    return s == LTX_OK ? remember(p, d, *x0v, *x0a) : s;
}

static ltx_status guided(ltx_pipe *p, ltx_transformer *m, ltx_denoiser *d,
                         const ltx_latent_state *vs, const ltx_latent_state *as, const pass_io *io,
                         int step, ltx_tensor **x0v, ltx_tensor **x0a)
{
    ltx_guider_params neutral;
    ltx_guider_params_init(&neutral);
    const ltx_guider_params *vg = d->vg ? d->vg : &neutral, *ag = d->ag ? d->ag : &neutral;
    bool v_skip = ltx_guider_should_skip_step(vg, step) && d->prev_v;
    bool a_skip = ltx_guider_should_skip_step(ag, step) && d->prev_a;
    if (v_skip && a_skip) {
        *x0v = ltx_nn_contiguous(p->be, d->prev_v, LTX_F32);
        *x0a = ltx_nn_contiguous(p->be, d->prev_a, LTX_F32);
        return *x0v && *x0a ? LTX_OK : ltx_err_failed();
    }
    bool want[P_COUNT] = {
        true,
        ltx_guider_do_uncond(vg) || ltx_guider_do_uncond(ag),
        ltx_guider_do_perturbed(vg) || ltx_guider_do_perturbed(ag),
        ltx_guider_do_modality(vg) || ltx_guider_do_modality(ag),
    };
    /* perturbation lists (ref: _guided_denoise pass construction) */
    ltx_perturbation ptb_stg[2];
    int n_stg = 0;
    if (ltx_guider_do_perturbed(vg))
        ptb_stg[n_stg++] =
            (ltx_perturbation){LTX_PTB_SKIP_VIDEO_SELF_ATTN, vg->stg_blocks, vg->n_stg_blocks};
    if (ltx_guider_do_perturbed(ag))
        ptb_stg[n_stg++] =
            (ltx_perturbation){LTX_PTB_SKIP_AUDIO_SELF_ATTN, ag->stg_blocks, ag->n_stg_blocks};
    ltx_perturbation ptb_mod[2] = {{LTX_PTB_SKIP_A2V_CROSS_ATTN, NULL, 0},
                                   {LTX_PTB_SKIP_V2A_CROSS_ATTN, NULL, 0}};
    ltx_ptb_item item_stg = {ptb_stg, n_stg}, item_mod = {ptb_mod, 2};

    ltx_tensor *ov[P_COUNT] = {0}, *oa[P_COUNT] = {0};
    ltx_status s = LTX_OK;
    if (p->max_batch > 1) return guided_batched(p, m, d, vs, as, io, v_skip, a_skip, x0v, x0a);
    for (int k = 0; k < P_COUNT && s == LTX_OK; k++) {
        if (!want[k]) continue;
        const ltx_tensor *vc = d->v_ctx, *ac = d->a_ctx;
        if (k == P_UNCOND) {
            if (d->v_neg) vc = d->v_neg;
            if (d->a_neg) ac = d->a_neg;
        }
        const ltx_ptb_item *it = k == P_PTB ? &item_stg : k == P_MOD ? &item_mod : NULL;
        s = run_pass(p, m, vs, as, io, vc, ac, !v_skip, !a_skip, it, &ov[k], &oa[k]);
    }
    if (s == LTX_OK) {
        *x0v = v_skip ? ltx_nn_contiguous(p->be, d->prev_v, LTX_F32)
                      : ltx_nn_contiguous(p->be, ov[P_COND], LTX_F32);
        *x0a = a_skip ? ltx_nn_contiguous(p->be, d->prev_a, LTX_F32)
                      : ltx_nn_contiguous(p->be, oa[P_COND], LTX_F32);
        if (!*x0v || !*x0a) s = ltx_err_failed();
    }
    if (s == LTX_OK && !v_skip && d->vg)
        s = ltx_multimodal_guider_calculate(p->be, vg, *x0v, ov[P_COND], ov[P_UNCOND], ov[P_PTB],
                                            ov[P_MOD], p->state_dtype);
    if (s == LTX_OK && !a_skip && d->ag)
        s = ltx_multimodal_guider_calculate(p->be, ag, *x0a, oa[P_COND], oa[P_UNCOND], oa[P_PTB],
                                            oa[P_MOD], p->state_dtype);
    for (int k = 0; k < P_COUNT; k++) {
        ltx_tensor_free(ov[k]);
        ltx_tensor_free(oa[k]);
    }
    return s == LTX_OK ? remember(p, d, *x0v, *x0a) : s;
}

ltx_status ltx_denoise_step(ltx_pipe *p, ltx_transformer *m, ltx_denoiser *d,
                            const ltx_latent_state *vs, const ltx_latent_state *as, double sigma,
                            int step, ltx_tensor **x0v, ltx_tensor **x0a)
{
    *x0v = *x0a = NULL;
    pass_io io;
    ltx_status s = make_io(p, d, vs, as, sigma, &io);
    if (s == LTX_OK) {
        if (is_guided(d->vg) || is_guided(d->ag))
            s = guided(p, m, d, vs, as, &io, step, x0v, x0a);
        else
            s = run_pass(p, m, vs, as, &io, d->v_ctx, d->a_ctx, true, true, NULL, x0v, x0a);
    }
    free_io(&io);
    if (s != LTX_OK) {
        ltx_tensor_free(*x0v);
        ltx_tensor_free(*x0a);
        *x0v = *x0a = NULL;
    }
    return s;
}
