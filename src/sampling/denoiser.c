/*
 * denoiser.c — batched guidance passes + multi-modal guider (see denoiser.h).
 *
 * ref: ltx_pipelines/utils/denoisers.py _guided_denoise @ a2c3f24: pass order cond, uncond,
 * ptb, mod; the state is tiled once per pass along the batch, contexts concatenated in pass
 * order, sigma expanded per row, timesteps = mask * sigma.
 */
#include "sampling/denoiser.h"

#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

enum { P_COND, P_UNCOND, P_PTB, P_MOD, P_COUNT };

/* t (1, ...) seen n times along dim 0: a stride-0 view of the same buffer, so the
 * transformer's per-stage table cache (keyed on the input's identity) hits on every step. */
static ltx_tensor *repeat_view(const ltx_tensor *t, int n)
{
    int64_t shape[LTX_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[0] = n;
    return ltx_tensor_expand(t, t->ndim, shape);
}

/* n copies of t (1, ...) along dim 0. */
static ltx_tensor *tile(ltx_backend *be, const ltx_tensor *t, int n)
{
    const ltx_tensor *xs[P_COUNT];
    for (int i = 0; i < n; i++)
        xs[i] = t;
    return ltx_nn_cat(be, xs, n, 0);
}

typedef struct batched {
    ltx_tensor *lat, *ts, *pos, *ctx, *sigma;
    ltx_tensor *mask; /* tiled self-attention mask (P, T, T) or NULL */
} batched;

static void batched_free(batched *b)
{
    ltx_tensor_free(b->lat), ltx_tensor_free(b->ts), ltx_tensor_free(b->pos);
    ltx_tensor_free(b->ctx), ltx_tensor_free(b->sigma), ltx_tensor_free(b->mask);
    memset(b, 0, sizeof *b);
}

static ltx_status build(ltx_backend *be, const ltx_latent_state *st, const ltx_tensor *const *ctx,
                        int P, float sigma, batched *b)
{
    ltx_tensor *ts1 = ltx_nn_unary(be, LTX_UNARY_SCALE, st->denoise_mask, sigma, 0.0);
    b->lat = tile(be, st->latent, P);
    b->pos = repeat_view(st->positions, P);
    b->ts = ts1 ? tile(be, ts1, P) : NULL;
    b->ctx = ltx_nn_cat(be, ctx, P, 0);
    float sg[P_COUNT] = {sigma, sigma, sigma, sigma};
    int64_t np = P;
    b->sigma = ltx_tensor_from_host(be, LTX_F32, 1, &np, sg);
    ltx_tensor_free(ts1);
    if (st->attention_mask) { /* conditioning items' attention strengths */
        b->mask = repeat_view(st->attention_mask, P);
        if (!b->mask) return ltx_err_failed();
    }
    return b->lat && b->pos && b->ts && b->ctx && b->sigma ? LTX_OK : ltx_err_failed();
}

/* n rows of mask * sigma on the host (the f32 product the device's SCALE op makes), or NULL
 * when there is no host mask. */
static float *rows_timesteps(const float *mask, const ltx_latent_state *st, int n, float sigma)
{
    if (!mask) return NULL;
    int64_t T = ltx_tensor_numel(st->denoise_mask);
    float *t = malloc(sizeof(float) * (size_t)(n * T + 1));
    for (int r = 0; t && r < n; r++)
        for (int64_t i = 0; i < T; i++)
            t[r * T + i] = mask[i] * sigma;
    return t;
}

static ltx_tensor *rows(const ltx_tensor *t, int64_t a, int64_t e)
{
    return t ? ltx_tensor_slice(t, 0, a, e, 1) : NULL;
}

ltx_status ltx_guided_denoise(ltx_transformer *m, const ltx_guided_inputs *in, ltx_tensor **x0v,
                              ltx_tensor **x0a, ltx_tensor **per_pass_v, ltx_tensor **per_pass_a,
                              int *n_passes)
{
    ltx_backend *be = in->be;
    *x0v = *x0a = NULL;
    ltx_guider_params neutral;
    ltx_guider_params_init(&neutral);
    const ltx_guider_params *vg = in->vg ? in->vg : &neutral, *ag = in->ag ? in->ag : &neutral;
    bool want[P_COUNT] = {true, ltx_guider_do_uncond(vg) || ltx_guider_do_uncond(ag),
                          ltx_guider_do_perturbed(vg) || ltx_guider_do_perturbed(ag),
                          ltx_guider_do_modality(vg) || ltx_guider_do_modality(ag)};
    ltx_perturbation stg[2],
        mod[2] = {{LTX_PTB_SKIP_A2V_CROSS_ATTN, NULL, 0}, {LTX_PTB_SKIP_V2A_CROSS_ATTN, NULL, 0}};
    int n_stg = 0;
    if (ltx_guider_do_perturbed(vg))
        stg[n_stg++] =
            (ltx_perturbation){LTX_PTB_SKIP_VIDEO_SELF_ATTN, vg->stg_blocks, vg->n_stg_blocks};
    if (ltx_guider_do_perturbed(ag))
        stg[n_stg++] =
            (ltx_perturbation){LTX_PTB_SKIP_AUDIO_SELF_ATTN, ag->stg_blocks, ag->n_stg_blocks};
    int kind[P_COUNT], P = 0;
    ltx_ptb_item items[P_COUNT];
    const ltx_tensor *vc[P_COUNT], *ac[P_COUNT];
    for (int k = 0; k < P_COUNT; k++) {
        if (!want[k]) continue;
        kind[P] = k;
        items[P] = k == P_PTB   ? (ltx_ptb_item){stg, n_stg}
                   : k == P_MOD ? (ltx_ptb_item){mod, 2}
                                : (ltx_ptb_item){NULL, 0};
        vc[P] = k == P_UNCOND && in->v_neg ? in->v_neg : in->v_ctx;
        ac[P] = k == P_UNCOND && in->a_neg ? in->a_neg : in->a_ctx;
        P++;
    }
    batched bv = {0}, ba = {0};
    ltx_status s = LTX_OK;
    float sgv = in->video ? ltx_state_sigma(in->video, in->sigma, in->ref) : 0;
    float sga = in->audio ? ltx_state_sigma(in->audio, in->sigma, in->ref) : 0;
    if (in->video) s = build(be, in->video, vc, P, sgv, &bv);
    if (s == LTX_OK && in->audio) s = build(be, in->audio, ac, P, sga, &ba);
    ltx_tensor *ov = NULL, *oa = NULL; /* (P, T, C) */
    if (s == LTX_OK && bv.lat) ov = ltx_tensor_new(be, LTX_F32, 3, bv.lat->shape);
    if (s == LTX_OK && ba.lat) oa = ltx_tensor_new(be, LTX_F32, 3, ba.lat->shape);
    if (s == LTX_OK && ((bv.lat && !ov) || (ba.lat && !oa))) s = ltx_err_failed();
    int mb = in->max_batch > 0 ? in->max_batch : 1;
    for (int r0 = 0; r0 < P && s == LTX_OK; r0 += mb) {
        int r1 = r0 + mb < P ? r0 + mb : P;
        /* chunk views (ref: BatchSplitAdapter runs the rows in sequential chunks) */
        ltx_tensor *v[5] = {rows(bv.lat, r0, r1), rows(bv.sigma, r0, r1), rows(bv.ts, r0, r1),
                            rows(bv.pos, r0, r1), rows(bv.ctx, r0, r1)};
        ltx_tensor *a[5] = {rows(ba.lat, r0, r1), rows(ba.sigma, r0, r1), rows(ba.ts, r0, r1),
                            rows(ba.pos, r0, r1), rows(ba.ctx, r0, r1)};
        /* the video state's attention mask rides along (as in the pipelines' per-pass calls) */
        ltx_tensor *vmask = rows(bv.mask, r0, r1);
        /* every row's sigma is in->sigma and its timesteps mask * sigma: host mirrors spare the
         * forward its downloads */
        float sv[P_COUNT] = {sgv, sgv, sgv, sgv}, sa[P_COUNT] = {sga, sga, sga, sga};
        float *tvh = in->video ? rows_timesteps(in->v_mask_host, in->video, r1 - r0, sgv) : NULL;
        float *tah = in->audio ? rows_timesteps(in->a_mask_host, in->audio, r1 - r0, sga) : NULL;
        ltx_modality mv = {v[0], v[1], v[2], v[3], v[4], NULL, vmask, !in->v_skip, sv, tvh};
        ltx_modality ma = {a[0], a[1], a[2], a[3], a[4], NULL, NULL, !in->a_skip, sa, tah};
        ltx_tensor *cv = NULL, *ca = NULL;
        s = ltx_transformer_forward_x0(m, in->video ? &mv : NULL, in->audio ? &ma : NULL,
                                       items + r0, NULL, &cv, &ca);
        ltx_tensor *dv = rows(ov, r0, r1), *da = rows(oa, r0, r1);
        if (s == LTX_OK && cv) s = be->ops->copy(be, dv, cv);
        if (s == LTX_OK && ca) s = be->ops->copy(be, da, ca);
        ltx_tensor_free(dv), ltx_tensor_free(da), ltx_tensor_free(cv), ltx_tensor_free(ca);
        for (int i = 0; i < 5; i++)
            ltx_tensor_free(v[i]), ltx_tensor_free(a[i]);
        ltx_tensor_free(vmask);
        free(tvh);
        free(tah);
    }
    /* ref: X0Model output in the state dtype */
    if (s == LTX_OK && ov && in->state_dtype == LTX_BF16)
        s = be->ops->unary(be, LTX_UNARY_ROUND_BF16, ov, ov, 0, 0);
    if (s == LTX_OK && oa && in->state_dtype == LTX_BF16)
        s = be->ops->unary(be, LTX_UNARY_ROUND_BF16, oa, oa, 0, 0);
    for (int md = 0; md < 2 && s == LTX_OK; md++) {
        ltx_tensor *all = md ? oa : ov;
        if (!all || (md ? in->a_skip : in->v_skip)) continue;
        ltx_tensor *part[P_COUNT] = {0};
        for (int i = 0; i < P; i++)
            part[kind[i]] = rows(all, i, i + 1);
        ltx_tensor *out = ltx_tensor_new(be, LTX_F32, 3, part[P_COND]->shape);
        s = out ? ltx_multimodal_guider_calculate(be, md ? ag : vg, out, part[P_COND],
                                                  part[P_UNCOND], part[P_PTB], part[P_MOD],
                                                  in->state_dtype)
                : ltx_err_failed();
        for (int k = 0; k < P_COUNT; k++)
            ltx_tensor_free(part[k]);
        if (s == LTX_OK)
            *(md ? x0a : x0v) = out;
        else
            ltx_tensor_free(out);
    }
    batched_free(&bv);
    batched_free(&ba);
    if (s == LTX_OK && per_pass_v) *per_pass_v = ov, ov = NULL;
    if (s == LTX_OK && per_pass_a) *per_pass_a = oa, oa = NULL;
    if (n_passes) *n_passes = P;
    ltx_tensor_free(ov);
    ltx_tensor_free(oa);
    if (s != LTX_OK) {
        ltx_tensor_free(*x0v), ltx_tensor_free(*x0a);
        *x0v = *x0a = NULL;
    }
    return s;
}
