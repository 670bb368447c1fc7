/*
 * test_hardening_cli.c — issue 15's hostile and careless inputs through the ltx2c binary, on the
 * bundled tiny checkpoint and tiny Gemma. Each case crashed, hung, lost data or was silently
 * ignored before; now each is refused with a message naming the flag, file or key, or works:
 *   - output size bounds (the 1073741824 x 65536 x 2147483641 heap overflow), golden params and
 *     inputs whose sizes overflow, patch_size 0 in a golden;
 *   - two concurrent runs to one --output-path both give a valid file, a retake input named like
 *     the old fixed temp file survives, nothing temporary is left;
 *   - SIGINT during denoising: exit 130 at the next step boundary, nothing left in the folder;
 *   - FIFOs given as checkpoint, upsampler, LoRA, tokenizer, image, golden or inspect path are
 *     refused at once (each run under `timeout`, so a hang fails instead of blocking);
 *   - hostile configs inside a checkpoint (num_attention_heads 1e30, num_layers 1e30, a VAE
 *     num_layers of 2^31) are refused naming the key;
 *   - strict numbers: verify --tolerance-scale abc / --threads abc, --device cuda:abc,
 *     --video-skip-step 2147483647 (runs; it overflowed in the guider);
 *   - inspect prints escape sequences and malformed UTF-8 from tensor names and metadata as
 *     \xNN, in text and in valid JSON.
 * LTX2C_TEST_BIN=<path> runs all of it against another build (e.g. build-asan/ltx2c).
 */
#include "harness.h"
#include "pipelines/cli_util.h"
#include "test_util.h"

#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define D     LTX_TEST_DATA "/golden"
#define CKPT  D "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define UPS   D "/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors"
#define ULORA D "/tiny_ckpt/tiny-lora-r4.safetensors"
#define SRC   D "/media/retake_source.mp4"
#define PATCH D "/modules/patchify_and_positions.safetensors"

static char g_tok[4096], g_dir[200], g_log[220];

static void setup(void)
{
    if (g_dir[0]) return;
    tu_tokenizer_path(g_tok, sizeof g_tok);
    snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_hardening_cli_%d", (int)getpid());
    snprintf(g_log, sizeof g_log, "%s.log", g_dir); /* stderr captures live outside g_dir */
    mkdir(g_dir, 0755);
    mkdir(g_log, 0755);
}

static const char *tmp(const char *name)
{
    static char buf[8][400];
    static int k;
    setup();
    char *b = buf[k++ % 8];
    snprintf(b, 400, "%s/%s", g_dir, name);
    return b;
}

/* ltx2c `args` under `timeout 60` (a hang exits 124); stderr into err. */
static int run(const char *args, char *err, size_t cap)
{
    setup();
    char a[20000];
    snprintf(a, sizeof a, "%s", args);
    char cmd[21000], ef[400];
    snprintf(ef, sizeof ef, "%s/stderr.txt", g_log);
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s >/dev/null 2>%s", cli_bin(), a, ef);
    int st = system(cmd);
    err[0] = 0;
    FILE *f = fopen(ef, "rb");
    if (f) {
        size_t k = fread(err, 1, cap - 1, f);
        err[k] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *distilled_args(const char *extra, const char *out)
{
    static char a[8192];
    snprintf(a, sizeof a,
             "distilled --distilled-checkpoint-path " CKPT " --spatial-upsampler-path " UPS
             " --gemma-root " D "/tiny_gemma --tokenizer %s --prompt 'A red fox' --output-path %s "
             "--height 128 --width 192 --num-frames 17 %s",
             g_tok, out, extra);
    return a;
}

/* Entries of g_dir, one per line; the count. */
static int dir_list(char *out, size_t cap)
{
    setup();
    DIR *dp = opendir(g_dir);
    int n = 0;
    out[0] = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s\n", e->d_name);
        n++;
    }
    if (dp) closedir(dp);
    return n;
}

static void clear_dir(void)
{
    char names[8192];
    dir_list(names, sizeof names);
    for (char *p = strtok(names, "\n"); p; p = strtok(NULL, "\n"))
        remove(tmp(p));
}

#define EXPECT(rc_want, args, needle)                                                              \
    do {                                                                                           \
        char err_[16384];                                                                          \
        int rc_ = run(args, err_, sizeof err_);                                                    \
        CHECK_MSG(rc_ == (rc_want) && strstr(err_, needle), "exit %d (want %d), no '%s' in: %s",   \
                  rc_, rc_want, needle, err_);                                                     \
    } while (0)

/* ---- 1: sizes ---------------------------------------------------------------------------- */

TEST(output_size_bounds_name_the_flag)
{
    const char *out = tmp("big.mp4");
    /* the repro: a heap overflow in the patchifier before */
    EXPECT(2, distilled_args("--height 1073741824 --width 65536 --num-frames 2147483641", out),
           "--height 1073741824: must be at most 8192");
    /* the size flags given again: later flags win in the table parser */
    EXPECT(2, distilled_args("--width 8256", out), "--width 8256: must be at most 8192");
    EXPECT(2, distilled_args("--num-frames 16393", out),
           "--num-frames 16393: must be at most 16385");
    EXPECT(2, distilled_args("--height 8256 --width 64", out), "--height 8256");
    CHECK(access(out, F_OK) != 0);
}

/* Copies the golden at `src` to `dst` with `edit` applied to its extra JSON and, when
 * `empty_input` is set, that tensor replaced by an empty F32 tensor of shape [0, 2^53, 2^53]. */
static bool golden_variant(const char *src, const char *dst, void (*edit)(cJSON *cases),
                           const char *empty_input)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(src, &f) != LTX_OK) return false;
    ltx_st_writer *w = ltx_st_writer_new();
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        if (empty_input && !strcmp(e->name, empty_input)) {
            const int64_t sh[3] = {0, (int64_t)1 << 53, (int64_t)1 << 53};
            ltx_st_writer_add(w, e->name, LTX_F32, 3, sh, "");
        } else {
            ltx_st_writer_add(w, e->name, e->dtype, e->ndim, e->shape, e->data);
        }
    }
    for (int i = 0; i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        if (strcmp(k, "extra") != 0) {
            ltx_st_writer_set_metadata(w, k, v);
            continue;
        }
        cJSON *x = cJSON_Parse(v);
        if (edit) edit(cJSON_GetObjectItemCaseSensitive(x, "cases"));
        char *s = cJSON_PrintUnformatted(x);
        ltx_st_writer_set_metadata(w, k, s);
        free(s);
        cJSON_Delete(x);
    }
    bool ok = ltx_st_writer_save(w, dst) == LTX_OK;
    ltx_st_writer_free(w);
    ltx_st_close(f);
    return ok;
}

/* Sets params[key] (raw JSON) in every case of function `fn`. */
static void set_param(cJSON *cases, const char *fn, const char *key, const char *raw)
{
    cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
        if (!cJSON_IsString(f) || strcmp(f->valuestring, fn)) continue;
        cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "params");
        cJSON_DeleteItemFromObjectCaseSensitive(p, key);
        cJSON_AddItemToObject(p, key, cJSON_Parse(raw));
    }
}

static void patch0(cJSON *cases)
{
    set_param(cases, "video_patch_grid_bounds", "patch_size", "0");
    set_param(cases, "video_patchify", "patch_size", "0");
}

static void huge_latent(cJSON *cases)
{
    set_param(cases, "video_patch_grid_bounds", "latent_shape",
              "[1, 128, 1099511627776, 1099511627776, 1099511627776]");
    set_param(cases, "video_initial_state", "latent_shape",
              "[1, 128, 1099511627776, 1099511627776, 1099511627776]");
}

TEST(golden_params_that_overflow_are_refused)
{
    const char *g = tmp("g.safetensors");
    char args[1024];
    snprintf(args, sizeof args, "verify --device cpu %s", g);
    /* patch_size 0: SIGFPE before */
    CHECK(golden_variant(PATCH, g, patch0, NULL));
    EXPECT(1, args, "patch size 0 outside 1..64");
    /* latent_shape whose token table overflows: a wrapped malloc before */
    CHECK(golden_variant(PATCH, g, huge_latent, NULL));
    EXPECT(1, args, "too large");
    /* an input of shape [0, 2^53, 2^53]: zero elements, but strides of 2^106 */
    CHECK(golden_variant(PATCH, g, NULL, "in.video.latent"));
    EXPECT(1, args, "[0, 9007199254740992, 9007199254740992] F32 is too large");
    remove(g);
}

/* ---- 2: temp files ----------------------------------------------------------------------- */

static pid_t spawn_quiet(const char *args, const char *errfile)
{
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[20000];
        snprintf(cmd, sizeof cmd, "exec %s %s >/dev/null 2>%s", cli_bin(), args, errfile);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

TEST(concurrent_runs_to_one_output_both_valid)
{
    clear_dir();
    const char *out = tmp("same.mp4");
    char e1[300], e2[300], a1[8192], a2[8192];
    snprintf(e1, sizeof e1, "%s/e1.txt", g_log);
    snprintf(e2, sizeof e2, "%s/e2.txt", g_log);
    snprintf(a1, sizeof a1, "%s", distilled_args("--seed 1 --num-frames 17", out));
    snprintf(a2, sizeof a2, "%s", distilled_args("--seed 2 --num-frames 25", out));
    pid_t p1 = spawn_quiet(a1, e1), p2 = spawn_quiet(a2, e2);
    int s1 = 0, s2 = 0;
    waitpid(p1, &s1, 0);
    waitpid(p2, &s2, 0);
    CHECK(WIFEXITED(s1) && WEXITSTATUS(s1) == 0);
    CHECK(WIFEXITED(s2) && WEXITSTATUS(s2) == 0);
    /* the survivor is one whole run's file: its frame count and a clean full decode */
    cli_probe p;
    CHECK(cli_ffprobe(out, &p));
    CHECK_MSG(p.frames == 17 || p.frames == 25, "%d frames", p.frames);
    CHECK_MSG(fabs(p.adur - (p.frames == 17 ? 0.69 : 1.02)) < 0.05, "audio %.3f s", p.adur);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", out);
    FILE *f = popen(cmd, "r");
    char line[512] = "";
    bool clean = f && !fgets(line, sizeof line, f);
    if (f) pclose(f);
    CHECK_MSG(clean, "decode errors: %s", line);
    char names[4096];
    int n = dir_list(names, sizeof names);
    CHECK_MSG(n == 1, "left in the folder: %s", names);
    /* and byte for byte the file that run makes alone (generation and x264 are deterministic):
     * before, both runs wrote into one shared temp file */
    const char *ref = tmp("ref.mp4");
    snprintf(a1, sizeof a1, "%s",
             distilled_args(
                 p.frames == 17 ? "--seed 1 --num-frames 17" : "--seed 2 --num-frames 25", ref));
    EXPECT(0, a1, "wrote");
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", out, ref);
    CHECK_MSG(system(cmd) == 0, "%s differs from a lone run's output", out);
    clear_dir();
}

TEST(retake_input_named_like_the_old_temp_file_survives)
{
    clear_dir();
    const char *in = tmp("out.mp4.tmp.mp4"), *out = tmp("out.mp4");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", SRC, in);
    CHECK(system(cmd) == 0);
    struct stat before, after;
    CHECK(stat(in, &before) == 0);
    char args[8192];
    snprintf(args, sizeof args,
             "retake --distilled-checkpoint-path " CKPT " --gemma-root " D "/tiny_gemma "
             "--tokenizer %s --prompt 'A red fox' --video-path %s --output-path %s "
             "--start-time 0.4 --end-time 0.75 --seed 7",
             g_tok, in, out);
    EXPECT(0, args, "wrote");
    CHECK_MSG(stat(in, &after) == 0 && after.st_size == before.st_size, "the input was deleted");
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", SRC, in);
    CHECK(system(cmd) == 0);
    cli_probe p;
    CHECK(cli_ffprobe(out, &p) && p.frames == 25);
    char names[4096];
    CHECK_MSG(dir_list(names, sizeof names) == 2, "left in the folder: %s", names);
    clear_dir();
}

/* ---- 3: interrupts ----------------------------------------------------------------------- */

TEST(sigint_during_denoising_exits_130_leaving_nothing)
{
    clear_dir();
    const char *out = tmp("int.mp4");
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        char cmd[20000];
        snprintf(cmd, sizeof cmd, "exec %s %s", cli_bin(), distilled_args("", out));
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    /* wait for the first denoising step on stderr, then Ctrl-C */
    static char err[65536];
    size_t n = 0;
    bool sent = false;
    for (;;) {
        ssize_t k = read(pfd[0], err + n, sizeof err - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        err[n] = 0;
        if (!sent && strstr(err, "step   1/")) {
            kill(pid, SIGINT);
            sent = true;
        }
    }
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(sent, "no progress line seen: %s", err);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status 0x%x: %s", status, err);
    CHECK_MSG(strstr(err, "interrupted by SIGINT: stopped, no output written"), "%s", err);
    char names[4096];
    CHECK_MSG(dir_list(names, sizeof names) == 0, "left in the folder: %s", names);
}

/* ---- 4: FIFOs ---------------------------------------------------------------------------- */

TEST(fifo_paths_refused_at_once)
{
    clear_dir();
    const char *fifo = tmp("fifo"), *out = tmp("f.mp4");
    CHECK(mkfifo(fifo, 0600) == 0);
    char a[8192], x[1024];
    snprintf(a, sizeof a, "inspect %s", fifo);
    EXPECT(1, a, "fifo: is a FIFO, not a regular file");
    snprintf(a, sizeof a, "verify --device cpu %s", fifo);
    EXPECT(1, a, "is a FIFO");
    snprintf(a, sizeof a,
             "distilled --distilled-checkpoint-path %s --spatial-upsampler-path " UPS
             " --gemma-root " D "/tiny_gemma --tokenizer %s --prompt p --output-path %s "
             "--height 128 --width 192 --num-frames 17",
             fifo, g_tok, out);
    EXPECT(1, a, "--distilled-checkpoint-path");
    EXPECT(1, a, "is a FIFO");
    snprintf(x, sizeof x, "--spatial-upsampler-path %s", fifo);
    EXPECT(1, distilled_args(x, out), "is a FIFO");
    snprintf(x, sizeof x, "--lora %s 0.5", fifo);
    EXPECT(1, distilled_args(x, out), "--lora");
    EXPECT(1, distilled_args(x, out), "is a FIFO");
    snprintf(x, sizeof x, "--tokenizer %s", fifo);
    EXPECT(1, distilled_args(x, out), "is a FIFO");
    snprintf(x, sizeof x, "--image %s 0 1.0", fifo);
    EXPECT(1, distilled_args(x, out), "is a FIFO");
    snprintf(a, sizeof a, "tokenize --tokenizer %s --text hi", fifo);
    EXPECT(1, a, "is a FIFO");
    CHECK(access(out, F_OK) != 0);
    remove(fifo);
}

/* ---- 11: hostile configs in a checkpoint --------------------------------------------------- */

typedef void (*cfg_edit)(cJSON *cfg);

/* Copies the tiny checkpoint to dst with its "config" metadata edited. */
static bool ckpt_variant(const char *dst, cfg_edit edit)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(CKPT, &f) != LTX_OK) return false;
    ltx_st_writer *w = ltx_st_writer_new();
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        ltx_st_writer_add(w, e->name, e->dtype, e->ndim, e->shape, e->data);
    }
    for (int i = 0; i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        if (strcmp(k, "config") != 0) {
            ltx_st_writer_set_metadata(w, k, v);
            continue;
        }
        cJSON *c = cJSON_Parse(v);
        edit(c);
        char *s = cJSON_PrintUnformatted(c);
        ltx_st_writer_set_metadata(w, k, s);
        free(s);
        cJSON_Delete(c);
    }
    bool ok = ltx_st_writer_save(w, dst) == LTX_OK;
    ltx_st_writer_free(w);
    ltx_st_close(f);
    return ok;
}

static void set_key(cJSON *obj, const char *key, const char *raw)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, cJSON_Parse(raw));
}

static void heads_1e30(cJSON *c)
{
    set_key(cJSON_GetObjectItemCaseSensitive(c, "transformer"), "num_attention_heads", "1e30");
}

static void layers_1e30(cJSON *c)
{
    set_key(cJSON_GetObjectItemCaseSensitive(c, "transformer"), "num_layers", "1e30");
}

/* Every res_x block of the VAE decoder gets num_layers 2^31. */
static void vae_layers_2_31(cJSON *c)
{
    cJSON *blocks = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "vae"),
                                                     "decoder_blocks");
    cJSON *b;
    cJSON_ArrayForEach(b, blocks)
    {
        const cJSON *name = cJSON_GetArrayItem(b, 0);
        if (cJSON_IsString(name) && !strcmp(name->valuestring, "res_x"))
            cJSON_ReplaceItemInArray(b, 1, cJSON_Parse("{\"num_layers\": 2147483648}"));
    }
}

TEST(hostile_checkpoint_configs_name_the_key)
{
    const struct {
        cfg_edit edit;
        const char *needle;
    } cases[] = {
        /* the text connector reads the transformer's head count first: either reader refuses */
        {heads_1e30, "num_attention_heads = 1e+30 must be an integer in "},
        {layers_1e30, "num_layers = 1e+30 must be an integer in 0..4096"},
        {vae_layers_2_31, "num_layers = 2147483648 must be an integer in 0..4096"},
    };
    const char *ck = tmp("hostile.safetensors"), *out = tmp("h.mp4");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(ckpt_variant(ck, cases[i].edit));
        char a[8192];
        snprintf(a, sizeof a,
                 "distilled --distilled-checkpoint-path %s --spatial-upsampler-path " UPS
                 " --gemma-root " D "/tiny_gemma --tokenizer %s --prompt p --output-path %s "
                 "--height 128 --width 192 --num-frames 17",
                 ck, g_tok, out);
        EXPECT(1, a, cases[i].needle);
        CHECK(access(out, F_OK) != 0);
    }
    remove(ck);
}

/* ---- 12: strict numbers ------------------------------------------------------------------ */

TEST(number_flags_parsed_strictly)
{
    EXPECT(2, "verify --tolerance-scale abc " PATCH, "--tolerance-scale 'abc': must be a number");
    EXPECT(2, "verify --tolerance-scale 0 " PATCH, "--tolerance-scale '0'");
    EXPECT(2, "verify --threads abc " PATCH, "--threads 'abc': must be an integer in 0..512");
    EXPECT(2, "verify --threads 4x " PATCH, "--threads '4x'");
    EXPECT(1, "verify --device cuda:abc " PATCH, "cuda:abc: the device index must be an integer");
    EXPECT(0, "verify --device cpu --tolerance-scale 1.0 --threads 2 " PATCH, "");
    /* skip_step + 1 overflowed int in the guider (UBSan under make asan); the run is fine */
    const char *out = tmp("skip.mp4");
    char a[8192];
    snprintf(a, sizeof a,
             "ti2vid_one_stage --checkpoint-path " CKPT " --gemma-root " D "/tiny_gemma "
             "--tokenizer %s --prompt p --output-path %s --height 64 --width 64 --num-frames 9 "
             "--num-inference-steps 2 --video-stg-blocks 1 --audio-stg-blocks 1 "
             "--video-skip-step 2147483647 --audio-skip-step 2147483647",
             g_tok, out);
    EXPECT(0, a, "wrote");
    remove(out);
}

/* ---- 17: escapes in inspect -------------------------------------------------------------- */

TEST(inspect_escapes_control_bytes_and_bad_utf8)
{
    const char *f = tmp("esc.safetensors"), *txt = tmp("esc.txt"), *js = tmp("esc.json");
    ltx_st_writer *w = ltx_st_writer_new();
    const int64_t sh[1] = {1};
    float v = 1;
    ltx_st_writer_add(w, "evil\x1b[31mred\x1b[0m.\xff\xfe.w", LTX_F32, 1, sh, &v);
    ltx_st_writer_add(w, "caf\xc3\xa9.w", LTX_F32, 1, sh, &v); /* valid UTF-8 stays */
    ltx_st_writer_set_metadata(w, "bell\x07", "title\x1b]0;pwned\x07 \xc0\xaf back\\slash");
    CHECK(ltx_st_writer_save(w, f) == LTX_OK);
    ltx_st_writer_free(w);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s inspect --tensors %s > %s", cli_bin(), f, txt);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s inspect --tensors --json %s > %s", cli_bin(), f, js);
    CHECK(system(cmd) == 0);
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(k ? js : txt, "rb");
        static char buf[65536];
        size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
        buf[n] = 0;
        if (fp) fclose(fp);
        bool raw = false;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[i];
            raw |= c == 0x1b || c == 0x07 || c == 0xff || c == 0xfe || c == 0xc0;
        }
        CHECK_MSG(!raw, "raw control bytes or bad UTF-8 in the %s output", k ? "JSON" : "text");
        CHECK(strstr(buf, "evil\\x1B[31mred") || strstr(buf, "evil\\\\x1B[31mred"));
        CHECK(strstr(buf, "\\xFF\\xFE") || strstr(buf, "\\\\xFF\\\\xFE"));
        CHECK(strstr(buf, "caf\xc3\xa9.w") != NULL);
        if (k) {
            cJSON *j = cJSON_Parse(buf);
            CHECK_MSG(j != NULL, "inspect --json is not JSON");
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metadata");
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "bell\\x07");
            CHECK(cJSON_IsString(b) && strstr(b->valuestring, "\\x1B]0;pwned\\x07 \\xC0\\xAF") &&
                  strstr(b->valuestring, "back\\\\slash"));
            cJSON_Delete(j);
        } else {
            CHECK(strstr(buf, "bell\\x07 = title\\x1B]0;pwned\\x07 \\xC0\\xAF back\\\\slash"));
        }
    }
    remove(f);
    remove(txt);
    remove(js);
}

TEST(cleanup)
{
    clear_dir();
    rmdir(g_dir);
    char ef[400];
    snprintf(ef, sizeof ef, "%s/stderr.txt", g_log);
    remove(ef);
    snprintf(ef, sizeof ef, "%s/e1.txt", g_log);
    remove(ef);
    snprintf(ef, sizeof ef, "%s/e2.txt", g_log);
    remove(ef);
    rmdir(g_log);
}

TEST_MAIN()
