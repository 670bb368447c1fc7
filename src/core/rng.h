/*
 * rng.h — random number generators that reproduce a reference framework's Gaussian stream for a
 * given seed, so that `ltx2c generate --seed S` draws the same initial noise as the reference.
 *
 * Generators are objects behind a small function table (ltx_rng_vtable), so a second stream
 * (e.g. CUDA Philox4x32-10 + cuRAND Box–Muller, pipelines.md §11) plugs in next to the first
 * without touching callers. Each ltx_rng_randn_* call is ONE `torch.randn(shape)` call of
 * numel n: the stream depends on how draws are split into calls, not only on their total
 * length (torch's CPU kernel recomputes a tail block and keeps a cached normal between calls).
 *
 * Implemented:
 *   torch CPU (PyTorch 1.13 `at::CPUGeneratorImpl`, file rng.c): mt19937 seeded by
 *   torch.manual_seed(seed) / torch.Generator().manual_seed(seed) (the low 32 bits of the
 *   seed as uint64, so seed -1 == 0xffffffff), then `normal_kernel` of
 *   aten/src/ATen/native/cpu/DistributionTemplates.h:
 *     - float32, numel >= 16: `normal_fill` — uniforms u = (mt & (2^24-1))·2^-24 for every
 *       element, Box–Muller over blocks of 16 (u1 = 1 - u[j], u2 = u[j+8]), and when numel % 16
 *       != 0 the last 16 elements are recomputed from 16 fresh uniforms.
 *       Variant LTX_RNG_TORCH_AVX2 (default): the AVX2 kernel `normal_fill_16_AVX2`, whose log and
 *       sincos are the Cephes-style polynomials of ATen's avx_mathfun.h evaluated in float —
 *       this is what produced every golden (torch reports "CPU capability usage: AVX2").
 *       Variant LTX_RNG_TORCH_DEFAULT: the scalar `normal_fill_16<float>` (libm logf/cosf/sinf),
 *       what torch uses with ATEN_CPU_CAPABILITY=default (differs from AVX2 by <= ~2e-6).
 *     - float64, numel >= 16: `normal_fill<double>` (53-bit uniforms from two mt outputs,
 *       libm log/cos/sin in double); the same for both variants.
 *     - numel < 16 (any dtype): `normal_distribution<double>` one element at a time, with the
 *       generator's cached second Box–Muller value (kept across calls, cleared by seeding).
 *   Mean 0 and std 1 only (torch.randn).
 *
 * Not implemented: bf16/f16 draws (torch 1.13 CPU would run normal_fill<BFloat16>), other
 * distributions, get/set_rng_state.
 *
 * Thread-safety: a generator is used by one thread at a time. No global state.
 */
#ifndef LTX_CORE_RNG_H
#define LTX_CORE_RNG_H

#include "ltx.h"

#include <stdint.h>

typedef enum ltx_rng_variant {
    LTX_RNG_TORCH_AVX2 = 0,    /* torch CPU capability AVX2/AVX512 (default; matches goldens) */
    LTX_RNG_TORCH_DEFAULT = 1, /* torch CPU capability "default" (scalar libm Box–Muller) */
} ltx_rng_variant;

typedef struct ltx_rng ltx_rng;

/* ---- implementer's view: a generator is a struct whose first member is `ltx_rng` ---------- */
typedef struct ltx_rng_vtable {
    const char *name; /* "torch-cpu-mt19937/avx2", ... */
    /* Re-seeds as torch's manual_seed would (clears any cached state). */
    ltx_status (*seed)(ltx_rng *r, uint64_t seed);
    /* One randn call of n elements (n >= 0), standard normal, written contiguously. */
    ltx_status (*randn_f32)(ltx_rng *r, float *out, int64_t n);
    ltx_status (*randn_f64)(ltx_rng *r, double *out, int64_t n);
    void (*destroy)(ltx_rng *r); /* frees the object */
} ltx_rng_vtable;

struct ltx_rng {
    const ltx_rng_vtable *vt;
};

/* ---- torch CPU generator -------------------------------------------------------------------- */

/* A torch CPU generator seeded with `seed` (AVX2 variant). Returns NULL only when out of memory
 * (message set). Free with ltx_rng_free. */
ltx_rng *ltx_rng_new_torch_cpu(uint64_t seed);
/* Same with an explicit kernel variant; NULL + LTX_ERR_INVALID_ARG message on an unknown one. */
ltx_rng *ltx_rng_new_torch_cpu_variant(uint64_t seed, ltx_rng_variant variant);
/* Parses "avx2" / "default" (also "avx512", which runs the AVX2 kernel in torch 1.13).
 * LTX_ERR_INVALID_ARG for anything else (or NULL). */
ltx_status ltx_rng_variant_parse(const char *s, ltx_rng_variant *out);

/* ---- generic calls (dispatch through the table) -------------------------------------------- */

/* Accepts NULL. */
void ltx_rng_free(ltx_rng *r);
/* Name of the stream ("torch-cpu-mt19937/avx2"); "" for NULL. */
const char *ltx_rng_name(const ltx_rng *r);
/* torch.manual_seed(seed) on this generator. */
ltx_status ltx_rng_seed(ltx_rng *r, uint64_t seed);
/* torch.randn(n) (float32 / float64) into out[0..n). out may be NULL only when n == 0.
 * LTX_ERR_INVALID_ARG on r == NULL, n < 0 or out == NULL with n > 0. */
ltx_status ltx_rng_randn_f32(ltx_rng *r, float *out, int64_t n);
ltx_status ltx_rng_randn_f64(ltx_rng *r, double *out, int64_t n);

#endif
