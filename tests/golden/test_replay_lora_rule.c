/*
 * test_replay_lora_rule.c — one LoRA replay rule for every pipeline (issue 15 "Fidelity"): the
 * public two-stage goldens fuse the distilled LoRA at strength 1.0, which bf16 represents
 * exactly, so a replay that skips torch 1.13's bf16 rounding of the strength for some
 * pipelines would never show. Here variants of a conditioning golden (keyframe_interpolation)
 * and of a t2v golden (two_stage), from both reference versions, are written with the stage-2
 * strength 0.3 (bf16: 0.30078125) and the expected stage-2 fused probe weight computed
 * independently (ltx_lora_fuse at the bf16-rounded strength, no replay flags). Every variant
 * must match it exactly; the same variants expecting the unrounded 0.3 must fail.
 *
 * The variants keep the cases' inputs (contexts, noise draws, images) and drop every reference
 * intermediate of the original strength; out.audio_waveform (emitted by every pipeline replay)
 * stays with its comparison disabled, the fused probe is compared at atol 0.
 */
#include "harness.h"

#include "backend/backend.h"
#include "core/dtype.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "ltx_golden.h"
#include "models/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE     "transformer_blocks.0.attn1.to_q.weight"
#define STRENGTH  0.3
#define DATA_ROOT LTX_TEST_DATA "/golden"

/* The stage-2 fused probe as the pipelines fuse it (bf16 target, bf16 product). */
static ltx_tensor *expected_probe(ltx_backend *be, double strength)
{
    ltx_st_file *ck = NULL, *lf = NULL;
    ltx_lora *l = NULL;
    const ltx_st_entry *ea, *eb;
    ltx_tensor *w = NULL, *a = NULL, *b = NULL, *out = NULL;
    if (ltx_st_open(DATA_ROOT "/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors", &ck) == LTX_OK &&
        ltx_st_open(DATA_ROOT "/tiny_ckpt/tiny-distilled-lora-r8.safetensors", &lf) == LTX_OK &&
        ltx_lora_open(DATA_ROOT "/tiny_ckpt/tiny-distilled-lora-r8.safetensors", &l) == LTX_OK &&
        ltx_lora_find(l, PROBE, &ea, &eb)) {
        w = ltx_st_tensor(ck, be, "model.diffusion_model." PROBE);
        a = ltx_st_tensor(lf, be, ea->name);
        b = ltx_st_tensor(lf, be, eb->name);
        const ltx_tensor *A[1] = {a}, *B[1] = {b};
        if (w && a && b &&
            ltx_lora_fuse(be, PROBE, w, 1, A, B, &strength, LTX_BF16, LTX_BF16, &out) != LTX_OK)
            out = NULL;
    }
    ltx_tensor_free(w), ltx_tensor_free(a), ltx_tensor_free(b);
    ltx_lora_close(l);
    ltx_st_close(lf);
    ltx_st_close(ck);
    return out;
}

/* extra JSON of `src` with the stage-2 distilled strength, the outputs and tolerances of the
 * variant. Caller frees. */
static char *variant_extra(const ltx_st_file *src)
{
    cJSON *e = cJSON_Parse(ltx_st_metadata(src, "extra"));
    cJSON *c = e ? cJSON_GetArrayItem(cJSON_GetObjectItem(e, "cases"), 0) : NULL;
    cJSON *p = c ? cJSON_GetObjectItem(c, "params") : NULL;
    cJSON *s2 = cJSON_GetObjectItem(cJSON_GetObjectItem(p, "stage_loras"), "stage2");
    cJSON *last = cJSON_GetArrayItem(s2, cJSON_GetArraySize(s2) - 1);
    if (!last) {
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_ReplaceItemInObject(last, "strength", cJSON_CreateNumber(STRENGTH));
    cJSON *outs = cJSON_CreateArray();
    cJSON_AddItemToArray(outs, cJSON_CreateString("stage2.fused." PROBE));
    cJSON_ReplaceItemInObject(c, "outputs", outs);
    cJSON *tol = cJSON_Parse("{\"stage2.fused." PROBE "\":{\"kind\":\"allclose\",\"atol\":0,"
                             "\"rtol\":0},\"out.audio_waveform\":{\"kind\":\"allclose\","
                             "\"atol\":1e30,\"rtol\":0}}");
    cJSON_ReplaceItemInObject(c, "tolerance_per_output", tol);
    char *txt = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    return txt;
}

/* Writes the variant of golden `src_path` expecting `probe`; returns its path (static). */
static const char *write_variant(const char *src_path, const ltx_tensor *probe, const char *tag)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/ltx_test_lora_rule_%d_%s.safetensors", (int)getpid(), tag);
    ltx_st_file *src = NULL;
    if (ltx_st_open(src_path, &src) != LTX_OK) return NULL;
    ltx_st_writer *w = ltx_st_writer_new();
    ltx_status s = w ? LTX_OK : LTX_ERR_OOM;
    for (int i = 0; s == LTX_OK && i < ltx_st_count(src); i++) {
        const ltx_st_entry *en = ltx_st_at(src, i);
        bool keep = !strncmp(en->name, "in.", 3) || !strncmp(en->name, "image", 5) ||
                    !strcmp(en->name, "out.audio_waveform");
        if (keep) s = ltx_st_writer_add(w, en->name, en->dtype, en->ndim, en->shape, en->data);
    }
    char *extra = s == LTX_OK ? variant_extra(src) : NULL;
    if (!extra) s = LTX_ERR_FORMAT;
    if (s == LTX_OK) s = ltx_st_writer_add_tensor(w, "stage2.fused." PROBE, probe);
    if (s == LTX_OK) s = ltx_st_writer_set_metadata(w, "extra", extra);
    const char *commit = ltx_st_metadata(src, "reference_commit");
    if (s == LTX_OK && commit) s = ltx_st_writer_set_metadata(w, "reference_commit", commit);
    if (s == LTX_OK) s = ltx_st_writer_save(w, path);
    free(extra);
    ltx_st_writer_free(w);
    ltx_st_close(src);
    return s == LTX_OK ? path : NULL;
}

static int replay(ltx_engine *e, const char *path, ltx_verify_result *r)
{
    ltx_verify_params vp;
    ltx_verify_params_init(&vp);
    vp.golden_root = DATA_ROOT;
    return ltx_verify_file(e, path, &vp, r) == LTX_OK;
}

TEST(one_strength_rule_for_every_pipeline)
{
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(false, NULL, NULL, &be) == LTX_OK);
    ltx_engine_params ep;
    ltx_engine_params_init(&ep);
    ep.device = "cpu";
    ep.log = NULL;
    ltx_engine *e = NULL;
    CHECK(ltx_engine_open(&ep, &e) == LTX_OK);
    ltx_tensor *want = expected_probe(be, ltx_round_bf16((float)STRENGTH));
    ltx_tensor *wrong = expected_probe(be, STRENGTH);
    CHECK(want && wrong);
    static const char *goldens[4] = {"golden/pipelines/pipeline_keyframe_interpolation",
                                     "golden/pipelines/pipeline_two_stage",
                                     "golden_v12/pipelines/pipeline_keyframe_interpolation",
                                     "golden_v12/pipelines/pipeline_two_stage"};
    for (int i = 0; e && want && wrong && i < 4; i++) {
        char src[512];
        snprintf(src, sizeof src, "%s/%s.safetensors", LTX_TEST_DATA, goldens[i]);
        ltx_verify_result r;
        const char *p = write_variant(src, want, "want");
        CHECK_MSG(p && replay(e, p, &r) && r.failed == 0 && r.passed >= 1,
                  "%s at strength %g: %d failed (%s)", goldens[i], STRENGTH, p ? r.failed : -1,
                  ltx_engine_last_error(e));
        if (p) unlink(p);
        p = write_variant(src, wrong, "wrong"); /* control: the unrounded strength must fail */
        CHECK_MSG(p && !replay(e, p, &r) && r.failed == 1, "%s: control did not fail", goldens[i]);
        if (p) unlink(p);
    }
    ltx_tensor_free(want);
    ltx_tensor_free(wrong);
    ltx_engine_close(e);
    ltx_backend_destroy(be);
}

TEST_MAIN()
