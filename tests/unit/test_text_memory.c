/*
 * test_text_memory.c — Gemma 3 at real 12B layer shapes keeps its resident memory to about one
 * layer: a sparse single-file model (embeddings [262208, 3840] + 3 decoder layers of Gemma 3
 * 12B's shapes + final norm, bf16 zeros; header + ftruncate, nothing large written) in a
 * temporary folder, a 20-token prompt in 1024 left-padded slots, every hidden state
 * normalised into the (n, 3840 * 4) feature matrix as the text encoder does. A sampler thread
 * reads RssAnon + RssFile from /proc/self/status every 2 ms; the peak increase over the start
 * must stay below two layers' bf16 weights (2 x 427.6 MiB) plus the activations, so the 1.9 GiB
 * embedding table is certainly not copied or mapped in whole, and layers are let go after use.
 * The full 48-layer run is bench/text_encoder (about a minute on 2 cores).
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "models/gemma3.h"
#include "models/text_connector.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NL 3

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long a = 0, fl = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "RssAnon:", 8)) a = atol(line + 8);
        if (!strncmp(line, "RssFile:", 8)) fl = atol(line + 8);
    }
    if (f) fclose(f);
    return a + fl;
}

typedef struct sampler {
    atomic_int stop;
    atomic_long peak;
} sampler;

static void *sampler_main(void *arg)
{
    sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        long v = rss_kb();
        if (v > atomic_load(&s->peak)) atomic_store(&s->peak, v);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* model.safetensors: header of every tensor (bf16), data section left as a hole. */
static int write_sparse(const char *dir, int64_t *layer_bytes)
{
    static const char *const lw[13] = {"input_layernorm",
                                       "self_attn.q_proj",
                                       "self_attn.k_proj",
                                       "self_attn.v_proj",
                                       "self_attn.o_proj",
                                       "self_attn.q_norm",
                                       "self_attn.k_norm",
                                       "post_attention_layernorm",
                                       "pre_feedforward_layernorm",
                                       "mlp.gate_proj",
                                       "mlp.up_proj",
                                       "mlp.down_proj",
                                       "post_feedforward_layernorm"};
    const int64_t D = 3840, sh[13][2] = {{D, 0},     {4096, D},  {2048, D}, {2048, D}, {D, 4096},
                                         {256, 0},   {256, 0},   {D, 0},    {D, 0},    {15360, D},
                                         {15360, D}, {D, 15360}, {D, 0}};
    size_t cap = 1 << 16, len = 0;
    char *h = malloc(cap);
    int64_t off = 262208 * D * 2;
    len += (size_t)snprintf(h, cap,
                            "{\"model.embed_tokens.weight\": {\"dtype\": \"BF16\", "
                            "\"shape\": [262208, 3840], \"data_offsets\": [0, %lld]}",
                            (long long)off);
    *layer_bytes = 0;
    for (int l = 0; l < NL; l++)
        for (int w = 0; w < 13; w++) {
            int64_t b = sh[w][0] * (sh[w][1] ? sh[w][1] : 1) * 2;
            char shape[48];
            if (sh[w][1])
                snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)sh[w][0],
                         (long long)sh[w][1]);
            else
                snprintf(shape, sizeof shape, "[%lld]", (long long)sh[w][0]);
            len += (size_t)snprintf(h + len, cap - len,
                                    ", \"model.layers.%d.%s.weight\": "
                                    "{\"dtype\": \"BF16\", \"shape\": %s, \"data_offsets\": "
                                    "[%lld, %lld]}",
                                    l, lw[w], shape, (long long)off, (long long)(off + b));
            off += b;
            if (l == 0) *layer_bytes += b;
        }
    len += (size_t)snprintf(h + len, cap - len,
                            ", \"model.norm.weight\": {\"dtype\": \"BF16\", "
                            "\"shape\": [3840], \"data_offsets\": [%lld, %lld]}}",
                            (long long)off, (long long)(off + D * 2));
    off += D * 2;
    while ((len + 8) % 8)
        h[len++] = ' ';
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = fd >= 0 && write(fd, le, 8) == 8 && write(fd, h, len) == (ssize_t)len &&
             ftruncate(fd, (off_t)(8 + len + (size_t)off)) == 0;
    if (fd >= 0) close(fd);
    free(h);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "{\"text_config\": {\"num_hidden_layers\": %d, \"layer_types\": "
            "[\"sliding_attention\", \"full_attention\", \"sliding_attention\"]}}\n",
            NL);
    fclose(f);
    return ok ? 0 : -1;
}

typedef struct sink {
    ltx_backend *be;
    ltx_tensor *normed;
    int calls;
} sink;

static ltx_status on_hidden(void *user, int index, const ltx_tensor *h, int64_t row0)
{
    (void)row0;
    sink *s = user;
    s->calls++;
    return ltx_text_norm_state(s->be, s->normed, index, NL + 1, h);
}

static void cleanup(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) { /* drop the zero pages the holes left in the page cache */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    rmdir(dir);
}

TEST(gemma3_12b_layer_shapes_memory)
{
    char dir[] = "/tmp/ltx_test_gemma_memXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int64_t layer_bytes = 0;
    CHECK(write_sparse(dir, &layer_bytes) == 0);
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &be) == LTX_OK);
    ltx_gemma3 *m = NULL;
    ltx_status st = ltx_gemma3_open(be, dir, &m);
    CHECK_MSG(st == LTX_OK, "%s", ltx_err_message());
    if (st == LTX_OK) {
        const int T = 1024, n = 20;
        int32_t *ids = calloc(T, sizeof *ids), *mask = calloc(T, sizeof *mask);
        for (int t = T - n; t < T; t++)
            ids[t] = t == T - n ? 2 : 236000 + t, mask[t] = 1;
        int64_t shape[3] = {1, n, 3840 * (NL + 1)};
        sink sk = {be, ltx_tensor_new(be, LTX_F32, 3, shape), 0};
        sampler smp = {0};
        long base = rss_kb();
        atomic_store(&smp.peak, base);
        pthread_t th;
        pthread_create(&th, NULL, sampler_main, &smp);
        double t0 = tu_now_s();
        st = ltx_gemma3_forward(m, ids, mask, T, on_hidden, NULL, &sk);
        double dt = tu_now_s() - t0;
        atomic_store(&smp.stop, 1);
        pthread_join(th, NULL);
        CHECK_MSG(st == LTX_OK, "%s", ltx_err_message());
        CHECK(sk.calls == NL + 1);
        double inc_mib = (atomic_load(&smp.peak) - base) / 1024.0;
        double act_mib = (double)n * 3840 * (NL + 1) * 4 / (1 << 20) + 32.0; /* + temporaries */
        double budget = 2.0 * (double)layer_bytes / (1 << 20) + act_mib;
        printf("  %d layers at 12B shapes, %d tokens: %.2f s; peak RSS increase %.1f MiB "
               "(budget %.1f MiB; one layer %.1f MiB, embeddings 1920 MiB)\n",
               NL, n, dt, inc_mib, budget, (double)layer_bytes / (1 << 20));
        CHECK_MSG(inc_mib < budget, "peak RSS increase %.1f MiB >= %.1f MiB", inc_mib, budget);
        float *v = sk.normed ? ltx_tensor_to_host_f32(sk.normed) : NULL;
        bool finite = v != NULL;
        for (int64_t i = 0; v && i < ltx_tensor_numel(sk.normed); i++)
            finite = finite && isfinite(v[i]);
        CHECK(finite);
        free(v);
        ltx_tensor_free(sk.normed);
        free(ids);
        free(mask);
    }
    ltx_gemma3_close(m);
    ltx_backend_destroy(be);
    cleanup(dir);
}

TEST_MAIN()
