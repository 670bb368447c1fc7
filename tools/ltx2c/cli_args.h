/*
 * cli_args.h — table-driven long-option parsing for the ltx2c subcommands. A subcommand lists
 * its options once (name, kind, destination, help); the same table drives parsing, --help and
 * the "required" checks, so flags and their documentation cannot drift apart.
 *
 * Values: `--name VALUE` (also `--name=VALUE` for single-value kinds). Multi-value kinds take
 * the following arguments up to the next one starting with "--". Errors (unknown flag, missing
 * or malformed value, wrong arity, missing required flag) print "ltx2c <cmd>: ..." naming the
 * flag and value and make cli_parse return CLI_EXIT_USAGE.
 */
#ifndef LTX2C_CLI_ARGS_H
#define LTX2C_CLI_ARGS_H

#include "cli.h"

#include <stdint.h>

#define CLI_MAX_IMAGES 16
#define CLI_MAX_LORAS  8
#define CLI_MAX_INTS   64

typedef enum cli_kind {
    CLI_STR,    /* const char ** */
    CLI_INT,    /* int * */
    CLI_U64,    /* uint64_t * */
    CLI_DOUBLE, /* double * */
    CLI_FLAG,   /* int * set to 1 */
    CLI_INTS,   /* cli_ints *: zero or more integers */
    CLI_IMAGE,  /* cli_images *: PATH FRAME_IDX STRENGTH [CRF], repeatable */
    CLI_LORA,   /* cli_loras *: PATH [STRENGTH], repeatable */
} cli_kind;

typedef struct cli_ints {
    int v[CLI_MAX_INTS];
    int n;
    int given; /* the flag appeared (possibly with zero values) */
} cli_ints;

typedef struct cli_images {
    ltx_image_input v[CLI_MAX_IMAGES];
    int n;
} cli_images;

typedef struct cli_loras {
    ltx_lora_input v[CLI_MAX_LORAS];
    int n;
} cli_loras;

typedef struct cli_opt {
    const char *name; /* "--num-frames" */
    cli_kind kind;
    void *dst;
    const char *meta; /* "N", "PATH FRAME_IDX STRENGTH [CRF]" */
    const char *help; /* one line; include the default */
    int required;
} cli_opt;

/* Parses argv[1..argc) against opts[0..n). Returns CLI_EXIT_OK, CLI_EXIT_USAGE on an error
 * (already printed), or -1 when --help was asked (the caller prints its usage). */
int cli_parse(const char *cmd, const cli_opt *opts, int n, int argc, char **argv);

/* Prints the option table (two columns) to f. */
void cli_print_opts(FILE *f, const cli_opt *opts, int n);

#endif
