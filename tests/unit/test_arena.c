/* test_arena.c — arena carving, alignment, exhaustion error, reset and peak, on both CPU
 * devices (data moves through upload/download only). */
#include "harness.h"

#include "backend/backend.h"
#include "core/arena.h"

static void run(bool restricted)
{
    ltx_backend *be = NULL;
    CHECK(ltx_cpu_backend_create(restricted, NULL, NULL, &be) == LTX_OK);
    ltx_arena *a = ltx_arena_new(be, 4096);
    CHECK(a != NULL);
    int64_t s1[2] = {3, 5}, s2[1] = {7};
    ltx_tensor *t1 = ltx_arena_tensor(a, LTX_F32, 2, s1);
    ltx_tensor *t2 = ltx_arena_tensor(a, LTX_BF16, 1, s2);
    CHECK(t1 && t2);
    CHECK(ltx_arena_used(a) == 128); /* 60 -> 64, 14 -> 64 */
    CHECK((t2->offset * 2) % 64 == 0);
    float in[15], out[15];
    for (int i = 0; i < 15; i++) in[i] = (float)i * 0.5f;
    CHECK(ltx_tensor_upload(t1, in, LTX_F32) == LTX_OK);
    CHECK(ltx_tensor_download(t1, out, LTX_F32) == LTX_OK);
    CHECK(memcmp(in, out, sizeof in) == 0);
    int64_t big[1] = {2000};
    CHECK(ltx_arena_tensor(a, LTX_F32, 1, big) == NULL); /* 8000 bytes > what is left */
    ltx_arena_reset(a);
    CHECK(ltx_arena_used(a) == 0 && ltx_arena_peak(a) == 128);
    ltx_tensor *t3 = ltx_arena_tensor(a, LTX_F32, 1, (int64_t[]){1000});
    CHECK(t3 != NULL && ltx_arena_peak(a) == 4032);
    ltx_tensor_free(t1);
    ltx_tensor_free(t2);
    ltx_arena_free(a); /* t3 still holds a buffer reference */
    CHECK(t3->buf->refs == 1);
    ltx_tensor_free(t3);
    ltx_backend_destroy(be);
}

TEST(arena_cpu) { run(false); }
TEST(arena_cpu_restricted) { run(true); }
TEST_MAIN()
