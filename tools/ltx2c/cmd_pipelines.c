/*
 * cmd_pipelines.c — the generation subcommands, named like the reference modules, with the
 * reference's flags and defaults (ltx_pipelines/utils/args.py @ a2c3f24, spec pipelines.md
 * §6): distilled, ti2vid_one_stage, ti2vid_two_stages, ti2vid_two_stages_hq. Each is a table of
 * options (cli_args.h) filled into ltx_generate_params + the pipeline's params struct, then one
 * libltx call. --enhance-prompt (ltx_generate_params.enhance_prompt) works in all eight.
 *
 * ltx2c extensions (not in the reference): --device, --threads, --quiet, --tokenizer (a
 * tokenizer.json when the Gemma folder has none), --round-frames (accept non-8k+1 frame counts
 * by rounding down, with a warning; without it they are refused).
 */
#include "cli.h"
#include "cli_args.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* ---- progress on stderr: stage, step i/N, s/step, ETA ---- */

typedef struct progress {
    int quiet;
    int tty; /* stderr is a terminal: rewrite one line; else one line per step */
} progress;

static int on_progress(void *user, const char *stage, int step, int total, double elapsed)
{
    progress *p = user;
    if (ltx_interrupted()) return 1; /* Ctrl-C / SIGTERM: stop at this step boundary */
    if (p->quiet) return 0;
    double per = step > 0 ? elapsed / step : 0;
    fprintf(stderr, "%s%-8s step %3d/%-3d %7.2f s/step  ETA %7.1f s", p->tty ? "\r" : "", stage,
            step, total, per, per * (total - step));
    if (step == total || !p->tty) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* ---- shared flags ---- */

typedef struct gen_args {
    ltx_generate_params g;
    cli_images images;
    cli_loras loras;
    const char *device;
    const char *precision; /* NULL = auto */
    int threads;
    int quiet;
    int strict; /* --strict: capability fallbacks (e.g. fp8-scaled-mm on the CPU) fail */
    const char *quantization; /* --quantization POLICY -> g.quantization */
    int compile;              /* --compile: accepted, no effect (see its help) */
    const char *refver;       /* --reference-version 1.2|2026-04 (resolved in run()) */
    const char *offload;      /* --offload none|cpu|disk (resolved in run()) */
} gen_args;

#define MAX_OPTS  64
#define NOT_GIVEN INT_MIN /* --streaming-prefetch-count absent */

/* Flags every generation parser starts with: text encoder, prompt, output, seed. */
static int head_opts(cli_opt *o, gen_args *a)
{
    int n = 0;
    o[n++] = (cli_opt){"--gemma-root",
                       CLI_STR,
                       &a->g.gemma_root,
                       "DIR",
                       "Gemma 3 text-encoder folder (safetensors + config.json)",
                       1};
    o[n++] = (cli_opt){"--tokenizer",
                       CLI_STR,
                       &a->g.tokenizer,
                       "PATH",
                       "[ltx2c] tokenizer.json (default: inside --gemma-root)",
                       0};
    o[n++] = (cli_opt){"--prompt", CLI_STR, &a->g.prompt, "TEXT", "what to generate", 1};
    o[n++] = (cli_opt){"--output-path",
                       CLI_STR,
                       &a->g.output_path,
                       "OUT.mp4",
                       "H.264 + AAC mp4, written to a temp file then renamed",
                       1};
    o[n++] = (cli_opt){"--seed", CLI_U64, &a->g.seed, "N", "noise seed (default 10)", 0};
    return n;
}

/* Flags every generation parser ends its shared part with: LoRAs and the ltx2c extensions. */
static int tail_opts(cli_opt *o, gen_args *a)
{
    int n = 0;
    o[n++] = (cli_opt){"--lora",
                       CLI_LORA,
                       &a->loras,
                       "PATH [STRENGTH]",
                       "LoRA fused into the transformer (repeatable; strength within +-10, "
                       "default 1.0)",
                       0};
    o[n++] = (cli_opt){"--device",
                       CLI_STR,
                       &a->device,
                       "D",
                       "[ltx2c] auto|cpu|cpu-restricted|cuda[:N] (default auto)",
                       0};
    o[n++] = (cli_opt){"--precision",
                       CLI_STR,
                       &a->precision,
                       "P",
                       "[ltx2c] f32|bf16|auto: bf16 rounds GEMM/attention inputs to bf16 with "
                       "f32 sums (default auto: bf16 on cuda, f32 on cpu)",
                       0};
    o[n++] = (cli_opt){"--reference-version",
                       CLI_STR,
                       &a->refver,
                       "V",
                       "[ltx2c] numerics of the reference release to follow: 1.2 (default, "
                       "v1.2.0 = 400fd31, what the reference's users run) or 2026-04 (a2c3f24, "
                       "the earlier behaviour, reproduced bit for bit)",
                       0};
    o[n++] = (cli_opt){"--threads",
                       CLI_INT,
                       &a->threads,
                       "N",
                       "[ltx2c] worker threads, 0..512 (default 0 = one per CPU core)",
                       0};
    o[n++] = (cli_opt){
        "--quiet", CLI_FLAG, &a->quiet, NULL, "[ltx2c] no progress or summary on stderr", 0};
    o[n++] = (cli_opt){"--strict",
                       CLI_FLAG,
                       &a->strict,
                       NULL,
                       "[ltx2c] fail instead of taking a capability fallback",
                       0};
    return n;
}

#define ENHANCE_HELP                                                                               \
    "Gemma 3 rewrites --prompt first (looking at the first --image; that needs the Gemma "         \
    "folder's vision tower), logs it, then encodes it"
#define ENHANCE_HELP_REF_DROPS                                                                     \
    ENHANCE_HELP " (the reference CLI parses the flag and drops it here; ltx2c honours it)"

/* --enhance-prompt, --streaming-prefetch-count, --max-batch-size, with the subcommand's help
 * texts for the first and the last. */
static int run_opts(cli_opt *o, gen_args *a, const char *enhance_help, const char *batch_help)
{
    int n = 0;
    o[n++] = (cli_opt){"--enhance-prompt", CLI_FLAG, &a->g.enhance_prompt, NULL, enhance_help, 0};
    o[n++] = (cli_opt){"--streaming-prefetch-count",
                       CLI_INT,
                       &a->g.streaming_prefetch_count,
                       "N",
                       "layer streaming: 1+N transformer blocks resident (default 0 = off)",
                       0};
    o[n++] = (cli_opt){"--offload",
                       CLI_STR,
                       &a->offload,
                       "MODE",
                       "the reference's newer spelling of weight streaming: none = all weights "
                       "resident (streaming off, the default); cpu = layer streaming with "
                       "--streaming-prefetch-count (default 2); disk = layer streaming with the "
                       "smallest residency (prefetch 1 unless given). Here weights are always "
                       "read from the mapped file, so cpu and disk differ only in prefetch",
                       0};
    o[n++] = (cli_opt){"--max-batch-size", CLI_INT, &a->g.max_batch_size, "N", batch_help, 0};
    o[n++] = (cli_opt){"--transformer-path",
                       CLI_STR,
                       &a->g.transformer_path,
                       "FILE",
                       "transformer-only .gguf/.safetensors replacing the checkpoint's "
                       "transformer weights (config, VAEs etc. still from the checkpoint)",
                       0};
    o[n++] = (cli_opt){"--quantization",
                       CLI_STR,
                       &a->quantization,
                       "POLICY",
                       "transformer weights at load: fp8-cast | fp8-scaled-mm (CPU: fp8-cast, "
                       "a logged fallback) | q8_0 | q4_0 | q4_k | q5_k | q6_k",
                       0};
    o[n++] = (cli_opt){"--compile",
                       CLI_FLAG,
                       &a->compile,
                       NULL,
                       "accepted for compatibility: torch.compile has no counterpart here "
                       "(no effect on results or speed)",
                       0};
    return n;
}

/* Flags of every generation parser (args.py basic + generation parsers). */
static int common_opts(cli_opt *o, gen_args *a)
{
    int n = 0;
    n += head_opts(o + n, a);
    o[n++] = (cli_opt){"--height", CLI_INT, &a->g.height, "PX", "output height", 0};
    o[n++] = (cli_opt){"--width", CLI_INT, &a->g.width, "PX", "output width", 0};
    o[n++] =
        (cli_opt){"--num-frames", CLI_INT, &a->g.num_frames, "N", "frames, 8k+1 (default 121)", 0};
    o[n++] = (cli_opt){"--round-frames",
                       CLI_FLAG,
                       &a->g.round_frames,
                       NULL,
                       "[ltx2c] round --num-frames down to 8k+1 instead of refusing",
                       0};
    o[n++] = (cli_opt){"--frame-rate",
                       CLI_DOUBLE,
                       &a->g.frame_rate,
                       "FPS",
                       "default 24.0, in [1, 240] (LTX-2 is trained at 24-50 fps; the audio "
                       "lasts num_frames / FPS s); fractional rates (23.976) are kept exact in "
                       "the file (the reference truncates to an integer)",
                       0};
    o[n++] = (cli_opt){"--image",
                       CLI_IMAGE,
                       &a->images,
                       "PATH FRAME_IDX STRENGTH [CRF]",
                       "condition on an image (repeatable; CRF default 33, 0 = none)",
                       0};
    n += tail_opts(o + n, a);
    return n;
}

static void gen_args_init(gen_args *a, int h, int w)
{
    memset(a, 0, sizeof *a);
    ltx_generate_params_init(&a->g);
    a->g.height = h;
    a->g.width = w;
    a->g.streaming_prefetch_count = NOT_GIVEN; /* resolved with --offload in run() */
}

/* --reference-version and --offload into a->g (with --streaming-prefetch-count); 0 or the
 * usage exit code after an error message. */
static int resolve_version_offload(const char *cmd, gen_args *a)
{
    if (a->refver && ltx_reference_version_parse(a->refver, &a->g.reference_version) != 0) {
        cli_error(cmd, "--reference-version '%s': expected 1.2 or 2026-04", a->refver);
        return CLI_EXIT_USAGE;
    }
    int given = a->g.streaming_prefetch_count;
    if (!a->offload) {
        if (given == NOT_GIVEN) a->g.streaming_prefetch_count = 0;
    } else if (!strcmp(a->offload, "none")) {
        if (given > 0) {
            cli_error(cmd, "--offload none contradicts --streaming-prefetch-count %d", given);
            return CLI_EXIT_USAGE;
        }
        a->g.streaming_prefetch_count = 0;
    } else if (!strcmp(a->offload, "cpu") || !strcmp(a->offload, "disk")) {
        if (given == 0) {
            cli_error(cmd,
                      "--offload %s needs layer streaming: --streaming-prefetch-count 0 "
                      "turns it off",
                      a->offload);
            return CLI_EXIT_USAGE;
        }
        if (given == NOT_GIVEN) a->g.streaming_prefetch_count = !strcmp(a->offload, "cpu") ? 2 : 1;
    } else {
        cli_error(cmd, "--offload '%s': expected none, cpu or disk", a->offload);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static void usage(const char *cmd, const char *ckpt_flag, const char *what, const cli_opt *o, int n)
{
    printf("usage: ltx2c %s %s PATH --gemma-root DIR --prompt TEXT --output-path OUT.mp4 "
           "[options]\n\n%s\n\noptions:\n",
           cmd, ckpt_flag, what);
    cli_print_opts(stdout, o, n);
    printf("\nEvery argument and input file is checked before any weight is loaded. Progress "
           "and a per-stage summary go to stderr (--quiet: errors only).\n");
}

/* cli_parse + --help (usage, exit 0). Returns -1 to go on, else the exit code. */
static int parse(const char *cmd, const char *ckpt_flag, const char *what, const cli_opt *o, int n,
                 int argc, char **argv)
{
    int r = cli_parse(cmd, o, n, argc, argv);
    if (r < 0) {
        usage(cmd, ckpt_flag, what, o, n);
        return CLI_EXIT_OK;
    }
    if (r) return r;
    return -1;
}

/* Opens the engine, runs `fn`, reports. */
typedef ltx_status (*run_fn)(ltx_engine *e, gen_args *a, void *pp);

static int exit_code(ltx_status s)
{
    return s == LTX_OK ? CLI_EXIT_OK : s == LTX_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

/* run() under cli_job_hooks (ltx2c serve): the caller's engine, or a quiet one-thread CPU
 * engine for validation; errors go to the hooks' buffer. */
static int run_hooked(const char *cmd, gen_args *a, run_fn fn, void *pp, cli_job_hooks *h)
{
    a->g.validate_only = h->validate_only;
    ltx_engine *e = h->engine;
    if (!e) {
        ltx_engine_params ep;
        ltx_engine_params_init(&ep);
        ep.device = "cpu";
        ep.n_threads = 1;
        ep.log = NULL;
        if (ltx_engine_open(&ep, &e) != LTX_OK) {
            cli_error(cmd, "cannot open a validation engine: %s", ltx_last_error_global());
            return CLI_EXIT_FAIL;
        }
    }
    ltx_status s = fn(e, a, pp);
    if (s != LTX_OK) cli_error(cmd, "%s", ltx_engine_last_error(e));
    if (!h->engine) ltx_engine_close(e);
    return exit_code(s);
}

static int run(const char *cmd, gen_args *a, run_fn fn, void *pp)
{
    a->g.quantization = a->quantization;
    int rv = resolve_version_offload(cmd, a);
    if (rv) return rv;
    a->g.images = a->images.v;
    a->g.n_images = a->images.n;
    a->g.loras = a->loras.v;
    a->g.n_loras = a->loras.n;
    cli_job_hooks *hooks = cli_job_hooks_get();
    if (hooks) return run_hooked(cmd, a, fn, pp, hooks);
    /* SIGINT/SIGTERM: abort at the next step; during the mp4 write, remove the temp file and
     * die of the signal (io/file.h). */
    ltx_interrupt_install();
    progress prog = {a->quiet, isatty(fileno(stderr))};
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    if (!cli_check_precision(cmd, a->precision)) return CLI_EXIT_USAGE;
    ep.device = a->device ? a->device : "auto";
    ep.precision = a->precision;
    ep.n_threads = a->threads;
    ep.strict = a->strict;
    ep.log_level = a->quiet ? LTX_LOG_ERROR : LTX_LOG_INFO;
    ep.progress = on_progress;
    ep.progress_user = &prog;
    ltx_engine *e = NULL;
    ltx_status os = ltx_engine_open(&ep, &e);
    if (os == LTX_ERR_INVALID_ARG) { /* a bad --threads */
        cli_error(cmd, "%s", ltx_last_error_global());
        return CLI_EXIT_USAGE;
    }
    if (os != LTX_OK) {
        cli_error(cmd, "cannot open device '%s': %s", ep.device, ltx_last_error_global());
        return CLI_EXIT_FAIL;
    }
    ltx_status s = fn(e, a, pp);
    int sig = ltx_interrupted();
    if (s != LTX_OK && sig) {
        cli_error(cmd, "interrupted by %s: stopped, no output written",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
        ltx_engine_close(e);
        return 128 + sig; /* the shell's convention for death by that signal: 130 for Ctrl-C */
    }
    if (s != LTX_OK) cli_error(cmd, "%s", ltx_engine_last_error(e));
    ltx_engine_close(e);
    return exit_code(s);
}

/* ---- distilled ---- */

static ltx_status run_distilled(ltx_engine *e, gen_args *a, void *pp)
{
    return ltx_generate_distilled(e, &a->g, pp);
}

int cmd_distilled(int argc, char **argv)
{
    gen_args a;
    gen_args_init(&a, 1024, 1536);
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    cli_opt o[MAX_OPTS];
    int n = 0;
    o[n++] = (cli_opt){"--distilled-checkpoint-path",
                       CLI_STR,
                       &dp.distilled_checkpoint_path,
                       "PATH",
                       "distilled LTX-2.3 checkpoint (.safetensors)",
                       1};
    o[n++] = (cli_opt){"--spatial-upsampler-path",    CLI_STR, &dp.spatial_upsampler_path, "PATH",
                       "spatial x2 latent upsampler", 1};
    n += common_opts(o + n, &a);
    n += run_opts(o + n, &a, ENHANCE_HELP, "parsed and unused, as in the reference");
    static const char what[] =
        "Distilled pipeline: stage 1 at half size (8 fixed sigmas), x2 latent upsampling, "
        "stage 2 at full size (3 sigmas), no guidance. Defaults 1024x1536, 121 frames @ 24 fps.";
    int r = parse("distilled", "--distilled-checkpoint-path", what, o, n, argc, argv);
    if (r >= 0) return r;
    return run("distilled", &a, run_distilled, &dp);
}

/* ---- guided pipelines ---- */

typedef struct guided_args {
    ltx_guided_params p;
    cli_ints vblocks, ablocks;
    cli_loras dloras;
    int kind; /* 0 one-stage, 1 two-stage, 2 HQ, 3 keyframe_interpolation, 4 a2vid_two_stage */
    ltx_a2vid_params a2; /* kind 4 */
} guided_args;

static ltx_status run_guided(ltx_engine *e, gen_args *a, void *pp)
{
    guided_args *ga = pp;
    if (ga->vblocks.given) {
        memcpy(ga->p.video.stg_blocks, ga->vblocks.v, sizeof(int) * (size_t)ga->vblocks.n);
        ga->p.video.n_stg_blocks = ga->vblocks.n;
    }
    if (ga->ablocks.given) {
        memcpy(ga->p.audio.stg_blocks, ga->ablocks.v, sizeof(int) * (size_t)ga->ablocks.n);
        ga->p.audio.n_stg_blocks = ga->ablocks.n;
    }
    ga->p.distilled_loras = ga->dloras.v;
    ga->p.n_distilled_loras = ga->dloras.n;
    if (ga->kind == 3) return ltx_generate_keyframe_interpolation(e, &a->g, &ga->p);
    if (ga->kind == 4) return ltx_generate_a2vid_two_stage(e, &a->g, &ga->p, &ga->a2);
    return ga->kind == 0   ? ltx_generate_one_stage(e, &a->g, &ga->p)
           : ga->kind == 1 ? ltx_generate_two_stages(e, &a->g, &ga->p)
                           : ltx_generate_two_stages_hq(e, &a->g, &ga->p);
}

static int guided_cmd(const char *cmd, int kind, const char *what, int argc, char **argv)
{
    gen_args a;
    guided_args ga;
    memset(&ga, 0, sizeof ga);
    ga.kind = kind;
    if (kind == 2) {
        gen_args_init(&a, 1088, 1920);
        ltx_guided_params_init_hq(&ga.p);
    } else {
        gen_args_init(&a, kind == 0 ? 512 : 1024, kind == 0 ? 768 : 1536);
        /* ref: detect_checkpoint_path + detect_params pick the defaults from the checkpoint's
         * model_version before parsing (2.3: 30 steps, STG block 28; else 40, block 29) */
        const char *ck = NULL;
        for (int i = 1; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--checkpoint-path")) ck = argv[i + 1];
        if (kind == 4) /* ref: a2vid's parser takes LTX_2_3_PARAMS directly (spec §6.6) */
            ltx_guided_params_init(&ga.p);
        else
            ltx_guided_params_init_for_checkpoint(&ga.p, ck);
    }
    ltx_guided_params *p = &ga.p;
    cli_opt o[MAX_OPTS];
    int n = 0;
    o[n++] = (cli_opt){"--checkpoint-path",
                       CLI_STR,
                       &p->checkpoint_path,
                       "PATH",
                       "LTX-2.3 dev checkpoint (.safetensors)",
                       1};
    if (kind) {
        o[n++] =
            (cli_opt){"--spatial-upsampler-path",    CLI_STR, &p->spatial_upsampler_path, "PATH",
                      "spatial x2 latent upsampler", 1};
        o[n++] = (cli_opt){"--distilled-lora",
                           CLI_LORA,
                           &ga.dloras,
                           "PATH [STRENGTH]",
                           kind == 2 ? "distilled LoRA (first one only; strengths below)"
                                     : "distilled LoRA for stage 2 (repeatable)",
                           1};
    }
    if (kind == 2) {
        o[n++] = (cli_opt){"--distilled-lora-strength-stage-1",
                           CLI_DOUBLE,
                           &p->distilled_lora_strength_stage_1,
                           "S",
                           "default 0.25",
                           0};
        o[n++] = (cli_opt){"--distilled-lora-strength-stage-2",
                           CLI_DOUBLE,
                           &p->distilled_lora_strength_stage_2,
                           "S",
                           "default 0.5",
                           0};
    }
    n += common_opts(o + n, &a);
    if (kind == 3) /* keyframes: negative frame indices count from the end */
        for (int i = 0; i < n; i++)
            if (!strcmp(o[i].name, "--image"))
                o[i].help = "keyframe image (repeatable; every one, frame 0 too, becomes "
                            "keyframe tokens); FRAME_IDX < 0 counts from the end (-1 = last "
                            "frame); CRF default 33, 0 = none";
    if (kind == 4) {
        ltx_a2vid_params_init(&ga.a2);
        ga.a2.audio_max_duration = NAN; /* not given (the parser refuses a NaN value) */
        o[n++] = (cli_opt){"--audio-path",
                           CLI_STR,
                           &ga.a2.audio_path,
                           "PATH",
                           "audio to generate the video for (any format FFmpeg reads; mono / "
                           "multichannel converted to stereo; kept as the output's audio)",
                           1};
        o[n++] = (cli_opt){"--audio-start-time",
                           CLI_DOUBLE,
                           &ga.a2.audio_start_time,
                           "S",
                           "seconds into the audio file (default 0)",
                           0};
        o[n++] = (cli_opt){"--audio-max-duration",
                           CLI_DOUBLE,
                           &ga.a2.audio_max_duration,
                           "S",
                           "seconds of audio, > 0 (default: num_frames / frame_rate)",
                           0};
        o[n++] = (cli_opt){"--pad-audio",
                           CLI_FLAG,
                           &ga.a2.pad_audio,
                           NULL,
                           "[ltx2c] pad audio shorter than the video with silence (default: "
                           "refuse it before loading anything)",
                           0};
    }
    o[n++] = (cli_opt){"--negative-prompt",
                       CLI_STR,
                       &p->negative_prompt,
                       "TEXT",
                       "default: ltx2c's list of quality terms",
                       0};
    o[n++] = (cli_opt){"--num-inference-steps",
                       CLI_INT,
                       &p->num_inference_steps,
                       "N",
                       kind == 2 ? "stage-1 steps (default 15)"
                                 : "stage-1 steps (default 30 for LTX-2.3 checkpoints, else 40)",
                       0};
    o[n++] = (cli_opt){"--video-cfg-guidance-scale", CLI_DOUBLE, &p->video.cfg_scale, "X",
                       "default 3.0 (0..100)",       0};
    o[n++] = (cli_opt){"--video-stg-guidance-scale",
                       CLI_DOUBLE,
                       &p->video.stg_scale,
                       "X",
                       kind == 2 ? "default 0.0 (0..100)" : "default 1.0 (0..100)",
                       0};
    o[n++] = (cli_opt){"--video-rescale-scale",
                       CLI_DOUBLE,
                       &p->video.rescale_scale,
                       "X",
                       kind == 2 ? "default 0.45 (0..1)" : "default 0.7 (0..1)",
                       0};
    o[n++] = (cli_opt){"--video-stg-blocks",
                       CLI_INTS,
                       &ga.vblocks,
                       "[I...]",
                       kind == 2 ? "default none" : "default 28 (LTX-2.0: 29)",
                       0};
    o[n++] = (cli_opt){"--a2v-guidance-scale",
                       CLI_DOUBLE,
                       &p->video.modality_scale,
                       "X",
                       "video modality guidance, default 3.0 (0..100)",
                       0};
    o[n++] = (cli_opt){"--video-skip-step", CLI_INT, &p->video.skip_step, "N", "default 0", 0};
    const int first_audio_opt = n;
    o[n++] = (cli_opt){"--audio-cfg-guidance-scale", CLI_DOUBLE, &p->audio.cfg_scale, "X",
                       "default 7.0 (0..100)",       0};
    o[n++] = (cli_opt){"--audio-stg-guidance-scale",
                       CLI_DOUBLE,
                       &p->audio.stg_scale,
                       "X",
                       kind == 2 ? "default 0.0 (0..100)" : "default 1.0 (0..100)",
                       0};
    o[n++] = (cli_opt){"--audio-rescale-scale",
                       CLI_DOUBLE,
                       &p->audio.rescale_scale,
                       "X",
                       kind == 2 ? "default 1.0 (0..1)" : "default 0.7 (0..1)",
                       0};
    o[n++] = (cli_opt){"--audio-stg-blocks",
                       CLI_INTS,
                       &ga.ablocks,
                       "[I...]",
                       kind == 2 ? "default none" : "default 28 (LTX-2.0: 29)",
                       0};
    o[n++] = (cli_opt){"--v2a-guidance-scale",
                       CLI_DOUBLE,
                       &p->audio.modality_scale,
                       "X",
                       "audio modality guidance, default 3.0 (0..100)",
                       0};
    o[n++] = (cli_opt){"--audio-skip-step", CLI_INT, &p->audio.skip_step, "N", "default 0", 0};
    if (kind == 4) /* the audio is frozen: these are refused when changed (spec §14 item 5) */
        for (int i = first_audio_opt; i < n; i++)
            if (strstr(o[i].name, "audio") || strstr(o[i].name, "v2a"))
                o[i].help = "refused: the given audio stays fixed, audio guidance has no "
                            "effect (the reference parses and ignores it)";
    n += run_opts(o + n, &a, ENHANCE_HELP_REF_DROPS,
                  "guidance passes per transformer call (default 1: one by one)");
    if (kind == 4)
        for (int i = 0; i < n; i++)
            if (!strcmp(o[i].name, "--enhance-prompt")) o[i].help = ENHANCE_HELP;
    int r = parse(cmd, "--checkpoint-path", what, o, n, argc, argv);
    if (r >= 0) return r;
    if (kind == 4 && isnan(ga.a2.audio_max_duration)) {
        ga.a2.audio_max_duration = 0; /* the library's "the video's duration" */
    } else if (kind == 4 && !(ga.a2.audio_max_duration > 0)) {
        /* the library reads 0 as "not given"; given on the command line it is a mistake */
        cli_error(cmd,
                  "--audio-max-duration %g: must be > 0 seconds (leave it out for the "
                  "video's duration)",
                  ga.a2.audio_max_duration);
        return CLI_EXIT_USAGE;
    }
    return run(cmd, &a, run_guided, &ga);
}

int cmd_ti2vid_one_stage(int argc, char **argv)
{
    return guided_cmd("ti2vid_one_stage", 0,
                      "Text/image-to-video in one guided stage at full resolution (LTX2 "
                      "schedule, CFG + STG + modality guidance + rescale). Defaults 512x768, "
                      "121 frames @ 24 fps; sizes must be multiples of 32.",
                      argc, argv);
}

int cmd_ti2vid_two_stages(int argc, char **argv)
{
    return guided_cmd("ti2vid_two_stages", 1,
                      "Text/image-to-video in two stages: guided stage 1 at half size, x2 "
                      "latent upsampling, stage 2 refined with the distilled LoRA. Defaults "
                      "1024x1536, 121 frames @ 24 fps; sizes must be multiples of 64.",
                      argc, argv);
}

int cmd_ti2vid_two_stages_hq(int argc, char **argv)
{
    return guided_cmd("ti2vid_two_stages_hq", 2,
                      "Two stages with the res_2s second-order sampler, distilled LoRA at 0.25 "
                      "(stage 1) and 0.5 (stage 2). Defaults 1088x1920, 121 frames @ 24 fps, "
                      "15 steps.",
                      argc, argv);
}

/* ---- conditioning pipelines ---- */

int cmd_keyframe_interpolation(int argc, char **argv)
{
    return guided_cmd("keyframe_interpolation", 3,
                      "Video between keyframe images: the two-stage guided pipeline (stage 1 at "
                      "half size, x2 upsampling, stage 2 with the distilled LoRA) in which every "
                      "--image becomes keyframe tokens at its frame, e.g. --image first.png 0 1.0 "
                      "--image last.png -1 0.8. Defaults 1024x1536, 121 frames @ 24 fps.",
                      argc, argv);
}

int cmd_a2vid_two_stage(int argc, char **argv)
{
    return guided_cmd("a2vid_two_stage", 4,
                      "Audio-to-video in two stages: the audio is encoded once and kept fixed "
                      "while the video is generated around it (video guidance only); the output "
                      "carries the input audio unchanged, at its own sample rate. Defaults "
                      "1024x1536, 121 frames @ 24 fps.",
                      argc, argv);
}

/* Flags every conditioning subcommand without size flags shares (retake). */
static int basic_opts(cli_opt *o, gen_args *a)
{
    int n = 0;
    n += head_opts(o + n, a);
    n += tail_opts(o + n, a);
    return n;
}

static ltx_status run_retake(ltx_engine *e, gen_args *a, void *pp)
{
    return ltx_generate_retake(e, &a->g, pp);
}

int cmd_retake(int argc, char **argv)
{
    gen_args a;
    gen_args_init(&a, 0, 0);
    ltx_retake_params rp;
    ltx_retake_params_init(&rp);
    cli_opt o[MAX_OPTS];
    int n = 0;
    o[n++] = (cli_opt){"--distilled-checkpoint-path",
                       CLI_STR,
                       &rp.distilled_checkpoint_path,
                       "PATH",
                       "distilled LTX-2.3 checkpoint (.safetensors)",
                       1};
    o[n++] = (cli_opt){"--video-path",
                       CLI_STR,
                       &rp.video_path,
                       "PATH",
                       "source video: 8k+1 frames, sides multiples of 32 (audio optional)",
                       1};
    o[n++] = (cli_opt){"--start-time",
                       CLI_DOUBLE,
                       &rp.start_time,
                       "S",
                       "start of the window to regenerate, seconds (inclusive)",
                       1};
    o[n++] = (cli_opt){"--end-time",
                       CLI_DOUBLE,
                       &rp.end_time,
                       "S",
                       "end of the window, seconds (exclusive, > start, inside the video)",
                       1};
    o[n++] = (cli_opt){"--fit",
                       CLI_FLAG,
                       &rp.fit,
                       NULL,
                       "[ltx2c] trim the source to 8k+1 frames and center-crop it to multiples "
                       "of 32 instead of refusing it",
                       0};
    n += basic_opts(o + n, &a);
    n += run_opts(o + n, &a, ENHANCE_HELP_REF_DROPS, "parsed and unused (one pass per step)");
    static const char what[] =
        "Regenerate a time window of an existing video: the source video and audio become "
        "the initial latents of one distilled stage (8 sigmas) at the source size and rate; "
        "only the tokens overlapping [--start-time, --end-time) are regenerated, the rest is "
        "kept (the whole audio track is re-synthesised by the vocoder). A source without "
        "audio gets a new audio track. (The reference CLI crashes on args.distilled; this is "
        "the distilled mode its parser implies.)";
    int r = cli_parse("retake", o, n, argc, argv);
    if (r < 0) {
        printf("usage: ltx2c retake --distilled-checkpoint-path PATH --video-path PATH "
               "--start-time S --end-time S --gemma-root DIR --prompt TEXT --output-path "
               "OUT.mp4 [options]\n\n%s\n\noptions:\n",
               what);
        cli_print_opts(stdout, o, n);
        return CLI_EXIT_OK;
    }
    if (r) return r;
    return run("retake", &a, run_retake, &rp);
}

typedef struct ic_args {
    ltx_ic_lora_params p;
    cli_loras refs, mask;
} ic_args;

static ltx_status run_ic_lora(ltx_engine *e, gen_args *a, void *pp)
{
    ic_args *ia = pp;
    ia->p.video_conditioning = (const ltx_video_cond_input *)ia->refs.v;
    ia->p.n_video_conditioning = ia->refs.n;
    if (ia->mask.n) {
        ia->p.attention_mask_path = ia->mask.v[0].path;
        ia->p.attention_mask_strength = ia->mask.v[0].strength;
    }
    return ltx_generate_ic_lora(e, &a->g, &ia->p);
}

int cmd_ic_lora(int argc, char **argv)
{
    gen_args a;
    gen_args_init(&a, 1024, 1536);
    ic_args ia;
    memset(&ia, 0, sizeof ia);
    ltx_ic_lora_params_init(&ia.p);
    cli_opt o[MAX_OPTS];
    int n = 0;
    o[n++] = (cli_opt){"--distilled-checkpoint-path",
                       CLI_STR,
                       &ia.p.distilled_checkpoint_path,
                       "PATH",
                       "distilled LTX-2.3 checkpoint (.safetensors)",
                       1};
    o[n++] = (cli_opt){"--spatial-upsampler-path",
                       CLI_STR,
                       &ia.p.spatial_upsampler_path,
                       "PATH",
                       "spatial x2 latent upsampler (not needed with --skip-stage-2)",
                       0};
    o[n++] = (cli_opt){"--video-conditioning",
                       CLI_LORA,
                       &ia.refs,
                       "PATH STRENGTH",
                       "reference (control) video and its strength in [0, 1] (repeatable)",
                       1};
    o[n++] = (cli_opt){"--conditioning-attention-mask",
                       CLI_LORA,
                       &ia.mask,
                       "PATH STRENGTH",
                       "grayscale mask video: per-region attention to the reference, times "
                       "STRENGTH in [0, 1]",
                       0};
    o[n++] = (cli_opt){"--skip-stage-2",
                       CLI_FLAG,
                       &ia.p.skip_stage_2,
                       NULL,
                       "decode stage 1: output at half size",
                       0};
    n += common_opts(o + n, &a);
    for (int i = 0; i < n; i++)
        if (!strcmp(o[i].name, "--lora"))
            o[i].help = "IC-LoRA (repeatable; its metadata reference_downscale_factor sets the "
                        "reference size), fused into stage 1 only";
    n += run_opts(o + n, &a, ENHANCE_HELP_REF_DROPS, "parsed and unused, as in the reference");
    static const char what[] =
        "In-context LoRA: the distilled two-stage pipeline with reference (control) videos "
        "appended as extra tokens in stage 1 (at half size / the IC-LoRA's "
        "reference_downscale_factor), the IC-LoRA fused in stage 1; stage 2 without LoRA. "
        "Defaults 1024x1536, 121 frames @ 24 fps.";
    int r = parse("ic_lora", "--distilled-checkpoint-path", what, o, n, argc, argv);
    if (r >= 0) return r;
    if (ia.mask.n > 1) {
        cli_error("ic_lora", "--conditioning-attention-mask given %d times (once at most)",
                  ia.mask.n);
        return CLI_EXIT_USAGE;
    }
    return run("ic_lora", &a, run_ic_lora, &ia);
}
