/*
 * video_vae_internal.h — building blocks shared by the video VAE encoder, decoder and tiling
 * (video_vae_blocks.c). Not a public header: only src/models/video_vae_*.c and upsampler.c
 * include it.
 *
 * Every helper returns a NEW contiguous f32 tensor on the input's backend (caller frees) or
 * NULL with the error message set; inputs are never modified or freed.
 */
#ifndef LTX_MODELS_VIDEO_VAE_INTERNAL_H
#define LTX_MODELS_VIDEO_VAE_INTERNAL_H

#include "models/video_vae.h"

/* CausalConv3d (ref: convolution.py): kernel 3, optional stride; `w` (Cout, Cin, 3, 3, 3). */
typedef struct vae_conv {
    ltx_tensor *w, *b;
    int stride[3];
} vae_conv;

/* PixelNorm (eps 1e-8) or GroupNorm(groups, eps) with affine w/b. */
typedef struct vae_norm {
    ltx_vae_norm_kind kind;
    int groups;
    float eps;
    ltx_tensor *w, *b; /* group norm only */
} vae_norm;

/* PixArtAlphaCombinedTimestepSizeEmbeddings: linear_2(SiLU(linear_1(sinus256(t)))). */
typedef struct vae_temb {
    ltx_tensor *w1, *b1, *w2, *b2;
    int dim;
} vae_temb;

/* ResnetBlock3D (ref: resnet.py). */
typedef struct vae_resblock {
    int cin, cout;
    vae_norm n1, n2, n3; /* n3 only when cin != cout (GroupNorm(1)) */
    vae_conv c1, c2;
    ltx_tensor *sc_w, *sc_b; /* conv_shortcut 1x1x1 when cin != cout */
    ltx_tensor *pcs1, *pcs2; /* per_channel_scale (C, 1, 1) when inject_noise */
    ltx_tensor *sst;         /* scale_shift_table (4, C) when timestep conditioned */
} vae_resblock;

/* One encoder down_block / decoder up_block. */
typedef struct vae_block {
    ltx_vae_block_cfg cfg;
    int cin, cout;
    /* res_x: n_res blocks (+ time embedder); res_x_y: one block */
    int n_res;
    vae_resblock *res;
    bool has_temb;
    vae_temb temb;
    /* compress blocks: conv (plain strided conv, s2d or d2s) */
    vae_conv conv;
    int s[3];       /* (t, h, w) factors */
    int group_size; /* s2d skip averaging group */
    int reduction;  /* d2s out_channels_reduction_factor */
} vae_block;

/* Per-call state shared by the blocks of one forward. */
typedef struct vae_run {
    ltx_backend *be;
    ltx_pad_mode pad;       /* spatial padding mode */
    bool causal;            /* temporal padding: causal (front) or symmetric */
    ltx_rng *rng;           /* noise draws; may be NULL */
    const float *ts_scaled; /* (B) scaled timesteps for conditioning, or NULL */
    int batch;
} vae_run;

/* ---- weight helpers ---- */
/* out = a + b, truncated to cap - 1 characters. */
void ltx_vae_key(char *out, size_t cap, const char *a, const char *b);
ltx_tensor *ltx_vae_weight(const ltx_weight_src *src, ltx_backend *be, const char *name, int ndim,
                           ...);
ltx_status ltx_vae_conv_load(vae_conv *c, const ltx_weight_src *src, ltx_backend *be,
                             const char *name, int cin, int cout, int st, int sh, int sw);
void ltx_vae_conv_release(vae_conv *c);
ltx_status ltx_vae_norm_init(vae_norm *n, ltx_vae_norm_kind kind, int groups, float eps, int c,
                             const ltx_weight_src *src, ltx_backend *be, const char *name);
void ltx_vae_norm_release(vae_norm *n);
ltx_status ltx_vae_temb_load(vae_temb *t, const ltx_weight_src *src, ltx_backend *be,
                             const char *name, int dim);
void ltx_vae_temb_release(vae_temb *t);
ltx_status ltx_vae_resblock_load(vae_resblock *r, const ltx_weight_src *src, ltx_backend *be,
                                 const char *name, int cin, int cout, ltx_vae_norm_kind norm,
                                 bool inject_noise, bool tc);
void ltx_vae_block_release(vae_block *b);

/* Decoder compression factors and output channels (for the tiling code). */
void ltx_vae_decoder_factors(const ltx_video_decoder *d, int *time, int *space, int *out_ch);

/* Status to return after a helper gave NULL (derived from the message the op set). */
ltx_status ltx_vae_failed_status(void);

/* ---- forward helpers ---- */
/* x (B, C, F, H, W) -> conv3d with replicate temporal padding (causal: 2 front; else 1+1) and
 * `run->pad` spatial padding 1. */
ltx_tensor *ltx_vae_causal_conv(const vae_run *run, const vae_conv *c, const ltx_tensor *x);
ltx_tensor *ltx_vae_norm_fwd(ltx_backend *be, const vae_norm *n, const ltx_tensor *x);
/* (B) timesteps on the host -> (B, dim) embedding. */
ltx_tensor *ltx_vae_temb_fwd(ltx_backend *be, const vae_temb *t, const float *ts, int batch);
/* temb (B, 4C) or NULL. */
ltx_tensor *ltx_vae_resblock_fwd(const vae_run *run, const vae_resblock *r, const ltx_tensor *x,
                                 const ltx_tensor *temb);
/* x * (1 + ada[:, j+1]) + ada[:, j] for ada (B, k, C): AdaLN of a 5-D activation. */
ltx_tensor *ltx_vae_modulate(ltx_backend *be, const ltx_tensor *x, const ltx_tensor *ada, int j);
/* SiLU into a new tensor. */
ltx_tensor *ltx_vae_silu(ltx_backend *be, const ltx_tensor *x);
/* Space-to-depth "b c (d p1) (h p2) (w p3) -> b (c p1 p2 p3) d h w". */
ltx_tensor *ltx_vae_s2d(ltx_backend *be, const ltx_tensor *x, const int *s);
/* Depth-to-space "b (c p1 p2 p3) d h w -> b c (d p1) (h p2) (w p3)", then drop the first frame
 * when drop_first. */
ltx_tensor *ltx_vae_d2s(ltx_backend *be, const ltx_tensor *x, const int *s, bool drop_first);
/* Copies x viewed as (shape, xst, xoff) into y viewed as (shape, yst, yoff) (element strides). */
ltx_status ltx_vae_scatter(ltx_backend *be, ltx_tensor *y, const ltx_tensor *x, int ndim,
                           const int64_t *shape, const int64_t *xst, int64_t xoff,
                           const int64_t *yst, int64_t yoff);
/* patchify / unpatchify with patch p (channel = c·p² + w_off·p + h_off). */
ltx_tensor *ltx_video_vae_patchify(ltx_backend *be, const ltx_tensor *x, int p);
ltx_tensor *ltx_video_vae_unpatchify(ltx_backend *be, const ltx_tensor *x, int p);
/* A view of t with the given shape/strides (elements) and an extra element offset. */
ltx_tensor *ltx_vae_view(const ltx_tensor *t, int ndim, const int64_t *shape, const int64_t *stride,
                         int64_t offset);

/* var <- expr (expr may read var); frees the old var; jumps to the caller's `fail` label when
 * the result is NULL (the failing op has set the message). */
#define VAE_STEP(var, expr)                                                                        \
    do {                                                                                           \
        ltx_tensor *step_new_ = (expr);                                                            \
        ltx_tensor_free(var);                                                                      \
        (var) = step_new_;                                                                         \
        if (!(var)) goto fail;                                                                     \
    } while (0)

#endif
