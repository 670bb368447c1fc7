/*
 * media_resample.c — torchaudio.functional.resample ported to C (band-limited sinc
 * interpolation with a Hann window), used for the audio VAE input (ref:
 * ltx_core/model/audio_vae/ops.py AudioProcessor.resample_audio, which calls
 * torchaudio.functional.resample(waveform, orig, 16000) with the library defaults).
 *
 * Algorithm (torchaudio 0.13 `_get_sinc_resample_kernel` + `_apply_sinc_resample_kernel`):
 *   g = gcd(orig, new); orig /= g; new /= g
 *   base = min(orig, new) * rolloff                    rolloff 0.99 (anti-aliasing margin)
 *   width = ceil(lowpass_width * orig / base)          lowpass_width 6 zero crossings
 *   for phase i in [0, new) and tap k in [0, 2*width + orig):
 *     t = ((-i / new) + (k - width) / orig) * base, clamped to [-6, 6]
 *     w = cos(t * pi / 6 / 2)^2                        Hann window
 *     h[i][k] = (t == 0 ? 1 : sin(pi t) / (pi t)) * (w * base / orig)
 *   y[j*new + i] = sum_k xpad[j*orig + k] * h[i][k]   xpad = width zeros | x | width+orig zeros
 *   output length ceil(new * n / orig)
 * The kernel is built in float32 exactly as torchaudio does for a float32 waveform (the
 * waveform dtype is passed as the kernel dtype); each operation rounds to float like the
 * tensor ops do. The convolution accumulates in double (torch's conv1d order is not
 * reproducible; the result differs from it by float32 rounding only).
 * Not implemented: the kaiser window variant and non-default widths/rolloff (the reference
 * never uses them).
 */
#include "io/media.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RS_LOWPASS_WIDTH 6    /* ref: torchaudio resample default lowpass_filter_width */
#define RS_ROLLOFF       0.99 /* ref: torchaudio resample default rolloff */

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int64_t ltx_audio_resample_len(int64_t n, int orig_rate, int new_rate)
{
    if (orig_rate <= 0 || new_rate <= 0 || n <= 0) return 0;
    if (orig_rate == new_rate) return n;
    int64_t g = gcd64(orig_rate, new_rate);
    int64_t o = orig_rate / g, nw = new_rate / g;
    /* ref: int(math.ceil(new_freq * length / orig_freq)) */
    return (nw * n + o - 1) / o;
}

/* Builds the (new, K) float32 kernel; returns NULL on OOM. */
static float *build_kernel(int64_t orig, int64_t nw, int64_t *width_out, int64_t *k_out)
{
    const double base = (double)(orig < nw ? orig : nw) * RS_ROLLOFF;
    const int64_t width = (int64_t)ceil(RS_LOWPASS_WIDTH * (double)orig / base);
    const int64_t K = 2 * width + orig;
    float *h = malloc(sizeof(float) * (size_t)(nw * K));
    if (!h) {
        ltx_err(LTX_ERR_OOM, "resampling kernel: out of memory");
        return NULL;
    }
    /* Python scalars enter float32 tensor ops rounded to float32. */
    const float base_f = (float)base;
    const float scale_f = (float)(base / (double)orig);
    const float pi_f = (float)M_PI;
    const float lw = (float)RS_LOWPASS_WIDTH;
    for (int64_t i = 0; i < nw; i++) {
        const float phase = (float)(-i) / (float)nw; /* arange(0,-new,-1)/new */
        for (int64_t k = 0; k < K; k++) {
            float idx = (float)(k - width) / (float)orig; /* arange(-w, w+orig)/orig */
            float t = (phase + idx) * base_f;
            if (t < -lw) t = -lw;
            if (t > lw) t = lw;
            float c = cosf(t * pi_f / lw / 2.0f);
            float window = c * c; /* ** 2 */
            t = t * pi_f;
            float s = (t == 0.0f) ? 1.0f : sinf(t) / t;
            h[i * K + k] = s * (window * scale_f);
        }
    }
    *width_out = width;
    *k_out = K;
    return h;
}

ltx_status ltx_audio_resample(const float *in, int channels, int64_t n, int orig_rate, int new_rate,
                              float **out, int64_t *n_out)
{
    if (!out || !n_out) return ltx_err(LTX_ERR_INVALID_ARG, "audio resample: NULL output");
    *out = NULL;
    *n_out = 0;
    if (orig_rate <= 0 || new_rate <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "audio resample: bad rates %d -> %d", orig_rate,
                       new_rate);
    if (channels <= 0 || n < 0 || (n > 0 && !in))
        return ltx_err(LTX_ERR_INVALID_ARG, "audio resample: bad input (%d channels, %lld samples)",
                       channels, (long long)n);
    const int64_t len = ltx_audio_resample_len(n, orig_rate, new_rate);
    float *y = malloc(sizeof(float) * (size_t)(channels * (len > 0 ? len : 1)));
    if (!y) return ltx_err(LTX_ERR_OOM, "audio resample: out of memory");
    if (orig_rate == new_rate) {
        memcpy(y, in, sizeof(float) * (size_t)(channels * n));
        *out = y;
        *n_out = n;
        return LTX_OK;
    }
    const int64_t g = gcd64(orig_rate, new_rate);
    const int64_t orig = orig_rate / g, nw = new_rate / g;
    int64_t width = 0, K = 0;
    float *h = build_kernel(orig, nw, &width, &K);
    if (!h) {
        free(y);
        return ltx_err(LTX_ERR_OOM, "audio resample: out of memory (%lld-phase kernel)",
                       (long long)nw);
    }
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * (size_t)n;
        float *yc = y + (size_t)c * (size_t)len;
        for (int64_t o = 0; o < len; o++) {
            const int64_t j = o / nw, i = o % nw; /* block, phase */
            const float *hk = h + i * K;
            /* xpad[j*orig + k] = x[j*orig + k - width] */
            const int64_t x0 = j * orig - width;
            int64_t k0 = x0 < 0 ? -x0 : 0;
            int64_t k1 = (n - x0) < K ? (n - x0) : K;
            double acc = 0.0;
            for (int64_t k = k0; k < k1; k++)
                acc += (double)x[x0 + k] * (double)hk[k];
            yc[o] = (float)acc;
        }
    }
    free(h);
    *out = y;
    *n_out = len;
    return LTX_OK;
}
