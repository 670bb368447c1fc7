/*
 * test_tokenizer.c — the C Gemma 3 tokenizer against Hugging Face `tokenizers` ids.
 *
 * Golden: tests/data/golden/tokenizer/gemma3_ids.json (378 strings; README.md beside it). Each
 * case's utf8_hex bytes are encoded with and without BOS and through the LTX path (strip, BOS,
 * truncate to 1024, left pad, mask) and must match exactly; ltx_padded_examples check the
 * padded arrays as run lengths. Decode must give the text back (except the listed cases with a
 * literal U+2581). Needs the real tokenizer.json in <repo>/.cache/tokenizer-gemma3/ (fetched by
 * scripts/setup.sh): without it the test FAILS, it never skips.
 */
#include "harness.h"
#include "test_util.h"

#include "core/error.h"
#include "tokenizer/gemma_tokenizer.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <time.h>

static ltx_gemma_tokenizer *g_tok;
static cJSON *g_gold;

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    if (b) b[sz] = 0;
    fclose(f);
    if (n) *n = (size_t)sz;
    return b;
}

static int setup(void)
{
    static int tried;
    if (g_tok && g_gold) return 1;
    if (tried) {
        CHECK_MSG(0, "tokenizer or golden not loaded (see the first failure)");
        return 0;
    }
    tried = 1;
    char path[4096];
    tu_tokenizer_path(path, sizeof path);
    double t0 = tu_now_s();
    ltx_status st = ltx_gemma_tokenizer_load(path, &g_tok);
    double dt = tu_now_s() - t0;
    CHECK_MSG(st == LTX_OK,
              "cannot load %s (%s) — run scripts/setup.sh to fetch the real Gemma 3 tokenizer",
              path, ltx_err_message());
    if (st != LTX_OK) return 0;
    printf("  loaded %s in %.3f s (%d ids)\n", path, dt, ltx_gemma_tokenizer_vocab_size(g_tok));
    char *js = slurp(LTX_TEST_DATA "/golden/tokenizer/gemma3_ids.json", NULL);
    CHECK_MSG(js != NULL, "missing golden " LTX_TEST_DATA "/golden/tokenizer/gemma3_ids.json");
    if (!js) return 0;
    g_gold = cJSON_Parse(js);
    free(js);
    CHECK(g_gold != NULL);
    return g_gold != NULL;
}

/* Hex string -> malloc'd bytes. */
static char *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h) / 2;
    char *b = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (char)v;
    }
    b[l] = 0;
    *n = l;
    return b;
}

/* ids equal to a JSON int array (prefixed with `pre` when pre >= 0)? */
static int same_ids(const int32_t *ids, int n, const cJSON *arr, int pre)
{
    int k = 0;
    if (pre >= 0) {
        if (n < 1 || ids[0] != pre) return 0;
        k = 1;
    }
    if (n - k != cJSON_GetArraySize(arr)) return 0;
    for (const cJSON *e = arr->child; e; e = e->next, k++)
        if (ids[k] != e->valueint) return 0;
    return 1;
}

static const cJSON *find_case(const char *name)
{
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g_gold, "cases");
    for (const cJSON *c = cases->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring, name)) return c;
    return NULL;
}

TEST(tokenizer_golden_ids)
{
    if (!setup()) return;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g_gold, "cases");
    int total = 0, ok_ids = 0, ok_bos = 0, ok_ltx = 0;
    size_t bytes = 0;
    double t_enc = 0;
    int32_t lid[LTX_GEMMA_LTX_MAX_LEN], lmask[LTX_GEMMA_LTX_MAX_LEN];
    for (const cJSON *c = cases->child; c; c = c->next, total++) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        size_t n;
        char *text = unhex(cJSON_GetObjectItemCaseSensitive(c, "utf8_hex")->valuestring, &n);
        bytes += n;
        int32_t *ids = NULL;
        int nid = 0;
        double t0 = tu_now_s();
        ltx_status st = ltx_gemma_tokenizer_encode(g_tok, text, n, 0, &ids, &nid);
        t_enc += tu_now_s() - t0;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int good = st == LTX_OK && same_ids(ids, nid, want, -1);
        ok_ids += good;
        if (!good) {
            int k = 0;
            while (k < nid && k < cJSON_GetArraySize(want) &&
                   ids[k] == cJSON_GetArrayItem(want, k)->valueint)
                k++;
            fprintf(stderr, "  ids mismatch %s: got %d ids, want %d, first diff at %d\n", name, nid,
                    cJSON_GetArraySize(want), k);
        }
        free(ids);

        st = ltx_gemma_tokenizer_encode(g_tok, text, n, 1, &ids, &nid);
        good = st == LTX_OK && same_ids(ids, nid, want, LTX_GEMMA_BOS_ID) &&
               same_ids(ids, nid, cJSON_GetObjectItemCaseSensitive(c, "ids_bos"), -1);
        ok_bos += good;
        if (!good) fprintf(stderr, "  ids_bos mismatch %s\n", name);
        free(ids);

        const cJSON *ltx = cJSON_GetObjectItemCaseSensitive(c, "ltx");
        int pad = cJSON_GetObjectItemCaseSensitive(ltx, "pad")->valueint;
        st = ltx_gemma_tokenize_ltx(g_tok, text, n, LTX_GEMMA_LTX_MAX_LEN, lid, lmask);
        good = st == LTX_OK && same_ids(lid + pad, LTX_GEMMA_LTX_MAX_LEN - pad,
                                        cJSON_GetObjectItemCaseSensitive(ltx, "ids"), -1);
        for (int i = 0; good && i < LTX_GEMMA_LTX_MAX_LEN; i++)
            good = lmask[i] == (i >= pad) && (i >= pad || lid[i] == LTX_GEMMA_PAD_ID);
        ok_ltx += good;
        if (!good) fprintf(stderr, "  ltx mismatch %s (pad %d)\n", name, pad);
        free(text);
    }
    printf("  %d strings: ids %d/%d, ids_bos %d/%d, ltx ids+mask %d/%d match "
           "(%.1f MB/s encode)\n",
           total, ok_ids, total, ok_bos, total, ok_ltx, total, bytes / 1e6 / (t_enc + 1e-9));
    CHECK(total == 378);
    CHECK(ok_ids == total);
    CHECK(ok_bos == total);
    CHECK(ok_ltx == total);
}

/* The padded examples, as run lengths of the arrays the Rust tokenizer returned. */
TEST(tokenizer_ltx_padded_examples)
{
    if (!setup()) return;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(g_gold, "ltx_padded_examples");
    int32_t lid[LTX_GEMMA_LTX_MAX_LEN], lmask[LTX_GEMMA_LTX_MAX_LEN];
    CHECK(cJSON_GetArraySize(ex) == 4);
    for (const cJSON *e = ex->child; e; e = e->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring;
        const cJSON *c = find_case(name);
        CHECK_MSG(c != NULL, "case %s", name);
        if (!c) continue;
        size_t n;
        char *text = unhex(cJSON_GetObjectItemCaseSensitive(c, "utf8_hex")->valuestring, &n);
        CHECK(ltx_gemma_tokenize_ltx(g_tok, text, n, LTX_GEMMA_LTX_MAX_LEN, lid, lmask) == LTX_OK);
        free(text);
        int pad = cJSON_GetObjectItemCaseSensitive(e, "pad_count")->valueint;
        CHECK_MSG(same_ids(lid + pad, LTX_GEMMA_LTX_MAX_LEN - pad,
                           cJSON_GetObjectItemCaseSensitive(e, "ids"), -1),
                  "%s ids", name);
        int pos = 0, ok = 1;
        for (const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "attention_mask_runs")->child; r;
             r = r->next)
            for (int k = 0; k < cJSON_GetArrayItem(r, 1)->valueint; k++, pos++)
                ok &=
                    pos < LTX_GEMMA_LTX_MAX_LEN && lmask[pos] == cJSON_GetArrayItem(r, 0)->valueint;
        CHECK_MSG(ok && pos == LTX_GEMMA_LTX_MAX_LEN, "%s mask runs", name);
        pos = 0, ok = 1;
        for (const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "input_ids_runs_head")->child; r;
             r = r->next)
            for (int k = 0; k < cJSON_GetArrayItem(r, 1)->valueint; k++, pos++)
                ok &= pos < LTX_GEMMA_LTX_MAX_LEN && lid[pos] == cJSON_GetArrayItem(r, 0)->valueint;
        CHECK_MSG(ok, "%s input_ids runs", name);
    }
}

/* decode(ids) == text, except where the text holds a literal "▁" (decoded as a space). */
TEST(tokenizer_decode_roundtrip)
{
    if (!setup()) return;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g_gold, "cases");
    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(g_gold, "stats"), "decode_roundtrip_mismatch");
    int ok = 0, tried = 0;
    for (const cJSON *c = cases->child; c; c = c->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        int listed = 0;
        for (const cJSON *s = skip ? skip->child : NULL; s; s = s->next)
            listed |= !strcmp(s->valuestring, name);
        if (listed) continue;
        size_t n, dn = 0;
        char *text = unhex(cJSON_GetObjectItemCaseSensitive(c, "utf8_hex")->valuestring, &n);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int nid = cJSON_GetArraySize(want), k = 0;
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)(nid + 1));
        for (const cJSON *e = want->child; e; e = e->next)
            ids[k++] = e->valueint;
        char *dec = NULL;
        tried++;
        if (ltx_gemma_tokenizer_decode(g_tok, ids, nid, 0, &dec, &dn) == LTX_OK && dn == n &&
            memcmp(dec, text, n) == 0)
            ok++;
        else
            fprintf(stderr, "  decode mismatch %s\n", name);
        free(dec);
        free(ids);
        free(text);
    }
    printf("  decode round trip %d/%d\n", ok, tried);
    CHECK(ok == tried && tried > 300);
}

/* Port policies the golden cannot cover: invalid UTF-8, strip, errors. */
TEST(tokenizer_policies)
{
    if (!setup()) return;
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    /* Each maximal ill-formed subsequence becomes U+FFFD, like Python errors="replace". */
    static const char bad[] = "a\xC3(b\xF0\x9F\x98z\xFF";
    CHECK(ltx_gemma_tokenizer_encode(g_tok, bad, sizeof bad - 1, 0, &a, &na) == LTX_OK);
    const char *fixed = "a\xEF\xBF\xBD(b\xEF\xBF\xBDz\xEF\xBF\xBD";
    CHECK(ltx_gemma_tokenizer_encode(g_tok, fixed, strlen(fixed), 0, &b, &nb) == LTX_OK);
    CHECK(na == nb && na > 0 && memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
    free(a);
    free(b);
    /* "a\0b" -> [a, <0x00>, b] (README fact) and the empty string -> [] / [2]. */
    CHECK(ltx_gemma_tokenizer_encode(g_tok, "a\0b", 3, 0, &a, &na) == LTX_OK);
    CHECK(na == 3 && a[0] == 236746 && a[1] == 238 && a[2] == 236763);
    free(a);
    CHECK(ltx_gemma_tokenizer_encode(g_tok, "", 0, 1, &a, &na) == LTX_OK);
    CHECK(na == 1 && a[0] == LTX_GEMMA_BOS_ID);
    free(a);
    size_t s, n;
    ltx_gemma_py_strip(" \xC2\x85\xE3\x80\x80x\xE2\x80\x8B \x1F", 12, &s, &n);
    CHECK(s == 6 && n == 4); /* U+0085, U+3000 stripped; U+200B kept, U+001F stripped */
    int32_t id[4], m[4];
    CHECK(ltx_gemma_tokenize_ltx(g_tok, "hi", 2, 0, id, m) == LTX_ERR_INVALID_ARG);
    /* A folder holding tokenizer.json (a Gemma root) loads the same file. */
    char dir[4096];
    tu_tokenizer_path(dir, sizeof dir);
    *strrchr(dir, '/') = 0;
    ltx_gemma_tokenizer *t = NULL;
    CHECK(ltx_gemma_tokenizer_load(dir, &t) == LTX_OK && t);
    if (t) CHECK(ltx_gemma_tokenizer_vocab_size(t) == 262145);
    ltx_gemma_tokenizer_free(t);
    t = NULL;
    CHECK(ltx_gemma_tokenizer_load("/nonexistent/tokenizer.json", &t) == LTX_ERR_IO && !t);
    CHECK(strstr(ltx_err_message(), "/nonexistent/tokenizer.json") != NULL);
    ltx_gemma_tokenizer_free(NULL);
}

TEST_MAIN()
