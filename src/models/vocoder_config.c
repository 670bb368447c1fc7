/*
 * vocoder_config.c — parsing the "vocoder" config section (ref:
 * ltx_core/model/audio_vae/model_configurator.py VocoderConfigurator, _vocoder_from_config,
 * ltx_core/utils.py check_config_value, at a2c3f24). Contracts in vocoder.h.
 */
#include "models/vocoder.h"

#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ref: check_config_value(cfg, key, expected): cfg.get(key) != expected raises. Python equality:
 * True == 1, so a number 1 passes a `true` check. */
static ltx_status check_str(const cJSON *c, const char *sect, const char *key, const char *want)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (cJSON_IsString(v) && !strcmp(v->valuestring, want)) return LTX_OK;
    char *got = v ? cJSON_PrintUnformatted(v) : NULL;
    ltx_status s = ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %s%s is %s, the reference "
                           "requires \"%s\"",
                           sect, key, got ? got : "absent", want);
    free(got);
    return s;
}

static ltx_status check_true(const cJSON *c, const char *sect, const char *key)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (cJSON_IsTrue(v) || (cJSON_IsNumber(v) && v->valuedouble == 1.0)) return LTX_OK;
    char *got = v ? cJSON_PrintUnformatted(v) : NULL;
    ltx_status s = ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %s%s is %s, the reference "
                           "requires true",
                           sect, key, got ? got : "absent");
    free(got);
    return s;
}

static ltx_status get_int(const cJSON *c, const char *sect, const char *key, bool required, int def,
                          int *out)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v) {
        if (required)
            return ltx_err(LTX_ERR_FORMAT,
                           "vocoder config: %s%s is missing (the reference "
                           "reads it with [] and raises KeyError)",
                           sect, key);
        *out = def;
        return LTX_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > LTX_CFG_MAX_SIZE)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "vocoder config: %s%s must be a positive integer up to %d", sect, key,
                       LTX_CFG_MAX_SIZE);
    *out = (int)v->valuedouble;
    return LTX_OK;
}

static ltx_status get_bool(const cJSON *c, const char *sect, const char *key, bool def, bool *out)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v)
        *out = def;
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v))
        *out = v->valuedouble != 0;
    else
        return ltx_err(LTX_ERR_UNSUPPORTED, "vocoder config: %s%s must be a boolean", sect, key);
    return LTX_OK;
}

/* Integer list with a default; every entry >= 1. */
static ltx_status get_list(const cJSON *c, const char *sect, const char *key, const int *def,
                           int n_def, int cap, int *out, int *n)
{
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    if (!v) {
        memcpy(out, def, sizeof(int) * (size_t)n_def);
        *n = n_def;
        return LTX_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > cap)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "vocoder config: %s%s must be a list of at most %d "
                       "positive integers",
                       sect, key, cap);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
            it->valuedouble < 1 || it->valuedouble > LTX_CFG_MAX_SIZE)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %s%s[%d] is not a positive "
                           "integer up to %d",
                           sect, key, i, LTX_CFG_MAX_SIZE);
        out[i++] = (int)it->valuedouble;
    }
    *n = i;
    return LTX_OK;
}

/* ref: _vocoder_from_config + Vocoder.__init__ structural constraints */
static ltx_status gen_parse(const cJSON *c, const char *sect, bool final_act, int out_rate,
                            ltx_vocoder_gen_config *g)
{
    static const int d_rk[3] = {3, 7, 11}, d_ur[5] = {6, 5, 2, 2, 2}, d_uk[5] = {16, 15, 8, 4, 4};
    memset(g, 0, sizeof *g);
    LTX_TRY(get_list(c, sect, "resblock_kernel_sizes", d_rk, 3, LTX_VOCODER_MAX_KERNELS,
                     g->resblock_kernel_sizes, &g->n_kernels));
    LTX_TRY(get_list(c, sect, "upsample_rates", d_ur, 5, LTX_VOCODER_MAX_STAGES, g->upsample_rates,
                     &g->n_ups));
    int n_uk = 0;
    LTX_TRY(get_list(c, sect, "upsample_kernel_sizes", d_uk, 5, LTX_VOCODER_MAX_STAGES,
                     g->upsample_kernel_sizes, &n_uk));
    if (n_uk != g->n_ups)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "vocoder config: %supsample_rates has %d entries "
                       "but upsample_kernel_sizes %d (zip strict=True)",
                       sect, g->n_ups, n_uk);
    const cJSON *dl = c ? cJSON_GetObjectItemCaseSensitive(c, "resblock_dilation_sizes") : NULL;
    if (!dl) {
        for (int k = 0; k < 3 && k < g->n_kernels; k++)
            g->resblock_dilations[k][0] = 1, g->resblock_dilations[k][1] = 3,
            g->resblock_dilations[k][2] = 5;
        if (g->n_kernels != 3)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %sresblock_kernel_sizes has %d "
                           "entries but the default resblock_dilation_sizes 3",
                           sect, g->n_kernels);
    } else {
        if (!cJSON_IsArray(dl) || cJSON_GetArraySize(dl) != g->n_kernels)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %sresblock_dilation_sizes must "
                           "be a list with one entry per resblock kernel (%d)",
                           sect, g->n_kernels);
        for (int k = 0; k < g->n_kernels; k++) {
            const cJSON *row = cJSON_GetArrayItem(dl, k);
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) < 3)
                return ltx_err(LTX_ERR_UNSUPPORTED,
                               "vocoder config: %sresblock_dilation_sizes[%d]"
                               " needs 3 dilations (the blocks index dilation[0..2])",
                               sect, k);
            for (int j = 0; j < 3; j++) {
                const cJSON *it = cJSON_GetArrayItem(row, j);
                if (!cJSON_IsNumber(it) || it->valuedouble < 1 ||
                    it->valuedouble > LTX_CFG_MAX_SIZE ||
                    it->valuedouble != floor(it->valuedouble))
                    return ltx_err(LTX_ERR_UNSUPPORTED,
                                   "vocoder config: %sresblock_dilation_"
                                   "sizes[%d][%d] is not a positive integer",
                                   sect, k, j);
                g->resblock_dilations[k][j] = (int)it->valuedouble;
            }
        }
    }
    LTX_TRY(
        get_int(c, sect, "upsample_initial_channel", false, 1024, &g->upsample_initial_channel));
    if ((g->upsample_initial_channel >> g->n_ups) < 1)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "vocoder config: %supsample_initial_channel %d "
                       "halves to 0 channels over %d stages",
                       sect, g->upsample_initial_channel, g->n_ups);
    const char *rb = ltx_json_str(c, "resblock", "1");
    g->amp = !strcmp(rb, "AMP1");
    for (int k = 0; g->amp && k < g->n_kernels; k++)
        if (g->resblock_kernel_sizes[k] % 2 == 0)
            return ltx_err(LTX_ERR_UNSUPPORTED,
                           "vocoder config: %sresblock_kernel_sizes[%d] = %d "
                           "is even: AMPBlock1's padding then drops a sample and its residual "
                           "add fails in the reference",
                           sect, k, g->resblock_kernel_sizes[k]);
    LTX_TRY(get_bool(c, sect, "use_tanh_at_final", true, &g->use_tanh_at_final));
    LTX_TRY(get_bool(c, sect, "use_bias_at_final", true, &g->use_bias_at_final));
    g->apply_final_activation = final_act;
    if (out_rate > 0)
        g->output_sampling_rate = out_rate;
    else
        LTX_TRY(get_int(c, sect, "output_sampling_rate", false, 24000, &g->output_sampling_rate));
    return LTX_OK;
}

static const cJSON *obj(const cJSON *parent, const char *key)
{
    const cJSON *v = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
    return cJSON_IsObject(v) ? v : NULL;
}

static ltx_status parse(const cJSON *root, ltx_vocoder_config *cfg)
{
    const cJSON *v = obj(root, "vocoder"); /* ref: config.get("vocoder", {}) */
    const cJSON *bwe = v ? cJSON_GetObjectItemCaseSensitive(v, "bwe") : NULL;
    if (!bwe) { /* flat legacy Vocoder */
        LTX_TRY(check_str(v, "", "resblock", "1"));
        LTX_TRY(check_true(v, "", "stereo"));
        LTX_TRY(gen_parse(v, "", true, 0, &cfg->gen));
        cfg->output_sampling_rate = cfg->gen.output_sampling_rate;
        return LTX_OK;
    }
    if (!cJSON_IsObject(bwe))
        return ltx_err(LTX_ERR_FORMAT, "vocoder config: \"bwe\" must be an object");
    const cJSON *m = obj(v, "vocoder");
    LTX_TRY(check_str(m, "vocoder.", "resblock", "AMP1"));
    LTX_TRY(check_true(m, "vocoder.", "stereo"));
    LTX_TRY(check_str(m, "vocoder.", "activation", "snakebeta"));
    LTX_TRY(check_str(bwe, "bwe.", "resblock", "AMP1"));
    LTX_TRY(check_true(bwe, "bwe.", "stereo"));
    LTX_TRY(check_str(bwe, "bwe.", "activation", "snakebeta"));
    cfg->bwe = true;
    LTX_TRY(get_int(bwe, "bwe.", "input_sampling_rate", true, 0, &cfg->input_sampling_rate));
    LTX_TRY(get_int(bwe, "bwe.", "output_sampling_rate", true, 0, &cfg->output_sampling_rate));
    LTX_TRY(get_int(bwe, "bwe.", "n_fft", true, 0, &cfg->n_fft));
    LTX_TRY(get_int(bwe, "bwe.", "hop_length", true, 0, &cfg->hop_length));
    LTX_TRY(get_int(bwe, "bwe.", "num_mels", true, 0, &cfg->num_mels));
    if (cfg->output_sampling_rate / cfg->input_sampling_rate < 1)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "vocoder config: bwe output_sampling_rate %d < "
                       "input_sampling_rate %d (the x(out//in) resampler needs a ratio >= 1)",
                       cfg->output_sampling_rate, cfg->input_sampling_rate);
    LTX_TRY(gen_parse(m, "vocoder.", true, cfg->input_sampling_rate, &cfg->gen));
    LTX_TRY(gen_parse(bwe, "bwe.", false, cfg->output_sampling_rate, &cfg->bwe_gen));
    return LTX_OK;
}

ltx_status ltx_vocoder_config_parse(const char *config_json, ltx_vocoder_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (!config_json) return ltx_err(LTX_ERR_FORMAT, "checkpoint has no \"config\" metadata");
    cJSON *root = cJSON_Parse(config_json);
    if (!root) return ltx_err(LTX_ERR_FORMAT, "checkpoint \"config\" metadata is not JSON");
    ltx_status s = parse(root, cfg);
    cJSON_Delete(root);
    return s;
}
