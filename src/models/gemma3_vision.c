/*
 * gemma3_vision.c — SigLIP vision tower + Gemma 3 multimodal projector (see gemma3_vision.h).
 *
 * ref: transformers models/siglip/modeling_siglip.py (SiglipVisionEmbeddings.forward,
 * SiglipAttention eager, SiglipEncoderLayer, SiglipVisionTransformer.forward) and
 * models/gemma3/modeling_gemma3.py (Gemma3MultiModalProjector.forward).
 * Not here: the image resize/normalise (gemma3_prompt.c), the SigLIP pooling head (Gemma 3 sets
 * vision_use_head false), position-embedding interpolation (the processor always gives S x S).
 * The patch convolution (stride = kernel) is a linear over host-built patch rows; the average
 * pool runs on the host over the downloaded tower output (at 12B: 4096 x 1152 floats).
 */
#include "models/gemma3_vision.h"

#include "io/json.h"
#include "models/gemma3_internal.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT  "vision_tower.vision_model."
#define MMP "multi_modal_projector."

struct ltx_gemma3_vision {
    ltx_gemma3 *m;
    ltx_gemma3_vision_config c;
    char dir[1024];
    const ltx_taps *taps;
};

/* ---- config ---- */

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len >= 0 && len < (16L << 20) && fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len)
            buf[len] = '\0';
        else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

static void vision_defaults(ltx_gemma3_vision_config *vc, ltx_gemma3_image_proc *ip)
{
    /* ref: ltx_core/text_encoders/gemma/config.py Gemma3VisionConfig / Gemma3ConfigData */
    *vc = (ltx_gemma3_vision_config){.hidden_size = 1152,
                                     .num_layers = 27,
                                     .num_heads = 16,
                                     .intermediate_size = 4304,
                                     .image_size = 896,
                                     .patch_size = 14,
                                     .layer_norm_eps = 1e-6,
                                     .mm_tokens_per_image = 256,
                                     .image_token_id = 262144,
                                     .boi_token_id = 255999,
                                     .eoi_token_id = 256000,
                                     .eos_ids = {1, 106},
                                     .n_eos = 2};
    /* ref: the google/gemma-3-*-it preprocessor_config.json */
    *ip = (ltx_gemma3_image_proc){.height = 896,
                                  .width = 896,
                                  .mean = {0.5, 0.5, 0.5},
                                  .std = {0.5, 0.5, 0.5},
                                  .rescale = 1.0 / 255.0};
}

static void parse_config(const cJSON *root, ltx_gemma3_vision_config *vc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
    if (cJSON_IsObject(v)) {
        vc->hidden_size = (int)ltx_json_int(v, "hidden_size", vc->hidden_size);
        vc->num_layers = (int)ltx_json_int(v, "num_hidden_layers", vc->num_layers);
        vc->num_heads = (int)ltx_json_int(v, "num_attention_heads", vc->num_heads);
        vc->intermediate_size = (int)ltx_json_int(v, "intermediate_size", vc->intermediate_size);
        vc->image_size = (int)ltx_json_int(v, "image_size", vc->image_size);
        vc->patch_size = (int)ltx_json_int(v, "patch_size", vc->patch_size);
        vc->layer_norm_eps = ltx_json_num(v, "layer_norm_eps", vc->layer_norm_eps);
    }
    vc->mm_tokens_per_image = (int)ltx_json_int(root, "mm_tokens_per_image", 256);
    vc->image_token_id = (int)ltx_json_int(root, "image_token_index", vc->image_token_id);
    vc->boi_token_id = (int)ltx_json_int(root, "boi_token_index", vc->boi_token_id);
    vc->eoi_token_id = (int)ltx_json_int(root, "eoi_token_index", vc->eoi_token_id);
    int64_t eos[4];
    int n = ltx_json_int_array(root, "eos_token_id", eos, 4);
    if (n > 0) {
        vc->n_eos = n;
        for (int i = 0; i < n; i++)
            vc->eos_ids[i] = (int)eos[i];
    } else if (ltx_json_has(root, "eos_token_id")) {
        vc->n_eos = 1;
        vc->eos_ids[0] = (int)ltx_json_int(root, "eos_token_id", 1);
    }
}

static void parse_preproc(const cJSON *root, ltx_gemma3_image_proc *ip)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "size");
    if (cJSON_IsObject(size)) {
        ip->height = (int)ltx_json_int(size, "height", ip->height);
        ip->width = (int)ltx_json_int(size, "width", ip->width);
    }
    double tmp[3];
    if (ltx_json_num_array(root, "image_mean", tmp, 3) == 3) memcpy(ip->mean, tmp, sizeof tmp);
    if (ltx_json_num_array(root, "image_std", tmp, 3) == 3) memcpy(ip->std, tmp, sizeof tmp);
    ip->rescale = ltx_json_num(root, "rescale_factor", ip->rescale);
}

ltx_status ltx_gemma3_vision_config_read(const char *dir, ltx_gemma3_vision_config *vc,
                                         ltx_gemma3_image_proc *ip)
{
    vision_defaults(vc, ip);
    static const char *const files[2] = {"config.json", "preprocessor_config.json"};
    for (int f = 0; f < 2; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        char *txt = read_text(path);
        if (!txt) continue; /* absent: the reference's hard-coded values */
        cJSON *root = cJSON_Parse(txt);
        free(txt);
        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            return ltx_err(LTX_ERR_FORMAT, "%s: not a JSON object", path);
        }
        if (f == 0)
            parse_config(root, vc);
        else
            parse_preproc(root, ip);
        cJSON_Delete(root);
    }
    return LTX_OK;
}

bool ltx_gemma3_has_vision(const ltx_gemma3 *m)
{
    return ltx_st_find(m->st, VT "embeddings.patch_embedding.weight") &&
           ltx_st_find(m->st, MMP "mm_input_projection_weight");
}

/* ---- open ---- */

ltx_status ltx_gemma3_vision_check(const char *dir, const ltx_gemma3_vision_config *c,
                                   const ltx_gemma3_image_proc *ip)
{
    if (c->hidden_size <= 0 || c->num_heads <= 0 || c->hidden_size % c->num_heads ||
        c->patch_size <= 0 || c->image_size % c->patch_size || c->mm_tokens_per_image <= 0 ||
        ip->height != c->image_size || ip->width != c->image_size)
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: unsupported vision config (hidden %d, heads %d, image %d, patch %d, "
                       "processor size %dx%d)",
                       dir, c->hidden_size, c->num_heads, c->image_size, c->patch_size, ip->height,
                       ip->width);
    int side = c->image_size / c->patch_size;
    int tok = (int)lround(sqrt((double)c->mm_tokens_per_image));
    if (tok * tok != c->mm_tokens_per_image || side % tok)
        return ltx_err(LTX_ERR_FORMAT, "%s: %d patches per side cannot pool to %d image tokens",
                       dir, side, c->mm_tokens_per_image);
    return LTX_OK;
}

static ltx_status want(const ltx_gemma3_vision *v, const char *name, int nd, int64_t d0, int64_t d1)
{
    const ltx_st_entry *e = ltx_st_find(v->m->st, name);
    if (!e)
        return ltx_err(LTX_ERR_FORMAT, "--gemma-root %s: no vision tower (tensor %s missing)",
                       v->dir, name);
    if (e->ndim < nd || e->shape[0] != d0 || (nd > 1 && e->shape[1] != d1))
        return ltx_err(LTX_ERR_FORMAT, "--gemma-root %s: tensor %s has an unexpected shape", v->dir,
                       name);
    return LTX_OK;
}

static const char *const LW[] = {"layer_norm1",      "layer_norm2",      "self_attn.q_proj",
                                 "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                                 "mlp.fc1",          "mlp.fc2"};
enum { L_LN1, L_LN2, L_Q, L_K, L_V, L_O, L_FC1, L_FC2, L_COUNT };

ltx_status ltx_gemma3_vision_open(ltx_gemma3 *m, const char *dir,
                                  const ltx_gemma3_vision_config *vc,
                                  const ltx_gemma3_image_proc *ip, ltx_gemma3_vision **out)
{
    *out = NULL;
    LTX_TRY(ltx_gemma3_vision_check(dir, vc, ip));
    ltx_gemma3_vision *v = calloc(1, sizeof *v);
    if (!v) return ltx_err(LTX_ERR_OOM, "gemma3 vision: out of memory");
    v->m = m;
    v->c = *vc;
    snprintf(v->dir, sizeof v->dir, "%s", dir);
    const ltx_gemma3_vision_config *c = vc;
    int64_t D = c->hidden_size, P = c->patch_size,
            N = (int64_t)(c->image_size / P) * (c->image_size / P);
    ltx_status s = want(v, VT "embeddings.patch_embedding.weight", 2, D, 3);
    if (s == LTX_OK) s = want(v, VT "embeddings.patch_embedding.bias", 1, D, 0);
    if (s == LTX_OK) s = want(v, VT "embeddings.position_embedding.weight", 2, N, D);
    if (s == LTX_OK) s = want(v, VT "post_layernorm.weight", 1, D, 0);
    if (s == LTX_OK) s = want(v, MMP "mm_soft_emb_norm.weight", 1, D, 0);
    if (s == LTX_OK) s = want(v, MMP "mm_input_projection_weight", 2, D, m->cfg.hidden_size);
    char name[192];
    for (int l = 0; l < c->num_layers && s == LTX_OK; l++)
        for (int w = 0; w < L_COUNT && s == LTX_OK; w++) {
            int64_t d0 = w == L_FC1 ? c->intermediate_size : D;
            snprintf(name, sizeof name, VT "encoder.layers.%d.%s.weight", l, LW[w]);
            s = want(v, name, w <= L_LN2 ? 1 : 2, d0, w == L_FC2 ? c->intermediate_size : D);
            snprintf(name, sizeof name, VT "encoder.layers.%d.%s.bias", l, LW[w]);
            if (s == LTX_OK) s = want(v, name, 1, d0, 0);
        }
    if (s != LTX_OK) {
        free(v);
        return s;
    }
    *out = v;
    return LTX_OK;
}

void ltx_gemma3_vision_close(ltx_gemma3_vision *v)
{
    free(v);
}

void ltx_gemma3_vision_set_taps(ltx_gemma3_vision *v, const ltx_taps *taps)
{
    v->taps = taps;
}

/* ---- forward ---- */

static ltx_tensor *wt(const ltx_gemma3_vision *v, const char *fmt, int l, const char *part)
{
    char name[192];
    snprintf(name, sizeof name, fmt, l, part);
    return ltx_st_tensor(v->m->st, v->m->be, name);
}

/* ref: SiglipAttention.forward (eager): softmax(q k^T * hd^-0.5) v, no mask, out_proj. */
static ltx_tensor *attention(const ltx_gemma3_vision *v, const ltx_tensor *x, ltx_tensor *const *w,
                             ltx_tensor *const *b)
{
    ltx_backend *be = v->m->be;
    int H = v->c.num_heads;
    int64_t hd = v->c.hidden_size / H;
    ltx_tensor *q = ltx_nn_linear(be, x, w[L_Q], b[L_Q]);
    ltx_tensor *k = q ? ltx_nn_linear(be, x, w[L_K], b[L_K]) : NULL;
    ltx_tensor *vv = k ? ltx_nn_linear(be, x, w[L_V], b[L_V]) : NULL;
    ltx_tensor *qh = vv ? ltx_gemma3_heads_view(q, H) : NULL;
    ltx_tensor *kh = qh ? ltx_gemma3_heads_view(k, H) : NULL;
    ltx_tensor *vh = kh ? ltx_gemma3_heads_view(vv, H) : NULL;
    ltx_tensor *oh =
        vh ? ltx_nn_attention(be, qh, kh, vh, NULL, (float)(1.0 / sqrt((double)hd))) : NULL;
    ltx_tensor *out = NULL;
    if (oh) {
        static const int perm[4] = {0, 2, 1, 3};
        ltx_tensor *ov = ltx_tensor_permute(oh, perm);
        ltx_tensor *oc = ov ? ltx_nn_contiguous(be, ov, LTX_F32) : NULL; /* (1, n, H, hd) */
        int64_t s3[3] = {1, oh->shape[2], (int64_t)v->c.hidden_size};
        ltx_tensor *o = oc ? ltx_tensor_reshape(oc, 3, s3) : NULL;
        out = o ? ltx_nn_linear(be, o, w[L_O], b[L_O]) : NULL;
        ltx_tensor_free(ov);
        ltx_tensor_free(oc);
        ltx_tensor_free(o);
    }
    ltx_tensor *tmp[] = {q, k, vv, qh, kh, vh, oh};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ltx_tensor_free(tmp[i]);
    return out;
}

/* ref: SiglipEncoderLayer.forward: h += attn(ln1(h)); h += fc2(gelu_tanh(fc1(ln2(h)))). */
static ltx_status encoder_layer(const ltx_gemma3_vision *v, int l, ltx_tensor *h)
{
    ltx_backend *be = v->m->be;
    ltx_tensor *w[L_COUNT] = {0}, *b[L_COUNT] = {0};
    ltx_status s = LTX_OK;
    for (int i = 0; i < L_COUNT; i++) {
        w[i] = wt(v, VT "encoder.layers.%d.%s.weight", l, LW[i]);
        b[i] = wt(v, VT "encoder.layers.%d.%s.bias", l, LW[i]);
        if (!w[i] || !b[i]) s = ltx_err_failed();
    }
    float eps = (float)v->c.layer_norm_eps;
    ltx_tensor *a = NULL, *o = NULL, *m1 = NULL, *f1 = NULL, *f2 = NULL;
    if (s == LTX_OK) a = ltx_nn_norm(be, LTX_NORM_LAYER, h, w[L_LN1], b[L_LN1], 0, eps);
    if (a) o = attention(v, a, w, b);
    s = o ? be->ops->binary(be, LTX_BINARY_ADD, h, h, o) : (s == LTX_OK ? ltx_err_failed() : s);
    if (s == LTX_OK) m1 = ltx_nn_norm(be, LTX_NORM_LAYER, h, w[L_LN2], b[L_LN2], 0, eps);
    if (m1) f1 = ltx_nn_linear(be, m1, w[L_FC1], b[L_FC1]);
    if (f1 && be->ops->unary(be, LTX_UNARY_GELU_TANH, f1, f1, 0, 0) == LTX_OK)
        f2 = ltx_nn_linear(be, f1, w[L_FC2], b[L_FC2]);
    if (s == LTX_OK) s = f2 ? be->ops->binary(be, LTX_BINARY_ADD, h, h, f2) : ltx_err_failed();
    ltx_tensor *tmp[] = {a, o, m1, f1, f2};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ltx_tensor_free(tmp[i]);
    for (int i = 0; i < L_COUNT; i++) {
        ltx_tensor_free(w[i]);
        ltx_tensor_free(b[i]);
    }
    return s == LTX_OK ? LTX_OK : ltx_err_context(s, "gemma3 vision layer %d: ", l);
}

/* ref: SiglipVisionEmbeddings.forward: conv(kernel = stride = patch) -> flatten(2).transpose(1,
 * 2) + position_embedding(arange). The conv is a linear over patch rows (c, ky, kx). */
static ltx_tensor *embeddings(const ltx_gemma3_vision *v, const float *px)
{
    ltx_backend *be = v->m->be;
    int S = v->c.image_size, P = v->c.patch_size, G = S / P;
    int64_t K = 3 * (int64_t)P * P, N = (int64_t)G * G, D = v->c.hidden_size;
    float *rows = malloc(sizeof(float) * (size_t)(N * K));
    if (!rows) {
        ltx_err(LTX_ERR_OOM, "gemma3 vision: out of memory for %lld patch rows", (long long)N);
        return NULL;
    }
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            float *r = rows + ((int64_t)gy * G + gx) * K;
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++)
                        *r++ = px[((size_t)c * S + (size_t)gy * P + ky) * S + (size_t)gx * P + kx];
        }
    int64_t sh[3] = {1, N, K}, w2[2] = {D, K};
    ltx_tensor *x = ltx_tensor_from_host(be, LTX_F32, 3, sh, rows);
    free(rows);
    ltx_tensor *w4 = ltx_st_tensor(v->m->st, be, VT "embeddings.patch_embedding.weight");
    ltx_tensor *w = w4 ? ltx_tensor_reshape(w4, 2, w2) : NULL;
    ltx_tensor *b = ltx_st_tensor(v->m->st, be, VT "embeddings.patch_embedding.bias");
    ltx_tensor *pe =
        ltx_st_tensor_as(v->m->st, be, VT "embeddings.position_embedding.weight", LTX_F32);
    ltx_tensor *h = x && w && b && pe ? ltx_nn_linear(be, x, w, b) : NULL; /* (1, N, D) */
    if (h && be->ops->binary(be, LTX_BINARY_ADD, h, h, pe) != LTX_OK) {
        ltx_tensor_free(h);
        h = NULL;
    }
    ltx_tensor *tmp[] = {x, w4, w, b, pe};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ltx_tensor_free(tmp[i]);
    return h;
}

/* ref: Gemma3MultiModalProjector.forward: (B, N, D) -> (B, D, G, G) -> AvgPool2d(G / T) ->
 * (B, T*T, D) -> Gemma3RMSNorm (1 + w, eps = vision layer_norm_eps) -> @ mm_input_projection. */
static ltx_tensor *project(const ltx_gemma3_vision *v, const ltx_tensor *h)
{
    ltx_backend *be = v->m->be;
    int G = v->c.image_size / v->c.patch_size;
    int T = (int)lround(sqrt((double)v->c.mm_tokens_per_image)), k = G / T;
    int64_t D = v->c.hidden_size, Dt = v->m->cfg.hidden_size;
    float *hh = ltx_tensor_to_host_f32(h);
    float *pool = calloc((size_t)(T * T * D), sizeof(float));
    float *wp = ltx_st_read_f32(v->m->st, MMP "mm_input_projection_weight", NULL);
    float *wt2 = malloc(sizeof(float) * (size_t)(D * Dt));
    ltx_tensor *out = NULL, *pt = NULL, *wn = NULL, *nrm = NULL, *wproj = NULL;
    if (!hh || !pool || !wp || !wt2) goto done;
    for (int ty = 0; ty < T; ty++)
        for (int tx = 0; tx < T; tx++)
            for (int64_t d = 0; d < D; d++) {
                float acc = 0.0f; /* torch avg_pool2d: sum over the window, then / k^2 */
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        acc += hh[((int64_t)(ty * k + ky) * G + tx * k + kx) * D + d];
                pool[((int64_t)ty * T + tx) * D + d] = acc / (float)(k * k);
            }
    for (int64_t i = 0; i < D; i++) /* (D, Dt) -> (Dt, D) for linear's x @ w^T */
        for (int64_t j = 0; j < Dt; j++)
            wt2[j * D + i] = wp[i * Dt + j];
    int64_t ps[3] = {1, (int64_t)T * T, D}, ws[2] = {Dt, D};
    pt = ltx_tensor_from_host(be, LTX_F32, 3, ps, pool);
    wproj = ltx_tensor_from_host(be, LTX_F32, 2, ws, wt2);
    if (pt) ltx_tap(v->taps, "projector.pooled", pt);
    wn = ltx_gemma3_norm_weight(v->m, MMP "mm_soft_emb_norm.weight");
    nrm = pt && wn ? ltx_nn_norm(be, LTX_NORM_RMS, pt, wn, NULL, 0, (float)v->c.layer_norm_eps)
                   : NULL;
    out = nrm && wproj ? ltx_nn_linear(be, nrm, wproj, NULL) : NULL;
done:
    if (!out) ltx_err(LTX_ERR_OOM, "gemma3 vision: projector");
    free(hh);
    free(pool);
    free(wp);
    free(wt2);
    ltx_tensor_free(pt);
    ltx_tensor_free(wn);
    ltx_tensor_free(nrm);
    ltx_tensor_free(wproj);
    return out;
}

ltx_status ltx_gemma3_vision_forward(ltx_gemma3_vision *v, const float *pixels,
                                     ltx_tensor **last_hidden, ltx_tensor **features)
{
    if (last_hidden) *last_hidden = NULL;
    if (features) *features = NULL;
    ltx_backend *be = v->m->be;
    ltx_tensor *h = embeddings(v, pixels);
    ltx_status s = h ? LTX_OK : ltx_err(LTX_ERR_OOM, "gemma3 vision: patch embedding");
    if (h) ltx_tap(v->taps, "vision.embeddings", h);
    for (int l = 0; l < v->c.num_layers && s == LTX_OK; l++)
        s = encoder_layer(v, l, h);
    ltx_tensor *pw = NULL, *pb = NULL, *fin = NULL;
    if (s == LTX_OK) {
        pw = ltx_st_tensor(v->m->st, be, VT "post_layernorm.weight");
        pb = ltx_st_tensor(v->m->st, be, VT "post_layernorm.bias");
        fin = pw && pb ? ltx_nn_norm(be, LTX_NORM_LAYER, h, pw, pb, 0, (float)v->c.layer_norm_eps)
                       : NULL;
        if (!fin) s = ltx_err(LTX_ERR_OOM, "gemma3 vision: post_layernorm");
    }
    if (s == LTX_OK && features) {
        *features = project(v, fin);
        if (!*features) s = ltx_err_failed();
    }
    ltx_tensor_free(h);
    ltx_tensor_free(pw);
    ltx_tensor_free(pb);
    if (s == LTX_OK && last_hidden)
        *last_hidden = fin;
    else
        ltx_tensor_free(fin);
    return s;
}
