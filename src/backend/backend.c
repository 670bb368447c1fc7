/*
 * backend.c — backend selection by device name, capability fallbacks, caps text, and the
 * table-independent helpers of interface v2 (supports query, host-sync wrappers, peak memory,
 * precision names, list of built backends).
 * ref: the Ascend port's lesson — every missing capability takes an explicit, logged, counted
 * fallback, and strict mode refuses it.
 */
#include "backend/backend.h"
#include "core/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LTX_HAVE_CUDA
ltx_status ltx_cuda_backend_create(int device_index, ltx_log *log, ltx_threadpool *pool,
                                   ltx_backend **out);
#endif

ltx_status ltx_backend_create(const char *device, ltx_log *log, ltx_threadpool *pool, bool strict,
                              ltx_backend **out)
{
    *out = NULL;
    if (!device || !*device) device = "auto";
    ltx_status s;
    if (!strcmp(device, "cpu")) {
        s = ltx_cpu_backend_create(false, log, pool, out);
    } else if (!strcmp(device, "cpu-restricted")) {
        s = ltx_cpu_backend_create(true, log, pool, out);
    } else if (!strncmp(device, "cuda", 4) && (device[4] == 0 || device[4] == ':')) {
        int idx = 0;
        if (device[4] == ':' && !ltx_parse_int(device + 5, 0, 1023, &idx))
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "--device %s: the device index must be an integer in 0..1023 "
                           "(cuda:0, cuda:1, ...)",
                           device);
#ifdef LTX_HAVE_CUDA
        s = ltx_cuda_backend_create(idx, log, pool, out);
#else
        (void)idx;
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "--device %s: this build has no CUDA backend (nvcc was not found at "
                       "configure time); use --device cpu",
                       device);
#endif
    } else if (!strcmp(device, "auto")) {
        s = LTX_ERR_UNSUPPORTED;
#ifdef LTX_HAVE_CUDA
        s = ltx_cuda_backend_create(0, log, pool, out);
        if (s != LTX_OK)
            LTX_INFO(log, "device auto: no usable CUDA device (%s); using cpu", ltx_err_message());
#endif
        if (s != LTX_OK) s = ltx_cpu_backend_create(false, log, pool, out);
    } else {
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "--device '%s' is not a device; use auto, cpu, cpu-restricted, cuda or "
                       "cuda:N",
                       device);
    }
    if (s == LTX_OK) (*out)->strict = strict;
    return s;
}

void ltx_backend_destroy(ltx_backend *be)
{
    if (be) be->ops->destroy(be);
}

ltx_status ltx_backend_fallback(ltx_backend *be, const char *key, const char *what)
{
    be->n_fallbacks++;
    int i = 0;
    for (; i < be->n_fallback_keys; i++)
        if (!strcmp(be->fallback_keys[i], key)) break;
    if (i == be->n_fallback_keys && i < LTX_MAX_FALLBACKS) {
        be->fallback_keys[i] = key;
        be->fallback_hits[i] = 0;
        be->n_fallback_keys++;
        if (!be->strict) LTX_WARN(be->log, "fallback [%s] on %s: %s", key, be->device_name, what);
    }
    if (i < LTX_MAX_FALLBACKS) be->fallback_hits[i]++;
    if (be->strict)
        return ltx_err(LTX_ERR_UNSUPPORTED, "strict mode: device %s needs fallback [%s] (%s)",
                       be->device_name, key, what);
    return LTX_OK;
}

const char *ltx_backend_caps_str(const ltx_backend *be, char *buf, size_t cap)
{
    const ltx_backend_caps *c = &be->caps;
    size_t n = (size_t)snprintf(
        buf, cap,
        "f64=%s complex=%s fp32_autocast=%s fused_attention=%s conv3d=%s async=%s "
        "host_visible=%s storage=",
        c->f64 ? "yes" : "no", c->complex ? "yes" : "no", c->fp32_autocast ? "yes" : "no",
        c->fused_attention ? "yes" : "no", c->conv3d ? "yes" : "no", c->async ? "yes" : "no",
        c->host_visible ? "yes" : "no");
    int first = 1;
    for (int t = 0; t < LTX_DTYPE_COUNT && n < cap; t++) {
        if (!((c->storage_dtypes >> t) & 1u)) continue;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", first ? "" : ",",
                              ltx_dtype_name((ltx_dtype)t));
        first = 0;
    }
    return buf;
}

bool ltx_backend_supports(ltx_backend *be, const ltx_op_query *q)
{
    return be && q && be->ops->supports && be->ops->supports(be, q);
}

bool ltx_backend_supports_as(ltx_backend *be, ltx_op_kind op, int sub, ltx_dtype dt, int nsrc,
                             const ltx_tensor *like)
{
    /* descriptors only: no buffer, contiguous strides of `like`'s shape */
    ltx_tensor t = {.dtype = dt, .ndim = like->ndim};
    memcpy(t.shape, like->shape, sizeof(int64_t) * (size_t)like->ndim);
    ltx_contiguous_strides(t.ndim, t.shape, t.stride);
    ltx_op_query q = {op, sub, &t, {NULL, NULL, NULL, NULL}};
    for (int i = 0; i < nsrc && i < 4; i++)
        q.src[i] = &t;
    return ltx_backend_supports(be, &q);
}

/* The table entries count their own host waits (backend_v2_spec Amendment 1). */
ltx_status ltx_backend_synchronize(ltx_backend *be)
{
    return be->ops->synchronize(be);
}

ltx_status ltx_backend_event_synchronize(ltx_backend *be, ltx_event *e)
{
    return be->ops->event_synchronize(be, e);
}

ltx_status ltx_backend_stream_synchronize(ltx_backend *be, ltx_stream *s)
{
    return be->ops->stream_synchronize(be, s);
}

uint64_t ltx_backend_host_syncs(const ltx_backend *be)
{
    return be->n_host_syncs;
}

size_t ltx_backend_peak_bytes(const ltx_backend *be)
{
    return (size_t)be->peak_device_bytes;
}

void ltx_backend_reset_peak(ltx_backend *be)
{
    be->peak_device_bytes = 0; /* the next allocation raises it to at least the live size */
}

const char *const *ltx_backend_built(void)
{
    static const char *const names[] = {"cpu", "cpu-restricted",
#ifdef LTX_HAVE_CUDA
                                        "cuda",
#endif
                                        NULL};
    return names;
}

const char *ltx_precision_name(ltx_precision p)
{
    return p == LTX_PRECISION_BF16 ? "bf16" : "f32";
}

bool ltx_precision_parse(const char *name, ltx_precision *out)
{
    if (!name) return false;
    if (!strcmp(name, "f32"))
        *out = LTX_PRECISION_F32;
    else if (!strcmp(name, "bf16"))
        *out = LTX_PRECISION_BF16;
    else
        return false;
    return true;
}
