/*
 * tok_internal.h — the Gemma tokenizer's data layout and the helpers shared by
 * gemma_tokenizer.c (loading, pipeline, LTX convention, decode) and tok_bpe.c (hash tables,
 * UTF-8 handling, the BPE merge loop). Not part of any public API.
 */
#ifndef LTX_TOKENIZER_TOK_INTERNAL_H
#define LTX_TOKENIZER_TOK_INTERNAL_H

#include "tokenizer/gemma_tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open-addressing map from a token string to its id. A slot caches the string's hash, length
 * and arena offset, so a probe touches the slot and (on a likely hit) the string only. */
typedef struct tok_strslot {
    uint32_t hash; /* high 32 bits of tok_hash_bytes */
    uint32_t len;
    uint32_t off; /* into the tokenizer's arena */
    int32_t id;   /* -1 = empty */
} tok_strslot;
typedef struct tok_strmap {
    tok_strslot *slots;
    uint32_t mask; /* capacity - 1, capacity a power of two */
} tok_strmap;

/* Open-addressing map from an id pair (a << 32 | b) to (merge rank, merged id). */
typedef struct tok_mergeslot {
    uint64_t key; /* TOK_EMPTY_PAIR = empty */
    uint32_t rank;
    int32_t new_id;
} tok_mergeslot;
typedef struct tok_mergemap {
    tok_mergeslot *slots;
    uint32_t mask;
} tok_mergemap;
#define TOK_EMPTY_PAIR UINT64_MAX

/* A growable id list. */
typedef struct tok_ids {
    int32_t *v;
    int n, cap;
} tok_ids;

struct ltx_gemma_tokenizer {
    char *path; /* the tokenizer.json that was read (for messages) */

    /* id -> string: strings are NUL-terminated in `arena` (they never contain NUL bytes). */
    char *arena;
    uint32_t *str_off, *str_len;
    int n_ids;         /* 1 + the largest id (model vocab + added-only tokens) */
    int n_model;       /* ids [0, n_model) may come from the BPE model's vocab */
    uint8_t *in_model; /* per id: 1 when the id is in the model's vocab */
    uint8_t *special;  /* per id: 1 for added tokens with "special": true */

    tok_strmap vocab; /* model vocab (ids with in_model) */
    tok_mergemap merges;

    /* Added tokens split out of the raw text (all have normalized=false in Gemma's file). */
    tok_strmap added;
    uint8_t added_first[256]; /* 1 when some added token starts with this byte */
    int added_lens[128];      /* distinct byte lengths, descending */
    int n_added_lens;

    /* BPE model options (ref: tokenizers/src/models/bpe/model.rs). */
    int unk_id; /* -1 when the model has none */
    bool byte_fallback, fuse_unk;
    int32_t byte_id[256]; /* "<0xXX>" ids for byte fallback, -1 when absent */

    /* Normalizer Replace(pattern -> content); empty pattern = no normalizer. */
    char *norm_pat, *norm_rep;
    /* Pre-tokenizer Split(pattern, MergedWithPrevious); empty pattern = none. */
    char *split_pat;
    /* The decoder is Sequence[Replace("▁" -> " "), ByteFallback, Fuse] (else decode refuses). */
    bool decoder_ok;

    /* Post-processor template for a single sequence: ids before and after it. */
    int32_t pre_ids[8], post_ids[8];
    int n_pre, n_post;
};

/* ---- tok_bpe.c ---------------------------------------------------------------------------- */

/* The string of id (no bounds check). */
static inline const char *tok_str(const ltx_gemma_tokenizer *t, int32_t id)
{
    return t->arena + t->str_off[id];
}

/* Creates a map with room for `n` entries at load factor <= 1/2; false on OOM. */
bool ltx_tok_strmap_init(tok_strmap *m, size_t n);
void ltx_tok_strmap_free(tok_strmap *m);
/* Inserts id (keyed by tok_str(t, id)); returns the id already there for an equal string, or
 * -1 when inserted. */
int32_t ltx_tok_strmap_put(tok_strmap *m, const ltx_gemma_tokenizer *t, int32_t id);
/* The id of the string s[0..n), or -1. */
int32_t ltx_tok_strmap_get(const tok_strmap *m, const ltx_gemma_tokenizer *t, const char *s,
                           size_t n);

bool ltx_tok_mergemap_init(tok_mergemap *m, size_t n);
void ltx_tok_mergemap_free(tok_mergemap *m);
/* Inserts or overwrites (a later merge of the same pair wins, like HF's HashMap collect). */
void ltx_tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id);

bool ltx_tok_ids_push(tok_ids *v, int32_t id);

/* Byte length of the UTF-8 sequence starting at valid lead byte c. */
static inline int tok_utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Copies s[0..n) with every maximal ill-formed UTF-8 subsequence replaced by U+FFFD (the
 * Unicode "substitution of maximal subparts" practice of Python and Rust). *out is malloc'd
 * (NUL-terminated), *out_n its length. Returns false on OOM. */
bool ltx_tok_utf8_sanitize(const char *s, size_t n, char **out, size_t *out_n);

/* BPE-encodes one pre-tokenized word w[0..n) (valid UTF-8) and appends its ids to out.
 * ref: tokenizers/src/models/bpe/model.rs merge_word + word.rs Word::merge_all. */
ltx_status ltx_tok_bpe_word(const ltx_gemma_tokenizer *t, const char *w, size_t n, tok_ids *out);

#endif
