/*
 * test_cli.c — the ltx2c front end: every subcommand answers --help with exit 0, unknown
 * commands/options are usage errors (exit 2), a pipeline not built yet exits non-zero without
 * writing output, info lists both CPU devices, and verify's exit code follows the result.
 */
#include "harness.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >/tmp/ltx_test_cli_%d.out 2>&1", LTX2C_BIN, args,
             (int)getpid());
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool output_has(const char *needle)
{
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/tmp/ltx_test_cli_%d.out", (int)getpid());
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static const char *subcommands[] = {"info",
                                    "inspect",
                                    "verify",
                                    "tokenize",
                                    "ti2vid_two_stages",
                                    "ti2vid_two_stages_hq",
                                    "ti2vid_one_stage",
                                    "distilled",
                                    "keyframe_interpolation",
                                    "a2vid_two_stage",
                                    "retake",
                                    "ic_lora"};

TEST(help_everywhere)
{
    CHECK(run("--help") == 0);
    CHECK(output_has("commands:"));
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++) {
        char a[128];
        snprintf(a, sizeof a, "%s --help", subcommands[i]);
        CHECK_MSG(run(a) == 0, "%s --help", subcommands[i]);
        CHECK_MSG(output_has("usage"), "%s --help prints usage", subcommands[i]);
    }
}

TEST(usage_errors)
{
    CHECK(run("") == 2);
    CHECK(run("no_such_command") == 2);
    CHECK(output_has("unknown command"));
    CHECK(run("verify --no-such-flag x") == 2);
    CHECK(run("verify") == 2);
    CHECK(run("info --device tpu") == 1);
    CHECK(output_has("tpu"));
}

TEST(not_built_flags_refused)
{
    /* --quantization is recognised but not built: it says so, exits 1, writes nothing */
    unlink("/tmp/ltx_test_cli_quant.mp4");
    CHECK(run("distilled --quantization fp8-cast --distilled-checkpoint-path x "
              "--spatial-upsampler-path y --gemma-root z --prompt p "
              "--output-path /tmp/ltx_test_cli_quant.mp4") == 1);
    CHECK(output_has("--quantization fp8-cast: fp8 quantization is not built yet"));
    CHECK(access("/tmp/ltx_test_cli_quant.mp4", F_OK) != 0);
    CHECK(run("ti2vid_two_stages --help") == 0);
    CHECK(output_has("--compile"));
}

/* --precision: a bad value names the flag and the value before anything loads; info and verify
 * show / accept the precision */
TEST(precision_flag)
{
    CHECK(run("verify --precision fp16 x.safetensors") == 2);
    CHECK(output_has("--precision 'fp16'"));
    CHECK(run("distilled --precision fp8 --distilled-checkpoint-path a --gemma-root b --prompt p "
              "--spatial-upsampler-path u --output-path o.mp4") == 2);
    CHECK(output_has("--precision 'fp8'"));
    CHECK(run("info --device cpu") == 0);
    CHECK(output_has("precision: f32"));
    CHECK(output_has("compiled backends: cpu, cpu-restricted"));
    CHECK(run("verify --precision bf16 --device cpu " LTX_TEST_DATA
              "/golden/modules/guiders.safetensors") == 0);
}

TEST(info_lists_devices)
{
    CHECK(run("info") == 0);
    CHECK(output_has("cpu-restricted"));
    CHECK(output_has("f64=no"));
    CHECK(output_has("f64=yes"));
    /* the CPU kernel level chosen at start-up, and LTX_CPU_ISA lowering it (issue 12) */
    CHECK(output_has("cpu kernels: "));
    CHECK(run("info --device cpu") == 0);
    CHECK(output_has("cpu kernels: "));
    CHECK(system("LTX_CPU_ISA=scalar " LTX2C_BIN " info --device cpu 2>&1 | grep -q "
                 "'cpu kernels: scalar (detected .*LTX_CPU_ISA=scalar)'") == 0);
}

TEST(verify_exit_codes)
{
    CHECK(run("verify --device cpu " LTX_TEST_DATA "/golden/modules/schedulers.safetensors") == 0);
    CHECK(output_has("22 passed, 0 failed"));
    CHECK(run("verify --device cpu /nonexistent/file.safetensors") == 1);
    CHECK(output_has("/nonexistent/file.safetensors"));
    /* strict mode refuses the float64 fallback on the restricted device */
    CHECK(run("verify --device cpu-restricted --strict " LTX_TEST_DATA
              "/golden/modules/diffusion_steps.safetensors") == 1);
    CHECK(output_has("strict"));
}
TEST_MAIN()
