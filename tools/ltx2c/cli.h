/*
 * cli.h — shared pieces of the ltx2c command-line tool. The CLI is a thin client of libltx:
 * each subcommand lives in cmd_<name>.c as `int cmd_<name>(int argc, char **argv)` (argv[0] is
 * the subcommand name) and is listed in commands.def. Exit codes: 0 success, 1 failure
 * (including verify mismatches), 2 usage errors.
 */
#ifndef LTX2C_CLI_H
#define LTX2C_CLI_H

#include "ltx.h"

#include <stdbool.h>
#include <stdio.h>

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define LTX2C_COMMAND(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef LTX2C_COMMAND

/* Opens an engine for `device` ("auto" when NULL) with stderr logging at `level`; prints the
 * error and returns NULL on failure. */
/* precision: NULL/"auto" (device default), "f32" or "bf16" (validated by the caller with
 * cli_check_precision). */
ltx_engine *cli_open_engine(const char *device, const char *precision, int n_threads, int strict,
                            ltx_log_level level);
/* true when p is NULL, "auto", "f32" or "bf16"; else prints "<cmd>: --precision 'p': ..." */
bool cli_check_precision(const char *cmd, const char *p);

/* Error helper: "ltx2c <cmd>: <message>" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A malloc'd copy of s that is safe to print on a terminal: printable ASCII and well-formed
 * UTF-8 unchanged, a backslash doubled, control bytes and bytes of malformed UTF-8 as \xNN.
 * max_chars > 0 stops after that many output characters (an escape counts as one). NULL when
 * out of memory; the caller frees it. */
char *cli_escape(const char *s, size_t max_chars);
/* For JSON text that cJSON already escaped (control characters as \uXXXX): only DEL and
 * malformed UTF-8 become \xNN, so the output stays readable JSON. */
char *cli_escape_json_text(const char *s);

/* In-process runs of a generation subcommand (ltx2c serve). Installed per thread with
 * cli_set_job_hooks(); NULL (the default) = the plain CLI behaviour. While installed:
 *   - cli_error appends its message (without the "ltx2c CMD: " prefix) to err, not stderr;
 *   - validate_only: the subcommand parses and validates everything, the library included
 *     (ltx_generate_params.validate_only), and returns without loading any weight;
 *   - engine (borrowed, may be NULL): used instead of opening a fresh engine, so the engine's
 *     progress callback and model cache are the caller's. */
typedef struct cli_job_hooks {
    int validate_only;
    ltx_engine *engine;
    char *err; /* caller's buffer, NUL-terminated; may be NULL (messages dropped) */
    size_t err_cap;
} cli_job_hooks;

/* h is borrowed until the next call (NULL to remove). Thread-local. */
void cli_set_job_hooks(cli_job_hooks *h);
/* The calling thread's hooks or NULL. */
cli_job_hooks *cli_job_hooks_get(void);

/* `ltx2c inspect --json`'s object for m (borrowed): path, format, shards, sizes, dtypes,
 * components, metadata, config, and every tensor when list_tensors. Strings from the file are
 * escaped (cli_escape). The caller owns the result (cJSON_Delete); NULL when out of memory.
 * Also what `ltx2c serve` lists per model under GET /v1/models. */
struct cJSON *cli_inspect_json(const ltx_model_info *m, bool list_tensors);

/* True when s is "-h" or "--help". */
bool cli_is_help(const char *s);

/* The Gemma 3 tokenizer.json that scripts/setup.sh puts in .cache/tokenizer-gemma3/: the
 * working directory's copy, else the source tree's (LTX2C_SOURCE_DIR at build time); NULL
 * when neither exists. Static string. */
const char *cli_default_tokenizer(void);

#endif
