/*
 * audio_vae_config.c — config parsing for the audio VAE (ref:
 * ltx_core/model/audio_vae/model_configurator.py AudioEncoderConfigurator /
 * AudioDecoderConfigurator at a2c3f24). The safetensors weight source shared by the audio
 * models is in audio_wsrc.c, so this file builds alone for the config fuzz test.
 */
#include "models/audio_vae.h"

#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config -------------------------------------------------------------------------------- */

static const cJSON *obj(const cJSON *parent, const char *key)
{
    const cJSON *v = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
    return cJSON_IsObject(v) ? v : NULL; /* ref: cfg.get(key, {}) */
}

static ltx_status get_int(const cJSON *c, const char *key, int def, int lo, int *out)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v) {
        *out = def;
        return LTX_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > LTX_CFG_MAX_SIZE)
        return ltx_err(LTX_ERR_UNSUPPORTED, "audio_vae config: %s must be an integer in %d..%d",
                       key, lo, LTX_CFG_MAX_SIZE);
    *out = (int)v->valuedouble;
    return LTX_OK;
}

static ltx_status get_bool(const cJSON *c, const char *key, bool def, bool *out)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v) {
        *out = def;
        return LTX_OK;
    }
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v))
        *out = v->valuedouble != 0; /* Python truthiness */
    else
        return ltx_err(LTX_ERR_UNSUPPORTED, "audio_vae config: %s must be a boolean", key);
    return LTX_OK;
}

static ltx_status get_int_list(const cJSON *c, const char *key, int *out, int cap, int *n,
                               bool *present)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    *present = v != NULL;
    if (!v) return LTX_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > cap)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "audio_vae config: %s must be a list of at most %d "
                       "integers",
                       key, cap);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
            fabs(it->valuedouble) > LTX_CFG_MAX_SIZE)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "audio_vae config: %s[%d] is not an integer of magnitude up to %d", key,
                           i, LTX_CFG_MAX_SIZE);
        out[i++] = (int)it->valuedouble;
    }
    *n = i;
    return LTX_OK;
}

/* Python `a or b or c` over optional integers: the first present non-zero number. */
static int first_truthy(const cJSON *a, const cJSON *b, const cJSON *c, const char *key)
{
    const cJSON *src[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = src[i] ? cJSON_GetObjectItemCaseSensitive(src[i], key) : NULL;
        /* out-of-range values become 0 here and are refused by the caller's range check */
        if (cJSON_IsNumber(v) && v->valuedouble != 0)
            return fabs(v->valuedouble) <= LTX_CFG_MAX_SIZE ? (int)v->valuedouble : 0;
    }
    return 0;
}

ltx_status ltx_audio_vae_config_parse(const char *config_json, ltx_audio_vae_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (!config_json) return ltx_err(LTX_ERR_FORMAT, "checkpoint has no \"config\" metadata");
    cJSON *root = cJSON_Parse(config_json);
    if (!root) return ltx_err(LTX_ERR_FORMAT, "checkpoint \"config\" metadata is not JSON");
    const cJSON *av = obj(root, "audio_vae");
    const cJSON *params = obj(obj(av, "model"), "params");
    const cJSON *dd = obj(params, "ddconfig");
    const cJSON *pre = obj(av, "preprocessing");
    const cJSON *stft = obj(pre, "stft"), *mel = obj(pre, "mel");
    const cJSON *vars = obj(av, "variables");
    ltx_status s = LTX_OK;
#define TRY_(e)                                                                                    \
    if (s == LTX_OK) s = (e)
    TRY_(get_int(dd, "ch", 128, 1, &cfg->ch));
    TRY_(get_int(dd, "out_ch", 2, 1, &cfg->out_ch));
    TRY_(get_int(dd, "in_channels", 2, 1, &cfg->in_channels));
    TRY_(get_int(dd, "z_channels", 8, 1, &cfg->z_channels));
    TRY_(get_int(dd, "num_res_blocks", 2, 0, &cfg->num_res_blocks));
    TRY_(get_int(dd, "resolution", 256, 1, &cfg->resolution));
    TRY_(get_bool(dd, "double_z", true, &cfg->double_z));
    TRY_(get_bool(dd, "mid_block_add_attention", true, &cfg->mid_attn));
    TRY_(get_bool(dd, "resamp_with_conv", true, &cfg->resamp_with_conv));
    TRY_(get_int(params, "sampling_rate", 16000, 1, &cfg->sample_rate));
    TRY_(get_int(stft, "hop_length", 160, 1, &cfg->mel_hop_length));
    TRY_(get_int(stft, "filter_length", 1024, 2, &cfg->n_fft));
    TRY_(get_bool(stft, "causal", true, &cfg->is_causal));
    bool present = false;
    TRY_(get_int_list(dd, "ch_mult", cfg->ch_mult, LTX_AUDIO_VAE_MAX_LEVELS, &cfg->n_levels,
                      &present));
    if (s == LTX_OK && !present) { /* ref default (1, 2, 4) */
        cfg->n_levels = 3;
        cfg->ch_mult[0] = 1, cfg->ch_mult[1] = 2, cfg->ch_mult[2] = 4;
    }
    if (s == LTX_OK && cfg->n_levels == 0)
        s = ltx_err(LTX_ERR_UNSUPPORTED, "audio_vae config: ch_mult is empty (the reference "
                                         "indexes ch_mult[-1])");
    for (int i = 0; s == LTX_OK && i < cfg->n_levels; i++)
        if (cfg->ch_mult[i] <= 0)
            s = ltx_err(LTX_ERR_UNSUPPORTED, "audio_vae config: ch_mult[%d] = %d", i,
                        cfg->ch_mult[i]);
    TRY_(get_int_list(dd, "attn_resolutions", cfg->attn_resolutions, LTX_AUDIO_VAE_MAX_ATTN,
                      &cfg->n_attn, &present));
    if (s == LTX_OK && !present) { /* ref default {8, 16, 32} */
        cfg->n_attn = 3;
        cfg->attn_resolutions[0] = 8, cfg->attn_resolutions[1] = 16;
        cfg->attn_resolutions[2] = 32;
    }
    const char *norm = ltx_json_str(dd, "norm_type", "pixel");
    if (s == LTX_OK && ltx_json_has(dd, "norm_type") &&
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(dd, "norm_type")))
        s = ltx_err(LTX_ERR_UNSUPPORTED, "audio_vae config: norm_type must be a string");
    if (s == LTX_OK) {
        if (!strcmp(norm, "pixel"))
            cfg->norm = LTX_AUDIO_NORM_PIXEL;
        else if (!strcmp(norm, "group"))
            cfg->norm = LTX_AUDIO_NORM_GROUP;
        else
            s = ltx_err(LTX_ERR_UNSUPPORTED,
                        "audio_vae config: norm_type \"%s\" is not "
                        "\"group\" or \"pixel\" (NormType)",
                        norm);
    }
    const cJSON *ca = dd ? cJSON_GetObjectItemCaseSensitive(dd, "causality_axis") : NULL;
    if (s == LTX_OK) {
        if (!ca)
            cfg->causality = LTX_CAUSAL_HEIGHT; /* configurator default "height" */
        else if (cJSON_IsNull(ca))
            cfg->causality = LTX_CAUSAL_NONE;
        else if (cJSON_IsString(ca) && !strcmp(ca->valuestring, "height"))
            cfg->causality = LTX_CAUSAL_HEIGHT;
        else if (cJSON_IsString(ca) && !strcmp(ca->valuestring, "width"))
            cfg->causality = LTX_CAUSAL_WIDTH;
        else if (cJSON_IsString(ca) && !strcmp(ca->valuestring, "width-compatibility"))
            cfg->causality = LTX_CAUSAL_WIDTH_COMPAT;
        else {
            char *txt = cJSON_PrintUnformatted(ca);
            s = ltx_err(LTX_ERR_UNSUPPORTED,
                        "audio_vae config: causality_axis %s is not one of "
                        "null, \"width\", \"height\", \"width-compatibility\"",
                        txt ? txt : "?");
            free(txt);
        }
    }
    const char *at = ltx_json_str(dd, "attn_type", "vanilla");
    if (s == LTX_OK) {
        if (!strcmp(at, "vanilla")) {
        } else if (!strcmp(at, "none"))
            cfg->attn_none = true;
        else if (!strcmp(at, "linear"))
            cfg->attn_linear = true;
        else
            s = ltx_err(LTX_ERR_UNSUPPORTED,
                        "audio_vae config: attn_type \"%s\" is not "
                        "\"vanilla\", \"linear\" or \"none\" (AttentionType)",
                        at);
    }
    /* ref: ddconfig.get("mel_bins") or mel_cfg.get("n_mel_channels") or variables.mel_bins */
    cfg->mel_bins = first_truthy(dd, NULL, NULL, "mel_bins");
    if (!cfg->mel_bins) cfg->mel_bins = first_truthy(mel, NULL, NULL, "n_mel_channels");
    if (!cfg->mel_bins) cfg->mel_bins = first_truthy(vars, NULL, NULL, "mel_bins");
#undef TRY_
    /* ResnetBlock: "Causal ResnetBlock with GroupNorm is not supported." (every VAE has
     * resnet blocks, so this is a config-level rejection). */
    if (s == LTX_OK && cfg->norm == LTX_AUDIO_NORM_GROUP && cfg->causality != LTX_CAUSAL_NONE)
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "audio_vae config: norm_type \"group\" needs "
                    "causality_axis null (the reference's ResnetBlock refuses a causal "
                    "GroupNorm block)");
    cJSON_Delete(root);
    return s;
}
