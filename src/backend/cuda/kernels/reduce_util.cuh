/*
 * reduce_util.cuh — block-wide sum/max helpers (warp shuffles, then one value per warp in
 * shared memory) for the row kernels (norms, softmax, reduce). Blocks are a multiple of 32
 * threads, at most 1024. Every thread of the block must call these (they synchronise).
 */
#ifndef LTX_CUDA_REDUCE_UTIL_CUH
#define LTX_CUDA_REDUCE_UTIL_CUH

#include <cuda_runtime.h>

template <typename T> __device__ static inline T warp_sum(T v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T> __device__ static inline T warp_max(T v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = (w > v || w != w) ? w : v; /* NaN wins, as torch.max */
    }
    return v;
}

/* Sum over the block; every thread gets the total. `sh` holds >= 32 T. */
template <typename T> __device__ static inline T block_sum(T v, T *sh)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); /* sh may still be read by a previous call */
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    T t = lane < nw ? sh[lane] : (T)0;
    return warp_sum(t);
}

template <typename T> __device__ static inline T block_max(T v, T *sh, T lowest)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    T t = lane < nw ? sh[lane] : lowest;
    return warp_max(t);
}

#endif
