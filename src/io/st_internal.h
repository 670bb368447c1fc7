/*
 * st_internal.h — private layout of ltx_st_file shared by safetensors.c (parsing, queries),
 * st_dir.c (sharded folders), st_writer.c and st_tensor.c. Not for use outside src/io/st*.
 */
#ifndef LTX_IO_ST_INTERNAL_H
#define LTX_IO_ST_INTERNAL_H

#include "core/strmap.h"
#include "io/safetensors.h"

typedef struct st_shard {
    char *path;  /* file path, or the label of an in-memory buffer */
    void *map;   /* start of the file bytes */
    size_t size; /* bytes */
    bool mapped; /* true: munmap on close (false for ltx_st_open_memory) */
} st_shard;

struct ltx_st_file {
    char *path; /* file, folder or label as given to open */
    st_shard *shards;
    int nshards;
    ltx_st_entry *entries; /* sorted by name after ltx_st_finalize; names are owned */
    int n, cap;
    char **mkeys, **mvals; /* metadata in file order (first shard wins on repeated keys) */
    int nmeta, metacap;
    ltx_strmap mindex; /* key -> index into mkeys/mvals (keys borrowed from mkeys) */
    void **owned; /* malloc'd tensor data some entries point at (GGUF norm fix-ups); freed */
    int nowned;
};

/* Empty file object with `nshards` zeroed shard slots; NULL on OOM (no error text). */
ltx_st_file *ltx_st_file_new(const char *path, int nshards);
/* Maps `path` read-only into slot `shard` and parses it (appends entries). */
ltx_status ltx_st_map_shard(ltx_st_file *f, int shard, const char *path);
/* Appends an entry (the file takes its malloc'd name only on success). */
ltx_status ltx_st_push_entry(ltx_st_file *f, const ltx_st_entry *e);
/* Adds a metadata pair (copied) unless the key is already present (first shard wins). */
ltx_status ltx_st_push_meta(ltx_st_file *f, const char *key, const char *val);
/* Rejects overlapping data among entries [first, f->n). */
ltx_status ltx_st_check_overlap(ltx_st_file *f, int first, const char *label);
/* GGUF (gguf.c): validates one GGUF file's bytes and appends its entries and metadata, with
 * names and shapes in this library's (PyTorch) convention. */
ltx_status ltx_gguf_parse_shard(ltx_st_file *f, const void *base, size_t size, const char *label,
                                int shard);
/* Sorts entries by name and rejects duplicate names. */
ltx_status ltx_st_finalize(ltx_st_file *f);
/* Writer: adds a tensor taking ownership of malloc'd `data` (freed on failure too). */
ltx_status ltx_st_writer_add_owned(ltx_st_writer *w, const char *name, ltx_dtype dt, int ndim,
                                   const int64_t *shape, void *data, size_t nbytes);

#endif
