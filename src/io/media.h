/*
 * media.h — media I/O on plain host arrays through FFmpeg's libraries (libavformat, libavcodec,
 * libavutil, libswscale; FFmpeg 5.1 on Debian 12), mirroring the reference's
 * ltx_pipelines/utils/media_io.py (PyAV 10) and the torchaudio resampler used by
 * ltx_core/model/audio_vae/ops.py.
 *
 * What it covers
 *   - mp4 writer: RGB uint8 frames (F, H, W, 3) + optional stereo float audio (2, N) ->
 *     H.264 (libx264, yuv420p) + AAC (FFmpeg's native encoder). Written to a temporary file
 *     next to the target and rename()d on success; nothing is left behind on failure.
 *   - image load (PNG/JPEG/... via the image2 demuxer) -> RGB uint8 (H, W, 3).
 *   - video decode (all frames, a frame range, or a time window) -> RGB uint8 (F, H, W, 3),
 *     plus a probe for size / rate / frame count.
 *   - audio decode of any FFmpeg-readable file -> float32 planar (C, N), with a start time /
 *     max duration window like the reference and optional up/down-mix to stereo.
 *   - the reference's conditioning-image H.264 CRF round trip (media_io.preprocess).
 *   - resize-to-cover + center crop + x/127.5-1 (media_io.resize_and_center_crop,
 *     normalize_latent), numerically like torch F.interpolate(bilinear, align_corners=False).
 *   - torchaudio.functional.resample (sinc_interp_hann, lowpass width 6, rolloff 0.99).
 *
 * What it does not do: tensors/backends (callers upload the arrays), mel spectrograms (audio
 * VAE code), subtitle/data streams, hardware codecs. libswresample is deliberately not used for
 * rate conversion (the reference resamples with torchaudio's sinc kernel).
 *
 * Conventions: all functions are reentrant (no state of ours; the one process-wide effect is
 * that the first call silences FFmpeg's av_log if the program left it at its default level —
 * failures are reported through ltx_err instead); errors return an ltx_status with
 * a message (ltx_err) that names the path at fault. Output structs are owned by the caller and
 * released with their *_free function (NULL-safe, idempotent); on failure they are left
 * zeroed. Frame rates are rationals so 24000/1001 stays exact (the reference truncates the
 * container rate to int(fps); see ltx_mp4_params.fps).
 */
#ifndef LTX_IO_MEDIA_H
#define LTX_IO_MEDIA_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ltx_rational {
    int num, den; /* den > 0 */
} ltx_rational;

/* Best rational for a frame rate given as a double: integers stay k/1, NTSC-style rates
 * (k*1000/1001 within 1e-3) become k*1000/1001, anything else the closest fraction with a
 * denominator <= 1001. */
ltx_rational ltx_rational_from_fps(double fps);
static inline double ltx_rational_to_double(ltx_rational r)
{
    return (double)r.num / r.den;
}

/* ---- decoded pictures ---------------------------------------------------------------------- */
typedef struct ltx_frames {
    int n, h, w;  /* frame count, height, width */
    uint8_t *rgb; /* (n, h, w, 3) RGB24, malloc'd; NULL when n == 0 */
} ltx_frames;

void ltx_frames_free(ltx_frames *f); /* frees rgb and zeroes *f; NULL-safe */

/* ---- decoded audio ------------------------------------------------------------------------- */
typedef struct ltx_audio {
    int channels;     /* channels of `data` (2 after stereo conversion) */
    int src_channels; /* channels in the file's stream (0: the file has no audio stream) */
    int sample_rate;  /* the stream's rate (no resampling is done while decoding) */
    int64_t n;        /* samples per channel */
    float *data;      /* (channels, n) planar float32 in [-1, 1], malloc'd */
    const char *mix;  /* what was done to the channels: "none", "mono->stereo (duplicated)",
                         "downmix N->2 (libswresample matrix, ...)"; static text */
} ltx_audio;

/* Frees a->data and zeroes *a; a may be NULL. */
void ltx_audio_free(ltx_audio *a);

/* ---- probing -------------------------------------------------------------------------------- */
typedef struct ltx_video_info {
    int width, height;     /* codec size of the first video stream */
    ltx_rational avg_rate; /* stream average frame rate (PyAV average_rate) */
    double fps;            /* float(average_rate), what the reference compares and computes with */
    int64_t frames;     /* stream nb_frames, else counted by decoding (get_videostream_metadata) */
    double duration_s;  /* stream duration, or container duration; 0 when unknown */
    int audio_rate;     /* first audio stream's rate, 0 when none */
    int audio_channels; /* first audio stream's channels, 0 when none */
} ltx_video_info;

/* Probes the first video stream of `path`. LTX_ERR_IO when the file cannot be opened,
 * LTX_ERR_FORMAT when it is not media or has no video stream. */
ltx_status ltx_media_probe_video(const char *path, ltx_video_info *out);

/* ---- images --------------------------------------------------------------------------------- */
/* Decodes the first picture of an image file (PNG, JPEG, BMP, WebP, ... anything the image2
 * demuxer opens) to RGB24 (out->n = 1). ref: media_io.decode_image (Pillow, [..., :3]).
 * RGB24 and RGBA sources are copied exactly (alpha dropped, like [..., :3]); other pixel formats
 * go through swscale (the reference mishandles gray/palette images; this converts them
 * properly). JPEG pixels differ from Pillow's libjpeg decode by a few levels (different IDCT /
 * chroma upsampling). */
ltx_status ltx_image_load(const char *path, ltx_frames *out);

/* ---- video decoding ---------------------------------------------------------------------------
 */
/* Decodes frames [start_frame, start_frame + max_frames) by decode order index, ignoring
 * timestamps (max_frames < 0: to the end). ref: media_io.decode_video_by_frame. RGB via
 * swscale bilinear with default (BT.601) coefficients, as PyAV's frame.to_rgb(). */
ltx_status ltx_video_decode_frames(const char *path, int64_t start_frame, int64_t max_frames,
                                   ltx_frames *out);

/* Decodes the frames whose pts*time_base lies in [start_s, start_s + max_duration_s)
 * (max_duration_s <= 0: to the end), seeking first when start_s > 0; falls back to index-based
 * decoding (round(start*fps), round(dur*fps)) when frames lack timestamps.
 * ref: media_io.decode_video_from_file. Frame times are pts * (double)time_base exactly like
 * the reference, so a window starting exactly on a frame can miss that frame by rounding
 * (5120 * (1/12288) < 10/24.0); callers wanting frame k should start slightly earlier. */
ltx_status ltx_video_decode_time(const char *path, double start_s, double max_duration_s,
                                 ltx_frames *out);

/* ---- audio decoding ---------------------------------------------------------------------------
 */
/* Decodes the first audio stream of `path` (wav/mp3/aac/flac/m4a/mp4/...) to float32 planar.
 * Window like ref media_io.decode_audio_from_file: seek to start_s, keep frames that end at or
 * after start_s and start no later than start_s + max_duration_s, then drop
 * round((start_s - first_frame_time) * sr) leading samples and keep round(max_duration_s * sr)
 * (Python round: half to even). max_duration_s <= 0 reads to the end. Integer sample formats are
 * scaled like the reference (u8: /128, s16: /32768, s32: /2^31).
 * to_stereo: mono is duplicated to two channels, more than two are down-mixed with FFmpeg's
 * standard matrix (center and surrounds at -3 dB, LFE dropped, normalised so it cannot clip);
 * out->src_channels and out->mix say what happened so the caller can log it. Without to_stereo
 * the stream's channels are returned unchanged.
 * A file without an audio stream is not an error: LTX_OK with out->src_channels == 0 and
 * out->n == 0 (the reference's None). A stream that yields no samples in the window is
 * LTX_ERR_FORMAT. */
ltx_status ltx_audio_decode(const char *path, double start_s, double max_duration_s, bool to_stereo,
                            ltx_audio *out);

/* ---- conditioning-image preprocessing -----------------------------------------------------------
 */
/* The reference's H.264 CRF round trip of a conditioning image (media_io.preprocess):
 * crop to even height/width (top-left), RGB24 -> yuv420p (swscale bilinear, BT.601 limited),
 * encode ONE frame with libx264 (crf, preset veryfast, rate 1, PyAV's codec defaults) into an
 * in-memory MP4, decode it back and convert to RGB24. crf == 0 returns the pixels unchanged
 * (no crop), like the reference. rgb is (h, w, 3); out is (1, h & ~1, w & ~1, 3). */
ltx_status ltx_image_crf_roundtrip(const uint8_t *rgb, int h, int w, double crf, ltx_frames *out);

/* The whole of ref media_io.load_image_and_preprocess: ltx_image_load, then the CRF round trip
 * when crf != 0 (the CLI default is 33, ref: DEFAULT_IMAGE_CRF), then ltx_media_preprocess to
 * (3, 1, h, w). *out is malloc'd (3*h*w floats, caller frees). round_bf16 as in
 * ltx_media_preprocess (true for the real pipelines). */
ltx_status ltx_media_load_image_and_preprocess(const char *path, int h, int w, double crf,
                                               bool round_bf16, float **out);

/* Size after the cover resize of resize_and_center_crop: scale = max(H/h, W/w) in double,
 * new = ceil(src * scale). */
void ltx_media_cover_size(int src_h, int src_w, int h, int w, int *new_h, int *new_w);

/* resize_and_center_crop + normalize_latent on RGB24 frames: (n, src_h, src_w, 3) uint8 ->
 * out (3, n, h, w) float32 = crop(bilinear_resize(x))/127.5 - 1, then rounded to bf16 when
 * round_bf16 (the pipelines' hard-coded bfloat16; the goldens store those values). The bilinear
 * resize follows torch's F.interpolate(align_corners=False, antialias=False) CPU kernel in
 * float32. `out` holds 3*n*h*w floats, caller-owned. */
ltx_status ltx_media_preprocess(const uint8_t *rgb, int n, int src_h, int src_w, int h, int w,
                                bool round_bf16, float *out);

/* ref: media_io.resize_aspect_ratio_preserving as used for the prompt-enhancement image
 * (helpers.generate_enhanced_prompt, long side 896): target = int(side * long_side / max(h, w)),
 * cover resize + center crop, truncated to uint8. Runs the float kernel above; the reference
 * interpolates the uint8 tensor directly (torch 2.x's fixed-point uint8 path rounds), so values
 * may differ by one level. out is (1, th, tw, 3). */
ltx_status ltx_media_resize_long_side(const uint8_t *rgb, int h, int w, int long_side,
                                      ltx_frames *out);

/* Pillow's Image.resize(BILINEAR) on RGB24 (uint8, 8-bit fixed point, antialiased when
 * shrinking, horizontal pass first), bit for bit (media_pil.c). src (sh, sw, 3) -> dst (dh, dw,
 * 3), both caller-owned. */
ltx_status ltx_pil_resize_bilinear(const uint8_t *src, int sh, int sw, uint8_t *dst, int dh,
                                   int dw);

/* The float resize alone (for callers that keep other layouts): src (src_h, src_w, c) float
 * channel-last -> dst (h, w, c) with torch's bilinear align_corners=False weights. */
void ltx_media_resize_bilinear(const float *src, int src_h, int src_w, int c, float *dst, int h,
                               int w);

/* ---- audio resampling -------------------------------------------------------------------------
 */
/* torchaudio.functional.resample(waveform, orig, new) with its defaults (sinc_interp_hann,
 * lowpass_filter_width 6, rolloff 0.99): kernel built in float32 like torchaudio 0.13 for a
 * float32 waveform, gcd-reduced rates, polyphase conv1d with stride orig/gcd, output length
 * ceil(new * n / orig). in (channels, n) planar; *out is malloc'd (channels, *n_out) (the
 * caller frees). orig == new copies. */
ltx_status ltx_audio_resample(const float *in, int channels, int64_t n, int orig_rate, int new_rate,
                              float **out, int64_t *n_out);
/* Output length for n input samples (ceil(new*n/orig) after gcd reduction). */
int64_t ltx_audio_resample_len(int64_t n, int orig_rate, int new_rate);

/* ---- writing ----------------------------------------------------------------------------------
 */
typedef struct ltx_mp4_params {
    size_t struct_size;    /* = sizeof(ltx_mp4_params), set by _init */
    ltx_rational fps;      /* container/codec frame rate; default 24/1. Exact (24000/1001 stays
                              24000/1001) — the reference truncates to int(fps) */
    double crf;            /* < 0 (default): the reference's settings — PyAV gives libx264
                              bit_rate 1024000 (ABR 1024 kb/s), preset medium; >= 0: CRF mode */
    const char *preset;    /* libx264 preset; NULL (default) = libx264's own (medium) */
    int64_t video_bitrate; /* bits/s used when crf < 0; default 1024000 (PyAV's default) */
    int64_t audio_bitrate; /* AAC bits/s; default 128000 (PyAV's default) */
} ltx_mp4_params;

/* Zeroes *p, sets struct_size and the defaults written on each field above. */
void ltx_mp4_params_init(ltx_mp4_params *p);

/* Writes `path` (container from its extension, normally .mp4): video rgb (n_frames, h, w, 3)
 * RGB24 (h, w even; yuv420p needs it), audio NULL or (2, n_samples) planar float32 at
 * sample_rate (clipped to [-1, 1] and quantised to int16 like the reference, then encoded as
 * AAC stereo; the last partial AAC frame is kept short, so the audio length is exact).
 * Writes "<path>.tmp<ext>" first and renames it onto `path` only on success; on failure the
 * temporary file is removed and `path` is untouched. Errors name the path. */
ltx_status ltx_mp4_write(const char *path, const uint8_t *rgb, int n_frames, int h, int w,
                         const float *audio, int64_t n_samples, int sample_rate,
                         const ltx_mp4_params *p);

/* Fails with LTX_ERR_INVALID_ARG (message names both) when `out_path` is one of the
 * `n_inputs` input paths (same file by device+inode when both exist, else same normalised
 * string). Inputs may contain NULLs (skipped). Use before writing any output. */
ltx_status ltx_media_check_output(const char *out_path, const char *const *inputs, int n_inputs);

#endif
