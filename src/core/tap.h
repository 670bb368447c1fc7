/*
 * tap.h — named activation taps. Models call ltx_tap(taps, "transformer_blocks.0.attn1", t) at
 * block boundaries with the reference's module path as the name; a golden replay (or a
 * --save-taps debug run) installs a callback that compares or stores the tensor. With NULL
 * taps the call costs one branch.
 */
#ifndef LTX_CORE_TAP_H
#define LTX_CORE_TAP_H

#include "core/tensor.h"

typedef struct ltx_taps {
    void (*fn)(void *user, const char *name, const ltx_tensor *t);
    void *user;
} ltx_taps;

static inline void ltx_tap(const ltx_taps *taps, const char *name, const ltx_tensor *t)
{
    if (taps && taps->fn) taps->fn(taps->user, name, t);
}

#endif
