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

#include "ltx.h"

/* ltx_parse_i64 / ltx_parse_int / ltx_parse_f64 are public (include/ltx.h, "strict number
 * parsing"), for tools built on the library; this header stays for the library's own users. */

#endif
