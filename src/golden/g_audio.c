/*
 * g_audio.c — golden handlers for the audio side: the mel front-end (audio_mel), the audio VAE
 * (audio_vae_encode, audio_encode_waveform, audio_vae_decode), the vocoder with bandwidth
 * extension (vocoder_bwe) and the full decode (audio_decode_full).
 *
 * ref: ltx_core/model/audio_vae/ (ops.py AudioProcessor, audio_vae.py AudioEncoder /
 * AudioDecoder / encode_audio / decode_audio, vocoder.py VocoderWithBWE) at a2c3f24; the
 * golden README sections of the same names give params, intermediates and tolerances.
 * Handlers only use backend ops and upload/download (they run on "cpu-restricted").
 * The checkpoint and the models built from it are cached for the cases of one file.
 */
#include "golden/cases.h"
#include "models/mel.h"
#include "models/vocoder.h"

#include <stdlib.h>
#include <string.h>

static void st_close_v(void *p)
{
    ltx_st_close(p);
}
static void enc_free_v(void *p)
{
    ltx_audio_encoder_free(p);
}
static void dec_free_v(void *p)
{
    ltx_audio_decoder_free(p);
}
static void voc_free_v(void *p)
{
    ltx_vocoder_free(p);
}

/* The case's checkpoint, opened once per golden file. */
static ltx_status ckpt(ltx_golden_ctx *g, const ltx_st_file **out)
{
    ltx_st_file *st = ltx_golden_cache_get(g, "audio.ckpt");
    if (!st) {
        char path[1024];
        if (!ltx_golden_ckpt_path(g, "checkpoint", path, sizeof path))
            return ltx_err(LTX_ERR_FORMAT, "audio golden: no checkpoint named in the file");
        LTX_TRY(ltx_st_open(path, &st));
        ltx_golden_cache_put(g, "audio.ckpt", st, st_close_v);
    }
    *out = st;
    return LTX_OK;
}

static ltx_status encoder(ltx_golden_ctx *g, const ltx_audio_encoder **out)
{
    ltx_audio_encoder *e = ltx_golden_cache_get(g, "audio.encoder");
    if (!e) {
        const ltx_st_file *st;
        LTX_TRY(ckpt(g, &st));
        LTX_TRY(ltx_audio_encoder_load(ltx_golden_backend(g), st, &e));
        ltx_golden_cache_put(g, "audio.encoder", e, enc_free_v);
    }
    *out = e;
    return LTX_OK;
}

static ltx_status decoder(ltx_golden_ctx *g, const ltx_audio_decoder **out)
{
    ltx_audio_decoder *d = ltx_golden_cache_get(g, "audio.decoder");
    if (!d) {
        const ltx_st_file *st;
        LTX_TRY(ckpt(g, &st));
        LTX_TRY(ltx_audio_decoder_load(ltx_golden_backend(g), st, &d));
        ltx_golden_cache_put(g, "audio.decoder", d, dec_free_v);
    }
    *out = d;
    return LTX_OK;
}

static ltx_status vocoder(ltx_golden_ctx *g, const ltx_vocoder **out)
{
    ltx_vocoder *v = ltx_golden_cache_get(g, "audio.vocoder");
    if (!v) {
        const ltx_st_file *st;
        LTX_TRY(ckpt(g, &st));
        LTX_TRY(ltx_vocoder_load(ltx_golden_backend(g), st, &v));
        ltx_golden_cache_put(g, "audio.vocoder", v, voc_free_v);
    }
    *out = v;
    return LTX_OK;
}

/* Runs `fn` on input 0 and emits its result as outputs[0]. */
typedef ltx_status (*run_fn)(ltx_golden_ctx *g, const ltx_tensor *in, ltx_tensor **out);

static ltx_status run_case(ltx_golden_ctx *g, run_fn fn)
{
    const char *name = ltx_golden_output_name(g, 0);
    if (!name) return ltx_err(LTX_ERR_FORMAT, "audio golden: case has no output");
    ltx_tensor *x = ltx_golden_input(g, 0), *y = NULL;
    if (!x) return ltx_err_failed();
    ltx_status s = fn(g, x, &y);
    ltx_tensor_free(x);
    if (s == LTX_OK) s = ltx_golden_emit(g, name, y);
    ltx_tensor_free(y);
    return s;
}

/* params: input_sample_rate, target_sample_rate, mel_bins, mel_hop_length, n_fft;
 * input (B, C, N) waveform -> (B, C, frames, mel_bins). Also checks the window and filterbank
 * the golden stores (hann_window_1024, melscale_fbanks) when present. */
static ltx_status mel_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const cJSON *p = ltx_golden_params(g);
    const int sr_in = (int)ltx_json_int(p, "input_sample_rate", 0);
    const int sr = (int)ltx_json_int(p, "target_sample_rate", 16000);
    ltx_audio_processor ap;
    LTX_TRY(ltx_audio_processor_init(&ap, sr, (int)ltx_json_int(p, "mel_bins", 64),
                                     (int)ltx_json_int(p, "mel_hop_length", 160),
                                     (int)ltx_json_int(p, "n_fft", 1024)));
    ltx_status s = LTX_OK;
    if (ap.n_fft == 1024 && ltx_st_find(ltx_golden_file(g), "hann_window_1024")) {
        const int64_t ws[1] = {ap.n_fft}, fs[2] = {ap.n_freqs, ap.n_mels};
        s = ltx_golden_emit_host(g, "hann_window_1024", LTX_F32, 1, ws, ap.window);
        if (s == LTX_OK && ltx_st_find(ltx_golden_file(g), "melscale_fbanks"))
            s = ltx_golden_emit_host(g, "melscale_fbanks", LTX_F32, 2, fs, ap.fb);
    }
    if (s == LTX_OK)
        s = ltx_audio_processor_waveform_to_mel(&ap, ltx_golden_backend(g), x,
                                                sr_in > 0 ? sr_in : sr, y);
    ltx_audio_processor_release(&ap);
    return s;
}

static ltx_status enc_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const ltx_audio_encoder *e;
    LTX_TRY(encoder(g, &e));
    return ltx_audio_encoder_forward(e, x, ltx_golden_taps(g), y);
}

static ltx_status enc_wave_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const ltx_audio_encoder *e;
    LTX_TRY(encoder(g, &e));
    const int sr = (int)ltx_json_int(ltx_golden_params(g), "input_sample_rate",
                                     ltx_audio_encoder_config(e)->sample_rate);
    return ltx_audio_encode_waveform(e, x, sr, ltx_golden_taps(g), y);
}

static ltx_status dec_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const ltx_audio_decoder *d;
    LTX_TRY(decoder(g, &d));
    return ltx_audio_decoder_forward(d, x, ltx_golden_taps(g), y);
}

static ltx_status voc_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const ltx_vocoder *v;
    LTX_TRY(vocoder(g, &v));
    return ltx_vocoder_forward(v, x, ltx_golden_taps(g), y);
}

static ltx_status full_run(ltx_golden_ctx *g, const ltx_tensor *x, ltx_tensor **y)
{
    const ltx_audio_decoder *d;
    const ltx_vocoder *v;
    LTX_TRY(decoder(g, &d));
    LTX_TRY(vocoder(g, &v));
    const int sr = (int)ltx_json_int(ltx_golden_params(g), "output_sample_rate", 0);
    if (sr && sr != ltx_vocoder_output_rate(v))
        return ltx_err(LTX_ERR_MISMATCH, "audio_decode_full: vocoder rate %d, golden expects %d",
                       ltx_vocoder_output_rate(v), sr);
    return ltx_audio_decode_full(d, v, x, ltx_golden_taps(g), y);
}

ltx_status ltx_g_audio_mel(ltx_golden_ctx *g)
{
    return run_case(g, mel_run);
}
ltx_status ltx_g_audio_vae_encode(ltx_golden_ctx *g)
{
    return run_case(g, enc_run);
}
ltx_status ltx_g_audio_encode_waveform(ltx_golden_ctx *g)
{
    return run_case(g, enc_wave_run);
}
ltx_status ltx_g_audio_vae_decode(ltx_golden_ctx *g)
{
    return run_case(g, dec_run);
}
ltx_status ltx_g_vocoder_bwe(ltx_golden_ctx *g)
{
    return run_case(g, voc_run);
}
ltx_status ltx_g_audio_decode_full(ltx_golden_ctx *g)
{
    return run_case(g, full_run);
}
