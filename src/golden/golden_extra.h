/*
 * golden_extra.h — reading and validating a golden file's __metadata__.extra (schema
 * ltx2-golden-extra/1, docs/GOLDEN.md) before any case runs: the structure of every case and
 * every tolerance. Depends only on core/error and io/json, so the fuzz test builds it alone
 * under AddressSanitizer + UBSan (tests/unit/test_golden_extra_fuzz.c).
 */
#ifndef LTX_GOLDEN_EXTRA_H
#define LTX_GOLDEN_EXTRA_H

#include "io/json.h"

/* One comparison rule (see golden.c for what each kind compares). */
typedef struct ltx_golden_tol {
    enum { LTX_TOL_ALLCLOSE, LTX_TOL_UINT8_FRAC, LTX_TOL_REL_TO } kind;
    double atol, rtol;        /* allclose */
    double max_abs, min_frac; /* uint8_frac */
    double factor;            /* rel_to */
    const char *ref;          /* rel_to: tensor name, borrowed from the JSON tree */
    const char *rows_where;   /* any kind: mask tensor name or NULL, borrowed */
} ltx_golden_tol;

/* Parses `text` (the extra JSON of the golden at `path`, used in messages) and checks it: a JSON
 * object with schema "ltx2-golden-extra/1" and a non-empty "cases" array of objects, each with
 * a string "function", optional "inputs"/"outputs" arrays of strings, an optional "params"
 * object, and valid optional "tolerance" / "tolerance_per_output" rules. On success *out owns
 * the tree (cJSON_Delete); on failure *out is NULL and the error names the case and key. */
ltx_status ltx_golden_extra_parse(const char *path, const char *text, cJSON **out);

/* Reads one tolerance object j (NULL: allclose with zero tolerances) with its atol/rtol/max_abs/
 * factor multiplied by scale (> 0). Numbers must be finite and >= 0, min_frac in [0, 1]; ref and
 * rows_where are strings. Strings in *t borrow from j's tree. */
ltx_status ltx_golden_tol_parse(const char *path, const cJSON *j, double scale, ltx_golden_tol *t);

#endif
