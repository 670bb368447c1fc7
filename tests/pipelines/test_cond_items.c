/*
 * test_cond_items.c — the conditioning items of src/sampling/conditioning.h on small states, on
 * "cpu" and "cpu-restricted": keyframe tokens (positions shifted by the frame index, causal fix
 * only at frame 0, bf16 mask value, promotion of bf16 grid positions to f32), reference tokens
 * (positions x downscale), the attention-mask block layout of build_attention_mask over three
 * successive items (scalar weight, per-token weights, a keyframe extending the mask with ones and
 * zeros against earlier conditioning), the retake region masks, the IC-LoRA mask downsampling
 * (including the divisibility refusal) and latent length conforming.
 * The full pipelines are checked against the reference by the pipeline goldens.
 */
#include "harness.h"

#include "backend/backend.h"
#include "core/dtype.h"
#include "sampling/conditioning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ltx_backend *backend(bool restricted)
{
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(restricted, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

/* (1, C, F, H, W) latent with values v(c, f, h, w) = c + 100 f + 10 h + w. */
static ltx_tensor *latent(ltx_backend *be, int C, int F, int H, int W)
{
    float *h = malloc(sizeof(float) * (size_t)(C * F * H * W));
    for (int c = 0; c < C; c++)
        for (int f = 0; f < F; f++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    h[((c * F + f) * H + y) * W + x] = (float)(c + 100 * f + 10 * y + x);
    int64_t s[5] = {1, C, F, H, W};
    ltx_tensor *t = ltx_tensor_from_host(be, LTX_F32, 5, s, h);
    free(h);
    return t;
}

static void items(bool restricted)
{
    ltx_backend *be = backend(restricted);
    const int C = 4, F = 2, H = 2, W = 3, T = F * H * W;
    int64_t shape[5] = {1, C, F, H, W};
    const int scale[3] = {8, 32, 32};
    ltx_latent_state st = {0};
    CHECK(ltx_video_initial_state(be, shape, 1, scale, true, 24.0, NULL, LTX_BF16, &st) == LTX_OK);
    CHECK(st.positions->dtype == LTX_BF16);

    /* keyframe at pixel frame 8, strength 0.8 */
    ltx_tensor *kf = latent(be, C, 1, H, W);
    CHECK(ltx_cond_keyframe(be, &st, T, kf, 8, 0.8, 24.0, LTX_BF16, LTX_REFERENCE_2026_04) ==
          LTX_OK);
    const int M1 = H * W, N1 = T + M1;
    CHECK(st.latent->shape[1] == N1 && st.clean_latent->shape[1] == N1);
    CHECK(st.positions->dtype == LTX_F32 && st.positions->shape[2] == N1);
    CHECK(st.attention_mask == NULL);
    float *pos = ltx_tensor_to_host_f32(st.positions),
          *mask = ltx_tensor_to_host_f32(st.denoise_mask);
    float *lat = ltx_tensor_to_host_f32(st.latent);
    /* grid token of frame 1: time [1, 9) / 24 rounded to bf16 (kept); keyframe token j: time
     * [8, 16) / 24 in f32 (no causal fix), h/w bounds as the grid's */
    CHECK(pos[(0 * N1 + H * W) * 2 + 0] == ltx_round_bf16(1.0f / 24.0f));
    CHECK(pos[(0 * N1 + H * W) * 2 + 1] == ltx_round_bf16(9.0f / 24.0f));
    for (int j = 0; j < M1; j++) {
        int t = T + j;
        CHECK(pos[(0 * N1 + t) * 2 + 0] == 8.0f / 24.0f);
        CHECK(pos[(0 * N1 + t) * 2 + 1] == 16.0f / 24.0f);
        CHECK(pos[(1 * N1 + t) * 2 + 0] == (float)(32 * (j / W)));
        CHECK(pos[(2 * N1 + t) * 2 + 1] == (float)(32 * (j % W + 1)));
        CHECK(mask[t] == 0.2001953125f); /* bf16(1 - 0.8) */
        for (int c = 0; c < C; c++)
            CHECK(lat[t * C + c] == (float)(c + 10 * (j / W) + j % W));
    }
    for (int t = 0; t < T; t++)
        CHECK(mask[t] == 1.0f);
    free(pos);
    free(mask);
    free(lat);

    /* a keyframe at frame 0 keeps the causal fix: time [0, 1) */
    ltx_latent_state s0 = {0};
    CHECK(ltx_video_initial_state(be, shape, 1, scale, true, 24.0, NULL, LTX_F32, &s0) == LTX_OK);
    CHECK(ltx_cond_keyframe(be, &s0, T, kf, 0, 1.0, 24.0, LTX_F32, LTX_REFERENCE_2026_04) ==
          LTX_OK);
    pos = ltx_tensor_to_host_f32(s0.positions);
    CHECK(pos[T * 2 + 0] == 0.0f && pos[T * 2 + 1] == 1.0f / 24.0f);
    free(pos);
    ltx_latent_state_clear(&s0);

    /* reference (downscale 2) with a scalar weight 0.5: the first attention mask */
    ltx_tensor *ref = latent(be, C, 1, 1, 2);
    const int M2 = 2, N2 = N1 + M2;
    float half = 0.5f;
    CHECK(ltx_cond_reference(be, &st, T, ref, 2, 1.0, 24.0, &half, 1, LTX_BF16,
                             LTX_REFERENCE_2026_04) == LTX_OK);
    CHECK(st.attention_mask && st.attention_mask->shape[1] == N2);
    pos = ltx_tensor_to_host_f32(st.positions);
    CHECK(pos[(1 * N2 + N1 + 1) * 2 + 1] == 64.0f); /* h end 32 x 2 */
    CHECK(pos[(2 * N2 + N1 + 1) * 2 + 0] == 64.0f); /* w start 32 x 2 */
    free(pos);
    /* second reference with per-token weights */
    float wts[2] = {0.25f, 0.75f};
    CHECK(ltx_cond_reference(be, &st, T, ref, 2, 0.5, 24.0, wts, 2, LTX_BF16,
                             LTX_REFERENCE_2026_04) == LTX_OK);
    const int N3 = N2 + M2;
    /* then a keyframe: extends the existing mask with ones (grid) and zeros (earlier items) */
    CHECK(ltx_cond_keyframe(be, &st, T, kf, 8, 0.8, 24.0, LTX_BF16, LTX_REFERENCE_2026_04) ==
          LTX_OK);
    const int N4 = N3 + M1;
    CHECK(st.attention_mask->shape[1] == N4 && st.attention_mask->shape[2] == N4);
    float *am = ltx_tensor_to_host_f32(st.attention_mask);
#define A(i, j) am[(i)*N4 + (j)]
    CHECK(A(0, 0) == 1.0f && A(T - 1, N1 - 1) == 1.0f && A(T, 0) == 1.0f); /* grid + keyframe 1 */
    CHECK(A(0, N1) == 0.5f && A(N1 + 1, T - 1) == 0.5f); /* grid <-> reference 1 */
    CHECK(A(T, N1) == 0.0f && A(N1, T) == 0.0f);         /* keyframe 1 x reference 1 */
    CHECK(A(N1, N1 + 1) == 1.0f);                        /* reference 1 x itself */
    CHECK(A(3, N2) == 0.25f && A(3, N2 + 1) == 0.75f);   /* grid -> reference 2 */
    CHECK(A(N2 + 1, 5) == 0.75f);                        /* reference 2 -> grid */
    CHECK(A(N1, N2) == 0.0f && A(N2, N1 + 1) == 0.0f);   /* reference 1 x reference 2 */
    CHECK(A(0, N3) == 1.0f && A(N3 + 2, T - 1) == 1.0f); /* grid <-> keyframe 2 */
    CHECK(A(N2, N3) == 0.0f && A(N3, T) == 0.0f);        /* earlier items x keyframe 2 */
    CHECK(A(N3 + 1, N3 + 4) == 1.0f);
#undef A
    free(am);
    mask = ltx_tensor_to_host_f32(st.denoise_mask);
    CHECK(mask[N1] == 0.0f && mask[N2] == 0.5f);
    free(mask);
    ltx_latent_state_clear(&st);

    /* region masks: retake golden's window on 4 latent frames at 24 fps */
    float fr[4], au[26];
    ltx_cond_region_video_frames(4, 24.0, 0.4, 0.75, fr);
    CHECK(fr[0] == 0 && fr[1] == 0 && fr[2] == 1 && fr[3] == 1);
    ltx_cond_region_audio_frames(26, 0.4, 0.75, au);
    /* audio frame t spans [max(0, 4t-3), 4t+1) * 10 ms: t = 10 is [0.37, 0.41) (in), t = 19 is
     * [0.73, 0.77) (in), t = 20 is [0.77, 0.81) (out), t = 9 is [0.33, 0.37) (out) */
    CHECK(au[9] == 0 && au[10] == 1 && au[19] == 1 && au[20] == 0);

    /* conform: pad with zeros / truncate along dim 2 */
    ltx_tensor *l3 = latent(be, 2, 3, 1, 1), *p5 = ltx_cond_conform_frames(be, l3, 5),
               *t2 = ltx_cond_conform_frames(be, l3, 2);
    CHECK(p5 && p5->shape[2] == 5 && t2 && t2->shape[2] == 2);
    float *hp = p5 ? ltx_tensor_to_host_f32(p5) : NULL;
    if (hp) CHECK(hp[2] == 200.0f && hp[3] == 0.0f && hp[5 + 1] == 101.0f);
    free(hp);
    ltx_tensor_free(l3);
    ltx_tensor_free(p5);
    ltx_tensor_free(t2);
    ltx_tensor_free(kf);
    ltx_tensor_free(ref);
    ltx_backend_destroy(be);
}

TEST(items_cpu)
{
    items(false);
}
TEST(items_cpu_restricted)
{
    items(true);
}

TEST(mask_to_latent)
{
    /* 9 frames of 4x4 -> 2 latent frames of 2x2: frame 0 alone, frames 1..8 averaged */
    float m[9 * 16], out[8];
    for (int f = 0; f < 9; f++)
        for (int i = 0; i < 16; i++)
            m[f * 16 + i] = f == 0 ? (i < 8 ? 1.0f : 0.0f) : 0.25f * (f % 2);
    CHECK(ltx_cond_mask_to_latent(m, 9, 4, 4, 2, 2, 2, out) == LTX_OK);
    CHECK(out[0] == 1.0f && out[1] == 1.0f && out[2] == 0.0f && out[3] == 0.0f);
    for (int k = 4; k < 8; k++)
        CHECK(out[k] == 0.125f);
    /* 10 pixel frames do not group onto 3 latent frames */
    float big[10 * 16] = {0}, o3[12];
    CHECK(ltx_cond_mask_to_latent(big, 10, 4, 4, 3, 2, 2, o3) == LTX_ERR_INVALID_ARG);
    CHECK(strstr(ltx_err_message(), "10 pixel frames") != NULL);
}

TEST_MAIN()
