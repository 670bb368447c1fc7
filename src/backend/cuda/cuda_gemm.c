/*
 * cuda_gemm.c — linear, linear_act and batched matmul on cuBLASLt, plus op-class timing for the
 * benchmarks.
 *
 * Precision (be->precision):
 *   F32   exact f32: CUBLAS_COMPUTE_32F (no TF32), f32 operands; low-precision weights widened
 *         (scaled) to an f32 scratch per call; bias and activation by our own kernel in the
 *         CPU's arithmetic.
 *   BF16  bf16 tensor cores with f32 accumulation and f32 output: a bf16 weight is used in
 *         place and x is rounded to a bf16 scratch; an f32 weight (and matmul) runs
 *         CUBLAS_COMPUTE_32F_FAST_16BF, which rounds both operands to bf16 inside the library;
 *         bias + GELU-tanh/ReLU go into the GEMM epilogue when cuBLASLt offers one for the
 *         shape (else our kernel).
 *   fp8 (e4m3/e5m2) weights are dequantised (with w_scale) to a bf16/f32 scratch per call — a
 *   logged fallback; a native fp8 GEMM (sm_89+) would also quantise x and is not built.
 * Row-major y (M, N) = x (M, K) w^T is cuBLAS's column-major y^T (N x M) = w^T-op * x^T: A = w
 * (op T, ld = row stride), B = x (op N), m = N, n = M. Heuristic results are cached per shape.
 * ref: torch.nn.functional.linear (cuBLASLt addmm with bias epilogue on CUDA), torch.matmul.
 */
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_internal.h"

#include <stdlib.h>
#include <string.h>

#define LT_WS_BYTES  ((size_t)32 << 20) /* cuBLASLt workspace (Hopper wants 32 MiB) */
#define TIMING_SLOTS 16384

/* ---- op-class timing (bench/transformer_block --device cuda) ------------------------------- */

typedef struct cu_timing {
    cudaEvent_t ev[TIMING_SLOTS][2];
    int cls[TIMING_SLOTS]; /* 0 gemm, 1 attention */
    int n, created;
} cu_timing;
static cu_timing *g_timing; /* one benchmark at a time; NULL when off */

void ltx_cu_timing_mark(int cls, int end, cudaStream_t s)
{
    cu_timing *t = g_timing;
    if (!t || t->n >= TIMING_SLOTS) return;
    if (t->n >= t->created) {
        cudaEventCreate(&t->ev[t->n][0]);
        cudaEventCreate(&t->ev[t->n][1]);
        t->created++;
    }
    cudaEventRecord(t->ev[t->n][end], s);
    if (end) t->cls[t->n++] = cls;
}

/* Starts timing GEMM and attention calls on CUDA backends (events around each call). */
void ltx_cuda_timing_begin(void)
{
    if (!g_timing) g_timing = calloc(1, sizeof *g_timing);
    if (g_timing) g_timing->n = 0;
}

/* Waits for the device and returns the summed milliseconds of GEMM and attention calls since
 * ltx_cuda_timing_begin (0 when timing was never started); timing stays on until _stop. */
void ltx_cuda_timing_read(double *gemm_ms, double *attn_ms)
{
    *gemm_ms = *attn_ms = 0;
    cu_timing *t = g_timing;
    if (!t) return;
    cudaDeviceSynchronize();
    for (int i = 0; i < t->n; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, t->ev[i][0], t->ev[i][1]) == cudaSuccess)
            *(t->cls[i] ? attn_ms : gemm_ms) += ms;
    }
    t->n = 0;
}

void ltx_cuda_timing_stop(void)
{
    cu_timing *t = g_timing;
    g_timing = NULL;
    if (!t) return;
    for (int i = 0; i < t->created; i++) {
        cudaEventDestroy(t->ev[i][0]);
        cudaEventDestroy(t->ev[i][1]);
    }
    free(t);
}

/* ---- cuBLASLt plumbing --------------------------------------------------------------------- */

static ltx_status lt_check(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) return LTX_OK;
    return ltx_err(LTX_ERR_DEVICE, "cuBLASLt: %s failed (status %d)", what, (int)s);
}

ltx_status ltx_cu_gemm_init(ltx_backend *be)
{
    cuda_state *st = be->impl;
    LTX_TRY(lt_check(cublasLtCreate(&st->lt), "cublasLtCreate"));
    st->lt_ws_bytes = LT_WS_BYTES;
    return ltx_cu_check(cudaMalloc(&st->lt_ws, st->lt_ws_bytes), "cuBLASLt workspace");
}

void ltx_cu_gemm_destroy(ltx_backend *be)
{
    cuda_state *st = be->impl;
    if (st->lt_ws) cudaFree(st->lt_ws);
    if (st->lt) cublasLtDestroy(st->lt);
    st->lt_ws = NULL;
    st->lt = NULL;
}

static ltx_status make_layout(cublasLtMatrixLayout_t *l, cudaDataType_t t, int rows, int cols,
                              int64_t ld, int batch, int64_t bstride)
{
    LTX_TRY(
        lt_check(cublasLtMatrixLayoutCreate(l, t, (uint64_t)rows, (uint64_t)cols, ld), "layout"));
    if (batch > 1) {
        int32_t bc = batch;
        LTX_TRY(lt_check(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                          &bc, sizeof bc),
                         "layout batch"));
        LTX_TRY(
            lt_check(cublasLtMatrixLayoutSetAttribute(
                         *l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &bstride, sizeof bstride),
                     "layout batch stride"));
    }
    return LTX_OK;
}

/* Largest power of two (<= 256) dividing the address: cuBLASLt's heuristics assume 256-byte
 * aligned operands unless told otherwise, and views (weight slices, offset activations) are
 * not. */
static uint32_t align_of(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    uintptr_t a = v ? (v & (~v + 1)) : 256;
    return a > 256 ? 256u : (uint32_t)a;
}

static cu_gemm_key key_of(const gemm_desc *g)
{
    cu_gemm_key k;
    memset(&k, 0, sizeof k); /* padding too: keys compare with memcmp */
    k.m = g->m, k.n = g->n, k.k = g->k, k.batch = g->batch;
    k.lda = g->lda, k.ldb = g->ldb, k.ldc = g->ldc, k.sa = g->sa, k.sb = g->sb, k.sc = g->sc;
    k.ta = (int)g->ta, k.tb = (int)g->tb, k.atype = (int)g->atype, k.btype = (int)g->btype;
    k.ctype = (int)g->ctype, k.ctype_compute = (int)g->compute, k.epilogue = (int)g->epi;
    k.beta1 = g->beta != 0.0f;
    k.align[0] = align_of(g->A), k.align[1] = align_of(g->B), k.align[2] = align_of(g->C);
    k.align[3] = g->bias ? align_of(g->bias) : 256;
    return k;
}

/* Runs g on the compute stream. Returns LTX_ERR_UNSUPPORTED (no message noise) when cuBLASLt
 * has no algorithm for it, so callers can retry without an epilogue. */
static ltx_status cu_lt_gemm(ltx_backend *be, const gemm_desc *g)
{
    cuda_state *st = be->impl;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    ltx_status s;
    LTX_CHECK_GOTO(s, lt_check(cublasLtMatmulDescCreate(&op, g->compute, CUDA_R_32F), "desc"),
                   done);
    LTX_CHECK_GOTO(s,
                   lt_check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &g->ta,
                                                           sizeof g->ta),
                            "transa"),
                   done);
    LTX_CHECK_GOTO(s,
                   lt_check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &g->tb,
                                                           sizeof g->tb),
                            "transb"),
                   done);
    if (g->epi != CUBLASLT_EPILOGUE_DEFAULT) {
        LTX_CHECK_GOTO(s,
                       lt_check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                               &g->epi, sizeof g->epi),
                                "epilogue"),
                       done);
        if (g->bias)
            LTX_CHECK_GOTO(
                s,
                lt_check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                        &g->bias, sizeof g->bias),
                         "bias"),
                done);
    }
    int ar = g->ta == CUBLAS_OP_N ? g->m : g->k, ac = g->ta == CUBLAS_OP_N ? g->k : g->m;
    int br = g->tb == CUBLAS_OP_N ? g->k : g->n, bc = g->tb == CUBLAS_OP_N ? g->n : g->k;
    LTX_CHECK_GOTO(s, make_layout(&la, g->atype, ar, ac, g->lda, g->batch, g->sa), done);
    LTX_CHECK_GOTO(s, make_layout(&lb, g->btype, br, bc, g->ldb, g->batch, g->sb), done);
    LTX_CHECK_GOTO(s, make_layout(&lc, g->ctype, g->m, g->n, g->ldc, g->batch, g->sc), done);

    cu_gemm_key key = key_of(g);
    cu_gemm_entry *hit = NULL;
    for (int i = 0; i < CU_GEMM_CACHE; i++)
        if (st->gemm_cache[i].valid && !memcmp(&st->gemm_cache[i].key, &key, sizeof key)) {
            hit = &st->gemm_cache[i];
            break;
        }
    if (!hit) {
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        LTX_CHECK_GOTO(s, lt_check(cublasLtMatmulPreferenceCreate(&pref), "preference"), done);
        LTX_CHECK_GOTO(s,
                       lt_check(cublasLtMatmulPreferenceSetAttribute(
                                    pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                    &st->lt_ws_bytes, sizeof st->lt_ws_bytes),
                                "workspace preference"),
                       done);
        static const cublasLtMatmulPreferenceAttributes_t al[3] = {
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES};
        for (int i = 0; i < 3; i++)
            LTX_CHECK_GOTO(s,
                           lt_check(cublasLtMatmulPreferenceSetAttribute(pref, al[i], &key.align[i],
                                                                         sizeof key.align[i]),
                                    "alignment preference"),
                           done);
        LTX_CHECK_GOTO(s,
                       lt_check(cublasLtMatmulPreferenceSetAttribute(
                                    pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.align[2],
                                    sizeof key.align[2]),
                                "alignment preference"),
                       done);
        cublasStatus_t hs =
            cublasLtMatmulAlgoGetHeuristic(st->lt, op, la, lb, lc, lc, pref, 1, &res, &found);
        hit = &st->gemm_cache[st->gemm_next];
        st->gemm_next = (st->gemm_next + 1) % CU_GEMM_CACHE;
        hit->key = key;
        hit->valid = (hs == CUBLAS_STATUS_SUCCESS && found > 0) ? 1 : -1;
        if (hit->valid == 1) hit->algo = res.algo;
    }
    if (hit->valid != 1) {
        s = LTX_ERR_UNSUPPORTED;
        goto done;
    }
    ltx_cu_timing_mark(0, 0, st->compute);
    s = lt_check(cublasLtMatmul(st->lt, op, &g->alpha, g->A, la, g->B, lb, &g->beta, g->C, lc, g->C,
                                lc, &hit->algo, st->lt_ws, st->lt_ws_bytes, st->compute),
                 "matmul");
    ltx_cu_timing_mark(0, 1, st->compute);
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return s;
}

ltx_status ltx_cu_gemm_or_fail(ltx_backend *be, const gemm_desc *g, const char *what)
{
    ltx_status s = cu_lt_gemm(be, g);
    if (s == LTX_ERR_UNSUPPORTED)
        return ltx_err(LTX_ERR_DEVICE, "%s: cuBLASLt has no algorithm for m %d n %d k %d batch %d",
                       what, g->m, g->n, g->k, g->batch);
    return s;
}

/* ---- linear -------------------------------------------------------------------------------- */

/* x (..., K): rows evenly strided with a unit last-dim stride -> row stride in *ld. */
static bool flat_rows(const ltx_tensor *x, int64_t *ld)
{
    int nd = x->ndim;
    int64_t K = x->shape[nd - 1], rs = -1, expect = 0;
    if (K > 1 && x->stride[nd - 1] != 1) return false;
    for (int d = nd - 2; d >= 0; d--) {
        if (x->shape[d] == 1) continue;
        if (rs < 0) {
            rs = x->stride[d];
            expect = rs * x->shape[d];
        } else {
            if (x->stride[d] != expect) return false;
            expect *= x->shape[d];
        }
    }
    if (rs < 0) rs = K;
    if (rs < K || rs < 1) return false;
    *ld = rs;
    return true;
}

static bool shape_eq(const ltx_tensor *t, int d, int64_t v)
{
    return t->shape[d] == v;
}

static ltx_status linear_check(const ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                               const ltx_tensor *bias)
{
    char b1[96], b2[96], b3[96];
    if (x->dtype != LTX_F32 || y->dtype != LTX_F32)
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: x and y must be F32 (x %s, y %s)",
                       ltx_dtype_name(x->dtype), ltx_dtype_name(y->dtype));
    if (w->dtype != LTX_F32 && w->dtype != LTX_BF16 && w->dtype != LTX_F16 &&
        w->dtype != LTX_F8E4M3 && w->dtype != LTX_F8E5M2)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear: weight %s has dtype %s (want F32/BF16/F16/F8_E4M3/F8_E5M2)",
                       w->name, ltx_dtype_name(w->dtype));
    if (!ltx_tensor_is_contiguous(y))
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: output must be contiguous");
    bool ok = w->ndim == 2 && x->ndim >= 1 && y->ndim == x->ndim &&
              x->shape[x->ndim - 1] == w->shape[1] && y->shape[y->ndim - 1] == w->shape[0];
    for (int i = 0; ok && i < x->ndim - 1; i++)
        ok = shape_eq(y, i, x->shape[i]);
    if (ok && bias) ok = ltx_tensor_numel(bias) == w->shape[0] && ltx_dtype_is_float(bias->dtype);
    if (!ok)
        return ltx_err(
            LTX_ERR_INVALID_ARG, "linear: shapes x %s, w %s (%s), y %s do not match%s",
            ltx_tensor_shape_str(x, b1, sizeof b1), ltx_tensor_shape_str(w, b2, sizeof b2), w->name,
            ltx_tensor_shape_str(y, b3, sizeof b3), bias ? " (or bias is not N floats)" : "");
    return LTX_OK;
}

/* Scratch list of one call: everything is given back after the launches are enqueued. */
typedef struct scratch_list {
    void *p[4];
    ltx_tensor *t[3];
    int np, nt;
} scratch_list;

static ltx_status take(ltx_backend *be, scratch_list *l, size_t bytes, void **out)
{
    LTX_TRY(ltx_cu_scratch(be, bytes, out));
    l->p[l->np++] = *out;
    return LTX_OK;
}

static void release(ltx_backend *be, scratch_list *l)
{
    for (int i = 0; i < l->np; i++)
        ltx_cu_scratch_free(be, l->p[i]);
    for (int i = 0; i < l->nt; i++)
        ltx_tensor_free(l->t[i]);
    l->np = l->nt = 0;
}

/* w as a contiguous (N, K) operand of dtype `want` (F32 or BF16), scaled; *ld = K. */
static ltx_status weight_operand(ltx_backend *be, scratch_list *l, const ltx_tensor *w, float scale,
                                 ltx_dtype want, const void **out)
{
    int64_t n = ltx_tensor_numel(w);
    ck_operand src = cu_op(w);
    if (!ltx_tensor_is_contiguous(w)) { /* rare: a strided view -> contiguous f32 first */
        ltx_tensor *t = ltx_tensor_new(be, LTX_F32, w->ndim, w->shape);
        if (!t) return ltx_err_failed();
        l->t[l->nt++] = t;
        LTX_TRY(ltx_cu_copy(be, t, w));
        src = cu_op(t);
    }
    void *d;
    LTX_TRY(take(be, l, (size_t)n * ltx_dtype_size(want), &d));
    cudaStream_t s = ((cuda_state *)be->impl)->compute;
    LTX_TRY(ltx_cu_check(want == LTX_BF16 ? ltx_ck_to_bf16(s, d, src, n, scale)
                                          : ltx_ck_to_f32(s, d, src, n, scale),
                         "linear weight conversion"));
    *out = d;
    return LTX_OK;
}

/* Bias as N contiguous f32 device values (converted into scratch when needed). */
static ltx_status bias_operand(ltx_backend *be, scratch_list *l, const ltx_tensor *bias, int64_t N,
                               const float **out)
{
    *out = NULL;
    if (!bias) return LTX_OK;
    if (bias->dtype == LTX_F32 && ltx_tensor_is_contiguous(bias)) {
        *out = cu_ptr(bias);
        return LTX_OK;
    }
    ltx_tensor *t = ltx_tensor_new(be, LTX_F32, bias->ndim, bias->shape);
    if (!t) return ltx_err_failed();
    l->t[l->nt++] = t;
    LTX_TRY(ltx_cu_copy(be, t, bias));
    (void)N;
    *out = cu_ptr(t);
    return LTX_OK;
}

static cublasLtEpilogue_t epilogue_for(bool bias, int act, bool *act_done)
{
    *act_done = true;
    if (act == LTX_UNARY_GELU_TANH)
        return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    if (act == LTX_UNARY_RELU) return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    *act_done = act < 0;
    return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

/* Chooses operands per precision (file comment), runs the GEMM, then bias/act if needed. */
static ltx_status linear_run(ltx_backend *be, scratch_list *l, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale, int act)
{
    cuda_state *st = be->impl;
    int64_t N = w->shape[0], K = w->shape[1], M = ltx_tensor_numel(y) / N, ldx = K;
    bool bf16 = be->precision == LTX_PRECISION_BF16;
    bool fp8 = w->dtype == LTX_F8E4M3 || w->dtype == LTX_F8E5M2;
    if (fp8 && !st->fp8_logged) {
        st->fp8_logged = true;
        LTX_TRY(ltx_backend_fallback(be, "cuda.fp8_linear",
                                     "fp8 weights are dequantised to a bf16/f32 scratch per call "
                                     "(no native fp8 GEMM)"));
    }
    int64_t ldw = N > 1 ? w->stride[0] : K;
    bool w_direct = w_scale == 1.0f && (K == 1 || w->stride[1] == 1) && ldw >= K &&
                    (w->dtype == LTX_F32 || (bf16 && w->dtype == LTX_BF16));
    gemm_desc g = {.ta = CUBLAS_OP_T,
                   .tb = CUBLAS_OP_N,
                   .m = (int)N,
                   .n = (int)M,
                   .k = (int)K,
                   .batch = 1,
                   .ctype = CUDA_R_32F,
                   .C = cu_ptr(y),
                   .ldc = N,
                   .alpha = 1.0f,
                   .compute = CUBLAS_COMPUTE_32F,
                   .epi = CUBLASLT_EPILOGUE_DEFAULT};
    /* weight (A) */
    if (w_direct) {
        g.A = cu_ptr(w);
        g.lda = ldw;
        g.atype = w->dtype == LTX_F32 ? CUDA_R_32F : CUDA_R_16BF;
    } else {
        ltx_dtype want = bf16 ? LTX_BF16 : LTX_F32;
        LTX_TRY(weight_operand(be, l, w, w_scale, want, &g.A));
        g.lda = K;
        g.atype = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    }
    /* activation (B): bf16 when the weight is bf16; f32 (FAST_16BF in bf16 mode) otherwise */
    bool x_bf16 = g.atype == CUDA_R_16BF;
    bool x_flat = flat_rows(x, &ldx);
    if (x_bf16 || !x_flat) {
        int nd = x->ndim;
        void *xs;
        LTX_TRY(take(be, l, (size_t)(M * K) * (x_bf16 ? 2 : 4), &xs));
        if (x_flat) { /* rows evenly strided: one 2-D gather */
            LTX_TRY(
                ltx_cu_check(ltx_ck_gather_rows(st->compute, xs, x_bf16, cu_ptr(x), M, K, ldx, 1),
                             "linear x conversion"));
        } else { /* arbitrary view: contiguous copy via the generic copy kernel */
            ltx_tensor *t = ltx_tensor_new(be, LTX_F32, nd, x->shape);
            if (!t) return ltx_err_failed();
            l->t[l->nt++] = t;
            LTX_TRY(ltx_cu_copy(be, t, x));
            LTX_TRY(ltx_cu_check(ltx_ck_gather_rows(st->compute, xs, x_bf16, cu_ptr(t), M, K, K, 1),
                                 "linear x conversion"));
        }
        g.B = xs;
        g.ldb = K;
    } else {
        g.B = cu_ptr(x);
        g.ldb = ldx;
    }
    g.btype = x_bf16 ? CUDA_R_16BF : CUDA_R_32F;
    if (bf16 && !x_bf16) g.compute = CUBLAS_COMPUTE_32F_FAST_16BF;
    const float *bptr;
    LTX_TRY(bias_operand(be, l, bias, N, &bptr));
    bool act_done = act < 0;
    if (bf16) { /* epilogue fusion; the exact path keeps the CPU's bias/act arithmetic */
        g.epi = epilogue_for(bptr != NULL, act, &act_done);
        g.bias = bptr;
        ltx_status s = cu_lt_gemm(be, &g);
        if (s != LTX_ERR_UNSUPPORTED) {
            LTX_TRY(s);
            if (act_done) return LTX_OK;
            return ltx_cu_check(ltx_ck_bias_act(st->compute, cu_ptr(y), M, N, cu_op(NULL), act),
                                "linear activation");
        }
        g.epi = CUBLASLT_EPILOGUE_DEFAULT;
        g.bias = NULL;
    }
    LTX_TRY(ltx_cu_gemm_or_fail(be, &g, "linear"));
    ck_operand bo = {(void *)bptr, LTX_F32};
    return ltx_cu_check(ltx_ck_bias_act(st->compute, cu_ptr(y), M, N, bo, act), "linear bias");
}

static ltx_status linear_common(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                                const ltx_tensor *w, const ltx_tensor *bias, float w_scale, int act)
{
    LTX_TRY(linear_check(y, x, w, bias));
    int64_t N = w->shape[0], K = w->shape[1];
    int64_t M = ltx_tensor_numel(y) / (N ? N : 1);
    if (M == 0 || N == 0) return LTX_OK;
    cuda_state *st = be->impl;
    if (K == 0) { /* empty sum: bias (or 0), then the activation */
        LTX_TRY(ltx_cu_fill(be, y, 0.0));
        scratch_list l = {0};
        const float *bptr;
        ltx_status s = bias_operand(be, &l, bias, N, &bptr);
        ck_operand bo = {(void *)bptr, LTX_F32};
        if (s == LTX_OK)
            s = ltx_cu_check(ltx_ck_bias_act(st->compute, cu_ptr(y), M, N, bo, act), "linear");
        release(be, &l);
        return s;
    }
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ltx_err(LTX_ERR_INVALID_ARG, "linear: dims beyond 2^31 are not supported");
    scratch_list l = {0};
    ltx_status s = linear_run(be, &l, y, x, w, bias, w_scale, act);
    release(be, &l);
    return s;
}

ltx_status ltx_cu_linear(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                         const ltx_tensor *bias, float w_scale)
{
    return linear_common(be, y, x, w, bias, w_scale, -1);
}

ltx_status ltx_cu_linear_act(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                             ltx_unary_op act)
{
    if (act != LTX_UNARY_GELU_TANH && act != LTX_UNARY_GELU_ERF && act != LTX_UNARY_SILU &&
        act != LTX_UNARY_RELU)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "linear_act: activation %d is not GELU_TANH, GELU_ERF, SILU or RELU",
                       (int)act);
    return linear_common(be, y, x, w, bias, w_scale, (int)act);
}

/* ---- matmul -------------------------------------------------------------------------------- */

/* A (r x c) matrix with strides (rs, cs) as cuBLAS storage: row-major (stored col-major as its
 * transpose) or column-major, with its leading dim; false when neither (needs a copy). */
static bool mat_layout(int64_t r, int64_t c, int64_t rs, int64_t cs, bool *rowmajor, int64_t *ld)
{
    if ((cs == 1 || c == 1) && (r == 1 || rs >= c) && (r == 1 || rs > 0)) {
        *rowmajor = true;
        *ld = r == 1 ? (c > 0 ? c : 1) : rs;
        return true;
    }
    if ((rs == 1 || r == 1) && (c == 1 || cs >= r) && (c == 1 || cs > 0)) {
        *rowmajor = false;
        *ld = c == 1 ? (r > 0 ? r : 1) : cs;
        return true;
    }
    return false;
}

/* Batch strides of t (rank >= 2) against c's batch dims (right-aligned, size 1 broadcasts). */
static bool batch_strides(const ltx_tensor *t, const ltx_tensor *c, int nb, int64_t *st)
{
    int tb = t->ndim - 2;
    if (tb > nb) return false;
    for (int d = 0; d < nb; d++) {
        int td = d - (nb - tb);
        if (td < 0 || t->shape[td] == 1) {
            st[d] = 0;
        } else {
            if (t->shape[td] != c->shape[d]) return false;
            st[d] = t->stride[td];
        }
    }
    return true;
}

/* One stride over all batch dims (size-1 dims skipped), or false. */
static bool flat_batch(const int64_t *shape, const int64_t *st, int nb, int64_t *out)
{
    int64_t s = -1, expect = 0;
    for (int d = nb - 1; d >= 0; d--) {
        if (shape[d] == 1) continue;
        if (s < 0) {
            s = st[d];
            expect = s * shape[d];
        } else {
            if (st[d] != expect) return false;
            expect *= shape[d];
        }
    }
    *out = s < 0 ? 0 : s;
    return true;
}

/* A strided operand that cuBLAS cannot take: a contiguous copy (same logical shape). */
static ltx_status contiguous_copy(ltx_backend *be, scratch_list *l, const ltx_tensor *t,
                                  const ltx_tensor **out)
{
    ltx_tensor *c = ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
    if (!c) return ltx_err_failed();
    l->t[l->nt++] = c;
    LTX_TRY(ltx_cu_copy(be, c, t));
    *out = c;
    return LTX_OK;
}

static ltx_status matmul_run(ltx_backend *be, scratch_list *l, ltx_tensor *c, const ltx_tensor *a,
                             const ltx_tensor *b, bool trans_a, bool trans_b, float alpha)
{
    int la = a->ndim, lb = b->ndim, lc = c->ndim, nb = lc - 2;
    int64_t ar = a->shape[la - 2], ac = a->shape[la - 1], br = b->shape[lb - 2],
            bc = b->shape[lb - 1];
    int64_t M = c->shape[lc - 2], N = c->shape[lc - 1], K = trans_a ? ar : ac;
    bool arow, brow;
    int64_t lda, ldb;
    if (!mat_layout(ar, ac, a->stride[la - 2], a->stride[la - 1], &arow, &lda)) {
        LTX_TRY(contiguous_copy(be, l, a, &a));
        return matmul_run(be, l, c, a, b, trans_a, trans_b, alpha);
    }
    if (!mat_layout(br, bc, b->stride[lb - 2], b->stride[lb - 1], &brow, &ldb)) {
        LTX_TRY(contiguous_copy(be, l, b, &b));
        return matmul_run(be, l, c, a, b, trans_a, trans_b, alpha);
    }
    int64_t sa[LTX_MAX_DIMS], sb[LTX_MAX_DIMS], sc[LTX_MAX_DIMS], fa, fb, fc;
    batch_strides(a, c, nb, sa);
    batch_strides(b, c, nb, sb);
    int64_t nbatch = 1;
    for (int d = 0; d < nb; d++) {
        sc[d] = c->stride[d];
        nbatch *= c->shape[d];
    }
    gemm_desc g = {.m = (int)N,
                   .n = (int)M,
                   .k = (int)K,
                   .atype = CUDA_R_32F,
                   .btype = CUDA_R_32F,
                   .ctype = CUDA_R_32F,
                   .ldc = N,
                   .alpha = alpha,
                   .compute = be->precision == LTX_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                                  : CUBLAS_COMPUTE_32F,
                   .epi = CUBLASLT_EPILOGUE_DEFAULT};
    /* cuBLAS A <- b, B <- a (see the derivation in the file comment of linear) */
    g.ta = brow ? (trans_b ? CUBLAS_OP_T : CUBLAS_OP_N) : (trans_b ? CUBLAS_OP_N : CUBLAS_OP_T);
    g.tb = arow ? (trans_a ? CUBLAS_OP_T : CUBLAS_OP_N) : (trans_a ? CUBLAS_OP_N : CUBLAS_OP_T);
    g.lda = ldb;
    g.ldb = lda;
    const float *ap = cu_ptr(a), *bp = cu_ptr(b);
    float *cp = cu_ptr(c);
    if (flat_batch(c->shape, sa, nb, &fa) && flat_batch(c->shape, sb, nb, &fb) &&
        flat_batch(c->shape, sc, nb, &fc) && nbatch <= INT32_MAX) {
        g.batch = (int)nbatch;
        g.A = bp;
        g.B = ap;
        g.C = cp;
        g.sa = fb;
        g.sb = fa;
        g.sc = fc ? fc : M * N;
        return ltx_cu_gemm_or_fail(be, &g, "matmul");
    }
    g.batch = 1; /* irregular batch strides: one GEMM per product */
    for (int64_t i = 0; i < nbatch; i++) {
        int64_t r = i, oa = 0, ob = 0, oc = 0;
        for (int d = nb - 1; d >= 0; d--) {
            int64_t j = r % c->shape[d];
            r /= c->shape[d];
            oa += j * sa[d];
            ob += j * sb[d];
            oc += j * sc[d];
        }
        g.A = bp + ob;
        g.B = ap + oa;
        g.C = cp + oc;
        LTX_TRY(ltx_cu_gemm_or_fail(be, &g, "matmul"));
    }
    return LTX_OK;
}

ltx_status ltx_cu_matmul(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                         bool trans_a, bool trans_b, float alpha)
{
    char s1[96], s2[96], s3[96];
    if (a->dtype != LTX_F32 || b->dtype != LTX_F32 || c->dtype != LTX_F32)
        return ltx_err(LTX_ERR_INVALID_ARG, "matmul: a, b, c must be F32 (%s, %s, %s)",
                       ltx_dtype_name(a->dtype), ltx_dtype_name(b->dtype),
                       ltx_dtype_name(c->dtype));
    if (!ltx_tensor_is_contiguous(c))
        return ltx_err(LTX_ERR_INVALID_ARG, "matmul: output must be contiguous");
    bool ok = a->ndim >= 2 && b->ndim >= 2 && c->ndim >= 2;
    int64_t M = 0, N = 0, K = 0;
    if (ok) {
        int la = a->ndim, lb = b->ndim, lc = c->ndim;
        int64_t ar = a->shape[la - 2], ac = a->shape[la - 1];
        int64_t br = b->shape[lb - 2], bc = b->shape[lb - 1];
        M = c->shape[lc - 2], N = c->shape[lc - 1], K = trans_a ? ar : ac;
        ok = (trans_a ? ac : ar) == M && (trans_b ? bc : br) == K && (trans_b ? br : bc) == N;
        int64_t tmp[LTX_MAX_DIMS];
        ok = ok && batch_strides(a, c, lc - 2, tmp) && batch_strides(b, c, lc - 2, tmp);
    }
    if (!ok)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "matmul: a %s%s @ b %s%s does not give c %s (batch dims broadcast)",
                       ltx_tensor_shape_str(a, s1, sizeof s1), trans_a ? "^T" : "",
                       ltx_tensor_shape_str(b, s2, sizeof s2), trans_b ? "^T" : "",
                       ltx_tensor_shape_str(c, s3, sizeof s3));
    if (ltx_tensor_numel(c) == 0) return LTX_OK;
    if (K == 0) return ltx_cu_fill(be, c, 0.0);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ltx_err(LTX_ERR_INVALID_ARG, "matmul: dims beyond 2^31 are not supported");
    scratch_list l = {0};
    ltx_status s = matmul_run(be, &l, c, a, b, trans_a, trans_b, alpha);
    release(be, &l);
    return s;
}
