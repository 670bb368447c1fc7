/*
 * audio_vae_internal.h — audio VAE module structs and block functions shared by
 * audio_vae_blocks.c (blocks) and audio_vae.c (encoder / decoder). Not a public interface.
 */
#ifndef LTX_MODELS_AUDIO_VAE_INTERNAL_H
#define LTX_MODELS_AUDIO_VAE_INTERNAL_H

#include "models/audio_internal.h"

typedef struct avae_conv {
    ltx_tensor *w, *b; /* (out, in, k, k) stored dtype; (out) f32 */
    int stride;
    int pad[4]; /* zero padding (w_left, w_right, h_top, h_bottom), F.pad order */
} avae_conv;

typedef struct avae_norm {
    ltx_audio_norm kind;
    ltx_tensor *w, *b; /* GroupNorm affine (f32); NULL for PixelNorm */
} avae_norm;

typedef struct avae_res {
    avae_norm norm1, norm2;
    avae_conv conv1, conv2, nin;
    bool has_nin;
} avae_res;

typedef struct avae_attn {
    bool identity;
    avae_norm norm;
    avae_conv q, k, v, proj;
} avae_attn;

typedef struct avae_down {
    bool with_conv;
    avae_conv conv;   /* with_conv */
    ltx_tensor *pool; /* (C, 1, 2, 2) f32 = 1/4: avg_pool2d as a depthwise conv */
} avae_down;

typedef struct avae_up {
    ltx_causality_axis axis;
    avae_conv conv;
} avae_up;

/* One resolution level: blocks, optional attention after each block, optional resampler. */
typedef struct avae_level {
    int n_blocks;
    avae_res *blocks;
    avae_attn *attn; /* NULL or n_blocks entries */
    bool has_resample;
    avae_down down; /* encoder */
    avae_up up;     /* decoder */
} avae_level;

typedef struct avae_mid {
    avae_res block_1, block_2;
    bool has_attn;
    avae_attn attn_1;
} avae_mid;

/* Block functions, one load / release / fwd trio per struct above (ref: the modules of
 * ltx_core/model/audio_vae/).
 *   *_load    zeroes the struct, then fetches its weights named under `name` through L; a
 *             failure is kept in L->status (the first one wins) and later loads are skipped,
 *             so a caller checks L->status once after loading a whole model.
 *   *_release frees the struct's tensors and zeroes it; safe on a zeroed or partly loaded
 *             struct (never on NULL).
 *   *_fwd     returns a NEW f32 tensor on be (caller frees) or NULL with the error set; x is
 *             not modified. */
void ltx_avae_conv_load(audio_loader *L, avae_conv *c, const char *name, int cin, int cout, int k,
                        int stride, ltx_causality_axis ax, bool causal_wrapper);
void ltx_avae_conv_release(avae_conv *c);
ltx_tensor *ltx_avae_conv_fwd(ltx_backend *be, const avae_conv *c, const ltx_tensor *x);
void ltx_avae_norm_load(audio_loader *L, avae_norm *n, const char *name, int ch,
                        ltx_audio_norm kind);
void ltx_avae_norm_release(avae_norm *n);
ltx_tensor *ltx_avae_norm_fwd(ltx_backend *be, const avae_norm *n, const ltx_tensor *x, bool silu);
void ltx_avae_res_load(audio_loader *L, avae_res *r, const char *name, int cin, int cout,
                       const ltx_audio_vae_config *cfg);
void ltx_avae_res_release(avae_res *r);
ltx_tensor *ltx_avae_res_fwd(ltx_backend *be, const avae_res *r, const ltx_tensor *x);
void ltx_avae_attn_load(audio_loader *L, avae_attn *a, const char *name, int ch,
                        const ltx_audio_vae_config *cfg, bool encoder);
void ltx_avae_attn_release(avae_attn *a);
ltx_tensor *ltx_avae_attn_fwd(ltx_backend *be, const avae_attn *a, const ltx_tensor *x);
void ltx_avae_down_load(audio_loader *L, avae_down *d, const char *name, int ch,
                        const ltx_audio_vae_config *cfg);
void ltx_avae_down_release(avae_down *d);
ltx_tensor *ltx_avae_down_fwd(ltx_backend *be, const avae_down *d, const ltx_tensor *x);
void ltx_avae_up_load(audio_loader *L, avae_up *u, const char *name, int ch,
                      const ltx_audio_vae_config *cfg);
void ltx_avae_up_release(avae_up *u);
ltx_tensor *ltx_avae_up_fwd(ltx_backend *be, const avae_up *u, const ltx_tensor *x);

#endif
