/*
 * bench/audio.c — audio decode + vocode time for 5 s of audio latents.
 *
 * Method: latent (1, 8, T_a = 125, 16) (5 s at 25 latent frames/s; values from a fixed LCG in
 * [-1, 1)) -> AudioDecoder -> log-mel (1, 2, 4·T_a − 3 = 497, 64) -> VocoderWithBWE -> (1, 2,
 * 480·497 = 238,560) samples at 48 kHz (4.97 s), on the "cpu" backend with a pool of all online
 * CPUs. Models: by default the tiny checkpoint (tests/data/golden/tiny_ckpt, vocoder widths
 * 64/32 — the real weights are not available here); with --real, the LTX-2.3 22B sizes from
 * spec §1.3.3/§1.3.4 (audio VAE ch 128, ch_mult [1,2,4], 2 res blocks; vocoder 1536 / BWE 512
 * channels) built from deterministic random f32 weights (the real file stores bf16; the conv
 * op would upcast per call). Each configuration runs once to warm up, then `reps` times
 * (default 3, argv[1]); the median wall time of each phase is reported: decoder, main
 * generator (until the "vocoder.out" tap), BWE STFT mel, BWE generator, resampler skip + sum
 * (taps time-stamp the phase boundaries), plus the real-time factor (audio seconds / compute
 * seconds).
 * Baseline, measured in the same run: the convolution FLOPs of the vocoder (2·C_out·C_in·K·L_out
 * summed over every conv of both generators, from the config) divided by the GFLOP/s of one bare
 * cblas_sgemm (M = 64, N = 8192, K = 64·7, the vocoder's typical im2col GEMM shape), i.e. the
 * time the vocoder would take if its convs ran at bare GEMM speed and the anti-aliased
 * activations, padding and copies were free; reported as the ratio vocoder / GEMM-equivalent.
 * Usage: audio [reps] [--real] [--frames T_a]
 */
#include "backend/backend.h"
#include "bench_util.h"
#include "core/threadpool.h"
#include "models/vocoder.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CKPT LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static void fill_rand(float *p, size_t n, unsigned seed, float scale)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((float)((seed >> 8) & 0xFFFF) / 32768.0f - 1.0f) * scale;
    }
}

/* ---- random weights for --real ----------------------------------------------------------- */

static ltx_tensor *rnd_get(void *user, ltx_backend *be, const char *name, int ndim,
                           const int64_t *shape)
{
    (void)user;
    int64_t n = 1, fan = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    for (int i = 1; i < ndim; i++)
        fan *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    unsigned seed = 0;
    for (const char *c = name; *c; c++)
        seed = seed * 31u + (unsigned char)*c;
    if (strstr(name, "std-of-means") || (ndim == 1 && strstr(name, "norm"))) {
        for (int64_t i = 0; i < n; i++)
            v[i] = 1.0f;
    } else if (strstr(name, ".filter")) {
        for (int64_t i = 0; i < n; i++)
            v[i] = 1.0f / 12.0f;
    } else {
        fill_rand(v, (size_t)n, seed, ndim == 1 ? 0.1f : 1.0f / sqrtf((float)fan));
        if (strstr(name, "mel_basis"))
            for (int64_t i = 0; i < n; i++)
                v[i] = fabsf(v[i]) * 0.02f;
    }
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, ndim, shape, v);
    free(v);
    return t;
}

static const char *REAL_CONFIG =
    "{\"audio_vae\": {\"model\": {\"params\": {\"sampling_rate\": 16000, \"ddconfig\": {\"ch\": "
    "128, \"ch_mult\": [1, 2, 4], \"num_res_blocks\": 2, \"z_channels\": 8, \"double_z\": true, "
    "\"in_channels\": 2, \"out_ch\": 2, \"resolution\": 256, \"mel_bins\": 64, "
    "\"attn_resolutions\": [], \"mid_block_add_attention\": false, \"norm_type\": \"pixel\", "
    "\"causality_axis\": \"height\"}}}, \"preprocessing\": {\"stft\": {\"filter_length\": 1024, "
    "\"hop_length\": 160, \"causal\": true}}},"
    "\"vocoder\": {\"vocoder\": {\"upsample_initial_channel\": 1536, \"resblock\": \"AMP1\", "
    "\"activation\": \"snakebeta\", \"upsample_rates\": [5, 2, 2, 2, 2, 2], "
    "\"upsample_kernel_sizes\": [11, 4, 4, 4, 4, 4], \"resblock_kernel_sizes\": [3, 7, 11], "
    "\"resblock_dilation_sizes\": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], \"stereo\": true, "
    "\"use_tanh_at_final\": false, \"use_bias_at_final\": false}, \"bwe\": "
    "{\"upsample_initial_channel\": 512, \"resblock\": \"AMP1\", \"activation\": \"snakebeta\", "
    "\"upsample_rates\": [6, 5, 2, 2, 2], \"upsample_kernel_sizes\": [12, 11, 4, 4, 4], "
    "\"resblock_kernel_sizes\": [3, 7, 11], \"resblock_dilation_sizes\": [[1, 3, 5], [1, 3, 5], "
    "[1, 3, 5]], \"stereo\": true, \"use_tanh_at_final\": false, \"use_bias_at_final\": false, "
    "\"input_sampling_rate\": 16000, \"output_sampling_rate\": 48000, \"hop_length\": 80, "
    "\"n_fft\": 512, \"num_mels\": 64}}}";

/* ---- FLOP count of one generator's convs (stereo batch 1) --------------------------------- */

static double gen_flops(const ltx_vocoder_gen_config *g, double frames)
{
    const double C0 = g->upsample_initial_channel;
    double L = frames, f = 2.0 * C0 * 128 * 7 * L; /* conv_pre */
    for (int i = 0; i < g->n_ups; i++) {
        const double cin = C0 / (1 << i), ch = C0 / (1 << (i + 1));
        L *= g->upsample_rates[i];
        f += 2.0 * cin * ch * g->upsample_kernel_sizes[i] * L / g->upsample_rates[i];
        for (int j = 0; j < g->n_kernels; j++)
            f += 6 * 2.0 * ch * ch * g->resblock_kernel_sizes[j] * L; /* 3 x (convs1 + convs2) */
    }
    return f + 2.0 * (C0 / (1 << g->n_ups)) * 2 * 7 * L; /* conv_post */
}

typedef struct phase_clock {
    double t_voc, t_mel, t_res;
} phase_clock;

static void on_tap(void *user, const char *name, const ltx_tensor *t)
{
    (void)t;
    phase_clock *c = user;
    if (!strcmp(name, "vocoder.out"))
        c->t_voc = bench_now();
    else if (!strcmp(name, "bwe.mel"))
        c->t_mel = bench_now();
    else if (!strcmp(name, "bwe.residual"))
        c->t_res = bench_now();
}

int main(int argc, char **argv)
{
    int reps = 3, Ta = 125;
    bool real = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--real"))
            real = true;
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            Ta = atoi(argv[++i]);
        else
            reps = atoi(argv[i]);
    }
    if (reps < 1) reps = 1;
    if (Ta < 1) Ta = 1;
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;
    ltx_st_file *st = NULL;
    ltx_audio_decoder *dec = NULL;
    ltx_vocoder *voc = NULL;
    ltx_status s;
    if (real) {
        ltx_audio_vae_config ac;
        ltx_vocoder_config vc;
        ltx_audio_wsrc src = {rnd_get, NULL};
        s = ltx_audio_vae_config_parse(REAL_CONFIG, &ac);
        if (s == LTX_OK) s = ltx_vocoder_config_parse(REAL_CONFIG, &vc);
        if (s == LTX_OK) s = ltx_audio_decoder_create(be, &ac, &src, &dec);
        if (s == LTX_OK) s = ltx_vocoder_create(be, &vc, &src, &voc);
    } else {
        s = ltx_st_open(CKPT, &st);
        if (s == LTX_OK) s = ltx_audio_decoder_load(be, st, &dec);
        if (s == LTX_OK) s = ltx_vocoder_load(be, st, &voc);
    }
    if (s != LTX_OK) {
        fprintf(stderr, "audio bench: %s\n", ltx_err_message());
        return 1;
    }
    const ltx_vocoder_config *vc = ltx_vocoder_get_config(voc);
    const int64_t ls[4] = {1, 8, Ta, 16};
    float *lh = malloc(sizeof(float) * (size_t)(8 * Ta * 16));
    fill_rand(lh, (size_t)(8 * Ta * 16), 42, 1.0f);
    ltx_tensor *lat = ltx_tensor_from_host(be, LTX_F32, 4, ls, lh);
    free(lh);
    const int64_t Tm = 4 * (int64_t)Ta - 3;
    const double audio_s = (double)ltx_vocoder_output_len(voc, Tm) / ltx_vocoder_output_rate(voc);

    /* baseline GEMM */
    enum { GM = 64, GN = 8192, GK = 64 * 7 };
    float *A = malloc(sizeof(float) * GM * GK), *B = malloc(sizeof(float) * GK * GN),
          *Cm = malloc(sizeof(float) * GM * GN);
    fill_rand(A, GM * GK, 1, 0.1f), fill_rand(B, (size_t)GK * GN, 2, 0.1f);
    double tg[16];
    for (int r = 0; r <= 5; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GM, GN, GK, 1.0f, A, GK, B, GN, 0.0f,
                    Cm, GN);
        if (r) tg[r - 1] = bench_now() - t0;
    }
    const double gemm_gflops = 2.0 * GM * GN * GK / bench_median(tg, 5) * 1e-9;
    const double voc_flops =
        gen_flops(&vc->gen, (double)Tm) +
        (vc->bwe ? gen_flops(&vc->bwe_gen, (double)Tm * 160 / vc->hop_length) : 0.0);

    double t_dec[32], t_gen[32], t_mel[32], t_bwe[32], t_skip[32], t_all[32];
    if (reps > 32) reps = 32;
    phase_clock pc;
    ltx_taps taps = {on_tap, &pc};
    for (int r = 0; r <= reps; r++) {
        ltx_tensor *mel = NULL, *w = NULL;
        double t0 = bench_now();
        s = ltx_audio_decoder_forward(dec, lat, NULL, &mel);
        double t1 = bench_now();
        if (s == LTX_OK) s = ltx_vocoder_forward(voc, mel, &taps, &w);
        double t2 = bench_now();
        if (s != LTX_OK) {
            fprintf(stderr, "audio bench: %s\n", ltx_err_message());
            return 1;
        }
        if (r) {
            t_dec[r - 1] = t1 - t0;
            t_gen[r - 1] = pc.t_voc - t1;
            t_mel[r - 1] = pc.t_mel - pc.t_voc;
            t_bwe[r - 1] = pc.t_res - pc.t_mel;
            t_skip[r - 1] = t2 - pc.t_res;
            t_all[r - 1] = t2 - t0;
        }
        ltx_tensor_free(mel), ltx_tensor_free(w);
    }
    const double all = bench_median(t_all, reps), voc_t = all - bench_median(t_dec, reps);
    printf("audio decode + vocode, %s models, T_a = %d latent frames -> %lld mel frames -> "
           "%.2f s of 48 kHz stereo; %d threads, median of %d\n",
           real ? "LTX-2.3 22B-size (random weights)" : "tiny checkpoint", Ta, (long long)Tm,
           audio_s, ltx_threadpool_size(pool), reps);
    printf("  audio VAE decoder      %8.3f s\n", bench_median(t_dec, reps));
    printf("  vocoder main generator %8.3f s\n", bench_median(t_gen, reps));
    printf("  BWE causal STFT mel    %8.3f s\n", bench_median(t_mel, reps));
    printf("  BWE generator          %8.3f s\n", bench_median(t_bwe, reps));
    printf("  resampler skip + sum   %8.3f s\n", bench_median(t_skip, reps));
    printf("  total                  %8.3f s   real-time factor %.2fx (audio s / compute s)\n", all,
           audio_s / all);
    printf("  baseline: bare sgemm %d x %d x %d at %.1f GFLOP/s; vocoder convs %.1f GFLOP -> "
           "GEMM-equivalent %.3f s; vocoder / GEMM-equivalent = %.2f\n",
           GM, GN, GK, gemm_gflops, voc_flops * 1e-9, voc_flops * 1e-9 / gemm_gflops,
           voc_t / (voc_flops * 1e-9 / gemm_gflops));
    free(A), free(B), free(Cm);
    ltx_tensor_free(lat);
    ltx_audio_decoder_free(dec);
    ltx_vocoder_free(voc);
    ltx_st_close(st);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
