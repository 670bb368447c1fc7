/*
 * st_writer.c — the safetensors writer (host data only; ltx_st_writer_add_tensor, which
 * downloads an ltx_tensor, is in st_tensor.c).
 *
 * Layout written: u64 LE header length, header JSON {"__metadata__": {...}, name: {dtype, shape,
 * data_offsets}, ...} padded with spaces to a multiple of 8 bytes, then the data. Tensors are
 * stored by decreasing element size, then by name, so with the 8-aligned data section every
 * tensor starts aligned to its element size (ref: safetensors/src/tensor.rs prepare(), which
 * orders by dtype alignment the same way). The file is written to a fresh temp file in <path>'s
 * folder (io/file.h: O_EXCL, never an existing file or a symlink) and renamed over <path> only
 * when everything was written, so a failure never leaves a half file at <path>.
 *
 * Deliberately not done: no streaming of tensors larger than memory (data is copied on add).
 */
#include "io/file.h"
#include "io/safetensors.h"
#include "io/st_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

typedef struct wt {
    char *name;
    ltx_dtype dtype;
    int ndim;
    int64_t shape[LTX_MAX_DIMS];
    void *data;
    size_t nbytes;
} wt;

struct ltx_st_writer {
    wt *t;
    int n, cap;
    char **mkeys, **mvals;
    int nmeta;
};

/* Growable text buffer for the header. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* A JSON string literal (quotes, backslash and control bytes escaped; UTF-8 passes). */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        char esc[8];
        if (*q == '"' || *q == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*q;
            sb_put(b, esc, 2);
        } else if (*q < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *q);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)q, 1);
        }
    }
    sb_put(b, "\"", 1);
}

ltx_st_writer *ltx_st_writer_new(void)
{
    return calloc(1, sizeof(ltx_st_writer));
}

void ltx_st_writer_free(ltx_st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->mkeys);
    free(w->mvals);
    free(w);
}

ltx_status ltx_st_writer_add_owned(ltx_st_writer *w, const char *name, ltx_dtype dt, int ndim,
                                   const int64_t *shape, void *data, size_t nbytes)
{
    for (int i = 0; i < w->n; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            free(data);
            return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: tensor '%s' added twice",
                           name);
        }
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        wt *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) {
            free(data);
            return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory");
        }
        w->t = nt;
        w->cap = cap;
    }
    wt *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    size_t nl = strlen(name) + 1;
    t->name = malloc(nl);
    if (!t->name) {
        free(data);
        return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory");
    }
    memcpy(t->name, name, nl);
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->data = data;
    t->nbytes = nbytes;
    w->n++;
    return LTX_OK;
}

ltx_status ltx_st_writer_add(ltx_st_writer *w, const char *name, ltx_dtype dt, int ndim,
                             const int64_t *shape, const void *data)
{
    if (!w || !name || ndim < 0 || ndim > LTX_MAX_DIMS || (ndim > 0 && !shape) || (int)dt < 0 ||
        dt >= LTX_DTYPE_COUNT || ltx_dtype_is_quant(dt))
        return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: bad arguments for '%s'",
                       name ? name : "(null)");
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: '%s' has shape[%d] = %lld",
                           name, d, (long long)shape[d]);
        if (__builtin_mul_overflow(numel, (size_t)shape[d], &numel))
            return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: '%s' is too large", name);
    }
    size_t nbytes;
    if (__builtin_mul_overflow(numel, ltx_dtype_size(dt), &nbytes))
        return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: '%s' is too large", name);
    if (nbytes && !data)
        return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: '%s' has no data", name);
    void *copy = malloc(nbytes ? nbytes : 1);
    if (!copy) return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory for '%s'", name);
    if (nbytes) memcpy(copy, data, nbytes);
    return ltx_st_writer_add_owned(w, name, dt, ndim, shape, copy, nbytes);
}

ltx_status ltx_st_writer_set_metadata(ltx_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value)
        return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: NULL metadata key or value");
    char *v = malloc(strlen(value) + 1);
    if (!v) return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory");
    strcpy(v, value);
    for (int i = 0; i < w->nmeta; i++) {
        if (strcmp(w->mkeys[i], key) == 0) { /* replace */
            free(w->mvals[i]);
            w->mvals[i] = v;
            return LTX_OK;
        }
    }
    char *k = malloc(strlen(key) + 1);
    char **nk = realloc(w->mkeys, (size_t)(w->nmeta + 1) * sizeof *nk);
    if (nk) w->mkeys = nk;
    char **nv = nk ? realloc(w->mvals, (size_t)(w->nmeta + 1) * sizeof *nv) : NULL;
    if (nv) w->mvals = nv;
    if (!k || !nk || !nv) {
        free(k);
        free(v);
        return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory");
    }
    strcpy(k, key);
    w->mkeys[w->nmeta] = k;
    w->mvals[w->nmeta] = v;
    w->nmeta++;
    return LTX_OK;
}

static int cmp_storage(const void *a, const void *b)
{
    const wt *x = *(const wt *const *)a, *y = *(const wt *const *)b;
    size_t sx = ltx_dtype_size(x->dtype), sy = ltx_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Builds the padded header for tensors in `order`. */
static ltx_status build_header(const ltx_st_writer *w, wt **order, sbuf *b)
{
    char num[64];
    sb_str(b, "{");
    bool first = true;
    if (w->nmeta) {
        sb_str(b, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) sb_str(b, ",");
            sb_json_str(b, w->mkeys[i]);
            sb_str(b, ":");
            sb_json_str(b, w->mvals[i]);
        }
        sb_str(b, "}");
        first = false;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wt *t = order[i];
        if (!first) sb_str(b, ",");
        first = false;
        sb_json_str(b, t->name);
        sb_str(b, ":{\"dtype\":");
        sb_json_str(b, ltx_dtype_name(t->dtype));
        sb_str(b, ",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", t->shape[d]);
            sb_str(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off,
                 off + (uint64_t)t->nbytes);
        sb_str(b, num);
        off += t->nbytes;
    }
    sb_str(b, "}");
    while (b->len % 8)
        sb_str(b, " "); /* data section starts 8-aligned */
    if (b->oom) return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory for the header");
    return LTX_OK;
}

/* Header length, header, then each tensor's bytes; false with errno on a short write. */
static bool write_all(FILE *fp, const sbuf *hdr, wt **order, int n)
{
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)((uint64_t)hdr->len >> (8 * i));
    bool ok = fwrite(lenb, 1, 8, fp) == 8 && fwrite(hdr->p, 1, hdr->len, fp) == hdr->len;
    for (int i = 0; ok && i < n; i++)
        ok = order[i]->nbytes == 0 ||
             fwrite(order[i]->data, 1, order[i]->nbytes, fp) == order[i]->nbytes;
    return ok && fflush(fp) == 0;
}

ltx_status ltx_st_writer_save(ltx_st_writer *w, const char *path)
{
    if (!w || !path) return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    ltx_status st = LTX_OK;
    sbuf hdr = {0};
    ltx_tmpfile tmp = {.fd = -1, .slot = -1};
    wt **order = malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
    if (!order) {
        st = ltx_err(LTX_ERR_OOM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < w->n; i++)
        order[i] = &w->t[i];
    qsort(order, (size_t)w->n, sizeof *order, cmp_storage);
    LTX_CHECK_GOTO(st, build_header(w, order, &hdr), done);

    LTX_CHECK_GOTO(st, ltx_tmpfile_create(path, NULL, &tmp), done);
    FILE *fp = fdopen(dup(tmp.fd), "wb");
    bool ok = fp && write_all(fp, &hdr, order, w->n);
    int e = errno;
    if (fp && fclose(fp) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        st = ltx_err(LTX_ERR_IO, "%s: write failed: %s", tmp.path, strerror(e));
        goto done;
    }
    st = ltx_tmpfile_commit(&tmp, path);
done:
    ltx_tmpfile_discard(&tmp); /* no-op after a commit */
    free(hdr.p);
    free(order);
    return st;
}
