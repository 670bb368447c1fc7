/*
 * elementwise.cu — CUDA copy/convert, fill, unary, binary and axpby over strided, broadcast
 * operands of any storage dtype (contracts in src/backend/backend.h).
 *
 * One thread per output element (grid-stride); operand offsets come from the ck_iter that the
 * host coalesced (a flat loop when every operand is contiguous). Compute type: f32, or f64 when
 * an operand is f64 — the CPU backend's promotion rule. Formulas are the CPU's term for term
 * (src/backend/cpu/cpu_elementwise.c: "x * a + b" two roundings, true division, NaN-propagating
 * max/min, the Cephes-style exp used by sigmoid/SiLU/GELU-tanh) and this file is compiled with
 * -fmad=false, so f32 results are bit-identical to the CPU wherever the CPU does not call libm
 * (exp/log/sin/cos/tanh/erf/pow/sqrt-based ops use CUDA's libdevice: within 2 ulp).
 * ref: aten/src/ATen/native/cpu/UnaryOpsKernel.cpp, BinaryOpsKernel.cpp, Activation.cpp
 */
#include "common.cuh"

#include <math.h>

#include "unary_math.cuh"

template <typename T> __device__ static inline T binary_eval(int op, T x, T y, T pa, T pb)
{
    switch (op) {
    case B_ADD:
        return x + y;
    case B_SUB:
        return x - y;
    case B_MUL:
        return x * y;
    case B_DIV:
        return x / y;
    case B_MAX:
        return (x != x || y != y) ? x + y : (x > y ? x : y);
    case B_MIN:
        return (x != x || y != y) ? x + y : (x < y ? x : y);
    case B_POW:
        return pow(x, y);
    default:
        return (pa * x) + (pb * y); /* axpby: two products, one add */
    }
}

#define GRID_LOOP(i, n)                                                                            \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)gridDim.x * blockDim.x)

static __global__ void copy_kernel(ck_iter it, ck_operand d, ck_operand s)
{
    GRID_LOOP(i, it.n)
    {
        int64_t off[2];
        if (it.contig)
            off[0] = off[1] = i;
        else
            iter_offsets<2>(it, i, off);
        if (d.dtype == s.dtype) {
            switch (dt_size(d.dtype)) {
            case 1:
                ((uint8_t *)d.p)[off[0]] = ((const uint8_t *)s.p)[off[1]];
                break;
            case 2:
                ((uint16_t *)d.p)[off[0]] = ((const uint16_t *)s.p)[off[1]];
                break;
            case 4:
                ((uint32_t *)d.p)[off[0]] = ((const uint32_t *)s.p)[off[1]];
                break;
            default:
                ((uint64_t *)d.p)[off[0]] = ((const uint64_t *)s.p)[off[1]];
                break;
            }
        } else {
            store_elem(d.p, d.dtype, off[0], load_elem(s.p, s.dtype, off[1]));
        }
    }
}

/* Contiguous f32 -> bf16 and bf16 -> f32 (the hot conversions), 1 element per thread. */
static __global__ void f32_to_bf16_kernel(uint16_t *d, const float *s, int64_t n)
{
    GRID_LOOP(i, n) d[i] = f32_to_bf16(s[i]);
}
static __global__ void bf16_to_f32_kernel(float *d, const uint16_t *s, int64_t n)
{
    GRID_LOOP(i, n) d[i] = bf16_to_f32(s[i]);
}

static __global__ void fill_kernel(ck_iter it, ck_operand d, uint64_t bits)
{
    GRID_LOOP(i, it.n)
    {
        int64_t off[1];
        if (it.contig)
            off[0] = i;
        else
            iter_offsets<1>(it, i, off);
        switch (dt_size(d.dtype)) {
        case 1:
            ((uint8_t *)d.p)[off[0]] = (uint8_t)bits;
            break;
        case 2:
            ((uint16_t *)d.p)[off[0]] = (uint16_t)bits;
            break;
        case 4:
            ((uint32_t *)d.p)[off[0]] = (uint32_t)bits;
            break;
        default:
            ((uint64_t *)d.p)[off[0]] = bits;
            break;
        }
    }
}

template <typename T>
static __global__ void unary_kernel(ck_iter it, int op, T c0, T c1, ck_operand d, ck_operand a)
{
    GRID_LOOP(i, it.n)
    {
        int64_t off[2];
        if (it.contig)
            off[0] = off[1] = i;
        else
            iter_offsets<2>(it, i, off);
        T x = load_as<T>(a.p, a.dtype, off[1]);
        store_as<T>(d.p, d.dtype, off[0], unary_eval<T>(op, x, c0, c1));
    }
}

/* All-f32 contiguous unary: no dtype switches in the loop. */
static __global__ void unary_f32_flat(int64_t n, int op, float c0, float c1, float *d,
                                      const float *a)
{
    GRID_LOOP(i, n) d[i] = unary_eval<float>(op, a[i], c0, c1);
}

template <typename T>
static __global__ void binary_kernel(ck_iter it, int op, T pa, T pb, ck_operand d, ck_operand a,
                                     ck_operand b)
{
    GRID_LOOP(i, it.n)
    {
        int64_t off[3];
        if (it.contig)
            off[0] = off[1] = off[2] = i;
        else
            iter_offsets<3>(it, i, off);
        T x = load_as<T>(a.p, a.dtype, off[1]), y = load_as<T>(b.p, b.dtype, off[2]);
        store_as<T>(d.p, d.dtype, off[0], binary_eval<T>(op, x, y, pa, pb));
    }
}

/* All-f32 binary over a 2-D space (rows, inner) — the model's bias/gate broadcasts. */
static __global__ void binary_f32_2d(int64_t rows, int64_t inner, int op, float pa, float pb,
                                     float *d, int64_t dr, int64_t dc, const float *a, int64_t ar,
                                     int64_t ac, const float *b, int64_t br, int64_t bc)
{
    GRID_LOOP(i, rows * inner)
    {
        int64_t r = i / inner, c = i - r * inner;
        d[r * dr + c * dc] = binary_eval<float>(op, a[r * ar + c * ac], b[r * br + c * bc], pa, pb);
    }
}

extern "C" cudaError_t ltx_ck_copy(cudaStream_t s, const ck_iter *it, ck_operand dst,
                                   ck_operand src)
{
    if (it->n == 0) return cudaSuccess;
    if (it->contig && dst.dtype == DT_BF16 && src.dtype == DT_F32)
        f32_to_bf16_kernel<<<grid_for(it->n, 256), 256, 0, s>>>((uint16_t *)dst.p,
                                                                (const float *)src.p, it->n);
    else if (it->contig && dst.dtype == DT_F32 && src.dtype == DT_BF16)
        bf16_to_f32_kernel<<<grid_for(it->n, 256), 256, 0, s>>>((float *)dst.p,
                                                                (const uint16_t *)src.p, it->n);
    else if (it->contig && dst.dtype == src.dtype)
        return cudaMemcpyAsync(dst.p, src.p, (size_t)it->n * (size_t)dt_size(dst.dtype),
                               cudaMemcpyDeviceToDevice, s);
    else
        copy_kernel<<<grid_for(it->n, 256), 256, 0, s>>>(*it, dst, src);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_fill(cudaStream_t s, const ck_iter *it, ck_operand dst, uint64_t bits)
{
    if (it->n == 0) return cudaSuccess;
    fill_kernel<<<grid_for(it->n, 256), 256, 0, s>>>(*it, dst, bits);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_unary(cudaStream_t s, const ck_iter *it, int op, double p0, double p1,
                                    int f64, ck_operand dst, ck_operand a)
{
    if (it->n == 0) return cudaSuccess;
    if (f64)
        unary_kernel<double><<<grid_for(it->n, 256), 256, 0, s>>>(*it, op, p0, p1, dst, a);
    else if (it->contig && dst.dtype == DT_F32 && a.dtype == DT_F32)
        unary_f32_flat<<<grid_for(it->n, 256), 256, 0, s>>>(it->n, op, (float)p0, (float)p1,
                                                            (float *)dst.p, (const float *)a.p);
    else
        unary_kernel<float>
            <<<grid_for(it->n, 256), 256, 0, s>>>(*it, op, (float)p0, (float)p1, dst, a);
    CK_LAUNCH_CHECK();
}

extern "C" cudaError_t ltx_ck_binary(cudaStream_t s, const ck_iter *it, int op, double ca,
                                     double cb, int f64, ck_operand dst, ck_operand a, ck_operand b)
{
    if (it->n == 0) return cudaSuccess;
    bool all32 = dst.dtype == DT_F32 && a.dtype == DT_F32 && b.dtype == DT_F32;
    if (f64) {
        binary_kernel<double><<<grid_for(it->n, 256), 256, 0, s>>>(*it, op, ca, cb, dst, a, b);
    } else if (all32 && it->ndim <= 2) {
        int L = it->ndim - 1;
        int64_t rows = it->ndim == 2 ? it->shape[0] : 1;
        int64_t r0 = it->ndim == 2 ? it->stride[0][0] : 0,
                r1 = it->ndim == 2 ? it->stride[1][0] : 0,
                r2 = it->ndim == 2 ? it->stride[2][0] : 0;
        binary_f32_2d<<<grid_for(it->n, 256), 256, 0, s>>>(
            rows, it->shape[L], op, (float)ca, (float)cb, (float *)dst.p, r0, it->stride[0][L],
            (const float *)a.p, r1, it->stride[1][L], (const float *)b.p, r2, it->stride[2][L]);
    } else {
        binary_kernel<float>
            <<<grid_for(it->n, 256), 256, 0, s>>>(*it, op, (float)ca, (float)cb, dst, a, b);
    }
    CK_LAUNCH_CHECK();
}

static __global__ void gated_add_kernel(ck_iter it, float *d, const float *x, const float *y,
                                        const float *g)
{
    GRID_LOOP(i, it.n)
    {
        int64_t off[4];
        if (it.contig)
            off[0] = off[1] = off[2] = off[3] = i;
        else
            iter_offsets<4>(it, i, off);
        d[off[0]] = x[off[1]] + (y[off[2]] * g[off[3]]);
    }
}

extern "C" cudaError_t ltx_ck_gated_add(cudaStream_t s, const ck_iter *it, float *dst,
                                        const float *x, const float *y, const float *gate)
{
    if (it->n == 0) return cudaSuccess;
    gated_add_kernel<<<grid_for(it->n, 256), 256, 0, s>>>(*it, dst, x, y, gate);
    CK_LAUNCH_CHECK();
}
