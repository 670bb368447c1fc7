/*
 * reduce.cu — CUDA reduce over one dim (sum, mean, max, min, unbiased var; keepdim) for f32/f64.
 * As src/backend/cpu/cpu_reduce.c: accumulation in double, two-pass variance, NaN propagates
 * through max/min, var of one element is NaN. Many outputs: one thread per output (a serial
 * loop, the CPU's order); few outputs over a long dim: one block per output (tree order).
 */
#include "common.cuh"
#include "reduce_util.cuh"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_VAR };

__device__ static inline double ldd(ck_operand s, int64_t i)
{
    return load_as<double>(s.p, s.dtype, i);
}

static __global__ void reduce_thread_kernel(ck_iter it, int op, int64_t len, int64_t rs,
                                            ck_operand d, ck_operand s)
{
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < it.n;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        iter_offsets<2>(it, o, off);
        int64_t p = off[1];
        double acc = 0;
        if (op == R_SUM || op == R_MEAN) {
            for (int64_t r = 0; r < len; r++)
                acc += ldd(s, p + r * rs);
            if (op == R_MEAN) acc /= (double)len;
        } else if (op == R_MAX || op == R_MIN) {
            acc = ldd(s, p);
            for (int64_t r = 1; r < len && acc == acc; r++) {
                double v = ldd(s, p + r * rs);
                if (v != v || (op == R_MAX ? v > acc : v < acc)) acc = v;
            }
        } else {
            double m = 0, q = 0;
            for (int64_t r = 0; r < len; r++)
                m += ldd(s, p + r * rs);
            m /= (double)len;
            for (int64_t r = 0; r < len; r++) {
                double e = ldd(s, p + r * rs) - m;
                q += e * e;
            }
            acc = len > 1 ? q / (double)(len - 1) : (double)NAN;
        }
        store_as<double>(d.p, d.dtype, off[0], acc);
    }
}

__device__ static inline double pick(int op, double a, double v)
{
    if (a != a || v != v) return a != a ? a : v;
    return op == R_MAX ? (v > a ? v : a) : (v < a ? v : a);
}

static __global__ void reduce_block_kernel(ck_iter it, int op, int64_t len, int64_t rs,
                                           ck_operand d, ck_operand s)
{
    __shared__ double sh[32];
    for (int64_t o = blockIdx.x; o < it.n; o += gridDim.x) {
        int64_t off[2];
        iter_offsets<2>(it, o, off);
        int64_t p = off[1];
        double res;
        if (op == R_MAX || op == R_MIN) {
            double a = ldd(s, p);
            for (int64_t r = threadIdx.x; r < len; r += blockDim.x)
                a = pick(op, a, ldd(s, p + r * rs));
            /* NaN-propagating combine: warps by shuffles, then the warps' values in order */
            for (int k = 16; k > 0; k >>= 1)
                a = pick(op, a, __shfl_xor_sync(0xffffffffu, a, k));
            __syncthreads();
            if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = a;
            __syncthreads();
            res = sh[0];
            for (int w = 1; w < (int)(blockDim.x >> 5); w++)
                res = pick(op, res, sh[w]);
        } else {
            double acc = 0;
            for (int64_t r = threadIdx.x; r < len; r += blockDim.x)
                acc += ldd(s, p + r * rs);
            double sum = block_sum(acc, sh);
            if (op == R_VAR) {
                double m = sum / (double)len;
                acc = 0;
                for (int64_t r = threadIdx.x; r < len; r += blockDim.x) {
                    double e = ldd(s, p + r * rs) - m;
                    acc += e * e;
                }
                double q = block_sum(acc, sh);
                res = len > 1 ? q / (double)(len - 1) : (double)NAN;
            } else {
                res = op == R_MEAN ? sum / (double)len : sum;
            }
        }
        if (threadIdx.x == 0) store_as<double>(d.p, d.dtype, off[0], res);
        __syncthreads();
    }
}

extern "C" cudaError_t ltx_ck_reduce(cudaStream_t s, const ck_iter *it, int op, int64_t len,
                                     int64_t rstride, ck_operand dst, ck_operand src)
{
    if (it->n == 0) return cudaSuccess;
    if (it->n < 8192 && len >= 4096) {
        unsigned g = (unsigned)(it->n < 65535 ? it->n : 65535);
        reduce_block_kernel<<<g, 256, 0, s>>>(*it, op, len, rstride, dst, src);
    } else {
        reduce_thread_kernel<<<grid_for(it->n, 128), 128, 0, s>>>(*it, op, len, rstride, dst, src);
    }
    CK_LAUNCH_CHECK();
}
