/*
 * test_backend_streams.c — interface v2 on the CPU backends: copy streams run their work in
 * submission order on a worker thread, events order streams against each other and against the
 * host, host syncs are counted, pinned staging works, cpu-restricted keeps device memory hidden;
 * and the supports() query answers from each flavour's caps.
 */
#include "harness.h"

#include "backend/backend.h"
#include "core/tensor.h"

#include <stdint.h>
#include <time.h>

static ltx_backend *open_be(const char *dev)
{
    ltx_backend *be = NULL;
    if (ltx_backend_create(dev, NULL, NULL, false, &be) != LTX_OK) abort();
    return be;
}

static const char *const devs[] = {"cpu", "cpu-restricted"};

/* Many chunked uploads on one stream land in order: later chunks overwrite earlier ones. */
TEST(stream_copies_run_in_order)
{
    for (int di = 0; di < 2; di++) {
        ltx_backend *be = open_be(devs[di]);
        const ltx_backend_ops *o = be->ops;
        enum { N = 1 << 20 };
        void *dev = NULL;
        CHECK(o->buffer_alloc(be, N * 4, &dev) == LTX_OK);
        uint32_t *src[8];
        ltx_stream *s = NULL;
        CHECK(o->stream_create(be, &s) == LTX_OK);
        for (int k = 0; k < 8; k++) {
            CHECK(o->host_alloc_pinned(be, N * 4, (void **)&src[k]) == LTX_OK);
            for (int i = 0; i < N; i++)
                src[k][i] = (uint32_t)(k * 1000003u + (uint32_t)i);
            CHECK(o->upload_async(be, dev, 0, src[k], N * 4, s) == LTX_OK);
        }
        uint32_t *back = NULL;
        CHECK(o->host_alloc_pinned(be, N * 4, (void **)&back) == LTX_OK);
        CHECK(o->download_async(be, dev, 0, back, N * 4, s) == LTX_OK);
        uint64_t syncs = be->n_host_syncs;
        CHECK(ltx_backend_stream_synchronize(be, s) == LTX_OK);
        CHECK(be->n_host_syncs == syncs + 1);
        bool ok = true;
        for (int i = 0; i < N; i++)
            ok &= back[i] == (uint32_t)(7 * 1000003u + (uint32_t)i);
        CHECK_MSG(ok, "%s: last upload wins", devs[di]);
        for (int k = 0; k < 8; k++)
            o->host_free_pinned(be, src[k]);
        o->host_free_pinned(be, back);
        o->stream_destroy(be, s);
        o->buffer_free(be, dev);
        ltx_backend_destroy(be);
    }
}

/* Stream b waits on an event recorded on stream a after a's upload: b's download then sees the
 * uploaded data even though b never synchronised with the host. */
TEST(stream_wait_event_orders_streams)
{
    for (int di = 0; di < 2; di++) {
        ltx_backend *be = open_be(devs[di]);
        const ltx_backend_ops *o = be->ops;
        enum { N = 1 << 22 };
        void *dev = NULL;
        CHECK(o->buffer_alloc(be, N, &dev) == LTX_OK);
        CHECK(o->fill != NULL);
        unsigned char *src = malloc(N), *dst = malloc(N);
        memset(src, 0xab, N);
        memset(dst, 0, N);
        ltx_stream *a = NULL, *b = NULL;
        ltx_event *e = NULL;
        CHECK(o->stream_create(be, &a) == LTX_OK && o->stream_create(be, &b) == LTX_OK);
        CHECK(o->event_create(be, &e) == LTX_OK);
        for (int rep = 0; rep < 4; rep++) /* 16 MiB of copies queued before the event */
            CHECK(o->upload_async(be, dev, 0, src, N, a) == LTX_OK);
        CHECK(o->event_record(be, e, a) == LTX_OK);
        CHECK(o->stream_wait_event(be, b, e) == LTX_OK);
        CHECK(o->download_async(be, dev, 0, dst, N, b) == LTX_OK);
        uint64_t syncs = be->n_host_syncs;
        CHECK(ltx_backend_stream_synchronize(be, b) == LTX_OK);
        CHECK(be->n_host_syncs == syncs + 1);
        CHECK(dst[0] == 0xab && dst[N - 1] == 0xab);
        /* an event synchronize is a host sync too */
        CHECK(ltx_backend_event_synchronize(be, e) == LTX_OK);
        CHECK(be->n_host_syncs == syncs + 2);
        o->event_destroy(be, e);
        o->stream_destroy(be, a);
        o->stream_destroy(be, b);
        o->event_destroy(be, NULL);
        o->stream_destroy(be, NULL);
        o->buffer_free(be, dev);
        free(src);
        free(dst);
        ltx_backend_destroy(be);
    }
}

/* The compute stream (NULL) waiting on a copy-stream event blocks until the copy is done; the
 * host's later read through a blocking download sees the data. A copy stream is a real thread:
 * while it works, the host thread runs on. */
TEST(compute_waits_for_copy_stream)
{
    ltx_backend *be = open_be("cpu-restricted");
    const ltx_backend_ops *o = be->ops;
    enum { N = 1 << 24 };
    int64_t shape[1] = {N / 4};
    ltx_tensor *t = ltx_tensor_new(be, LTX_F32, 1, shape);
    CHECK(ltx_tensor_host(t) == NULL); /* restricted: device memory stays hidden */
    float *src = NULL;
    CHECK(o->host_alloc_pinned(be, N, (void **)&src) == LTX_OK);
    for (int i = 0; i < N / 4; i++)
        src[i] = (float)i;
    ltx_stream *s = NULL;
    ltx_event *e = NULL;
    CHECK(o->stream_create(be, &s) == LTX_OK && o->event_create(be, &e) == LTX_OK);
    uint64_t syncs = be->n_host_syncs;
    for (int rep = 0; rep < 8; rep++)
        CHECK(o->upload_async(be, t->buf->handle, 0, src, N, s) == LTX_OK);
    CHECK(o->event_record(be, e, s) == LTX_OK);
    CHECK(o->stream_wait_event(be, NULL, e) == LTX_OK); /* compute waits: no host sync */
    CHECK(be->n_host_syncs == syncs);
    ltx_tensor *r = ltx_tensor_new(be, LTX_F32, 1, shape);
    CHECK(be->ops->unary(be, LTX_UNARY_SCALE, r, t, 2.0, 0.0) == LTX_OK);
    float last = 0;
    ltx_tensor *tail = ltx_tensor_slice(r, 0, N / 4 - 1, N / 4, 1);
    CHECK(ltx_tensor_download(tail, &last, LTX_F32) == LTX_OK); /* one blocking download */
    CHECK(be->n_host_syncs == syncs + 1);
    CHECK(last == 2.0f * (float)(N / 4 - 1));
    ltx_tensor_free(tail);
    ltx_tensor_free(r);
    ltx_tensor_free(t);
    o->event_destroy(be, e);
    o->stream_destroy(be, s);
    o->host_free_pinned(be, src);
    uint64_t before = be->n_host_syncs;
    CHECK(ltx_backend_synchronize(be) == LTX_OK);
    CHECK(ltx_backend_host_syncs(be) == before + 1);
    ltx_backend_destroy(be);
}

/* A never-recorded event and an event recorded on the compute stream are complete at once;
 * stream_synchronize(NULL) counts a sync and returns. */
TEST(events_trivial_cases)
{
    ltx_backend *be = open_be("cpu");
    const ltx_backend_ops *o = be->ops;
    ltx_event *e = NULL;
    CHECK(o->event_create(be, &e) == LTX_OK);
    CHECK(ltx_backend_event_synchronize(be, e) == LTX_OK);
    CHECK(o->event_record(be, e, NULL) == LTX_OK);
    CHECK(o->stream_wait_event(be, NULL, e) == LTX_OK);
    CHECK(ltx_backend_stream_synchronize(be, NULL) == LTX_OK);
    CHECK(be->n_host_syncs == 2);
    o->event_destroy(be, e);
    /* a stream left open is shut down with the backend */
    ltx_stream *s = NULL;
    CHECK(o->stream_create(be, &s) == LTX_OK);
    ltx_backend_destroy(be);
}

/* ---- supports() ---- */

static ltx_tensor *dummy(ltx_backend *be, ltx_dtype dt)
{
    /* query descriptors only: the memory is never read, so a tiny buffer of any dtype the
     * host can describe serves (restricted lacks f64 storage: build it on a "cpu" backend) */
    int64_t shape[2] = {2, 4};
    return ltx_tensor_new(be, dt, 2, shape);
}

TEST(supports_answers_from_caps)
{
    ltx_backend *cpu = open_be("cpu"), *res = open_be("cpu-restricted");
    ltx_tensor *f = dummy(cpu, LTX_F32), *d = dummy(cpu, LTX_F64), *h = dummy(cpu, LTX_BF16);
    ltx_tensor *i32 = dummy(cpu, LTX_I32);
    ltx_op_query q = {LTX_OP_BINARY, LTX_BINARY_ADD, d, {d, d}};
    CHECK(ltx_backend_supports(cpu, &q));
    CHECK(!ltx_backend_supports(res, &q)); /* no float64 on cpu-restricted */
    q = (ltx_op_query){LTX_OP_AXPBY, -1, d, {d, f}};
    CHECK(ltx_backend_supports(cpu, &q) && !ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_BINARY, LTX_BINARY_ADD, f, {f, h}};
    CHECK(ltx_backend_supports(cpu, &q) && ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_BINARY, LTX_BINARY_COUNT, f, {f, f}};
    CHECK(!ltx_backend_supports(cpu, &q)); /* sub-op out of range */
    q = (ltx_op_query){LTX_OP_UNARY, LTX_UNARY_EXP, f, {i32}};
    CHECK(!ltx_backend_supports(cpu, &q)); /* integer math is not an op */
    q = (ltx_op_query){LTX_OP_COPY, -1, f, {i32}};
    CHECK(ltx_backend_supports(cpu, &q) && ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_COPY, -1, d, {f}};
    CHECK(ltx_backend_supports(cpu, &q) && !ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_LINEAR, -1, f, {f, h, NULL}};
    CHECK(ltx_backend_supports(cpu, &q) && ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_LINEAR_ACT, LTX_UNARY_GELU_TANH, f, {f, h, f}};
    CHECK(ltx_backend_supports(res, &q));
    q.sub = LTX_UNARY_EXP; /* not an epilogue activation */
    CHECK(!ltx_backend_supports(cpu, &q));
    q = (ltx_op_query){LTX_OP_MATMUL, -1, f, {f, d}};
    CHECK(!ltx_backend_supports(cpu, &q)); /* matmul is f32 only */
    q = (ltx_op_query){LTX_OP_NORM_MODULATE, LTX_NORM_GROUP, f, {f, f, f}};
    CHECK(!ltx_backend_supports(cpu, &q));
    q.sub = LTX_NORM_LAYER;
    CHECK(ltx_backend_supports(cpu, &q) && ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_GATED_ADD, -1, f, {f, f, NULL}};
    CHECK(ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_QK_NORM_ROPE, LTX_ROPE_SPLIT, f, {f, h, f, f}};
    CHECK(ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_REDUCE, LTX_REDUCE_SUM, d, {d}};
    CHECK(ltx_backend_supports(cpu, &q) && !ltx_backend_supports(res, &q));
    q = (ltx_op_query){LTX_OP_COUNT, -1, f, {f}};
    CHECK(!ltx_backend_supports(cpu, &q));
    CHECK(!ltx_backend_supports(cpu, NULL));
    ltx_tensor_free(f);
    ltx_tensor_free(d);
    ltx_tensor_free(h);
    ltx_tensor_free(i32);
    ltx_backend_destroy(cpu);
    ltx_backend_destroy(res);
}

TEST(precision_names_and_built_list)
{
    ltx_precision p = LTX_PRECISION_F32;
    CHECK(ltx_precision_parse("bf16", &p) && p == LTX_PRECISION_BF16);
    CHECK(ltx_precision_parse("f32", &p) && p == LTX_PRECISION_F32);
    CHECK(!ltx_precision_parse("fp16", &p) && !ltx_precision_parse(NULL, &p));
    CHECK(!strcmp(ltx_precision_name(LTX_PRECISION_BF16), "bf16"));
    const char *const *b = ltx_backend_built();
    CHECK(!strcmp(b[0], "cpu") && !strcmp(b[1], "cpu-restricted"));
#ifdef LTX_HAVE_CUDA
    CHECK(b[2] && !strcmp(b[2], "cuda"));
#else
    CHECK(b[2] == NULL);
#endif
    ltx_backend *be = open_be("cpu");
    CHECK(be->precision == LTX_PRECISION_F32); /* the CPU default */
    ltx_backend_destroy(be);
}

TEST_MAIN()
