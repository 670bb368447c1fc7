/*
 * test_golden_extra_fuzz.c — deterministic fuzzing of golden `extra` parsing
 * (src/golden/golden_extra.c): the extra JSON of several real golden files (patchify, guiders,
 * schedulers, audio VAE decode, vocoder BWE) fed as JSON mutants (json_mutate.h: edge numbers,
 * wrong types, deleted keys, broken text). ltx_golden_extra_parse must return LTX_OK or
 * LTX_ERR_FORMAT with a message naming the file, never crash; an accepted extra must have every
 * case well-typed and every tolerance readable. Built twice by CMake: plainly
 * (test_golden_extra_fuzz, on libltx) and as golden_extra_fuzz_asan with only the parser's
 * sources under AddressSanitizer + UBSan.
 */
#include "harness.h"
#include "unit/json_mutate.h"

#include "golden/golden_extra.h"
#include "io/safetensors.h"

#define ITERS 4000
#define M     LTX_TEST_DATA "/golden/modules/"
#define LABEL "fuzz-golden"

static char *extra_of(const char *path)
{
    ltx_st_file *f = NULL;
    if (ltx_st_open(path, &f) != LTX_OK) return NULL;
    const char *v = ltx_st_metadata(f, "extra");
    char *out = v ? strdup(v) : NULL;
    ltx_st_close(f);
    return out;
}

/* An accepted extra: every case has what the replay code reads, every tolerance parses. */
static bool well_typed(const cJSON *x)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(x, "cases"))
    {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "function"))) return false;
        ltx_golden_tol t;
        const cJSON *tol = cJSON_GetObjectItemCaseSensitive(c, "tolerance"), *o;
        if (ltx_golden_tol_parse(LABEL, tol, 2.0, &t) != LTX_OK) return false;
        if (!(t.atol >= 0 && t.rtol >= 0 && t.max_abs >= 0 && t.factor >= 0 && t.min_frac >= 0 &&
              t.min_frac <= 1))
            return false;
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(c, "tolerance_per_output"))
        {
            if (ltx_golden_tol_parse(LABEL, o, 1.0, &t) != LTX_OK) return false;
        }
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(c, "inputs"))
        {
            if (!cJSON_IsString(o)) return false;
        }
    }
    return true;
}

TEST(extra_parser_survives_mutants)
{
    const char *files[] = {M "patchify_and_positions.safetensors", M "guiders.safetensors",
                           M "schedulers.safetensors", M "audio_vae_decode.safetensors",
                           M "vocoder_bwe.safetensors"};
    enum { NF = sizeof files / sizeof *files };
    char *seeds[NF];
    for (int i = 0; i < NF; i++) {
        seeds[i] = extra_of(files[i]);
        CHECK_MSG(seeds[i] != NULL, "%s: no extra", files[i]);
        if (!seeds[i]) return;
        cJSON *x = NULL;
        CHECK(ltx_golden_extra_parse(LABEL, seeds[i], &x) == LTX_OK && well_typed(x));
        cJSON_Delete(x);
    }
    int ok = 0, err = 0;
    for (int it = 0; it < ITERS; it++) {
        char *m = jm_mutant(seeds[it % NF]);
        cJSON *x = (cJSON *)1;
        ltx_status s = ltx_golden_extra_parse(LABEL, m, &x);
        if (s == LTX_OK) {
            ok++;
            CHECK_MSG(x && well_typed(x), "accepted but ill-typed: %.300s", m);
        } else {
            err++;
            CHECK(s == LTX_ERR_FORMAT && x == NULL && strstr(ltx_err_message(), LABEL));
        }
        cJSON_Delete(x);
        free(m);
    }
    printf("  %d accepted, %d refused over %d mutants\n", ok, err, ITERS);
    CHECK(ok > 0 && err > 0);
    /* hand-picked hostile cases */
    const char *bad[] = {
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": 1}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", \"tolerance\": "
        "{\"atol\": -1}}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", \"tolerance\": "
        "{\"atol\": 1e999}}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", \"inputs\": "
        "[1]}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", \"params\": 3}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", "
        "\"tolerance_per_output\": {\"o\": {\"kind\": \"rel_to\"}}}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": [{\"function\": \"f\", \"tolerance\": "
        "{\"kind\": \"uint8_frac\", \"min_frac\": 1.5}}]}",
        "{\"schema\": \"ltx2-golden-extra/1\", \"cases\": []}",
        "{\"schema\": 7, \"cases\": [{\"function\": \"f\"}]}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *x = NULL;
        CHECK_MSG(ltx_golden_extra_parse(LABEL, bad[i], &x) == LTX_ERR_FORMAT && !x, "accepted: %s",
                  bad[i]);
    }
    for (int i = 0; i < NF; i++)
        free(seeds[i]);
}

TEST_MAIN()
