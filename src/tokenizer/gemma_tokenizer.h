/*
 * gemma_tokenizer.h — Gemma 3 tokenizer: reads a Hugging Face `tokenizer.json` and reproduces
 * the ids of the `tokenizers` Rust library (what transformers' GemmaTokenizerFast runs) for it.
 *
 * Pipeline, as HF `tokenizers` runs it for Gemma 3's file:
 *   1. added tokens (special and not) are split out of the RAW text, leftmost-longest;
 *   2. each remaining piece is normalized (Replace " " -> "▁"), pre-tokenized (Split on " ",
 *      MergedWithPrevious — a no-op once spaces are gone) and encoded by the BPE model
 *      (merge ranks, byte fallback to <0xXX>, fused <unk>);
 *   3. with add_bos, the post-processor's template adds <bos> (id 2) in front.
 * The LTX convention (ltx_core/text_encoders/gemma/tokenizer.py, LTXVGemmaTokenizer) adds
 * Python str.strip(), right truncation to max_len including BOS, and LEFT padding with <pad>.
 *
 * Invalid UTF-8 (not representable by a Python str or a Rust &str, so not covered by the
 * reference): every maximal ill-formed subsequence is replaced by U+FFFD first, exactly as
 * Python's bytes.decode("utf-8", errors="replace") and Rust's String::from_utf8_lossy do.
 *
 * Deliberately not supported (rejected at load with LTX_ERR_UNSUPPORTED, never silently
 * mis-tokenized): other model types, BPE dropout/prefix/suffix, added tokens with
 * single_word/lstrip/rstrip/normalized set, normalizers and pre-tokenizers other than the
 * string Replace / Split(MergedWithPrevious) forms above. Gemma 3's file uses none of them.
 *
 * Thread-safety: a loaded tokenizer is read-only; encode/decode may run concurrently.
 */
#ifndef LTX_TOKENIZER_GEMMA_TOKENIZER_H
#define LTX_TOKENIZER_GEMMA_TOKENIZER_H

#include "ltx.h"

#include <stddef.h>
#include <stdint.h>

/* Public (include/ltx.h, "Gemma 3 tokenizer"): the ltx_gemma_tokenizer type,
 * ltx_gemma_tokenizer_load / _free / _encode and ltx_gemma_tokenize_ltx. */

/* ref: LTXVGemmaTokenizer is built with max_length=1024 by module_ops_from_gemma_root. */
#define LTX_GEMMA_LTX_MAX_LEN LTX_PROMPT_MAX_TOKENS
#define LTX_GEMMA_PAD_ID      0 /* "<pad>" in Gemma 3's tokenizer.json */
#define LTX_GEMMA_BOS_ID      2 /* "<bos>" */

/* Number of ids the tokenizer can emit (model vocab + added-only tokens; 262145 for Gemma 3). */
int ltx_gemma_tokenizer_vocab_size(const ltx_gemma_tokenizer *tok);

/* Tokens the LTX text path makes of `text` before truncation (special tokens included): more
 * than max_len means ltx_gemma_tokenize_ltx drops the tail. *n is 0 on failure. */
ltx_status ltx_gemma_count_ltx(const ltx_gemma_tokenizer *tok, const char *text, size_t len,
                               int *n);

/* Decodes ids to UTF-8 like HF decode(): tokens joined after the file's decoder (▁ -> " ",
 * <0xXX> runs -> bytes, U+FFFD per byte of an invalid run). skip_special drops special tokens.
 * *text is malloc'd, NUL-terminated, owned by the caller; *len (may be NULL) gets its length.
 * Ids outside the vocabulary fail with LTX_ERR_INVALID_ARG; a file whose decoder is not that
 * sequence fails with LTX_ERR_UNSUPPORTED. */
ltx_status ltx_gemma_tokenizer_decode(const ltx_gemma_tokenizer *tok, const int32_t *ids, int n,
                                      int skip_special, char **text, size_t *len);

/* The string of one id (the vocab/added-token form, e.g. "▁cat", "<0x0A>"), or NULL when out
 * of range. Points into the tokenizer; valid until it is freed. */
const char *ltx_gemma_tokenizer_token(const ltx_gemma_tokenizer *tok, int32_t id);

/* Python str.strip() (no argument) on UTF-8: the [*start, *start + *n) byte range of `text`
 * without leading/trailing U+0009-000D, U+001C-001F, U+0020, U+0085, U+00A0, U+1680,
 * U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000. Ill-formed bytes are never stripped. */
void ltx_gemma_py_strip(const char *text, size_t len, size_t *start, size_t *n);

#endif
