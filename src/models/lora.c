/*
 * lora.c — LoRA file index and weight fusion (see lora.h for the math and rounding).
 *
 * ref: ltx_core/loader/fuse_loras.py, sd_ops.py @ a2c3f24, and 400fd31 (v1.2) fuse_loras.py
 * bf16_fuse_rule / aggregate_lora_products (LTX_LORA_BF16_FUSE_RULE). Fusion runs through backend
 * ops (copy, scale, matmul, add, rounding by dtype round trips), so it works on any device; it
 * allocates per weight: f32 copies of A, B, the product and W, freed before returning.
 */
#include "models/lora.h"

#include "core/dtype.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lora_pair {
    char *key;                 /* model weight key: "<module>.weight" */
    const ltx_st_entry *a, *b; /* lora_A (r, in), lora_B (out, r) */
} lora_pair;

struct ltx_lora {
    ltx_st_file *f;
    lora_pair *pairs; /* sorted by key */
    int n;
};

/* ref: LTXV_LORA_COMFY_RENAMING_MAP — remove every "diffusion_model." */
static void rename_key(const char *in, char *out, size_t cap)
{
    static const char pat[] = "diffusion_model.";
    size_t o = 0;
    while (*in && o + 1 < cap) {
        if (!strncmp(in, pat, sizeof pat - 1)) {
            in += sizeof pat - 1;
            continue;
        }
        out[o++] = *in++;
    }
    out[o] = 0;
}

static int cmp_pair(const void *x, const void *y)
{
    return strcmp(((const lora_pair *)x)->key, ((const lora_pair *)y)->key);
}

static bool ends_with(const char *s, const char *suf, size_t *stem)
{
    size_t n = strlen(s), m = strlen(suf);
    if (n < m || strcmp(s + n - m, suf)) return false;
    *stem = n - m;
    return true;
}

ltx_status ltx_lora_open(const char *path, ltx_lora **out)
{
    *out = NULL;
    ltx_lora *l = calloc(1, sizeof *l);
    if (!l) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_st_open(path, &l->f);
    if (s != LTX_OK) {
        free(l);
        return ltx_err_context(s, "LoRA %s: ", path);
    }
    int cnt = ltx_st_count(l->f);
    l->pairs = calloc((size_t)(cnt ? cnt : 1), sizeof *l->pairs);
    if (!l->pairs) s = ltx_err(LTX_ERR_OOM, "out of memory");
    /* every "X.lora_A.weight" with a matching "X.lora_B.weight" (same raw prefix) */
    for (int i = 0; s == LTX_OK && i < cnt; i++) {
        const ltx_st_entry *a = ltx_st_at(l->f, i);
        size_t stem;
        if (!ends_with(a->name, ".lora_A.weight", &stem)) continue;
        char bname[600], raw[512], key[512];
        if (stem + 1 > sizeof raw) continue;
        memcpy(raw, a->name, stem);
        raw[stem] = 0;
        snprintf(bname, sizeof bname, "%s.lora_B.weight", raw);
        const ltx_st_entry *b = ltx_st_find(l->f, bname);
        if (!b) continue; /* ref: a module contributes only when both exist */
        if (a->ndim != 2 || b->ndim != 2 || a->shape[0] != b->shape[1]) {
            s = ltx_err(LTX_ERR_FORMAT,
                        "LoRA %s: %s (%lld x %lld) and lora_B (%lld x %lld) are not (r, in) / "
                        "(out, r) with one rank",
                        path, a->name, (long long)a->shape[0],
                        (long long)(a->ndim > 1 ? a->shape[1] : 0), (long long)b->shape[0],
                        (long long)(b->ndim > 1 ? b->shape[1] : 0));
            break;
        }
        if (a->shape[0] < 1 || a->shape[1] < 1 || b->shape[0] < 1) {
            /* a rank-0 (or empty) pair would pass here and fail inside the fusion's matmul */
            s = ltx_err(LTX_ERR_FORMAT,
                        "LoRA %s: %s has rank %lld (lora_A %lld x %lld, lora_B %lld x %lld); "
                        "a LoRA needs rank >= 1",
                        path, a->name, (long long)a->shape[0], (long long)a->shape[0],
                        (long long)a->shape[1], (long long)b->shape[0], (long long)b->shape[1]);
            break;
        }
        rename_key(raw, key, sizeof key - 8);
        strcat(key, ".weight");
        lora_pair *p = &l->pairs[l->n++];
        p->key = strdup(key);
        p->a = a;
        p->b = b;
        if (!p->key) s = ltx_err(LTX_ERR_OOM, "out of memory");
    }
    if (s == LTX_OK && l->n == 0)
        s = ltx_err(LTX_ERR_FORMAT,
                    "%s is not a LoRA: it has no <module>.lora_A.weight / .lora_B.weight pair",
                    path);
    if (s != LTX_OK) {
        ltx_lora_close(l);
        return s;
    }
    qsort(l->pairs, (size_t)l->n, sizeof *l->pairs, cmp_pair);
    *out = l;
    return LTX_OK;
}

void ltx_lora_close(ltx_lora *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++)
        free(l->pairs[i].key);
    free(l->pairs);
    ltx_st_close(l->f);
    free(l);
}

const char *ltx_lora_path(const ltx_lora *l)
{
    return ltx_st_path(l->f);
}
int ltx_lora_pair_count(const ltx_lora *l)
{
    return l->n;
}
const char *ltx_lora_metadata(const ltx_lora *l, const char *key)
{
    return ltx_st_metadata(l->f, key);
}

bool ltx_lora_find(const ltx_lora *l, const char *weight_key, const ltx_st_entry **a,
                   const ltx_st_entry **b)
{
    lora_pair k = {.key = (char *)weight_key};
    const lora_pair *p = bsearch(&k, l->pairs, (size_t)l->n, sizeof *l->pairs, cmp_pair);
    if (!p) return false;
    *a = p->a;
    *b = p->b;
    return true;
}

/* ---- sets ---- */

void ltx_lora_set_init(ltx_lora_set *s)
{
    memset(s, 0, sizeof *s);
    s->target_dtype = LTX_DTYPE_COUNT;
    s->product_dtype = LTX_DTYPE_COUNT;
}

ltx_status ltx_lora_set_add(ltx_lora_set *s, const ltx_lora *l, double strength)
{
    if (strength == 0) return LTX_OK;
    if (s->n >= LTX_MAX_LORAS)
        return ltx_err(LTX_ERR_INVALID_ARG, "more than %d LoRAs in one stage", LTX_MAX_LORAS);
    s->lora[s->n] = l;
    s->strength[s->n] = strength;
    s->matched[s->n] = 0;
    s->n++;
    return LTX_OK;
}

/* ---- fusion ---- */

/* Rounds f32 tensor t (in place) to dtype dt: bf16 by the unary op, other narrow floats by a
 * round trip through a tensor of that dtype (the backend copy rounds RNE), f32 unchanged. */
static ltx_status round_to(ltx_backend *be, ltx_tensor *t, ltx_dtype dt)
{
    if (dt == LTX_F32 || dt == LTX_F64) return LTX_OK;
    if (dt == LTX_BF16) return be->ops->unary(be, LTX_UNARY_ROUND_BF16, t, t, 0, 0);
    ltx_tensor *tmp = ltx_tensor_new(be, dt, t->ndim, t->shape);
    if (!tmp) return ltx_err_failed();
    ltx_status s = be->ops->copy(be, tmp, t);
    if (s == LTX_OK) s = be->ops->copy(be, t, tmp);
    ltx_tensor_free(tmp);
    return s;
}

static bool is_fp8(ltx_dtype t)
{
    return t == LTX_F8E4M3 || t == LTX_F8E5M2;
}

/* f32 copy of t on be (t may live on another backend of the same kind: host wraps). */
static ltx_tensor *f32_copy(ltx_backend *be, const ltx_tensor *t)
{
    ltx_tensor *r = ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
    if (r && be->ops->copy(be, r, t) != LTX_OK) {
        ltx_tensor_free(r);
        return NULL;
    }
    return r;
}

/* torch 1.13 CPU's native bf16 gemm (LTX_LORA_TORCH113_CPU_MATMUL, see lora.h): prod =
 * bf16(... bf16(bf16(b[:, 0] a[0, :]) + bf16(b[:, 1] a[1, :])) ...), rank index in order.
 * b (out, r), a (r, in) f32 holding bf16 values; prod (out, in) f32. */
static ltx_status product_bf16_sequential(ltx_backend *be, const ltx_tensor *b, const ltx_tensor *a,
                                          ltx_tensor *prod)
{
    ltx_tensor *t = ltx_tensor_new(be, LTX_F32, 2, prod->shape);
    ltx_status s = t ? be->ops->fill(be, prod, 0.0) : ltx_err_failed();
    for (int64_t l = 0; s == LTX_OK && l < a->shape[0]; l++) {
        ltx_tensor *col = ltx_tensor_slice(b, 1, l, l + 1, 1); /* (out, 1) */
        ltx_tensor *row = ltx_tensor_slice(a, 0, l, l + 1, 1); /* (1, in) */
        s = col && row ? LTX_OK : ltx_err_failed();
        /* a product of two bf16 values is exact in f32; rounded like torch's bf16 mul */
        if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, t, col, row);
        if (s == LTX_OK) s = round_to(be, t, LTX_BF16);
        if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, prod, prod, t);
        if (s == LTX_OK) s = round_to(be, prod, LTX_BF16);
        ltx_tensor_free(col);
        ltx_tensor_free(row);
    }
    ltx_tensor_free(t);
    return s;
}

static bool torch113_bf16(unsigned flags, ltx_dtype pdt)
{
    return (flags & LTX_LORA_TORCH113_CPU_MATMUL) && pdt == LTX_BF16;
}

/* torch 1.13 CPU takes its native bf16 gemm for out * r * in <= 16^3, oneDNN above. */
static bool torch113_native(unsigned flags, ltx_dtype pdt, const ltx_tensor *A, const ltx_tensor *B)
{
    return torch113_bf16(flags, pdt) && B->shape[0] * B->shape[1] * A->shape[1] <= 16 * 16 * 16;
}

/* P = round_p(round_p(B * s) @ A) into `prod` (out, in) f32 (flags: see lora.h). */
static ltx_status lora_product(ltx_backend *be, const ltx_tensor *A, const ltx_tensor *B,
                               double strength, ltx_dtype pdt, unsigned flags, ltx_tensor *prod)
{
    ltx_tensor *a = f32_copy(be, A), *b = f32_copy(be, B);
    ltx_status s = a && b ? LTX_OK : ltx_err_failed();
    /* torch 1.13 (the goldens' runtime) turns the Python float into the bf16 tensor's dtype
     * before `b * coef` (0.8 -> 0.80078125); torch 2.x keeps it in float */
    if (torch113_bf16(flags, pdt)) strength = ltx_round_bf16((float)strength);
    /* ref: b * coef — a Python float times a tensor of the LoRA dtype, rounded to it */
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, b, b, strength, 0);
    if (s == LTX_OK) s = round_to(be, b, pdt);
    bool native = torch113_native(flags, pdt, A, B);
    if (s == LTX_OK && native) {
        if (A->dtype != LTX_BF16) s = round_to(be, a, LTX_BF16);
        if (s == LTX_OK) s = product_bf16_sequential(be, b, a, prod);
    } else if (s == LTX_OK) {
        /* (out, r) @ (r, in), f32 accumulation, result in the LoRA dtype */
        s = be->ops->matmul(be, prod, b, a, false, false, 1.0f);
        if (s == LTX_OK) s = round_to(be, prod, pdt);
    }
    ltx_tensor_free(a);
    ltx_tensor_free(b);
    return s;
}

/* ref 400fd31 aggregate_lora_products, second and later LoRAs: acc.addmm_(B, A, alpha=s) on
 * the bf16 aggregate `acc` (f32 holding bf16 values): acc = bf16(acc + s * (B @ A)) with f32
 * accumulation; torch 1.13 CPU's native gemm (small products, LTX_LORA_TORCH113_CPU_MATMUL)
 * instead adds bf16(a_l * bf16(b_l * bf16(s))) rank by rank, rounding each sum to bf16. */
static ltx_status lora_addmm_bf16(ltx_backend *be, const ltx_tensor *A, const ltx_tensor *B,
                                  double strength, unsigned flags, ltx_tensor *acc)
{
    ltx_tensor *a = f32_copy(be, A), *b = f32_copy(be, B);
    ltx_tensor *t = ltx_tensor_new(be, LTX_F32, 2, acc->shape);
    ltx_status s = a && b && t ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = round_to(be, a, LTX_BF16);
    if (s == LTX_OK) s = round_to(be, b, LTX_BF16);
    if (s == LTX_OK && torch113_native(flags, LTX_BF16, A, B)) {
        float alpha = ltx_round_bf16((float)strength); /* alpha.to<scalar_t>() */
        s = be->ops->unary(be, LTX_UNARY_SCALE, b, b, alpha, 0);
        if (s == LTX_OK) s = round_to(be, b, LTX_BF16);
        for (int64_t l = 0; s == LTX_OK && l < a->shape[0]; l++) {
            ltx_tensor *col = ltx_tensor_slice(b, 1, l, l + 1, 1);
            ltx_tensor *row = ltx_tensor_slice(a, 0, l, l + 1, 1);
            s = col && row ? be->ops->binary(be, LTX_BINARY_MUL, t, col, row) : ltx_err_failed();
            if (s == LTX_OK) s = round_to(be, t, LTX_BF16);
            if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, acc, acc, t);
            if (s == LTX_OK) s = round_to(be, acc, LTX_BF16);
            ltx_tensor_free(col);
            ltx_tensor_free(row);
        }
    } else if (s == LTX_OK) {
        s = be->ops->matmul(be, t, b, a, false, false, 1.0f);
        if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, t, t, (float)strength, 0);
        if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, acc, acc, t);
        if (s == LTX_OK) s = round_to(be, acc, LTX_BF16);
    }
    ltx_tensor_free(a);
    ltx_tensor_free(b);
    ltx_tensor_free(t);
    return s;
}

ltx_status ltx_lora_fuse(ltx_backend *be, const char *key, const ltx_tensor *base, int n,
                         const ltx_tensor *const *A, const ltx_tensor *const *B,
                         const double *strength, ltx_dtype product_dtype, ltx_dtype target_dtype,
                         ltx_tensor **out)
{
    return ltx_lora_fuse_ex(be, key, base, n, A, B, strength, product_dtype, target_dtype, 0, out);
}

ltx_status ltx_lora_fuse_ex(ltx_backend *be, const char *key, const ltx_tensor *base, int n,
                            const ltx_tensor *const *A, const ltx_tensor *const *B,
                            const double *strength, ltx_dtype product_dtype, ltx_dtype target_dtype,
                            unsigned flags, ltx_tensor **out)
{
    *out = NULL;
    if (!key) key = "(weight)";
    if (base->ndim != 2 || n < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "LoRA fusion of %s: need a 2-D weight and >= 1 LoRA",
                       key);
    ltx_dtype tdt = target_dtype == LTX_DTYPE_COUNT ? base->dtype : target_dtype;
    if (tdt != LTX_F32 && tdt != LTX_BF16 && tdt != LTX_F16 && !is_fp8(tdt) &&
        !ltx_dtype_is_quant(tdt))
        return ltx_err(LTX_ERR_UNSUPPORTED, "LoRA fusion of %s: target dtype %s", key,
                       ltx_dtype_name(tdt));
    /* ref: a2c3f24 (2026-04): deltas in the target dtype, bf16 when the target is fp8;
     * 400fd31 (1.2, bf16_fuse_rule): deltas aggregated and W + delta added in bf16. A block-
     * quantized target (GGUF, --quantization q*) is dequantized, fused (in f32, or bf16 under
     * the 1.2 rule) and requantized with the same type (the final copy), as GGUF tools patch
     * quantized bases. */
    bool rule12 = (flags & LTX_LORA_BF16_FUSE_RULE) != 0;
    ltx_dtype ddt = is_fp8(tdt) || rule12 ? LTX_BF16 : ltx_dtype_is_quant(tdt) ? LTX_F32 : tdt;
    int64_t O = base->shape[0], I = base->shape[1];
    for (int i = 0; i < n; i++) {
        if (A[i]->ndim != 2 || B[i]->ndim != 2 || A[i]->shape[1] != I || B[i]->shape[0] != O ||
            A[i]->shape[0] != B[i]->shape[1])
            return ltx_err(LTX_ERR_FORMAT,
                           "LoRA %d for %s: A (%lld, %lld) / B (%lld, %lld) do not fit the "
                           "weight (%lld, %lld)",
                           i, key, (long long)A[i]->shape[0], (long long)A[i]->shape[1],
                           (long long)B[i]->shape[0], (long long)B[i]->shape[1], (long long)O,
                           (long long)I);
    }
    ltx_tensor *prod = ltx_tensor_new(be, LTX_F32, 2, base->shape);
    ltx_tensor *acc = n > 1 && !rule12 ? ltx_tensor_zeros(be, LTX_F32, 2, base->shape) : NULL;
    ltx_tensor *w = f32_copy(be, base);
    ltx_tensor *res = NULL;
    ltx_status s = prod && w && (n == 1 || rule12 || acc) ? LTX_OK : ltx_err_failed();
    for (int i = 0; s == LTX_OK && i < n; i++) {
        ltx_dtype pdt = product_dtype == LTX_DTYPE_COUNT ? B[i]->dtype : product_dtype;
        if (rule12 && i > 0) { /* ref 400fd31: aggregated.addmm_(b, a, alpha=strength) */
            s = lora_addmm_bf16(be, A[i], B[i], strength[i], flags, prod);
            continue;
        }
        s = lora_product(be, A[i], B[i], strength[i], pdt, flags, prod);
        if (s == LTX_OK) s = round_to(be, prod, ddt); /* product.to(dtype=deltas dtype) */
        if (s == LTX_OK && acc) s = be->ops->binary(be, LTX_BINARY_ADD, acc, acc, prod);
    }
    ltx_tensor *delta = acc ? acc : prod;
    if (s == LTX_OK && acc) s = round_to(be, acc, ddt); /* torch.sum(stack) in deltas dtype */
    /* ref: deltas.add_(weight) in the deltas dtype, then .to(target dtype) */
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, delta, delta, w);
    if (s == LTX_OK) s = round_to(be, delta, ddt);
    if (s == LTX_OK) {
        res = ltx_tensor_new(be, tdt, 2, base->shape);
        s = res ? be->ops->copy(be, res, delta) : ltx_err_failed();
    }
    ltx_tensor_free(prod);
    ltx_tensor_free(acc);
    ltx_tensor_free(w);
    if (s != LTX_OK) {
        ltx_tensor_free(res);
        return s;
    }
    snprintf(res->name, sizeof res->name, "%.63s", key);
    *out = res;
    return LTX_OK;
}

ltx_status ltx_lora_weight_hook(void *user, ltx_backend *be, const char *name,
                                const ltx_tensor *stored, ltx_tensor **replacement)
{
    ltx_lora_set *set = user;
    *replacement = NULL;
    const ltx_tensor *A[LTX_MAX_LORAS], *B[LTX_MAX_LORAS];
    ltx_tensor *own[2 * LTX_MAX_LORAS];
    double str[LTX_MAX_LORAS];
    int n = 0, n_own = 0;
    ltx_status s = LTX_OK;
    for (int i = 0; i < set->n && s == LTX_OK; i++) {
        const ltx_st_entry *a, *b;
        if (!ltx_lora_find(set->lora[i], name, &a, &b)) continue;
        const ltx_st_file *f = set->lora[i]->f;
        ltx_tensor *ta = ltx_st_tensor(f, be, a->name), *tb = ltx_st_tensor(f, be, b->name);
        own[n_own++] = ta;
        own[n_own++] = tb;
        if (!ta || !tb) {
            s = ltx_err_failed();
            break;
        }
        A[n] = ta;
        B[n] = tb;
        str[n] = set->strength[i];
        n++;
        set->matched[i]++;
    }
    if (s == LTX_OK && n > 0) {
        s = ltx_lora_fuse_ex(be, name, stored, n, A, B, str, set->product_dtype, set->target_dtype,
                             set->flags, replacement);
        if (s == LTX_OK) set->fused++;
    }
    for (int i = 0; i < n_own; i++)
        ltx_tensor_free(own[i]);
    return s;
}
