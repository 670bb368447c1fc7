/*
 * quant.h — GGML block-quantized storage formats: block layouts, and scalar row quantizers and
 * dequantizers.
 *
 * Every struct below is byte-for-byte the block GGUF files store (little-endian, no padding;
 * the _Static_asserts pin the sizes), so a mapped GGUF tensor is an array of these blocks and
 * a row of K elements is K / QK blocks. A "half" is an IEEE binary16 bit pattern.
 * Dequantized value of element i in a block (q = the stored integer code):
 *   Q8_0  d * q                       q int8            32 per block
 *   Q4_0  d * (q - 8)                 q 0..15           32
 *   Q4_1  d * q + m                   q 0..15           32
 *   Q5_0  d * (q - 16)                q 0..31 (bit 4 in qh) 32
 *   Q5_1  d * q + m                   q 0..31           32
 *   Q2_K  d*sc * q - dmin*mn          q 0..3, sc/mn 4-bit per 16           256
 *   Q3_K  d*(sc - 32) * (q - 4)       q 0..7 (bit 2 in hmask), sc 6-bit per 16   256
 *   Q4_K  d*sc * q - dmin*mn          q 0..15, sc/mn 6-bit per 32         256
 *   Q5_K  d*sc * q - dmin*mn          q 0..31 (bit 4 in qh), sc/mn 6-bit per 32   256
 *   Q6_K  d*sc * (q - 32)             q 0..63, sc int8 per 16            256
 * The bit placement of each format is spelled out next to its dequantizer in quant.c.
 * The quantizers are our own (round to nearest against min/max-derived scales, then the codes
 * recomputed against the rounded scales); they write valid blocks of these formats but are not
 * bit-identical to ggml's search-based quantizers — nothing here needs that.
 * ref: the GGUF format definition (ggml docs/gguf.md) and ggml's block_* declarations.
 */
#ifndef LTX_CORE_QUANT_H
#define LTX_CORE_QUANT_H

#include <stdint.h>

#define LTX_QK4_0        32
#define LTX_QK4_1        32
#define LTX_QK5_0        32
#define LTX_QK5_1        32
#define LTX_QK8_0        32
#define LTX_QK_K         256 /* super-block of the K-quants */
#define LTX_K_SCALE_SIZE 12

typedef struct {
    uint16_t d;                /* half: scale */
    uint8_t qs[LTX_QK4_0 / 2]; /* element j in the low nibble of qs[j], j+16 in the high one */
} ltx_block_q4_0;

typedef struct {
    uint16_t d, m; /* half: scale, min */
    uint8_t qs[LTX_QK4_1 / 2];
} ltx_block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4]; /* bit i of the little-endian u32 = bit 4 of element i */
    uint8_t qs[LTX_QK5_0 / 2];
} ltx_block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[LTX_QK5_1 / 2];
} ltx_block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[LTX_QK8_0];
} ltx_block_q8_0;

typedef struct {
    uint8_t scales[LTX_QK_K / 16]; /* low nibble scale, high nibble min, per 16 elements */
    uint8_t qs[LTX_QK_K / 4];      /* 2-bit codes */
    uint16_t d, dmin;              /* half: super-block scales of the scales / mins */
} ltx_block_q2_K;

typedef struct {
    uint8_t hmask[LTX_QK_K / 8]; /* bit 2 of each code */
    uint8_t qs[LTX_QK_K / 4];    /* bits 0-1 of each code */
    uint8_t scales[12];          /* 16 six-bit scales (biased by 32), packed */
    uint16_t d;
} ltx_block_q3_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[LTX_K_SCALE_SIZE]; /* 8 six-bit scales + 8 six-bit mins, packed */
    uint8_t qs[LTX_QK_K / 2];
} ltx_block_q4_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[LTX_K_SCALE_SIZE];
    uint8_t qh[LTX_QK_K / 8]; /* bit 4 of each code */
    uint8_t qs[LTX_QK_K / 2];
} ltx_block_q5_K;

typedef struct {
    uint8_t ql[LTX_QK_K / 2];     /* bits 0-3 */
    uint8_t qh[LTX_QK_K / 4];     /* bits 4-5 */
    int8_t scales[LTX_QK_K / 16]; /* per 16 elements */
    uint16_t d;
} ltx_block_q6_K;

_Static_assert(sizeof(ltx_block_q4_0) == 18, "block_q4_0 layout");
_Static_assert(sizeof(ltx_block_q4_1) == 20, "block_q4_1 layout");
_Static_assert(sizeof(ltx_block_q5_0) == 22, "block_q5_0 layout");
_Static_assert(sizeof(ltx_block_q5_1) == 24, "block_q5_1 layout");
_Static_assert(sizeof(ltx_block_q8_0) == 34, "block_q8_0 layout");
_Static_assert(sizeof(ltx_block_q2_K) == 84, "block_q2_K layout");
_Static_assert(sizeof(ltx_block_q3_K) == 110, "block_q3_K layout");
_Static_assert(sizeof(ltx_block_q4_K) == 144, "block_q4_K layout");
_Static_assert(sizeof(ltx_block_q5_K) == 176, "block_q5_K layout");
_Static_assert(sizeof(ltx_block_q6_K) == 210, "block_q6_K layout");

/* Row kernels: n elements, n a multiple of the type's block size (callers check; the traits
 * table in dtype.c is the usual way in). src/dst do not overlap. Results are deterministic and
 * independent of threading; dequantization is exact f32 arithmetic of the formula above. */
#define LTX_QUANT_TYPES(X)                                                                         \
    X(q8_0) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K)
#define LTX_X_DECL(t)                                                                              \
    void ltx_dequantize_row_##t(const void *src, float *dst, int64_t n);                           \
    void ltx_quantize_row_##t(const float *src, void *dst, int64_t n);
LTX_QUANT_TYPES(LTX_X_DECL)
#undef LTX_X_DECL

/* Q4_K / Q5_K scale+min unpacking (j in 0..7), shared by the dequantizer and dot kernels. */
static inline void ltx_q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K six-bit scale `is` (0..15), still biased by 32. */
static inline int ltx_q3k_scale(int is, const uint8_t *s)
{
    int lo = is < 8 ? (s[is] & 0xF) : (s[is - 8] >> 4);
    int hi = (s[8 + (is & 3)] >> (2 * (is >> 2))) & 3;
    return lo | (hi << 4);
}

#endif
