/*
 * gguf.h — GGUF v3 support beyond reading: a streaming writer and the Gemma 3 name mapping.
 *
 * Reading needs no separate API: ltx_st_open / ltx_st_open_memory / ltx_st_open_dir recognise
 * a GGUF file by its magic and present it as an ltx_st_file (see gguf.c for the conventions:
 * PyTorch dim order, ComfyUI prefixes and orig_shape, llama.cpp Gemma names and norms).
 *
 * The writer streams: declare every tensor (name, dtype, PyTorch shape) and the metadata first,
 * then ltx_gguf_writer_open writes the header to "<path>.tmp", the tensors' bytes follow in
 * declaration order through ltx_gguf_writer_data (any chunking), and ltx_gguf_writer_close
 * renames the temp file onto path. So the output is complete or absent, and peak memory is what
 * the caller holds for one chunk. Alignment 32 (the default; not written as a key).
 */
#ifndef LTX_IO_GGUF_H
#define LTX_IO_GGUF_H

#include "core/tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type id of a dtype (the GGUF tensor type field); -1 when GGUF has none. */
int ltx_gguf_type_id(ltx_dtype dt);

typedef struct ltx_gguf_writer ltx_gguf_writer;
/* Empty writer (NULL on OOM). Free with ltx_gguf_writer_free (removes an unfinished temp file). */
ltx_gguf_writer *ltx_gguf_writer_new(void);
void ltx_gguf_writer_free(ltx_gguf_writer *w); /* NULL is fine */
/* Metadata (copied); before open. Keys must be unique. */
ltx_status ltx_gguf_writer_kv_str(ltx_gguf_writer *w, const char *key, const char *value);
ltx_status ltx_gguf_writer_kv_u32(ltx_gguf_writer *w, const char *key, uint32_t value);
ltx_status ltx_gguf_writer_kv_f32(ltx_gguf_writer *w, const char *key, float value);
/* Declares the next tensor (name copied; shape in PyTorch order, last dim whole blocks). */
ltx_status ltx_gguf_writer_tensor(ltx_gguf_writer *w, const char *name, ltx_dtype dt, int ndim,
                                  const int64_t *shape);
/* Creates "<path>.tmp" and writes header, metadata and tensor infos. */
ltx_status ltx_gguf_writer_open(ltx_gguf_writer *w, const char *path);
/* Appends n bytes of tensor data (tensors in declaration order, boundaries anywhere). */
ltx_status ltx_gguf_writer_data(ltx_gguf_writer *w, const void *bytes, size_t n);
/* Checks every declared byte was written, flushes, renames onto path. */
ltx_status ltx_gguf_writer_close(ltx_gguf_writer *w);

/* Hugging Face Gemma 3 name ("model.layers.3.mlp.up_proj.weight", also with the
 * "language_model." prefix) -> llama.cpp name ("blk.3.ffn_up.weight"); *is_norm for RMSNorm
 * weights, which llama.cpp files store as 1 + w. False for names with no llama.cpp twin. */
bool ltx_gguf_gemma_llama_name(const char *hf, char *out, size_t cap, bool *is_norm);

#endif
