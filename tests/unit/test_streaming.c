/*
 * test_streaming.c — layer streaming of the transformer (src/models/ltx_streaming.c): on the
 * tiny checkpoint (inputs of modules/transformer_guided_batch), forwards with streaming
 * (prefetch 1, both prefetch modes, repeated forwards) give bitwise the same outputs as
 * without, every block weight is streamed and each block is fetched/evicted once per forward;
 * a weight replaced by the load hook (as LoRA fusion does) stays resident and is used.
 * cpu (madvise path) and cpu-restricted (device upload/free path).
 */
#include "harness.h"

#include "backend/backend.h"
#include "models/lora.h"
#include "models/ltx_transformer.h"
#include "nn/nn.h"

#include <stdio.h>
#include <string.h>

#define GB   LTX_TEST_DATA "/golden/modules/transformer_guided_batch.safetensors"
#define CKPT LTX_TEST_DATA "/golden/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors"

static bool same_bits(const ltx_tensor *a, const ltx_tensor *b)
{
    if (!a || !b || ltx_tensor_numel(a) != ltx_tensor_numel(b)) return false;
    float *x = ltx_tensor_to_host_f32(a), *y = ltx_tensor_to_host_f32(b);
    bool same = x && y && !memcmp(x, y, sizeof(float) * (size_t)ltx_tensor_numel(a));
    free(x), free(y);
    return same;
}

typedef struct inputs {
    ltx_tensor *lat[2], *pos[2], *ctx[2], *ts[2], *sigma;
    ltx_modality md[2];
} inputs;

static void inputs_load(ltx_st_file *g, ltx_backend *be, inputs *in)
{
    const char *nm[2] = {"video", "audio"};
    float s = 0.6f;
    int64_t one = 1;
    in->sigma = ltx_tensor_from_host(be, LTX_F32, 1, &one, &s);
    for (int k = 0; k < 2; k++) {
        char n[96];
        snprintf(n, sizeof n, "in.stg_batch1.%s.latent", nm[k]);
        in->lat[k] = ltx_st_tensor_as(g, be, n, LTX_F32);
        snprintf(n, sizeof n, "in.stg_batch1.%s.positions", nm[k]);
        in->pos[k] = ltx_st_tensor_as(g, be, n, LTX_F32);
        snprintf(n, sizeof n, "in.%s.context", nm[k]);
        ltx_tensor *all = ltx_st_tensor_as(g, be, n, LTX_F32);
        in->ctx[k] = all ? ltx_tensor_slice(all, 0, 0, 1, 1) : NULL;
        ltx_tensor_free(all);
        int64_t sh[2] = {1, in->lat[k] ? in->lat[k]->shape[1] : 1};
        in->ts[k] = ltx_tensor_new(be, LTX_F32, 2, sh);
        if (in->ts[k]) be->ops->fill(be, in->ts[k], 0.6);
        in->md[k] = (ltx_modality){.latent = in->lat[k],
                                   .sigma = in->sigma,
                                   .timesteps = in->ts[k],
                                   .positions = in->pos[k],
                                   .context = in->ctx[k],
                                   .enabled = true};
    }
}

static void inputs_free(inputs *in)
{
    for (int k = 0; k < 2; k++) {
        ltx_tensor_free(in->lat[k]), ltx_tensor_free(in->pos[k]);
        ltx_tensor_free(in->ctx[k]), ltx_tensor_free(in->ts[k]);
    }
    ltx_tensor_free(in->sigma);
}

/* Replaces block 1's attn1.to_q.weight with 2x its values (f32), like a LoRA fusion. */
static ltx_status double_q(void *user, ltx_backend *be, const char *name, const ltx_tensor *stored,
                           ltx_tensor **replacement)
{
    (void)user;
    if (strcmp(name, "transformer_blocks.1.attn1.to_q.weight")) return LTX_OK;
    *replacement = ltx_nn_unary(be, LTX_UNARY_SCALE, stored, 2.0, 0.0);
    return *replacement ? LTX_OK : LTX_ERR_OOM;
}

static void run_pair(ltx_transformer *m, inputs *in, ltx_tensor **v, ltx_tensor **a)
{
    *v = *a = NULL;
    CHECK(ltx_transformer_forward(m, &in->md[0], &in->md[1], NULL, NULL, v, a) == LTX_OK);
}

TEST(streaming_matches_resident)
{
    ltx_st_file *g = NULL, *ck = NULL;
    CHECK(ltx_st_open(GB, &g) == LTX_OK && ltx_st_open(CKPT, &ck) == LTX_OK);
    if (!g || !ck) return;
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = NULL;
        ltx_cpu_backend_create(r, NULL, NULL, &be);
        inputs in = {0};
        inputs_load(g, be, &in);
        ltx_tensor *plain_v = NULL;
        for (int hooked = 0; hooked < 2; hooked++) {
            ltx_transformer *m = NULL;
            CHECK(ltx_transformer_load_ex(ck, be, false, hooked ? double_q : NULL, NULL, &m) ==
                  LTX_OK);
            if (!m) continue;
            int L = ltx_transformer_get_config(m)->num_layers;
            ltx_tensor *v0, *a0;
            run_pair(m, &in, &v0, &a0);
            if (!hooked)
                plain_v = ltx_tensor_view(v0);
            else
                CHECK(!same_bits(plain_v, v0)); /* the replaced weight is in use */
            for (int mode = 0; mode < 2; mode++) {
                CHECK(ltx_transformer_set_streaming(m, ck, 1, (ltx_prefetch_mode)mode) == LTX_OK);
                ltx_stream_stats st;
                ltx_transformer_stream_stats(m, &st);
                CHECK(st.prefetch == 1);
                /* per block 6 gated attentions x 5 + 4 ff weights; the hooked one stays */
                CHECK(st.streamed_tensors == L * 34 - hooked);
                CHECK(st.resident_tensors == hooked);
                for (int rep = 0; rep < 2; rep++) {
                    ltx_tensor *v1, *a1;
                    run_pair(m, &in, &v1, &a1);
                    CHECK(same_bits(v0, v1));
                    CHECK(same_bits(a0, a1));
                    ltx_tensor_free(v1), ltx_tensor_free(a1);
                }
                ltx_transformer_stream_stats(m, &st);
                CHECK(st.evictions == 2 * L);
                printf("  %s hooked=%d mode=%d: streamed %d (%lld bytes), fetches %lld, "
                       "evictions %lld: outputs bitwise equal\n",
                       be->device_name, hooked, mode, st.streamed_tensors,
                       (long long)st.streamed_bytes, (long long)st.fetches,
                       (long long)st.evictions);
            }
            CHECK(ltx_transformer_set_streaming(m, ck, 0, LTX_PREFETCH_ADVISE) == LTX_OK);
            ltx_stream_stats st;
            ltx_transformer_stream_stats(m, &st);
            CHECK(st.prefetch == 0);
            ltx_tensor *v2, *a2;
            run_pair(m, &in, &v2, &a2); /* streaming off again: weights all back */
            CHECK(same_bits(v0, v2) && same_bits(a0, a2));
            ltx_tensor_free(v2), ltx_tensor_free(a2);
            /* the model is freed while streaming (evicted device weights have no buffer) */
            CHECK(ltx_transformer_set_streaming(m, ck, 3, LTX_PREFETCH_ADVISE) == LTX_OK);
            ltx_transformer_stream_stats(m, &st);
            CHECK(st.prefetch == L - 1); /* ref: min(N, L - 1) */
            ltx_tensor_free(v0), ltx_tensor_free(a0);
            ltx_transformer_free(m);
        }
        ltx_tensor_free(plain_v);
        inputs_free(&in);
        ltx_backend_destroy(be);
    }
    CHECK(ltx_transformer_set_streaming(NULL, ck, 1, LTX_PREFETCH_ADVISE) != LTX_OK);
    ltx_st_close(g);
    ltx_st_close(ck);
}

/* LoRA load hook that leaves the streamed block weights to the streaming (as stages.c). */
static ltx_status lora_skip_streamed(void *user, ltx_backend *be, const char *name,
                                     const ltx_tensor *stored, ltx_tensor **replacement)
{
    *replacement = NULL;
    if (ltx_transformer_streams_weight(name, stored->ndim)) return LTX_OK;
    return ltx_lora_weight_hook(user, be, name, stored, replacement);
}

/* Interface-v2 streaming (staged uploads on a copy stream on cpu-restricted, madvise on cpu)
 * with prefetch 0, 1 and 2, with and without a LoRA fused per block: outputs bitwise equal to
 * the resident model (LoRA: fused at load), over two forwards each. */
TEST(streaming_prefetch_0_1_2_with_and_without_lora)
{
    ltx_st_file *g = NULL, *ck = NULL;
    ltx_lora *lora = NULL;
    CHECK(ltx_st_open(GB, &g) == LTX_OK && ltx_st_open(CKPT, &ck) == LTX_OK);
    CHECK(ltx_lora_open(LTX_TEST_DATA "/golden/tiny_ckpt/tiny-lora-r4.safetensors", &lora) ==
          LTX_OK);
    for (int r = 0; g && ck && lora && r < 2; r++) {
        ltx_backend *be = NULL;
        ltx_cpu_backend_create(r, NULL, NULL, &be);
        inputs in = {0};
        inputs_load(g, be, &in);
        ltx_tensor *plain = NULL;
        for (int withlora = 0; withlora < 2; withlora++) {
            ltx_lora_set set;
            ltx_lora_set_init(&set);
            if (withlora) CHECK(ltx_lora_set_add(&set, lora, 0.8) == LTX_OK);
            ltx_transformer *res = NULL;
            CHECK(ltx_transformer_load_ex(ck, be, false, withlora ? ltx_lora_weight_hook : NULL,
                                          &set, &res) == LTX_OK);
            if (!res) continue;
            int fused_resident = set.fused;
            ltx_tensor *v0, *a0;
            run_pair(res, &in, &v0, &a0);
            ltx_transformer_free(res);
            if (!withlora)
                plain = ltx_tensor_view(v0);
            else
                CHECK(!same_bits(plain, v0)); /* the LoRA changes the output */
            for (int P = 0; P <= 2; P++) {
                ltx_transformer *m = NULL;
                ltx_lora_set s2;
                ltx_lora_set_init(&s2);
                if (withlora) CHECK(ltx_lora_set_add(&s2, lora, 0.8) == LTX_OK);
                CHECK(ltx_transformer_load_ex(ck, be, false, withlora ? lora_skip_streamed : NULL,
                                              &s2, &m) == LTX_OK);
                if (!m) continue;
                CHECK(ltx_transformer_set_streaming_ex(m, ck, true, P, LTX_PREFETCH_ADVISE,
                                                       withlora ? &s2 : NULL,
                                                       LTX_DTYPE_COUNT) == LTX_OK);
                ltx_stream_stats st;
                ltx_transformer_stream_stats(m, &st);
                int L = ltx_transformer_get_config(m)->num_layers;
                CHECK(st.prefetch == (P < L - 1 ? P : L - 1) && st.streamed_tensors == L * 34);
                uint64_t syncs0 = be->n_host_syncs;
                for (int rep = 0; rep < 2; rep++) {
                    ltx_tensor *v1, *a1;
                    run_pair(m, &in, &v1, &a1);
                    CHECK_MSG(same_bits(v0, v1) && same_bits(a0, a1),
                              "%s lora %d prefetch %d rep %d", be->device_name, withlora, P, rep);
                    ltx_tensor_free(v1), ltx_tensor_free(a1);
                }
                printf("  %s lora=%d (fused at load: %d) prefetch=%d: outputs bitwise equal, "
                       "%.1f host syncs per forward\n",
                       be->device_name, withlora, fused_resident, P,
                       (double)(be->n_host_syncs - syncs0) / 2.0);
                ltx_transformer_free(m);
            }
            ltx_tensor_free(v0), ltx_tensor_free(a0);
        }
        ltx_tensor_free(plain);
        inputs_free(&in);
        ltx_backend_destroy(be);
    }
    ltx_lora_close(lora);
    ltx_st_close(g);
    ltx_st_close(ck);
}

/* A checkpoint opened from memory: on the host path nothing is streamed (its bytes are not a
 * file mapping, MADV_DONTNEED would zero them); on a device the uploads still work. */
TEST(streaming_from_memory_buffer)
{
    FILE *fp = fopen(CKPT, "rb");
    CHECK(fp != NULL);
    if (!fp) return;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    void *buf = malloc((size_t)sz);
    CHECK(buf && fread(buf, 1, (size_t)sz, fp) == (size_t)sz);
    fclose(fp);
    ltx_st_file *g = NULL, *ck = NULL;
    CHECK(ltx_st_open(GB, &g) == LTX_OK);
    CHECK(ltx_st_open_memory(buf, (size_t)sz, "tiny(memory)", &ck) == LTX_OK);
    for (int r = 0; g && ck && r < 2; r++) {
        ltx_backend *be = NULL;
        ltx_cpu_backend_create(r, NULL, NULL, &be);
        inputs in = {0};
        inputs_load(g, be, &in);
        ltx_transformer *m = NULL;
        CHECK(ltx_transformer_load(ck, be, false, &m) == LTX_OK);
        if (m) {
            ltx_tensor *v0, *a0, *v1, *a1;
            run_pair(m, &in, &v0, &a0);
            CHECK(ltx_transformer_set_streaming(m, ck, 1, LTX_PREFETCH_ADVISE) == LTX_OK);
            ltx_stream_stats st;
            ltx_transformer_stream_stats(m, &st);
            CHECK(r ? st.streamed_tensors > 0 : st.streamed_tensors == 0);
            run_pair(m, &in, &v1, &a1);
            CHECK(same_bits(v0, v1) && same_bits(a0, a1));
            printf("  %s, memory buffer: %d streamed, %d resident, outputs equal\n",
                   be->device_name, st.streamed_tensors, st.resident_tensors);
            ltx_tensor_free(v0), ltx_tensor_free(a0), ltx_tensor_free(v1), ltx_tensor_free(a1);
            ltx_transformer_free(m);
        }
        inputs_free(&in);
        ltx_backend_destroy(be);
    }
    ltx_st_close(ck);
    ltx_st_close(g);
    free(buf);
}

TEST_MAIN()
