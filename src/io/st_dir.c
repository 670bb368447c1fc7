/*
 * st_dir.c — ltx_st_open_dir: a Hugging Face model folder as one ltx_st_file.
 *
 * With model.safetensors.index.json the "weight_map" ({tensor name: shard file}) names the
 * shards; every shard is mapped and validated, entries are merged, and each name of the index
 * must be present in the shard the index assigns it to. Names present in two shards are an
 * error. Without an index the folder's single model.safetensors is opened, and without that the
 * folder's single *.gguf file (a quantized Gemma; gguf.c maps llama.cpp names).
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

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (!text) return ltx_err_failed();
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

    f = ltx_st_file_new(dir, nnames);
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
        st = ltx_st_map_shard(f, s, sp);
        free(sp);
        if (st != LTX_OK) goto fail;
    }
    LTX_CHECK_GOTO(st, ltx_st_finalize(f), fail);
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

/* The folder's single *.gguf file (malloc'd path), or NULL when there are none or several. */
static char *find_gguf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *hit = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".gguf")) continue;
        if (n++ == 0) {
            size_t len = strlen(dir) + l + 2;
            hit = malloc(len);
            if (hit) snprintf(hit, len, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    if (n != 1) {
        free(hit);
        return NULL;
    }
    return hit;
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
        char *g = is_file(p) ? NULL : find_gguf(dir);
        if (is_file(p))
            st = ltx_st_open(p, out);
        else if (g)
            st = ltx_st_open(g, out);
        else
            st = ltx_err(LTX_ERR_IO,
                         "%s: neither model.safetensors.index.json, model.safetensors nor one "
                         "*.gguf file found",
                         dir);
        free(g);
    }
    free(p);
    return st;
}

/* By name, and among equal names the overlay (shard 1) first. */
static int cmp_entry_name(const void *a, const void *b)
{
    const ltx_st_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->shard < y->shard ? 1 : x->shard > y->shard ? -1 : 0); /* over first */
}

ltx_status ltx_st_open_overlay(const char *base, const char *over, ltx_st_file **out)
{
    *out = NULL;
    if (!base || !over) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_st_open_overlay: NULL path");
    ltx_st_file *f = ltx_st_file_new(base, 2);
    if (!f) return ltx_err(LTX_ERR_OOM, "%s: out of memory", base);
    ltx_status st = ltx_st_map_shard(f, 0, base);
    if (st == LTX_OK) st = ltx_st_map_shard(f, 1, over);
    if (st == LTX_OK && f->n > 1) {
        /* sorted by name with shard 1 first among equals: keep the first of each name */
        qsort(f->entries, (size_t)f->n, sizeof *f->entries, cmp_entry_name);
        int u = 0;
        for (int i = 0; i < f->n; i++) {
            if (u > 0 && !strcmp(f->entries[u - 1].name, f->entries[i].name) &&
                f->entries[u - 1].shard != f->entries[i].shard) {
                free((char *)f->entries[i].name);
                continue;
            }
            f->entries[u++] = f->entries[i];
        }
        f->n = u;
    }
    if (st == LTX_OK) st = ltx_st_finalize(f);
    if (st != LTX_OK) {
        ltx_st_close(f);
        return st;
    }
    *out = f;
    return LTX_OK;
}

void ltx_st_release_pages(const ltx_st_file *f, const char *prefix)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (!f || !prefix || ps <= 0) return;
    size_t n = strlen(prefix);
    for (int i = 0; i < f->n; i++) {
        const ltx_st_entry *e = &f->entries[i];
        if (strncmp(e->name, prefix, n) || !f->shards[e->shard].mapped || e->nbytes < (size_t)ps)
            continue;
        uintptr_t a = ((uintptr_t)e->data + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
        uintptr_t b = ((uintptr_t)e->data + e->nbytes) & ~((uintptr_t)ps - 1);
        if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
    }
}
