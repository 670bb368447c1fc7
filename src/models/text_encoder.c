/*
 * text_encoder.c — prompt -> contexts (see text_encoder.h).
 *
 * ref: ltx_core/text_encoders/gemma/encoders/base_encoder.py GemmaTextEncoder.encode
 * (tokenize_with_weights -> model.model(..., output_hidden_states=True)) and
 * embeddings_processor.py EmbeddingsProcessor.process_hidden_states (feature extractor ->
 * create_embeddings). The hidden states are normalised into the feature matrix as Gemma emits
 * them (norm_and_concat_per_token_rms, one column of layers at a time), so no list of 49
 * (T, 3840) tensors is ever held.
 */
#include "models/text_encoder.h"

#include "tokenizer/gemma_tokenizer.h"

#include <stdlib.h>
#include <string.h>

void ltx_text_context_clear(ltx_text_context *c)
{
    if (!c) return;
    ltx_tensor_free(c->video);
    ltx_tensor_free(c->audio);
    memset(c, 0, sizeof *c);
}

typedef struct norm_sink {
    ltx_backend *be;
    ltx_tensor *normed; /* (1, n, D*L) */
    int L;
    ltx_gemma3_layer_fn on_layer;
    void *user;
} norm_sink;

static ltx_status sink_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    (void)row0;
    norm_sink *ns = user;
    return ltx_text_norm_state(ns->be, ns->normed, index, ns->L, h);
}

static void sink_layer(void *user, int layer)
{
    norm_sink *ns = user;
    if (ns->on_layer) ns->on_layer(ns->user, layer);
}

/* One prompt through an open tokenizer + Gemma. */
static ltx_status encode_one(ltx_backend *be, const ltx_text_encode_params *prm,
                             const ltx_gemma_tokenizer *tok, ltx_gemma3 *gm,
                             const ltx_text_processor *proc, const char *prompt,
                             ltx_text_context *out)
{
    int T = prm->max_len > 0 ? prm->max_len : LTX_GEMMA_LTX_MAX_LEN;
    int32_t *ids = malloc(sizeof *ids * (size_t)T), *mask = malloc(sizeof *mask * (size_t)T);
    ltx_tensor *normed = NULL, *fv = NULL, *fa = NULL;
    ltx_status s = ids && mask ? LTX_OK : ltx_err(LTX_ERR_OOM, "text encoder: out of memory");
    if (s == LTX_OK) s = ltx_gemma_tokenize_ltx(tok, prompt, strlen(prompt), T, ids, mask);
    if (s == LTX_OK) s = ltx_gemma_count_ltx(tok, prompt, strlen(prompt), &out->n_prompt);
    /* Valid tokens are the tail after the left pads (the LTX tokenizer convention). */
    int64_t row0 = 0, n = 0;
    while (s == LTX_OK && row0 < T && mask[row0] == 0)
        row0++;
    for (int64_t t = row0; s == LTX_OK && t < T; t++)
        n += mask[t] != 0;
    if (s == LTX_OK && (n == 0 || n != T - row0))
        s = ltx_err(LTX_ERR_INTERNAL, "text encoder: mask is not left-padded");
    const ltx_gemma3_config *gc = ltx_gemma3_get_config(gm);
    int D = ltx_text_processor_embedding_dim(proc), L = ltx_text_processor_num_states(proc);
    if (s == LTX_OK && (gc->hidden_size != D || gc->num_layers + 1 != L))
        s = ltx_err(LTX_ERR_FORMAT,
                    "text encoder: Gemma gives %d states of %d, the checkpoint's "
                    "feature extractor takes %d of %d",
                    gc->num_layers + 1, gc->hidden_size, L, D);
    if (s == LTX_OK) {
        int64_t shape[3] = {1, n, (int64_t)D * L};
        normed = ltx_tensor_new(be, LTX_F32, 3, shape); /* (1, n, D*L) */
        s = normed ? LTX_OK : ltx_err_failed();
    }
    if (s == LTX_OK) {
        norm_sink ns = {be, normed, L, prm->on_layer, prm->user};
        s = ltx_gemma3_forward(gm, ids, mask, T, sink_hidden, sink_layer, &ns);
    }
    /* (1, n, Nv) / (1, n, Na) */
    if (s == LTX_OK) s = ltx_text_processor_features(proc, normed, &fv, &fa);
    ltx_tensor_free(normed);
    if (s == LTX_OK)
        s = ltx_text_processor_connect(proc, fv, fa, mask, T, &out->video, &out->audio, NULL);
    if (s == LTX_OK) {
        out->T = T;
        out->n_tokens = (int)n;
    }
    ltx_tensor_free(fv);
    ltx_tensor_free(fa);
    free(ids);
    free(mask);
    return s;
}

ltx_status ltx_text_encode_prompts(ltx_backend *be, const ltx_text_encode_params *prm,
                                   const ltx_text_processor *proc, const char *const *prompts,
                                   int n, ltx_text_context *out)
{
    for (int i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    if (!prm || !prm->gemma_root)
        return ltx_err(LTX_ERR_INVALID_ARG, "text encoder: no Gemma root");
    ltx_gemma_tokenizer *tok = prm->tok;
    ltx_gemma3 *gm = prm->gemma;
    ltx_status s = LTX_OK;
    if (!tok) s = ltx_gemma_tokenizer_load(prm->tokenizer ? prm->tokenizer : prm->gemma_root, &tok);
    if (s == LTX_OK && !gm) s = ltx_gemma3_open(be, prm->gemma_root, &gm);
    for (int i = 0; i < n && s == LTX_OK; i++)
        s = encode_one(be, prm, tok, gm, proc, prompts[i] ? prompts[i] : "", &out[i]);
    /* ref: the pipelines free the text encoder before the transformer stage (unless the
     * caller keeps it resident: engine model cache) */
    if (gm != prm->gemma) ltx_gemma3_close(gm);
    if (tok != prm->tok) ltx_gemma_tokenizer_free(tok);
    if (s != LTX_OK)
        for (int i = 0; i < n; i++)
            ltx_text_context_clear(&out[i]);
    return s;
}
