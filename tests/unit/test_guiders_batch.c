/*
 * test_guiders_batch.c — src/sampling/denoiser.c: one guided evaluation of the tiny
 * checkpoint (the inputs of modules/transformer_guided_batch: sigma 0.6, LTX-2.3 guiders with
 * STG at block 1) with the four passes in one batch (max_batch 4) and one pass per call
 * (max_batch 1): both match the golden's guided outputs and each other. cpu and cpu-restricted.
 */
#include "harness.h"

#include "backend/backend.h"
#include "sampling/denoiser.h"

#include <math.h>
#include <stdio.h>

#define GB LTX_TEST_DATA "/golden/modules/transformer_guided_batch.safetensors"
#define CKPT LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static double maxd(const ltx_tensor *a, const ltx_tensor *b)
{
    float *x = ltx_tensor_to_host_f32(a), *y = ltx_tensor_to_host_f32(b);
    double m = x && y ? 0 : INFINITY;
    for (int64_t i = 0; x && y && i < ltx_tensor_numel(a); i++) m = fmax(m, fabs(x[i] - y[i]));
    free(x), free(y);
    return m;
}

TEST(batched_equals_separate_and_golden)
{
    ltx_st_file *g = NULL, *ck = NULL;
    CHECK(ltx_st_open(GB, &g) == LTX_OK && ltx_st_open(CKPT, &ck) == LTX_OK);
    if (!g || !ck) return;
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = NULL;
        ltx_cpu_backend_create(r, NULL, NULL, &be);
        ltx_transformer *m = NULL;
        CHECK(ltx_transformer_load(ck, be, false, &m) == LTX_OK);
        if (!m) return;
        ltx_latent_state st[2] = {0};
        const char *md[2] = {"video", "audio"};
        ltx_tensor *ctx[2], *neg[2], *want[2];
        for (int k = 0; k < 2; k++) {
            char n[96];
            snprintf(n, sizeof n, "in.stg_batch1.%s.latent", md[k]);
            st[k].latent = ltx_st_tensor_as(g, be, n, LTX_F32);
            st[k].clean_latent = ltx_tensor_view(st[k].latent);
            snprintf(n, sizeof n, "in.stg_batch1.%s.positions", md[k]);
            st[k].positions = ltx_st_tensor_as(g, be, n, LTX_F32);
            int64_t sh[3] = {1, st[k].latent->shape[1], 1};
            st[k].denoise_mask = ltx_tensor_new(be, LTX_F32, 3, sh);
            be->ops->fill(be, st[k].denoise_mask, 1.0);
            snprintf(n, sizeof n, "in.%s.context", md[k]);
            ltx_tensor *all = ltx_st_tensor_as(g, be, n, LTX_F32); /* rows: pos, neg, pos, pos */
            ctx[k] = ltx_tensor_slice(all, 0, 0, 1, 1);
            neg[k] = ltx_tensor_slice(all, 0, 1, 2, 1);
            ltx_tensor_free(all);
            snprintf(n, sizeof n, "out.%s.guided", md[k]);
            want[k] = ltx_st_tensor_as(g, be, n, LTX_F32);
        }
        ltx_guider_params vg, ag;
        ltx_guider_params_init(&vg), ltx_guider_params_init(&ag);
        vg.cfg_scale = 3, ag.cfg_scale = 7;
        vg.stg_scale = ag.stg_scale = 1;
        vg.modality_scale = ag.modality_scale = 3;
        vg.rescale_scale = ag.rescale_scale = 0.7;
        vg.stg_blocks[0] = ag.stg_blocks[0] = 1;
        vg.n_stg_blocks = ag.n_stg_blocks = 1;
        ltx_guided_inputs in = {.be = be, .video = &st[0], .audio = &st[1], .v_ctx = ctx[0],
                                .a_ctx = ctx[1], .v_neg = neg[0], .a_neg = neg[1], .vg = &vg,
                                .ag = &ag, .sigma = 0.6f, .state_dtype = LTX_F32};
        ltx_tensor *out[2][2] = {{0}};
        int np = 0;
        for (int b = 0; b < 2; b++) {
            in.max_batch = b ? 1 : 4;
            CHECK(ltx_guided_denoise(m, &in, &out[b][0], &out[b][1], NULL, NULL, &np) == LTX_OK);
        }
        CHECK(np == 4);
        for (int k = 0; k < 2; k++) {
            double eb = maxd(out[0][k], want[k]), es = maxd(out[1][k], want[k]);
            double d = maxd(out[0][k], out[1][k]);
            printf("  %s %s: batched vs golden %.3g, separate vs golden %.3g, batched vs "
                   "separate %.3g\n", be->device_name, md[k], eb, es, d);
            CHECK(eb <= 1e-4 && es <= 1e-4 && d <= 1e-5);
            ltx_tensor_free(out[0][k]), ltx_tensor_free(out[1][k]);
            ltx_tensor_free(ctx[k]), ltx_tensor_free(neg[k]), ltx_tensor_free(want[k]);
            ltx_latent_state_clear(&st[k]);
        }
        ltx_transformer_free(m);
        ltx_backend_destroy(be);
    }
    ltx_st_close(g);
    ltx_st_close(ck);
}

TEST_MAIN()
