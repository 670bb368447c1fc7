/*
 * cli.c — helpers shared by the subcommands (see cli.h): help-flag test, "ltx2c CMD: error"
 * messages, opening an engine from the common flags. The CLI is a thin client of ltx.h; option
 * parsing lives in cli_args.c. No reference counterpart (the reference's CLIs are argparse).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cli_is_help(const char *s)
{
    return !strcmp(s, "-h") || !strcmp(s, "--help");
}

static _Thread_local cli_job_hooks *tl_hooks;

void cli_set_job_hooks(cli_job_hooks *h)
{
    tl_hooks = h;
}

cli_job_hooks *cli_job_hooks_get(void)
{
    return tl_hooks;
}

const char *cli_default_tokenizer(void)
{
    static const char *const paths[] = {
        ".cache/tokenizer-gemma3/tokenizer.json",
#ifdef LTX2C_SOURCE_DIR
        LTX2C_SOURCE_DIR "/.cache/tokenizer-gemma3/tokenizer.json",
#endif
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], R_OK) == 0) return paths[i];
    return NULL;
}

/* Length (2..4) of the well-formed UTF-8 sequence at p, 0 if there is none (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). p[0] >= 0x80. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (!n || p[0] > 0xF4) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
    if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
    return n;
}

/* json_text: the input is already JSON-escaped text (cJSON_Print output): only DEL and bytes
 * of malformed UTF-8 remain to escape; backslashes and the rest stay. */
static char *escape(const char *s, size_t max_chars, bool json_text)
{
    size_t len = strlen(s), o = 0, chars = 0;
    char *out = malloc(len * 4 + 1);
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && (!max_chars || chars < max_chars)) {
        int n = *p >= 0x80 ? utf8_len(p) : 1;
        if (n > 1) {
            memcpy(out + o, p, (size_t)n);
            o += (size_t)n;
            p += n;
        } else if (*p == '\\' && !json_text) {
            out[o++] = '\\';
            out[o++] = '\\';
            p++;
        } else if ((*p < 0x20 && !json_text) || *p == 0x7F || n == 0) { /* control/broken */
            o += (size_t)snprintf(out + o, 5, "\\x%02X", *p);
            p++;
        } else {
            out[o++] = (char)*p++;
        }
        chars++;
    }
    out[o] = 0;
    return out;
}

char *cli_escape(const char *s, size_t max_chars)
{
    return escape(s, max_chars, false);
}

char *cli_escape_json_text(const char *s)
{
    return escape(s, 0, true);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    if (tl_hooks) {
        if (tl_hooks->err && tl_hooks->err_cap) {
            size_t used = strlen(tl_hooks->err);
            if (used && used + 2 < tl_hooks->err_cap) {
                tl_hooks->err[used++] = '\n';
                tl_hooks->err[used] = 0;
            }
            if (used < tl_hooks->err_cap)
                vsnprintf(tl_hooks->err + used, tl_hooks->err_cap - used, fmt, ap);
        }
        va_end(ap);
        return;
    }
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* messages quote tensor names and metadata from files: never raw escapes on a terminal */
    char *safe = cli_escape(buf, 0);
    fprintf(stderr, "ltx2c %s: %s\n", cmd, safe ? safe : buf);
    free(safe);
}

bool cli_check_precision(const char *cmd, const char *p)
{
    if (!p || !strcmp(p, "auto") || !strcmp(p, "f32") || !strcmp(p, "bf16")) return true;
    cli_error(cmd, "--precision '%s': use f32, bf16 or auto (auto: bf16 on cuda, f32 on cpu)", p);
    return false;
}

ltx_engine *cli_open_engine(const char *device, const char *precision, int n_threads, int strict,
                            ltx_log_level level)
{
    ltx_engine_params p;
    ltx_engine_params_init(&p);
    p.device = device ? device : "auto";
    p.precision = precision;
    p.n_threads = n_threads;
    p.strict = strict;
    p.log_level = level;
    ltx_engine *e = NULL;
    if (ltx_engine_open(&p, &e) != LTX_OK) {
        fprintf(stderr, "ltx2c: cannot open device '%s': %s\n", p.device, ltx_last_error_global());
        return NULL;
    }
    return e;
}
