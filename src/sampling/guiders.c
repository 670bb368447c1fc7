/*
 * guiders.c — guidance combinations through backend ops (see guiders.h).
 *
 * ref: ltx_core/components/guiders.py @ a2c3f24. Operation order and rounding follow the
 * torch expressions: every tensor op rounds to the reference tensor dtype (state_dtype), a
 * Python scalar multiplier is applied in float32 (torch's opmath for f32/bf16 tensors), 0-dim
 * results (std, factors) are host scalars rounded the same way. Reductions run on the backend
 * (double accumulation on CPU; torch uses cascade f32 or Welford — equal to f32 rounding) and
 * only their scalar results are downloaded, so every backend works.
 */
#include "sampling/guiders.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- params ---- */

void ltx_guider_params_init(ltx_guider_params *p)
{
    memset(p, 0, sizeof *p);
    p->cfg_scale = 1.0;
    p->modality_scale = 1.0;
}

/* ref: math.isclose(a, b) with rel_tol 1e-9, abs_tol 0 */
static bool isclose(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

bool ltx_guider_do_uncond(const ltx_guider_params *p)
{
    return !isclose(p->cfg_scale, 1.0);
}
bool ltx_guider_do_perturbed(const ltx_guider_params *p)
{
    return !isclose(p->stg_scale, 0.0);
}
bool ltx_guider_do_modality(const ltx_guider_params *p)
{
    return !isclose(p->modality_scale, 1.0);
}

bool ltx_guider_should_skip_step(const ltx_guider_params *p, int step)
{
    if (p->skip_step == 0) return false;
    /* int64: skip_step + 1 overflows int at INT_MAX (Python's ints do not) */
    return (int64_t)step % ((int64_t)p->skip_step + 1) != 0;
}

void ltx_guider_factory_constant(ltx_guider_factory *f, const ltx_guider_params *p)
{
    memset(f, 0, sizeof *f);
    f->n = 1;
    f->sigma_key[0] = INFINITY;
    f->params[0] = *p;
}

ltx_status ltx_guider_factory_add(ltx_guider_factory *f, double sigma_key,
                                  const ltx_guider_params *p)
{
    for (int i = 0; i < f->n; i++)
        if (f->sigma_key[i] == sigma_key) {
            f->params[i] = *p;
            return LTX_OK;
        }
    if (f->n >= LTX_MAX_GUIDER_BINS)
        return ltx_err(LTX_ERR_INVALID_ARG, "guider factory: more than %d sigma bins",
                       LTX_MAX_GUIDER_BINS);
    int i = f->n++;
    while (i > 0 && f->sigma_key[i - 1] < sigma_key) { /* keep descending */
        f->sigma_key[i] = f->sigma_key[i - 1];
        f->params[i] = f->params[i - 1];
        i--;
    }
    f->sigma_key[i] = sigma_key;
    f->params[i] = *p;
    return LTX_OK;
}

const ltx_guider_params *ltx_guider_factory_params(const ltx_guider_factory *f, double sigma)
{
    /* ref: _params_for_sigma_from_sorted_dict: the last (smallest) key >= sigma, else the first */
    int pick = 0;
    for (int i = 0; i < f->n; i++)
        if (f->sigma_key[i] >= sigma) pick = i;
    return &f->params[pick];
}

/* ---- helpers ---- */

static ltx_status round_t(ltx_backend *be, ltx_tensor *t, ltx_dtype dt)
{
    if (dt == LTX_BF16) return be->ops->unary(be, LTX_UNARY_ROUND_BF16, t, t, 0, 0);
    return LTX_OK;
}

static ltx_tensor *new_like(ltx_backend *be, const ltx_tensor *t)
{
    return ltx_tensor_new(be, LTX_F32, t->ndim, t->shape);
}

/* Contiguous (rows, cols) view of t (rows = product of the first `lead` dims), copying when t is
 * strided. */
static ltx_tensor *flat2d(ltx_backend *be, const ltx_tensor *t, int lead)
{
    int64_t rows = 1, cols = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (i < lead)
            rows *= t->shape[i];
        else
            cols *= t->shape[i];
    }
    int64_t shp[2] = {rows, cols};
    if (ltx_tensor_is_contiguous(t)) return ltx_tensor_reshape(t, 2, shp);
    ltx_tensor *c = ltx_tensor_new(be, t->dtype == LTX_F64 ? LTX_F64 : LTX_F32, t->ndim, t->shape);
    if (!c) return NULL;
    if (be->ops->copy(be, c, t) != LTX_OK) {
        ltx_tensor_free(c);
        return NULL;
    }
    ltx_tensor *r = ltx_tensor_reshape(c, 2, shp);
    ltx_tensor_free(c);
    return r;
}

/* Per-row reduction of the flattened tensor (rows = first `lead` dims) into host f32. */
static ltx_status reduce_rows(ltx_backend *be, ltx_reduce_op op, const ltx_tensor *t, int lead,
                              float *out)
{
    ltx_tensor *f = flat2d(be, t, lead);
    if (!f) return ltx_err_failed();
    int64_t shp[2] = {f->shape[0], 1};
    ltx_tensor *r = ltx_tensor_new(be, LTX_F32, 2, shp);
    ltx_status s = r ? be->ops->reduce(be, op, r, f, 1) : ltx_err_failed();
    if (s == LTX_OK) s = ltx_tensor_download(r, out, LTX_F32);
    ltx_tensor_free(r);
    ltx_tensor_free(f);
    return s;
}

/* Unbiased std over all elements as a device tensor of rank t->ndim, all dims 1: the variance
 * reduced on the device, then its f32 square root (correctly rounded, the same value as
 * host version's double sqrt rounded once), rounded to dt. *out new. */
static ltx_status std_device(ltx_backend *be, const ltx_tensor *t, ltx_dtype dt, ltx_tensor **out)
{
    *out = NULL;
    ltx_tensor *f = flat2d(be, t, 0); /* (1, N) */
    if (!f) return ltx_err_failed();
    int64_t one[LTX_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        one[i] = 1;
    ltx_tensor *r = ltx_tensor_new(be, LTX_F32, t->ndim, one);
    ltx_tensor *r2 = r ? ltx_tensor_reshape(r, 2, one) : NULL;
    ltx_status s = r2 ? be->ops->reduce(be, LTX_REDUCE_VAR, r2, f, 1) : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SQRT, r, r, 0, 0);
    if (s == LTX_OK) s = round_t(be, r, dt);
    ltx_tensor_free(f);
    ltx_tensor_free(r2);
    if (s != LTX_OK) {
        ltx_tensor_free(r);
        return s;
    }
    *out = r;
    return LTX_OK;
}

/* ref: rescale — factor = rescale * (std(cond) / std(pred)) + (1 - rescale), each step rounded
 * to the state dtype as 0-dim tensors; pred *= factor. All on the device: no host sync (the
 * host version downloaded both stds). */
static ltx_status rescale_on_device(ltx_backend *be, const ltx_guider_params *p, ltx_tensor *pred,
                                    const ltx_tensor *cond, ltx_dtype dt)
{
    ltx_tensor *sc = NULL, *sp = NULL;
    ltx_status s = std_device(be, cond, dt, &sc);
    if (s == LTX_OK) s = std_device(be, pred, dt, &sp);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_DIV, sc, sc, sp);
    if (s == LTX_OK) s = round_t(be, sc, dt);
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, sc, sc, (float)p->rescale_scale, 0);
    if (s == LTX_OK) s = round_t(be, sc, dt);
    if (s == LTX_OK)
        s = be->ops->unary(be, LTX_UNARY_SCALE, sc, sc, 1.0, (float)(1 - p->rescale_scale));
    if (s == LTX_OK) s = round_t(be, sc, dt);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, pred, pred, sc);
    if (s == LTX_OK) s = round_t(be, pred, dt);
    ltx_tensor_free(sc);
    ltx_tensor_free(sp);
    return s;
}

/* dst = round(scale * (cond - other)) with other == NULL meaning the scalar 0. */
static ltx_status scaled_diff(ltx_backend *be, ltx_tensor *dst, double scale,
                              const ltx_tensor *cond, const ltx_tensor *other, ltx_dtype dt)
{
    if (other) {
        LTX_TRY(be->ops->binary(be, LTX_BINARY_SUB, dst, cond, other));
        LTX_TRY(round_t(be, dst, dt));
        LTX_TRY(be->ops->unary(be, LTX_UNARY_SCALE, dst, dst, scale, 0));
    } else {
        LTX_TRY(be->ops->unary(be, LTX_UNARY_SCALE, dst, cond, scale, 0));
    }
    return round_t(be, dst, dt);
}

/* ---- multi-modal guider ---- */

ltx_status ltx_multimodal_guider_calculate(ltx_backend *be, const ltx_guider_params *p,
                                           ltx_tensor *out, const ltx_tensor *cond,
                                           const ltx_tensor *uncond, const ltx_tensor *ptb,
                                           const ltx_tensor *mod_out, ltx_dtype state_dtype)
{
    if (!ltx_tensor_same_shape(out, cond))
        return ltx_err(LTX_ERR_INVALID_ARG, "multimodal guider: out and cond differ in shape");
    ltx_tensor *term = new_like(be, cond);
    ltx_tensor *pred = new_like(be, cond);
    ltx_status s = term && pred ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->copy(be, pred, cond);
    /* ref: cond + (cfg-1)*(cond-uncond) + stg*(cond-ptb) + (mod-1)*(cond-mod), left to right */
    const ltx_tensor *others[3] = {uncond, ptb, mod_out};
    const double scales[3] = {p->cfg_scale - 1, p->stg_scale, p->modality_scale - 1};
    for (int i = 0; i < 3 && s == LTX_OK; i++) {
        s = scaled_diff(be, term, scales[i], cond, others[i], state_dtype);
        if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, pred, pred, term);
        if (s == LTX_OK) s = round_t(be, pred, state_dtype);
    }
    if (s == LTX_OK && p->rescale_scale != 0) s = rescale_on_device(be, p, pred, cond, state_dtype);
    if (s == LTX_OK) s = be->ops->copy(be, out, pred);
    ltx_tensor_free(term);
    ltx_tensor_free(pred);
    return s;
}

/* ---- other guiders (float32) ---- */

ltx_status ltx_projection_coef(ltx_backend *be, const ltx_tensor *to_project,
                               const ltx_tensor *project_onto, float *coef)
{
    if (!ltx_tensor_same_shape(to_project, project_onto))
        return ltx_err(LTX_ERR_INVALID_ARG, "projection_coef: shapes differ");
    int64_t B = to_project->shape[0];
    ltx_tensor *prod = new_like(be, to_project);
    float *dot = malloc(sizeof(float) * (size_t)B * 2);
    ltx_status s = !prod ? ltx_err_failed() : dot ? LTX_OK : ltx_err(LTX_ERR_OOM, "out of memory");
    /* ref: sum(a*b, dim=1) and sum(b**2, dim=1) over (B, -1) views, products rounded to f32 */
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, prod, to_project, project_onto);
    if (s == LTX_OK) s = reduce_rows(be, LTX_REDUCE_SUM, prod, 1, dot);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, prod, project_onto, project_onto);
    if (s == LTX_OK) s = reduce_rows(be, LTX_REDUCE_SUM, prod, 1, dot + B);
    for (int64_t b = 0; s == LTX_OK && b < B; b++) {
        volatile float sq = dot[B + b] + 1e-8f; /* f32 add, then f32 division */
        coef[b] = dot[b] / sq;
    }
    ltx_tensor_free(prod);
    free(dot);
    return s;
}

/* out[b] = x[b] * coef[b] (per batch item scalar), via a (B, 1, ...) device tensor. */
static ltx_status scale_rows(ltx_backend *be, ltx_tensor *out, const ltx_tensor *x,
                             const float *coef)
{
    int64_t shp[LTX_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        shp[i] = i == 0 ? x->shape[0] : 1;
    ltx_tensor *c = ltx_tensor_from_host(be, LTX_F32, x->ndim, shp, coef);
    if (!c) return ltx_err_failed();
    ltx_status s = be->ops->binary(be, LTX_BINARY_MUL, out, x, c);
    ltx_tensor_free(c);
    return s;
}

ltx_status ltx_cfg_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *uncond)
{
    return scaled_diff(be, out, scale - 1, cond, uncond, LTX_F32);
}

ltx_status ltx_cfg_star_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                     const ltx_tensor *cond, const ltx_tensor *uncond)
{
    int64_t B = cond->shape[0];
    float *coef = malloc(sizeof(float) * (size_t)B);
    ltx_tensor *neg = new_like(be, cond);
    ltx_status s = !neg ? ltx_err_failed() : coef ? LTX_OK : ltx_err(LTX_ERR_OOM, "out of memory");
    if (s == LTX_OK) s = ltx_projection_coef(be, cond, uncond, coef);
    if (s == LTX_OK) s = scale_rows(be, neg, uncond, coef); /* rescaled_neg */
    if (s == LTX_OK) s = scaled_diff(be, out, scale - 1, cond, neg, LTX_F32);
    ltx_tensor_free(neg);
    free(coef);
    return s;
}

ltx_status ltx_stg_guider_delta(ltx_backend *be, double scale, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *perturbed)
{
    return scaled_diff(be, out, scale, cond, perturbed, LTX_F32);
}

/* g_apg = p * eta + (g - p), p = projection_coef(g, cond) * cond; g is modified. */
static ltx_status apg_core(ltx_backend *be, double eta, double norm_threshold, ltx_tensor *g,
                           const ltx_tensor *cond, ltx_tensor *out)
{
    int64_t B = cond->shape[0];
    if (norm_threshold > 0) {
        /* ref: guidance.norm(p=2, dim=[-1, -2, -3], keepdim=True); min(1, nt / norm) */
        int lead = g->ndim > 3 ? g->ndim - 3 : 0;
        int64_t rows = 1;
        for (int i = 0; i < lead; i++)
            rows *= g->shape[i];
        ltx_tensor *sq = new_like(be, g);
        float *nrm = malloc(sizeof(float) * (size_t)rows);
        ltx_status s = !sq   ? ltx_err_failed()
                       : nrm ? LTX_OK
                             : ltx_err(LTX_ERR_OOM, "out of memory");
        if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SQUARE, sq, g, 0, 0);
        if (s == LTX_OK) s = reduce_rows(be, LTX_REDUCE_SUM, sq, lead, nrm);
        ltx_tensor_free(sq);
        if (s == LTX_OK) {
            int64_t shp[LTX_MAX_DIMS];
            for (int i = 0; i < g->ndim; i++)
                shp[i] = i < lead ? g->shape[i] : 1;
            for (int64_t r = 0; r < rows; r++) {
                float n = (float)sqrt((double)nrm[r]);
                float f = (float)norm_threshold / n;
                nrm[r] = f < 1.0f ? f : 1.0f; /* torch.minimum(ones, nt / norm) */
            }
            ltx_tensor *sf = ltx_tensor_from_host(be, LTX_F32, g->ndim, shp, nrm);
            s = sf ? be->ops->binary(be, LTX_BINARY_MUL, g, g, sf) : ltx_err_failed();
            ltx_tensor_free(sf);
        }
        free(nrm);
        LTX_TRY(s);
    }
    float *coef = malloc(sizeof(float) * (size_t)B);
    ltx_tensor *par = new_like(be, cond);
    ltx_status s = !par ? ltx_err_failed() : coef ? LTX_OK : ltx_err(LTX_ERR_OOM, "out of memory");
    if (s == LTX_OK) s = ltx_projection_coef(be, g, cond, coef);
    if (s == LTX_OK) s = scale_rows(be, par, cond, coef);                /* g_parallel */
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_SUB, g, g, par); /* g_orth */
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, par, par, eta, 0);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, out, par, g);
    ltx_tensor_free(par);
    free(coef);
    return s;
}

ltx_status ltx_apg_guider_delta(ltx_backend *be, double scale, double eta, double norm_threshold,
                                ltx_tensor *out, const ltx_tensor *cond, const ltx_tensor *uncond)
{
    ltx_tensor *g = new_like(be, cond);
    if (!g) return ltx_err_failed();
    ltx_status s = be->ops->binary(be, LTX_BINARY_SUB, g, cond, uncond);
    if (s == LTX_OK) s = apg_core(be, eta, norm_threshold, g, cond, out);
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, out, out, scale - 1, 0);
    ltx_tensor_free(g);
    return s;
}

ltx_status ltx_legacy_apg_delta(ltx_backend *be, ltx_legacy_apg *a, ltx_tensor *out,
                                const ltx_tensor *cond, const ltx_tensor *uncond)
{
    ltx_tensor *g = new_like(be, cond);
    if (!g) return ltx_err_failed();
    ltx_status s = be->ops->binary(be, LTX_BINARY_SUB, g, cond, uncond);
    if (s == LTX_OK && a->momentum != 0) {
        if (!a->running_avg) {
            a->running_avg = new_like(be, cond);
            s = a->running_avg ? be->ops->copy(be, a->running_avg, g) : ltx_err_failed();
        } else {
            /* ref: momentum * running_avg + guidance (two roundings) */
            ltx_tensor *t = new_like(be, cond);
            s = t ? be->ops->unary(be, LTX_UNARY_SCALE, t, a->running_avg, a->momentum, 0)
                  : ltx_err_failed();
            if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, a->running_avg, t, g);
            ltx_tensor_free(t);
        }
        if (s == LTX_OK) s = be->ops->copy(be, g, a->running_avg);
    }
    if (s == LTX_OK) s = apg_core(be, a->eta, a->norm_threshold, g, cond, out);
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, out, out, a->scale, 0);
    ltx_tensor_free(g);
    return s;
}

void ltx_legacy_apg_reset(ltx_legacy_apg *a)
{
    if (!a) return;
    ltx_tensor_free(a->running_avg);
    a->running_avg = NULL;
}
