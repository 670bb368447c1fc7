/*
 * token_sampler.h — next-token choice for text generation (prompt enhancement): greedy, or
 * temperature + top-k + top-p filtering and a seeded draw from the filtered distribution.
 *
 * ref: transformers generation/logits_process.py TemperatureLogitsWarper (scores / t),
 * TopKLogitsWarper (removes scores < the k-th largest: ties at the cut are kept),
 * TopPLogitsWarper (ascending sort, softmax cumsum, removes cum <= 1 - p, keeps the last
 * min_tokens_to_keep), GenerationMixin._sample (softmax -> multinomial). The processors run in
 * that order, as _get_logits_processor builds them for LTX's generate(do_sample=True,
 * temperature=0.7) with GenerationConfig.from_model_config defaults (top_k 50, top_p 1.0).
 *
 * The draw is ours (splitmix64 stream, inverse CDF over the kept ids in (-score, id) order):
 * torch.multinomial's draw depends on the torch version and device, so only the distribution is
 * the reference's. Same seed, same logits -> same token.
 */
#ifndef LTX_SAMPLING_TOKEN_SAMPLER_H
#define LTX_SAMPLING_TOKEN_SAMPLER_H

#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ltx_token_sampler_params {
    bool greedy;       /* argmax of the raw logits (do_sample=False) */
    float temperature; /* 0.7 (reference _enhance) */
    int top_k;         /* 50 (GenerationConfig default); 0 = off */
    float top_p;       /* 1.0 = off */
    uint64_t seed;     /* 10 */
} ltx_token_sampler_params;

/* The reference's sampling settings listed above. */
void ltx_token_sampler_params_init(ltx_token_sampler_params *p);

typedef struct ltx_token_sampler ltx_token_sampler;

/* Sampler for a vocabulary of n ids (scratch sized for it). *out owned by the caller. */
ltx_status ltx_token_sampler_new(const ltx_token_sampler_params *p, int n, ltx_token_sampler **out);
void ltx_token_sampler_free(ltx_token_sampler *s); /* NULL is fine */

/* The filtered distribution of logits[0..n): writes the kept ids ordered by (-score, id),
 * their processed scores and softmax probabilities (each array n long, caller-owned); returns
 * how many were kept (>= 1), or -1 on OOM. */
int ltx_token_filter(const ltx_token_sampler_params *p, const float *logits, int n, int32_t *ids,
                     float *scores, float *probs);

/* Next token for logits[0..n) (n as given to _new): argmax when greedy, else a draw. */
int32_t ltx_token_sampler_pick(ltx_token_sampler *s, const float *logits);

#endif
