/*
 * media_pil.c — Pillow's 8-bit resampler (Image.resize with BILINEAR, no reducing_gap) on RGB24
 * images, bit for bit: what transformers' slow image processors (Gemma3ImageProcessor via
 * PIL) run before rescale/normalise.
 *
 * ref: Pillow src/libImaging/Resample.c (9.x/10.x): precompute_coeffs (support scaled by the
 * downscale factor: antialiased when shrinking), normalize_coeffs_8bpc (22-bit fixed point),
 * ImagingResampleHorizontal_8bpc / Vertical_8bpc (round-half-up accumulator, clip8), and
 * ImagingResampleInner (horizontal pass first over the rows the vertical pass needs).
 * Only the bilinear filter is here (the one Gemma's preprocessor_config selects, resample 2).
 */
#include "io/media.h"

#include <math.h>
#include <stdlib.h>

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Fixed-point taps of one axis: bounds[2*o] = first input index, bounds[2*o+1] = count; kk
 * (out * ksize). Returns ksize, or 0 on OOM. */
static int coeffs(int in_size, int out_size, int **bounds, int **kk)
{
    double scale = (double)in_size / out_size, fscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fscale; /* bilinear support 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    double *pre = calloc((size_t)out_size * ksize, sizeof(double));
    *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    *kk = malloc(sizeof(int) * (size_t)out_size * ksize);
    if (!pre || !*bounds || !*kk) {
        free(pre);
        free(*bounds);
        free(*kk);
        *bounds = *kk = NULL;
        return 0;
    }
    for (int o = 0; o < out_size; o++) {
        double center = (o + 0.5) * scale, ww = 0.0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = pre + (size_t)o * ksize;
        for (int x = 0; x < xmax; x++) {
            k[x] = bilinear((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        (*bounds)[2 * o] = xmin;
        (*bounds)[2 * o + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++) /* normalize_coeffs_8bpc */
        (*kk)[i] = pre[i] < 0 ? (int)(-0.5 + pre[i] * (1 << PRECISION_BITS))
                              : (int)(0.5 + pre[i] * (1 << PRECISION_BITS));
    free(pre);
    return ksize;
}

static uint8_t clip8(int v)
{
    v >>= PRECISION_BITS; /* arithmetic shift, as Pillow's clip8 lookup */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

ltx_status ltx_pil_resize_bilinear(const uint8_t *src, int sh, int sw, uint8_t *dst, int dh, int dw)
{
    if (!src || !dst || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "pil resize: bad sizes %dx%d -> %dx%d", sh, sw, dh, dw);
    int *bh = NULL, *kh = NULL, *bv = NULL, *kv = NULL;
    int ksh = coeffs(sw, dw, &bh, &kh), ksv = coeffs(sh, dh, &bv, &kv);
    /* rows of the input the vertical pass reads: [y0, y1) */
    int y0 = bv ? bv[0] : 0, y1 = bv ? bv[2 * dh - 2] + bv[2 * dh - 1] : 0;
    bool need_h = dw != sw, need_v = dh != sh;
    uint8_t *tmp = malloc((size_t)(y1 - y0 > 0 ? y1 - y0 : 1) * dw * 3);
    if (!ksh || !ksv || !tmp) {
        free(bh), free(kh), free(bv), free(kv), free(tmp);
        return ltx_err(LTX_ERR_OOM, "pil resize: out of memory");
    }
    const uint8_t *in = src;
    int in_w = sw, row0 = 0;
    if (need_h) {
        for (int y = y0; y < y1; y++)
            for (int x = 0; x < dw; x++) {
                const int *k = kh + (size_t)x * ksh;
                int xmin = bh[2 * x], n = bh[2 * x + 1];
                for (int c = 0; c < 3; c++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < n; i++)
                        ss += src[((size_t)y * sw + xmin + i) * 3 + c] * k[i];
                    tmp[((size_t)(y - y0) * dw + x) * 3 + c] = clip8(ss);
                }
            }
        in = tmp;
        in_w = dw;
        row0 = y0;
    }
    if (need_v) {
        for (int y = 0; y < dh; y++) {
            const int *k = kv + (size_t)y * ksv;
            int ymin = bv[2 * y] - row0, n = bv[2 * y + 1];
            for (int x = 0; x < dw; x++)
                for (int c = 0; c < 3; c++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < n; i++)
                        ss += in[((size_t)(ymin + i) * in_w + x) * 3 + c] * k[i];
                    dst[((size_t)y * dw + x) * 3 + c] = clip8(ss);
                }
        }
    } else {
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw * 3; x++)
                dst[(size_t)y * dw * 3 + x] = in[(size_t)(y - row0) * in_w * 3 + x];
    }
    free(bh), free(kh), free(bv), free(kv), free(tmp);
    return LTX_OK;
}
