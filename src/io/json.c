/*
 * json.c — cJSON getters with defaults (contract in json.h). Parsing and ownership of the tree
 * stay with the caller (cJSON_Parse / cJSON_Delete); nothing here allocates. No reference
 * counterpart.
 */
#include "io/json.h"

double ltx_json_num(const cJSON *obj, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? 1.0 : 0.0;
    return def;
}

int64_t ltx_json_int(const cJSON *obj, const char *key, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v)) return (int64_t)v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? 1 : 0;
    return def;
}

bool ltx_json_bool(const cJSON *obj, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    return def;
}

const char *ltx_json_str(const cJSON *obj, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

bool ltx_json_has(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

int ltx_json_num_array(const cJSON *obj, const char *key, double *out, int cap)
{
    const cJSON *a = key ? cJSON_GetObjectItemCaseSensitive(obj, key) : obj;
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it)) return -1;
        if (n < cap) out[n] = it->valuedouble;
        n++;
    }
    return n;
}

int ltx_json_int_array(const cJSON *obj, const char *key, int64_t *out, int cap)
{
    const cJSON *a = key ? cJSON_GetObjectItemCaseSensitive(obj, key) : obj;
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it)) return -1;
        if (n < cap) out[n] = (int64_t)it->valuedouble;
        n++;
    }
    return n;
}
