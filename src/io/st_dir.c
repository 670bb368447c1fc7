/*
 * st_dir.c — ltx_st_open_dir: a Hugging Face model folder as one ltx_st_file.
 *
 * With model.safetensors.index.json the "weight_map" ({tensor name: shard file}) names the
 * shards; every shard is mapped and validated, entries are merged, and each name of the index
 * must be present in the shard the index assigns it to. Names present in two shards are an
 * error. Without an index the folder's single model.safetensors is opened.
 * ref: transformers modeling_utils.load_sharded_checkpoint (index layout); the Gemma 3 text
 * encoder folder of the reference (ltx-core text_encoders/gemma) is read this way.
 *
 * Deliberately not done: the index's "metadata.total_size" is not checked; shard names must be
 * plain file names inside the folder (no '/', for safety).
 */
#include "io/json.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "io/st_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of `name` in the sorted shard-name table, or -1. */
static int shard_index(char **names, int n, const char *name)
{
    char **hit = bsearch(&name, names, (size_t)n, sizeof *names, cmp_str);
    return hit ? (int)(hit - names) : -1;
}

/* Opens via the index; `ipath` is the index file. */
static ltx_status open_indexed(const char *dir, const char *ipath, ltx_st_file **out)
{
    ltx_status st = LTX_OK;
    ltx_st_file *f = NULL;
    char **names = NULL;
    int nnames = 0;
    char *text = ltx_read_file(ipath, NULL, 256u << 20, NULL);
    if (!text) return LTX_ERR_IO;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        st = ltx_err(LTX_ERR_FORMAT, "%s: not JSON with a \"weight_map\" object", ipath);
        goto fail;
    }
    /* Distinct shard file names, sorted (shard order is by name: model-00001-of-... first). */
    int cnt = cJSON_GetArraySize(wm);
    names = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof *names);
    if (!names) {
        st = ltx_err(LTX_ERR_OOM, "%s: out of memory", ipath);
        goto fail;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, wm)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strchr(it->valuestring, '/')) {
            st = ltx_err(LTX_ERR_FORMAT, "%s: weight_map['%.200s'] is not a shard file name", ipath,
                         it->string ? it->string : "?");
            goto fail;
        }
        names[nnames++] = it->valuestring; /* borrowed from the cJSON tree */
    }
    if (nnames == 0) {
        st = ltx_err(LTX_ERR_FORMAT, "%s: empty weight_map", ipath);
        goto fail;
    }
    qsort(names, (size_t)nnames, sizeof *names, cmp_str);
    int u = 0;
    for (int i = 0; i < nnames; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    nnames = u;

    f = st_file_new(dir, nnames);
    if (!f) {
        st = ltx_err(LTX_ERR_OOM, "%s: out of memory", dir);
        goto fail;
    }
    for (int s = 0; s < nnames; s++) {
        size_t len = strlen(dir) + strlen(names[s]) + 2;
        char *sp = malloc(len);
        if (!sp) {
            st = ltx_err(LTX_ERR_OOM, "%s: out of memory", dir);
            goto fail;
        }
        snprintf(sp, len, "%s/%s", dir, names[s]);
        st = st_map_shard(f, s, sp);
        free(sp);
        if (st != LTX_OK) goto fail;
    }
    LTX_CHECK_GOTO(st, st_finalize(f), fail);
    /* Every indexed name must sit in the shard the index says. */
    cJSON_ArrayForEach(it, wm)
    {
        const ltx_st_entry *e = ltx_st_find(f, it->string);
        int s = shard_index(names, nnames, it->valuestring);
        if (!e || e->shard != s) {
            st = ltx_err(LTX_ERR_FORMAT,
                         "%s: tensor '%.200s' listed in the index is missing from %s", ipath,
                         it->string, f->shards[s].path);
            goto fail;
        }
    }
    free(names);
    cJSON_Delete(root);
    *out = f;
    return LTX_OK;
fail:
    free(names);
    cJSON_Delete(root);
    ltx_st_close(f);
    return st;
}

ltx_status ltx_st_open_dir(const char *dir, ltx_st_file **out)
{
    *out = NULL;
    if (!dir) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_st_open_dir: NULL folder");
    size_t len = strlen(dir) + 64;
    char *p = malloc(len);
    if (!p) return ltx_err(LTX_ERR_OOM, "%s: out of memory", dir);
    ltx_status st;
    snprintf(p, len, "%s/model.safetensors.index.json", dir);
    if (is_file(p)) {
        st = open_indexed(dir, p, out);
    } else {
        snprintf(p, len, "%s/model.safetensors", dir);
        if (is_file(p))
            st = ltx_st_open(p, out);
        else
            st = ltx_err(LTX_ERR_IO,
                         "%s: neither model.safetensors.index.json nor model.safetensors found",
                         dir);
    }
    free(p);
    return st;
}
