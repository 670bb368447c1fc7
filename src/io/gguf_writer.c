/*
 * gguf_writer.c — streaming GGUF v3 writer (see gguf.h): metadata and tensor infos up front,
 * tensor bytes streamed in declaration order, each tensor padded to 32 bytes, the file written
 * to "<path>.tmp" and renamed onto path only when complete.
 * ref: ggml docs/gguf.md (file layout); dims are written innermost first (reversed PyTorch).
 */
#include "io/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 32

typedef struct wkv {
    char *key;
    uint32_t type; /* 4 u32, 6 f32, 8 string */
    char *str;
    uint32_t u32;
    float f32;
} wkv;

typedef struct wtensor {
    char *name;
    ltx_dtype dt;
    int ndim;
    int64_t shape[LTX_MAX_DIMS];
    uint64_t offset, nbytes;
} wtensor;

struct ltx_gguf_writer {
    wkv *kv;
    int nkv;
    wtensor *t;
    int nt;
    uint64_t data_size;
    FILE *fp;
    char *path, *tmp;
    int cur;          /* tensor being written */
    uint64_t written; /* bytes of it so far */
};

ltx_gguf_writer *ltx_gguf_writer_new(void)
{
    return calloc(1, sizeof(ltx_gguf_writer));
}

void ltx_gguf_writer_free(ltx_gguf_writer *w)
{
    if (!w) return;
    if (w->fp) {
        fclose(w->fp);
        remove(w->tmp);
    }
    for (int i = 0; i < w->nkv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].str);
    }
    for (int i = 0; i < w->nt; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w->path);
    free(w->tmp);
    free(w);
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static ltx_status add_kv(ltx_gguf_writer *w, const char *key, wkv v)
{
    if (!w || !key || w->fp) return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: bad metadata call");
    for (int i = 0; i < w->nkv; i++)
        if (!strcmp(w->kv[i].key, key))
            return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: key '%s' set twice", key);
    wkv *n = realloc(w->kv, sizeof *n * (size_t)(w->nkv + 1));
    if (!n) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory");
    w->kv = n;
    v.key = dup(key);
    if (!v.key) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory");
    w->kv[w->nkv++] = v;
    return LTX_OK;
}

ltx_status ltx_gguf_writer_kv_str(ltx_gguf_writer *w, const char *key, const char *value)
{
    wkv v = {.type = 8, .str = value ? dup(value) : NULL};
    if (!v.str) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory (or NULL value)");
    ltx_status s = add_kv(w, key, v);
    if (s != LTX_OK) free(v.str);
    return s;
}

ltx_status ltx_gguf_writer_kv_u32(ltx_gguf_writer *w, const char *key, uint32_t value)
{
    return add_kv(w, key, (wkv){.type = 4, .u32 = value});
}

ltx_status ltx_gguf_writer_kv_f32(ltx_gguf_writer *w, const char *key, float value)
{
    return add_kv(w, key, (wkv){.type = 6, .f32 = value});
}

ltx_status ltx_gguf_writer_tensor(ltx_gguf_writer *w, const char *name, ltx_dtype dt, int ndim,
                                  const int64_t *shape)
{
    if (!w || !name || w->fp || ndim < 1 || ndim > LTX_MAX_DIMS || ltx_gguf_type_id(dt) < 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: bad tensor '%s' (%s, rank %d)",
                       name ? name : "?", ltx_dtype_name(dt), ndim);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0 || __builtin_mul_overflow(numel, shape[d], &numel))
            return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: '%s': bad shape", name);
    size_t nb;
    if (shape[ndim - 1] % ltx_dtype_block_size(dt) || !ltx_dtype_bytes_checked(dt, numel, &nb))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "gguf writer: '%s': rows of %lld are not whole %s blocks", name,
                       (long long)shape[ndim - 1], ltx_dtype_name(dt));
    wtensor *n = realloc(w->t, sizeof *n * (size_t)(w->nt + 1));
    if (!n) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory");
    w->t = n;
    wtensor *t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    t->name = dup(name);
    if (!t->name) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory");
    t->dt = dt;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->offset = w->data_size;
    t->nbytes = nb;
    w->data_size += (nb + ALIGN - 1) / ALIGN * ALIGN;
    w->nt++;
    return LTX_OK;
}

/* ---- output ------------------------------------------------------------------------------- */

static bool put(FILE *fp, const void *p, size_t n)
{
    return fwrite(p, 1, n, fp) == n;
}
static bool put_u32(FILE *fp, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return put(fp, b, 4);
}
static bool put_u64(FILE *fp, uint64_t v)
{
    return put_u32(fp, (uint32_t)v) && put_u32(fp, (uint32_t)(v >> 32));
}
static bool put_str(FILE *fp, const char *s)
{
    size_t n = strlen(s);
    return put_u64(fp, n) && put(fp, s, n);
}
static bool pad(FILE *fp, uint64_t pos)
{
    static const uint8_t zeros[ALIGN];
    size_t n = (size_t)((ALIGN - pos % ALIGN) % ALIGN);
    return put(fp, zeros, n);
}

static bool write_header(ltx_gguf_writer *w)
{
    FILE *fp = w->fp;
    bool ok = put(fp, "GGUF", 4) && put_u32(fp, 3) && put_u64(fp, (uint64_t)w->nt) &&
              put_u64(fp, (uint64_t)w->nkv);
    for (int i = 0; ok && i < w->nkv; i++) {
        const wkv *k = &w->kv[i];
        ok = put_str(fp, k->key) && put_u32(fp, k->type);
        if (!ok) break;
        if (k->type == 8)
            ok = put_str(fp, k->str);
        else if (k->type == 4)
            ok = put_u32(fp, k->u32);
        else {
            uint32_t b;
            memcpy(&b, &k->f32, 4);
            ok = put_u32(fp, b);
        }
    }
    for (int i = 0; ok && i < w->nt; i++) {
        const wtensor *t = &w->t[i];
        ok = put_str(fp, t->name) && put_u32(fp, (uint32_t)t->ndim);
        for (int d = t->ndim - 1; ok && d >= 0; d--) /* innermost first */
            ok = put_u64(fp, (uint64_t)t->shape[d]);
        ok = ok && put_u32(fp, (uint32_t)ltx_gguf_type_id(t->dt)) && put_u64(fp, t->offset);
    }
    long pos = ok ? ftell(fp) : -1;
    return pos >= 0 && pad(fp, (uint64_t)pos);
}

ltx_status ltx_gguf_writer_open(ltx_gguf_writer *w, const char *path)
{
    if (!w || !path || w->fp) return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: bad open");
    size_t n = strlen(path) + 5;
    w->path = dup(path);
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) return ltx_err(LTX_ERR_OOM, "gguf writer: out of memory");
    snprintf(w->tmp, n, "%s.tmp", path);
    w->fp = fopen(w->tmp, "wb");
    if (!w->fp) return ltx_err(LTX_ERR_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
    if (!write_header(w)) return ltx_err(LTX_ERR_IO, "%s: write failed", w->tmp);
    w->cur = 0;
    w->written = 0;
    return LTX_OK;
}

ltx_status ltx_gguf_writer_data(ltx_gguf_writer *w, const void *bytes, size_t n)
{
    if (!w || !w->fp) return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: not open");
    const uint8_t *p = bytes;
    while (n > 0) {
        if (w->cur >= w->nt)
            return ltx_err(LTX_ERR_INVALID_ARG, "%s: more data than the tensors declared", w->tmp);
        wtensor *t = &w->t[w->cur];
        uint64_t left = t->nbytes - w->written;
        size_t k = n < left ? n : (size_t)left;
        if (!put(w->fp, p, k)) return ltx_err(LTX_ERR_IO, "%s: write failed", w->tmp);
        p += k;
        n -= k;
        w->written += k;
        if (w->written == t->nbytes) {
            if (!pad(w->fp, t->nbytes)) return ltx_err(LTX_ERR_IO, "%s: write failed", w->tmp);
            w->cur++;
            w->written = 0;
        }
    }
    /* zero-byte tensors complete without data */
    while (w->cur < w->nt && w->t[w->cur].nbytes == 0)
        w->cur++;
    return LTX_OK;
}

ltx_status ltx_gguf_writer_close(ltx_gguf_writer *w)
{
    if (!w || !w->fp) return ltx_err(LTX_ERR_INVALID_ARG, "gguf writer: not open");
    LTX_TRY(ltx_gguf_writer_data(w, NULL, 0));
    if (w->cur != w->nt)
        return ltx_err(LTX_ERR_INVALID_ARG, "%s: tensor '%s' has only %llu of its bytes", w->tmp,
                       w->t[w->cur].name, (unsigned long long)w->written);
    int rc = fflush(w->fp);
    rc |= fclose(w->fp);
    w->fp = NULL;
    if (rc != 0) {
        remove(w->tmp);
        return ltx_err(LTX_ERR_IO, "%s: write failed", w->tmp);
    }
    if (rename(w->tmp, w->path) != 0) {
        int e = errno;
        remove(w->tmp);
        return ltx_err(LTX_ERR_IO, "%s: cannot rename onto %s: %s", w->tmp, w->path, strerror(e));
    }
    return LTX_OK;
}
