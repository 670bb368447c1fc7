/*
 * test_safetensors_fuzz.c — deterministic fuzzing of the safetensors parser (src/io/safetensors.c).
 *
 * A small valid file (several dtypes, a 0-dim and an empty tensor, metadata, an unaligned
 * offset) is mutated in many ways with a fixed-seed generator: random byte flips, numbers in
 * the header swapped for edge values, dtype strings swapped, the length field rewritten,
 * truncation, insertion/deletion of header bytes, splices of header text. Each mutant sits in
 * a malloc'd buffer of exactly its size and is opened with ltx_st_open_memory: the result must
 * be LTX_OK or LTX_ERR_FORMAT with a message naming the buffer, never a crash. Files that open
 * are then read completely (every entry checked to lie inside the buffer, read as f32). Built
 * twice by CMake: plainly (test_safetensors_fuzz) and with -fsanitize=address,undefined
 * (ctest safetensors_fuzz_asan), where any out-of-bounds read aborts the test. A last test
 * pushes random tensor sets through the writer and back through the mmap reader.
 */
#include "harness.h"
#include "io/safetensors.h"

#include <stdint.h>
#include <unistd.h>

#define ITERS 24000
#define LABEL "fuzz.safetensors"

/* ---- deterministic PRNG (splitmix64) ------------------------------------------------------ */
static uint64_t g_state = 0x5eed5eed2026ull;

static uint64_t rnd(void)
{
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rndn(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* ---- the seed file ------------------------------------------------------------------------ */
static const char *SEED_HEADER =
    "{\"__metadata__\":{\"format\":\"pt\",\"config\":\"{\\\"a\\\": [1, 2]}\"},"
    "\"a.f32\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b.bf16\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[24,30]},"
    "\"c.f16\":{\"dtype\":\"F16\",\"shape\":[1,1,2],\"data_offsets\":[30,34]},"
    "\"d.i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[40,56]},"
    "\"e.u8\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[56,61]},"
    "\"f.fp8\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[61,64]},"
    "\"g.scalar\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[64,72]},"
    "\"h.empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[72,72]},"
    "\"i.unaligned\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[73,81]},"
    "\"j.bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[81,83]},"
    "\"k.e5m2\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[83,84]},"
    "\"l.i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[84,88]}}";
#define SEED_DATA 88

static unsigned char *g_seed;
static size_t g_seed_size, g_seed_hlen;

static void build_seed(void)
{
    size_t h = strlen(SEED_HEADER);
    size_t hp = (h + 7) / 8 * 8;
    g_seed_hlen = hp;
    g_seed_size = 8 + hp + SEED_DATA;
    g_seed = malloc(g_seed_size);
    for (int i = 0; i < 8; i++)
        g_seed[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(g_seed + 8, SEED_HEADER, h);
    memset(g_seed + 8 + h, ' ', hp - h);
    for (size_t i = 0; i < SEED_DATA; i++)
        g_seed[8 + hp + i] = (unsigned char)(i * 37 + 11);
}

/* ---- mutations (each returns a malloc'd buffer of exactly *n bytes) ----------------------- */

static void set_len(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Rebuilds a file from header text `h` (length hl) and the seed's data section. */
static unsigned char *from_header(const char *h, size_t hl, size_t *n)
{
    *n = 8 + hl + SEED_DATA;
    unsigned char *b = malloc(*n);
    set_len(b, hl);
    memcpy(b + 8, h, hl);
    memcpy(b + 8 + hl, g_seed + 8 + g_seed_hlen, SEED_DATA);
    return b;
}

static const char *const EDGE_NUMS[] = {"0",
                                        "1",
                                        "-1",
                                        "2",
                                        "3",
                                        "7",
                                        "8",
                                        "23",
                                        "24",
                                        "25",
                                        "64",
                                        "88",
                                        "89",
                                        "255",
                                        "4096",
                                        "1.5",
                                        "-0",
                                        "1e3",
                                        "1e300",
                                        "-1e300",
                                        "4294967296",
                                        "9007199254740992",
                                        "9007199254740993",
                                        "18446744073709551615",
                                        "18446744073709551616",
                                        "2147483648",
                                        "nan",
                                        "\"3\"",
                                        "null",
                                        "[]",
                                        "true"};

static const char *const DTYPES[] = {"F32", "BF16", "F16",     "F64",     "I64", "I32",
                                     "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "I8",  "U16",
                                     "F4",  "",     "f32",     "F8_E8M0", "F32 "};

/* Replaces the text [s, e) of the seed header by `rep`. */
static unsigned char *splice_header(size_t s, size_t e, const char *rep, size_t *n)
{
    const char *h = (const char *)g_seed + 8;
    size_t hl = g_seed_hlen, rl = strlen(rep);
    char *t = malloc(hl - (e - s) + rl + 1);
    memcpy(t, h, s);
    memcpy(t + s, rep, rl);
    memcpy(t + s + rl, h + e, hl - e);
    unsigned char *b = from_header(t, hl - (e - s) + rl, n);
    free(t);
    return b;
}

static unsigned char *mut_number(size_t *n)
{
    const char *h = (const char *)g_seed + 8;
    /* pick a random digit run */
    for (int tries = 0; tries < 64; tries++) {
        size_t p = rndn(g_seed_hlen);
        if (h[p] < '0' || h[p] > '9') continue;
        size_t s = p, e = p;
        while (s > 0 && h[s - 1] >= '0' && h[s - 1] <= '9')
            s--;
        while (e < g_seed_hlen && h[e] >= '0' && h[e] <= '9')
            e++;
        char rep[48];
        if (rnd() & 1)
            snprintf(rep, sizeof rep, "%s", EDGE_NUMS[rndn(sizeof EDGE_NUMS / sizeof *EDGE_NUMS)]);
        else
            snprintf(rep, sizeof rep, "%llu", (unsigned long long)rndn(200));
        return splice_header(s, e, rep, n);
    }
    *n = g_seed_size;
    unsigned char *b = malloc(*n);
    memcpy(b, g_seed, *n);
    return b;
}

static unsigned char *mut_dtype(size_t *n)
{
    const char *h = (const char *)g_seed + 8;
    const char *p = h;
    int k = (int)rndn(12), i = 0;
    const char *hit = NULL;
    while ((p = strstr(p, "\"dtype\":\"")) != NULL) {
        hit = p;
        if (i++ == k) break;
        p++;
    }
    size_t s = (size_t)(hit - h) + 9, e = s;
    while (h[e] != '"')
        e++;
    return splice_header(s, e, DTYPES[rndn(sizeof DTYPES / sizeof *DTYPES)], n);
}

static unsigned char *mut_bytes(size_t *n)
{
    *n = g_seed_size;
    unsigned char *b = malloc(*n);
    memcpy(b, g_seed, *n);
    int k = 1 + (int)rndn(4);
    static const char interesting[] = "{}[]\":,0-.e\\ \x00\xff\x80";
    for (int i = 0; i < k; i++) {
        size_t p = 8 + rndn(g_seed_hlen);
        b[p] = (rnd() & 1) ? (unsigned char)interesting[rndn(sizeof interesting - 1)]
                           : (unsigned char)rnd();
    }
    return b;
}

static unsigned char *mut_length(size_t *n)
{
    *n = g_seed_size;
    unsigned char *b = malloc(*n);
    memcpy(b, g_seed, *n);
    uint64_t v;
    switch (rndn(6)) {
    case 0:
        v = g_seed_hlen + rndn(17) - 8;
        break;
    case 1:
        v = rndn(g_seed_size + 16);
        break;
    case 2:
        v = (uint64_t)1 << rndn(64);
        break;
    case 3:
        v = UINT64_MAX - rndn(16);
        break;
    case 4:
        v = 100000000ull + rndn(3) - 1;
        break;
    default:
        v = rnd();
        break;
    }
    set_len(b, v);
    return b;
}

static unsigned char *mut_truncate(size_t *n)
{
    *n = rndn(g_seed_size + 1);
    unsigned char *b = malloc(*n ? *n : 1);
    memcpy(b, g_seed, *n);
    return b;
}

static unsigned char *mut_insdel(size_t *n)
{
    size_t s = rndn(g_seed_hlen), e = s + rndn(12);
    if (e > g_seed_hlen) e = g_seed_hlen;
    char rep[16] = {0};
    if (rnd() & 1) { /* duplicate a random short slice of the header */
        size_t from = rndn(g_seed_hlen - 8), len = rndn(8);
        memcpy(rep, g_seed + 8 + from, len);
        rep[len] = 0;
        for (size_t i = 0; i < len; i++)
            if (!rep[i]) rep[i] = ' ';
    }
    return splice_header(s, e, rep, n);
}

/* ---- checks ------------------------------------------------------------------------------- */

static int g_ok, g_err;

static void check_one(unsigned char *b, size_t n)
{
    ltx_st_file *f = NULL;
    ltx_err_clear();
    ltx_status st = ltx_st_open_memory(b, n, LABEL, &f);
    if (st != LTX_OK) {
        g_err++;
        CHECK_MSG(st == LTX_ERR_FORMAT && f == NULL, "status %d", st);
        CHECK_MSG(strstr(ltx_err_message(), LABEL) != NULL, "message '%s'", ltx_err_message());
        return;
    }
    g_ok++;
    const unsigned char *lo = b, *hi = b + n;
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        const unsigned char *d = e->data;
        CHECK(d >= lo && d <= hi && e->nbytes <= (size_t)(hi - d));
        CHECK(ltx_st_find(f, e->name) == e);
        int64_t cnt = -1;
        float *x = ltx_st_read_f32(f, e->name, &cnt);
        CHECK(x != NULL && cnt >= 0 && (size_t)cnt * ltx_dtype_size(e->dtype) == e->nbytes);
        volatile float acc = 0;
        for (int64_t j = 0; x && j < cnt; j++)
            acc += x[j];
        (void)acc;
        free(x);
    }
    for (int i = 0; i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        CHECK(k && v && ltx_st_metadata(f, k) != NULL);
    }
    ltx_st_close(f);
}

TEST(seed_is_valid)
{
    build_seed();
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open_memory(g_seed, g_seed_size, LABEL, &f) == LTX_OK);
    CHECK(ltx_st_count(f) == 12 && ltx_st_metadata_count(f) == 2);
    check_one(g_seed, g_seed_size);
    ltx_st_close(f);
    free(g_seed);
    g_seed = NULL;
}

TEST(fuzz_mutants)
{
    build_seed();
    unsigned char *(*const muts[])(size_t *) = {mut_number, mut_dtype,    mut_bytes,
                                                mut_length, mut_truncate, mut_insdel};
    const int nm = (int)(sizeof muts / sizeof *muts);
    int before = g_failures;
    for (int it = 0; it < ITERS && g_failures - before < 20; it++) {
        size_t n;
        unsigned char *b = muts[it % nm](&n);
        /* sometimes stack a second, independent mutation of the length field */
        if (it % 7 == 3 && n >= 8) set_len(b, (uint64_t)(n - 8 - rndn(SEED_DATA + 2)));
        check_one(b, n);
        free(b);
    }
    printf("fuzz: %d mutants, %d opened, %d rejected cleanly\n", g_ok + g_err, g_ok, g_err);
    CHECK(g_ok > 100 && g_err > 1000); /* both paths exercised */
    free(g_seed);
    g_seed = NULL;
}

/* Random tensor sets through the writer and back through the mmap reader: every byte, shape,
 * dtype and metadata value must survive. */
TEST(writer_roundtrip_random)
{
    char dir[] = "/tmp/ltx_st_fuzz_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/r.safetensors", dir);
    for (int it = 0; it < 200; it++) {
        ltx_st_writer *w = ltx_st_writer_new();
        int nt = (int)rndn(8);
        unsigned char *data[8];
        ltx_dtype dts[8];
        int nds[8];
        int64_t shapes[8][4];
        char names[8][16];
        for (int t = 0; t < nt; t++) {
            dts[t] = (ltx_dtype)rndn(LTX_ELEM_DTYPE_COUNT);
            nds[t] = (int)rndn(5);
            size_t numel = 1;
            for (int d = 0; d < nds[t]; d++)
                numel *= (size_t)(shapes[t][d] = (int64_t)rndn(5));
            size_t nb = numel * ltx_dtype_size(dts[t]);
            data[t] = malloc(nb + 1);
            for (size_t i = 0; i < nb; i++)
                data[t][i] = (unsigned char)rnd();
            snprintf(names[t], sizeof names[t], "t%d.\"%c", t, (char)('a' + rndn(26)));
            CHECK(ltx_st_writer_add(w, names[t], dts[t], nds[t], shapes[t], data[t]) == LTX_OK);
        }
        char mv[32];
        snprintf(mv, sizeof mv, "v\n%llu", (unsigned long long)rnd());
        if (it % 2) CHECK(ltx_st_writer_set_metadata(w, "k", mv) == LTX_OK);
        CHECK(ltx_st_writer_save(w, path) == LTX_OK);
        ltx_st_writer_free(w);
        ltx_st_file *f = NULL;
        CHECK(ltx_st_open(path, &f) == LTX_OK);
        CHECK(ltx_st_count(f) == nt);
        CHECK(it % 2 ? (ltx_st_metadata(f, "k") && !strcmp(ltx_st_metadata(f, "k"), mv))
                     : ltx_st_metadata_count(f) == 0);
        for (int t = 0; t < nt; t++) {
            const ltx_st_entry *e = ltx_st_find(f, names[t]);
            CHECK(e && e->dtype == dts[t] && e->ndim == nds[t]);
            if (!e) continue;
            for (int d = 0; d < nds[t]; d++)
                CHECK(e->shape[d] == shapes[t][d]);
            CHECK((uintptr_t)e->data % ltx_dtype_size(e->dtype) == 0);
            CHECK(e->nbytes == 0 || memcmp(e->data, data[t], e->nbytes) == 0);
            free(data[t]);
        }
        ltx_st_close(f);
    }
    remove(path);
    rmdir(dir);
}

TEST_MAIN()
