/* cli_args.c — the table-driven option parser (see cli_args.h). */
#include "cli_args.h"

#include <ctype.h>
#include <float.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool parse_int(const char *s, int *out)
{
    return ltx_parse_int(s, -2147483647, 2147483647, out); /* whole string, in range */
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || isspace((unsigned char)*s)) return false;
    if (*s == '-') { /* the reference accepts negative seeds; torch takes them modulo 2^64 */
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end) return false;
        *out = (uint64_t)v;
        return true;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = (uint64_t)v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    return ltx_parse_f64(s, -DBL_MAX, DBL_MAX, out); /* whole string, finite */
}

/* Number of values after argv[i] up to the next "--" flag. */
static int count_values(int argc, char **argv, int i)
{
    int n = 0;
    while (i + 1 + n < argc && strncmp(argv[i + 1 + n], "--", 2) != 0)
        n++;
    return n;
}

static int bad(const char *cmd, const char *flag, const char *val, const char *what)
{
    cli_error(cmd, "%s %s: %s (see ltx2c %s --help)", flag, val ? val : "", what, cmd);
    return CLI_EXIT_USAGE;
}

static int parse_one(const char *cmd, const cli_opt *o, const char *inl, int argc, char **argv,
                     int *i)
{
    const char *flag = o->name;
    int nv = inl ? 1 : count_values(argc, argv, *i);
    char **vals = inl ? (char **)&inl : argv + *i + 1;
    if (!inl) *i += nv;
    switch (o->kind) {
    case CLI_FLAG:
        /* a word after a flag is a stray argument, not the flag's value */
        if (inl || nv) {
            cli_error(cmd, "%s takes no value; unexpected argument '%s' (see ltx2c %s --help)",
                      flag, inl ? inl : vals[0], cmd);
            return CLI_EXIT_USAGE;
        }
        *(int *)o->dst = 1;
        return 0;
    case CLI_STR:
    case CLI_INT:
    case CLI_U64:
    case CLI_DOUBLE:
        if (nv != 1)
            return bad(cmd, flag, nv ? vals[1] : "",
                       nv ? "takes exactly one value" : "needs a value");
        if (o->kind == CLI_STR) *(const char **)o->dst = vals[0];
        if (o->kind == CLI_INT && !parse_int(vals[0], o->dst))
            return bad(cmd, flag, vals[0], "not an integer");
        if (o->kind == CLI_U64 && !parse_u64(vals[0], o->dst))
            return bad(cmd, flag, vals[0], "not an integer");
        if (o->kind == CLI_DOUBLE && !parse_double(vals[0], o->dst))
            return bad(cmd, flag, vals[0], "not a number");
        return 0;
    case CLI_INTS: {
        cli_ints *l = o->dst;
        l->given = 1;
        l->n = 0;
        for (int k = 0; k < nv; k++) {
            if (l->n == CLI_MAX_INTS) return bad(cmd, flag, vals[k], "too many values");
            if (!parse_int(vals[k], &l->v[l->n++]))
                return bad(cmd, flag, vals[k], "not an integer");
        }
        return 0;
    }
    case CLI_IMAGE: {
        cli_images *l = o->dst;
        if (nv < 3 || nv > 4)
            return bad(cmd, flag, nv ? vals[0] : "", "takes PATH FRAME_IDX STRENGTH [CRF]");
        if (l->n == CLI_MAX_IMAGES) return bad(cmd, flag, vals[0], "too many images");
        ltx_image_input *im = &l->v[l->n++];
        im->path = vals[0];
        im->crf = 33; /* ref: DEFAULT_IMAGE_CRF */
        if (!parse_int(vals[1], &im->frame_idx))
            return bad(cmd, flag, vals[1], "frame index is not an integer");
        if (!parse_double(vals[2], &im->strength))
            return bad(cmd, flag, vals[2], "strength is not a number");
        if (nv == 4 && !parse_double(vals[3], &im->crf))
            return bad(cmd, flag, vals[3], "CRF is not a number");
        return 0;
    }
    case CLI_LORA: {
        cli_loras *l = o->dst;
        if (nv < 1 || nv > 2) return bad(cmd, flag, nv ? vals[0] : "", "takes PATH [STRENGTH]");
        if (l->n == CLI_MAX_LORAS) return bad(cmd, flag, vals[0], "too many LoRAs");
        ltx_lora_input *lo = &l->v[l->n++];
        lo->path = vals[0];
        lo->strength = 1.0;
        if (nv == 2 && !parse_double(vals[1], &lo->strength))
            return bad(cmd, flag, vals[1], "strength is not a number");
        return 0;
    }
    }
    return bad(cmd, flag, "", "internal: unknown option kind");
}

int cli_parse(const char *cmd, const cli_opt *opts, int n, int argc, char **argv)
{
    bool seen[256] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) return -1;
        if (strncmp(a, "--", 2) != 0) return bad(cmd, a, NULL, "unexpected argument");
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        int k = 0;
        while (k < n && !(strlen(opts[k].name) == len && !strncmp(opts[k].name, a, len)))
            k++;
        if (k == n) return bad(cmd, a, NULL, "unknown option");
        int r = parse_one(cmd, &opts[k], eq ? eq + 1 : NULL, argc, argv, &i);
        if (r) return r;
        if (k < 256) seen[k] = true;
    }
    for (int k = 0; k < n && k < 256; k++)
        if (opts[k].required && !seen[k]) {
            cli_error(cmd, "%s is required (see ltx2c %s --help)", opts[k].name, cmd);
            return CLI_EXIT_USAGE;
        }
    return CLI_EXIT_OK;
}

void cli_print_opts(FILE *f, const cli_opt *opts, int n)
{
    for (int k = 0; k < n; k++) {
        char left[96];
        snprintf(left, sizeof left, "%s%s%s", opts[k].name, opts[k].meta ? " " : "",
                 opts[k].meta ? opts[k].meta : "");
        fprintf(f, "  %-40s %s%s\n", left, opts[k].help, opts[k].required ? " (required)" : "");
    }
}
