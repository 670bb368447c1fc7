/*
 * ltx_golden.h — golden verification: the public header of the `ltx_golden` library
 * (src/golden/), the replay harness behind `ltx2c verify` and the golden tests.
 *
 * It is test infrastructure, not part of libltx: a program that only generates never links it.
 * It is built as a static library on top of the static libltx (it reaches the library's
 * internals to feed a golden's inputs to single models), so exports nothing;
 * it exists so that a shared build of this library later only has to define it.
 *
 * Engines, status codes, reference versions and the log callback are libltx's (ltx.h); the
 * thread-safety rules are ltx.h's too: a verify call is a work call that takes the engine's lock.
 */
#ifndef LTX_GOLDEN_H_PUBLIC
#define LTX_GOLDEN_H_PUBLIC

#include "ltx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replays a golden file of the ltx2-golden-extra/1 format (see docs/GOLDEN.md): feeds its
 * in.* tensors to the port, compares every out.* tensor (and every tapped intermediate the file
 * holds) at the file's tolerances. One line per compared tensor goes to the log callback at
 * INFO level. */
typedef struct ltx_verify_params {
    size_t struct_size;
    const char *golden_root; /* folder holding tiny_ckpt/ and media/; NULL = derived from path */
    int noise_from_seed;     /* pipelines: draw noise from the seed instead of in.*noise* */
    int verbose;             /* also print passing intermediates */
    double tolerance_scale;  /* multiplies every atol/rtol/factor; 0 or 1 = as in the file */
    /* appended: numerics to replay with; LTX_REFERENCE_DEFAULT (default) = the version named by
     * the golden's reference_commit metadata (a2c3f24 -> 2026-04, 400fd31 -> 1.2) */
    ltx_reference_version reference_version;
    /* appended */
    const char *tokenizer; /* tokenizer.json for goldens that need one (prompt enhancement);
                              NULL = <gemma root>/tokenizer.json */
    /* appended: error-budget mode for low-bit weights (docs/NUMERICS.md). When nmse_max > 0 a
     * tensor passes iff NMSE <= nmse_max and (max_rel <= 0 or max |got - want| <= max_rel *
     * max |want|), instead of the file's tolerances. */
    double nmse_max;
    double max_rel;
    const char *quantization; /* replay with --quantization POLICY applied at every load */
} ltx_verify_params;

typedef struct ltx_verify_result {
    int passed;      /* tensors within tolerance */
    int failed;      /* tensors outside tolerance or missing */
    int unsupported; /* cases whose function the port does not implement yet */
} ltx_verify_result;

/* Zeroes *p, sets struct_size and tolerance_scale 1. */
void ltx_verify_params_init(ltx_verify_params *p);
/* e, path and p are required (NULL: LTX_ERR_INVALID_ARG); res may be NULL. Returns LTX_OK
 * only when every compared tensor passed and no case was unsupported; LTX_ERR_MISMATCH on any
 * failure; LTX_ERR_UNSUPPORTED when a case could not be run. */
ltx_status ltx_verify_file(ltx_engine *e, const char *path, const ltx_verify_params *p,
                           ltx_verify_result *res);

#ifdef __cplusplus
}
#endif
#endif /* LTX_GOLDEN_H_PUBLIC */
