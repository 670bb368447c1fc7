/*
 * gemma3_config.c — Gemma 3 text config: LTX's hard-coded 12B values and config.json parsing.
 *
 * ref: ltx_core/text_encoders/gemma/config.py (Gemma3TextConfig defaults = google/gemma-3-12b);
 * transformers Gemma3TextConfig (layer_types derived from sliding_window_pattern when absent:
 * layer i is "full_attention" iff (i + 1) % pattern == 0; rope_scaling {"rope_type": "linear",
 * "factor": f} divides the global inv_freq by f).
 */
#include "models/gemma3.h"

#include "io/file.h"
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void set_pattern(ltx_gemma3_config *c, int pattern)
{
    for (int i = 0; i < LTX_GEMMA3_MAX_LAYERS; i++)
        c->sliding[i] = pattern <= 0 ? false : (i + 1) % pattern != 0;
}

void ltx_gemma3_config_default(ltx_gemma3_config *c)
{
    memset(c, 0, sizeof *c);
    c->hidden_size = 3840;
    c->num_layers = 48;
    c->num_heads = 16;
    c->num_kv_heads = 8;
    c->head_dim = 256;
    c->intermediate_size = 15360;
    c->vocab_size = 262208;
    c->sliding_window = 1024;
    c->rms_norm_eps = 1e-6;
    c->query_pre_attn_scalar = 256;
    c->rope_theta = 1e6;
    c->rope_local_base = 1e4;
    c->rope_linear_factor = 8.0;
    set_pattern(c, 6);
}

static ltx_status parse_text(const cJSON *t, ltx_gemma3_config *c)
{
    static const char *W = "gemma3 config";
    const int CNT = LTX_CFG_MAX_COUNT, SZ = LTX_CFG_MAX_SIZE;
    LTX_TRY(ltx_json_get_i32(t, "hidden_size", 1, SZ, c->hidden_size, W, &c->hidden_size));
    LTX_TRY(ltx_json_get_i32(t, "num_hidden_layers", 1, CNT, c->num_layers, W, &c->num_layers));
    LTX_TRY(ltx_json_get_i32(t, "num_attention_heads", 1, CNT, c->num_heads, W, &c->num_heads));
    LTX_TRY(
        ltx_json_get_i32(t, "num_key_value_heads", 1, CNT, c->num_kv_heads, W, &c->num_kv_heads));
    LTX_TRY(ltx_json_get_i32(t, "head_dim", 2, SZ, c->head_dim, W, &c->head_dim));
    LTX_TRY(ltx_json_get_i32(t, "intermediate_size", 1, SZ, c->intermediate_size, W,
                             &c->intermediate_size));
    LTX_TRY(ltx_json_get_i32(t, "vocab_size", 1, 1 << 24, c->vocab_size, W, &c->vocab_size));
    LTX_TRY(ltx_json_get_i32(t, "sliding_window", 0, 1 << 24, c->sliding_window, W,
                             &c->sliding_window));
    LTX_TRY(ltx_json_get_num(t, "rms_norm_eps", 0, 1, c->rms_norm_eps, W, &c->rms_norm_eps));
    LTX_TRY(ltx_json_get_num(t, "query_pre_attn_scalar", 1e-12, 1e12, c->query_pre_attn_scalar, W,
                             &c->query_pre_attn_scalar));
    LTX_TRY(ltx_json_get_num(t, "rope_theta", 1, 1e15, c->rope_theta, W, &c->rope_theta));
    LTX_TRY(ltx_json_get_num(t, "rope_local_base_freq", 1, 1e15, c->rope_local_base, W,
                             &c->rope_local_base));
    if (c->num_layers < 1 || c->num_layers > LTX_GEMMA3_MAX_LAYERS || c->hidden_size < 1 ||
        c->num_heads < 1 || c->num_kv_heads < 1 || c->num_heads % c->num_kv_heads ||
        c->head_dim < 2 || c->head_dim % 2 || c->head_dim > 2048 || c->vocab_size < 1 ||
        c->intermediate_size < 1 || c->query_pre_attn_scalar <= 0)
        return ltx_err(LTX_ERR_FORMAT,
                       "gemma3 config: bad sizes (layers %d, hidden %d, heads "
                       "%d/%d, head_dim %d)",
                       c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim);

    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(t, "rope_scaling");
    if (rs && !cJSON_IsNull(rs)) {
        const char *type = ltx_json_str(rs, "rope_type", ltx_json_str(rs, "type", "default"));
        if (!strcmp(type, "linear"))
            LTX_TRY(ltx_json_get_num(rs, "factor", 1e-6, 1e6, 1.0, "gemma3 config rope_scaling",
                                     &c->rope_linear_factor));
        else if (!strcmp(type, "default"))
            c->rope_linear_factor = 1.0;
        else
            return ltx_err(LTX_ERR_UNSUPPORTED, "gemma3 config: rope_scaling type '%s'", type);
    } else if (rs) {
        c->rope_linear_factor = 1.0; /* explicit null: no scaling */
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(t, "attn_logit_softcapping");
    if (sc && !cJSON_IsNull(sc))
        return ltx_err(LTX_ERR_UNSUPPORTED, "gemma3 config: attn_logit_softcapping is set");
    const char *act =
        ltx_json_str(t, "hidden_activation", ltx_json_str(t, "hidden_act", "gelu_pytorch_tanh"));
    if (strcmp(act, "gelu_pytorch_tanh"))
        return ltx_err(LTX_ERR_UNSUPPORTED, "gemma3 config: hidden activation '%s'", act);

    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(t, "layer_types");
    if (cJSON_IsArray(lt)) {
        if (cJSON_GetArraySize(lt) != c->num_layers)
            return ltx_err(LTX_ERR_FORMAT, "gemma3 config: %d layer_types for %d layers",
                           cJSON_GetArraySize(lt), c->num_layers);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, lt)
        {
            const char *v = cJSON_IsString(it) ? it->valuestring : "";
            if (!strcmp(v, "sliding_attention"))
                c->sliding[i] = true;
            else if (!strcmp(v, "full_attention"))
                c->sliding[i] = false;
            else
                return ltx_err(LTX_ERR_UNSUPPORTED, "gemma3 config: layer type '%s'", v);
            i++;
        }
    } else {
        int pat = 6;
        LTX_TRY(ltx_json_get_i32(t, "sliding_window_pattern", 0, CNT, 6, W, &pat));
        set_pattern(c, pat);
    }
    return LTX_OK;
}

ltx_status ltx_gemma3_config_parse(const char *json, ltx_gemma3_config *c)
{
    ltx_gemma3_config_default(c);
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ltx_err(LTX_ERR_FORMAT, "gemma3 config: not a JSON object");
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    ltx_status s = parse_text(cJSON_IsObject(t) ? t : root, c);
    cJSON_Delete(root);
    return s;
}

ltx_status ltx_gemma3_config_read(const char *dir, ltx_gemma3_config *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat sb;
    if (lstat(path, &sb) != 0 && errno == ENOENT) {
        /* ref: LTX builds the model from its hard-coded config, not the folder's */
        ltx_gemma3_config_default(c);
        return LTX_OK;
    }
    char *buf = ltx_read_file(path, "gemma3 config", 64u << 20, NULL);
    if (!buf) return ltx_err_failed();
    ltx_status s = ltx_gemma3_config_parse(buf, c);
    free(buf);
    if (s != LTX_OK) return ltx_err_context(s, "%s: ", path);
    return LTX_OK;
}
