/*
 * test_refver.c — the reference-version parameter (ltx.h ltx_reference_version, core/refver.h):
 * names and parsing, the golden reference_commit mapping, the default (1.2), and the appended
 * ltx_generate_params field: a caller built against the older header (struct_size without the
 * field) is still accepted and gets the default, a struct shorter than that is refused.
 */
#include "harness.h"

#include "api/generate_internal.h"
#include "core/refver.h"
#include "ltx.h"

#include <stddef.h>
#include <string.h>

TEST(names_and_parsing)
{
    ltx_reference_version v = LTX_REFERENCE_DEFAULT;
    CHECK(ltx_reference_version_parse("1.2", &v) == 0 && v == LTX_REFERENCE_1_2);
    CHECK(ltx_reference_version_parse("2026-04", &v) == 0 && v == LTX_REFERENCE_2026_04);
    CHECK(ltx_reference_version_parse("400fd31", &v) == 0 && v == LTX_REFERENCE_1_2);
    CHECK(ltx_reference_version_parse("a2c3f24", &v) == 0 && v == LTX_REFERENCE_2026_04);
    v = LTX_REFERENCE_2026_04;
    CHECK(ltx_reference_version_parse("1.3", &v) == -1 && v == LTX_REFERENCE_2026_04);
    CHECK(ltx_reference_version_parse("", &v) == -1);
    CHECK(ltx_reference_version_parse(NULL, &v) == -1);
    CHECK(!strcmp(ltx_reference_version_name(LTX_REFERENCE_1_2), "1.2"));
    CHECK(!strcmp(ltx_reference_version_name(LTX_REFERENCE_2026_04), "2026-04"));
    CHECK(!strcmp(ltx_reference_version_name(LTX_REFERENCE_DEFAULT), "default"));
}

TEST(default_and_commits)
{
    CHECK(ltx_refver_resolve(LTX_REFERENCE_DEFAULT) == LTX_REFERENCE_1_2);
    CHECK(ltx_refver_is_1_2(LTX_REFERENCE_DEFAULT));
    CHECK(!ltx_refver_is_1_2(LTX_REFERENCE_2026_04));
    CHECK(ltx_refver_from_commit("400fd31") == LTX_REFERENCE_1_2);
    CHECK(ltx_refver_from_commit("a2c3f24b9e0e") == LTX_REFERENCE_2026_04);
    CHECK(ltx_refver_from_commit("deadbee") == LTX_REFERENCE_DEFAULT);
    CHECK(ltx_refver_from_commit("400f") == LTX_REFERENCE_DEFAULT);
    CHECK(ltx_refver_from_commit(NULL) == LTX_REFERENCE_DEFAULT);
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    CHECK(g.reference_version == LTX_REFERENCE_DEFAULT);
    CHECK(ltx_gen_reference(&g) == LTX_REFERENCE_1_2);
    g.reference_version = LTX_REFERENCE_2026_04;
    CHECK(ltx_gen_reference(&g) == LTX_REFERENCE_2026_04);
    /* an older caller's struct ends before the field: its bytes there are not read */
    g.struct_size = offsetof(ltx_generate_params, reference_version);
    CHECK(ltx_gen_reference(&g) == LTX_REFERENCE_1_2);
}

TEST(older_struct_size_accepted)
{
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.log = NULL;
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&ep, &e) == LTX_OK);
    if (!e) return;
    ltx_generate_params g;
    ltx_generate_params_init(&g);
    g.prompt = "x";
    g.output_path = "/nonexistent-dir/out.mp4";
    g.height = 64, g.width = 64;
    ltx_distilled_params dp;
    ltx_distilled_params_init(&dp);
    g.struct_size = offsetof(ltx_generate_params, reference_version); /* the older header */
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK_MSG(strstr(ltx_engine_last_error(e), "struct_size") == NULL,
              "older struct refused: %s", ltx_engine_last_error(e));
    g.struct_size = offsetof(ltx_generate_params, reference_version) - 1;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_engine_last_error(e), "struct_size too small") != NULL);
    g.struct_size = sizeof g;
    g.reference_version = (ltx_reference_version)7;
    CHECK(ltx_generate_distilled(e, &g, &dp) == LTX_ERR_INVALID_ARG);
    CHECK_MSG(strstr(ltx_engine_last_error(e), "--reference-version") != NULL, "%s",
              ltx_engine_last_error(e));
    ltx_engine_close(e);
}

TEST_MAIN()
