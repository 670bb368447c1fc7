/*
 * ltx_block.c — one BasicAVTransformerBlock and the LTX Attention module, with the STG /
 * modality-isolation perturbation hooks.
 *
 * Mirrors ltx_core/model/transformer/transformer.py (BasicAVTransformerBlock.forward,
 * get_ada_values, get_av_ca_ada_values, apply_cross_attention_adaln), attention.py
 * (Attention.forward: q/k RMSNorm over the whole inner dim, RoPE, SDPA, perturbation blend,
 * per-head gates 2*sigmoid(to_gate_logits(x))), feed_forward.py / gelu_approx.py and
 * ltx_core/guidance/perturbations.py @ a2c3f24.
 *
 * Every step is a backend op on f32 activations. Residual updates are in place. The FFN runs in
 * token chunks so its 4x-wide hidden never exceeds FF_CHUNK_ROWS rows. Attention never builds a
 * T x T matrix here: the backend attention op processes key blocks (online softmax).
 */
#include "models/ltx_transformer_internal.h"

#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FF_CHUNK_ROWS 4096 /* tokens per FFN chunk: bounds the (rows, 4*D) hidden */

/* ---- perturbations ---- */

bool ltx_ptb_type_parse(const char *name, ltx_ptb_type *out)
{
    static const char *names[LTX_PTB_COUNT] = {"SKIP_A2V_CROSS_ATTN", "SKIP_V2A_CROSS_ATTN",
                                               "SKIP_VIDEO_SELF_ATTN", "SKIP_AUDIO_SELF_ATTN"};
    for (int i = 0; i < LTX_PTB_COUNT; i++) {
        const char *a = names[i], *b = name;
        while (*a && *b && (*a == *b || *a == *b - 32))
            a++, b++;
        if (!*a && !*b) {
            *out = (ltx_ptb_type)i;
            return true;
        }
    }
    return false;
}

bool ltx_ptb_is_perturbed(const ltx_ptb_item *item, ltx_ptb_type type, int block)
{
    if (!item) return false;
    for (int i = 0; i < item->n; i++) {
        const ltx_perturbation *p = &item->list[i];
        if (p->type != type) continue;
        if (!p->blocks) return true;
        for (int j = 0; j < p->n_blocks; j++)
            if (p->blocks[j] == block) return true;
    }
    return false;
}

/* Counts batch items perturbing `type` at `block`; fills keep[b] = !perturbed. */
static int64_t ptb_count(const tf_ctx *c, ltx_ptb_type type, int block, bool *keep)
{
    int64_t n = 0;
    for (int64_t b = 0; b < c->B; b++) {
        bool p = c->ptb && ltx_ptb_is_perturbed(&c->ptb[b], type, block);
        keep[b] = !p;
        n += p;
    }
    return n;
}

/* ---- small helpers ---- */

ltx_tensor *ltx_tf_linear(ltx_backend *be, const ltx_tensor *x, const tf_lin *l)
{
    if (l->w_scale == 1.0f) return ltx_nn_linear(be, x, l->w, l->b);
    int64_t shape[LTX_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = l->w->shape[0];
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, x->ndim, shape);
    if (y && be->ops->linear(be, y, x, l->w, l->b, l->w_scale) != LTX_OK) {
        ltx_tensor_free(y);
        y = NULL;
    }
    return y;
}

/* dst = dst op b in place. */
static ltx_status tf_inplace(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst,
                             const ltx_tensor *b)
{
    return be->ops->binary(be, op, dst, dst, b);
}

ltx_tensor *ltx_tf_ada(ltx_backend *be, const ltx_tensor *table, int row, const ltx_tensor *mod,
                       int mrow, bool plus1)
{
    int64_t D = table->shape[1];
    ltx_tensor *tr = ltx_tensor_slice(table, 0, row, row + 1, 1);           /* (1, D) */
    ltx_tensor *mr = ltx_tensor_slice(mod, 2, mrow * D, (mrow + 1) * D, 1); /* (B, S, D) */
    ltx_tensor *out = (tr && mr) ? ltx_nn_binary(be, LTX_BINARY_ADD, tr, mr) : NULL;
    if (out && plus1 && be->ops->unary(be, LTX_UNARY_SCALE, out, out, 1.0, 1.0) != LTX_OK) {
        ltx_tensor_free(out);
        out = NULL;
    }
    ltx_tensor_free(tr);
    ltx_tensor_free(mr);
    return out;
}

/* dst op= rows per run (dst (B, T, D), rows (U, 1, D)); runs NULL/empty: dst op= rows. */
static ltx_status tf_rows_op(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst,
                             const ltx_tensor *rows, const tf_runs *runs)
{
    if (!runs || runs->n == 0) return tf_inplace(be, op, dst, rows);
    for (int i = 0; i < runs->n; i++) {
        const tf_run *r = &runs->r[i];
        ltx_tensor *db = ltx_tensor_slice(dst, 0, r->b, r->b + 1, 1);
        ltx_tensor *d = db ? ltx_tensor_slice(db, 1, r->t0, r->t1, 1) : NULL;
        ltx_tensor *w = ltx_tensor_slice(rows, 0, r->u, r->u + 1, 1);
        ltx_status s = (d && w) ? tf_inplace(be, op, d, w) : ltx_err_failed();
        ltx_tensor_free(db);
        ltx_tensor_free(d);
        ltx_tensor_free(w);
        if (s != LTX_OK) return s;
    }
    return LTX_OK;
}

/* One run of ltx_tf_modulate: out[b, t0:t1] = norm(x[b, t0:t1]) * (1 + scale[row]) + shift[row]. */
static ltx_status modulate_seg(ltx_backend *be, ltx_norm_op norm, ltx_tensor *out,
                               const ltx_tensor *x, const ltx_tensor *scale,
                               const ltx_tensor *shift, const tf_run *r, float eps)
{
    ltx_tensor *ob = ltx_tensor_slice(out, 0, r->b, r->b + 1, 1);
    ltx_tensor *xb = ltx_tensor_slice(x, 0, r->b, r->b + 1, 1);
    ltx_tensor *od = ob ? ltx_tensor_slice(ob, 1, r->t0, r->t1, 1) : NULL;
    ltx_tensor *xd = xb ? ltx_tensor_slice(xb, 1, r->t0, r->t1, 1) : NULL;
    ltx_tensor *sr = ltx_tensor_slice(scale, 0, r->u, r->u + 1, 1);
    ltx_tensor *hr = ltx_tensor_slice(shift, 0, r->u, r->u + 1, 1);
    ltx_status s = (od && xd && sr && hr) ? ltx_nn_norm_modulate(be, norm, od, xd, sr, hr, eps)
                                          : ltx_err_failed();
    ltx_tensor *fr[] = {ob, xb, od, xd, sr, hr};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        ltx_tensor_free(fr[i]);
    return s;
}

ltx_tensor *ltx_tf_modulate(ltx_backend *be, ltx_norm_op norm, const ltx_tensor *x,
                            const ltx_tensor *scale, const ltx_tensor *shift, float eps,
                            const tf_runs *runs)
{
    /* ref: norm(x) * (1 + scale) + shift, with scale = table + mod: the fused norm_modulate op
     * (one pass over x; its roundings are those of the norm with weight 1 + scale followed by
     * the shift add). scale/shift: (B or 1, 1, D) per item, or (U, 1, D) rows per run. */
    ltx_tensor *out = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
    ltx_status s = out ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK && (x->ndim != 3 || scale->ndim != 3 || shift->ndim != 3))
        s = ltx_err(LTX_ERR_INVALID_ARG, "modulate: x (B, T, D) and (., 1, D) tables expected");
    if (s == LTX_OK && runs && runs->n > 0) {
        for (int i = 0; s == LTX_OK && i < runs->n; i++)
            s = modulate_seg(be, norm, out, x, scale, shift, &runs->r[i], eps);
    } else if (s == LTX_OK) {
        s = ltx_nn_norm_modulate(be, norm, out, x, scale, shift, eps);
    }
    if (s != LTX_OK) {
        ltx_tensor_free(out);
        return NULL;
    }
    return out;
}

/* (B, T, H*D) contiguous -> (B, H, T, D) strided view. */
static ltx_tensor *heads_view(const ltx_tensor *x, int heads)
{
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2] / heads;
    int64_t s4[4] = {B, T, heads, D};
    ltx_tensor *r = ltx_tensor_reshape(x, 4, s4);
    static const int perm[4] = {0, 2, 1, 3};
    ltx_tensor *p = r ? ltx_tensor_permute(r, perm) : NULL;
    ltx_tensor_free(r);
    return p;
}

/* ---- attention ---- */

typedef struct attn_call {
    const ltx_tensor *x;                             /* (B, Tq, query_dim) */
    const ltx_tensor *ctx;                           /* (B, Tk, ctx_dim); NULL = x */
    const ltx_tensor *mask;                          /* additive or NULL */
    const ltx_tensor *q_cos, *q_sin, *k_cos, *k_sin; /* NULL = no RoPE */
    const bool *keep; /* per item: false = skip attention (use v); NULL = all keep */
    bool all_perturbed;
} attn_call;

/* q or k (B, T, H*D): RMSNorm over the inner dim with weight nw, then RoPE per head when cos
 * is given (the fused qk_norm_rope op); a new (B, T, H*D) tensor, viewed heads-first by the
 * caller. */
static ltx_tensor *qk_path(tf_ctx *c, const tf_attn *w, const ltx_tensor *x, const ltx_tensor *nw,
                           const ltx_tensor *cos, const ltx_tensor *sin)
{
    ltx_backend *be = c->be;
    float eps = (float)c->m->cfg.norm_eps;
    if (!cos) return ltx_nn_norm(be, LTX_NORM_RMS, x, nw, NULL, 0, eps);
    ltx_tensor *y = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
    if (y &&
        ltx_nn_qk_norm_rope(be, c->m->cfg.rope_type, y, x, nw, eps, w->heads, cos, sin) != LTX_OK) {
        ltx_tensor_free(y);
        y = NULL;
    }
    return y;
}

/* ref: Attention.forward -> to_out(gate * blend(SDPA(rope(qn), rope(kn), v), v)). */
static ltx_tensor *attention(tf_ctx *c, const tf_attn *w, const attn_call *a)
{
    ltx_backend *be = c->be;
    const ltx_tensor *ctx = a->ctx ? a->ctx : a->x;
    ltx_tensor *v = ltx_tf_linear(be, ctx, &w->v); /* (B, Tk, inner) */
    ltx_tensor *o = NULL, *q = NULL, *k = NULL, *qn = NULL, *kn = NULL, *qh = NULL, *kh = NULL,
               *vh = NULL, *oh = NULL, *out = NULL;
    if (!v) return NULL;
    if (a->all_perturbed) {
        o = v; /* ref: all items skip: out = v (q/k path skipped) */
        v = NULL;
    } else {
        /* q and k each: projection -> RMSNorm over the inner dim -> RoPE (heads first); the
         * intermediates are released as soon as the next one exists (views keep buffers) */
        q = ltx_tf_linear(be, a->x, &w->q);
        qn = q ? qk_path(c, w, q, w->q_norm, a->q_cos, a->q_sin) : NULL;
        ltx_tensor_free(q);
        qh = qn ? heads_view(qn, w->heads) : NULL;
        ltx_tensor_free(qn);
        qn = NULL;
        k = qh ? ltx_tf_linear(be, ctx, &w->k) : NULL;
        kn = k ? qk_path(c, w, k, w->k_norm, a->q_cos ? (a->k_cos ? a->k_cos : a->q_cos) : NULL,
                         a->k_sin ? a->k_sin : a->q_sin)
               : NULL;
        ltx_tensor_free(k);
        kh = kn ? heads_view(kn, w->heads) : NULL;
        ltx_tensor_free(kn);
        kn = NULL;
        vh = kh ? heads_view(v, w->heads) : NULL;
        if (!vh) goto done;
        oh = ltx_nn_attention(be, qh, kh, vh, a->mask, 1.0f / sqrtf((float)w->d_head));
        ltx_tensor_free(qh);
        ltx_tensor_free(kh);
        qh = kh = NULL;
        if (!oh) goto done;
        /* ref: out * m + v * (1 - m) per item; m in {0, 1} -> v for the skipped items,
         * copied in the heads-first layout of oh */
        for (int64_t bi = 0; a->keep && bi < c->B; bi++) {
            if (a->keep[bi]) continue;
            ltx_tensor *d = ltx_tensor_slice(oh, 0, bi, bi + 1, 1);
            ltx_tensor *sv = ltx_tensor_slice(vh, 0, bi, bi + 1, 1);
            ltx_status st = (d && sv) ? be->ops->copy(be, d, sv) : ltx_err_failed();
            ltx_tensor_free(d);
            ltx_tensor_free(sv);
            if (st != LTX_OK) goto done;
        }
    }
    ltx_tensor_free(vh);
    ltx_tensor_free(v);
    vh = v = NULL;
    /* (B, H, Tq, D) -> (B, Tq, H, D): a view; the gate multiply (or a copy) makes it
     * contiguous in one pass */
    static const int perm[4] = {0, 2, 1, 3};
    ltx_tensor *src4 = NULL;
    int64_t B = a->x->shape[0], Tq = a->x->shape[1];
    int64_t o4s[4] = {B, Tq, w->heads, w->d_head}, s3[3] = {B, Tq, (int64_t)w->heads * w->d_head};
    src4 = oh ? ltx_tensor_permute(oh, perm) : ltx_tensor_reshape(o, 4, o4s);
    if (!src4) goto done;
    ltx_tensor *o4 = NULL;
    if (w->gate.w) {
        /* ref: gates = 2 * sigmoid(to_gate_logits(x)) per head, (B, T, H, 1) broadcast */
        ltx_tensor *gl = ltx_tf_linear(be, a->x, &w->gate);
        ltx_status s = gl ? be->ops->unary(be, LTX_UNARY_SIGMOID, gl, gl, 0, 0) : ltx_err_failed();
        if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, gl, gl, 2.0, 0.0);
        int64_t g4[4] = {B, Tq, w->heads, 1};
        ltx_tensor *g = s == LTX_OK ? ltx_tensor_reshape(gl, 4, g4) : NULL;
        o4 = g ? ltx_nn_binary(be, LTX_BINARY_MUL, src4, g) : NULL;
        ltx_tensor_free(gl);
        ltx_tensor_free(g);
    } else {
        o4 = ltx_nn_contiguous(be, src4, LTX_F32);
    }
    ltx_tensor_free(src4);
    ltx_tensor_free(o);
    o = o4 ? ltx_tensor_reshape(o4, 3, s3) : NULL;
    ltx_tensor_free(o4);
    if (!o) goto done;
    out = ltx_tf_linear(be, o, &w->out);
done:
    ltx_tensor_free(v);
    ltx_tensor_free(o);
    ltx_tensor_free(qn);
    ltx_tensor_free(kn);
    ltx_tensor_free(qh);
    ltx_tensor_free(kh);
    ltx_tensor_free(vh);
    ltx_tensor_free(oh);
    return out;
}

/* ---- feed-forward ---- */

/* ref: FeedForward: Linear(D, 4D) -> GELU(tanh) -> Linear(4D, D), in token chunks. */
static ltx_tensor *feed_forward(tf_ctx *c, const tf_lin *l1, const tf_lin *l2, const ltx_tensor *x)
{
    ltx_backend *be = c->be;
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2], N = B * T;
    int64_t H = l1->w->shape[0], Do = l2->w->shape[0];
    int64_t s2[2] = {N, D}, so[2] = {N, Do};
    ltx_tensor *x2 = ltx_tensor_reshape(x, 2, s2);
    ltx_tensor *y2 = x2 ? ltx_tensor_new(be, LTX_F32, 2, so) : NULL;
    int64_t rows = N < FF_CHUNK_ROWS ? N : FF_CHUNK_ROWS;
    int64_t hs[2] = {rows, H};
    ltx_tensor *h = y2 ? ltx_tensor_new(be, LTX_F32, 2, hs) : NULL;
    ltx_status s = h ? LTX_OK : ltx_err_failed();
    for (int64_t r0 = 0; s == LTX_OK && r0 < N; r0 += rows) {
        int64_t r1 = r0 + rows < N ? r0 + rows : N;
        ltx_tensor *xs = ltx_tensor_slice(x2, 0, r0, r1, 1);
        ltx_tensor *hsl = ltx_tensor_slice(h, 0, 0, r1 - r0, 1);
        ltx_tensor *ys = ltx_tensor_slice(y2, 0, r0, r1, 1);
        /* Linear + GELU(tanh): the fused linear_act op (a GEMM epilogue on CUDA) */
        s = (xs && hsl && ys)
                ? ltx_nn_linear_act(be, hsl, xs, l1->w, l1->b, l1->w_scale, LTX_UNARY_GELU_TANH)
                : ltx_err_failed();
        if (s == LTX_OK) s = be->ops->linear(be, ys, hsl, l2->w, l2->b, l2->w_scale);
        ltx_tensor_free(xs);
        ltx_tensor_free(hsl);
        ltx_tensor_free(ys);
    }
    ltx_tensor_free(h);
    ltx_tensor_free(x2);
    ltx_tensor *y = NULL;
    if (s == LTX_OK) {
        int64_t s3[3] = {B, T, Do};
        y = ltx_tensor_reshape(y2, 3, s3);
    }
    ltx_tensor_free(y2);
    return y;
}

/* ---- block ---- */

/* "block<idx>.<module>.out" (module output, before gate/residual; golden names) and
 * "block<idx>.<module>.in" (its modulated query input). */
static void tap_block_io(tf_ctx *c, int idx, const char *what, const char *io, const ltx_tensor *t)
{
    if (!c->taps) return;
    char name[96];
    snprintf(name, sizeof name, "block%d.%s.%s", idx, what, io);
    ltx_tap(c->taps, name, t);
}

static void tap_block(tf_ctx *c, int idx, const char *what, const ltx_tensor *t)
{
    tap_block_io(c, idx, what, "out", t);
}

/* x += t * gate (gate broadcast, or rows per run; NULL = 1) with the fused gated_add op;
 * keep: per item add (NULL = all). Frees t. */
static ltx_status residual(ltx_backend *be, ltx_tensor *x, ltx_tensor *t, const ltx_tensor *gate,
                           const tf_runs *runs, const bool *keep, int64_t B)
{
    ltx_status s = t ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK && !keep && (!gate || !runs || runs->n == 0))
        s = ltx_nn_gated_add(be, x, x, t, gate);
    for (int i = 0; s == LTX_OK && !keep && gate && runs && i < runs->n; i++) {
        /* runs partition the tokens: x[b, t0:t1] += t[b, t0:t1] * gate[u] */
        const tf_run *r = &runs->r[i];
        ltx_tensor *xb = ltx_tensor_slice(x, 0, r->b, r->b + 1, 1);
        ltx_tensor *tb = ltx_tensor_slice(t, 0, r->b, r->b + 1, 1);
        ltx_tensor *xd = xb ? ltx_tensor_slice(xb, 1, r->t0, r->t1, 1) : NULL;
        ltx_tensor *td = tb ? ltx_tensor_slice(tb, 1, r->t0, r->t1, 1) : NULL;
        ltx_tensor *g = ltx_tensor_slice(gate, 0, r->u, r->u + 1, 1);
        s = (xd && td && g) ? ltx_nn_gated_add(be, xd, xd, td, g) : ltx_err_failed();
        ltx_tensor *fr[] = {xb, tb, xd, td, g};
        for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++)
            ltx_tensor_free(fr[k]);
    }
    for (int64_t b = 0; s == LTX_OK && keep && b < B; b++) {
        if (!keep[b]) continue; /* ref: * mask (0) -> no update */
        ltx_tensor *xb = ltx_tensor_slice(x, 0, b, b + 1, 1);
        ltx_tensor *tb = ltx_tensor_slice(t, 0, b, b + 1, 1);
        ltx_tensor *gb =
            gate && gate->shape[0] == B ? ltx_tensor_slice(gate, 0, b, b + 1, 1) : NULL;
        const ltx_tensor *g = gb ? gb : gate;
        s = (xb && tb && (!gate || g)) ? ltx_nn_gated_add(be, xb, xb, tb, g) : ltx_err_failed();
        ltx_tensor_free(xb);
        ltx_tensor_free(tb);
        ltx_tensor_free(gb);
    }
    ltx_tensor_free(t);
    return s;
}

/* Self-attention + text cross-attention of one stream (ref: the run_vx / run_ax parts). */
static ltx_status stream_attn(tf_ctx *c, int idx, tf_args *a, const tf_attn *a1, const tf_attn *a2,
                              const ltx_tensor *sst, const ltx_tensor *psst, ltx_ptb_type skip,
                              const char *n1, const char *n2)
{
    ltx_backend *be = c->be;
    float eps = (float)c->m->cfg.norm_eps;
    bool keep[64], *kp = NULL;
    bool kbuf_ok = c->B <= 64;
    if (!kbuf_ok) return ltx_err(LTX_ERR_UNSUPPORTED, "batch > 64");
    int64_t np = ptb_count(c, skip, idx, keep);
    if (np > 0 && np < c->B) kp = keep;
    /* self-attention: rows 0 shift, 1 scale, 2 gate */
    ltx_tensor *shift = ltx_tf_ada(be, sst, 0, a->timesteps, 0, false);
    ltx_tensor *scale = shift ? ltx_tf_ada(be, sst, 1, a->timesteps, 1, false) : NULL;
    ltx_tensor *gate = scale ? ltx_tf_ada(be, sst, 2, a->timesteps, 2, false) : NULL;
    ltx_tensor *nx =
        gate ? ltx_tf_modulate(be, LTX_NORM_RMS, a->x, scale, shift, eps, &a->runs) : NULL;
    ltx_tensor_free(shift);
    ltx_tensor_free(scale);
    ltx_status s = nx ? LTX_OK : ltx_err_failed();
    if (nx) {
        tap_block_io(c, idx, n1, "in", nx);
        attn_call ac = {.x = nx,
                        .mask = a->self_mask,
                        .q_cos = a->pe_cos,
                        .q_sin = a->pe_sin,
                        .keep = kp,
                        .all_perturbed = np == c->B};
        ltx_tensor *o = attention(c, a1, &ac);
        if (o) tap_block(c, idx, n1, o);
        s = residual(be, a->x, o, gate, &a->runs, NULL, c->B);
    }
    ltx_tensor_free(nx);
    ltx_tensor_free(gate);
    if (s != LTX_OK) return s;
    /* text cross-attention */
    if (c->m->cfg.cross_attention_adaln) {
        /* ref: apply_cross_attention_adaln — rows 6 shift_q, 7 scale_q, 8 gate; kv modulated
         * by the prompt table (0 shift_kv, 1 scale_kv) + prompt AdaLN */
        ltx_tensor *sq = ltx_tf_ada(be, sst, 6, a->timesteps, 6, false);
        ltx_tensor *cq = sq ? ltx_tf_ada(be, sst, 7, a->timesteps, 7, false) : NULL;
        ltx_tensor *gq = cq ? ltx_tf_ada(be, sst, 8, a->timesteps, 8, false) : NULL;
        ltx_tensor *skv = gq ? ltx_tf_ada(be, psst, 0, a->prompt_ts, 0, false) : NULL;
        ltx_tensor *ckv = skv ? ltx_tf_ada(be, psst, 1, a->prompt_ts, 1, true) : NULL;
        ltx_tensor *qin =
            ckv ? ltx_tf_modulate(be, LTX_NORM_RMS, a->x, cq, sq, eps, &a->runs) : NULL;
        ltx_tensor *kv = qin ? ltx_nn_binary(be, LTX_BINARY_MUL, a->context, ckv) : NULL;
        s = kv ? tf_inplace(be, LTX_BINARY_ADD, kv, skv) : ltx_err_failed();
        ltx_tensor *o = NULL;
        if (s == LTX_OK) {
            tap_block_io(c, idx, n2, "in", qin);
            attn_call ac = {.x = qin, .ctx = kv, .mask = a->context_mask};
            o = attention(c, a2, &ac);
            if (o) tap_block(c, idx, n2, o);
            s = residual(be, a->x, o, gq, &a->runs, NULL, c->B);
        }
        ltx_tensor *fr[] = {sq, cq, gq, skv, ckv, qin, kv};
        for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
            ltx_tensor_free(fr[i]);
    } else {
        /* ref: attn(rms_norm(x), context, mask), no gate */
        ltx_tensor *nq = ltx_nn_norm(be, LTX_NORM_RMS, a->x, NULL, NULL, 0, eps);
        s = nq ? LTX_OK : ltx_err_failed();
        if (nq) {
            attn_call ac = {.x = nq, .ctx = a->context, .mask = a->context_mask};
            ltx_tensor *o = attention(c, a2, &ac);
            if (o) tap_block(c, idx, n2, o);
            s = residual(be, a->x, o, NULL, NULL, NULL, c->B);
        }
        ltx_tensor_free(nq);
    }
    return s;
}

/* norm(x) * (1 + table[rs] + ss[rs]) + (table[rs+1] + ss[rs+1]) for the A<->V rows
 * (5-row tables: 0 scale a2v, 1 shift a2v, 2 scale v2a, 3 shift v2a). */
static ltx_tensor *av_scaled(tf_ctx *c, const ltx_tensor *n, const ltx_tensor *table,
                             const tf_args *a, int rs)
{
    ltx_backend *be = c->be;
    const ltx_tensor *ss = a->cross_ss;
    ltx_tensor *sc = ltx_tf_ada(be, table, rs, ss, rs, true);
    ltx_tensor *sh = sc ? ltx_tf_ada(be, table, rs + 1, ss, rs + 1, false) : NULL;
    ltx_tensor *y = NULL;
    if (sh && a->cross_runs.n) { /* per-token rows (1.2): the same ops run by run */
        y = ltx_nn_contiguous(be, n, LTX_F32);
        if (y && (tf_rows_op(be, LTX_BINARY_MUL, y, sc, &a->cross_runs) != LTX_OK ||
                  tf_rows_op(be, LTX_BINARY_ADD, y, sh, &a->cross_runs) != LTX_OK)) {
            ltx_tensor_free(y);
            y = NULL;
        }
    } else if (sh) {
        y = ltx_nn_binary(be, LTX_BINARY_MUL, n, sc);
    }
    if (y && !a->cross_runs.n && tf_inplace(be, LTX_BINARY_ADD, y, sh) != LTX_OK) {
        ltx_tensor_free(y);
        y = NULL;
    }
    ltx_tensor_free(sc);
    ltx_tensor_free(sh);
    return y;
}

/* Audio <-> video cross attention (ref: the run_a2v / run_v2a part). */
static ltx_status av_cross(tf_ctx *c, int idx, tf_args *v, tf_args *a, bool run_a2v, bool run_v2a)
{
    ltx_backend *be = c->be;
    const tf_block *b = &c->m->blocks[idx];
    float eps = (float)c->m->cfg.norm_eps;
    bool keep[64];
    if (c->B > 64) return ltx_err(LTX_ERR_UNSUPPORTED, "batch > 64");
    /* both norms from the states before either update */
    ltx_tensor *nv = ltx_nn_norm(be, LTX_NORM_RMS, v->x, NULL, NULL, 0, eps);
    ltx_tensor *na = nv ? ltx_nn_norm(be, LTX_NORM_RMS, a->x, NULL, NULL, 0, eps) : NULL;
    ltx_status s = na ? LTX_OK : ltx_err_failed();
    int64_t np = ptb_count(c, LTX_PTB_SKIP_A2V_CROSS_ATTN, idx, keep);
    if (s == LTX_OK && run_a2v && np < c->B) {
        ltx_tensor *vq = av_scaled(c, nv, b->sst_a2v_video, v, 0);
        ltx_tensor *ak = vq ? av_scaled(c, na, b->sst_a2v_audio, a, 0) : NULL;
        ltx_tensor *g = ak ? ltx_tf_ada(be, b->sst_a2v_video, 4, v->cross_gate, 0, false) : NULL;
        ltx_tensor *o = NULL;
        if (g) {
            tap_block_io(c, idx, "audio_to_video_attn", "in", vq);
            attn_call ac = {.x = vq,
                            .ctx = ak,
                            .q_cos = v->cross_cos,
                            .q_sin = v->cross_sin,
                            .k_cos = a->cross_cos,
                            .k_sin = a->cross_sin};
            o = attention(c, &b->a2v, &ac);
            if (o) tap_block(c, idx, "audio_to_video_attn", o);
        }
        s = g ? residual(be, v->x, o, g, NULL, np ? keep : NULL, c->B) : ltx_err_failed();
        ltx_tensor_free(vq);
        ltx_tensor_free(ak);
        ltx_tensor_free(g);
    }
    np = ptb_count(c, LTX_PTB_SKIP_V2A_CROSS_ATTN, idx, keep);
    if (s == LTX_OK && run_v2a && np < c->B) {
        ltx_tensor *aq = av_scaled(c, na, b->sst_a2v_audio, a, 2);
        ltx_tensor *vk = aq ? av_scaled(c, nv, b->sst_a2v_video, v, 2) : NULL;
        ltx_tensor *g = vk ? ltx_tf_ada(be, b->sst_a2v_audio, 4, a->cross_gate, 0, false) : NULL;
        ltx_tensor *o = NULL;
        if (g) {
            tap_block_io(c, idx, "video_to_audio_attn", "in", aq);
            attn_call ac = {.x = aq,
                            .ctx = vk,
                            .q_cos = a->cross_cos,
                            .q_sin = a->cross_sin,
                            .k_cos = v->cross_cos,
                            .k_sin = v->cross_sin};
            o = attention(c, &b->v2a, &ac);
            if (o) tap_block(c, idx, "video_to_audio_attn", o);
        }
        s = g ? residual(be, a->x, o, g, NULL, np ? keep : NULL, c->B) : ltx_err_failed();
        ltx_tensor_free(aq);
        ltx_tensor_free(vk);
        ltx_tensor_free(g);
    }
    ltx_tensor_free(nv);
    ltx_tensor_free(na);
    return s;
}

/* FFN of one stream: rows 3 shift, 4 scale, 5 gate. */
static ltx_status stream_ff(tf_ctx *c, int idx, tf_args *a, const tf_lin *l1, const tf_lin *l2,
                            const ltx_tensor *sst, const char *name)
{
    ltx_backend *be = c->be;
    ltx_tensor *shift = ltx_tf_ada(be, sst, 3, a->timesteps, 3, false);
    ltx_tensor *scale = shift ? ltx_tf_ada(be, sst, 4, a->timesteps, 4, false) : NULL;
    ltx_tensor *gate = scale ? ltx_tf_ada(be, sst, 5, a->timesteps, 5, false) : NULL;
    ltx_tensor *nx = gate ? ltx_tf_modulate(be, LTX_NORM_RMS, a->x, scale, shift,
                                            (float)c->m->cfg.norm_eps, &a->runs)
                          : NULL;
    ltx_status s = nx ? LTX_OK : ltx_err_failed();
    if (nx) {
        tap_block_io(c, idx, name, "in", nx);
        ltx_tensor *o = feed_forward(c, l1, l2, nx);
        if (o) tap_block(c, idx, name, o);
        s = residual(be, a->x, o, gate, &a->runs, NULL, c->B);
    }
    ltx_tensor_free(shift);
    ltx_tensor_free(scale);
    ltx_tensor_free(gate);
    ltx_tensor_free(nx);
    return s;
}

ltx_status ltx_tf_block_forward(tf_ctx *c, int idx, tf_args *v, tf_args *a)
{
    const tf_block *b = &c->m->blocks[idx];
    bool vhas = v && v->T > 0, ahas = a && a->T > 0;
    bool run_v = vhas && v->enabled, run_a = ahas && a->enabled;
    bool run_a2v = run_v && ahas && v->cross_ss && a->cross_ss;
    bool run_v2a = run_a && vhas && v->cross_ss && a->cross_ss;
    if (run_v)
        LTX_TRY(stream_attn(c, idx, v, &b->attn1, &b->attn2, b->sst, b->prompt_sst,
                            LTX_PTB_SKIP_VIDEO_SELF_ATTN, "attn1", "attn2"));
    if (run_a)
        LTX_TRY(stream_attn(c, idx, a, &b->audio_attn1, &b->audio_attn2, b->audio_sst,
                            b->audio_prompt_sst, LTX_PTB_SKIP_AUDIO_SELF_ATTN, "audio_attn1",
                            "audio_attn2"));
    if (run_a2v || run_v2a) LTX_TRY(av_cross(c, idx, v, a, run_a2v, run_v2a));
    if (run_v) LTX_TRY(stream_ff(c, idx, v, &b->ff1, &b->ff2, b->sst, "ff"));
    if (run_a)
        LTX_TRY(stream_ff(c, idx, a, &b->audio_ff1, &b->audio_ff2, b->audio_sst, "audio_ff"));
    return LTX_OK;
}
