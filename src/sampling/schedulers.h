/*
 * schedulers.h — sigma schedules. Pure host math; results are float32 like the reference.
 * ref: ltx_core/components/schedulers.py, ltx_pipelines/utils/constants.py
 */
#ifndef LTX_SAMPLING_SCHEDULERS_H
#define LTX_SAMPLING_SCHEDULERS_H

#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ltx_ltx2_sched_params {
    double max_shift;                 /* 2.05 */
    double base_shift;                /* 0.95 */
    bool stretch;                     /* true */
    double terminal;                  /* 0.1 */
    int64_t tokens;                   /* F*H*W of the latent, or default_number_of_tokens */
} ltx_ltx2_sched_params;

void ltx_ltx2_sched_params_init(ltx_ltx2_sched_params *p); /* reference defaults, 4096 tokens */

/* LTX2Scheduler.execute: writes steps+1 sigmas into out (caller provides steps+1 floats). */
ltx_status ltx_sched_ltx2(int steps, const ltx_ltx2_sched_params *p, float *out);

/* LinearQuadraticScheduler.execute(steps, threshold_noise, linear_steps = steps/2 when <= 0):
 * steps+1 sigmas. */
ltx_status ltx_sched_linear_quadratic(int steps, double threshold_noise, int linear_steps,
                                      float *out);

/* BetaScheduler.execute(steps, alpha, beta): up to steps+1 sigmas (duplicates removed as the
 * reference does); *n_out receives the count. */
ltx_status ltx_sched_beta(int steps, double alpha, double beta, float *out, int *n_out);

/* Fixed distilled schedules (stage 1: 9 values, stage 2: 4 values). Returns the count and
 * points *values at static storage. */
int ltx_sched_distilled(int stage, const float **values);

#endif
