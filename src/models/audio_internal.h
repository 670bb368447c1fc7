/*
 * audio_internal.h — helpers shared by the audio model files (audio_vae*.c, vocoder*.c): a
 * weight-loading context that collects the first error, and tensor-step helpers.
 * Not a public interface.
 */
#ifndef LTX_MODELS_AUDIO_INTERNAL_H
#define LTX_MODELS_AUDIO_INTERNAL_H

#include "models/audio_vae.h"
#include "nn/nn.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct audio_loader {
    ltx_backend *be;
    const ltx_audio_wsrc *src;
    ltx_status status; /* first failure; later gets are skipped */
} audio_loader;

/* Parameter `fmt...` of the given shape in its stored dtype (to_f32: converted copy). NULL once
 * any get failed (the loader keeps the first error). */
static inline ltx_tensor *audio_param(audio_loader *L, bool to_f32, int ndim, const int64_t *shape,
                                      const char *fmt, ...) LTX_PRINTF(5, 6);
static inline ltx_tensor *audio_param(audio_loader *L, bool to_f32, int ndim, const int64_t *shape,
                                      const char *fmt, ...)
{
    if (L->status != LTX_OK) return NULL;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    ltx_tensor *t = L->src->get(L->src->user, L->be, name, ndim, shape);
    if (t && to_f32 && t->dtype != LTX_F32) {
        ltx_tensor *c = ltx_tensor_to(t, L->be, LTX_F32);
        ltx_tensor_free(t);
        t = c;
        if (t) snprintf(t->name, sizeof t->name, "%.63s", name);
    }
    if (!t) L->status = ltx_err_context(ltx_err_failed(), "loading \"%s\": ", name);
    return t;
}

/* x <- expr (expr may read x); frees the old x; jumps to `fail` when the result is NULL. */
#define AUDIO_STEP(x, expr)                                                                        \
    do {                                                                                           \
        ltx_tensor *audio_n_ = (expr);                                                             \
        ltx_tensor_free(x);                                                                        \
        (x) = audio_n_;                                                                            \
        if (!(x)) goto fail;                                                                       \
    } while (0)

/* The status to return after a NULL tensor result: the op already set the message; inputs
 * are validated before any op runs, so what remains is out-of-memory or an internal error. */
#define AUDIO_OP_FAILED LTX_ERR_INTERNAL

#endif
