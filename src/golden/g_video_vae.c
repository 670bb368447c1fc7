/*
 * g_video_vae.c — golden handlers for the video VAE and the latent upsamplers:
 * video_vae_decode, video_vae_decode_uint8, video_vae_decode_tiled, video_vae_encode
 * (modules/video_vae_*), latent_upsampler, upsample_video (modules/spatial_upsampler_*).
 * Files come from extra.files / case.params ("checkpoint", "upsampler"); tiling from
 * case.params.tiling. Models are cached per golden file. Everything moves through backend
 * ops and ltx_tensor_upload/download, so the handlers run on "cpu-restricted" too.
 */
#include "golden/golden.h"
#include "models/upsampler.h"
#include "models/video_vae.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ltx_status open_file(ltx_golden_ctx *g, const char *key, ltx_st_file **st)
{
    char path[2048];
    if (!ltx_golden_ckpt_path(g, key, path, sizeof path))
        return ltx_err(LTX_ERR_FORMAT, "golden case names no '%s' file", key);
    return ltx_st_open(path, st);
}

static void free_dec(void *p)
{
    ltx_video_decoder_free(p);
}
static void free_enc(void *p)
{
    ltx_video_encoder_free(p);
}
static void free_ups(void *p)
{
    ltx_latent_upsampler_free(p);
}

static ltx_status get_decoder(ltx_golden_ctx *g, ltx_video_decoder **d)
{
    if ((*d = ltx_golden_cache_get(g, "video_decoder"))) return LTX_OK;
    ltx_st_file *st = NULL;
    LTX_TRY(open_file(g, "checkpoint", &st));
    ltx_status s = ltx_video_decoder_load(ltx_golden_backend(g), st, d);
    ltx_st_close(st);
    if (s == LTX_OK) ltx_golden_cache_put(g, "video_decoder", *d, free_dec);
    return s;
}

static ltx_status get_encoder(ltx_golden_ctx *g, ltx_video_encoder **e)
{
    if ((*e = ltx_golden_cache_get(g, "video_encoder"))) return LTX_OK;
    ltx_st_file *st = NULL;
    LTX_TRY(open_file(g, "checkpoint", &st));
    ltx_status s = ltx_video_encoder_load(ltx_golden_backend(g), st, e);
    ltx_st_close(st);
    if (s == LTX_OK) ltx_golden_cache_put(g, "video_encoder", *e, free_enc);
    return s;
}

static ltx_status get_upsampler(ltx_golden_ctx *g, ltx_latent_upsampler **u)
{
    if ((*u = ltx_golden_cache_get(g, "latent_upsampler"))) return LTX_OK;
    ltx_st_file *st = NULL;
    LTX_TRY(open_file(g, "upsampler", &st));
    ltx_status s = ltx_latent_upsampler_load(ltx_golden_backend(g), st, u);
    ltx_st_close(st);
    if (s == LTX_OK) ltx_golden_cache_put(g, "latent_upsampler", *u, free_ups);
    return s;
}

/* case.params.tiling -> *t; returns false for null/absent. */
static bool parse_tiling(ltx_golden_ctx *g, ltx_vae_tiling *t)
{
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(ltx_golden_params(g), "tiling");
    if (!cJSON_IsObject(tl)) return false;
    memset(t, 0, sizeof *t);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(tl, "spatial");
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(tl, "temporal");
    if (cJSON_IsObject(sp)) {
        t->spatial_tile_px = (int)ltx_json_int(sp, "tile_size_in_pixels", 0);
        t->spatial_overlap_px = (int)ltx_json_int(sp, "tile_overlap_in_pixels", 0);
    }
    if (cJSON_IsObject(tp)) {
        t->temporal_tile_frames = (int)ltx_json_int(tp, "tile_size_in_frames", 0);
        t->temporal_overlap_frames = (int)ltx_json_int(tp, "tile_overlap_in_frames", 0);
    }
    return true;
}

ltx_status ltx_g_video_vae_decode(ltx_golden_ctx *g);
ltx_status ltx_g_video_vae_decode(ltx_golden_ctx *g)
{
    ltx_video_decoder *d;
    LTX_TRY(get_decoder(g, &d));
    ltx_tensor *lat = ltx_golden_input(g, 0), *video = NULL;
    if (!lat) return ltx_err_failed();
    ltx_status s = ltx_video_decoder_forward(d, lat, NULL, ltx_golden_taps(g), &video);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), video);
    ltx_tensor_free(lat);
    ltx_tensor_free(video);
    return s;
}

/* Collects tiled-decode chunks: emits each as outputs[i] or appends uint8 frames. */
typedef struct chunk_sink {
    ltx_golden_ctx *g;
    int index;
    bool to_uint8;
    ltx_tensor *frames; /* (F, H, W, 3) U8 so far */
} chunk_sink;

static ltx_status on_chunk(void *user, const ltx_tensor *chunk, int64_t frame0)
{
    (void)frame0;
    chunk_sink *k = user;
    ltx_backend *be = ltx_golden_backend(k->g);
    if (!k->to_uint8) {
        const char *name = ltx_golden_output_name(k->g, k->index++);
        if (!name) return ltx_err(LTX_ERR_FORMAT, "more decoded chunks than case outputs");
        return ltx_golden_emit(k->g, name, chunk);
    }
    ltx_tensor *u = ltx_video_to_uint8(be, chunk);
    if (!u) return LTX_ERR_INTERNAL;
    if (!k->frames) {
        k->frames = u;
        return LTX_OK;
    }
    const ltx_tensor *parts[2] = {k->frames, u};
    ltx_tensor *cat = ltx_nn_cat(be, parts, 2, 0);
    ltx_tensor_free(u);
    if (!cat) return LTX_ERR_INTERNAL;
    ltx_tensor_free(k->frames);
    k->frames = cat;
    return LTX_OK;
}

ltx_status ltx_g_video_vae_decode_uint8(ltx_golden_ctx *g);
ltx_status ltx_g_video_vae_decode_uint8(ltx_golden_ctx *g)
{
    ltx_video_decoder *d;
    LTX_TRY(get_decoder(g, &d));
    ltx_backend *be = ltx_golden_backend(g);
    ltx_tensor *lat = ltx_golden_input(g, 0);
    if (!lat) return ltx_err_failed();
    ltx_vae_tiling t;
    chunk_sink k = {.g = g, .to_uint8 = true};
    ltx_status s;
    if (parse_tiling(g, &t)) {
        s = ltx_video_decoder_tiled(d, lat, &t, NULL, on_chunk, &k);
    } else {
        ltx_tensor *video = NULL;
        s = ltx_video_decoder_forward(d, lat, NULL, NULL, &video);
        if (s == LTX_OK) s = on_chunk(&k, video, 0);
        ltx_tensor_free(video);
    }
    (void)be;
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), k.frames);
    ltx_tensor_free(k.frames);
    ltx_tensor_free(lat);
    return s;
}

ltx_status ltx_g_video_vae_decode_tiled(ltx_golden_ctx *g);
ltx_status ltx_g_video_vae_decode_tiled(ltx_golden_ctx *g)
{
    ltx_video_decoder *d;
    LTX_TRY(get_decoder(g, &d));
    ltx_vae_tiling t;
    if (!parse_tiling(g, &t)) return ltx_err(LTX_ERR_FORMAT, "video_vae_decode_tiled: no tiling");
    ltx_tensor *lat = ltx_golden_input(g, 0);
    if (!lat) return ltx_err_failed();
    chunk_sink k = {.g = g};
    ltx_status s = ltx_video_decoder_tiled(d, lat, &t, NULL, on_chunk, &k);
    ltx_tensor_free(lat);
    return s;
}

ltx_status ltx_g_video_vae_encode(ltx_golden_ctx *g);
ltx_status ltx_g_video_vae_encode(ltx_golden_ctx *g)
{
    ltx_video_encoder *e;
    LTX_TRY(get_encoder(g, &e));
    ltx_tensor *video = ltx_golden_input(g, 0), *lat = NULL;
    if (!video) return ltx_err_failed();
    ltx_vae_tiling t;
    ltx_status s = parse_tiling(g, &t)
                       ? ltx_video_encoder_tiled(e, video, &t, &lat)
                       : ltx_video_encoder_forward(e, video, ltx_golden_taps(g), &lat);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), lat);
    ltx_tensor_free(video);
    ltx_tensor_free(lat);
    return s;
}

ltx_status ltx_g_latent_upsampler(ltx_golden_ctx *g);
ltx_status ltx_g_latent_upsampler(ltx_golden_ctx *g)
{
    ltx_latent_upsampler *u;
    LTX_TRY(get_upsampler(g, &u));
    ltx_tensor *lat = ltx_golden_input(g, 0), *y = NULL;
    if (!lat) return ltx_err_failed();
    /* The file's ups.* intermediates were recorded during the upsample_video case (its
     * un-normalised input), so only that case taps them. */
    ltx_status s = ltx_latent_upsampler_forward(u, lat, NULL, &y);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), y);
    ltx_tensor_free(lat);
    ltx_tensor_free(y);
    return s;
}

static void free_stats(void *p)
{
    ltx_vae_stats_release(p);
    free(p);
}

ltx_status ltx_g_upsample_video(ltx_golden_ctx *g);
ltx_status ltx_g_upsample_video(ltx_golden_ctx *g)
{
    ltx_latent_upsampler *u;
    LTX_TRY(get_upsampler(g, &u));
    ltx_vae_stats *st = ltx_golden_cache_get(g, "vae_stats");
    if (!st) {
        /* the video ENCODER's statistics: vae.per_channel_statistics.* of the checkpoint */
        ltx_st_file *f = NULL;
        LTX_TRY(open_file(g, "checkpoint", &f));
        st = calloc(1, sizeof *st);
        ltx_st_weight_src ws;
        ltx_weight_src src = ltx_st_weight_src_init(&ws, f, "vae.");
        ltx_status s = st ? ltx_vae_stats_load(st, ltx_golden_backend(g), &src,
                                               ltx_latent_upsampler_config(u)->in_channels)
                          : ltx_err(LTX_ERR_OOM, "out of memory");
        ltx_st_close(f);
        if (s != LTX_OK) {
            free(st);
            return s;
        }
        ltx_golden_cache_put(g, "vae_stats", st, free_stats);
    }
    ltx_tensor *lat = ltx_golden_input(g, 0), *y = NULL;
    if (!lat) return ltx_err_failed();
    ltx_status s = ltx_upsample_video(u, st, lat, ltx_golden_taps(g), &y);
    if (s == LTX_OK) s = ltx_golden_emit(g, ltx_golden_output_name(g, 0), y);
    ltx_tensor_free(lat);
    ltx_tensor_free(y);
    return s;
}
