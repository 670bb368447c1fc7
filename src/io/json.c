/*
 * json.c — cJSON getters with defaults (contract in json.h). Parsing and ownership of the tree
 * stay with the caller (cJSON_Parse / cJSON_Delete); nothing here allocates. No reference
 * counterpart.
 */
#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* double -> int64 without undefined behaviour: NaN gives def, out-of-range values saturate,
 * the rest truncate toward zero (the lenient reading of golden params). */
static int64_t to_i64(double d, int64_t def)
{
    if (d != d) return def;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

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
    if (cJSON_IsNumber(v)) return to_i64(v->valuedouble, def);
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
        if (n < cap) out[n] = to_i64(it->valuedouble, 0);
        n++;
    }
    return n;
}

/* "1e+30", "true", "\"x\"" for messages: the value as the file has it (truncated). */
static void show(const cJSON *v, char *buf, size_t cap)
{
    char *p = cJSON_PrintUnformatted(v);
    snprintf(buf, cap, "%s", p ? p : "?");
    free(p);
}

ltx_status ltx_json_to_int(const cJSON *v, int64_t lo, int64_t hi, const char *what,
                           const char *key, int64_t *out)
{
    if (cJSON_IsBool(v)) { /* Python: True is 1 */
        int64_t x = cJSON_IsTrue(v) ? 1 : 0;
        if (x >= lo && x <= hi) {
            *out = x;
            return LTX_OK;
        }
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    /* the int64 range test runs in double first: (int64_t)1e30 would be undefined */
    if (isfinite(d) && d == floor(d) && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0) {
        int64_t x = (int64_t)d;
        if (x >= lo && x <= hi) {
            *out = x;
            return LTX_OK;
        }
    }
    char buf[64];
    show(v, buf, sizeof buf);
    return ltx_err(LTX_ERR_FORMAT, "%s: %s = %s must be an integer in %lld..%lld", what, key, buf,
                   (long long)lo, (long long)hi);
}

ltx_status ltx_json_get_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                            int64_t def, const char *what, int64_t *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) {
        *out = def;
        return LTX_OK;
    }
    return ltx_json_to_int(v, lo, hi, what, key, out);
}

ltx_status ltx_json_get_i32(const cJSON *obj, const char *key, int lo, int hi, int def,
                            const char *what, int *out)
{
    int64_t v = def;
    LTX_TRY(ltx_json_get_int(obj, key, lo, hi, def, what, &v));
    *out = (int)v;
    return LTX_OK;
}

ltx_status ltx_json_get_num(const cJSON *obj, const char *key, double lo, double hi, double def,
                            const char *what, double *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) {
        *out = def;
        return LTX_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsBool(v) ? cJSON_IsTrue(v) : NAN;
    if (isfinite(d) && d >= lo && d <= hi) {
        *out = d;
        return LTX_OK;
    }
    char buf[64];
    show(v, buf, sizeof buf);
    return ltx_err(LTX_ERR_FORMAT, "%s: %s = %s must be a number in [%g, %g]", what, key, buf, lo,
                   hi);
}
