/*
 * verify_api.c — the public entry of the golden replay harness (include/ltx_golden.h): checks
 * the versioned params, takes the engine's lock and runs ltx_golden_verify (golden.c) on the
 * engine's backend. No reference counterpart.
 */
#include "ltx_golden.h"

#include "api/engine.h"
#include "golden/golden.h"

#include <stddef.h>
#include <string.h>

void ltx_verify_params_init(ltx_verify_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->tolerance_scale = 1.0;
}

ltx_status ltx_verify_file(ltx_engine *e, const char *path, const ltx_verify_params *p,
                           ltx_verify_result *res)
{
    ltx_verify_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    if (!e || !path || !p) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_verify_file: NULL argument");
    ltx_golden_opts o = {
        .root = p->golden_root,
        .noise_from_seed = p->noise_from_seed != 0,
        .verbose = p->verbose != 0,
        .tolerance_scale = p->tolerance_scale,
    };
    /* appended fields: read only when the caller's struct has them */
    if (p->struct_size >=
        offsetof(ltx_verify_params, reference_version) + sizeof p->reference_version)
        o.reference_version = p->reference_version;
    /* versioned struct: fields past the caller's struct_size keep their defaults */
    if (p->struct_size >= offsetof(ltx_verify_params, tokenizer) + sizeof p->tokenizer)
        o.tokenizer = p->tokenizer;
    if (p->struct_size >= offsetof(ltx_verify_params, quantization) + sizeof p->quantization) {
        o.nmse_max = p->nmse_max;
        o.max_rel = p->max_rel;
        o.quantization = p->quantization;
    }
    pthread_mutex_lock(&e->lock);
    ltx_err_clear();
    ltx_status s =
        ltx_golden_verify(e->be, &e->log, path, &o, &res->passed, &res->failed, &res->unsupported);
    pthread_mutex_unlock(&e->lock);
    if (s == LTX_ERR_MISMATCH)
        ltx_err(s, "%s: %d tensor(s) outside tolerance", path, res->failed);
    else if (s == LTX_ERR_UNSUPPORTED && !res->failed)
        ltx_err(s, "%s: %d case(s) not supported yet", path, res->unsupported);
    return ltx_engine_set_error(e, s);
}
