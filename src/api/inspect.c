/*
 * inspect.c — ltx_model_info (ltx.h "model file inspection"): a model file's header summarised
 * by component, for `ltx2c inspect` and `ltx2c serve`'s GET /v1/models.
 *
 * Tensors are grouped by the key prefixes of the LTX-2 checkpoint as the reference's SDOps key
 * filters consume them (ref: ltx-core model loaders, LTXV_MODEL_COMFY_RENAMING_MAP,
 * VAE_*_COMFY_KEYS_FILTER, AUDIO_VAE_*, VOCODER_COMFY_KEYS_FILTER, EMBEDDINGS_PROCESSOR_KEY_OPS);
 * a file whose keys are mostly the latent upsampler's prefix-less roots is an upsampler file.
 * Only the header is read (the mapping's data pages are never touched). Formatting (text,
 * JSON, escaping of hostile strings) is the caller's: tools/ltx2c/cmd_inspect.c.
 */
#include "ltx.h"

#include "core/error.h"
#include "core/strmap.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_CAP 96

typedef struct group {
    ltx_model_group pub; /* strings point at name/part below */
    char name[NAME_CAP];
    char part[NAME_CAP];
    int order; /* display order of the component */
    int dt[LTX_DTYPE_COUNT];
} group;

struct ltx_model_info {
    ltx_st_file *f;
    ltx_model_summary sum;
    int total_dt[LTX_DTYPE_COUNT];
    group *g;
    int n, cap;
    ltx_strmap idx; /* "name\x1fpart" -> index in g (hashed: a header may hold millions of
                       distinct "other: X" components) */
    char **keys;    /* the map's keys, owned here */
};

/* ref: ltx-core model/upsampler/model.py LatentUpsampler attribute names */
static const char *const UPSAMPLER_ROOTS[] = {
    "initial_conv", "initial_norm", "res_blocks", "upsampler", "post_upsample_res_blocks",
    "final_conv"};

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* First dotted component of s into buf. */
static const char *first_comp(const char *s, char *buf, size_t cap)
{
    size_t n = strcspn(s, ".");
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

static bool is_upsampler_key(const char *name)
{
    char c[64];
    first_comp(name, c, sizeof c);
    for (size_t i = 0; i < sizeof UPSAMPLER_ROOTS / sizeof *UPSAMPLER_ROOTS; i++)
        if (strcmp(c, UPSAMPLER_ROOTS[i]) == 0) return true;
    return false;
}

static bool is_lora_key(const char *name)
{
    return strstr(name, "lora_A") || strstr(name, "lora_B") || strstr(name, "lora_up") ||
           strstr(name, "lora_down");
}

/* Component, sub-part (NAME_CAP bytes each) and display order of a tensor name.
 * `upsampler_file`: the whole file uses the latent upsampler's prefix-less layout. */
static void classify(const char *name, bool upsampler_file, char *comp, char *part, int *order)
{
    char c[64];
    part[0] = 0;
    if (is_lora_key(name)) {
        strcpy(comp, "LoRA");
        *order = 8;
    } else if (has_prefix(name, "model.diffusion_model.video_embeddings_connector.") ||
               has_prefix(name, "model.diffusion_model.audio_embeddings_connector.")) {
        strcpy(comp, "text connectors");
        strcpy(part, strstr(name, "video_embeddings") ? "video" : "audio");
        *order = 1;
    } else if (has_prefix(name, "model.diffusion_model.")) {
        strcpy(comp, "transformer");
        *order = 0;
    } else if (has_prefix(name, "text_embedding_projection.")) {
        strcpy(comp, "text feature extractor");
        *order = 2;
    } else if (has_prefix(name, "vae.")) {
        strcpy(comp, "video VAE");
        first_comp(name + 4, part, NAME_CAP);
        *order = 3;
    } else if (has_prefix(name, "audio_vae.")) {
        strcpy(comp, "audio VAE");
        first_comp(name + 10, part, NAME_CAP);
        *order = 4;
    } else if (has_prefix(name, "vocoder.")) {
        strcpy(comp, "vocoder");
        first_comp(name + 8, part, NAME_CAP);
        *order = 5;
    } else if (upsampler_file && is_upsampler_key(name)) {
        strcpy(comp, "latent upsampler");
        *order = 6;
    } else {
        snprintf(comp, NAME_CAP, "other: %s", first_comp(name, c, sizeof c));
        *order = 9;
    }
}

/* The row for (name, part), created empty when new; NULL when out of memory. */
static group *group_get(ltx_model_info *m, const char *name, const char *part, int order)
{
    char key[200];
    snprintf(key, sizeof key, "%.95s\x1f%.95s", name, part);
    int at = ltx_strmap_get(&m->idx, key);
    if (at >= 0) return &m->g[at];
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 16;
        group *ng = realloc(m->g, (size_t)cap * sizeof *ng);
        char **nk = ng ? realloc(m->keys, (size_t)cap * sizeof *nk) : NULL;
        if (ng) m->g = ng;
        if (!nk) return NULL;
        m->keys = nk;
        m->cap = cap;
    }
    char *k = strdup(key);
    if (!k) return NULL;
    if (ltx_strmap_put(&m->idx, k, m->n) < 0) {
        free(k);
        return NULL;
    }
    m->keys[m->n] = k;
    group *g = &m->g[m->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->part, sizeof g->part, "%s", part);
    g->order = order;
    g->pub.lora_rank_min = INT64_MAX;
    g->pub.lora_rank_max = -1;
    return g;
}

static uint64_t entry_numel(const ltx_st_entry *e)
{
    uint64_t n = 1;
    for (int d = 0; d < e->ndim; d++)
        n *= (uint64_t)e->shape[d];
    return n;
}

/* Counts e into row r (whose dtype histogram is dt). */
static void row_add(ltx_model_group *r, int *dt, const ltx_st_entry *e)
{
    r->tensors++;
    r->numel += entry_numel(e);
    r->bytes += e->nbytes;
    dt[e->dtype]++;
    if (strstr(e->name, "lora_A") && e->ndim == 2) { /* lora_A: (rank, in_features) */
        r->lora_modules++;
        if (e->shape[0] < r->lora_rank_min) r->lora_rank_min = e->shape[0];
        if (e->shape[0] > r->lora_rank_max) r->lora_rank_max = e->shape[0];
    }
}

static int group_cmp(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->order != y->order) return x->order - y->order;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return strcmp(x->part, y->part); /* "" (component total) sorts first */
}

/* Builds the component table (component totals and sub-parts); LTX_ERR_OOM on failure. */
static ltx_status build_groups(ltx_model_info *m)
{
    const ltx_st_file *f = m->f;
    int n = ltx_st_count(f), ups = 0;
    for (int i = 0; i < n; i++)
        ups += is_upsampler_key(ltx_st_at(f, i)->name);
    bool upsampler_file = n > 0 && ups * 2 >= n; /* mostly upsampler roots */
    for (int i = 0; i < n; i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        char comp[NAME_CAP], part[NAME_CAP];
        int order;
        classify(e->name, upsampler_file, comp, part, &order);
        group *g = group_get(m, comp, "", order);
        if (!g) return ltx_err(LTX_ERR_OOM, "out of memory");
        row_add(&g->pub, g->dt, e);
        if (part[0]) {
            g = group_get(m, comp, part, order);
            if (!g) return ltx_err(LTX_ERR_OOM, "out of memory");
            row_add(&g->pub, g->dt, e);
        }
        row_add(&m->sum.total, m->total_dt, e);
    }
    if (m->n > 1) qsort(m->g, (size_t)m->n, sizeof *m->g, group_cmp);
    /* pointers into the rows only now that the table no longer moves */
    for (int i = 0; i < m->n; i++) {
        group *g = &m->g[i];
        g->pub.component = g->name;
        g->pub.part = g->part;
        g->pub.dtype_count = g->dt;
        if (g->pub.lora_rank_max < 0) g->pub.lora_rank_min = -1;
    }
    return LTX_OK;
}

/* "GGUF" when the (first) file starts with the GGUF magic, else "safetensors". */
static const char *format_of(const ltx_st_file *f)
{
    FILE *fp = fopen(ltx_st_shard_path(f, 0), "rb");
    char magic[4] = {0};
    size_t k = fp ? fread(magic, 1, 4, fp) : 0;
    if (fp) fclose(fp);
    return k == 4 && !memcmp(magic, "GGUF", 4) ? "GGUF" : "safetensors";
}

static uint64_t total_size(const ltx_st_file *f)
{
    uint64_t s = 0;
    for (int i = 0; i < ltx_st_shard_count(f); i++) {
        struct stat sb;
        if (stat(ltx_st_shard_path(f, i), &sb) == 0) s += (uint64_t)sb.st_size;
    }
    return s;
}

ltx_status ltx_model_info_open(const char *path, ltx_model_info **out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_model_info_open: out is NULL");
    *out = NULL;
    if (!path) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_model_info_open: path is NULL");
    ltx_model_info *m = calloc(1, sizeof *m);
    if (!m) return ltx_err(LTX_ERR_OOM, "out of memory");
    struct stat sb;
    bool is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    ltx_status s = is_dir ? ltx_st_open_dir(path, &m->f) : ltx_st_open(path, &m->f);
    m->sum.total.component = m->sum.total.part = "";
    m->sum.total.dtype_count = m->total_dt;
    m->sum.total.lora_rank_min = INT64_MAX;
    m->sum.total.lora_rank_max = -1;
    if (s == LTX_OK) s = build_groups(m);
    if (s != LTX_OK) {
        ltx_model_info_free(m);
        return s;
    }
    if (m->sum.total.lora_rank_max < 0) m->sum.total.lora_rank_min = -1;
    m->sum.path = ltx_st_path(m->f);
    m->sum.format = format_of(m->f);
    m->sum.n_shards = ltx_st_shard_count(m->f);
    m->sum.size_bytes = total_size(m->f);
    m->sum.n_groups = m->n;
    m->sum.n_metadata = ltx_st_metadata_count(m->f);
    *out = m;
    return LTX_OK;
}

void ltx_model_info_free(ltx_model_info *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->g);
    ltx_strmap_free(&m->idx);
    ltx_st_close(m->f);
    free(m);
}

const ltx_model_summary *ltx_model_info_summary(const ltx_model_info *m)
{
    return m ? &m->sum : NULL;
}

const char *ltx_model_info_shard_path(const ltx_model_info *m, int i)
{
    return m ? ltx_st_shard_path(m->f, i) : NULL;
}

const ltx_model_group *ltx_model_info_group(const ltx_model_info *m, int i)
{
    return m && i >= 0 && i < m->n ? &m->g[i].pub : NULL;
}

int ltx_model_info_metadata_at(const ltx_model_info *m, int i, const char **key, const char **value)
{
    if (!m || i < 0 || i >= m->sum.n_metadata) return -1;
    ltx_st_metadata_at(m->f, i, key, value);
    return 0;
}

const char *ltx_model_info_metadata(const ltx_model_info *m, const char *key)
{
    return m && key ? ltx_st_metadata(m->f, key) : NULL;
}

int ltx_model_info_tensor(const ltx_model_info *m, int i, ltx_model_tensor *out)
{
    const ltx_st_entry *e = m ? ltx_st_at(m->f, i) : NULL;
    if (!e || !out) return -1;
    *out = (ltx_model_tensor){.name = e->name,
                              .dtype = e->dtype,
                              .ndim = e->ndim,
                              .shape = e->shape,
                              .shard = e->shard,
                              .bytes = e->nbytes};
    return 0;
}
