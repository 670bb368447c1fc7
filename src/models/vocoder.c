/*
 * vocoder.c — Vocoder generator (AMP1 / ResBlock1), anti-aliased SnakeBeta activation,
 * VocoderWithBWE (causal STFT log-mel, BWE generator, Hann-sinc resampler skip) and
 * decode_audio; contracts and dtype policy in vocoder.h.
 *
 * ref (a2c3f24): ltx_core/model/audio_vae/vocoder.py, resnet.py ResBlock1, audio_vae.py
 * decode_audio; spec models.md §8.
 */
#include "models/vocoder.h"

#include "models/audio_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LRELU_SLOPE 0.1 /* ref: resnet.py LRELU_SLOPE */
#define AA_TAPS     12  /* ref: Activation1d up/down_kernel_size */

typedef struct conv1d {
    ltx_tensor *w, *b; /* w stored dtype: (out, in, k) or (in, out, k) transposed; b f32/NULL */
    int stride, dilation, pad_l, pad_r;
    bool transposed;
} conv1d;

/* Activation1d(SnakeBeta(ch)): up x2 (Kaiser filter), SnakeBeta, down x2 (Kaiser low-pass). */
typedef struct act1d {
    ltx_tensor *alpha, *beta; /* (ch) f32, log scale */
    ltx_tensor *up, *down;    /* (ch, 1, 12) f32 depthwise filters; up pre-scaled by 2 */
} act1d;

typedef struct resblock {
    conv1d c1[3], c2[3];
    act1d a1[3], a2[3]; /* AMP1 only */
} resblock;

typedef struct generator {
    ltx_vocoder_gen_config cfg;
    conv1d conv_pre, conv_post;
    conv1d ups[LTX_VOCODER_MAX_STAGES];
    resblock *rb;   /* n_ups * n_kernels */
    act1d act_post; /* AMP1 only */
} generator;

struct ltx_vocoder {
    ltx_backend *be;
    ltx_vocoder_config cfg;
    generator main, bwe;
    ltx_tensor *fwd_basis; /* (2F, 1, n_fft) */
    ltx_tensor *mel_basis; /* (1, M, F) f32 */
    ltx_tensor *resampler; /* (2, 1, K) f32 Hann-sinc, computed */
    int rs_ratio, rs_pad, rs_crop_l, rs_crop_r;
};

/* ---- loading ------------------------------------------------------------------------------ */

static void conv_load(audio_loader *L, conv1d *c, const char *name, int cin, int cout, int k,
                      bool bias, bool transposed)
{
    memset(c, 0, sizeof *c);
    const int64_t ws[3] = {transposed ? cin : cout, transposed ? cout : cin, k}, bs[1] = {cout};
    c->w = audio_param(L, false, 3, ws, "%s.weight", name);
    if (bias) c->b = audio_param(L, true, 1, bs, "%s.bias", name);
    c->stride = c->dilation = 1;
    c->transposed = transposed;
}

static void conv_release(conv1d *c)
{
    ltx_tensor_free(c->w);
    ltx_tensor_free(c->b);
}

/* (1, 1, K) stored filter -> contiguous f32 (ch, 1, K) times `scale` (a power of two: exact) */
static ltx_tensor *filter_load(audio_loader *L, const char *name, int ch, double scale)
{
    const int64_t s1[3] = {1, 1, AA_TAPS}, sc[3] = {ch, 1, AA_TAPS};
    ltx_tensor *f = audio_param(L, true, 3, s1, "%s", name), *e = NULL, *r = NULL;
    if (f) e = ltx_tensor_expand(f, 3, sc);
    if (e) r = ltx_nn_unary(L->be, LTX_UNARY_SCALE, e, scale, 0.0);
    ltx_tensor_free(f), ltx_tensor_free(e);
    if (!r && L->status == LTX_OK) L->status = ltx_err_failed();
    return r;
}

static void act_load(audio_loader *L, act1d *a, const char *name, int ch)
{
    const int64_t s[1] = {ch};
    a->alpha = audio_param(L, true, 1, s, "%s.act.alpha", name);
    a->beta = audio_param(L, true, 1, s, "%s.act.beta", name);
    char n[224];
    snprintf(n, sizeof n, "%s.upsample.filter", name);
    a->up = filter_load(L, n, ch, 2.0); /* ref: UpSample1d returns ratio * conv_transpose1d */
    snprintf(n, sizeof n, "%s.downsample.lowpass.filter", name);
    a->down = filter_load(L, n, ch, 1.0);
}

static void act_release(act1d *a)
{
    ltx_tensor_free(a->alpha), ltx_tensor_free(a->beta);
    ltx_tensor_free(a->up), ltx_tensor_free(a->down);
}

static void gen_release(generator *g)
{
    conv_release(&g->conv_pre);
    conv_release(&g->conv_post);
    for (int i = 0; i < g->cfg.n_ups; i++)
        conv_release(&g->ups[i]);
    for (int r = 0; g->rb && r < g->cfg.n_ups * g->cfg.n_kernels; r++)
        for (int j = 0; j < 3; j++) {
            conv_release(&g->rb[r].c1[j]), conv_release(&g->rb[r].c2[j]);
            act_release(&g->rb[r].a1[j]), act_release(&g->rb[r].a2[j]);
        }
    free(g->rb);
    act_release(&g->act_post);
}

/* ref: Vocoder.__init__ (the module tree for a config) */
static void gen_load(audio_loader *L, generator *g, const char *pfx,
                     const ltx_vocoder_gen_config *cfg)
{
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    const int C0 = cfg->upsample_initial_channel, nk = cfg->n_kernels;
    char n[200];
    snprintf(n, sizeof n, "%sconv_pre", pfx);
    conv_load(L, &g->conv_pre, n, 128, C0, 7, true, false); /* 2 stereo x 64 mel bins in */
    g->conv_pre.pad_l = g->conv_pre.pad_r = 3;
    g->rb = calloc((size_t)(cfg->n_ups * nk), sizeof *g->rb);
    if (!g->rb) {
        if (L->status == LTX_OK) L->status = ltx_err(LTX_ERR_OOM, "vocoder: out of memory");
        return;
    }
    for (int i = 0; i < cfg->n_ups; i++) {
        const int u = cfg->upsample_rates[i], k = cfg->upsample_kernel_sizes[i];
        const int cin = C0 >> i, ch = C0 >> (i + 1);
        snprintf(n, sizeof n, "%sups.%d", pfx, i);
        conv_load(L, &g->ups[i], n, cin, ch, k, true, true);
        g->ups[i].stride = u;
        g->ups[i].pad_l = g->ups[i].pad_r = (k - u) / 2; /* ref: padding=(k - u) // 2 */
        for (int j = 0; j < nk; j++) {
            resblock *rb = &g->rb[i * nk + j];
            const int kk = cfg->resblock_kernel_sizes[j];
            for (int t = 0; t < 3; t++) {
                const int d = cfg->resblock_dilations[j][t];
                snprintf(n, sizeof n, "%sresblocks.%d.convs1.%d", pfx, i * nk + j, t);
                conv_load(L, &rb->c1[t], n, ch, ch, kk, true, false);
                rb->c1[t].dilation = d;
                snprintf(n, sizeof n, "%sresblocks.%d.convs2.%d", pfx, i * nk + j, t);
                conv_load(L, &rb->c2[t], n, ch, ch, kk, true, false);
                if (cfg->amp) { /* ref: get_padding(k, d) = (k*d - d) / 2, symmetric */
                    rb->c1[t].pad_l = rb->c1[t].pad_r = (kk * d - d) / 2;
                    rb->c2[t].pad_l = rb->c2[t].pad_r = (kk - 1) / 2;
                    snprintf(n, sizeof n, "%sresblocks.%d.acts1.%d", pfx, i * nk + j, t);
                    act_load(L, &rb->a1[t], n, ch);
                    snprintf(n, sizeof n, "%sresblocks.%d.acts2.%d", pfx, i * nk + j, t);
                    act_load(L, &rb->a2[t], n, ch);
                } else { /* ResBlock1: padding="same" (left = total // 2) */
                    rb->c1[t].pad_l = d * (kk - 1) / 2;
                    rb->c1[t].pad_r = d * (kk - 1) - rb->c1[t].pad_l;
                    rb->c2[t].pad_l = (kk - 1) / 2;
                    rb->c2[t].pad_r = (kk - 1) - rb->c2[t].pad_l;
                }
            }
        }
    }
    const int cf = C0 >> cfg->n_ups;
    if (cfg->amp) {
        snprintf(n, sizeof n, "%sact_post", pfx);
        act_load(L, &g->act_post, n, cf);
    }
    snprintf(n, sizeof n, "%sconv_post", pfx);
    conv_load(L, &g->conv_post, n, cf, 2, 7, cfg->use_bias_at_final, false);
    g->conv_post.pad_l = g->conv_post.pad_r = 3;
}

/* ref: UpSample1d(ratio, window_type="hann"), computed in float32 like torch (not stored). */
static ltx_tensor *hann_resampler(ltx_backend *be, int ratio, int channels, int *pad, int *crop_l,
                                  int *crop_r)
{
    const double rolloff = 0.99;
    const int lpw = 6, width = (int)ceil(lpw / rolloff), K = 2 * width * ratio + 1;
    *pad = width;
    *crop_l = 2 * width * ratio;
    *crop_r = K - ratio;
    float *h = malloc(sizeof(float) * (size_t)(K * channels));
    if (!h) {
        ltx_err(LTX_ERR_OOM, "vocoder filter: out of memory");
        return NULL;
    }
    const float pi = (float)M_PI;
    for (int n = 0; n < K; n++) {
        const float t = ((float)n / (float)ratio - (float)width) * (float)rolloff;
        const float tc = fminf(fmaxf(t, (float)-lpw), (float)lpw);
        const float c = cosf(tc * pi / (float)lpw / 2.0f);
        const float win = c * c;
        const float prod = pi * t; /* torch.sinc in float */
        const float sinc = t == 0.0f ? 1.0f : sinf(prod) / prod;
        const float v = sinc * win * (float)rolloff / (float)ratio;
        for (int ch = 0; ch < channels; ch++)
            h[ch * K + n] = v;
    }
    const int64_t s[3] = {channels, 1, K};
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, 3, s, h);
    free(h);
    return t;
}

void ltx_vocoder_free(ltx_vocoder *v)
{
    if (!v) return;
    gen_release(&v->main);
    gen_release(&v->bwe);
    ltx_tensor_free(v->fwd_basis);
    ltx_tensor_free(v->mel_basis);
    ltx_tensor_free(v->resampler);
    free(v);
}

ltx_status ltx_vocoder_create(ltx_backend *be, const ltx_vocoder_config *cfg,
                              const ltx_audio_wsrc *src, ltx_vocoder **out)
{
    *out = NULL;
    ltx_vocoder *v = calloc(1, sizeof *v);
    if (!v) return ltx_err(LTX_ERR_OOM, "vocoder: out of memory");
    v->be = be;
    v->cfg = *cfg;
    audio_loader L = {be, src, LTX_OK};
    gen_load(&L, &v->main, cfg->bwe ? "vocoder." : "", &cfg->gen);
    if (cfg->bwe) {
        gen_load(&L, &v->bwe, "bwe_generator.", &cfg->bwe_gen);
        const int64_t F = cfg->n_fft / 2 + 1;
        const int64_t fb[3] = {2 * F, 1, cfg->n_fft}, mb[2] = {cfg->num_mels, F};
        v->fwd_basis = audio_param(&L, false, 3, fb, "mel_stft.stft_fn.forward_basis");
        ltx_tensor *m = audio_param(&L, true, 2, mb, "mel_stft.mel_basis");
        if (m) {
            const int64_t m3[3] = {1, cfg->num_mels, F};
            v->mel_basis = ltx_tensor_reshape(m, 3, m3);
            ltx_tensor_free(m);
        }
        v->rs_ratio = cfg->output_sampling_rate / cfg->input_sampling_rate;
        if (L.status == LTX_OK) {
            v->resampler =
                hann_resampler(be, v->rs_ratio, 2, &v->rs_pad, &v->rs_crop_l, &v->rs_crop_r);
            if (!v->resampler) L.status = ltx_err(LTX_ERR_OOM, "vocoder: resampler filter");
        }
    }
    if (L.status != LTX_OK) {
        ltx_vocoder_free(v);
        return ltx_err_context(L.status, "vocoder: ");
    }
    *out = v;
    return LTX_OK;
}

ltx_status ltx_vocoder_load(ltx_backend *be, const ltx_st_file *st, ltx_vocoder **out)
{
    *out = NULL;
    ltx_vocoder_config cfg;
    LTX_TRY(ltx_vocoder_config_parse(ltx_st_metadata(st, "config"), &cfg));
    ltx_audio_st_src ss;
    /* ref: VOCODER_COMFY_KEYS_FILTER strips exactly one leading "vocoder." */
    ltx_audio_wsrc src = ltx_audio_st_src_init(&ss, st, "vocoder.", NULL);
    return ltx_vocoder_create(be, &cfg, &src, out);
}

const ltx_vocoder_config *ltx_vocoder_get_config(const ltx_vocoder *v)
{
    return &v->cfg;
}

int ltx_vocoder_output_rate(const ltx_vocoder *v)
{
    return v->cfg.bwe ? v->cfg.output_sampling_rate : v->cfg.gen.output_sampling_rate;
}

/* ---- forward ------------------------------------------------------------------------------ */

/* x (B, C, L) -> conv (zero pads, symmetric ones inside the op) */
static ltx_tensor *conv_fwd(ltx_backend *be, const conv1d *c, const ltx_tensor *x)
{
    ltx_conv_params p = {.nspatial = 1,
                         .stride = {c->stride, 1, 1},
                         .dilation = {c->dilation, 1, 1},
                         .groups = 1,
                         .transposed = c->transposed};
    if (c->pad_l == c->pad_r) {
        p.padding[0] = c->pad_l;
        return ltx_nn_conv(be, x, c->w, c->b, &p);
    }
    const int pads[6] = {0, 0, 0, 0, c->pad_l, c->pad_r};
    ltx_tensor *xp = ltx_nn_pad(be, x, pads, LTX_PAD_CONSTANT, 0.0);
    ltx_tensor *y = xp ? ltx_nn_conv(be, xp, c->w, c->b, &p) : NULL;
    ltx_tensor_free(xp);
    return y;
}

/* depthwise conv (transposed or not) of x (B, C, L) with filter f (C, 1, K) */
static ltx_tensor *depthwise(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *f, int stride,
                             bool transposed)
{
    ltx_conv_params p = {.nspatial = 1,
                         .stride = {stride, 1, 1},
                         .dilation = {1, 1, 1},
                         .groups = (int)x->shape[1],
                         .transposed = transposed};
    return ltx_nn_conv(be, x, f, NULL, &p);
}

/* ref: Activation1d.forward — x (B, C, L) -> (B, C, L) */
static ltx_tensor *act_fwd(ltx_backend *be, const act1d *a, const ltx_tensor *x)
{
    const int64_t L = x->shape[2];
    const int pu[6] = {0, 0, 0, 0, 5, 5}, pd[6] = {0, 0, 0, 0, 5, 6};
    /* UpSample1d(2, 12): replicate pad K/ratio-1 = 5, 2*conv_transpose(stride 2) (the 2 is in
     * the filter), keep [15 : -15] -> 2L */
    ltx_tensor *h = ltx_nn_pad(be, x, pu, LTX_PAD_REPLICATE, 0.0), *v = NULL, *s = NULL;
    if (!h) return NULL;
    AUDIO_STEP(h, depthwise(be, h, a->up, 2, true)); /* (B, C, 2L + 30) */
    v = ltx_tensor_slice(h, 2, 15, 15 + 2 * L, 1);
    if (!v) goto fail;
    {
        int64_t sh[3] = {x->shape[0], x->shape[1], 2 * L};
        s = ltx_tensor_new(be, LTX_F32, 3, sh);
    }
    if (!s || be->ops->snake(be, s, v, a->alpha, a->beta, true) != LTX_OK) goto fail;
    ltx_tensor_free(v);
    v = NULL;
    /* DownSample1d(2, 12): replicate pad (5, 6), low-pass conv stride 2 -> L */
    AUDIO_STEP(h, ltx_nn_pad(be, s, pd, LTX_PAD_REPLICATE, 0.0));
    AUDIO_STEP(h, depthwise(be, h, a->down, 2, false));
    ltx_tensor_free(s);
    return h;
fail:
    ltx_tensor_free(h), ltx_tensor_free(v), ltx_tensor_free(s);
    return NULL;
}

static ltx_tensor *leaky(ltx_backend *be, const ltx_tensor *x, double slope)
{
    return ltx_nn_unary(be, LTX_UNARY_LEAKY_RELU, x, slope, 0.0);
}

/* ref: AMPBlock1.forward / ResBlock1.forward */
static ltx_tensor *resblock_fwd(ltx_backend *be, const resblock *rb, bool amp,
                                const ltx_tensor *x_in)
{
    ltx_tensor *x = ltx_tensor_view(x_in), *t = NULL;
    if (!x) return NULL;
    for (int j = 0; j < 3; j++) {
        t = amp ? act_fwd(be, &rb->a1[j], x) : leaky(be, x, LRELU_SLOPE);
        if (!t) goto fail;
        AUDIO_STEP(t, conv_fwd(be, &rb->c1[j], t));
        AUDIO_STEP(t, amp ? act_fwd(be, &rb->a2[j], t) : leaky(be, t, LRELU_SLOPE));
        AUDIO_STEP(t, conv_fwd(be, &rb->c2[j], t));
        AUDIO_STEP(x, ltx_nn_binary(be, LTX_BINARY_ADD, x, t));
        ltx_tensor_free(t);
        t = NULL;
    }
    return x;
fail:
    ltx_tensor_free(x), ltx_tensor_free(t);
    return NULL;
}

/* ref: Vocoder.forward — mel (B, 2, T, M) -> (B, 2, L) */
static ltx_tensor *gen_fwd(ltx_backend *be, const generator *g, const ltx_tensor *mel)
{
    const ltx_vocoder_gen_config *c = &g->cfg;
    const int64_t B = mel->shape[0], T = mel->shape[2], M = mel->shape[3];
    const int64_t s3[3] = {B, 2 * M, T};
    /* (B, 2, T, M) -> (B, 2, M, T) -> (B, 2M, T), channel index s*M + m */
    ltx_tensor *tr = ltx_tensor_transpose(mel, 2, 3), *x = NULL, *acc = NULL, *o = NULL;
    ltx_tensor *ct = tr ? ltx_nn_contiguous(be, tr, LTX_F32) : NULL;
    if (ct) x = ltx_tensor_reshape(ct, 3, s3);
    ltx_tensor_free(tr), ltx_tensor_free(ct);
    if (!x) return NULL;
    AUDIO_STEP(x, conv_fwd(be, &g->conv_pre, x));
    for (int i = 0; i < c->n_ups; i++) {
        if (!c->amp) AUDIO_STEP(x, leaky(be, x, LRELU_SLOPE));
        AUDIO_STEP(x, conv_fwd(be, &g->ups[i], x));
        /* all resblocks of the stage see the same input; their outputs are averaged:
         * ((r0 + r1) + r2) / n like torch.stack(...).mean(0) */
        for (int j = 0; j < c->n_kernels; j++) {
            o = resblock_fwd(be, &g->rb[i * c->n_kernels + j], c->amp, x);
            if (!o) goto fail;
            if (!acc) {
                acc = o;
            } else {
                AUDIO_STEP(acc, ltx_nn_binary(be, LTX_BINARY_ADD, acc, o));
                ltx_tensor_free(o);
            }
            o = NULL;
        }
        ltx_tensor_free(x);
        x = ltx_nn_unary(be, LTX_UNARY_DIVS, acc, (double)c->n_kernels, 0.0);
        ltx_tensor_free(acc);
        acc = NULL;
        if (!x) goto fail;
    }
    /* AMP: anti-aliased SnakeBeta; plain: nn.LeakyReLU() with its default slope 0.01 */
    AUDIO_STEP(x, c->amp ? act_fwd(be, &g->act_post, x) : leaky(be, x, 0.01));
    AUDIO_STEP(x, conv_fwd(be, &g->conv_post, x));
    if (c->apply_final_activation)
        AUDIO_STEP(x, c->use_tanh_at_final ? ltx_nn_unary(be, LTX_UNARY_TANH, x, 0, 0)
                                           : ltx_nn_unary(be, LTX_UNARY_CLAMP, x, -1.0, 1.0));
    return x;
fail:
    ltx_tensor_free(x), ltx_tensor_free(acc), ltx_tensor_free(o);
    return NULL;
}

/* ref: VocoderWithBWE._compute_mel / MelSTFT.mel_spectrogram / _STFTFn.forward — the causal
 * STFT as a strided conv with the stored DFT x window bases (real rows, then imaginary rows):
 * x (B, 2, L) -> log-mel (B, 2, L/hop, M). No complex type is needed. */
static ltx_tensor *bwe_mel(const ltx_vocoder *v, const ltx_tensor *x)
{
    ltx_backend *be = v->be;
    const ltx_vocoder_config *c = &v->cfg;
    const int64_t B = x->shape[0], C = x->shape[1], L = x->shape[2];
    const int64_t F = c->n_fft / 2 + 1, M = c->num_mels;
    const int64_t s3[3] = {B * C, 1, L};
    const int left = c->n_fft - c->hop_length > 0 ? c->n_fft - c->hop_length : 0;
    const int pads[6] = {0, 0, 0, 0, left, 0};
    ltx_tensor *y = ltx_tensor_reshape(x, 3, s3), *re = NULL, *im = NULL, *mel = NULL;
    ltx_conv_params p = {
        .nspatial = 1, .stride = {c->hop_length, 1, 1}, .dilation = {1, 1, 1}, .groups = 1};
    if (!y) return NULL;
    AUDIO_STEP(y, ltx_nn_pad(be, y, pads, LTX_PAD_CONSTANT, 0.0));
    AUDIO_STEP(y, ltx_nn_conv(be, y, v->fwd_basis, NULL, &p)); /* (BC, 2F, frames) */
    {
        ltx_tensor *rv = ltx_tensor_slice(y, 1, 0, F, 1), *iv = ltx_tensor_slice(y, 1, F, 2 * F, 1);
        re = rv ? ltx_nn_unary(be, LTX_UNARY_SQUARE, rv, 0, 0) : NULL;
        im = iv ? ltx_nn_unary(be, LTX_UNARY_SQUARE, iv, 0, 0) : NULL;
        ltx_tensor_free(rv), ltx_tensor_free(iv);
        if (!re || !im) goto fail;
    }
    AUDIO_STEP(re, ltx_nn_binary(be, LTX_BINARY_ADD, re, im));
    AUDIO_STEP(re, ltx_nn_unary(be, LTX_UNARY_SQRT, re, 0, 0)); /* magnitude (BC, F, frames) */
    {
        const int64_t frames = re->shape[2], ms[3] = {B * C, M, frames};
        mel = ltx_tensor_new(be, LTX_F32, 3, ms);
        if (!mel || be->ops->matmul(be, mel, v->mel_basis, re, false, false, 1.0f) != LTX_OK)
            goto fail;
        /* ref: log(clamp(mel, min=1e-5)) */
        if (be->ops->unary(be, LTX_UNARY_CLAMP, mel, mel, 1e-5, INFINITY) != LTX_OK ||
            be->ops->unary(be, LTX_UNARY_LOG, mel, mel, 0, 0) != LTX_OK)
            goto fail;
        const int64_t s4[4] = {B, C, M, frames};
        ltx_tensor *r4 = ltx_tensor_reshape(mel, 4, s4),
                   *t = r4 ? ltx_tensor_transpose(r4, 2, 3) : NULL;
        ltx_tensor *out = t ? ltx_nn_contiguous(be, t, LTX_F32) : NULL; /* (B, C, frames, M) */
        ltx_tensor_free(r4), ltx_tensor_free(t);
        ltx_tensor_free(y), ltx_tensor_free(re), ltx_tensor_free(im), ltx_tensor_free(mel);
        return out;
    }
fail:
    ltx_tensor_free(y), ltx_tensor_free(re), ltx_tensor_free(im), ltx_tensor_free(mel);
    return NULL;
}

/* ref: UpSample1d(window_type="hann").forward: replicate pad, ratio * conv_transpose, crop */
static ltx_tensor *bwe_skip(const ltx_vocoder *v, const ltx_tensor *x)
{
    ltx_backend *be = v->be;
    const int pads[6] = {0, 0, 0, 0, v->rs_pad, v->rs_pad};
    ltx_tensor *h = ltx_nn_pad(be, x, pads, LTX_PAD_REPLICATE, 0.0), *s = NULL;
    if (!h) return NULL;
    AUDIO_STEP(h, depthwise(be, h, v->resampler, v->rs_ratio, true));
    AUDIO_STEP(h, ltx_nn_unary(be, LTX_UNARY_SCALE, h, (double)v->rs_ratio, 0.0));
    s = ltx_tensor_slice(h, 2, v->rs_crop_l, h->shape[2] - v->rs_crop_r, 1);
    AUDIO_STEP(h, s ? ltx_nn_contiguous(be, s, LTX_F32) : NULL);
    ltx_tensor_free(s);
    return h;
fail:
    ltx_tensor_free(s);
    return NULL;
}

int64_t ltx_vocoder_output_len(const ltx_vocoder *v, int64_t mel_frames)
{
    int64_t L = mel_frames;
    const ltx_vocoder_gen_config *g = &v->cfg.gen;
    for (int i = 0; i < g->n_ups; i++) {
        const int u = g->upsample_rates[i], k = g->upsample_kernel_sizes[i];
        L = (L - 1) * u - 2 * ((k - u) / 2) + k; /* ConvTranspose1d output length */
    }
    if (!v->cfg.bwe) return L;
    return L * v->cfg.output_sampling_rate / v->cfg.input_sampling_rate;
}

ltx_status ltx_vocoder_forward(const ltx_vocoder *v, const ltx_tensor *mel, const ltx_taps *taps,
                               ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = v->be;
    if (mel->ndim != 4 || mel->shape[1] != 2 || mel->shape[3] != 64 || mel->shape[2] < 1 ||
        mel->dtype != LTX_F32) {
        char b[96];
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "vocoder: mel must be f32 (B, 2, T, 64) (conv_pre "
                       "takes 2 x 64 = 128 channels), got %s",
                       ltx_tensor_shape_str(mel, b, sizeof b));
    }
    ltx_tensor *x = gen_fwd(be, &v->main, mel), *m = NULL, *res = NULL, *skip = NULL;
    if (!x) return AUDIO_OP_FAILED;
    if (!v->cfg.bwe) {
        *out = x;
        return LTX_OK;
    }
    ltx_status s = AUDIO_OP_FAILED;
    const ltx_vocoder_config *c = &v->cfg;
    ltx_tap(taps, "vocoder.out", x);
    const int64_t L = x->shape[2];
    const int64_t out_len = L * c->output_sampling_rate / c->input_sampling_rate;
    if (L % c->hop_length) { /* pad to a multiple of hop for an exact frame count */
        const int pads[6] = {0, 0, 0, 0, 0, (int)(c->hop_length - L % c->hop_length)};
        AUDIO_STEP(x, ltx_nn_pad(be, x, pads, LTX_PAD_CONSTANT, 0.0));
    }
    ltx_tap(taps, "bwe.mel_input_waveform", x);
    m = bwe_mel(v, x);
    if (!m) goto fail;
    ltx_tap(taps, "bwe.mel", m);
    if (m->shape[3] != 64) {
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "vocoder: bwe num_mels %lld; the BWE generator's "
                    "conv_pre takes 2 x 64 channels",
                    (long long)m->shape[3]);
        goto fail;
    }
    res = gen_fwd(be, &v->bwe, m);
    if (!res) goto fail;
    ltx_tap(taps, "bwe.residual", res);
    skip = bwe_skip(v, x);
    if (!skip) goto fail;
    ltx_tap(taps, "bwe.skip", skip);
    if (!ltx_tensor_same_shape(res, skip)) {
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "vocoder: BWE residual has %lld samples but the skip "
                    "path %lld (bwe upsample_rates must multiply to hop_length x out/in rate); "
                    "the reference asserts here",
                    (long long)res->shape[2], (long long)skip->shape[2]);
        goto fail;
    }
    AUDIO_STEP(res, ltx_nn_binary(be, LTX_BINARY_ADD, res, skip));
    if (be->ops->unary(be, LTX_UNARY_CLAMP, res, res, -1.0, 1.0) != LTX_OK) goto fail;
    if (res->shape[2] != out_len) {
        ltx_tensor *sl =
            ltx_tensor_slice(res, 2, 0, out_len < res->shape[2] ? out_len : res->shape[2], 1);
        ltx_tensor *cc = sl ? ltx_nn_contiguous(be, sl, LTX_F32) : NULL;
        ltx_tensor_free(sl);
        AUDIO_STEP(res, cc);
    }
    ltx_tensor_free(x), ltx_tensor_free(m), ltx_tensor_free(skip);
    *out = res;
    return LTX_OK;
fail:
    ltx_tensor_free(x), ltx_tensor_free(m), ltx_tensor_free(res), ltx_tensor_free(skip);
    return s;
}

ltx_status ltx_audio_decode_full(const ltx_audio_decoder *dec, const ltx_vocoder *voc,
                                 const ltx_tensor *latent, const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_tensor *mel = NULL, *w = NULL;
    LTX_TRY(ltx_audio_decoder_forward(dec, latent, taps, &mel));
    ltx_status s = ltx_vocoder_forward(voc, mel, taps, &w);
    ltx_tensor_free(mel);
    if (s != LTX_OK) return s;
    if (w->shape[0] == 1) { /* ref: vocoder(decoded).squeeze(0) */
        const int64_t s2[2] = {w->shape[1], w->shape[2]};
        *out = ltx_tensor_reshape(w, 2, s2);
        ltx_tensor_free(w);
        return *out ? LTX_OK : AUDIO_OP_FAILED;
    }
    *out = w;
    return LTX_OK;
}
