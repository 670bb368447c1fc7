/*
 * res2s.c — the res_2s denoising loop (see res2s.h).
 *
 * ref: ltx_pipelines/utils/samplers.py res2s_audio_video_denoising_loop @ a2c3f24. Tensor
 * expressions follow the reference's operation order (axpby = two products, one add, as torch
 * evaluates `a + c * b`); the state tensors stay on the backend, only scalars and the SDE noise
 * draws (made on the host, like torch's CPU generator) cross.
 */
#include "sampling/res2s.h"

#include "sampling/diffusion_steps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ltx_res2s_params_init(ltx_res2s_params *p)
{
    memset(p, 0, sizeof *p);
    p->eta = 0.5;
    p->bongmath = true;
    p->bongmath_max_iter = 100;
    p->model_dtype = LTX_BF16;
    p->noise_seed = (uint64_t)-1;
    p->substep_seed = 9999; /* ref: noise_seed + 10000 with noise_seed = -1 */
    p->rng_variant = LTX_RNG_TORCH_AVX2;
}

/* ---- SDE noise ---- */

static void standardise(double *z, int64_t n, int64_t stride_outer, int64_t count)
{
    /* count groups of n contiguous elements, groups stride_outer apart */
    for (int64_t g = 0; g < count; g++) {
        double *v = z + g * stride_outer, m = 0, q = 0;
        for (int64_t i = 0; i < n; i++)
            m += v[i];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++)
            q += (v[i] - m) * (v[i] - m);
        double sd = sqrt(q / (double)(n - 1)); /* unbiased, as torch.std */
        for (int64_t i = 0; i < n; i++)
            v[i] = (v[i] - m) / sd;
    }
}

ltx_status ltx_res2s_new_noise_host(ltx_rng *rng, int ndim, const int64_t *shape, double *out)
{
    if (ndim < 2) return ltx_err(LTX_ERR_INVALID_ARG, "res2s noise: need >= 2 dims");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    LTX_TRY(ltx_rng_randn_f64(rng, out, n));
    standardise(out, n, n, 1);                         /* (noise - mean) / std */
    int64_t inner = shape[ndim - 1] * shape[ndim - 2]; /* _channelwise_normalize: dims (-2, -1) */
    standardise(out, inner, inner, n / inner);
    return LTX_OK;
}

typedef struct default_noise {
    ltx_rng *step, *sub;
    ltx_dtype cdt;
} default_noise;

static ltx_status default_noise_fn(void *user, ltx_backend *be, bool substep,
                                   const ltx_tensor *like, ltx_tensor **noise)
{
    default_noise *d = user;
    int64_t n = ltx_tensor_numel(like);
    double *h = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!h) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_res2s_new_noise_host(substep ? d->sub : d->step, like->ndim, like->shape, h);
    if (s == LTX_OK) {
        /* f64 host values; upload converts (to f32 on devices without float64) */
        *noise = ltx_tensor_new(be, d->cdt, like->ndim, like->shape);
        s = *noise ? ltx_tensor_upload(*noise, h, LTX_F64) : ltx_err_failed();
    }
    free(h);
    return s;
}

/* ---- tensor helpers (compute dtype cdt = F64 or F32) ---- */

static ltx_tensor *conv(ltx_backend *be, const ltx_tensor *t, ltx_dtype dt)
{
    ltx_tensor *r = ltx_tensor_new(be, dt, t->ndim, t->shape);
    if (r && be->ops->copy(be, r, t) != LTX_OK) {
        ltx_tensor_free(r);
        return NULL;
    }
    return r;
}

/* Legacy post-process of an f64 (or f32) sample: x * mask + f32(clean * (1 - mask)). */
static ltx_status blend(ltx_backend *be, ltx_tensor *x, const ltx_latent_state *st)
{
    ltx_tensor *inv = ltx_tensor_new(be, LTX_F32, st->denoise_mask->ndim, st->denoise_mask->shape);
    ltx_tensor *cm = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
    ltx_tensor *cmc = NULL, *mc = NULL;
    ltx_status s = inv && cm ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, inv, st->denoise_mask, -1.0, 1.0);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, cm, st->clean_latent, inv);
    if (s == LTX_OK) {
        cmc = conv(be, cm, x->dtype);
        mc = conv(be, st->denoise_mask, x->dtype);
        if (!cmc || !mc) s = ltx_err_failed();
    }
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, x, x, mc);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, x, x, cmc);
    ltx_tensor_free(inv);
    ltx_tensor_free(cm);
    ltx_tensor_free(cmc);
    ltx_tensor_free(mc);
    return s;
}

/* x.to(model_dtype) as a new f32 tensor. */
static ltx_tensor *to_model(ltx_backend *be, const ltx_tensor *x, ltx_dtype model_dtype)
{
    ltx_tensor *r = conv(be, x, LTX_F32);
    if (r && model_dtype == LTX_BF16 &&
        be->ops->unary(be, LTX_UNARY_ROUND_BF16, r, r, 0, 0) != LTX_OK) {
        ltx_tensor_free(r);
        return NULL;
    }
    return r;
}

/* ---- the loop ---- */

typedef struct res2s_run {
    ltx_backend *be;
    const ltx_res2s_params *p;
    ltx_dtype cdt;
    ltx_latent_state *st[2]; /* video, audio (NULL = absent) */
    ltx_res2s_denoise_fn den;
    void *den_user;
    ltx_res2s_noise_fn noise;
    void *noise_user;
} res2s_run;

/* Denoiser call on latents lat[2] + post-processing (model dtype): out[m] new f32. */
static ltx_status call_denoiser(res2s_run *r, ltx_tensor *const *lat, double sigma, bool f64,
                                int step, ltx_tensor **out)
{
    LTX_TRY(r->den(r->den_user, lat[0], lat[1], sigma, f64, step, &out[0], &out[1]));
    for (int m = 0; m < 2; m++) {
        if (!r->st[m]) continue;
        if (!out[m]) return ltx_err(LTX_ERR_INTERNAL, "res2s: denoiser returned no output");
        LTX_TRY(ltx_post_process_latent(r->be, out[m], r->st[m]->denoise_mask,
                                        r->st[m]->clean_latent, r->p->model_dtype));
    }
    return LTX_OK;
}

/* x <- legacy SDE step from sample to target x (in place) between sigma and sigma_next. */
static ltx_status sde(res2s_run *r, int m, bool substep, const ltx_tensor *sample, ltx_tensor *x,
                      double sigma, double sigma_next, double eta)
{
    ltx_tensor *nz = NULL;
    LTX_TRY(r->noise(r->noise_user, r->be, substep, x, &nz)); /* drawn even if unused */
    ltx_tensor *nzc = nz->dtype == r->cdt ? nz : conv(r->be, nz, r->cdt);
    ltx_status s = nzc ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = ltx_res2s_step(r->be, x, sample, x, nzc, sigma, sigma_next, eta);
    if (s == LTX_OK) s = blend(r->be, x, r->st[m]);
    if (nzc != nz) ltx_tensor_free(nzc);
    ltx_tensor_free(nz);
    return s;
}

static void free2(ltx_tensor **t)
{
    ltx_tensor_free(t[0]);
    ltx_tensor_free(t[1]);
    t[0] = t[1] = NULL;
}

/* One RK step k of the (modified) schedule sig. */
static ltx_status rk_step(res2s_run *r, const float *sig, int k)
{
    ltx_backend *be = r->be;
    double sigma = sig[k], sigma_next = sig[k + 1];
    double h = -log((double)sig[k + 1] / (double)sig[k]);
    double a21, b1, b2;
    ltx_res2s_coefficients(h, 0.5, &a21, &b1, &b2);
    double sub = sqrt(sigma * sigma_next);
    ltx_tensor *lat[2] = {0}, *xa[2] = {0}, *d1[2] = {0}, *d2[2] = {0}, *e1[2] = {0}, *xm[2] = {0},
               *mid[2] = {0};
    ltx_status s = LTX_OK;
    for (int m = 0; m < 2 && s == LTX_OK; m++) {
        if (!r->st[m]) continue;
        lat[m] = r->st[m]->latent;
        if (!(xa[m] = conv(be, lat[m], r->cdt))) s = ltx_err_failed(); /* anchor */
    }
    if (s == LTX_OK) s = call_denoiser(r, lat, sigma, false, k, d1);
    for (int m = 0; m < 2 && s == LTX_OK; m++) {
        if (!r->st[m]) continue;
        ltx_tensor *dc = conv(be, d1[m], r->cdt);
        ltx_tensor_free(d1[m]);
        d1[m] = dc;
        e1[m] = ltx_tensor_new(be, r->cdt, xa[m]->ndim, xa[m]->shape);
        xm[m] = ltx_tensor_new(be, r->cdt, xa[m]->ndim, xa[m]->shape);
        if (!dc || !e1[m] || !xm[m]) s = ltx_err_failed();
        /* eps1 = D1 - x_a; x_mid = x_a + h * a21 * eps1 */
        if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_SUB, e1[m], d1[m], xa[m]);
        if (s == LTX_OK) s = be->ops->axpby(be, xm[m], 1.0, xa[m], h * a21, e1[m]);
    }
    /* substep SDE noise: video then audio, eta fixed at 0.5 */
    for (int m = 0; m < 2 && s == LTX_OK; m++)
        if (r->st[m]) s = sde(r, m, true, xa[m], xm[m], sigma, sub, 0.5);
    /* bong iteration: refine the anchor so that x_mid stays consistent with eps1 */
    if (s == LTX_OK && r->p->bongmath && h < 0.5 && sigma > 0.03) {
        for (int it = 0; it < r->p->bongmath_max_iter && s == LTX_OK; it++)
            for (int m = 0; m < 2 && s == LTX_OK; m++) {
                if (!r->st[m]) continue;
                s = be->ops->axpby(be, xa[m], 1.0, xm[m], -(h * a21), e1[m]);
                if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_SUB, e1[m], d1[m], xa[m]);
            }
    }
    for (int m = 0; m < 2 && s == LTX_OK; m++)
        if (r->st[m] && !(mid[m] = to_model(be, xm[m], r->p->model_dtype))) s = ltx_err_failed();
    if (s == LTX_OK) s = call_denoiser(r, mid, sub, true, 0, d2);
    /* x_next = x_a + h * (b1 * eps1 + b2 * eps2), reusing xm for eps2 and the result */
    for (int m = 0; m < 2 && s == LTX_OK; m++) {
        if (!r->st[m]) continue;
        ltx_tensor *dc = conv(be, d2[m], r->cdt);
        s = dc ? be->ops->binary(be, LTX_BINARY_SUB, xm[m], dc, xa[m]) : ltx_err_failed();
        ltx_tensor_free(dc);
        if (s == LTX_OK) s = be->ops->axpby(be, xm[m], b1, e1[m], b2, xm[m]);
        if (s == LTX_OK) s = be->ops->axpby(be, xm[m], 1.0, xa[m], h, xm[m]);
    }
    /* step SDE noise with the f32 schedule values */
    for (int m = 0; m < 2 && s == LTX_OK; m++)
        if (r->st[m]) s = sde(r, m, false, xa[m], xm[m], sigma, sigma_next, r->p->eta);
    for (int m = 0; m < 2 && s == LTX_OK; m++) {
        if (!r->st[m]) continue;
        ltx_tensor *nl = to_model(be, xm[m], r->p->model_dtype);
        if (!nl) {
            s = ltx_err_failed();
            break;
        }
        ltx_tensor_free(r->st[m]->latent);
        r->st[m]->latent = nl;
    }
    free2(xa), free2(d1), free2(d2), free2(e1), free2(xm), free2(mid);
    return s;
}

ltx_status ltx_res2s_loop(ltx_backend *be, const float *sigmas, int n_sigmas,
                          ltx_latent_state *video, ltx_latent_state *audio,
                          const ltx_res2s_params *p, ltx_res2s_denoise_fn denoise,
                          void *denoise_user, ltx_res2s_noise_fn noise_fn, void *noise_user)
{
    if (n_sigmas < 2 || (!video && !audio) || !denoise)
        return ltx_err(LTX_ERR_INVALID_ARG, "res2s: need >= 2 sigmas, a state and a denoiser");
    ltx_dtype cdt = LTX_F64;
    /* the loop state is updated with axpby in float64 (the reference's float64 sampler) */
    const ltx_tensor *like = video ? video->latent : audio->latent;
    if (!ltx_backend_supports_as(be, LTX_OP_AXPBY, -1, LTX_F64, 2, like)) {
        LTX_TRY(ltx_backend_fallback(be, "f64.res2s",
                                     "res_2s loop state computed in float32 (no float64)"));
        cdt = LTX_F32;
    }
    /* ref: a schedule ending in 0 gets [.., 0.0011, 0]: n full steps + one final call */
    int n_full = n_sigmas - 1;
    bool ends0 = sigmas[n_sigmas - 1] == 0.0f;
    float *sig = malloc(sizeof(float) * (size_t)(n_sigmas + 1));
    if (!sig) return ltx_err(LTX_ERR_OOM, "out of memory");
    memcpy(sig, sigmas, sizeof(float) * (size_t)n_sigmas);
    if (ends0) {
        sig[n_sigmas - 1] = 0.0011f;
        sig[n_sigmas] = 0.0f;
    }
    default_noise dn = {0};
    if (!noise_fn) {
        dn.step = ltx_rng_new_torch_cpu_variant(p->noise_seed, p->rng_variant);
        dn.sub = ltx_rng_new_torch_cpu_variant(p->substep_seed, p->rng_variant);
        dn.cdt = cdt;
        noise_fn = default_noise_fn;
        noise_user = &dn;
    }
    res2s_run r = {be, p, cdt, {video, audio}, denoise, denoise_user, noise_fn, noise_user};
    ltx_status s =
        noise_fn == default_noise_fn && (!dn.step || !dn.sub) ? ltx_err_failed() : LTX_OK;
    for (int k = 0; k < n_full && s == LTX_OK; k++)
        s = rk_step(&r, sig, k);
    if (s == LTX_OK && ends0) {
        /* final call at 0.0011 (step index n), latent <- post-processed x0 */
        ltx_tensor *lat[2] = {video ? video->latent : NULL, audio ? audio->latent : NULL};
        ltx_tensor *d[2] = {0};
        s = call_denoiser(&r, lat, sig[n_full], false, n_full, d);
        for (int m = 0; m < 2 && s == LTX_OK; m++) {
            if (!r.st[m]) continue;
            ltx_tensor *nl = to_model(be, d[m], p->model_dtype);
            if (!nl) {
                s = ltx_err_failed();
                break;
            }
            ltx_tensor_free(r.st[m]->latent);
            r.st[m]->latent = nl;
        }
        free2(d);
    }
    ltx_rng_free(dn.step);
    ltx_rng_free(dn.sub);
    free(sig);
    return s;
}
