/*
 * parse.h — strict number parsing for user input (flags, options, device names, environment,
 * metadata values): the whole string must be the number, it must lie in the given range, and
 * a float must be finite. The callers name the flag and value in their errors. No reference
 * counterpart (Python's int()/float() on argparse values play this role there).
 */
#ifndef LTX_CORE_PARSE_H
#define LTX_CORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal integer (optional sign) in [lo, hi]: true and *out set, else false and *out unchanged.
 * Refuses NULL, "", leading spaces, trailing characters and values outside the range. */
bool ltx_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
bool ltx_parse_int(const char *s, int lo, int hi, int *out);
/* Finite decimal or exponent number in [lo, hi] (strtod syntax minus inf/nan, whole string). */
bool ltx_parse_f64(const char *s, double lo, double hi, double *out);

#endif
