/*
 * golden.h — replaying reference golden files (format ltx2-golden-extra/1, see docs/GOLDEN.md).
 *
 * The verifier reads only the file's tensors and the JSON in __metadata__.extra: for each case
 * it looks up the handler registered for case.function (src/golden/cases.def), gives it a
 * context from which it reads parameters and in.* tensors, and the handler emits its results by
 * name. Every emitted tensor that exists in the file is compared at the case tolerance
 * (tolerance_per_output overrides per name); every name listed in case.outputs that the handler
 * did not emit is a failure. Models may also emit intermediates through the ltx_taps in the
 * context: those are compared when the file holds a tensor of that name, ignored otherwise.
 *
 * A handler returns LTX_OK after emitting, an error status when it could not run (counted as
 * a failure with the message), or LTX_ERR_NOT_BUILT for parts not implemented yet (counted as
 * unsupported — never as a pass).
 *
 * Handlers never parse tensor names or prose: file names come from extra.files / case.params
 * and are resolved against the golden set root (tiny_ckpt/, media/).
 */
#ifndef LTX_GOLDEN_H
#define LTX_GOLDEN_H

#include "backend/backend.h"
#include "core/refver.h"
#include "core/tap.h"
#include "io/json.h"
#include "io/safetensors.h"

typedef struct ltx_golden_ctx ltx_golden_ctx;

typedef ltx_status (*ltx_golden_fn)(ltx_golden_ctx *g);

/* ---- what a handler reads ---- */
ltx_backend *ltx_golden_backend(ltx_golden_ctx *g);
ltx_log *ltx_golden_log(ltx_golden_ctx *g);
const cJSON *ltx_golden_params(ltx_golden_ctx *g); /* case.params (an object, maybe empty) */
const cJSON *ltx_golden_case(ltx_golden_ctx *g);   /* the whole case object */
const cJSON *ltx_golden_extra(ltx_golden_ctx *g);  /* the whole extra object */
const ltx_st_file *ltx_golden_file(ltx_golden_ctx *g);
/* The i-th name of case.inputs (NULL past the end). */
const char *ltx_golden_input_name(ltx_golden_ctx *g, int i);
/* The i-th name of case.outputs (NULL past the end or when the case has none). The string is
 * owned by the case JSON and lives as long as the context. */
const char *ltx_golden_output_name(ltx_golden_ctx *g, int i);
/* Tensor named `name` from the golden (an in.* tensor, or an out.* of an earlier case used as
 * input) on the context's backend, in the stored dtype. NULL + error when absent. */
ltx_tensor *ltx_golden_tensor(ltx_golden_ctx *g, const char *name);
/* Same for the i-th name of case.inputs. */
ltx_tensor *ltx_golden_input(ltx_golden_ctx *g, int i);
/* Resolves extra.files[key] (or case.params[key] when the former is absent) — "checkpoint",
 * "upsampler" — to a path under <root>/tiny_ckpt/. Returns false when absent. */
bool ltx_golden_ckpt_path(ltx_golden_ctx *g, const char *key, char *out, size_t cap);
/* Resolves a file name relative to <root>/tiny_ckpt/, <root>/media/ or <root>/ (kind =
 * "ckpt"/"media"/"root"). */
void ltx_golden_resolve(ltx_golden_ctx *g, const char *kind, const char *file, char *out,
                        size_t cap);
/* Taps for models: compares intermediates the file holds. */
const ltx_taps *ltx_golden_taps(ltx_golden_ctx *g);
bool ltx_golden_noise_from_seed(ltx_golden_ctx *g);
/* The reference version the file is replayed under (never LTX_REFERENCE_DEFAULT): the
 * verify override, else the file's reference_commit (a2c3f24 -> 2026-04, 400fd31 -> 1.2). */
ltx_reference_version ltx_golden_reference(ltx_golden_ctx *g);
/* The --tokenizer given to verify, or NULL. */
const char *ltx_golden_tokenizer(ltx_golden_ctx *g);

/* Cache shared by the cases of one file (e.g. a loaded checkpoint). `free_fn` runs at the end
 * of the file. */
void *ltx_golden_cache_get(ltx_golden_ctx *g, const char *key);
void ltx_golden_cache_put(ltx_golden_ctx *g, const char *key, void *ptr, void (*free_fn)(void *));

/* ---- what a handler emits ---- */
/* Compares `t` (any backend/dtype; shape must match) with the golden tensor `name`. Records a
 * pass/fail line; a name absent from the file is an error for out.* names and ignored
 * otherwise. Returns LTX_OK even on mismatch (the mismatch is recorded). */
ltx_status ltx_golden_emit(ltx_golden_ctx *g, const char *name, const ltx_tensor *t);
/* Same from host memory. */
ltx_status ltx_golden_emit_host(ltx_golden_ctx *g, const char *name, ltx_dtype dt, int ndim,
                                const int64_t *shape, const void *data);

/* ---- registry ---- */
/* Handler for a function id, or NULL. */
ltx_golden_fn ltx_golden_lookup(const char *function);

/* The verifier itself (used by ltx_verify_file). */
typedef struct ltx_golden_opts {
    const char *root; /* golden set root; NULL = parent of the file's folder */
    bool noise_from_seed;
    bool verbose;
    double tolerance_scale; /* 0 or 1 = as written */
    ltx_reference_version reference_version; /* DEFAULT = from each file's reference_commit */
    const char *tokenizer;  /* tokenizer.json for text goldens; NULL = none given */
} ltx_golden_opts;

/* Replays every case of the golden file at `path` on `be`, logging one line per compared
 * tensor to `log`. Writes the counts to *passed / *failed / *unsupported (all required).
 * Returns LTX_OK only when nothing failed and every case ran; LTX_ERR_MISMATCH when a tensor
 * failed, LTX_ERR_UNSUPPORTED when a case has no handler or a handler is not built, or the
 * error of a case that could not run (message set). Models cached by handlers are freed
 * before it returns; opts and path are only borrowed. */
ltx_status ltx_golden_verify(ltx_backend *be, ltx_log *log, const char *path,
                             const ltx_golden_opts *opts, int *passed, int *failed,
                             int *unsupported);

#endif
