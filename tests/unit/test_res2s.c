/*
 * test_res2s.c — the res_2s loop (src/sampling/res2s.c) replayed against the reference run
 * stored in pipelines/pipeline_two_stage_hq_res2s (both stages, model_dtype float32): the
 * denoiser callback returns the stored stageK.callJ denoised outputs and checks that every
 * call receives the stored input latents and sigma; the noise callback returns the stored SDE
 * draws in order; the final state must match stageK.final_tokens. On "cpu" (float64 loop) and
 * "cpu-restricted" (float32 fallback). Also: the default noise draw is standardised.
 */
#include "harness.h"
#include "test_util.h"

#include "backend/backend.h"
#include "io/safetensors.h"
#include "sampling/res2s.h"

#include <math.h>
#include <stdio.h>

#define HQ LTX_TEST_DATA "/golden/pipelines/pipeline_two_stage_hq_res2s.safetensors"

typedef struct replay {
    ltx_st_file *f;
    ltx_backend *be;
    const char *stage;
    int call, draw;
    double max_in_err, max_sigma_err;
    bool missing;
} replay;

static ltx_tensor *get_named(replay *r, const char *name)
{
    ltx_tensor *t = ltx_st_tensor_as(r->f, r->be, name, LTX_F32);
    if (!t) r->missing = true;
    return t;
}

static ltx_tensor *get2(replay *r, const char *stage, const char *what, const char *mod)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s.%s", stage, what, mod);
    return get_named(r, name);
}

static ltx_tensor *get(replay *r, const char *fmt, const char *stage, int i, const char *what)
{
    char name[128];
    snprintf(name, sizeof name, fmt, stage, i, what);
    ltx_tensor *t = ltx_st_tensor_as(r->f, r->be, name, LTX_F32);
    if (!t) r->missing = true;
    return t;
}

static ltx_status den(void *user, const ltx_tensor *vl, const ltx_tensor *al, double sigma,
                      bool f64, int step, ltx_tensor **x0v, ltx_tensor **x0a)
{
    (void)f64, (void)step;
    replay *r = user;
    const ltx_tensor *in[2] = {vl, al};
    const char *mods[2] = {"video", "audio"};
    for (int m = 0; m < 2; m++) {
        char what[32];
        snprintf(what, sizeof what, "%s_latent", mods[m]);
        ltx_tensor *ref = get(r, "%s.call%d.%s", r->stage, r->call, what);
        if (ref) r->max_in_err = fmax(r->max_in_err, tu_max_abs_diff(in[m], ref));
        ltx_tensor_free(ref);
    }
    ltx_tensor *sg = get(r, "%s.call%d.%s", r->stage, r->call, "sigma");
    if (sg) {
        float s;
        ltx_tensor_download(sg, &s, LTX_F32);
        r->max_sigma_err = fmax(r->max_sigma_err, fabs(s - sigma));
    }
    ltx_tensor_free(sg);
    *x0v = get(r, "%s.call%d.%s", r->stage, r->call, "video_denoised");
    *x0a = get(r, "%s.call%d.%s", r->stage, r->call, "audio_denoised");
    r->call++;
    return *x0v && *x0a ? LTX_OK : LTX_ERR_FORMAT;
}

static ltx_status noise(void *user, ltx_backend *be, bool substep, const ltx_tensor *like,
                        ltx_tensor **out)
{
    (void)be, (void)substep, (void)like;
    replay *r = user;
    *out = get(r, "in.%s.sde_noise%d%s", r->stage, r->draw++, "");
    return *out ? LTX_OK : LTX_ERR_FORMAT;
}

TEST(replay_hq_stages)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(HQ, &f) == LTX_OK);
    if (!f) return;
    const char *stages[2] = {"stage1", "stage2"};
    for (int rs = 0; rs < 2; rs++) {
        ltx_backend *be = NULL;
        ltx_cpu_backend_create(rs, NULL, NULL, &be);
        for (int k = 0; k < 2; k++) {
            replay r = {.f = f, .be = be, .stage = stages[k]};
            ltx_latent_state st[2] = {0};
            const char *mods[2] = {"video", "audio"};
            for (int m = 0; m < 2; m++) {
                st[m].latent = get2(&r, stages[k], "init", mods[m]);
                st[m].clean_latent = get2(&r, stages[k], "pre_noise", mods[m]);
                int64_t sh[3] = {1, st[m].latent ? st[m].latent->shape[1] : 1, 1};
                st[m].denoise_mask = ltx_tensor_new(be, LTX_F32, 3, sh);
                be->ops->fill(be, st[m].denoise_mask, 1.0);
            }
            int64_t ns;
            char sn[64];
            snprintf(sn, sizeof sn, "%s.sigmas", stages[k]);
            float *sig = ltx_st_read_f32(f, sn, &ns);
            CHECK(!r.missing && sig);
            if (r.missing || !sig) return;
            ltx_res2s_params p;
            ltx_res2s_params_init(&p);
            p.model_dtype = LTX_F32; /* the golden's loop ran with model_dtype=float32 */
            ltx_status s = ltx_res2s_loop(be, sig, (int)ns, &st[0], &st[1], &p, den, &r, noise, &r);
            CHECK_MSG(s == LTX_OK, "%s", ltx_err_message());
            CHECK(r.call == 2 * ((int)ns - 1) + 1 && r.draw == 4 * ((int)ns - 1));
            double fe = 0;
            for (int m = 0; m < 2; m++) {
                ltx_tensor *ref = get2(&r, stages[k], "final_tokens", mods[m]);
                if (ref) fe = fmax(fe, tu_max_abs_diff(st[m].latent, ref));
                ltx_tensor_free(ref);
                ltx_latent_state_clear(&st[m]);
            }
            printf("  %s on %s: max |input latent err| %.3g, |final err| %.3g, sigma err %.3g\n",
                   stages[k], be->device_name, r.max_in_err, fe, r.max_sigma_err);
            CHECK(r.max_in_err <= 2e-3 && fe <= 2e-3); /* golden latent tolerance */
            CHECK(r.max_sigma_err <= 1e-7);
            free(sig);
        }
        ltx_backend_destroy(be);
    }
    ltx_st_close(f);
}

TEST(default_noise_standardised)
{
    ltx_rng *g = ltx_rng_new_torch_cpu(9999);
    int64_t sh[3] = {2, 12, 16};
    double z[384];
    CHECK(ltx_res2s_new_noise_host(g, 3, sh, z) == LTX_OK);
    for (int b = 0; b < 2; b++) {
        double m = 0, q = 0;
        for (int i = 0; i < 192; i++)
            m += z[b * 192 + i];
        m /= 192;
        for (int i = 0; i < 192; i++)
            q += (z[b * 192 + i] - m) * (z[b * 192 + i] - m);
        CHECK(fabs(m) < 1e-12 && fabs(q / 191 - 1) < 1e-12);
    }
    ltx_rng_free(g);
}

/* The default generators reproduce the reference's SDE draws (torch CPU generators seeded 9999
 * for sub-steps and -1 for steps, float64 randn, then standardised): first RK step of stage 1
 * = substep video, substep audio, step video, step audio. */
TEST(default_noise_matches_reference_draws)
{
    ltx_st_file *f = NULL;
    CHECK(ltx_st_open(HQ, &f) == LTX_OK);
    if (!f) return;
    ltx_res2s_params p;
    ltx_res2s_params_init(&p);
    ltx_rng *sub = ltx_rng_new_torch_cpu(p.substep_seed),
            *step = ltx_rng_new_torch_cpu(p.noise_seed);
    ltx_rng *order[4] = {sub, sub, step, step};
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "in.stage1.sde_noise%d", i);
        int64_t n;
        float *ref = ltx_st_read_f32(f, name, &n);
        const ltx_st_entry *e = ltx_st_find(f, name);
        double *z = malloc(sizeof(double) * (size_t)n);
        CHECK(ref && z && ltx_res2s_new_noise_host(order[i], e->ndim, e->shape, z) == LTX_OK);
        for (int64_t j = 0; ref && z && j < n; j++)
            worst = fmax(worst, fabs(z[j] - ref[j]));
        free(ref);
        free(z);
    }
    printf("  default SDE noise vs stored draws: max |err| %.3g\n", worst);
    CHECK(worst <= 1e-6); /* stored as float32 */
    ltx_rng_free(sub);
    ltx_rng_free(step);
    ltx_st_close(f);
}

TEST_MAIN()
