/*
 * test_transformer.c — LTXModel behaviour the goldens leave uncovered: config validation,
 * missing/unexpected weight reports, batched passes == separate passes (with mixed STG and
 * modality-isolation perturbations), video-only models, self-attention strength masks and
 * context masks, gated vs ungated attention, the 6-row (no cross-attention AdaLN) block,
 * interleaved RoPE and the in-DiT caption projection (19B-style configs).
 *
 * Inputs come from modules/transformer_forward_uniform.safetensors (tiny checkpoint). Synthetic
 * checkpoints are built in memory from a config: each parameter's values are a hash of its
 * name, so two configs share the values of the parameters they have in common.
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "core/threadpool.h"
#include "io/json.h"
#include "models/ltx_transformer.h"
#include "nn/nn.h"
#include "sampling/patchifier.h"

#define GOLDEN LTX_TEST_DATA "/golden/modules/transformer_forward_uniform.safetensors"
#define CKPT   LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static ltx_backend *g_be;
static ltx_st_file *g_golden, *g_ckpt;

static ltx_backend *be(void)
{
    if (!g_be) {
        static ltx_log log = {.level = LTX_LOG_ERROR, .fn = NULL}; /* errors are checked */
        if (ltx_cpu_backend_create(false, &log, NULL, &g_be) != LTX_OK) abort();
        if (ltx_st_open(GOLDEN, &g_golden) != LTX_OK || ltx_st_open(CKPT, &g_ckpt) != LTX_OK) {
            fprintf(stderr, "%s\n", ltx_err_message());
            abort();
        }
    }
    return g_be;
}

/* The golden inputs of one forward (batch 1). */
typedef struct inputs {
    ltx_tensor *t[10];
    ltx_modality v, a;
} inputs;

static void load_inputs(inputs *in)
{
    static const char *names[10] = {
        "in.video.latent",    "in.video.sigma",  "in.video.timesteps", "in.video.positions",
        "in.video.context",   "in.audio.latent", "in.audio.sigma",     "in.audio.timesteps",
        "in.audio.positions", "in.audio.context"};
    for (int i = 0; i < 10; i++)
        in->t[i] = ltx_st_tensor(g_golden, be(), names[i]);
    in->v = (ltx_modality){.latent = in->t[0],
                           .sigma = in->t[1],
                           .timesteps = in->t[2],
                           .positions = in->t[3],
                           .context = in->t[4],
                           .enabled = true};
    in->a = (ltx_modality){.latent = in->t[5],
                           .sigma = in->t[6],
                           .timesteps = in->t[7],
                           .positions = in->t[8],
                           .context = in->t[9],
                           .enabled = true};
}

static void free_inputs(inputs *in)
{
    for (int i = 0; i < 10; i++)
        ltx_tensor_free(in->t[i]);
}

/* Rows [b0, b1) of a batch tensor as a contiguous copy. */
static ltx_tensor *rows(const ltx_tensor *t, int64_t b0, int64_t b1)
{
    ltx_tensor *s = ltx_tensor_slice(t, 0, b0, b1, 1);
    ltx_tensor *c = ltx_nn_contiguous(be(), s, LTX_F32);
    ltx_tensor_free(s);
    return c;
}

/* ---- synthetic checkpoints ---- */

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct synth {
    cJSON *header;
    uint8_t *data;
    size_t n, cap;   /* bytes */
    bool zero_gates; /* to_gate_logits weights/biases = 0 */
    bool drop_some;  /* leave two weights out and add an unexpected one */
    int fp8;         /* 2-D weights: 0 f32, 1 F8_E4M3 / 64 + weight_scale 1/64, 2 f32 of that */
} synth;

static void add_entry(synth *S, const char *name, const char *dtype, int ndim, const int64_t *shape,
                      const void *bytes, size_t nbytes)
{
    if (S->n + nbytes > S->cap) {
        S->cap = (S->n + nbytes) * 2;
        S->data = realloc(S->data, S->cap);
    }
    memcpy(S->data + S->n, bytes, nbytes);
    char full[300];
    snprintf(full, sizeof full, "model.diffusion_model.%s", name);
    cJSON *e = cJSON_AddObjectToObject(S->header, full);
    cJSON_AddStringToObject(e, "dtype", dtype);
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    for (int d = 0; d < ndim; d++)
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)shape[d]));
    cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)S->n));
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(S->n + nbytes)));
    S->n += nbytes;
}

static void synth_param(void *user, const char *name, int ndim, const int64_t *shape)
{
    synth *S = user;
    if (S->drop_some && (strstr(name, "transformer_blocks.1.attn1.to_q.weight") ||
                         !strcmp(name, "audio_scale_shift_table")))
        return;
    int64_t numel = shape[0] * (ndim == 2 ? shape[1] : 1);
    float *v = malloc(sizeof(float) * (size_t)numel);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    size_t nl = strlen(name);
    bool weight = nl > 7 && !strcmp(name + nl - 7, ".weight");
    bool bias = nl > 5 && !strcmp(name + nl - 5, ".bias");
    bool gate = strstr(name, "to_gate_logits") != NULL;
    for (int64_t j = 0; j < numel; j++) {
        float u = (float)((double)(mix(h + (uint64_t)j) >> 40) / 8388608.0 - 1.0);
        v[j] = weight && ndim == 2 ? u / sqrtf((float)shape[1])
               : weight            ? 1.0f + u / 8
               : bias              ? u / 32
                                   : u / 8;
        if (gate && S->zero_gates) v[j] = 0;
    }
    if (weight && ndim == 2 && S->fp8) {
        /* q = fp8(w * 64), scale 1/64 (a power of two: q * scale is exact in f32) */
        uint8_t *q = malloc((size_t)numel);
        for (int64_t j = 0; j < numel; j++)
            q[j] = ltx_f32_to_fp8e4m3(v[j] * 64.0f);
        if (S->fp8 == 1) {
            add_entry(S, name, "F8_E4M3", ndim, shape, q, (size_t)numel);
            char sn[256];
            snprintf(sn, sizeof sn, "%.*s.weight_scale", (int)(nl - 7), name);
            float sc = 1.0f / 64.0f;
            add_entry(S, sn, "F32", 0, shape, &sc, 4);
            snprintf(sn, sizeof sn, "%.*s.input_scale", (int)(nl - 7), name);
            add_entry(S, sn, "F32", 0, shape, &sc, 4);
        } else {
            for (int64_t j = 0; j < numel; j++)
                v[j] = ltx_fp8e4m3_to_f32(q[j]) / 64.0f;
            add_entry(S, name, "F32", ndim, shape, v, sizeof(float) * (size_t)numel);
        }
        free(q);
    } else {
        add_entry(S, name, "F32", ndim, shape, v, sizeof(float) * (size_t)numel);
    }
    free(v);
}

/* The tiny checkpoint's config with `edits` (JSON object) merged into "transformer". */
static char *edited_config(const char *edits)
{
    cJSON *root = cJSON_Parse(ltx_st_metadata(g_ckpt, "config"));
    cJSON *tf = cJSON_GetObjectItemCaseSensitive(root, "transformer");
    cJSON *ed = cJSON_Parse(edits);
    cJSON *it;
    cJSON_ArrayForEach(it, ed)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(tf, it->string);
        cJSON_AddItemToObject(tf, it->string, cJSON_Duplicate(it, 1));
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(ed);
    cJSON_Delete(root);
    return s;
}

/* In-memory checkpoint for config text; *buf must outlive the file. */
static ltx_st_file *synth_file_ex(const char *config, bool video_only, bool zero_gates,
                                  bool drop_some, int fp8, void **buf)
{
    ltx_transformer_config cfg;
    if (ltx_transformer_config_parse(config, video_only, &cfg) != LTX_OK) return NULL;
    synth S = {.header = cJSON_CreateObject(),
               .zero_gates = zero_gates,
               .drop_some = drop_some,
               .fp8 = fp8};
    ltx_transformer_list_params(&cfg, synth_param, &S);
    if (drop_some) {
        int64_t one = 4;
        synth_param(&S, "transformer_blocks.0.attn1.extra_thing", 1, &one);
    }
    cJSON *md = cJSON_AddObjectToObject(S.header, "__metadata__");
    cJSON_AddStringToObject(md, "config", config);
    char *txt = cJSON_PrintUnformatted(S.header);
    cJSON_Delete(S.header);
    size_t hl = strlen(txt), hp = (hl + 7) / 8 * 8, size = 8 + hp + S.n;
    uint8_t *b = malloc(size);
    uint64_t h64 = hp;
    memcpy(b, &h64, 8);
    memcpy(b + 8, txt, hl);
    memset(b + 8 + hl, ' ', hp - hl);
    memcpy(b + 8 + hp, S.data, S.n);
    free(txt);
    free(S.data);
    ltx_st_file *f = NULL;
    if (ltx_st_open_memory(b, size, "synthetic", &f) != LTX_OK) {
        free(b);
        return NULL;
    }
    *buf = b;
    return f;
}

static ltx_st_file *synth_file(const char *config, bool video_only, bool zero_gates, bool drop_some,
                               void **buf)
{
    return synth_file_ex(config, video_only, zero_gates, drop_some, 0, buf);
}

/* ---- tests ---- */

TEST(config_rejects_what_the_reference_rejects)
{
    be();
    ltx_transformer_config cfg;
    char *ok = edited_config("{}");
    CHECK(ltx_transformer_config_parse(ok, false, &cfg) == LTX_OK);
    CHECK(cfg.num_layers == 2 && cfg.heads == 2 && cfg.head_dim == 32 && cfg.audio_head_dim == 16);
    CHECK(cfg.rope_type == LTX_ROPE_SPLIT && cfg.f64_rope && cfg.cross_attention_adaln);
    CHECK(cfg.gated_attention && !cfg.caption_projection && cfg.av_ca_timestep_scale == 1000.0);
    free(ok);
    const char *bad[] = {"{\"dropout\": 0.1}",
                         "{\"rope_type\": \"spiral\"}",
                         "{\"qk_norm\": \"layer_norm\"}",
                         "{\"attention_type\": \"magic\"}",
                         "{\"positional_embedding_max_pos\": [20, 2048]}",
                         "{\"audio_num_attention_heads\": 4}",
                         "{\"share_ff\": true}",
                         "{\"caption_proj_before_connector\": false, \"caption_channels\": 0}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *c = edited_config(bad[i]);
        ltx_status s = ltx_transformer_config_parse(c, false, &cfg);
        CHECK_MSG(s == LTX_ERR_UNSUPPORTED, "%s accepted", bad[i]);
        free(c);
    }
    /* an asserted key that is absent fails too (ref: check_config_value on config.get) */
    cJSON *root = cJSON_Parse(ltx_st_metadata(g_ckpt, "config"));
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "transformer"),
                                            "cross_attention_norm");
    char *c = cJSON_PrintUnformatted(root);
    CHECK(ltx_transformer_config_parse(c, false, &cfg) == LTX_ERR_UNSUPPORTED);
    CHECK(strstr(ltx_err_message(), "cross_attention_norm") != NULL);
    free(c);
    cJSON_Delete(root);
    /* video-only does not assert the A<->V keys */
    char *vo = edited_config("{\"share_ff\": true}");
    CHECK(ltx_transformer_config_parse(vo, true, &cfg) == LTX_OK && !cfg.has_audio);
    free(vo);
}

TEST(loader_reports_all_missing_and_unexpected)
{
    be();
    char *c = edited_config("{}");
    void *buf = NULL;
    ltx_st_file *f = synth_file(c, false, false, true, &buf);
    CHECK(f != NULL);
    ltx_transformer *m = NULL;
    ltx_status s = f ? ltx_transformer_load(f, be(), false, &m) : LTX_ERR_IO;
    CHECK(s == LTX_ERR_FORMAT && m == NULL);
    const char *msg = ltx_err_message();
    CHECK_MSG(strstr(msg, "transformer_blocks.1.attn1.to_q.weight") != NULL, "%s", msg);
    CHECK_MSG(strstr(msg, "audio_scale_shift_table") != NULL, "%s", msg);
    CHECK_MSG(strstr(msg, "transformer_blocks.0.attn1.extra_thing") != NULL, "%s", msg);
    CHECK(strstr(msg, "2 missing") != NULL && strstr(msg, "1 unexpected") != NULL);
    ltx_st_close(f);
    free(buf);
    /* the complete synthetic file loads */
    f = synth_file(c, false, false, false, &buf);
    CHECK(f && ltx_transformer_load(f, be(), false, &m) == LTX_OK);
    ltx_transformer_free(m);
    ltx_st_close(f);
    free(buf);
    free(c);
}

/* batch of two (different contexts, sigmas and perturbations) == two batch-1 passes */
TEST(batched_passes_equal_separate_passes)
{
    be();
    ltx_transformer *m = NULL;
    CHECK(ltx_transformer_load(g_ckpt, be(), false, &m) == LTX_OK);
    if (!m) return;
    inputs in;
    load_inputs(&in);
    /* second item: other context (scaled), other sigma/timesteps */
    ltx_tensor *vctx2 = ltx_nn_unary(be(), LTX_UNARY_SCALE, in.v.context, -0.5, 0.1);
    ltx_tensor *actx2 = ltx_nn_unary(be(), LTX_UNARY_SCALE, in.a.context, 1.5, 0.0);
    ltx_tensor *vs2 = ltx_nn_unary(be(), LTX_UNARY_SCALE, in.v.sigma, 0.5, 0.0);
    ltx_tensor *as2 = ltx_nn_unary(be(), LTX_UNARY_SCALE, in.a.sigma, 0.5, 0.0);
    /* item 1's video timesteps: first frame clean (t = 0), the rest 0.5 sigma -> token runs */
    float *tv = ltx_tensor_to_host_f32(in.v.timesteps);
    int64_t Tv = in.v.latent->shape[1];
    for (int64_t i = 0; i < Tv; i++)
        tv[i] = i < Tv / 2 ? 0.0f : tv[i] * 0.5f;
    ltx_tensor *vt2 = ltx_tensor_from_host(be(), LTX_F32, 3, in.v.timesteps->shape, tv);
    free(tv);
    ltx_tensor *at2 = ltx_nn_unary(be(), LTX_UNARY_SCALE, in.a.timesteps, 0.5, 0.0);
    const ltx_tensor *p[][2] = {{in.v.latent, in.v.latent},
                                {in.v.sigma, vs2},
                                {in.v.timesteps, vt2},
                                {in.v.positions, in.v.positions},
                                {in.v.context, vctx2},
                                {in.a.latent, in.a.latent},
                                {in.a.sigma, as2},
                                {in.a.timesteps, at2},
                                {in.a.positions, in.a.positions},
                                {in.a.context, actx2}};
    ltx_tensor *cat[10];
    for (int i = 0; i < 10; i++)
        cat[i] = ltx_nn_cat(be(), p[i], 2, 0);
    ltx_modality v2 = {.latent = cat[0],
                       .sigma = cat[1],
                       .timesteps = cat[2],
                       .positions = cat[3],
                       .context = cat[4],
                       .enabled = true};
    ltx_modality a2 = {.latent = cat[5],
                       .sigma = cat[6],
                       .timesteps = cat[7],
                       .positions = cat[8],
                       .context = cat[9],
                       .enabled = true};
    ltx_modality v1b = {.latent = in.v.latent,
                        .sigma = vs2,
                        .timesteps = vt2,
                        .positions = in.v.positions,
                        .context = vctx2,
                        .enabled = true};
    ltx_modality a1b = {.latent = in.a.latent,
                        .sigma = as2,
                        .timesteps = at2,
                        .positions = in.a.positions,
                        .context = actx2,
                        .enabled = true};
    static const int blk1[1] = {1};
    /* per-case perturbation lists for item 1 (item 0 never perturbed) */
    ltx_perturbation stg[2] = {{LTX_PTB_SKIP_VIDEO_SELF_ATTN, blk1, 1},
                               {LTX_PTB_SKIP_AUDIO_SELF_ATTN, blk1, 1}};
    ltx_perturbation iso[2] = {{LTX_PTB_SKIP_A2V_CROSS_ATTN, NULL, 0},
                               {LTX_PTB_SKIP_V2A_CROSS_ATTN, NULL, 0}};
    ltx_ptb_item cases[3][2] = {
        {{NULL, 0}, {NULL, 0}}, {{NULL, 0}, {stg, 2}}, {{NULL, 0}, {iso, 2}}};
    for (int k = 0; k < 3; k++) {
        ltx_tensor *vb = NULL, *ab = NULL, *v0 = NULL, *a0 = NULL, *v1 = NULL, *a1 = NULL;
        CHECK(ltx_transformer_forward(m, &v2, &a2, cases[k], NULL, &vb, &ab) == LTX_OK);
        CHECK(ltx_transformer_forward(m, &in.v, &in.a, &cases[k][0], NULL, &v0, &a0) == LTX_OK);
        CHECK(ltx_transformer_forward(m, &v1b, &a1b, &cases[k][1], NULL, &v1, &a1) == LTX_OK);
        ltx_tensor *vb0 = rows(vb, 0, 1), *vb1 = rows(vb, 1, 2), *ab0 = rows(ab, 0, 1),
                   *ab1 = rows(ab, 1, 2);
        double d = fmax(fmax(tu_max_abs_diff(vb0, v0), tu_max_abs_diff(vb1, v1)),
                        fmax(tu_max_abs_diff(ab0, a0), tu_max_abs_diff(ab1, a1)));
        CHECK_MSG(d <= 1e-5, "case %d: batched vs separate max diff %g", k, d);
        /* the perturbation changes item 1 */
        if (k > 0) {
            ltx_tensor *vn = NULL, *an = NULL;
            ltx_transformer_forward(m, &v1b, &a1b, NULL, NULL, &vn, &an);
            CHECK_MSG(tu_max_abs_diff(vn, v1) > 1e-4, "case %d: perturbation had no effect", k);
            ltx_tensor_free(vn);
            ltx_tensor_free(an);
        }
        ltx_tensor *fr[] = {vb, ab, v0, a0, v1, a1, vb0, vb1, ab0, ab1};
        for (size_t i = 0; i < 10; i++)
            ltx_tensor_free(fr[i]);
    }
    for (int i = 0; i < 10; i++)
        ltx_tensor_free(cat[i]);
    ltx_tensor *fr[] = {vctx2, actx2, vs2, as2, vt2, at2};
    for (size_t i = 0; i < 6; i++)
        ltx_tensor_free(fr[i]);
    free_inputs(&in);
    ltx_transformer_free(m);
}

TEST(video_only_model_equals_av_model_without_audio)
{
    be();
    ltx_transformer *av = NULL, *vo = NULL;
    CHECK(ltx_transformer_load(g_ckpt, be(), false, &av) == LTX_OK);
    CHECK(ltx_transformer_load(g_ckpt, be(), true, &vo) == LTX_OK);
    if (!av || !vo) return;
    inputs in;
    load_inputs(&in);
    ltx_tensor *x = NULL, *y = NULL, *dummy = NULL;
    CHECK(ltx_transformer_forward(av, &in.v, NULL, NULL, NULL, &x, &dummy) == LTX_OK);
    CHECK(dummy == NULL);
    CHECK(ltx_transformer_forward(vo, &in.v, NULL, NULL, NULL, &y, NULL) == LTX_OK);
    CHECK(tu_max_abs_diff(x, y) == 0.0);
    CHECK(tu_all_finite(y));
    /* the video-only model refuses audio */
    ltx_tensor *z = NULL, *w = NULL;
    CHECK(ltx_transformer_forward(vo, &in.v, &in.a, NULL, NULL, &z, &w) == LTX_ERR_INVALID_ARG);
    /* audio disabled: video still attends to it, audio is not updated by the blocks */
    ltx_tensor *full = NULL, *fa = NULL;
    ltx_modality ad = in.a;
    ad.enabled = false;
    CHECK(ltx_transformer_forward(av, &in.v, &ad, NULL, NULL, &full, &fa) == LTX_OK);
    CHECK(tu_max_abs_diff(full, x) > 1e-4); /* audio -> video attention ran */
    ltx_tensor_free(full);
    ltx_tensor_free(fa);
    ltx_tensor_free(x);
    ltx_tensor_free(y);
    free_inputs(&in);
    ltx_transformer_free(av);
    ltx_transformer_free(vo);
}

TEST(attention_masks)
{
    be();
    ltx_transformer *m = NULL;
    CHECK(ltx_transformer_load(g_ckpt, be(), false, &m) == LTX_OK);
    if (!m) return;
    inputs in;
    load_inputs(&in);
    int64_t T = in.v.latent->shape[1], L = in.v.context->shape[1];
    ltx_tensor *ref = NULL, *ra = NULL;
    CHECK(ltx_transformer_forward(m, &in.v, &in.a, NULL, NULL, &ref, &ra) == LTX_OK);
    float *mk = malloc(sizeof(float) * (size_t)(T * T));
    int64_t ms[3] = {1, T, T};
    double diffs[3];
    for (int k = 0; k < 3; k++) {
        /* 0: all ones (log 1 = 0) 1: uniform 0.5 (softmax-invariant) 2: keys >= T/2 masked */
        for (int64_t i = 0; i < T * T; i++)
            mk[i] = k == 0 ? 1.0f : k == 1 ? 0.5f : ((i % T) < T / 2 ? 1.0f : 0.0f);
        ltx_tensor *mask = ltx_tensor_from_host(be(), LTX_F32, 3, ms, mk);
        ltx_modality v = in.v;
        v.attention_mask = mask;
        ltx_tensor *o = NULL, *oa = NULL;
        CHECK(ltx_transformer_forward(m, &v, &in.a, NULL, NULL, &o, &oa) == LTX_OK);
        diffs[k] = tu_max_abs_diff(o, ref);
        CHECK(tu_all_finite(o));
        ltx_tensor_free(o);
        ltx_tensor_free(oa);
        ltx_tensor_free(mask);
    }
    CHECK_MSG(diffs[0] == 0.0, "ones mask diff %g", diffs[0]);
    CHECK_MSG(diffs[1] <= 1e-5, "uniform mask diff %g", diffs[1]);
    CHECK_MSG(diffs[2] > 1e-3, "half mask diff %g", diffs[2]);
    /* binary context mask of ones == no mask; a zero changes the result */
    int64_t *cm = malloc(sizeof(int64_t) * (size_t)L);
    int64_t cs[2] = {1, L};
    for (int k = 0; k < 2; k++) {
        for (int64_t i = 0; i < L; i++)
            cm[i] = k == 0 || i < L / 2;
        ltx_tensor *mask = ltx_tensor_from_host(be(), LTX_I64, 2, cs, cm);
        ltx_modality v = in.v;
        v.context_mask = mask;
        ltx_tensor *o = NULL, *oa = NULL;
        CHECK(ltx_transformer_forward(m, &v, &in.a, NULL, NULL, &o, &oa) == LTX_OK);
        double d = tu_max_abs_diff(o, ref);
        if (k == 0)
            CHECK_MSG(d <= 1e-6, "ones context mask diff %g", d);
        else
            CHECK_MSG(d > 1e-4 && tu_all_finite(o), "half context mask diff %g", d);
        ltx_tensor_free(o);
        ltx_tensor_free(oa);
        ltx_tensor_free(mask);
    }
    free(cm);
    free(mk);
    ltx_tensor_free(ref);
    ltx_tensor_free(ra);
    free_inputs(&in);
    ltx_transformer_free(m);
}

/* Runs a synthetic model of `edits` on the golden inputs (context widths adapted). */
static ltx_status run_synth(const char *edits, bool zero_gates, const ltx_tensor *vctx,
                            const ltx_tensor *actx, ltx_tensor **vo, ltx_tensor **ao)
{
    char *c = edited_config(edits);
    void *buf = NULL;
    ltx_st_file *f = synth_file(c, false, zero_gates, false, &buf);
    free(c);
    if (!f) return LTX_ERR_INVALID_ARG;
    ltx_transformer *m = NULL;
    ltx_status s = ltx_transformer_load(f, be(), false, &m);
    inputs in;
    load_inputs(&in);
    if (vctx) in.v.context = vctx;
    if (actx) in.a.context = actx;
    if (s == LTX_OK) s = ltx_transformer_forward(m, &in.v, &in.a, NULL, NULL, vo, ao);
    free_inputs(&in);
    ltx_transformer_free(m);
    ltx_st_close(f);
    free(buf);
    return s;
}

TEST(zero_gates_equal_ungated_attention)
{
    be();
    ltx_tensor *gv = NULL, *ga = NULL, *uv = NULL, *ua = NULL;
    CHECK(run_synth("{}", true, NULL, NULL, &gv, &ga) == LTX_OK);
    CHECK(run_synth("{\"apply_gated_attention\": false}", false, NULL, NULL, &uv, &ua) == LTX_OK);
    /* 2 * sigmoid(0) = 1 exactly */
    CHECK(tu_max_abs_diff(gv, uv) == 0.0 && tu_max_abs_diff(ga, ua) == 0.0);
    CHECK(tu_all_finite(gv) && tu_all_finite(ga));
    ltx_tensor_free(gv), ltx_tensor_free(ga), ltx_tensor_free(uv), ltx_tensor_free(ua);
}

TEST(other_block_variants_run)
{
    be();
    /* 6-row tables without cross-attention AdaLN, interleaved RoPE, torch32 grid,
     * av_ca multiplier 1 (the 19B code defaults) */
    ltx_tensor *v = NULL, *a = NULL, *v2 = NULL, *a2 = NULL;
    CHECK(
        run_synth("{\"cross_attention_adaln\": false, \"rope_type\": \"interleaved\", "
                  "\"frequencies_precision\": \"float32\", \"av_ca_timestep_scale_multiplier\": 1}",
                  false, NULL, NULL, &v, &a) == LTX_OK);
    CHECK(tu_all_finite(v) && tu_all_finite(a));
    CHECK(run_synth("{\"rope_type\": \"interleaved\"}", false, NULL, NULL, &v2, &a2) == LTX_OK);
    CHECK(tu_all_finite(v2) && tu_max_abs_diff(v, v2) > 1e-4);
    ltx_tensor_free(v), ltx_tensor_free(a), ltx_tensor_free(v2), ltx_tensor_free(a2);
    /* caption projection in the DiT: contexts arrive with caption_channels (32) features */
    inputs in;
    load_inputs(&in);
    const ltx_tensor *ctx = in.a.context; /* (1, 32, 32) */
    CHECK(run_synth("{\"caption_proj_before_connector\": false}", false, ctx, ctx, &v, &a) ==
          LTX_OK);
    CHECK(tu_all_finite(v) && tu_all_finite(a));
    ltx_tensor_free(v), ltx_tensor_free(a);
    free_inputs(&in);
}

TEST(bf16_positions_round_like_the_reference)
{
    /* ref: with bf16 positions the midpoint, /max_pos and 2p-1 are bf16 ops. One token, one
     * axis, dim 4 (F = 2, no pad), positions (1, 1, 1, 2) = [0.3, 0.7] -> bf16. */
    ltx_rope_params rp = {.dim = 4,
                          .heads = 1,
                          .n_axes = 1,
                          .max_pos = {20},
                          .theta = 10000,
                          .use_middle = true,
                          .mode = LTX_ROPE_SPLIT,
                          .f64_grid = true};
    float pos[2] = {ltx_round_bf16(0.3f), ltx_round_bf16(0.7f)};
    float c32[2], s32[2], c16[2], s16[2], grid[2];
    CHECK(ltx_rope_tables_host(&rp, pos, 1, 1, 1, 2, LTX_F32, c32, s32) == LTX_OK);
    CHECK(ltx_rope_tables_host(&rp, pos, 1, 1, 1, 2, LTX_BF16, c16, s16) == LTX_OK);
    ltx_rope_freq_grid(10000, 1, 4, true, grid);
    float mid = ltx_round_bf16(ltx_round_bf16(pos[0] + pos[1]) / 2.0f);
    float fr = ltx_round_bf16(mid / 20.0f);
    float x = ltx_round_bf16(ltx_round_bf16(fr * 2.0f) - 1.0f);
    for (int j = 0; j < 2; j++) {
        CHECK_CLOSE(c16[j], cos((double)(grid[j] * x)), 1e-7, 0);
        CHECK_CLOSE(s16[j], sin((double)(grid[j] * x)), 1e-7, 0);
        float x32 = (pos[0] + pos[1]) / 2.0f / 20.0f * 2.0f - 1.0f;
        CHECK_CLOSE(c32[j], cos((double)(grid[j] * x32)), 1e-7, 0);
    }
}

TEST(scaled_fp8_weights)
{
    /* F8_E4M3 weights with a per-tensor weight_scale (and an unused input_scale) == f32
     * weights holding the dequantised values */
    be();
    char *c = edited_config("{}");
    void *b1 = NULL, *b2 = NULL;
    ltx_st_file *f1 = synth_file_ex(c, false, false, false, 1, &b1);
    ltx_st_file *f2 = synth_file_ex(c, false, false, false, 2, &b2);
    free(c);
    ltx_transformer *m1 = NULL, *m2 = NULL;
    CHECK(f1 && ltx_transformer_load(f1, be(), false, &m1) == LTX_OK);
    CHECK(f2 && ltx_transformer_load(f2, be(), false, &m2) == LTX_OK);
    if (m1 && m2) {
        inputs in;
        load_inputs(&in);
        ltx_tensor *v1 = NULL, *a1 = NULL, *v2 = NULL, *a2 = NULL;
        CHECK(ltx_transformer_forward(m1, &in.v, &in.a, NULL, NULL, &v1, &a1) == LTX_OK);
        CHECK(ltx_transformer_forward(m2, &in.v, &in.a, NULL, NULL, &v2, &a2) == LTX_OK);
        double d = fmax(tu_max_abs_diff(v1, v2), tu_max_abs_diff(a1, a2));
        CHECK_MSG(d <= 1e-6 && tu_all_finite(v1), "fp8 vs dequantised f32: %g", d);
        ltx_tensor_free(v1), ltx_tensor_free(a1), ltx_tensor_free(v2), ltx_tensor_free(a2);
        free_inputs(&in);
    }
    ltx_transformer_free(m1);
    ltx_transformer_free(m2);
    ltx_st_close(f1);
    ltx_st_close(f2);
    free(b1);
    free(b2);
}

TEST(bf16_video_positions_feed_rope_in_bf16)
{
    /* pipelines.md 1.4: the grid positions are cast to the model dtype (bf16); RoPE then
     * rounds its position math to bf16. Compare device tables with a host evaluation. */
    int64_t shape[5] = {1, 128, 3, 2, 2};
    int scale[3] = {8, 32, 32};
    ltx_latent_state s32, s16;
    CHECK(ltx_video_initial_state(be(), shape, 1, scale, true, 24.0, NULL, LTX_F32, &s32) ==
          LTX_OK);
    CHECK(ltx_video_initial_state(be(), shape, 1, scale, true, 24.0, NULL, LTX_BF16, &s16) ==
          LTX_OK);
    CHECK(s16.positions->dtype == LTX_BF16);
    float *p32 = ltx_tensor_to_host_f32(s32.positions),
          *p16 = ltx_tensor_to_host_f32(s16.positions);
    int64_t n = ltx_tensor_numel(s32.positions);
    bool rounded = true, differs = false;
    for (int64_t i = 0; i < n; i++) {
        rounded = rounded && p16[i] == ltx_round_bf16(p32[i]);
        differs = differs || p16[i] != p32[i];
    }
    CHECK(rounded && differs); /* (8f+1)/24 is not a bf16 number */
    ltx_rope_params rp = {.dim = 64,
                          .heads = 2,
                          .n_axes = 3,
                          .max_pos = {20, 2048, 2048},
                          .theta = 10000,
                          .use_middle = true,
                          .mode = LTX_ROPE_SPLIT,
                          .f64_grid = true};
    ltx_tensor *c = NULL, *sn = NULL;
    CHECK(ltx_rope_tables(be(), &rp, s16.positions, &c, &sn) == LTX_OK);
    int64_t T = s16.positions->shape[2];
    float *hc = malloc(sizeof(float) * (size_t)(2 * T * 16)),
          *hs = malloc(sizeof(float) * (size_t)(2 * T * 16));
    CHECK(ltx_rope_tables_host(&rp, p16, 1, 3, T, 2, LTX_BF16, hc, hs) == LTX_OK);
    float *dc = ltx_tensor_to_host_f32(c);
    CHECK(dc && !memcmp(dc, hc, sizeof(float) * (size_t)(2 * T * 16)));
    /* and they differ from the f32 path */
    float *fc = malloc(sizeof(float) * (size_t)(2 * T * 16));
    CHECK(ltx_rope_tables_host(&rp, p16, 1, 3, T, 2, LTX_F32, fc, hs) == LTX_OK);
    CHECK(memcmp(fc, hc, sizeof(float) * (size_t)(2 * T * 16)) != 0);
    free(fc), free(dc), free(hc), free(hs), free(p32), free(p16);
    ltx_tensor_free(c), ltx_tensor_free(sn);
    ltx_latent_state_clear(&s32);
    ltx_latent_state_clear(&s16);
}

TEST_MAIN()
