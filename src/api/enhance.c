/*
 * enhance.c — ltx_enhance_prompt: the public face of prompt enhancement
 * (src/pipelines/prompt_enhance.c does the work).
 */
#include "ltx.h"

#include "api/engine.h"
#include "core/refver.h"
#include "pipelines/prompt_enhance.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void ltx_enhance_params_init(ltx_enhance_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->seed = 10;
    p->max_new_tokens = 512;
}

void ltx_string_free(char *s)
{
    free(s);
}

ltx_status ltx_enhance_prompt(ltx_engine *e, const ltx_enhance_params *p, char **out)
{
    if (out) *out = NULL;
    if (!e || !p || !out) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_enhance_prompt: NULL argument");
    if (p->struct_size < sizeof *p)
        return ltx_engine_set_error(
            e, ltx_err(LTX_ERR_INVALID_ARG, "enhance params: struct_size too small"));
    ltx_enhance_opts o;
    ltx_enhance_opts_init(&o);
    o.gemma_root = p->gemma_root;
    o.tokenizer = p->tokenizer;
    o.prompt = p->prompt;
    o.image_path = p->image_path;
    o.seed = p->seed;
    o.max_new_tokens = p->max_new_tokens;
    o.greedy = p->greedy != 0;
    o.on_piece = p->on_piece;
    o.user = p->user;
    o.log = &e->log;
    /* ref: 2026-04 (a2c3f24) appends the alignment pads, 1.2 (400fd31) prepends them */
    o.pad_left = ltx_refver_resolve(p->reference_version) == LTX_REFERENCE_1_2;
    pthread_mutex_lock(&e->lock);
    ltx_err_clear();
    ltx_status s = ltx_enhance_run(e->be, &o, out);
    pthread_mutex_unlock(&e->lock);
    return ltx_engine_set_error(e, s);
}
