/*
 * transformer_block.c — one LTX-2 transformer block (BasicAVTransformerBlock) forward on the CPU
 * backend at the configuration of tests/data/golden/perf_block.safetensors, checked against
 * that file, timed, and compared with the time of the same block's matrix products alone.
 *
 * Method:
 *   - Rebuild the reference computation from the golden README ("CPU baseline"): the 1-layer
 *     LTXModel's parameters in byte-wise sorted name order, then the inputs audio_context,
 *     audio_latent, video_context, video_latent, all from one splitmix64 counter stream
 *     u(i) = 2 * (splitmix64(seed + (i+1) * 0x9E3779B97F4A7C15) >> 40) / 2^24 - 1, scaled
 *     (2-D weights u * 2^-floor(log2(fan_in)/2), 1-D weights 1 + u/8, biases u/32, tables u/8).
 *     Weights are f32 (the reference block ran in f32); they go into an in-memory safetensors
 *     file with the file's extra.config as metadata and load through the normal loader.
 *   - Positions from the video/audio initial states (4x24x24 latent grid, fps 24; 126 audio
 *     frames), sigma 0.75 on every token. The block's arguments come from the model's own
 *     preprocessing (not timed) and are checked against args.* (first/last 8 tokens, stats).
 *   - Timed: transformer_blocks.0 forward only (the residual inputs are restored before each
 *     run, outside the timer). One warm-up, then `reps` runs (default 5); median reported.
 *     Each repetition times the block and then the matmul-only set below back to back.
 *     Its outputs are checked against out.block.* (slices atol 1e-3, stats rtol 1e-4); the full
 *     1-layer model velocity against out.model.* once (untimed).
 *   - Matrix products alone: the same block's GEMMs (every linear as x (M,K) @ W^T, and per head
 *     Q K^T and P V of the six attentions with their real sizes) as plain cblas_sgemm calls on
 *     f32 buffers (single products with OpenBLAS's threads, the per-head groups spread over
 *     the thread pool with single-threaded OpenBLAS), `reps` times, median of the total. Reported
 * with its GFLOP count (README: 109.3 GFLOP) and the ratio block / matmuls (goal <= 1.25).
 *   - Also reported: process CPU time (all threads) of block and matmuls, whose ratio is less
 *     sensitive to other processes' load than wall time on a shared machine; per module and
 *     per segment (between the block's taps) both wall and CPU time, per repetition.
 *   - Peak RSS (getrusage) at the end. Last line: `median_s <seconds>` of the block.
 * Allocator: like the README's anchor environment (MALLOC_MMAP_THRESHOLD_/TRIM_THRESHOLD_),
 * glibc is told to keep freed memory (mallopt) so activations are not re-faulted every call.
 * Reference on this machine kind (README): PyTorch CPU median 0.963 s per block.
 * Same-run PyTorch f32 baseline on this machine (ratios per round): bench/block_vs_torch.sh.
 * Options (issue 12): --precision bf16 runs the backend at LTX_PRECISION_BF16 (linear and the
 * attention products on the vdpbf16ps kernels: bf16-rounded inputs — q/k/v and the softmax
 * probabilities for attention — f32 accumulation; norms, softmax statistics, RoPE, GELU and the
 * residual stream stay f32); --weights bf16 stores the block's 2-D Linear weights (attention
 * projections, gates, feed-forward) as bf16, as the real checkpoint ships them (the generated
 * f32 values rounded to nearest even), so the bf16 GEMM reads them in place instead of
 * converting f32 weights to bf16 on every call (at --precision bf16 without it, every linear
 * pays that conversion, which a real run never does); --weights q8_0|q4_k quantizes the same
 * weights to that GGUF block type after loading, with the model's own quantizer (D1's
 * from_float): at --precision bf16 they run on the int8 VNNI kernels (every linear of this block
 * has more than 16 rows: the packed panels of cpu_gemm_int8.c; before 2026-12-07 they ran as
 * dequantized bf16 panels on the vdpbf16ps GEMM). Outside
 * f32 the golden checks are reported with NMSE and max error against the f32 reference
 * instead of the f32 tolerances (the block is expected to differ by the rounding of the mode).
 * --no-matmuls skips the matmul-only baseline (for profiling the block alone; the ratio lines
 * are then meaningless).
 * Usage: transformer_block [reps] [--precision f32|bf16] [--weights f32|bf16|q8_0|q4_k]
 *                          [--no-matmuls]
 *   (threads = all online CPUs for the pool; OpenBLAS single-threaded inside the backend)
 *
 * --device cuda (CUDA builds; src/backend/cuda): the block at the 22B model's widths — video
 * 4096 = 32 x 128, audio 2048 = 32 x 64, FFN 4x, text context 1024 tokens, 126 audio tokens —
 * at 6144 (16 x 16 x 24 latent grid, stage 1 at 512x768x121) and 24576 (16 x 32 x 48) video
 * tokens, with random bf16 weights (xorshift, scaled like the README stream; no golden exists
 * at these widths: outputs are checked finite only). perf_block's config with the widths
 * replaced; in-memory bf16 checkpoint through the normal loader (weights uploaded once).
 *   - Timed: transformer_blocks.0 forward; residual inputs restored and the device synchronised
 *     before each run (outside the timer); the timer stops after a device synchronize. One
 *     warm-up, `--reps` runs (default 5), median. Host syncs per call = the backend's counter
 *     across the forward alone. TFLOP/s from the GEMM + attention FLOPs (same list as the CPU
 *     bench's matmul baseline); MFU against the bf16 dense peak of the named GPU (H100/H200
 *     989 TFLOP/s). A second set of runs records CUDA events around every GEMM and attention
 *     call (ltx_cuda_timing_*) for the GEMM / attention / other split.
 *   - Then the full forward with `--layers` blocks (default 48) at 6144 tokens: resident, and
 *     with layer streaming (`--prefetch`, default 2) on the same model; median of 2 after one
 *     warm-up each; the ratio streaming / resident.
 *   - The eager PyTorch bf16 baseline is bench/torch_block.py, run beside this by
 *     scripts/device_check.sh, which prints the ratios. "RESULT ..." lines are for that script.
 * Usage: transformer_block --device cuda [--reps N] [--tokens 6144,24576] [--layers 48]
 *        [--prefetch 2] [--precision bf16|f32]
 */
#include "bench_util.h"
#include "core/threadpool.h"
#include "io/json.h"
#include "models/ltx_transformer_internal.h"
#include "nn/nn.h"
#include "sampling/patchifier.h"

#include <cblas.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- the README's parameter stream ---- */

static uint64_t splitmix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}

static const uint64_t SEED = 0x1d2c3b4a5f607182ull;

static float stream_u(uint64_t i)
{
    uint64_t z = splitmix64(SEED + (i + 1) * 0x9E3779B97F4A7C15ull);
    return (float)(2.0 * (double)(z >> 40) / 16777216.0 - 1.0);
}

typedef struct param {
    char name[160];
    int ndim;
    int64_t shape[2];
    int64_t numel;
} param;

typedef struct plist {
    param *p;
    int n, cap;
} plist;

static void add_param(void *user, const char *name, int ndim, const int64_t *shape)
{
    plist *L = user;
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        L->p = realloc(L->p, sizeof *L->p * (size_t)L->cap);
        if (!L->p) abort();
    }
    param *q = &L->p[L->n++];
    snprintf(q->name, sizeof q->name, "%s", name);
    q->ndim = ndim;
    q->shape[0] = shape[0];
    q->shape[1] = ndim == 2 ? shape[1] : 1;
    q->numel = q->shape[0] * q->shape[1];
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const param *)a)->name, ((const param *)b)->name);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Builds the in-memory safetensors bytes: all params (prefixed), f32. Returns malloc'd. */
static uint8_t *build_checkpoint(plist *L, const char *config_json, uint64_t *counter, size_t *size)
{
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < L->n; i++) {
        param *q = &L->p[i];
        char full[200];
        snprintf(full, sizeof full, "model.diffusion_model.%s", q->name);
        cJSON *e = cJSON_AddObjectToObject(h, full);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < q->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)q->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += (size_t)q->numel * 4;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    cJSON *md = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(md, "config", config_json);
    char *txt = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(txt), hpad = (hl + 7) / 8 * 8;
    *size = 8 + hpad + off;
    uint8_t *buf = malloc(*size);
    if (!buf) abort();
    uint64_t hl64 = hpad;
    memcpy(buf, &hl64, 8);
    memcpy(buf + 8, txt, hl);
    memset(buf + 8 + hl, ' ', hpad - hl);
    free(txt);
    float *data = (float *)(buf + 8 + hpad);
    for (int i = 0; i < L->n; i++) {
        param *q = &L->p[i];
        float sc;
        int kind; /* 0 weight>=2D, 1 weight 1D, 2 bias, 3 other */
        if (ends_with(q->name, ".weight"))
            kind = q->ndim >= 2 ? 0 : 1;
        else if (ends_with(q->name, ".bias"))
            kind = 2;
        else
            kind = 3;
        sc = kind == 0 ? ldexpf(1.0f, -(int)floor(log2((double)q->shape[1]) / 2)) : 0;
        for (int64_t j = 0; j < q->numel; j++) {
            float u = stream_u((*counter)++);
            float v = kind == 0   ? u * sc
                      : kind == 1 ? 1.0f + u / 8.0f
                      : kind == 2 ? u / 32.0f
                                  : u / 8.0f;
            *data++ = v;
        }
    }
    return buf;
}

static ltx_tensor *stream_tensor(ltx_backend *be, uint64_t *counter, int64_t a, int64_t b,
                                 int64_t c)
{
    int64_t n = a * b * c;
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) abort();
    for (int64_t i = 0; i < n; i++)
        v[i] = stream_u((*counter)++);
    int64_t shape[3] = {a, b, c};
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, 3, shape, v);
    free(v);
    return t;
}

/* ---- checks against the golden's slices and stats ---- */

static int n_fail;
static bool g_lowp; /* bf16 / quantized run: report NMSE, bound 1e-3 instead of the f32 atol */

/* t viewed as (N, W) rows (token-major). */
static void check(const ltx_st_file *gf, const char *name, const ltx_tensor *t, int64_t W)
{
    float *v = ltx_tensor_to_host_f32(t);
    int64_t n = ltx_tensor_numel(t), N = n / W;
    char key[128];
    double worst = 0, g_num = 0, g_den = 0;
    for (int part = 0; part < 2; part++) {
        snprintf(key, sizeof key, "%s.%s", name, part ? "last8" : "first8");
        int64_t cnt = 0;
        float *ref = ltx_st_read_f32(gf, key, &cnt);
        if (!ref || cnt != 8 * W) {
            printf("check %-28s: %s missing or %lld != 8 x %lld\n", key, key, (long long)cnt,
                   (long long)W);
            n_fail++;
            free(ref);
            continue;
        }
        int64_t r0 = part ? N - 8 : 0;
        for (int64_t i = 0; i < 8 * W; i++) {
            worst = fmax(worst, fabs(v[r0 * W + i] - ref[i]));
            g_num += (v[r0 * W + i] - ref[i]) * (double)(v[r0 * W + i] - ref[i]);
            g_den += (double)ref[i] * ref[i];
        }
        free(ref);
    }
    double st[4] = {0, 0, 0, (double)n};
    for (int64_t i = 0; i < n; i++)
        st[0] += v[i], st[1] += fabs(v[i]), st[2] += (double)v[i] * v[i];
    snprintf(key, sizeof key, "%s.stats", name);
    int64_t cnt = 0;
    float *ref = ltx_st_read_f32(gf, key, &cnt);
    double srel = 0;
    for (int k = 0; ref && k < 3; k++)
        srel = fmax(srel, fabs(st[k] - ref[k]) / fmax(fabs((double)ref[k]), 1e-30));
    bool ok = ref && worst <= 1e-3 && srel <= 1e-4 && (double)ref[3] == st[3];
    double nmse = g_den > 0 ? g_num / g_den : 0;
    if (g_lowp) { /* low-precision mode: bound the slices' NMSE instead */
        ok = ref && nmse <= 1e-3 && (double)ref[3] == st[3];
        printf("check %-24s slices NMSE %.3g (bound 1e-3) max_abs %.3g  stats max_rel %.3g  %s\n",
               name, nmse, worst, srel, ok ? "PASS" : "FAIL");
    } else {
        printf("check %-24s slices max_abs %.3g (atol 1e-3)  stats max_rel %.3g (rtol 1e-4)  %s\n",
               name, worst, srel, ok ? "PASS" : "FAIL");
    }
    n_fail += !ok;
    free(ref);
    free(v);
}

/* --weights: the block's 2-D Linear weights replaced by copies of type dt (bf16 or quantized). The
 * originals stay owned by the model (its `owned` list); the copies are kept here and the
 * originals put back before the model is freed. */
#define MAX_Q 64
static tf_lin *q_lin[MAX_Q];
static ltx_tensor *q_orig[MAX_Q];
static int n_q;

static void quant_lin(ltx_backend *be, tf_lin *l, ltx_dtype dt)
{
    if (!l->w || n_q == MAX_Q) return;
    ltx_tensor *q = ltx_tensor_to(l->w, be, dt);
    if (!q) {
        fprintf(stderr, "quantize %s: %s\n", l->w->name, ltx_err_message());
        exit(1);
    }
    q_lin[n_q] = l, q_orig[n_q++] = l->w;
    l->w = q;
}

static void quant_block_weights(ltx_backend *be, ltx_transformer *m, ltx_dtype dt)
{
    if (dt == LTX_F32) return;
    tf_block *b = &m->blocks[0];
    tf_attn *at[6] = {&b->attn1, &b->attn2, &b->audio_attn1, &b->audio_attn2, &b->a2v, &b->v2a};
    for (int i = 0; i < 6; i++) {
        tf_lin *ls[5] = {&at[i]->q, &at[i]->k, &at[i]->v, &at[i]->out, &at[i]->gate};
        for (int k = 0; k < 5; k++)
            quant_lin(be, ls[k], dt);
    }
    tf_lin *ff[4] = {&b->ff1, &b->ff2, &b->audio_ff1, &b->audio_ff2};
    for (int k = 0; k < 4; k++)
        quant_lin(be, ff[k], dt);
}

static void unquant_block_weights(void)
{
    for (int i = 0; i < n_q; i++) {
        ltx_tensor_free(q_lin[i]->w);
        q_lin[i]->w = q_orig[i];
    }
    n_q = 0;
}

/* (B, H, T, d) -> token-major (T, H*d) tensor for the pe check */
static ltx_tensor *token_major(ltx_backend *be, const ltx_tensor *t)
{
    static const int perm[4] = {0, 2, 1, 3};
    ltx_tensor *p = ltx_tensor_permute(t, perm);
    ltx_tensor *c = ltx_tensor_to(p, be, LTX_F32);
    ltx_tensor_free(p);
    return c;
}

/* ---- matmul-only baseline ---- */

typedef struct gemm {
    int64_t count, M, N, K;
    int module;
} gemm;

/* Modules in block order; a tap named "block0.<module>.out" ends each one's segment. */
#define N_MOD 8
static const char *MODS[N_MOD] = {
    "attn1", "attn2",   "audio_attn1", "audio_attn2", "audio_to_video_attn", "video_to_audio_attn",
    "ff",    "audio_ff"};
static int cur_mod;
static double mod_gemm[N_MOD], mod_block[N_MOD], seg_t0, mod_t0;
static double mod_cpu[N_MOD], seg_c0, mod_c0; /* process CPU time, the same segments */

static int n_g;
static gemm G[64];

static void add_g(int64_t count, int64_t M, int64_t N, int64_t K)
{
    G[n_g++] = (gemm){count, M, N, K, cur_mod};
}

/* Tap callback: wall and process CPU time between consecutive taps, accumulated per tap name. The
 * "block0.<m>.in" taps end the modulation segments, "block0.<m>.out" the module's own work
 * (projections, attention, gate); the time after the last tap is the final residual. */
#define MAX_SEG 32
static char seg_name[MAX_SEG][64];
static double seg_time[MAX_SEG], seg_cpu[MAX_SEG];
static int n_seg;

static void seg_add(const char *name, double dt, double dc)
{
    int i = 0;
    while (i < n_seg && strcmp(seg_name[i], name))
        i++;
    if (i == n_seg) {
        if (n_seg == MAX_SEG) return;
        snprintf(seg_name[n_seg++], sizeof seg_name[0], "%s", name);
    }
    seg_time[i] += dt;
    seg_cpu[i] += dc;
}

static void seg_tap(void *user, const char *name, const ltx_tensor *t)
{
    (void)user, (void)t;
    double tn = bench_now(), cn = bench_cpu_now();
    seg_add(name, tn - seg_t0, cn - seg_c0);
    for (int i = 0; i < N_MOD; i++) {
        char want[64];
        snprintf(want, sizeof want, "block0.%s.out", MODS[i]);
        if (!strcmp(name, want))
            mod_block[i] += tn - mod_t0, mod_t0 = tn, mod_cpu[i] += cn - mod_c0, mod_c0 = cn;
    }
    seg_t0 = tn, seg_c0 = cn;
}

/* one attention module's products: q from Tq x qd, k/v from Tk x cd, inner = H*d */
static void attn_gemms(int64_t Tq, int64_t qd, int64_t Tk, int64_t cd, int64_t H, int64_t d,
                       bool gated)
{
    int64_t inner = H * d;
    add_g(1, Tq, inner, qd);        /* to_q */
    add_g(2, Tk, inner, cd);        /* to_k, to_v */
    add_g(1, Tq, qd, inner);        /* to_out */
    if (gated) add_g(1, Tq, H, qd); /* to_gate_logits */
    add_g(H, Tq, Tk, d);            /* Q K^T per head */
    add_g(H, Tq, d, Tk);            /* P V per head */
}

typedef struct gemm_task {
    const gemm *g;
    const float *a, *b;
    float *c; /* one (M, N) output per worker */
    int64_t cstride;
} gemm_task;

static void gemm_worker(void *ctx, int64_t begin, int64_t end, int worker)
{
    gemm_task *t = ctx;
    const gemm *g = t->g;
    for (int64_t r = begin; r < end; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f,
                    t->a, (int)g->K, t->b, (int)g->K, 0.0f, t->c + worker * t->cstride, (int)g->N);
}

/* Single products use OpenBLAS's threads; per-head groups are spread over the pool with
 * single-threaded OpenBLAS (what the backend's attention does, and faster than threading each
 * small product). */
static double run_gemms(ltx_threadpool *pool, float *a, float *b, float *c, int64_t cstride)
{
    double t0 = bench_now();
    for (int i = 0; i < n_g; i++) {
        double tg0 = bench_now();
        if (G[i].count == 1) { /* OpenBLAS threads for single products (the backend leaves
                                * OpenBLAS single-threaded, its rule; the baseline keeps the
                                * original method) */
            openblas_set_num_threads(ltx_threadpool_size(pool));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)G[i].M, (int)G[i].N,
                        (int)G[i].K, 1.0f, a, (int)G[i].K, b, (int)G[i].K, 0.0f, c, (int)G[i].N);
            openblas_set_num_threads(1);
            mod_gemm[G[i].module] += bench_now() - tg0;
            continue;
        }
        int saved = openblas_get_num_threads();
        openblas_set_num_threads(1);
        gemm_task t = {&G[i], a, b, c, cstride};
        ltx_threadpool_for(pool, G[i].count, 1, gemm_worker, &t);
        openblas_set_num_threads(saved);
        mod_gemm[G[i].module] += bench_now() - tg0;
    }
    return bench_now() - t0;
}

/* ---- --device cuda: the block at the 22B model's widths on the GPU ---- */
#ifdef LTX_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"

/* One parameter's values, bf16, scaled as build_checkpoint does (fast xorshift instead of the
 * README stream: these widths have no golden). */
typedef struct fill_job {
    const plist *L;
    const size_t *off; /* byte offset of each parameter's data */
    uint8_t *data;
} fill_job;

static void fill_params(void *ctx, int64_t begin, int64_t end, int worker)
{
    (void)worker;
    const fill_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        const param *q = &j->L->p[i];
        uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) | 1;
        int kind = ends_with(q->name, ".weight") ? (q->ndim >= 2 ? 0 : 1)
                   : ends_with(q->name, ".bias") ? 2
                                                 : 3;
        float sc = kind == 0 ? ldexpf(1.0f, -(int)floor(log2((double)q->shape[1]) / 2)) : 0;
        uint16_t *d = (uint16_t *)(j->data + j->off[i]);
        for (int64_t k = 0; k < q->numel; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            float u = (float)((double)(x >> 40) / 8388608.0 - 1.0);
            float v = kind == 0   ? u * sc
                      : kind == 1 ? 1.0f + u / 8.0f
                      : kind == 2 ? u / 32.0f
                                  : u / 8.0f;
            d[k] = ltx_f32_to_bf16(v);
        }
    }
}

/* In-memory bf16 safetensors with every parameter of cfg_json (prefixed). Returns malloc'd. */
static uint8_t *build_bf16_checkpoint(const char *cfg_json, ltx_threadpool *pool, size_t *size)
{
    ltx_transformer_config cfg;
    if (ltx_transformer_config_parse(cfg_json, false, &cfg) != LTX_OK) return NULL;
    plist L = {0};
    ltx_transformer_list_params(&cfg, add_param, &L);
    qsort(L.p, (size_t)L.n, sizeof *L.p, cmp_param);
    cJSON *h = cJSON_CreateObject();
    size_t off = 0, *offs = malloc(sizeof(size_t) * (size_t)L.n);
    for (int i = 0; i < L.n; i++) {
        char full[200];
        snprintf(full, sizeof full, "model.diffusion_model.%s", L.p[i].name);
        cJSON *e = cJSON_AddObjectToObject(h, full);
        cJSON_AddStringToObject(e, "dtype", "BF16");
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < L.p[i].ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)L.p[i].shape[d]));
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        offs[i] = off;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += (size_t)L.p[i].numel * 2;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    cJSON_AddStringToObject(cJSON_AddObjectToObject(h, "__metadata__"), "config", cfg_json);
    char *txt = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(txt), hpad = (hl + 7) / 8 * 8;
    *size = 8 + hpad + off;
    uint8_t *buf = malloc(*size);
    if (!buf) abort();
    uint64_t hl64 = hpad;
    memcpy(buf, &hl64, 8);
    memcpy(buf + 8, txt, hl);
    memset(buf + 8 + hl, ' ', hpad - hl);
    free(txt);
    fill_job j = {&L, offs, buf + 8 + hpad};
    ltx_threadpool_for(pool, L.n, 1, fill_params, &j);
    free(offs);
    free(L.p);
    return buf;
}

/* perf_block's config with the 22B widths and `layers` blocks (malloc'd JSON). */
static char *config_22b(const char *perf_config, int layers)
{
    cJSON *c = cJSON_Parse(perf_config);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "transformer");
    struct {
        const char *k;
        double v;
    } set[] = {{"num_attention_heads", 32},
               {"attention_head_dim", 128},
               {"audio_num_attention_heads", 32},
               {"audio_attention_head_dim", 64},
               {"cross_attention_dim", 4096},
               {"audio_cross_attention_dim", 2048},
               {"num_layers", layers}};
    for (size_t i = 0; t && i < sizeof set / sizeof set[0]; i++)
        cJSON_ReplaceItemInObjectCaseSensitive(t, set[i].k, cJSON_CreateNumber(set[i].v));
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

/* The modalities of one run: (F, H, W) latent grid, 126 audio frames, 1024 text tokens. */
typedef struct gpu_inputs {
    ltx_latent_state vs, as;
    ltx_tensor *v_lat, *a_lat, *v_ctx, *a_ctx, *sigma, *vts, *ats;
    ltx_modality vm, am;
} gpu_inputs;

static ltx_status gpu_inputs_make(ltx_backend *be, const ltx_transformer_config *cfg,
                                  const int64_t grid[3], gpu_inputs *in)
{
    memset(in, 0, sizeof *in);
    uint64_t ctr = 12345;
    int64_t Tv = grid[0] * grid[1] * grid[2], Ta = 126, Lt = 1024;
    in->v_lat = stream_tensor(be, &ctr, 1, Tv, 128);
    in->a_lat = stream_tensor(be, &ctr, 1, Ta, 128);
    in->v_ctx = stream_tensor(be, &ctr, 1, Lt, cfg->cross_attention_dim);
    in->a_ctx = stream_tensor(be, &ctr, 1, Lt, cfg->audio_cross_attention_dim);
    int64_t vshape[5] = {1, 128, grid[0], grid[1], grid[2]}, ashape[4] = {1, 8, Ta, 16};
    int scale[3] = {8, 32, 32};
    ltx_audio_timing tm;
    ltx_audio_timing_default(&tm);
    LTX_TRY(ltx_video_initial_state(be, vshape, 1, scale, true, 24.0, NULL, LTX_F32, &in->vs));
    LTX_TRY(ltx_audio_initial_state(be, ashape, &tm, NULL, &in->as));
    float sg = 0.75f;
    int64_t one = 1;
    in->sigma = ltx_tensor_from_host(be, LTX_F32, 1, &one, &sg);
    in->vts = ltx_nn_unary(be, LTX_UNARY_SCALE, in->vs.denoise_mask, 0.75, 0.0);
    in->ats = ltx_nn_unary(be, LTX_UNARY_SCALE, in->as.denoise_mask, 0.75, 0.0);
    if (!in->v_lat || !in->a_lat || !in->v_ctx || !in->a_ctx || !in->sigma || !in->vts || !in->ats)
        return ltx_err(LTX_ERR_OOM, "bench inputs");
    in->vm = (ltx_modality){.latent = in->v_lat,
                            .sigma = in->sigma,
                            .timesteps = in->vts,
                            .positions = in->vs.positions,
                            .context = in->v_ctx,
                            .enabled = true};
    in->am = (ltx_modality){.latent = in->a_lat,
                            .sigma = in->sigma,
                            .timesteps = in->ats,
                            .positions = in->as.positions,
                            .context = in->a_ctx,
                            .enabled = true};
    return LTX_OK;
}

static void gpu_inputs_free(gpu_inputs *in)
{
    ltx_tensor *fr[] = {in->v_lat, in->a_lat, in->v_ctx, in->a_ctx, in->sigma, in->vts, in->ats};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    ltx_latent_state_clear(&in->vs);
    ltx_latent_state_clear(&in->as);
}

static bool all_finite(const ltx_tensor *t)
{
    float *v = ltx_tensor_to_host_f32(t);
    bool ok = v != NULL;
    for (int64_t i = 0; ok && i < ltx_tensor_numel(t); i++)
        ok = isfinite(v[i]);
    free(v);
    return ok;
}

/* GEMM + attention FLOPs of one block (the G list of the CPU bench, at these sizes). */
static double block_flops(const ltx_transformer_config *cfg, int64_t Tv, int64_t Ta, int64_t Lt)
{
    n_g = 0;
    bool g = cfg->gated_attention;
    int H = cfg->heads, d = cfg->head_dim, Ha = cfg->audio_heads, dA = cfg->audio_head_dim;
    int64_t D = (int64_t)H * d, Da = (int64_t)Ha * dA;
    attn_gemms(Tv, D, Tv, D, H, d, g);
    attn_gemms(Tv, D, Lt, cfg->cross_attention_dim, H, d, g);
    attn_gemms(Ta, Da, Ta, Da, Ha, dA, g);
    attn_gemms(Ta, Da, Lt, cfg->audio_cross_attention_dim, Ha, dA, g);
    attn_gemms(Tv, D, Ta, Da, Ha, dA, g);
    attn_gemms(Ta, Da, Tv, D, Ha, dA, g);
    add_g(1, Tv, 4 * D, D), add_g(1, Tv, D, 4 * D), add_g(1, Ta, 4 * Da, Da),
        add_g(1, Ta, Da, 4 * Da);
    double f = 0;
    for (int i = 0; i < n_g; i++)
        f += 2.0 * (double)G[i].count * (double)G[i].M * (double)G[i].N * (double)G[i].K;
    return f;
}

/* bf16 dense peak (TFLOP/s) by GPU name; 0 when unknown. */
static double peak_tflops(const char *name)
{
    if (strstr(name, "H100") || strstr(name, "H200") || strstr(name, "GH200")) return 989.0;
    if (strstr(name, "A100")) return 312.0;
    if (strstr(name, "L40S")) return 362.0;
    return 0.0;
}

/* One block at grid (F, H, W): ms/block (median), syncs/call, GEMM/attention split. */
static int gpu_block_run(ltx_backend *be, ltx_threadpool *pool, const char *perf_cfg,
                         const int64_t grid[3], int reps)
{
    char *cj = config_22b(perf_cfg, 1);
    size_t ck_size = 0;
    double tb0 = bench_now();
    uint8_t *ck = build_bf16_checkpoint(cj, pool, &ck_size);
    ltx_st_file *mf = NULL;
    ltx_transformer *m = NULL;
    gpu_inputs in = {0};
    tf_args va = {0}, aa = {0};
    int rc = 1;
    if (!ck || ltx_st_open_memory(ck, ck_size, "block_22b(in memory)", &mf) != LTX_OK ||
        ltx_transformer_load(mf, be, false, &m) != LTX_OK) {
        fprintf(stderr, "model: %s\n", ltx_err_message());
        goto done;
    }
    const ltx_transformer_config *cfg = ltx_transformer_get_config(m);
    if (gpu_inputs_make(be, cfg, grid, &in) != LTX_OK) {
        fprintf(stderr, "inputs: %s\n", ltx_err_message());
        goto done;
    }
    tf_ctx c = {.m = m, .be = be, .B = 1};
    if (ltx_tf_prepare(&c, true, &in.vm, &in.am, &va) != LTX_OK ||
        ltx_tf_prepare(&c, false, &in.am, &in.vm, &aa) != LTX_OK) {
        fprintf(stderr, "prepare: %s\n", ltx_err_message());
        goto done;
    }
    int64_t Tv = grid[0] * grid[1] * grid[2];
    printf("block %lld video tokens: %.1f MiB bf16 weights built+loaded in %.1f s\n", (long long)Tv,
           (double)ck_size / 1048576.0, bench_now() - tb0);
    ltx_tensor *vx0 = ltx_tensor_to(va.x, be, LTX_F32), *ax0 = ltx_tensor_to(aa.x, be, LTX_F32);
    double *t = malloc(sizeof(double) * (size_t)reps);
    uint64_t syncs = 0;
    double gemm_ms = 0, attn_ms = 0, split_total = 0;
    for (int pass = 0; pass < 2; pass++) { /* 0: plain timing; 1: with op-class events */
        if (pass == 1) ltx_cuda_timing_begin();
        for (int r = -1; r < reps; r++) {
            be->ops->copy(be, va.x, vx0);
            be->ops->copy(be, aa.x, ax0);
            be->ops->synchronize(be);
            uint64_t s0 = be->n_host_syncs;
            double t0 = bench_now();
            if (ltx_tf_block_forward(&c, 0, &va, &aa) != LTX_OK) {
                fprintf(stderr, "block: %s\n", ltx_err_message());
                goto done;
            }
            uint64_t s1 = be->n_host_syncs;
            be->ops->synchronize(be);
            double dt = bench_now() - t0;
            if (r < 0 && pass == 1) ltx_cuda_timing_read(&gemm_ms, &attn_ms); /* drop warm-up */
            if (r < 0) continue;
            if (pass == 0)
                t[r] = dt, syncs = s1 - s0;
            else
                split_total += dt;
        }
        if (pass == 1) {
            ltx_cuda_timing_read(&gemm_ms, &attn_ms);
            ltx_cuda_timing_stop();
        }
    }
    bool finite = all_finite(va.x) && all_finite(aa.x);
    double med = bench_median(t, reps), fl = block_flops(cfg, Tv, 126, 1024);
    double pk = peak_tflops(ltx_cuda_device_name(be)), tfs = fl / med * 1e-12;
    split_total *= 1e3 / reps, gemm_ms /= reps, attn_ms /= reps;
    printf("block %lld tokens: %.3f ms/block (median of %d), %.1f TFLOP in GEMM+attention, "
           "%.1f TFLOP/s, MFU %.1f%% of %.0f TFLOP/s bf16 (%s)\n",
           (long long)Tv, med * 1e3, reps, fl * 1e-12, tfs, pk > 0 ? 100.0 * tfs / pk : 0.0, pk,
           pk > 0 ? "dense peak" : "unknown GPU: MFU not computed");
    printf("block %lld tokens: host syncs per call %llu; split (event-timed run, %.3f ms): "
           "GEMM %.3f ms (%.0f%%), attention %.3f ms (%.0f%%), other %.3f ms (%.0f%%)\n",
           (long long)Tv, (unsigned long long)syncs, split_total, gemm_ms,
           100 * gemm_ms / split_total, attn_ms, 100 * attn_ms / split_total,
           split_total - gemm_ms - attn_ms, 100 * (split_total - gemm_ms - attn_ms) / split_total);
    printf("RESULT block tokens=%lld ms=%.4f tflops=%.2f mfu=%.4f syncs=%llu gemm_ms=%.4f "
           "attn_ms=%.4f other_ms=%.4f finite=%d\n",
           (long long)Tv, med * 1e3, tfs, pk > 0 ? tfs / pk : 0.0, (unsigned long long)syncs,
           gemm_ms, attn_ms, split_total - gemm_ms - attn_ms, finite);
    rc = finite ? 0 : 2;
    free(t);
    ltx_tensor_free(vx0);
    ltx_tensor_free(ax0);
done:
    ltx_tf_args_clear(&va);
    ltx_tf_args_clear(&aa);
    gpu_inputs_free(&in);
    ltx_transformer_free(m);
    ltx_st_close(mf);
    free(ck);
    free(cj);
    return rc;
}

/* The full forward with `layers` blocks at grid: resident, then streaming with prefetch 2. */
static int gpu_forward_run(ltx_backend *be, ltx_threadpool *pool, const char *perf_cfg,
                           const int64_t grid[3], int layers, int prefetch, int reps)
{
    char *cj = config_22b(perf_cfg, layers);
    size_t ck_size = 0;
    double tb0 = bench_now();
    uint8_t *ck = build_bf16_checkpoint(cj, pool, &ck_size);
    ltx_st_file *mf = NULL;
    ltx_transformer *m = NULL;
    gpu_inputs in = {0};
    int rc = 1;
    if (!ck || ltx_st_open_memory(ck, ck_size, "forward_22b(in memory)", &mf) != LTX_OK ||
        ltx_transformer_load(mf, be, false, &m) != LTX_OK ||
        gpu_inputs_make(be, ltx_transformer_get_config(m), grid, &in) != LTX_OK) {
        fprintf(stderr, "forward setup: %s\n", ltx_err_message());
        goto done;
    }
    printf("forward: %d blocks, %.1f GiB bf16 checkpoint built+loaded in %.1f s\n", layers,
           (double)ck_size / 1073741824.0, bench_now() - tb0);
    double med[2] = {0, 0};
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 1 &&
            ltx_transformer_set_streaming(m, mf, prefetch, LTX_PREFETCH_ADVISE) != LTX_OK) {
            fprintf(stderr, "streaming: %s\n", ltx_err_message());
            goto done;
        }
        double *t = malloc(sizeof(double) * (size_t)reps);
        uint64_t s0 = 0, s1 = 0;
        for (int r = -1; r < reps; r++) {
            ltx_tensor *vo = NULL, *ao = NULL;
            be->ops->synchronize(be);
            s0 = be->n_host_syncs;
            double t0 = bench_now();
            ltx_status s = ltx_transformer_forward(m, &in.vm, &in.am, NULL, NULL, &vo, &ao);
            s1 = be->n_host_syncs;
            be->ops->synchronize(be);
            if (r >= 0) t[r] = bench_now() - t0;
            ltx_tensor_free(vo);
            ltx_tensor_free(ao);
            if (s != LTX_OK) {
                fprintf(stderr, "forward: %s\n", ltx_err_message());
                free(t);
                goto done;
            }
        }
        med[mode] = bench_median(t, reps);
        free(t);
        printf("RESULT forward mode=%s layers=%d tokens=%lld s=%.4f syncs=%llu peak_gib=%.2f\n",
               mode ? "streaming" : "resident", layers, (long long)(grid[0] * grid[1] * grid[2]),
               med[mode], (unsigned long long)(s1 - s0),
               (double)be->peak_device_bytes / 1073741824.0);
    }
    printf("forward %d blocks: resident %.3f s, streaming (prefetch %d) %.3f s, ratio %.2f "
           "(goal <= 1.5)\n",
           layers, med[0], prefetch, med[1], med[1] / med[0]);
    rc = 0;
done:
    gpu_inputs_free(&in);
    ltx_transformer_free(m);
    ltx_st_close(mf);
    free(ck);
    free(cj);
    return rc;
}

/* transformer_block --device cuda [--reps N] [--tokens 6144,24576] [--layers 48]
 *                   [--prefetch 2] [--precision bf16|f32] */
static int cuda_main(int argc, char **argv)
{
    int reps = 5, layers = 48, prefetch = 2;
    const char *tokens = "6144,24576", *prec = "bf16";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            tokens = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc)
            layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prefetch") && i + 1 < argc)
            prefetch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            prec = argv[++i];
    }
    if (reps < 1) reps = 1;
    ltx_log log = {.level = LTX_LOG_WARN, .fn = ltx_log_stderr};
    ltx_threadpool *pool = ltx_threadpool_create((int)sysconf(_SC_NPROCESSORS_ONLN));
    ltx_backend *be = NULL;
    if (ltx_backend_create("cuda", &log, pool, false, &be) != LTX_OK) {
        fprintf(stderr, "transformer_block --device cuda: %s\n", ltx_err_message());
        ltx_threadpool_destroy(pool);
        return 1;
    }
    if (!ltx_precision_parse(prec, &be->precision)) {
        fprintf(stderr, "--precision %s: want f32 or bf16\n", prec);
        return 1;
    }
    /* LTX_TEST_DATA in the environment: the data folder on a machine other than the build's */
    char gpath[4096];
    const char *data = getenv("LTX_TEST_DATA");
    snprintf(gpath, sizeof gpath, "%s/golden/perf_block.safetensors", data ? data : LTX_TEST_DATA);
    ltx_st_file *gf = NULL;
    if (ltx_st_open(gpath, &gf) != LTX_OK) {
        fprintf(stderr, "%s\n", ltx_err_message());
        return 1;
    }
    cJSON *extra = cJSON_Parse(ltx_st_metadata(gf, "extra"));
    char *perf_cfg = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(extra, "config"));
    printf("GPU: %s; precision %s; widths video 32x128, audio 32x64, FFN 4x; 126 audio tokens, "
           "1024 text tokens; random bf16 weights\n",
           ltx_cuda_device_name(be), ltx_precision_name(be->precision));
    int rc = 0;
    for (const char *p = tokens; *p;) {
        long tv = strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
        /* latent grids: 6144 = 16 x 16 x 24 (512x768x121), 24576 = 16 x 32 x 48 */
        int64_t grid[3] = {16, 16, 24};
        if (tv == 24576)
            grid[1] = 32, grid[2] = 48;
        else if (tv != 6144)
            grid[0] = 1, grid[1] = 1, grid[2] = tv;
        rc |= gpu_block_run(be, pool, perf_cfg, grid, reps);
    }
    if (layers > 0) {
        int64_t grid[3] = {16, 16, 24};
        rc |= gpu_forward_run(be, pool, perf_cfg, grid, layers, prefetch, 2);
    }
    printf("peak device memory %.2f GiB; host syncs total %llu\n",
           (double)be->peak_device_bytes / 1073741824.0, (unsigned long long)be->n_host_syncs);
    free(perf_cfg);
    cJSON_Delete(extra);
    ltx_st_close(gf);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return rc;
}
#endif

/* The CPU bench (the method at the top of the file). */
static int cpu_main(int argc, char **argv)
{
    /* The README anchor ran PyTorch with MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ raised
     * so freed activations are reused instead of re-faulted from the kernel on every call; the
     * same allocator policy here (set before any allocation). */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    int reps = 5;
    const char *prec = "f32", *wq = "f32";
    bool no_mm = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-matmuls"))
            no_mm = true;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            prec = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc)
            wq = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            i++; /* "--device cpu" */
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: transformer_block [reps] [--precision f32|bf16] "
                   "[--weights f32|bf16|q8_0|q4_k] [--no-matmuls]\n"
                   "       transformer_block --device cuda [--reps N] [--tokens 6144,24576] "
                   "[--layers 48] [--prefetch 2] [--precision bf16|f32]\n"
                   "  one LTX-2 block on perf_block.safetensors' config, checked against it and "
                   "timed (method: bench/transformer_block.c)\n");
            return 0;
        } else if (argv[i][0] >= '1' && argv[i][0] <= '9' &&
                   strspn(argv[i], "0123456789") == strlen(argv[i]))
            reps = atoi(argv[i]);
        else {
            fprintf(stderr, "transformer_block: unexpected argument '%s' (--help)\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    ltx_dtype wdt = LTX_F32;
    if (strcmp(prec, "f32") && strcmp(prec, "bf16")) {
        fprintf(stderr, "transformer_block: --precision '%s' is not f32|bf16\n", prec);
        return 1;
    }
    if (!strcmp(wq, "bf16"))
        wdt = LTX_BF16;
    else if (!strcmp(wq, "q8_0"))
        wdt = LTX_Q8_0;
    else if (!strcmp(wq, "q4_k"))
        wdt = LTX_Q4_K;
    else if (strcmp(wq, "f32")) {
        fprintf(stderr, "transformer_block: --weights '%s' is not f32|bf16|q8_0|q4_k\n", wq);
        return 1;
    }
    g_lowp = strcmp(prec, "f32") || wdt != LTX_F32;
    int nth = (int)sysconf(_SC_NPROCESSORS_ONLN);
    ltx_log log = {.level = LTX_LOG_WARN, .fn = ltx_log_stderr};
    ltx_threadpool *pool = ltx_threadpool_create(nth);
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(false, &log, pool, &be) != LTX_OK) {
        fprintf(stderr, "backend: %s\n", ltx_err_message());
        return 1;
    }
    const char *gpath = LTX_TEST_DATA "/golden/perf_block.safetensors";
    ltx_st_file *gf = NULL;
    if (ltx_st_open(gpath, &gf) != LTX_OK) {
        fprintf(stderr, "%s\n", ltx_err_message());
        return 1;
    }
    cJSON *extra = cJSON_Parse(ltx_st_metadata(gf, "extra"));
    char *config = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(extra, "config"));
    int64_t stream_len = ltx_json_int(extra, "param_stream_length", 0);
    ltx_transformer_config cfg;
    if (ltx_transformer_config_parse(config, false, &cfg) != LTX_OK) {
        fprintf(stderr, "config: %s\n", ltx_err_message());
        return 1;
    }
    /* parameters in byte-wise sorted order, then the inputs */
    plist L = {0};
    ltx_transformer_list_params(&cfg, add_param, &L);
    qsort(L.p, (size_t)L.n, sizeof *L.p, cmp_param);
    uint64_t counter = 0;
    size_t ck_size = 0;
    double tg = bench_now();
    uint8_t *ck = build_checkpoint(&L, config, &counter, &ck_size);
    int64_t Tv = 4 * 24 * 24, Ta = 126, Lt = 512;
    int D = cfg.heads * cfg.head_dim, Da = cfg.audio_heads * cfg.audio_head_dim;
    ltx_tensor *a_ctx = stream_tensor(be, &counter, 1, Lt, cfg.audio_cross_attention_dim);
    ltx_tensor *a_lat = stream_tensor(be, &counter, 1, Ta, 128);
    ltx_tensor *v_ctx = stream_tensor(be, &counter, 1, Lt, cfg.cross_attention_dim);
    ltx_tensor *v_lat = stream_tensor(be, &counter, 1, Tv, 128);
    printf("generated %llu stream values (file says %lld) in %.1f s; %d parameter tensors\n",
           (unsigned long long)counter, (long long)stream_len, bench_now() - tg, L.n);
    if ((int64_t)counter != stream_len) n_fail++;
    ltx_st_file *mf = NULL;
    ltx_transformer *m = NULL;
    if (ltx_st_open_memory(ck, ck_size, "perf_block(in memory)", &mf) != LTX_OK ||
        ltx_transformer_load(mf, be, false, &m) != LTX_OK) {
        fprintf(stderr, "model: %s\n", ltx_err_message());
        return 1;
    }
    be->precision = strcmp(prec, "bf16") ? LTX_PRECISION_F32 : LTX_PRECISION_BF16;
    quant_block_weights(be, m, wdt);
    check(gf, "in.video_latent", v_lat, 128);
    check(gf, "in.audio_latent", a_lat, 128);
    /* modalities */
    ltx_latent_state vs, as;
    int64_t vshape[5] = {1, 128, 4, 24, 24}, ashape[4] = {1, 8, Ta, 16};
    int scale[3] = {8, 32, 32};
    ltx_audio_timing tm;
    ltx_audio_timing_default(&tm);
    if (ltx_video_initial_state(be, vshape, 1, scale, true, 24.0, NULL, LTX_F32, &vs) != LTX_OK ||
        ltx_audio_initial_state(be, ashape, &tm, NULL, &as) != LTX_OK) {
        fprintf(stderr, "states: %s\n", ltx_err_message());
        return 1;
    }
    float sg = 0.75f;
    int64_t one = 1;
    ltx_tensor *sigma = ltx_tensor_from_host(be, LTX_F32, 1, &one, &sg);
    ltx_tensor *vts = ltx_nn_unary(be, LTX_UNARY_SCALE, vs.denoise_mask, 0.75, 0.0);
    ltx_tensor *ats = ltx_nn_unary(be, LTX_UNARY_SCALE, as.denoise_mask, 0.75, 0.0);
    ltx_modality vm = {.latent = v_lat,
                       .sigma = sigma,
                       .timesteps = vts,
                       .positions = vs.positions,
                       .context = v_ctx,
                       .enabled = true};
    ltx_modality am = {.latent = a_lat,
                       .sigma = sigma,
                       .timesteps = ats,
                       .positions = as.positions,
                       .context = a_ctx,
                       .enabled = true};
    tf_ctx c = {.m = m, .be = be, .B = 1};
    tf_args va, aa;
    if (ltx_tf_prepare(&c, true, &vm, &am, &va) != LTX_OK ||
        ltx_tf_prepare(&c, false, &am, &vm, &aa) != LTX_OK) {
        fprintf(stderr, "prepare: %s\n", ltx_err_message());
        return 1;
    }
    check(gf, "args.video_x", va.x, D);
    check(gf, "args.audio_x", aa.x, Da);
    {
        int64_t es[3] = {1, Tv, va.timesteps->shape[2]};
        ltx_tensor *e = ltx_tensor_expand(va.timesteps, 3, es);
        check(gf, "args.video_timesteps", e, es[2]);
        ltx_tensor_free(e);
        ltx_tensor *pc = token_major(be, va.pe_cos);
        check(gf, "args.video_pe_cos", pc, pc->shape[2] * pc->shape[3]);
        ltx_tensor_free(pc);
    }
    ltx_tensor *vx0 = ltx_tensor_to(va.x, be, LTX_F32), *ax0 = ltx_tensor_to(aa.x, be, LTX_F32);
    /* matmul-only baseline with the same shapes */
    bool g = cfg.gated_attention;
    int H = cfg.heads, d = cfg.head_dim, Ha = cfg.audio_heads, dA = cfg.audio_head_dim;
    cur_mod = 0, attn_gemms(Tv, D, Tv, D, H, d, g);                                /* attn1 */
    cur_mod = 1, attn_gemms(Tv, D, Lt, cfg.cross_attention_dim, H, d, g);          /* attn2 */
    cur_mod = 2, attn_gemms(Ta, Da, Ta, Da, Ha, dA, g);                            /* audio_attn1 */
    cur_mod = 3, attn_gemms(Ta, Da, Lt, cfg.audio_cross_attention_dim, Ha, dA, g); /* audio_attn2 */
    cur_mod = 4, attn_gemms(Tv, D, Ta, Da, Ha, dA, g); /* audio_to_video_attn */
    cur_mod = 5, attn_gemms(Ta, Da, Tv, D, Ha, dA, g); /* video_to_audio_attn */
    cur_mod = 6;
    add_g(1, Tv, 4 * (int64_t)D, D);
    add_g(1, Tv, D, 4 * (int64_t)D); /* ff */
    cur_mod = 7;
    add_g(1, Ta, 4 * (int64_t)Da, Da);
    add_g(1, Ta, Da, 4 * (int64_t)Da); /* audio_ff */
    double flops = 0;
    int64_t maxa = 0, maxb = 0, maxc = 0;
    for (int i = 0; i < n_g; i++) {
        flops += 2.0 * (double)G[i].count * (double)G[i].M * (double)G[i].N * (double)G[i].K;
        if (G[i].M * G[i].K > maxa) maxa = G[i].M * G[i].K;
        if (G[i].N * G[i].K > maxb) maxb = G[i].N * G[i].K;
        if (G[i].M * G[i].N > maxc) maxc = G[i].M * G[i].N;
    }
    float *ga = calloc((size_t)maxa, 4), *gb = calloc((size_t)maxb, 4);
    float *gc = calloc((size_t)(maxc * nth), 4);
    for (int64_t i = 0; i < maxa; i++)
        ga[i] = stream_u((uint64_t)i) * 0.1f;
    for (int64_t i = 0; i < maxb; i++)
        gb[i] = stream_u((uint64_t)i + 7) * 0.1f;
    if (!no_mm) run_gemms(pool, ga, gb, gc, maxc); /* warm-up */
    memset(mod_gemm, 0, sizeof mod_gemm);
    ltx_taps seg = {.fn = seg_tap};
    /* block and matmuls alternate in every repetition, so load from other processes hits both
     * alike; the block's first (warm-up) run is the checked one */
    double *tb = malloc(sizeof(double) * (size_t)reps),
           *tmm = malloc(sizeof(double) * (size_t)reps);
    double *rat = malloc(sizeof(double) * (size_t)reps);
    double *cb = malloc(sizeof(double) * (size_t)reps), *cm = malloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++) {
        be->ops->copy(be, va.x, vx0);
        be->ops->copy(be, aa.x, ax0);
        c.taps = r >= 0 ? &seg : NULL;
        double c0 = bench_cpu_now(), t0 = bench_now();
        seg_t0 = mod_t0 = t0;
        seg_c0 = mod_c0 = c0;
        if (ltx_tf_block_forward(&c, 0, &va, &aa) != LTX_OK) {
            fprintf(stderr, "block: %s\n", ltx_err_message());
            return 1;
        }
        double dt = bench_now() - t0;
        if (r >= 0) { /* tail: last residual */
            mod_block[N_MOD - 1] += bench_now() - mod_t0;
            mod_cpu[N_MOD - 1] += bench_cpu_now() - mod_c0;
            seg_add("(final residual)", bench_now() - seg_t0, bench_cpu_now() - seg_c0);
        }
        if (r < 0) {
            check(gf, "out.block.video_x", va.x, D);
            check(gf, "out.block.audio_x", aa.x, Da);
        } else {
            tb[r] = dt;
            cb[r] = bench_cpu_now() - c0;
            double c1 = bench_cpu_now();
            tmm[r] = no_mm ? tb[r] : run_gemms(pool, ga, gb, gc, maxc);
            cm[r] = bench_cpu_now() - c1;
            rat[r] = tb[r] / tmm[r];
        }
    }
    double med = bench_median(tb, reps), mm = bench_median(tmm, reps),
           mrat = bench_median(rat, reps);
    double cpu_b = bench_median(cb, reps), cpu_m = bench_median(cm, reps);
    /* full 1-layer model (untimed): velocities */
    be->ops->copy(be, va.x, vx0);
    ltx_tensor *vo = NULL, *ao = NULL;
    if (ltx_transformer_forward(m, &vm, &am, NULL, NULL, &vo, &ao) == LTX_OK) {
        check(gf, "out.model.video_velocity", vo, 128);
        check(gf, "out.model.audio_velocity", ao, 128);
    } else {
        fprintf(stderr, "model forward: %s\n", ltx_err_message());
        n_fail++;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("threads %d, reps %d, precision %s, block weights %s (%d converted); matmul-only "
           "baseline: OpenBLAS f32\n",
           nth, reps, prec, wq, n_q);
    printf("block median %.3f s (min %.3f, max %.3f)\n", med, tb[0], tb[reps - 1]);
    printf("matmuls alone median %.3f s for %.1f GFLOP (%.1f GFLOP/s)\n", mm, flops * 1e-9,
           flops * 1e-9 / mm);
    printf("per module (per rep; block segment ends at the module's output tap; cpu = process CPU "
           "seconds, all threads):\n");
    for (int i = 0; i < N_MOD; i++)
        printf("  %-20s block %7.4f s  cpu %7.4f s  matmuls %7.4f s  ratio %.2f\n", MODS[i],
               mod_block[i] / reps, mod_cpu[i] / reps, mod_gemm[i] / reps,
               mod_block[i] / mod_gemm[i]);
    printf("block segments (per rep, each ends at the named tap):\n");
    for (int i = 0; i < n_seg; i++)
        printf("  %-36s %7.4f s  cpu %7.4f s\n", seg_name[i], seg_time[i] / reps,
               seg_cpu[i] / reps);
    if (no_mm) {
        printf("matmul-only baseline skipped (--no-matmuls): no block / matmuls ratios\n");
        printf("cpu time (all threads): block %.3f s\n", cpu_b);
    } else {
        printf("ratio block / matmuls: median of per-repetition ratios %.3f, ratio of medians "
               "%.3f (goal <= 1.25)\n",
               mrat, med / mm);
        printf("cpu time (all threads): block %.3f s, matmuls %.3f s, ratio %.3f (less "
               "sensitive to other processes' load)\n",
               cpu_b, cpu_m, cpu_b / cpu_m);
    }
    printf("vs PyTorch CPU reference 0.963 s (README anchor): %.2fx faster (goal 1.5x in f32; "
           "3x at --precision bf16, with or without q8_0 weights)\n",
           0.963 / med);
    printf("peak RSS %.1f MiB (incl. the %.1f MiB in-memory f32 checkpoint)\n",
           (double)ru.ru_maxrss / 1024.0, (double)ck_size / 1048576.0);
    printf("checks %s (%d failed)\n", n_fail ? "FAILED" : "passed", n_fail);
    printf("median_s %.4f\n", med);
    /* cleanup */
    ltx_tensor *fr[] = {vo, ao, vx0, ax0, sigma, vts, ats, a_ctx, a_lat, v_ctx, v_lat};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    ltx_tf_args_clear(&va);
    ltx_tf_args_clear(&aa);
    ltx_latent_state_clear(&vs);
    ltx_latent_state_clear(&as);
    unquant_block_weights();
    ltx_transformer_free(m);
    ltx_st_close(mf);
    free(ck);
    free(ga), free(gb), free(gc), free(tb), free(tmm), free(rat), free(cb), free(cm), free(L.p),
        free(config);
    cJSON_Delete(extra);
    ltx_st_close(gf);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return n_fail ? 2 : 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--device") && strcmp(argv[i + 1], "cpu")) {
#ifdef LTX_HAVE_CUDA
            if (!strncmp(argv[i + 1], "cuda", 4)) return cuda_main(argc, argv);
#endif
            fprintf(stderr,
                    "transformer_block: --device %s is not available in this build "
                    "(cpu%s)\n",
                    argv[i + 1],
#ifdef LTX_HAVE_CUDA
                    ", cuda"
#else
                    ""
#endif
            );
            return 1;
        }
    return cpu_main(argc, argv);
}
