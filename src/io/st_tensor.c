/*
 * st_tensor.c — the parts of io/safetensors.h that make or read ltx_tensor objects:
 * ltx_st_tensor (zero-copy wrap of the mapping), ltx_st_tensor_as (converted copy) and
 * ltx_st_writer_add_tensor (download + add). Kept apart from safetensors.c so the parser can be
 * built without the tensor/backend layer (the ASan fuzz build does so).
 */
#include "backend/backend.h"
#include "io/safetensors.h"
#include "io/st_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ltx_st_entry *find_or_err(const ltx_st_file *f, const char *name)
{
    const ltx_st_entry *e = ltx_st_find(f, name);
    if (!e)
        ltx_err(LTX_ERR_FORMAT, "%s: no tensor named '%.200s'", f ? f->path : "(null)",
                name ? name : "(null)");
    return e;
}

/* Host bytes of `e` aligned for its element type: the mapping itself when it already is, else
 * a malloc'd copy returned through *owned (caller frees). NULL on OOM. */
static const void *aligned_data(const ltx_st_entry *e, void **owned)
{
    *owned = NULL;
    size_t esz = ltx_dtype_is_quant(e->dtype) ? 2 : ltx_dtype_size(e->dtype); /* blocks: halves */
    if (e->nbytes == 0 || (uintptr_t)e->data % esz == 0) return e->data;
    *owned = malloc(e->nbytes);
    if (!*owned) {
        ltx_err(LTX_ERR_OOM, "out of memory copying '%.200s'", e->name);
        return NULL;
    }
    memcpy(*owned, e->data, e->nbytes);
    return *owned;
}

static void set_name(ltx_tensor *t, const char *name)
{
    if (t) snprintf(t->name, sizeof t->name, "%s", name);
}

ltx_tensor *ltx_st_tensor(const ltx_st_file *f, ltx_backend *be, const char *name)
{
    const ltx_st_entry *e = find_or_err(f, name);
    if (!e) return NULL;
    void *owned;
    const void *src = aligned_data(e, &owned);
    if (!src) return NULL;
    ltx_tensor *t;
    if (!owned) {
        t = ltx_tensor_wrap_host(be, e->dtype, e->ndim, e->shape, src);
    } else {
        /* Misaligned in the file: an owned, aligned copy instead of a borrowed view. */
        t = ltx_tensor_from_host(be, e->dtype, e->ndim, e->shape, src);
        free(owned);
    }
    if (!t) { /* a shape the file declares but a tensor cannot take is the file's fault */
        ltx_status c = ltx_err_failed();
        ltx_err_context(c == LTX_ERR_INVALID_ARG ? LTX_ERR_FORMAT : c,
                        "%s: tensor '%.200s': ", f->path, name);
        return NULL;
    }
    set_name(t, name);
    return t;
}

ltx_tensor *ltx_st_tensor_as(const ltx_st_file *f, ltx_backend *be, const char *name, ltx_dtype dt)
{
    const ltx_st_entry *e = find_or_err(f, name);
    if (!e) return NULL;
    ltx_tensor *out = NULL;
    if (ltx_backend_has_dtype(be, e->dtype)) {
        ltx_tensor *t = ltx_st_tensor(f, be, name);
        if (!t) return NULL;
        out = ltx_tensor_to(t, be, dt);
        ltx_tensor_free(t);
    } else {
        /* The device cannot hold the stored dtype: convert on the host, then upload. */
        void *owned;
        const void *src = aligned_data(e, &owned);
        if (!src) return NULL;
        size_t n = 1;
        for (int d = 0; d < e->ndim; d++)
            n *= (size_t)e->shape[d]; /* validated by the reader: no overflow */
        void *tmp = malloc(ltx_dtype_bytes(dt, (int64_t)n) + 1);
        if (tmp) {
            ltx_convert(tmp, dt, src, e->dtype, n);
            out = ltx_tensor_from_host(be, dt, e->ndim, e->shape, tmp);
            free(tmp);
        } else {
            ltx_err(LTX_ERR_OOM, "out of memory converting '%.200s'", name);
        }
        free(owned);
    }
    if (!out) { /* keeps the cause's code (OOM, a dtype the device lacks); shapes: FORMAT */
        ltx_status c = ltx_err_failed();
        ltx_err_context(c == LTX_ERR_INVALID_ARG ? LTX_ERR_FORMAT : c,
                        "%s: tensor '%.200s' as %s: ", f->path, name, ltx_dtype_name(dt));
        return NULL;
    }
    set_name(out, name);
    return out;
}

ltx_status ltx_st_writer_add_tensor(ltx_st_writer *w, const char *name, const ltx_tensor *t)
{
    if (!w || !name || !t) return ltx_err(LTX_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    size_t nbytes = ltx_tensor_nbytes(t);
    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) return ltx_err(LTX_ERR_OOM, "safetensors writer: out of memory for '%s'", name);
    ltx_status st = nbytes ? ltx_tensor_download(t, data, t->dtype) : LTX_OK;
    if (st != LTX_OK) {
        free(data);
        return ltx_err_context(st, "safetensors writer: '%s': ", name);
    }
    return ltx_st_writer_add_owned(w, name, t->dtype, t->ndim, t->shape, data, nbytes);
}
