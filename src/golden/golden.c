/*
 * golden.c — the golden replay harness behind `ltx2c verify` (contract in golden.h and
 * docs/GOLDEN.md). It reads only tensors and the JSON in __metadata__.extra; it never parses
 * tensor names or prose.
 *
 * Tolerance kinds (all numbers come from the file):
 *   {"kind":"allclose","atol":a,"rtol":r}        |got - want| <= a + r*|want| elementwise
 *   {"kind":"uint8_frac","max_abs":m,"min_frac":f} |got - want| <= m on >= f of the elements
 *   {"kind":"rel_to","ref":"<tensor>","factor":f}  |got - want| <= f * max|ref|
 *   any kind + "rows_where":"<mask>"              only rows (axis -2 of (B,T,D)) where mask != 0
 */
#include "golden/golden.h"
#include "golden/golden_extra.h"

#include "core/dtype.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EMITTED 512
#define MAX_CACHE   16

struct ltx_golden_ctx {
    ltx_backend *be;
    ltx_log *log;
    ltx_st_file *file;
    const char *path;
    char root[PATH_MAX];
    cJSON *extra;
    const cJSON *kase;
    const cJSON *params;
    const ltx_golden_opts *opts;
    ltx_reference_version ref; /* resolved: 1.2 or 2026-04 */
    ltx_taps taps;
    /* per case */
    const char *emitted[MAX_EMITTED];
    int n_emitted;
    /* totals */
    int passed, failed;
    /* cache shared by the cases of this file */
    struct {
        char key[64];
        void *ptr;
        void (*free_fn)(void *);
    } cache[MAX_CACHE];
    int n_cache;
};

/* ---- registry ---- */

#define LTX_GOLDEN_CASE(id, fn) ltx_status fn(ltx_golden_ctx *g);
#include "golden/cases.def"
#undef LTX_GOLDEN_CASE

static const struct {
    const char *id;
    ltx_golden_fn fn;
} registry[] = {
#define LTX_GOLDEN_CASE(id, fn) {#id, fn},
#include "golden/cases.def"
#undef LTX_GOLDEN_CASE
};

ltx_golden_fn ltx_golden_lookup(const char *function)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (!strcmp(registry[i].id, function)) return registry[i].fn;
    return NULL;
}

/* ---- accessors ---- */

const char *ltx_golden_quantization(ltx_golden_ctx *g)
{
    return g->opts->quantization;
}

ltx_backend *ltx_golden_backend(ltx_golden_ctx *g)
{
    return g->be;
}
ltx_log *ltx_golden_log(ltx_golden_ctx *g)
{
    return g->log;
}
const cJSON *ltx_golden_params(ltx_golden_ctx *g)
{
    return g->params;
}
const cJSON *ltx_golden_case(ltx_golden_ctx *g)
{
    return g->kase;
}
const cJSON *ltx_golden_extra(ltx_golden_ctx *g)
{
    return g->extra;
}
const ltx_st_file *ltx_golden_file(ltx_golden_ctx *g)
{
    return g->file;
}
const ltx_taps *ltx_golden_taps(ltx_golden_ctx *g)
{
    return &g->taps;
}
bool ltx_golden_noise_from_seed(ltx_golden_ctx *g)
{
    return g->opts->noise_from_seed;
}

const char *ltx_golden_tokenizer(ltx_golden_ctx *g)
{
    return g->opts->tokenizer;
}

const char *ltx_golden_input_name(ltx_golden_ctx *g, int i)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(g->kase, "inputs");
    const cJSON *it = cJSON_IsArray(in) ? cJSON_GetArrayItem(in, i) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

const char *ltx_golden_output_name(ltx_golden_ctx *g, int i)
{
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(g->kase, "outputs");
    const cJSON *it = cJSON_IsArray(out) ? cJSON_GetArrayItem(out, i) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

ltx_tensor *ltx_golden_tensor(ltx_golden_ctx *g, const char *name)
{
    return ltx_st_tensor(g->file, g->be, name);
}

ltx_tensor *ltx_golden_input(ltx_golden_ctx *g, int i)
{
    const char *name = ltx_golden_input_name(g, i);
    if (!name) {
        ltx_err(LTX_ERR_FORMAT, "%s: case has no input #%d", g->path, i);
        return NULL;
    }
    return ltx_golden_tensor(g, name);
}

void ltx_golden_resolve(ltx_golden_ctx *g, const char *kind, const char *file, char *out,
                        size_t cap)
{
    if (!strcmp(kind, "root")) { /* a folder of the set itself (tiny_gemma_vlm/) */
        snprintf(out, cap, "%s/%s", g->root, file);
        return;
    }
    const char *sub = !strcmp(kind, "media") ? "media" : "tiny_ckpt";
    snprintf(out, cap, "%s/%s/%s", g->root, sub, file);
}

bool ltx_golden_ckpt_path(ltx_golden_ctx *g, const char *key, char *out, size_t cap)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(g->extra, "files");
    const char *name = ltx_json_str(files, key, NULL);
    if (!name) name = ltx_json_str(g->params, key, NULL);
    if (!name) return false;
    ltx_golden_resolve(g, "ckpt", name, out, cap);
    return true;
}

void *ltx_golden_cache_get(ltx_golden_ctx *g, const char *key)
{
    for (int i = 0; i < g->n_cache; i++)
        if (!strcmp(g->cache[i].key, key)) return g->cache[i].ptr;
    return NULL;
}

void ltx_golden_cache_put(ltx_golden_ctx *g, const char *key, void *ptr, void (*free_fn)(void *))
{
    if (g->n_cache == MAX_CACHE) {
        if (free_fn) free_fn(ptr);
        return;
    }
    snprintf(g->cache[g->n_cache].key, sizeof g->cache[0].key, "%s", key);
    g->cache[g->n_cache].ptr = ptr;
    g->cache[g->n_cache].free_fn = free_fn;
    g->n_cache++;
}

/* ---- comparison ---- */

static const cJSON *tolerance_for(ltx_golden_ctx *g, const char *name)
{
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(g->kase, "tolerance_per_output");
    const cJSON *t = per ? cJSON_GetObjectItemCaseSensitive(per, name) : NULL;
    return t ? t : cJSON_GetObjectItemCaseSensitive(g->kase, "tolerance");
}

/* Reads a golden tensor as doubles (malloc'd). */
static double *read_golden_f64(ltx_golden_ctx *g, const ltx_st_entry *e, int64_t *numel)
{
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++)
        n *= e->shape[i];
    double *out = malloc(sizeof(double) * (size_t)(n + 1));
    if (!out) {
        ltx_err(LTX_ERR_OOM, "%s: out of memory reading %s", g->path, e->name);
        return NULL;
    }
    ltx_convert(out, LTX_F64, e->data, e->dtype, (size_t)n);
    *numel = n;
    return out;
}

static void record(ltx_golden_ctx *g, bool ok, const char *name, const char *detail)
{
    if (ok)
        g->passed++;
    else
        g->failed++;
    if (!ok || g->opts->verbose || !strncmp(name, "out.", 4))
        ltx_logf(g->log, ok ? LTX_LOG_INFO : LTX_LOG_ERROR, "%s %s %s", ok ? "PASS" : "FAIL", name,
                 detail);
}

static bool was_emitted(ltx_golden_ctx *g, const char *name)
{
    for (int i = 0; i < g->n_emitted; i++)
        if (!strcmp(g->emitted[i], name)) return true;
    return false;
}

static ltx_status compare(ltx_golden_ctx *g, const char *name, const double *got, int ndim,
                          const int64_t *shape, bool required)
{
    const ltx_st_entry *e = ltx_st_find(g->file, name);
    if (!e) {
        if (required) record(g, false, name, "(not in the golden file)");
        return LTX_OK;
    }
    if (g->n_emitted < MAX_EMITTED && !was_emitted(g, name)) g->emitted[g->n_emitted++] = e->name;
    char detail[512];
    bool shape_ok = e->ndim == ndim;
    for (int i = 0; shape_ok && i < ndim; i++)
        shape_ok = e->shape[i] == shape[i];
    if (!shape_ok) {
        int n = snprintf(detail, sizeof detail, "shape mismatch: got (");
        for (int i = 0; i < ndim; i++)
            n += snprintf(detail + n, sizeof detail - (size_t)n, i ? ",%lld" : "%lld",
                          (long long)shape[i]);
        n += snprintf(detail + n, sizeof detail - (size_t)n, ") want (");
        for (int i = 0; i < e->ndim; i++)
            n += snprintf(detail + n, sizeof detail - (size_t)n, i ? ",%lld" : "%lld",
                          (long long)e->shape[i]);
        snprintf(detail + n, sizeof detail - (size_t)n, ")");
        record(g, false, name, detail);
        return LTX_OK;
    }
    ltx_golden_tol tol;
    LTX_TRY(ltx_golden_tol_parse(g->path, tolerance_for(g, name), g->opts->tolerance_scale, &tol));
    int64_t n;
    double *want = read_golden_f64(g, e, &n);
    if (!want) return ltx_err_failed();

    /* Optional row mask: rows = axis -2, mask (B, T) over the leading axes. */
    double *rowmask = NULL;
    int64_t row_len = ndim >= 1 ? shape[ndim - 1] : 1, mask_n = 0;
    if (tol.rows_where) {
        const ltx_st_entry *m = ltx_st_find(g->file, tol.rows_where);
        if (!m) {
            free(want);
            record(g, false, name, "(rows_where mask not in file)");
            return LTX_OK;
        }
        rowmask = read_golden_f64(g, m, &mask_n);
        if (!rowmask) {
            free(want);
            return ltx_err_failed();
        }
        if (mask_n * row_len != n) {
            free(want);
            free(rowmask);
            record(g, false, name, "(rows_where mask does not match the tensor's rows)");
            return LTX_OK;
        }
    }
    double ref_max = 0;
    if (tol.kind == LTX_TOL_REL_TO) {
        const ltx_st_entry *r = ltx_st_find(g->file, tol.ref);
        int64_t rn = 0;
        double *rv = r ? read_golden_f64(g, r, &rn) : NULL;
        if (!rv) {
            free(want);
            free(rowmask);
            record(g, false, name, "(rel_to reference tensor not in file)");
            return LTX_OK;
        }
        for (int64_t i = 0; i < rn; i++)
            ref_max = fmax(ref_max, fabs(rv[i]));
        free(rv);
    }

    double max_abs = 0, err2 = 0, ref2 = 0, want_max = 0;
    int64_t worst = -1, n_bad = 0, n_cmp = 0;
    for (int64_t i = 0; i < n; i++) {
        if (rowmask && rowmask[i / row_len] == 0) continue;
        n_cmp++;
        double d = fabs(got[i] - want[i]);
        if (isnan(got[i]) != isnan(want[i])) d = INFINITY;
        if (isnan(got[i]) && isnan(want[i])) d = 0;
        if (isinf(want[i]) && got[i] == want[i]) d = 0;
        err2 += d * d;
        ref2 += want[i] * want[i];
        if (isfinite(want[i])) want_max = fmax(want_max, fabs(want[i]));
        bool bad;
        switch (tol.kind) {
        case LTX_TOL_ALLCLOSE:
            bad = !(d <= tol.atol + tol.rtol * fabs(want[i]));
            break;
        case LTX_TOL_UINT8_FRAC:
            bad = !(d <= tol.max_abs);
            break;
        default:
            bad = !(d <= tol.factor * ref_max);
            break;
        }
        if (bad) n_bad++;
        if (d > max_abs || worst < 0) {
            max_abs = d;
            worst = i;
        }
    }
    bool ok;
    char tol_txt[128];
    switch (tol.kind) {
    case LTX_TOL_ALLCLOSE:
        ok = n_bad == 0;
        snprintf(tol_txt, sizeof tol_txt, "atol %.3g rtol %.3g", tol.atol, tol.rtol);
        break;
    case LTX_TOL_UINT8_FRAC:
        ok = n_cmp == 0 || (double)(n_cmp - n_bad) / (double)n_cmp >= tol.min_frac;
        snprintf(tol_txt, sizeof tol_txt, "|d|<=%.3g on >=%.4f, got %.5f", tol.max_abs,
                 tol.min_frac, n_cmp ? (double)(n_cmp - n_bad) / (double)n_cmp : 1.0);
        break;
    default:
        ok = n_bad == 0;
        snprintf(tol_txt, sizeof tol_txt, "<= %.3g * max|%s| = %.3g", tol.factor, tol.ref,
                 tol.factor * ref_max);
        break;
    }
    double nmse = ref2 > 0 ? err2 / ref2 : err2;
    if (g->opts->nmse_max > 0) { /* error-budget mode replaces the file's tolerance */
        double lim = g->opts->max_rel * want_max;
        ok = nmse <= g->opts->nmse_max && (g->opts->max_rel <= 0 || max_abs <= lim);
        snprintf(tol_txt, sizeof tol_txt, "budget: nmse <= %.3g, max <= %.3g * max|ref| %.3g",
                 g->opts->nmse_max, g->opts->max_rel, want_max);
    }
    int len = snprintf(detail, sizeof detail, "max_abs %.3g nmse %.3g bad %lld/%lld (%s)", max_abs,
                       nmse, (long long)n_bad, (long long)n_cmp, tol_txt);
    if (!ok && worst >= 0)
        snprintf(detail + len, sizeof detail - (size_t)len, " worst [%lld] got %.9g want %.9g",
                 (long long)worst, got[worst], want[worst]);
    record(g, ok, name, detail);
    free(want);
    free(rowmask);
    return LTX_OK;
}

ltx_status ltx_golden_emit_host(ltx_golden_ctx *g, const char *name, ltx_dtype dt, int ndim,
                                const int64_t *shape, const void *data)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    double *got = malloc(sizeof(double) * (size_t)(n + 1));
    if (!got) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_convert(got, LTX_F64, data, dt, (size_t)n);
    ltx_status s = compare(g, name, got, ndim, shape, !strncmp(name, "out.", 4));
    free(got);
    return s;
}

ltx_status ltx_golden_emit(ltx_golden_ctx *g, const char *name, const ltx_tensor *t)
{
    int64_t n = ltx_tensor_numel(t);
    double *got = malloc(sizeof(double) * (size_t)(n + 1));
    if (!got) return ltx_err(LTX_ERR_OOM, "out of memory");
    ltx_status s = ltx_tensor_download(t, got, LTX_F64);
    if (s == LTX_OK) s = compare(g, name, got, t->ndim, t->shape, !strncmp(name, "out.", 4));
    free(got);
    return s;
}

static void tap_compare(void *user, const char *name, const ltx_tensor *t)
{
    ltx_golden_ctx *g = user;
    if (!strncmp(name, "in.", 3) || !ltx_st_find(g->file, name)) return;
    if (ltx_golden_emit(g, name, t) != LTX_OK)
        ltx_logf(g->log, LTX_LOG_ERROR, "tap %s: %s", name, ltx_err_message());
}

/* ---- driver ---- */

static void derive_root(const char *path, char *root, size_t cap)
{
    /* <root>/<sub>/<file>.safetensors -> <root> */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash) {
        snprintf(root, cap, "..");
        return;
    }
    *slash = 0;
    slash = strrchr(tmp, '/');
    if (!slash)
        snprintf(root, cap, ".");
    else {
        *slash = 0;
        snprintf(root, cap, "%s", tmp[0] ? tmp : "/");
    }
}

static ltx_status run_case(ltx_golden_ctx *g, int index, int *unsupported)
{
    const char *fn_name = ltx_json_str(g->kase, "function", NULL);
    if (!fn_name) return ltx_err(LTX_ERR_FORMAT, "%s: case %d has no function", g->path, index);
    ltx_golden_fn fn = ltx_golden_lookup(fn_name);
    if (!fn) {
        (*unsupported)++;
        ltx_logf(g->log, LTX_LOG_ERROR, "UNSUPPORTED case %d: function '%s' is not implemented",
                 index, fn_name);
        return LTX_OK;
    }
    g->params = cJSON_GetObjectItemCaseSensitive(g->kase, "params");
    static const cJSON empty_obj = {.type = cJSON_Object};
    if (!g->params) g->params = &empty_obj;
    g->n_emitted = 0;
    ltx_err_clear();
    ltx_status s = fn(g);
    if (s == LTX_ERR_NOT_BUILT) {
        (*unsupported)++;
        ltx_logf(g->log, LTX_LOG_ERROR, "UNSUPPORTED case %d (%s): %s", index, fn_name,
                 ltx_err_message());
        return LTX_OK;
    }
    if (s != LTX_OK) {
        g->failed++;
        ltx_logf(g->log, LTX_LOG_ERROR, "FAIL case %d (%s): %s", index, fn_name, ltx_err_message());
        return LTX_OK;
    }
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(g->kase, "outputs");
    const cJSON *o;
    cJSON_ArrayForEach(o, outs)
    {
        if (cJSON_IsString(o) && !was_emitted(g, o->valuestring)) {
            char msg[160];
            snprintf(msg, sizeof msg, "(case %d, %s: not produced by the port)", index, fn_name);
            record(g, false, o->valuestring, msg);
        }
    }
    return LTX_OK;
}

/* The numerics to replay with: opts->reference_version when set, else the file's
 * reference_commit metadata (a2c3f24 -> 2026-04, 400fd31 -> 1.2). A file without that key is
 * from before the key existed (the a2c3f24 set, synthetic test files): 2026-04. */
static ltx_status resolve_reference(ltx_golden_ctx *g)
{
    if (g->opts->reference_version != LTX_REFERENCE_DEFAULT) {
        g->ref = ltx_refver_resolve(g->opts->reference_version);
        return LTX_OK;
    }
    const char *commit = ltx_st_metadata(g->file, "reference_commit");
    if (!commit) {
        g->ref = LTX_REFERENCE_2026_04;
        return LTX_OK;
    }
    g->ref = ltx_refver_from_commit(commit);
    if (g->ref == LTX_REFERENCE_DEFAULT)
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: reference_commit '%s' is not a known reference version (400fd31 = "
                       "1.2, a2c3f24 = 2026-04); pass --reference-version to replay it anyway",
                       g->path, commit);
    return LTX_OK;
}

ltx_reference_version ltx_golden_reference(ltx_golden_ctx *g)
{
    return g->ref;
}

ltx_status ltx_golden_verify(ltx_backend *be, ltx_log *log, const char *path,
                             const ltx_golden_opts *opts, int *passed, int *failed,
                             int *unsupported)
{
    *passed = *failed = *unsupported = 0;
    ltx_golden_ctx *g = calloc(1, sizeof *g);
    if (!g) return ltx_err(LTX_ERR_OOM, "out of memory");
    g->be = be;
    g->log = log;
    g->path = path;
    g->opts = opts;
    g->taps.fn = tap_compare;
    g->taps.user = g;
    if (opts->root)
        snprintf(g->root, sizeof g->root, "%s", opts->root);
    else
        derive_root(path, g->root, sizeof g->root);

    ltx_status s = ltx_st_open(path, &g->file);
    if (s != LTX_OK) goto done;
    const char *extra = ltx_st_metadata(g->file, "extra");
    if (!extra) {
        s = ltx_err(LTX_ERR_FORMAT, "%s: no __metadata__.extra: not a golden file", path);
        goto done;
    }
    s = resolve_reference(g);
    if (s != LTX_OK) goto done;
    if (opts->verbose) LTX_INFO(log, "reference numerics %s", ltx_reference_version_name(g->ref));
    s = ltx_golden_extra_parse(path, extra, &g->extra); /* every case checked up front */
    if (s != LTX_OK) goto done;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g->extra, "cases");
    int i = 0;
    cJSON_ArrayForEach(g->kase, cases)
    {
        s = run_case(g, i++, unsupported);
        if (s != LTX_OK) goto done;
    }
done:
    *passed = g->passed;
    *failed = g->failed;
    for (int k = g->n_cache - 1; k >= 0; k--)
        if (g->cache[k].free_fn) g->cache[k].free_fn(g->cache[k].ptr);
    cJSON_Delete(g->extra);
    ltx_st_close(g->file);
    free(g);
    if (s != LTX_OK) return s;
    if (*failed) return LTX_ERR_MISMATCH;
    if (*unsupported) return LTX_ERR_UNSUPPORTED;
    return LTX_OK;
}
