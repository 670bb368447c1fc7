/* cases.h — prototypes of every golden handler listed in cases.def (include in g_*.c). */
#ifndef LTX_GOLDEN_CASES_H
#define LTX_GOLDEN_CASES_H

#include "golden/golden.h"

#define LTX_GOLDEN_CASE(id, fn) ltx_status fn(ltx_golden_ctx *g);
#include "golden/cases.def"
#undef LTX_GOLDEN_CASE

#endif
