/*
 * pad.cu — CUDA pad (constant, reflect, replicate, circular over any dims; negative pads crop)
 * of any dtype into a contiguous dst. One thread per dst element: each dim's index maps to a
 * source index with src/backend/cpu/cpu_reduce.c pad_index, or to the constant. Pure data
 * movement: bit-exact.
 * ref: aten/src/ATen/native/PadNd.cpp
 */
#include "common.cuh"

__device__ static inline int64_t pad_index(int mode, int64_t j, int64_t n)
{
    if (j >= 0 && j < n) return j;
    switch (mode) {
    case 1:
        return j < 0 ? -j : 2 * (n - 1) - j; /* reflect */
    case 2:
        return j < 0 ? 0 : n - 1; /* replicate */
    case 3:
        return ((j % n) + n) % n; /* circular */
    default:
        return -1; /* constant */
    }
}

static __global__ void pad_kernel(ck_pad p, int64_t n, char *dst, const char *src)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, soff = 0;
        bool fill = false;
        for (int d = p.ndim - 1; d >= 0; d--) {
            int64_t j = rem % p.dshape[d];
            rem /= p.dshape[d];
            int64_t m = pad_index(p.mode, j - p.before[d], p.sshape[d]);
            if (m < 0) fill = true;
            soff += m * p.sstride[d];
        }
        char *o = dst + i * p.esz;
        const char *from = src + soff * p.esz;
        switch (p.esz) {
        case 1:
            *(uint8_t *)o = fill ? (uint8_t)p.value_bits : *(const uint8_t *)from;
            break;
        case 2:
            *(uint16_t *)o = fill ? (uint16_t)p.value_bits : *(const uint16_t *)from;
            break;
        case 4:
            *(uint32_t *)o = fill ? (uint32_t)p.value_bits : *(const uint32_t *)from;
            break;
        default:
            *(uint64_t *)o = fill ? p.value_bits : *(const uint64_t *)from;
            break;
        }
    }
}

extern "C" cudaError_t ltx_ck_pad_apply(cudaStream_t s, const ck_pad *p, void *dst, const void *src)
{
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++)
        n *= p->dshape[d];
    if (n == 0) return cudaSuccess;
    pad_kernel<<<grid_for(n, 256), 256, 0, s>>>(*p, n, (char *)dst, (const char *)src);
    CK_LAUNCH_CHECK();
}
