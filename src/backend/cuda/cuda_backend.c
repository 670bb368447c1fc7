/*
 * cuda_backend.c — the CUDA backend: device init (cudart), function table, capabilities,
 * memory (the generic stream-ordered caching allocator over cudaMalloc/cudaFree), page-locked
 * staging, a compute stream and a copy stream, events, real memory_info, peak device memory
 * and host-synchronisation counting.
 *
 * No cudaMalloc/cudaFree happens on the step path once the cache is warm: every buffer and
 * every op scratch comes from ltx_alloc_cache (src/backend/alloc_cache.h). Host waits
 * (synchronize, event/stream synchronize, blocking download) each count one in
 * be->n_host_syncs.
 * Not here: multi-GPU, CUDA graphs, cudaMallocAsync pools (the cache plays that role).
 * ref: the reference's device handling (torch.cuda streams/events, empty_cache, mem_get_info);
 *      ggml-cuda's backend table for the shape of the interface (ideas only).
 */
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_internal.h"
#include "core/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kernels mirror these enums by value (the .cu files); keep them in step. */
_Static_assert(LTX_UNARY_GELU_TANH == 10 && LTX_UNARY_ROUND_BF16 == 20, "unary op codes");
_Static_assert(LTX_BINARY_POW == 6 && LTX_BINARY_COUNT == 7, "binary op codes");
_Static_assert(LTX_NORM_RMS == 0 && LTX_NORM_LAYER == 1, "norm op codes");
_Static_assert(LTX_REDUCE_VAR == 4 && LTX_PAD_CIRCULAR == 3, "reduce/pad codes");
_Static_assert(LTX_F32 == 0 && LTX_BF16 == 2 && LTX_F8E4M3 == 4 && LTX_BOOL == 9, "dtype codes");
_Static_assert(LTX_ROPE_SPLIT == 0 && LTX_ROPE_INTERLEAVED == 1, "rope codes");

#define CACHE_DEFAULT_LIMIT ((size_t)8 << 30) /* bytes of freed blocks kept (LTX_CUDA_CACHE_MB) */

ltx_status ltx_cu_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess) return LTX_OK;
    return ltx_err(LTX_ERR_DEVICE, "cuda: %s failed: %s (%s)", what, cudaGetErrorString(e),
                   cudaGetErrorName(e));
}

/* ---- raw allocation for the cache ---------------------------------------------------------- */

static ltx_status raw_alloc(void *ctx, size_t bytes, void **out)
{
    (void)ctx;
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error state of an OOM */
        *out = NULL;
        return ltx_err(LTX_ERR_OOM, "cuda: cannot allocate %.1f MiB of device memory: %s",
                       (double)bytes / 1048576.0, cudaGetErrorString(e));
    }
    return LTX_OK;
}

static void raw_free(void *ctx, void *p)
{
    (void)ctx;
    /* cudaFree synchronises the device: only reached from trim/destroy/OOM retry */
    if (p) cudaFree(p);
}

/* ---- memory ------------------------------------------------------------------------------- */

static ltx_status cu_buffer_alloc(ltx_backend *be, size_t bytes, void **handle)
{
    cuda_state *st = be->impl;
    size_t sz = (bytes + 255) & ~(size_t)255;
    ltx_status s = ltx_alloc_cache_alloc(st->cache, sz ? sz : 256, handle);
    if (s == LTX_ERR_OOM) { /* give every cached block back and retry once */
        cudaStreamSynchronize(st->compute);
        ltx_alloc_cache_trim(st->cache);
        s = ltx_alloc_cache_alloc(st->cache, sz ? sz : 256, handle);
    }
    if (s != LTX_OK) return s;
    /* backend_v2_spec Amendment 1.3: peak of live bytes (cached blocks do not count) */
    size_t live = ltx_alloc_cache_live_bytes(st->cache);
    if (live > be->peak_device_bytes) be->peak_device_bytes = live;
    return LTX_OK;
}

static void cu_buffer_free(ltx_backend *be, void *handle)
{
    if (!handle) return;
    cuda_state *st = be->impl;
    /* every user of this block was enqueued on compute before now (see cuda_internal.h) */
    cudaEventRecord(st->free_ev, st->compute);
    ltx_alloc_cache_free(st->cache, handle);
}

ltx_status ltx_cu_scratch(ltx_backend *be, size_t bytes, void **out)
{
    return cu_buffer_alloc(be, bytes, out);
}

void ltx_cu_scratch_free(ltx_backend *be, void *p)
{
    cu_buffer_free(be, p);
}

ltx_status ltx_cu_scratch_upload(ltx_backend *be, const void *host, size_t bytes, void **out)
{
    cuda_state *st = be->impl;
    LTX_TRY(ltx_cu_scratch(be, bytes, out));
    ltx_status s =
        ltx_cu_check(cudaMemcpyAsync(*out, host, bytes, cudaMemcpyHostToDevice, st->compute),
                     "upload of op tables");
    if (s != LTX_OK) ltx_cu_scratch_free(be, *out);
    return s;
}

static void *cu_buffer_host_ptr(ltx_backend *be, void *handle)
{
    (void)be;
    (void)handle;
    return NULL; /* device memory is never host visible */
}

/* Upload on the compute stream: a pageable source is staged by the driver before the call
 * returns, so the caller may reuse `src` at once; ordering with later ops is the stream's. */
static ltx_status cu_upload(ltx_backend *be, void *handle, size_t offset, const void *src,
                            size_t bytes)
{
    cuda_state *st = be->impl;
    if (!bytes) return LTX_OK;
    return ltx_cu_check(
        cudaMemcpyAsync((char *)handle + offset, src, bytes, cudaMemcpyHostToDevice, st->compute),
        "upload");
}

/* Blocking download: waits for every op enqueued before it (one host sync). */
static ltx_status cu_download(ltx_backend *be, const void *handle, size_t offset, void *dst,
                              size_t bytes)
{
    cuda_state *st = be->impl;
    if (!bytes) return LTX_OK;
    LTX_TRY(ltx_cu_check(cudaMemcpyAsync(dst, (const char *)handle + offset, bytes,
                                         cudaMemcpyDeviceToHost, st->compute),
                         "download"));
    be->n_host_syncs++;
    return ltx_cu_check(cudaStreamSynchronize(st->compute), "download (stream synchronize)");
}

static ltx_status cu_wrap_host(ltx_backend *be, const void *host, size_t bytes, void **handle,
                               bool *borrowed)
{
    LTX_TRY(cu_buffer_alloc(be, bytes, handle));
    *borrowed = false;
    ltx_status s = cu_upload(be, *handle, 0, host, bytes);
    if (s != LTX_OK) cu_buffer_free(be, *handle);
    return s;
}

static ltx_status cu_synchronize(ltx_backend *be)
{
    be->n_host_syncs++;
    return ltx_cu_check(cudaDeviceSynchronize(), "synchronize");
}

static ltx_status cu_memory_cleanup(ltx_backend *be)
{
    cuda_state *st = be->impl;
    LTX_TRY(ltx_cu_check(cudaStreamSynchronize(st->compute), "memory cleanup"));
    LTX_TRY(ltx_cu_check(cudaStreamSynchronize(st->copy), "memory cleanup"));
    ltx_alloc_cache_trim(st->cache);
    return LTX_OK;
}

static ltx_status cu_memory_info(ltx_backend *be, size_t *free_bytes, size_t *total_bytes)
{
    (void)be;
    return ltx_cu_check(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}

/* ---- streams and events -------------------------------------------------------------------- */

static cudaStream_t stream_of(ltx_backend *be, ltx_stream *s)
{
    cuda_state *st = be->impl;
    return s ? s->s : st->compute;
}

static ltx_status cu_stream_create(ltx_backend *be, ltx_stream **out)
{
    (void)be;
    ltx_stream *s = calloc(1, sizeof *s);
    if (!s) return ltx_err(LTX_ERR_OOM, "cuda: stream_create: out of memory");
    ltx_status r =
        ltx_cu_check(cudaStreamCreateWithFlags(&s->s, cudaStreamNonBlocking), "cudaStreamCreate");
    if (r != LTX_OK) {
        free(s);
        return r;
    }
    *out = s;
    return LTX_OK;
}

static void cu_stream_destroy(ltx_backend *be, ltx_stream *s)
{
    (void)be;
    if (!s) return;
    cudaStreamSynchronize(s->s);
    cudaStreamDestroy(s->s);
    free(s);
}

static ltx_status cu_event_create(ltx_backend *be, ltx_event **out)
{
    (void)be;
    ltx_event *e = calloc(1, sizeof *e);
    if (!e) return ltx_err(LTX_ERR_OOM, "cuda: event_create: out of memory");
    ltx_status r =
        ltx_cu_check(cudaEventCreateWithFlags(&e->e, cudaEventDisableTiming), "cudaEventCreate");
    if (r != LTX_OK) {
        free(e);
        return r;
    }
    *out = e;
    return LTX_OK;
}

static void cu_event_destroy(ltx_backend *be, ltx_event *e)
{
    (void)be;
    if (!e) return;
    cudaEventDestroy(e->e);
    free(e);
}

static ltx_status cu_event_record(ltx_backend *be, ltx_event *e, ltx_stream *s)
{
    return ltx_cu_check(cudaEventRecord(e->e, stream_of(be, s)), "cudaEventRecord");
}

static ltx_status cu_stream_wait_event(ltx_backend *be, ltx_stream *s, ltx_event *e)
{
    return ltx_cu_check(cudaStreamWaitEvent(stream_of(be, s), e->e, 0), "cudaStreamWaitEvent");
}

static ltx_status cu_event_synchronize(ltx_backend *be, ltx_event *e)
{
    be->n_host_syncs++;
    return ltx_cu_check(cudaEventSynchronize(e->e), "cudaEventSynchronize");
}

static ltx_status cu_stream_synchronize(ltx_backend *be, ltx_stream *s)
{
    be->n_host_syncs++;
    return ltx_cu_check(cudaStreamSynchronize(stream_of(be, s)), "cudaStreamSynchronize");
}

/* ---- pinned staging and ordered transfers -------------------------------------------------- */

static ltx_status cu_host_alloc_pinned(ltx_backend *be, size_t bytes, void **out)
{
    (void)be;
    return ltx_cu_check(cudaHostAlloc(out, bytes ? bytes : 64, cudaHostAllocPortable),
                        "cudaHostAlloc (page-locked staging)");
}

static void cu_host_free_pinned(ltx_backend *be, void *p)
{
    (void)be;
    if (p) cudaFreeHost(p);
}

static ltx_status cu_upload_async(ltx_backend *be, void *handle, size_t offset, const void *src,
                                  size_t bytes, ltx_stream *s)
{
    cuda_state *st = be->impl;
    cudaStream_t cs = stream_of(be, s);
    if (!bytes) return LTX_OK;
    /* the destination may be a block freed while compute still reads it (cuda_internal.h) */
    if (cs != st->compute)
        LTX_TRY(ltx_cu_check(cudaStreamWaitEvent(cs, st->free_ev, 0), "upload_async (wait)"));
    return ltx_cu_check(
        cudaMemcpyAsync((char *)handle + offset, src, bytes, cudaMemcpyHostToDevice, cs),
        "upload_async");
}

static ltx_status cu_download_async(ltx_backend *be, const void *handle, size_t offset, void *dst,
                                    size_t bytes, ltx_stream *s)
{
    if (!bytes) return LTX_OK;
    return ltx_cu_check(cudaMemcpyAsync(dst, (const char *)handle + offset, bytes,
                                        cudaMemcpyDeviceToHost, stream_of(be, s)),
                        "download_async");
}

/* ---- table, creation ----------------------------------------------------------------------- */

static void cu_destroy(ltx_backend *be)
{
    if (!be) return;
    cuda_state *st = be->impl;
    if (st) {
        if (st->compute) cudaStreamSynchronize(st->compute);
        if (st->copy) cudaStreamSynchronize(st->copy);
        ltx_cu_gemm_destroy(be);
        if (st->cache) ltx_alloc_cache_destroy(st->cache);
        if (st->free_ev) cudaEventDestroy(st->free_ev);
        if (st->copy) cudaStreamDestroy(st->copy);
        if (st->compute) cudaStreamDestroy(st->compute);
    }
    free(st);
    free(be);
}

static const ltx_backend_ops cuda_ops = {
    .abi_version = LTX_BACKEND_ABI_VERSION,
    .name = "cuda",
    .destroy = cu_destroy,
    .buffer_alloc = cu_buffer_alloc,
    .buffer_free = cu_buffer_free,
    .buffer_host_ptr = cu_buffer_host_ptr,
    .upload = cu_upload,
    .download = cu_download,
    .buffer_wrap_host = cu_wrap_host,
    .synchronize = cu_synchronize,
    .memory_cleanup = cu_memory_cleanup,
    .memory_info = cu_memory_info,
    .supports = ltx_cu_supports,
    .stream_create = cu_stream_create,
    .stream_destroy = cu_stream_destroy,
    .event_create = cu_event_create,
    .event_destroy = cu_event_destroy,
    .event_record = cu_event_record,
    .stream_wait_event = cu_stream_wait_event,
    .event_synchronize = cu_event_synchronize,
    .stream_synchronize = cu_stream_synchronize,
    .host_alloc_pinned = cu_host_alloc_pinned,
    .host_free_pinned = cu_host_free_pinned,
    .upload_async = cu_upload_async,
    .download_async = cu_download_async,
    .copy = ltx_cu_copy,
    .fill = ltx_cu_fill,
    .unary = ltx_cu_unary,
    .binary = ltx_cu_binary,
    .axpby = ltx_cu_axpby,
    .linear = ltx_cu_linear,
    .matmul = ltx_cu_matmul,
    .softmax = ltx_cu_softmax,
    .norm = ltx_cu_norm,
    .attention = ltx_cu_attention,
    .rope = ltx_cu_rope,
    .conv = ltx_cu_conv,
    .pad = ltx_cu_pad,
    .reduce = ltx_cu_reduce,
    .interpolate = ltx_cu_interpolate,
    .snake = ltx_cu_snake,
    .norm_modulate = ltx_cu_norm_modulate,
    .gated_add = ltx_cu_gated_add,
    .linear_act = ltx_cu_linear_act,
    .qk_norm_rope = ltx_cu_qk_norm_rope,
};

/* Picks the device and reads its properties; the error names the driver's reason. */
static ltx_status open_device(int index, cuda_state *st)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        const char *why = e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices";
        cudaGetLastError();
        return ltx_err(LTX_ERR_UNSUPPORTED, "--device cuda: no CUDA device found (%s)", why);
    }
    if (index < 0 || index >= n)
        return ltx_err(LTX_ERR_INVALID_ARG, "--device cuda:%d: no such device (%d present)", index,
                       n);
    LTX_TRY(ltx_cu_check(cudaSetDevice(index), "cudaSetDevice"));
    struct cudaDeviceProp p;
    LTX_TRY(ltx_cu_check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties"));
    st->device = index;
    snprintf(st->name, sizeof st->name, "%s", p.name);
    snprintf(st->device_label, sizeof st->device_label, "cuda:%d", index);
    st->cc_major = p.major;
    st->cc_minor = p.minor;
    st->n_sm = p.multiProcessorCount;
    st->smem_optin = p.sharedMemPerBlockOptin;
    if (p.major < 8)
        return ltx_err(LTX_ERR_UNSUPPORTED,
                       "--device cuda:%d: %s has compute capability %d.%d; ltx2c needs 8.0 or "
                       "newer (bf16 tensor cores)",
                       index, p.name, p.major, p.minor);
    return LTX_OK;
}

static ltx_status init_state(ltx_backend *be, cuda_state *st)
{
    LTX_TRY(ltx_cu_check(cudaStreamCreateWithFlags(&st->compute, cudaStreamNonBlocking),
                         "compute stream"));
    LTX_TRY(
        ltx_cu_check(cudaStreamCreateWithFlags(&st->copy, cudaStreamNonBlocking), "copy stream"));
    st->copy_handle.s = st->copy;
    LTX_TRY(ltx_cu_check(cudaEventCreateWithFlags(&st->free_ev, cudaEventDisableTiming), "event"));
    size_t limit = CACHE_DEFAULT_LIMIT;
    const char *env = getenv("LTX_CUDA_CACHE_MB");
    int64_t mb;
    if (env && ltx_parse_i64(env, 0, (int64_t)1 << 30, &mb))
        limit = (size_t)mb << 20;
    else if (env)
        LTX_WARN(be->log, "LTX_CUDA_CACHE_MB=%s is not an integer in 0..2^30 MB: ignored", env);
    LTX_TRY(ltx_alloc_cache_create(raw_alloc, raw_free, st, limit, &st->cache));
    return ltx_cu_gemm_init(be);
}

/* Creates the backend for device `device_index`. Fails with LTX_ERR_UNSUPPORTED ("no CUDA
 * device found (<driver message>)") when there is none; `log` and `pool` must outlive it
 * (the pool is unused: work runs on the GPU). */
ltx_status ltx_cuda_backend_create(int device_index, ltx_log *log, ltx_threadpool *pool,
                                   ltx_backend **out)
{
    *out = NULL;
    ltx_backend *be = calloc(1, sizeof *be);
    cuda_state *st = calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return ltx_err(LTX_ERR_OOM, "out of memory creating the cuda backend");
    }
    be->ops = &cuda_ops;
    be->impl = st;
    be->log = log;
    be->pool = pool;
    be->precision = LTX_PRECISION_BF16;
    ltx_status s = open_device(device_index, st);
    if (s == LTX_OK) s = init_state(be, st);
    if (s != LTX_OK) {
        cu_destroy(be);
        return s;
    }
    be->device_name = st->device_label;
    uint32_t all = 0;
    for (int t = 0; t < LTX_DTYPE_COUNT; t++)
        all |= 1u << t;
    be->caps = (ltx_backend_caps){
        .storage_dtypes = all,
        .compute_dtypes = (1u << LTX_F32) | (1u << LTX_F64),
        .f64 = true,
        .complex = false, /* no FFT on device: callers take the logged host fallback */
        .fp32_autocast = true,
        .fused_attention = true,
        .conv3d = true,
        .async = true,
        .host_visible = false,
    };
    LTX_INFO(log, "cuda:%d: %s, compute capability %d.%d, %d SMs", device_index, st->name,
             st->cc_major, st->cc_minor, st->n_sm);
    *out = be;
    return LTX_OK;
}

/* The GPU's name (cudaDeviceProp.name) for reports, or NULL when `be` is not a CUDA backend. */
const char *ltx_cuda_device_name(const ltx_backend *be)
{
    if (!be || be->ops != &cuda_ops) return NULL;
    return ((const cuda_state *)be->impl)->name;
}

/* The backend's own copy stream (for layer streaming), or NULL when `be` is not CUDA. */
ltx_stream *ltx_cuda_copy_stream(ltx_backend *be)
{
    if (!be || be->ops != &cuda_ops) return NULL;
    return &((cuda_state *)be->impl)->copy_handle;
}
