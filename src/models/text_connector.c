/*
 * text_connector.c — FeatureExtractorV2 + the two Embeddings1DConnector (see text_connector.h).
 *
 * ref: ltx_core/text_encoders/gemma/{feature_extractor,embeddings_connector,
 * embeddings_processor}.py, encoders/encoder_configurator.py, model/transformer/attention.py
 * (Attention: q/k RMSNorm over the whole inner dim, RoPE, SDPA, 2*sigmoid per-head gates,
 * to_out), model/transformer/feed_forward.py (Linear -> GELU(tanh) -> Linear).
 * Not here: the Gemma decoder that produces the hidden states (gemma3.c) and the per-prompt
 * orchestration around both (text_encoder.c).
 */
#include "models/text_connector.h"

#include "io/json.h"
#include "nn/nn.h"
#include "nn/rope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_EPS 1e-6f /* ref: utils.rms_norm default eps; Attention norm_eps default */

typedef struct tc_lin {
    ltx_tensor *w, *b;
} tc_lin;

/* ref: _BasicTransformerBlock1D */
typedef struct tc_block {
    tc_lin q, k, v, out, gate, ff1, ff2; /* gate.w NULL without gated attention */
    ltx_tensor *q_norm, *k_norm;         /* (width) */
} tc_block;

/* ref: Embeddings1DConnector */
typedef struct tc_conn {
    int heads, d_head, width, layers;
    ltx_tensor *registers; /* (R, width) */
    tc_block *blocks;
} tc_conn;

struct ltx_text_processor {
    ltx_backend *be;
    const ltx_st_file *st;
    int D, L;
    tc_lin video_agg, audio_agg;
    tc_conn vc, ac;
    /* connector RoPE (shared config) */
    double max_pos, theta;
    bool f64_grid;
    ltx_rope_mode rope;
};

/* ---- loading ---- */

/* Tensor `name` with the given shape (d1 < 0: 1-D). */
static ltx_status get(ltx_text_processor *p, const char *name, int64_t d0, int64_t d1,
                      ltx_tensor **out)
{
    const ltx_st_entry *e = ltx_st_find(p->st, name);
    int nd = d1 < 0 ? 1 : 2;
    if (!e || e->ndim != nd || e->shape[0] != d0 || (nd == 2 && e->shape[1] != d1) ||
        !(ltx_dtype_is_float(e->dtype) || (nd == 2 && ltx_dtype_is_quant(e->dtype))))
        return ltx_err(LTX_ERR_FORMAT, "text processor: %s %s (want [%lld%s%lld])", name,
                       e ? "has another shape or dtype" : "missing", (long long)d0,
                       nd == 2 ? ", " : "", nd == 2 ? (long long)d1 : 0LL);
    *out = ltx_st_tensor(p->st, p->be, name);
    return *out ? LTX_OK : ltx_err_context(ltx_err_failed(), "text processor: ");
}

static ltx_status get_lin(ltx_text_processor *p, const char *prefix, int64_t n, int64_t k,
                          tc_lin *l)
{
    char name[272]; /* a 255-character prefix + ".weight" */
    snprintf(name, sizeof name, "%s.weight", prefix);
    LTX_TRY(get(p, name, n, k, &l->w));
    snprintf(name, sizeof name, "%s.bias", prefix);
    return get(p, name, n, -1, &l->b);
}

static ltx_status load_conn(ltx_text_processor *p, const char *prefix, int heads, int d_head,
                            int layers, bool gated, tc_conn *c)
{
    c->heads = heads, c->d_head = d_head, c->width = heads * d_head, c->layers = layers;
    int64_t W = c->width;
    char name[256];
    snprintf(name, sizeof name, "%s.learnable_registers", prefix);
    /* ref: num_learnable_registers = 128 (the config key is not read) */
    LTX_TRY(get(p, name, 128, W, &c->registers));
    c->blocks = calloc((size_t)(layers > 0 ? layers : 1), sizeof *c->blocks);
    if (!c->blocks) return ltx_err(LTX_ERR_OOM, "text processor: out of memory");
    for (int i = 0; i < layers; i++) {
        tc_block *b = &c->blocks[i];
        char bp[200];
        snprintf(bp, sizeof bp, "%s.transformer_1d_blocks.%d", prefix, i);
        snprintf(name, sizeof name, "%s.attn1.to_q", bp);
        LTX_TRY(get_lin(p, name, W, W, &b->q));
        snprintf(name, sizeof name, "%s.attn1.to_k", bp);
        LTX_TRY(get_lin(p, name, W, W, &b->k));
        snprintf(name, sizeof name, "%s.attn1.to_v", bp);
        LTX_TRY(get_lin(p, name, W, W, &b->v));
        snprintf(name, sizeof name, "%s.attn1.to_out.0", bp);
        LTX_TRY(get_lin(p, name, W, W, &b->out));
        if (gated) {
            snprintf(name, sizeof name, "%s.attn1.to_gate_logits", bp);
            LTX_TRY(get_lin(p, name, heads, W, &b->gate));
        }
        snprintf(name, sizeof name, "%s.attn1.q_norm.weight", bp);
        LTX_TRY(get(p, name, W, -1, &b->q_norm));
        snprintf(name, sizeof name, "%s.attn1.k_norm.weight", bp);
        LTX_TRY(get(p, name, W, -1, &b->k_norm));
        snprintf(name, sizeof name, "%s.ff.net.0.proj", bp);
        LTX_TRY(get_lin(p, name, 4 * W, W, &b->ff1));
        snprintf(name, sizeof name, "%s.ff.net.2", bp);
        LTX_TRY(get_lin(p, name, W, 4 * W, &b->ff2));
    }
    return LTX_OK;
}

static void free_lin(tc_lin *l)
{
    ltx_tensor_free(l->w);
    ltx_tensor_free(l->b);
}

static void free_conn(tc_conn *c)
{
    ltx_tensor_free(c->registers);
    for (int i = 0; c->blocks && i < c->layers; i++) {
        tc_block *b = &c->blocks[i];
        tc_lin *ls[] = {&b->q, &b->k, &b->v, &b->out, &b->gate, &b->ff1, &b->ff2};
        for (size_t j = 0; j < sizeof ls / sizeof ls[0]; j++)
            free_lin(ls[j]);
        ltx_tensor_free(b->q_norm);
        ltx_tensor_free(b->k_norm);
    }
    free(c->blocks);
}

void ltx_text_processor_free(ltx_text_processor *p)
{
    if (!p) return;
    free_lin(&p->video_agg);
    free_lin(&p->audio_agg);
    free_conn(&p->vc);
    free_conn(&p->ac);
    free(p);
}

/* ref: _V2_EXPECTED_CONFIG — all four keys with exactly these values selects V2. */
static ltx_status check_v2(const cJSON *tc)
{
    static const char *const keys[4] = {
        "caption_proj_before_connector", "caption_projection_first_linear",
        "caption_proj_input_norm", "caption_projection_second_linear"};
    static const bool want[4] = {true, false, false, false};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, keys[i]);
        if (!cJSON_IsBool(v) || (bool)cJSON_IsTrue(v) != want[i])
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "text processor: config %s is not %s: only "
                           "FeatureExtractorV2 (LTX-2.3) is ported",
                           keys[i], want[i] ? "true" : "false");
    }
    return LTX_OK;
}

/* D from the tiny checkpoints' note (golden README "Tiny vs real sizes" note 1), else 3840. */
static int default_embedding_dim(const ltx_st_file *st)
{
    int D = 3840; /* ref: GEMMA3_CONFIG_FOR_LTX.text_config.hidden_size */
    const char *note = ltx_st_metadata(st, "golden_note");
    cJSON *j = note ? cJSON_Parse(note) : NULL;
    const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "tiny_gemma_text_config") : NULL;
    if (t && ltx_json_get_i32(t, "hidden_size", 1, LTX_CFG_MAX_SIZE, D, "golden_note", &D) != LTX_OK)
        D = 3840; /* a malformed note is ignored; the projection's width check follows */
    cJSON_Delete(j);
    return D;
}

ltx_status ltx_text_processor_load(ltx_backend *be, const ltx_st_file *ckpt, int embedding_dim,
                                   ltx_text_processor **out)
{
    *out = NULL;
    const char *cfg_text = ltx_st_metadata(ckpt, "config");
    if (!cfg_text) return ltx_err(LTX_ERR_FORMAT, "%s: no config metadata", ltx_st_path(ckpt));
    cJSON *cfg = cJSON_Parse(cfg_text);
    const cJSON *tc = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "transformer") : NULL;
    ltx_text_processor *p = calloc(1, sizeof *p);
    ltx_status s = LTX_OK;
    if (!cfg || !cJSON_IsObject(tc) || !p) {
        s = ltx_err(p ? LTX_ERR_FORMAT : LTX_ERR_OOM, "%s: config has no transformer section",
                    ltx_st_path(ckpt));
        goto done;
    }
    p->be = be;
    p->st = ckpt;
    if ((s = check_v2(tc)) != LTX_OK) goto done;
    /* ref: Embeddings1DConnectorConfigurator / AudioEmbeddings1DConnectorConfigurator */
    const char *rt = ltx_json_str(tc, "rope_type", "interleaved");
    p->rope = !strcmp(rt, "split") ? LTX_ROPE_SPLIT : LTX_ROPE_INTERLEAVED;
    p->f64_grid = !strcmp(ltx_json_str(tc, "frequencies_precision", ""), "float64");
    double mp[4];
    int nmp = ltx_json_num_array(tc, "connector_positional_embedding_max_pos", mp, 4);
    if (nmp > 1) {
        s = ltx_err(LTX_ERR_UNSUPPORTED, "text processor: %d connector max_pos axes", nmp);
        goto done;
    }
    p->max_pos = nmp == 1 ? mp[0] : 1.0;
    p->theta = 10000.0; /* ref: Embeddings1DConnector default; the configurator passes none */
    bool gated = ltx_json_bool(tc, "connector_apply_gated_attention", false);
    static const char *W = "text connector config";
    const int CNT = LTX_CFG_MAX_COUNT, SZ = LTX_CFG_MAX_SIZE;
    int vh = 30, vd = 128, vl = 2, ah, ad, al, h, hd, aah, aahd;
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "connector_num_attention_heads", 1, CNT, 30, W, &vh);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "connector_attention_head_dim", 1, SZ, 128, W, &vd);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "connector_num_layers", 0, CNT, 2, W, &vl);
    if (s == LTX_OK)
        s = ltx_json_get_i32(tc, "audio_connector_num_attention_heads", 1, CNT, vh, W, &ah);
    if (s == LTX_OK)
        s = ltx_json_get_i32(tc, "audio_connector_attention_head_dim", 1, SZ, vd, W, &ad);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "audio_connector_num_layers", 0, CNT, vl, W, &al);
    /* ref: _create_feature_extractor: aggregate embeds to the transformer widths */
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "num_attention_heads", 1, CNT, 32, W, &h);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "attention_head_dim", 1, SZ, 128, W, &hd);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "audio_num_attention_heads", 1, CNT, 32, W, &aah);
    if (s == LTX_OK) s = ltx_json_get_i32(tc, "audio_attention_head_dim", 1, SZ, 64, W, &aahd);
    if (s != LTX_OK) goto done;
    int64_t nv = (int64_t)h * hd, na = (int64_t)aah * aahd;
    p->D = embedding_dim > 0 ? embedding_dim : default_embedding_dim(ckpt);
    const ltx_st_entry *ve =
        ltx_st_find(ckpt, "text_embedding_projection.video_aggregate_embed.weight");
    if (!ve || ve->ndim != 2 || ve->shape[1] % p->D != 0) {
        s = ltx_err(LTX_ERR_FORMAT, "text processor: video_aggregate_embed.weight %s (D = %d)",
                    ve ? "width is not a multiple of D" : "missing", p->D);
        goto done;
    }
    p->L = (int)(ve->shape[1] / p->D);
    int64_t K = ve->shape[1];
    if ((s = get_lin(p, "text_embedding_projection.video_aggregate_embed", nv, K, &p->video_agg)) !=
            LTX_OK ||
        (s = get_lin(p, "text_embedding_projection.audio_aggregate_embed", na, K, &p->audio_agg)) !=
            LTX_OK)
        goto done;
    if (vh * vd != nv || ah * ad != na) {
        s = ltx_err(LTX_ERR_FORMAT,
                    "text processor: connector widths %d/%d vs transformer "
                    "%lld/%lld",
                    vh * vd, ah * ad, (long long)nv, (long long)na);
        goto done;
    }
    s = load_conn(p, "model.diffusion_model.video_embeddings_connector", vh, vd, vl, gated, &p->vc);
    if (s == LTX_OK)
        s = load_conn(p, "model.diffusion_model.audio_embeddings_connector", ah, ad, al, gated,
                      &p->ac);
done:
    cJSON_Delete(cfg);
    if (s != LTX_OK) {
        ltx_text_processor_free(p);
        return s;
    }
    *out = p;
    return LTX_OK;
}

int ltx_text_processor_embedding_dim(const ltx_text_processor *p)
{
    return p->D;
}
int ltx_text_processor_num_states(const ltx_text_processor *p)
{
    return p->L;
}
int ltx_text_processor_video_dim(const ltx_text_processor *p)
{
    return p->vc.width;
}
int ltx_text_processor_audio_dim(const ltx_text_processor *p)
{
    return p->ac.width;
}

/* ---- feature extractor ---- */

ltx_status ltx_text_norm_state(ltx_backend *be, ltx_tensor *normed, int l, int L,
                               const ltx_tensor *h)
{
    int64_t n = h->shape[1], D = h->shape[2];
    if (normed->ndim != 3 || normed->shape[1] != n || normed->shape[2] != D * L || l < 0 || l >= L)
        return ltx_err(LTX_ERR_INVALID_ARG, "text norm: state %d of %d does not fit", l, L);
    /* (1, n, D*L) -> (1, n, D, L)[..., l] as (1, n, 1, D) with stride L along D */
    int64_t s4[4] = {1, n, D, L};
    static const int perm[4] = {0, 1, 3, 2};
    ltx_tensor *v4 = ltx_tensor_reshape(normed, 4, s4);
    ltx_tensor *col = v4 ? ltx_tensor_slice(v4, 3, l, l + 1, 1) : NULL;
    ltx_tensor *dst = col ? ltx_tensor_permute(col, perm) : NULL;
    ltx_tensor *src = dst ? ltx_tensor_unsqueeze(h, 2) : NULL;
    /* ref: encoded * rsqrt(mean(encoded^2 over D) + 1e-6) */
    ltx_status s =
        src ? be->ops->norm(be, LTX_NORM_RMS, dst, src, NULL, NULL, 0, 1e-6f) : ltx_err_failed();
    ltx_tensor_free(v4);
    ltx_tensor_free(col);
    ltx_tensor_free(dst);
    ltx_tensor_free(src);
    return s;
}

/* y (1, n, N) = lin(x * scale) over row chunks. ref: aggregate_embed(_rescale_norm(normed)). */
static ltx_tensor *scaled_linear(ltx_backend *be, const ltx_tensor *x, const tc_lin *l,
                                 double scale)
{
    int64_t n = x->shape[1], K = x->shape[2], N = l->w->shape[0];
    int64_t rows = (int64_t)((64u << 20) / ((size_t)K * sizeof(float)));
    if (rows < 1) rows = 1;
    if (rows > n) rows = n;
    int64_t ys[3] = {1, n, N}, ts[3] = {1, rows, K};
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 3, ys);
    ltx_tensor *tmp = y ? ltx_tensor_new(be, LTX_F32, 3, ts) : NULL;
    ltx_status s = tmp ? LTX_OK : ltx_err_failed();
    for (int64_t r0 = 0; s == LTX_OK && r0 < n; r0 += rows) {
        int64_t r1 = r0 + rows < n ? r0 + rows : n;
        ltx_tensor *xs = ltx_tensor_slice(x, 1, r0, r1, 1);
        ltx_tensor *t = ltx_tensor_slice(tmp, 1, 0, r1 - r0, 1);
        ltx_tensor *yo = ltx_tensor_slice(y, 1, r0, r1, 1);
        s = (xs && t && yo) ? be->ops->unary(be, LTX_UNARY_SCALE, t, xs, scale, 0.0)
                            : ltx_err_failed();
        if (s == LTX_OK) s = be->ops->linear(be, yo, t, l->w, l->b, 1.0f);
        ltx_tensor_free(xs);
        ltx_tensor_free(t);
        ltx_tensor_free(yo);
    }
    ltx_tensor_free(tmp);
    if (s != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

ltx_status ltx_text_processor_features(const ltx_text_processor *p, const ltx_tensor *normed,
                                       ltx_tensor **video, ltx_tensor **audio)
{
    *video = *audio = NULL;
    if (normed->ndim != 3 || normed->shape[2] != (int64_t)p->D * p->L)
        return ltx_err(LTX_ERR_INVALID_ARG, "text features: normed width %lld, want %d x %d",
                       (long long)normed->shape[normed->ndim - 1], p->D, p->L);
    /* ref: _rescale_norm: x * math.sqrt(target_dim / source_dim) (Python double -> f32 op) */
    *video = scaled_linear(p->be, normed, &p->video_agg, sqrt((double)p->vc.width / p->D));
    *audio = *video ? scaled_linear(p->be, normed, &p->audio_agg, sqrt((double)p->ac.width / p->D))
                    : NULL;
    if (!*audio) {
        ltx_tensor_free(*video);
        *video = NULL;
        return ltx_err_context(ltx_err_failed(), "text features: ");
    }
    return LTX_OK;
}

/* ---- connectors ---- */

/* (1, T, H*d) contiguous -> (1, H, T, d) strided view. */
static ltx_tensor *heads_view(const ltx_tensor *x, int heads)
{
    int64_t s4[4] = {x->shape[0], x->shape[1], heads, x->shape[2] / heads};
    static const int perm[4] = {0, 2, 1, 3};
    ltx_tensor *r = ltx_tensor_reshape(x, 4, s4);
    ltx_tensor *v = r ? ltx_tensor_permute(r, perm) : NULL;
    ltx_tensor_free(r);
    return v;
}

/* x += b (in place); frees b. */
static ltx_status add_free(ltx_backend *be, ltx_tensor *x, ltx_tensor *b)
{
    ltx_status s = b ? be->ops->binary(be, LTX_BINARY_ADD, x, x, b) : ltx_err_failed();
    ltx_tensor_free(b);
    return s;
}

/* nn (1, T, W) normed input -> q or k: linear, RMSNorm over W (weight), RoPE -> (1, H, T, d). */
static ltx_tensor *qk(const ltx_text_processor *p, const tc_conn *c, const ltx_tensor *nx,
                      const tc_lin *l, const ltx_tensor *norm_w, const ltx_tensor *cos,
                      const ltx_tensor *sin)
{
    ltx_tensor *y = ltx_nn_linear(p->be, nx, l->w, l->b);
    ltx_tensor *yn = y ? ltx_nn_norm(p->be, LTX_NORM_RMS, y, norm_w, NULL, 0, CONN_EPS) : NULL;
    ltx_tensor *r = yn ? ltx_rope_apply(p->be, p->rope, yn, c->heads, cos, sin) : NULL;
    ltx_tensor_free(y);
    ltx_tensor_free(yn);
    return r;
}

/* ref: Attention.forward (self-attention, no mask: the connector's mask is all zeros after the
 * register substitution) with per-head gates 2*sigmoid(to_gate_logits(x)). */
static ltx_tensor *conn_attention(const ltx_text_processor *p, const tc_conn *c, const tc_block *b,
                                  const ltx_tensor *nx, const ltx_tensor *cos,
                                  const ltx_tensor *sin)
{
    ltx_backend *be = p->be;
    int64_t T = nx->shape[1];
    ltx_tensor *v = ltx_nn_linear(be, nx, b->v.w, b->v.b);
    ltx_tensor *qh = v ? qk(p, c, nx, &b->q, b->q_norm, cos, sin) : NULL;
    ltx_tensor *kh = qh ? qk(p, c, nx, &b->k, b->k_norm, cos, sin) : NULL;
    ltx_tensor *vh = kh ? heads_view(v, c->heads) : NULL;
    ltx_tensor *oh =
        vh ? ltx_nn_attention(be, qh, kh, vh, NULL, (float)(1.0 / sqrt((double)c->d_head))) : NULL;
    ltx_tensor *o = NULL, *out = NULL, *ov = NULL, *gl = NULL;
    ltx_status s = oh ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) {
        static const int perm[4] = {0, 2, 1, 3};
        ov = ltx_tensor_permute(oh, perm); /* (1, T, H, d) */
        o = ov ? ltx_nn_contiguous(be, ov, LTX_F32) : NULL;
        s = o ? LTX_OK : ltx_err_failed();
    }
    if (s == LTX_OK && b->gate.w) {
        gl = ltx_nn_linear(be, nx, b->gate.w, b->gate.b); /* (1, T, H) */
        s = gl ? be->ops->unary(be, LTX_UNARY_SIGMOID, gl, gl, 0, 0) : ltx_err_failed();
        if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, gl, gl, 2.0, 0.0);
        ltx_tensor *g4 = s == LTX_OK ? ltx_tensor_unsqueeze(gl, 3) : NULL; /* (1, T, H, 1) */
        if (s == LTX_OK) s = g4 ? be->ops->binary(be, LTX_BINARY_MUL, o, o, g4) : ltx_err_failed();
        ltx_tensor_free(g4);
    }
    if (s == LTX_OK) {
        int64_t s3[3] = {1, T, c->width};
        ltx_tensor *o3 = ltx_tensor_reshape(o, 3, s3);
        out = o3 ? ltx_nn_linear(be, o3, b->out.w, b->out.b) : NULL;
        ltx_tensor_free(o3);
    }
    ltx_tensor *fr[] = {v, qh, kh, vh, oh, ov, o, gl};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    return out;
}

/* ref: FeedForward: Linear(W, 4W) -> GELU(tanh) -> Linear(4W, W). */
static ltx_tensor *conn_ff(ltx_backend *be, const tc_block *b, const ltx_tensor *nx)
{
    ltx_tensor *h = ltx_nn_linear(be, nx, b->ff1.w, b->ff1.b);
    ltx_status s = h ? be->ops->unary(be, LTX_UNARY_GELU_TANH, h, h, 0, 0) : ltx_err_failed();
    ltx_tensor *y = s == LTX_OK ? ltx_nn_linear(be, h, b->ff2.w, b->ff2.b) : NULL;
    ltx_tensor_free(h);
    return y;
}

/* Register substitution. ref: _replace_padded_with_learnable_registers: valid rows compacted
 * to the front (zero-padded), blended with tile(registers) by the time-FLIPPED binary mask:
 * x[t] = flip[t] ? compact[t] : registers[t mod R], flip[t] = mask[T-1-t]. */
static ltx_tensor *with_registers(const ltx_text_processor *p, const tc_conn *c,
                                  const ltx_tensor *feats, const int32_t *mask, int64_t T)
{
    ltx_backend *be = p->be;
    int64_t R = c->registers->shape[0], n = feats->shape[1];
    int64_t shape[3] = {1, T, c->width};
    ltx_tensor *x = ltx_tensor_zeros(be, LTX_F32, 3, shape);
    ltx_status s = x ? LTX_OK : ltx_err_failed();
    /* runs of consecutive rows with consecutive sources */
    for (int64_t t = 0; s == LTX_OK && t < T;) {
        bool feat = mask[T - 1 - t] != 0;
        int64_t src = feat ? t : t % R, len = 1;
        if (feat && src >= n) { /* compacted row past the valid ones: stays zero */
            t++;
            continue;
        }
        while (t + len < T && (mask[T - 1 - (t + len)] != 0) == feat &&
               (feat ? t + len < n : (t + len) % R == src + len))
            len++;
        const ltx_tensor *from = feat ? feats : c->registers;
        ltx_tensor *d = ltx_tensor_slice(x, 1, t, t + len, 1);
        ltx_tensor *sv = feat ? ltx_tensor_slice(from, 1, src, src + len, 1)
                              : ltx_tensor_slice(from, 0, src, src + len, 1);
        s = (d && sv) ? be->ops->copy(be, d, sv) : ltx_err_failed();
        ltx_tensor_free(d);
        ltx_tensor_free(sv);
        t += len;
    }
    if (s != LTX_OK) {
        ltx_tensor_free(x);
        return NULL;
    }
    return x;
}

/* ref: Embeddings1DConnector.forward. */
static ltx_tensor *run_connector(const ltx_text_processor *p, const tc_conn *c,
                                 const ltx_tensor *feats, const int32_t *mask, int64_t T,
                                 const ltx_taps *taps, const char *tap_prefix)
{
    ltx_backend *be = p->be;
    if (T % c->registers->shape[0] != 0) {
        ltx_err(LTX_ERR_INVALID_ARG,
                "connector: sequence length %lld is not a multiple of "
                "%lld registers",
                (long long)T, (long long)c->registers->shape[0]);
        return NULL;
    }
    ltx_tensor *x = with_registers(p, c, feats, mask, T); /* (1, T, W) */
    /* ref: indices_grid = arange(T) as (1, 1, T); precompute_freqs_cis (1 axis, no middle) */
    float *pos = malloc(sizeof(float) * (size_t)T);
    ltx_tensor *pt = NULL, *cos = NULL, *sin = NULL;
    ltx_status s = !x ? ltx_err_failed() : pos ? LTX_OK : ltx_err(LTX_ERR_OOM, "out of memory");
    if (s == LTX_OK) {
        for (int64_t t = 0; t < T; t++)
            pos[t] = (float)t;
        int64_t ps[3] = {1, 1, T};
        pt = ltx_tensor_from_host(be, LTX_F32, 3, ps, pos);
        ltx_rope_params rp = {.dim = c->width,
                              .heads = c->heads,
                              .n_axes = 1,
                              .max_pos = {p->max_pos},
                              .theta = p->theta,
                              .use_middle = false,
                              .mode = p->rope,
                              .f64_grid = p->f64_grid,
                              .axes = NULL};
        s = pt ? ltx_rope_tables(be, &rp, pt, &cos, &sin) : ltx_err_failed();
    }
    for (int i = 0; s == LTX_OK && i < c->layers; i++) {
        const tc_block *b = &c->blocks[i];
        ltx_tensor *nx = ltx_nn_norm(be, LTX_NORM_RMS, x, NULL, NULL, 0, CONN_EPS);
        s = add_free(be, x, nx ? conn_attention(p, c, b, nx, cos, sin) : NULL);
        ltx_tensor_free(nx);
        nx = s == LTX_OK ? ltx_nn_norm(be, LTX_NORM_RMS, x, NULL, NULL, 0, CONN_EPS) : NULL;
        if (s == LTX_OK) s = add_free(be, x, nx ? conn_ff(be, b, nx) : NULL);
        if (s == LTX_OK && taps) {
            char name[64];
            snprintf(name, sizeof name, "%s.block%d", tap_prefix, i);
            ltx_tap(taps, name, x);
        }
        ltx_tensor_free(nx);
    }
    ltx_tensor *y = s == LTX_OK ? ltx_nn_norm(be, LTX_NORM_RMS, x, NULL, NULL, 0, CONN_EPS) : NULL;
    free(pos);
    ltx_tensor_free(pt);
    ltx_tensor_free(cos);
    ltx_tensor_free(sin);
    ltx_tensor_free(x);
    return y;
}

static ltx_status connect_taps(const ltx_text_processor *p, const ltx_tensor *video,
                               const ltx_tensor *audio, const int32_t *mask, int64_t T,
                               const ltx_taps *taps, ltx_tensor **v_ctx, ltx_tensor **a_ctx,
                               int32_t *bin_mask)
{
    *v_ctx = *a_ctx = NULL;
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++)
        n += mask[t] != 0;
    if (video->ndim != 3 || video->shape[1] != n || video->shape[2] != p->vc.width ||
        audio->ndim != 3 || audio->shape[1] != n || audio->shape[2] != p->ac.width)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "text connect: features must be (1, %lld valid "
                       "tokens, %d / %d)",
                       (long long)n, p->vc.width, p->ac.width);
    *v_ctx = run_connector(p, &p->vc, video, mask, T, taps, "video_connector");
    *a_ctx = *v_ctx ? run_connector(p, &p->ac, audio, mask, T, taps, "audio_connector") : NULL;
    if (!*a_ctx) {
        ltx_tensor_free(*v_ctx);
        *v_ctx = NULL;
        return ltx_err_context(ltx_err_failed(), "text connect: ");
    }
    /* ref: _to_binary_mask: the connector's returned additive mask is all zeros -> binary
     * mask of ones; `encoded * binary_mask` is then the identity and is skipped. */
    for (int64_t t = 0; bin_mask && t < T; t++)
        bin_mask[t] = 1;
    return LTX_OK;
}

ltx_status ltx_text_processor_connect(const ltx_text_processor *p, const ltx_tensor *video,
                                      const ltx_tensor *audio, const int32_t *mask, int64_t T,
                                      ltx_tensor **v_ctx, ltx_tensor **a_ctx, int32_t *bin_mask)
{
    return connect_taps(p, video, audio, mask, T, NULL, v_ctx, a_ctx, bin_mask);
}

/* Runs of rows of x (1, T, C): copies rows with mask != 0 (in order) into y (1, n, C) when
 * `gather`, else fills the rows with mask == 0 with zeros. */
static ltx_status mask_rows(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                            const int32_t *mask, bool gather)
{
    int64_t T = x->shape[1];
    ltx_status s = LTX_OK;
    for (int64_t t = 0, k = 0; s == LTX_OK && t < T;) {
        bool on = mask[t] != 0;
        int64_t len = 1;
        while (t + len < T && (mask[t + len] != 0) == on)
            len++;
        if (on == gather) {
            ltx_tensor *d = gather ? ltx_tensor_slice(y, 1, k, k + len, 1)
                                   : ltx_tensor_slice(y, 1, t, t + len, 1);
            ltx_tensor *src = gather ? ltx_tensor_slice(x, 1, t, t + len, 1) : NULL;
            if (!d || (gather && !src))
                s = ltx_err_failed();
            else
                s = gather ? be->ops->copy(be, d, src) : be->ops->fill(be, d, 0.0);
            ltx_tensor_free(d);
            ltx_tensor_free(src);
        }
        if (on) k += len;
        t += len;
    }
    return s;
}

ltx_status ltx_text_processor_process(const ltx_text_processor *p, const ltx_tensor *const *hidden,
                                      int n_hidden, const int32_t *mask, int64_t T,
                                      const ltx_taps *taps, ltx_tensor **v_ctx, ltx_tensor **a_ctx)
{
    *v_ctx = *a_ctx = NULL;
    ltx_backend *be = p->be;
    if (n_hidden != p->L)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "text process: %d hidden states, the checkpoint's "
                       "feature extractor takes %d",
                       n_hidden, p->L);
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++)
        n += mask[t] != 0;
    int64_t ns[3] = {1, T, (int64_t)p->D * p->L}, vs[3] = {1, n, ns[2]};
    ltx_tensor *normed = ltx_tensor_new(be, LTX_F32, 3, ns);             /* (1, T, D*L) */
    ltx_tensor *nv = normed ? ltx_tensor_new(be, LTX_F32, 3, vs) : NULL; /* (1, n, D*L) */
    ltx_tensor *fv = NULL, *fa = NULL;
    ltx_status s = nv ? LTX_OK : ltx_err_failed();
    for (int l = 0; l < p->L && s == LTX_OK; l++) {
        const ltx_tensor *h = hidden[l];
        if (h->ndim != 3 || h->shape[0] != 1 || h->shape[1] != T || h->shape[2] != p->D)
            s = ltx_err(LTX_ERR_INVALID_ARG, "text process: hidden state %d is not (1, %lld, %d)",
                        l, (long long)T, p->D);
        else
            s = ltx_text_norm_state(be, normed, l, p->L, h);
    }
    /* ref: torch.where(mask, normed, 0) */
    if (s == LTX_OK) s = mask_rows(be, normed, normed, mask, false);
    if (s == LTX_OK) ltx_tap(taps, "feature_extractor.normed", normed);
    if (s == LTX_OK) s = mask_rows(be, nv, normed, mask, true);
    ltx_tensor_free(normed);
    /* Only valid rows go through the aggregate linears: pad rows (= the bias) are replaced
     * by registers in the connectors anyway. */
    if (s == LTX_OK) s = ltx_text_processor_features(p, nv, &fv, &fa);
    if (s == LTX_OK) s = connect_taps(p, fv, fa, mask, T, taps, v_ctx, a_ctx, NULL);
    ltx_tensor_free(nv);
    ltx_tensor_free(fv);
    ltx_tensor_free(fa);
    return s;
}
