/*
 * ltx_streaming.c — layer streaming of the transformer: per-block weight residency, so that at
 * most 1 + P blocks' weights are resident while a forward runs (P = min(N, L - 1) for
 * `--streaming-prefetch-count N` and L blocks).
 *
 * Mirrors ltx_core/layer_streaming.py @ a2c3f24 (spec pipelines.md §10.3): before block i runs,
 * blocks (i + j) mod L, j = 1..P, are brought in (the modular wrap-around prepares the first
 * blocks of the next forward); after block i it is evicted. Non-block parameters (patchify,
 * AdaLN embedders, output heads, tables) stay resident, as in the reference.
 *
 * Only 2-D block weights that are still the checkpoint's bytes are streamed; everything else
 * (f32 copies of 1-D parameters and tables, LoRA-fused replacements, weights the loader had
 * to copy because they were misaligned in the file) is heap/device memory and stays resident.
 * Two residency mechanisms, picked by the backend's capabilities:
 *   - host-visible backends (the CPU): the weight is a view of the read-only file mapping.
 *     Evicting = madvise(MADV_DONTNEED) on the page-aligned interior of its bytes (the pages
 *     leave this process; the kernel re-reads them from the page cache or the file on the next
 *     access, so the values cannot change). Bringing in = madvise(MADV_WILLNEED) (asynchronous
 *     readahead) or, in LTX_PREFETCH_TOUCH mode, a helper thread that reads one byte per page
 *     (maps the pages in ahead of the compute).
 *   - other backends (accelerators; "cpu-restricted" stands in for one in CI): the weight is a
 *     device copy. Evicting = releasing its device buffer; bringing in = allocating a new one
 *     and uploading the bytes from the mapping (synchronously here; an asynchronous backend
 *     would enqueue the upload on a side stream and wait on an event before the block, as the
 *     reference does). A weight is streamed only if its device bytes equal the file's (checked
 *     once when streaming is enabled), so replaced weights are never clobbered.
 *
 * Numerics: the streamed weights are bitwise the same bytes; outputs are identical with and
 * without streaming.
 */
#include "models/ltx_transformer_internal.h"

#include "io/st_internal.h" /* st_shard.mapped: never madvise memory that is not a file map */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PREFIX "model.diffusion_model."

typedef struct st_weight {
    ltx_tensor *t;           /* the model's tensor (owned by the model) */
    const ltx_st_entry *e;   /* its bytes in the mapping */
} st_weight;

typedef struct st_block {
    st_weight *w;
    int n;
    size_t bytes;
    bool in;     /* prefetched / uploaded and not evicted since */
} st_block;

struct tf_stream {
    int L, P;
    bool host;               /* madvise path */
    ltx_prefetch_mode mode;
    long page;
    st_block *blocks;
    ltx_stream_stats stats;
    /* touch thread (host path, LTX_PREFETCH_TOUCH) */
    pthread_t thread;
    bool thread_on, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int *queue; /* FIFO of block indices, capacity L */
    int q_head, q_len;
};

/* Page-aligned [a, b) inside (inner) or around (outer) the entry's bytes. */
static void page_range(const tf_stream *s, const ltx_st_entry *e, bool inner, uintptr_t *a,
                       uintptr_t *b)
{
    uintptr_t m = (uintptr_t)s->page - 1, p = (uintptr_t)e->data, q = p + e->nbytes;
    *a = inner ? (p + m) & ~m : p & ~m;
    *b = inner ? q & ~m : (q + m) & ~m;
}

/* Maps block i's pages in: MADV_POPULATE_READ (Linux >= 5.14: page tables filled in one call)
 * where it works, else a read of one byte per page. */
static void touch_block(tf_stream *s, int i)
{
    const st_block *b = &s->blocks[i];
    volatile unsigned char sink = 0;
    for (int k = 0; k < b->n; k++) {
#ifdef MADV_POPULATE_READ
        uintptr_t a, e;
        page_range(s, b->w[k].e, false, &a, &e);
        if (e > a && madvise((void *)a, e - a, MADV_POPULATE_READ) == 0) continue;
#endif
        const unsigned char *p = b->w[k].e->data;
        size_t n = b->w[k].e->nbytes;
        for (size_t o = 0; o < n; o += (size_t)s->page) sink ^= p[o];
        if (n) sink ^= p[n - 1];
    }
    (void)sink;
}

static void *touch_main(void *arg)
{
    tf_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->q_len == 0) pthread_cond_wait(&s->cv, &s->mu);
        if (s->stop) break;
        int i = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->L;
        s->q_len--;
        pthread_mutex_unlock(&s->mu);
        touch_block(s, i);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Brings block i in (host: advice or queued touch; device: upload now). */
static ltx_status fetch(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    st_block *b = &s->blocks[i];
    if (b->in) return LTX_OK;
    b->in = true;
    s->stats.fetches++;
    s->stats.fetched_bytes += (int64_t)b->bytes;
    if (s->host) {
        if (s->thread_on) {
            pthread_mutex_lock(&s->mu);
            if (s->q_len < s->L) {
                s->queue[(s->q_head + s->q_len) % s->L] = i;
                s->q_len++;
            }
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return LTX_OK;
        }
        for (int k = 0; k < b->n; k++) {
            uintptr_t a, e;
            page_range(s, b->w[k].e, false, &a, &e);
            if (e > a) (void)madvise((void *)a, e - a, MADV_WILLNEED);
        }
        return LTX_OK;
    }
    for (int k = 0; k < b->n; k++) {
        ltx_tensor *t = b->w[k].t;
        if (t->buf) continue;
        t->buf = ltx_buffer_new(m->be, b->w[k].e->nbytes);
        if (!t->buf) return ltx_err_context(LTX_ERR_OOM, "streaming block %d: ", i);
        t->offset = 0;
        ltx_status st = ltx_tensor_upload(t, b->w[k].e->data, b->w[k].e->dtype);
        if (st != LTX_OK) return ltx_err_context(st, "streaming block %d: ", i);
    }
    return LTX_OK;
}

/* Evicts block i. */
static void evict(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    st_block *b = &s->blocks[i];
    b->in = false;
    s->stats.evictions++;
    for (int k = 0; k < b->n; k++) {
        if (s->host) {
            uintptr_t a, e;
            page_range(s, b->w[k].e, true, &a, &e);
            if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
        } else if (b->w[k].t->buf) {
            ltx_buffer_release(b->w[k].t->buf);
            b->w[k].t->buf = NULL;
        }
    }
}

ltx_status tf_stream_before(ltx_transformer *m, int block)
{
    tf_stream *s = m->stream;
    if (!s) return LTX_OK;
    /* block itself first (synchronous on a device, like the reference's fallback upload) */
    for (int j = 0; j <= s->P; j++) LTX_TRY(fetch(m, (block + j) % s->L));
    return LTX_OK;
}

void tf_stream_after(ltx_transformer *m, int block)
{
    if (m->stream) evict(m, block);
}

static void stop_thread(tf_stream *s)
{
    if (!s->thread_on) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_on = false;
}

/* Brings every block back (device path) and drops the state. */
static ltx_status stream_drop(ltx_transformer *m, bool restore)
{
    tf_stream *s = m->stream;
    if (!s) return LTX_OK;
    stop_thread(s);
    ltx_status st = LTX_OK;
    for (int i = 0; i < s->L; i++) {
        if (restore && !s->host && st == LTX_OK) {
            s->blocks[i].in = false;
            st = fetch(m, i);
        }
        free(s->blocks[i].w);
    }
    if (s->queue) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free(s->queue);
    free(s->blocks);
    free(s);
    m->stream = NULL;
    return st;
}

void tf_stream_free(ltx_transformer *m)
{
    (void)stream_drop(m, false); /* evicted device tensors have no buffer: freeing is fine */
}

/* Every 2-D weight tensor of block i (NULL entries skipped by the caller). */
static int block_weights(tf_block *b, ltx_tensor **out)
{
    int n = 0;
    tf_attn *at[6] = {&b->attn1, &b->attn2, &b->audio_attn1, &b->audio_attn2, &b->a2v, &b->v2a};
    for (int a = 0; a < 6; a++) {
        out[n++] = at[a]->q.w, out[n++] = at[a]->k.w, out[n++] = at[a]->v.w;
        out[n++] = at[a]->out.w, out[n++] = at[a]->gate.w;
    }
    out[n++] = b->ff1.w, out[n++] = b->ff2.w, out[n++] = b->audio_ff1.w, out[n++] = b->audio_ff2.w;
    return n;
}

/* True when tensor t still holds exactly the bytes of entry e. */
static bool is_file_backed(ltx_transformer *m, const ltx_st_file *f, const ltx_tensor *t,
                           const ltx_st_entry *e)
{
    if (!t->buf || t->dtype != e->dtype || ltx_tensor_nbytes(t) != e->nbytes ||
        !ltx_tensor_is_contiguous(t))
        return false;
    /* Host path: only views of a real file mapping (MADV_DONTNEED on the anonymous memory of
     * ltx_st_open_memory would zero it). */
    if (m->be->caps.host_visible)
        return ltx_tensor_host(t) == e->data && e->shard >= 0 && e->shard < f->nshards &&
               f->shards[e->shard].mapped;
    if (t->offset != 0 || t->buf->refs != 1 || t->buf->borrowed) return false;
    void *tmp = malloc(e->nbytes ? e->nbytes : 1);
    if (!tmp) return false;
    bool same = ltx_tensor_download(t, tmp, t->dtype) == LTX_OK &&
                memcmp(tmp, e->data, e->nbytes) == 0;
    free(tmp);
    return same;
}

ltx_status ltx_transformer_set_streaming(ltx_transformer *m, const ltx_st_file *f,
                                         int prefetch_count, ltx_prefetch_mode mode)
{
    if (!m) return ltx_err(LTX_ERR_INVALID_ARG, "set_streaming: no model");
    if (prefetch_count < 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "streaming prefetch count %d (must be >= 1, 0 = off)",
                       prefetch_count);
    LTX_TRY(stream_drop(m, true));
    if (prefetch_count == 0) return LTX_OK;
    if (!f) return ltx_err(LTX_ERR_INVALID_ARG, "set_streaming: no checkpoint");
    int L = m->cfg.num_layers;
    if (L < 1) return LTX_OK;
    tf_stream *s = calloc(1, sizeof *s);
    if (!s) return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
    s->L = L;
    s->P = prefetch_count < L - 1 ? prefetch_count : L - 1; /* ref: min(N, L - 1) */
    s->host = m->be->caps.host_visible;
    s->mode = s->host ? mode : LTX_PREFETCH_ADVISE;
    long pg = sysconf(_SC_PAGESIZE);
    s->page = pg > 0 ? pg : 4096;
    s->blocks = calloc((size_t)L, sizeof *s->blocks);
    m->stream = s;
    if (!s->blocks) {
        stream_drop(m, false);
        return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
    }
    ltx_tensor *ws[40];
    for (int i = 0; i < L; i++) {
        int n = block_weights(&m->blocks[i], ws);
        st_block *b = &s->blocks[i];
        b->w = calloc((size_t)n, sizeof *b->w);
        if (!b->w) {
            stream_drop(m, false);
            return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
        }
        for (int k = 0; k < n; k++) {
            if (!ws[k]) continue;
            char full[160];
            snprintf(full, sizeof full, PREFIX "%s", ws[k]->name);
            const ltx_st_entry *e = ltx_st_find(f, full);
            if (e && is_file_backed(m, f, ws[k], e)) {
                b->w[b->n++] = (st_weight){ws[k], e};
                b->bytes += e->nbytes;
                s->stats.streamed_tensors++;
            } else {
                s->stats.resident_tensors++;
            }
        }
        if (b->bytes > s->stats.block_bytes_max) s->stats.block_bytes_max = b->bytes;
        s->stats.streamed_bytes += (int64_t)b->bytes;
    }
    if (s->mode == LTX_PREFETCH_TOUCH) {
        s->queue = malloc(sizeof(int) * (size_t)L);
        if (!s->queue) {
            stream_drop(m, false);
            return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->thread_on = pthread_create(&s->thread, NULL, touch_main, s) == 0;
    }
    /* Start from nothing resident: pages touched while loading (e.g. by LoRA fusion) go. */
    for (int i = 0; i < L; i++) evict(m, i);
    s->stats.evictions = 0;
    if (s->stats.streamed_tensors == 0) {
        LTX_INFO(m->be->log, "layer streaming: none of the %d block weights is still the "
                 "checkpoint's bytes (LoRA-fused or copied weights stay resident): no effect",
                 s->stats.resident_tensors);
        return LTX_OK;
    }
    LTX_INFO(m->be->log,
             "layer streaming: %d of %d block weights streamed (%.1f MiB, at most %.1f MiB per "
             "block), %d kept resident; %d block(s) prefetched ahead (%s); %s",
             s->stats.streamed_tensors, s->stats.streamed_tensors + s->stats.resident_tensors,
             (double)s->stats.streamed_bytes / 1048576.0,
             (double)s->stats.block_bytes_max / 1048576.0, s->stats.resident_tensors, s->P,
             s->host ? (s->thread_on ? "touch thread" : "madvise WILLNEED") : "upload",
             s->host ? "evicted with madvise DONTNEED after each block"
                     : "device copies freed after each block");
    return LTX_OK;
}

void ltx_transformer_stream_stats(const ltx_transformer *m, ltx_stream_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m && m->stream) {
        *out = m->stream->stats;
        out->prefetch = m->stream->P;
    }
}
