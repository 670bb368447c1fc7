/*
 * test_audio_options.c — the audio VAE / vocoder options the tiny checkpoint leaves off, with
 * small random-weight models (weights generated per name, so host references can regenerate
 * them): config defaults and rejections (what the reference's configurators and constructors
 * refuse), causality NONE / WIDTH / HEIGHT (causality checked as a property: perturbing the
 * "future" leaves earlier outputs bit-identical), GroupNorm + attention blocks + average-pool
 * downsampling, AttnBlock against a host reference, the legacy flat Vocoder (ResBlock1,
 * "same" padding with an even kernel, LeakyReLU, tanh / clamp, optional final bias) against a
 * host reference, and VocoderWithBWE with another rate ratio and a non-multiple-of-hop length.
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "models/audio_vae_internal.h"
#include "models/vocoder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* ---- deterministic random weights by name ---------------------------------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1;
}

static double urand(uint64_t *s) /* [-1, 1) */
{
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

/* Host values of parameter `name` (n elements, fan_in for weight scaling). */
static float *gen_values(const char *name, int ndim, const int64_t *shape)
{
    int64_t n = 1, fan = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    for (int i = 1; i < ndim; i++)
        fan *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    uint64_t s = hash_name(name);
    static const float kaiser[12] = {0.002029f,   0.0093895f,  -0.0255435f, -0.0576574f,
                                     0.1285726f,  0.4432098f,  0.4432098f,  0.1285726f,
                                     -0.0576574f, -0.0255435f, 0.0093895f,  0.002029f};
    for (int64_t i = 0; i < n; i++) {
        double u = urand(&s);
        if (strstr(name, "std-of-means"))
            v[i] = (float)(0.75 + 0.25 * u);
        else if (strstr(name, "mean-of-means"))
            v[i] = (float)(0.1 * u);
        else if (strstr(name, ".filter"))
            v[i] = kaiser[i % 12];
        else if (strstr(name, "mel_basis"))
            v[i] = (float)(0.02 * fabs(u));
        else if (strstr(name, "forward_basis"))
            v[i] = (float)(0.05 * u);
        else if (ndim == 1 && strstr(name, "norm") && strstr(name, ".weight"))
            v[i] = (float)(1.0 + 0.1 * u);
        else if (ndim == 1)
            v[i] = (float)(0.1 * u);
        else
            v[i] = (float)(u / sqrt((double)fan));
    }
    return v;
}

typedef struct rnd_src {
    char seen[1024][96]; /* names requested (first 1024) */
    int n_seen;
} rnd_src;

static ltx_tensor *rnd_get(void *user, ltx_backend *be, const char *name, int ndim,
                           const int64_t *shape)
{
    rnd_src *r = user;
    if (r && r->n_seen < 1024) snprintf(r->seen[r->n_seen++], 96, "%s", name);
    float *v = gen_values(name, ndim, shape);
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, ndim, shape, v);
    free(v);
    return t;
}

static bool seen(const rnd_src *r, const char *name)
{
    for (int i = 0; i < r->n_seen; i++)
        if (!strcmp(r->seen[i], name)) return true;
    return false;
}

static ltx_backend *cpu(void)
{
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

static ltx_tensor *rand_tensor(ltx_backend *be, int ndim, const int64_t *shape, uint64_t seed)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)urand(&seed);
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, ndim, shape, v);
    free(v);
    return t;
}

/* ---- audio VAE config ------------------------------------------------------------------- */

static ltx_status parse_dd(const char *dd, ltx_audio_vae_config *c)
{
    char js[1024];
    snprintf(js, sizeof js, "{\"audio_vae\": {\"model\": {\"params\": {\"ddconfig\": %s}}}}", dd);
    return ltx_audio_vae_config_parse(js, c);
}

TEST(audio_vae_config_defaults_and_rejections)
{
    ltx_audio_vae_config c;
    CHECK(ltx_audio_vae_config_parse("{}", &c) == LTX_OK);
    CHECK(c.ch == 128 && c.n_levels == 3 && c.ch_mult[2] == 4 && c.num_res_blocks == 2);
    CHECK(c.n_attn == 3 && c.attn_resolutions[0] == 8 && c.mid_attn && c.double_z);
    CHECK(c.causality == LTX_CAUSAL_HEIGHT && c.norm == LTX_AUDIO_NORM_PIXEL);
    CHECK(c.sample_rate == 16000 && c.mel_hop_length == 160 && c.n_fft == 1024);
    CHECK(c.mel_bins == 0); /* None: nothing names it */
    CHECK(ltx_audio_vae_config_parse("{\"audio_vae\": {\"preprocessing\": {\"mel\": "
                                     "{\"n_mel_channels\": 80}}}}",
                                     &c) == LTX_OK &&
          c.mel_bins == 80);
    CHECK(parse_dd("{\"causality_axis\": null, \"norm_type\": \"group\"}", &c) == LTX_OK &&
          c.causality == LTX_CAUSAL_NONE && c.norm == LTX_AUDIO_NORM_GROUP);
    CHECK(parse_dd("{\"causality_axis\": \"width-compatibility\"}", &c) == LTX_OK &&
          c.causality == LTX_CAUSAL_WIDTH_COMPAT);
    struct {
        const char *dd, *needle;
    } bad[] = {
        {"{\"norm_type\": \"batch\"}", "norm_type"},
        {"{\"causality_axis\": \"time\"}", "causality_axis"},
        {"{\"norm_type\": \"group\"}", "GroupNorm block"}, /* group + default causal height */
        {"{\"attn_type\": \"flash\"}", "attn_type"},
        {"{\"ch_mult\": []}", "ch_mult"},
        {"{\"ch\": \"128\"}", "ch"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ltx_status s = parse_dd(bad[i].dd, &c);
        CHECK_MSG(s == LTX_ERR_UNSUPPORTED && strstr(ltx_err_message(), bad[i].needle), "%s -> %s",
                  bad[i].dd, ltx_err_message());
    }
}

TEST(audio_vae_create_rejections)
{
    ltx_backend *be = cpu();
    rnd_src r = {0};
    ltx_audio_wsrc src = {rnd_get, &r};
    ltx_audio_vae_config c;
    ltx_audio_encoder *e = NULL;
    /* linear attention where a block is built -> NotImplementedError in the reference */
    CHECK(parse_dd("{\"ch\": 32, \"ch_mult\": [1], \"num_res_blocks\": 1, \"resolution\": 8, "
                   "\"attn_resolutions\": [8], \"attn_type\": \"linear\"}",
                   &c) == LTX_OK);
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_ERR_UNSUPPORTED && !e &&
          strstr(ltx_err_message(), "linear"));
    /* ... but "linear" with no attention block anywhere builds fine */
    c.n_attn = 0;
    c.mid_attn = false;
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_OK && e);
    ltx_audio_encoder_free(e);
    e = NULL;
    /* average-pool downsampling needs causality null */
    CHECK(parse_dd("{\"ch\": 32, \"ch_mult\": [1, 1], \"resamp_with_conv\": false}", &c) == LTX_OK);
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_ERR_UNSUPPORTED && !e &&
          strstr(ltx_err_message(), "resamp_with_conv"));
    /* GroupNorm(32) over 48 channels */
    CHECK(parse_dd("{\"ch\": 48, \"ch_mult\": [1], \"norm_type\": \"group\", "
                   "\"causality_axis\": null}",
                   &c) == LTX_OK);
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_ERR_UNSUPPORTED && !e &&
          strstr(ltx_err_message(), "divisible by 32"));
    ltx_backend_destroy(be);
}

/* ---- audio VAE forward options -------------------------------------------------------- */

/* NONE causality, GroupNorm, attention at every level and in the mid block, average-pool
 * downsampling, and the decoder's zero padding up to 4T' frames (one downsample only). */
TEST(audio_vae_group_norm_attention_avgpool)
{
    ltx_backend *be = cpu();
    rnd_src r = {0};
    ltx_audio_wsrc src = {rnd_get, &r};
    ltx_audio_vae_config c;
    CHECK(parse_dd("{\"ch\": 32, \"ch_mult\": [1, 2], \"num_res_blocks\": 1, \"resolution\": 16,"
                   " \"attn_resolutions\": [16, 8], \"z_channels\": 4, \"norm_type\": \"group\","
                   " \"causality_axis\": null, \"resamp_with_conv\": false, \"mel_bins\": 16}",
                   &c) == LTX_OK);
    ltx_audio_encoder *e = NULL;
    ltx_audio_decoder *d = NULL;
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_OK);
    CHECK(seen(&r, "down.0.attn.0.q.weight") && seen(&r, "down.1.attn.0.proj_out.bias"));
    CHECK(seen(&r, "mid.attn_1.norm.weight") && !seen(&r, "down.0.downsample.conv.weight"));
    r.n_seen = 0;
    CHECK(ltx_audio_decoder_create(be, &c, &src, &d) == LTX_OK);
    CHECK(seen(&r, "up.1.attn.1.k.weight") && seen(&r, "up.0.attn.1.v.bias"));
    CHECK(seen(&r, "up.1.upsample.conv.conv.weight"));
    const int64_t ms[4] = {1, 2, 12, 16};
    ltx_tensor *mel = rand_tensor(be, 4, ms, 7), *lat = NULL, *out = NULL;
    CHECK(e && ltx_audio_encoder_forward(e, mel, NULL, &lat) == LTX_OK);
    /* avg pool 2x2: (12, 16) -> (6, 8); means = first 4 of 8 channels; 4 x 8 = ch */
    CHECK(lat && lat->shape[1] == 4 && lat->shape[2] == 6 && lat->shape[3] == 8);
    CHECK(d && lat && ltx_audio_decoder_forward(d, lat, NULL, &out) == LTX_OK);
    /* NONE: target 4 T' = 24 frames; decoded 12 rows, the rest zero-padded like the reference */
    CHECK(out && out->shape[1] == 2 && out->shape[2] == 24 && out->shape[3] == 16);
    if (out) {
        float *h = ltx_tensor_to_host_f32(out);
        bool tail_zero = true, head_nonzero = false;
        for (int ch = 0; ch < 2; ch++)
            for (int t = 0; t < 24; t++)
                for (int m = 0; m < 16; m++) {
                    float v = h[(ch * 24 + t) * 16 + m];
                    if (t >= 12)
                        tail_zero = tail_zero && v == 0.0f;
                    else
                        head_nonzero = head_nonzero || (v != 0.0f && isfinite(v));
                }
        CHECK(tail_zero && head_nonzero);
        free(h);
    }
    ltx_tensor_free(mel), ltx_tensor_free(lat), ltx_tensor_free(out);
    ltx_audio_encoder_free(e);
    ltx_audio_decoder_free(d);
    ltx_backend_destroy(be);
}

/* Causality as a property: with the time axis causal (HEIGHT), latent row j depends on mel rows
 * <= 4j only; with WIDTH the same holds along the mel axis. Perturbing later rows/columns must
 * leave earlier outputs bit-identical (and change later ones). */
static void causal_case(ltx_causality_axis ax)
{
    ltx_backend *be = cpu();
    ltx_audio_wsrc src = {rnd_get, NULL};
    ltx_audio_vae_config c;
    CHECK(
        parse_dd(
            ax == LTX_CAUSAL_WIDTH
                ? "{\"ch\": 32, \"ch_mult\": [1, 1, 1], \"num_res_blocks\": 1, "
                  "\"z_channels\": 4, \"causality_axis\": \"width\", "
                  "\"mid_block_add_attention\": false, \"attn_resolutions\": [], \"mel_bins\": 32}"
                : "{\"ch\": 32, \"ch_mult\": [1, 1, 1], \"num_res_blocks\": 1, "
                  "\"z_channels\": 4, \"causality_axis\": \"height\", "
                  "\"mid_block_add_attention\": false, \"attn_resolutions\": [], \"mel_bins\": 32}",
            &c) == LTX_OK);
    ltx_audio_encoder *e = NULL;
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_OK);
    const int64_t T = ax == LTX_CAUSAL_WIDTH ? 9 : 33, M = ax == LTX_CAUSAL_WIDTH ? 32 : 32;
    const int64_t ms[4] = {1, 2, T, M};
    ltx_tensor *a = rand_tensor(be, 4, ms, 11), *b = NULL, *la = NULL, *lb = NULL;
    float *h = ltx_tensor_to_host_f32(a);
    const int k = 3, dim = ax == LTX_CAUSAL_WIDTH ? 3 : 2;
    for (int64_t ch = 0; ch < 2; ch++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t m = 0; m < M; m++)
                if ((dim == 2 ? t : m) > 4 * k) h[(ch * T + t) * M + m] += 0.5f;
    b = ltx_tensor_from_host(be, LTX_F32, 4, ms, h);
    free(h);
    CHECK(e && ltx_audio_encoder_forward(e, a, NULL, &la) == LTX_OK);
    CHECK(e && ltx_audio_encoder_forward(e, b, NULL, &lb) == LTX_OK);
    if (la && lb) {
        ltx_tensor *ea = ltx_tensor_slice(la, dim, 0, k + 1, 1),
                   *eb = ltx_tensor_slice(lb, dim, 0, k + 1, 1);
        ltx_tensor *fa = ltx_tensor_slice(la, dim, k + 1, la->shape[dim], 1);
        ltx_tensor *fb = ltx_tensor_slice(lb, dim, k + 1, lb->shape[dim], 1);
        CHECK_MSG(tu_max_abs_diff(ea, eb) == 0.0, "axis %d: early outputs changed by %g", dim,
                  tu_max_abs_diff(ea, eb));
        CHECK(tu_max_abs_diff(fa, fb) > 1e-4);
        ltx_tensor_free(ea), ltx_tensor_free(eb), ltx_tensor_free(fa), ltx_tensor_free(fb);
    }
    /* decoder: latent rows >= k change -> output rows/columns < 4k - 3 do not */
    ltx_audio_decoder *d = NULL;
    CHECK(ltx_audio_decoder_create(be, &c, &src, &d) == LTX_OK);
    if (d && la) {
        float *l = ltx_tensor_to_host_f32(la);
        const int64_t *s = la->shape;
        for (int64_t i = 0; i < ltx_tensor_numel(la); i++) {
            int64_t m = i % s[3], t = (i / s[3]) % s[2];
            if ((dim == 2 ? t : m) >= k) l[i] += 0.5f;
        }
        ltx_tensor *lc = ltx_tensor_from_host(be, LTX_F32, 4, s, l), *oa = NULL, *oc = NULL;
        free(l);
        CHECK(ltx_audio_decoder_forward(d, la, NULL, &oa) == LTX_OK);
        CHECK(ltx_audio_decoder_forward(d, lc, NULL, &oc) == LTX_OK);
        if (oa && oc) {
            /* HEIGHT: 4T'-3 frames; WIDTH: the decoded 29 mel columns are zero-padded to
             * mel_bins = 32 (the time axis is not causal there: 4T' frames) */
            if (dim == 2) CHECK(oa->shape[2] == 4 * s[2] - 3);
            ltx_tensor *ea = ltx_tensor_slice(oa, dim, 0, 4 * k - 3, 1),
                       *ec = ltx_tensor_slice(oc, dim, 0, 4 * k - 3, 1);
            CHECK_MSG(tu_max_abs_diff(ea, ec) == 0.0,
                      "decoder axis %d: early outputs changed by %g", dim, tu_max_abs_diff(ea, ec));
            CHECK(tu_max_abs_diff(oa, oc) > 1e-4);
            ltx_tensor_free(ea), ltx_tensor_free(ec);
        }
        ltx_tensor_free(lc), ltx_tensor_free(oa), ltx_tensor_free(oc);
    }
    ltx_tensor_free(a), ltx_tensor_free(b), ltx_tensor_free(la), ltx_tensor_free(lb);
    ltx_audio_encoder_free(e);
    ltx_audio_decoder_free(d);
    ltx_backend_destroy(be);
}

TEST(audio_vae_causal_height)
{
    causal_case(LTX_CAUSAL_HEIGHT);
}

TEST(audio_vae_causal_width)
{
    causal_case(LTX_CAUSAL_WIDTH);
}

/* width-compatibility: width-causal convs, Downsample pads (1, 0 | 0, 1), no crop after the
 * decoder's upsampling (so the decoded time axis is cropped to 4T' - 3). */
TEST(audio_vae_width_compat_shapes)
{
    ltx_backend *be = cpu();
    ltx_audio_wsrc src = {rnd_get, NULL};
    ltx_audio_vae_config c;
    CHECK(parse_dd("{\"ch\": 32, \"ch_mult\": [1, 1, 1], \"num_res_blocks\": 1, "
                   "\"z_channels\": 4, \"causality_axis\": \"width-compatibility\", "
                   "\"mid_block_add_attention\": false, \"attn_resolutions\": [], "
                   "\"mel_bins\": 32}",
                   &c) == LTX_OK);
    ltx_audio_encoder *e = NULL;
    ltx_audio_decoder *d = NULL;
    CHECK(ltx_audio_encoder_create(be, &c, &src, &e) == LTX_OK);
    CHECK(ltx_audio_decoder_create(be, &c, &src, &d) == LTX_OK);
    const int64_t ms[4] = {1, 2, 9, 32};
    ltx_tensor *mel = rand_tensor(be, 4, ms, 21), *lat = NULL, *out = NULL;
    CHECK(e && ltx_audio_encoder_forward(e, mel, NULL, &lat) == LTX_OK);
    CHECK(lat && lat->shape[1] == 4 && lat->shape[2] == 2 && lat->shape[3] == 8);
    CHECK(d && lat && ltx_audio_decoder_forward(d, lat, NULL, &out) == LTX_OK);
    CHECK(out && out->shape[1] == 2 && out->shape[2] == 5 && out->shape[3] == 32);
    ltx_tensor_free(mel), ltx_tensor_free(lat), ltx_tensor_free(out);
    ltx_audio_encoder_free(e);
    ltx_audio_decoder_free(d);
    ltx_backend_destroy(be);
}

/* ---- AttnBlock against a host reference ------------------------------------------------ */

static void attn_case(ltx_audio_norm norm)
{
    ltx_backend *be = cpu();
    ltx_audio_wsrc src = {rnd_get, NULL};
    ltx_audio_vae_config c;
    CHECK(parse_dd("{\"causality_axis\": null}", &c) == LTX_OK);
    c.norm = norm;
    enum { C = 32, H = 3, W = 4, P = H * W };
    audio_loader L = {be, &src, LTX_OK};
    avae_attn a;
    ltx_avae_attn_load(&L, &a, "attn", C, &c, false);
    CHECK(L.status == LTX_OK);
    const int64_t xs[4] = {1, C, H, W};
    ltx_tensor *x = rand_tensor(be, 4, xs, 5), *y = ltx_avae_attn_fwd(be, &a, x);
    CHECK(y != NULL);
    float *xh = ltx_tensor_to_host_f32(x), *yh = y ? ltx_tensor_to_host_f32(y) : NULL;
    const int64_t ws[4] = {C, C, 1, 1}, bs[1] = {C};
    float *wq = gen_values("attn.q.weight", 4, ws), *bq = gen_values("attn.q.bias", 1, bs);
    float *wk = gen_values("attn.k.weight", 4, ws), *bk = gen_values("attn.k.bias", 1, bs);
    float *wv = gen_values("attn.v.weight", 4, ws), *bv = gen_values("attn.v.bias", 1, bs);
    float *wp = gen_values("attn.proj_out.weight", 4, ws),
          *bp = gen_values("attn.proj_out.bias", 1, bs);
    float *gw = gen_values("attn.norm.weight", 1, bs), *gb = gen_values("attn.norm.bias", 1, bs);
    static double h[C][P], q[C][P], k[C][P], v[C][P], o[C][P];
    for (int p = 0; p < P; p++) { /* PixelNorm over channels */
        double ms = 0;
        for (int ch = 0; ch < C; ch++)
            ms += (double)xh[ch * P + p] * xh[ch * P + p];
        for (int ch = 0; ch < C; ch++)
            h[ch][p] = xh[ch * P + p] / sqrt(ms / C + 1e-6);
    }
    if (norm == LTX_AUDIO_NORM_GROUP) /* 32 groups of one channel over H*W, affine */
        for (int ch = 0; ch < C; ch++) {
            double mu = 0, var = 0;
            for (int p = 0; p < P; p++)
                mu += xh[ch * P + p];
            mu /= P;
            for (int p = 0; p < P; p++)
                var += (xh[ch * P + p] - mu) * (xh[ch * P + p] - mu);
            var /= P;
            for (int p = 0; p < P; p++)
                h[ch][p] = (xh[ch * P + p] - mu) / sqrt(var + 1e-6) * gw[ch] + gb[ch];
        }
    for (int co = 0; co < C; co++)
        for (int p = 0; p < P; p++) {
            double sq = bq[co], sk = bk[co], sv = bv[co];
            for (int ci = 0; ci < C; ci++)
                sq += wq[co * C + ci] * h[ci][p], sk += wk[co * C + ci] * h[ci][p],
                    sv += wv[co * C + ci] * h[ci][p];
            q[co][p] = sq, k[co][p] = sk, v[co][p] = sv;
        }
    for (int i = 0; i < P; i++) {
        double s[P], mx = -1e300, z = 0;
        for (int j = 0; j < P; j++) {
            s[j] = 0;
            for (int ch = 0; ch < C; ch++)
                s[j] += q[ch][i] * k[ch][j];
            s[j] /= sqrt((double)C);
            mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < P; j++)
            z += s[j] = exp(s[j] - mx);
        for (int ch = 0; ch < C; ch++) {
            double acc = 0;
            for (int j = 0; j < P; j++)
                acc += s[j] / z * v[ch][j];
            o[ch][i] = acc;
        }
    }
    double md = 0;
    for (int co = 0; co < C && yh; co++)
        for (int p = 0; p < P; p++) {
            double ref = xh[co * P + p] + bp[co];
            for (int ci = 0; ci < C; ci++)
                ref += wp[co * C + ci] * o[ci][p];
            md = fmax(md, fabs(ref - yh[co * P + p]));
        }
    CHECK_MSG(md < 2e-5, "AttnBlock (%s) vs host reference: max |diff| %g",
              norm == LTX_AUDIO_NORM_GROUP ? "group" : "pixel", md);
    printf("measure: AttnBlock %s norm vs host reference: max |diff| %.3g\n",
           norm == LTX_AUDIO_NORM_GROUP ? "group" : "pixel", md);
    free(xh), free(yh), free(wq), free(bq), free(wk), free(bk), free(wv), free(bv), free(wp);
    free(bp), free(gw), free(gb);
    ltx_tensor_free(x), ltx_tensor_free(y);
    ltx_avae_attn_release(&a);
    ltx_backend_destroy(be);
}

TEST(attn_block_pixel_norm_vs_host)
{
    attn_case(LTX_AUDIO_NORM_PIXEL);
}

TEST(attn_block_group_norm_vs_host)
{
    attn_case(LTX_AUDIO_NORM_GROUP);
}

/* ---- vocoder config ---------------------------------------------------------------------- */

TEST(vocoder_config_defaults_and_rejections)
{
    ltx_vocoder_config c;
    CHECK(ltx_vocoder_config_parse("{\"vocoder\": {\"resblock\": \"1\", \"stereo\": true}}", &c) ==
          LTX_OK);
    CHECK(!c.bwe && !c.gen.amp && c.gen.upsample_initial_channel == 1024 && c.gen.n_ups == 5);
    CHECK(c.gen.upsample_rates[0] == 6 && c.gen.upsample_kernel_sizes[0] == 16);
    CHECK(c.gen.n_kernels == 3 && c.gen.resblock_dilations[2][2] == 5);
    CHECK(c.gen.use_tanh_at_final && c.gen.use_bias_at_final && c.gen.apply_final_activation);
    CHECK(c.output_sampling_rate == 24000);
    struct {
        const char *js, *needle;
    } bad[] = {
        {"{}", "resblock"},
        {"{\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true}}", "resblock"},
        {"{\"vocoder\": {\"resblock\": \"1\"}}", "stereo"},
        {"{\"vocoder\": {\"resblock\": \"1\", \"stereo\": true, \"upsample_rates\": [4, 2]}}",
         "zip"},
        {"{\"vocoder\": {\"resblock\": \"1\", \"stereo\": true, \"resblock_dilation_sizes\": "
         "[[1, 3], [1, 3], [1, 3]]}}",
         "3 dilations"},
        {"{\"vocoder\": {\"resblock\": \"1\", \"stereo\": true, \"upsample_initial_channel\": "
         "16}}",
         "halves to 0"},
        {"{\"vocoder\": {\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snake\"}, \"bwe\": {}}}",
         "activation"},
        {"{\"vocoder\": {\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snakebeta\"}, \"bwe\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snakebeta\", \"input_sampling_rate\": 16000, \"output_sampling_rate\": 48000, "
         "\"hop_length\": 80, \"num_mels\": 64}}}",
         "n_fft"},
        {"{\"vocoder\": {\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snakebeta\"}, \"bwe\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snakebeta\", \"input_sampling_rate\": 48000, \"output_sampling_rate\": 16000, "
         "\"n_fft\": 512, \"hop_length\": 80, \"num_mels\": 64}}}",
         "ratio"},
        {"{\"vocoder\": {\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true, \"activation\":"
         " \"snakebeta\", \"resblock_kernel_sizes\": [3, 4, 11]}, \"bwe\": {\"resblock\": "
         "\"AMP1\", \"stereo\": true, \"activation\": \"snakebeta\", \"input_sampling_rate\": "
         "16000, \"output_sampling_rate\": 48000, \"n_fft\": 512, \"hop_length\": 80, "
         "\"num_mels\": 64}}}",
         "even"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ltx_status s = ltx_vocoder_config_parse(bad[i].js, &c);
        CHECK_MSG(s != LTX_OK && strstr(ltx_err_message(), bad[i].needle), "%s -> %s", bad[i].js,
                  ltx_err_message());
    }
}

/* ---- legacy flat vocoder against a host reference ------------------------------------- */

typedef struct hbuf {
    int C, L;
    double *v; /* (C, L) */
} hbuf;

static hbuf hb_new(int C, int L)
{
    hbuf h = {C, L, calloc((size_t)C * L, sizeof(double))};
    return h;
}

static hbuf h_conv(hbuf x, const char *name, int cout, int K, int dil, int pl, int pr, bool bias)
{
    const int64_t ws[3] = {cout, x.C, K}, bs[1] = {cout};
    char n[128];
    snprintf(n, sizeof n, "%s.weight", name);
    float *w = gen_values(n, 3, ws), *b = NULL;
    snprintf(n, sizeof n, "%s.bias", name);
    if (bias) b = gen_values(n, 1, bs);
    const int Lo = x.L + pl + pr - dil * (K - 1);
    hbuf y = hb_new(cout, Lo);
    for (int o = 0; o < cout; o++)
        for (int t = 0; t < Lo; t++) {
            double acc = b ? b[o] : 0;
            for (int i = 0; i < x.C; i++)
                for (int k = 0; k < K; k++) {
                    int s = t + k * dil - pl;
                    if (s >= 0 && s < x.L) acc += w[(o * x.C + i) * K + k] * x.v[i * x.L + s];
                }
            y.v[o * Lo + t] = acc;
        }
    free(w), free(b);
    return y;
}

static hbuf h_convT(hbuf x, const char *name, int cout, int K, int u)
{
    const int64_t ws[3] = {x.C, cout, K}, bs[1] = {cout};
    char n[128];
    snprintf(n, sizeof n, "%s.weight", name);
    float *w = gen_values(n, 3, ws);
    snprintf(n, sizeof n, "%s.bias", name);
    float *b = gen_values(n, 1, bs);
    const int p = (K - u) / 2, Lo = (x.L - 1) * u - 2 * p + K;
    hbuf y = hb_new(cout, Lo);
    for (int o = 0; o < cout; o++)
        for (int t = 0; t < Lo; t++)
            y.v[o * Lo + t] = b[o];
    for (int i = 0; i < x.C; i++)
        for (int o = 0; o < cout; o++)
            for (int t = 0; t < x.L; t++)
                for (int k = 0; k < K; k++) {
                    int d = t * u + k - p;
                    if (d >= 0 && d < Lo)
                        y.v[o * Lo + d] += x.v[i * x.L + t] * w[(i * cout + o) * K + k];
                }
    free(w), free(b);
    return y;
}

static void h_leaky(hbuf *x, double s)
{
    for (int i = 0; i < x->C * x->L; i++)
        if (x->v[i] < 0) x->v[i] *= s;
}

static void flat_vocoder_case(bool tanh_final, bool bias_final)
{
    ltx_backend *be = cpu();
    char js[1024];
    snprintf(js, sizeof js,
             "{\"vocoder\": {\"resblock\": \"1\", \"stereo\": true, \"upsample_initial_channel\": "
             "16, \"upsample_rates\": [4, 2], \"upsample_kernel_sizes\": [8, 4], "
             "\"resblock_kernel_sizes\": [3, 4], \"resblock_dilation_sizes\": [[1, 3, 5], [1, 2, "
             "3]], \"output_sampling_rate\": 12800, \"use_tanh_at_final\": %s, "
             "\"use_bias_at_final\": %s}}",
             tanh_final ? "true" : "false", bias_final ? "true" : "false");
    ltx_vocoder_config c;
    CHECK(ltx_vocoder_config_parse(js, &c) == LTX_OK);
    rnd_src r = {0};
    ltx_audio_wsrc src = {rnd_get, &r};
    ltx_vocoder *v = NULL;
    CHECK(ltx_vocoder_create(be, &c, &src, &v) == LTX_OK);
    CHECK(seen(&r, "conv_post.bias") == bias_final && seen(&r, "resblocks.3.convs2.2.weight"));
    CHECK(v && ltx_vocoder_output_rate(v) == 12800);
    const int T = 6;
    const int64_t ms[4] = {1, 2, T, 64};
    ltx_tensor *mel = rand_tensor(be, 4, ms, 3), *out = NULL;
    CHECK(v && ltx_vocoder_forward(v, mel, NULL, &out) == LTX_OK);
    CHECK(out && out->shape[1] == 2 && out->shape[2] == 8 * T);
    CHECK(v && ltx_vocoder_output_len(v, T) == 8 * T);
    /* host reference: ref Vocoder.forward with ResBlock1 */
    float *mh = ltx_tensor_to_host_f32(mel), *oh = out ? ltx_tensor_to_host_f32(out) : NULL;
    hbuf x = hb_new(128, T);
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < T; t++)
            for (int m = 0; m < 64; m++)
                x.v[(s * 64 + m) * T + t] = mh[(s * T + t) * 64 + m];
    hbuf y = h_conv(x, "conv_pre", 16, 7, 1, 3, 3, true);
    free(x.v);
    x = y;
    const int ks[2] = {3, 4}, dl[2][3] = {{1, 3, 5}, {1, 2, 3}}, ur[2] = {4, 2}, uk[2] = {8, 4};
    for (int i = 0; i < 2; i++) {
        h_leaky(&x, 0.1);
        char n[96];
        snprintf(n, sizeof n, "ups.%d", i);
        y = h_convT(x, n, x.C / 2, uk[i], ur[i]);
        free(x.v);
        x = y;
        hbuf acc = hb_new(x.C, x.L);
        for (int j = 0; j < 2; j++) {
            hbuf z = hb_new(x.C, x.L);
            memcpy(z.v, x.v, sizeof(double) * (size_t)x.C * x.L);
            for (int t = 0; t < 3; t++) {
                hbuf a = hb_new(z.C, z.L);
                memcpy(a.v, z.v, sizeof(double) * (size_t)z.C * z.L);
                h_leaky(&a, 0.1);
                const int d = dl[j][t], tot = d * (ks[j] - 1);
                snprintf(n, sizeof n, "resblocks.%d.convs1.%d", i * 2 + j, t);
                hbuf b = h_conv(a, n, z.C, ks[j], d, tot / 2, tot - tot / 2, true);
                h_leaky(&b, 0.1);
                snprintf(n, sizeof n, "resblocks.%d.convs2.%d", i * 2 + j, t);
                hbuf e =
                    h_conv(b, n, z.C, ks[j], 1, (ks[j] - 1) / 2, ks[j] - 1 - (ks[j] - 1) / 2, true);
                for (int q = 0; q < z.C * z.L; q++)
                    z.v[q] += e.v[q];
                free(a.v), free(b.v), free(e.v);
            }
            for (int q = 0; q < z.C * z.L; q++)
                acc.v[q] += z.v[q];
            free(z.v);
        }
        for (int q = 0; q < acc.C * acc.L; q++)
            acc.v[q] /= 2;
        free(x.v);
        x = acc;
    }
    h_leaky(&x, 0.01);
    y = h_conv(x, "conv_post", 2, 7, 1, 3, 3, bias_final);
    double md = 0, mx = 0;
    for (int q = 0; q < 2 * y.L && oh; q++) {
        double ref = tanh_final ? tanh(y.v[q]) : fmin(fmax(y.v[q], -1.0), 1.0);
        md = fmax(md, fabs(ref - oh[q]));
        mx = fmax(mx, fabs(y.v[q]));
    }
    CHECK_MSG(md < 1e-5, "flat vocoder (tanh %d, bias %d) vs host: max |diff| %g", tanh_final,
              bias_final, md);
    printf("measure: flat vocoder (ResBlock1, tanh %d, bias %d) vs host reference: max |diff| "
           "%.3g (pre-activation max |x| %.3g)\n",
           tanh_final, bias_final, md, mx);
    free(x.v), free(y.v), free(mh), free(oh);
    ltx_tensor_free(mel), ltx_tensor_free(out);
    ltx_vocoder_free(v);
    ltx_backend_destroy(be);
}

TEST(flat_vocoder_tanh_bias_vs_host)
{
    flat_vocoder_case(true, true);
}

TEST(flat_vocoder_clamp_nobias_vs_host)
{
    flat_vocoder_case(false, false);
}

/* ---- BWE with ratio 2 and a length that is not a multiple of the hop ------------------- */

static const char *bwe_json(const char *bwe_rates, const char *bwe_kernels)
{
    static char js[2048];
    snprintf(js, sizeof js,
             "{\"vocoder\": {\"vocoder\": {\"resblock\": \"AMP1\", \"stereo\": true, "
             "\"activation\": \"snakebeta\", \"upsample_initial_channel\": 16, "
             "\"upsample_rates\": [4, 2], \"upsample_kernel_sizes\": [8, 4], "
             "\"resblock_kernel_sizes\": [3], \"resblock_dilation_sizes\": [[1, 3, 5]], "
             "\"use_tanh_at_final\": false, \"use_bias_at_final\": false}, \"bwe\": {"
             "\"resblock\": \"AMP1\", \"stereo\": true, \"activation\": \"snakebeta\", "
             "\"upsample_initial_channel\": 64, \"upsample_rates\": %s, "
             "\"upsample_kernel_sizes\": %s, \"resblock_kernel_sizes\": [3], "
             "\"resblock_dilation_sizes\": [[1, 3, 5]], \"use_tanh_at_final\": false, "
             "\"use_bias_at_final\": false, \"input_sampling_rate\": 16000, "
             "\"output_sampling_rate\": 32000, \"n_fft\": 512, \"hop_length\": 80, "
             "\"num_mels\": 64}}}",
             bwe_rates, bwe_kernels);
    return js;
}

TEST(bwe_ratio2_and_mismatch)
{
    ltx_backend *be = cpu();
    ltx_audio_wsrc src = {rnd_get, NULL};
    ltx_vocoder_config c;
    CHECK(ltx_vocoder_config_parse(bwe_json("[5, 4, 2, 2, 2]", "[11, 8, 4, 4, 4]"), &c) == LTX_OK);
    CHECK(c.bwe && c.gen.output_sampling_rate == 16000 && c.bwe_gen.output_sampling_rate == 32000);
    CHECK(c.gen.apply_final_activation && !c.bwe_gen.apply_final_activation);
    ltx_vocoder *v = NULL;
    CHECK(ltx_vocoder_create(be, &c, &src, &v) == LTX_OK);
    const int T = 15; /* 120 samples @16k: padded to 160 for the STFT, output cropped to 240 */
    const int64_t ms[4] = {1, 2, T, 64};
    ltx_tensor *mel = rand_tensor(be, 4, ms, 9), *out = NULL;
    CHECK(v && ltx_vocoder_forward(v, mel, NULL, &out) == LTX_OK);
    CHECK(out && out->shape[1] == 2 && out->shape[2] == 2 * 8 * T);
    CHECK(v && ltx_vocoder_output_len(v, T) == 2 * 8 * T && ltx_vocoder_output_rate(v) == 32000);
    if (out) {
        float *h = ltx_tensor_to_host_f32(out);
        bool ok = true;
        for (int64_t i = 0; i < ltx_tensor_numel(out); i++)
            ok = ok && isfinite(h[i]) && fabsf(h[i]) <= 1.0f;
        CHECK(ok);
        free(h);
    }
    ltx_vocoder_free(v);
    v = NULL;
    /* BWE rates multiplying to 80 instead of hop x ratio = 160: residual and skip differ */
    CHECK(ltx_vocoder_config_parse(bwe_json("[5, 4, 2, 2]", "[11, 8, 4, 4]"), &c) == LTX_OK);
    CHECK(ltx_vocoder_create(be, &c, &src, &v) == LTX_OK);
    ltx_tensor *o2 = NULL;
    ltx_status s = v ? ltx_vocoder_forward(v, mel, NULL, &o2) : LTX_OK;
    CHECK(s == LTX_ERR_UNSUPPORTED && !o2 && strstr(ltx_err_message(), "residual"));
    printf("measure: BWE length mismatch -> %s: %s\n", ltx_status_name(s), ltx_err_message());
    ltx_tensor_free(mel), ltx_tensor_free(out);
    ltx_vocoder_free(v);
    ltx_backend_destroy(be);
}

TEST_MAIN()
