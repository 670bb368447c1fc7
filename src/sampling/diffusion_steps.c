/*
 * diffusion_steps.c — sampler updates through the backend ops (see diffusion_steps.h).
 *
 * Operation order mirrors torch so float32 results match bit for bit where the goldens are
 * exact: to_velocity divides by the host scalar sigma (true division, torch CPU), Euler
 * multiplies by dt and adds in two roundings (no FMA).
 */
#include "sampling/diffusion_steps.h"

#include <math.h>

static ltx_status round_state(ltx_backend *be, ltx_tensor *t, ltx_dtype state_dtype)
{
    if (state_dtype == LTX_BF16) return be->ops->unary(be, LTX_UNARY_ROUND_BF16, t, t, 0, 0);
    return LTX_OK;
}

ltx_status ltx_to_velocity(ltx_backend *be, ltx_tensor *v, const ltx_tensor *x,
                           const ltx_tensor *x0, float sigma, ltx_dtype state_dtype)
{
    if (sigma == 0.0f) return ltx_err(LTX_ERR_INVALID_ARG, "to_velocity: sigma can't be 0");
    LTX_TRY(be->ops->binary(be, LTX_BINARY_SUB, v, x, x0));
    LTX_TRY(be->ops->unary(be, LTX_UNARY_DIVS, v, v, (double)sigma, 0));
    return round_state(be, v, state_dtype);
}

ltx_status ltx_to_denoised(ltx_backend *be, ltx_tensor *x0, const ltx_tensor *x,
                           const ltx_tensor *v, float sigma, ltx_dtype state_dtype)
{
    /* x - v * sigma: product rounded to f32, then the difference */
    LTX_TRY(be->ops->unary(be, LTX_UNARY_SCALE, x0, v, (double)sigma, 0));
    LTX_TRY(be->ops->binary(be, LTX_BINARY_SUB, x0, x, x0));
    return round_state(be, x0, state_dtype);
}

ltx_status ltx_post_process_latent(ltx_backend *be, ltx_tensor *x0, const ltx_tensor *mask,
                                   const ltx_tensor *clean, ltx_dtype state_dtype)
{
    /* ref: (denoised * mask + clean.float() * (1 - mask)).to(denoised.dtype) */
    ltx_tensor *inv = ltx_tensor_new(be, LTX_F32, mask->ndim, mask->shape);
    ltx_tensor *cm = ltx_tensor_new(be, LTX_F32, x0->ndim, x0->shape);
    ltx_status s = (inv && cm) ? LTX_OK : ltx_err_failed();
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, inv, mask, -1.0, 1.0); /* 1 - m */
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, cm, clean, inv);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_MUL, x0, x0, mask);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, x0, x0, cm);
    if (s == LTX_OK) s = round_state(be, x0, state_dtype);
    ltx_tensor_free(inv);
    ltx_tensor_free(cm);
    return s;
}

ltx_status ltx_euler_step(ltx_backend *be, ltx_tensor *x, const ltx_tensor *x0, float sigma,
                          float sigma_next, ltx_dtype state_dtype)
{
    volatile float dt = sigma_next - sigma; /* f32 device scalar in the reference */
    ltx_tensor *v = ltx_tensor_new(be, LTX_F32, x->ndim, x->shape);
    if (!v) return ltx_err_failed();
    ltx_status s = ltx_to_velocity(be, v, x, x0, sigma, state_dtype);
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_SCALE, v, v, (double)dt, 0);
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_ADD, x, x, v);
    if (s == LTX_OK) s = round_state(be, x, state_dtype);
    ltx_tensor_free(v);
    return s;
}

/* ---- res_2s host math ---- */

ltx_sde_coeff ltx_res2s_sde_coeff(double sigma_next, double eta)
{
    /* ref: Res2sDiffusionStep.get_sde_coeff with sigma_up given, sigma_max = 1 */
    ltx_sde_coeff c;
    double up = eta * sigma_next;
    double cap = sigma_next * 0.9999;
    if (up > cap) up = cap; /* clamp_(max=...) */
    double signal = 1.0 - sigma_next;
    double r2 = sigma_next * sigma_next - up * up;
    double residual = sqrt(r2 > 0 ? r2 : 0);
    c.alpha_ratio = signal + residual;
    c.sigma_down = residual / c.alpha_ratio;
    c.sigma_up = up;
    if (isnan(c.sigma_up)) c.sigma_up = 0;
    if (isnan(c.sigma_down)) c.sigma_down = sigma_next;
    if (isnan(c.alpha_ratio)) c.alpha_ratio = 1;
    return c;
}

double ltx_res2s_phi(int j, double z)
{
    double fact = 1;
    for (int k = 2; k <= j; k++)
        fact *= k;
    if (fabs(z) < 1e-10) return 1.0 / fact;
    double rem = 0, zk = 1, kf = 1;
    for (int k = 0; k < j; k++) {
        if (k > 0) {
            zk *= z;
            kf *= k;
        }
        rem += zk / kf;
    }
    return (exp(z) - rem) / pow(z, j);
}

void ltx_res2s_coefficients(double h, double c2, double *a21, double *b1, double *b2)
{
    *a21 = c2 * ltx_res2s_phi(1, -h * c2);
    *b2 = ltx_res2s_phi(2, -h) / c2;
    *b1 = ltx_res2s_phi(1, -h) - *b2;
}

ltx_status ltx_res2s_step(ltx_backend *be, ltx_tensor *out, const ltx_tensor *sample,
                          const ltx_tensor *denoised, const ltx_tensor *noise, double sigma,
                          double sigma_next, double eta)
{
    ltx_sde_coeff c = ltx_res2s_sde_coeff(sigma_next, eta);
    if (c.sigma_up == 0 || sigma_next == 0) return be->ops->copy(be, out, denoised);
    /* the reference step runs sub/divs/axpby in float64: ask for exactly that */
    if (!ltx_backend_supports_as(be, LTX_OP_BINARY, LTX_BINARY_SUB, LTX_F64, 2, sample) ||
        !ltx_backend_supports_as(be, LTX_OP_AXPBY, -1, LTX_F64, 2, sample)) {
        LTX_TRY(ltx_backend_fallback(be, "f64.res2s",
                                     "res_2s step computed in float32 (device has no float64)"));
        /* The reference form divides by (sigma - sigma_next), which amplifies float32 rounding
         * by 1/(sigma - sigma_next) (160x for the first distilled step) before cancelling it
         * again. Fold the scalars on the host in double instead — algebraically identical:
         *   out = alpha*(1 + k)*sample - alpha*k*denoised + sigma_up*noise,
         *   k = (sigma_down - sigma) / (sigma - sigma_next)
         * so float32 only rounds O(|x|) terms (docs/NUMERICS.md). */
        double k = (c.sigma_down - sigma) / (sigma - sigma_next);
        ltx_tensor *acc = ltx_tensor_new(be, LTX_F32, sample->ndim, sample->shape);
        if (!acc) return ltx_err_failed();
        ltx_status s =
            be->ops->axpby(be, acc, c.alpha_ratio * (1 + k), sample, -c.alpha_ratio * k, denoised);
        if (s == LTX_OK) s = be->ops->axpby(be, acc, 1.0, acc, c.sigma_up, noise);
        if (s == LTX_OK) s = be->ops->copy(be, out, acc);
        ltx_tensor_free(acc);
        return s;
    }
    const ltx_dtype cdt = LTX_F64;
    ltx_tensor *eps = ltx_tensor_new(be, cdt, sample->ndim, sample->shape);
    ltx_tensor *x0n = ltx_tensor_new(be, cdt, sample->ndim, sample->shape);
    ltx_tensor *acc = ltx_tensor_new(be, cdt, sample->ndim, sample->shape);
    ltx_status s = (eps && x0n && acc) ? LTX_OK : ltx_err_failed();
    /* eps = (sample - denoised) / (sigma - sigma_next) */
    if (s == LTX_OK) s = be->ops->binary(be, LTX_BINARY_SUB, eps, sample, denoised);
    if (s == LTX_OK) s = be->ops->unary(be, LTX_UNARY_DIVS, eps, eps, sigma - sigma_next, 0);
    /* x0_next = sample - sigma * eps */
    if (s == LTX_OK) s = be->ops->axpby(be, x0n, 1.0, sample, -sigma, eps);
    /* alpha * (x0_next + sigma_down * eps) + sigma_up * noise */
    if (s == LTX_OK) s = be->ops->axpby(be, acc, 1.0, x0n, c.sigma_down, eps);
    if (s == LTX_OK) s = be->ops->axpby(be, acc, c.alpha_ratio, acc, c.sigma_up, noise);
    if (s == LTX_OK) s = be->ops->copy(be, out, acc);
    ltx_tensor_free(eps);
    ltx_tensor_free(x0n);
    ltx_tensor_free(acc);
    return s;
}
