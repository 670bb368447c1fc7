/*
 * mel.h — the audio VAE's log-mel front-end (the reference's AudioProcessor): waveform ->
 * log(max(mel(|STFT|), 1e-5)) laid out (B, C, T, n_mels).
 *
 * Mirrors ltx_core/model/audio_vae/ops.py AudioProcessor at a2c3f24, i.e. torchaudio 0.13
 * MelSpectrogram(sample_rate=sr, n_fft, win_length=n_fft, hop_length, f_min=0, f_max=sr/2,
 * n_mels, window_fn=hann_window (periodic), center=True, pad_mode="reflect", power=1.0,
 * mel_scale="slaney", norm="slaney"), then torch.log(torch.clamp(mel, min=1e-5)) and
 * permute(0, 1, 3, 2). Spec models.md §7.2.
 *
 * Where it runs: the STFT always runs on the host with FFTW (double precision r2c transforms of
 * float32 frames; the reference computes a complex64 torch.stft). The magnitude, the mel
 * projection and the log run on the host too — the whole front-end is one host island, the
 * result is uploaded to the caller's backend. On a device without complex support
 * (caps.complex == false, e.g. "cpu-restricted", Ascend) this is a capability fallback:
 * ltx_backend_fallback(be, "complex.stft", ...) is called so it is logged once and counted
 * (and refused in strict mode). On a backend with complex support the host FFTW path is simply
 * the implementation (no device FFT op exists in backend.h).
 *
 * Deliberately not here: input resampling (io/media.h ltx_audio_resample, torchaudio's sinc
 * resampler — waveform_to_mel calls it when the input rate differs), file decoding.
 *
 * Numerics: window and filterbank are built in float32 like torch (values checked against the
 * golden's stored hann_window_1024 / melscale_fbanks); spectra and the mel sums accumulate in
 * double and round to float32 once. No global state except FFTW's planner, which is not
 * thread-safe: plan creation/destruction is serialised with a process-wide mutex (FFTW's
 * requirement), executing plans is reentrant.
 */
#ifndef LTX_MODELS_MEL_H
#define LTX_MODELS_MEL_H

#include "backend/backend.h"

#include <stdint.h>

typedef struct ltx_audio_processor {
    int sample_rate; /* target rate (16000) */
    int n_fft;       /* 1024 = win_length */
    int hop;         /* 160 */
    int n_mels;      /* 64 */
    int n_freqs;     /* n_fft / 2 + 1 */
    float *window;   /* (n_fft) periodic Hann, float32 like torch.hann_window */
    float *fb;       /* (n_freqs, n_mels) torchaudio melscale_fbanks(slaney, slaney) */
} ltx_audio_processor;

/* Builds the window and filterbank. f_min = 0, f_max = sample_rate / 2 as the reference.
 * LTX_ERR_INVALID_ARG on non-positive sizes or n_fft odd/< 2. Release with
 * ltx_audio_processor_release (safe on a zeroed struct, idempotent). */
ltx_status ltx_audio_processor_init(ltx_audio_processor *p, int sample_rate, int n_mels, int hop,
                                    int n_fft);
void ltx_audio_processor_release(ltx_audio_processor *p);

/* Frames for n samples with center=True: 1 + n / hop. */
int64_t ltx_mel_frames(const ltx_audio_processor *p, int64_t n);

/* Host computation: wave (rows, n) float32 at p->sample_rate -> out (rows, frames, n_mels)
 * (time-major, the reference's permuted layout). `out` must hold rows * ltx_mel_frames(n) *
 * n_mels floats. LTX_ERR_INVALID_ARG when n <= n_fft / 2 (reflect padding needs more samples;
 * torch raises there too) or n == 0; non-finite input samples are refused as well. */
ltx_status ltx_mel_compute_host(const ltx_audio_processor *p, const float *wave, int64_t rows,
                                int64_t n, float *out);

/* AudioProcessor.waveform_to_mel: wave (B, C, N) f32 on `be` at `sample_rate` (resampled to
 * p->sample_rate with ltx_audio_resample when different) -> *out (B, C, T, n_mels) f32 on `be`
 * (new tensor, caller frees). Goes through the "complex.stft" fallback on devices without
 * complex support (see the file comment). */
ltx_status ltx_audio_processor_waveform_to_mel(const ltx_audio_processor *p, ltx_backend *be,
                                               const ltx_tensor *wave, int sample_rate,
                                               ltx_tensor **out);

#endif
