/*
 * cpu_iter.c — N-d strided/broadcast iteration and work splitting for the CPU kernels
 * (see cpu_iter.h). No reference counterpart: this plays the role of PyTorch's TensorIterator
 * (dimension coalescing, broadcasting by stride 0), much simplified.
 */
#include "backend/cpu/cpu_iter.h"

#include <string.h>

/* Elements of plain work below which a call runs serially (thread wake-up costs ~10 us). */
#define SERIAL_WORK 32768
/* Target elements of work per scheduled chunk. */
#define CHUNK_WORK 16384

void ltx_cpu_iter_init_strides(cpu_iter *it, int ndim, const int64_t *shape, int nops,
                               const int64_t (*stride)[LTX_MAX_DIMS])
{
    LTX_ASSERT(nops >= 1 && nops <= CPU_ITER_MAX_OPS && ndim >= 0 && ndim <= LTX_MAX_DIMS);
    memset(it, 0, sizeof *it);
    it->nops = nops;
    /* Drop size-1 dims; an empty tensor keeps one dim of size 0. */
    int n = 0;
    bool empty = false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0) empty = true;
        if (shape[d] == 1) continue;
        it->shape[n] = shape[d];
        for (int k = 0; k < nops; k++)
            it->stride[k][n] = stride[k][d];
        n++;
    }
    if (empty) {
        it->ndim = 1;
        it->shape[0] = 0;
        it->rows = 1;
        it->inner = 0;
        return;
    }
    if (n == 0) {
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++)
            it->stride[k][0] = 1;
        n = 1;
    }
    /* Merge dim d into d+1 when every operand steps through them as one dim. */
    int m = 0;
    for (int d = 1; d < n; d++) {
        bool merge = true;
        for (int k = 0; k < nops; k++)
            if (it->stride[k][m] != it->stride[k][d] * it->shape[d]) merge = false;
        if (merge) {
            it->shape[m] *= it->shape[d];
            for (int k = 0; k < nops; k++)
                it->stride[k][m] = it->stride[k][d];
        } else {
            m++;
            it->shape[m] = it->shape[d];
            for (int k = 0; k < nops; k++)
                it->stride[k][m] = it->stride[k][d];
        }
    }
    it->ndim = m + 1;
    it->inner = it->shape[m];
    it->rows = 1;
    for (int d = 0; d < m; d++)
        it->rows *= it->shape[d];
}

ltx_status ltx_cpu_iter_init(cpu_iter *it, int ndim, const int64_t *shape, int nops,
                             const ltx_tensor *const *ts, bool write0, const char *op)
{
    int64_t st[CPU_ITER_MAX_OPS][LTX_MAX_DIMS];
    for (int k = 0; k < nops; k++) {
        const ltx_tensor *t = ts[k];
        if (t->ndim > ndim) {
            char b[96];
            return ltx_err(LTX_ERR_INVALID_ARG, "%s: operand %d %s has more dims than %d", op, k,
                           ltx_tensor_shape_str(t, b, sizeof b), ndim);
        }
        int off = ndim - t->ndim;
        for (int d = 0; d < ndim; d++) {
            int sd = d - off;
            if (sd < 0) {
                st[k][d] = 0;
                continue;
            }
            if (t->shape[sd] == shape[d]) {
                st[k][d] = t->shape[sd] == 1 ? 0 : t->stride[sd];
            } else if (t->shape[sd] == 1) {
                st[k][d] = 0;
            } else {
                char b[96];
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "%s: operand %d %s does not broadcast to dim %d of size %lld", op, k,
                               ltx_tensor_shape_str(t, b, sizeof b), d, (long long)shape[d]);
            }
            if (k == 0 && write0 && st[k][d] == 0 && shape[d] > 1)
                return ltx_err(LTX_ERR_INVALID_ARG,
                               "%s: output has stride 0 at dim %d (broadcast views cannot be "
                               "written)",
                               op, d);
        }
    }
    ltx_cpu_iter_init_strides(it, ndim, shape, nops, (const int64_t(*)[LTX_MAX_DIMS])st);
    return LTX_OK;
}

/* Element offsets of the first element of row r (0 <= r < rows) for every operand. */
static void cpu_iter_row(const cpu_iter *it, int64_t r, int64_t *off)
{
    for (int k = 0; k < it->nops; k++)
        off[k] = 0;
    for (int d = it->ndim - 2; d >= 0; d--) {
        int64_t i = r % it->shape[d];
        r /= it->shape[d];
        for (int k = 0; k < it->nops; k++)
            off[k] += i * it->stride[k][d];
    }
}

typedef struct run_ctx {
    const cpu_iter *it;
    int64_t blk, nblk;
    cpu_seg_fn fn;
    void *ctx;
} run_ctx;

static void run_items(void *vctx, int64_t begin, int64_t end, int worker)
{
    run_ctx *rc = vctx;
    const cpu_iter *it = rc->it;
    int64_t inner[CPU_ITER_MAX_OPS], off[CPU_ITER_MAX_OPS], o[CPU_ITER_MAX_OPS];
    for (int k = 0; k < it->nops; k++)
        inner[k] = it->stride[k][it->ndim - 1];
    int64_t cur_row = -1;
    for (int64_t item = begin; item < end; item++) {
        int64_t r = item / rc->nblk, b = item % rc->nblk;
        if (r != cur_row) {
            cpu_iter_row(it, r, off);
            cur_row = r;
        }
        int64_t s = b * rc->blk, n = it->inner - s < rc->blk ? it->inner - s : rc->blk;
        for (int k = 0; k < it->nops; k++)
            o[k] = off[k] + s * inner[k];
        rc->fn(rc->ctx, o, n, inner, worker);
    }
}

void ltx_cpu_iter_run(ltx_backend *be, const cpu_iter *it, int cost, cpu_seg_fn fn, void *ctx)
{
    if (it->inner == 0 || it->rows == 0) return;
    int64_t total = it->rows * it->inner * (cost > 0 ? cost : 1);
    int nth = ltx_threadpool_size(be->pool);
    run_ctx rc = {it, it->inner, 1, fn, ctx};
    if (!be->pool || nth <= 1 || total < SERIAL_WORK) {
        run_items(&rc, 0, it->rows, 0);
        return;
    }
    /* Few long rows: cut rows into blocks so every thread gets work. */
    if (it->rows < 4 * (int64_t)nth) {
        int64_t want = 4 * (int64_t)nth / it->rows + 1;
        int64_t blk = (it->inner + want - 1) / want;
        /* at least ~1024 elements of plain work per block (fewer when each costs more) */
        int64_t minblk = 1024 / (cost > 0 ? cost : 1);
        if (blk < minblk) blk = minblk;
        if (blk >= 16) blk = (blk + 15) & ~(int64_t)15;
        if (blk < it->inner) {
            rc.blk = blk;
            rc.nblk = (it->inner + blk - 1) / blk;
        }
    }
    int64_t items = it->rows * rc.nblk;
    int64_t per_item = rc.blk * (cost > 0 ? cost : 1);
    int64_t grain = CHUNK_WORK / (per_item > 0 ? per_item : 1);
    ltx_threadpool_for(be->pool, items, grain < 1 ? 1 : grain, run_items, &rc);
}

void ltx_cpu_parallel(ltx_backend *be, int64_t n, int64_t work_per_item, ltx_parallel_fn fn,
                      void *ctx)
{
    if (n <= 0) return;
    if (work_per_item < 1) work_per_item = 1;
    if (!be->pool || ltx_threadpool_size(be->pool) <= 1 || n * work_per_item < SERIAL_WORK) {
        fn(ctx, 0, n, 0);
        return;
    }
    int64_t grain = CHUNK_WORK / work_per_item;
    ltx_threadpool_for(be->pool, n, grain < 1 ? 1 : grain, fn, ctx);
}
