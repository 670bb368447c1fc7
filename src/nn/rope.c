/*
 * rope.c — LTX RoPE tables and application (see rope.h).
 * ref: ltx_core/model/transformer/rope.py @ a2c3f24.
 *
 * One per-token "angle vector" Phi of length dim/2 serves both rope types: its first
 * pad = dim/2 - F*n_axes entries are identity (cos 1, sin 0) and then the F*n_axes angles with
 * the axis index fastest (ref: generate_freqs ... .transpose(-1, -2).flatten(2)). The split
 * type pads the half-vector (split_freqs_cis), the interleaved type pads dim % (2*n_axes)
 * repeated entries (interleaved_freqs_cis) — the same number of pairs.
 */
#include "nn/rope.h"

#include "core/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ltx_rope_nfreq(int dim, int n_axes) { return n_axes > 0 ? dim / (2 * n_axes) : 0; }

void ltx_rope_freq_grid(double theta, int n_axes, int dim, bool f64, float *out)
{
    int F = ltx_rope_nfreq(dim, n_axes);
    if (F <= 0) return;
    if (f64) {
        /* ref: generate_freq_grid_np — np.linspace(0, 1, F) (y = i * step, last = stop),
         * theta ** y in float64, * pi / 2, then to float32. */
        double step = F > 1 ? 1.0 / (double)(F - 1) : 0.0;
        for (int i = 0; i < F; i++) {
            double y = (F > 1 && i == F - 1) ? 1.0 : (double)i * step;
            out[i] = (float)(pow(theta, y) * M_PI / 2.0);
        }
    } else {
        /* ref: generate_freq_grid_pytorch — torch.linspace in f32, theta ** x in f32,
         * (x * pi) / 2 in f32. The linspace values follow torch's CPU kernel bit for bit:
         * full 8-lane chunks are `base + lane * step` with base = start + step * idx below
         * half the steps and end - step * (steps - idx - 1) above; the tail is per element
         * with the same two-sided rule. */
        float step = F > 1 ? (1.0f - 0.0f) / (float)(F - 1) : 0.0f;
        int half = F / 2, vec = 8, vec_end = F - F % vec;
        for (int i = 0; i < F; i++) {
            float x;
            if (i < vec_end) {
                int idx = i - i % vec, lane = i % vec;
                float base = idx < half ? 0.0f + step * (float)idx
                                        : 1.0f - step * (float)(F - idx - 1);
                x = base + (float)lane * step;
            } else {
                x = i < half ? 0.0f + step * (float)i : 1.0f - step * (float)(F - i - 1);
            }
            if (F == 1) x = 0.0f;
            float pw = (float)pow((double)(float)theta, (double)x);
            float v = pw * (float)M_PI;
            out[i] = v / 2.0f;
        }
    }
}

static inline float maybe_bf16(float v, bool bf16) { return bf16 ? ltx_round_bf16(v) : v; }

ltx_status ltx_rope_tables_host(const ltx_rope_params *p, const float *pos, int64_t B, int64_t P,
                                int64_t T, int nb, ltx_dtype pos_dtype, float *cos_out,
                                float *sin_out)
{
    int n = p->n_axes;
    if (n < 1 || n > LTX_ROPE_MAX_AXES || p->heads < 1 || p->dim % (2 * p->heads) != 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: dim %d / heads %d / axes %d unsupported",
                       p->dim, p->heads, n);
    if (p->use_middle && nb != 2)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: use_middle_indices_grid needs [start,end) "
                       "bounds (last dim 2), got %d", nb);
    int axes[LTX_ROPE_MAX_AXES];
    for (int a = 0; a < n; a++) {
        axes[a] = p->axes ? p->axes[a] : a;
        if (axes[a] < 0 || axes[a] >= P)
            return ltx_err(LTX_ERR_INVALID_ARG, "rope: position axis %d of %lld", axes[a],
                           (long long)P);
    }
    int F = ltx_rope_nfreq(p->dim, n);
    int half = p->dim / 2, hd = half / p->heads; /* hd = d_head / 2 */
    int pad = half - F * n;
    float *grid = malloc(sizeof(float) * (size_t)(F > 0 ? F : 1));
    float *phi = malloc(sizeof(float) * (size_t)half);
    if (!grid || !phi) {
        free(grid);
        free(phi);
        return ltx_err(LTX_ERR_OOM, "rope: out of memory");
    }
    ltx_rope_freq_grid(p->theta, n, p->dim, p->f64_grid, grid);
    bool bf = pos_dtype == LTX_BF16;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            float x2m1[LTX_ROPE_MAX_AXES];
            for (int a = 0; a < n; a++) {
                const float *pp = pos + ((b * P + axes[a]) * T + t) * nb;
                float g;
                if (p->use_middle) /* ref: (start + end) / 2.0 in the positions' dtype */
                    g = maybe_bf16(maybe_bf16(pp[0] + pp[1], bf) / 2.0f, bf);
                else
                    g = pp[0];
                float frac = maybe_bf16(g / (float)p->max_pos[a], bf); /* get_fractional_positions */
                x2m1[a] = maybe_bf16(maybe_bf16(frac * 2.0f, bf) - 1.0f, bf);
            }
            for (int k = 0; k < pad; k++) phi[k] = 0.0f;
            for (int j = 0; j < F; j++)
                for (int a = 0; a < n; a++) phi[pad + j * n + a] = grid[j] * x2m1[a];
            for (int h = 0; h < p->heads; h++) {
                size_t o = (size_t)(((b * p->heads + h) * T + t) * hd);
                for (int j = 0; j < hd; j++) {
                    int k = h * hd + j;
                    if (k < pad) {
                        cos_out[o + j] = 1.0f;
                        sin_out[o + j] = 0.0f;
                    } else {
                        cos_out[o + j] = (float)cos((double)phi[k]);
                        sin_out[o + j] = (float)sin((double)phi[k]);
                    }
                }
            }
        }
    free(grid);
    free(phi);
    return LTX_OK;
}

ltx_status ltx_rope_tables(ltx_backend *be, const ltx_rope_params *p, const ltx_tensor *positions,
                           ltx_tensor **cos, ltx_tensor **sin)
{
    *cos = *sin = NULL;
    if (positions->ndim != 3 && positions->ndim != 4)
        return ltx_err(LTX_ERR_INVALID_ARG, "rope: positions must be (B, P, T[, 2]), ndim %d",
                       positions->ndim);
    if (p->f64_grid && !be->caps.f64)
        LTX_TRY(ltx_backend_fallback(be, "f64.rope_grid",
                                     "float64 RoPE frequency grid computed on the host in double"));
    int64_t B = positions->shape[0], P = positions->shape[1], T = positions->shape[2];
    int nb = positions->ndim == 4 ? (int)positions->shape[3] : 1;
    float *pos = ltx_tensor_to_host_f32(positions);
    if (!pos) return ltx_err_context(ltx_err_failed(), "rope positions: ");
    int hd = p->dim / 2 / (p->heads > 0 ? p->heads : 1);
    size_t n = (size_t)(B * p->heads * T * hd);
    float *c = malloc(sizeof(float) * (n ? n : 1)), *s = malloc(sizeof(float) * (n ? n : 1));
    ltx_status st = (c && s) ? LTX_OK : ltx_err(LTX_ERR_OOM, "rope: out of memory");
    if (st == LTX_OK) st = ltx_rope_tables_host(p, pos, B, P, T, nb, positions->dtype, c, s);
    if (st == LTX_OK) {
        int64_t shape[4] = {B, p->heads, T, hd};
        *cos = ltx_tensor_from_host(be, LTX_F32, 4, shape, c);
        *sin = ltx_tensor_from_host(be, LTX_F32, 4, shape, s);
        if (!*cos || !*sin) {
            ltx_tensor_free(*cos);
            ltx_tensor_free(*sin);
            *cos = *sin = NULL;
            st = ltx_err(LTX_ERR_OOM, "rope: tables upload failed");
        }
    }
    free(pos);
    free(c);
    free(s);
    return st;
}

ltx_tensor *ltx_rope_apply(ltx_backend *be, ltx_rope_mode mode, const ltx_tensor *x, int heads,
                           const ltx_tensor *cos, const ltx_tensor *sin)
{
    if (x->ndim != 3 || x->shape[2] % heads != 0) {
        char sx[96];
        ltx_err(LTX_ERR_INVALID_ARG, "rope apply: x %s with %d heads",
                ltx_tensor_shape_str(x, sx, sizeof sx), heads);
        return NULL;
    }
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2] / heads;
    /* (B, T, H*D) -> (B, T, H, D) view -> (B, H, T, D) strided view */
    ltx_tensor *xv = NULL, *xp = NULL, *y = NULL;
    int64_t s4[4] = {B, T, heads, D};
    if (ltx_tensor_is_contiguous(x)) {
        xv = ltx_tensor_reshape(x, 4, s4);
    } else {
        /* general strided (B, T, H*D): split the last dim by hand */
        xv = ltx_tensor_view(x);
        if (xv) {
            xv->ndim = 4;
            xv->shape[2] = heads;
            xv->shape[3] = D;
            xv->stride[3] = x->stride[2];
            xv->stride[2] = x->stride[2] * D;
        }
    }
    static const int perm[4] = {0, 2, 1, 3};
    if (xv) xp = ltx_tensor_permute(xv, perm);
    int64_t so[4] = {B, heads, T, D};
    if (xp) y = ltx_tensor_new(be, LTX_F32, 4, so);
    if (y) {
        ltx_status s = be->ops->rope(be, mode, y, xp, cos, sin);
        if (s != LTX_OK) {
            ltx_tensor_free(y);
            y = NULL;
        }
    }
    ltx_tensor_free(xv);
    ltx_tensor_free(xp);
    return y;
}

void ltx_rope_pairs_to_interleaved(const float *pair, int64_t B, int heads, int64_t T, int half_d,
                                   float *out)
{
    int64_t dim = (int64_t)heads * half_d * 2;
    for (int64_t b = 0; b < B; b++)
        for (int h = 0; h < heads; h++)
            for (int64_t t = 0; t < T; t++)
                for (int j = 0; j < half_d; j++) {
                    float v = pair[((b * heads + h) * T + t) * half_d + j];
                    int64_t k = (int64_t)h * half_d + j;
                    out[(b * T + t) * dim + 2 * k] = v;
                    out[(b * T + t) * dim + 2 * k + 1] = v;
                }
}
