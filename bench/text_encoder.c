/*
 * text_encoder.c — the text path's cost: (1) the tiny models' prompt encode time, (2) Gemma 3
 * 12B at its real shapes: per-layer time and peak resident memory, from a sparse model folder.
 *
 * Method:
 *   1. Tiny: ltx_text_encode_prompts (real tokenizer .cache/tokenizer-gemma3/tokenizer.json,
 *      tests/data/golden/tiny_gemma, the tiny checkpoint's processor) with 1 prompt and with 21
 *      prompts, best of 3 each; the marginal cost of one prompt is (t21 - t1) / 20 (t1
 *      includes loading the tokenizer and mapping Gemma).
 *   2. 12B-shaped folder in /tmp (removed at the end): config.json with Gemma 3 12B's text
 *      config (hidden 3840, 48 layers, 16/8 heads, head_dim 256, intermediate 15360, vocab
 *      262208, sliding window 1024, pattern 6), model.safetensors.index.json and 5 bf16 shards
 *      holding every language-model tensor of spec/keys/gemma3_12b_text.tsv (626 tensors,
 *      11,766,034,176 values). Each shard is its header plus ftruncate: a sparse file of zeros,
 *      nothing large is written. Then the text encoder's Gemma stage exactly as
 *      text_encoder.c runs it: the prompt tokenized (LTX convention, 1024 slots, left pads),
 *      ltx_gemma3_forward over the valid tokens, every hidden state RMS-normalised into the
 *      (n, 3840*49) feature matrix. Timed per layer (layer hook). After every layer that
 *      layer's page cache is dropped (posix_fadvise DONTNEED on its byte range: the zero pages
 *      of the holes would otherwise fill the shared machine's cache; the model itself drops
 *      its mapped pages with madvise and prefetches the next layer).
 *      Memory: a sampler thread reads /proc/self/status every 2 ms (RssAnon = memory outside
 *      the mapped file, RssFile = mapped file pages); peak RssAnon and peak RssAnon+RssFile
 *      are reported with getrusage's ru_maxrss, against the budget "two layers' bf16 weights
 *      (2 x 449.6 MiB) + activations".
 *   3. Baseline in the same run: the same layer's seven linears alone (be->ops->linear on the
 *      mapped bf16 weights, same token count; each run once untimed first so its pages are
 *      resident), so `layer / linears` shows what the rest of the layer costs: norms, RoPE,
 *      attention, copies, and whatever page-in of the (sparse) weights the prefetch did not
 *      hide.
 *   Optional 4. `--full N`: N layers with a 1024-token prompt (no padding), per-layer time.
 * Usage: text_encoder [--keep DIR] [--full N] [--prompt TEXT]; threads = online CPUs.
 */
#include "models/text_encoder.h"
#include "bench_util.h"
#include "core/threadpool.h"
#include "models/gemma3.h"
#include "models/text_connector.h"
#include "nn/nn.h"
#include "tokenizer/gemma_tokenizer.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NSHARDS 5

/* ---- sparse 12B folder ---- */

typedef struct tdesc {
    char name[96];
    int ndim;
    int64_t d[2];
    int shard;
} tdesc;

static const char *const LW[13] = {"input_layernorm.weight",
                                   "self_attn.q_proj.weight",
                                   "self_attn.k_proj.weight",
                                   "self_attn.v_proj.weight",
                                   "self_attn.o_proj.weight",
                                   "self_attn.q_norm.weight",
                                   "self_attn.k_norm.weight",
                                   "post_attention_layernorm.weight",
                                   "pre_feedforward_layernorm.weight",
                                   "mlp.gate_proj.weight",
                                   "mlp.up_proj.weight",
                                   "mlp.down_proj.weight",
                                   "post_feedforward_layernorm.weight"};

/* Shapes per spec/keys/gemma3_12b_text.tsv. */
static int list_tensors(tdesc *t)
{
    const int64_t D = 3840, Q = 4096, KV = 2048, I = 15360, HD = 256;
    const int64_t shp[13][2] = {{D, 0}, {Q, D}, {KV, D}, {KV, D}, {D, Q}, {HD, 0}, {HD, 0},
                                {D, 0}, {D, 0}, {I, D},  {I, D},  {D, I}, {D, 0}};
    int n = 0;
    t[n++] = (tdesc){"language_model.model.embed_tokens.weight", 2, {262208, D}, 0};
    for (int l = 0; l < 48; l++)
        for (int w = 0; w < 13; w++) {
            tdesc *x = &t[n++];
            snprintf(x->name, sizeof x->name, "language_model.model.layers.%d.%s", l, LW[w]);
            x->ndim = shp[w][1] ? 2 : 1;
            x->d[0] = shp[w][0];
            x->d[1] = shp[w][1];
            x->shard = 1 + l * (NSHARDS - 1) / 48; /* embeddings alone in shard 0 */
        }
    t[n++] = (tdesc){"language_model.model.norm.weight", 1, {D, 0}, NSHARDS - 1};
    return n;
}

/* File byte range of each layer's weights (layers are contiguous within their shard), so the
 * page cache of a finished layer can be dropped without dropping the next layer, which the
 * model prefetches. */
static struct {
    int shard;
    int64_t begin, end;
} g_layer_range[48];

static int64_t numel_of(const tdesc *t)
{
    return t->d[0] * (t->ndim == 2 ? t->d[1] : 1);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int make_sparse_model(const char *dir, int64_t *total_numel)
{
    static tdesc t[1 + 48 * 13 + 1];
    int n = list_tensors(t);
    mkdir(dir, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_text(path, "{\"model_type\": \"gemma3\", \"text_config\": {\"model_type\": "
                         "\"gemma3_text\", \"hidden_size\": 3840, \"num_hidden_layers\": 48, "
                         "\"num_attention_heads\": 16, \"num_key_value_heads\": 8, \"head_dim\": "
                         "256, \"intermediate_size\": 15360, \"vocab_size\": 262208, "
                         "\"sliding_window\": 1024, \"sliding_window_pattern\": 6, "
                         "\"query_pre_attn_scalar\": 256, \"rms_norm_eps\": 1e-06, "
                         "\"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0, "
                         "\"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"linear\"}, "
                         "\"hidden_activation\": \"gelu_pytorch_tanh\"}}\n"))
        return -1;
    size_t icap = 1 << 20, ilen = 0;
    char *index = malloc(icap);
    ilen += (size_t)snprintf(index + ilen, icap - ilen, "{\"metadata\": {}, \"weight_map\": {");
    *total_numel = 0;
    for (int s = 0; s < NSHARDS; s++) {
        size_t hcap = 1 << 20, hlen = 0;
        char *h = malloc(hcap);
        int64_t off = 0;
        hlen += (size_t)snprintf(h + hlen, hcap - hlen, "{");
        for (int i = 0; i < n; i++) {
            if (t[i].shard != s) continue;
            int64_t bytes = numel_of(&t[i]) * 2;
            *total_numel += numel_of(&t[i]);
            char shape[64];
            if (t[i].ndim == 2)
                snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)t[i].d[0],
                         (long long)t[i].d[1]);
            else
                snprintf(shape, sizeof shape, "[%lld]", (long long)t[i].d[0]);
            hlen += (size_t)snprintf(h + hlen, hcap - hlen,
                                     "%s\"%s\": {\"dtype\": \"BF16\", \"shape\": %s, "
                                     "\"data_offsets\": [%lld, %lld]}",
                                     hlen > 1 ? ", " : "", t[i].name, shape, (long long)off,
                                     (long long)(off + bytes));
            ilen += (size_t)snprintf(index + ilen, icap - ilen,
                                     "%s\"%s\": \"model-%05d-of-%05d.safetensors\"",
                                     index[ilen - 1] == '{' ? "" : ", ", t[i].name, s + 1, NSHARDS);
            int l = -1;
            if (sscanf(t[i].name, "language_model.model.layers.%d.", &l) == 1 && l >= 0 && l < 48) {
                if (g_layer_range[l].end == 0) g_layer_range[l].begin = off;
                g_layer_range[l].shard = s;
                g_layer_range[l].end = off + bytes;
            }
            off += bytes;
        }
        hlen += (size_t)snprintf(h + hlen, hcap - hlen, "}");
        while ((hlen + 8) % 8)
            h[hlen++] = ' '; /* data section 8-byte aligned */
        for (int l = 0; l < 48; l++)
            if (g_layer_range[l].shard == s && g_layer_range[l].end > 0 &&
                g_layer_range[l].begin < (int64_t)(8 + hlen)) { /* make file offsets */
                g_layer_range[l].begin += (int64_t)(8 + hlen);
                g_layer_range[l].end += (int64_t)(8 + hlen);
            }
        snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, s + 1, NSHARDS);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        uint64_t hl = hlen;
        unsigned char le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (unsigned char)(hl >> (8 * b));
        int ok = fd >= 0 && write(fd, le, 8) == 8 && write(fd, h, hlen) == (ssize_t)hlen &&
                 ftruncate(fd, (off_t)(8 + hlen + (size_t)off)) == 0;
        if (fd >= 0) close(fd);
        free(h);
        if (!ok) {
            free(index);
            return -1;
        }
    }
    ilen += (size_t)snprintf(index + ilen, icap - ilen, "}}\n");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    int r = write_text(path, index);
    free(index);
    return r;
}

/* Drops the page cache of layer `l`'s byte range. */
static void drop_layer_cache(const char *dir, int l)
{
    if (l < 0 || l >= 48 || g_layer_range[l].end == 0) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir,
             g_layer_range[l].shard + 1, NSHARDS);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    (void)posix_fadvise(fd, g_layer_range[l].begin, g_layer_range[l].end - g_layer_range[l].begin,
                        POSIX_FADV_DONTNEED);
    close(fd);
}

static void drop_cache(const char *dir)
{
    for (int s = 0; s < NSHARDS; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, s + 1, NSHARDS);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* ---- Gemma stage runner ---- */

typedef struct run {
    ltx_backend *be;
    ltx_tensor *normed; /* (1, n, D*L) */
    int L, stop_after;  /* stop_after > 0: abort after that many layers */
    const char *dir;
    sampler *smp;
    double t_prev, layer_s[48];
    int layers_done;
} run;

static ltx_status run_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    (void)row0;
    run *r = user;
    if (r->stop_after > 0 && index >= r->stop_after) return LTX_ERR_ABORTED;
    return ltx_text_norm_state(r->be, r->normed, index, r->L, h);
}

static void run_layer(void *user, int layer)
{
    run *r = user;
    double t = bench_now();
    if (layer < 48) r->layer_s[layer] = t - r->t_prev;
    r->layers_done = layer + 1;
    sample_once(r->smp);
    drop_layer_cache(r->dir, layer); /* not timed; the next layer's prefetch is kept */
    r->t_prev = bench_now();
}

/* Runs the Gemma stage on ids/mask (T entries); fills r->layer_s. */
static ltx_status gemma_stage(ltx_backend *be, ltx_gemma3 *gm, const int32_t *ids,
                              const int32_t *mask, int64_t T, run *r, double *total_s)
{
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++)
        n += mask[t] != 0;
    int64_t shape[3] = {1, n, 3840 * 49};
    r->normed = ltx_tensor_new(be, LTX_F32, 3, shape);
    if (!r->normed) return LTX_ERR_OOM;
    double t0 = bench_now();
    r->t_prev = t0;
    ltx_status s = ltx_gemma3_forward(gm, ids, mask, T, run_hidden, run_layer, r);
    *total_s = bench_now() - t0;
    ltx_tensor_free(r->normed);
    r->normed = NULL;
    if (s == LTX_ERR_ABORTED && r->stop_after > 0) s = LTX_OK;
    return s;
}

static void report_layers(const run *r, const char *what)
{
    double v[48];
    int n = r->layers_done < 48 ? r->layers_done : 48;
    if (n == 0) return;
    memcpy(v, r->layer_s, sizeof(double) * (size_t)n);
    qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    printf("%s: %d layers, per layer median %.3f s, min %.3f, max %.3f, sum %.2f s\n", what, n,
           v[n / 2], v[0], v[n - 1], sum);
}

/* The seven linears of layer 0 alone on n tokens (baseline). */
static double linears_alone(ltx_backend *be, const char *dir, int64_t n)
{
    ltx_st_file *st = NULL;
    if (ltx_st_open_dir(dir, &st) != LTX_OK) return -1;
    static const char *const w[7] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                     "gate_proj", "up_proj", "down_proj"};
    double t = 0;
    for (int i = 0; i < 7; i++) {
        char name[128];
        snprintf(name, sizeof name, "language_model.model.layers.0.%s.%s.weight",
                 i < 4 ? "self_attn" : "mlp", w[i]);
        ltx_tensor *wt = ltx_st_tensor(st, be, name);
        if (!wt) continue;
        int64_t xs[3] = {1, n, wt->shape[1]}, ys[3] = {1, n, wt->shape[0]};
        ltx_tensor *x = ltx_tensor_zeros(be, LTX_F32, 3, xs),
                   *y = ltx_tensor_new(be, LTX_F32, 3, ys);
        if (x && y) be->ops->linear(be, y, x, wt, NULL, 1.0f); /* pages the weight in */
        double t0 = bench_now();
        if (x && y) be->ops->linear(be, y, x, wt, NULL, 1.0f);
        t += bench_now() - t0;
        ltx_tensor_free(x);
        ltx_tensor_free(y);
        ltx_tensor_free(wt);
    }
    ltx_st_close(st);
    drop_cache(dir);
    return t;
}

static int bench_tiny(ltx_backend *be, const char *tok, const char *prompt)
{
    ltx_st_file *st = NULL;
    ltx_text_processor *p = NULL;
    if (ltx_st_open(LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors", &st) ||
        ltx_text_processor_load(be, st, 0, &p)) {
        fprintf(stderr, "tiny: %s\n", ltx_err_message());
        ltx_st_close(st);
        return 1;
    }
    ltx_text_encode_params prm = {.gemma_root = LTX_TEST_DATA "/golden/tiny_gemma",
                                  .tokenizer = tok};
    enum { MANY = 21 };
    const char *prompts[MANY];
    for (int i = 0; i < MANY; i++)
        prompts[i] = prompt;
    ltx_text_context c[MANY];
    double t[2] = {1e30, 1e30};
    int counts[2] = {1, MANY}, rc = 0;
    for (int rep = 0; rep < 3 && !rc; rep++) /* best of 3 */
        for (int k = 0; k < 2 && !rc; k++) {
            double t0 = bench_now();
            if (ltx_text_encode_prompts(be, &prm, p, prompts, counts[k], c) != LTX_OK) {
                fprintf(stderr, "tiny encode: %s\n", ltx_err_message());
                rc = 1;
                break;
            }
            double dt = bench_now() - t0;
            if (dt < t[k]) t[k] = dt;
            for (int i = 0; i < counts[k]; i++)
                ltx_text_context_clear(&c[i]);
        }
    if (!rc)
        printf("tiny text path (tiny_gemma + tiny checkpoint, T=1024), best of 3: 1 prompt "
               "%.3f s (tokenizer load + Gemma map + encode); %d prompts %.3f s -> %.4f s per "
               "prompt\n",
               t[0], MANY, t[1], (t[1] - t[0]) / (MANY - 1));
    ltx_text_processor_free(p);
    ltx_st_close(st);
    return rc;
}

int main(int argc, char **argv)
{
    const char *keep = NULL,
               *prompt =
                   "A red fox runs through fresh snow at dawn, its breath visible in the cold air.";
    int full = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--full") && i + 1 < argc)
            full = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompt") && i + 1 < argc)
            prompt = argv[++i];
        else {
            fprintf(stderr, "usage: text_encoder [--keep DIR] [--full N] [--prompt TEXT]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible when redirected */
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    if (!pool || ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;
    char tok[4096];
    bench_tokenizer_path(tok, sizeof tok);
    if (bench_tiny(be, tok, prompt)) return 1;

    char dir[256];
    snprintf(dir, sizeof dir, "%s", keep ? keep : "/tmp/ltx_bench_gemma12b_sparse");
    int64_t total = 0;
    if (make_sparse_model(dir, &total)) {
        fprintf(stderr, "cannot write the sparse model in %s\n", dir);
        return 1;
    }
    printf("sparse 12B folder %s: %lld values (spec: 11766034176), %.2f GB bf16 on paper\n", dir,
           (long long)total, total * 2e-9);

    /* tokenize as the encoder does, then drop the tokenizer */
    ltx_gemma_tokenizer *tk = NULL;
    int32_t *ids = malloc(sizeof(int32_t) * 1024), *mask = malloc(sizeof(int32_t) * 1024);
    if (ltx_gemma_tokenizer_load(tok, &tk) ||
        ltx_gemma_tokenize_ltx(tk, prompt, strlen(prompt), 1024, ids, mask)) {
        fprintf(stderr, "tokenizer: %s\n", ltx_err_message());
        return 1;
    }
    ltx_gemma_tokenizer_free(tk);
    int n = 0;
    for (int t = 0; t < 1024; t++)
        n += mask[t];

    malloc_trim(0); /* return the tiny stage's freed heap, so the baseline below is honest */
    sampler smp = {0};
    long a0, f0;
    read_rss(&a0, &f0);
    pthread_t th;
    pthread_create(&th, NULL, sampler_main, &smp);
    ltx_gemma3 *gm = NULL;
    double t0 = bench_now();
    if (ltx_gemma3_open(be, dir, &gm) != LTX_OK) {
        fprintf(stderr, "open: %s\n", ltx_err_message());
        return 1;
    }
    printf("open (map + check 626 tensors): %.3f s\n", bench_now() - t0);
    run r = {.be = be, .L = 49, .dir = dir, .smp = &smp};
    double total_s = 0;
    ltx_status s = gemma_stage(be, gm, ids, mask, 1024, &r, &total_s);
    atomic_store(&smp.stop, 1);
    pthread_join(th, NULL);
    if (s != LTX_OK) {
        fprintf(stderr, "forward: %s\n", ltx_err_message());
        return 1;
    }
    printf("12B Gemma stage, prompt of %d tokens (1024 slots, %d left pads skipped): %.2f s\n", n,
           1024 - n, total_s);
    report_layers(&r, "  12B shapes");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double layer_mib = (double)(total - 262208LL * 3840 - 3840) / 48 * 2 / (1 << 20);
    double act_mib = (double)n * 3840 * 49 * 4 / (1 << 20);
    printf("  memory: RssAnon before %.1f MiB, peak RssAnon %.1f MiB, peak RssAnon+RssFile "
           "%.1f MiB, ru_maxrss %.1f MiB\n",
           a0 / 1024.0, atomic_load(&smp.peak_anon_kb) / 1024.0,
           atomic_load(&smp.peak_total_kb) / 1024.0, ru.ru_maxrss / 1024.0);
    printf("  budget: 2 layers' bf16 weights %.1f MiB + activations (feature matrix %.1f MiB)"
           " = %.1f MiB -> peak RssAnon %s, ru_maxrss %s\n",
           2 * layer_mib, act_mib, 2 * layer_mib + act_mib,
           atomic_load(&smp.peak_anon_kb) / 1024.0 < 2 * layer_mib + act_mib ? "below" : "ABOVE",
           ru.ru_maxrss / 1024.0 < 2 * layer_mib + act_mib ? "below" : "ABOVE");
    double lin = linears_alone(be, dir, n);
    double v[48];
    memcpy(v, r.layer_s, sizeof v);
    qsort(v, 48, sizeof v[0], bench_cmp_double);
    printf("  baseline: layer 0's 7 linears alone on %d tokens %.3f s; layer median / linears "
           "= %.2f\n",
           n, lin, v[24] / lin);

    if (full > 0) {
        for (int t = 0; t < 1024; t++)
            ids[t] = t == 0 ? 2 : 1000 + t, mask[t] = 1;
        run rf = {.be = be, .L = 49, .dir = dir, .smp = &smp, .stop_after = full};
        s = gemma_stage(be, gm, ids, mask, 1024, &rf, &total_s);
        if (s != LTX_OK) fprintf(stderr, "full: %s\n", ltx_err_message());
        report_layers(&rf, "  12B shapes, 1024 valid tokens");
        double lf = linears_alone(be, dir, 1024);
        printf("  baseline: 7 linears alone on 1024 tokens %.3f s\n", lf);
        getrusage(RUSAGE_SELF, &ru);
        printf("  ru_maxrss after the 1024-token run %.1f MiB\n", ru.ru_maxrss / 1024.0);
    }
    ltx_gemma3_close(gm);
    drop_cache(dir);
    if (!keep) {
        char path[4096];
        for (int i = 0; i < NSHARDS; i++) {
            snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, i + 1, NSHARDS);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/config.json", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        unlink(path);
        rmdir(dir);
    }
    free(ids);
    free(mask);
    ltx_backend_destroy(be);
    ltx_threadpool_destroy(pool);
    return 0;
}
