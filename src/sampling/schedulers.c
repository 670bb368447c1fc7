/*
 * schedulers.c — sigma schedules with the reference's float32 operation order.
 * ref: ltx_core/components/schedulers.py @ a2c3f24
 *
 * LTX2Scheduler follows torch's op order exactly (spec pipelines.md §2.5): linspace in f32 with
 * CPU linspace's two-sided formula, r = 1/s, d = f32(E) + (r - 1), sigma = (1/d) * f32(E), then
 * the stretch 1 - (1 - z)/q with q = (1 - z_last) / f32(1 - terminal). A vectorised torch
 * linspace can differ by 1 ulp on some CPUs (documented in the goldens); we use the scalar form.
 * Not here: what a step does with the sigmas (diffusion_steps.c, res2s.c) and guidance
 * (guiders.c).
 */
#include "sampling/schedulers.h"

#include <math.h>
#include <stdlib.h>

/* Built with -ffp-contract=off (CMakeLists.txt): no FMA contraction, like torch CPU. */

void ltx_ltx2_sched_params_init(ltx_ltx2_sched_params *p)
{
    p->max_shift = 2.05;
    p->base_shift = 0.95;
    p->stretch = true;
    p->terminal = 0.1;
    p->tokens = 4096; /* ref: MAX_SHIFT_ANCHOR, used when no latent is passed */
}

/* torch.linspace(start, end, n) on CPU, float32. */
static void linspace_f32(float start, float end, int n, float *out)
{
    if (n == 1) {
        out[0] = start;
        return;
    }
    float step = (end - start) / (float)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++) {
        volatile float prod;
        if (i < half) {
            prod = step * (float)i;
            out[i] = start + prod;
        } else {
            prod = step * (float)(n - 1 - i);
            out[i] = end - prod;
        }
    }
}

ltx_status ltx_sched_ltx2(int steps, const ltx_ltx2_sched_params *p, float *out)
{
    if (steps < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "scheduler: steps must be >= 1, got %d", steps);
    if (p->stretch && !(p->terminal < 1.0))
        return ltx_err(LTX_ERR_INVALID_ARG, "scheduler: terminal must be < 1, got %g", p->terminal);
    const double x1 = 1024, x2 = 4096; /* ref: BASE_SHIFT_ANCHOR, MAX_SHIFT_ANCHOR */
    double mm = (p->max_shift - p->base_shift) / (x2 - x1);
    double b = p->base_shift - mm * x1;
    double shift = (double)p->tokens * mm + b;
    float E = (float)exp(shift);
    int n = steps + 1;
    linspace_f32(1.0f, 0.0f, n, out);
    for (int i = 0; i < n; i++) {
        float s = out[i];
        if (s == 0.0f) {
            out[i] = 0.0f;
            continue;
        }
        volatile float r = 1.0f / s;
        volatile float r1 = r - 1.0f;
        volatile float d = E + r1;
        volatile float rd = 1.0f / d;
        out[i] = rd * E;
    }
    if (p->stretch) {
        int last = -1;
        for (int i = 0; i < n; i++)
            if (out[i] != 0.0f) last = i;
        if (last < 0) return LTX_OK;
        volatile float omz_last = 1.0f - out[last];
        volatile float q = omz_last / (float)(1.0 - p->terminal);
        for (int i = 0; i < n; i++) {
            if (out[i] == 0.0f) continue;
            volatile float omz = 1.0f - out[i];
            volatile float t = omz / q;
            out[i] = 1.0f - t;
        }
    }
    return LTX_OK;
}

ltx_status ltx_sched_linear_quadratic(int steps, double threshold_noise, int linear_steps,
                                      float *out)
{
    if (steps < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "scheduler: steps must be >= 1, got %d", steps);
    if (steps == 1) {
        out[0] = 1.0f;
        out[1] = 0.0f;
        return LTX_OK;
    }
    if (linear_steps <= 0) linear_steps = steps / 2;
    int k = 0;
    for (int i = 0; i < linear_steps; i++)
        out[k++] = (float)(1.0 - i * threshold_noise / linear_steps);
    double diff = linear_steps - threshold_noise * steps;
    int qsteps = steps - linear_steps;
    if (qsteps > 0) {
        double qcoef = diff / (linear_steps * (double)qsteps * qsteps);
        double lcoef = threshold_noise / linear_steps - 2 * diff / ((double)qsteps * qsteps);
        double cst = qcoef * ((double)linear_steps * linear_steps);
        for (int i = linear_steps; i < steps; i++)
            out[k++] = (float)(1.0 - (qcoef * ((double)i * i) + lcoef * i + cst));
    }
    out[k++] = 0.0f; /* 1 - 1.0 */
    return LTX_OK;
}

/* ---- regularised incomplete beta and its inverse (for BetaScheduler's scipy beta.ppf) ---- */

/* Continued fraction for I_x(a, b) (modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16) break;
    }
    return h;
}

static double inc_beta(double a, double b, double x)
{
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

/* Inverse by bisection to full double precision (robust for a, b < 1 where the density is
 * unbounded at the ends). */
static double inv_inc_beta(double a, double b, double p)
{
    if (p <= 0) return 0;
    if (p >= 1) return 1;
    /* Symmetric densities: the median is exactly 0.5 (scipy returns 0.5, and rint(0.5 * 9999)
     * must see it exactly), and solve the upper half through the lower one. */
    if (a == b) {
        if (p == 0.5) return 0.5;
        if (p > 0.5) return 1.0 - inv_inc_beta(a, b, 1.0 - p);
    }
    double lo = 0, hi = 1;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (inc_beta(a, b, mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

ltx_status ltx_sched_beta(int steps, double alpha, double beta, float *out, int *n_out)
{
    if (steps < 1)
        return ltx_err(LTX_ERR_INVALID_ARG, "scheduler: steps must be >= 1, got %d", steps);
    if (!(alpha > 0) || !(beta > 0))
        return ltx_err(LTX_ERR_INVALID_ARG, "beta scheduler: alpha and beta must be > 0");
    const double shift = 2.37;    /* ref: BetaScheduler.shift */
    const int length = 10000;     /* ref: BetaScheduler.timesteps_length */
    const int total = length - 1; /* len(model_sampling_sigmas) - 1 */
    float E = (float)exp(shift);
    int k = 0;
    double prev[2048];
    int nprev = 0;
    for (int i = 0; i < steps; i++) {
        double ts = 1.0 - (double)i / steps; /* 1 - linspace(0, 1, steps, endpoint=False) */
        double t = rint(inv_inc_beta(alpha, beta, ts) * total);
        int dup = 0;
        for (int j = 0; j < nprev; j++)
            if (prev[j] == t) dup = 1;
        if (dup) continue;
        if (nprev < 2048) prev[nprev++] = t;
        int idx = (int)t;
        /* model_sampling_sigmas[idx] = flux_time_shift(shift, 1, (idx + 1) / 10000) in f32 */
        volatile float tt = (float)(idx + 1) / (float)length;
        volatile float r = 1.0f / tt;
        volatile float r1 = r - 1.0f;
        volatile float d = E + r1;
        volatile float rd = 1.0f / d; /* torch: scalar / tensor = reciprocal(tensor) * scalar */
        volatile float q = rd * E;
        out[k++] = q;
    }
    out[k++] = 0.0f;
    *n_out = k;
    return LTX_OK;
}

int ltx_sched_distilled(int stage, const float **values)
{
    /* ref: ltx_pipelines/utils/constants.py DISTILLED_SIGMA_VALUES / STAGE_2_... */
    static const float s1[] = {1.0f,      0.99375f, 0.9875f,   0.98125f, 0.975f,
                               0.909375f, 0.725f,   0.421875f, 0.0f};
    static const float s2[] = {0.909375f, 0.725f, 0.421875f, 0.0f};
    if (stage == 2) {
        *values = s2;
        return 4;
    }
    *values = s1;
    return 9;
}
