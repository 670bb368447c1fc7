/*
 * cpu_backend.c — the CPU backends: function table, memory, synchronisation.
 *
 * "cpu" exposes host memory and every capability. "cpu-restricted" runs the same kernels but
 * declares the limits of the Ascend port (no float64, no complex, no fp32 autocast) and hides
 * its memory from host code (ltx_tensor_host() is NULL), so model and pipeline code is forced
 * through upload/download and through every capability fallback, exactly as on an accelerator.
 */
#include "backend/cpu/cpu_internal.h"
#include "core/parse.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cache_drop_all(cpu_state *st)
{
    for (int i = 0; i < st->n_cached; i++) free((char *)st->cache[i].ptr - 64);
    st->n_cached = 0;
    st->cached_bytes = 0;
}

static void cpu_destroy(ltx_backend *be)
{
    if (!be) return;
    cpu_state *st = be->impl;
    if (st) {
        cache_drop_all(st);
        pthread_mutex_destroy(&st->cache_lock);
    }
    free(st);
    free(be);
}

/* Blocks below this size go straight to malloc/free (glibc serves them well). */
#define CACHE_MIN_BYTES ((size_t)1 << 20)

static ltx_status cpu_buffer_alloc(ltx_backend *be, size_t bytes, void **handle)
{
    cpu_state *st = be->impl;
    /* 64-byte alignment for vector loads; round the size up as aligned_alloc requires. */
    size_t sz = (bytes + 63) & ~(size_t)63;
    if (!sz) sz = 64;
    if (sz >= CACHE_MIN_BYTES) {
        /* Best fit among cached blocks no more than 25% larger than asked. */
        pthread_mutex_lock(&st->cache_lock);
        int best = -1;
        for (int i = 0; i < st->n_cached; i++) {
            size_t c = st->cache[i].size;
            if (c >= sz && c - sz <= sz / 4 && (best < 0 || c < st->cache[best].size)) best = i;
        }
        if (best >= 0) {
            *handle = st->cache[best].ptr;
            st->cached_bytes -= st->cache[best].size;
            memmove(st->cache + best, st->cache + best + 1,
                    sizeof st->cache[0] * (size_t)(st->n_cached - best - 1));
            st->n_cached--;
            pthread_mutex_unlock(&st->cache_lock);
            return LTX_OK;
        }
        /* Miss: give back the oldest cached blocks worth at least this request before asking
         * the system for more, so cached-but-unusable blocks never add to the footprint
         * (resident memory stays near the live peak; repeated shapes still hit). */
        size_t freed = 0;
        int drop = 0;
        while (drop < st->n_cached && freed < sz) freed += st->cache[drop++].size;
        for (int i = 0; i < drop; i++) free((char *)st->cache[i].ptr - 64);
        memmove(st->cache, st->cache + drop, sizeof st->cache[0] * (size_t)(st->n_cached - drop));
        st->n_cached -= drop;
        st->cached_bytes -= freed;
        pthread_mutex_unlock(&st->cache_lock);
    }
    /* The block's real size is kept in a 64-byte header so free can cache it by size. */
    void *p = aligned_alloc(64, sz + 64);
    if (!p && st->n_cached) {
        /* Out of memory with blocks cached: give them back and retry once. */
        pthread_mutex_lock(&st->cache_lock);
        cache_drop_all(st);
        pthread_mutex_unlock(&st->cache_lock);
        p = aligned_alloc(64, sz + 64);
    }
    if (!p)
        return ltx_err(LTX_ERR_OOM, "cannot allocate %.1f MiB on %s",
                       (double)bytes / (1024.0 * 1024.0), be->device_name);
    *(size_t *)p = sz;
    *handle = (char *)p + 64;
    return LTX_OK;
}

static void cpu_buffer_free(ltx_backend *be, void *handle)
{
    if (!handle) return;
    cpu_state *st = be->impl;
    void *base = (char *)handle - 64;
    size_t sz = *(size_t *)base;
    if (sz >= CACHE_MIN_BYTES && sz <= st->cache_limit) {
        pthread_mutex_lock(&st->cache_lock);
        while (st->n_cached && (st->n_cached == CPU_CACHE_SLOTS ||
                                st->cached_bytes + sz > st->cache_limit)) {
            /* evict the oldest (front of the array; entries are kept in age order) */
            st->cached_bytes -= st->cache[0].size;
            free((char *)st->cache[0].ptr - 64);
            memmove(st->cache, st->cache + 1, sizeof st->cache[0] * (size_t)(--st->n_cached));
        }
        st->cache[st->n_cached++] = (cpu_cached_block){handle, sz};
        st->cached_bytes += sz;
        pthread_mutex_unlock(&st->cache_lock);
        return;
    }
    free(base);
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

static ltx_status cpu_download(ltx_backend *be, const void *handle, size_t offset, void *dst,
                               size_t bytes)
{
    (void)be;
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

static ltx_status cpu_synchronize(ltx_backend *be)
{
    (void)be;
    return LTX_OK;
}

static ltx_status cpu_event_record(ltx_backend *be, void **event)
{
    (void)be;
    *event = NULL; /* CPU work is synchronous: events are already complete */
    return LTX_OK;
}

static ltx_status cpu_event_wait(ltx_backend *be, void *event)
{
    (void)be;
    (void)event;
    return LTX_OK;
}

static void cpu_event_free(ltx_backend *be, void *event)
{
    (void)be;
    (void)event;
}

static ltx_status cpu_memory_cleanup(ltx_backend *be)
{
    /* cf. torch.cuda.empty_cache(): return every cached block to the system */
    cpu_state *st = be->impl;
    pthread_mutex_lock(&st->cache_lock);
    cache_drop_all(st);
    pthread_mutex_unlock(&st->cache_lock);
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

ltx_status cpu_check_dtype(ltx_backend *be, ltx_dtype dt, const char *op)
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
    .synchronize = cpu_synchronize,
    .event_record = cpu_event_record,
    .event_wait = cpu_event_wait,
    .event_free = cpu_event_free,
    .memory_cleanup = cpu_memory_cleanup,
    .memory_info = cpu_memory_info,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .unary = cpu_unary,
    .binary = cpu_binary,
    .axpby = cpu_axpby,
    .linear = cpu_linear,
    .matmul = cpu_matmul,
    .softmax = cpu_softmax,
    .norm = cpu_norm,
    .attention = cpu_attention,
    .rope = cpu_rope,
    .conv = cpu_conv,
    .pad = cpu_pad,
    .reduce = cpu_reduce,
    .interpolate = cpu_interpolate,
    .snake = cpu_snake,
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
    pthread_mutex_init(&st->cache_lock, NULL);
    /* Cache up to 1/16 of physical memory, at most 1 GiB (one transformer block's activations
     * at 22B sizes fit; a VAE decode's peak grows by at most that much — stages call
     * memory_cleanup when they end). LTX_CPU_CACHE_MB overrides, 0 disables. */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : ((size_t)8 << 30);
    st->cache_limit = phys / 16 < ((size_t)1 << 30) ? phys / 16 : ((size_t)1 << 30);
    const char *env = getenv("LTX_CPU_CACHE_MB");
    int64_t mb;
    if (env && ltx_parse_i64(env, 0, (int64_t)1 << 30, &mb))
        st->cache_limit = (size_t)mb << 20;
    else if (env)
        LTX_WARN(log, "LTX_CPU_CACHE_MB=%s is not an integer in 0..2^30 MB: ignored", env);
    be->ops = &cpu_ops;
    be->impl = st;
    be->log = log;
    be->pool = pool;
    be->device_name = restricted ? "cpu-restricted" : "cpu";
    uint32_t all = 0;
    for (int t = 0; t < LTX_DTYPE_COUNT; t++) all |= 1u << t;
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
            .async = false,
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
            .async = false,
            .host_visible = true,
        };
    }
    *out = be;
    return LTX_OK;
}
