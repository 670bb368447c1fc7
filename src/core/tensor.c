/*
 * tensor.c — tensor descriptors, views and data movement over backend buffers.
 *
 * Storage goes through the owning backend's table (alloc/free/upload/download/wrap), so the
 * same code serves host-visible and device memory. Strided downloads use the backend's copy op
 * into a contiguous temporary on the device, then one download.
 * Not here: arithmetic (backend ops, src/nn/), element conversions (dtype.c, used for
 * host-side dtype changes) and planned allocation (arena.c).
 */
#include "core/tensor.h"

#include "backend/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t ltx_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t n = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = n;
        /* callers pass shapes that ltx_shape_numel_ok accepted; a wrap here would be a bug */
        LTX_ASSERT(!__builtin_mul_overflow(n, shape[i], &n));
    }
    return n;
}

bool ltx_shape_numel_ok(int ndim, const int64_t *shape, size_t esz, int64_t *numel)
{
    /* Every suffix product is a contiguous stride, so each must fit, even when a leading 0
     * makes the element count 0: [0, 2^53, 2^53] has a stride of 2^106. */
    int64_t n = 1, bytes;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return false;
        if (__builtin_mul_overflow(n, (int64_t)(esz ? esz : 1), &bytes) ||
            bytes > LTX_MAX_TENSOR_BYTES)
            return false;
    }
    if (numel) *numel = n;
    return true;
}

/* "[a, b, c]" for messages (shape not yet in a tensor). */
static const char *dims_str(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

static ltx_status overflow_err(const char *what, ltx_dtype dt, int ndim, const int64_t *shape)
{
    char buf[200];
    return ltx_err(LTX_ERR_INVALID_ARG,
                   "%s: tensor of shape %s %s is too large (its element or byte count overflows "
                   "the 2^62-byte limit)",
                   what, dims_str(ndim, shape, buf, sizeof buf), ltx_dtype_name(dt));
}

/* ---- buffers ---- */

ltx_buffer *ltx_buffer_new(ltx_backend *be, size_t bytes)
{
    ltx_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        ltx_err(LTX_ERR_OOM, "out of memory allocating a buffer descriptor");
        return NULL;
    }
    b->be = be;
    b->size = bytes;
    b->refs = 1;
    if (be->ops->buffer_alloc(be, bytes ? bytes : 1, &b->handle) != LTX_OK) {
        free(b);
        return NULL;
    }
    return b;
}

void ltx_buffer_retain(ltx_buffer *b)
{
    if (b) b->refs++;
}

void ltx_buffer_release(ltx_buffer *b)
{
    if (!b) return;
    LTX_ASSERT(b->refs > 0);
    if (--b->refs > 0) return;
    /* A borrowed handle aliases memory owned elsewhere (an mmap'd file): not freed. */
    if (!b->borrowed) b->be->ops->buffer_free(b->be, b->handle);
    free(b);
}

/* ---- construction ---- */

static ltx_tensor *alloc_desc(ltx_dtype dt, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > LTX_MAX_DIMS) {
        ltx_err(LTX_ERR_INVALID_ARG, "tensor rank %d outside [0, %d]", ndim, LTX_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            ltx_err(LTX_ERR_INVALID_ARG, "negative tensor dimension %lld", (long long)shape[i]);
            return NULL;
        }
    /* quantized types store under 2 bytes per element (Q8_0: 34 per 32): bound them by 2 */
    size_t esz = ltx_dtype_size(dt) ? ltx_dtype_size(dt) : 2;
    if (!ltx_shape_numel_ok(ndim, shape, esz, NULL)) {
        overflow_err("tensor", dt, ndim, shape);
        return NULL;
    }
    /* quantized storage holds whole blocks per row: the last dim is a multiple of the block */
    int64_t blck = ltx_dtype_block_size(dt);
    if (blck < 1 || (blck > 1 && (ndim == 0 || shape[ndim - 1] % blck))) {
        ltx_err(LTX_ERR_INVALID_ARG, "%s tensor with rows of %lld elements: rows must be whole "
                "blocks of %lld", ltx_dtype_name(dt), ndim ? (long long)shape[ndim - 1] : 1LL,
                (long long)blck);
        return NULL;
    }
    ltx_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        ltx_err(LTX_ERR_OOM, "out of memory allocating a tensor descriptor");
        return NULL;
    }
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    ltx_contiguous_strides(ndim, shape, t->stride);
    return t;
}

ltx_tensor *ltx_tensor_on_buffer(ltx_buffer *b, ltx_dtype dt, int ndim, const int64_t *shape,
                                 int64_t offset_elems)
{
    ltx_tensor *t = alloc_desc(dt, ndim, shape);
    if (!t) return NULL;
    int64_t esz = (int64_t)ltx_dtype_size(dt), end;
    if (offset_elems < 0 || __builtin_add_overflow(offset_elems, ltx_tensor_numel(t), &end) ||
        __builtin_mul_overflow(end, esz, &end) || (uint64_t)end > (uint64_t)b->size) {
        ltx_err(LTX_ERR_INVALID_ARG,
                "tensor of %lld elements at element offset %lld does not fit its %zu-byte buffer",
                (long long)ltx_tensor_numel(t), (long long)offset_elems, b->size);
        free(t);
        return NULL;
    }
    t->buf = b;
    t->offset = offset_elems;
    ltx_buffer_retain(b);
    return t;
}

ltx_tensor *ltx_tensor_new(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape)
{
    ltx_tensor *t = alloc_desc(dt, ndim, shape);
    if (!t) return NULL;
    if (!ltx_backend_has_dtype(be, dt)) {
        free(t);
        ltx_err(LTX_ERR_UNSUPPORTED, "device %s cannot store %s tensors", be->device_name,
                ltx_dtype_name(dt));
        return NULL;
    }
    size_t bytes = ltx_dtype_bytes(dt, ltx_tensor_numel(t));
    t->buf = ltx_buffer_new(be, bytes);
    if (!t->buf) {
        free(t);
        return NULL;
    }
    return t;
}

ltx_tensor *ltx_tensor_zeros(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape)
{
    ltx_tensor *t = ltx_tensor_new(be, dt, ndim, shape);
    if (t && be->ops->fill(be, t, 0.0) != LTX_OK) {
        ltx_tensor_free(t);
        return NULL;
    }
    return t;
}

ltx_tensor *ltx_tensor_from_host(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape,
                                 const void *host)
{
    ltx_tensor *t = ltx_tensor_new(be, dt, ndim, shape);
    if (t && ltx_tensor_upload(t, host, dt) != LTX_OK) {
        ltx_tensor_free(t);
        return NULL;
    }
    return t;
}

ltx_tensor *ltx_tensor_wrap_host(ltx_backend *be, ltx_dtype dt, int ndim, const int64_t *shape,
                                 const void *host)
{
    ltx_tensor *t = alloc_desc(dt, ndim, shape);
    if (!t) return NULL;
    if (!ltx_backend_has_dtype(be, dt)) {
        free(t);
        ltx_err(LTX_ERR_UNSUPPORTED, "device %s cannot store %s tensors", be->device_name,
                ltx_dtype_name(dt));
        return NULL;
    }
    size_t bytes = ltx_dtype_bytes(dt, ltx_tensor_numel(t));
    ltx_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        free(t);
        ltx_err(LTX_ERR_OOM, "out of memory");
        return NULL;
    }
    b->be = be;
    b->size = bytes;
    b->refs = 1;
    if (be->ops->buffer_wrap_host(be, host, bytes ? bytes : 1, &b->handle, &b->borrowed) !=
        LTX_OK) {
        free(b);
        free(t);
        return NULL;
    }
    t->buf = b;
    return t;
}

void ltx_tensor_free(ltx_tensor *t)
{
    if (!t) return;
    ltx_buffer_release(t->buf);
    free(t);
}

/* ---- views ---- */

ltx_tensor *ltx_tensor_view(const ltx_tensor *t)
{
    ltx_tensor *v = malloc(sizeof *v);
    if (!v) {
        ltx_err(LTX_ERR_OOM, "out of memory");
        return NULL;
    }
    *v = *t;
    ltx_buffer_retain(v->buf);
    return v;
}

static int norm_dim(const ltx_tensor *t, int dim)
{
    if (dim < 0) dim += t->ndim;
    return (dim >= 0 && dim < t->ndim) ? dim : -1;
}

ltx_tensor *ltx_tensor_slice(const ltx_tensor *t, int dim, int64_t start, int64_t end, int64_t step)
{
    int d = norm_dim(t, dim);
    if (d < 0 || step <= 0) {
        ltx_err(LTX_ERR_INVALID_ARG, "slice: bad dim %d or step %lld for rank %d", dim,
                (long long)step, t->ndim);
        return NULL;
    }
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (end > n) end = n;
    if (start < 0 || start > end) {
        ltx_err(LTX_ERR_INVALID_ARG, "slice [%lld, %lld) outside dim %d of size %lld",
                (long long)start, (long long)end, d, (long long)n);
        return NULL;
    }
    /* block-quantized storage: only whole rows (blocks never split) */
    int64_t blck = ltx_dtype_block_size(t->dtype);
    if (blck > 1 && (d == t->ndim - 1 || (start * t->stride[d]) % blck)) {
        ltx_err(LTX_ERR_UNSUPPORTED, "slice of %s tensor %s along dim %d: blocks of %lld "
                "elements cannot be split", ltx_dtype_name(t->dtype), t->name, d,
                (long long)blck);
        return NULL;
    }
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    v->offset += start * t->stride[d];
    v->shape[d] = (end - start + step - 1) / step;
    v->stride[d] = t->stride[d] * step;
    return v;
}

ltx_tensor *ltx_tensor_permute(const ltx_tensor *t, const int *perm)
{
    int seen[LTX_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]]++) {
            ltx_err(LTX_ERR_INVALID_ARG, "permute: invalid permutation for rank %d", t->ndim);
            return NULL;
        }
    }
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->stride[i] = t->stride[perm[i]];
    }
    return v;
}

ltx_tensor *ltx_tensor_transpose(const ltx_tensor *t, int d0, int d1)
{
    int a = norm_dim(t, d0), b = norm_dim(t, d1);
    if (a < 0 || b < 0) {
        ltx_err(LTX_ERR_INVALID_ARG, "transpose: dims %d, %d outside rank %d", d0, d1, t->ndim);
        return NULL;
    }
    int perm[LTX_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return ltx_tensor_permute(t, perm);
}

ltx_tensor *ltx_tensor_reshape(const ltx_tensor *t, int ndim, const int64_t *shape)
{
    if (!ltx_tensor_is_contiguous(t)) {
        ltx_err(LTX_ERR_INVALID_ARG, "reshape of a non-contiguous tensor (copy it first)");
        return NULL;
    }
    if (ndim < 0 || ndim > LTX_MAX_DIMS) {
        ltx_err(LTX_ERR_INVALID_ARG, "reshape: rank %d", ndim);
        return NULL;
    }
    int64_t s[LTX_MAX_DIMS], known = 1, numel = ltx_tensor_numel(t);
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            if (infer >= 0) {
                ltx_err(LTX_ERR_INVALID_ARG, "reshape: more than one -1");
                return NULL;
            }
            infer = i;
        } else if (s[i] < 0 || __builtin_mul_overflow(known, s[i], &known)) {
            overflow_err("reshape", t->dtype, ndim, shape);
            return NULL;
        }
    }
    if (infer >= 0) s[infer] = known ? numel / known : 0;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(total, s[i], &total)) {
            overflow_err("reshape", t->dtype, ndim, s);
            return NULL;
        }
    if (total != numel) {
        char buf[96];
        ltx_err(LTX_ERR_INVALID_ARG, "reshape: %s has %lld elements, new shape %lld",
                ltx_tensor_shape_str(t, buf, sizeof buf), (long long)numel, (long long)total);
        return NULL;
    }
    if (!ltx_shape_numel_ok(ndim, s, ltx_dtype_size(t->dtype), NULL)) {
        overflow_err("reshape", t->dtype, ndim, s);
        return NULL;
    }
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, s, sizeof(int64_t) * (size_t)ndim);
    ltx_contiguous_strides(ndim, s, v->stride);
    return v;
}

ltx_tensor *ltx_tensor_unsqueeze(const ltx_tensor *t, int dim)
{
    if (dim < 0) dim += t->ndim + 1;
    if (dim < 0 || dim > t->ndim || t->ndim >= LTX_MAX_DIMS) {
        ltx_err(LTX_ERR_INVALID_ARG, "unsqueeze: dim %d for rank %d", dim, t->ndim);
        return NULL;
    }
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    for (int i = t->ndim; i > dim; i--) {
        v->shape[i] = t->shape[i - 1];
        v->stride[i] = t->stride[i - 1];
    }
    v->shape[dim] = 1;
    v->stride[dim] = dim < t->ndim ? t->stride[dim] * t->shape[dim] : 1;
    v->ndim = t->ndim + 1;
    return v;
}

ltx_tensor *ltx_tensor_expand(const ltx_tensor *t, int ndim, const int64_t *shape)
{
    if (ndim < t->ndim || ndim > LTX_MAX_DIMS) {
        ltx_err(LTX_ERR_INVALID_ARG, "expand: rank %d to %d", t->ndim, ndim);
        return NULL;
    }
    ltx_tensor *v = ltx_tensor_view(t);
    if (!v) return NULL;
    int off = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int src = i - off;
        int64_t sz = src >= 0 ? t->shape[src] : 1;
        int64_t st = src >= 0 ? t->stride[src] : 0;
        if (sz == shape[i]) {
            v->shape[i] = sz;
            v->stride[i] = st;
        } else if (sz == 1) {
            v->shape[i] = shape[i];
            v->stride[i] = 0;
        } else {
            ltx_tensor_free(v);
            ltx_err(LTX_ERR_INVALID_ARG, "expand: dim %d of size %lld cannot become %lld", i,
                    (long long)sz, (long long)shape[i]);
            return NULL;
        }
    }
    v->ndim = ndim;
    if (!ltx_shape_numel_ok(ndim, v->shape, ltx_dtype_size(v->dtype), NULL)) {
        ltx_tensor_free(v);
        overflow_err("expand", t->dtype, ndim, shape);
        return NULL;
    }
    return v;
}

/* ---- queries ---- */

int64_t ltx_tensor_numel(const ltx_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t ltx_tensor_nbytes(const ltx_tensor *t)
{
    return ltx_dtype_bytes(t->dtype, ltx_tensor_numel(t));
}

bool ltx_tensor_is_contiguous(const ltx_tensor *t)
{
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return false;
        expect *= t->shape[i];
    }
    return true;
}

bool ltx_tensor_same_shape(const ltx_tensor *a, const ltx_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *ltx_tensor_shape_str(const ltx_tensor *t, char *buf, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < t->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ") %s", ltx_dtype_name(t->dtype));
    return buf;
}

void *ltx_tensor_host(const ltx_tensor *t)
{
    if (!t->buf || !t->buf->be->caps.host_visible) return NULL;
    char *base = t->buf->be->ops->buffer_host_ptr(t->buf->be, t->buf->handle);
    return base ? base + ltx_dtype_bytes(t->dtype, t->offset) : NULL;
}

/* ---- data movement ---- */

ltx_status ltx_tensor_download(const ltx_tensor *t, void *host, ltx_dtype dt)
{
    ltx_backend *be = t->buf->be;
    int64_t n = ltx_tensor_numel(t);
    size_t off = ltx_dtype_bytes(t->dtype, t->offset), nb = ltx_dtype_bytes(t->dtype, n);
    /* download is blocking and ordered after the compute stream: one host sync, no separate
     * synchronize (backend_v2_spec Amendment 1) */
    if (ltx_tensor_is_contiguous(t) && dt == t->dtype) {
        return be->ops->download(be, t->buf->handle, off, host, nb);
    }
    if (ltx_tensor_is_contiguous(t)) {
        /* Download raw, convert on the host (the host always has every dtype). */
        void *tmp = malloc(nb + 1);
        if (!tmp)
            return ltx_err(LTX_ERR_OOM, "download: out of memory (%lld elements)", (long long)n);
        ltx_status s = be->ops->download(be, t->buf->handle, off, tmp, nb);
        if (s == LTX_OK) ltx_convert(host, dt, tmp, t->dtype, (size_t)n);
        free(tmp);
        return s;
    }
    /* Strided: make a contiguous copy on the device first. */
    ltx_tensor *c = ltx_tensor_new(be, t->dtype, t->ndim, t->shape);
    if (!c) return ltx_err_failed();
    ltx_status s = be->ops->copy(be, c, t);
    if (s == LTX_OK) s = ltx_tensor_download(c, host, dt);
    ltx_tensor_free(c);
    return s;
}

ltx_status ltx_tensor_upload(ltx_tensor *t, const void *host, ltx_dtype dt)
{
    ltx_backend *be = t->buf->be;
    if (!ltx_tensor_is_contiguous(t))
        return ltx_err(LTX_ERR_INVALID_ARG, "upload into a non-contiguous tensor");
    int64_t n = ltx_tensor_numel(t);
    size_t off = ltx_dtype_bytes(t->dtype, t->offset), nb = ltx_dtype_bytes(t->dtype, n);
    if (dt == t->dtype) return be->ops->upload(be, t->buf->handle, off, host, nb);
    void *tmp = malloc(nb + 1);
    if (!tmp) return ltx_err(LTX_ERR_OOM, "upload: out of memory (%lld elements)", (long long)n);
    ltx_convert(tmp, t->dtype, host, dt, (size_t)n);
    ltx_status s = be->ops->upload(be, t->buf->handle, off, tmp, nb);
    free(tmp);
    return s;
}

/* malloc'd host copy of t converted to dt (esz bytes per element; one spare element so that
 * an empty tensor still gets a non-NULL buffer); NULL + error on failure. */
static void *to_host(const ltx_tensor *t, ltx_dtype dt, size_t esz)
{
    void *out = malloc(esz * (size_t)(ltx_tensor_numel(t) + 1));
    if (!out) {
        ltx_err(LTX_ERR_OOM, "out of memory");
        return NULL;
    }
    if (ltx_tensor_download(t, out, dt) != LTX_OK) {
        free(out);
        return NULL;
    }
    return out;
}

float *ltx_tensor_to_host_f32(const ltx_tensor *t)
{
    return to_host(t, LTX_F32, sizeof(float));
}

double *ltx_tensor_to_host_f64(const ltx_tensor *t)
{
    return to_host(t, LTX_F64, sizeof(double));
}

ltx_tensor *ltx_tensor_to(const ltx_tensor *t, ltx_backend *be, ltx_dtype dt)
{
    ltx_backend *src_be = t->buf->be;
    if (be == src_be) {
        ltx_tensor *c = ltx_tensor_new(be, dt, t->ndim, t->shape);
        if (c && be->ops->copy(be, c, t) != LTX_OK) {
            ltx_tensor_free(c);
            return NULL;
        }
        return c;
    }
    /* Across backends: through the host. */
    size_t n = (size_t)ltx_tensor_numel(t);
    void *tmp = malloc(ltx_dtype_bytes(dt, (int64_t)n) + 1);
    if (!tmp) {
        ltx_err(LTX_ERR_OOM, "out of memory");
        return NULL;
    }
    ltx_tensor *c = NULL;
    if (ltx_tensor_download(t, tmp, dt) == LTX_OK)
        c = ltx_tensor_from_host(be, dt, t->ndim, t->shape, tmp);
    free(tmp);
    return c;
}
