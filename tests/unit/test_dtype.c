/*
 * test_dtype.c — src/core/dtype.c against PyTorch's conversions.
 *
 * bf16 / f16: tests/data/conv/bf16_f16.txt was printed once by Debian's python3-torch
 * (torch 1.13.0a0, numpy 1.24) with this command, run from the repository root:
 *
 *   /usr/bin/python3 - > tests/data/conv/bf16_f16.txt <<'EOF'
 *   import torch, numpy as np
 *   r = np.random.RandomState(20260101)
 *   E = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00400000, 0x00008000,
 *        0x00018000, 0x00008001, 0x00007FFF, 0x00800000, 0x80800000, 0x33800000, 0x33000000,
 *        0x33000001, 0x33C00000, 0x34200000, 0xB3000000, 0xB3000001, 0x38800000, 0x387FFFFF,
 *        0x387FE000, 0x387FF000, 0x387FD000, 0x38000000, 0x3F800000, 0x3F801000, 0x3F803000,
 *        0x3F801001, 0x3F800FFF, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0xBF818000,
 *        0x477FE000, 0x477FEF00, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000, 0xC77FF000,
 *        0xC77FEFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F7FFF, 0x7F7F8000, 0x7F7E8000, 0x7F800000,
 *        0xFF800000, 0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0xFFFFFFFF,
 *        0x7FA12345, 0x7F808000, 0x7F80FFFF, 0x7FBFFFFF, 0x7F802000, 0xFFE00001]
 *   R = r.randint(0, 2**32, size=2000, dtype=np.uint64)
 *   M = ((r.randint(96, 144, size=1000) << 23) | r.randint(0, 2**23, size=1000)
 *        | (r.randint(0, 2, size=1000) << 31))
 *   T = ((r.randint(96, 144, size=300) << 23) | (r.randint(0, 2**10, size=300) << 13) | 0x1000)
 *   B = ((r.randint(1, 255, size=300) << 23) | (r.randint(0, 2**7, size=300) << 16) | 0x8000)
 *   bits = np.concatenate([np.array(E, np.uint64), R, M.astype(np.uint64), T.astype(np.uint64),
 *                          B.astype(np.uint64)]).astype(np.uint32)
 *   x = torch.from_numpy(bits.view(np.float32).copy())
 *   b = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
 *   h = x.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
 *   c = torch.tensor(x.tolist(), dtype=torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
 *   print("# torch %s: e f32bits bf16(.to) f16(.to) bf16(scalar c10); d code f32(f16 code) f32(bf16 code)" % torch.__version__)
 *   for i in range(len(bits)):
 *       print("e %08X %04X %04X %04X" % (bits[i], b[i], h[i], c[i]))
 *   D = sorted(set([k for k in range(0, 65536, 97)] + [0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0x7C01,
 *          0x7DFF, 0x7E00, 0x7FFF, 0x7F80, 0x7F81, 0x7FC0, 0x8001, 0x83FF, 0xFC00, 0xFC01, 0xFFFF]))
 *   d = torch.tensor(np.array(D, np.int32).astype(np.int16))
 *   f = d.view(torch.float16).float().view(torch.int32).numpy().view(np.uint32)
 *   g = d.view(torch.bfloat16).float().view(torch.int32).numpy().view(np.uint32)
 *   for i in range(len(D)):
 *       print("d %04X %08X %08X" % (D[i], f[i], g[i]))
 *   EOF
 *
 * Lines "e": f32 bits, bf16 from tensor.to(bfloat16) (vectorised CPU kernel), f16 from .to(float16),
 * bf16 from torch.tensor(list) (the scalar c10::BFloat16(float) constructor = round_to_nearest_even).
 * The two bf16 columns agree everywhere except NaN: the AVX kernel writes 0xFFFF, c10's scalar
 * rule 0x7FC0. We follow c10's scalar rule (dtype.h), so NaN rows check "is NaN" against .to().
 * Lines "d": 16-bit code, f32 bits of f16 code .float(), f32 bits of bf16 code .float(). torch's
 * CPU f16 -> f32 (F16C) sets the quiet bit of signalling NaNs; we match that.
 *
 * fp8: torch 1.13 has no float8 types, so those tests check the rules of c10/util/Float8_e4m3fn.h
 * and Float8_e5m2.h directly (each expectation names the rule).
 */
#include "core/dtype.h"
#include "harness.h"

#include <stdint.h>

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int is_nan_bits(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

/* ---- table ---------------------------------------------------------------------------------- */

TEST(dtype_table)
{
    CHECK(ltx_dtype_size(LTX_F32) == 4 && ltx_dtype_size(LTX_BF16) == 2);
    CHECK(ltx_dtype_size(LTX_F64) == 8 && ltx_dtype_size(LTX_F8E4M3) == 1);
    CHECK(ltx_dtype_size(LTX_I64) == 8 && ltx_dtype_size(LTX_BOOL) == 1);
    CHECK(strcmp(ltx_dtype_name(LTX_F8E5M2), "F8_E5M2") == 0);
    CHECK(strcmp(ltx_dtype_name((ltx_dtype)99), "?") == 0);
    for (int i = 0; i < LTX_ELEM_DTYPE_COUNT; i++) {
        ltx_dtype t;
        CHECK(ltx_dtype_parse(ltx_dtype_name((ltx_dtype)i), &t) && t == (ltx_dtype)i);
    }
    ltx_dtype t = LTX_F32;
    CHECK(!ltx_dtype_parse("bf16", &t) && t == LTX_F32);
    CHECK(!ltx_dtype_parse(NULL, &t));
    CHECK(ltx_dtype_is_float(LTX_F8E4M3) && ltx_dtype_is_float(LTX_F64));
    CHECK(!ltx_dtype_is_float(LTX_I32) && !ltx_dtype_is_float(LTX_BOOL));
}

/* ---- bf16 / f16 against torch vectors ------------------------------------------------------- */

#define MAXV 8192

TEST(bf16_f16_torch_vectors)
{
    FILE *f = fopen(LTX_TEST_DATA "/conv/bf16_f16.txt", "r");
    CHECK_MSG(f != NULL, "cannot open %s", LTX_TEST_DATA "/conv/bf16_f16.txt");
    if (!f) return;
    static float xs[MAXV];
    static uint16_t want_bf[MAXV], row_bf[MAXV], want_h[MAXV], row_h[MAXV], dcodes[MAXV];
    static uint32_t want_d16[MAXV], want_dbf[MAXV];
    static float row_f[MAXV];
    int ne = 0, nd = 0, nnan = 0, bad = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned a, b, h, c;
        if (line[0] == 'e' && sscanf(line + 1, "%x %x %x %x", &a, &b, &h, &c) == 4 && ne < MAXV) {
            float x = bitsf(a);
            uint16_t gb = ltx_f32_to_bf16(x), gh = ltx_f32_to_f16(x);
            /* f16: exact bits, NaN included (c10 fp16_ieee_from_fp32_value: 0x7E00 | sign) */
            if (gh != h) bad++;
            CHECK_MSG(gh == h, "f16(%08X) = %04X, torch %04X", a, gh, h);
            /* bf16: exact against the scalar c10 path for every input */
            CHECK_MSG(gb == c, "bf16(%08X) = %04X, c10 scalar %04X", a, gb, c);
            if (is_nan_bits(a)) {
                nnan++;
                CHECK(gb == 0x7FC0);            /* c10 round_to_nearest_even: NaN -> 0x7FC0 */
                CHECK((b & 0x7FFF) > 0x7F80);  /* .to() gives a NaN too (0xFFFF) */
            } else {
                CHECK_MSG(gb == b, "bf16(%08X) = %04X, torch .to() %04X", a, gb, b);
            }
            xs[ne] = x;
            want_bf[ne] = (uint16_t)c;
            want_h[ne] = (uint16_t)h;
            ne++;
        } else if (line[0] == 'd' && sscanf(line + 1, "%x %x %x", &a, &b, &h) == 3 && nd < MAXV) {
            dcodes[nd] = (uint16_t)a;
            want_d16[nd] = b;
            want_dbf[nd] = h;
            CHECK_MSG(fbits(ltx_f16_to_f32((uint16_t)a)) == b, "f16 %04X -> %08X, torch %08X", a,
                      fbits(ltx_f16_to_f32((uint16_t)a)), b);
            CHECK(fbits(ltx_bf16_to_f32((uint16_t)a)) == h);
            nd++;
        }
    }
    fclose(f);
    printf("  %d encode vectors (%d NaN), %d decode vectors, %d f16 mismatches\n", ne, nnan, nd,
           bad);
    CHECK(ne > 3000 && nd > 600 && nnan >= 10);
    /* the row functions give the same bits as the scalar ones */
    ltx_f32_to_bf16_row(row_bf, xs, (size_t)ne);
    CHECK(memcmp(row_bf, want_bf, (size_t)ne * 2) == 0);
    ltx_f32_to_f16_row(row_h, xs, (size_t)ne);
    CHECK(memcmp(row_h, want_h, (size_t)ne * 2) == 0);
    ltx_f16_to_f32_row(row_f, dcodes, (size_t)nd);
    for (int i = 0; i < nd; i++) CHECK(fbits(row_f[i]) == want_d16[i]);
    ltx_bf16_to_f32_row(row_f, dcodes, (size_t)nd);
    for (int i = 0; i < nd; i++) CHECK(fbits(row_f[i]) == want_dbf[i]);
}

/* Every f16 code: decode equals the IEEE value, encode(decode(h)) == h for non-NaN, NaN decodes
 * quiet with payload kept, and the row decoder agrees with the scalar one. */
TEST(f16_exhaustive)
{
    static uint16_t codes[65536];
    static float row[65536];
    int bad = 0;
    for (int i = 0; i < 65536; i++) codes[i] = (uint16_t)i;
    ltx_f16_to_f32_row(row, codes, 65536);
    for (int i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        int e = (h >> 10) & 31, m = h & 1023;
        float s = (h & 0x8000) ? -1.0f : 1.0f;
        float v = ltx_f16_to_f32(h);
        if (fbits(row[i]) != fbits(v)) bad++;
        if (e == 31) {
            if (m == 0) {
                if (v != s * INFINITY) bad++;
            } else { /* quiet NaN, payload in the top mantissa bits, sign kept */
                uint32_t want = ((uint32_t)(h & 0x8000) << 16) | 0x7FC00000u | ((uint32_t)m << 13);
                if (fbits(v) != want) bad++;
            }
            continue;
        }
        float want = e == 0 ? s * ldexpf((float)m, -24) : s * ldexpf(1.0f + m / 1024.0f, e - 15);
        if (fbits(v) != fbits(want)) bad++;
        if (ltx_f32_to_f16(v) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d bad f16 codes", bad);
}

TEST(bf16_exhaustive_roundtrip)
{
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float v = ltx_bf16_to_f32(h);
        if (fbits(v) != (uint32_t)h << 16) bad++;
        if ((h & 0x7FFF) > 0x7F80) {
            if (ltx_f32_to_bf16(v) != 0x7FC0) bad++; /* c10: any NaN -> 0x7FC0 */
        } else if (ltx_f32_to_bf16(v) != h) {
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%d bad bf16 codes", bad);
    CHECK(ltx_round_bf16(1.00390625f) == 1.0f); /* 1 + 2^-8: tie, even -> 1 */
}

/* ---- fp8 e4m3fn ----------------------------------------------------------------------------- */

/* Value of an e4m3fn code by the format definition (bias 7, S.1111.111 = NaN). */
static float e4m3_value(int c)
{
    int e = (c >> 3) & 15, m = c & 7;
    float s = (c & 0x80) ? -1.0f : 1.0f;
    if ((c & 0x7F) == 0x7F) return NAN;
    return e == 0 ? s * ldexpf((float)m, -9) : s * ldexpf(1.0f + m / 8.0f, e - 7);
}

TEST(fp8_e4m3_codes)
{
    for (int c = 0; c < 256; c++) {
        float v = ltx_fp8e4m3_to_f32((uint8_t)c);
        if ((c & 0x7F) == 0x7F) {
            /* c10 fp8e4m3fn_to_fp32_value: NaN code -> sign | 0x7FF00000 */
            CHECK(fbits(v) == (((uint32_t)(c & 0x80) << 24) | 0x7FF00000u));
            /* c10 fp8e4m3fn_from_fp32_value: NaN -> 0x7F with the sign OR-ed in */
            CHECK(ltx_f32_to_fp8e4m3(v) == c);
            continue;
        }
        CHECK_MSG(fbits(v) == fbits(e4m3_value(c)), "code %02X", c);
        /* decode -> encode is the identity for every non-NaN code (incl. -0 = 0x80) */
        CHECK_MSG(ltx_f32_to_fp8e4m3(v) == c, "code %02X", c);
    }
    CHECK(ltx_fp8e4m3_to_f32(0x7E) == 448.0f);          /* max finite */
    CHECK(ltx_fp8e4m3_to_f32(0x01) == 0x1p-9f);         /* min subnormal */
    CHECK(ltx_fp8e4m3_to_f32(0x08) == 0x1p-6f);         /* min normal */
}

TEST(fp8_e4m3_rounding)
{
    /* Ties between adjacent finite codes go to the even code (RNE: bias 0x7FFFF + mantissa lsb in
     * the normal branch; float-add RNE in the subnormal branch); just off the tie goes nearest. */
    for (int c = 0; c < 0x7E; c++) {
        for (int s = 0; s < 2; s++) {
            int lo = c | (s << 7), hi = (c + 1) | (s << 7);
            float a = ltx_fp8e4m3_to_f32((uint8_t)lo), b = ltx_fp8e4m3_to_f32((uint8_t)hi);
            float mid = (a + b) * 0.5f; /* exact: a, b have <= 4 significant bits */
            int even = (lo & 1) ? hi : lo;
            CHECK_MSG(ltx_f32_to_fp8e4m3(mid) == even, "tie %02X/%02X", lo, hi);
            CHECK(ltx_f32_to_fp8e4m3(nextafterf(mid, a)) == lo);
            CHECK(ltx_f32_to_fp8e4m3(nextafterf(mid, b)) == hi);
        }
    }
    /* Above max: 448 < x <= 464 rounds down to 448 (464 is the tie with the would-be 480 code
     * 0x7F, and 0x7E is even); x > 464 rounds onto 0x7F = NaN; x >= 480 (c10 fp8_max = 1087<<20)
     * and Inf/NaN take the explicit NaN branch. e4m3fn has no Inf. */
    CHECK(ltx_f32_to_fp8e4m3(448.0f) == 0x7E);
    CHECK(ltx_f32_to_fp8e4m3(450.0f) == 0x7E);
    CHECK(ltx_f32_to_fp8e4m3(464.0f) == 0x7E);
    CHECK(ltx_f32_to_fp8e4m3(nextafterf(464.0f, 1e9f)) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(479.99f) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(480.0f) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(-480.0f) == 0xFF);
    CHECK(ltx_f32_to_fp8e4m3(1e30f) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(INFINITY) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(-INFINITY) == 0xFF);
    CHECK(ltx_f32_to_fp8e4m3(NAN) == 0x7F);
    CHECK(ltx_f32_to_fp8e4m3(-NAN) == 0xFF);
    CHECK(ltx_f32_to_fp8e4m3(bitsf(0x7F800001u)) == 0x7F);
    /* Subnormal branch (x < 2^-6): half of the smallest subnormal ties to 0 (even), anything
     * above it gives 0x01; tiny values and f32 subnormals flush to a signed zero. */
    CHECK(ltx_f32_to_fp8e4m3(0x1p-10f) == 0x00);
    CHECK(ltx_f32_to_fp8e4m3(nextafterf(0x1p-10f, 1.0f)) == 0x01);
    CHECK(ltx_f32_to_fp8e4m3(-0x1p-10f) == 0x80);
    CHECK(ltx_f32_to_fp8e4m3(1e-30f) == 0x00);
    CHECK(ltx_f32_to_fp8e4m3(bitsf(0x00000001u)) == 0x00);
    CHECK(ltx_f32_to_fp8e4m3(bitsf(0x80400000u)) == 0x80);
    CHECK(ltx_f32_to_fp8e4m3(-0.0f) == 0x80);
    /* sub/normal boundary: 7.5 * 2^-9 is the tie between 0x07 (odd) and 0x08 -> 0x08 */
    CHECK(ltx_f32_to_fp8e4m3(7.5f * 0x1p-9f) == 0x08);
    CHECK(ltx_f32_to_fp8e4m3(6.5f * 0x1p-9f) == 0x06);
    CHECK(ltx_f32_to_fp8e4m3(1.0f) == 0x38 && ltx_f32_to_fp8e4m3(-2.0f) == 0xC0);
}

/* ---- fp8 e5m2 ------------------------------------------------------------------------------- */

static float e5m2_value(int c)
{
    int e = (c >> 2) & 31, m = c & 3;
    float s = (c & 0x80) ? -1.0f : 1.0f;
    if (e == 31) return m ? NAN : s * INFINITY;
    return e == 0 ? s * ldexpf((float)m, -16) : s * ldexpf(1.0f + m / 4.0f, e - 15);
}

TEST(fp8_e5m2_codes)
{
    for (int c = 0; c < 256; c++) {
        float v = ltx_fp8e5m2_to_f32((uint8_t)c);
        /* c10 fp8e5m2_to_fp32_value: the code is the top byte of an IEEE half, decoded by
         * fp16_ieee_to_fp32_value (payload kept, no quieting) */
        uint32_t sign = (uint32_t)(c & 0x80) << 24;
        if ((c & 0x7C) == 0x7C && (c & 3)) {
            CHECK(fbits(v) == (sign | 0x7F800000u | ((uint32_t)(c & 3) << 21)));
            /* c10 fp8e5m2_from_fp32_value: NaN -> 0x7F | sign */
            CHECK(ltx_f32_to_fp8e5m2(v) == (0x7F | (c & 0x80)));
            continue;
        }
        CHECK_MSG(fbits(v) == fbits(e5m2_value(c)), "code %02X", c);
        CHECK_MSG(ltx_f32_to_fp8e5m2(v) == c, "code %02X", c); /* round trip incl. +-Inf */
    }
    CHECK(ltx_fp8e5m2_to_f32(0x7B) == 57344.0f);    /* max finite */
    CHECK(ltx_fp8e5m2_to_f32(0x01) == 0x1p-16f);    /* min subnormal */
}

TEST(fp8_e5m2_rounding)
{
    /* ties to even between every pair of adjacent codes, 0x7B/0x7C (max finite / Inf) included:
     * the normal branch's RNE carries 57344 < x into the exponent, which is Inf = 0x7C. */
    for (int c = 0; c < 0x7C; c++) {
        for (int s = 0; s < 2; s++) {
            int lo = c | (s << 7), hi = (c + 1) | (s << 7);
            float a = ltx_fp8e5m2_to_f32((uint8_t)lo);
            float b = c + 1 == 0x7C ? (s ? -65536.0f : 65536.0f) : ltx_fp8e5m2_to_f32((uint8_t)hi);
            float mid = (a + b) * 0.5f;
            int even = (lo & 1) ? hi : lo;
            CHECK_MSG(ltx_f32_to_fp8e5m2(mid) == even, "tie %02X/%02X", lo, hi);
            CHECK(ltx_f32_to_fp8e5m2(nextafterf(mid, a)) == lo);
            CHECK(ltx_f32_to_fp8e5m2(nextafterf(mid, b)) == hi);
        }
    }
    /* overflow saturates to Inf like IEEE: 61440 is the tie 0x7B (odd) / 0x7C -> Inf; x >= 65536
     * (c10 fp8_max = 143<<23) takes the explicit branch: Inf unless NaN */
    CHECK(ltx_f32_to_fp8e5m2(61439.0f) == 0x7B);
    CHECK(ltx_f32_to_fp8e5m2(61440.0f) == 0x7C);
    CHECK(ltx_f32_to_fp8e5m2(65536.0f) == 0x7C);
    CHECK(ltx_f32_to_fp8e5m2(-1e30f) == 0xFC);
    CHECK(ltx_f32_to_fp8e5m2(INFINITY) == 0x7C);
    CHECK(ltx_f32_to_fp8e5m2(-INFINITY) == 0xFC);
    CHECK(ltx_f32_to_fp8e5m2(NAN) == 0x7F);
    CHECK(ltx_f32_to_fp8e5m2(-NAN) == 0xFF);
    CHECK(ltx_f32_to_fp8e5m2(bitsf(0x7F800001u)) == 0x7F);
    /* subnormal branch (x < 2^-14): half the smallest subnormal (2^-17) ties to 0 */
    CHECK(ltx_f32_to_fp8e5m2(0x1p-17f) == 0x00);
    CHECK(ltx_f32_to_fp8e5m2(nextafterf(0x1p-17f, 1.0f)) == 0x01);
    CHECK(ltx_f32_to_fp8e5m2(-0x1p-17f) == 0x80);
    CHECK(ltx_f32_to_fp8e5m2(bitsf(0x00000001u)) == 0x00);
    CHECK(ltx_f32_to_fp8e5m2(-0.0f) == 0x80);
    CHECK(ltx_f32_to_fp8e5m2(1.0f) == 0x3C && ltx_f32_to_fp8e5m2(-0.5f) == 0xB8);
}

/* ---- ltx_convert ---------------------------------------------------------------------------- */

/* Every pair on values all ten types hold exactly (0, 1 and, except bool, 2 and 3). */
TEST(convert_all_pairs_small_ints)
{
    for (int st = 0; st < LTX_ELEM_DTYPE_COUNT; st++) {
        for (int dt = 0; dt < LTX_ELEM_DTYPE_COUNT; dt++) {
            int nv = (st == LTX_BOOL || dt == LTX_BOOL) ? 2 : 4;
            double vals[4] = {0, 1, 2, 3};
            unsigned char a[64], b[64], c[64];
            double back[4];
            ltx_convert(a, (ltx_dtype)st, vals, LTX_F64, (size_t)nv);
            ltx_convert(b, (ltx_dtype)dt, a, (ltx_dtype)st, (size_t)nv);
            ltx_convert(back, LTX_F64, b, (ltx_dtype)dt, (size_t)nv);
            for (int i = 0; i < nv; i++)
                CHECK_MSG(back[i] == vals[i], "%s -> %s: %g", ltx_dtype_name((ltx_dtype)st),
                          ltx_dtype_name((ltx_dtype)dt), back[i]);
            ltx_convert(c, (ltx_dtype)st, a, (ltx_dtype)st, (size_t)nv); /* same type: memcpy */
            CHECK(memcmp(a, c, (size_t)nv * ltx_dtype_size((ltx_dtype)st)) == 0);
        }
    }
}

/* Expected values printed by torch 1.13 (CPU) for the same inputs. */
TEST(convert_float_to_int_like_torch)
{
    const float x[11] = {-1.5f, -0.7f, 2.9f, 300.7f, -300.2f, 1e10f, -1e10f, NAN, INFINITY,
                         -INFINITY, 3e9f};
    const uint8_t u8[11] = {255, 0, 2, 44, 212, 0, 0, 0, 0, 0, 0};
    const int32_t i32[11] = {-1, 0, 2, 300, -300, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                             INT32_MIN, INT32_MIN};
    const int64_t i64[11] = {-1, 0, 2, 300, -300, 10000000000LL, -10000000000LL, INT64_MIN,
                             INT64_MIN, INT64_MIN, 3000000000LL};
    uint8_t ou8[11], ob[11];
    int32_t oi32[11];
    int64_t oi64[11];
    double xd[11];
    for (int pass = 0; pass < 2; pass++) { /* from f32, then from f64 (same expectations) */
        const void *src = x;
        ltx_dtype st = LTX_F32;
        if (pass) {
            ltx_convert(xd, LTX_F64, x, LTX_F32, 11);
            src = xd;
            st = LTX_F64;
        }
        ltx_convert(ou8, LTX_U8, src, st, 11);
        ltx_convert(oi32, LTX_I32, src, st, 11);
        ltx_convert(oi64, LTX_I64, src, st, 11);
        ltx_convert(ob, LTX_BOOL, src, st, 11);
        for (int i = 0; i < 11; i++) {
            CHECK_MSG(ou8[i] == u8[i], "u8[%d] = %d", i, ou8[i]);
            CHECK_MSG(oi32[i] == i32[i], "i32[%d] = %d", i, oi32[i]);
            CHECK_MSG(oi64[i] == i64[i], "i64[%d] = %lld", i, (long long)oi64[i]);
            CHECK(ob[i] == 1); /* all non-zero, NaN included */
        }
    }
    const float z[3] = {0.5f, -0.0f, 0.0f};
    uint8_t zb[3];
    ltx_convert(zb, LTX_BOOL, z, LTX_F32, 3);
    CHECK(zb[0] == 1 && zb[1] == 0 && zb[2] == 0);
}

TEST(convert_double_rounding_like_torch)
{
    /* f64 -> bf16/f16 goes through f32 (torch 1.13: 1+2^-11+2^-40 -> f16 0x3C00, not 0x3C01) */
    const double d[5] = {1.0 + 0x1p-8 + 0x1p-30, 1.0 + 0x1p-11 + 0x1p-40, 65519.9999, 1e300,
                         -1e-300};
    const uint16_t bf[5] = {0x3F80, 0x3F80, 0x4780, 0x7F80, 0x8000};
    const uint16_t hf[5] = {0x3C04, 0x3C00, 0x7C00, 0x7C00, 0x8000};
    uint16_t ob[5], oh[5];
    ltx_convert(ob, LTX_BF16, d, LTX_F64, 5);
    ltx_convert(oh, LTX_F16, d, LTX_F64, 5);
    for (int i = 0; i < 5; i++) CHECK_MSG(ob[i] == bf[i] && oh[i] == hf[i], "i=%d", i);
    /* i64 -> bf16/f16 through f32 */
    const int64_t iv[5] = {(1LL << 24) + 1 + (1LL << 30), 2049, 65519, 65520,
                           (1LL << 40) + (1LL << 17) + 1};
    const uint16_t ibf[5] = {0x4E82, 0x4500, 0x4780, 0x4780, 0x5380};
    const uint16_t ihf[5] = {0x7C00, 0x6800, 0x7BFF, 0x7C00, 0x7C00};
    ltx_convert(ob, LTX_BF16, iv, LTX_I64, 5);
    ltx_convert(oh, LTX_F16, iv, LTX_I64, 5);
    for (int i = 0; i < 5; i++) CHECK_MSG(ob[i] == ibf[i] && oh[i] == ihf[i], "i=%d", i);
}

TEST(convert_int_pairs_like_torch)
{
    const int64_t a[4] = {(1LL << 31) + 5, -(1LL << 31) - 7, -1, 300};
    int32_t o32[4];
    uint8_t o8[4];
    ltx_convert(o32, LTX_I32, a, LTX_I64, 4); /* wraps modulo 2^32 */
    CHECK(o32[0] == -2147483643 && o32[1] == 2147483641 && o32[2] == -1 && o32[3] == 300);
    ltx_convert(o8, LTX_U8, a, LTX_I64, 4);   /* keeps the low byte */
    CHECK(o8[2] == 255 && o8[3] == 44 && o8[0] == 5);
    const uint8_t u[2] = {255, 3};
    int64_t w[2];
    ltx_convert(w, LTX_I64, u, LTX_U8, 2);
    CHECK(w[0] == 255 && w[1] == 3);
    const uint8_t bl[3] = {1, 0, 7}; /* a non-canonical bool byte still reads as true */
    float bf[3];
    ltx_convert(bf, LTX_F32, bl, LTX_BOOL, 3);
    CHECK(bf[0] == 1.0f && bf[1] == 0.0f && bf[2] == 1.0f);
    const int32_t neg = -1;
    int64_t neg64;
    ltx_convert(&neg64, LTX_I64, &neg, LTX_I32, 1);
    CHECK(neg64 == -1);
}

TEST(convert_fp8_pairs)
{
    /* fp8 -> f32 -> fp8 through ltx_convert for all codes, and fp8 <-> bf16 / f64 */
    uint8_t codes[256], back[256];
    float f[256];
    uint16_t b16[256];
    for (int i = 0; i < 256; i++) codes[i] = (uint8_t)i;
    for (int t = 0; t < 2; t++) {
        ltx_dtype ft = t ? LTX_F8E5M2 : LTX_F8E4M3;
        ltx_convert(f, LTX_F32, codes, ft, 256);
        ltx_convert(b16, LTX_BF16, codes, ft, 256); /* every fp8 value is exact in bf16 */
        ltx_convert(back, ft, b16, LTX_BF16, 256);
        for (int i = 0; i < 256; i++) {
            float v = t ? ltx_fp8e5m2_to_f32((uint8_t)i) : ltx_fp8e4m3_to_f32((uint8_t)i);
            CHECK(fbits(f[i]) == fbits(v));
            if (!isnan(v)) CHECK(back[i] == i && ltx_bf16_to_f32(b16[i]) == v);
        }
    }
    const double d[3] = {448.0, 464.0, 465.0};
    uint8_t o[3];
    ltx_convert(o, LTX_F8E4M3, d, LTX_F64, 3);
    CHECK(o[0] == 0x7E && o[1] == 0x7E && o[2] == 0x7F);
}

TEST(convert_hot_rows)
{
    enum { N = 1003 };
    static float f[N], g[N];
    static uint16_t h[N], h2[N];
    static double dd[N];
    for (int i = 0; i < N; i++) f[i] = (float)(i - 500) * 0.37f + (float)i * 1e-5f;
    ltx_convert(h, LTX_BF16, f, LTX_F32, N);
    for (int i = 0; i < N; i++) CHECK(h[i] == ltx_f32_to_bf16(f[i]));
    ltx_convert(g, LTX_F32, h, LTX_BF16, N);
    for (int i = 0; i < N; i++) CHECK(g[i] == ltx_bf16_to_f32(h[i]));
    ltx_convert(h2, LTX_F16, f, LTX_F32, N);
    for (int i = 0; i < N; i++) CHECK(h2[i] == ltx_f32_to_f16(f[i]));
    ltx_convert(g, LTX_F32, h2, LTX_F16, N);
    for (int i = 0; i < N; i++) CHECK(fbits(g[i]) == fbits(ltx_f16_to_f32(h2[i])));
    ltx_convert(dd, LTX_F64, f, LTX_F32, N);
    ltx_convert(g, LTX_F32, dd, LTX_F64, N);
    CHECK(memcmp(f, g, sizeof f) == 0);
    ltx_convert(g, LTX_F32, f, LTX_F32, 0); /* n == 0: no-op */
}

TEST_MAIN()
