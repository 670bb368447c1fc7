/* cmd_verify.c — `ltx2c verify FILE...`: replay golden files (docs/GOLDEN.md). */
#include "cli.h"
#include "ltx_golden.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: ltx2c verify [options] FILE.safetensors...\n\n"
           "Replays golden files written by the reference implementation (format\n"
           "ltx2-golden-extra/1): feeds each case's in.* tensors to the port, compares every\n"
           "out.* tensor and every intermediate the port taps, at the tolerances stored in the\n"
           "file. Prints one line per tensor and a final 'N passed, M failed' line; exits 1 on\n"
           "any mismatch or unsupported case.\n\n"
           "options:\n"
           "  --device D          auto|cpu|cpu-restricted|cuda[:N] (default auto)\n"
           "  --precision P       f32|bf16|auto: bf16 rounds GEMM/attention inputs to bf16 with\n"
           "                      f32 sums (default auto: bf16 on cuda, f32 on cpu)\n"
           "  --threads N         worker threads (default: all cores)\n"
           "  --strict            fail instead of taking capability fallbacks\n"
           "  --root DIR          golden set root holding tiny_ckpt/ and media/\n"
           "                      (default: the parent of the file's folder)\n"
           "  --noise-from-seed   pipelines: draw noise from the seed instead of in.*noise*\n"
           "  --tokenizer PATH    Gemma 3 tokenizer.json for text goldens (default:\n"
           "                      .cache/tokenizer-gemma3/tokenizer.json, as setup puts it)\n"
           "  --tolerance-scale X multiply every tolerance by X (debugging)\n"
           "  --nmse-max X        error budget instead of the file's tolerances: pass iff\n"
           "                      NMSE <= X (and, with --max-rel R, max|d| <= R * max|ref|);\n"
           "                      for low-bit weights (docs/NUMERICS.md)\n"
           "  --max-rel R         see --nmse-max\n"
           "  --quantization P    load transformers with --quantization P (fp8-cast, q4_k, ...)\n"
           "  --reference-version V  1.2|2026-04: replay under these numerics (default: the\n"
           "                      version of each file's reference_commit, a2c3f24 = 2026-04,\n"
           "                      400fd31 = 1.2)\n"
           "  --verbose           also print passing intermediates\n"
           "  --quiet             only the summary line\n");
}

/* A malformed option value: names the flag and the value; exit 2. */
static int verify_bad(const char **files, const char *flag, const char *val, const char *want)
{
    cli_error("verify", "%s '%s': must be %s", flag, val, want);
    free(files);
    return CLI_EXIT_USAGE;
}

int cmd_verify(int argc, char **argv)
{
    const char *device = "auto", *precision = NULL;
    int threads = 0, strict = 0, quiet = 0;
    ltx_verify_params vp;
    ltx_verify_params_init(&vp);
    const char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    if (!files) return CLI_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (cli_is_help(a)) {
            help();
            free(files);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--device") && has)
            device = argv[++i];
        else if (!strcmp(a, "--precision") && has)
            precision = argv[++i];
        else if (!strcmp(a, "--threads") && has) {
            if (!ltx_parse_int(argv[++i], 0, 512, &threads))
                return verify_bad(files, "--threads", argv[i],
                                  "an integer in 0..512 (0 = all CPUs)");
        } else if (!strcmp(a, "--strict"))
            strict = 1;
        else if (!strcmp(a, "--root") && has)
            vp.golden_root = argv[++i];
        else if (!strcmp(a, "--noise-from-seed"))
            vp.noise_from_seed = 1;
        else if (!strcmp(a, "--tokenizer") && has)
            vp.tokenizer = argv[++i];
        else if (!strcmp(a, "--tolerance-scale") && has) {
            if (!ltx_parse_f64(argv[++i], DBL_MIN, 1e6, &vp.tolerance_scale))
                return verify_bad(files, "--tolerance-scale", argv[i], "a number in (0, 1e6]");
        } else if (!strcmp(a, "--reference-version") && has) {
            if (ltx_reference_version_parse(argv[++i], &vp.reference_version) != 0) {
                cli_error("verify", "--reference-version '%s': expected 1.2 or 2026-04", argv[i]);
                free(files);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--nmse-max") && has)
            vp.nmse_max = atof(argv[++i]);
        else if (!strcmp(a, "--max-rel") && has)
            vp.max_rel = atof(argv[++i]);
        else if (!strcmp(a, "--quantization") && has)
            vp.quantization = argv[++i];
        else if (!strcmp(a, "--verbose"))
            vp.verbose = 1;
        else if (!strcmp(a, "--quiet"))
            quiet = 1;
        else if (a[0] == '-' && a[1] == '-') {
            cli_error("verify", "unknown option '%s' (see ltx2c verify --help)", a);
            free(files);
            return CLI_EXIT_USAGE;
        } else
            files[nfiles++] = a;
    }
    if (!cli_check_precision("verify", precision)) {
        free(files);
        return CLI_EXIT_USAGE;
    }
    if (!nfiles) {
        cli_error("verify", "no golden file given (see ltx2c verify --help)");
        free(files);
        return CLI_EXIT_USAGE;
    }
    if (!vp.tokenizer) vp.tokenizer = cli_default_tokenizer();
    ltx_engine *e =
        cli_open_engine(device, precision, threads, strict, quiet ? LTX_LOG_ERROR : LTX_LOG_INFO);
    if (!e) {
        free(files);
        return CLI_EXIT_FAIL;
    }
    int passed = 0, failed = 0, unsupported = 0, errors = 0;
    for (int f = 0; f < nfiles; f++) {
        if (!quiet) fprintf(stderr, "== %s (device %s)\n", files[f], device);
        ltx_verify_result r;
        ltx_status s = ltx_verify_file(e, files[f], &vp, &r);
        passed += r.passed;
        failed += r.failed;
        unsupported += r.unsupported;
        if (s != LTX_OK && s != LTX_ERR_MISMATCH && s != LTX_ERR_UNSUPPORTED) {
            errors++;
            fprintf(stderr, "ltx2c verify: %s\n", ltx_engine_last_error(e));
        }
    }
    int fallbacks = ltx_engine_fallback_count(e);
    ltx_engine_close(e);
    free(files);
    if (fallbacks && !quiet) fprintf(stderr, "capability fallbacks taken: %d\n", fallbacks);
    if (unsupported) printf("%d case(s) unsupported\n", unsupported);
    printf("%d passed, %d failed\n", passed, failed + errors);
    return (failed || errors || unsupported || passed == 0) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
