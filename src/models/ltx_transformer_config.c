/*
 * ltx_transformer_config.c — the "transformer" section of the checkpoint config.
 *
 * Mirrors ltx_core/model/transformer/model_configurator.py (LTXModelConfigurator,
 * LTXVideoOnlyModelConfigurator: the asserted values and defaults). Every integer and number
 * is range-checked by key (io/json.h strict getters): the config is untrusted input. Kept apart
 * from the weight binding so the config fuzz test builds it alone under ASan + UBSan.
 */
#include "models/ltx_transformer_internal.h"

#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ref: check_config_value — the key must be present with exactly this value. */
static ltx_status expect(const cJSON *c, const char *key, const char *kind, double num,
                         const char *str)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    bool ok;
    if (!strcmp(kind, "null"))
        ok = !v || cJSON_IsNull(v);
    else if (!strcmp(kind, "bool"))
        ok = v && cJSON_IsBool(v) && (cJSON_IsTrue(v) ? 1.0 : 0.0) == num;
    else if (!strcmp(kind, "num"))
        ok = v && cJSON_IsNumber(v) && v->valuedouble == num;
    else
        ok = v && cJSON_IsString(v) && !strcmp(v->valuestring, str);
    if (ok) return LTX_OK;
    char want[96];
    if (!strcmp(kind, "null"))
        snprintf(want, sizeof want, "null");
    else if (!strcmp(kind, "bool"))
        snprintf(want, sizeof want, "%s", num != 0 ? "true" : "false");
    else if (!strcmp(kind, "num"))
        snprintf(want, sizeof want, "%g", num);
    else
        snprintf(want, sizeof want, "\"%s\"", str);
    char *got = v ? cJSON_PrintUnformatted(v) : NULL;
    ltx_status s =
        ltx_err(LTX_ERR_UNSUPPORTED, "transformer config: %s is %s, the reference requires %s", key,
                got ? got : "absent", want);
    free(got);
    return s;
}

/* A non-negative integer up to `hi` (counts: LTX_CFG_MAX_COUNT, sizes: LTX_CFG_MAX_SIZE). */
static ltx_status get_int(const cJSON *c, const char *key, int def, int hi, int *out)
{
    return ltx_json_get_i32(c, key, 0, hi, def, "transformer config", out);
}

ltx_status ltx_transformer_config_parse(const char *json_text, bool video_only,
                                        ltx_transformer_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (!json_text) return ltx_err(LTX_ERR_FORMAT, "checkpoint has no \"config\" metadata");
    cJSON *root = cJSON_Parse(json_text);
    if (!root) return ltx_err(LTX_ERR_FORMAT, "checkpoint \"config\" metadata is not JSON");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "transformer");
    static const cJSON empty = {.type = cJSON_Object};
    if (!c) c = &empty; /* ref: config.get("transformer", {}) */
    ltx_status s = LTX_OK;
#define EXPECT(key, kind, num, str)                                                                \
    if (s == LTX_OK) s = expect(c, key, kind, num, str)
    EXPECT("dropout", "num", 0.0, NULL);
    EXPECT("attention_bias", "bool", 1, NULL);
    EXPECT("num_vector_embeds", "null", 0, NULL);
    EXPECT("activation_fn", "str", 0, "gelu-approximate");
    EXPECT("num_embeds_ada_norm", "num", 1000, NULL);
    EXPECT("use_linear_projection", "bool", 0, NULL);
    EXPECT("only_cross_attention", "bool", 0, NULL);
    EXPECT("cross_attention_norm", "bool", 1, NULL);
    EXPECT("double_self_attention", "bool", 0, NULL);
    EXPECT("upcast_attention", "bool", 0, NULL);
    EXPECT("standardization_norm", "str", 0, "rms_norm");
    EXPECT("norm_elementwise_affine", "bool", 0, NULL);
    EXPECT("qk_norm", "str", 0, "rms_norm");
    EXPECT("positional_embedding_type", "str", 0, "rope");
    if (!video_only) {
        EXPECT("use_audio_video_cross_attention", "bool", 1, NULL);
        EXPECT("share_ff", "bool", 0, NULL);
        EXPECT("av_cross_ada_norm", "bool", 1, NULL);
    }
    EXPECT("use_middle_indices_grid", "bool", 1, NULL);
#undef EXPECT
    cfg->has_video = true;
    cfg->has_audio = !video_only;
    if (s == LTX_OK) s = get_int(c, "num_attention_heads", 32, LTX_CFG_MAX_COUNT, &cfg->heads);
    if (s == LTX_OK) s = get_int(c, "attention_head_dim", 128, LTX_CFG_MAX_SIZE, &cfg->head_dim);
    if (s == LTX_OK) s = get_int(c, "in_channels", 128, LTX_CFG_MAX_SIZE, &cfg->in_channels);
    if (s == LTX_OK) s = get_int(c, "out_channels", 128, LTX_CFG_MAX_SIZE, &cfg->out_channels);
    if (s == LTX_OK) s = get_int(c, "num_layers", 48, LTX_CFG_MAX_COUNT, &cfg->num_layers);
    if (s == LTX_OK)
        s = get_int(c, "cross_attention_dim", 4096, LTX_CFG_MAX_SIZE, &cfg->cross_attention_dim);
    if (s == LTX_OK)
        s = get_int(c, "audio_num_attention_heads", 32, LTX_CFG_MAX_COUNT, &cfg->audio_heads);
    if (s == LTX_OK)
        s = get_int(c, "audio_attention_head_dim", 64, LTX_CFG_MAX_SIZE, &cfg->audio_head_dim);
    if (s == LTX_OK)
        s = get_int(c, "audio_in_channels", 128, LTX_CFG_MAX_SIZE, &cfg->audio_in_channels);
    if (s == LTX_OK)
        s = get_int(c, "audio_out_channels", 128, LTX_CFG_MAX_SIZE, &cfg->audio_out_channels);
    if (s == LTX_OK)
        s = get_int(c, "audio_cross_attention_dim", 2048, LTX_CFG_MAX_SIZE,
                    &cfg->audio_cross_attention_dim);
    if (s == LTX_OK)
        s = get_int(c, "caption_channels", 0, LTX_CFG_MAX_SIZE, &cfg->caption_channels);
    static const char *what = "transformer config";
    if (s == LTX_OK) s = ltx_json_get_num(c, "norm_eps", 0, 1, 1e-6, what, &cfg->norm_eps);
    if (s == LTX_OK)
        s = ltx_json_get_num(c, "positional_embedding_theta", 1, 1e12, 10000.0, what, &cfg->theta);
    if (s == LTX_OK)
        s = ltx_json_get_num(c, "timestep_scale_multiplier", 0, 1e9, 1000, what,
                             &cfg->timestep_scale);
    if (s == LTX_OK)
        s = ltx_json_get_num(c, "av_ca_timestep_scale_multiplier", 0, 1e9, 1, what,
                             &cfg->av_ca_timestep_scale);
    cfg->gated_attention = ltx_json_bool(c, "apply_gated_attention", false);
    cfg->cross_attention_adaln = ltx_json_bool(c, "cross_attention_adaln", false);
    cfg->caption_projection = !ltx_json_bool(c, "caption_proj_before_connector", false);
    /* ref: double_precision_rope = frequencies_precision == "float64" */
    cfg->f64_rope = !strcmp(ltx_json_str(c, "frequencies_precision", ""), "float64");
    const char *rt = ltx_json_str(c, "rope_type", "interleaved");
    if (s == LTX_OK) {
        if (!strcmp(rt, "split"))
            cfg->rope_type = LTX_ROPE_SPLIT;
        else if (!strcmp(rt, "interleaved"))
            cfg->rope_type = LTX_ROPE_INTERLEAVED;
        else
            s = ltx_err(LTX_ERR_UNSUPPORTED,
                        "transformer config: rope_type \"%s\" (reference "
                        "accepts \"interleaved\", \"split\")",
                        rt);
    }
    const char *at = ltx_json_str(c, "attention_type", "default");
    if (s == LTX_OK && strcmp(at, "default") && strcmp(at, "pytorch") && strcmp(at, "xformers") &&
        strcmp(at, "flash_attention_3"))
        s = ltx_err(LTX_ERR_UNSUPPORTED, "transformer config: attention_type \"%s\"", at);
    double mp[4];
    int n = ltx_json_num_array(c, "positional_embedding_max_pos", mp, 4);
    if (n < 0) n = 3, mp[0] = 20, mp[1] = 2048, mp[2] = 2048;
    if (s == LTX_OK && n != 3)
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "transformer config: positional_embedding_max_pos needs "
                    "3 entries (t, y, x), got %d",
                    n);
    memcpy(cfg->max_pos, mp, sizeof cfg->max_pos);
    double amp[4];
    int na = ltx_json_num_array(c, "audio_positional_embedding_max_pos", amp, 4);
    if (na < 0) na = 1, amp[0] = 20;
    if (s == LTX_OK && na != 1 && !video_only)
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "transformer config: audio_positional_embedding_max_pos "
                    "needs 1 entry, got %d",
                    na);
    cfg->audio_max_pos = amp[0];
    if (s == LTX_OK && cfg->caption_projection && cfg->caption_channels <= 0)
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "transformer config: caption projection in the DiT "
                    "(caption_proj_before_connector false) needs caption_channels");
    if (s == LTX_OK && (cfg->heads < 1 || cfg->head_dim < 2 || cfg->head_dim % 2))
        s = ltx_err(LTX_ERR_UNSUPPORTED, "transformer config: %d heads x %d", cfg->heads,
                    cfg->head_dim);
    if (s == LTX_OK && cfg->has_audio &&
        (cfg->audio_heads < 1 || cfg->audio_head_dim < 2 || cfg->audio_head_dim % 2))
        s = ltx_err(LTX_ERR_UNSUPPORTED, "transformer config: audio %d heads x %d",
                    cfg->audio_heads, cfg->audio_head_dim);
    /* The A<->V cross-attention RoPE tables are built with each modality's own head count but
     * applied with the audio head count (ref: MultiModalTransformerArgsPreprocessor): the
     * reference only works when they agree. */
    if (s == LTX_OK && cfg->has_audio && cfg->heads != cfg->audio_heads)
        s = ltx_err(LTX_ERR_UNSUPPORTED,
                    "transformer config: num_attention_heads %d != "
                    "audio_num_attention_heads %d (the reference's A<->V RoPE needs equal counts)",
                    cfg->heads, cfg->audio_heads);
    cJSON_Delete(root);
    return s;
}
