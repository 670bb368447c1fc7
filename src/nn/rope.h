/*
 * rope.h — LTX rotary position embedding tables (frequency grid, cos/sin per token) and their
 * application to q/k through the backend's rope op.
 *
 * Mirrors ltx_core/model/transformer/rope.py (precompute_freqs_cis, generate_freq_grid_np /
 * _pytorch, split_freqs_cis, interleaved_freqs_cis, apply_rotary_emb). The tables depend only
 * on positions and a few config numbers, so they are computed on the host (the float64 grid in
 * double — on a backend without f64 this is logged as the "f64.rope_grid" fallback) and uploaded
 * as f32. Nothing here dereferences device memory: positions are downloaded.
 *
 * Table layouts:
 *   - "pair" layout, what the backend rope op takes: (B, H, T, D/2), entry [b,h,t,j] rotates
 *     the pair (x[j], x[j+D/2]) of head h (split) or (x[2j], x[2j+1]) of head h (interleaved).
 *   - reference layout (goldens): split = the pair layout; interleaved = (B, T, dim) with every
 *     value repeated twice (repeat_interleave), padding at the front.
 * Not here: the connector's own use of these tables (text path owns that).
 */
#ifndef LTX_NN_ROPE_H
#define LTX_NN_ROPE_H

#include "backend/backend.h"

#define LTX_ROPE_MAX_AXES 3

typedef struct ltx_rope_params {
    int dim;             /* inner dim of the attention (heads * d_head) */
    int heads;
    int n_axes;          /* number of position axes used (1 or 3) */
    double max_pos[LTX_ROPE_MAX_AXES];
    double theta;        /* ref: positional_embedding_theta = 10000 */
    bool use_middle;     /* use (start+end)/2 of [start,end) bounds; else start */
    ltx_rope_mode mode;  /* LTX_ROPE_SPLIT or LTX_ROPE_INTERLEAVED */
    bool f64_grid;       /* frequencies_precision == "float64" (numpy grid) */
    /* Which axes of the positions tensor to use (axes[i] for table axis i); NULL = 0..n_axes-1. */
    const int *axes;
} ltx_rope_params;

/* Number of frequencies F = dim / (2 * n_axes). */
int ltx_rope_nfreq(int dim, int n_axes);

/* Frequency grid (pi/2) * theta^linspace(0, 1, F) rounded to f32, into out[F].
 * f64: numpy float64 path; else torch float32 path (linspace, pow and scaling in f32). */
void ltx_rope_freq_grid(double theta, int n_axes, int dim, bool f64, float *out);

/* Host tables from host positions `pos` (B, P, T, nb) f32 values (nb = 2 bounds or 1), whose
 * values were stored in dtype `pos_dtype` (LTX_BF16 -> the midpoint/division/2p-1 steps are
 * rounded to bf16 as the reference computes them in the positions' dtype).
 * cos/sin: B*H*T*(D/2) floats, pair layout. Returns LTX_ERR_INVALID_ARG on bad params. */
ltx_status ltx_rope_tables_host(const ltx_rope_params *p, const float *pos, int64_t B, int64_t P,
                                int64_t T, int nb, ltx_dtype pos_dtype, float *cos, float *sin);

/* Device tables (B, H, T, D/2) f32 from a positions tensor (B, P, T, 2) or (B, P, T) on any
 * backend (downloaded). Caller frees *cos and *sin. Logs the "f64.rope_grid" fallback when the
 * backend has no float64 and p->f64_grid is set. */
ltx_status ltx_rope_tables(ltx_backend *be, const ltx_rope_params *p, const ltx_tensor *positions,
                           ltx_tensor **cos, ltx_tensor **sin);

/* Applies RoPE to x (B, T, H*D) (any layout the rope op accepts, contiguous typical) and
 * returns a new contiguous tensor (B, H, T, D) (heads-first, ready for attention), or NULL with
 * the error set. cos/sin: pair layout (B or 1, H, T, D/2). */
ltx_tensor *ltx_rope_apply(ltx_backend *be, ltx_rope_mode mode, const ltx_tensor *x, int heads,
                           const ltx_tensor *cos, const ltx_tensor *sin);

/* Converts pair-layout tables (B*H*T*(D/2)) to the reference's interleaved layout
 * (B, T, H*D) (each value twice). */
void ltx_rope_pairs_to_interleaved(const float *pair, int64_t B, int heads, int64_t T, int half_d,
                                   float *out);

#endif
