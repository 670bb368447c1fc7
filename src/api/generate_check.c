/*
 * generate_check.c — the validation of the generate calls that looks past the flags: the
 * output folder, conditioning images (decodable, large enough for the CRF round trip, an
 * aspect ratio the cover resize can hold), guidance scales and LoRA strengths (finite, in
 * sane ranges), the checkpoint's transformer config against --video/audio-stg-blocks, and
 * input audio samples. Everything here runs before any weight is loaded (README: "everything
 * is checked before any weight is loaded"); errors name the flag, the file and the value.
 *
 * ref: nothing in the reference checks these (it fails late, or silently writes black or
 * silent video); ltx_pipelines/utils/args.py defines the flags named in the messages. The
 * ranges are ltx2c's, documented next to each constant.
 *
 * Not here: the flag-level checks (sizes, frames, files exist) in src/api/generate.c.
 */
#include "api/generate_internal.h"

#include "io/media.h"
#include "models/gemma3.h"
#include "models/ltx_transformer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Guidance scales (cfg, stg, modality): the reference's defaults are 1-7; anything past 100
 * only amplifies the difference of two predictions into overflow (1e308 gives NaN latents).
 * Rescale interpolates between the rescaled and the plain prediction: [0, 1]. */
#define MAX_GUIDANCE_SCALE 100.0
/* LoRA strengths: 0..1 is usual, up to 2 and negative ("inverse") LoRAs are used; past 10 the
 * fused weights are dominated by the LoRA product and a bf16 overflow is near (1e300: Inf). */
#define MAX_LORA_STRENGTH 10.0
/* The cover resize of an image (resize to cover the frame, then center crop) may not need more
 * than this many times the frame's pixels (a 20000x1 image covering 1024x1536 would need 21
 * gigapixels); 16x admits any aspect ratio within 4:1 of the video's. */
#define MAX_COVER_FACTOR 16.0

/* ---- output path ---- */

ltx_status ltx_gen_check_output_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: is a directory", path);
        if (!S_ISREG(st.st_mode))
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--output-path %s: exists and is not a regular file", path);
    }
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: folder name too long", path);
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    const char *base = slash ? slash + 1 : path;
    /* room for the temporary file's suffix next to the final name */
    if (strlen(base) > NAME_MAX - 32)
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: file name longer than %d characters",
                       path, NAME_MAX - 32);
    if (stat(dir, &st) != 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: the folder %s %s", path, dir,
                       errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ltx_err(LTX_ERR_INVALID_ARG, "--output-path %s: %s is not a folder", path, dir);
    /* Writable? Try it (access(W_OK) would answer yes to root on a 0555 folder, and no to
     * nobody on a read-only mount only by luck): create and remove a unique probe file. */
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.ltx2c-write-test-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--output-path %s: cannot create files in the folder "
                       "%s (%s)",
                       path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return LTX_OK;
}

/* ---- conditioning images ---- */

ltx_status ltx_gen_check_image(const ltx_image_input *im, int height, int width)
{
    ltx_frames fr = {0};
    ltx_status s = ltx_image_load(im->path, &fr);
    if (s != LTX_OK)
        return ltx_err(LTX_ERR_INVALID_ARG, "--image %s: not a readable image (%s)", im->path,
                       ltx_err_message());
    int h = fr.h, w = fr.w;
    /* ref: media_io.resize_and_center_crop: scale = max(H / h, W / w), ceil(side * scale) */
    double scale = fmax((double)height / h, (double)width / w);
    double cover = ceil(h * scale) * ceil(w * scale);
    if (im->crf != 0 && (h < 2 || w < 2))
        s = ltx_err(LTX_ERR_INVALID_ARG,
                    "--image %s: %dx%d pixels is too small for the CRF %g round trip (H.264 "
                    "needs at least 2x2; CRF 0 skips the round trip)",
                    im->path, w, h, im->crf);
    else if (cover > MAX_COVER_FACTOR * height * width)
        s = ltx_err(LTX_ERR_INVALID_ARG,
                    "--image %s: %dx%d is too far from the video's aspect ratio (%dx%d): "
                    "resizing it to cover the frame needs %.0f pixels, more than %g times the "
                    "frame",
                    im->path, w, h, width, height, cover, MAX_COVER_FACTOR);
    if (s == LTX_OK && im->crf != 0) { /* the round trip itself: one H.264 frame, cheap */
        ltx_frames rt = {0};
        ltx_status r = ltx_image_crf_roundtrip(fr.rgb, h, w, im->crf, &rt);
        ltx_frames_free(&rt);
        if (r != LTX_OK)
            s = ltx_err(LTX_ERR_INVALID_ARG, "--image %s: %dx%d: the CRF %g round trip fails (%s)",
                        im->path, w, h, im->crf, ltx_err_message());
    }
    ltx_frames_free(&fr);
    return s;
}

/* ---- scales and strengths ---- */

static ltx_status in_range(const char *flag, const char *what, double v, double lo, double hi)
{
    if (isfinite(v) && v >= lo && v <= hi) return LTX_OK;
    return ltx_err(LTX_ERR_INVALID_ARG, "%s%s%s %g: must be a finite number in [%g, %g]", flag,
                   what ? " " : "", what ? what : "", v, lo, hi);
}

ltx_status ltx_gen_check_lora_strengths(const char *flag, const ltx_lora_input *l, int n)
{
    for (int i = 0; i < n; i++)
        LTX_TRY(in_range(flag, l[i].path, l[i].strength, -MAX_LORA_STRENGTH, MAX_LORA_STRENGTH));
    return LTX_OK;
}

ltx_status ltx_gen_check_guidance(const ltx_guided_params *p)
{
    const ltx_guidance *gs[2] = {&p->video, &p->audio};
    static const char *const names[2][4] = {
        {"--video-cfg-guidance-scale", "--video-stg-guidance-scale", "--a2v-guidance-scale",
         "--video-rescale-scale"},
        {"--audio-cfg-guidance-scale", "--audio-stg-guidance-scale", "--v2a-guidance-scale",
         "--audio-rescale-scale"}};
    for (int k = 0; k < 2; k++) {
        const ltx_guidance *g = gs[k];
        LTX_TRY(in_range(names[k][0], NULL, g->cfg_scale, 0, MAX_GUIDANCE_SCALE));
        LTX_TRY(in_range(names[k][1], NULL, g->stg_scale, 0, MAX_GUIDANCE_SCALE));
        LTX_TRY(in_range(names[k][2], NULL, g->modality_scale, 0, MAX_GUIDANCE_SCALE));
        LTX_TRY(in_range(names[k][3], NULL, g->rescale_scale, 0, 1));
    }
    LTX_TRY(in_range("--distilled-lora-strength-stage-1", NULL, p->distilled_lora_strength_stage_1,
                     -MAX_LORA_STRENGTH, MAX_LORA_STRENGTH));
    LTX_TRY(in_range("--distilled-lora-strength-stage-2", NULL, p->distilled_lora_strength_stage_2,
                     -MAX_LORA_STRENGTH, MAX_LORA_STRENGTH));
    return LTX_OK;
}

/* ---- the checkpoint's transformer config ---- */

ltx_status ltx_gen_check_transformer(const ltx_st_file *ckpt, const char *flag,
                                     const ltx_guided_params *p, bool audio_guided)
{
    ltx_transformer_config c;
    ltx_status s = ltx_transformer_config_parse(ltx_st_metadata(ckpt, "config"), false, &c);
    if (s != LTX_OK) return ltx_err(s, "%s %s: %s", flag, ltx_st_path(ckpt), ltx_err_message());
    if (!p) return LTX_OK;
    const ltx_guidance *gs[2] = {&p->video, &p->audio};
    for (int k = 0; k < (audio_guided ? 2 : 1); k++)
        for (int i = 0; i < gs[k]->n_stg_blocks; i++)
            if (gs[k]->stg_blocks[i] >= c.num_layers)
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "--%s-stg-blocks %d: the transformer in %s has %d blocks "
                               "(0..%d)",
                               k ? "audio" : "video", gs[k]->stg_blocks[i], ltx_st_path(ckpt),
                               c.num_layers, c.num_layers - 1);
    return LTX_OK;
}

ltx_status ltx_gen_check_gemma_config(const char *gemma_root)
{
    ltx_gemma3_config c;
    ltx_status s = ltx_gemma3_config_read(gemma_root, &c);
    if (s != LTX_OK) return ltx_err(s, "--gemma-root %s: %s", gemma_root, ltx_err_message());
    return LTX_OK;
}

/* ---- input audio ---- */

ltx_status ltx_gen_check_audio_finite(const char *flag, const char *path, const ltx_audio *a)
{
    for (int c = 0; c < a->channels; c++)
        for (int64_t i = 0; i < a->n; i++)
            if (!isfinite(a->data[(int64_t)c * a->n + i]))
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "%s %s: sample %lld of channel %d (%.3f s) is not a finite "
                               "number (NaN/Inf); the file is damaged",
                               flag, path, (long long)i, c, (double)i / a->sample_rate);
    return LTX_OK;
}
