/*
 * gguf_build.h — byte-level GGUF v3 builder for the tests (test_gguf.c, test_gguf_fuzz.c):
 * writes the format by hand (not through src/io/gguf_writer.c), and records where every
 * count, dim, type and offset field sits so fuzzers can aim at them.
 */
#ifndef LTX_TEST_GGUF_BUILD_H
#define LTX_TEST_GGUF_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gb {
    uint8_t *p;
    size_t n, cap;
    size_t fields[512]; /* offsets of u32/u64 fields worth mutating */
    int nfields;
} gb;

static inline void gb_put(gb *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static inline void gb_mark(gb *b)
{
    if (b->nfields < 512) b->fields[b->nfields++] = b->n;
}
static inline void gb_u32(gb *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gb_mark(b);
    gb_put(b, x, 4);
}
static inline void gb_u64(gb *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    gb_mark(b);
    gb_put(b, x, 8);
}
static inline void gb_str(gb *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}
static inline void gb_kv_str(gb *b, const char *k, const char *v)
{
    gb_str(b, k);
    gb_u32(b, 8);
    gb_str(b, v);
}
static inline void gb_kv_u32(gb *b, const char *k, uint32_t v)
{
    gb_str(b, k);
    gb_u32(b, 4);
    gb_u32(b, v);
}
/* Tensor info with PyTorch-order shape (written innermost first). */
static inline void gb_tensor(gb *b, const char *name, int nd, const int64_t *shape, uint32_t type,
                             uint64_t off)
{
    gb_str(b, name);
    gb_u32(b, (uint32_t)nd);
    for (int d = nd - 1; d >= 0; d--)
        gb_u64(b, (uint64_t)shape[d]);
    gb_u32(b, type);
    gb_u64(b, off);
}
static inline void gb_align(gb *b, size_t a)
{
    static const uint8_t z[64];
    gb_put(b, z, (a - b->n % a) % a);
}

#endif
