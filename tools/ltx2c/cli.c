/*
 * cli.c — helpers shared by the subcommands (see cli.h): help-flag test, "ltx2c CMD: error"
 * messages, opening an engine from the common flags. The CLI is a thin client of ltx.h; option
 * parsing lives in cli_args.c. No reference counterpart (the reference's CLIs are argparse).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
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

void cli_error(const char *cmd, const char *fmt, ...)
{
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
    fprintf(stderr, "ltx2c %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

ltx_engine *cli_open_engine(const char *device, int n_threads, int strict, ltx_log_level level)
{
    ltx_engine_params p;
    ltx_engine_params_init(&p);
    p.device = device ? device : "auto";
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
