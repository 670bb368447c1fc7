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
 * Only 2-D block weights that are still the checkpoint's bytes are streamed (plus, with a LoRA
 * set, the block weights the LoRAs cover: fused per block when the block is brought in);
 * everything else (f32 copies of 1-D parameters and tables, weights the loader had to copy
 * because they were misaligned in the file) stays resident. Two residency mechanisms:
 *   - host-visible backends (the CPU): the weight is a view of the read-only file mapping.
 *     Evicting = madvise(MADV_DONTNEED) on the page-aligned interior of its bytes (the pages
 *     leave this process; the kernel re-reads them from the page cache or the file on the next
 *     access, so the values cannot change). Bringing in = madvise(MADV_WILLNEED) (asynchronous
 *     readahead) or, in LTX_PREFETCH_TOUCH mode, a helper thread that reads one byte per page
 *     (maps the pages in ahead of the compute).
 *   - other backends (CUDA; "cpu-restricted" stands in for one in CI) go through the device
 *     interface: block j's bytes are copied from the mapping into a page-locked staging buffer
 *     (two, used in turn) and uploaded with upload_async on a copy stream into buffers from the
 *     caching allocator; an event recorded after the uploads is waited on by the compute stream
 *     before block j runs, and the copy stream first waits on an event of the compute stream,
 *     so a buffer freed by an evicted block is never overwritten while a kernel still reads it.
 *     With prefetch N the uploads of block i + N overlap the compute of blocks i .. i + N - 1.
 *     A weight is streamed only if its device bytes equal the file's (checked once when
 *     streaming is enabled), so replaced weights are never clobbered.
 * LoRA (ltx_transformer_set_streaming_lora): a covered weight is fused (ltx_lora_weight_hook,
 * the same function and inputs as a resident load) just before its block runs, from the
 * uploaded checkpoint bytes, and its fused copy is freed with the block.
 *
 * Numerics: the streamed weights are bitwise the same bytes and fused LoRA weights the same
 * values; outputs are identical with and without streaming.
 */
#include "models/ltx_transformer_internal.h"

#include "io/st_internal.h" /* st_shard.mapped: never madvise memory that is not a file map */
#include "models/lora.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PREFIX "model.diffusion_model."

typedef struct st_weight {
    ltx_tensor *t;         /* the model's tensor (owned by the model) */
    const ltx_st_entry *e; /* its bytes in the mapping */
    bool lora;             /* fused with the stage's LoRAs when its block comes in */
    ltx_tensor *base;      /* lora, device path: the uploaded checkpoint bytes until fused */
} st_weight;

typedef struct st_block {
    st_weight *w;
    int n;
    size_t bytes;
    bool in;          /* prefetched / uploaded and not evicted since */
    bool ready;       /* LoRA weights fused and the compute stream ordered after the upload */
    ltx_event *event; /* device path: recorded on the copy stream after the block's uploads */
} st_block;

#define N_STAGE 2 /* page-locked staging buffers, filled in turn */

struct tf_stream {
    int L, P;
    bool host; /* madvise path */
    const ltx_st_file *f;
    ltx_lora_set lora;     /* n == 0: no LoRA */
    ltx_dtype lora_target; /* LTX_DTYPE_COUNT: each weight's checkpoint dtype */
    /* device path (interface v2): copy stream, staging, ordering events */
    ltx_stream *copy;
    void *stage[N_STAGE];
    ltx_event *stage_event[N_STAGE]; /* upload out of stage[k] done */
    int next_stage;
    size_t stage_bytes;
    ltx_event *compute_event;
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
        for (size_t o = 0; o < n; o += (size_t)s->page)
            sink ^= p[o];
        if (n) sink ^= p[n - 1];
    }
    (void)sink;
}

static void *touch_main(void *arg)
{
    tf_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->q_len == 0)
            pthread_cond_wait(&s->cv, &s->mu);
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

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Device path: block i's bytes mapping -> staging -> device on the copy stream. */
static ltx_status upload_block(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    ltx_backend *be = m->be;
    st_block *b = &s->blocks[i];
    int k = s->next_stage;
    s->next_stage = (k + 1) % N_STAGE;
    /* the host may refill stage[k] only once its previous upload is done (a host sync) */
    LTX_TRY(ltx_backend_event_synchronize(be, s->stage_event[k]));
    /* buffers come from the compute stream's cache: order the copies after the compute
     * enqueued so far (the last reader of a freed block) */
    LTX_TRY(be->ops->event_record(be, s->compute_event, NULL));
    LTX_TRY(be->ops->stream_wait_event(be, s->copy, s->compute_event));
    char *stg = s->stage[k];
    size_t off = 0;
    for (int w = 0; w < b->n; w++) {
        st_weight *sw = &b->w[w];
        const ltx_st_entry *e = sw->e;
        void *handle = NULL;
        if (sw->lora) {
            sw->base = ltx_tensor_new(be, e->dtype, e->ndim, e->shape);
            if (!sw->base) return ltx_err_context(ltx_err_failed(), "streaming block %d: ", i);
            handle = sw->base->buf->handle;
        } else if (!sw->t->buf) {
            sw->t->buf = ltx_buffer_new(be, e->nbytes);
            if (!sw->t->buf) return ltx_err_context(ltx_err_failed(), "streaming block %d: ", i);
            sw->t->offset = 0;
            handle = sw->t->buf->handle;
        } else {
            continue;
        }
        memcpy(stg + off, e->data, e->nbytes);
        if (e->shard >= 0 && e->shard < s->f->nshards && s->f->shards[e->shard].mapped) {
            /* the mapped pages were only needed for the staging copy: out of this process */
            uintptr_t pa, pe;
            page_range(s, e, true, &pa, &pe);
            if (pe > pa) (void)madvise((void *)pa, pe - pa, MADV_DONTNEED);
        }
        LTX_TRY(be->ops->upload_async(be, handle, 0, stg + off, e->nbytes, s->copy));
        off += align64(e->nbytes);
    }
    LTX_TRY(be->ops->event_record(be, s->stage_event[k], s->copy));
    return be->ops->event_record(be, b->event, s->copy);
}

/* Brings block i in (host: advice or queued touch; device: upload on the copy stream). */
static ltx_status fetch(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    st_block *b = &s->blocks[i];
    if (b->in) return LTX_OK;
    b->in = true;
    b->ready = false;
    s->stats.fetches++;
    s->stats.fetched_bytes += (int64_t)b->bytes;
    if (!s->host) return upload_block(m, i);
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

/* The fused weight of sw from `base` (the checkpoint's bytes), bound into the model's tensor. */
static ltx_status fuse_weight(ltx_transformer *m, st_weight *sw, const ltx_tensor *base)
{
    tf_stream *s = m->stream;
    ltx_lora_set set = s->lora; /* a copy: the hook's counters are not needed here */
    set.target_dtype = s->lora_target == LTX_DTYPE_COUNT ? sw->e->dtype : s->lora_target;
    ltx_tensor *r = NULL;
    LTX_TRY(ltx_lora_weight_hook(&set, m->be, sw->t->name, base, &r));
    if (!r) return ltx_err(LTX_ERR_INVALID_ARG, "streaming: %s is not covered", sw->t->name);
    ltx_tensor *t = sw->t;
    if (t->buf) ltx_buffer_release(t->buf);
    t->buf = r->buf;
    ltx_buffer_retain(t->buf);
    t->dtype = r->dtype;
    t->offset = r->offset;
    ltx_tensor_free(r);
    return LTX_OK;
}

/* Makes block i usable by the compute: the compute stream waits for its uploads (no host
 * wait) and its LoRA weights are fused. */
static ltx_status make_ready(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    st_block *b = &s->blocks[i];
    if (b->ready) return LTX_OK;
    if (!s->host) LTX_TRY(m->be->ops->stream_wait_event(m->be, NULL, b->event));
    for (int k = 0; k < b->n; k++) {
        st_weight *sw = &b->w[k];
        if (!sw->lora) continue;
        ltx_tensor *view = NULL;
        const ltx_tensor *base = sw->base;
        if (s->host) { /* a view of the mapping */
            view = ltx_st_tensor(s->f, m->be, sw->e->name);
            if (!view) return ltx_err_context(ltx_err_failed(), "streaming block %d: ", i);
            base = view;
        }
        ltx_status st = fuse_weight(m, sw, base);
        ltx_tensor_free(view);
        ltx_tensor_free(sw->base);
        sw->base = NULL;
        LTX_TRY(st);
    }
    b->ready = true;
    return LTX_OK;
}

/* Evicts block i. */
static void evict(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    st_block *b = &s->blocks[i];
    b->in = false;
    s->stats.evictions++;
    b->ready = false;
    for (int k = 0; k < b->n; k++) {
        st_weight *sw = &b->w[k];
        if (s->host && !sw->lora) {
            uintptr_t a, e;
            page_range(s, sw->e, true, &a, &e);
            if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
        } else if (sw->t->buf) { /* a device copy or a fused weight: back to the cache */
            ltx_buffer_release(sw->t->buf);
            sw->t->buf = NULL;
        }
        ltx_tensor_free(sw->base);
        sw->base = NULL;
    }
}

ltx_status ltx_tf_stream_before(ltx_transformer *m, int block)
{
    tf_stream *s = m->stream;
    if (!s) return LTX_OK;
    /* block itself first, then the P coming ones (uploads queued on the copy stream) */
    for (int j = 0; j <= s->P; j++)
        LTX_TRY(fetch(m, (block + j) % s->L));
    return make_ready(m, block);
}

void ltx_tf_stream_after(ltx_transformer *m, int block)
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

/* Brings every block back (restore: streaming off with the weights usable) and drops the
 * state. */
static ltx_status stream_drop(ltx_transformer *m, bool restore)
{
    tf_stream *s = m->stream;
    if (!s) return LTX_OK;
    stop_thread(s);
    ltx_status st = LTX_OK;
    bool lora = s->lora.n > 0;
    for (int i = 0; restore && (!s->host || lora) && i < s->L && st == LTX_OK; i++) {
        if (s->blocks && s->blocks[i].w) {
            st = fetch(m, i);
            if (st == LTX_OK) st = make_ready(m, i);
        }
    }
    if (s->copy) { /* finish the queued copies before their sources and targets go */
        ltx_status ss = ltx_backend_stream_synchronize(m->be, s->copy);
        if (ss != LTX_OK && st == LTX_OK) st = ss; /* the stream's own code (device, ...) */
        m->be->ops->stream_destroy(m->be, s->copy);
    }
    for (int i = 0; s->blocks && i < s->L; i++) {
        for (int k = 0; k < s->blocks[i].n; k++)
            ltx_tensor_free(s->blocks[i].w[k].base);
        free(s->blocks[i].w);
        if (s->blocks[i].event) m->be->ops->event_destroy(m->be, s->blocks[i].event);
    }
    for (int k = 0; k < N_STAGE; k++) {
        if (s->stage[k]) m->be->ops->host_free_pinned(m->be, s->stage[k]);
        if (s->stage_event[k]) m->be->ops->event_destroy(m->be, s->stage_event[k]);
    }
    if (s->compute_event) m->be->ops->event_destroy(m->be, s->compute_event);
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

void ltx_tf_stream_free(ltx_transformer *m)
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
    bool same =
        ltx_tensor_download(t, tmp, t->dtype) == LTX_OK && memcmp(tmp, e->data, e->nbytes) == 0;
    free(tmp);
    return same;
}

static bool lora_covers(const ltx_lora_set *set, const char *name)
{
    const ltx_st_entry *a, *b;
    for (int i = 0; i < set->n; i++)
        if (ltx_lora_find(set->lora[i], name, &a, &b)) return true;
    return false;
}

/* Sorts block i's weights into streamed / resident; LoRA-covered weights that cannot stream
 * are fused now and stay resident. */
static ltx_status classify_block(ltx_transformer *m, int i)
{
    tf_stream *s = m->stream;
    ltx_tensor *ws[40];
    int n = block_weights(&m->blocks[i], ws);
    st_block *b = &s->blocks[i];
    b->w = calloc((size_t)n, sizeof *b->w);
    if (!b->w) return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
    for (int k = 0; k < n; k++) {
        if (!ws[k]) continue;
        char full[160];
        snprintf(full, sizeof full, PREFIX "%s", ws[k]->name);
        const ltx_st_entry *e = ltx_st_find(s->f, full);
        bool lora = s->lora.n > 0 && lora_covers(&s->lora, ws[k]->name);
        if (e && is_file_backed(m, s->f, ws[k], e)) {
            b->w[b->n++] = (st_weight){ws[k], e, lora, NULL};
            b->bytes += e->nbytes;
            s->stats.streamed_tensors++;
            continue;
        }
        s->stats.resident_tensors++;
        if (lora && e) { /* not the file's bytes (copied at load): fused once, resident */
            st_weight tmp = {ws[k], e, true, NULL};
            ltx_tensor *base = ltx_tensor_view(ws[k]);
            ltx_status st = base ? fuse_weight(m, &tmp, base) : ltx_err_failed();
            ltx_tensor_free(base);
            LTX_TRY(st);
        }
    }
    if (b->bytes > s->stats.block_bytes_max) s->stats.block_bytes_max = b->bytes;
    s->stats.streamed_bytes += (int64_t)b->bytes;
    return LTX_OK;
}

/* Device path resources: copy stream, per-block events, staging buffers and their events. */
static ltx_status device_setup(ltx_transformer *m)
{
    tf_stream *s = m->stream;
    ltx_backend *be = m->be;
    const ltx_backend_ops *o = be->ops;
    LTX_TRY(o->stream_create(be, &s->copy));
    LTX_TRY(o->event_create(be, &s->compute_event));
    for (int i = 0; i < s->L; i++)
        LTX_TRY(o->event_create(be, &s->blocks[i].event));
    for (int i = 0; i < s->L; i++) {
        size_t need = 0;
        for (int k = 0; k < s->blocks[i].n; k++)
            need += align64(s->blocks[i].w[k].e->nbytes);
        if (need > s->stage_bytes) s->stage_bytes = need;
    }
    for (int k = 0; k < N_STAGE; k++) {
        LTX_TRY(o->event_create(be, &s->stage_event[k]));
        LTX_TRY(o->host_alloc_pinned(be, s->stage_bytes ? s->stage_bytes : 64, &s->stage[k]));
    }
    return LTX_OK;
}

static void log_streaming(ltx_transformer *m)
{
    tf_stream *s = m->stream;
    if (s->stats.streamed_tensors == 0) {
        LTX_INFO(m->be->log,
                 "layer streaming: none of the %d block weights is still the "
                 "checkpoint's bytes (copied weights stay resident): no effect",
                 s->stats.resident_tensors);
        return;
    }
    LTX_INFO(m->be->log,
             "layer streaming: %d of %d block weights streamed (%.1f MiB, at most %.1f MiB per "
             "block%s), %d kept resident; %d block(s) prefetched ahead (%s); %s",
             s->stats.streamed_tensors, s->stats.streamed_tensors + s->stats.resident_tensors,
             (double)s->stats.streamed_bytes / 1048576.0,
             (double)s->stats.block_bytes_max / 1048576.0,
             s->lora.n ? ", LoRA fused per block" : "", s->stats.resident_tensors, s->P,
             s->host ? (s->thread_on ? "touch thread" : "madvise WILLNEED")
                     : "staged uploads on a copy stream",
             s->host ? "evicted with madvise DONTNEED after each block"
                     : "device copies freed after each block");
}

ltx_status ltx_transformer_set_streaming_ex(ltx_transformer *m, const ltx_st_file *f, bool on,
                                            int prefetch, ltx_prefetch_mode mode,
                                            const ltx_lora_set *loras, ltx_dtype lora_target)
{
    if (!m) return ltx_err(LTX_ERR_INVALID_ARG, "set_streaming: no model");
    if (prefetch < 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "streaming prefetch count %d (must be >= 0)", prefetch);
    LTX_TRY(stream_drop(m, true));
    if (!on) return LTX_OK;
    if (!f) return ltx_err(LTX_ERR_INVALID_ARG, "set_streaming: no checkpoint");
    int L = m->cfg.num_layers;
    if (L < 1) return LTX_OK;
    tf_stream *s = calloc(1, sizeof *s);
    if (!s) return ltx_err(LTX_ERR_OOM, "streaming: out of memory");
    s->L = L;
    s->P = prefetch < L - 1 ? prefetch : L - 1; /* ref: min(N, L - 1) */
    s->host = m->be->caps.host_visible;
    s->mode = s->host ? mode : LTX_PREFETCH_ADVISE;
    s->f = f;
    ltx_lora_set_init(&s->lora);
    if (loras) s->lora = *loras;
    s->lora_target = lora_target;
    long pg = sysconf(_SC_PAGESIZE);
    s->page = pg > 0 ? pg : 4096;
    s->blocks = calloc((size_t)L, sizeof *s->blocks);
    m->stream = s;
    ltx_status st = s->blocks ? LTX_OK : ltx_err(LTX_ERR_OOM, "streaming: out of memory");
    for (int i = 0; st == LTX_OK && i < L; i++)
        st = classify_block(m, i);
    if (st == LTX_OK && !s->host) st = device_setup(m);
    if (st == LTX_OK && s->mode == LTX_PREFETCH_TOUCH) {
        s->queue = malloc(sizeof(int) * (size_t)L);
        if (!s->queue) {
            st = ltx_err(LTX_ERR_OOM, "streaming: out of memory");
        } else {
            pthread_mutex_init(&s->mu, NULL);
            pthread_cond_init(&s->cv, NULL);
            s->thread_on = pthread_create(&s->thread, NULL, touch_main, s) == 0;
        }
    }
    if (st != LTX_OK) {
        stream_drop(m, false);
        return st;
    }
    /* Start from nothing resident: pages touched while loading go. */
    for (int i = 0; i < L; i++)
        evict(m, i);
    s->stats.evictions = 0;
    log_streaming(m);
    return LTX_OK;
}

ltx_status ltx_transformer_set_streaming(ltx_transformer *m, const ltx_st_file *f,
                                         int prefetch_count, ltx_prefetch_mode mode)
{
    return ltx_transformer_set_streaming_ex(m, f, prefetch_count != 0, prefetch_count, mode, NULL,
                                            LTX_DTYPE_COUNT);
}

void ltx_transformer_stream_stats(const ltx_transformer *m, ltx_stream_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m && m->stream) {
        *out = m->stream->stats;
        out->prefetch = m->stream->P;
    }
}

bool ltx_transformer_streams_weight(const char *name, int ndim)
{
    /* block linear weights are the only 2-D "<...>.weight" tensors inside transformer_blocks
     * (tables are "...scale_shift_table", norms are 1-D) — exactly block_weights()' set */
    static const char pre[] = "transformer_blocks.", suf[] = ".weight";
    size_t n = strlen(name);
    return ndim == 2 && !strncmp(name, pre, sizeof pre - 1) && n > sizeof suf - 1 &&
           !strcmp(name + n - (sizeof suf - 1), suf);
}
