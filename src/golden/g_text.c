/*
 * g_text.c — golden handlers for the text path: the Gemma 3 decoder's hidden states
 * (modules/gemma3_text, function gemma3_text_hidden_states) and the embeddings processor =
 * feature extractor + both connectors (modules/text_connector, function embeddings_processor).
 *
 * Gemma rows before the first valid token (left pads) are not computed by the port; they are
 * emitted as zeros and the golden compares only rows where in.attention_mask is 1 (its
 * tolerance's rows_where), the rows LTX uses.
 */
#include "golden/golden.h"

#include "models/gemma3.h"
#include "models/text_connector.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declarations for cases.def (handlers are looked up by name). */
ltx_status g_gemma3_text_hidden_states(ltx_golden_ctx *g);
ltx_status g_embeddings_processor(ltx_golden_ctx *g);

static const char *out_name(ltx_golden_ctx *g, int i)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(ltx_golden_case(g), "outputs");
    const cJSON *it = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, i) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Integer golden input (I64 or I32, any shape) read straight from the mapped file (host
 * memory, no device access) as int32; malloc'd, caller frees. */
static int32_t *read_ints(ltx_golden_ctx *g, const char *name, int64_t *n)
{
    const ltx_st_entry *e = ltx_st_find(ltx_golden_file(g), name);
    if (!e || (e->dtype != LTX_I64 && e->dtype != LTX_I32)) {
        ltx_err(LTX_ERR_FORMAT, "golden: integer tensor %s missing", name ? name : "(null)");
        return NULL;
    }
    *n = (int64_t)(e->nbytes / ltx_dtype_size(e->dtype));
    int32_t *v = malloc(sizeof *v * (size_t)(*n ? *n : 1));
    if (!v) return NULL;
    for (int64_t i = 0; i < *n; i++) {
        if (e->dtype == LTX_I64) {
            int64_t x;
            memcpy(&x, (const char *)e->data + i * 8, 8);
            v[i] = (int32_t)x;
        } else {
            memcpy(&v[i], (const char *)e->data + i * 4, 4);
        }
    }
    return v;
}

/* ---- gemma3_text_hidden_states ---- */

typedef struct gemma_emit {
    ltx_golden_ctx *g;
    int64_t T;
} gemma_emit;

/* Scatters rows [row0, T) into a zero (1, T, D) tensor and emits it as case output `index`. */
static ltx_status gemma_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    gemma_emit *ge = user;
    ltx_backend *be = ltx_golden_backend(ge->g);
    const char *name = out_name(ge->g, index);
    if (!name) return ltx_err(LTX_ERR_FORMAT, "gemma3 golden: no output #%d", index);
    int64_t shape[3] = {1, ge->T, h->shape[2]};
    ltx_tensor *full = ltx_tensor_zeros(be, LTX_F32, 3, shape);
    ltx_tensor *rows = full ? ltx_tensor_slice(full, 1, row0, ge->T, 1) : NULL;
    ltx_status s = rows ? be->ops->copy(be, rows, h) : LTX_ERR_OOM;
    if (s == LTX_OK) s = ltx_golden_emit(ge->g, name, full);
    ltx_tensor_free(rows);
    ltx_tensor_free(full);
    return s;
}

ltx_status g_gemma3_text_hidden_states(ltx_golden_ctx *g)
{
    /* extra.files.gemma_root ("tiny_gemma/") is relative to the golden set root. */
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(ltx_golden_extra(g), "files");
    const char *rel =
        ltx_json_str(files, "gemma_root", ltx_json_str(ltx_golden_params(g), "gemma_root", NULL));
    if (!rel) return ltx_err(LTX_ERR_FORMAT, "gemma3 golden: no gemma_root");
    char dir[4096], up[512];
    snprintf(up, sizeof up, "../%s", rel);
    ltx_golden_resolve(g, "ckpt", up, dir, sizeof dir); /* <root>/tiny_ckpt/../<rel> */
    int64_t n_ids = 0, n_mask = 0;
    int32_t *ids = read_ints(g, ltx_golden_input_name(g, 0), &n_ids);
    int32_t *mask = ids ? read_ints(g, ltx_golden_input_name(g, 1), &n_mask) : NULL;
    ltx_gemma3 *m = NULL;
    ltx_status s = mask ? LTX_OK : LTX_ERR_FORMAT;
    if (s == LTX_OK && n_ids != n_mask)
        s = ltx_err(LTX_ERR_FORMAT, "gemma3 golden: %lld ids vs %lld mask entries",
                    (long long)n_ids, (long long)n_mask);
    if (s == LTX_OK) s = ltx_gemma3_open(ltx_golden_backend(g), dir, &m);
    if (s == LTX_OK) {
        gemma_emit ge = {g, n_ids};
        s = ltx_gemma3_forward(m, ids, mask, n_ids, gemma_hidden, NULL, &ge);
    }
    ltx_gemma3_close(m);
    free(ids);
    free(mask);
    return s;
}

/* ---- embeddings_processor ---- */

static void free_processor(void *p)
{
    ltx_text_processor_free(p);
}
static void free_st(void *f)
{
    ltx_st_close(f);
}

/* Rows of x (1, T, C) where mask != 0, in order, as a new (1, n, C) tensor. */
static ltx_tensor *valid_rows(ltx_backend *be, const ltx_tensor *x, const int32_t *mask)
{
    int64_t T = x->shape[1], n = 0;
    for (int64_t t = 0; t < T; t++)
        n += mask[t] != 0;
    int64_t shape[3] = {1, n, x->shape[2]};
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, 3, shape);
    ltx_status s = y ? LTX_OK : LTX_ERR_OOM;
    for (int64_t t = 0, k = 0; s == LTX_OK && t < T;) {
        if (!mask[t]) {
            t++;
            continue;
        }
        int64_t len = 1;
        while (t + len < T && mask[t + len])
            len++;
        ltx_tensor *d = ltx_tensor_slice(y, 1, k, k + len, 1);
        ltx_tensor *src = ltx_tensor_slice(x, 1, t, t + len, 1);
        s = d && src ? be->ops->copy(be, d, src) : LTX_ERR_OOM;
        ltx_tensor_free(d);
        ltx_tensor_free(src);
        t += len, k += len;
    }
    if (s != LTX_OK) {
        ltx_tensor_free(y);
        return NULL;
    }
    return y;
}

ltx_status g_embeddings_processor(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    const cJSON *prm = ltx_golden_params(g);
    int L = (int)ltx_json_int(prm, "num_hidden_states", 0);
    int D = (int)ltx_json_int(prm, "hidden_size", 0);
    if (L < 1 || D < 1) return ltx_err(LTX_ERR_FORMAT, "embeddings_processor: sizes missing");
    if (strcmp(ltx_json_str(prm, "padding_side", "left"), "left"))
        return ltx_err(LTX_ERR_UNSUPPORTED, "embeddings_processor: only left padding");
    char path[4096];
    if (!ltx_golden_ckpt_path(g, "checkpoint", path, sizeof path))
        return ltx_err(LTX_ERR_FORMAT, "embeddings_processor: no checkpoint");
    ltx_st_file *st = ltx_golden_cache_get(g, "text.ckpt");
    if (!st) {
        LTX_TRY(ltx_st_open(path, &st));
        ltx_golden_cache_put(g, "text.ckpt", st, free_st);
    }
    ltx_text_processor *p = ltx_golden_cache_get(g, "text.processor");
    if (!p) {
        LTX_TRY(ltx_text_processor_load(be, st, D, &p));
        ltx_golden_cache_put(g, "text.processor", p, free_processor);
    }
    if (ltx_text_processor_num_states(p) != L)
        return ltx_err(LTX_ERR_FORMAT, "embeddings_processor: checkpoint takes %d states, case %d",
                       ltx_text_processor_num_states(p), L);
    int64_t T = 0;
    int32_t *mask = read_ints(g, ltx_golden_input_name(g, L), &T);
    if (!mask) return LTX_ERR_FORMAT;
    int64_t ns[3] = {1, T, (int64_t)D * L};
    ltx_tensor *normed = ltx_tensor_new(be, LTX_F32, 3, ns), *nv = NULL, *fv = NULL, *fa = NULL,
               *vc = NULL, *ac = NULL;
    ltx_status s = normed ? LTX_OK : LTX_ERR_OOM;
    for (int l = 0; l < L && s == LTX_OK; l++) {
        ltx_tensor *h = ltx_golden_input(g, l);
        s = h ? ltx_text_norm_state(be, normed, l, L, h) : LTX_ERR_FORMAT;
        ltx_tensor_free(h);
    }
    if (s == LTX_OK) nv = valid_rows(be, normed, mask); /* (1, n, D*L) */
    if (s == LTX_OK) s = nv ? ltx_text_processor_features(p, nv, &fv, &fa) : LTX_ERR_OOM;
    int32_t *bin = s == LTX_OK ? malloc(sizeof *bin * (size_t)T) : NULL;
    if (s == LTX_OK)
        s = bin ? ltx_text_processor_connect(p, fv, fa, mask, T, &vc, &ac, bin) : LTX_ERR_OOM;
    if (s == LTX_OK) s = ltx_golden_emit(g, "out.video_encoding", vc);
    if (s == LTX_OK) s = ltx_golden_emit(g, "out.audio_encoding", ac);
    if (s == LTX_OK) {
        int64_t *b64 = malloc(sizeof *b64 * (size_t)T), ms[2] = {1, T};
        for (int64_t t = 0; b64 && t < T; t++)
            b64[t] = bin[t];
        s = b64 ? ltx_golden_emit_host(g, "out.attention_mask", LTX_I64, 2, ms, b64) : LTX_ERR_OOM;
        free(b64);
    }
    ltx_tensor *fr[] = {normed, nv, fv, fa, vc, ac};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    free(bin);
    free(mask);
    return s;
}
