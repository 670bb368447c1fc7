/*
 * vocoder.h — the LTX-2.3 vocoder: log-mel (B, 2, T, 64) @ 100 Hz -> waveform. LTX-2.3 uses
 * VocoderWithBWE: a BigVGAN-v2 generator (AMP1 residual blocks with anti-aliased SnakeBeta
 * activations) to 16 kHz, then a bandwidth-extension generator fed by a causal STFT log-mel of
 * that waveform, added to a Hann-sinc x3 resampled skip path -> 48 kHz stereo. Older
 * checkpoints (flat "vocoder" config) build the plain HiFi-GAN style Vocoder (ResBlock1,
 * LeakyReLU) at its own rate (24 kHz by default).
 *
 * Mirrors ltx_core/model/audio_vae/vocoder.py (Vocoder, AMPBlock1, ResBlock1 from resnet.py,
 * Activation1d / UpSample1d / DownSample1d / LowPassFilter1d, SnakeBeta, MelSTFT / _STFTFn,
 * VocoderWithBWE) and model_configurator.py (VocoderConfigurator, _vocoder_from_config) at
 * a2c3f24; spec models.md §8.
 *
 * Config: metadata "config" → "vocoder". With a "bwe" sub-object: both sub-configs must have
 * resblock "AMP1", stereo true, activation "snakebeta" (check_config_value: absent counts as
 * wrong); bwe needs input_sampling_rate, output_sampling_rate, n_fft, hop_length, num_mels.
 * Without "bwe": resblock must be "1" and stereo true (the flat legacy vocoder). Generator keys
 * with the reference's defaults: resblock_kernel_sizes [3,7,11], upsample_rates [6,5,2,2,2],
 * upsample_kernel_sizes [16,15,8,4,4], resblock_dilation_sizes [[1,3,5]]*3,
 * upsample_initial_channel 1024, output_sampling_rate 24000 (flat) — the BWE path overrides it
 * with bwe.input/output_sampling_rate — use_tanh_at_final true, use_bias_at_final true.
 * Also refused with a clear message (the reference raises or crashes at run time): list lengths
 * that zip(strict=True) rejects, dilation lists shorter than 3, even AMP1 kernels (their
 * padding loses a sample and x + xt fails), channel widths that halve to 0, an output/input
 * rate ratio below 1, and at forward time BWE residual/skip lengths that differ.
 *
 * Not implemented because no accepted config reaches them: Snake (non-beta) activations and the
 * "2" resblock (the configurator only lets "1" and "AMP1" through), mono 3-D mel input (every
 * caller passes (B, 2, T, 64)).
 *
 * Dtype policy (the reference runs this under torch.autocast(float32) with fp32 input): every
 * activation is float32; weights stay in the stored dtype (bf16) and are upcast exactly per op
 * — the same numbers as autocast's per-op upcast. The Kaiser filters, STFT bases and mel basis
 * come from the file (bf16-rounded values, as the reference's loader produces); the x3
 * resampler filter is computed here in float32 exactly like UpSample1d(window_type="hann")
 * (it is not in the checkpoint). The output stays float32 (the reference casts back to the mel
 * input dtype — float32 for the goldens, bf16 in the real pipelines; rounding is optional).
 *
 * Thread-safety: read-only after creation.
 */
#ifndef LTX_MODELS_VOCODER_H
#define LTX_MODELS_VOCODER_H

#include "models/audio_vae.h"

#define LTX_VOCODER_MAX_STAGES  8
#define LTX_VOCODER_MAX_KERNELS 8

typedef struct ltx_vocoder_gen_config {
    int upsample_initial_channel;
    int n_ups;
    int upsample_rates[LTX_VOCODER_MAX_STAGES];
    int upsample_kernel_sizes[LTX_VOCODER_MAX_STAGES];
    int n_kernels;
    int resblock_kernel_sizes[LTX_VOCODER_MAX_KERNELS];
    int resblock_dilations[LTX_VOCODER_MAX_KERNELS][3];
    bool amp;                    /* resblock "AMP1" (SnakeBeta, anti-aliased) vs "1" */
    bool use_tanh_at_final;      /* final tanh instead of clamp(-1, 1) */
    bool apply_final_activation; /* false for the BWE generator */
    bool use_bias_at_final;      /* conv_post bias */
    int output_sampling_rate;
} ltx_vocoder_gen_config;

typedef struct ltx_vocoder_config {
    bool bwe;                   /* VocoderWithBWE (LTX-2.3) vs plain Vocoder */
    ltx_vocoder_gen_config gen; /* "vocoder.vocoder" (BWE) or the flat "vocoder" */
    ltx_vocoder_gen_config bwe_gen;
    int input_sampling_rate;  /* BWE: 16000 */
    int output_sampling_rate; /* BWE: 48000; plain: gen.output_sampling_rate */
    int hop_length;           /* BWE STFT hop (80) */
    int n_fft;                /* BWE STFT size = window (512) */
    int num_mels;             /* BWE mel bins (64) */
} ltx_vocoder_config;

/* Parses metadata "config" JSON text (its "vocoder" object). */
ltx_status ltx_vocoder_config_parse(const char *config_json, ltx_vocoder_config *out);

typedef struct ltx_vocoder ltx_vocoder;

/* Builds from config + weights. Weight names are the reference's after its key filter strips
 * one leading "vocoder.": "vocoder.conv_pre.weight", "bwe_generator.ups.0.weight",
 * "mel_stft.mel_basis" (BWE) or "conv_pre.weight" (plain). Every used parameter must be
 * supplied (mel_stft.stft_fn.inverse_basis is unused and not read). */
ltx_status ltx_vocoder_create(ltx_backend *be, const ltx_vocoder_config *cfg,
                              const ltx_audio_wsrc *src, ltx_vocoder **out);
/* From the main checkpoint: file keys "vocoder." + the names above. Weights may borrow the
 * mapping: keep `st` open while the vocoder lives. */
ltx_status ltx_vocoder_load(ltx_backend *be, const ltx_st_file *st, ltx_vocoder **out);
void ltx_vocoder_free(ltx_vocoder *v);
const ltx_vocoder_config *ltx_vocoder_get_config(const ltx_vocoder *v);
/* Output rate (48000 with BWE). */
int ltx_vocoder_output_rate(const ltx_vocoder *v);
/* Output samples for T mel frames (160·T·3 = 480·T for LTX-2.3). */
int64_t ltx_vocoder_output_len(const ltx_vocoder *v, int64_t mel_frames);

/* Forward: mel (B, 2, T, 64) f32 log-mel -> *out waveform (B, 2, N) f32 in [-1, 1].
 * Taps (BWE): "vocoder.out", "bwe.mel_input_waveform", "bwe.mel", "bwe.residual", "bwe.skip". */
ltx_status ltx_vocoder_forward(const ltx_vocoder *v, const ltx_tensor *mel, const ltx_taps *taps,
                               ltx_tensor **out);

/* decode_audio: latent -> audio decoder -> vocoder, squeezed like the reference:
 * *out = (2, N) for B = 1, else (B, 2, N). */
ltx_status ltx_audio_decode_full(const ltx_audio_decoder *dec, const ltx_vocoder *voc,
                                 const ltx_tensor *latent, const ltx_taps *taps, ltx_tensor **out);

#endif
