/*
 * safetensors.c — validating, memory-mapped safetensors reader (single files, sharded Hugging
 * Face folders, in-memory buffers) and the writer.
 *
 * Implements the host-only half of io/safetensors.h: parsing, validation, lookup, metadata,
 * ltx_st_read_f32 and the raw writer. The functions that make ltx_tensor objects
 * (ltx_st_tensor, ltx_st_tensor_as, ltx_st_writer_add_tensor) live in st_tensor.c, so this file
 * depends only on core/error and core/dtype and can be built alone under AddressSanitizer for
 * the fuzz test.
 *
 * Validation follows the format's rules as the `safetensors` Python/Rust package enforces them
 * (ref: huggingface/safetensors, safetensors/src/tensor.rs: header length limit of 100 MB, JSON
 * object, known dtype, data_offsets == numel * element size, offsets inside the data section),
 * with one relaxation: gaps between tensors are allowed (only overlap is an error). Nothing is
 * exposed before the whole header validated. The header bytes are copied into a NUL-terminated
 * buffer before cJSON sees them, so the parser can never run into the data section or past the
 * end of the mapping.
 *
 * Files that start with "GGUF" are handed to gguf.c (the same ltx_st_file, entries and metadata).
 * Deliberately not done: no dtypes beyond ltx_dtype (I8, U16, F8_E8M0, ... are rejected as
 * unknown), no big-endian hosts, no writing of sharded folders.
 */
#include "io/file.h"
#include "io/safetensors.h"
#include "io/st_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ref: safetensors/src/tensor.rs MAX_HEADER_SIZE */
#define ST_MAX_HEADER 100000000ull
/* Largest integer a JSON double holds exactly; offsets and dims above it are refused. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ---- small helpers ------------------------------------------------------------------------ */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A JSON number that is a non-negative integer representable exactly. */
static bool json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

ltx_status ltx_st_push_entry(ltx_st_file *f, const ltx_st_entry *e)
{
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 64;
        ltx_st_entry *ne = realloc(f->entries, (size_t)cap * sizeof *ne);
        if (!ne) return ltx_err(LTX_ERR_OOM, "%s: out of memory for the tensor table", f->path);
        f->entries = ne;
        f->cap = cap;
    }
    f->entries[f->n++] = *e;
    return LTX_OK;
}

/* Adds a metadata pair unless the key is already present (first shard wins). The hash index
 * keeps this O(1) per key: a 100 MB header may hold millions of keys. */
ltx_status ltx_st_push_meta(ltx_st_file *f, const char *key, const char *val)
{
    if (ltx_strmap_get(&f->mindex, key) >= 0) return LTX_OK;
    if (f->nmeta == f->metacap) {
        int cap = f->metacap ? f->metacap * 2 : 16;
        char **nk = realloc(f->mkeys, (size_t)cap * sizeof *nk);
        if (!nk) return ltx_err(LTX_ERR_OOM, "%s: out of memory for metadata", f->path);
        f->mkeys = nk;
        char **nv = realloc(f->mvals, (size_t)cap * sizeof *nv);
        if (!nv) return ltx_err(LTX_ERR_OOM, "%s: out of memory for metadata", f->path);
        f->mvals = nv;
        f->metacap = cap;
    }
    char *k = dupstr(key), *v = dupstr(val);
    if (!k || !v || ltx_strmap_put(&f->mindex, k, f->nmeta) < 0) {
        free(k);
        free(v);
        return ltx_err(LTX_ERR_OOM, "%s: out of memory for metadata", f->path);
    }
    f->mkeys[f->nmeta] = k;
    f->mvals[f->nmeta] = v;
    f->nmeta++;
    return LTX_OK;
}

/* ---- header parsing ----------------------------------------------------------------------- */

/* One tensor description -> entry (name not yet copied). `data`/`dsize` = data section. */
static ltx_status parse_tensor(const char *label, const cJSON *item, const uint8_t *data,
                               uint64_t dsize, ltx_st_entry *e)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': description is not a JSON object",
                       label, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo))
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: tensor '%.200s': needs string 'dtype', array 'shape' and array "
                       "'data_offsets'",
                       label, name);
    if (!ltx_dtype_parse(jd->valuestring, &e->dtype))
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': unknown dtype '%.40s'", label, name,
                       jd->valuestring);

    int nd = cJSON_GetArraySize(js);
    if (nd > LTX_MAX_DIMS)
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': %d dimensions (at most %d)", label,
                       name, nd, LTX_MAX_DIMS);
    e->ndim = nd;
    uint64_t numel = 1;
    int d = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, js)
    {
        uint64_t v;
        if (!json_uint(it, &v))
            return ltx_err(LTX_ERR_FORMAT,
                           "%s: tensor '%.200s': shape[%d] is not a non-negative integer", label,
                           name, d);
        if (v != 0 && numel > UINT64_MAX / v)
            return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': element count overflows", label,
                           name);
        numel *= v;
        e->shape[d++] = (int64_t)v;
    }
    for (; d < LTX_MAX_DIMS; d++)
        e->shape[d] = 0;
    size_t esz = ltx_dtype_size(e->dtype);
    if (numel > UINT64_MAX / esz)
        return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s': byte size overflows", label, name);
    uint64_t nbytes = numel * esz;

    uint64_t b, en;
    if (cJSON_GetArraySize(jo) != 2 || !json_uint(cJSON_GetArrayItem(jo, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(jo, 1), &en))
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: tensor '%.200s': data_offsets must be two non-negative integers", label,
                       name);
    if (b > en || en > dsize)
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: tensor '%.200s': data_offsets [%llu, %llu] outside the data section "
                       "(%llu bytes)",
                       label, name, (unsigned long long)b, (unsigned long long)en,
                       (unsigned long long)dsize);
    if (en - b != nbytes)
        return ltx_err(LTX_ERR_FORMAT,
                       "%s: tensor '%.200s': data_offsets span %llu bytes but shape x %s needs "
                       "%llu",
                       label, name, (unsigned long long)(en - b), ltx_dtype_name(e->dtype),
                       (unsigned long long)nbytes);
    e->data = data + b;
    e->nbytes = (size_t)nbytes;
    return LTX_OK;
}

static int cmp_by_data(const void *a, const void *b)
{
    const ltx_st_entry *x = a, *y = b;
    const uint8_t *px = x->data, *py = y->data;
    return px < py ? -1 : px > py ? 1 : 0;
}

/* Rejects overlapping tensors among entries [first, f->n) (all of one shard). */
ltx_status ltx_st_check_overlap(ltx_st_file *f, int first, const char *label)
{
    int n = f->n - first;
    if (n < 2) return LTX_OK;
    ltx_st_entry *tmp = malloc((size_t)n * sizeof *tmp);
    if (!tmp) return ltx_err(LTX_ERR_OOM, "%s: out of memory", label);
    memcpy(tmp, f->entries + first, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_by_data);
    const ltx_st_entry *prev = NULL;
    ltx_status st = LTX_OK;
    for (int i = 0; i < n; i++) {
        if (tmp[i].nbytes == 0) continue; /* empty tensors occupy no bytes */
        if (prev && (const uint8_t *)prev->data + prev->nbytes > (const uint8_t *)tmp[i].data) {
            st = ltx_err(LTX_ERR_FORMAT, "%s: tensors '%.200s' and '%.200s' overlap", label,
                         prev->name, tmp[i].name);
            break;
        }
        prev = &tmp[i];
    }
    free(tmp);
    return st;
}

/* Validates the header of one shard's bytes and appends its entries and metadata. */
static ltx_status st_parse_shard(ltx_st_file *f, const void *base, size_t size, const char *label,
                                 int shard)
{
    const uint8_t *p = base;
    if (size >= 4 && !memcmp(p, "GGUF", 4))
        return ltx_gguf_parse_shard(f, base, size, label, shard);
    if (size < 8)
        return ltx_err(LTX_ERR_FORMAT, "%s: file too small (%zu bytes) for a safetensors header",
                       label, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i]; /* u64 little-endian */
    if (hlen > ST_MAX_HEADER)
        return ltx_err(LTX_ERR_FORMAT, "%s: header length %llu exceeds the 100 MB limit", label,
                       (unsigned long long)hlen);
    if (hlen > size - 8)
        return ltx_err(LTX_ERR_FORMAT, "%s: header length %llu exceeds the file size %zu", label,
                       (unsigned long long)hlen, size);
    if (hlen < 2) return ltx_err(LTX_ERR_FORMAT, "%s: header too short", label);

    /* Private NUL-terminated copy: cJSON never sees the data section. */
    char *text = malloc((size_t)hlen + 1);
    if (!text) return ltx_err(LTX_ERR_OOM, "%s: out of memory for the header", label);
    memcpy(text, p + 8, (size_t)hlen);
    text[hlen] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
    ltx_status st = LTX_OK;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        st = ltx_err(LTX_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)", label, at);
        goto done;
    }
    for (const char *q = end; q < text + hlen; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            st = ltx_err(LTX_ERR_FORMAT, "%s: trailing bytes after the header JSON (byte %zu)",
                         label, (size_t)(q - text));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = ltx_err(LTX_ERR_FORMAT, "%s: header is not a JSON object", label);
        goto done;
    }

    const uint8_t *data = p + 8 + hlen;
    uint64_t dsize = (uint64_t)size - 8 - hlen;
    int first = f->n, nmeta_seen = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (!item->string) continue;
        if (strcmp(item->string, "__metadata__") == 0) {
            if (nmeta_seen++ || !cJSON_IsObject(item)) {
                st = ltx_err(LTX_ERR_FORMAT, "%s: '__metadata__' must be a single JSON object",
                             label);
                goto done;
            }
            const cJSON *kv;
            cJSON_ArrayForEach(kv, item)
            {
                if (!cJSON_IsString(kv) || !kv->string) {
                    st = ltx_err(LTX_ERR_FORMAT, "%s: metadata '%.200s' is not a string", label,
                                 kv->string ? kv->string : "?");
                    goto done;
                }
                LTX_CHECK_GOTO(st, ltx_st_push_meta(f, kv->string, kv->valuestring), done);
            }
            continue;
        }
        ltx_st_entry e = {0};
        LTX_CHECK_GOTO(st, parse_tensor(label, item, data, dsize, &e), done);
        e.name = dupstr(item->string);
        e.shard = shard;
        if (!e.name) {
            st = ltx_err(LTX_ERR_OOM, "%s: out of memory", label);
            goto done;
        }
        st = ltx_st_push_entry(f, &e);
        if (st != LTX_OK) {
            free((char *)e.name);
            goto done;
        }
    }
    st = ltx_st_check_overlap(f, first, label);
done:
    cJSON_Delete(root);
    free(text);
    return st;
}

static int cmp_by_name(const void *a, const void *b)
{
    const ltx_st_entry *x = a, *y = b;
    return strcmp(x->name, y->name);
}

ltx_status ltx_st_finalize(ltx_st_file *f)
{
    if (f->n > 1) qsort(f->entries, (size_t)f->n, sizeof *f->entries, cmp_by_name);
    for (int i = 1; i < f->n; i++) {
        if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0) {
            const ltx_st_entry *a = &f->entries[i - 1], *b = &f->entries[i];
            if (a->shard != b->shard)
                return ltx_err(LTX_ERR_FORMAT, "%s: tensor '%.200s' appears in both %s and %s",
                               f->path, a->name, f->shards[a->shard].path,
                               f->shards[b->shard].path);
            return ltx_err(LTX_ERR_FORMAT, "%s: tensor name '%.200s' appears twice",
                           f->shards[a->shard].path, a->name);
        }
    }
    return LTX_OK;
}

/* ---- opening ------------------------------------------------------------------------------ */

ltx_st_file *ltx_st_file_new(const char *path, int nshards)
{
    ltx_st_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->path = dupstr(path);
    f->shards = calloc((size_t)(nshards > 0 ? nshards : 1), sizeof *f->shards);
    f->nshards = nshards;
    if (!f->path || !f->shards) {
        free(f->path);
        free(f->shards);
        free(f);
        return NULL;
    }
    return f;
}

ltx_status ltx_st_map_shard(ltx_st_file *f, int shard, const char *path)
{
    st_shard *s = &f->shards[shard];
    s->path = dupstr(path);
    if (!s->path) return ltx_err(LTX_ERR_OOM, "%s: out of memory", path);
    size_t size = 0;
    /* refuses a FIFO, device or directory before anything blocks or reads */
    int fd = ltx_open_regular(path, NULL, &size);
    if (fd < 0) return ltx_err_failed();
    if (size < 8) {
        close(fd);
        return ltx_err(LTX_ERR_FORMAT, "%s: file too small (%zu bytes) for a safetensors header",
                       path, size);
    }
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (m == MAP_FAILED) return ltx_err(LTX_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    s->map = m;
    s->size = size;
    s->mapped = true;
    return st_parse_shard(f, m, size, path, shard);
}

ltx_status ltx_st_open(const char *path, ltx_st_file **out)
{
    *out = NULL;
    if (!path) return ltx_err(LTX_ERR_INVALID_ARG, "ltx_st_open: NULL path");
    ltx_st_file *f = ltx_st_file_new(path, 1);
    if (!f) return ltx_err(LTX_ERR_OOM, "%s: out of memory", path);
    ltx_status st = ltx_st_map_shard(f, 0, path);
    if (st == LTX_OK) st = ltx_st_finalize(f);
    if (st != LTX_OK) {
        ltx_st_close(f);
        return st;
    }
    *out = f;
    return LTX_OK;
}

ltx_status ltx_st_open_memory(const void *data, size_t size, const char *label, ltx_st_file **out)
{
    *out = NULL;
    if (!label) label = "<memory>";
    if (!data && size) return ltx_err(LTX_ERR_INVALID_ARG, "%s: NULL data", label);
    ltx_st_file *f = ltx_st_file_new(label, 1);
    if (!f) return ltx_err(LTX_ERR_OOM, "%s: out of memory", label);
    f->shards[0].path = dupstr(label);
    f->shards[0].map = (void *)data;
    f->shards[0].size = size;
    ltx_status st = f->shards[0].path ? LTX_OK : ltx_err(LTX_ERR_OOM, "%s: out of memory", label);
    if (st == LTX_OK) st = st_parse_shard(f, data ? data : "", size, label, 0);
    if (st == LTX_OK) st = ltx_st_finalize(f);
    if (st != LTX_OK) {
        ltx_st_close(f);
        return st;
    }
    *out = f;
    return LTX_OK;
}

void ltx_st_close(ltx_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++)
        free((char *)f->entries[i].name);
    free(f->entries);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->mkeys[i]);
        free(f->mvals[i]);
    }
    free(f->mkeys);
    free(f->mvals);
    for (int i = 0; i < f->nowned; i++)
        free(f->owned[i]);
    free(f->owned);
    ltx_strmap_free(&f->mindex);
    for (int i = 0; i < f->nshards; i++) {
        if (f->shards[i].mapped) munmap(f->shards[i].map, f->shards[i].size);
        free(f->shards[i].path);
    }
    free(f->shards);
    free(f->path);
    free(f);
}

/* ---- queries ------------------------------------------------------------------------------ */

const char *ltx_st_path(const ltx_st_file *f)
{
    return f ? f->path : NULL;
}
int ltx_st_count(const ltx_st_file *f)
{
    return f ? f->n : 0;
}

const ltx_st_entry *ltx_st_at(const ltx_st_file *f, int i)
{
    return (f && i >= 0 && i < f->n) ? &f->entries[i] : NULL;
}

const ltx_st_entry *ltx_st_find(const ltx_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->entries[mid].name, name);
        if (c == 0) return &f->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *ltx_st_metadata(const ltx_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    int i = ltx_strmap_get(&f->mindex, key);
    return i >= 0 ? f->mvals[i] : NULL;
}

int ltx_st_metadata_count(const ltx_st_file *f)
{
    return f ? f->nmeta : 0;
}

void ltx_st_metadata_at(const ltx_st_file *f, int i, const char **key, const char **value)
{
    bool ok = f && i >= 0 && i < f->nmeta;
    if (key) *key = ok ? f->mkeys[i] : NULL;
    if (value) *value = ok ? f->mvals[i] : NULL;
}

const char *ltx_st_shard_path(const ltx_st_file *f, int shard)
{
    return (f && shard >= 0 && shard < f->nshards) ? f->shards[shard].path : NULL;
}

int ltx_st_shard_count(const ltx_st_file *f)
{
    return f ? f->nshards : 0;
}

float *ltx_st_read_f32(const ltx_st_file *f, const char *name, int64_t *numel)
{
    if (numel) *numel = 0;
    const ltx_st_entry *e = ltx_st_find(f, name);
    if (!e) {
        ltx_err(LTX_ERR_FORMAT, "%s: no tensor named '%.200s'", f ? f->path : "(null)",
                name ? name : "(null)");
        return NULL;
    }
    size_t esz = ltx_dtype_is_quant(e->dtype) ? 2 : ltx_dtype_size(e->dtype); /* alignment */
    size_t n = 1;
    for (int d = 0; d < e->ndim; d++)
        n *= (size_t)e->shape[d]; /* validated at open: no overflow */
    float *out = malloc(n ? n * sizeof(float) : 1);
    if (!out) {
        ltx_err(LTX_ERR_OOM, "%s: out of memory reading '%.200s'", f->path, name);
        return NULL;
    }
    const void *src = e->data;
    void *tmp = NULL;
    /* Offsets in the file need not be aligned for the element type; copy to aligned memory
     * before the typed conversion reads it. */
    if (n && ((uintptr_t)src % esz) != 0) {
        tmp = malloc(e->nbytes);
        if (!tmp) {
            free(out);
            ltx_err(LTX_ERR_OOM, "%s: out of memory reading '%.200s'", f->path, name);
            return NULL;
        }
        memcpy(tmp, src, e->nbytes);
        src = tmp;
    }
    if (n) ltx_convert(out, LTX_F32, src, e->dtype, n);
    free(tmp);
    if (numel) *numel = (int64_t)n;
    return out;
}
