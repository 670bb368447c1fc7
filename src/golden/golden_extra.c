/*
 * golden_extra.c — validation of a golden file's extra JSON (contract in golden_extra.h). The
 * whole structure is checked once, up front, so the replay code (golden.c and the handlers)
 * reads only well-typed values and a malformed file fails with its case index and key instead
 * of misbehaving midway. No reference counterpart (the reference writes these files:
 * scripts/golden/ in the golden set).
 */
#include "golden/golden_extra.h"

#include <float.h>
#include <string.h>

/* Tolerances are finite and non-negative; 1e300 only keeps scale * value finite. */
#define TOL_MAX 1e300

ltx_status ltx_golden_tol_parse(const char *path, const cJSON *j, double scale, ltx_golden_tol *t)
{
    memset(t, 0, sizeof *t);
    if (j && !cJSON_IsObject(j))
        return ltx_err(LTX_ERR_FORMAT, "%s: a tolerance is not a JSON object", path);
    const cJSON *kj = j ? cJSON_GetObjectItemCaseSensitive(j, "kind") : NULL;
    if (kj && !cJSON_IsString(kj))
        return ltx_err(LTX_ERR_FORMAT, "%s: tolerance kind is not a string", path);
    const char *kind = kj ? kj->valuestring : "allclose";
    if (!(scale > 0 && scale <= 1e6)) scale = 1.0;
    if (!strcmp(kind, "allclose")) {
        t->kind = LTX_TOL_ALLCLOSE;
        LTX_TRY(ltx_json_get_num(j, "atol", 0, TOL_MAX, 0, path, &t->atol));
        LTX_TRY(ltx_json_get_num(j, "rtol", 0, TOL_MAX, 0, path, &t->rtol));
        t->atol *= scale;
        t->rtol *= scale;
    } else if (!strcmp(kind, "uint8_frac")) {
        t->kind = LTX_TOL_UINT8_FRAC;
        LTX_TRY(ltx_json_get_num(j, "max_abs", 0, TOL_MAX, 0, path, &t->max_abs));
        LTX_TRY(ltx_json_get_num(j, "min_frac", 0, 1, 1, path, &t->min_frac));
        t->max_abs *= scale;
    } else if (!strcmp(kind, "rel_to")) {
        t->kind = LTX_TOL_REL_TO;
        LTX_TRY(ltx_json_get_num(j, "factor", 0, TOL_MAX, 0, path, &t->factor));
        t->factor *= scale;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "ref");
        if (!cJSON_IsString(r))
            return ltx_err(LTX_ERR_FORMAT, "%s: rel_to tolerance without ref", path);
        t->ref = r->valuestring;
    } else {
        return ltx_err(LTX_ERR_FORMAT, "%s: unknown tolerance kind '%.100s'", path, kind);
    }
    const cJSON *rw = j ? cJSON_GetObjectItemCaseSensitive(j, "rows_where") : NULL;
    if (rw && !cJSON_IsString(rw))
        return ltx_err(LTX_ERR_FORMAT, "%s: tolerance rows_where is not a string", path);
    t->rows_where = rw ? rw->valuestring : NULL;
    return LTX_OK;
}

/* obj[key], if present, is an array of strings. */
static bool string_array(const cJSON *obj, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
    if (!a) return true;
    if (!cJSON_IsArray(a)) return false;
    cJSON_ArrayForEach(it, a) if (!cJSON_IsString(it)) return false;
    return true;
}

static ltx_status check_case(const char *path, int i, const cJSON *c)
{
    if (!cJSON_IsObject(c))
        return ltx_err(LTX_ERR_FORMAT, "%s: extra.cases[%d] is not an object", path, i);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
    if (!cJSON_IsString(fn)) return ltx_err(LTX_ERR_FORMAT, "%s: case %d has no function", path, i);
    if (!string_array(c, "inputs") || !string_array(c, "outputs"))
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: case %d (%.100s): inputs/outputs must be arrays of "
                       "tensor names",
                       path, i, fn->valuestring);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "params");
    if (p && !cJSON_IsObject(p))
        return ltx_err(LTX_ERR_FORMAT, "%s: case %d (%.100s): params is not an object", path, i,
                       fn->valuestring);
    ltx_golden_tol t;
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(c, "tolerance");
    if (tol && ltx_golden_tol_parse(path, tol, 1.0, &t) != LTX_OK)
        return ltx_err_context(LTX_ERR_FORMAT, "case %d (%.100s): ", i, fn->valuestring);
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(c, "tolerance_per_output"), *it;
    if (per && !cJSON_IsObject(per))
        return ltx_err(LTX_ERR_FORMAT, "%s: case %d: tolerance_per_output is not an object", path,
                       i);
    cJSON_ArrayForEach(it, per)
    {
        if (ltx_golden_tol_parse(path, it, 1.0, &t) != LTX_OK)
            return ltx_err_context(LTX_ERR_FORMAT, "case %d, output %.200s: ", i,
                                   it->string ? it->string : "?");
    }
    return LTX_OK;
}

ltx_status ltx_golden_extra_parse(const char *path, const char *text, cJSON **out)
{
    *out = NULL;
    cJSON *x = text ? cJSON_Parse(text) : NULL;
    const char *schema = ltx_json_str(x, "schema", "");
    if (!cJSON_IsObject(x) || strcmp(schema, "ltx2-golden-extra/1") != 0) {
        ltx_status s =
            ltx_err(LTX_ERR_FORMAT, "%s: extra is not ltx2-golden-extra/1 JSON (schema '%.100s')",
                    path, schema);
        cJSON_Delete(x);
        return s;
    }
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(x, "cases"), *c;
    if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0) {
        cJSON_Delete(x);
        return ltx_err(LTX_ERR_FORMAT, "%s: extra.cases is missing or empty", path);
    }
    int i = 0;
    cJSON_ArrayForEach(c, cases)
    {
        ltx_status s = check_case(path, i++, c);
        if (s != LTX_OK) {
            cJSON_Delete(x);
            return s;
        }
    }
    *out = x;
    return LTX_OK;
}
