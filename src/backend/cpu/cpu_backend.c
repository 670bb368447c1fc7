/*
 * cpu_backend.c — the CPU backends: function table, memory, synchronisation.
 *
 * "cpu" exposes host memory and every capability. "cpu-restricted" runs the same kernels but
 * declares the limits of the Ascend port (no float64, no complex, no fp32 autocast) and hides
 * its memory from host code (ltx_tensor_host() is NULL), so model and pipeline code is forced
 * through upload/download and through every capability fallback, exactly as on an accelerator.
 * Memory goes through the generic caching allocator (alloc_cache.c) with a 1 MiB floor; streams
 * and events are in cpu_stream.c, the supports query in cpu_supports.c.
 */
#include "backend/cpu/cpu_gemm.h"
#include "backend/cpu/cpu_internal.h"
#include "core/parse.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cpu_destroy(ltx_backend *be)
{
    if (!be) return;
    cpu_state *st = be->impl;
    if (st) {
        while (st->streams)
            ltx_cpu_stream_destroy(be, st->streams); /* the owner forgot them */
        ltx_alloc_cache_destroy(st->cache);
        pthread_mutex_destroy(&st->stream_lock);
    }
    free(st);
    free(be);
}

/* Blocks below this size go straight to malloc/free (glibc serves them well). */
#define CACHE_MIN_BYTES ((size_t)1 << 20)

/* Raw allocator under the cache: 64-byte aligned for vector loads (sizes arrive rounded). */
static ltx_status cpu_raw_alloc(void *ctx, size_t bytes, void **out)
{
    ltx_backend *be = ctx;
    *out = aligned_alloc(64, bytes);
    if (!*out)
        return ltx_err(LTX_ERR_OOM, "cannot allocate %.1f MiB on %s",
                       (double)bytes / (1024.0 * 1024.0), be->device_name);
    return LTX_OK;
}

static void cpu_raw_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static ltx_status cpu_buffer_alloc(ltx_backend *be, size_t bytes, void **handle)
{
    cpu_state *st = be->impl;
    LTX_TRY(ltx_alloc_cache_alloc(st->cache, bytes, handle));
    size_t live = ltx_alloc_cache_live_bytes(st->cache);
    if (live > be->peak_device_bytes) be->peak_device_bytes = live;
    return LTX_OK;
}

static void cpu_buffer_free(ltx_backend *be, void *handle)
{
    cpu_state *st = be->impl;
    ltx_alloc_cache_free(st->cache, handle);
}

static void *cpu_buffer_host_ptr(ltx_backend *be, void *handle)
{
    return be->caps.host_visible ? handle : NULL;
}

static ltx_status cpu_upload(ltx_backend *be, void *handle, size_t offset, const void *src,
                             size_t bytes)
{
    (void)be;
    memcpy((char *)handle + offset, src, bytes);
    return LTX_OK;
}

/* Blocking: ordered after the compute stream (this thread), counts one host sync. */
static ltx_status cpu_download(ltx_backend *be, const void *handle, size_t offset, void *dst,
                               size_t bytes)
{
    be->n_host_syncs++;
    memcpy(dst, (const char *)handle + offset, bytes);
    return LTX_OK;
}

static ltx_status cpu_wrap_host(ltx_backend *be, const void *host, size_t bytes, void **handle,
                                bool *borrowed)
{
    if (be->caps.host_visible) {
        *handle = (void *)host; /* zero-copy alias of e.g. an mmap'd weight */
        *borrowed = true;
        return LTX_OK;
    }
    /* Restricted: behave like a discrete device and copy. */
    LTX_TRY(cpu_buffer_alloc(be, bytes, handle));
    memcpy(*handle, host, bytes);
    *borrowed = false;
    return LTX_OK;
}

static ltx_status cpu_memory_cleanup(ltx_backend *be)
{
    /* cf. torch.cuda.empty_cache(): return every cached block to the system */
    cpu_state *st = be->impl;
    ltx_alloc_cache_trim(st->cache);
    return LTX_OK;
}

static ltx_status cpu_memory_info(ltx_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    (void)be;
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    long psz = sysconf(_SC_PAGESIZE);
    *total_bytes = pages > 0 ? (size_t)pages * (size_t)psz : 0;
    *free_bytes = avail > 0 ? (size_t)avail * (size_t)psz : 0;
    return LTX_OK;
}

ltx_status ltx_cpu_check_dtype(ltx_backend *be, ltx_dtype dt, const char *op)
{
    if (!ltx_backend_has_dtype(be, dt))
        return ltx_err(LTX_ERR_UNSUPPORTED, "%s: device %s does not support %s", op,
                       be->device_name, ltx_dtype_name(dt));
    return LTX_OK;
}

static const ltx_backend_ops cpu_ops = {
    .abi_version = LTX_BACKEND_ABI_VERSION,
    .name = "cpu",
    .destroy = cpu_destroy,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_host_ptr = cpu_buffer_host_ptr,
    .upload = cpu_upload,
    .download = cpu_download,
    .buffer_wrap_host = cpu_wrap_host,
    .synchronize = ltx_cpu_synchronize,
    .memory_cleanup = cpu_memory_cleanup,
    .memory_info = cpu_memory_info,
    .supports = ltx_cpu_supports,
    .stream_create = ltx_cpu_stream_create,
    .stream_destroy = ltx_cpu_stream_destroy,
    .event_create = ltx_cpu_event_create,
    .event_destroy = ltx_cpu_event_destroy,
    .event_record = ltx_cpu_event_record,
    .stream_wait_event = ltx_cpu_stream_wait_event,
    .event_synchronize = ltx_cpu_event_synchronize,
    .stream_synchronize = ltx_cpu_stream_synchronize,
    .host_alloc_pinned = ltx_cpu_host_alloc_pinned,
    .host_free_pinned = ltx_cpu_host_free_pinned,
    .upload_async = ltx_cpu_upload_async,
    .download_async = ltx_cpu_download_async,
    .copy = ltx_cpu_copy,
    .fill = ltx_cpu_fill,
    .unary = ltx_cpu_unary,
    .binary = ltx_cpu_binary,
    .axpby = ltx_cpu_axpby,
    .linear = ltx_cpu_linear,
    .matmul = ltx_cpu_matmul,
    .softmax = ltx_cpu_softmax,
    .norm = ltx_cpu_norm,
    .attention = ltx_cpu_attention,
    .rope = ltx_cpu_rope,
    .conv = ltx_cpu_conv,
    .pad = ltx_cpu_pad,
    .reduce = ltx_cpu_reduce,
    .interpolate = ltx_cpu_interpolate,
    .snake = ltx_cpu_snake,
    .norm_modulate = ltx_cpu_norm_modulate,
    .gated_add = ltx_cpu_gated_add,
    .linear_act = ltx_cpu_linear_act,
    .qk_norm_rope = ltx_cpu_qk_norm_rope,
};

ltx_status ltx_cpu_backend_create(bool restricted, ltx_log *log, ltx_threadpool *pool,
                                  ltx_backend **out)
{
    ltx_backend *be = calloc(1, sizeof *be);
    cpu_state *st = calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return ltx_err(LTX_ERR_OOM, "out of memory creating the cpu backend");
    }
    st->restricted = restricted;
    pthread_mutex_init(&st->stream_lock, NULL);
    /* Cache up to 1/16 of physical memory, at most 1 GiB (one transformer block's activations
     * at 22B sizes fit; a VAE decode's peak grows by at most that much — stages call
     * memory_cleanup when they end). LTX_CPU_CACHE_MB overrides, 0 disables. */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : ((size_t)8 << 30);
    size_t limit = phys / 16 < ((size_t)1 << 30) ? phys / 16 : ((size_t)1 << 30);
    const char *env = getenv("LTX_CPU_CACHE_MB");
    int64_t mb;
    if (env && ltx_parse_i64(env, 0, (int64_t)1 << 30, &mb))
        limit = (size_t)mb << 20;
    else if (env)
        LTX_WARN(log, "LTX_CPU_CACHE_MB=%s is not an integer in 0..2^30 MB: ignored", env);
    if (ltx_alloc_cache_create(cpu_raw_alloc, cpu_raw_free, be, limit, &st->cache) != LTX_OK) {
        pthread_mutex_destroy(&st->stream_lock);
        free(be);
        free(st);
        return ltx_err_context(LTX_ERR_OOM, "cpu backend: ");
    }
    ltx_alloc_cache_set_min_cached(st->cache, CACHE_MIN_BYTES);
    be->precision = LTX_PRECISION_F32;
    /* One threading rule: with a pool of several threads, parallelism goes through it and
     * OpenBLAS runs single-threaded, except ltx_cpu_sgemm's whole-matrix products (conv), one
     * OpenBLAS call on as many threads as the pool (docs/ARCHITECTURE.md "CPU threading"). */
    if (ltx_threadpool_size(pool) > 1) ltx_cpu_blas_single_threaded();
    be->ops = &cpu_ops;
    be->impl = st;
    be->log = log;
    be->pool = pool;
    be->device_name = restricted ? "cpu-restricted" : "cpu";
    uint32_t all = 0;
    for (int t = 0; t < LTX_DTYPE_COUNT; t++)
        all |= 1u << t;
    if (restricted) {
        /* ref: Ascend limits — no float64 storage or math, no complex, no fp32 autocast. */
        be->caps = (ltx_backend_caps){
            .storage_dtypes = all & ~(1u << LTX_F64),
            .compute_dtypes = (1u << LTX_F32),
            .f64 = false,
            .complex = false,
            .fp32_autocast = false,
            .fused_attention = true,
            .conv3d = true,
            .async = true,
            .host_visible = false,
        };
    } else {
        be->caps = (ltx_backend_caps){
            .storage_dtypes = all,
            .compute_dtypes = (1u << LTX_F32) | (1u << LTX_F64),
            .f64 = true,
            .complex = true,
            .fp32_autocast = true,
            .fused_attention = true,
            .conv3d = true,
            .async = true,
            .host_visible = true,
        };
    }
    *out = be;
    return LTX_OK;
}
