/*
 * models.c — how a run gets its models: from the engine's model cache (p->cache, see
 * src/api/model_cache.h) when it holds the same model loaded from the same open checkpoint
 * with the same variant, else loaded now and handed to the cache when it has room; a model
 * the cache did not take is freed by its stage as before (ltx_pipe_model_done). With no cache
 * (p->cache NULL or budget 0: the CLI, golden replays) every call loads and every stage frees,
 * exactly as without this file. Load (or lookup) time and hits/misses are summed into p.
 *
 * Models of a checkpoint wrap its mapping on the CPU, so their cache entries are children of
 * the cached checkpoint file (the run's ckpt handle is itself a cache entry when caching is on:
 * src/api/generate.c); a model of a file the cache does not hold is never cached.
 * No reference counterpart (the reference loads every model per pipeline run).
 */
#include "pipelines/stages.h"

#include "api/model_cache.h"
#include "models/audio_vae.h"
#include "models/upsampler.h"
#include "models/video_vae.h"
#include "models/vocoder.h"

#include <string.h>

size_t ltx_pipe_weight_bytes(const ltx_st_file *f, const char *const *include,
                             const char *const *exclude)
{
    size_t total = 0;
    for (int i = 0; i < ltx_st_count(f); i++) {
        const ltx_st_entry *e = ltx_st_at(f, i);
        bool in = !include, out = false;
        for (int k = 0; include && include[k] && !in; k++)
            in = !strncmp(e->name, include[k], strlen(include[k]));
        for (int k = 0; exclude && exclude[k] && !out; k++)
            out = !strncmp(e->name, exclude[k], strlen(exclude[k]));
        if (in && !out) total += e->nbytes;
    }
    return total;
}

bool ltx_pipe_caching(const ltx_pipe *p)
{
    return p->cache && ltx_model_cache_budget(p->cache) > 0 && !p->record;
}

void *ltx_pipe_cache_get(ltx_pipe *p, const char *kind, const ltx_st_file *f, const char *variant)
{
    if (!ltx_pipe_caching(p)) return NULL;
    ltx_cache_key k = {.kind = kind, .variant = variant, .parent = f};
    void *obj = ltx_model_cache_get(p->cache, &k);
    if (obj)
        p->cache_hits++;
    else
        p->cache_misses++;
    return obj;
}

void ltx_pipe_cache_put(ltx_pipe *p, const char *kind, const ltx_st_file *f, const char *variant,
                        void *obj, size_t bytes, void (*free_fn)(void *))
{
    if (!ltx_pipe_caching(p)) return;
    ltx_cache_key k = {.kind = kind, .variant = variant, .parent = f};
    ltx_model_cache_put(p->cache, &k, obj, bytes, free_fn);
}

void ltx_pipe_cache_reserve(ltx_pipe *p, size_t bytes)
{
    if (ltx_pipe_caching(p)) ltx_model_cache_reserve(p->cache, bytes);
}

bool ltx_pipe_model_done(ltx_pipe *p, const void *model)
{
    return model && p->cache && ltx_model_cache_release(p->cache, model);
}

/* ---- the VAE-side models: one loader per kind, behind one cached getter ---- */

typedef ltx_status (*load_fn)(ltx_backend *be, const ltx_st_file *f, void **out);
typedef void (*free_fn)(void *obj);

#define LOADER(name, type, load, release)                                                          \
    static ltx_status name##_load(ltx_backend *be, const ltx_st_file *f, void **out)               \
    {                                                                                              \
        type *m = NULL;                                                                            \
        ltx_status s = load(be, f, &m);                                                            \
        *out = m;                                                                                  \
        return s;                                                                                  \
    }                                                                                              \
    static void name##_free(void *m)                                                               \
    {                                                                                              \
        release((type *)m);                                                                        \
    }

LOADER(venc, ltx_video_encoder, ltx_video_encoder_load, ltx_video_encoder_free)
LOADER(vdec, ltx_video_decoder, ltx_video_decoder_load, ltx_video_decoder_free)
LOADER(aenc, ltx_audio_encoder, ltx_audio_encoder_load, ltx_audio_encoder_free)
LOADER(adec, ltx_audio_decoder, ltx_audio_decoder_load, ltx_audio_decoder_free)
LOADER(voc, ltx_vocoder, ltx_vocoder_load, ltx_vocoder_free)
LOADER(ups, ltx_latent_upsampler, ltx_latent_upsampler_load, ltx_latent_upsampler_free)

typedef struct model_kind {
    const char *kind;
    const char *prefix[3]; /* the checkpoint tensors it loads (NULL prefix[0]: the whole file) */
    load_fn load;
    free_fn release;
} model_kind;

static const model_kind KINDS[] = {
    {"video_encoder", {"vae.encoder.", "vae.per_channel_statistics.", NULL}, venc_load, venc_free},
    {"video_decoder", {"vae.decoder.", "vae.per_channel_statistics.", NULL}, vdec_load, vdec_free},
    {"audio_encoder",
     {"audio_vae.encoder.", "audio_vae.per_channel_statistics.", NULL},
     aenc_load,
     aenc_free},
    {"audio_decoder",
     {"audio_vae.decoder.", "audio_vae.per_channel_statistics.", NULL},
     adec_load,
     adec_free},
    {"vocoder", {"vocoder.", NULL, NULL}, voc_load, voc_free},
    {"upsampler", {NULL, NULL, NULL}, ups_load, ups_free},
};

/* The model of kind KINDS[i] from f: cached or loaded (and offered to the cache). */
static ltx_status get_model(ltx_pipe *p, int i, const ltx_st_file *f, void **out)
{
    const model_kind *k = &KINDS[i];
    double t0 = ltx_pipe_now();
    *out = ltx_pipe_cache_get(p, k->kind, f, NULL);
    if (!*out) {
        size_t bytes = ltx_pipe_weight_bytes(f, k->prefix[0] ? k->prefix : NULL, NULL);
        ltx_pipe_cache_reserve(p, bytes);
        LTX_TRY(k->load(p->be, f, out));
        ltx_pipe_cache_put(p, k->kind, f, NULL, *out, bytes, k->release);
    }
    p->vae_load_s += ltx_pipe_now() - t0;
    return LTX_OK;
}

/* The typed getters of the header, one per KINDS entry. */
#define GETTER(fn, type, index)                                                                    \
    ltx_status fn(ltx_pipe *p, const ltx_st_file *f, type **out)                                   \
    {                                                                                              \
        void *m = NULL;                                                                            \
        ltx_status s = get_model(p, index, f, &m);                                                 \
        *out = m;                                                                                  \
        return s;                                                                                  \
    }

GETTER(ltx_pipe_video_encoder, ltx_video_encoder, 0)
GETTER(ltx_pipe_video_decoder, ltx_video_decoder, 1)
GETTER(ltx_pipe_audio_encoder, ltx_audio_encoder, 2)
GETTER(ltx_pipe_audio_decoder, ltx_audio_decoder, 3)
GETTER(ltx_pipe_vocoder, ltx_vocoder, 4)
GETTER(ltx_pipe_upsampler, ltx_latent_upsampler, 5)
