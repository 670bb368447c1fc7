/*
 * test_tensor.c — tensor descriptors, views and data movement (src/core/tensor.c) on "cpu" and
 * "cpu-restricted": view shapes/strides/offsets against hand-computed values, error paths,
 * strided downloads (through the backend copy), dtype conversion on upload/download, wrap_host
 * zero-copy vs copy, cross-backend ltx_tensor_to, views outliving their parent.
 */
#include "harness.h"

#include "backend/backend.h"

#include <stdint.h>

static ltx_backend *mk(bool restricted)
{
    ltx_backend *be = NULL;
    if (ltx_cpu_backend_create(restricted, NULL, NULL, &be) != LTX_OK) abort();
    return be;
}

/* (2, 3, 4) tensor holding 0..23 */
static ltx_tensor *iota(ltx_backend *be)
{
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i;
    int64_t sh[3] = {2, 3, 4};
    return ltx_tensor_from_host(be, LTX_F32, 3, sh, v);
}

TEST(construction_and_roundtrip)
{
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        ltx_tensor *t = iota(be);
        CHECK(t && t->ndim == 3 && t->stride[0] == 12 && t->stride[1] == 4 && t->stride[2] == 1);
        CHECK(ltx_tensor_numel(t) == 24 && ltx_tensor_nbytes(t) == 96);
        CHECK(ltx_tensor_is_contiguous(t));
        CHECK((ltx_tensor_host(t) != NULL) == !r);
        float *h = ltx_tensor_to_host_f32(t);
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += h[i] != (float)i;
        CHECK(bad == 0);
        free(h);
        double *hd = ltx_tensor_to_host_f64(t);
        CHECK(hd && hd[23] == 23.0);
        free(hd);
        /* upload f32 into a bf16 tensor rounds RNE; download converts back */
        int64_t sh[1] = {3};
        float in[3] = {1.00390625f /* tie -> even 1.0 */, 1.01171875f /* tie -> 1.015625 */, -3.0f};
        ltx_tensor *b = ltx_tensor_new(be, LTX_BF16, 1, sh);
        CHECK(ltx_tensor_upload(b, in, LTX_F32) == LTX_OK);
        float out[3];
        CHECK(ltx_tensor_download(b, out, LTX_F32) == LTX_OK);
        CHECK(out[0] == 1.0f && out[1] == 1.015625f && out[2] == -3.0f);
        ltx_tensor_free(b);
        /* zeros */
        ltx_tensor *z = ltx_tensor_zeros(be, LTX_F32, 3, t->shape);
        h = ltx_tensor_to_host_f32(z);
        bad = 0;
        for (int i = 0; i < 24; i++)
            bad += h[i] != 0.0f;
        CHECK(bad == 0);
        free(h);
        ltx_tensor_free(z);
        /* f64 storage only where the device has it */
        ltx_tensor *d = ltx_tensor_new(be, LTX_F64, 3, t->shape);
        CHECK((d != NULL) == !r);
        ltx_tensor_free(d);
        ltx_tensor_free(t);
        ltx_tensor_free(NULL);
        ltx_backend_destroy(be);
    }
}

TEST(slice_permute_reshape)
{
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        ltx_tensor *t = iota(be);
        /* t[:, 1:3, ::2] */
        ltx_tensor *a = ltx_tensor_slice(t, 1, 1, 3, 1);
        ltx_tensor *s = ltx_tensor_slice(a, -1, 0, 100, 2);
        CHECK(s->shape[0] == 2 && s->shape[1] == 2 && s->shape[2] == 2);
        CHECK(s->stride[2] == 2 && s->offset == 4 && !ltx_tensor_is_contiguous(s));
        float v[8];
        CHECK(ltx_tensor_download(s, v, LTX_F32) == LTX_OK);
        const float want[8] = {4, 6, 8, 10, 16, 18, 20, 22};
        CHECK(memcmp(v, want, sizeof v) == 0);
        /* negative start, empty slice, errors */
        ltx_tensor *e = ltx_tensor_slice(t, 2, -1, 4, 1);
        CHECK(e && e->shape[2] == 1 && e->offset == 3);
        ltx_tensor_free(e);
        e = ltx_tensor_slice(t, 2, 4, 4, 1);
        CHECK(e && e->shape[2] == 0 && ltx_tensor_numel(e) == 0);
        ltx_tensor_free(e);
        CHECK(ltx_tensor_slice(t, 3, 0, 1, 1) == NULL);
        CHECK(ltx_tensor_slice(t, 0, 0, 1, 0) == NULL);
        CHECK(ltx_tensor_slice(t, 0, 2, 1, 1) == NULL);
        /* permute (2,0,1) -> shape (4,2,3) */
        int perm[3] = {2, 0, 1};
        ltx_tensor *p = ltx_tensor_permute(t, perm);
        CHECK(p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3);
        CHECK(p->stride[0] == 1 && p->stride[1] == 12 && p->stride[2] == 4);
        float pv[24];
        CHECK(ltx_tensor_download(p, pv, LTX_F32) == LTX_OK);
        int bad = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 3; k++)
                    bad += pv[(i * 2 + j) * 3 + k] != (float)(j * 12 + k * 4 + i);
        CHECK(bad == 0);
        int badperm[3] = {0, 0, 1};
        CHECK(ltx_tensor_permute(t, badperm) == NULL);
        ltx_tensor *tr = ltx_tensor_transpose(t, -1, 0);
        CHECK(tr->shape[0] == 4 && tr->shape[2] == 2 && tr->stride[0] == 1 && tr->stride[2] == 12);
        /* reshape: contiguous only, one -1 */
        int64_t rs[2] = {-1, 6};
        ltx_tensor *q = ltx_tensor_reshape(t, 2, rs);
        CHECK(q && q->shape[0] == 4 && q->stride[0] == 6);
        int64_t rs2[2] = {5, 5}, rs3[2] = {-1, -1};
        CHECK(ltx_tensor_reshape(t, 2, rs2) == NULL);
        CHECK(ltx_tensor_reshape(t, 2, rs3) == NULL);
        CHECK(ltx_tensor_reshape(p, 2, rs) == NULL); /* not contiguous */
        /* a slice along dim 0 of a contiguous tensor is contiguous and reshapeable */
        ltx_tensor *row = ltx_tensor_slice(t, 0, 1, 2, 1);
        CHECK(ltx_tensor_is_contiguous(row));
        int64_t flat[1] = {12};
        ltx_tensor *rf = ltx_tensor_reshape(row, 1, flat);
        CHECK(rf && rf->offset == 12);
        ltx_tensor_free(rf);
        ltx_tensor_free(row);
        ltx_tensor_free(q);
        ltx_tensor_free(tr);
        ltx_tensor_free(p);
        ltx_tensor_free(s);
        ltx_tensor_free(a);
        ltx_tensor_free(t);
        ltx_backend_destroy(be);
    }
}

TEST(unsqueeze_expand_and_views_outlive_parent)
{
    for (int r = 0; r < 2; r++) {
        ltx_backend *be = mk(r);
        ltx_tensor *t = iota(be);
        ltx_tensor *u0 = ltx_tensor_unsqueeze(t, 0), *u2 = ltx_tensor_unsqueeze(t, -1);
        CHECK(u0->ndim == 4 && u0->shape[0] == 1 && u0->shape[1] == 2);
        CHECK(u2->ndim == 4 && u2->shape[3] == 1 && ltx_tensor_is_contiguous(u2));
        /* (3, 1) -> expand (2, 3, 4) */
        ltx_tensor *col = ltx_tensor_slice(t, 2, 1, 2, 1);  /* (2, 3, 1) */
        ltx_tensor *c0 = ltx_tensor_slice(col, 0, 0, 1, 1); /* (1, 3, 1) */
        int64_t es[3] = {2, 3, 4};
        ltx_tensor *e = ltx_tensor_expand(c0, 3, es);
        CHECK(e && e->stride[0] == 0 && e->stride[2] == 0 && e->stride[1] == 4);
        float v[24];
        ltx_tensor_free(t); /* views keep the buffer alive */
        ltx_tensor_free(col);
        CHECK(ltx_tensor_download(e, v, LTX_F32) == LTX_OK);
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += v[i] != (float)(((i / 4) % 3) * 4 + 1);
        CHECK(bad == 0);
        int64_t es_bad[3] = {2, 5, 4};
        CHECK(ltx_tensor_expand(c0, 3, es_bad) == NULL);
        int64_t es4[4] = {5, 2, 3, 4};
        ltx_tensor *e4 = ltx_tensor_expand(u0, 4, es4);
        CHECK(e4 && e4->stride[0] == 0 && ltx_tensor_numel(e4) == 120);
        /* upload into a non-contiguous tensor is refused */
        CHECK(ltx_tensor_upload(e, v, LTX_F32) == LTX_ERR_INVALID_ARG);
        /* strided download with conversion */
        uint16_t hb[24];
        CHECK(ltx_tensor_download(e, hb, LTX_BF16) == LTX_OK);
        CHECK(ltx_bf16_to_f32(hb[5]) == v[5]);
        ltx_tensor_free(e4);
        ltx_tensor_free(e);
        ltx_tensor_free(c0);
        ltx_tensor_free(u0);
        ltx_tensor_free(u2);
        ltx_backend_destroy(be);
    }
}

TEST(wrap_host_and_cross_backend)
{
    ltx_backend *cpu = mk(false), *res = mk(true);
    float host[6] = {1, 2, 3, 4, 5, 6};
    int64_t sh[2] = {2, 3};
    ltx_tensor *wc = ltx_tensor_wrap_host(cpu, LTX_F32, 2, sh, host);
    ltx_tensor *wr = ltx_tensor_wrap_host(res, LTX_F32, 2, sh, host);
    CHECK(ltx_tensor_host(wc) == (void *)host && wc->buf->borrowed);
    CHECK(ltx_tensor_host(wr) == NULL && !wr->buf->borrowed);
    host[0] = 100; /* the cpu wrap aliases, the restricted one copied */
    float a[6], b[6];
    CHECK(ltx_tensor_download(wc, a, LTX_F32) == LTX_OK && a[0] == 100);
    CHECK(ltx_tensor_download(wr, b, LTX_F32) == LTX_OK && b[0] == 1);
    /* restricted -> cpu via the host, transposed and converted */
    ltx_tensor *tr = ltx_tensor_transpose(wr, 0, 1);
    ltx_tensor *moved = ltx_tensor_to(tr, cpu, LTX_BF16);
    CHECK(moved && moved->buf->be == cpu && moved->dtype == LTX_BF16 && moved->shape[0] == 3);
    float m[6];
    CHECK(ltx_tensor_download(moved, m, LTX_F32) == LTX_OK);
    CHECK(m[0] == 1 && m[1] == 4 && m[2] == 2 && m[5] == 6);
    char buf[64];
    CHECK(strcmp(ltx_tensor_shape_str(moved, buf, sizeof buf), "(3, 2) BF16") == 0);
    ltx_tensor_free(moved);
    ltx_tensor_free(tr);
    ltx_tensor_free(wc);
    ltx_tensor_free(wr);
    ltx_backend_destroy(cpu);
    ltx_backend_destroy(res);
}

TEST_MAIN()
