/*
 * layer_streaming.c — peak resident memory and time of a transformer forward with layer
 * streaming (src/models/ltx_streaming.c, `--streaming-prefetch-count N`) against the default
 * (all weights stay mapped), on the CPU backend.
 *
 * Method:
 *   - A synthetic checkpoint with the real key layout (every parameter the loader binds, from
 *     ltx_transformer_list_params) but wider/more blocks than the tiny one: by default 8 blocks,
 *     video 8 heads x 128 (width 1024), audio 8 x 64 (512), gated attention, cross-attention
 *     AdaLN; all tensors bf16 with small pseudo-random values (xorshift), written once to
 *     /tmp/ltx_stream_bench.safetensors (~370 MiB; reused when present; `--rebuild`).
 *   - Every configuration runs in its own forked child (so one run's mapped pages cannot
 *     count in another's peak): open + load + optional ltx_transformer_set_streaming, then
 *     `reps` forwards (video 256 tokens, audio 32, contexts 32), wall time of each; the child
 *     reports the median forward time, the peak RSS (VmHWM from /proc/self/status), the RSS
 *     after the last forward, and per forward after the first: process CPU time (all threads;
 *     less sensitive to other processes' load than wall time on a shared machine), kernel
 *     time and minor page faults (the cost of re-mapping evicted pages).
 *   - Page cache warm (the file is read once before the children run), and again "cold":
 *     posix_fadvise(POSIX_FADV_DONTNEED) drops the file's clean pages before each child.
 *   - Configurations on "cpu" (mapped weights): off, N=1 madvise(WILLNEED), N=1 touch thread,
 *     N=2 madvise. On "cpu-restricted" (the device path of interface v2, as on CUDA: weights
 *     staged from the mapping into pinned buffers and uploaded with upload_async on a copy
 *     stream = a worker thread, events ordering uploads against compute), warm cache only: off
 *     (resident device copies), N=0 (no prefetch: every block's upload waits), N=1, N=2. The
 *     overlap shows as the N=1/N=2 time ratio against resident compared with N=0's; host syncs
 *     per forward (be->n_host_syncs) are reported too.
 *   - Outputs of every streamed run are compared bitwise with the off run of the same device.
 *   - The machine is shared with other jobs: wall times are noisy; CPU time is the steadier
 *     figure.
 * Usage: layer_streaming [reps=3] [--rebuild] [--layers L] [--width D]
 */
#include "backend/backend.h"
#include "core/threadpool.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/ltx_transformer.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATH "/tmp/ltx_stream_bench.safetensors"
#define TINY LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n)) v = strtol(line + n + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* ---- synthetic checkpoint ---- */

typedef struct param {
    char name[160];
    int ndim;
    int64_t shape[2];
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
    }
    param *q = &L->p[L->n++];
    snprintf(q->name, sizeof q->name, "model.diffusion_model.%s", name);
    q->ndim = ndim;
    q->shape[0] = shape[0];
    q->shape[1] = ndim > 1 ? shape[1] : 1;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const param *)a)->name, ((const param *)b)->name);
}

static uint64_t xs = 0x9E3779B97F4A7C15ull;
static float urand(void)
{
    xs ^= xs << 13, xs ^= xs >> 7, xs ^= xs << 17;
    return (float)((xs >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

static int build(int layers, int width)
{
    ltx_st_file *t = NULL;
    if (ltx_st_open(TINY, &t) != LTX_OK) return fprintf(stderr, "%s\n", ltx_err_message()), 1;
    cJSON *root = cJSON_Parse(ltx_st_metadata(t, "config"));
    ltx_st_close(t);
    cJSON *tr = cJSON_GetObjectItem(root, "transformer");
    int heads = width / 128;
#define SETN(k, v) cJSON_ReplaceItemInObject(tr, k, cJSON_CreateNumber(v))
    SETN("num_layers", layers);
    SETN("num_attention_heads", heads);
    SETN("attention_head_dim", 128);
    SETN("audio_num_attention_heads", heads);
    SETN("audio_attention_head_dim", 64);
    SETN("cross_attention_dim", width);
    SETN("audio_cross_attention_dim", heads * 64);
#undef SETN
    char *cfg_text = cJSON_PrintUnformatted(root);
    ltx_transformer_config cfg;
    if (ltx_transformer_config_parse(cfg_text, false, &cfg) != LTX_OK)
        return fprintf(stderr, "%s\n", ltx_err_message()), 1;
    plist L = {0};
    ltx_transformer_list_params(&cfg, add_param, &L);
    qsort(L.p, (size_t)L.n, sizeof *L.p, cmp_param);
    /* header */
    size_t cap = 1 << 20, len = 0, off = 0;
    char *h = malloc(cap);
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "config", cfg_text);
    char *meta_s = cJSON_PrintUnformatted(meta);
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":%s", meta_s);
    for (int i = 0; i < L.n; i++) {
        size_t nb = (size_t)(L.p[i].shape[0] * L.p[i].shape[1]) * 2;
        if (L.p[i].ndim == 2)
            len += (size_t)snprintf(h + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    L.p[i].name, (long long)L.p[i].shape[0],
                                    (long long)L.p[i].shape[1], off, off + nb);
        else
            len += (size_t)snprintf(h + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    L.p[i].name, (long long)L.p[i].shape[0], off, off + nb);
        off += nb;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    FILE *f = fopen(PATH ".tmp", "wb");
    uint64_t hl = len;
    fwrite(&hl, 8, 1, f);
    fwrite(h, 1, len, f);
    for (int i = 0; i < L.n; i++) {
        int64_t n = L.p[i].shape[0] * L.p[i].shape[1];
        float sc = L.p[i].ndim == 2 ? 1.0f / sqrtf((float)L.p[i].shape[1]) : 0.1f;
        uint16_t *buf = malloc((size_t)n * 2);
        for (int64_t k = 0; k < n; k++)
            buf[k] = to_bf16((L.p[i].ndim == 1 && strstr(L.p[i].name, "norm") ? 1.0f : 0.0f) +
                             sc * urand());
        fwrite(buf, 2, (size_t)n, f);
        free(buf);
    }
    fclose(f);
    rename(PATH ".tmp", PATH);
    printf("built %s: %d blocks, width %d, %d tensors, %.1f MiB\n", PATH, layers, width, L.n,
           (double)(off + len + 8) / 1048576.0);
    free(h), free(meta_s), free(cfg_text), free(L.p);
    cJSON_Delete(meta), cJSON_Delete(root);
    return 0;
}

/* ---- one configuration in a child ---- */

typedef struct result {
    double median_s, first_s;
    double cpu_s, sys_s, minflt; /* per forward after the first: process CPU (all threads),
                                    of it kernel time, minor page faults */
    long hwm_kb, rss_kb;
    double syncs; /* host syncs per forward */
    uint64_t hash;
    int ok;
} result;

static ltx_tensor *rnd(ltx_backend *be, int ndim, const int64_t *shape, float scale, float add)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = add + scale * urand();
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, ndim, shape, v);
    free(v);
    return t;
}

static void child(bool restricted, int prefetch, ltx_prefetch_mode mode, int reps, result *out)
{
    memset(out, 0, sizeof *out);
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    ltx_st_file *f = NULL;
    ltx_transformer *m = NULL;
    /* prefetch < 0: off; >= 0: streaming with that many blocks ahead */
    if (ltx_cpu_backend_create(restricted, NULL, pool, &be) != LTX_OK || ltx_st_open(PATH, &f) ||
        ltx_transformer_load(f, be, false, &m) != LTX_OK ||
        (prefetch >= 0 && ltx_transformer_set_streaming_ex(m, f, true, prefetch, mode, NULL,
                                                           LTX_DTYPE_COUNT) != LTX_OK)) {
        fprintf(stderr, "child: %s\n", ltx_err_message());
        return;
    }
    const ltx_transformer_config *c = ltx_transformer_get_config(m);
    int64_t Tv = 256, Ta = 32, Lc = 32;
    xs = 12345;
    int64_t sv[3] = {1, Tv, 128}, sa[3] = {1, Ta, 128};
    int64_t cv[3] = {1, Lc, c->cross_attention_dim}, ca[3] = {1, Lc, c->audio_cross_attention_dim};
    int64_t pv[4] = {1, 3, Tv, 2}, pa[4] = {1, 1, Ta, 2}, tv[2] = {1, Tv}, ta[2] = {1, Ta}, one = 1;
    ltx_tensor *lv = rnd(be, 3, sv, 1, 0), *la = rnd(be, 3, sa, 1, 0);
    ltx_tensor *xv = rnd(be, 3, cv, 1, 0), *xa = rnd(be, 3, ca, 1, 0);
    ltx_tensor *qv = rnd(be, 4, pv, 8, 8), *qa = rnd(be, 4, pa, 4, 4);
    ltx_tensor *tsv = rnd(be, 2, tv, 0, 0.6f), *tsa = rnd(be, 2, ta, 0, 0.6f);
    ltx_tensor *sg = rnd(be, 1, &one, 0, 0.6f);
    ltx_modality v = {lv, sg, tsv, qv, xv, NULL, NULL, true, NULL, NULL};
    ltx_modality a = {la, sg, tsa, qa, xa, NULL, NULL, true, NULL, NULL};
    double ts[32];
    if (reps > 32) reps = 32;
    struct rusage u0 = {0}, u1;
    uint64_t sync0 = 0;
    for (int r = 0; r < reps; r++) {
        if (r == 1) getrusage(RUSAGE_SELF, &u0);
        if (r == 1) sync0 = be->n_host_syncs;
        ltx_tensor *ov = NULL, *oa = NULL;
        double t0 = now();
        if (ltx_transformer_forward(m, &v, &a, NULL, NULL, &ov, &oa) != LTX_OK) {
            fprintf(stderr, "forward: %s\n", ltx_err_message());
            return;
        }
        ts[r] = now() - t0;
        if (r == reps - 1) {
            float *x = ltx_tensor_to_host_f32(ov), *y = ltx_tensor_to_host_f32(oa);
            uint64_t hsh = 1469598103934665603ull;
            for (int64_t i = 0; i < ltx_tensor_numel(ov); i++) {
                uint32_t u;
                memcpy(&u, &x[i], 4);
                hsh = (hsh ^ u) * 1099511628211ull;
            }
            for (int64_t i = 0; i < ltx_tensor_numel(oa); i++) {
                uint32_t u;
                memcpy(&u, &y[i], 4);
                hsh = (hsh ^ u) * 1099511628211ull;
            }
            out->hash = hsh;
            free(x), free(y);
        }
        if (r == reps - 1 && reps > 1) out->syncs = (double)(be->n_host_syncs - sync0) / (reps - 1);
        ltx_tensor_free(ov), ltx_tensor_free(oa);
    }
    getrusage(RUSAGE_SELF, &u1);
    if (reps > 1) {
        double us = (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                    1e-6 * (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec);
        double ss = (double)(u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                    1e-6 * (double)(u1.ru_stime.tv_usec - u0.ru_stime.tv_usec);
        out->cpu_s = (us + ss) / (reps - 1);
        out->sys_s = ss / (reps - 1);
        out->minflt = (double)(u1.ru_minflt - u0.ru_minflt) / (reps - 1);
    }
    out->first_s = ts[0];
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && ts[j] < ts[j - 1]; j--) {
            double tt = ts[j];
            ts[j] = ts[j - 1], ts[j - 1] = tt;
        }
    out->median_s = ts[reps / 2];
    out->hwm_kb = status_kb("VmHWM:");
    out->rss_kb = status_kb("VmRSS:");
    out->ok = 1;
}

static int run_child(bool restricted, int prefetch, ltx_prefetch_mode mode, int reps, bool cold,
                     result *r)
{
    if (cold) {
        int fd = open(PATH, O_RDONLY);
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    int pfd[2];
    if (pipe(pfd)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        result res;
        child(restricted, prefetch, mode, reps, &res);
        if (write(pfd[1], &res, sizeof res) != (ssize_t)sizeof res) _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    memset(r, 0, sizeof *r);
    ssize_t got = read(pfd[0], r, sizeof *r);
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    return got == (ssize_t)sizeof *r && r->ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int reps = 3, layers = 8, width = 1024;
    bool rebuild = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rebuild"))
            rebuild = true;
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc)
            layers = atoi(argv[++i]), rebuild = true;
        else if (!strcmp(argv[i], "--width") && i + 1 < argc)
            width = atoi(argv[++i]), rebuild = true;
        else
            reps = atoi(argv[i]);
    }
    if (reps < 1) reps = 1;
    if ((rebuild || access(PATH, R_OK)) && build(layers, width)) return 1;
    /* warm the page cache */
    FILE *f = fopen(PATH, "rb");
    static char buf[1 << 20];
    size_t total = 0, n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        total += n;
    if (f) fclose(f);
    printf("file %.1f MiB; %d forwards per run (video 256 tokens, audio 32)\n",
           (double)total / 1048576.0, reps);
    struct {
        const char *name;
        bool restricted, cold;
        int n; /* -1 = off */
        ltx_prefetch_mode mode;
    } cf[] = {{"off", false, false, -1, LTX_PREFETCH_ADVISE},
              {"N=1 madvise", false, false, 1, LTX_PREFETCH_ADVISE},
              {"N=1 touch", false, false, 1, LTX_PREFETCH_TOUCH},
              {"N=2 madvise", false, false, 2, LTX_PREFETCH_ADVISE},
              {"off", false, true, -1, LTX_PREFETCH_ADVISE},
              {"N=1 madvise", false, true, 1, LTX_PREFETCH_ADVISE},
              {"N=1 touch", false, true, 1, LTX_PREFETCH_TOUCH},
              {"N=2 madvise", false, true, 2, LTX_PREFETCH_ADVISE},
              {"off", true, false, -1, LTX_PREFETCH_ADVISE},
              {"N=0 staged", true, false, 0, LTX_PREFETCH_ADVISE},
              {"N=1 staged", true, false, 1, LTX_PREFETCH_ADVISE},
              {"N=2 staged", true, false, 2, LTX_PREFETCH_ADVISE}};
    int fails = 0;
    result base = {0};
    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++) {
        if (i == 0 || cf[i].cold != cf[i - 1].cold || cf[i].restricted != cf[i - 1].restricted)
            printf("%s, %s page cache:\n", cf[i].restricted ? "cpu-restricted" : "cpu",
                   cf[i].cold ? "cold" : "warm");
        result r;
        if (run_child(cf[i].restricted, cf[i].n, cf[i].mode, reps, cf[i].cold, &r)) {
            printf("  %-12s failed\n", cf[i].name);
            fails++;
            continue;
        }
        if (cf[i].n < 0) base = r;
        bool same = r.hash == base.hash;
        fails += !same;
        printf("  %-12s peak RSS %6.1f MiB (%.2fx of off), RSS after %6.1f MiB | forward "
               "first %.3f s, median %.3f s (%.2fx) | per forward: CPU %.3f s (%.2fx), "
               "sys %.3f s, %.0f minor faults, %.0f host syncs%s\n",
               cf[i].name, r.hwm_kb / 1024.0, (double)r.hwm_kb / (double)base.hwm_kb,
               r.rss_kb / 1024.0, r.first_s, r.median_s, r.median_s / base.median_s, r.cpu_s,
               r.cpu_s / base.cpu_s, r.sys_s, r.minflt, r.syncs, same ? "" : "  OUTPUT DIFFERS");
    }
    return fails ? 1 : 0;
}
