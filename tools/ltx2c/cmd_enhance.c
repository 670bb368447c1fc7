/*
 * cmd_enhance.c — `ltx2c enhance`: LTX's prompt enhancement on its own. Gemma 3 rewrites
 * --prompt (looking at --image when given) into one detailed paragraph; the text streams to
 * stdout as it is generated, a progress line (tokens, tokens/s) goes to stderr, and the cleaned
 * result is printed at the end. A thin client of ltx_enhance_prompt (include/ltx.h).
 * ref: ltx_pipelines/utils/helpers.py generate_enhanced_prompt.
 */
#include "cli.h"
#include "cli_args.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct stream_state {
    int quiet;
    int n_tokens;
    double seconds;
} stream_state;

/* Streams each piece to stderr as it is decoded; the counts feed the closing progress line. */
static void on_piece(void *user, const char *piece, size_t len, int n_tokens, double seconds)
{
    stream_state *st = user;
    st->n_tokens = n_tokens;
    st->seconds = seconds;
    if (st->quiet) return;
    fwrite(piece, 1, len, stderr);
    fflush(stderr);
}

int cmd_enhance(int argc, char **argv)
{
    ltx_enhance_params p;
    ltx_enhance_params_init(&p);
    const char *device = NULL, *refver = NULL;
    int threads = 0, quiet = 0, greedy = 0;
    cli_opt o[] = {
        {"--gemma-root", CLI_STR, &p.gemma_root, "DIR",
         "Gemma 3 folder (Gemma3ForConditionalGeneration; the vision tower is needed for --image)",
         1},
        {"--prompt", CLI_STR, &p.prompt, "TEXT", "the prompt to enhance", 1},
        {"--image", CLI_STR, &p.image_path, "PATH",
         "enhance for image-to-video: look at this image", 0},
        {"--seed", CLI_U64, &p.seed, "N", "sampling seed (default 10)", 0},
        {"--max-new-tokens", CLI_INT, &p.max_new_tokens, "N", "generation limit (default 512)", 0},
        {"--tokenizer", CLI_STR, &p.tokenizer, "PATH",
         "tokenizer.json (default: inside --gemma-root, else .cache/tokenizer-gemma3/)", 0},
        {"--greedy", CLI_FLAG, &greedy, NULL, "[ltx2c] argmax decoding instead of sampling", 0},
        {"--reference-version", CLI_STR, &refver, "V",
         "[ltx2c] 1.2 (default: alignment pads before the prompt) or 2026-04 (after it, as "
         "a2c3f24 did)",
         0},
        {"--device", CLI_STR, &device, "D", "auto|cpu|cpu-restricted|cuda[:N] (default auto)", 0},
        {"--threads", CLI_INT, &threads, "N", "worker threads", 0},
        {"--quiet", CLI_FLAG, &quiet, NULL, "no streaming or progress on stderr", 0},
    };
    int n = (int)(sizeof o / sizeof o[0]);
    int r = cli_parse("enhance", o, n, argc, argv);
    if (r < 0) {
        printf("usage: ltx2c enhance --gemma-root DIR --prompt TEXT [--image PATH] [options]\n\n"
               "Prompt enhancement as the reference pipelines' --enhance-prompt does it: Gemma 3 "
               "rewrites the prompt into one detailed paragraph (subject, action, camera, "
               "lighting, sound). The text streams to stderr while it is "
               "generated, then a closing tokens/s line; the cleaned result is printed to "
               "stdout. Sampling: temperature 0.7, top-k 50, seeded by --seed.\n\noptions:\n");
        cli_print_opts(stdout, o, n);
        return CLI_EXIT_OK;
    }
    if (r) return r;
    p.greedy = greedy;
    if (refver && ltx_reference_version_parse(refver, &p.reference_version) != 0) {
        cli_error("enhance", "--reference-version '%s': expected 1.2 or 2026-04", refver);
        return CLI_EXIT_USAGE;
    }
    if (!p.tokenizer) {
        char tj[4096];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", p.gemma_root);
        if (access(tj, R_OK) != 0) p.tokenizer = cli_default_tokenizer();
    }
    stream_state st = {quiet, 0, 0.0};
    p.on_piece = on_piece;
    p.user = &st;
    ltx_engine *e = cli_open_engine(device ? device : "auto", NULL, threads, 0,
                                    quiet ? LTX_LOG_ERROR : LTX_LOG_INFO);
    if (!e) return CLI_EXIT_FAIL;
    char *text = NULL;
    ltx_status s = ltx_enhance_prompt(e, &p, &text);
    if (!quiet && s == LTX_OK)
        fprintf(stderr, "\n[enhance] %d tokens, %.1f tokens/s\n", st.n_tokens,
                st.seconds > 0 ? st.n_tokens / st.seconds : 0.0);
    if (s != LTX_OK) cli_error("enhance", "%s", ltx_engine_last_error(e));
    if (s == LTX_OK) printf("%s\n", text);
    ltx_string_free(text);
    ltx_engine_close(e);
    return s == LTX_OK ? CLI_EXIT_OK : s == LTX_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}
