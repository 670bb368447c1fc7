/*
 * ltx_transformer_load.c — LTXModel weight binding (the config is read by
 * ltx_transformer_config.c).
 *
 * Mirrors the module tree of ltx_core/model/transformer/model.py / transformer.py /
 * attention.py (which parameters exist for a config).
 * Weights are bound by checkpoint name ("model.diffusion_model." + module path); every missing
 * or misshaped weight and every unexpected name under the prefix (the embeddings connectors
 * excluded, as the reference's key filter feeds them to another builder) is collected and
 * reported in one error. 2-D linear weights stay in the stored dtype (zero-copy); 1-D
 * parameters and AdaLN tables become small f32 copies.
 */
#include "models/ltx_transformer_internal.h"

#include "io/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "model.diffusion_model."

/* ---- weight binding ---- */

typedef struct loader {
    const ltx_st_file *f;
    ltx_transformer *m;
    char **used;
    int n_used, cap_used;
    char *missing; /* comma separated */
    size_t missing_len;
    int n_missing;
    bool oom;
    /* enumeration mode: report names/shapes instead of binding */
    void (*enum_fn)(void *user, const char *name, int ndim, const int64_t *shape);
    void *enum_user;
    /* weight hook (ltx_transformer_load_ex); the first failure is kept in hook_status, and so
     * is the first tensor that could not be made (its own code: a dtype the device lacks is
     * LTX_ERR_UNSUPPORTED, not out of memory) */
    ltx_weight_hook hook;
    void *hook_user;
    ltx_status hook_status;
} loader;

static void note_missing(loader *L, const char *fmt, ...) LTX_PRINTF(2, 3);
static void note_missing(loader *L, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    char *p = realloc(L->missing, L->missing_len + n + 3);
    if (!p) {
        L->oom = true;
        return;
    }
    L->missing = p;
    if (L->missing_len) {
        memcpy(p + L->missing_len, ", ", 2);
        L->missing_len += 2;
    }
    memcpy(p + L->missing_len, buf, n + 1);
    L->missing_len += n;
    L->n_missing++;
}

static void own(loader *L, ltx_tensor *t)
{
    ltx_transformer *m = L->m;
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 256;
        ltx_tensor **p = realloc(m->owned, sizeof *p * (size_t)cap);
        if (!p) {
            L->oom = true;
            ltx_tensor_free(t);
            return;
        }
        m->owned = p;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = t;
}

/* Binds PREFIX+name with the expected shape (ndim 1 or 2; d1 ignored for 1-D). f32 converts. */
static ltx_tensor *bind(loader *L, bool f32, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
    LTX_PRINTF(6, 7);
static ltx_tensor *bind(loader *L, bool f32, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
{
    char name[256], full[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (L->enum_fn) {
        int64_t shape[2] = {d0, d1};
        L->enum_fn(L->enum_user, name, ndim, shape);
        return NULL;
    }
    snprintf(full, sizeof full, PREFIX "%s", name);
    const ltx_st_entry *e = ltx_st_find(L->f, full);
    if (!e) {
        note_missing(L, "%s", name);
        return NULL;
    }
    if (L->n_used == L->cap_used) {
        int cap = L->cap_used ? 2 * L->cap_used : 512;
        char **p = realloc(L->used, sizeof *p * (size_t)cap);
        if (!p) {
            L->oom = true;
            return NULL;
        }
        L->used = p;
        L->cap_used = cap;
    }
    L->used[L->n_used++] = strdup(full);
    if (e->ndim != ndim || e->shape[0] != d0 || (ndim == 2 && e->shape[1] != d1)) {
        if (ndim == 2)
            note_missing(L, "%s (shape [%lld, %lld] expected)", name, (long long)d0, (long long)d1);
        else
            note_missing(L, "%s (shape [%lld] expected)", name, (long long)d0);
        return NULL;
    }
    ltx_tensor *t =
        f32 ? ltx_st_tensor_as(L->f, L->m->be, full, LTX_F32) : ltx_st_tensor(L->f, L->m->be, full);
    if (!t) {
        if (L->hook_status == LTX_OK) L->hook_status = ltx_err_failed();
        return NULL;
    }
    if (L->hook && L->hook_status == LTX_OK) {
        ltx_tensor *r = NULL;
        L->hook_status = L->hook(L->hook_user, L->m->be, name, t, &r);
        if (r && f32 && r->dtype != LTX_F32) {
            ltx_tensor *c = ltx_tensor_to(r, L->m->be, LTX_F32);
            ltx_tensor_free(r);
            r = c;
            if (!r && L->hook_status == LTX_OK) L->hook_status = ltx_err_failed();
        }
        if (r) {
            ltx_tensor_free(t);
            t = r;
        }
    }
    snprintf(t->name, sizeof t->name, "%.63s", name);
    own(L, t);
    return t;
}

static void mark_used(loader *L, const char *full)
{
    if (L->n_used == L->cap_used) {
        int cap = L->cap_used ? 2 * L->cap_used : 512;
        char **p = realloc(L->used, sizeof *p * (size_t)cap);
        if (!p) {
            L->oom = true;
            return;
        }
        L->used = p;
        L->cap_used = cap;
    }
    L->used[L->n_used++] = strdup(full);
}

static void bind_lin(loader *L, tf_lin *l, int64_t out, int64_t in, const char *prefix)
{
    l->w = bind(L, false, 2, out, in, "%s.weight", prefix);
    l->b = bind(L, true, 1, out, 0, "%s.bias", prefix);
    l->w_scale = 1.0f;
    if (L->enum_fn) return;
    /* Scaled-fp8 files (ref: ltx_core/quantization/fp8_scaled_mm.py FP8Linear): a scalar
     * "<name>.weight_scale" multiplies the fp8 weight. "<name>.input_scale" drives the
     * reference's static fp8 quantisation of the activations on the GPU; activations stay f32
     * here, so it is accepted and not used. */
    char full[300];
    snprintf(full, sizeof full, PREFIX "%s.weight_scale", prefix);
    if (ltx_st_find(L->f, full)) {
        int64_t n = 0;
        float *v = ltx_st_read_f32(L->f, full, &n);
        if (!v || n != 1)
            note_missing(L, "%s.weight_scale (one value expected)", prefix);
        else
            l->w_scale = v[0];
        free(v);
        mark_used(L, full);
    }
    snprintf(full, sizeof full, PREFIX "%s.input_scale", prefix);
    if (ltx_st_find(L->f, full)) mark_used(L, full);
}

static void bind_attn(loader *L, tf_attn *a, const char *p, int qdim, int cdim, int heads, int dh,
                      bool gated)
{
    int inner = heads * dh;
    char n[200];
    a->heads = heads;
    a->d_head = dh;
    snprintf(n, sizeof n, "%s.to_q", p);
    bind_lin(L, &a->q, inner, qdim, n);
    snprintf(n, sizeof n, "%s.to_k", p);
    bind_lin(L, &a->k, inner, cdim, n);
    snprintf(n, sizeof n, "%s.to_v", p);
    bind_lin(L, &a->v, inner, cdim, n);
    snprintf(n, sizeof n, "%s.to_out.0", p);
    bind_lin(L, &a->out, qdim, inner, n);
    a->q_norm = bind(L, true, 1, inner, 0, "%s.q_norm.weight", p);
    a->k_norm = bind(L, true, 1, inner, 0, "%s.k_norm.weight", p);
    if (gated) {
        snprintf(n, sizeof n, "%s.to_gate_logits", p);
        bind_lin(L, &a->gate, heads, qdim, n);
    }
}

static void bind_adaln(loader *L, tf_adaln *a, const char *p, int dim, int k)
{
    char n[200];
    a->k = k;
    snprintf(n, sizeof n, "%s.emb.timestep_embedder.linear_1", p);
    bind_lin(L, &a->l1, dim, 256, n);
    snprintf(n, sizeof n, "%s.emb.timestep_embedder.linear_2", p);
    bind_lin(L, &a->l2, dim, dim, n);
    snprintf(n, sizeof n, "%s.linear", p);
    bind_lin(L, &a->linear, (int64_t)k * dim, dim, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bind_all(loader *L)
{
    ltx_transformer *m = L->m;
    const ltx_transformer_config *c = &m->cfg;
    int D = c->heads * c->head_dim, Da = c->audio_heads * c->audio_head_dim;
    int k = c->cross_attention_adaln ? 9 : 6; /* ref: adaln_embedding_coefficient */
    bool av = c->has_video && c->has_audio;
    if (c->has_video) {
        bind_lin(L, &m->patchify, D, c->in_channels, "patchify_proj");
        bind_adaln(L, &m->adaln, "adaln_single", D, k);
        if (c->cross_attention_adaln) bind_adaln(L, &m->prompt_adaln, "prompt_adaln_single", D, 2);
        m->sst_out = bind(L, true, 2, 2, D, "scale_shift_table");
        bind_lin(L, &m->proj_out, c->out_channels, D, "proj_out");
        if (c->caption_projection) {
            bind_lin(L, &m->cap1, D, c->caption_channels, "caption_projection.linear_1");
            bind_lin(L, &m->cap2, D, D, "caption_projection.linear_2");
        }
    }
    if (c->has_audio) {
        bind_lin(L, &m->audio_patchify, Da, c->audio_in_channels, "audio_patchify_proj");
        bind_adaln(L, &m->audio_adaln, "audio_adaln_single", Da, k);
        if (c->cross_attention_adaln)
            bind_adaln(L, &m->audio_prompt_adaln, "audio_prompt_adaln_single", Da, 2);
        m->audio_sst_out = bind(L, true, 2, 2, Da, "audio_scale_shift_table");
        bind_lin(L, &m->audio_proj_out, c->audio_out_channels, Da, "audio_proj_out");
        if (c->caption_projection) {
            bind_lin(L, &m->audio_cap1, Da, c->caption_channels,
                     "audio_caption_projection.linear_1");
            bind_lin(L, &m->audio_cap2, Da, Da, "audio_caption_projection.linear_2");
        }
    }
    if (av) {
        bind_adaln(L, &m->av_video_ss, "av_ca_video_scale_shift_adaln_single", D, 4);
        bind_adaln(L, &m->av_audio_ss, "av_ca_audio_scale_shift_adaln_single", Da, 4);
        bind_adaln(L, &m->av_a2v_gate, "av_ca_a2v_gate_adaln_single", D, 1);
        bind_adaln(L, &m->av_v2a_gate, "av_ca_v2a_gate_adaln_single", Da, 1);
    }
    char p[128];
    for (int i = 0; i < c->num_layers; i++) {
        tf_block *b = &m->blocks[i];
        bool g = c->gated_attention;
#define BP(sub) (snprintf(p, sizeof p, "transformer_blocks.%d." sub, i), p)
        if (c->has_video) {
            bind_attn(L, &b->attn1, BP("attn1"), D, D, c->heads, c->head_dim, g);
            bind_attn(L, &b->attn2, BP("attn2"), D, c->cross_attention_dim, c->heads, c->head_dim,
                      g);
            bind_lin(L, &b->ff1, 4 * (int64_t)D, D, BP("ff.net.0.proj"));
            bind_lin(L, &b->ff2, D, 4 * (int64_t)D, BP("ff.net.2"));
            b->sst = bind(L, true, 2, k, D, "transformer_blocks.%d.scale_shift_table", i);
            if (c->cross_attention_adaln)
                b->prompt_sst =
                    bind(L, true, 2, 2, D, "transformer_blocks.%d.prompt_scale_shift_table", i);
        }
        if (c->has_audio) {
            bind_attn(L, &b->audio_attn1, BP("audio_attn1"), Da, Da, c->audio_heads,
                      c->audio_head_dim, g);
            bind_attn(L, &b->audio_attn2, BP("audio_attn2"), Da, c->audio_cross_attention_dim,
                      c->audio_heads, c->audio_head_dim, g);
            bind_lin(L, &b->audio_ff1, 4 * (int64_t)Da, Da, BP("audio_ff.net.0.proj"));
            bind_lin(L, &b->audio_ff2, Da, 4 * (int64_t)Da, BP("audio_ff.net.2"));
            b->audio_sst =
                bind(L, true, 2, k, Da, "transformer_blocks.%d.audio_scale_shift_table", i);
            if (c->cross_attention_adaln)
                b->audio_prompt_sst = bind(
                    L, true, 2, 2, Da, "transformer_blocks.%d.audio_prompt_scale_shift_table", i);
        }
        if (av) {
            /* ref: Q video / K,V audio and the reverse, both with the audio head layout */
            bind_attn(L, &b->a2v, BP("audio_to_video_attn"), D, Da, c->audio_heads,
                      c->audio_head_dim, g);
            bind_attn(L, &b->v2a, BP("video_to_audio_attn"), Da, D, c->audio_heads,
                      c->audio_head_dim, g);
            b->sst_a2v_audio =
                bind(L, true, 2, 5, Da, "transformer_blocks.%d.scale_shift_table_a2v_ca_audio", i);
            b->sst_a2v_video =
                bind(L, true, 2, 5, D, "transformer_blocks.%d.scale_shift_table_a2v_ca_video", i);
        }
#undef BP
    }
}

static bool is_connector(const char *name)
{
    const char *r = name + strlen(PREFIX);
    return !strncmp(r, "video_embeddings_connector.", 27) ||
           !strncmp(r, "audio_embeddings_connector.", 27) ||
           !strncmp(r, "embeddings_connector.", 21);
}

ltx_status ltx_transformer_load(const ltx_st_file *f, ltx_backend *be, bool video_only,
                                ltx_transformer **out)
{
    return ltx_transformer_load_ex(f, be, video_only, NULL, NULL, out);
}

ltx_status ltx_transformer_load_ex(const ltx_st_file *f, ltx_backend *be, bool video_only,
                                   ltx_weight_hook hook, void *hook_user, ltx_transformer **out)
{
    *out = NULL;
    ltx_transformer *m = calloc(1, sizeof *m);
    if (!m) return ltx_err(LTX_ERR_OOM, "transformer: out of memory");
    m->be = be;
    ltx_status s = ltx_transformer_config_parse(ltx_st_metadata(f, "config"), video_only, &m->cfg);
    if (s != LTX_OK) {
        free(m);
        return ltx_err_context(s, "%s: ", ltx_st_path(f));
    }
    m->blocks = calloc((size_t)(m->cfg.num_layers ? m->cfg.num_layers : 1), sizeof *m->blocks);
    if (!m->blocks) {
        free(m);
        return ltx_err(LTX_ERR_OOM, "transformer: out of memory");
    }
    loader L = {.f = f, .m = m, .hook = hook, .hook_user = hook_user};
    bind_all(&L);
    /* unexpected: names under the prefix that no module parameter consumed */
    qsort(L.used, (size_t)L.n_used, sizeof *L.used, cmp_str);
    char *unexp = NULL;
    size_t ulen = 0;
    int n_unexp = 0;
    size_t plen = strlen(PREFIX);
    for (int i = 0; i < ltx_st_count(f); i++) {
        const char *name = ltx_st_at(f, i)->name;
        if (strncmp(name, PREFIX, plen) || is_connector(name)) continue;
        if (bsearch(&name, L.used, (size_t)L.n_used, sizeof *L.used, cmp_str)) continue;
        if (video_only && (strstr(name, "audio") || strstr(name, "av_ca_") || strstr(name, "a2v") ||
                           strstr(name, "v2a")))
            continue; /* the video-only builder ignores the audio half of an AV file */
        size_t n = strlen(name) - plen;
        char *p = realloc(unexp, ulen + n + 3);
        if (!p) {
            L.oom = true;
            break;
        }
        unexp = p;
        if (ulen) memcpy(unexp + ulen, ", ", 2), ulen += 2;
        memcpy(unexp + ulen, name + plen, n + 1);
        ulen += n;
        n_unexp++;
    }
    if (L.hook_status != LTX_OK)
        s = L.hook_status; /* message set by the hook or the failed tensor load */
    else if (L.oom)
        s = ltx_err(LTX_ERR_OOM, "transformer: out of memory while binding weights");
    else if (L.n_missing || n_unexp) {
        LTX_ERROR(be->log, "transformer weights in %s: %d missing/misshaped: %s; %d unexpected: %s",
                  ltx_st_path(f), L.n_missing, L.missing ? L.missing : "-", n_unexp,
                  unexp ? unexp : "-");
        s = ltx_err(LTX_ERR_FORMAT,
                    "transformer weights in %s (config: %d layers, video %dx%d, audio %dx%d): "
                    "%d missing/misshaped: %.600s; %d unexpected: %.600s",
                    ltx_st_path(f), m->cfg.num_layers, m->cfg.heads, m->cfg.head_dim,
                    m->cfg.audio_heads, m->cfg.audio_head_dim, L.n_missing,
                    L.missing ? L.missing : "-", n_unexp, unexp ? unexp : "-");
    }
    for (int i = 0; i < L.n_used; i++)
        free(L.used[i]);
    free(L.used);
    free(L.missing);
    free(unexp);
    if (s != LTX_OK) {
        ltx_transformer_free(m);
        return s;
    }
    *out = m;
    return LTX_OK;
}

void ltx_transformer_free(ltx_transformer *m)
{
    if (!m) return;
    ltx_tf_stream_free(m); /* layer streaming state (ltx_streaming.c) */
    ltx_transformer_clear_tables(m);
    for (int i = 0; i < m->n_owned; i++)
        ltx_tensor_free(m->owned[i]);
    free(m->owned);
    free(m->blocks);
    free(m);
}

ltx_status ltx_transformer_list_params(const ltx_transformer_config *cfg,
                                       void (*fn)(void *user, const char *name, int ndim,
                                                  const int64_t *shape),
                                       void *user)
{
    ltx_transformer m = {.cfg = *cfg};
    m.blocks = calloc((size_t)(cfg->num_layers ? cfg->num_layers : 1), sizeof *m.blocks);
    if (!m.blocks) return ltx_err(LTX_ERR_OOM, "out of memory");
    loader L = {.m = &m, .enum_fn = fn, .enum_user = user};
    bind_all(&L);
    free(m.blocks);
    return LTX_OK;
}

const ltx_transformer_config *ltx_transformer_get_config(const ltx_transformer *m)
{
    return &m->cfg;
}
