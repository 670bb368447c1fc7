/*
 * gemma3_generate.c — KV-cached Gemma 3 decoding: chunked prefill, one-token steps, tied LM head
 * (see gemma3_generate.h for the reference behaviour reproduced).
 *
 * ref: transformers models/gemma3/modeling_gemma3.py (Gemma3DecoderLayer, Gemma3Attention
 * with past_key_values, Gemma3ForConditionalGeneration.forward), masking_utils.py,
 * cache_utils.py, generation/utils.py. The layer pieces (norms, q/k norm + RoPE, MLP) are
 * gemma3.c's (gemma3_internal.h).
 * Not here: sampling (sampling/token_sampler.c), tokenization and the vision tower.
 */
#include "models/gemma3_generate.h"

#include "models/gemma3_internal.h"
#include "nn/nn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slot bookkeeping of one cache kind ([0] sliding-window layers, [1] full-attention layers). */
typedef struct kv_meta {
    int64_t cap;    /* slots */
    int64_t *seq;   /* sequence index of the key in each slot, -1 = empty */
    uint8_t *valid; /* its attention-mask value */
    int32_t *grp;   /* its image group (0 = not an image token) */
} kv_meta;

struct ltx_gemma3_gen {
    ltx_gemma3 *m;
    int L;                     /* layers */
    ltx_tensor *(*w)[W_COUNT]; /* per layer: matrices as stored, norms as (1 + w) f32 */
    ltx_tensor **kc, **vc;     /* per layer caches (1, Hk, cap, hd) f32 */
    ltx_tensor *final_norm, *lm_head;
    kv_meta meta[2];
    int64_t n_seq;   /* tokens consumed = sequence index of the next one */
    int64_t n_valid; /* mask-1 tokens consumed = position of the next decoded token */
    int64_t steps_left;
};

/* ---- open / close ---- */

ltx_status ltx_gemma3_gen_open(ltx_gemma3 *m, ltx_gemma3_gen **out)
{
    *out = NULL;
    ltx_gemma3_gen *g = calloc(1, sizeof *g);
    if (!g) return ltx_err(LTX_ERR_OOM, "gemma3 generate: out of memory");
    g->m = m;
    g->L = m->cfg.num_layers;
    g->w = calloc((size_t)g->L, sizeof *g->w);
    g->kc = calloc((size_t)g->L, sizeof *g->kc);
    g->vc = calloc((size_t)g->L, sizeof *g->vc);
    ltx_status s = g->w && g->kc && g->vc ? LTX_OK : ltx_err(LTX_ERR_OOM, "gemma3 generate");
    char name[160];
    for (int l = 0; l < g->L && s == LTX_OK; l++)
        for (int i = 0; i < W_COUNT && s == LTX_OK; i++) {
            ltx_gemma3_layer_name(m, l, i, name, sizeof name);
            const ltx_st_entry *e = ltx_st_find(m->st, name);
            g->w[l][i] = e && e->ndim == 2 ? ltx_st_tensor(m->st, m->be, name)
                                           : ltx_gemma3_norm_weight(m, name);
            if (!g->w[l][i]) s = ltx_err_context(ltx_err_failed(), "gemma3 generate: %s: ", name);
        }
    if (s == LTX_OK) {
        snprintf(name, sizeof name, "%snorm.weight", m->prefix);
        g->final_norm = ltx_gemma3_norm_weight(m, name);
        /* ref: lm_head is tied to embed_tokens (LTX's GEMMA_LLM_KEY_OPS duplicates it) */
        snprintf(name, sizeof name, "%sembed_tokens.weight", m->prefix);
        g->lm_head = ltx_st_tensor(m->st, m->be, name);
        if (!g->final_norm || !g->lm_head)
            s = ltx_err_context(ltx_err_failed(), "gemma3 generate: ");
    }
    if (s != LTX_OK) {
        ltx_gemma3_gen_close(g);
        return s;
    }
    *out = g;
    return LTX_OK;
}

static void free_caches(ltx_gemma3_gen *g)
{
    for (int l = 0; l < g->L; l++) {
        ltx_tensor_free(g->kc[l]);
        ltx_tensor_free(g->vc[l]);
        g->kc[l] = g->vc[l] = NULL;
    }
    for (int k = 0; k < 2; k++) {
        free(g->meta[k].seq);
        free(g->meta[k].valid);
        free(g->meta[k].grp);
        memset(&g->meta[k], 0, sizeof g->meta[k]);
    }
}

void ltx_gemma3_gen_close(ltx_gemma3_gen *g)
{
    if (!g) return;
    if (g->kc && g->vc) free_caches(g);
    for (int l = 0; g->w && l < g->L; l++)
        for (int i = 0; i < W_COUNT; i++)
            ltx_tensor_free(g->w[l][i]);
    ltx_tensor_free(g->final_norm);
    ltx_tensor_free(g->lm_head);
    free(g->w);
    free(g->kc);
    free(g->vc);
    free(g);
}

int64_t ltx_gemma3_gen_vocab(const ltx_gemma3_gen *g)
{
    return g->lm_head->shape[0];
}

/* Caches for a sequence of at most total tokens and chunks of at most max_chunk. */
static ltx_status alloc_caches(ltx_gemma3_gen *g, int64_t total, int64_t max_chunk)
{
    const ltx_gemma3_config *c = &g->m->cfg;
    free_caches(g);
    int64_t win = c->sliding_window - 1 + max_chunk;
    g->meta[1].cap = total;
    g->meta[0].cap = win < total ? win : total;
    for (int k = 0; k < 2; k++) {
        kv_meta *mt = &g->meta[k];
        mt->seq = malloc(sizeof(int64_t) * (size_t)mt->cap);
        mt->valid = calloc((size_t)mt->cap, 1);
        mt->grp = calloc((size_t)mt->cap, sizeof(int32_t));
        if (!mt->seq || !mt->valid || !mt->grp) return ltx_err(LTX_ERR_OOM, "gemma3 kv cache");
        for (int64_t j = 0; j < mt->cap; j++)
            mt->seq[j] = -1;
    }
    for (int l = 0; l < g->L; l++) {
        /* zeros: empty slots are masked, and must hold finite values (0 * NaN would poison) */
        int64_t sh[4] = {1, c->num_kv_heads, g->meta[c->sliding[l] ? 0 : 1].cap, c->head_dim};
        g->kc[l] = ltx_tensor_zeros(g->m->be, LTX_F32, 4, sh);
        g->vc[l] = ltx_tensor_zeros(g->m->be, LTX_F32, 4, sh);
        if (!g->kc[l] || !g->vc[l])
            return ltx_err(LTX_ERR_OOM, "gemma3 kv cache: layer %d (%lld slots)", l,
                           (long long)sh[2]);
    }
    g->n_seq = g->n_valid = 0;
    return LTX_OK;
}

/* ---- one chunk ---- */

/* Per-chunk state shared by the layers. */
typedef struct chunk {
    int64_t s0, n;
    ltx_tensor *cos[2], *sin[2], *mask[2];
    int64_t used[2]; /* slots the attention reads */
} chunk_ctx;

static void chunk_free(chunk_ctx *c)
{
    for (int k = 0; k < 2; k++) {
        ltx_tensor_free(c->cos[k]);
        ltx_tensor_free(c->sin[k]);
        ltx_tensor_free(c->mask[k]);
    }
}

/* Additive mask (1, 1, n, used) of one cache kind for queries s0..s0+n-1 (groups qgrp).
 * ref: masking_utils: causal (sliding: i - window < j <= i, by sequence index) AND the key's
 * attention mask, OR (prefill) both tokens in the same image; hidden = finfo(f32).min. */
static ltx_tensor *build_mask(const ltx_gemma3_gen *g, int kind, const chunk_ctx *c,
                              const int32_t *qgrp)
{
    const kv_meta *mt = &g->meta[kind];
    int64_t used = c->used[kind], W = g->m->cfg.sliding_window;
    float *a = malloc(sizeof(float) * (size_t)(c->n * used));
    if (!a) {
        ltx_err(LTX_ERR_OOM, "gemma3 attention mask: out of memory");
        return NULL;
    }
    for (int64_t t = 0; t < c->n; t++) {
        int64_t i = c->s0 + t;
        for (int64_t j = 0; j < used; j++) {
            int64_t sj = mt->seq[j];
            bool vis = sj >= 0 && mt->valid[j] && sj <= i && (kind == 1 || i - sj < W);
            if (sj >= 0 && qgrp[t] > 0 && mt->grp[j] == qgrp[t]) vis = true;
            a[t * used + j] = vis ? 0.0f : -FLT_MAX;
        }
    }
    int64_t sh[4] = {1, 1, c->n, used};
    ltx_tensor *m = ltx_tensor_from_host(g->m->be, LTX_F32, 4, sh, a);
    free(a);
    return m;
}

/* Records the chunk's keys in the slot tables, then builds RoPE tables and masks. */
static ltx_status chunk_setup(ltx_gemma3_gen *g, chunk_ctx *c, const int64_t *pos,
                              const int32_t *mask, const int32_t *grp)
{
    for (int k = 0; k < 2; k++) {
        kv_meta *mt = &g->meta[k];
        for (int64_t t = 0; t < c->n; t++) {
            int64_t slot = (c->s0 + t) % mt->cap;
            mt->seq[slot] = c->s0 + t;
            mt->valid[slot] = mask[t] != 0;
            mt->grp[slot] = grp[t];
        }
        c->used[k] = c->s0 + c->n < mt->cap ? c->s0 + c->n : mt->cap;
        LTX_TRY(ltx_gemma3_rope_tables_pos(g->m, pos, c->n, k == 1, &c->cos[k], &c->sin[k]));
        c->mask[k] = build_mask(g, k, c, grp);
        if (!c->mask[k]) return ltx_err(LTX_ERR_OOM, "gemma3 generate: attention mask");
    }
    return LTX_OK;
}

/* cache[:, :, slots of s0..s0+n-1] = x (1, Hk, n, hd); the ring wraps in at most two copies. */
static ltx_status cache_write(ltx_backend *be, ltx_tensor *cache, int64_t cap, const ltx_tensor *x,
                              int64_t s0, int64_t n)
{
    int64_t a = s0 % cap, first = n < cap - a ? n : cap - a;
    ltx_status s = LTX_OK;
    for (int part = 0; part < 2 && s == LTX_OK; part++) {
        int64_t d0 = part ? 0 : a, x0 = part ? first : 0, len = part ? n - first : first;
        if (len <= 0) continue;
        ltx_tensor *dst = ltx_tensor_slice(cache, 2, d0, d0 + len, 1);
        ltx_tensor *src = ltx_tensor_slice(x, 2, x0, x0 + len, 1);
        s = dst && src ? be->ops->copy(be, dst, src) : ltx_err(LTX_ERR_OOM, "kv cache write");
        ltx_tensor_free(dst);
        ltx_tensor_free(src);
    }
    return s;
}

/* ref: Gemma3Attention.forward with a cache: q/k norm + RoPE, cache update, eager attention
 * over the cached keys (GQA), o_proj. Returns (1, n, D). */
static ltx_tensor *attend(ltx_gemma3_gen *g, int l, const ltx_tensor *a, const chunk_ctx *c)
{
    ltx_gemma3 *m = g->m;
    ltx_backend *be = m->be;
    const ltx_gemma3_config *cf = &m->cfg;
    ltx_tensor *const *w = g->w[l];
    int k = cf->sliding[l] ? 0 : 1;
    ltx_tensor *q = ltx_nn_linear(be, a, w[W_Q], NULL); /* (1, n, H*hd) */
    ltx_tensor *kk = q ? ltx_nn_linear(be, a, w[W_K], NULL) : NULL;
    ltx_tensor *v = kk ? ltx_nn_linear(be, a, w[W_V], NULL) : NULL;
    ltx_tensor *qh =
        v ? ltx_gemma3_norm_rope(m, q, w[W_QN], cf->num_heads, c->cos[k], c->sin[k]) : NULL;
    ltx_tensor *kh =
        qh ? ltx_gemma3_norm_rope(m, kk, w[W_KN], cf->num_kv_heads, c->cos[k], c->sin[k]) : NULL;
    ltx_tensor *vh = kh ? ltx_gemma3_heads_view(v, cf->num_kv_heads) : NULL; /* (1, Hk, n, hd) */
    ltx_status s =
        vh ? cache_write(be, g->kc[l], g->meta[k].cap, kh, c->s0, c->n) : ltx_err_failed();
    if (s == LTX_OK) s = cache_write(be, g->vc[l], g->meta[k].cap, vh, c->s0, c->n);
    ltx_tensor *kv = s == LTX_OK ? ltx_tensor_slice(g->kc[l], 2, 0, c->used[k], 1) : NULL;
    ltx_tensor *vv = kv ? ltx_tensor_slice(g->vc[l], 2, 0, c->used[k], 1) : NULL;
    float scale = (float)(1.0 / sqrt(cf->query_pre_attn_scalar));
    ltx_tensor *oh =
        vv ? ltx_nn_attention(be, qh, kv, vv, c->mask[k], scale) : NULL; /* (1,H,n,hd) */
    ltx_tensor *out = NULL;
    if (oh) {
        static const int perm[4] = {0, 2, 1, 3};
        ltx_tensor *ov = ltx_tensor_permute(oh, perm);
        ltx_tensor *oc = ov ? ltx_nn_contiguous(be, ov, LTX_F32) : NULL;
        int64_t s3[3] = {1, c->n, (int64_t)cf->num_heads * cf->head_dim};
        ltx_tensor *o = oc ? ltx_tensor_reshape(oc, 3, s3) : NULL;
        out = o ? ltx_nn_linear(be, o, w[W_O], NULL) : NULL;
        ltx_tensor_free(ov);
        ltx_tensor_free(oc);
        ltx_tensor_free(o);
    }
    ltx_tensor *tmp[] = {q, kk, v, qh, kh, vh, kv, vv, oh};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ltx_tensor_free(tmp[i]);
    return out;
}

/* ref: Gemma3DecoderLayer.forward (sandwich norms), h (1, n, D) updated in place. */
static ltx_status layer(ltx_gemma3_gen *g, int l, ltx_tensor *h, const chunk_ctx *c)
{
    ltx_gemma3 *m = g->m;
    ltx_backend *be = m->be;
    ltx_tensor *const *w = g->w[l];
    ltx_tensor *a = ltx_gemma3_norm(m, h, w[W_IN_NORM]);
    ltx_tensor *o = a ? attend(g, l, a, c) : NULL;
    ltx_tensor *on = o ? ltx_gemma3_norm(m, o, w[W_POST_ATTN]) : NULL;
    ltx_status s = on ? be->ops->binary(be, LTX_BINARY_ADD, h, h, on) : ltx_err_failed();
    ltx_tensor *mi = s == LTX_OK ? ltx_gemma3_norm(m, h, w[W_PRE_FF]) : NULL;
    ltx_tensor *y = mi ? ltx_gemma3_mlp(m, mi, w) : NULL;
    ltx_tensor *yn = y ? ltx_gemma3_norm(m, y, w[W_POST_FF]) : NULL;
    if (s == LTX_OK) s = yn ? be->ops->binary(be, LTX_BINARY_ADD, h, h, yn) : ltx_err_failed();
    ltx_tensor *tmp[] = {a, o, on, mi, y, yn};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ltx_tensor_free(tmp[i]);
    return s == LTX_OK ? LTX_OK : ltx_err_context(s, "gemma3 generate layer %d: ", l);
}

/* Runs rows s0..s0+n-1 (host embeddings emb (n, D)) through every layer; returns the final
 * hidden state h (1, n, D) before the final norm, or NULL. */
static ltx_tensor *run_chunk(ltx_gemma3_gen *g, int64_t n, const float *emb, const int64_t *pos,
                             const int32_t *mask, const int32_t *grp, ltx_status *st)
{
    chunk_ctx c = {.s0 = g->n_seq, .n = n};
    int64_t sh[3] = {1, n, g->m->cfg.hidden_size};
    ltx_tensor *h = NULL;
    ltx_status s = chunk_setup(g, &c, pos, mask, grp);
    if (s == LTX_OK) {
        h = ltx_tensor_from_host(g->m->be, LTX_F32, 3, sh, emb);
        if (!h) s = ltx_err_failed();
    }
    for (int l = 0; l < g->L && s == LTX_OK; l++)
        s = layer(g, l, h, &c);
    chunk_free(&c);
    if (s != LTX_OK) {
        ltx_tensor_free(h);
        h = NULL;
    }
    g->n_seq += n;
    for (int64_t t = 0; t < n; t++)
        g->n_valid += mask[t] != 0;
    *st = s;
    return h;
}

/* Final norm of the last row of h, tied LM head, logits to the host. ref: logits_to_keep=1. */
static ltx_status last_logits(ltx_gemma3_gen *g, const ltx_tensor *h, float *logits)
{
    int64_t n = h->shape[1];
    ltx_tensor *last = ltx_tensor_slice(h, 1, n - 1, n, 1);
    ltx_tensor *hn = last ? ltx_gemma3_norm(g->m, last, g->final_norm) : NULL;
    ltx_tensor *lg = hn ? ltx_nn_linear(g->m->be, hn, g->lm_head, NULL) : NULL; /* (1, 1, V) */
    ltx_status s = lg ? ltx_tensor_download(lg, logits, LTX_F32) : ltx_err(LTX_ERR_OOM, "logits");
    ltx_tensor_free(last);
    ltx_tensor_free(hn);
    ltx_tensor_free(lg);
    return s;
}

/* Host embeddings of tokens [t0, t0+n): text rows embed_tokens[id] * sqrt(D) (ref:
 * Gemma3TextScaledWordEmbedding, f32 embed_scale), image rows copied from the features (ref:
 * masked_scatter of the projector output, unscaled). *img advances over the image rows. */
static ltx_status embed_rows(const ltx_gemma3_gen *g, const ltx_gemma3_prefill *p, int64_t t0,
                             int64_t n, int64_t *img, float *out)
{
    const ltx_gemma3 *m = g->m;
    int64_t D = m->cfg.hidden_size;
    char name[160];
    snprintf(name, sizeof name, "%sembed_tokens.weight", m->prefix);
    const ltx_st_entry *e = ltx_st_find(m->st, name);
    /* bytes per row from the entry itself: element size x D for float tables, whole blocks for
     * block-quantized ones (rows are block-aligned) */
    size_t row_bytes = e->nbytes / (size_t)e->shape[0];
    float scale = sqrtf((float)D);
    for (int64_t t = 0; t < n; t++) {
        float *row = out + t * D;
        int32_t id = p->ids[t0 + t];
        if (p->types && p->types[t0 + t] == 1) {
            if (*img >= p->n_image_rows) break;
            memcpy(row, p->image_features + (*img)++ * D, sizeof(float) * (size_t)D);
            continue;
        }
        if (id < 0 || id >= e->shape[0])
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "gemma3 generate: token id %d outside the "
                           "vocabulary (%lld)",
                           id, (long long)e->shape[0]);
        ltx_convert(row, LTX_F32, (const char *)e->data + (size_t)id * row_bytes, e->dtype,
                    (size_t)D);
        for (int64_t d = 0; d < D; d++)
            row[d] *= scale;
    }
    return LTX_OK;
}

/* ---- prefill / step ---- */

/* Chunk end for a chunk starting at s: s + chunk, pushed past the end of an image run. */
static int64_t chunk_end(const ltx_gemma3_prefill *p, int64_t s, int64_t chunk)
{
    int64_t e = s + chunk < p->L ? s + chunk : p->L;
    while (p->types && e < p->L && p->types[e] == 1 && p->types[e - 1] == 1)
        e++;
    return e;
}

ltx_status ltx_gemma3_gen_prefill(ltx_gemma3_gen *g, const ltx_gemma3_prefill *p, float *logits)
{
    int64_t L = p->L, D = g->m->cfg.hidden_size, chunk = p->chunk > 0 ? p->chunk : 512;
    int64_t n_img = 0, max_chunk = 0;
    for (int64_t t = 0; p->types && t < L; t++)
        n_img += p->types[t] == 1;
    if (L <= 0 || p->max_new_tokens < 0 || n_img != (p->image_features ? p->n_image_rows : 0))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "gemma3 prefill: %lld tokens, %lld image tokens for %lld image rows",
                       (long long)L, (long long)n_img, (long long)p->n_image_rows);
    for (int64_t s = 0; s < L; s = chunk_end(p, s, chunk))
        if (chunk_end(p, s, chunk) - s > max_chunk) max_chunk = chunk_end(p, s, chunk) - s;
    LTX_TRY(alloc_caches(g, L + p->max_new_tokens, max_chunk));
    g->steps_left = p->max_new_tokens;
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)L);
    int32_t *grp = calloc((size_t)L, sizeof(int32_t));
    float *emb = malloc(sizeof(float) * (size_t)(max_chunk * D));
    ltx_status s = pos && grp && emb ? LTX_OK : ltx_err(LTX_ERR_OOM, "gemma3 prefill");
    /* ref: generate(): position_ids = cumsum(mask) - 1, masked_fill(mask == 0, 1); image
     * groups = runs of token_type_ids == 1 (token_type_ids_mask_function) */
    int64_t c = 0, ng = 0;
    for (int64_t t = 0; s == LTX_OK && t < L; t++) {
        pos[t] = p->mask[t] ? c++ : 1;
        bool im = p->types && p->types[t] == 1;
        if (im && (t == 0 || p->types[t - 1] != 1)) ng++;
        grp[t] = im ? (int32_t)ng : 0;
    }
    int64_t img = 0;
    ltx_tensor *h = NULL;
    for (int64_t s0 = 0; s == LTX_OK && s0 < L;) {
        int64_t e = chunk_end(p, s0, chunk);
        s = embed_rows(g, p, s0, e - s0, &img, emb);
        ltx_tensor_free(h);
        h = s == LTX_OK ? run_chunk(g, e - s0, emb, pos + s0, p->mask + s0, grp + s0, &s) : NULL;
        if (s == LTX_OK && p->on_hidden) {
            ltx_tensor *hn = ltx_gemma3_norm(g->m, h, g->final_norm);
            s = hn ? p->on_hidden(p->user, hn, s0) : ltx_err_failed();
            ltx_tensor_free(hn);
        }
        s0 = e;
    }
    if (s == LTX_OK) s = last_logits(g, h, logits);
    ltx_tensor_free(h);
    free(pos);
    free(grp);
    free(emb);
    return s;
}

ltx_status ltx_gemma3_gen_step(ltx_gemma3_gen *g, int32_t id, float *logits)
{
    if (!g->meta[1].cap || g->steps_left <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "gemma3 step: no prefill, or the cache is full");
    g->steps_left--;
    int64_t D = g->m->cfg.hidden_size, pos = g->n_valid;
    float *emb = malloc(sizeof(float) * (size_t)D);
    if (!emb) return ltx_err(LTX_ERR_OOM, "gemma3 step");
    ltx_gemma3_prefill one = {.ids = &id, .L = 1};
    int64_t img = 0;
    ltx_status s = embed_rows(g, &one, 0, 1, &img, emb);
    static const int32_t one_mask = 1, no_grp = 0;
    ltx_tensor *h = s == LTX_OK ? run_chunk(g, 1, emb, &pos, &one_mask, &no_grp, &s) : NULL;
    if (s == LTX_OK) s = last_logits(g, h, logits);
    ltx_tensor_free(h);
    free(emb);
    return s;
}
