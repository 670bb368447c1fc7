/*
 * test_quant.c — the GGML block formats (src/core/quant.[ch], the traits in dtype.c).
 *
 * Per type: a block is written byte by byte at the offsets the GGUF format defines (not through
 * quant.h's structs), from chosen integer codes and half-precision scales; the expected values
 * are the format's formula evaluated in f32 in the definition's own operation order; the
 * dequantizer must match bit for bit. The packing loops below follow the format definition's
 * nested-loop description (chunk / shift / sub-block), deliberately a different indexing from
 * quant.c's per-element one, so an index slip in either shows up.
 * Then: quantize -> dequantize round trips stay within half a quantization step per element
 * (the bound our quantizers promise), ltx_convert and the cpu copy/linear ops go through the
 * traits, and rows that are not whole blocks are refused.
 */
#include "backend/backend.h"
#include "core/dtype.h"
#include "core/quant.h"
#include "core/threadpool.h"
#include "harness.h"

#include <stdint.h>

static uint64_t g_seed = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    g_seed ^= g_seed >> 12;
    g_seed ^= g_seed << 25;
    g_seed ^= g_seed >> 27;
    return (uint32_t)((g_seed * 2685821657736338717ull) >> 32);
}
static int rndi(int lo, int hi)
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

/* A half with a "random" mantissa and a modest exponent, sign optional. */
static uint16_t rnd_half(int allow_neg)
{
    uint16_t h = (uint16_t)(((uint32_t)rndi(9, 16) << 10) | (rnd() & 0x3FFu));
    if (allow_neg && (rnd() & 1)) h |= 0x8000u;
    return h;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static int same_bits(const float *a, const float *b, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0) {
            fprintf(stderr, "  %s: element %d: got %.9g want %.9g\n", what, i, a[i], b[i]);
            return 0;
        }
    return 1;
}

static float H(uint16_t h)
{
    return ltx_f16_to_f32(h);
}

/* ---- 32-element formats: [d (half)] [m (half)]? [qh (u32)]? [qs 16 bytes] ---------------- */

TEST(dequant_q8_0)
{
    uint8_t blk[2 * 34];
    float want[64], got[64];
    for (int b = 0; b < 2; b++) {
        uint16_t d = rnd_half(1);
        put16(blk + 34 * b, d);
        for (int j = 0; j < 32; j++) {
            int q = rndi(-128, 127);
            blk[34 * b + 2 + j] = (uint8_t)(int8_t)q;
            want[32 * b + j] = (float)q * H(d);
        }
    }
    CHECK(ltx_type_traits_of(LTX_Q8_0)->type_size == 34);
    ltx_dequantize_row_q8_0(blk, got, 64);
    CHECK(same_bits(got, want, 64, "q8_0"));
}

/* Q4_0 / Q4_1: byte j holds element j (low nibble) and j + 16 (high nibble). */
static void q4_test(int with_min)
{
    int bs = with_min ? 20 : 18, qoff = with_min ? 4 : 2;
    uint8_t blk[3 * 20];
    float want[96], got[96];
    for (int b = 0; b < 3; b++) {
        uint8_t *p = blk + bs * b;
        uint16_t d = rnd_half(1), m = rnd_half(1);
        put16(p, d);
        if (with_min) put16(p + 2, m);
        for (int j = 0; j < 16; j++) {
            int x0 = rndi(0, 15), x1 = rndi(0, 15);
            p[qoff + j] = (uint8_t)(x0 | (x1 << 4));
            if (with_min) {
                want[32 * b + j] = (float)x0 * H(d) + H(m);
                want[32 * b + j + 16] = (float)x1 * H(d) + H(m);
            } else {
                want[32 * b + j] = (float)(x0 - 8) * H(d);
                want[32 * b + j + 16] = (float)(x1 - 8) * H(d);
            }
        }
    }
    if (with_min)
        ltx_dequantize_row_q4_1(blk, got, 96);
    else
        ltx_dequantize_row_q4_0(blk, got, 96);
    CHECK(same_bits(got, want, 96, with_min ? "q4_1" : "q4_0"));
}

TEST(dequant_q4_0)
{
    q4_test(0);
}
TEST(dequant_q4_1)
{
    q4_test(1);
}

/* Q5_0 / Q5_1: the u32 qh (little-endian) holds bit 4 of element j at bit j. */
static void q5_test(int with_min)
{
    int bs = with_min ? 24 : 22, hoff = with_min ? 4 : 2;
    uint8_t blk[2 * 24];
    float want[64], got[64];
    for (int b = 0; b < 2; b++) {
        uint8_t *p = blk + bs * b;
        uint16_t d = rnd_half(1), m = rnd_half(1);
        put16(p, d);
        if (with_min) put16(p + 2, m);
        uint32_t qh = 0;
        int code[32];
        for (int j = 0; j < 32; j++) {
            code[j] = rndi(0, 31);
            qh |= (uint32_t)(code[j] >> 4) << j;
        }
        for (int k = 0; k < 4; k++)
            p[hoff + k] = (uint8_t)(qh >> (8 * k));
        for (int j = 0; j < 16; j++)
            p[hoff + 4 + j] = (uint8_t)((code[j] & 15) | ((code[j + 16] & 15) << 4));
        for (int j = 0; j < 32; j++)
            want[32 * b + j] =
                with_min ? (float)code[j] * H(d) + H(m) : (float)(code[j] - 16) * H(d);
    }
    if (with_min)
        ltx_dequantize_row_q5_1(blk, got, 64);
    else
        ltx_dequantize_row_q5_0(blk, got, 64);
    CHECK(same_bits(got, want, 64, with_min ? "q5_1" : "q5_0"));
}

TEST(dequant_q5_0)
{
    q5_test(0);
}
TEST(dequant_q5_1)
{
    q5_test(1);
}

/* ---- K-quants --------------------------------------------------------------------------- */

/* Q2_K (84 bytes): scales[16] | qs[64] | d | dmin. Definition's loop: for each 128-half n,
 * for shift j = 0..3: 16 values from qs[32n + l] (scale byte is++) then 16 from qs[32n+16+l]
 * (scale byte is++), code = (byte >> 2j) & 3, value = d*(sc & 15) * code - dmin*(sc >> 4). */
TEST(dequant_q2_K)
{
    uint8_t blk[84] = {0};
    float want[256], got[256];
    uint16_t d = rnd_half(0), dmin = rnd_half(0);
    for (int k = 0; k < 16; k++)
        blk[k] = (uint8_t)rnd();
    put16(blk + 80, d);
    put16(blk + 82, dmin);
    float *y = want;
    int is = 0;
    for (int n = 0; n < 2; n++) {
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                uint8_t sc = blk[is++];
                float dl = H(d) * (float)(sc & 0xF), ml = H(dmin) * (float)(sc >> 4);
                for (int l = 0; l < 16; l++) {
                    int code = rndi(0, 3);
                    blk[16 + 32 * n + 16 * half + l] |= (uint8_t)(code << (2 * j));
                    *y++ = dl * (float)code - ml;
                }
            }
        }
    }
    ltx_dequantize_row_q2_K(blk, got, 256);
    CHECK(same_bits(got, want, 256, "q2_K"));
}

/* Q3_K (110 bytes): hmask[32] | qs[64] | scales[12] | d. The 16 six-bit scales u: low nibbles
 * in scales[0..7] (u[0..7] low half, u[8..15] high half), top two bits of u[k] at bits
 * 2*(k/4) of scales[8 + k%4]; value = d*(u - 32) * (code - 4), code bit 2 from hmask. Loop:
 * for n (128-half), j (shift 2j, hmask bit m = 1 << (4n + j)), two groups of 16. */
TEST(dequant_q3_K)
{
    uint8_t blk[110] = {0};
    float want[256], got[256];
    int u[16];
    for (int k = 0; k < 16; k++)
        u[k] = rndi(0, 63);
    for (int k = 0; k < 8; k++)
        blk[96 + k] = (uint8_t)((u[k] & 15) | ((u[k + 8] & 15) << 4));
    for (int k = 0; k < 16; k++)
        blk[96 + 8 + k % 4] |= (uint8_t)((u[k] >> 4) << (2 * (k / 4)));
    uint16_t d = rnd_half(1);
    put16(blk + 108, d);
    float *y = want;
    int is = 0;
    for (int n = 0; n < 2; n++) {
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                float dl = H(d) * (float)(u[is++] - 32);
                for (int l = 0; l < 16; l++) {
                    int code = rndi(0, 7), li = 16 * half + l;
                    blk[32 + 32 * n + li] |= (uint8_t)((code & 3) << (2 * j));
                    if (code & 4) blk[li] |= (uint8_t)(1u << (4 * n + j));
                    *y++ = dl * (float)(code - 4);
                }
            }
        }
    }
    ltx_dequantize_row_q3_K(blk, got, 256);
    CHECK(same_bits(got, want, 256, "q3_K"));
}

/* The 12-byte scale+min packing of Q4_K / Q5_K for sub-block s: s < 4: scale = b[s] & 63,
 * min = b[s+4] & 63; s >= 4: scale = (b[s+4] & 15) | (b[s-4] >> 6) << 4,
 * min = (b[s+4] >> 4) | (b[s] >> 6) << 4. */
static void pack_sm(uint8_t *b, const int *sc, const int *mn)
{
    memset(b, 0, 12);
    for (int s = 0; s < 4; s++) {
        b[s] = (uint8_t)sc[s];
        b[s + 4] = (uint8_t)mn[s];
    }
    for (int s = 4; s < 8; s++) {
        b[s + 4] = (uint8_t)((sc[s] & 15) | ((mn[s] & 15) << 4));
        b[s - 4] |= (uint8_t)((sc[s] >> 4) << 6);
        b[s] |= (uint8_t)((mn[s] >> 4) << 6);
    }
}

/* Q4_K (144): d | dmin | scales[12] | qs[128]; Q5_K (176): d | dmin | scales[12] | qh[32] |
 * qs[128]. Loop: for each 64-chunk c: sub-block 2c over the low nibbles of qs[32c + l],
 * sub-block 2c+1 over the high nibbles; Q5_K adds 16 when bit 2c (resp. 2c+1) of qh[l] is set.
 * value = (d*sc) * code - (dmin*mn). */
static void k45_test(int five)
{
    uint8_t blk[176] = {0};
    float want[256], got[256];
    uint16_t d = rnd_half(0), dmin = rnd_half(0);
    int sc[8], mn[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = rndi(0, 63);
        mn[s] = rndi(0, 63);
    }
    put16(blk, d);
    put16(blk + 2, dmin);
    pack_sm(blk + 4, sc, mn);
    uint8_t *qh = blk + 16, *qs = blk + (five ? 48 : 16);
    for (int c = 0; c < 4; c++) {
        for (int hi = 0; hi < 2; hi++) {
            int s = 2 * c + hi;
            float dl = H(d) * (float)sc[s], ml = H(dmin) * (float)mn[s];
            for (int l = 0; l < 32; l++) {
                int code = five ? rndi(0, 31) : rndi(0, 15);
                qs[32 * c + l] |= (uint8_t)((code & 15) << (4 * hi));
                if (code & 16) qh[l] |= (uint8_t)(1u << s);
                want[64 * c + 32 * hi + l] = dl * (float)code - ml;
            }
        }
    }
    if (five)
        ltx_dequantize_row_q5_K(blk, got, 256);
    else
        ltx_dequantize_row_q4_K(blk, got, 256);
    CHECK(same_bits(got, want, 256, five ? "q5_K" : "q4_K"));
}

TEST(dequant_q4_K)
{
    k45_test(0);
}
TEST(dequant_q5_K)
{
    k45_test(1);
}

/* Q6_K (210): ql[128] | qh[64] | scales[16] (int8) | d. Loop: for each 128-half n (ql += 64,
 * qh += 32, sc += 8), l < 32: four values l, l+32, l+64, l+96 from the low nibble of ql[l],
 * low of ql[l+32], high of ql[l], high of ql[l+32], with bits 4-5 from qh[l] >> 0, 2, 4, 6,
 * scales sc[l/16 + 0, 2, 4, 6]; value = d * sc * (code - 32). */
TEST(dequant_q6_K)
{
    uint8_t blk[210] = {0};
    float want[256], got[256];
    int8_t sc[16];
    for (int k = 0; k < 16; k++) {
        sc[k] = (int8_t)rndi(-128, 127);
        blk[192 + k] = (uint8_t)sc[k];
    }
    uint16_t d = rnd_half(1);
    put16(blk + 208, d);
    for (int n = 0; n < 2; n++) {
        uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
        for (int l = 0; l < 32; l++) {
            for (int g = 0; g < 4; g++) {
                int code = rndi(0, 63);
                ql[l + 32 * (g & 1)] |= (uint8_t)((code & 15) << (g >= 2 ? 4 : 0));
                qh[l] |= (uint8_t)((code >> 4) << (2 * g));
                want[128 * n + 32 * g + l] =
                    H(d) * (float)sc[8 * n + l / 16 + 2 * g] * (float)(code - 32);
            }
        }
    }
    ltx_dequantize_row_q6_K(blk, got, 256);
    CHECK(same_bits(got, want, 256, "q6_K"));
}

/* ---- round trips, traits, ops ------------------------------------------------------------ */

static const ltx_dtype QTYPES[] = {LTX_Q8_0, LTX_Q4_0, LTX_Q4_1, LTX_Q5_0, LTX_Q5_1,
                                   LTX_Q2_K, LTX_Q3_K, LTX_Q4_K, LTX_Q5_K, LTX_Q6_K};

/* Worst error per element relative to the max |x| of its 256 values, per type: half a step of
 * the code range plus the rounding of the scales to half / 4-6-bit integers; Q4_0 / Q5_0 put
 * the extreme value on code 0, so values on the other side clip at one step below it. */
static double bound_of(ltx_dtype t)
{
    switch (t) {
    case LTX_Q8_0:
        return 0.5 / 127 * 1.05;
    case LTX_Q4_0:
        return 1.0 / 8 * 1.05; /* the side opposite the extreme clips at 7 steps */
    case LTX_Q4_1:
        return 2.0 / 15 * 0.55;
    case LTX_Q5_0:
        return 1.0 / 16 * 1.05;
    case LTX_Q5_1:
        return 2.0 / 31 * 0.55;
    case LTX_Q2_K:
        return 0.50;
    case LTX_Q3_K:
        return 0.30;
    case LTX_Q4_K:
        return 0.12;
    case LTX_Q5_K:
        return 0.06;
    case LTX_Q6_K:
        return 0.03;
    default:
        return 0;
    }
}

TEST(roundtrip_within_step)
{
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t q[N * 2];
    for (int i = 0; i < N; i++)
        x[i] = (float)((int)(rnd() % 20001) - 10000) / 10000.0f * (1.0f + (float)(i % 7));
    for (size_t k = 0; k < sizeof QTYPES / sizeof *QTYPES; k++) {
        const ltx_type_traits *tt = ltx_type_traits_of(QTYPES[k]);
        CHECK(tt && tt->quantized && tt->to_float && tt->from_float && tt->vec_dot);
        tt->from_float(x, q, N);
        tt->to_float(q, y, N);
        double worst = 0, amax = 0, dot = 0, ref = 0;
        for (int b = 0; b < N; b += 256) { /* bound per 256 values, relative to their range */
            double m = 0, e = 0;
            for (int i = b; i < b + 256; i++) {
                m = fmax(m, fabs(x[i]));
                e = fmax(e, fabs((double)x[i] - y[i]));
            }
            worst = fmax(worst, e / m);
            amax = fmax(amax, m);
        }
        for (int i = 0; i < N; i++) {
            dot += (double)y[i] * x[i];
            ref += (double)x[i] * x[i];
        }
        CHECK_MSG(worst <= bound_of(QTYPES[k]), "%s: worst relative error %.4f > %.4f", tt->name,
                  worst, bound_of(QTYPES[k]));
        /* the scalar vec_dot is the dequantized row dotted with x (f32 accumulation) */
        CHECK_CLOSE(tt->vec_dot(q, x, N), dot, 1e-3 * ref, 1e-4);
        /* ltx_convert goes through the same traits */
        static float z[N];
        ltx_convert(z, LTX_F32, q, QTYPES[k], N);
        CHECK(memcmp(z, y, sizeof z) == 0);
        (void)amax;
    }
}

TEST(traits_and_sizes)
{
    CHECK(ltx_dtype_block_size(LTX_Q4_K) == 256 && ltx_dtype_block_size(LTX_Q5_0) == 32);
    CHECK(ltx_dtype_block_size(LTX_F32) == 1 && ltx_dtype_bytes(LTX_F32, 3) == 12);
    CHECK(ltx_dtype_bytes(LTX_Q4_K, 512) == 288 && ltx_dtype_bytes(LTX_Q8_0, 64) == 68);
    size_t b = 0;
    CHECK(!ltx_dtype_bytes_checked(LTX_Q4_K, 100, &b));
    CHECK(!ltx_dtype_bytes_checked(LTX_Q8_0, -32, &b));
    CHECK(!ltx_dtype_bytes_checked(LTX_Q6_K, INT64_MAX - 255, &b) || b > 0);
    CHECK(ltx_dtype_bytes_checked(LTX_Q6_K, 256 * 3, &b) && b == 630);
    ltx_dtype t;
    CHECK(!ltx_dtype_parse("Q4_K", &t)); /* not a safetensors dtype */
    CHECK(ltx_dtype_parse_any("q4_k", &t) && t == LTX_Q4_K);
    CHECK(ltx_dtype_is_quant(LTX_Q2_K) && !ltx_dtype_is_quant(LTX_BF16));
    CHECK(!ltx_dtype_is_float(LTX_Q8_0));
}

/* Quantized weights in `linear` on every cpu flavour equal the f32 linear with the dequantized
 * weight (the scalar path is exactly that), and copy to f32 dequantizes. */
TEST(linear_and_copy_on_backends)
{
    enum { M = 5, N = 7, K = 512 };
    static float x[M * K], w[N * K], wd[N * K], bias[N], y[M * N], yref[M * N];
    for (int i = 0; i < M * K; i++)
        x[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
    for (int i = 0; i < N * K; i++)
        w[i] = (float)((int)(rnd() % 2001) - 1000) / 700.0f;
    for (int i = 0; i < N; i++)
        bias[i] = (float)i * 0.25f;
    for (int restricted = 0; restricted < 2; restricted++) {
        ltx_threadpool *pool = ltx_threadpool_create(2);
        ltx_backend *be = NULL;
        CHECK(ltx_cpu_backend_create(restricted, NULL, pool, &be) == LTX_OK);
        for (size_t k = 0; k < sizeof QTYPES / sizeof *QTYPES; k++) {
            ltx_dtype qt = QTYPES[k];
            ltx_tensor *wf = LTX_TENSOR_NEW(be, LTX_F32, N, K);
            ltx_tensor *wq = LTX_TENSOR_NEW(be, qt, N, K);
            ltx_tensor *xt = LTX_TENSOR_NEW(be, LTX_F32, M, K);
            ltx_tensor *bt = LTX_TENSOR_NEW(be, LTX_F32, N);
            ltx_tensor *yt = LTX_TENSOR_NEW(be, LTX_F32, M, N);
            CHECK(ltx_tensor_upload(wf, w, LTX_F32) == LTX_OK);
            CHECK(be->ops->copy(be, wq, wf) == LTX_OK); /* quantize */
            CHECK(be->ops->copy(be, wf, wq) == LTX_OK); /* dequantize */
            CHECK(ltx_tensor_download(wf, wd, LTX_F32) == LTX_OK);
            CHECK(ltx_tensor_upload(xt, x, LTX_F32) == LTX_OK);
            CHECK(ltx_tensor_upload(bt, bias, LTX_F32) == LTX_OK);
            CHECK(ltx_tensor_nbytes(wq) == ltx_dtype_bytes(qt, N * K));
            CHECK(be->ops->linear(be, yt, xt, wf, bt, 0.5f) == LTX_OK);
            CHECK(ltx_tensor_download(yt, yref, LTX_F32) == LTX_OK);
            CHECK(be->ops->linear(be, yt, xt, wq, bt, 0.5f) == LTX_OK);
            CHECK(ltx_tensor_download(yt, y, LTX_F32) == LTX_OK);
            CHECK_MSG(memcmp(y, yref, sizeof y) == 0, "%s on %s", ltx_dtype_name(qt),
                      be->device_name);
            /* the host-side quantize path (upload converts) gives the same blocks */
            float back[N * K];
            CHECK(ltx_tensor_upload(wq, w, LTX_F32) == LTX_OK);
            CHECK(ltx_tensor_download(wq, back, LTX_F32) == LTX_OK);
            CHECK(memcmp(back, wd, sizeof back) == 0);
            ltx_tensor_free(wf);
            ltx_tensor_free(wq);
            ltx_tensor_free(xt);
            ltx_tensor_free(bt);
            ltx_tensor_free(yt);
        }
        /* rows that are not whole blocks are refused with the type named */
        CHECK(LTX_TENSOR_NEW(be, LTX_Q4_K, 4, 100) == NULL);
        CHECK(strstr(ltx_err_message(), "Q4_K") != NULL);
        ltx_backend_destroy(be);
        ltx_threadpool_destroy(pool);
    }
}

TEST_MAIN()
