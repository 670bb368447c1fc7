/*
 * safetensors.h — memory-mapped safetensors reader (single files and sharded Hugging Face folders)
 * and a writer.
 *
 * Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
 * [begin, end]}, "__metadata__": {str: str}}, then the data section. The reader validates
 * everything before any tensor is handed out: header length within the file, JSON well formed,
 * each dtype known, shape non-negative with no overflow, data_offsets inside the data section
 * and equal to numel * element size, no overlapping tensors. A bad file yields LTX_ERR_FORMAT
 * (or LTX_ERR_IO) with a message naming the file and the problem — never a crash.
 *
 * GGUF v3 files are read through the same interface (gguf.c): ltx_st_open / _open_memory /
 * _open_dir recognise them by their magic; entries then may have block-quantized dtypes.
 *
 * Lifetime: an ltx_st_file owns its mapping; tensor data pointers stay valid until
 * ltx_st_close(). Thread-safety: a file may be read from several threads once open.
 */
#ifndef LTX_IO_SAFETENSORS_H
#define LTX_IO_SAFETENSORS_H

#include "core/tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ltx_st_entry {
    const char *name;
    ltx_dtype dtype;
    int ndim;
    int64_t shape[LTX_MAX_DIMS];
    const void *data; /* inside the mapping */
    size_t nbytes;
    int shard; /* index of the file in a sharded set (0 for single files) */
} ltx_st_entry;

typedef struct ltx_st_file ltx_st_file;

/* Opens and validates one .safetensors file (mmap, read-only). On success *out owns the
 * mapping (close with ltx_st_close); on failure *out is NULL and the message names the file. */
ltx_status ltx_st_open(const char *path, ltx_st_file **out);
/* Opens a Hugging Face folder through model.safetensors.index.json (or the single
 * model.safetensors when no index exists); all shards appear as one file. */
ltx_status ltx_st_open_dir(const char *dir, ltx_st_file **out);
/* Opens from memory (tests, fuzzing): `data` must outlive the file; not copied. */
ltx_status ltx_st_open_memory(const void *data, size_t size, const char *label, ltx_st_file **out);
void ltx_st_close(ltx_st_file *f); /* NULL is fine */

/* Queries below accept NULL (-> NULL / 0). Returned strings and entries belong to the file. */
const char *ltx_st_path(const ltx_st_file *f);
int ltx_st_count(const ltx_st_file *f);
/* Entries sorted by name (strcmp order); NULL when i is out of range. */
const ltx_st_entry *ltx_st_at(const ltx_st_file *f, int i);
/* NULL when absent. Binary search. */
const ltx_st_entry *ltx_st_find(const ltx_st_file *f, const char *name);
/* Metadata value for key, or NULL (e.g. "config" holds JSON text). */
const char *ltx_st_metadata(const ltx_st_file *f, const char *key);
int ltx_st_metadata_count(const ltx_st_file *f);
void ltx_st_metadata_at(const ltx_st_file *f, int i, const char **key, const char **value);

/* A tensor for an entry on `be` in its stored dtype (zero-copy on host-visible backends; the
 * tensor borrows the mapping, so free it before closing the file). NULL + error when absent
 * (message names the tensor and file). */
ltx_tensor *ltx_st_tensor(const ltx_st_file *f, ltx_backend *be, const char *name);
/* Same, converted to `dt` (always a new buffer). */
ltx_tensor *ltx_st_tensor_as(const ltx_st_file *f, ltx_backend *be, const char *name, ltx_dtype dt);
/* Reads an entry into host memory as f32 (malloc'd, caller frees); NULL + error on failure. */
float *ltx_st_read_f32(const ltx_st_file *f, const char *name, int64_t *numel);

/* ---- writer ---- */
typedef struct ltx_st_writer ltx_st_writer;
/* Empty writer (NULL on OOM); free with ltx_st_writer_free. */
ltx_st_writer *ltx_st_writer_new(void);
/* Copies the data. Names must be unique. */
ltx_status ltx_st_writer_add(ltx_st_writer *w, const char *name, ltx_dtype dt, int ndim,
                             const int64_t *shape, const void *data);
ltx_status ltx_st_writer_add_tensor(ltx_st_writer *w, const char *name, const ltx_tensor *t);
ltx_status ltx_st_writer_set_metadata(ltx_st_writer *w, const char *key, const char *value);
/* Writes to path.tmp then renames onto path. */
ltx_status ltx_st_writer_save(ltx_st_writer *w, const char *path);
void ltx_st_writer_free(ltx_st_writer *w); /* NULL is fine */

/* ---- appended: overlay -----------------------------------------------------------------------
 * Opens `base` and `over` (safetensors or GGUF files) as one file: every entry of `over`
 * replaces the same-named entry of `base`, the rest of `base` stays, metadata comes from `base`
 * (then `over` for keys base lacks). Used for a transformer-only GGUF (ComfyUI-GGUF) next to the
 * full checkpoint that supplies the config, VAEs, vocoder and connectors. */
ltx_status ltx_st_open_overlay(const char *base, const char *over, ltx_st_file **out);

/* Drops this process's resident pages of every mapped entry whose name starts with `prefix`
 * (madvise MADV_DONTNEED on the page-aligned interior of its bytes; the file backs them, so a
 * later read faults them back in unchanged). For weights a finished stage no longer needs while
 * the file stays open (text connectors after prompt encoding). In-memory files: no-op. */
void ltx_st_release_pages(const ltx_st_file *f, const char *prefix);

/* ---- appended: shard queries (sharded folders; a single file has one shard) ---- */
int ltx_st_shard_count(const ltx_st_file *f);
/* Path of shard i (entry->shard indexes it), or NULL when out of range. */
const char *ltx_st_shard_path(const ltx_st_file *f, int shard);

#endif
