/*
 * audio_wsrc.c — the safetensors weight source shared by the audio models (audio VAE halves,
 * vocoder): tensors by name under a prefix, checked for shape and floating dtype.
 * No reference counterpart (the reference's state-dict loading).
 */
#include "models/audio_vae.h"

#include "core/dtype.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- weight source over a safetensors file ---------------------------------------------- */

static ltx_tensor *st_get(void *user, ltx_backend *be, const char *name, int ndim,
                          const int64_t *shape)
{
    const ltx_audio_st_src *s = user;
    const bool stats = !strncmp(name, "per_channel_statistics.", 23);
    char full[384];
    snprintf(full, sizeof full, "%s%s", stats ? s->stats_prefix : s->prefix,
             stats ? name + 23 : name);
    const ltx_st_entry *e = ltx_st_find(s->st, full);
    if (!e) {
        ltx_err(LTX_ERR_FORMAT, "%s: tensor \"%s\" is missing", ltx_st_path(s->st), full);
        return NULL;
    }
    bool ok = e->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = e->shape[i] == shape[i];
    if (!ok) {
        char want[128] = "(", *p = want + 1;
        for (int i = 0; i < ndim; i++)
            p += snprintf(p, (size_t)(want + sizeof want - p), "%s%lld", i ? ", " : "",
                          (long long)shape[i]);
        snprintf(p, (size_t)(want + sizeof want - p), ")");
        ltx_err(LTX_ERR_FORMAT, "%s: tensor \"%s\" has %d dims (first %lld), expected %s",
                ltx_st_path(s->st), full, e->ndim, (long long)(e->ndim ? e->shape[0] : 0), want);
        return NULL;
    }
    if (!ltx_dtype_is_float(e->dtype)) {
        ltx_err(LTX_ERR_FORMAT, "%s: tensor \"%s\" is not floating point", ltx_st_path(s->st),
                full);
        return NULL;
    }
    ltx_tensor *t = ltx_st_tensor(s->st, be, full);
    if (t) snprintf(t->name, sizeof t->name, "%.63s", name);
    return t;
}

ltx_audio_wsrc ltx_audio_st_src_init(ltx_audio_st_src *s, const ltx_st_file *st, const char *prefix,
                                     const char *stats_prefix)
{
    s->st = st;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "");
    snprintf(s->stats_prefix, sizeof s->stats_prefix, "%s",
             stats_prefix ? stats_prefix : s->prefix);
    return (ltx_audio_wsrc){st_get, s};
}
