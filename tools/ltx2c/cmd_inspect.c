/*
 * cmd_inspect.c — `ltx2c inspect FILE|FOLDER [--tensors] [--json]`: what a .safetensors or GGUF
 * file (or a Hugging Face folder of shards, or a folder with one .gguf) holds.
 *
 * Prints path, size, tensor count, total elements and bytes, a dtype histogram, then tensors
 * grouped by model component (the library's ltx_model_info: src/api/inspect.c), the metadata
 * keys and the `config` metadata pretty-printed per top-level section. --tensors lists every
 * tensor; --json prints all of it as one JSON object (cli_inspect_json, also what `ltx2c serve`
 * lists under GET /v1/models). Reads only the header, so it is instant on a 40 GB checkpoint.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void shape_str(const ltx_model_tensor *e, char *buf, size_t cap)
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

/* The label column of a component-table row. */
static void row_label(const ltx_model_group *g, char *label, size_t cap)
{
    if (g->part[0])
        snprintf(label, cap, "    %s", esc(g->part));
    else if (g->lora_rank_max >= 0 && g->lora_rank_min == g->lora_rank_max)
        snprintf(label, cap, "  %s (rank %" PRId64 ", %d modules)", esc(g->component),
                 g->lora_rank_max, g->lora_modules);
    else if (g->lora_rank_max >= 0)
        snprintf(label, cap, "  %s (rank %" PRId64 "..%" PRId64 ", %d modules)", esc(g->component),
                 g->lora_rank_min, g->lora_rank_max, g->lora_modules);
    else
        snprintf(label, cap, "  %s", esc(g->component));
}

static void print_text(const ltx_model_info *m, bool list_tensors)
{
    char a[40], b[40], c[40], dts[256];
    const ltx_model_summary *sum = ltx_model_info_summary(m);
    printf("path:     %s\n", esc(sum->path));
    printf("format:   %s\n", sum->format);
    if (sum->n_shards > 1)
        for (int i = 0; i < sum->n_shards; i++)
            printf("  shard %d: %s\n", i, esc(ltx_model_info_shard_path(m, i)));
    printf("size:     %s bytes (%s)\n", commas(sum->size_bytes, a),
           human_bytes(sum->size_bytes, b));
    printf("tensors:  %d\n", sum->total.tensors);
    printf("elements: %s\n", commas(sum->total.numel, a));
    printf("data:     %s bytes (%s)\n", commas(sum->total.bytes, a),
           human_bytes(sum->total.bytes, b));
    dtypes_str(sum->total.dtype_count, dts, sizeof dts);
    printf("dtypes:   %s\n", dts);

    printf("\ncomponents:\n");
    for (int i = 0; i < sum->n_groups; i++) {
        const ltx_model_group *g = ltx_model_info_group(m, i);
        dtypes_str(g->dtype_count, dts, sizeof dts);
        char label[200];
        row_label(g, label, sizeof label);
        printf("%-34s %5d tensors %15s elements %11s  %s\n", label, g->tensors, commas(g->numel, a),
               human_bytes(g->bytes, c), dts);
    }

    int nm = sum->n_metadata;
    printf("\nmetadata: %d key%s\n", nm, nm == 1 ? "" : "s");
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        ltx_model_info_metadata_at(m, i, &k, &v);
        size_t len = strlen(v);
        if (len <= 100 && !strchr(v, '\n')) {
            printf("  %s = %s\n", esc(k), esc(v));
        } else {
            char *head = cli_escape(v, 80);
            printf("  %s = %s... (%zu chars)\n", esc(k), head ? head : "?", len);
            free(head);
        }
    }
    const char *cfg = ltx_model_info_metadata(m, "config");
    if (cfg) print_config(cfg);

    if (list_tensors) {
        printf("\ntensors:\n");
        bool sharded = sum->n_shards > 1;
        ltx_model_tensor e;
        for (int i = 0; ltx_model_info_tensor(m, i, &e) == 0; i++) {
            char sh[160];
            shape_str(&e, sh, sizeof sh);
            if (sharded)
                printf("  %-70s %-8s %-24s shard %d\n", esc(e.name), ltx_dtype_name(e.dtype), sh,
                       e.shard);
            else
                printf("  %-70s %-8s %s\n", esc(e.name), ltx_dtype_name(e.dtype), sh);
        }
    }
}

/* A JSON string of s escaped like esc() (NULL -> ""), without esc()'s shared ring: the
 * JSON builder also runs on ltx2c serve's connection threads. */
static cJSON *json_esc(const char *s)
{
    char *e = cli_escape(s ? s : "", 0);
    cJSON *o = cJSON_CreateString(e ? e : "?");
    free(e);
    return o;
}

/* obj[esc(key)] = esc(value) */
static void add_esc(cJSON *obj, const char *key, const char *value)
{
    char *k = cli_escape(key ? key : "", 0);
    cJSON_AddItemToObject(obj, k ? k : "?", json_esc(value));
    free(k);
}

static cJSON *dtypes_json(const int *dt)
{
    cJSON *o = cJSON_CreateObject();
    for (int t = 0; t < LTX_DTYPE_COUNT; t++)
        if (dt[t]) cJSON_AddNumberToObject(o, ltx_dtype_name((ltx_dtype)t), dt[t]);
    return o;
}

/* The component table: each component with its sub-parts under "parts". */
static void components_json(cJSON *root, const ltx_model_info *m)
{
    cJSON *comps = cJSON_AddArrayToObject(root, "components");
    cJSON *cur = NULL;
    for (int i = 0; i < ltx_model_info_summary(m)->n_groups; i++) {
        const ltx_model_group *g = ltx_model_info_group(m, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "name", json_esc(g->part[0] ? g->part : g->component));
        cJSON_AddNumberToObject(o, "tensors", g->tensors);
        cJSON_AddNumberToObject(o, "numel", (double)g->numel);
        cJSON_AddNumberToObject(o, "bytes", (double)g->bytes);
        cJSON_AddItemToObject(o, "dtypes", dtypes_json(g->dtype_count));
        if (!g->part[0] && g->lora_rank_max >= 0) {
            cJSON_AddNumberToObject(o, "rank_min", (double)g->lora_rank_min);
            cJSON_AddNumberToObject(o, "rank_max", (double)g->lora_rank_max);
            cJSON_AddNumberToObject(o, "modules", g->lora_modules);
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
}

static void tensors_json(cJSON *root, const ltx_model_info *m)
{
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    ltx_model_tensor e;
    for (int i = 0; ltx_model_info_tensor(m, i, &e) == 0; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "name", json_esc(e.name));
        cJSON_AddStringToObject(o, "dtype", ltx_dtype_name(e.dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < e.ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e.shape[d]));
        if (ltx_model_info_summary(m)->n_shards > 1) cJSON_AddNumberToObject(o, "shard", e.shard);
        cJSON_AddItemToArray(ts, o);
    }
}

cJSON *cli_inspect_json(const ltx_model_info *m, bool list_tensors)
{
    const ltx_model_summary *sum = ltx_model_info_summary(m);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "path", json_esc(sum->path));
    cJSON_AddStringToObject(root, "format", sum->format);
    cJSON *shards = cJSON_AddArrayToObject(root, "shards");
    for (int i = 0; i < sum->n_shards; i++)
        cJSON_AddItemToArray(shards, json_esc(ltx_model_info_shard_path(m, i)));
    cJSON_AddNumberToObject(root, "size_bytes", (double)sum->size_bytes);
    cJSON_AddNumberToObject(root, "tensor_count", sum->total.tensors);
    cJSON_AddNumberToObject(root, "numel", (double)sum->total.numel);
    cJSON_AddNumberToObject(root, "data_bytes", (double)sum->total.bytes);
    cJSON_AddItemToObject(root, "dtypes", dtypes_json(sum->total.dtype_count));
    components_json(root, m);
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    for (int i = 0; i < sum->n_metadata; i++) {
        const char *k, *v;
        ltx_model_info_metadata_at(m, i, &k, &v);
        add_esc(meta, k, v);
    }
    const char *cfg = ltx_model_info_metadata(m, "config");
    cJSON *pc = cfg ? cJSON_Parse(cfg) : NULL;
    if (pc) cJSON_AddItemToObject(root, "config", pc);
    if (list_tensors) tensors_json(root, m);
    return root;
}

static void print_json(const ltx_model_info *m, bool list_tensors)
{
    cJSON *root = cli_inspect_json(m, list_tensors);
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
    ltx_model_info *m = NULL;
    if (ltx_model_info_open(path, &m) != LTX_OK) {
        cli_error("inspect", "%s", ltx_last_error_global());
        return CLI_EXIT_FAIL;
    }
    if (json)
        print_json(m, list);
    else
        print_text(m, list);
    ltx_model_info_free(m);
    return CLI_EXIT_OK;
}
