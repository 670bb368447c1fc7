/*
 * cmd_inspect.c — `ltx2c inspect FILE|FOLDER [--tensors] [--json]`: what a .safetensors file (or a
 * Hugging Face folder of shards) holds.
 *
 * Prints path, size, tensor count, total elements and bytes, a dtype histogram, then tensors
 * grouped by model component (see classify(): the key prefixes of the LTX-2 checkpoint as the
 * reference's SDOps key filters consume them — ref: ltx-core model loaders,
 * LTXV_MODEL_COMFY_RENAMING_MAP, VAE_*_COMFY_KEYS_FILTER, AUDIO_VAE_*, VOCODER_COMFY_KEYS_FILTER,
 * EMBEDDINGS_PROCESSOR_KEY_OPS), the metadata keys and the `config` metadata pretty-printed per
 * top-level section. --tensors lists every tensor; --json prints all of it as one JSON object.
 * Reads only the header and never touches tensor data, so it is instant on a 40 GB checkpoint.
 */
#include "cli.h"
#include "core/dtype.h"
#include "core/strmap.h"
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct group {
    char name[96]; /* component ("video VAE") */
    char part[96]; /* sub-part ("decoder"), "" for the component total */
    int order;     /* display order of the component */
    int count;
    uint64_t numel, bytes;
    int dt[LTX_DTYPE_COUNT];
    int64_t rank_min, rank_max; /* LoRA only: rank range over lora_A weights */
    int modules;                /* LoRA only: adapted modules (= lora_A count) */
} group;

typedef struct groups {
    group *g;
    int n, cap;
    ltx_strmap idx; /* "name\x1fpart" -> index in g (hashed: a header may hold millions of
                       distinct "other: X" components) */
    char **keys;    /* the map's keys, owned here */
} groups;

static void groups_free(groups *gs)
{
    for (int i = 0; i < gs->n; i++)
        free(gs->keys[i]);
    free(gs->keys);
    free(gs->g);
    ltx_strmap_free(&gs->idx);
}

/* Escaped copy of s for printing (control bytes and malformed UTF-8 from a hostile file as
 * \xNN); the last few results stay valid, the rest are freed as the ring turns. */
static const char *esc(const char *s)
{
    static char *ring[8];
    static int k;
    int i = k++ % 8;
    free(ring[i]);
    ring[i] = cli_escape(s ? s : "", 0);
    return ring[i] ? ring[i] : "?";
}

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

/* Component, sub-part and display order of a tensor name. `upsampler_file`: the whole file
 * uses the latent upsampler's prefix-less layout. */
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
        first_comp(name + 4, part, 96);
        *order = 3;
    } else if (has_prefix(name, "audio_vae.")) {
        strcpy(comp, "audio VAE");
        first_comp(name + 10, part, 96);
        *order = 4;
    } else if (has_prefix(name, "vocoder.")) {
        strcpy(comp, "vocoder");
        first_comp(name + 8, part, 96);
        *order = 5;
    } else if (upsampler_file && is_upsampler_key(name)) {
        strcpy(comp, "latent upsampler");
        *order = 6;
    } else {
        snprintf(comp, 96, "other: %s", first_comp(name, c, sizeof c));
        *order = 9;
    }
}

static group *group_get(groups *gs, const char *name, const char *part, int order)
{
    char key[200];
    snprintf(key, sizeof key, "%.95s\x1f%.95s", name, part);
    int at = ltx_strmap_get(&gs->idx, key);
    if (at >= 0) return &gs->g[at];
    if (gs->n == gs->cap) {
        int cap = gs->cap ? gs->cap * 2 : 16;
        group *ng = realloc(gs->g, (size_t)cap * sizeof *ng);
        char **nk = ng ? realloc(gs->keys, (size_t)cap * sizeof *nk) : NULL;
        if (ng) gs->g = ng;
        if (!nk) return NULL;
        gs->keys = nk;
        gs->cap = cap;
    }
    char *k = malloc(strlen(key) + 1);
    if (!k) return NULL;
    memcpy(k, key, strlen(key) + 1);
    if (ltx_strmap_put(&gs->idx, k, gs->n) < 0) {
        free(k);
        return NULL;
    }
    gs->keys[gs->n] = k;
    group *g = &gs->g[gs->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->part, sizeof g->part, "%s", part);
    g->order = order;
    g->rank_min = INT64_MAX;
    g->rank_max = -1;
    return g;
}

static int group_cmp(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->order != y->order) return x->order - y->order;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return strcmp(x->part, y->part); /* "" (component total) sorts first */
}

static uint64_t entry_numel(const ltx_st_entry *e)
{
    uint64_t n = 1;
    for (int d = 0; d < e->ndim; d++)
        n *= (uint64_t)e->shape[d];
    return n;
}

static void group_add(group *g, const ltx_st_entry *e)
{
    g->count++;
    g->numel += entry_numel(e);
    g->bytes += e->nbytes;
    g->dt[e->dtype]++;
    if (strstr(e->name, "lora_A") && e->ndim == 2) { /* lora_A: (rank, in_features) */
        g->modules++;
        if (e->shape[0] < g->rank_min) g->rank_min = e->shape[0];
        if (e->shape[0] > g->rank_max) g->rank_max = e->shape[0];
    }
}

/* Builds the component table (component totals and sub-parts). */
static int build_groups(const ltx_st_file *f, groups *gs)
{
    int n = ltx_st_count(f), ups = 0;
    for (int i = 0; i < n; i++)
        ups += is_upsampler_key(ltx_st_at(f, i)->name);
    bool upsampler_file = n > 0 && ups * 2 >= n; /* mostly upsampler roots */
    for (int i = 0; i < n; i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        char comp[96], part[96];
        int order;
        classify(e->name, upsampler_file, comp, part, &order);
        group *g = group_get(gs, comp, "", order);
        if (!g) return -1;
        group_add(g, e);
        if (part[0]) {
            g = group_get(gs, comp, part, order);
            if (!g) return -1;
            group_add(g, e);
        }
    }
    if (gs->n > 1) qsort(gs->g, (size_t)gs->n, sizeof *gs->g, group_cmp);
    return 0;
}

/* "1,234,567" */
static const char *commas(uint64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

static const char *human_bytes(uint64_t b, char *buf)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024.0 && i < 4) {
        v /= 1024.0;
        i++;
    }
    snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return buf;
}

static void dtypes_str(const int *dt, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (int t = 0; t < LTX_DTYPE_COUNT && o < cap; t++)
        if (dt[t])
            o += (size_t)snprintf(buf + o, cap - o, "%s%s x%d", o ? ", " : "",
                                  ltx_dtype_name((ltx_dtype)t), dt[t]);
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

static void shape_str(const ltx_st_entry *e, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < e->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, d ? ", " : "", e->shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* The `config` metadata: scalar top-level keys together, then each object/array section. */
static void print_config(const char *cfg)
{
    cJSON *root = cJSON_Parse(cfg);
    if (!cJSON_IsObject(root)) {
        printf("\nconfig (not a JSON object):\n%s\n", esc(cfg));
        cJSON_Delete(root);
        return;
    }
    cJSON *scalars = cJSON_CreateObject();
    const cJSON *sec;
    cJSON_ArrayForEach(sec, root)
    {
        if (!cJSON_IsObject(sec) && !cJSON_IsArray(sec))
            cJSON_AddItemReferenceToObject(scalars, sec->string, (cJSON *)sec);
    }
    if (scalars->child) {
        char *s = cJSON_Print(scalars);
        char *e = s ? cli_escape_json_text(s) : NULL;
        printf("\nconfig:\n%s\n", e ? e : "?");
        free(e);
        free(s);
    }
    cJSON_Delete(scalars);
    cJSON_ArrayForEach(sec, root)
    {
        if (!cJSON_IsObject(sec) && !cJSON_IsArray(sec)) continue;
        char *s = cJSON_Print(sec);
        char *e = s ? cli_escape_json_text(s) : NULL;
        printf("\nconfig.%s:\n%s\n", esc(sec->string), e ? e : "?");
        free(e);
        free(s);
    }
    cJSON_Delete(root);
}

/* Adds each tensor's dtype to dt[] and its elements and stored bytes to *numel / *bytes. */
static void tally(const ltx_st_file *f, int *dt, uint64_t *numel, uint64_t *bytes)
{
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        dt[e->dtype]++;
        *numel += entry_numel(e);
        *bytes += e->nbytes;
    }
}

static void print_text(const ltx_st_file *f, const groups *gs, bool list_tensors)
{
    char a[40], b[40], c[40], dts[256];
    int dt[LTX_DTYPE_COUNT] = {0};
    uint64_t numel = 0, bytes = 0;
    tally(f, dt, &numel, &bytes);
    uint64_t size = total_size(f);
    printf("path:     %s\n", esc(ltx_st_path(f)));
    if (ltx_st_shard_count(f) > 1)
        for (int i = 0; i < ltx_st_shard_count(f); i++)
            printf("  shard %d: %s\n", i, esc(ltx_st_shard_path(f, i)));
    printf("size:     %s bytes (%s)\n", commas(size, a), human_bytes(size, b));
    printf("tensors:  %d\n", ltx_st_count(f));
    printf("elements: %s\n", commas(numel, a));
    printf("data:     %s bytes (%s)\n", commas(bytes, a), human_bytes(bytes, b));
    dtypes_str(dt, dts, sizeof dts);
    printf("dtypes:   %s\n", dts);

    printf("\ncomponents:\n");
    for (int i = 0; i < gs->n; i++) {
        const group *g = &gs->g[i];
        dtypes_str(g->dt, dts, sizeof dts);
        char label[200];
        if (g->part[0])
            snprintf(label, sizeof label, "    %s", esc(g->part));
        else if (g->rank_max >= 0 && g->rank_min == g->rank_max)
            snprintf(label, sizeof label, "  %s (rank %" PRId64 ", %d modules)", esc(g->name),
                     g->rank_max, g->modules);
        else if (g->rank_max >= 0)
            snprintf(label, sizeof label, "  %s (rank %" PRId64 "..%" PRId64 ", %d modules)",
                     esc(g->name), g->rank_min, g->rank_max, g->modules);
        else
            snprintf(label, sizeof label, "  %s", esc(g->name));
        printf("%-34s %5d tensors %15s elements %11s  %s\n", label, g->count, commas(g->numel, a),
               human_bytes(g->bytes, c), dts);
    }

    int nm = ltx_st_metadata_count(f);
    printf("\nmetadata: %d key%s\n", nm, nm == 1 ? "" : "s");
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        size_t len = strlen(v);
        if (len <= 100 && !strchr(v, '\n')) {
            printf("  %s = %s\n", esc(k), esc(v));
        } else {
            char *head = cli_escape(v, 80);
            printf("  %s = %s... (%zu chars)\n", esc(k), head ? head : "?", len);
            free(head);
        }
    }
    const char *cfg = ltx_st_metadata(f, "config");
    if (cfg) print_config(cfg);

    if (list_tensors) {
        printf("\ntensors:\n");
        bool sharded = ltx_st_shard_count(f) > 1;
        for (int i = 0; i < ltx_st_count(f); i++) {
            const ltx_st_entry *e = ltx_st_at(f, i);
            char sh[160];
            shape_str(e, sh, sizeof sh);
            if (sharded)
                printf("  %-70s %-8s %-24s shard %d\n", esc(e->name), ltx_dtype_name(e->dtype), sh,
                       e->shard);
            else
                printf("  %-70s %-8s %s\n", esc(e->name), ltx_dtype_name(e->dtype), sh);
        }
    }
}

static cJSON *dtypes_json(const int *dt)
{
    cJSON *o = cJSON_CreateObject();
    for (int t = 0; t < LTX_DTYPE_COUNT; t++)
        if (dt[t]) cJSON_AddNumberToObject(o, ltx_dtype_name((ltx_dtype)t), dt[t]);
    return o;
}

static void print_json(const ltx_st_file *f, const groups *gs, bool list_tensors)
{
    cJSON *root = cJSON_CreateObject();
    int dt[LTX_DTYPE_COUNT] = {0};
    uint64_t numel = 0, bytes = 0;
    tally(f, dt, &numel, &bytes);
    cJSON_AddStringToObject(root, "path", esc(ltx_st_path(f)));
    cJSON *shards = cJSON_AddArrayToObject(root, "shards");
    for (int i = 0; i < ltx_st_shard_count(f); i++)
        cJSON_AddItemToArray(shards, cJSON_CreateString(esc(ltx_st_shard_path(f, i))));
    cJSON_AddNumberToObject(root, "size_bytes", (double)total_size(f));
    cJSON_AddNumberToObject(root, "tensor_count", ltx_st_count(f));
    cJSON_AddNumberToObject(root, "numel", (double)numel);
    cJSON_AddNumberToObject(root, "data_bytes", (double)bytes);
    cJSON_AddItemToObject(root, "dtypes", dtypes_json(dt));
    cJSON *comps = cJSON_AddArrayToObject(root, "components");
    cJSON *cur = NULL;
    for (int i = 0; i < gs->n; i++) {
        const group *g = &gs->g[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", esc(g->part[0] ? g->part : g->name));
        cJSON_AddNumberToObject(o, "tensors", g->count);
        cJSON_AddNumberToObject(o, "numel", (double)g->numel);
        cJSON_AddNumberToObject(o, "bytes", (double)g->bytes);
        cJSON_AddItemToObject(o, "dtypes", dtypes_json(g->dt));
        if (!g->part[0] && g->rank_max >= 0) {
            cJSON_AddNumberToObject(o, "rank_min", (double)g->rank_min);
            cJSON_AddNumberToObject(o, "rank_max", (double)g->rank_max);
            cJSON_AddNumberToObject(o, "modules", g->modules);
        }
        if (g->part[0] && cur) {
            cJSON *parts = cJSON_GetObjectItemCaseSensitive(cur, "parts");
            if (!parts) parts = cJSON_AddArrayToObject(cur, "parts");
            cJSON_AddItemToArray(parts, o);
        } else {
            cJSON_AddItemToArray(comps, o);
            cur = o;
        }
    }
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    for (int i = 0; i < ltx_st_metadata_count(f); i++) {
        const char *k, *v;
        ltx_st_metadata_at(f, i, &k, &v);
        cJSON_AddStringToObject(meta, esc(k), esc(v));
    }
    const char *cfg = ltx_st_metadata(f, "config");
    cJSON *pc = cfg ? cJSON_Parse(cfg) : NULL;
    if (pc) cJSON_AddItemToObject(root, "config", pc);
    if (list_tensors) {
        cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
        for (int i = 0; i < ltx_st_count(f); i++) {
            const ltx_st_entry *e = ltx_st_at(f, i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", esc(e->name));
            cJSON_AddStringToObject(o, "dtype", ltx_dtype_name(e->dtype));
            cJSON *sh = cJSON_AddArrayToObject(o, "shape");
            for (int d = 0; d < e->ndim; d++)
                cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[d]));
            if (ltx_st_shard_count(f) > 1) cJSON_AddNumberToObject(o, "shard", e->shard);
            cJSON_AddItemToArray(ts, o);
        }
    }
    char *s = cJSON_Print(root);
    char *e = s ? cli_escape_json_text(s) : NULL; /* config strings may hold malformed UTF-8 */
    printf("%s\n", e ? e : "{}");
    free(e);
    free(s);
    cJSON_Delete(root);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ltx2c inspect FILE.safetensors|FOLDER [--tensors] [--json]\n"
            "\n"
            "Summarises a safetensors checkpoint without loading its data: path, size, tensor\n"
            "count, total elements and bytes, dtype histogram, tensors grouped by component\n"
            "(transformer, text connectors, text feature extractor, video VAE, audio VAE,\n"
            "vocoder, latent upsampler, LoRA with its rank, other), metadata keys and the\n"
            "`config` metadata pretty-printed per section. A FOLDER is read as a Hugging Face\n"
            "model folder (model.safetensors.index.json with its shards, or model.safetensors).\n"
            "\n"
            "  --tensors   also list every tensor: name, dtype, shape\n"
            "  --json      print everything as one JSON object instead of text\n"
            "  -h, --help  this text\n");
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool list = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--tensors") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("inspect", "unknown option '%s' (see ltx2c inspect --help)", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            cli_error("inspect", "one FILE or FOLDER expected, got also '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    struct stat sb;
    bool is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    ltx_st_file *f = NULL;
    ltx_status st = is_dir ? ltx_st_open_dir(path, &f) : ltx_st_open(path, &f);
    if (st != LTX_OK) {
        cli_error("inspect", "%s", ltx_last_error_global());
        return CLI_EXIT_FAIL;
    }
    groups gs = {0};
    if (build_groups(f, &gs) != 0) {
        cli_error("inspect", "out of memory");
        groups_free(&gs);
        ltx_st_close(f);
        return CLI_EXIT_FAIL;
    }
    if (json)
        print_json(f, &gs, list);
    else
        print_text(f, &gs, list);
    groups_free(&gs);
    ltx_st_close(f);
    return CLI_EXIT_OK;
}
