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

size_t ltx_dtype_size(ltx_dtype t);          /* bytes per element */
const char *ltx_dtype_name(ltx_dtype t);     /* safetensors name: "F32", "BF16", ... */
/* Parses a safetensors dtype name; returns false for unknown names. */
bool ltx_dtype_parse(const char *name, ltx_dtype *out);
bool ltx_dtype_is_float(ltx_dtype t);

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
 * Same-type is a memcpy. */
void ltx_convert(void *dst, ltx_dtype dt, const void *src, ltx_dtype st, size_t n);

/* Row conversions used by hot loops (contiguous, n elements). */
void ltx_bf16_to_f32_row(float *dst, const uint16_t *src, size_t n);
void ltx_f32_to_bf16_row(uint16_t *dst, const float *src, size_t n);
void ltx_f16_to_f32_row(float *dst, const uint16_t *src, size_t n);
void ltx_f32_to_f16_row(uint16_t *dst, const float *src, size_t n);

#endif
