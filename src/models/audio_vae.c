/*
 * audio_vae.c — AudioEncoder / AudioDecoder (construction from config + weights, forward,
 * per-channel latent statistics) and encode_audio; contracts in audio_vae.h.
 *
 * ref (a2c3f24): ltx_core/model/audio_vae/audio_vae.py (AudioEncoder, AudioDecoder,
 * build_mid_block, encode_audio), downsample.py build_downsampling_path, upsample.py
 * build_upsampling_path, ops.py PerChannelStatistics; spec models.md §7.3–7.5.
 * Not here: the blocks (audio_vae_blocks.c), config parsing (audio_vae_config.c), the log-mel
 * front end (mel.c) and the mel -> waveform vocoder (vocoder.c).
 */
#include "models/audio_vae_internal.h"

#include <stdlib.h>
#include <string.h>

#define LATENT_DOWNSAMPLE_FACTOR 4 /* ref: audio_vae.py LATENT_DOWNSAMPLE_FACTOR */

struct ltx_audio_encoder {
    ltx_backend *be;
    ltx_audio_vae_config cfg;
    avae_conv conv_in, conv_out;
    avae_level *levels;
    avae_mid mid;
    avae_norm norm_out;
    ltx_tensor *mean, *std; /* (ch) f32 "mean-of-means", "std-of-means" */
    int out_channels;       /* conv_out width: 2 z (double_z) or z */
};

struct ltx_audio_decoder {
    ltx_backend *be;
    ltx_audio_vae_config cfg;
    avae_conv conv_in, conv_out;
    avae_level *levels; /* indexed by level; run from the last to 0 */
    avae_mid mid;
    avae_norm norm_out;
    ltx_tensor *mean, *std;
};

static bool attn_at(const ltx_audio_vae_config *c, int res)
{
    for (int i = 0; i < c->n_attn; i++)
        if (c->attn_resolutions[i] == res) return true;
    return false;
}

static void mid_load(audio_loader *L, avae_mid *m, int ch, const ltx_audio_vae_config *cfg,
                     bool encoder)
{
    ltx_avae_res_load(L, &m->block_1, "mid.block_1", ch, ch, cfg);
    m->has_attn = cfg->mid_attn;
    if (m->has_attn) ltx_avae_attn_load(L, &m->attn_1, "mid.attn_1", ch, cfg, encoder);
    ltx_avae_res_load(L, &m->block_2, "mid.block_2", ch, ch, cfg);
}

static void mid_release(avae_mid *m)
{
    ltx_avae_res_release(&m->block_1);
    ltx_avae_res_release(&m->block_2);
    if (m->has_attn) ltx_avae_attn_release(&m->attn_1);
}

/* ref: run_mid_block */
static ltx_tensor *mid_fwd(ltx_backend *be, const avae_mid *m, const ltx_tensor *x)
{
    ltx_tensor *h = ltx_avae_res_fwd(be, &m->block_1, x);
    if (!h) return NULL;
    if (m->has_attn) AUDIO_STEP(h, ltx_avae_attn_fwd(be, &m->attn_1, h));
    AUDIO_STEP(h, ltx_avae_res_fwd(be, &m->block_2, h));
    return h;
fail:
    return NULL;
}

static void levels_release(avae_level *lv, int n, bool encoder)
{
    if (!lv) return;
    for (int i = 0; i < n; i++) {
        for (int j = 0; lv[i].blocks && j < lv[i].n_blocks; j++) {
            ltx_avae_res_release(&lv[i].blocks[j]);
            if (lv[i].attn) ltx_avae_attn_release(&lv[i].attn[j]);
        }
        free(lv[i].blocks);
        free(lv[i].attn);
        if (lv[i].has_resample) {
            if (encoder)
                ltx_avae_down_release(&lv[i].down);
            else
                ltx_avae_up_release(&lv[i].up);
        }
    }
    free(lv);
}

/* Runs one level's blocks (+ attention after each). */
static ltx_tensor *level_blocks_fwd(ltx_backend *be, const avae_level *lv, ltx_tensor *h)
{
    for (int j = 0; j < lv->n_blocks; j++) {
        AUDIO_STEP(h, ltx_avae_res_fwd(be, &lv->blocks[j], h));
        if (lv->attn) AUDIO_STEP(h, ltx_avae_attn_fwd(be, &lv->attn[j], h));
    }
    return h;
fail:
    return NULL;
}

static void load_stats(audio_loader *L, int ch, ltx_tensor **mean, ltx_tensor **std)
{
    const int64_t s[1] = {ch};
    *std = audio_param(L, true, 1, s, "per_channel_statistics.std-of-means");
    *mean = audio_param(L, true, 1, s, "per_channel_statistics.mean-of-means");
}

/* ---- encoder ----------------------------------------------------------------------------- */

void ltx_audio_encoder_free(ltx_audio_encoder *e)
{
    if (!e) return;
    ltx_avae_conv_release(&e->conv_in);
    ltx_avae_conv_release(&e->conv_out);
    levels_release(e->levels, e->cfg.n_levels, true);
    mid_release(&e->mid);
    ltx_avae_norm_release(&e->norm_out);
    ltx_tensor_free(e->mean);
    ltx_tensor_free(e->std);
    free(e);
}

ltx_status ltx_audio_encoder_create(ltx_backend *be, const ltx_audio_vae_config *cfg,
                                    const ltx_audio_wsrc *src, ltx_audio_encoder **out)
{
    *out = NULL;
    ltx_audio_encoder *e = calloc(1, sizeof *e);
    if (e) e->levels = calloc((size_t)cfg->n_levels, sizeof *e->levels);
    if (!e || !e->levels) {
        ltx_audio_encoder_free(e);
        return ltx_err(LTX_ERR_OOM, "audio encoder: out of memory");
    }
    e->be = be;
    e->cfg = *cfg;
    audio_loader L = {be, src, LTX_OK};
    const int ch = cfg->ch, n = cfg->n_levels;
    ltx_avae_conv_load(&L, &e->conv_in, "conv_in", cfg->in_channels, ch, 3, 1, cfg->causality,
                       true);
    /* ref: build_downsampling_path — in_ch_mult = (1, *ch_mult) */
    int curr_res = cfg->resolution, block_in = ch;
    for (int i = 0; i < n && L.status == LTX_OK; i++) {
        avae_level *lv = &e->levels[i];
        block_in = ch * (i ? cfg->ch_mult[i - 1] : 1);
        const int block_out = ch * cfg->ch_mult[i];
        lv->n_blocks = cfg->num_res_blocks;
        lv->blocks = calloc((size_t)(lv->n_blocks ? lv->n_blocks : 1), sizeof *lv->blocks);
        if (attn_at(cfg, curr_res) && lv->n_blocks)
            lv->attn = calloc((size_t)lv->n_blocks, sizeof *lv->attn);
        if (!lv->blocks || (attn_at(cfg, curr_res) && lv->n_blocks && !lv->attn)) {
            L.status = ltx_err(LTX_ERR_OOM, "audio encoder: out of memory");
            break;
        }
        char name[96];
        for (int j = 0; j < lv->n_blocks; j++) {
            snprintf(name, sizeof name, "down.%d.block.%d", i, j);
            ltx_avae_res_load(&L, &lv->blocks[j], name, block_in, block_out, cfg);
            block_in = block_out;
            if (lv->attn) {
                snprintf(name, sizeof name, "down.%d.attn.%d", i, j);
                ltx_avae_attn_load(&L, &lv->attn[j], name, block_in, cfg, true);
            }
        }
        if (i != n - 1) {
            lv->has_resample = true;
            snprintf(name, sizeof name, "down.%d.downsample", i);
            ltx_avae_down_load(&L, &lv->down, name, block_in, cfg);
            curr_res /= 2;
        }
    }
    mid_load(&L, &e->mid, block_in, cfg, true);
    ltx_avae_norm_load(&L, &e->norm_out, "norm_out", block_in, cfg->norm);
    e->out_channels = cfg->double_z ? 2 * cfg->z_channels : cfg->z_channels;
    ltx_avae_conv_load(&L, &e->conv_out, "conv_out", block_in, e->out_channels, 3, 1,
                       cfg->causality, true);
    load_stats(&L, ch, &e->mean, &e->std);
    if (L.status != LTX_OK) {
        ltx_audio_encoder_free(e);
        return ltx_err_context(L.status, "audio encoder: ");
    }
    *out = e;
    return LTX_OK;
}

/* (B, C, T, M) -> view of the first min(8, T) time rows */
static void tap_rows(const ltx_taps *taps, const char *name, const ltx_tensor *x)
{
    if (!taps || !taps->fn) return;
    ltx_tensor *v = ltx_tensor_slice(x, 2, 0, x->shape[2] < 8 ? x->shape[2] : 8, 1);
    if (v) ltx_tap(taps, name, v);
    ltx_tensor_free(v);
}

/* stats (ch) viewed as (1, C, 1, M) so they broadcast like the reference's patchified
 * (B, T, C*M) layout (feature index c*M + m). */
static ltx_tensor *stats_view(const ltx_tensor *v, int64_t C, int64_t M)
{
    const int64_t s[4] = {1, C, 1, M};
    return ltx_tensor_reshape(v, 4, s);
}

ltx_status ltx_audio_encoder_forward(const ltx_audio_encoder *e, const ltx_tensor *mel,
                                     const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = e->be;
    const ltx_audio_vae_config *c = &e->cfg;
    if (mel->ndim != 4 || mel->shape[1] != c->in_channels || mel->shape[2] < 1 ||
        mel->shape[3] < 1 || mel->dtype != LTX_F32) {
        char b[96];
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "audio encoder: mel must be f32 (B, %d, T, mels), "
                       "got %s",
                       c->in_channels, ltx_tensor_shape_str(mel, b, sizeof b));
    }
    ltx_tensor *h = ltx_avae_conv_fwd(be, &e->conv_in, mel), *mean = NULL, *std = NULL;
    ltx_status s = AUDIO_OP_FAILED;
    if (!h) return s;
    tap_rows(taps, "enc.conv_in.first8rows", h);
    for (int i = 0; i < c->n_levels; i++) {
        h = level_blocks_fwd(be, &e->levels[i], h);
        if (!h) goto fail;
        if (e->levels[i].has_resample) AUDIO_STEP(h, ltx_avae_down_fwd(be, &e->levels[i].down, h));
    }
    ltx_tap(taps, "enc.down_path", h);
    AUDIO_STEP(h, mid_fwd(be, &e->mid, h));
    ltx_tap(taps, "enc.mid", h);
    AUDIO_STEP(h, ltx_avae_norm_fwd(be, &e->norm_out, h, true));
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &e->conv_out, h));
    ltx_tap(taps, "enc.conv_out", h);
    {
        /* ref: torch.chunk(out, 2, dim=1)[0] -> the first ceil(C/2) channels ("means") */
        const int64_t Cz = h->shape[1], Cm = (Cz + 1) / 2, M = h->shape[3];
        if (Cm * M != c->ch) {
            s = ltx_err(LTX_ERR_UNSUPPORTED,
                        "audio encoder: latent %lld channels x %lld mel "
                        "bins = %lld does not match the %d per-channel statistics (ch); the "
                        "reference fails here too",
                        (long long)Cm, (long long)M, (long long)(Cm * M), c->ch);
            goto fail;
        }
        ltx_tensor *means = ltx_tensor_slice(h, 1, 0, Cm, 1);
        mean = stats_view(e->mean, Cm, M);
        std = stats_view(e->std, Cm, M);
        if (!means || !mean || !std) {
            ltx_tensor_free(means);
            goto fail;
        }
        /* ref: PerChannelStatistics.normalize: (x - mean) / std */
        ltx_tensor *d = ltx_nn_binary(be, LTX_BINARY_SUB, means, mean);
        ltx_tensor_free(means);
        AUDIO_STEP(h, d);
        AUDIO_STEP(h, ltx_nn_binary(be, LTX_BINARY_DIV, h, std));
    }
    ltx_tensor_free(mean);
    ltx_tensor_free(std);
    *out = h;
    return LTX_OK;
fail:
    ltx_tensor_free(h);
    ltx_tensor_free(mean);
    ltx_tensor_free(std);
    return s;
}

ltx_status ltx_audio_encode_waveform(const ltx_audio_encoder *e, const ltx_tensor *wave,
                                     int sample_rate, const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    const ltx_audio_vae_config *c = &e->cfg;
    if (wave->ndim != 3 || wave->shape[1] != c->in_channels)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "encode audio: waveform must be (B, %d, N) (mono "
                       "input must be up-mixed to stereo first), got %d dims with %lld channels",
                       c->in_channels, wave->ndim,
                       (long long)(wave->ndim > 1 ? wave->shape[1] : 0));
    if (c->mel_bins <= 0)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "encode audio: the audio_vae config has no mel_bins "
                       "(the reference's AudioProcessor cannot be built either)");
    ltx_audio_processor ap;
    LTX_TRY(
        ltx_audio_processor_init(&ap, c->sample_rate, c->mel_bins, c->mel_hop_length, c->n_fft));
    ltx_tensor *mel = NULL;
    ltx_status s = ltx_audio_processor_waveform_to_mel(&ap, e->be, wave, sample_rate, &mel);
    ltx_audio_processor_release(&ap);
    if (s != LTX_OK) return s;
    s = ltx_audio_encoder_forward(e, mel, taps, out);
    ltx_tensor_free(mel);
    return s;
}

ltx_status ltx_audio_encode_file(const ltx_audio_encoder *e, const char *path, double start_s,
                                 double max_duration_s, ltx_log *log, ltx_tensor **latent,
                                 ltx_audio *audio)
{
    *latent = NULL;
    ltx_audio a = {0};
    LTX_TRY(ltx_audio_decode(path, start_s, max_duration_s, true, &a));
    ltx_status s = LTX_OK;
    if (a.src_channels == 0) {
        LTX_INFO(log, "audio: %s has no audio stream", path);
    } else {
        if (a.src_channels != 2)
            LTX_WARN(log, "audio: %s has %d channel%s: %s (the audio VAE takes stereo)", path,
                     a.src_channels, a.src_channels == 1 ? "" : "s", a.mix);
        const int64_t shape[3] = {1, a.channels, a.n};
        ltx_tensor *w = ltx_tensor_from_host(e->be, LTX_F32, 3, shape, a.data);
        s = w ? ltx_audio_encode_waveform(e, w, a.sample_rate, NULL, latent) : ltx_err_failed();
        ltx_tensor_free(w);
        if (s != LTX_OK) s = ltx_err_context(s, "encoding the audio of %s: ", path);
    }
    if (audio && s == LTX_OK)
        *audio = a;
    else
        ltx_audio_free(&a);
    return s;
}

const ltx_audio_vae_config *ltx_audio_encoder_config(const ltx_audio_encoder *e)
{
    return &e->cfg;
}

/* ---- decoder ----------------------------------------------------------------------------- */

void ltx_audio_decoder_free(ltx_audio_decoder *d)
{
    if (!d) return;
    ltx_avae_conv_release(&d->conv_in);
    ltx_avae_conv_release(&d->conv_out);
    levels_release(d->levels, d->cfg.n_levels, false);
    mid_release(&d->mid);
    ltx_avae_norm_release(&d->norm_out);
    ltx_tensor_free(d->mean);
    ltx_tensor_free(d->std);
    free(d);
}

ltx_status ltx_audio_decoder_create(ltx_backend *be, const ltx_audio_vae_config *cfg_in,
                                    const ltx_audio_wsrc *src, ltx_audio_decoder **out)
{
    *out = NULL;
    ltx_audio_decoder *d = calloc(1, sizeof *d);
    if (d) d->levels = calloc((size_t)cfg_in->n_levels, sizeof *d->levels);
    if (!d || !d->levels) {
        ltx_audio_decoder_free(d);
        return ltx_err(LTX_ERR_OOM, "audio decoder: out of memory");
    }
    d->be = be;
    d->cfg = *cfg_in;
    /* ref: AudioDecoder hard-codes resamp_with_conv=True, attn_type=VANILLA */
    d->cfg.resamp_with_conv = true;
    d->cfg.attn_none = d->cfg.attn_linear = false;
    const ltx_audio_vae_config *cfg = &d->cfg;
    audio_loader L = {be, src, LTX_OK};
    const int ch = cfg->ch, n = cfg->n_levels;
    int block_in = ch * cfg->ch_mult[n - 1];
    ltx_avae_conv_load(&L, &d->conv_in, "conv_in", cfg->z_channels, block_in, 3, 1, cfg->causality,
                       true);
    mid_load(&L, &d->mid, block_in, cfg, false);
    /* ref: build_upsampling_path — levels built from the last to 0 */
    int curr_res = cfg->resolution >> (n - 1);
    for (int i = n - 1; i >= 0 && L.status == LTX_OK; i--) {
        avae_level *lv = &d->levels[i];
        const int block_out = ch * cfg->ch_mult[i];
        lv->n_blocks = cfg->num_res_blocks + 1;
        lv->blocks = calloc((size_t)lv->n_blocks, sizeof *lv->blocks);
        if (attn_at(cfg, curr_res)) lv->attn = calloc((size_t)lv->n_blocks, sizeof *lv->attn);
        if (!lv->blocks || (attn_at(cfg, curr_res) && !lv->attn)) {
            L.status = ltx_err(LTX_ERR_OOM, "audio decoder: out of memory");
            break;
        }
        char name[96];
        for (int j = 0; j < lv->n_blocks; j++) {
            snprintf(name, sizeof name, "up.%d.block.%d", i, j);
            ltx_avae_res_load(&L, &lv->blocks[j], name, block_in, block_out, cfg);
            block_in = block_out;
            if (lv->attn) {
                snprintf(name, sizeof name, "up.%d.attn.%d", i, j);
                ltx_avae_attn_load(&L, &lv->attn[j], name, block_in, cfg, false);
            }
        }
        if (i != 0) {
            lv->has_resample = true;
            snprintf(name, sizeof name, "up.%d.upsample", i);
            ltx_avae_up_load(&L, &lv->up, name, block_in, cfg);
            curr_res *= 2;
        }
    }
    ltx_avae_norm_load(&L, &d->norm_out, "norm_out", block_in, cfg->norm);
    ltx_avae_conv_load(&L, &d->conv_out, "conv_out", block_in, cfg->out_ch, 3, 1, cfg->causality,
                       true);
    load_stats(&L, ch, &d->mean, &d->std);
    if (L.status != LTX_OK) {
        ltx_audio_decoder_free(d);
        return ltx_err_context(L.status, "audio decoder: ");
    }
    *out = d;
    return LTX_OK;
}

/* ref: AudioDecoder._adjust_output_shape — crop to the target, then zero-pad up to it. */
static ltx_tensor *adjust_shape(ltx_backend *be, ltx_tensor *h, int64_t C, int64_t T, int64_t M)
{
    const int64_t ct = h->shape[2] < T ? h->shape[2] : T, cm = h->shape[3] < M ? h->shape[3] : M;
    ltx_tensor *a = ltx_tensor_slice(h, 1, 0, C < h->shape[1] ? C : h->shape[1], 1);
    ltx_tensor *b = a ? ltx_tensor_slice(a, 2, 0, ct, 1) : NULL;
    ltx_tensor *v = b ? ltx_tensor_slice(b, 3, 0, cm, 1) : NULL, *r = NULL;
    if (v) {
        const int pads[8] = {0, 0, 0, 0, 0, (int)(T - ct), 0, (int)(M - cm)};
        r = ltx_nn_pad(be, v, pads, LTX_PAD_CONSTANT, 0.0);
    }
    ltx_tensor_free(a), ltx_tensor_free(b), ltx_tensor_free(v);
    return r;
}

ltx_status ltx_audio_decoder_forward(const ltx_audio_decoder *d, const ltx_tensor *latent,
                                     const ltx_taps *taps, ltx_tensor **out)
{
    *out = NULL;
    ltx_backend *be = d->be;
    const ltx_audio_vae_config *c = &d->cfg;
    if (latent->ndim != 4 || latent->shape[1] != c->z_channels || latent->shape[2] < 1 ||
        latent->dtype != LTX_F32 || latent->shape[1] * latent->shape[3] != c->ch) {
        char b[96];
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "audio decoder: latent must be f32 (B, %d, T', M') "
                       "with %d x M' = %d (the statistics length), got %s",
                       c->z_channels, c->z_channels, c->ch,
                       ltx_tensor_shape_str(latent, b, sizeof b));
    }
    const int64_t Cz = latent->shape[1], Tl = latent->shape[2], Ml = latent->shape[3];
    /* ref: _denormalize_latents — target frames 4T' (minus 3, at least 1, when causal) */
    int64_t T = Tl * LATENT_DOWNSAMPLE_FACTOR;
    if (c->causality != LTX_CAUSAL_NONE) {
        T -= LATENT_DOWNSAMPLE_FACTOR - 1;
        if (T < 1) T = 1;
    }
    const int64_t M = c->mel_bins > 0 ? c->mel_bins : Ml;
    ltx_status s = AUDIO_OP_FAILED;
    ltx_tensor *mean = stats_view(d->mean, Cz, Ml), *std = stats_view(d->std, Cz, Ml);
    ltx_tensor *h = mean && std ? ltx_nn_binary(be, LTX_BINARY_MUL, latent, std) : NULL;
    if (!h) goto fail;
    AUDIO_STEP(h, ltx_nn_binary(be, LTX_BINARY_ADD, h, mean)); /* ref: x * std + mean */
    ltx_tap(taps, "dec.denormalized", h);
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &d->conv_in, h));
    ltx_tap(taps, "dec.conv_in", h);
    AUDIO_STEP(h, mid_fwd(be, &d->mid, h));
    ltx_tap(taps, "dec.mid", h);
    for (int i = c->n_levels - 1; i >= 0; i--) {
        h = level_blocks_fwd(be, &d->levels[i], h);
        if (!h) goto fail;
        if (d->levels[i].has_resample) AUDIO_STEP(h, ltx_avae_up_fwd(be, &d->levels[i].up, h));
    }
    tap_rows(taps, "dec.up_path.first8rows", h);
    AUDIO_STEP(h, ltx_avae_norm_fwd(be, &d->norm_out, h, true));
    AUDIO_STEP(h, ltx_avae_conv_fwd(be, &d->conv_out, h));
    AUDIO_STEP(h, adjust_shape(be, h, c->out_ch, T, M));
    ltx_tensor_free(mean);
    ltx_tensor_free(std);
    *out = h;
    return LTX_OK;
fail:
    ltx_tensor_free(h);
    ltx_tensor_free(mean);
    ltx_tensor_free(std);
    return s;
}

const ltx_audio_vae_config *ltx_audio_decoder_config(const ltx_audio_decoder *d)
{
    return &d->cfg;
}

/* ---- loading from the main checkpoint ---------------------------------------------------- */

ltx_status ltx_audio_encoder_load(ltx_backend *be, const ltx_st_file *st, ltx_audio_encoder **out)
{
    *out = NULL;
    ltx_audio_vae_config cfg;
    LTX_TRY(ltx_audio_vae_config_parse(ltx_st_metadata(st, "config"), &cfg));
    ltx_audio_st_src ss;
    ltx_audio_wsrc src =
        ltx_audio_st_src_init(&ss, st, "audio_vae.encoder.", "audio_vae.per_channel_statistics.");
    return ltx_audio_encoder_create(be, &cfg, &src, out);
}

ltx_status ltx_audio_decoder_load(ltx_backend *be, const ltx_st_file *st, ltx_audio_decoder **out)
{
    *out = NULL;
    ltx_audio_vae_config cfg;
    LTX_TRY(ltx_audio_vae_config_parse(ltx_st_metadata(st, "config"), &cfg));
    ltx_audio_st_src ss;
    ltx_audio_wsrc src =
        ltx_audio_st_src_init(&ss, st, "audio_vae.decoder.", "audio_vae.per_channel_statistics.");
    return ltx_audio_decoder_create(be, &cfg, &src, out);
}
