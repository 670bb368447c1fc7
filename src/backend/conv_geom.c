/*
 * conv_geom.c — validation and geometry of a convolution call, shared by the CPU and CUDA
 * backends (see conv_geom.h).
 */
#include "backend/conv_geom.h"

#include <string.h>

ltx_status ltx_conv_geom_make(const ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                              const ltx_conv_params *p, ltx_conv_geom *g)
{
    int ns = p->nspatial;
    char sx[96], sw[96], sy[96];
    if (ns < 1 || ns > 3 || x->ndim != ns + 2 || w->ndim != ns + 2 || y->ndim != ns + 2 ||
        p->groups < 1)
        goto bad;
    memset(g, 0, sizeof *g);
    g->N = x->shape[0];
    g->Cin = x->shape[1];
    g->G = p->groups;
    if (p->transposed) {
        g->cig = g->Cin / g->G;
        g->cog = w->shape[1];
        g->Cout = g->cog * g->G;
        if (w->shape[0] != g->Cin) goto bad;
    } else {
        g->cig = w->shape[1];
        g->Cout = w->shape[0];
        g->cog = g->Cout / g->G;
        if (g->cig * g->G != g->Cin) goto bad;
    }
    if (g->Cin % g->G || g->Cout % g->G || y->shape[0] != g->N || y->shape[1] != g->Cout) goto bad;
    g->Sin = g->Sout = g->Kvol = 1;
    for (int i = 0; i < 3; i++) {
        int si = i - (3 - ns);
        bool real = si >= 0;
        g->in[i] = real ? x->shape[2 + si] : 1;
        g->k[i] = real ? w->shape[2 + si] : 1;
        g->s[i] = real ? p->stride[si] : 1;
        g->p[i] = real ? p->padding[si] : 0;
        g->dl[i] = real ? p->dilation[si] : 1;
        g->xs[2 + i] = real ? x->stride[2 + si] : 0;
        if (g->s[i] < 1 || g->dl[i] < 1 || g->p[i] < 0) goto bad;
        int64_t eff = g->dl[i] * (g->k[i] - 1) + 1;
        int64_t o = p->transposed ? (g->in[i] - 1) * g->s[i] - 2 * g->p[i] + eff +
                                        (real ? p->output_padding[si] : 0)
                                  : (g->in[i] + 2 * g->p[i] - eff) / g->s[i] + 1;
        g->out[i] = o;
        if (o < 1 || (real && y->shape[2 + si] != o)) goto bad;
        g->Sin *= g->in[i];
        g->Sout *= o;
        g->Kvol *= g->k[i];
    }
    g->xs[0] = x->stride[0];
    g->xs[1] = x->stride[1];
    return LTX_OK;
bad:
    return ltx_err(LTX_ERR_INVALID_ARG, "conv%dd%s: x %s, w %s, y %s, groups %d do not fit", ns,
                   p->transposed ? " transposed" : "", ltx_tensor_shape_str(x, sx, sizeof sx),
                   ltx_tensor_shape_str(w, sw, sizeof sw), ltx_tensor_shape_str(y, sy, sizeof sy),
                   p->groups);
}

bool ltx_conv_geom_x_contiguous(const ltx_conv_geom *g, const ltx_tensor *x)
{
    int64_t expect = 1;
    for (int i = x->ndim - 1; i >= 2; i--) {
        if (x->shape[i] != 1 && x->stride[i] != expect) return false;
        expect *= x->shape[i];
    }
    return g->cig == 1 || x->stride[1] == g->Sin;
}
