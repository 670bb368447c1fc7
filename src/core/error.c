/*
 * error.c — per-thread error text (ltx_err and friends), status names from the one X-macro
 * table in ltx.h, and the LTX_ASSERT failure path (prints and aborts: invariants only).
 * Not here: the engine's copy of the message (src/api/engine.c keeps it per engine).
 * No reference counterpart.
 */
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_CAP 2048
static _Thread_local char tl_msg[ERR_CAP];
static _Thread_local ltx_status tl_status; /* the status recorded with tl_msg */

const char *ltx_status_name(ltx_status s)
{
    switch (s) {
#define X(name, text)                                                                              \
    case name:                                                                                     \
        return text;
        LTX_STATUS_LIST(X)
#undef X
    default:
        return "unknown status";
    }
}

static const char *base_name(const char *path)
{
    const char *p = strrchr(path, '/');
    return p ? p + 1 : path;
}

ltx_status ltx_err_at(const char *file, int line, ltx_status s, const char *fmt, ...)
{
    char tmp[ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    snprintf(tl_msg, sizeof tl_msg, "%.1900s (%.100s:%d)", tmp, base_name(file), line);
    tl_status = s;
    return s;
}

ltx_status ltx_err_context(ltx_status s, const char *fmt, ...)
{
    char pre[512], old[ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, tl_msg, sizeof old);
    snprintf(tl_msg, sizeof tl_msg, "%.500s%.1500s", pre, old);
    if (s != LTX_OK) tl_status = s;
    return s;
}

const char *ltx_err_message(void)
{
    return tl_msg;
}
ltx_status ltx_err_status(void)
{
    return tl_status;
}
ltx_status ltx_err_failed(void)
{
    if (tl_status != LTX_OK) return tl_status;
    return ltx_err(LTX_ERR_OOM, "out of memory (a helper returned NULL without recording a cause)");
}
void ltx_err_clear(void)
{
    tl_msg[0] = 0;
    tl_status = LTX_OK;
}
const char *ltx_last_error_global(void)
{
    return tl_msg;
}

void ltx_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "ltx: internal invariant failed: %s (%s:%d)\n", expr, base_name(file), line);
    abort();
}
