/*
 * gemma3.c — Gemma 3 text decoder forward (see gemma3.h).
 *
 * ref: transformers models/gemma3/modeling_gemma3.py (v4.57): Gemma3TextScaledWordEmbedding,
 * Gemma3RMSNorm, Gemma3RotaryEmbedding, Gemma3Attention (eager), Gemma3MLP,
 * Gemma3DecoderLayer, Gemma3TextModel.forward; LTX's buffers: ltx_core/text_encoders/gemma/
 * encoders/encoder_configurator.py create_and_populate (embed_scale, both inv_freq tables).
 * Config parsing lives in gemma3_config.c.
 * Not here: tokenization (src/tokenizer/); the LM head, KV cache and text generation (prompt
 * enhancement: gemma3_generate.c, sharing this file's layer pieces through gemma3_internal.h);
 * the rows of left padding, which are skipped rather than computed.
 */
#include "models/gemma3.h"
#include "models/gemma3_internal.h"

#include "nn/nn.h"
#include "nn/rope.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- weight names and checks ---- */

/* Per-layer weight names, in the order of the W_* enum (gemma3_internal.h). */
static const char *const LAYER_W[] = {
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "self_attn.q_norm.weight",
    "self_attn.k_norm.weight",
    "post_attention_layernorm.weight",
    "pre_feedforward_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
    "post_feedforward_layernorm.weight",
};

void ltx_gemma3_layer_name(const ltx_gemma3 *m, int layer, int w, char *out, size_t cap)
{
    snprintf(out, cap, "%slayers.%d.%s", m->prefix, layer, LAYER_W[w]);
}

/* Expected shape of layer weight w: (d0) or (d0, d1). */
static int layer_shape(const ltx_gemma3_config *c, int w, int64_t *d)
{
    int64_t D = c->hidden_size, q = (int64_t)c->num_heads * c->head_dim,
            kv = (int64_t)c->num_kv_heads * c->head_dim, I = c->intermediate_size;
    switch (w) {
    case W_Q:
        d[0] = q, d[1] = D;
        return 2;
    case W_K:
    case W_V:
        d[0] = kv, d[1] = D;
        return 2;
    case W_O:
        d[0] = D, d[1] = q;
        return 2;
    case W_QN:
    case W_KN:
        d[0] = c->head_dim;
        return 1;
    case W_GATE:
    case W_UP:
        d[0] = I, d[1] = D;
        return 2;
    case W_DOWN:
        d[0] = D, d[1] = I;
        return 2;
    default:
        d[0] = D;
        return 1;
    }
}

static ltx_status check_entry(const ltx_gemma3 *m, const char *name, int ndim, const int64_t *d)
{
    const ltx_st_entry *e = ltx_st_find(m->st, name);
    if (!e)
        return ltx_err(LTX_ERR_FORMAT, "gemma3 %s: tensor %s missing", ltx_st_path(m->st), name);
    /* float, or block-quantized (GGUF) for the matrices */
    bool ok = e->ndim == ndim &&
              (ltx_dtype_is_float(e->dtype) || (ndim == 2 && ltx_dtype_is_quant(e->dtype)));
    for (int i = 0; ok && i < ndim; i++)
        ok = e->shape[i] == d[i];
    if (!ok)
        return ltx_err(LTX_ERR_FORMAT,
                       "gemma3 %s: tensor %s has dtype %s / rank %d (want float, "
                       "shape [%lld%s%lld])",
                       ltx_st_path(m->st), name, ltx_dtype_name(e->dtype), e->ndim, (long long)d[0],
                       ndim > 1 ? ", " : "", ndim > 1 ? (long long)d[1] : 0LL);
    return LTX_OK;
}

ltx_status ltx_gemma3_open(ltx_backend *be, const char *dir, ltx_gemma3 **out)
{
    *out = NULL;
    ltx_gemma3 *m = calloc(1, sizeof *m);
    if (!m) return ltx_err(LTX_ERR_OOM, "gemma3: out of memory");
    m->be = be;
    ltx_status s = ltx_gemma3_config_read(dir, &m->cfg);
    if (s == LTX_OK) s = ltx_st_open_dir(dir, &m->st);
    if (s != LTX_OK) goto fail;
    m->prefix = ltx_st_find(m->st, "language_model.model.embed_tokens.weight")
                    ? "language_model.model."
                    : "model.";
    const ltx_gemma3_config *c = &m->cfg;
    char name[160];
    int64_t d[2] = {c->vocab_size, c->hidden_size};
    snprintf(name, sizeof name, "%sembed_tokens.weight", m->prefix);
    if ((s = check_entry(m, name, 2, d)) != LTX_OK) goto fail;
    for (int l = 0; l < c->num_layers; l++)
        for (int w = 0; w < W_COUNT; w++) {
            ltx_gemma3_layer_name(m, l, w, name, sizeof name);
            int nd = layer_shape(c, w, d);
            if ((s = check_entry(m, name, nd, d)) != LTX_OK) goto fail;
        }
    snprintf(name, sizeof name, "%snorm.weight", m->prefix);
    d[0] = c->hidden_size;
    if ((s = check_entry(m, name, 1, d)) != LTX_OK) goto fail;
    *out = m;
    return LTX_OK;
fail:
    ltx_gemma3_close(m);
    return s;
}

void ltx_gemma3_close(ltx_gemma3 *m)
{
    if (!m) return;
    ltx_st_close(m->st);
    free(m);
}

const ltx_gemma3_config *ltx_gemma3_get_config(const ltx_gemma3 *m)
{
    return &m->cfg;
}

/* ---- helpers ---- */

/* Drops the whole pages of a mapped tensor from this process (the file still backs them, so a
 * later read faults them back in): keeps resident memory at about one layer's weights. */
static void gemma3_release_mapped(const ltx_st_entry *e)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (!e || ps <= 0 || e->nbytes < (size_t)ps) return;
    uintptr_t a = ((uintptr_t)e->data + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
    uintptr_t b = ((uintptr_t)e->data + e->nbytes) & ~((uintptr_t)ps - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Asks the kernel to start reading layer l's mapped weights (asynchronous readahead), so a
 * model that is not in the page cache streams from disk while the previous layer computes.
 * Measured (4 layers at 12B shapes with real bytes, 20 tokens, page cache dropped, 2 shared
 * cores, 5 interleaved runs): median 3.1 s with vs 3.9 s without (warm cache: 1.8 s). It
 * touches only the page cache, not this process's resident set. */
static void prefetch_layer(const ltx_gemma3 *m, int l)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (l >= m->cfg.num_layers || ps <= 0) return;
    char name[160];
    for (int w = 0; w < W_COUNT; w++) {
        ltx_gemma3_layer_name(m, l, w, name, sizeof name);
        const ltx_st_entry *e = ltx_st_find(m->st, name);
        if (!e || !e->nbytes) continue;
        uintptr_t a = (uintptr_t)e->data & ~((uintptr_t)ps - 1);
        uintptr_t b = (uintptr_t)e->data + e->nbytes;
        (void)madvise((void *)a, b - a, MADV_WILLNEED);
    }
}

/* Gemma RMSNorm weight as the f32 (1 + w) the module multiplies by. ref: Gemma3RMSNorm:
 * output * (1.0 + self.weight.float()). */
ltx_tensor *ltx_gemma3_norm_weight(const ltx_gemma3 *m, const char *name)
{
    int64_t n = 0;
    float *w = ltx_st_read_f32(m->st, name, &n);
    if (!w) return NULL;
    for (int64_t i = 0; i < n; i++)
        w[i] = 1.0f + w[i];
    ltx_tensor *t = ltx_tensor_from_host(m->be, LTX_F32, 1, &n, w);
    free(w);
    return t;
}

/* ref: Gemma3RMSNorm — x * rsqrt(mean(x^2) + eps) * (1 + w), all in f32. */
ltx_tensor *ltx_gemma3_norm(const ltx_gemma3 *m, const ltx_tensor *x, const ltx_tensor *w1)
{
    return ltx_nn_norm(m->be, LTX_NORM_RMS, x, w1, NULL, 0, (float)m->cfg.rms_norm_eps);
}

/* dst += b (in place). */
static ltx_status add_into(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *b)
{
    if (!b) return ltx_err_failed();
    return be->ops->binary(be, LTX_BINARY_ADD, dst, dst, b);
}

/* Per-forward state. */
typedef struct fwd {
    ltx_tensor *cos[2], *sin[2]; /* [0] local, [1] global: (1, 1, n, head_dim/2) */
    ltx_tensor *mask[2];         /* additive (1, 1, n, n) */
    float scale;                 /* query_pre_attn_scalar^-0.5 */
} fwd;

/* RoPE tables for the positions pos[0..n) (host). ref: Gemma3RotaryEmbedding.forward: freqs =
 * inv_freq @ positions in f32, emb = cat(freqs, freqs) (rotate_half = the split pair layout),
 * cos/sin in f32 (attention_scaling 1 for default/linear). inv_freq as create_and_populate /
 * _compute_default_rope_parameters: 1 / base^(arange(0, dim, 2) / dim) in f32, then divided by
 * the linear factor. */
ltx_status ltx_gemma3_rope_tables_pos(const ltx_gemma3 *m, const int64_t *pos, int64_t n,
                                      bool global, ltx_tensor **cos_t, ltx_tensor **sin_t)
{
    const ltx_gemma3_config *c = &m->cfg;
    int half = c->head_dim / 2;
    *cos_t = *sin_t = NULL;
    float *cs = malloc(sizeof(float) * (size_t)(n * half) * 2), inv[1024];
    if (!cs || half > 1024) {
        free(cs);
        return ltx_err(LTX_ERR_OOM, "gemma3: rope tables");
    }
    float base = (float)(global ? c->rope_theta : c->rope_local_base);
    for (int i = 0; i < half; i++) {
        float e = (float)(2 * i) / (float)c->head_dim;
        inv[i] = 1.0f / powf(base, e);
        if (global && c->rope_linear_factor != 1.0) inv[i] = inv[i] / (float)c->rope_linear_factor;
    }
    float *sn = cs + n * half;
    for (int64_t t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            float a = (float)pos[t] * inv[i];
            cs[t * half + i] = cosf(a);
            sn[t * half + i] = sinf(a);
        }
    int64_t shape[4] = {1, 1, n, half};
    *cos_t = ltx_tensor_from_host(m->be, LTX_F32, 4, shape, cs);
    *sin_t = ltx_tensor_from_host(m->be, LTX_F32, 4, shape, sn);
    free(cs);
    return (*cos_t && *sin_t) ? LTX_OK : ltx_err(LTX_ERR_OOM, "gemma3: rope tables upload");
}

/* Tables for the consecutive positions row0..row0+n-1 (the text-encoder forward). */
static ltx_status rope_tables(const ltx_gemma3 *m, int64_t row0, int64_t n, bool global,
                              ltx_tensor **cos_t, ltx_tensor **sin_t)
{
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)n);
    if (!pos) return ltx_err(LTX_ERR_OOM, "gemma3: rope positions");
    for (int64_t t = 0; t < n; t++)
        pos[t] = row0 + t;
    ltx_status s = ltx_gemma3_rope_tables_pos(m, pos, n, global, cos_t, sin_t);
    free(pos);
    return s;
}

/* Additive mask (1, 1, n, n): key j visible from query i iff j <= i, mask[j] != 0 and (sliding)
 * i - j < window. ref: transformers masking_utils causal / sliding_window_causal + padding mask;
 * the eager path adds finfo(f32).min to hidden entries (a fully hidden row becomes uniform). */
static ltx_tensor *attn_mask(const ltx_gemma3 *m, const int32_t *km, int64_t n, bool sliding)
{
    float *a = malloc(sizeof(float) * (size_t)(n * n));
    if (!a) {
        ltx_err(LTX_ERR_OOM, "gemma3: attention mask (%lld tokens)", (long long)n);
        return NULL;
    }
    int64_t w = m->cfg.sliding_window;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            bool vis = j <= i && (!km || km[j] != 0) && (!sliding || i - j < w);
            a[i * n + j] = vis ? 0.0f : -FLT_MAX;
        }
    int64_t shape[4] = {1, 1, n, n};
    ltx_tensor *t = ltx_tensor_from_host(m->be, LTX_F32, 4, shape, a);
    free(a);
    return t;
}

/* (1, n, H*hd) contiguous -> (1, H, n, hd) strided view. */
ltx_tensor *ltx_gemma3_heads_view(const ltx_tensor *x, int heads)
{
    int64_t s4[4] = {x->shape[0], x->shape[1], heads, x->shape[2] / heads};
    static const int perm[4] = {0, 2, 1, 3};
    ltx_tensor *r = ltx_tensor_reshape(x, 4, s4);
    ltx_tensor *p = r ? ltx_tensor_permute(r, perm) : NULL;
    ltx_tensor_free(r);
    return p;
}

/* Per-head q/k norm then RoPE: x (1, n, H*hd) -> (1, H, n, hd). ref: Gemma3Attention:
 * q_norm/k_norm over head_dim on (B, T, H, hd), then apply_rotary_pos_emb. */
ltx_tensor *ltx_gemma3_norm_rope(const ltx_gemma3 *m, const ltx_tensor *x, const ltx_tensor *w1,
                                 int heads, const ltx_tensor *cos, const ltx_tensor *sin)
{
    int64_t n = x->shape[1], hd = m->cfg.head_dim;
    int64_t s4[4] = {1, n, heads, hd}, s3[3] = {1, n, heads * hd};
    ltx_tensor *x4 = ltx_tensor_reshape(x, 4, s4);
    ltx_tensor *n4 = x4 ? ltx_gemma3_norm(m, x4, w1) : NULL;
    ltx_tensor *n3 = n4 ? ltx_tensor_reshape(n4, 3, s3) : NULL;
    ltx_tensor *r = n3 ? ltx_rope_apply(m->be, LTX_ROPE_SPLIT, n3, heads, cos, sin) : NULL;
    ltx_tensor_free(x4);
    ltx_tensor_free(n4);
    ltx_tensor_free(n3);
    return r;
}

/* ref: Gemma3Attention.forward (eager): softmax(q k^T * scale + mask) v, GQA by repeat_kv. */
static ltx_tensor *self_attention(const ltx_gemma3 *m, const fwd *f, bool global,
                                  const ltx_tensor *a, ltx_tensor *const *w, const ltx_tensor *qn1,
                                  const ltx_tensor *kn1)
{
    ltx_backend *be = m->be;
    const ltx_gemma3_config *c = &m->cfg;
    int g = global ? 1 : 0;
    ltx_tensor *q = ltx_nn_linear(be, a, w[W_Q], NULL);            /* (1, n, H*hd) */
    ltx_tensor *k = q ? ltx_nn_linear(be, a, w[W_K], NULL) : NULL; /* (1, n, Hk*hd) */
    ltx_tensor *v = k ? ltx_nn_linear(be, a, w[W_V], NULL) : NULL;
    ltx_tensor *qh = v ? ltx_gemma3_norm_rope(m, q, qn1, c->num_heads, f->cos[g], f->sin[g]) : NULL;
    ltx_tensor *kh =
        qh ? ltx_gemma3_norm_rope(m, k, kn1, c->num_kv_heads, f->cos[g], f->sin[g]) : NULL;
    /* GQA: k/v keep their num_kv_heads heads; the attention op shares each among
     * num_heads / num_kv_heads query heads (ref: repeat_kv), without copying. */
    ltx_tensor *vh = kh ? ltx_gemma3_heads_view(v, c->num_kv_heads) : NULL;
    /* (1, H, n, hd) */
    ltx_tensor *oh = vh ? ltx_nn_attention(be, qh, kh, vh, f->mask[g], f->scale) : NULL;
    ltx_tensor *out = NULL;
    if (oh) {
        static const int perm[4] = {0, 2, 1, 3};
        ltx_tensor *ov = ltx_tensor_permute(oh, perm);
        ltx_tensor *oc = ov ? ltx_nn_contiguous(be, ov, LTX_F32) : NULL; /* (1, n, H, hd) */
        int64_t s3[3] = {1, oh->shape[2], (int64_t)c->num_heads * c->head_dim};
        ltx_tensor *o = oc ? ltx_tensor_reshape(oc, 3, s3) : NULL;
        out = o ? ltx_nn_linear(be, o, w[W_O], NULL) : NULL; /* (1, n, D) */
        ltx_tensor_free(ov);
        ltx_tensor_free(oc);
        ltx_tensor_free(o);
    }
    ltx_tensor_free(q);
    ltx_tensor_free(k);
    ltx_tensor_free(v);
    ltx_tensor_free(qh);
    ltx_tensor_free(kh);
    ltx_tensor_free(vh);
    ltx_tensor_free(oh);
    return out;
}

/* ref: Gemma3MLP: down(gelu_tanh(gate(x)) * up(x)). */
ltx_tensor *ltx_gemma3_mlp(const ltx_gemma3 *m, const ltx_tensor *x, ltx_tensor *const *w)
{
    ltx_backend *be = m->be;
    ltx_tensor *gt = ltx_nn_linear(be, x, w[W_GATE], NULL); /* (1, n, I) */
    ltx_tensor *up = gt ? ltx_nn_linear(be, x, w[W_UP], NULL) : NULL;
    ltx_status s = up ? be->ops->unary(be, LTX_UNARY_GELU_TANH, gt, gt, 0, 0) : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, gt, gt, up);
    ltx_tensor *y = s == LTX_OK ? ltx_nn_linear(be, gt, w[W_DOWN], NULL) : NULL;
    ltx_tensor_free(gt);
    ltx_tensor_free(up);
    return y;
}

/* One decoder layer on h (1, n, D), in place. ref: Gemma3DecoderLayer.forward:
 *   h = h + post_attention_layernorm(attn(input_layernorm(h)))
 *   h = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))) */
static ltx_status layer_forward(ltx_gemma3 *m, int l, ltx_tensor *h, const fwd *f)
{
    ltx_backend *be = m->be;
    ltx_tensor *w[W_COUNT] = {0};
    ltx_tensor *a = NULL, *o = NULL, *mi = NULL, *y = NULL;
    ltx_status s = LTX_OK;
    char name[160];
    for (int i = 0; i < W_COUNT && s == LTX_OK; i++) {
        ltx_gemma3_layer_name(m, l, i, name, sizeof name);
        const ltx_st_entry *e = ltx_st_find(m->st, name);
        w[i] = e && e->ndim == 2 ? ltx_st_tensor(m->st, be, name) : ltx_gemma3_norm_weight(m, name);
        if (!w[i]) s = ltx_err_failed();
    }
    if (s != LTX_OK) goto done;
    bool global = !m->cfg.sliding[l];
    a = ltx_gemma3_norm(m, h, w[W_IN_NORM]);
    o = a ? self_attention(m, f, global, a, w, w[W_QN], w[W_KN]) : NULL;
    ltx_tensor *on = o ? ltx_gemma3_norm(m, o, w[W_POST_ATTN]) : NULL;
    s = add_into(be, h, on);
    ltx_tensor_free(on);
    if (s != LTX_OK) goto done;
    mi = ltx_gemma3_norm(m, h, w[W_PRE_FF]);
    y = mi ? ltx_gemma3_mlp(m, mi, w) : NULL;
    ltx_tensor *yn = y ? ltx_gemma3_norm(m, y, w[W_POST_FF]) : NULL;
    s = add_into(be, h, yn);
    ltx_tensor_free(yn);
done:
    if (s != LTX_OK) s = ltx_err_context(s, "gemma3 layer %d: ", l);
    ltx_tensor_free(a);
    ltx_tensor_free(o);
    ltx_tensor_free(mi);
    ltx_tensor_free(y);
    for (int i = 0; i < W_COUNT; i++) {
        ltx_tensor_free(w[i]);
        ltx_gemma3_layer_name(m, l, i, name, sizeof name);
        gemma3_release_mapped(ltx_st_find(m->st, name));
    }
    return s;
}

/* h0 = embed_tokens[ids] * embed_scale, rows gathered from the mapped table (never copied
 * whole). ref: Gemma3TextScaledWordEmbedding: embedding * embed_scale.to(weight dtype);
 * LTX registers embed_scale = float32 sqrt(hidden) (the golden multiplies in f32; the bf16
 * reference run rounds it to bf16, 62.0 for 3840, a 0.05 % difference in h0). */
static ltx_tensor *embed(const ltx_gemma3 *m, const int32_t *ids, int64_t n)
{
    const ltx_gemma3_config *c = &m->cfg;
    char name[160];
    snprintf(name, sizeof name, "%sembed_tokens.weight", m->prefix);
    const ltx_st_entry *e = ltx_st_find(m->st, name);
    int64_t D = c->hidden_size;
    float *buf = malloc(sizeof(float) * (size_t)(n * D));
    if (!e || !buf) {
        free(buf);
        ltx_err(LTX_ERR_OOM, "gemma3: embedding rows");
        return NULL;
    }
    float scale = sqrtf((float)D);
    size_t row_bytes = ltx_dtype_bytes(e->dtype, D); /* per block for quantized tables */
    for (int64_t t = 0; t < n; t++) {
        if (ids[t] < 0 || ids[t] >= e->shape[0]) {
            free(buf);
            ltx_err(LTX_ERR_INVALID_ARG, "gemma3: token id %d outside the vocabulary (%lld)",
                    ids[t], (long long)e->shape[0]);
            return NULL;
        }
        float *row = buf + t * D;
        ltx_convert(row, LTX_F32, (const char *)e->data + (size_t)ids[t] * row_bytes, e->dtype,
                    (size_t)D);
        for (int64_t d = 0; d < D; d++)
            row[d] *= scale;
    }
    int64_t shape[3] = {1, n, D};
    ltx_tensor *h = ltx_tensor_from_host(m->be, LTX_F32, 3, shape, buf);
    free(buf);
    return h;
}

ltx_status ltx_gemma3_forward(ltx_gemma3 *m, const int32_t *ids, const int32_t *mask, int64_t T,
                              ltx_gemma3_hidden_fn hidden, ltx_gemma3_layer_fn on_layer, void *user)
{
    const ltx_gemma3_config *c = &m->cfg;
    if (!ids || !hidden || T <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "gemma3 forward: no ids / hidden-state callback");
    /* Skip the leading pads. Why this is exact for every row LTX uses: a valid query row never
     * sees a pad key (the padding mask), so its values do not depend on the pad rows; the pad
     * rows themselves are zeroed by the feature extractor (torch.where) and never reach the
     * output. Positions stay those of the padded sequence (ref: cache_position = arange(T)),
     * so the first valid token keeps position row0, not 0. */
    int64_t row0 = 0;
    while (mask && row0 < T && mask[row0] == 0)
        row0++;
    int64_t n = T - row0;
    if (n <= 0) return ltx_err(LTX_ERR_INVALID_ARG, "gemma3: no valid token in %lld", (long long)T);
    fwd f = {.scale = (float)(1.0 / sqrt(c->query_pre_attn_scalar))};
    ltx_tensor *h = NULL, *fin = NULL, *wn = NULL;
    ltx_status s = LTX_OK;
    /* RoPE tables and masks per attention type, built once per forward and shared by the
     * layers of that type ([0] sliding/local, [1] full/global). */
    bool any[2] = {false, false};
    for (int l = 0; l < c->num_layers; l++)
        any[c->sliding[l] ? 0 : 1] = true;
    for (int g = 0; g < 2 && s == LTX_OK; g++) {
        if (!any[g]) continue;
        s = rope_tables(m, row0, n, g == 1, &f.cos[g], &f.sin[g]);
        if (s == LTX_OK) f.mask[g] = attn_mask(m, mask ? mask + row0 : NULL, n, g == 0);
        if (s == LTX_OK && !f.mask[g]) s = ltx_err_failed();
    }
    if (s == LTX_OK) {
        h = embed(m, ids + row0, n); /* (1, n, D) */
        s = h ? hidden(user, 0, h, row0) : ltx_err_failed();
    }
    /* Layer by layer: each layer maps its weights, runs, and lets them go (layer_forward), so
     * only one layer is resident at a time. h is updated in place. */
    prefetch_layer(m, 0);
    for (int l = 0; l < c->num_layers && s == LTX_OK; l++) {
        prefetch_layer(m, l + 1); /* overlaps the next layer's disk reads with this one */
        s = layer_forward(m, l, h, &f);
        if (s == LTX_OK && on_layer) on_layer(user, l);
        if (s == LTX_OK && l + 1 < c->num_layers) s = hidden(user, l + 1, h, row0);
    }
    if (s == LTX_OK) {
        /* ref: Gemma3TextModel.forward appends norm(h) as the last hidden state. */
        char name[160];
        snprintf(name, sizeof name, "%snorm.weight", m->prefix);
        wn = ltx_gemma3_norm_weight(m, name);
        fin = wn ? ltx_gemma3_norm(m, h, wn) : NULL;
        s = fin ? hidden(user, c->num_layers, fin, row0) : ltx_err_failed();
    }
    for (int g = 0; g < 2; g++) {
        ltx_tensor_free(f.cos[g]);
        ltx_tensor_free(f.sin[g]);
        ltx_tensor_free(f.mask[g]);
    }
    ltx_tensor_free(h);
    ltx_tensor_free(fin);
    ltx_tensor_free(wn);
    return s;
}
