/*
 * dtype.h — element types and exact scalar/array conversions.
 *
 * Rounding matches PyTorch bit for bit: f32->bf16 and f32->f16 round to nearest even, NaN stays
 * NaN (quiet), overflow goes to Inf; f32->fp8 follows c10's Float8_e4m3fn / Float8_e5m2
 * conversions (e4m3fn has no Inf: out-of-range values and Inf become NaN (0x7F/0xFF); e5m2
 * rounds to nearest even and saturates to Inf like IEEE). Conversions *to* f32 are exact.
 * ref: c10/util/BFloat16.h, c10/util/Half.h, c10/util/Float8_e4m3fn.h, c10/util/Float8_e5m2.h
 */
#ifndef LTX_CORE_DTYPE_H
#define LTX_CORE_DTYPE_H

#include "ltx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element (non-quantized) types come first in the enum: 0 .. LTX_ELEM_DTYPE_COUNT - 1; the
 * block-quantized ones follow up to LTX_DTYPE_COUNT. */
#define LTX_ELEM_DTYPE_COUNT ((int)LTX_Q8_0)

/* Bytes per element; 0 for block-quantized types (use ltx_dtype_bytes / the traits). */
size_t ltx_dtype_size(ltx_dtype t);
/* ltx_dtype_name (safetensors name: "F32", "BF16", ...) is public: include/ltx.h. */
/* Parses a safetensors dtype name; returns false for unknown names and for the quantized
 * types, which safetensors files never hold. */
bool ltx_dtype_parse(const char *name, ltx_dtype *out);
/* Parses any dtype name, quantized ones included ("Q4_K"; case-insensitive). */
bool ltx_dtype_parse_any(const char *name, ltx_dtype *out);
/* Float element types (not the quantized ones: they are not elementwise operands). */
bool ltx_dtype_is_float(ltx_dtype t);

/* ---- storage traits, one row per type (ggml's type_traits pattern) ---------------------------
 * Element types have blck = 1 and type_size = element size. A quantized type stores blocks of
 * blck elements in type_size bytes; a tensor of it must have whole blocks in every row (its
 * last dim a multiple of blck) and views may only start on a block boundary.
 * to_float / from_float convert n contiguous elements, n a multiple of blck (NULL for the
 * integer types). vec_dot: sum over n of w[i] * x[i] for one row w of this type against f32 x,
 * accumulated in f32 (scalar reference: dequantize 256 at a time, then an ordered sum); fast
 * kernels may replace these rows' functions but must stay within the tolerance in NUMERICS.md. */
typedef void (*ltx_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*ltx_from_float_fn)(const float *src, void *dst, int64_t n);
typedef float (*ltx_vec_dot_fn)(const void *w, const float *x, int64_t n);
typedef struct ltx_type_traits {
    const char *name;
    int64_t blck;        /* elements per block */
    size_t type_size;    /* bytes per block */
    bool quantized;
    ltx_to_float_fn to_float;
    ltx_from_float_fn from_float;
    ltx_vec_dot_fn vec_dot;
} ltx_type_traits;

/* Row of the traits table; NULL for values outside the enum. */
const ltx_type_traits *ltx_type_traits_of(ltx_dtype t);
bool ltx_dtype_is_quant(ltx_dtype t);
int64_t ltx_dtype_block_size(ltx_dtype t); /* 1 for element types, 0 outside the enum */
/* Bytes of n elements of t: (n / blck) * type_size. n must be a multiple of the block size
 * (LTX_ASSERT); element offsets of quantized tensors are block-aligned by construction. */
size_t ltx_dtype_bytes(ltx_dtype t, int64_t n);
/* Checked form for untrusted sizes (file headers): false when n < 0, n is not whole blocks, or
 * the byte count overflows size_t. */
bool ltx_dtype_bytes_checked(ltx_dtype t, int64_t n, size_t *out);

float ltx_bf16_to_f32(uint16_t h);
uint16_t ltx_f32_to_bf16(float f);
float ltx_f16_to_f32(uint16_t h);
uint16_t ltx_f32_to_f16(float f);
float ltx_fp8e4m3_to_f32(uint8_t v);
uint8_t ltx_f32_to_fp8e4m3(float f);
float ltx_fp8e5m2_to_f32(uint8_t v);
uint8_t ltx_f32_to_fp8e5m2(float f);
/* round_to_bf16 as the reference's `.to(bfloat16).float()` */
static inline float ltx_round_bf16(float f) { return ltx_bf16_to_f32(ltx_f32_to_bf16(f)); }

/* Converts n contiguous elements. Float<->float goes through f32 (f64 directly to/from f64);
 * integer types convert by C value rules (float->int truncates toward zero, like torch .to()).
 * Same-type is a memcpy. Quantized types go through f32 with their traits' to_float /
 * from_float; then n must be a multiple of the block size (LTX_ASSERT). */
void ltx_convert(void *dst, ltx_dtype dt, const void *src, ltx_dtype st, size_t n);

/* Row conversions used by hot loops (contiguous, n elements). */
void ltx_bf16_to_f32_row(float *dst, const uint16_t *src, size_t n);
void ltx_f32_to_bf16_row(uint16_t *dst, const float *src, size_t n);
void ltx_f16_to_f32_row(float *dst, const uint16_t *src, size_t n);
void ltx_f32_to_f16_row(uint16_t *dst, const float *src, size_t n);

#endif
