/*
 * test_hardening.c — the library half of issue 15's hostile-input fixes, each case one that
 * crashed, hung or misreported before:
 *   - sizes: tensor shapes whose element, stride or byte count overflows (the 2^62-byte limit
 *     of core/tensor.c), reshape/expand to such shapes, arena sizing, patch size 0 (SIGFPE);
 *   - strict parsing (core/parse.c) and the range-checked JSON getters (io/json.c), and every
 *     model config reader refusing 1e30 / 2^31 / fractional values by key name;
 *   - FIFOs: safetensors, sharded index, tokenizer, Gemma config and media inputs refuse a FIFO
 *     at once (an alarm turns a hang into a failure);
 *   - temp files (io/file.c): unique names in the output's folder, a symlink or any existing
 *     file at a candidate name is never opened, SIGINT during an mp4 write removes the temp
 *     file and leaves the previous output intact;
 *   - the hashed string map (core/strmap.c).
 * Nothing here allocates a huge buffer: every huge case is a refusal.
 */
#include "harness.h"

#include "backend/backend.h"
#include "core/arena.h"
#include "core/parse.h"
#include "core/strmap.h"
#include "io/file.h"
#include "io/json.h"
#include "io/media.h"
#include "io/safetensors.h"
#include "models/audio_vae.h"
#include "models/gemma3.h"
#include "models/ltx_transformer.h"
#include "models/upsampler.h"
#include "models/video_vae.h"
#include "models/vocoder.h"
#include "sampling/guiders.h"
#include "sampling/patchifier.h"
#include "tokenizer/gemma_tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static ltx_backend *cpu(void)
{
    static ltx_backend *be;
    if (!be && ltx_cpu_backend_create(false, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

static bool has(const char *needle)
{
    bool ok = strstr(ltx_err_message(), needle) != NULL;
    if (!ok) fprintf(stderr, "    (message: %s; wanted '%s')\n", ltx_err_message(), needle);
    return ok;
}

static char g_dir[128];

static const char *dir(void)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/ltx_test_hardening_%d", (int)getpid());
        mkdir(g_dir, 0755);
    }
    return g_dir;
}

static const char *path_in(const char *name)
{
    static char buf[4][300];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 300, "%s/%s", dir(), name);
    return b;
}

/* Names in the test folder, one per line into out (sorted by readdir order, '.' files too). */
static int list_dir(const char *d, char *out, size_t cap)
{
    DIR *dp = opendir(d);
    int n = 0;
    out[0] = 0;
    if (!dp) return -1;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s\n", e->d_name);
        n++;
    }
    closedir(dp);
    return n;
}

/* ---- sizes ------------------------------------------------------------------------------- */

TEST(tensor_sizes_overflow_refused)
{
    ltx_backend *be = cpu();
    /* the repro: 1073741824 x 65536 x 2147483641 wrapped to a 1-byte buffer */
    const int64_t huge[3] = {1073741824, 65536, 2147483641};
    CHECK(ltx_tensor_new(be, LTX_F32, 3, huge) == NULL);
    CHECK(has("too large"));
    /* a zero-element tensor whose strides overflow (a golden input of shape [0, 2^53, 2^53]) */
    const int64_t empty_huge[3] = {0, (int64_t)1 << 53, (int64_t)1 << 53};
    CHECK(ltx_tensor_new(be, LTX_F32, 3, empty_huge) == NULL);
    CHECK(has("[0, 9007199254740992, 9007199254740992]"));
    /* byte count overflow: 2^61 elements of 4 bytes */
    const int64_t bytes[1] = {(int64_t)1 << 61};
    CHECK(!ltx_shape_numel_ok(1, bytes, 4, NULL));
    CHECK(ltx_shape_numel_ok(1, bytes, 2, NULL)); /* exactly the 2^62 limit */
    const int64_t neg[2] = {4, -1};
    CHECK(!ltx_shape_numel_ok(2, neg, 4, NULL));
    int64_t n = -1;
    const int64_t fine[3] = {0, 1 << 20, 1 << 20};
    CHECK(ltx_shape_numel_ok(3, fine, 4, &n) && n == 0);

    /* views: reshape and expand to impossible shapes are refused, not wrapped */
    ltx_tensor *t = LTX_TENSOR_NEW(be, LTX_F32, 2, 3);
    CHECK(t != NULL);
    const int64_t r[3] = {0, (int64_t)1 << 40, (int64_t)1 << 40};
    ltx_tensor *e0 = ltx_tensor_new(be, LTX_F32, 1, (const int64_t[]){0});
    CHECK(e0 && ltx_tensor_reshape(e0, 3, r) == NULL && has("reshape"));
    const int64_t r2[3] = {-1, (int64_t)1 << 62, 4};
    CHECK(ltx_tensor_reshape(t, 3, r2) == NULL);
    ltx_tensor *one = LTX_TENSOR_NEW(be, LTX_F32, 1, 1);
    const int64_t ex[3] = {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31};
    CHECK(one && ltx_tensor_expand(one, 3, ex) == NULL && has("expand"));
    /* arena sizing saturates instead of wrapping to a small number */
    CHECK(ltx_arena_bytes_for(LTX_F32, 3, huge) == SIZE_MAX);
    ltx_arena *a = ltx_arena_new(be, 4096);
    CHECK(a && ltx_arena_tensor(a, LTX_F32, 3, huge) == NULL);
    ltx_arena_free(a);
    ltx_tensor_free(one);
    ltx_tensor_free(e0);
    ltx_tensor_free(t);
}

TEST(patch_size_zero_refused)
{
    ltx_backend *be = cpu();
    ltx_tensor *lat = ltx_tensor_zeros(be, LTX_F32, 5, (const int64_t[]){1, 4, 2, 4, 6});
    CHECK(lat != NULL);
    /* each of these divided by the patch size (SIGFPE) before */
    CHECK(ltx_video_patchify(be, lat, 0) == NULL);
    int64_t *c = NULL;
    const int64_t shape[5] = {1, 4, 2, 4, 6};
    CHECK(ltx_video_patch_grid_bounds_host(shape, 0, &c) == LTX_ERR_INVALID_ARG && !c);
    CHECK(has("patch size 0"));
    ltx_tensor *tok = ltx_tensor_zeros(be, LTX_F32, 3, (const int64_t[]){1, 48, 4});
    CHECK(ltx_video_unpatchify(be, tok, 2, 4, 6, 0) == NULL && has("patch size 0"));
    CHECK(ltx_vae_patchify(be, lat, 0, 1) == NULL && has("patch size 0"));
    CHECK(ltx_vae_unpatchify(be, lat, 4, 0) == NULL && has("patch size 0"));
    /* a latent_shape whose token table overflows is refused before malloc */
    const int64_t big[5] = {1, 128, (int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(ltx_video_patch_grid_bounds_host(big, 1, &c) == LTX_ERR_INVALID_ARG && has("too large"));
    ltx_tensor_free(tok);
    ltx_tensor_free(lat);
}

TEST(skip_step_int_max)
{
    /* step % (skip_step + 1) overflowed int at INT_MAX (UBSan); Python's ints do not */
    ltx_guider_params p;
    memset(&p, 0, sizeof p);
    p.skip_step = INT_MAX;
    CHECK(!ltx_guider_should_skip_step(&p, 0));
    CHECK(ltx_guider_should_skip_step(&p, 1) && ltx_guider_should_skip_step(&p, 39));
}

/* ---- strict numbers ---------------------------------------------------------------------- */

TEST(strict_parsers)
{
    int i = 7;
    int64_t l = 0;
    double d = 0;
    CHECK(ltx_parse_int("42", 0, 100, &i) && i == 42);
    CHECK(ltx_parse_int("-3", -5, 5, &i) && i == -3);
    const char *bad_int[] = {"",    "abc",        "4x",  " 4",   "4 ",
                             "101", "2147483648", "1e3", "0x10", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad_int / sizeof *bad_int; k++) {
        i = 7;
        CHECK_MSG(!ltx_parse_int(bad_int[k], 0, 100, &i) && i == 7, "'%s' accepted", bad_int[k]);
    }
    CHECK(!ltx_parse_int(NULL, 0, 1, &i));
    CHECK(ltx_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &l) && l == INT64_MIN);
    CHECK(ltx_parse_f64("1.5e-3", 0, 1, &d) && d == 1.5e-3);
    const char *bad_f[] = {"abc", "", "nan", "inf", "-inf", "1e400", "1e-400", "2", "1.0.0", " 1"};
    for (size_t k = 0; k < sizeof bad_f / sizeof *bad_f; k++)
        CHECK_MSG(!ltx_parse_f64(bad_f[k], 0, 1.5, &d), "'%s' accepted", bad_f[k]);
}

TEST(json_strict_getters)
{
    cJSON *j = cJSON_Parse("{\"a\": 1e30, \"b\": 2147483648, \"c\": 1.5, \"d\": \"7\", \"e\": 12, "
                           "\"f\": true, \"g\": -1e300, \"h\": 9223372036854775807}");
    int64_t v = -1;
    int vi = -1;
    CHECK(ltx_json_get_int(j, "a", 0, 100, 5, "cfg", &v) == LTX_ERR_FORMAT);
    CHECK(has("cfg: a = 1e+30 must be an integer in 0..100") && v == -1);
    CHECK(ltx_json_get_i32(j, "b", 0, INT_MAX, 5, "cfg", &vi) == LTX_ERR_FORMAT && has("b = "));
    CHECK(ltx_json_get_i32(j, "c", 0, 10, 5, "cfg", &vi) == LTX_ERR_FORMAT && has("c = 1.5"));
    CHECK(ltx_json_get_i32(j, "d", 0, 10, 5, "cfg", &vi) == LTX_ERR_FORMAT && has("\"7\""));
    CHECK(ltx_json_get_int(j, "g", INT64_MIN, INT64_MAX, 5, "cfg", &v) == LTX_ERR_FORMAT);
    CHECK(ltx_json_get_int(j, "h", INT64_MIN, INT64_MAX, 5, "cfg", &v) == LTX_ERR_FORMAT);
    CHECK(ltx_json_get_i32(j, "e", 0, 12, 5, "cfg", &vi) == LTX_OK && vi == 12);
    CHECK(ltx_json_get_i32(j, "f", 0, 1, 5, "cfg", &vi) == LTX_OK && vi == 1);
    CHECK(ltx_json_get_i32(j, "absent", 0, 1, 5, "cfg", &vi) == LTX_OK && vi == 5);
    double d = 0;
    CHECK(ltx_json_get_num(j, "a", 0, 1e6, 1, "cfg", &d) == LTX_ERR_FORMAT && has("a = 1e+30"));
    CHECK(ltx_json_get_num(j, "c", 0, 2, 1, "cfg", &d) == LTX_OK && d == 1.5);
    /* the lenient getter never has undefined behaviour: it saturates */
    CHECK(ltx_json_int(j, "a", 0) == INT64_MAX && ltx_json_int(j, "g", 0) == INT64_MIN);
    cJSON_Delete(j);
}

/* A hostile value must be refused with a message naming the key. */
#define REFUSED(call, key)                                                                         \
    do {                                                                                           \
        ltx_err_clear();                                                                           \
        ltx_status s_ = (call);                                                                    \
        CHECK_MSG(s_ != LTX_OK && strstr(ltx_err_message(), key), "%s: status %d, '%s'", #call,    \
                  (int)s_, ltx_err_message());                                                     \
    } while (0)

#define TINY_CKPT LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

/* The tiny checkpoint's "config" metadata with section.key replaced by the raw JSON `value`
 * (malloc'd; NULL when the checkpoint cannot be read). */
static char *edited(const char *section, const char *key, const char *value)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(TINY_CKPT, &f) != LTX_OK) return NULL;
    cJSON *root = cJSON_Parse(ltx_st_metadata(f, "config"));
    ltx_st_close(f);
    cJSON *sec = root;
    char part[64];
    for (const char *p = section; sec && *p;) { /* "vocoder.vocoder": nested sections */
        size_t n = strcspn(p, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        sec = cJSON_GetObjectItemCaseSensitive(sec, part);
        p += n + (p[n] == '.');
    }
    if (!sec) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(sec, key);
    cJSON_AddItemToObject(sec, key, cJSON_Parse(value));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static ltx_status transformer_with(const char *key, const char *value)
{
    char *c = edited("transformer", key, value);
    ltx_transformer_config tc;
    ltx_status s = c ? ltx_transformer_config_parse(c, false, &tc) : LTX_ERR_IO;
    free(c);
    return s;
}

static ltx_status vocoder_with(const char *key, const char *value)
{
    char *c = edited("vocoder.vocoder", key, value);
    ltx_vocoder_config vc;
    ltx_status s = c ? ltx_vocoder_config_parse(c, &vc) : LTX_ERR_IO;
    free(c);
    return s;
}

TEST(model_configs_refuse_hostile_values)
{
    CHECK(vocoder_with("upsample_initial_channel", "64") == LTX_OK);
    CHECK(transformer_with("num_layers", "2") == LTX_OK); /* the base config is accepted */
    REFUSED(transformer_with("num_attention_heads", "1e30"), "num_attention_heads = 1e+30");
    REFUSED(transformer_with("num_layers", "1e30"), "num_layers = 1e+30");
    REFUSED(transformer_with("attention_head_dim", "64.5"), "attention_head_dim = 64.5");
    REFUSED(transformer_with("cross_attention_dim", "-1"), "cross_attention_dim = -1");
    REFUSED(transformer_with("positional_embedding_theta", "1e300"), "positional_embedding_theta");
    ltx_video_vae_config vc;
    REFUSED(
        ltx_video_vae_config_parse(
            "{\"vae\": {\"decoder_blocks\": [[\"res_x\", {\"num_layers\": 2147483648}]]}}", &vc),
        "num_layers = 2147483648");
    REFUSED(ltx_video_vae_config_parse("{\"vae\": {\"encoder_blocks\": [[\"res_x\", 1e30]]}}", &vc),
            "num_layers = 1e+30");
    REFUSED(ltx_video_vae_config_parse("{\"vae\": {\"latent_channels\": 1e30}}", &vc),
            "latent_channels = 1e+30");
    ltx_gemma3_config gc;
    REFUSED(ltx_gemma3_config_parse("{\"text_config\": {\"num_attention_heads\": 1e30}}", &gc),
            "num_attention_heads = 1e+30");
    REFUSED(ltx_gemma3_config_parse("{\"text_config\": {\"num_hidden_layers\": 2147483648}}", &gc),
            "num_hidden_layers");
    ltx_upsampler_config uc;
    REFUSED(ltx_upsampler_config_parse("{\"mid_channels\": 1e30}", &uc), "mid_channels = 1e+30");
    REFUSED(ltx_upsampler_config_parse("{\"num_blocks_per_stage\": -4}", &uc),
            "num_blocks_per_stage = -4");
    ltx_audio_vae_config ac;
    REFUSED(ltx_audio_vae_config_parse("{\"audio_vae\": {\"model\": {\"params\": {\"ddconfig\": "
                                       "{\"ch\": 1e30}}}}}",
                                       &ac),
            "ch");
    REFUSED(vocoder_with("upsample_initial_channel", "1e30"), "upsample_initial_channel");
    REFUSED(vocoder_with("upsample_rates", "[1e30, 2]"), "upsample_rates");
}

/* ---- FIFOs ------------------------------------------------------------------------------- */

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "  FAIL: a FIFO blocked (alarm)\n";
    ssize_t w = write(2, m, sizeof m - 1);
    (void)w;
    _exit(1);
}

TEST(fifo_inputs_refused_without_blocking)
{
    const char *fifo = path_in("fifo");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    signal(SIGALRM, on_alarm);
    alarm(20); /* a regression blocks forever in open(): the alarm fails the test instead */
    ltx_st_file *f = NULL;
    REFUSED(ltx_st_open(fifo, &f), "fifo: is a FIFO, not a regular file");
    ltx_gemma_tokenizer *tok = NULL;
    REFUSED(ltx_gemma_tokenizer_load(fifo, &tok), "tokenizer");
    CHECK(has("is a FIFO"));
    ltx_frames fr = {0};
    REFUSED(ltx_image_load(fifo, &fr), "is a FIFO");
    CHECK(ltx_read_file(fifo, "--x", 100, NULL) == NULL && has("--x "));
    /* a Gemma folder whose config.json is a FIFO */
    const char *gdir = path_in("gemma");
    mkdir(gdir, 0755);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/config.json", gdir);
    unlink(cfg);
    CHECK(mkfifo(cfg, 0600) == 0);
    ltx_gemma3_config gc;
    REFUSED(ltx_gemma3_config_read(gdir, &gc), "config.json: is a FIFO");
    unlink(cfg);
    /* a sharded folder whose index is fine but whose shard is a FIFO */
    char idx[400], shard[400];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", gdir);
    snprintf(shard, sizeof shard, "%s/model-1.safetensors", gdir);
    FILE *fp = fopen(idx, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs("{\"weight_map\": {\"a\": \"model-1.safetensors\"}}", fp);
        fclose(fp);
    }
    CHECK(mkfifo(shard, 0600) == 0);
    REFUSED(ltx_st_open_dir(gdir, &f), "model-1.safetensors: is a FIFO");
    alarm(0);
    unlink(shard);
    unlink(idx);
    rmdir(gdir);
    CHECK(ltx_check_regular("/dev/null", "--y") == LTX_ERR_IO && has("--y /dev/null: is a char"));
    CHECK(ltx_check_regular(dir(), NULL) == LTX_ERR_IO && has("is a directory"));
    unlink(fifo);
}

/* ---- temp files -------------------------------------------------------------------------- */

TEST(tmpfile_unique_exclusive_and_committed)
{
    const char *out = path_in("out.bin");
    unlink(out);
    ltx_tmpfile a, b;
    CHECK(ltx_tmpfile_create(out, ".mp4", &a) == LTX_OK);
    CHECK(ltx_tmpfile_create(out, ".mp4", &b) == LTX_OK);
    CHECK(strcmp(a.path, b.path) != 0);                /* two writers never share a temp file */
    CHECK(strncmp(a.path, dir(), strlen(dir())) == 0); /* in the output's folder */
    size_t n = strlen(a.path);
    CHECK(n > 8 && !strcmp(a.path + n - 8, ".tmp.mp4"));
    CHECK(write(a.fd, "AAAA", 4) == 4 && write(b.fd, "BB", 2) == 2);
    char bpath[400];
    snprintf(bpath, sizeof bpath, "%s", b.path);
    CHECK(ltx_tmpfile_commit(&a, out) == LTX_OK && a.path == NULL);
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size == 4);
    ltx_tmpfile_discard(&b);
    CHECK(access(bpath, F_OK) != 0); /* discarded: gone */
    ltx_tmpfile_discard(&b);         /* twice is harmless */
    /* the signal-time cleanup removes registered temp files */
    ltx_tmpfile c;
    CHECK(ltx_tmpfile_create(out, NULL, &c) == LTX_OK);
    char cpath[400];
    snprintf(cpath, sizeof cpath, "%s", c.path);
    ltx_tmpfile_unlink_all();
    CHECK(access(cpath, F_OK) != 0);
    ltx_tmpfile_discard(&c);
    /* a folder that does not exist is named */
    CHECK(ltx_tmpfile_create("/nonexistent_ltx_dir/x.mp4", ".mp4", &c) == LTX_ERR_IO);
    CHECK(has("/nonexistent_ltx_dir/x.mp4: cannot create a temporary file"));
    unlink(out);
}

TEST(mp4_write_never_follows_the_old_temp_name)
{
    /* the old fixed name "<out>.tmp.mp4" as a symlink to a victim: the writer must not touch it */
    const char *out = path_in("sym.mp4"), *victim = path_in("victim.txt");
    const char *old_tmp = path_in("sym.mp4.tmp.mp4");
    FILE *fp = fopen(victim, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs("precious", fp);
        fclose(fp);
    }
    unlink(old_tmp);
    CHECK(symlink(victim, old_tmp) == 0);
    enum { H = 32, W = 32, N = 3 };
    static uint8_t rgb[N * H * W * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t)(i * 7);
    CHECK(ltx_mp4_write(out, rgb, N, H, W, NULL, 0, 0, NULL) == LTX_OK);
    char buf[32] = {0};
    fp = fopen(victim, "r");
    CHECK(fp && fgets(buf, sizeof buf, fp) && !strcmp(buf, "precious"));
    if (fp) fclose(fp);
    struct stat st;
    CHECK(lstat(old_tmp, &st) == 0 && S_ISLNK(st.st_mode)); /* the link itself is left alone */
    CHECK(stat(out, &st) == 0 && st.st_size > 100);
    unlink(out);
    unlink(old_tmp);
    unlink(victim);
}

typedef struct writer_job {
    const char *path;
    const uint8_t *rgb;
    int frames;
    ltx_status st;
} writer_job;

static void *write_job(void *arg)
{
    writer_job *j = arg;
    j->st = ltx_mp4_write(j->path, j->rgb, j->frames, 128, 128, NULL, 0, 0, NULL);
    return NULL;
}

static bool same_file(const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

TEST(concurrent_mp4_writes_to_one_path)
{
    /* Two writers at once onto one output: before, both wrote "<out>.tmp.mp4" (interleaved
     * bytes) and the second rename failed. Now each has its own temp file: both succeed and the
     * output is byte for byte one of the two videos. */
    enum { N = 120, H = 128, W = 128 };
    uint8_t *rgb = malloc((size_t)N * H * W * 3);
    uint32_t x = 99;
    for (size_t i = 0; i < (size_t)N * H * W * 3; i++) {
        x = x * 1664525u + 1013904223u;
        rgb[i] = (uint8_t)(x >> 24);
    }
    const char *out = path_in("both.mp4"), *ra = path_in("alone_a.mp4"),
               *rb = path_in("alone_b.mp4");
    CHECK(ltx_mp4_write(ra, rgb, N, H, W, NULL, 0, 0, NULL) == LTX_OK);
    CHECK(ltx_mp4_write(rb, rgb, N - 40, H, W, NULL, 0, 0, NULL) == LTX_OK);
    writer_job ja = {out, rgb, N, LTX_ERR_INTERNAL}, jb = {out, rgb, N - 40, LTX_ERR_INTERNAL};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, write_job, &ja);
    pthread_create(&tb, NULL, write_job, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_MSG(ja.st == LTX_OK && jb.st == LTX_OK, "%d %d: %s", ja.st, jb.st, ltx_err_message());
    CHECK_MSG(same_file(out, ra) || same_file(out, rb), "the output is neither whole video");
    char names[4096];
    list_dir(dir(), names, sizeof names);
    CHECK_MSG(!strstr(names, ".tmp"), "temp files left: %s", names);
    unlink(out);
    unlink(ra);
    unlink(rb);
    free(rgb);
}

TEST(sigint_during_mp4_write_removes_the_temp_file)
{
    char sub[300], names[4096];
    snprintf(sub, sizeof sub, "%s/sig", dir());
    mkdir(sub, 0755);
    char out[400];
    snprintf(out, sizeof out, "%s/out.mp4", sub);
    FILE *fp = fopen(out, "w"); /* the previous output: must survive the interrupted write */
    CHECK(fp != NULL);
    if (fp) {
        fputs("previous", fp);
        fclose(fp);
    }
    pid_t pid = fork();
    if (pid == 0) {
        ltx_interrupt_install();
        enum { H = 256, W = 256, N = 600 }; /* a few seconds of x264 */
        uint8_t *rgb = malloc((size_t)N * H * W * 3);
        if (!rgb) _exit(3);
        uint32_t x = 12345;
        for (size_t i = 0; i < (size_t)N * H * W * 3; i++) {
            x = x * 1664525u + 1013904223u; /* noise: expensive to encode */
            rgb[i] = (uint8_t)(x >> 24);
        }
        ltx_mp4_params p;
        ltx_mp4_params_init(&p);
        ltx_mp4_write(out, rgb, N, H, W, NULL, 0, 0, &p);
        _exit(0); /* finishing first would fail the test below */
    }
    /* wait for the temp file to appear, then interrupt */
    bool seen = false;
    for (int k = 0; k < 3000 && !seen; k++) {
        list_dir(sub, names, sizeof names);
        seen = strstr(names, ".tmp.mp4") != NULL;
        if (!seen) usleep(10000);
    }
    CHECK_MSG(seen, "no temp file appeared: %s", names);
    usleep(200000); /* let it write some bytes */
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "child status 0x%x", status);
    int n = list_dir(sub, names, sizeof names);
    CHECK_MSG(n == 1 && !strcmp(names, "out.mp4\n"), "left in the folder: %s", names);
    char buf[32] = {0};
    fp = fopen(out, "r");
    CHECK(fp && fgets(buf, sizeof buf, fp) && !strcmp(buf, "previous"));
    if (fp) fclose(fp);
    unlink(out);
    rmdir(sub);
}

/* ---- hash map ---------------------------------------------------------------------------- */

TEST(strmap_many_keys)
{
    ltx_strmap m = {0};
    enum { N = 200000 };
    char **keys = malloc(N * sizeof *keys);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        keys[i] = malloc(16);
        snprintf(keys[i], 16, "k%d", i);
        bad += ltx_strmap_put(&m, keys[i], i) != 1;
    }
    CHECK(bad == 0);
    CHECK(ltx_strmap_put(&m, "k17", 5) == 0 && ltx_strmap_get(&m, "k17") == 17);
    for (int i = 0; i < N; i++)
        bad += ltx_strmap_get(&m, keys[i]) != i;
    CHECK(bad == 0 && m.n == N);
    CHECK(ltx_strmap_get(&m, "nope") == -1);
    ltx_strmap_free(&m);
    CHECK(ltx_strmap_get(&m, "k1") == -1);
    for (int i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}

TEST(cleanup)
{
    rmdir(dir());
}

TEST_MAIN()
