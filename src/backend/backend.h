/*
 * backend.h — the device interface: a versioned function table plus run-time capabilities.
 *
 * Every model and pipeline computes through this table; nothing above src/backend/ knows which
 * device runs. Memory (alloc/free/upload/download/copy), synchronisation (streams, events,
 * synchronize) and memory cleanup go through it too, so an accelerator backend (CUDA, later
 * Ascend/CANN) is a new table, not a change to model code.
 *
 * Capabilities are answered at run time (ltx_backend_caps). A caller that needs something the
 * device lacks (float64 math, complex FFT, fused attention, ...) asks ltx_backend_fallback(),
 * which logs the fallback once, counts it, and — in strict mode — refuses it with
 * LTX_ERR_UNSUPPORTED. The CPU backend comes in two flavours: "cpu" (host-visible memory,
 * every capability) and "cpu-restricted" (memory that host code must not dereference; no
 * float64, no complex, no fp32 autocast — the limits the Ascend port met), so CI exercises every
 * fallback path.
 *
 * Op conventions (all ops):
 *   - Output tensors are contiguous and allocated by the caller on the same backend; inputs may be
 *     strided views (stride 0 = broadcast). Shapes are PyTorch order.
 *   - Compute dtype is f32 unless noted; ops also accept f64 tensors where the backend's caps.f64
 *     is set (elementwise, copy, reduce). Low-precision storage (bf16/f16/fp8) is read by copy
 *     (converting) and by linear (weights).
 *   - Ops return LTX_ERR_INVALID_ARG with a message on shape/dtype mismatch and
 *     LTX_ERR_UNSUPPORTED for a dtype the device lacks. Ops never allocate device memory except
 *     bounded internal scratch documented per op.
 *   - Ops are enqueued on the backend's current stream; results are visible to download after
 *     ltx_backend_synchronize (CPU backends run synchronously).
 */
#ifndef LTX_BACKEND_H
#define LTX_BACKEND_H

#include "core/log.h"
#include "core/tensor.h"

#include <stdbool.h>

#define LTX_BACKEND_ABI_VERSION 2

/* Compute precision of a backend (engine param `precision`, CLI --precision f32|bf16).
 * F32: exact f32 everywhere (CUDA: TF32 off).  BF16: GEMM/attention inputs rounded to bf16,
 * f32 accumulation, f32 outputs (activations between ops stay f32 in this version). */
typedef enum ltx_precision { LTX_PRECISION_F32 = 0, LTX_PRECISION_BF16 = 1 } ltx_precision;

/* One id per table op, for supports() and for per-op statistics. */
typedef enum ltx_op_kind {
    LTX_OP_COPY,
    LTX_OP_FILL,
    LTX_OP_UNARY,
    LTX_OP_BINARY,
    LTX_OP_AXPBY,
    LTX_OP_LINEAR,
    LTX_OP_MATMUL,
    LTX_OP_SOFTMAX,
    LTX_OP_NORM,
    LTX_OP_ATTENTION,
    LTX_OP_ROPE,
    LTX_OP_CONV,
    LTX_OP_PAD,
    LTX_OP_REDUCE,
    LTX_OP_INTERPOLATE,
    LTX_OP_SNAKE,
    LTX_OP_NORM_MODULATE,
    LTX_OP_GATED_ADD,
    LTX_OP_LINEAR_ACT,
    LTX_OP_QK_NORM_ROPE,
    LTX_OP_COUNT
} ltx_op_kind;

/* A precise question for supports(): the op, its sub-op (ltx_unary_op / ltx_binary_op /
 * ltx_norm_op / ltx_reduce_op / ltx_pad_mode / ltx_interp_mode / ltx_rope_mode, else -1),
 * the output and the inputs in the op's argument order (NULL where absent). Only dtype, ndim,
 * shape and strides of the tensors are read; their memory is never touched. */
typedef struct ltx_op_query {
    ltx_op_kind op;
    int sub;
    const ltx_tensor *dst;
    const ltx_tensor *src[4];
} ltx_op_query;

typedef struct ltx_stream ltx_stream; /* opaque; NULL means the backend's compute stream */
typedef struct ltx_event ltx_event;   /* opaque */

typedef struct ltx_threadpool ltx_threadpool;

typedef struct ltx_backend_caps {
    uint32_t storage_dtypes; /* bit (1u << ltx_dtype) set: tensors of that dtype may exist */
    uint32_t compute_dtypes; /* bit set: elementwise/reduce math runs in that dtype */
    bool f64;                /* float64 arithmetic on device */
    bool complex;            /* complex64 (FFT) on device */
    bool fp32_autocast;      /* can run bf16 weights with fp32 islands automatically */
    bool fused_attention;    /* attention without materialising QK^T */
    bool conv3d;             /* native 3-D convolution */
    bool async;              /* streams/events are real (not no-ops) */
    bool host_visible;       /* host code may dereference buffer memory */
} ltx_backend_caps;

typedef enum ltx_unary_op {
    LTX_UNARY_NEG,
    LTX_UNARY_EXP,
    LTX_UNARY_LOG,
    LTX_UNARY_SQRT,
    LTX_UNARY_RSQRT,
    LTX_UNARY_SIN,
    LTX_UNARY_COS,
    LTX_UNARY_TANH,
    LTX_UNARY_SIGMOID,
    LTX_UNARY_SILU,
    LTX_UNARY_GELU_TANH,
    LTX_UNARY_GELU_ERF,
    LTX_UNARY_RELU,
    LTX_UNARY_LEAKY_RELU, /* p0 = negative slope */
    LTX_UNARY_ABS,
    LTX_UNARY_SQUARE,
    LTX_UNARY_SCALE,      /* x * p0 + p1, two roundings (no FMA), like torch x * a + b */
    LTX_UNARY_DIVS,       /* x / p0 (true division, as torch CPU "tensor / scalar") */
    LTX_UNARY_RECIP,      /* 1 / x */
    LTX_UNARY_CLAMP,      /* min(max(x, p0), p1) */
    LTX_UNARY_ROUND_BF16, /* round to bf16 and back (reference `.to(bf16).float()`) */
    LTX_UNARY_COUNT
} ltx_unary_op;

typedef enum ltx_binary_op {
    LTX_BINARY_ADD,
    LTX_BINARY_SUB,
    LTX_BINARY_MUL,
    LTX_BINARY_DIV,
    LTX_BINARY_MAX,
    LTX_BINARY_MIN,
    LTX_BINARY_POW,
    LTX_BINARY_COUNT
} ltx_binary_op;

typedef enum ltx_norm_op {
    LTX_NORM_RMS,   /* over last dim: x / sqrt(mean(x^2) + eps) [* w]                  */
    LTX_NORM_LAYER, /* over last dim: (x - mean) / sqrt(var + eps) [* w + b], biased var */
    LTX_NORM_GROUP, /* x (N, C, ...) in `groups` groups over (C/g, spatial) [* w + b]    */
    LTX_NORM_PIXEL, /* over dim 1 (channels): x / sqrt(mean_c(x^2) + eps), no weight     */
    LTX_NORM_COUNT
} ltx_norm_op;

typedef enum ltx_reduce_op {
    LTX_REDUCE_SUM,
    LTX_REDUCE_MEAN,
    LTX_REDUCE_MAX,
    LTX_REDUCE_MIN,
    LTX_REDUCE_VAR, /* unbiased (N-1), like torch.var/std default */
    LTX_REDUCE_COUNT
} ltx_reduce_op;

typedef enum ltx_pad_mode {
    LTX_PAD_CONSTANT,
    LTX_PAD_REFLECT,
    LTX_PAD_REPLICATE,
    LTX_PAD_CIRCULAR
} ltx_pad_mode;

typedef enum ltx_rope_mode {
    LTX_ROPE_SPLIT,      /* rotate halves of each head: out1 = x1 c - x2 s, out2 = x2 c + x1 s */
    LTX_ROPE_INTERLEAVED /* rotate pairs (x[2i], x[2i+1]) */
} ltx_rope_mode;

typedef enum ltx_interp_mode {
    LTX_INTERP_NEAREST,
    LTX_INTERP_LINEAR, /* (bi/tri)linear, align_corners per params */
    LTX_INTERP_BICUBIC,
    LTX_INTERP_AREA /* adaptive average pooling (torch mode="area"), any 1-3 dims */
} ltx_interp_mode;

/* Convolution over 1, 2 or 3 spatial dims; x (N, C_in, *S), w (C_out, C_in/groups, *K) — or
 * (C_in, C_out/groups, *K) when `transposed`. Padding here is zero padding; other modes are
 * applied beforehand with the pad op (causal padding likewise). */
typedef struct ltx_conv_params {
    int nspatial; /* 1, 2 or 3 */
    int stride[3];
    int padding[3]; /* symmetric zero padding per spatial dim */
    int dilation[3];
    int output_padding[3]; /* transposed only */
    int groups;
    bool transposed;
} ltx_conv_params;

typedef struct ltx_backend_ops {
    int abi_version; /* LTX_BACKEND_ABI_VERSION */
    const char *name;

    void (*destroy)(ltx_backend *be);

    /* ---- memory ---- */
    ltx_status (*buffer_alloc)(ltx_backend *be, size_t bytes, void **handle);
    void (*buffer_free)(ltx_backend *be, void *handle);
    /* Host pointer for a handle, or NULL when memory is not host visible. */
    void *(*buffer_host_ptr)(ltx_backend *be, void *handle);
    ltx_status (*upload)(ltx_backend *be, void *handle, size_t offset, const void *src,
                         size_t bytes);
    ltx_status (*download)(ltx_backend *be, const void *handle, size_t offset, void *dst,
                           size_t bytes);
    /* Returns a handle wrapping host memory that outlives it (zero-copy where possible;
     * *borrowed says whether the handle aliases `host`). */
    ltx_status (*buffer_wrap_host)(ltx_backend *be, const void *host, size_t bytes, void **handle,
                                   bool *borrowed);

    /* ---- synchronisation and housekeeping ---- */
    ltx_status (*synchronize)(ltx_backend *be);    /* host waits for all streams (counts a sync) */
    ltx_status (*memory_cleanup)(ltx_backend *be); /* cf. torch.cuda.empty_cache */
    ltx_status (*memory_info)(ltx_backend *be, size_t *free_bytes, size_t *total_bytes);

    /* true when this backend runs the op for these dtypes/shapes natively (no fallback). */
    bool (*supports)(ltx_backend *be, const ltx_op_query *q);

    /* ---- streams and events (replace the v1 event_record/event_wait) ---- */
    ltx_status (*stream_create)(ltx_backend *be, ltx_stream **out); /* e.g. the copy stream */
    void (*stream_destroy)(ltx_backend *be, ltx_stream *s);         /* NULL ok */
    ltx_status (*event_create)(ltx_backend *be, ltx_event **out);
    void (*event_destroy)(ltx_backend *be, ltx_event *e); /* NULL ok */
    ltx_status (*event_record)(ltx_backend *be, ltx_event *e, ltx_stream *s);
    ltx_status (*stream_wait_event)(ltx_backend *be, ltx_stream *s,
                                    ltx_event *e);                  /* no host wait */
    ltx_status (*event_synchronize)(ltx_backend *be, ltx_event *e); /* host waits (counts a sync) */
    ltx_status (*stream_synchronize)(ltx_backend *be,
                                     ltx_stream *s); /* host waits (counts a sync) */

    /* ---- page-locked staging and ordered transfers ---- */
    ltx_status (*host_alloc_pinned)(ltx_backend *be, size_t bytes,
                                    void **out); /* CPU: aligned malloc */
    void (*host_free_pinned)(ltx_backend *be, void *p);
    /* Enqueue a copy on stream s; `src`/`dst` host memory must stay valid until an event
     * recorded after it completes (pinned memory gives true overlap on CUDA). */
    ltx_status (*upload_async)(ltx_backend *be, void *handle, size_t offset, const void *src,
                               size_t bytes, ltx_stream *s);
    ltx_status (*download_async)(ltx_backend *be, const void *handle, size_t offset, void *dst,
                                 size_t bytes, ltx_stream *s);

    /* ---- ops ---- */
    /* dst = src (any dtypes, strided src broadcastable to dst, rounding RNE on narrowing).
     * dst may be a strided, non-broadcast view (e.g. a slice of a concat target). Elementwise
     * ops (copy, fill, unary, binary, axpby) all accept such a dst. */
    ltx_status (*copy)(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
    ltx_status (*fill)(ltx_backend *be, ltx_tensor *dst, double value);
    /* dst = op(a; p0, p1); a broadcastable to dst. */
    ltx_status (*unary)(ltx_backend *be, ltx_unary_op op, ltx_tensor *dst, const ltx_tensor *a,
                        double p0, double p1);
    /* dst = a op b with numpy broadcasting of a and b to dst's shape. */
    ltx_status (*binary)(ltx_backend *be, ltx_binary_op op, ltx_tensor *dst, const ltx_tensor *a,
                         const ltx_tensor *b);
    /* dst = a * x + b * y with scalar a, b (axpby; fused for speed). */
    ltx_status (*axpby)(ltx_backend *be, ltx_tensor *dst, double a, const ltx_tensor *x, double b,
                        const ltx_tensor *y);
    /* y (…, N) = x (…, K) @ w^T (+ bias (N)); w (N, K) in f32/f16/bf16/fp8 (converted per panel,
     * never whole), optional per-tensor `w_scale` multiplies w (fp8 scaled weights, else 1). */
    ltx_status (*linear)(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                         const ltx_tensor *bias, float w_scale);
    /* c (batch…, M, N) = alpha * op(a) (batch…, M, K) @ op(b) (batch…, K, N); f32; batch dims
     * broadcast. trans_* transposes the last two dims of a / b. */
    ltx_status (*matmul)(ltx_backend *be, ltx_tensor *c, const ltx_tensor *a, const ltx_tensor *b,
                         bool trans_a, bool trans_b, float alpha);
    /* Softmax over the last dim. */
    ltx_status (*softmax)(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src);
    /* Norms (see ltx_norm_op); w, b may be NULL (any float dtype, contiguous). `groups` only for
     * GROUP. x f32 any strides; statistics accumulate in double. GROUP/PIXEL need a contiguous
     * dst (RMS/LAYER accept strided dst). */
    ltx_status (*norm)(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *w, const ltx_tensor *b, int groups, float eps);
    /* Scaled dot product attention. q (B, H, Tq, D), k/v (B, H, Tk, D) (k/v may have fewer
     * heads: GQA, H % Hk == 0); mask NULL or additive f32 broadcastable to (B, H, Tq, Tk).
     * o (B, H, Tq, D). Long sequences are processed in key blocks (online softmax) so memory
     * stays O(Tq·block), never O(Tq·Tk). */
    ltx_status (*attention)(ltx_backend *be, ltx_tensor *o, const ltx_tensor *q,
                            const ltx_tensor *k, const ltx_tensor *v, const ltx_tensor *mask,
                            float scale);
    /* Rotary embedding: x (B, H, T, D) f32, any strides (e.g. a (B, T, H*D) activation viewed
     * as (B, H, T, D) by reshape + permute); dst the same shape, any non-broadcast strides, and
     * may be x itself (in place). cos/sin f32 of shape (B|1, H|1, T, D/2) (lower ranks are
     * right-aligned: (T, D/2) is fine), any strides, broadcast over B/H. Table layout: entry
     * [b, h, t, i] is the angle of rotation pair i of head h at token t:
     *   SPLIT:       pair i = (x[i], x[i + D/2]):  out[i] = x[i] c - x[i+D/2] s,
     *                out[i + D/2] = x[i + D/2] c + x[i] s   (c = cos[..,i], s = sin[..,i]);
     *                ref rope.py split_freqs_cis: the per-head slice of the padded half-vector.
     *   INTERLEAVED: pair i = (x[2i], x[2i+1]): out[2i] = x[2i] c - x[2i+1] s,
     *                out[2i+1] = x[2i+1] c + x[2i] s; the reference's repeat_interleave(2)
     *                tables are stored once per pair (take every second entry), and its front
     *                padding (cos 1, sin 0) is dim % (2 n_axes) / 2 leading pairs. Interleaved
     *                rope rotates the whole inner dim: pass x as (B, 1, T, dim). */
    ltx_status (*rope)(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst, const ltx_tensor *x,
                       const ltx_tensor *cos, const ltx_tensor *sin);
    /* y = conv(x, w) + bias (see ltx_conv_params); x f32 any strides, w any float dtype
     * (converted to f32 once per call), bias NULL or C_out contiguous elements of any float
     * dtype, y contiguous f32 of the exact output shape. */
    ltx_status (*conv)(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, const ltx_tensor *w,
                       const ltx_tensor *bias, const ltx_conv_params *p);
    /* pads[2*i], pads[2*i+1] = (before, after) for dim i (all dims of src, PyTorch order). */
    ltx_status (*pad)(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *src, const int *pads,
                      ltx_pad_mode mode, double value);
    /* Reduce over `dim` (keepdim: dst has size 1 there). */
    ltx_status (*reduce)(ltx_backend *be, ltx_reduce_op op, ltx_tensor *dst, const ltx_tensor *src,
                         int dim);
    /* Resize the spatial dims (1 to 3 dims after N, C) of f32 src (any strides) to contiguous
     * f32 dst's shape, as torch.nn.functional.interpolate(size=dst spatial shape): nearest
     * (floor(i * in/out)), (bi/tri)linear, bicubic (2-D only, A = -0.75, borders clamped),
     * area (mean over [floor(i*in/out), ceil((i+1)*in/out)) per dim); align_corners as torch
     * (ignored by nearest and area). No antialias. */
    ltx_status (*interpolate)(ltx_backend *be, ltx_interp_mode mode, ltx_tensor *dst,
                              const ltx_tensor *src, bool align_corners);
    /* SnakeBeta per channel: x (B, C, T); alpha/beta (C) in log scale when log_scale:
     * y = x + 1/(exp(beta)+1e-9) * sin(x*exp(alpha))^2. */
    ltx_status (*snake)(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                        const ltx_tensor *alpha, const ltx_tensor *beta, bool log_scale);

    /* ---- fused ops (each has a CPU reference in src/backend/cpu/ and op tests) ---- */
    /* dst = norm(x) * (1 + scale) + shift; norm = RMS or LAYER over the last dim, no affine
     * weight; scale/shift broadcastable to x (e.g. (B,1,D) or per-token (B,T,D)), any float
     * dtype; statistics as the `norm` op. (AdaLN modulate, ref transformer.py) */
    ltx_status (*norm_modulate)(ltx_backend *be, ltx_norm_op op, ltx_tensor *dst,
                                const ltx_tensor *x, const ltx_tensor *scale,
                                const ltx_tensor *shift, float eps);
    /* dst = x + y * gate, gate broadcastable to x (NULL gate = 1); dst may be x (in place). */
    ltx_status (*gated_add)(ltx_backend *be, ltx_tensor *dst, const ltx_tensor *x,
                            const ltx_tensor *y, const ltx_tensor *gate);
    /* y = act(linear(x, w, bias, w_scale)); act one of LTX_UNARY_GELU_TANH, GELU_ERF, SILU,
     * RELU (epilogue of the GEMM on CUDA; CPU reference = linear then unary). */
    ltx_status (*linear_act)(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x,
                             const ltx_tensor *w, const ltx_tensor *bias, float w_scale,
                             ltx_unary_op act);
    /* dst = rope(rms_norm(x) * w) — the q/k path of the LTX attention (RMSNorm over the whole
     * last dim of x (B, T, H*D) with weight w (H*D), then RoPE per head with cos/sin laid out
     * as the `rope` op for x viewed (B, H, T, D)). */
    ltx_status (*qk_norm_rope)(ltx_backend *be, ltx_rope_mode mode, ltx_tensor *dst,
                               const ltx_tensor *x, const ltx_tensor *w, float eps, int heads,
                               const ltx_tensor *cos, const ltx_tensor *sin);
} ltx_backend_ops;

/* Fallback bookkeeping: one entry per distinct fallback key. */
#define LTX_MAX_FALLBACKS 32

struct ltx_backend {
    const ltx_backend_ops *ops;
    ltx_backend_caps caps;
    const char *device_name; /* "cpu", "cpu-restricted", "cuda:0" */
    ltx_log *log;            /* not owned */
    bool strict;             /* fallbacks fail with LTX_ERR_UNSUPPORTED */
    ltx_precision precision; /* set by the engine from params; default F32 on cpu, BF16 on cuda */
    uint64_t n_host_syncs;   /* every host wait: synchronize, event/stream synchronize, blocking
                                download */
    uint64_t peak_device_bytes;                   /* high-water mark of the caching allocator */
    ltx_threadpool *pool;                         /* not owned; may be NULL (single thread) */
    int n_fallbacks;                              /* total fallbacks taken (every call counts) */
    const char *fallback_keys[LTX_MAX_FALLBACKS]; /* distinct keys already logged */
    int fallback_hits[LTX_MAX_FALLBACKS];
    int n_fallback_keys;
    void *impl; /* backend private state */
};

/* Creates a backend by device name: "cpu", "cpu-restricted", "cuda", "cuda:N", "auto" (first
 * accelerator that initialises, else cpu). `log` and `pool` must outlive the backend. */
ltx_status ltx_backend_create(const char *device, ltx_log *log, ltx_threadpool *pool, bool strict,
                              ltx_backend **out);
void ltx_backend_destroy(ltx_backend *be);

/* CPU backend constructors (src/backend/cpu/). */
ltx_status ltx_cpu_backend_create(bool restricted, ltx_log *log, ltx_threadpool *pool,
                                  ltx_backend **out);

/* Record that `key` (e.g. "f64.rope_grid") falls back, with `what` describing the fallback
 * ("float64 RoPE grid computed on the host"). Logs at WARN the first time a key is seen,
 * counts every time. Returns LTX_OK, or LTX_ERR_UNSUPPORTED (with message) in strict mode.
 * `key` must be a string literal (stored by pointer). */
ltx_status ltx_backend_fallback(ltx_backend *be, const char *key, const char *what);

static inline bool ltx_backend_has_dtype(const ltx_backend *be, ltx_dtype t)
{
    return (be->caps.storage_dtypes >> t) & 1u;
}

/* true when be runs q natively (a NULL supports entry answers false). */
bool ltx_backend_supports(ltx_backend *be, const ltx_op_query *q);

/* Does be run `op` (sub-op `sub`) natively with the output and `nsrc` inputs all of dtype dt
 * and of `like`'s shape? A shortcut for the common elementwise question ("can this device do
 * the res_2s update in float64?"); `like` is only read for its shape. */
bool ltx_backend_supports_as(ltx_backend *be, ltx_op_kind op, int sub, ltx_dtype dt, int nsrc,
                             const ltx_tensor *like);

/* Host waits through the table; each counts one host sync in be->n_host_syncs. */
ltx_status ltx_backend_synchronize(ltx_backend *be);
ltx_status ltx_backend_event_synchronize(ltx_backend *be, ltx_event *e);
ltx_status ltx_backend_stream_synchronize(ltx_backend *be, ltx_stream *s);

/* Host syncs since creation, and the caching allocator's high-water mark (bytes; 0 when the
 * backend keeps no statistic). reset_peak restarts the mark at the live size. */
uint64_t ltx_backend_host_syncs(const ltx_backend *be);
size_t ltx_backend_peak_bytes(const ltx_backend *be);
void ltx_backend_reset_peak(ltx_backend *be);

/* ltx_backend_built (names of the backends compiled into this build) is public: ltx.h. */

/* "f32" / "bf16"; and the parse of such a name (false when `name` is not one). */
const char *ltx_precision_name(ltx_precision p);
bool ltx_precision_parse(const char *name, ltx_precision *out);

/* Human-readable capabilities ("f64=yes complex=no ..."), into buf; returns buf. */
const char *ltx_backend_caps_str(const ltx_backend *be, char *buf, size_t cap);

#endif
