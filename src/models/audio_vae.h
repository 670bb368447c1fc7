/*
 * audio_vae.h — the LTX-2.3 audio VAE: encoder (log-mel (B, 2, T, 64) -> normalised latent
 * (B, 8, T', 16)), decoder (latent -> log-mel (B, 2, 4T'-3, 64)), their per-channel latent
 * statistics, and encode_audio (waveform -> latent through the mel front-end, mel.h).
 *
 * Mirrors ltx_core/model/audio_vae/ at a2c3f24: audio_vae.py (AudioEncoder, AudioDecoder,
 * encode_audio), causal_conv_2d.py, resnet.py (ResnetBlock), downsample.py, upsample.py,
 * attention.py (AttnBlock), ops.py (PerChannelStatistics), model_configurator.py
 * (AudioEncoderConfigurator / AudioDecoderConfigurator), common/normalization.py.
 * Spec models.md §7.
 *
 * Every option the configurators accept is implemented: ch, ch_mult, num_res_blocks,
 * attn_resolutions (AttnBlock wherever the running resolution is listed; default {8,16,32}
 * when the key is absent, as the reference), resolution, z_channels, double_z, in_channels,
 * out_ch, norm_type pixel | group (GroupNorm(32, eps 1e-6, affine)), causality_axis
 * height | width | width-compatibility | null (NONE), mid_block_add_attention (default TRUE when
 * absent), resamp_with_conv (encoder; false = 2x2 average pooling), attn_type vanilla | none,
 * mel_bins (ddconfig.mel_bins or preprocessing.mel.n_mel_channels or variables.mel_bins),
 * sampling_rate, stft hop_length / filter_length / causal. dropout is read and ignored
 * (inference). Values the reference rejects fail with LTX_ERR_UNSUPPORTED naming the key:
 * unknown norm_type / causality_axis / attn_type, attn_type "linear" where an attention block
 * would be built (NotImplementedError), GroupNorm with a causal axis (ResnetBlock raises),
 * resamp_with_conv=false with a causal axis (Downsample raises), GroupNorm widths not divisible
 * by 32, and — at forward time — a latent whose channels x mel bins differ from `ch` (the
 * statistics cannot broadcast; torch fails there with a shape error).
 *
 * Tensors are (B, C, time = "height", mel = "width"). Key names are the reference's state-dict
 * names below "audio_vae.encoder." / "audio_vae.decoder.", the statistics below
 * "audio_vae.per_channel_statistics." (spec §1.4).
 *
 * Dtype policy: activations float32 throughout. Convolution weights stay in the stored dtype
 * (bf16 in the checkpoint) and are upcast exactly by the conv op per call — the same values the
 * reference computes with after its loader's bf16 cast; norms, biases and statistics are
 * converted to f32 once at load. All compute goes through backend ops, so the model runs on
 * every backend ("cpu-restricted" included: no host pointer is touched).
 *
 * Thread-safety: encoder/decoder objects are read-only after creation.
 */
#ifndef LTX_MODELS_AUDIO_VAE_H
#define LTX_MODELS_AUDIO_VAE_H

#include "backend/backend.h"
#include "core/log.h"
#include "core/tap.h"
#include "io/media.h"
#include "io/safetensors.h"
#include "models/mel.h"

#include <stdbool.h>

/* ---- weights ------------------------------------------------------------------------------ */

/* Supplies one parameter by its name inside the component ("conv_in.conv.weight",
 * "per_channel_statistics.mean-of-means", ...) with the expected shape, as a new tensor on `be`
 * in any float dtype (the model converts what it needs). NULL + error when missing or of
 * another shape. Lets tests build models from random weights without a file. */
typedef struct ltx_audio_wsrc {
    ltx_tensor *(*get)(void *user, ltx_backend *be, const char *name, int ndim,
                       const int64_t *shape);
    void *user;
} ltx_audio_wsrc;

/* A source over a safetensors file: name -> prefix + name (stats_prefix for names starting
 * "per_channel_statistics."), zero-copy in the stored dtype where the backend allows. `st`
 * must outlive the source's use; prefixes are copied (max 127 chars, NULL stats_prefix = the
 * same as prefix). */
typedef struct ltx_audio_st_src {
    const ltx_st_file *st;
    char prefix[128];
    char stats_prefix[128];
} ltx_audio_st_src;
ltx_audio_wsrc ltx_audio_st_src_init(ltx_audio_st_src *s, const ltx_st_file *st, const char *prefix,
                                     const char *stats_prefix);

/* ---- config -------------------------------------------------------------------------------- */

typedef enum ltx_causality_axis {
    LTX_CAUSAL_NONE,         /* null: symmetric padding */
    LTX_CAUSAL_WIDTH,        /* "width" */
    LTX_CAUSAL_HEIGHT,       /* "height" (time; LTX-2.3) */
    LTX_CAUSAL_WIDTH_COMPAT, /* "width-compatibility" */
} ltx_causality_axis;

typedef enum ltx_audio_norm { LTX_AUDIO_NORM_PIXEL, LTX_AUDIO_NORM_GROUP } ltx_audio_norm;

#define LTX_AUDIO_VAE_MAX_LEVELS 8
#define LTX_AUDIO_VAE_MAX_ATTN   16

typedef struct ltx_audio_vae_config {
    int ch;             /* 128; also the statistics length */
    int out_ch;         /* decoder output channels (2) */
    int in_channels;    /* encoder input channels (2) */
    int z_channels;     /* 8 */
    int num_res_blocks; /* encoder per level; the decoder has num_res_blocks + 1 */
    int resolution;     /* 256: only decides where attention blocks go */
    int n_levels;
    int ch_mult[LTX_AUDIO_VAE_MAX_LEVELS];
    int n_attn;
    int attn_resolutions[LTX_AUDIO_VAE_MAX_ATTN];
    bool double_z;
    bool mid_attn;         /* mid_block_add_attention */
    bool resamp_with_conv; /* encoder only (the decoder hard-codes true) */
    bool attn_none;        /* encoder attn_type "none": attention blocks are identities */
    bool attn_linear;      /* encoder attn_type "linear": refused where a block is built */
    ltx_audio_norm norm;
    ltx_causality_axis causality;
    int sample_rate;    /* 16000 */
    int mel_hop_length; /* 160 */
    int n_fft;          /* 1024 (stft.filter_length) */
    bool is_causal;     /* stft.causal (patchifier timing only) */
    int mel_bins;       /* 64; 0 = None (decoder then keeps the decoded width) */
} ltx_audio_vae_config;

/* Parses metadata "config" JSON text (its "audio_vae" object; absent keys take the reference
 * configurators' defaults). Validation that depends on which half is built (attention blocks,
 * downsampling) happens in the _create functions. */
ltx_status ltx_audio_vae_config_parse(const char *config_json, ltx_audio_vae_config *out);

/* ---- models ------------------------------------------------------------------------------- */

typedef struct ltx_audio_encoder ltx_audio_encoder;
typedef struct ltx_audio_decoder ltx_audio_decoder;

/* Builds from a config and a weight source (every parameter must be supplied; the reference
 * leaves unsupplied ones uninitialised). Free with the matching _free (NULL fine). */
ltx_status ltx_audio_encoder_create(ltx_backend *be, const ltx_audio_vae_config *cfg,
                                    const ltx_audio_wsrc *src, ltx_audio_encoder **out);
ltx_status ltx_audio_decoder_create(ltx_backend *be, const ltx_audio_vae_config *cfg,
                                    const ltx_audio_wsrc *src, ltx_audio_decoder **out);
/* From the main checkpoint (metadata "config", keys "audio_vae.encoder.*" /
 * "audio_vae.decoder.*" + "audio_vae.per_channel_statistics.*"). Weights may borrow the
 * mapping: keep `st` open while the model lives. */
ltx_status ltx_audio_encoder_load(ltx_backend *be, const ltx_st_file *st, ltx_audio_encoder **out);
ltx_status ltx_audio_decoder_load(ltx_backend *be, const ltx_st_file *st, ltx_audio_decoder **out);
void ltx_audio_encoder_free(ltx_audio_encoder *e);
void ltx_audio_decoder_free(ltx_audio_decoder *d);
const ltx_audio_vae_config *ltx_audio_encoder_config(const ltx_audio_encoder *e);
const ltx_audio_vae_config *ltx_audio_decoder_config(const ltx_audio_decoder *d);

/* AudioEncoder.forward: mel (B, in_channels, T, M) f32 -> *out normalised latent means
 * (B, ceil(C/2), T', M') with C = 2·z_channels (double_z) or z_channels — the reference's
 * torch.chunk(·, 2, dim=1)[0] — i.e. (B, 8, ⌊⌊(T−1)/2⌋/2⌋ + 1, 16) for LTX-2.3. Taps
 * "enc.conv_in.first8rows", "enc.down_path", "enc.mid", "enc.conv_out" (the golden's
 * intermediate names). */
ltx_status ltx_audio_encoder_forward(const ltx_audio_encoder *e, const ltx_tensor *mel,
                                     const ltx_taps *taps, ltx_tensor **out);

/* encode_audio: waveform (B, C, N) at sample_rate -> mel (AudioProcessor built from the
 * encoder's sample_rate / mel_bins / hop / n_fft) -> encoder. C must equal in_channels
 * (callers up-mix mono first: io/media.h ltx_audio_decode(to_stereo)). */
ltx_status ltx_audio_encode_waveform(const ltx_audio_encoder *e, const ltx_tensor *wave,
                                     int sample_rate, const ltx_taps *taps, ltx_tensor **out);

/* The pipelines' audio input (a2vid, retake): decode the first audio stream of `path` from
 * start_s for max_duration_s seconds (<= 0: to the end) like the reference's
 * decode_audio_from_file (io/media.h ltx_audio_decode), convert to stereo — mono is duplicated,
 * more than two channels are down-mixed, logged at WARN on `log` (the reference fails there with
 * an opaque channel error) — then encode_audio (resample to 16 kHz, log-mel, encoder).
 * *latent = (1, 8, T', 16) on the encoder's backend, or NULL with LTX_OK when the file has no
 * audio stream (the reference's None). `audio` may be NULL; otherwise it receives the decoded
 * stereo waveform at the file's rate (a2vid writes it back unchanged; free with
 * ltx_audio_free). Errors (unreadable file, no samples in the window, too short for the STFT)
 * name the path. */
ltx_status ltx_audio_encode_file(const ltx_audio_encoder *e, const char *path, double start_s,
                                 double max_duration_s, ltx_log *log, ltx_tensor **latent,
                                 ltx_audio *audio);

/* AudioDecoder.forward: latent (B, z_channels, T', M') normalised -> *out log-mel
 * (B, out_ch, max(4T'-3, 1) (4T' without causality), mel_bins). Taps "dec.denormalized",
 * "dec.conv_in", "dec.mid", "dec.up_path.first8rows". */
ltx_status ltx_audio_decoder_forward(const ltx_audio_decoder *d, const ltx_tensor *latent,
                                     const ltx_taps *taps, ltx_tensor **out);

#endif
