/*
 * arena.h — bump allocators for activations planned up front.
 *
 * An ltx_arena owns one backend buffer of a fixed capacity. Tensors carved from it
 * (ltx_arena_tensor) are ordinary ltx_tensor objects sharing that buffer (each holds a buffer
 * reference, so the memory lives until the last tensor and the arena are freed). Reset rewinds
 * the bump pointer: tensors carved earlier must no longer be used after a reset (their memory
 * is reused) — the per-stage pattern is plan, run, reset. Kernels never allocate: callers size
 * the arena (ltx_arena_bytes_for helps) and get LTX_ERR_OOM with the shortfall when it is too
 * small. Not thread-safe.
 */
#ifndef LTX_CORE_ARENA_H
#define LTX_CORE_ARENA_H

#include "core/tensor.h"

typedef struct ltx_arena ltx_arena;

/* NULL + error on failure. `capacity` in bytes. */
ltx_arena *ltx_arena_new(ltx_backend *be, size_t capacity);
/* Drops the arena's buffer reference (tensors still holding it keep it alive); a may be NULL. */
void ltx_arena_free(ltx_arena *a);
/* Contiguous uninitialised tensor; 64-byte aligned start. NULL + LTX_ERR_OOM when full. */
ltx_tensor *ltx_arena_tensor(ltx_arena *a, ltx_dtype dt, int ndim, const int64_t *shape);
/* Rewinds to empty; the peak is kept. Earlier tensors must no longer be used. */
void ltx_arena_reset(ltx_arena *a);
/* Bytes carved since the last reset, the most ever carved, and the buffer size (a non-NULL). */
size_t ltx_arena_used(const ltx_arena *a);
size_t ltx_arena_peak(const ltx_arena *a);
size_t ltx_arena_capacity(const ltx_arena *a);
/* Bytes one tensor of this shape takes in an arena (aligned); SIZE_MAX when its size overflows
 * (ltx_shape_numel_ok), which no arena can hold. */
size_t ltx_arena_bytes_for(ltx_dtype dt, int ndim, const int64_t *shape);

#endif
