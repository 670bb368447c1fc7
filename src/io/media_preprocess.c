/*
 * media_preprocess.c — the reference's conditioning-pixel preprocessing:
 * resize to cover + center crop + normalise (ref: ltx_pipelines/utils/media_io.py
 * resize_and_center_crop, normalize_latent, video_preprocess).
 *
 *   scale = max(H / src_h, W / src_w)                 (Python floats = double)
 *   new_h = ceil(src_h * scale), new_w = ceil(src_w * scale)
 *   x = F.interpolate(x, (new_h, new_w), mode="bilinear", align_corners=False)   float32
 *   crop top = (new_h - H) // 2, left = (new_w - W) // 2
 *   y = x / 127.5 - 1, then .to(bfloat16) in the pipelines
 *
 * The resize replicates torch 1.13's CPU bilinear kernel for a channels-last float tensor
 * (the reference's rearrange "h w c -> 1 c h w" is a permuted view, which is ChannelsLast
 * contiguous, so torch takes cpu_upsample_linear_channels_last): ratio = (float)in / out;
 * source index (double)ratio * (dst + 0.5) - 0.5 kept in double (clamped at 0); lambdas
 * rounded to float; weights h*w as float products; out = i00*w00 + i01*w01 + i10*w10 +
 * i11*w11 summed in double (torch's accscalar_t) and stored as float. This combination was
 * found by testing the plausible precision/order variants against the goldens: it is the
 * only one that reproduces all four stored preprocessed tensors bit for bit
 * (tests/unit/test_media.c); float-index or float-sum variants differ in up to 55% of values.
 * Not here: antialiasing (the reference does not use it), other interpolation modes.
 */
#include "io/media.h"

#include "core/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ltx_media_cover_size(int src_h, int src_w, int h, int w, int *new_h, int *new_w)
{
    /* ref: scale = max(height / src_h, width / src_w); math.ceil(src * scale) */
    double sh = (double)h / (double)src_h, sw = (double)w / (double)src_w;
    double scale = sh > sw ? sh : sw;
    *new_h = (int)ceil((double)src_h * scale);
    *new_w = (int)ceil((double)src_w * scale);
}

/* torch's compute_source_index_and_lambda for align_corners=False: the source index is
 * evaluated in double (acc type) from the float ratio, lambdas are stored as float. */
static void src_index(int64_t out_i, int64_t in_size, int64_t out_size, float ratio, int64_t *i0,
                      int64_t *i1, float *l0, float *l1)
{
    if (in_size == out_size) {
        *i0 = *i1 = out_i;
        *l0 = 1.0f;
        *l1 = 0.0f;
        return;
    }
    /* ref: area_pixel_compute_source_index: scale * (dst_index + 0.5) - 0.5, negative -> 0 */
    double real = (double)ratio * ((double)out_i + 0.5) - 0.5;
    if (real < 0.0) real = 0.0;
    *i0 = (int64_t)real;
    *i1 = *i0 + ((*i0 < in_size - 1) ? 1 : 0);
    const double lam1 = real - (double)*i0;
    *l1 = (float)lam1;
    *l0 = (float)(1.0 - lam1);
}

void ltx_media_resize_bilinear(const float *src, int src_h, int src_w, int c, float *dst, int h,
                               int w)
{
    /* ref: area_pixel_compute_scale<float>: (float)input_size / output_size */
    const float rh = (float)src_h / (float)h;
    const float rw = (float)src_w / (float)w;
    for (int oh = 0; oh < h; oh++) {
        int64_t ih0, ih1;
        float h0, h1;
        src_index(oh, src_h, h, rh, &ih0, &ih1, &h0, &h1);
        for (int ow = 0; ow < w; ow++) {
            int64_t iw0, iw1;
            float w0, w1;
            src_index(ow, src_w, w, rw, &iw0, &iw1, &w0, &w1);
            const float *i00 = src + (ih0 * src_w + iw0) * c;
            const float *i01 = src + (ih0 * src_w + iw1) * c;
            const float *i10 = src + (ih1 * src_w + iw0) * c;
            const float *i11 = src + (ih1 * src_w + iw1) * c;
            float *o = dst + ((int64_t)oh * w + ow) * c;
            /* weights: float products of the float lambdas, held in double (accscalar_t) */
            const double w00 = h0 * w0, w01 = h0 * w1, w10 = h1 * w0, w11 = h1 * w1;
            for (int d = 0; d < c; d++)
                o[d] = (float)(i00[d] * w00 + i01[d] * w01 + i10[d] * w10 + i11[d] * w11);
        }
    }
}

ltx_status ltx_media_preprocess(const uint8_t *rgb, int n, int src_h, int src_w, int h, int w,
                                bool round_bf16, float *out)
{
    if (!rgb || !out || n <= 0 || src_h <= 0 || src_w <= 0 || h <= 0 || w <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "media preprocess: bad arguments (n=%d src=%dx%d dst=%dx%d)", n, src_h,
                       src_w, h, w);
    int nh, nw;
    ltx_media_cover_size(src_h, src_w, h, w, &nh, &nw);
    if (nh < h || nw < w)
        return ltx_err(LTX_ERR_INTERNAL, "media preprocess: cover size %dx%d < %dx%d", nh, nw, h,
                       w);
    const size_t src_px = (size_t)src_h * src_w, big_px = (size_t)nh * nw;
    float *srcf = malloc(sizeof(float) * src_px * 3);
    float *big = malloc(sizeof(float) * big_px * 3);
    if (!srcf || !big) {
        free(srcf);
        free(big);
        return ltx_err(LTX_ERR_OOM, "media preprocess: out of memory (%dx%d)", nh, nw);
    }
    const int top = (nh - h) / 2, left = (nw - w) / 2; /* ref: (new - target) // 2 */
    const size_t plane = (size_t)n * h * w;            /* one channel of (3, n, h, w) */
    for (int f = 0; f < n; f++) {
        const uint8_t *fr = rgb + (size_t)f * src_px * 3;
        for (size_t i = 0; i < src_px * 3; i++)
            srcf[i] = (float)fr[i];
        ltx_media_resize_bilinear(srcf, src_h, src_w, 3, big, nh, nw);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const float *px = big + ((size_t)(y + top) * nw + (x + left)) * 3;
                for (int c = 0; c < 3; c++) {
                    /* ref: normalize_latent: latent / 127.5 - 1.0 in float32 */
                    float v = px[c] / 127.5f - 1.0f;
                    if (round_bf16) v = ltx_round_bf16(v);
                    out[c * plane + ((size_t)f * h + y) * w + x] = v;
                }
            }
        }
    }
    free(srcf);
    free(big);
    return LTX_OK;
}

ltx_status ltx_media_resize_long_side(const uint8_t *rgb, int h, int w, int long_side,
                                      ltx_frames *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "resize long side: NULL output");
    memset(out, 0, sizeof *out);
    if (!rgb || h <= 0 || w <= 0 || long_side <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "resize long side: bad arguments (%dx%d -> %d)", h, w,
                       long_side);
    /* ref: resize_aspect_ratio_preserving: scale = long_side / float(max(h, w)),
     * target = int(side * scale), then resize_and_center_crop to the target */
    const double scale = (double)long_side / (double)(h > w ? h : w);
    const int th = (int)(h * scale), tw = (int)(w * scale);
    if (th <= 0 || tw <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "resize long side: %dx%d -> %dx%d is empty", h, w, th,
                       tw);
    int nh, nw;
    ltx_media_cover_size(h, w, th, tw, &nh, &nw);
    float *src = malloc(sizeof(float) * (size_t)h * w * 3);
    float *big = malloc(sizeof(float) * (size_t)nh * nw * 3);
    uint8_t *dst = malloc((size_t)th * tw * 3);
    if (!src || !big || !dst) {
        free(src);
        free(big);
        free(dst);
        return ltx_err(LTX_ERR_OOM, "resize long side: out of memory (%dx%d)", nh, nw);
    }
    for (size_t i = 0; i < (size_t)h * w * 3; i++)
        src[i] = (float)rgb[i];
    ltx_media_resize_bilinear(src, h, w, 3, big, nh, nw);
    const int top = (nh - th) / 2, left = (nw - tw) / 2;
    for (int y = 0; y < th; y++)
        for (int x = 0; x < tw * 3; x++) {
            float v = big[(size_t)(y + top) * nw * 3 + (size_t)left * 3 + x];
            v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
            dst[(size_t)y * tw * 3 + x] = (uint8_t)v; /* .to(torch.uint8) truncates */
        }
    free(src);
    free(big);
    out->n = 1;
    out->h = th;
    out->w = tw;
    out->rgb = dst;
    return LTX_OK;
}
