/*
 * upsampler_config.c — the latent upsampler's config metadata (contract in upsampler.h).
 * ref: ltx_core/model/upsampler/model_configurator.py LatentUpsamplerConfigurator.from_config
 * (keys and defaults). Values are range-checked by key; kept apart from the model so the
 * config fuzz test builds it alone under ASan + UBSan.
 */
#include "models/upsampler.h"

#include "io/json.h"

ltx_status ltx_upsampler_config_parse(const char *json, ltx_upsampler_config *c)
{
    cJSON *root = cJSON_Parse(json ? json : "{}");
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ltx_err(LTX_ERR_FORMAT, "upsampler config is not a JSON object");
    }
    /* ref: LatentUpsamplerConfigurator.from_config defaults */
    static const char *W = "upsampler config";
    const int SZ = LTX_CFG_MAX_SIZE;
    ltx_status s = ltx_json_get_i32(root, "in_channels", 1, SZ, 128, W, &c->in_channels);
    if (s == LTX_OK) s = ltx_json_get_i32(root, "mid_channels", 1, SZ, 512, W, &c->mid_channels);
    if (s == LTX_OK)
        s = ltx_json_get_i32(root, "num_blocks_per_stage", 0, LTX_CFG_MAX_COUNT, 4, W,
                             &c->num_blocks_per_stage);
    if (s == LTX_OK) s = ltx_json_get_i32(root, "dims", 1, 3, 3, W, &c->dims);
    c->spatial_upsample = ltx_json_bool(root, "spatial_upsample", true);
    c->temporal_upsample = ltx_json_bool(root, "temporal_upsample", false);
    if (s == LTX_OK)
        s = ltx_json_get_num(root, "spatial_scale", 0.25, 16, 2.0, W, &c->spatial_scale);
    c->rational_resampler = ltx_json_bool(root, "rational_resampler", false);
    if (s != LTX_OK) {
        cJSON_Delete(root);
        return s;
    }
    cJSON_Delete(root);
    return LTX_OK;
}
