/*
 * test_error_status.c — the per-thread error state keeps the status beside the message
 * (src/core/error.c): ltx_err records it, ltx_err_context keeps or replaces it, ltx_err_clear
 * resets it, threads do not share it; and the video VAE's NULL-returning helpers recover the
 * code from it, not from the message text (ltx_vae_failed_status); ltx_err_failed hands a
 * NULL-returning helper's code to its caller.
 */
#include "harness.h"

#include "core/error.h"
#include "models/video_vae_internal.h"

#include <pthread.h>

TEST(status_beside_message)
{
    ltx_err_clear();
    CHECK(ltx_err_status() == LTX_OK);
    CHECK(ltx_err(LTX_ERR_NOT_BUILT, "conv3d on this backend") == LTX_ERR_NOT_BUILT);
    CHECK(ltx_err_status() == LTX_ERR_NOT_BUILT);
    ltx_err_context(LTX_ERR_NOT_BUILT, "decoding: ");
    CHECK(ltx_err_status() == LTX_ERR_NOT_BUILT);
    CHECK(strstr(ltx_err_message(), "decoding: conv3d") == ltx_err_message());
    ltx_err_context(LTX_ERR_IO, "job 3: ");
    CHECK(ltx_err_status() == LTX_ERR_IO);
    ltx_err_clear();
    CHECK(ltx_err_status() == LTX_OK && !*ltx_err_message());
}

/* the code, whatever the words: the old text matching would have said INVALID_ARG / NOT_BUILT */
TEST(vae_failed_status_uses_the_code)
{
    ltx_err(LTX_ERR_NOT_BUILT, "op missing");
    CHECK(ltx_vae_failed_status() == LTX_ERR_NOT_BUILT);
    ltx_err(LTX_ERR_IO, "read failed: feature not built into this file");
    CHECK(ltx_vae_failed_status() == LTX_ERR_IO);
    ltx_err(LTX_ERR_OOM, "cannot allocate 3 GiB");
    CHECK(ltx_vae_failed_status() == LTX_ERR_OOM);
    ltx_err_clear();
    CHECK(ltx_vae_failed_status() == LTX_ERR_INVALID_ARG); /* no status recorded */
}

/* ltx_err_failed: what a caller returns when its helper gave NULL — the helper's own code, never
 * LTX_OK; out of memory (recorded, with a message) only when the helper recorded nothing */
TEST(failed_takes_the_helpers_code)
{
    ltx_err(LTX_ERR_FORMAT, "x.safetensors: no tensor named 'w'");
    CHECK(ltx_err_failed() == LTX_ERR_FORMAT);
    CHECK(strstr(ltx_err_message(), "no tensor named 'w'") != NULL); /* message untouched */
    CHECK(ltx_err_context(ltx_err_failed(), "loading: ") == LTX_ERR_FORMAT);
    ltx_err_clear();
    CHECK(ltx_err_failed() == LTX_ERR_OOM);
    CHECK(ltx_err_status() == LTX_ERR_OOM && strstr(ltx_err_message(), "out of memory"));
    ltx_err_clear();
}

static void *other_thread(void *arg)
{
    *(ltx_status *)arg = ltx_err_status();
    return NULL;
}

TEST(status_is_per_thread)
{
    ltx_err(LTX_ERR_DEVICE, "cuda");
    ltx_status seen = LTX_ERR_INTERNAL;
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &seen);
    pthread_join(t, NULL);
    CHECK(seen == LTX_OK);
    CHECK(ltx_err_status() == LTX_ERR_DEVICE);
    ltx_err_clear();
}

TEST_MAIN()
