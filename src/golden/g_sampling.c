/*
 * g_sampling.c — golden handlers for the sampling core: schedulers (modules/schedulers) and
 * single diffusion steps (modules/diffusion_steps). Parameters come from case.params only.
 */
#include "golden/golden.h"
#include "sampling/diffusion_steps.h"
#include "sampling/schedulers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ltx_status emit_f32(ltx_golden_ctx *g, const float *v, int64_t n)
{
    const char *name = ltx_golden_output_name(g, 0);
    if (!name) return ltx_err(LTX_ERR_FORMAT, "case has no outputs");
    return ltx_golden_emit_host(g, name, LTX_F32, 1, &n, v);
}

/* ---- schedulers ---- */

ltx_status ltx_g_ltx2_scheduler(ltx_golden_ctx *g);
ltx_status ltx_g_ltx2_scheduler(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    ltx_ltx2_sched_params sp;
    ltx_ltx2_sched_params_init(&sp);
    int steps = (int)ltx_json_int(p, "steps", 0);
    sp.max_shift = ltx_json_num(p, "max_shift", sp.max_shift);
    sp.base_shift = ltx_json_num(p, "base_shift", sp.base_shift);
    sp.stretch = ltx_json_bool(p, "stretch", sp.stretch);
    sp.terminal = ltx_json_num(p, "terminal", sp.terminal);
    sp.tokens = ltx_json_int(p, "tokens", ltx_json_int(p, "default_number_of_tokens", 4096));
    if (steps < 1 || steps > 100000) return ltx_err(LTX_ERR_FORMAT, "bad steps %d", steps);
    float *out = malloc(sizeof(float) * (size_t)(steps + 1));
    if (!out) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_sched_ltx2(steps, &sp, out);
    if (s == LTX_OK) s = emit_f32(g, out, steps + 1);
    free(out);
    return s;
}

ltx_status ltx_g_distilled_sigmas(ltx_golden_ctx *g);
ltx_status ltx_g_distilled_sigmas(ltx_golden_ctx *g)
{
    const float *v;
    int n = ltx_sched_distilled((int)ltx_json_int(ltx_golden_params(g), "stage", 1), &v);
    return emit_f32(g, v, n);
}

ltx_status ltx_g_linear_quadratic_scheduler(ltx_golden_ctx *g);
ltx_status ltx_g_linear_quadratic_scheduler(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    int steps = (int)ltx_json_int(p, "steps", 0);
    if (steps < 1 || steps > 100000) return ltx_err(LTX_ERR_FORMAT, "bad steps %d", steps);
    float *out = malloc(sizeof(float) * (size_t)(steps + 1));
    if (!out) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_sched_linear_quadratic(steps, ltx_json_num(p, "threshold_noise", 0.025),
                                              (int)ltx_json_int(p, "linear_steps", 0), out);
    if (s == LTX_OK) s = emit_f32(g, out, steps + 1);
    free(out);
    return s;
}

ltx_status ltx_g_beta_scheduler(ltx_golden_ctx *g);
ltx_status ltx_g_beta_scheduler(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    int steps = (int)ltx_json_int(p, "steps", 0);
    if (steps < 1 || steps > 2000) return ltx_err(LTX_ERR_FORMAT, "bad steps %d", steps);
    float *out = malloc(sizeof(float) * (size_t)(steps + 1));
    if (!out) return ltx_err(LTX_ERR_OOM, "out of memory");
    int n = 0;
    ltx_status s =
        ltx_sched_beta(steps, ltx_json_num(p, "alpha", 0.6), ltx_json_num(p, "beta", 0.6), out, &n);
    if (s == LTX_OK) s = emit_f32(g, out, n);
    free(out);
    return s;
}

/* ---- diffusion steps ---- */

/* Loads the case's inputs 0..n-1. */
static ltx_status load_inputs(ltx_golden_ctx *g, int n, ltx_tensor **t)
{
    for (int i = 0; i < n; i++) {
        t[i] = ltx_golden_input(g, i);
        if (!t[i]) return ltx_err_failed();
    }
    return LTX_OK;
}

static void free_all(ltx_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        ltx_tensor_free(t[i]);
}

/* Reads a 1-D float tensor input to host floats. */
static float *host_f32(ltx_tensor *t, int64_t *n)
{
    *n = ltx_tensor_numel(t);
    return ltx_tensor_to_host_f32(t);
}

ltx_status ltx_g_euler_step(ltx_golden_ctx *g);
ltx_status ltx_g_euler_step(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *in[3] = {0};
    ltx_tensor *x = NULL;
    float *sig = NULL;
    int64_t ns;
    ltx_status s = load_inputs(g, 3, in);
    if (s != LTX_OK) goto done;
    int i = (int)ltx_json_int(ltx_golden_params(g), "step_index", 0);
    sig = host_f32(in[2], &ns);
    if (!sig || i < 0 || i + 1 >= ns) {
        s = ltx_err(LTX_ERR_FORMAT, "euler_step: step_index %d outside %lld sigmas", i,
                    (long long)ns);
        goto done;
    }
    x = ltx_tensor_to(in[0], be, LTX_F32);
    if (!x) {
        s = ltx_err_failed();
        goto done;
    }
    s = ltx_euler_step(be, x, in[1], sig[i], sig[i + 1], in[0]->dtype);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), x);
done:
    free(sig);
    ltx_tensor_free(x);
    free_all(in, 3);
    return s;
}

static ltx_status velocity_or_denoised(ltx_golden_ctx *g, bool velocity)
{
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *in[2] = {0};
    ltx_status s = load_inputs(g, 2, in);
    ltx_tensor *y = NULL;
    if (s == LTX_OK) y = ltx_tensor_new(be, LTX_F32, in[0]->ndim, in[0]->shape);
    if (s == LTX_OK && !y) s = ltx_err_failed();
    float sigma = (float)ltx_json_num(ltx_golden_params(g), "sigma", 1.0);
    if (s == LTX_OK)
        s = velocity ? ltx_to_velocity(be, y, in[0], in[1], sigma, in[0]->dtype)
                     : ltx_to_denoised(be, y, in[0], in[1], sigma, in[0]->dtype);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), y);
    ltx_tensor_free(y);
    free_all(in, 2);
    return s;
}

ltx_status ltx_g_to_velocity(ltx_golden_ctx *g);
ltx_status ltx_g_to_velocity(ltx_golden_ctx *g)
{
    return velocity_or_denoised(g, true);
}
ltx_status ltx_g_to_denoised(ltx_golden_ctx *g);
ltx_status ltx_g_to_denoised(ltx_golden_ctx *g)
{
    return velocity_or_denoised(g, false);
}

ltx_status ltx_g_post_process_latent(ltx_golden_ctx *g);
ltx_status ltx_g_post_process_latent(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *in[3] = {0}, *x0 = NULL;
    ltx_status s = load_inputs(g, 3, in);
    if (s == LTX_OK && !(x0 = ltx_tensor_to(in[0], be, LTX_F32))) s = ltx_err_failed();
    if (s == LTX_OK) s = ltx_post_process_latent(be, x0, in[1], in[2], in[0]->dtype);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), x0);
    ltx_tensor_free(x0);
    free_all(in, 3);
    return s;
}

ltx_status ltx_g_res2s_step(ltx_golden_ctx *g);
ltx_status ltx_g_res2s_step(ltx_golden_ctx *g)
{
    ltx_backend *be = ltx_golden_backend(g);
    const cJSON *p = ltx_golden_params(g);
    ltx_tensor *in[4] = {0}, *out = NULL;
    float *sig = NULL;
    int64_t ns = 0;
    ltx_status s = load_inputs(g, 4, in);
    int i = (int)ltx_json_int(p, "step_index", 0);
    if (s == LTX_OK) sig = host_f32(in[2], &ns);
    if (s == LTX_OK && (!sig || i < 0 || i + 1 >= ns))
        s = ltx_err(LTX_ERR_FORMAT, "res2s_step: step_index %d outside %lld sigmas", i,
                    (long long)ns);
    if (s == LTX_OK && !(out = ltx_tensor_new(be, LTX_F32, in[0]->ndim, in[0]->shape)))
        s = ltx_err_failed();
    if (s == LTX_OK)
        s = ltx_res2s_step(be, out, in[0], in[1], in[3], (double)sig[i], (double)sig[i + 1],
                           ltx_json_num(p, "eta", 0.5));
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), out);
    free(sig);
    ltx_tensor_free(out);
    free_all(in, 4);
    return s;
}

ltx_status ltx_g_res2s_sde_coeff(ltx_golden_ctx *g);
ltx_status ltx_g_res2s_sde_coeff(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    ltx_tensor *sigt = ltx_golden_input(g, 0);
    if (!sigt) return ltx_err_failed();
    int64_t ns;
    float *sig = host_f32(sigt, &ns);
    ltx_tensor_free(sigt);
    int i = (int)ltx_json_int(p, "step_index", 0);
    if (!sig || i < 0 || i + 1 >= ns) {
        free(sig);
        return ltx_err(LTX_ERR_FORMAT, "res2s_sde_coeff: step_index %d outside sigmas", i);
    }
    ltx_sde_coeff c = ltx_res2s_sde_coeff((double)sig[i + 1], ltx_json_num(p, "eta", 0.5));
    free(sig);
    double v[3] = {c.alpha_ratio, c.sigma_down, c.sigma_up};
    int64_t n = 3;
    return ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F64, 1, &n, v);
}

/* h_k = -ln(sigma_{k+1} / sigma_k) for the steps of the res2s-modified schedule that precede
 * its final 0 (f64 from the f32 sigmas). */
static double *res2s_h(ltx_golden_ctx *g, int64_t *nh)
{
    ltx_tensor *sigt = ltx_golden_input(g, 0);
    if (!sigt) return NULL;
    int64_t ns;
    float *sig = host_f32(sigt, &ns);
    ltx_tensor_free(sigt);
    if (!sig) return NULL;
    int64_t n = 0;
    double *h = malloc(sizeof(double) * (size_t)(ns + 1));
    for (int64_t k = 0; h && k + 1 < ns; k++) {
        if (sig[k + 1] == 0.0f) break;
        h[n++] = -log((double)sig[k + 1] / (double)sig[k]);
    }
    free(sig);
    *nh = n;
    return h;
}

ltx_status ltx_g_res2s_h(ltx_golden_ctx *g);
ltx_status ltx_g_res2s_h(ltx_golden_ctx *g)
{
    int64_t n;
    double *h = res2s_h(g, &n);
    if (!h) return ltx_err_failed();
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F64, 1, &n, h);
    free(h);
    return s;
}

/* coefficients/phi take the stored h (out.res2s.h) as their input. */
static double *input_f64(ltx_golden_ctx *g, int64_t *n)
{
    ltx_tensor *t = ltx_golden_input(g, 0);
    if (!t) return NULL;
    *n = ltx_tensor_numel(t);
    double *v = ltx_tensor_to_host_f64(t);
    ltx_tensor_free(t);
    return v;
}

ltx_status ltx_g_res2s_coefficients(ltx_golden_ctx *g);
ltx_status ltx_g_res2s_coefficients(ltx_golden_ctx *g)
{
    int64_t n;
    double *h = input_f64(g, &n);
    if (!h) return ltx_err_failed();
    double c2 = ltx_json_num(ltx_golden_params(g), "c2", 0.5);
    double *out = malloc(sizeof(double) * (size_t)(3 * n + 1));
    if (!out) {
        free(h);
        return ltx_err(LTX_ERR_OOM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        ltx_res2s_coefficients(h[i], c2, &out[3 * i], &out[3 * i + 1], &out[3 * i + 2]);
    int64_t shape[2] = {n, 3};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F64, 2, shape, out);
    free(h);
    free(out);
    return s;
}

ltx_status ltx_g_res2s_phi(ltx_golden_ctx *g);
ltx_status ltx_g_res2s_phi(ltx_golden_ctx *g)
{
    int64_t n;
    double *h = input_f64(g, &n);
    if (!h) return ltx_err_failed();
    int64_t js[8];
    int nj = ltx_json_int_array(ltx_golden_params(g), "j", js, 8);
    if (nj <= 0 || nj > 8) {
        free(h);
        return ltx_err(LTX_ERR_FORMAT, "res2s_phi: params.j must list 1..8 orders");
    }
    double *out = malloc(sizeof(double) * (size_t)(nj * n + 1));
    if (!out) {
        free(h);
        return ltx_err(LTX_ERR_OOM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nj; k++)
            out[i * nj + k] = ltx_res2s_phi((int)js[k], -h[i]);
    int64_t shape[2] = {n, nj};
    ltx_status s = ltx_golden_emit_host(g, ltx_golden_output_name(g, 0), LTX_F64, 2, shape, out);
    free(h);
    free(out);
    return s;
}
