/*
 * quantize_api.c — the public faces of small library services a tool needs (ltx.h): dtype names
 * and ltx_quantize_file (the conversions themselves are src/models/quantize_file.c). No
 * reference counterpart.
 */
#include "ltx.h"

#include "core/dtype.h"
#include "core/error.h"
#include "core/log.h"
#include "models/quantize_file.h"

#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

int ltx_dtype_from_name(const char *name, ltx_dtype *out)
{
    return ltx_dtype_parse_any(name, out) ? 0 : -1;
}

int ltx_dtype_is_block_quantized(ltx_dtype t)
{
    return (unsigned)t < LTX_DTYPE_COUNT && ltx_dtype_is_quant(t);
}

void ltx_quantize_params_init(ltx_quantize_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->type = LTX_F32; /* not a block type: the caller must choose one */
    p->log_level = LTX_LOG_INFO;
    p->log = ltx_log_stderr;
}

ltx_status ltx_quantize_file(const char *in, const char *out, const ltx_quantize_params *p)
{
    ltx_err_clear();
    if (!in || !out || !p ||
        p->struct_size < offsetof(ltx_quantize_params, log_user) + sizeof(void *))
        return ltx_err(LTX_ERR_INVALID_ARG, "ltx_quantize_file: NULL argument or params not "
                                            "initialised with ltx_quantize_params_init");
    if (!ltx_dtype_is_block_quantized(p->type))
        return ltx_err(LTX_ERR_INVALID_ARG, "quantize type %s: not a block type",
                       ltx_dtype_name(p->type));
    struct stat sb;
    if (stat(in, &sb) != 0) return ltx_err(LTX_ERR_IO, "IN %s: no such file or folder", in);
    ltx_log log = {.level = p->log_level, .fn = p->log, .user = p->log_user};
    return S_ISDIR(sb.st_mode) ? ltx_quantize_gemma(in, out, p->type, &log)
                               : ltx_quantize_checkpoint(in, out, p->type, &log);
}
