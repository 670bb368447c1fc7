/*
 * test_lora.c — src/models/lora.c: refusing a non-LoRA file, the ComfyUI key renaming and pair
 * lookup, bf16 fusion (the real pipelines' rounding W' = bf16(W + bf16(Σ bf16(bf16(B s) @ A))))
 * against a host re-computation, torch 1.13 CPU's small-product bf16 gemm
 * (LTX_LORA_TORCH113_CPU_MATMUL), strength-0 entries dropped, and a LoRA-fused transformer load
 * that leaves the mmap'd checkpoint untouched while the model binds new tensors — on "cpu" and
 * "cpu-restricted"; a fusion whose result tensor cannot be made returns that tensor's status.
 */
#include "harness.h"

#include "backend/backend.h"
#include "models/lora.h"
#include "models/ltx_transformer.h"

#include <math.h>

#define CKPT  LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"
#define LORA4 LTX_TEST_DATA "/golden/tiny_ckpt/tiny-lora-r4.safetensors"
#define LORA8 LTX_TEST_DATA "/golden/tiny_ckpt/tiny-distilled-lora-r8.safetensors"

static ltx_backend *mk(bool restricted)
{
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(restricted, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

static float rb(float v)
{
    return ltx_round_bf16(v);
}

static float lcg_f(unsigned *x)
{
    *x = *x * 1664525u + 1013904223u;
    return ((float)(*x >> 8) / 16777216.0f - 0.5f) * 0.7f;
}

/* w (o x i), a (r x i), b (o x r) filled from one stream, in that order. */
static void lcg_wab(unsigned *x, float *w, float *a, float *b, int o, int i, int r)
{
    for (int k = 0; k < o * i; k++)
        w[k] = lcg_f(x);
    for (int k = 0; k < r * i; k++)
        a[k] = lcg_f(x);
    for (int k = 0; k < o * r; k++)
        b[k] = lcg_f(x);
}

TEST(open_refuses_non_lora)
{
    ltx_lora *l = NULL;
    CHECK(ltx_lora_open(CKPT, &l) == LTX_ERR_FORMAT && l == NULL);
    CHECK(strstr(ltx_err_message(), "is not a LoRA") != NULL);
    CHECK(ltx_lora_open(LTX_TEST_DATA "/golden/tiny_ckpt/missing.safetensors", &l) != LTX_OK);
}

TEST(pairs_and_renaming)
{
    ltx_lora *l = NULL;
    CHECK(ltx_lora_open(LORA4, &l) == LTX_OK);
    if (!l) return;
    CHECK(ltx_lora_pair_count(l) == 40);
    const ltx_st_entry *a, *b;
    CHECK(ltx_lora_find(l, "transformer_blocks.0.attn1.to_q.weight", &a, &b));
    CHECK(a->shape[0] == 4 && b->shape[1] == 4 && a->shape[1] == 64 && b->shape[0] == 64);
    CHECK(!ltx_lora_find(l, "diffusion_model.transformer_blocks.0.attn1.to_q.weight", &a, &b));
    CHECK(!ltx_lora_find(l, "transformer_blocks.0.attn1.to_q.bias", &a, &b));
    CHECK(ltx_lora_metadata(l, "rank") && !strcmp(ltx_lora_metadata(l, "rank"), "4"));
    ltx_lora_set s;
    ltx_lora_set_init(&s);
    CHECK(ltx_lora_set_add(&s, l, 0.0) == LTX_OK && s.n == 0); /* strength 0: nothing */
    CHECK(ltx_lora_set_add(&s, l, 0.5) == LTX_OK && s.n == 1);
    ltx_lora_close(l);
}

TEST(fuse_bf16_matches_host)
{
    enum { O = 6, I = 5, R1 = 2, R2 = 3 };
    float w[O * I], a1[R1 * I], b1[O * R1], a2[R2 * I], b2[O * R2];
    unsigned x = 7;
    float *all[5] = {w, a1, b1, a2, b2};
    int cnt[5] = {O * I, R1 * I, O * R1, R2 * I, O * R2};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < cnt[k]; i++) {
            x = x * 1664525u + 1013904223u;
            all[k][i] = rb(((float)(x >> 8) / 16777216.0f - 0.5f) * (k ? 0.7f : 0.2f));
        }
    float want[O * I];
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            float p1 = 0, p2 = 0;
            for (int r = 0; r < R1; r++)
                p1 += rb(b1[o * R1 + r] * 0.8f) * a1[r * I + i];
            for (int r = 0; r < R2; r++)
                p2 += rb(b2[o * R2 + r] * 1.0f) * a2[r * I + i];
            want[o * I + i] = rb(w[o * I + i] + rb(rb(p1) + rb(p2)));
        }
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        int64_t sw[2] = {O, I}, sa1[2] = {R1, I}, sb1[2] = {O, R1}, sa2[2] = {R2, I},
                sb2[2] = {O, R2};
        ltx_tensor *tw = ltx_tensor_to(ltx_tensor_from_host(be, LTX_F32, 2, sw, w), be, LTX_BF16);
        ltx_tensor *A[2] = {ltx_tensor_from_host(be, LTX_F32, 2, sa1, a1),
                            ltx_tensor_from_host(be, LTX_F32, 2, sa2, a2)};
        ltx_tensor *B[2] = {ltx_tensor_from_host(be, LTX_F32, 2, sb1, b1),
                            ltx_tensor_from_host(be, LTX_F32, 2, sb2, b2)};
        ltx_tensor *Ab[2] = {ltx_tensor_to(A[0], be, LTX_BF16), ltx_tensor_to(A[1], be, LTX_BF16)};
        ltx_tensor *Bb[2] = {ltx_tensor_to(B[0], be, LTX_BF16), ltx_tensor_to(B[1], be, LTX_BF16)};
        double st[2] = {0.8, 1.0};
        ltx_tensor *out = NULL;
        CHECK(ltx_lora_fuse(be, "w", tw, 2, (const ltx_tensor *const *)Ab,
                            (const ltx_tensor *const *)Bb, st, LTX_DTYPE_COUNT, LTX_DTYPE_COUNT,
                            &out) == LTX_OK);
        CHECK(out && out->dtype == LTX_BF16);
        float got[O * I];
        CHECK(out && ltx_tensor_download(out, got, LTX_F32) == LTX_OK);
        int bad = 0;
        for (int i = 0; i < O * I; i++)
            bad += got[i] != want[i];
        CHECK_MSG(bad == 0, "%d of %d differ", bad, O * I);
        ltx_tensor_free(out);
        /* wrong shape is refused with the key in the message */
        CHECK(ltx_lora_fuse(be, "blk.w", tw, 1, (const ltx_tensor *const *)&Ab[0],
                            (const ltx_tensor *const *)&Bb[1], st, LTX_DTYPE_COUNT, LTX_DTYPE_COUNT,
                            &out) == LTX_ERR_FORMAT);
        CHECK(strstr(ltx_err_message(), "blk.w") != NULL);
        ltx_tensor_free(tw);
        for (int k = 0; k < 2; k++) {
            ltx_tensor_free(A[k]), ltx_tensor_free(B[k]);
            ltx_tensor_free(Ab[k]), ltx_tensor_free(Bb[k]);
        }
        ltx_backend_destroy(be);
    }
}

/* A block-quantized base: dequantize, fuse in f32, requantize to the base's type. The result
 * equals quantize(dequant(W) + B s A) computed on the host with the same traits. */
TEST(fuse_quantized_base)
{
    enum { O = 4, I = 256, R = 2 };
    static float w[O * I], a[R * I], b[O * R], want[O * I], got[O * I];
    unsigned x = 11;
    lcg_wab(&x, w, a, b, O, I, R);
    static const ltx_dtype types[] = {LTX_Q8_0, LTX_Q4_K, LTX_Q6_K, LTX_Q4_0};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const ltx_type_traits *tt = ltx_type_traits_of(types[t]);
        static uint8_t q[O * I * 2];
        tt->from_float(w, q, O * I);
        static float wd[O * I];
        tt->to_float(q, wd, O * I);
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) {
                float p = 0;
                for (int r = 0; r < R; r++)
                    p += (b[o * R + r] * 0.5f) * a[r * I + i];
                want[o * I + i] = p + wd[o * I + i];
            }
        tt->from_float(want, q, O * I);
        tt->to_float(q, want, O * I);
        for (int r = 0; r < 2; r++) {
            ltx_backend *be = mk(r);
            int64_t sw[2] = {O, I}, sa[2] = {R, I}, sb[2] = {O, R};
            ltx_tensor *tw = ltx_tensor_new(be, types[t], 2, sw);
            CHECK(tw && ltx_tensor_upload(tw, w, LTX_F32) == LTX_OK);
            ltx_tensor *ta = ltx_tensor_from_host(be, LTX_F32, 2, sa, a);
            ltx_tensor *tb = ltx_tensor_from_host(be, LTX_F32, 2, sb, b);
            double st = 0.5;
            ltx_tensor *out = NULL;
            CHECK(ltx_lora_fuse(be, "q", tw, 1, (const ltx_tensor *const *)&ta,
                                (const ltx_tensor *const *)&tb, &st, LTX_F32, LTX_DTYPE_COUNT,
                                &out) == LTX_OK);
            CHECK(out && out->dtype == types[t]);
            CHECK(out && ltx_tensor_download(out, got, LTX_F32) == LTX_OK);
            double worst = 0;
            for (int i = 0; i < O * I; i++)
                worst = fmax(worst, fabs(got[i] - want[i]));
            /* the f32 product may differ in the last bit from the host loop (BLAS order): a
             * code can flip by one step at a rounding tie, never more */
            CHECK_MSG(worst <= 0.06, "%s: worst %g", tt->name, worst);
            ltx_tensor_free(out);
            ltx_tensor_free(tw);
            ltx_tensor_free(ta);
            ltx_tensor_free(tb);
            ltx_backend_destroy(be);
        }
    }
}

/* LTX_LORA_TORCH113_CPU_MATMUL: the strength is rounded to bf16 first (torch 1.13's
 * `bf16 * python_float`: 0.8 -> 0.80078125); products with out*r*in <= 16^3 round every partial
 * product and sum to bf16 in rank order (torch 1.13 CPU's native gemm); larger ones are a plain
 * fusion at the rounded strength. */
static float lcg_bf16(unsigned *x)
{
    *x = *x * 1664525u + 1013904223u;
    return rb(((float)(*x >> 8) / 16777216.0f - 0.5f) * 0.7f);
}

TEST(fuse_torch113_cpu_matmul)
{
    enum { R = 8, I = 32 };
    static const int outs[2] = {2, 24}; /* 2*8*32 = 512 (native), 24*8*32 = 6144 (oneDNN) */
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        for (int c = 0; c < 2; c++) {
            int O = outs[c];
            float w[24 * I], a[R * I], b[24 * R], want[24 * I], got[24 * I], plain[24 * I];
            unsigned x = 11;
            for (int i = 0; i < O * I; i++)
                w[i] = lcg_bf16(&x);
            for (int i = 0; i < R * I; i++)
                a[i] = lcg_bf16(&x);
            for (int i = 0; i < O * R; i++)
                b[i] = lcg_bf16(&x);
            for (int o = 0; o < O; o++)
                for (int i = 0; i < I; i++) {
                    float p = 0;
                    for (int l = 0; l < R; l++)
                        p = rb(p + rb(rb(b[o * R + l] * 0.80078125f) * a[l * I + i]));
                    want[o * I + i] = w[o * I + i] + p; /* target f32 */
                }
            int64_t sw[2] = {O, I}, sa[2] = {R, I}, sb[2] = {O, R};
            ltx_tensor *tw = ltx_tensor_from_host(be, LTX_F32, 2, sw, w);
            ltx_tensor *ta = ltx_tensor_from_host(be, LTX_F32, 2, sa, a);
            ltx_tensor *tb = ltx_tensor_from_host(be, LTX_F32, 2, sb, b);
            const ltx_tensor *A[1] = {ta}, *B[1] = {tb};
            double st[1] = {0.8}, st_rounded[1] = {0.80078125};
            ltx_tensor *o1 = NULL, *o0 = NULL;
            CHECK(ltx_lora_fuse_ex(be, "w", tw, 1, A, B, st, LTX_BF16, LTX_F32,
                                   LTX_LORA_TORCH113_CPU_MATMUL, &o1) == LTX_OK);
            CHECK(ltx_lora_fuse(be, "w", tw, 1, A, B, st_rounded, LTX_BF16, LTX_F32, &o0) ==
                  LTX_OK);
            CHECK(o1 && ltx_tensor_download(o1, got, LTX_F32) == LTX_OK);
            CHECK(o0 && ltx_tensor_download(o0, plain, LTX_F32) == LTX_OK);
            int bad = 0, diff = 0;
            for (int i = 0; i < O * I; i++) {
                bad += got[i] != want[i];
                diff += got[i] != plain[i];
            }
            if (c == 0) {
                CHECK_MSG(bad == 0, "native: %d of %d differ from the sequential bf16 sum", bad,
                          O * I);
                CHECK_MSG(diff > 0, "test data does not separate the two products");
            } else {
                CHECK_MSG(diff == 0, "oneDNN-sized product changed by the flag (%d)", diff);
            }
            ltx_tensor_free(o1), ltx_tensor_free(o0);
            ltx_tensor_free(tw), ltx_tensor_free(ta), ltx_tensor_free(tb);
        }
        ltx_backend_destroy(be);
    }
}

/* LTX_LORA_BF16_FUSE_RULE (reference 1.2, bf16_fuse_rule): the first product rounded to bf16,
 * later LoRAs added by addmm_ on the bf16 aggregate (torch 1.13's native gemm for small ones:
 * rank by rank, alpha = bf16(s), every product and sum rounded; else f32 accumulation times s,
 * one rounding), then W + delta rounded to bf16 even for an f32 target. */
TEST(fuse_bf16_rule_two_loras)
{
    enum { R = 8, I = 32 };
    static const int outs[2] = {2, 24}; /* 512 (native) and 6144 (oneDNN) */
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        for (int c = 0; c < 2; c++) {
            int O = outs[c];
            float w[24 * I], a1[R * I], b1[24 * R], a2[R * I], b2[24 * R], want[24 * I],
                got[24 * I];
            unsigned x = 5;
            for (int i = 0; i < O * I; i++)
                w[i] = lcg_bf16(&x);
            for (int i = 0; i < R * I; i++)
                a1[i] = lcg_bf16(&x), a2[i] = lcg_bf16(&x);
            for (int i = 0; i < O * R; i++)
                b1[i] = lcg_bf16(&x), b2[i] = lcg_bf16(&x);
            const float s1 = 0.80078125f, s2 = 0.3f; /* s1: bf16(0.8) under torch 1.13 */
            for (int o = 0; o < O; o++)
                for (int i = 0; i < I; i++) {
                    float d = 0;
                    if (c == 0) {
                        for (int l = 0; l < R; l++) /* first product: native sequential */
                            d = rb(d + rb(rb(b1[o * R + l] * s1) * a1[l * I + i]));
                        for (int l = 0; l < R; l++) /* addmm_: alpha bf16(0.3) */
                            d = rb(d + rb(rb(b2[o * R + l] * rb(s2)) * a2[l * I + i]));
                    } else {
                        for (int l = 0; l < R; l++)
                            d += rb(b1[o * R + l] * s1) * a1[l * I + i];
                        d = rb(d);
                        float p = 0;
                        for (int l = 0; l < R; l++)
                            p += b2[o * R + l] * a2[l * I + i];
                        d = rb(d + p * s2);
                    }
                    want[o * I + i] = rb(w[o * I + i] + d);
                }
            int64_t sw[2] = {O, I}, sa[2] = {R, I}, sb[2] = {O, R};
            ltx_tensor *tw = ltx_tensor_from_host(be, LTX_F32, 2, sw, w);
            ltx_tensor *ta[2] = {ltx_tensor_from_host(be, LTX_F32, 2, sa, a1),
                                 ltx_tensor_from_host(be, LTX_F32, 2, sa, a2)};
            ltx_tensor *tb[2] = {ltx_tensor_from_host(be, LTX_F32, 2, sb, b1),
                                 ltx_tensor_from_host(be, LTX_F32, 2, sb, b2)};
            const ltx_tensor *A[2] = {ta[0], ta[1]}, *B[2] = {tb[0], tb[1]};
            double st[2] = {0.8, 0.3};
            ltx_tensor *o1 = NULL;
            CHECK(ltx_lora_fuse_ex(be, "w", tw, 2, A, B, st, LTX_BF16, LTX_F32,
                                   LTX_LORA_TORCH113_CPU_MATMUL | LTX_LORA_BF16_FUSE_RULE,
                                   &o1) == LTX_OK);
            CHECK(o1 && ltx_tensor_download(o1, got, LTX_F32) == LTX_OK);
            int bad = 0;
            float worst = 0;
            for (int i = 0; i < O * I; i++) {
                bad += got[i] != want[i];
                worst = fmaxf(worst, fabsf(got[i] - want[i]));
            }
            /* oneDNN-sized: f32 summation order may differ from this loop by an ulp before the
             * bf16 rounding; then one bf16 ulp at most */
            CHECK_MSG(c == 0 ? bad == 0 : worst <= 0.0079f, "%s: %d of %d differ (max %g)",
                      c ? "oneDNN" : "native", bad, O * I, worst);
            ltx_tensor_free(o1), ltx_tensor_free(tw);
            for (int k = 0; k < 2; k++)
                ltx_tensor_free(ta[k]), ltx_tensor_free(tb[k]);
        }
        ltx_backend_destroy(be);
    }
}

TEST(fused_load_keeps_checkpoint)
{
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        ltx_st_file *f = NULL;
        ltx_lora *l4 = NULL, *l8 = NULL;
        CHECK(ltx_st_open(CKPT, &f) == LTX_OK);
        CHECK(ltx_lora_open(LORA4, &l4) == LTX_OK && ltx_lora_open(LORA8, &l8) == LTX_OK);
        if (!f || !l4 || !l8) return;
        const char *k = "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight";
        const ltx_st_entry *e = ltx_st_find(f, k);
        uint16_t before[8];
        memcpy(before, e->data, sizeof before);
        /* per-stage sets: stage 1 user LoRA only, stage 2 both */
        ltx_lora_set s1, s2;
        ltx_lora_set_init(&s1), ltx_lora_set_init(&s2);
        ltx_lora_set_add(&s1, l4, 0.8);
        ltx_lora_set_add(&s2, l4, 0.8), ltx_lora_set_add(&s2, l8, 1.0);
        ltx_transformer *m1 = NULL, *m2 = NULL;
        CHECK(ltx_transformer_load_ex(f, be, false, ltx_lora_weight_hook, &s1, &m1) == LTX_OK);
        CHECK(ltx_transformer_load_ex(f, be, false, ltx_lora_weight_hook, &s2, &m2) == LTX_OK);
        CHECK(s1.fused == 40 && s1.matched[0] == 40);
        CHECK(s2.matched[0] == 40 && s2.matched[1] == ltx_lora_pair_count(l8));
        CHECK(s2.fused == ltx_lora_pair_count(l8)); /* r8 covers every linear incl. r4's */
        CHECK(memcmp(before, e->data, sizeof before) == 0);
        ltx_transformer_free(m1);
        ltx_transformer_free(m2);
        ltx_lora_close(l4);
        ltx_lora_close(l8);
        ltx_st_close(f);
        ltx_backend_destroy(be);
    }
}

/* A fused weight that cannot take the requested quantized type (rows of 48 are not whole Q8_0
 * blocks of 32): the tensor that fails to be made says so, and the fusion returns its code,
 * LTX_ERR_INVALID_ARG, where it used to answer LTX_ERR_OOM. */
TEST(fuse_passes_on_the_failed_tensors_status)
{
    ltx_backend *be = mk(false);
    enum { O = 4, I = 48, R = 2 };
    float w[O * I], a[R * I], b[O * R];
    unsigned x = 7;
    lcg_wab(&x, w, a, b, O, I, R);
    int64_t sw[2] = {O, I}, sa[2] = {R, I}, sb[2] = {O, R};
    ltx_tensor *tw = ltx_tensor_from_host(be, LTX_F32, 2, sw, w);
    ltx_tensor *ta = ltx_tensor_from_host(be, LTX_F32, 2, sa, a);
    ltx_tensor *tb = ltx_tensor_from_host(be, LTX_F32, 2, sb, b);
    double st = 1.0;
    ltx_tensor *out = NULL;
    ltx_err_clear();
    ltx_status s =
        ltx_lora_fuse(be, "blk.w", tw, 1, (const ltx_tensor *const *)&ta,
                      (const ltx_tensor *const *)&tb, &st, LTX_DTYPE_COUNT, LTX_Q8_0, &out);
    CHECK_MSG(s == LTX_ERR_INVALID_ARG, "%s: %s", ltx_status_name(s), ltx_err_message());
    CHECK(out == NULL && strstr(ltx_err_message(), "whole blocks of 32") != NULL);
    ltx_tensor_free(tw), ltx_tensor_free(ta), ltx_tensor_free(tb);
    ltx_backend_destroy(be);
}

TEST_MAIN()
