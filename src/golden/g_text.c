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
ltx_status ltx_g_gemma3_text_hidden_states(ltx_golden_ctx *g);
ltx_status ltx_g_embeddings_processor(ltx_golden_ctx *g);

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
    if (!v) {
        ltx_err(LTX_ERR_OOM, "golden: out of memory for %s", name);
        return NULL;
    }
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

typedef struct gemma_collect {
    ltx_backend *be;
    ltx_tensor **full; /* num_layers + 1 tensors (B, T, D), zero in pad rows */
    int64_t b, T;
} gemma_collect;

/* Copies rows [row0, T) of hidden state `index` into full[index][b]. */
static ltx_status gemma_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    gemma_collect *gc = user;
    ltx_backend *be = gc->be;
    ltx_tensor *item = ltx_tensor_slice(gc->full[index], 0, gc->b, gc->b + 1, 1);
    ltx_tensor *rows = item ? ltx_tensor_slice(item, 1, row0, gc->T, 1) : NULL;
    ltx_status s = rows ? be->ops->copy(be, rows, h) : ltx_err_failed();
    ltx_tensor_free(rows);
    ltx_tensor_free(item);
    return s;
}

ltx_status ltx_g_gemma3_text_hidden_states(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    /* extra.files.gemma_root ("tiny_gemma/") is relative to the golden set root. */
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(ltx_golden_extra(g), "files");
    const char *rel =
        ltx_json_str(files, "gemma_root", ltx_json_str(ltx_golden_params(g), "gemma_root", NULL));
    if (!rel) return ltx_err(LTX_ERR_FORMAT, "gemma3 golden: no gemma_root");
    char dir[4096], up[512];
    snprintf(up, sizeof up, "../%s", rel);
    ltx_golden_resolve(g, "ckpt", up, dir, sizeof dir); /* <root>/tiny_ckpt/../<rel> */
    const ltx_st_entry *ie = ltx_st_find(ltx_golden_file(g), ltx_golden_input_name(g, 0));
    if (!ie || ie->ndim < 1 || ie->ndim > 2)
        return ltx_err(LTX_ERR_FORMAT, "gemma3 golden: input ids must be (B, T)");
    int64_t B = ie->ndim == 2 ? ie->shape[0] : 1, T = ie->shape[ie->ndim - 1];
    int64_t n_ids = 0, n_mask = 0;
    int32_t *ids = read_ints(g, ltx_golden_input_name(g, 0), &n_ids);
    int32_t *mask = ids ? read_ints(g, ltx_golden_input_name(g, 1), &n_mask) : NULL;
    ltx_gemma3 *m = NULL;
    ltx_tensor **full = NULL;
    int nh = 0;
    ltx_status s = mask ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK && (n_ids != n_mask || n_ids != B * T))
        s = ltx_err(LTX_ERR_FORMAT, "gemma3 golden: %lld ids vs %lld mask entries",
                    (long long)n_ids, (long long)n_mask);
    if (s == LTX_OK) s = ltx_gemma3_open(be, dir, &m);
    if (s == LTX_OK) {
        const ltx_gemma3_config *c = ltx_gemma3_get_config(m);
        nh = c->num_layers + 1;
        full = calloc((size_t)nh, sizeof *full);
        int64_t shape[3] = {B, T, c->hidden_size};
        for (int i = 0; full && i < nh; i++)
            full[i] = ltx_tensor_zeros(be, LTX_F32, 3, shape);
        s = full && full[nh - 1] ? LTX_OK : ltx_err_failed();
    }
    /* ref: batch items are independent in Gemma (per-item masks and positions) */
    for (int64_t b = 0; b < B && s == LTX_OK; b++) {
        gemma_collect gc = {be, full, b, T};
        s = ltx_gemma3_forward(m, ids + b * T, mask + b * T, T, gemma_hidden, NULL, &gc);
    }
    for (int i = 0; i < nh && s == LTX_OK; i++) {
        const char *name = ltx_golden_output_name(g, i);
        s = name ? ltx_golden_emit(g, name, full[i])
                 : ltx_err(LTX_ERR_FORMAT, "gemma3 golden: no output #%d", i);
    }
    for (int i = 0; full && i < nh; i++)
        ltx_tensor_free(full[i]);
    free(full);
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

ltx_status ltx_g_embeddings_processor(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    const cJSON *prm = ltx_golden_params(g);
    int L = (int)ltx_json_int(prm, "num_hidden_states", 0);
    int D = (int)ltx_json_int(prm, "hidden_size", 0);
    if (L < 1 || D < 1) return ltx_err(LTX_ERR_FORMAT, "embeddings_processor: sizes missing");
    /* padding_side only matters to V1's normalisation; V2 and the register substitution
     * follow the mask itself (any padding, as the reference). */
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
    if (!mask) return ltx_err_failed();
    ltx_tensor **hs = calloc((size_t)L, sizeof *hs), *vc = NULL, *ac = NULL;
    ltx_status s = hs ? LTX_OK : ltx_err(LTX_ERR_OOM, "out of memory");
    for (int l = 0; l < L && s == LTX_OK; l++) {
        hs[l] = ltx_golden_input(g, l); /* (1, T, D) */
        if (!hs[l]) s = ltx_err_failed();
    }
    if (s == LTX_OK)
        s = ltx_text_processor_process(p, (const ltx_tensor *const *)hs, L, mask, T,
                                       ltx_golden_taps(g), &vc, &ac);
    if (s == LTX_OK) s = ltx_golden_emit(g, "out.video_encoding", vc);
    if (s == LTX_OK) s = ltx_golden_emit(g, "out.audio_encoding", ac);
    if (s == LTX_OK) {
        /* ref: _to_binary_mask of the connector's all-zero additive mask: all ones */
        int64_t *ones = malloc(sizeof *ones * (size_t)T), ms[2] = {1, T};
        for (int64_t t = 0; ones && t < T; t++)
            ones[t] = 1;
        s = ones ? ltx_golden_emit_host(g, "out.attention_mask", LTX_I64, 2, ms, ones)
                 : ltx_err(LTX_ERR_OOM, "out of memory");
        free(ones);
    }
    for (int l = 0; hs && l < L; l++)
        ltx_tensor_free(hs[l]);
    free(hs);
    ltx_tensor_free(vc);
    ltx_tensor_free(ac);
    free(mask);
    return s;
}
