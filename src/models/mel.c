/*
 * mel.c — log-mel front-end (AudioProcessor) on the host with FFTW; contracts in mel.h.
 *
 * ref: ltx_core/model/audio_vae/ops.py AudioProcessor (a2c3f24) and torchaudio 0.13.1
 * functional.melscale_fbanks / _hz_to_mel / _mel_to_hz / _create_triangular_filterbank,
 * functional.spectrogram (torch.stft center=True, reflect padding, onesided, not normalised,
 * power 1 = |X|), transforms.MelScale (matmul with fb).
 */
#include "models/mel.h"

#include "io/media.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is process-global and not thread-safe; executing a plan is. */
static pthread_mutex_t g_fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* torch.linspace(start, end, steps) for float32 (RangeFactoriesKernel: step in float, first
 * half counted from start, second half from end). */
static void linspace_f32(float start, float end, int steps, float *out)
{
    const float step = steps > 1 ? (end - start) / (float)(steps - 1) : 0.0f;
    const int half = steps / 2;
    for (int i = 0; i < steps; i++)
        out[i] = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

/* ref: torchaudio _hz_to_mel(mel_scale="slaney") — Python doubles. */
static double hz_to_mel_slaney(double f)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
    return f / f_sp;
}

/* ref: torchaudio _mel_to_hz(mel_scale="slaney") on a float32 tensor (float32 ops). */
static float mel_to_hz_slaney(float m)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (m >= (float)min_log_mel)
        return (float)min_log_hz * expf((float)logstep * (m - (float)min_log_mel));
    return (float)f_sp * m;
}

ltx_status ltx_audio_processor_init(ltx_audio_processor *p, int sample_rate, int n_mels, int hop,
                                    int n_fft)
{
    memset(p, 0, sizeof *p);
    if (sample_rate <= 0 || n_mels <= 0 || hop <= 0 || n_fft < 2 || n_fft % 2)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "audio processor: bad sizes (rate %d, mels %d, hop %d, n_fft %d; n_fft "
                       "must be even)",
                       sample_rate, n_mels, hop, n_fft);
    p->sample_rate = sample_rate;
    p->n_fft = n_fft;
    p->hop = hop;
    p->n_mels = n_mels;
    p->n_freqs = n_fft / 2 + 1;
    const int F = p->n_freqs, M = n_mels;
    p->window = malloc(sizeof(float) * (size_t)n_fft);
    p->fb = malloc(sizeof(float) * (size_t)F * (size_t)M);
    float *all = malloc(sizeof(float) * (size_t)F);
    float *mp = malloc(sizeof(float) * (size_t)(M + 2));
    float *fp = malloc(sizeof(float) * (size_t)(M + 2));
    if (!p->window || !p->fb || !all || !mp || !fp) {
        free(all), free(mp), free(fp);
        ltx_audio_processor_release(p);
        return ltx_err(LTX_ERR_OOM, "audio processor: out of memory");
    }
    /* ref: torch.hann_window(n_fft, periodic=True) = hamming(N+1, alpha=beta=0.5)[:N] in f32:
     * arange * (2*pi/N) -> cos -> * -0.5 -> + 0.5 */
    const float w_step = (float)(M_PI * 2.0 / (double)n_fft);
    for (int i = 0; i < n_fft; i++)
        p->window[i] = cosf((float)i * w_step) * -0.5f + 0.5f;

    /* ref: melscale_fbanks(n_freqs, 0, sr/2, n_mels, sr, norm="slaney", mel_scale="slaney") */
    linspace_f32(0.0f, (float)(sample_rate / 2), F, all);
    const double m_max = hz_to_mel_slaney(sample_rate / 2.0);
    linspace_f32((float)hz_to_mel_slaney(0.0), (float)m_max, M + 2, mp);
    for (int j = 0; j < M + 2; j++)
        fp[j] = mel_to_hz_slaney(mp[j]);
    for (int f = 0; f < F; f++) {
        for (int j = 0; j < M; j++) {
            /* _create_triangular_filterbank: slopes = f_pts - all_freqs */
            const float down = (-1.0f * (fp[j] - all[f])) / (fp[j + 1] - fp[j]);
            const float up = (fp[j + 2] - all[f]) / (fp[j + 2] - fp[j + 1]);
            float v = fminf(down, up);
            if (!(v > 0.0f)) v = 0.0f;
            const float enorm = 2.0f / (fp[j + 2] - fp[j]); /* slaney area normalisation */
            p->fb[(size_t)f * M + j] = v * enorm;
        }
    }
    free(all), free(mp), free(fp);
    return LTX_OK;
}

void ltx_audio_processor_release(ltx_audio_processor *p)
{
    if (!p) return;
    free(p->window);
    free(p->fb);
    p->window = p->fb = NULL;
}

int64_t ltx_mel_frames(const ltx_audio_processor *p, int64_t n)
{
    return 1 + n / p->hop;
}

ltx_status ltx_mel_compute_host(const ltx_audio_processor *p, const float *wave, int64_t rows,
                                int64_t n, float *out)
{
    const int N = p->n_fft, F = p->n_freqs, M = p->n_mels, pad = N / 2;
    if (n <= 0) return ltx_err(LTX_ERR_INVALID_ARG, "mel: zero-length audio");
    if (n <= pad)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "mel: %lld samples is too short for the STFT (reflect padding by n_fft/2 "
                       "= %d needs more than %d samples, i.e. > %.1f ms at %d Hz)",
                       (long long)n, pad, pad, 1000.0 * pad / p->sample_rate, p->sample_rate);
    for (int64_t i = 0; i < rows * n; i++)
        if (!isfinite(wave[i]))
            return ltx_err(LTX_ERR_INVALID_ARG, "mel: non-finite sample at index %lld",
                           (long long)i);
    const int64_t T = ltx_mel_frames(p, n);
    double *in = fftw_alloc_real((size_t)N);
    fftw_complex *spec = fftw_alloc_complex((size_t)F);
    double *mag = malloc(sizeof(double) * (size_t)F);
    if (!in || !spec || !mag) {
        fftw_free(in), fftw_free(spec), free(mag);
        return ltx_err(LTX_ERR_OOM, "mel: out of memory");
    }
    pthread_mutex_lock(&g_fftw_planner_lock);
    fftw_plan plan = fftw_plan_dft_r2c_1d(N, in, spec, FFTW_ESTIMATE);
    pthread_mutex_unlock(&g_fftw_planner_lock);
    if (!plan) {
        fftw_free(in), fftw_free(spec), free(mag);
        return ltx_err(LTX_ERR_INTERNAL, "mel: FFTW could not plan a %d-point r2c transform", N);
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *x = wave + r * n;
        for (int64_t t = 0; t < T; t++) {
            /* frame t covers padded samples [t*hop, t*hop + N); reflect pad of N/2 each side */
            for (int i = 0; i < N; i++) {
                int64_t j = t * p->hop + i - pad;
                if (j < 0) j = -j;
                if (j >= n) j = 2 * (n - 1) - j;
                in[i] = (double)x[j] * (double)p->window[i];
            }
            fftw_execute(plan);
            for (int f = 0; f < F; f++)
                mag[f] = (double)(float)hypot(spec[f][0], spec[f][1]);
            float *o = out + (r * T + t) * M;
            for (int m = 0; m < M; m++) {
                double acc = 0.0;
                for (int f = 0; f < F; f++)
                    acc += mag[f] * (double)p->fb[(size_t)f * M + m];
                float v = (float)acc;
                o[m] = logf(v > 1e-5f ? v : 1e-5f); /* ref: log(clamp(mel, min=1e-5)) */
            }
        }
    }
    pthread_mutex_lock(&g_fftw_planner_lock);
    fftw_destroy_plan(plan);
    pthread_mutex_unlock(&g_fftw_planner_lock);
    fftw_free(in), fftw_free(spec), free(mag);
    return LTX_OK;
}

ltx_status ltx_audio_processor_waveform_to_mel(const ltx_audio_processor *p, ltx_backend *be,
                                               const ltx_tensor *wave, int sample_rate,
                                               ltx_tensor **out)
{
    *out = NULL;
    if (wave->ndim != 3)
        return ltx_err(LTX_ERR_INVALID_ARG, "mel: waveform must be (B, C, N), got %d dims",
                       wave->ndim);
    if (sample_rate <= 0) return ltx_err(LTX_ERR_INVALID_ARG, "mel: sample rate %d", sample_rate);
    /* The STFT is a complex transform; a device without complex64 gets the host path, logged
     * and counted (strict mode refuses). With complex support the host FFTW path is simply
     * the implementation. */
    if (!be->caps.complex)
        LTX_TRY(ltx_backend_fallback(be, "complex.stft", "STFT on the host (FFTW)"));
    const int64_t B = wave->shape[0], C = wave->shape[1], rows = B * C;
    int64_t n = wave->shape[2];
    float *host = ltx_tensor_to_host_f32(wave);
    if (!host) return ltx_err_context(ltx_err_failed(), "mel: waveform download: ");
    if (sample_rate != p->sample_rate) {
        /* ref: AudioProcessor.resample_audio -> torchaudio.functional.resample */
        float *rs = NULL;
        int64_t n_rs = 0;
        ltx_status s =
            ltx_audio_resample(host, (int)rows, n, sample_rate, p->sample_rate, &rs, &n_rs);
        free(host);
        if (s != LTX_OK) return s;
        host = rs;
        n = n_rs;
    }
    const int64_t T = n > 0 ? ltx_mel_frames(p, n) : 0;
    float *mel = malloc(sizeof(float) * (size_t)(rows * (T ? T : 1) * p->n_mels));
    if (!mel) {
        free(host);
        return ltx_err(LTX_ERR_OOM, "mel: out of memory");
    }
    ltx_status s = ltx_mel_compute_host(p, host, rows, n, mel);
    free(host);
    if (s == LTX_OK) {
        const int64_t shape[4] = {B, C, T, p->n_mels};
        *out = ltx_tensor_from_host(be, LTX_F32, 4, shape, mel);
        if (!*out) s = ltx_err_failed();
    }
    free(mel);
    return s;
}
