/*
 * ltx_transformer.c — LTXModel forward: argument preprocessing (patchify projection, timestep
 * embeddings and AdaLN tables, RoPE tables, masks), the block loop, the output heads, and the
 * X0 wrapper.
 *
 * Mirrors ltx_core/model/transformer/model.py (LTXModel.forward, _process_output, X0Model),
 * transformer_args.py (TransformerArgsPreprocessor, MultiModalTransformerArgsPreprocessor),
 * adaln.py and timestep_embedding.py @ a2c3f24 (400fd31 for the
 * A/V cross-attention timesteps of reference 1.2, cross_timesteps). Loading lives in ltx_transformer_load.c, the
 * blocks in ltx_block.c.
 *
 * Timestep embeddings: the reference runs the AdaLN MLP on every token's timestep. Here the MLP
 * runs once per distinct value (identical results); when every batch item has one value the
 * tables are (B, 1, k*D) and broadcast over tokens, otherwise they stay (U, 1, k*D) rows and the
 * modulation is applied per run of equal timesteps (tf_runs), so no (B, T, k*D) table exists.
 */
#include "models/ltx_transformer_internal.h"

#include "core/dtype.h"
#include "nn/nn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ltx_tf_args_clear(tf_args *a)
{
    ltx_tensor *ts[] = {a->x,          a->context,   a->context_mask, a->timesteps, a->embedded,
                        a->pe_cos,     a->pe_sin,    a->cross_cos,    a->cross_sin, a->cross_ss,
                        a->cross_gate, a->prompt_ts, a->self_mask};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        ltx_tensor_free(ts[i]);
    free(a->runs.r);
    free(a->cross_runs.r);
    memset(a, 0, sizeof *a);
}

/* ---- timestep embedding ---- */

/* ref: get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0), f32:
 * [cos(t f_i), sin(t f_i)], f_i = exp(-ln(10000) * i / 128). */
static void sinusoid256(float t, float *out)
{
    const float c = (float)(-log(10000.0));
    for (int i = 0; i < 128; i++) {
        float e = c * (float)i;
        e = e / 128.0f;
        float f = (float)exp((double)e);
        float a = t * f;
        out[i] = (float)cos((double)a);
        out[128 + i] = (float)sin((double)a);
    }
}

/* MLP of one AdaLN on U timestep values (host): returns mod (U, k*D) and emb (U, D). */
static ltx_status adaln_rows(ltx_backend *be, const tf_adaln *a, const float *vals, int64_t U,
                             ltx_tensor **mod, ltx_tensor **emb)
{
    *mod = *emb = NULL;
    float *sin_ = malloc(sizeof(float) * (size_t)(U * 256));
    if (!sin_) return ltx_err(LTX_ERR_OOM, "adaln: out of memory");
    for (int64_t u = 0; u < U; u++)
        sinusoid256(vals[u], sin_ + u * 256);
    int64_t shape[2] = {U, 256};
    ltx_tensor *s = ltx_tensor_from_host(be, LTX_F32, 2, shape, sin_);
    free(sin_);
    ltx_tensor *h = s ? ltx_tf_linear(be, s, &a->l1) : NULL;
    ltx_tensor *hs = h ? ltx_nn_unary(be, LTX_UNARY_SILU, h, 0, 0) : NULL;
    ltx_tensor *e = hs ? ltx_tf_linear(be, hs, &a->l2) : NULL;
    ltx_tensor *es = e ? ltx_nn_unary(be, LTX_UNARY_SILU, e, 0, 0) : NULL;
    ltx_tensor *md = es ? ltx_tf_linear(be, es, &a->linear) : NULL;
    ltx_tensor_free(s);
    ltx_tensor_free(h);
    ltx_tensor_free(hs);
    ltx_tensor_free(es);
    if (!md) {
        ltx_tensor_free(e);
        return ltx_err_failed(); /* message set by the failing op */
    }
    *mod = md;
    *emb = e;
    return LTX_OK;
}

/* rows (U, W) gathered into (B, S, W) by idx[B*S] (S = 1 when each item is uniform). */
static ltx_tensor *gather_rows(ltx_backend *be, const ltx_tensor *rows, const int *idx, int64_t B,
                               int64_t S)
{
    int64_t W = rows->shape[1];
    int64_t shape[3] = {B, S, W};
    ltx_tensor *out = ltx_tensor_new(be, LTX_F32, 3, shape);
    if (!out) return NULL;
    for (int64_t b = 0; b < B; b++) {
        int64_t t0 = 0;
        while (t0 < S) {
            int64_t t1 = t0 + 1;
            while (t1 < S && idx[b * S + t1] == idx[b * S + t0])
                t1++;
            ltx_tensor *r = ltx_tensor_slice(rows, 0, idx[b * S + t0], idx[b * S + t0] + 1, 1);
            int64_t es[2] = {t1 - t0, W};
            ltx_tensor *src = r ? ltx_tensor_expand(r, 2, es) : NULL;
            ltx_tensor *ob = ltx_tensor_slice(out, 0, b, b + 1, 1);
            ltx_tensor *dst3 = ob ? ltx_tensor_slice(ob, 1, t0, t1, 1) : NULL;
            ltx_tensor *dst = dst3 ? ltx_tensor_reshape(dst3, 2, es) : NULL;
            ltx_status s = (src && dst) ? be->ops->copy(be, dst, src) : ltx_err_failed();
            ltx_tensor_free(r);
            ltx_tensor_free(src);
            ltx_tensor_free(ob);
            ltx_tensor_free(dst3);
            ltx_tensor_free(dst);
            if (s != LTX_OK) {
                ltx_tensor_free(out);
                return NULL;
            }
            t0 = t1;
        }
    }
    return out;
}

/* Rows (U, W) as (U, 1, W) (a view). */
static ltx_tensor *as_rows3(ltx_tensor *rows)
{
    int64_t s3[3] = {rows->shape[0], 1, rows->shape[1]};
    ltx_tensor *r = ltx_tensor_reshape(rows, 3, s3);
    ltx_tensor_free(rows);
    return r;
}

/* AdaLN of per-(b, s) timestep values t[B*S] (already scaled). ref: AdaLayerNormSingle.forward
 * on the flattened timesteps, viewed (B, -1, .). Every item uniform: mod (B, 1, k*D), emb
 * (B, 1, D). Otherwise with `runs`: mod (U, 1, k*D) / emb (U, 1, D) rows and the token runs
 * filled in; without `runs`: gathered per token, (B, S, .). */
static ltx_status adaln_eval(ltx_backend *be, const tf_adaln *a, const float *t, int64_t B,
                             int64_t S, ltx_tensor **mod, ltx_tensor **emb, tf_runs *runs)
{
    *mod = NULL;
    if (emb) *emb = NULL;
    int64_t N = B * S;
    int *idx = malloc(sizeof(int) * (size_t)N);
    float *uv = calloc((size_t)N + 1, sizeof(float)); /* zeroed: N may be 0 */
    if (!idx || !uv) {
        free(idx);
        free(uv);
        return ltx_err(LTX_ERR_OOM, "adaln: out of memory");
    }
    int64_t U = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t u = 0;
        /* distinct values are few (sigma, 0, 1 - strength); the scan starts at the last hit */
        if (i > 0 && memcmp(&uv[idx[i - 1]], &t[i], sizeof(float)) == 0)
            u = idx[i - 1];
        else {
            for (u = 0; u < U; u++)
                if (memcmp(&uv[u], &t[i], sizeof(float)) == 0) break;
            if (u == U) uv[U++] = t[i];
        }
        idx[i] = (int)u;
    }
    bool uniform = true;
    for (int64_t b = 0; b < B && uniform; b++)
        for (int64_t s = 1; s < S; s++)
            if (idx[b * S + s] != idx[b * S]) {
                uniform = false;
                break;
            }
    ltx_tensor *m_rows = NULL, *e_rows = NULL;
    ltx_status st = adaln_rows(be, a, uv, U, &m_rows, &e_rows);
    if (st == LTX_OK && !uniform && runs) {
        int n = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t s = 0; s < S; s++)
                n += s == 0 || idx[b * S + s] != idx[b * S + s - 1];
        runs->r = malloc(sizeof(tf_run) * (size_t)n);
        runs->n = 0;
        if (!runs->r) st = ltx_err(LTX_ERR_OOM, "adaln runs");
        for (int64_t b = 0; st == LTX_OK && b < B; b++)
            for (int64_t s = 0; s < S; s++) {
                if (s == 0 || idx[b * S + s] != idx[b * S + s - 1])
                    runs->r[runs->n++] = (tf_run){b, s, s + 1, idx[b * S + s]};
                else
                    runs->r[runs->n - 1].t1 = s + 1;
            }
        if (st == LTX_OK) {
            *mod = as_rows3(m_rows);
            m_rows = NULL;
            if (emb) {
                *emb = as_rows3(e_rows);
                e_rows = NULL;
            }
            if (!*mod || (emb && !*emb)) st = ltx_err(LTX_ERR_OOM, "adaln rows");
        }
    } else if (st == LTX_OK) {
        if (uniform) {
            for (int64_t b = 0; b < B; b++)
                idx[b] = idx[b * S];
            S = 1;
        }
        *mod = gather_rows(be, m_rows, idx, B, S);
        if (!*mod) st = ltx_err_failed();
        if (st == LTX_OK && emb) {
            *emb = gather_rows(be, e_rows, idx, B, S);
            if (!*emb) st = ltx_err_failed();
        }
    }
    ltx_tensor_free(m_rows);
    ltx_tensor_free(e_rows);
    free(idx);
    free(uv);
    if (st != LTX_OK) {
        ltx_tensor_free(*mod);
        *mod = NULL;
        if (emb) {
            ltx_tensor_free(*emb);
            *emb = NULL;
        }
    }
    return st;
}

/* Per-token (B, T, W) tensor of run rows (U, 1, W), for taps only. */
static ltx_tensor *expand_runs(ltx_backend *be, const ltx_tensor *rows, const tf_runs *runs,
                               int64_t B, int64_t T)
{
    int64_t W = rows->shape[2];
    int *idx = malloc(sizeof(int) * (size_t)(B * T));
    if (!idx) {
        ltx_err(LTX_ERR_OOM, "adaln row indices: out of memory");
        return NULL;
    }
    for (int i = 0; i < runs->n; i++)
        for (int64_t t = runs->r[i].t0; t < runs->r[i].t1; t++)
            idx[runs->r[i].b * T + t] = runs->r[i].u;
    int64_t s2[2] = {rows->shape[0], W};
    ltx_tensor *r2 = ltx_tensor_reshape(rows, 2, s2);
    ltx_tensor *out = r2 ? gather_rows(be, r2, idx, B, T) : NULL;
    ltx_tensor_free(r2);
    free(idx);
    return out;
}

/* Host copy of sigma broadcast to B values, times `scale` in f32 (ref: sigma * multiplier);
 * from the modality's host mirror when it has one (no download). */
static ltx_status sigma_host(const ltx_modality *md, int64_t B, double scale, float *out)
{
    int64_t n = ltx_tensor_numel(md->sigma);
    if (n != 1 && n != B)
        return ltx_err(LTX_ERR_INVALID_ARG, "modality sigma has %lld values for batch %lld",
                       (long long)n, (long long)B);
    float *v = md->sigma_host ? NULL : ltx_tensor_to_host_f32(md->sigma);
    const float *src = md->sigma_host ? md->sigma_host : v;
    if (!src) return ltx_err_context(ltx_err_failed(), "sigma: ");
    for (int64_t b = 0; b < B; b++)
        out[b] = src[n == 1 ? 0 : b] * (float)scale;
    free(v);
    return LTX_OK;
}

/* ---- masks ---- */

/* ref: _prepare_attention_mask — integer/bool masks become (m - 1) * finfo.max, float masks
 * are additive already. (B, L) -> (B, 1, 1, L). */
static ltx_tensor *context_bias(ltx_backend *be, const ltx_tensor *mask)
{
    int64_t B = mask->shape[0], L = mask->shape[mask->ndim - 1];
    float *v = ltx_tensor_to_host_f32(mask);
    if (!v) return NULL;
    if (!ltx_dtype_is_float(mask->dtype))
        for (int64_t i = 0; i < B * L; i++)
            v[i] = (v[i] - 1.0f) * FLT_MAX;
    int64_t shape[4] = {B, 1, 1, L};
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, 4, shape, v);
    free(v);
    return t;
}

/* ref: _prepare_self_attention_mask — m in [0, 1] -> log(max(m, tiny)) for m > 0, finfo.min
 * otherwise. (B, T, T) -> (B, 1, T, T). */
static ltx_tensor *self_bias(ltx_backend *be, const ltx_tensor *mask)
{
    if (mask->ndim != 3) {
        ltx_err(LTX_ERR_INVALID_ARG, "attention_mask must be (B, T, T)");
        return NULL;
    }
    int64_t B = mask->shape[0], T = mask->shape[1], T2 = mask->shape[2];
    float *v = ltx_tensor_to_host_f32(mask);
    if (!v) return NULL;
    for (int64_t i = 0; i < B * T * T2; i++)
        v[i] = v[i] > 0 ? logf(v[i] < FLT_MIN ? FLT_MIN : v[i]) : -FLT_MAX;
    int64_t shape[4] = {B, 1, T, T2};
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, 4, shape, v);
    free(v);
    return t;
}

/* ---- preprocessing ---- */

static void tap_args(const ltx_taps *taps, const char *pre, const char *field, const ltx_tensor *t,
                     int64_t T)
{
    if (!taps || !t) return;
    char name[64];
    snprintf(name, sizeof name, "%s.%s", pre, field);
    if (t->ndim == 3 && t->shape[1] == 1 && T > 1) { /* show per-token like the reference */
        int64_t es[3] = {t->shape[0], T, t->shape[2]};
        ltx_tensor *e = ltx_tensor_expand(t, 3, es);
        if (e) ltx_tap(taps, name, e);
        ltx_tensor_free(e);
    } else {
        ltx_tap(taps, name, t);
    }
}

/* A/V cross-attention AdaLN inputs (ref: MultiModalTransformerArgsPreprocessor.
 * _prepare_cross_attention_timestep). tv: this modality's per-token timesteps x multiplier.
 * ref: 400fd31 (1.2, commit 203d484): scale/shift from the modality's own per-token timesteps
 * (tv), gate from the other modality's scalar sigma; a2c3f24 (2026-04): both from the other
 * modality's sigma. Taps cross_scale_shift_timestep per token (1.2) or (B, 1, .) (2026-04). */
static ltx_status cross_timesteps(tf_ctx *c, bool video, const float *tv, const ltx_modality *cross,
                                  tf_args *a)
{
    ltx_transformer *m = c->m;
    const ltx_transformer_config *cfg = &m->cfg;
    const char *pre = video ? "video_args" : "audio_args";
    int64_t B = a->B, T = a->T;
    const tf_adaln *ss = video ? &m->av_video_ss : &m->av_audio_ss;
    const tf_adaln *gt = video ? &m->av_a2v_gate : &m->av_v2a_gate;
    bool per_token = ltx_refver_is_1_2(m->ref);
    float sg[2 * 64];
    if (B > 64) return ltx_err(LTX_ERR_UNSUPPORTED, "batch > 64");
    ltx_status s = sigma_host(cross, B, cfg->timestep_scale, sg);
    if (s == LTX_OK && per_token)
        s = adaln_eval(c->be, ss, tv, B, T, &a->cross_ss, NULL, &a->cross_runs);
    else if (s == LTX_OK)
        s = adaln_eval(c->be, ss, sg, B, 1, &a->cross_ss, NULL, NULL);
    /* ref: gate timestep * (av_ca_timestep_scale_multiplier / timestep_scale_multiplier) */
    float fac = (float)(cfg->av_ca_timestep_scale / cfg->timestep_scale);
    for (int64_t b = 0; b < B; b++)
        sg[B + b] = sg[b] * fac;
    if (s == LTX_OK) s = adaln_eval(c->be, gt, sg + B, B, 1, &a->cross_gate, NULL, NULL);
    if (s != LTX_OK || !c->taps) return s;
    if (a->cross_runs.n) {
        ltx_tensor *e = expand_runs(c->be, a->cross_ss, &a->cross_runs, B, T);
        tap_args(c->taps, pre, "cross_scale_shift_timestep", e, T);
        ltx_tensor_free(e);
    } else {
        tap_args(c->taps, pre, "cross_scale_shift_timestep", a->cross_ss, per_token ? T : 1);
    }
    tap_args(c->taps, pre, "cross_gate_timestep", a->cross_gate, 1);
    return LTX_OK;
}

void ltx_transformer_set_reference(ltx_transformer *m, ltx_reference_version v)
{
    if (m) m->ref = ltx_refver_resolve(v);
}

/* ref: TransformerArgsPreprocessor.prepare + MultiModalTransformerArgsPreprocessor.prepare */
ltx_status ltx_tf_prepare(tf_ctx *c, bool video, const ltx_modality *md, const ltx_modality *cross,
                          tf_args *a)
{
    ltx_transformer *m = c->m;
    ltx_backend *be = c->be;
    const ltx_transformer_config *cfg = &m->cfg;
    const char *pre = video ? "video_args" : "audio_args";
    const tf_lin *proj = video ? &m->patchify : &m->audio_patchify;
    const tf_adaln *ad = video ? &m->adaln : &m->audio_adaln;
    const tf_adaln *pad = video ? &m->prompt_adaln : &m->audio_prompt_adaln;
    int heads = video ? cfg->heads : cfg->audio_heads;
    int D = heads * (video ? cfg->head_dim : cfg->audio_head_dim);
    memset(a, 0, sizeof *a);
    if (!md->latent || md->latent->ndim != 3 || !md->timesteps || !md->positions || !md->context ||
        !md->sigma)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "%s modality: latent (B, T, C), sigma, timesteps, "
                       "positions and context are required",
                       video ? "video" : "audio");
    int64_t B = md->latent->shape[0], T = md->latent->shape[1];
    a->B = B;
    a->T = T;
    a->dim = D;
    a->enabled = md->enabled;
    ltx_status s = LTX_OK;
    /* x = patchify_proj(latent) */
    ltx_tensor *lat = md->latent->dtype == LTX_F32 ? ltx_tensor_view(md->latent)
                                                   : ltx_nn_contiguous(be, md->latent, LTX_F32);
    a->x = lat ? ltx_tf_linear(be, lat, proj) : NULL;
    ltx_tensor_free(lat);
    if (!a->x) return ltx_err_failed();
    tap_args(c->taps, pre, "x", a->x, T);
    /* timesteps: (B, T[, 1]) * multiplier, per token */
    if (ltx_tensor_numel(md->timesteps) != B * T)
        return ltx_err(LTX_ERR_INVALID_ARG, "%s timesteps: %lld values for (B, T) = (%lld, %lld)",
                       pre, (long long)ltx_tensor_numel(md->timesteps), (long long)B, (long long)T);
    float *tv = NULL;
    if (md->timesteps_host) { /* the caller's host mirror: no download */
        tv = malloc(sizeof(float) * (size_t)(B * T));
        if (tv) memcpy(tv, md->timesteps_host, sizeof(float) * (size_t)(B * T));
    } else {
        tv = ltx_tensor_to_host_f32(md->timesteps);
    }
    if (!tv) return ltx_err_context(ltx_err_failed(), "timesteps: ");
    for (int64_t i = 0; i < B * T; i++)
        tv[i] = tv[i] * (float)cfg->timestep_scale;
    s = adaln_eval(be, ad, tv, B, T, &a->timesteps, &a->embedded, &a->runs);
    if (s == LTX_OK && cross && cfg->has_audio && cfg->has_video)
        s = cross_timesteps(c, video, tv, cross, a);
    free(tv);
    if (s != LTX_OK) return s;
    if (c->taps && a->runs.n) {
        ltx_tensor *et = expand_runs(be, a->timesteps, &a->runs, B, T);
        ltx_tensor *ee = expand_runs(be, a->embedded, &a->runs, B, T);
        tap_args(c->taps, pre, "timesteps", et, T);
        tap_args(c->taps, pre, "embedded_timestep", ee, T);
        ltx_tensor_free(et);
        ltx_tensor_free(ee);
    } else {
        tap_args(c->taps, pre, "timesteps", a->timesteps, T);
        tap_args(c->taps, pre, "embedded_timestep", a->embedded, T);
    }
    float *sg = malloc(sizeof(float) * (size_t)B * 2);
    if (!sg) return ltx_err(LTX_ERR_OOM, "out of memory");
    if (cfg->cross_attention_adaln) {
        s = sigma_host(md, B, cfg->timestep_scale, sg);
        if (s == LTX_OK) s = adaln_eval(be, pad, sg, B, 1, &a->prompt_ts, NULL, NULL);
        if (s == LTX_OK) tap_args(c->taps, pre, "prompt_timestep", a->prompt_ts, 1);
    }
    /* context (+ caption projection for 19B-style configs) */
    if (s == LTX_OK) {
        int cdim = video ? cfg->cross_attention_dim : cfg->audio_cross_attention_dim;
        const tf_lin *c1 = video ? &m->cap1 : &m->audio_cap1,
                     *c2 = video ? &m->cap2 : &m->audio_cap2;
        ltx_tensor *ctx = md->context->dtype == LTX_F32
                              ? ltx_tensor_view(md->context)
                              : ltx_nn_contiguous(be, md->context, LTX_F32);
        if (ctx && cfg->caption_projection) {
            ltx_tensor *h = ltx_tf_linear(be, ctx, c1);
            ltx_tensor *g = h ? ltx_nn_unary(be, LTX_UNARY_GELU_TANH, h, 0, 0) : NULL;
            ltx_tensor_free(ctx);
            ctx = g ? ltx_tf_linear(be, g, c2) : NULL;
            ltx_tensor_free(h);
            ltx_tensor_free(g);
        }
        if (!ctx)
            s = ltx_err_failed();
        else if (ctx->ndim != 3 || ctx->shape[0] != B || ctx->shape[2] != cdim)
            s = ltx_err(LTX_ERR_INVALID_ARG, "%s context must be (%lld, L, %d)", pre, (long long)B,
                        cdim);
        a->context = ctx;
        if (s == LTX_OK) tap_args(c->taps, pre, "context", a->context, 0);
    }
    if (s == LTX_OK && md->context_mask) {
        a->context_mask =
            ltx_tf_table_mask(m, TF_TABLE_CONTEXT_MASK, md->context_mask, context_bias);
        if (!a->context_mask) s = ltx_err_failed();
    }
    if (s == LTX_OK && md->attention_mask) {
        a->self_mask = ltx_tf_table_mask(m, TF_TABLE_SELF_MASK, md->attention_mask, self_bias);
        if (!a->self_mask) s = ltx_err_failed();
    }
    /* RoPE of the self-attention */
    if (s == LTX_OK) {
        ltx_rope_params rp = {.dim = D,
                              .heads = heads,
                              .n_axes = video ? 3 : 1,
                              .theta = cfg->theta,
                              .use_middle = true,
                              .mode = cfg->rope_type,
                              .f64_grid = cfg->f64_rope};
        if (video)
            memcpy(rp.max_pos, cfg->max_pos, sizeof rp.max_pos);
        else
            rp.max_pos[0] = cfg->audio_max_pos;
        if (md->positions->shape[1] != rp.n_axes)
            s = ltx_err(LTX_ERR_INVALID_ARG, "%s positions need %d axes", pre, rp.n_axes);
        if (s == LTX_OK) s = ltx_tf_table_rope(m, &rp, md->positions, &a->pe_cos, &a->pe_sin);
        if (s == LTX_OK) {
            tap_args(c->taps, pre, "pe_cos", a->pe_cos, 0);
            tap_args(c->taps, pre, "pe_sin", a->pe_sin, 0);
        }
    }
    /* cross-modal fields (AV model with the other modality present) */
    if (s == LTX_OK && cross && cfg->has_audio && cfg->has_video) {
        double cross_max = fmax(cfg->max_pos[0], cfg->audio_max_pos);
        static const int axis0[1] = {0};
        ltx_rope_params rp = {.dim = cfg->audio_cross_attention_dim,
                              .heads = heads,
                              .n_axes = 1,
                              .max_pos = {cross_max},
                              .theta = cfg->theta,
                              .use_middle = true,
                              .mode = cfg->rope_type,
                              .f64_grid = cfg->f64_rope,
                              .axes = axis0};
        s = ltx_tf_table_rope(m, &rp, md->positions, &a->cross_cos, &a->cross_sin);
        if (s == LTX_OK) {
            tap_args(c->taps, pre, "cross_pe_cos", a->cross_cos, 0);
            tap_args(c->taps, pre, "cross_pe_sin", a->cross_sin, 0);
        }
    }
    free(sg);
    return s;
}

/* ---- output head ---- */

/* ref: LTXModel._process_output — LayerNorm(x) * (1 + table[1] + E) + table[0] + E. */
static ltx_tensor *process_output(tf_ctx *c, const ltx_tensor *table, const tf_lin *proj,
                                  const tf_args *a)
{
    ltx_backend *be = c->be;
    ltx_tensor *scale = ltx_tf_ada(be, table, 1, a->embedded, 0, false);
    ltx_tensor *shift = scale ? ltx_tf_ada(be, table, 0, a->embedded, 0, false) : NULL;
    ltx_tensor *y = shift ? ltx_tf_modulate(be, LTX_NORM_LAYER, a->x, scale, shift,
                                            (float)c->m->cfg.norm_eps, &a->runs)
                          : NULL;
    ltx_tensor *out = y ? ltx_tf_linear(be, y, proj) : NULL;
    ltx_tensor_free(scale);
    ltx_tensor_free(shift);
    ltx_tensor_free(y);
    return out;
}

ltx_status ltx_transformer_forward(ltx_transformer *m, const ltx_modality *video,
                                   const ltx_modality *audio, const ltx_ptb_item *ptb,
                                   const ltx_taps *taps, ltx_tensor **video_out,
                                   ltx_tensor **audio_out)
{
    if (video_out) *video_out = NULL;
    if (audio_out) *audio_out = NULL;
    if (!video && !audio) return ltx_err(LTX_ERR_INVALID_ARG, "transformer: no modality given");
    if (video && !m->cfg.has_video) return ltx_err(LTX_ERR_INVALID_ARG, "Video is not enabled");
    if (audio && !m->cfg.has_audio)
        return ltx_err(LTX_ERR_INVALID_ARG, "Audio is not enabled for this model");
    tf_ctx c = {.m = m, .be = m->be, .ptb = ptb, .taps = taps};
    tf_args va = {0}, aa = {0};
    ltx_status s = LTX_OK;
    if (video) s = ltx_tf_prepare(&c, true, video, audio, &va);
    if (s == LTX_OK && audio) s = ltx_tf_prepare(&c, false, audio, video, &aa);
    if (s == LTX_OK && video && audio && va.B != aa.B)
        s = ltx_err(LTX_ERR_INVALID_ARG, "video batch %lld != audio batch %lld", (long long)va.B,
                    (long long)aa.B);
    c.B = video ? va.B : aa.B;
    for (int i = 0; s == LTX_OK && i < m->cfg.num_layers; i++) {
        s = ltx_tf_stream_before(m, i); /* layer streaming: no-op when off */
        if (s == LTX_OK) s = ltx_tf_block_forward(&c, i, video ? &va : NULL, audio ? &aa : NULL);
        ltx_tf_stream_after(m, i);
        if (s != LTX_OK) {
            s = ltx_err_context(s, "transformer_blocks.%d: ", i);
            break;
        }
        if (taps) {
            char name[64];
            snprintf(name, sizeof name, "block%d.video_x", i);
            if (video) ltx_tap(taps, name, va.x);
            snprintf(name, sizeof name, "block%d.audio_x", i);
            if (audio) ltx_tap(taps, name, aa.x);
        }
    }
    if (s == LTX_OK && video && video_out) {
        *video_out = process_output(&c, m->sst_out, &m->proj_out, &va);
        if (!*video_out) s = ltx_err_context(ltx_err_failed(), "video output head: ");
    }
    if (s == LTX_OK && audio && audio_out) {
        *audio_out = process_output(&c, m->audio_sst_out, &m->audio_proj_out, &aa);
        if (!*audio_out) s = ltx_err_context(ltx_err_failed(), "audio output head: ");
    }
    ltx_tf_args_clear(&va);
    ltx_tf_args_clear(&aa);
    if (s != LTX_OK) {
        if (video_out) ltx_tensor_free(*video_out), *video_out = NULL;
        if (audio_out) ltx_tensor_free(*audio_out), *audio_out = NULL;
    }
    return s;
}

/* ref: to_denoised(latent, velocity, timesteps) in f32. */
static ltx_tensor *to_denoised(ltx_backend *be, const ltx_modality *md, const ltx_tensor *vel)
{
    int64_t B = vel->shape[0], T = vel->shape[1];
    int64_t ts[3] = {B, T, 1};
    ltx_tensor *tc = ltx_nn_contiguous(be, md->timesteps, LTX_F32);
    ltx_tensor *t3 = tc ? ltx_tensor_reshape(tc, 3, ts) : NULL;
    ltx_tensor *vt = t3 ? ltx_nn_binary(be, LTX_BINARY_MUL, vel, t3) : NULL;
    ltx_tensor *out = vt ? ltx_nn_binary(be, LTX_BINARY_SUB, md->latent, vt) : NULL;
    ltx_tensor_free(tc);
    ltx_tensor_free(t3);
    ltx_tensor_free(vt);
    return out;
}

ltx_status ltx_transformer_forward_x0(ltx_transformer *m, const ltx_modality *video,
                                      const ltx_modality *audio, const ltx_ptb_item *ptb,
                                      const ltx_taps *taps, ltx_tensor **video_out,
                                      ltx_tensor **audio_out)
{
    ltx_tensor *vv = NULL, *av = NULL, *vd = NULL, *ad = NULL;
    if (video_out) *video_out = NULL;
    if (audio_out) *audio_out = NULL;
    LTX_TRY(ltx_transformer_forward(m, video, audio, ptb, taps, video_out ? &vv : NULL,
                                    audio_out ? &av : NULL));
    ltx_status s = LTX_OK;
    vd = vv ? to_denoised(m->be, video, vv) : NULL;
    ad = av ? to_denoised(m->be, audio, av) : NULL;
    if ((vv && !vd) || (av && !ad)) {
        s = ltx_err_context(ltx_err_failed(), "x0: ");
        ltx_tensor_free(vd);
        ltx_tensor_free(ad);
    } else {
        if (video_out) *video_out = vd;
        if (audio_out) *audio_out = ad;
    }
    ltx_tensor_free(vv);
    ltx_tensor_free(av);
    return s;
}
