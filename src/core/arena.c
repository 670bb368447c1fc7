/*
 * arena.c — bump allocation of tensors inside one backend buffer (contract in arena.h).
 * Deliberately minimal: no free list, no per-tensor release and no growth — a full arena is an
 * LTX_ERR_OOM naming the shortfall, so sizes are planned up front. No reference counterpart
 * (torch's caching allocator plays this role there).
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

#define ARENA_ALIGN 64

struct ltx_arena {
    ltx_buffer *buf;
    size_t used, peak;
};

ltx_arena *ltx_arena_new(ltx_backend *be, size_t capacity)
{
    ltx_arena *a = calloc(1, sizeof *a);
    if (!a) {
        ltx_err(LTX_ERR_OOM, "out of memory");
        return NULL;
    }
    a->buf = ltx_buffer_new(be, capacity);
    if (!a->buf) {
        free(a);
        return NULL;
    }
    return a;
}

void ltx_arena_free(ltx_arena *a)
{
    if (!a) return;
    ltx_buffer_release(a->buf);
    free(a);
}

size_t ltx_arena_bytes_for(ltx_dtype dt, int ndim, const int64_t *shape)
{
    int64_t numel;
    /* an impossible shape needs "everything": the arena then reports it full, never wraps */
    if (!ltx_shape_numel_ok(ndim, shape, ltx_dtype_size(dt), &numel)) return SIZE_MAX;
    size_t n = (size_t)numel * ltx_dtype_size(dt);
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

ltx_tensor *ltx_arena_tensor(ltx_arena *a, ltx_dtype dt, int ndim, const int64_t *shape)
{
    if (ltx_dtype_is_quant(dt)) { /* activations only: no block-quantized arena tensors */
        ltx_err(LTX_ERR_INVALID_ARG, "arena tensors cannot be %s", ltx_dtype_name(dt));
        return NULL;
    }
    size_t need = ltx_arena_bytes_for(dt, ndim, shape);
    if (need > a->buf->size - a->used) {
        ltx_err(LTX_ERR_OOM, "arena of %zu bytes is full: %zu used, %zu more needed", a->buf->size,
                a->used, need);
        return NULL;
    }
    size_t esz = ltx_dtype_size(dt);
    /* offsets are in elements of the tensor's dtype; ARENA_ALIGN is a multiple of every size */
    ltx_tensor *t = ltx_tensor_on_buffer(a->buf, dt, ndim, shape, (int64_t)(a->used / esz));
    if (!t) return NULL;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return t;
}

void ltx_arena_reset(ltx_arena *a)
{
    a->used = 0;
}
size_t ltx_arena_used(const ltx_arena *a)
{
    return a->used;
}
size_t ltx_arena_peak(const ltx_arena *a)
{
    return a->peak;
}
size_t ltx_arena_capacity(const ltx_arena *a)
{
    return a->buf->size;
}
