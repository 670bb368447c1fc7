/*
 * parse.c — strict number parsing (contract in parse.h). Built on strtoll/strtod with the
 * checks they leave to the caller: errno for range, the end pointer for trailing junk, and a
 * leading-character check because both skip white space. No reference counterpart.
 */
#include "core/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* strtoll/strtod accept leading white space; a flag value with it is a typo, not a number. */
static bool starts_number(const char *s)
{
    return s && *s && !isspace((unsigned char)*s);
}

bool ltx_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!starts_number(s)) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int64_t)v;
    return true;
}

bool ltx_parse_int(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (!ltx_parse_i64(s, lo, hi, &v)) return false;
    *out = (int)v;
    return true;
}

bool ltx_parse_f64(const char *s, double lo, double hi, double *out)
{
    if (!starts_number(s)) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE on underflow (1e-400 -> 0) is refused as well: the value is not what was typed */
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}
