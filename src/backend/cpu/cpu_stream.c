/*
 * cpu_stream.c — streams, events, pinned staging and ordered transfers of the CPU backends.
 *
 * The compute stream (NULL) is the calling thread: CPU ops run synchronously, so work "on" it
 * is complete when the call returns. Every created stream is a real worker thread that runs its
 * queue in submission order (copies, event records, waits on other streams' events), so the
 * same layer-streaming code overlaps uploads with compute here and on CUDA.
 * Events are completion counters: recording on stream s captures (s, ticket = the number of
 * tasks submitted to s so far); the event is complete once s has finished that many tasks.
 * ref: the CUDA stream/event model (cudaStreamWaitEvent, cudaEventSynchronize) — the only
 * semantics the model code relies on.
 */
#include "backend/cpu/cpu_internal.h"

#include <stdlib.h>
#include <string.h>

typedef enum task_kind { TASK_COPY, TASK_WAIT } task_kind;

typedef struct cpu_task {
    task_kind kind;
    void *dst;
    const void *src;
    size_t bytes;
    ltx_stream *wait_stream; /* TASK_WAIT: block until it completed wait_ticket tasks */
    uint64_t wait_ticket;
    struct cpu_task *next;
} cpu_task;

struct ltx_stream {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on new work, on completion and on shutdown */
    cpu_task *head, *tail;
    uint64_t submitted, completed;
    bool stop;
    ltx_stream *next_stream; /* cpu_state's list */
};

struct ltx_event {
    ltx_stream *stream; /* NULL: recorded on the compute stream (complete at once) */
    uint64_t ticket;
};

/* Blocks until s has completed `ticket` tasks. */
static void stream_wait_ticket(ltx_stream *s, uint64_t ticket)
{
    pthread_mutex_lock(&s->lock);
    while (s->completed < ticket)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void *stream_worker(void *arg)
{
    ltx_stream *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!s->head) break; /* stop with an empty queue */
        cpu_task *t = s->head;
        pthread_mutex_unlock(&s->lock);
        if (t->kind == TASK_COPY)
            memcpy(t->dst, t->src, t->bytes);
        else if (t->wait_stream != s)
            stream_wait_ticket(t->wait_stream, t->wait_ticket);
        pthread_mutex_lock(&s->lock);
        s->head = t->next;
        if (!s->head) s->tail = NULL;
        s->completed++;
        free(t);
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static ltx_status stream_push(ltx_stream *s, cpu_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    s->submitted++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return LTX_OK;
}

ltx_status ltx_cpu_stream_create(ltx_backend *be, ltx_stream **out)
{
    cpu_state *st = be->impl;
    ltx_stream *s = calloc(1, sizeof *s);
    if (!s) return ltx_err(LTX_ERR_OOM, "out of memory creating a stream on %s", be->device_name);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, stream_worker, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return ltx_err(LTX_ERR_IO, "cannot start a stream thread on %s", be->device_name);
    }
    pthread_mutex_lock(&st->stream_lock);
    s->next_stream = st->streams;
    st->streams = s;
    pthread_mutex_unlock(&st->stream_lock);
    *out = s;
    return LTX_OK;
}

/* Finishes the queued work, then stops the thread (cf. cudaStreamDestroy, which also lets
 * pending work complete). */
void ltx_cpu_stream_destroy(ltx_backend *be, ltx_stream *s)
{
    if (!s) return;
    cpu_state *st = be->impl;
    pthread_mutex_lock(&st->stream_lock);
    for (ltx_stream **p = &st->streams; *p; p = &(*p)->next_stream)
        if (*p == s) {
            *p = s->next_stream;
            break;
        }
    pthread_mutex_unlock(&st->stream_lock);
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

ltx_status ltx_cpu_event_create(ltx_backend *be, ltx_event **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ltx_err(LTX_ERR_OOM, "out of memory creating an event on %s", be->device_name);
    return LTX_OK; /* a never-recorded event is complete (as CUDA) */
}

void ltx_cpu_event_destroy(ltx_backend *be, ltx_event *e)
{
    (void)be;
    free(e);
}

ltx_status ltx_cpu_event_record(ltx_backend *be, ltx_event *e, ltx_stream *s)
{
    (void)be;
    e->stream = s;
    e->ticket = 0;
    if (s) {
        pthread_mutex_lock(&s->lock);
        e->ticket = s->submitted;
        pthread_mutex_unlock(&s->lock);
    }
    return LTX_OK;
}

/* s (NULL = compute = this thread) runs nothing more until e completed; no host sync is
 * counted even where the compute "stream" is the host thread itself. */
ltx_status ltx_cpu_stream_wait_event(ltx_backend *be, ltx_stream *s, ltx_event *e)
{
    if (!e->stream) return LTX_OK; /* recorded on the compute stream: already complete */
    if (!s) {
        stream_wait_ticket(e->stream, e->ticket);
        return LTX_OK;
    }
    cpu_task *t = calloc(1, sizeof *t);
    if (!t) return ltx_err(LTX_ERR_OOM, "out of memory queueing a wait on %s", be->device_name);
    t->kind = TASK_WAIT;
    t->wait_stream = e->stream;
    t->wait_ticket = e->ticket;
    return stream_push(s, t);
}

ltx_status ltx_cpu_event_synchronize(ltx_backend *be, ltx_event *e)
{
    be->n_host_syncs++;
    if (e->stream) stream_wait_ticket(e->stream, e->ticket);
    return LTX_OK;
}

ltx_status ltx_cpu_stream_synchronize(ltx_backend *be, ltx_stream *s)
{
    be->n_host_syncs++;
    if (s) {
        pthread_mutex_lock(&s->lock);
        uint64_t ticket = s->submitted;
        pthread_mutex_unlock(&s->lock);
        stream_wait_ticket(s, ticket);
    }
    return LTX_OK;
}

ltx_status ltx_cpu_synchronize(ltx_backend *be)
{
    cpu_state *st = be->impl;
    be->n_host_syncs++;
    pthread_mutex_lock(&st->stream_lock);
    for (ltx_stream *s = st->streams; s; s = s->next_stream) {
        pthread_mutex_lock(&s->lock);
        uint64_t ticket = s->submitted;
        pthread_mutex_unlock(&s->lock);
        stream_wait_ticket(s, ticket);
    }
    pthread_mutex_unlock(&st->stream_lock);
    return LTX_OK;
}

ltx_status ltx_cpu_host_alloc_pinned(ltx_backend *be, size_t bytes, void **out)
{
    size_t sz = (bytes + 63) & ~(size_t)63;
    *out = aligned_alloc(64, sz ? sz : 64);
    if (!*out)
        return ltx_err(LTX_ERR_OOM, "cannot allocate %.1f MiB of staging memory on %s",
                       (double)bytes / (1024.0 * 1024.0), be->device_name);
    return LTX_OK;
}

void ltx_cpu_host_free_pinned(ltx_backend *be, void *p)
{
    (void)be;
    free(p);
}

static ltx_status enqueue_copy(ltx_backend *be, void *dst, const void *src, size_t bytes,
                               ltx_stream *s)
{
    if (!s) {
        memcpy(dst, src, bytes); /* compute stream: runs now, in order */
        return LTX_OK;
    }
    cpu_task *t = calloc(1, sizeof *t);
    if (!t) return ltx_err(LTX_ERR_OOM, "out of memory queueing a copy on %s", be->device_name);
    t->kind = TASK_COPY;
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    return stream_push(s, t);
}

ltx_status ltx_cpu_upload_async(ltx_backend *be, void *handle, size_t offset, const void *src,
                                size_t bytes, ltx_stream *s)
{
    return enqueue_copy(be, (char *)handle + offset, src, bytes, s);
}

ltx_status ltx_cpu_download_async(ltx_backend *be, const void *handle, size_t offset, void *dst,
                                  size_t bytes, ltx_stream *s)
{
    return enqueue_copy(be, dst, (const char *)handle + offset, bytes, s);
}
