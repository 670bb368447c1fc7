/*
 * video_vae_config.c — the "vae" section of the checkpoint config, read as the reference's
 * VideoEncoderConfigurator / VideoDecoderConfigurator do (same keys, same defaults). The
 * per-channel statistics helpers are in video_vae_stats.c, so this file builds alone for the
 * config fuzz test.
 *
 * ref: ltx_core/model/video_vae/model_configurator.py, enums.py, video_vae.py
 *      (_make_encoder_block, _make_decoder_block), ops.py (PerChannelStatistics).
 * Defaults worth knowing: spatial_padding_mode is "zeros" for the encoder but "reflect" for
 * the decoder when the key is absent; timestep_conditioning defaults to TRUE when absent.
 */
#include "io/json.h"
#include "models/video_vae_internal.h"

#include <stdio.h>
#include <string.h>

/* res_x blocks are refused above 64 layers below; the reader bound only keeps the value an int */
#define VAE_MAX_LAYERS LTX_CFG_MAX_COUNT

static ltx_status parse_pad(const cJSON *v, const char *def, ltx_pad_mode *out)
{
    const char *s = ltx_json_str(v, "spatial_padding_mode", def);
    if (!strcmp(s, "zeros"))
        *out = LTX_PAD_CONSTANT;
    else if (!strcmp(s, "reflect"))
        *out = LTX_PAD_REFLECT;
    else if (!strcmp(s, "replicate"))
        *out = LTX_PAD_REPLICATE;
    else if (!strcmp(s, "circular"))
        *out = LTX_PAD_CIRCULAR;
    else
        return ltx_err(LTX_ERR_FORMAT,
                       "vae.spatial_padding_mode '%s' is not one of zeros, "
                       "reflect, replicate, circular",
                       s);
    return LTX_OK;
}

/* One [name, params] entry; `decoder` selects the allowed names and multiplier defaults. */
static ltx_status parse_block(const cJSON *item, bool decoder, int idx, ltx_vae_block_cfg *b)
{
    const char *list = decoder ? "vae.decoder_blocks" : "vae.encoder_blocks";
    const cJSON *nm = cJSON_GetArrayItem(item, 0), *pr = cJSON_GetArrayItem(item, 1);
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 || !cJSON_IsString(nm))
        return ltx_err(LTX_ERR_FORMAT, "%s[%d]: expected [name, params]", list, idx);
    const char *name = nm->valuestring;
    memset(b, 0, sizeof *b);
    bool has_layers = false;
    char what[160];
    snprintf(what, sizeof what, "vae config %s[%d] (%s)", list, idx, name);
    int64_t nl = 0;
    if (cJSON_IsNumber(pr)) {
        /* ref: int params mean {"num_layers": n} */
        LTX_TRY(ltx_json_to_int(pr, 0, VAE_MAX_LAYERS, what, "num_layers", &nl));
        has_layers = true;
    } else if (cJSON_IsObject(pr)) {
        has_layers = ltx_json_has(pr, "num_layers");
        LTX_TRY(ltx_json_get_int(pr, "num_layers", 0, VAE_MAX_LAYERS, 0, what, &nl));
    } else {
        return ltx_err(LTX_ERR_FORMAT, "%s[%d] (%s): params must be an int or an object", list, idx,
                       name);
    }
    const cJSON *po = cJSON_IsObject(pr) ? pr : NULL;
    static const struct {
        const char *name;
        ltx_vae_block_kind kind;
        int enc_mult, dec_mult;
    } names[] = {
        {"res_x", LTX_VAE_RES_X, 0, 0},
        {"res_x_y", LTX_VAE_RES_X_Y, 2, 2},
        {"compress_time", LTX_VAE_COMPRESS_TIME, 1, 1}, /* encoder: multiplier unused */
        {"compress_space", LTX_VAE_COMPRESS_SPACE, 1, 1},
        {"compress_all", LTX_VAE_COMPRESS_ALL, 1, 1},
        {"compress_all_x_y", LTX_VAE_COMPRESS_ALL_X_Y, 2, -1},
        {"compress_time_res", LTX_VAE_COMPRESS_TIME_RES, 2, -1},
        {"compress_space_res", LTX_VAE_COMPRESS_SPACE_RES, 2, -1},
        {"compress_all_res", LTX_VAE_COMPRESS_ALL_RES, 2, -1},
    };
    int found = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(names[i].name, name)) found = i;
    if (decoder && !strcmp(name, "attn_res_x"))
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "%s[%d]: 'attn_res_x' cannot be built by the "
                       "reference (UNetMidBlock3D takes no attention_head_dim)",
                       list, idx);
    if (found < 0 || (decoder && names[found].dec_mult < 0))
        return ltx_err(LTX_ERR_FORMAT, "%s[%d]: unknown block '%s'", list, idx, name);
    b->kind = names[found].kind;
    int def_mult = decoder ? names[found].dec_mult : names[found].enc_mult;
    b->num_layers = (int)nl;
    LTX_TRY(ltx_json_get_i32(po, "multiplier", -1, 64, def_mult, what, &b->multiplier));
    if (b->kind == LTX_VAE_RES_X) {
        if (!has_layers)
            return ltx_err(LTX_ERR_FORMAT, "%s[%d]: res_x needs num_layers", list, idx);
        if (b->num_layers < 0 || b->num_layers > 64)
            return ltx_err(LTX_ERR_FORMAT, "%s[%d]: num_layers %d", list, idx, b->num_layers);
    } else if (b->multiplier < 1) {
        return ltx_err(LTX_ERR_FORMAT, "%s[%d] (%s): multiplier %d < 1", list, idx, name,
                       b->multiplier);
    }
    if (decoder) {
        /* ref: inject_noise read for res_x / res_x_y, residual only for compress_all */
        if (b->kind == LTX_VAE_RES_X || b->kind == LTX_VAE_RES_X_Y)
            b->inject_noise = ltx_json_bool(po, "inject_noise", false);
        if (b->kind == LTX_VAE_COMPRESS_ALL) b->residual = ltx_json_bool(po, "residual", false);
        if (b->kind == LTX_VAE_RES_X_Y && b->inject_noise && b->multiplier != 1)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "%s[%d]: res_x_y with inject_noise and multiplier %d fails in the "
                           "reference (per_channel_scale has the input width)",
                           list, idx, b->multiplier);
    }
    return LTX_OK;
}

static ltx_status parse_blocks(const cJSON *v, const char *key, bool decoder,
                               ltx_vae_block_cfg *out, int *n)
{
    *n = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(v, key);
    if (!arr) return LTX_OK; /* ref: config.get(key, []) */
    if (!cJSON_IsArray(arr)) return ltx_err(LTX_ERR_FORMAT, "vae.%s is not a list", key);
    int count = cJSON_GetArraySize(arr);
    if (count > LTX_VAE_MAX_BLOCKS)
        return ltx_err(LTX_ERR_UNSUPPORTED, "vae.%s: %d blocks (max %d)", key, count,
                       LTX_VAE_MAX_BLOCKS);
    for (int i = 0; i < count; i++)
        LTX_TRY(parse_block(cJSON_GetArrayItem(arr, i), decoder, i, &out[i]));
    *n = count;
    return LTX_OK;
}

ltx_status ltx_video_vae_config_parse(const char *config_json, ltx_video_vae_config *c)
{
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_Parse(config_json ? config_json : "{}");
    if (!root) return ltx_err(LTX_ERR_FORMAT, "checkpoint config is not valid JSON");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "vae"); /* absent -> defaults */
    ltx_status s = LTX_OK;
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(v, "dims");
    if (dims && !(cJSON_IsNumber(dims) && dims->valuedouble == 3.0)) {
        s = ltx_err(LTX_ERR_UNSUPPORTED, "vae.dims must be 3: the reference's 2-D and (2, 1) "
                                         "convolutions cannot run its causal blocks");
        goto done;
    }
    static const char *W = "vae config";
    const int SZ = LTX_CFG_MAX_SIZE;
    if (s == LTX_OK) s = ltx_json_get_i32(v, "in_channels", 1, SZ, 3, W, &c->in_channels);
    if (s == LTX_OK) s = ltx_json_get_i32(v, "out_channels", 1, SZ, 3, W, &c->out_channels);
    if (s == LTX_OK) s = ltx_json_get_i32(v, "latent_channels", 1, SZ, 128, W, &c->latent_channels);
    if (s == LTX_OK) s = ltx_json_get_i32(v, "patch_size", 1, 16, 4, W, &c->patch_size);
    if (s == LTX_OK)
        s = ltx_json_get_i32(v, "decoder_base_channels", 1, SZ, 128, W, &c->decoder_base_channels);
    if (s != LTX_OK) goto done;
    if (c->in_channels < 1 || c->out_channels < 1 || c->latent_channels < 1 || c->patch_size < 1 ||
        c->patch_size > 16 || c->decoder_base_channels < 1) {
        s = ltx_err(LTX_ERR_FORMAT, "vae: bad channel counts or patch_size");
        goto done;
    }
    const char *norm = ltx_json_str(v, "norm_layer", "pixel_norm");
    if (!strcmp(norm, "pixel_norm"))
        c->norm_layer = LTX_VAE_PIXEL_NORM;
    else if (!strcmp(norm, "group_norm"))
        c->norm_layer = LTX_VAE_GROUP_NORM;
    else {
        s = ltx_err(LTX_ERR_FORMAT, "vae.norm_layer '%s' is not pixel_norm or group_norm", norm);
        goto done;
    }
    const char *lv = ltx_json_str(v, "latent_log_var", "uniform");
    if (!strcmp(lv, "uniform"))
        c->latent_log_var = LTX_VAE_LOGVAR_UNIFORM;
    else if (!strcmp(lv, "per_channel"))
        c->latent_log_var = LTX_VAE_LOGVAR_PER_CHANNEL;
    else if (!strcmp(lv, "constant"))
        c->latent_log_var = LTX_VAE_LOGVAR_CONSTANT;
    else if (!strcmp(lv, "none")) {
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "vae.latent_log_var 'none' fails in the reference "
                    "(chunking %d channels in two halves breaks the "
                    "per-channel normalisation)",
                    c->latent_channels);
        goto done;
    } else {
        s = ltx_err(LTX_ERR_FORMAT, "vae.latent_log_var '%s' unknown", lv);
        goto done;
    }
    if ((s = parse_pad(v, "zeros", &c->enc_padding)) != LTX_OK) goto done;
    if ((s = parse_pad(v, "reflect", &c->dec_padding)) != LTX_OK) goto done;
    c->causal_decoder = ltx_json_bool(v, "causal_decoder", false);
    c->timestep_conditioning = ltx_json_bool(v, "timestep_conditioning", true);
    if ((s = parse_blocks(v, "encoder_blocks", false, c->enc, &c->n_enc)) != LTX_OK) goto done;
    s = parse_blocks(v, "decoder_blocks", true, c->dec, &c->n_dec);
done:
    cJSON_Delete(root);
    return s;
}
