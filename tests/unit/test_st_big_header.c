/*
 * test_st_big_header.c — the largest header safetensors allows (100 MB) packed with about two
 * million metadata keys and 100,000 tensor names parses in seconds, and `ltx2c inspect` groups
 * it in seconds (issue 15 item 5: duplicate detection in push_meta and inspect's group_get were
 * linear scans, so this header took hours). Duplicate tensor names are still refused, a
 * repeated metadata key still keeps its first value.
 *
 * The time bounds (30 s to parse, 90 s for inspect) are generous for a loaded 2-core machine;
 * the quadratic versions would need hours. Peak memory is about 1 GB (cJSON's tree of the
 * header), printed at the end.
 */
#include "harness.h"

#include "io/safetensors.h"

#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_TENSORS  100000
#define HEADER_MAX 100000000u /* ref: safetensors MAX_HEADER_SIZE */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) abort(); /* sized up front */
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* The whole file image: 8-byte length + header (no data: every tensor is empty). When
 * `dup_tensor`, the last tensor repeats the first one's name. Returns the metadata key count. */
static long build(buf *b, bool dup_tensor)
{
    b->cap = 8 + HEADER_MAX;
    b->n = 8;
    b->p = malloc(b->cap);
    if (!b->p) abort();
    char item[128];
    put(b, "{", 1);
    for (int i = 0; i < N_TENSORS; i++) {
        int n = snprintf(item, sizeof item,
                         "\"t%06d.w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},",
                         dup_tensor && i == N_TENSORS - 1 ? 0 : i);
        put(b, item, (size_t)n);
    }
    /* one repeated key: the first value wins */
    static const char head[] = "\"__metadata__\":{\"dup\":\"first\",\"dup\":\"second\"";
    put(b, head, sizeof head - 1);
    long keys = 1;
    const size_t tail = 2; /* "}}" */
    for (;;) {
        int n = snprintf(item, sizeof item, ",\"meta_key_%014ld\":\"value_%014ld\"", keys, keys);
        if (b->n - 8 + (size_t)n + tail > HEADER_MAX) break;
        put(b, item, (size_t)n);
        keys++;
    }
    put(b, "}}", 2);
    uint64_t hlen = b->n - 8;
    for (int i = 0; i < 8; i++)
        b->p[i] = (char)(hlen >> (8 * i));
    return keys;
}

TEST(hundred_mb_header_parses_in_seconds)
{
    buf b = {0};
    long keys = build(&b, false);
    printf("  header %zu bytes, %ld metadata keys, %d tensors\n", b.n - 8, keys, N_TENSORS);
    CHECK(keys > 1900000);

    double t0 = now();
    ltx_st_file *f = NULL;
    ltx_status s = ltx_st_open_memory(b.p, b.n, "big", &f);
    double dt = now() - t0;
    printf("  parse: %.2f s (bound 30 s)\n", dt);
    CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
    CHECK(dt < 30.0);
    CHECK(ltx_st_count(f) == N_TENSORS);
    CHECK(ltx_st_metadata_count(f) == keys);
    CHECK(ltx_st_metadata(f, "dup") && !strcmp(ltx_st_metadata(f, "dup"), "first"));
    char k[64];
    snprintf(k, sizeof k, "meta_key_%014ld", keys - 1);
    CHECK(ltx_st_metadata(f, k) != NULL);
    CHECK(ltx_st_find(f, "t099999.w") != NULL);

    /* ltx2c inspect on the same file: grouping 100,000 distinct components */
    char path[128], cmd[512];
    snprintf(path, sizeof path, "/tmp/ltx_test_big_header_%d.safetensors", (int)getpid());
    FILE *fp = fopen(path, "wb");
    CHECK(fp && fwrite(b.p, 1, b.n, fp) == b.n);
    if (fp) fclose(fp);
    snprintf(cmd, sizeof cmd, "'%s' inspect --tensors '%s' > /dev/null", LTX2C_BIN, path);
    t0 = now();
    int st = system(cmd);
    dt = now() - t0;
    printf("  ltx2c inspect --tensors: %.2f s (bound 90 s)\n", dt);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(dt < 90.0);
    remove(path);
    ltx_st_close(f);
    free(b.p);

    /* duplicates are still refused, in a header this size too */
    build(&b, true);
    t0 = now();
    s = ltx_st_open_memory(b.p, b.n, "big-dup", &f);
    dt = now() - t0;
    CHECK(s == LTX_ERR_FORMAT && strstr(ltx_err_message(), "'t000000.w' appears twice"));
    CHECK(dt < 30.0);
    free(b.p);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  peak RSS %ld MB (this process)\n", ru.ru_maxrss / 1024);
}

TEST_MAIN()
