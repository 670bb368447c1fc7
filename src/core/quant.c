/*
 * quant.c — scalar dequantizers and quantizers for the GGML block formats declared in quant.h.
 *
 * Dequantizers follow the format definitions exactly (each element is computed once from its
 * block's stored scale(s) in f32; the K-quants form d*sc first, as the format's reference
 * decoders do, so results are bit-identical to them). Quantizers are our own and simple: per
 * (sub-)block scales from min/max, the scales rounded to their stored precision, then every
 * code recomputed against the rounded scale (which is what bounds the error to half a step).
 * This file is the correctness reference; fast kernels elsewhere must match the dequantizers.
 * ref: GGUF format definition (ggml docs/gguf.md, ggml-common.h block layouts).
 */
#include "core/quant.h"

#include "core/dtype.h"

#include <math.h>
#include <string.h>

static inline float h2f(uint16_t h)
{
    return ltx_f16_to_f32(h);
}
static inline uint16_t f2h(float f)
{
    return ltx_f32_to_f16(f);
}

/* Nearest integer, ties away from zero (roundf), clamped to [lo, hi]. */
static inline int qround(float v, int lo, int hi)
{
    float r = roundf(v);
    if (!(r >= (float)lo)) return lo; /* NaN -> lo */
    if (r > (float)hi) return hi;
    return (int)r;
}

/* ---- 32-element formats ------------------------------------------------------------------ */

void ltx_dequantize_row_q8_0(const void *src, float *dst, int64_t n)
{
    const ltx_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / LTX_QK8_0; i++, dst += LTX_QK8_0) {
        float d = h2f(b[i].d);
        for (int j = 0; j < LTX_QK8_0; j++)
            dst[j] = (float)b[i].qs[j] * d;
    }
}

/* d = amax / 127, codes round(x / d) (the stored half d is the one used). */
void ltx_quantize_row_q8_0(const float *src, void *dst, int64_t n)
{
    ltx_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / LTX_QK8_0; i++, src += LTX_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < LTX_QK8_0; j++)
            amax = fmaxf(amax, fabsf(src[j]));
        b[i].d = f2h(amax / 127.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < LTX_QK8_0; j++)
            b[i].qs[j] = (int8_t)qround(src[j] * id, -127, 127);
    }
}

void ltx_dequantize_row_q4_0(const void *src, float *dst, int64_t n)
{
    const ltx_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / LTX_QK4_0; i++, dst += LTX_QK4_0) {
        float d = h2f(b[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((b[i].qs[j] & 0xF) - 8) * d;
            dst[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* Symmetric with the extreme value mapped onto code 0 (-8 * d): d = max / -8, where max is the
 * value of largest magnitude with its sign, so the other side gets 7 steps. */
void ltx_quantize_row_q4_0(const float *src, void *dst, int64_t n)
{
    ltx_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / LTX_QK4_0; i++, src += LTX_QK4_0) {
        float mx = 0.0f;
        for (int j = 0; j < LTX_QK4_0; j++)
            if (fabsf(src[j]) > fabsf(mx)) mx = src[j];
        b[i].d = f2h(mx / -8.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; j++) {
            int q0 = qround(src[j] * id, -8, 7) + 8, q1 = qround(src[j + 16] * id, -8, 7) + 8;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void ltx_dequantize_row_q4_1(const void *src, float *dst, int64_t n)
{
    const ltx_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / LTX_QK4_1; i++, dst += LTX_QK4_1) {
        float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)(b[i].qs[j] & 0xF) * d + m;
            dst[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* Block min and max of n values. */
static void min_max(const float *x, int n, float *mn, float *mx)
{
    float a = x[0], b = x[0];
    for (int j = 1; j < n; j++) {
        a = fminf(a, x[j]);
        b = fmaxf(b, x[j]);
    }
    *mn = a;
    *mx = b;
}

void ltx_quantize_row_q4_1(const float *src, void *dst, int64_t n)
{
    ltx_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / LTX_QK4_1; i++, src += LTX_QK4_1) {
        float mn, mx;
        min_max(src, LTX_QK4_1, &mn, &mx);
        b[i].d = f2h((mx - mn) / 15.0f);
        b[i].m = f2h(mn);
        float d = h2f(b[i].d), m = h2f(b[i].m), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; j++) {
            int q0 = qround((src[j] - m) * id, 0, 15), q1 = qround((src[j + 16] - m) * id, 0, 15);
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static inline uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store_u32le(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* Five-bit code of element j (0..31) of a Q5_0 / Q5_1 block. */
static inline int q5_code(const uint8_t *qs, uint32_t qh, int j)
{
    int lo = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
    return lo | (int)(((qh >> j) & 1u) << 4);
}

void ltx_dequantize_row_q5_0(const void *src, float *dst, int64_t n)
{
    const ltx_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / LTX_QK5_0; i++, dst += LTX_QK5_0) {
        float d = h2f(b[i].d);
        uint32_t qh = load_u32le(b[i].qh);
        for (int j = 0; j < LTX_QK5_0; j++)
            dst[j] = (float)(q5_code(b[i].qs, qh, j) - 16) * d;
    }
}

/* Packs 32 five-bit codes into qs (nibbles) and qh (bit 4 of each). */
static void q5_pack(const int *q, uint8_t *qs, uint8_t *qhp)
{
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    for (int j = 0; j < 32; j++)
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    store_u32le(qhp, qh);
}

void ltx_quantize_row_q5_0(const float *src, void *dst, int64_t n)
{
    ltx_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / LTX_QK5_0; i++, src += LTX_QK5_0) {
        float mx = 0.0f;
        for (int j = 0; j < LTX_QK5_0; j++)
            if (fabsf(src[j]) > fabsf(mx)) mx = src[j];
        b[i].d = f2h(mx / -16.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++)
            q[j] = qround(src[j] * id, -16, 15) + 16;
        q5_pack(q, b[i].qs, b[i].qh);
    }
}

void ltx_dequantize_row_q5_1(const void *src, float *dst, int64_t n)
{
    const ltx_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / LTX_QK5_1; i++, dst += LTX_QK5_1) {
        float d = h2f(b[i].d), m = h2f(b[i].m);
        uint32_t qh = load_u32le(b[i].qh);
        for (int j = 0; j < LTX_QK5_1; j++)
            dst[j] = (float)q5_code(b[i].qs, qh, j) * d + m;
    }
}

void ltx_quantize_row_q5_1(const float *src, void *dst, int64_t n)
{
    ltx_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / LTX_QK5_1; i++, src += LTX_QK5_1) {
        float mn, mx;
        min_max(src, LTX_QK5_1, &mn, &mx);
        b[i].d = f2h((mx - mn) / 31.0f);
        b[i].m = f2h(mn);
        float d = h2f(b[i].d), m = h2f(b[i].m), id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++)
            q[j] = qround((src[j] - m) * id, 0, 31);
        q5_pack(q, b[i].qs, b[i].qh);
    }
}

/* ---- K-quants: 256-element super-blocks ------------------------------------------------------
 * Shared quantizer shape for the "scale and min" formats (Q2_K, Q4_K, Q5_K): per sub-block of
 * `sub` elements, mn = min(0, min x), sc = (max x - mn) / qmax; the sub-block scales and
 * (negated) mins are then coded as integers in [0, smax] against super-block halves d and dmin
 * (d = max sc / smax), and the codes recomputed against the coded scales. */

typedef struct {
    float d, dmin; /* stored (half-rounded) super-block scales */
    int sc[16], mn[16];
} kq_scales;

static void kq_affine(const float *x, int sub, int qmax, int smax, kq_scales *o, uint16_t *d,
                      uint16_t *dmin)
{
    int nsub = LTX_QK_K / sub;
    float scale[16], mins[16], smx = 0.0f, mmx = 0.0f;
    for (int s = 0; s < nsub; s++) {
        float lo, hi;
        min_max(x + s * sub, sub, &lo, &hi);
        lo = fminf(lo, 0.0f);
        scale[s] = (hi - lo) / (float)qmax;
        mins[s] = -lo;
        smx = fmaxf(smx, scale[s]);
        mmx = fmaxf(mmx, mins[s]);
    }
    *d = f2h(smx / (float)smax);
    *dmin = f2h(mmx / (float)smax);
    o->d = h2f(*d);
    o->dmin = h2f(*dmin);
    for (int s = 0; s < nsub; s++) {
        o->sc[s] = o->d > 0.0f ? qround(scale[s] / o->d, 0, smax) : 0;
        o->mn[s] = o->dmin > 0.0f ? qround(mins[s] / o->dmin, 0, smax) : 0;
    }
}

/* Codes in [0, qmax] for x against the coded scale/min of its sub-block. */
static void kq_codes(const float *x, int sub, int qmax, const kq_scales *s, int *q)
{
    for (int e = 0; e < LTX_QK_K; e++) {
        int k = e / sub;
        float dl = s->d * (float)s->sc[k], ml = s->dmin * (float)s->mn[k];
        q[e] = dl > 0.0f ? qround((x[e] + ml) / dl, 0, qmax) : 0;
    }
}

/* Q2_K: element e = 128*c + 32*j + l (c < 2, j < 4, l < 32) is bits 2j..2j+1 of qs[32c + l];
 * its scale byte is scales[e / 16] (low nibble scale, high nibble min). */
void ltx_dequantize_row_q2_K(const void *src, float *dst, int64_t n)
{
    const ltx_block_q2_K *b = src;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, dst += LTX_QK_K) {
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int e = 0; e < LTX_QK_K; e++) {
            int c = e / 128, j = (e / 32) % 4, l = e % 32;
            uint8_t s = b[i].scales[e / 16];
            int q = (b[i].qs[32 * c + l] >> (2 * j)) & 3;
            dst[e] = d * (float)(s & 0xF) * (float)q - dmin * (float)(s >> 4);
        }
    }
}

void ltx_quantize_row_q2_K(const float *src, void *dst, int64_t n)
{
    ltx_block_q2_K *b = dst;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, src += LTX_QK_K) {
        kq_scales s;
        int q[LTX_QK_K];
        kq_affine(src, 16, 3, 15, &s, &b[i].d, &b[i].dmin);
        kq_codes(src, 16, 3, &s, q);
        for (int k = 0; k < 16; k++)
            b[i].scales[k] = (uint8_t)(s.sc[k] | (s.mn[k] << 4));
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int e = 0; e < LTX_QK_K; e++)
            b[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(q[e] << (2 * ((e / 32) % 4)));
    }
}

/* Q3_K: element e = 128*c + 32*j + l: bits 0-1 are bits 2j..2j+1 of qs[32c + l], bit 2 is bit
 * (4c + j) of hmask[l]; the signed scale is ltx_q3k_scale(e / 16) - 32 and the value
 * d * scale * (code - 4). */
void ltx_dequantize_row_q3_K(const void *src, float *dst, int64_t n)
{
    const ltx_block_q3_K *b = src;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, dst += LTX_QK_K) {
        float d = h2f(b[i].d);
        for (int e = 0; e < LTX_QK_K; e++) {
            int c = e / 128, j = (e / 32) % 4, l = e % 32;
            int lo = (b[i].qs[32 * c + l] >> (2 * j)) & 3;
            int hi = (b[i].hmask[l] >> (4 * c + j)) & 1;
            float dl = d * (float)(ltx_q3k_scale(e / 16, b[i].scales) - 32);
            dst[e] = dl * (float)(lo + 4 * hi - 4);
        }
    }
}

/* Symmetric per 16: scale = signed extreme / -4 (code 0 .. 7 <-> -4 .. 3); the 16 scales as
 * signed 6-bit integers against d = max |scale| / 32 (the extreme one lands on -32). */
void ltx_quantize_row_q3_K(const float *src, void *dst, int64_t n)
{
    ltx_block_q3_K *b = dst;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, src += LTX_QK_K) {
        float scale[16], big = 0.0f;
        for (int k = 0; k < 16; k++) {
            float mx = 0.0f;
            for (int j = 0; j < 16; j++)
                if (fabsf(src[16 * k + j]) > fabsf(mx)) mx = src[16 * k + j];
            scale[k] = mx / -4.0f;
            if (fabsf(scale[k]) > fabsf(big)) big = scale[k];
        }
        b[i].d = f2h(big / -32.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        int u[16];
        for (int k = 0; k < 16; k++)
            u[k] = qround(scale[k] * id, -32, 31) + 32;
        memset(b[i].scales, 0, sizeof b[i].scales);
        for (int k = 0; k < 8; k++)
            b[i].scales[k] = (uint8_t)((u[k] & 0xF) | ((u[k + 8] & 0xF) << 4));
        for (int k = 0; k < 16; k++)
            b[i].scales[8 + (k & 3)] |= (uint8_t)((u[k] >> 4) << (2 * (k >> 2)));
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int e = 0; e < LTX_QK_K; e++) {
            float dl = d * (float)(u[e / 16] - 32);
            int q = dl != 0.0f ? qround(src[e] / dl, -4, 3) + 4 : 4;
            int c = e / 128, j = (e / 32) % 4, l = e % 32;
            b[i].qs[32 * c + l] |= (uint8_t)((q & 3) << (2 * j));
            b[i].hmask[l] |= (uint8_t)(((q >> 2) & 1) << (4 * c + j));
        }
    }
}

/* Q4_K: element e = 64*c + 32*h + l (c < 4, h < 2, l < 32) is the low (h = 0) or high (h = 1)
 * nibble of qs[32c + l]; sub-block e / 32 takes ltx_q4k_scale_min. */
void ltx_dequantize_row_q4_K(const void *src, float *dst, int64_t n)
{
    const ltx_block_q4_K *b = src;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, dst += LTX_QK_K) {
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int s = 0; s < 8; s++) {
            uint8_t sc, mn;
            ltx_q4k_scale_min(s, b[i].scales, &sc, &mn);
            float dl = d * (float)sc, ml = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (s / 2);
            for (int l = 0; l < 32; l++)
                dst[32 * s + l] = dl * (float)((s & 1) ? q[l] >> 4 : q[l] & 0xF) - ml;
        }
    }
}

/* Inverse of ltx_q4k_scale_min: eight 6-bit scales and mins into 12 bytes. */
static void pack_k4_scales(const int *sc, const int *mn, uint8_t *o)
{
    for (int j = 0; j < 4; j++) {
        o[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        o[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        o[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
}

void ltx_quantize_row_q4_K(const float *src, void *dst, int64_t n)
{
    ltx_block_q4_K *b = dst;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, src += LTX_QK_K) {
        kq_scales s;
        int q[LTX_QK_K];
        kq_affine(src, 32, 15, 63, &s, &b[i].d, &b[i].dmin);
        kq_codes(src, 32, 15, &s, q);
        pack_k4_scales(s.sc, s.mn, b[i].scales);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
}

/* Q5_K: as Q4_K plus bit 4 of element 64c + 32h + l at bit (2c + h) of qh[l]. */
void ltx_dequantize_row_q5_K(const void *src, float *dst, int64_t n)
{
    const ltx_block_q5_K *b = src;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, dst += LTX_QK_K) {
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int s = 0; s < 8; s++) {
            uint8_t sc, mn;
            ltx_q4k_scale_min(s, b[i].scales, &sc, &mn);
            float dl = d * (float)sc, ml = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (s / 2);
            for (int l = 0; l < 32; l++) {
                int lo = (s & 1) ? q[l] >> 4 : q[l] & 0xF;
                int hi = (b[i].qh[l] >> s) & 1;
                dst[32 * s + l] = dl * (float)(lo + 16 * hi) - ml;
            }
        }
    }
}

void ltx_quantize_row_q5_K(const float *src, void *dst, int64_t n)
{
    ltx_block_q5_K *b = dst;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, src += LTX_QK_K) {
        kq_scales s;
        int q[LTX_QK_K];
        kq_affine(src, 32, 31, 63, &s, &b[i].d, &b[i].dmin);
        kq_codes(src, 32, 31, &s, q);
        pack_k4_scales(s.sc, s.mn, b[i].scales);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int a = q[64 * c + l], z = q[64 * c + 32 + l];
                b[i].qs[32 * c + l] = (uint8_t)((a & 0xF) | ((z & 0xF) << 4));
                b[i].qh[l] |= (uint8_t)(((a >> 4) << (2 * c)) | ((z >> 4) << (2 * c + 1)));
            }
    }
}

/* Q6_K: element e = 128*c + 32*g + l (c < 2, g < 4, l < 32): low nibble of ql[64c + l] (g = 0),
 * of ql[64c + 32 + l] (g = 1), high nibbles of the same for g = 2, 3; bits 4-5 are bits
 * 2g..2g+1 of qh[32c + l]; scale scales[e / 16]; value d * scale * (code - 32). */
void ltx_dequantize_row_q6_K(const void *src, float *dst, int64_t n)
{
    const ltx_block_q6_K *b = src;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, dst += LTX_QK_K) {
        float d = h2f(b[i].d);
        for (int e = 0; e < LTX_QK_K; e++) {
            int c = e / 128, g = (e / 32) % 4, l = e % 32;
            uint8_t qlb = b[i].ql[64 * c + 32 * (g & 1) + l];
            int lo = g < 2 ? qlb & 0xF : qlb >> 4;
            int hi = (b[i].qh[32 * c + l] >> (2 * g)) & 3;
            dst[e] = d * (float)b[i].scales[e / 16] * (float)((lo | (hi << 4)) - 32);
        }
    }
}

void ltx_quantize_row_q6_K(const float *src, void *dst, int64_t n)
{
    ltx_block_q6_K *b = dst;
    for (int64_t i = 0; i < n / LTX_QK_K; i++, src += LTX_QK_K) {
        float scale[16], big = 0.0f;
        for (int k = 0; k < 16; k++) {
            float mx = 0.0f;
            for (int j = 0; j < 16; j++)
                if (fabsf(src[16 * k + j]) > fabsf(mx)) mx = src[16 * k + j];
            scale[k] = mx / -32.0f;
            if (fabsf(scale[k]) > fabsf(big)) big = scale[k];
        }
        b[i].d = f2h(big / -128.0f);
        float d = h2f(b[i].d), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int k = 0; k < 16; k++)
            b[i].scales[k] = (int8_t)qround(scale[k] * id, -128, 127);
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < LTX_QK_K; e++) {
            float dl = d * (float)b[i].scales[e / 16];
            int q = dl != 0.0f ? qround(src[e] / dl, -32, 31) + 32 : 32;
            int c = e / 128, g = (e / 32) % 4, l = e % 32;
            b[i].ql[64 * c + 32 * (g & 1) + l] |= (uint8_t)((q & 0xF) << (g < 2 ? 0 : 4));
            b[i].qh[32 * c + l] |= (uint8_t)((q >> 4) << (2 * g));
        }
    }
}
