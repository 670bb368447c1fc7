/*
 * bench/gemma_encode.c — peak resident memory and time of the text path on a real-size Gemma 3
 * 12B folder (e.g. bench/gen_real_size's gemma-3-12b-q4_0/, Q4_0 GGUF) for a prompt of a given
 * token count (issue 12 goal: a 256-token prompt within 8 GB). Never run by the tests.
 *
 * Method: a prompt of exactly N tokens (the LTX count: <bos> included) is built by repeating a
 * sentence word by word and counting with the real tokenizer. Then ltx_text_encode_prompts runs
 * it exactly as the pipelines do: it maps Gemma, runs its 48 layers over the valid tokens (the
 * model releases each layer's mapped pages after use), builds the 49-state feature matrix and
 * runs the text processor (feature extractor + video/audio connectors) of the LTX checkpoint
 * given (its bf16 connectors are part of the text path, so they are part of the peak).
 * Memory: a sampler thread reads /proc/self/status every 2 ms (RssAnon = memory outside mapped
 * files; RssAnon + RssFile = everything resident, mapped weight pages included), and
 * getrusage's ru_maxrss is printed beside it. The Gemma stage alone is separated from the
 * processor load by measuring the processor load first (its pages are touched lazily, so the
 * processor's share appears during the connector pass, which the per-phase peaks show).
 * Usage: gemma_encode GEMMA_DIR CHECKPOINT [N_TOKENS (default 256)]; threads = online CPUs.
 */
#include "bench_util.h"
#include "core/error.h"
#include "core/threadpool.h"
#include "io/safetensors.h"
#include "models/text_connector.h"
#include "models/text_encoder.h"
#include "tokenizer/gemma_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* A malloc'd prompt of exactly `want` LTX tokens (<bos> included), or NULL. */
static char *make_prompt(const char *tok_path, int want)
{
    static const char *const words[] = {"A",        "red",  "fox", "trots", "through",
                                        "fresh",    "snow", "at",  "dawn,", "breath",
                                        "steaming", "in",   "the", "cold",  "air."};
    ltx_gemma_tokenizer *tk = NULL;
    if (ltx_gemma_tokenizer_load(tok_path, &tk) != LTX_OK) return NULL;
    size_t cap = (size_t)want * 16 + 64, len = 0;
    char *p = calloc(cap, 1);
    int n = 0;
    for (int i = 0; p && n < want && len + 16 < cap; i++) {
        const char *w = words[i % (int)(sizeof words / sizeof *words)];
        size_t before = len;
        len += (size_t)snprintf(p + len, cap - len, "%s%s", len ? " " : "", w);
        if (ltx_gemma_count_ltx(tk, p, len, &n) != LTX_OK) n = want + 1;
        if (n > want) { /* the word overshot: drop it and stop */
            p[before] = 0;
            len = before;
            ltx_gemma_count_ltx(tk, p, len, &n);
            break;
        }
    }
    ltx_gemma_tokenizer_free(tk);
    if (p && n != want) fprintf(stderr, "note: prompt has %d tokens (asked %d)\n", n, want);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gemma_encode GEMMA_DIR CHECKPOINT [N_TOKENS]\n");
        return 2;
    }
    int want = argc > 3 ? atoi(argv[3]) : 256;
    if (want < 2 || want > 1024) {
        fprintf(stderr, "N_TOKENS %s: must be in 2..1024\n", argv[3]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char tok[4096];
    bench_tokenizer_path(tok, sizeof tok);
    char *prompt = make_prompt(tok, want);
    if (!prompt) {
        fprintf(stderr, "tokenizer %s: %s\n", tok, ltx_err_message());
        return 1;
    }
    ltx_threadpool *pool = ltx_threadpool_create(0);
    ltx_backend *be = NULL;
    if (!pool || ltx_cpu_backend_create(false, NULL, pool, &be) != LTX_OK) return 1;

    sampler smp = {0};
    pthread_t th;
    pthread_create(&th, NULL, sampler_main, &smp);
    double t0 = bench_now();
    ltx_st_file *st = NULL;
    ltx_text_processor *proc = NULL;
    if (ltx_st_open(argv[2], &st) != LTX_OK ||
        ltx_text_processor_load(be, st, 0, &proc) != LTX_OK) {
        fprintf(stderr, "%s: %s\n", argv[2], ltx_err_message());
        return 1;
    }
    double t1 = bench_now();
    sample_once(&smp);
    long load_total = atomic_load(&smp.peak_total_kb);
    ltx_text_encode_params prm = {.gemma_root = argv[1], .tokenizer = tok};
    const char *prompts[1] = {prompt};
    ltx_text_context c = {0};
    ltx_status s = ltx_text_encode_prompts(be, &prm, proc, prompts, 1, &c);
    double t2 = bench_now();
    sample_once(&smp);
    atomic_store(&smp.stop, 1);
    pthread_join(th, NULL);
    if (s != LTX_OK) {
        fprintf(stderr, "encode: %s\n", ltx_err_message());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("gemma_encode %s: %d-token prompt (valid tokens %d), processor load %.1f s, encode "
           "%.1f s\n",
           argv[1], want, c.n_tokens, t1 - t0, t2 - t1);
    printf("peak RSS: anon %.2f GB, anon+file %.2f GB (after the processor load %.2f GB), "
           "ru_maxrss %.2f GB; goal <= 8 GB\n",
           atomic_load(&smp.peak_anon_kb) / 1048576.0, atomic_load(&smp.peak_total_kb) / 1048576.0,
           load_total / 1048576.0, ru.ru_maxrss / 1048576.0);
    ltx_text_context_clear(&c);
    ltx_text_processor_free(proc);
    ltx_st_close(st);
    free(prompt);
    return 0;
}
