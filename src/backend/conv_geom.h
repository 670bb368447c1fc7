/*
 * conv_geom.h — the geometry of one convolution (the `conv` op of backend.h), shared by every
 * backend: sizes per group, the spatial dims right-aligned into three (1-D and 2-D convs get
 * leading size-1 dims), output extents, and x's strides. Validating a conv call and lowering it
 * to im2col/GEMM start from the same numbers on the CPU and on CUDA, so they live here once.
 *
 * The struct is plain C (no ltx_tensor inside) so CUDA kernels, compiled as C++, take it as is;
 * the functions are host C (conv_geom.c). No reference counterpart: torch.nn.functional.convNd's
 * shape rules (ref: torch conv output size formula, transposed with output_padding).
 */
#ifndef LTX_BACKEND_CONV_GEOM_H
#define LTX_BACKEND_CONV_GEOM_H

#include <stdint.h>

typedef struct ltx_conv_geom {
    int64_t N, Cin, Cout, G, cig, cog; /* batch, channels, groups, channels per group in/out */
    int64_t in[3], out[3], k[3], s[3], p[3], dl[3]; /* spatial (d, h, w): size-1 when absent */
    int64_t Sin, Sout, Kvol;                        /* products of in, out, k */
    int64_t xs[5];                                  /* x strides: n, c, d, h, w */
} ltx_conv_geom;

#ifndef __CUDACC__
#include "backend/backend.h"

#include <stdbool.h>

/* Fills *g for y = conv(x, w) under p, checking that ranks, channel counts, groups, strides,
 * padding, dilation and y's shape fit; LTX_ERR_INVALID_ARG naming the shapes otherwise. */
ltx_status ltx_conv_geom_make(const ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                              const ltx_conv_params *p, ltx_conv_geom *g);
/* Is x's (cig, spatial) block for one (n, group) laid out as a contiguous (cig, Sin) matrix? */
bool ltx_conv_geom_x_contiguous(const ltx_conv_geom *g, const ltx_tensor *x);
#endif

#endif
