/*
 * cuda_backend.h — the CUDA backend's few entry points beyond the backend table: its
 * constructor (called by ltx_backend_create for "cuda"/"cuda:N"/"auto"), the GPU's name and
 * copy stream for reports and layer streaming, and op-class timing for the benchmarks.
 * Only declared when the build has CUDA (LTX_HAVE_CUDA); callers guard their use with it.
 */
#ifndef LTX_CUDA_BACKEND_H
#define LTX_CUDA_BACKEND_H

#include "backend/backend.h"

/* Creates the backend on device `device_index`. No GPU: LTX_ERR_UNSUPPORTED with "no CUDA
 * device found (<driver message>)". `log`/`pool` must outlive it; *out freed by
 * ltx_backend_destroy. */
ltx_status ltx_cuda_backend_create(int device_index, ltx_log *log, ltx_threadpool *pool,
                                   ltx_backend **out);

/* cudaDeviceProp.name of be's GPU ("NVIDIA H100 80GB HBM3"), or NULL when be is not CUDA.
 * Static storage owned by be. */
const char *ltx_cuda_device_name(const ltx_backend *be);

/* The backend's own copy stream (owned by be), or NULL when be is not CUDA. */
ltx_stream *ltx_cuda_copy_stream(ltx_backend *be);

/* Op-class timing across all CUDA backends of the process (one benchmark at a time):
 * _begin starts recording events around every GEMM and attention call; _read synchronises the
 * device and returns the summed milliseconds since _begin or the last _read; _stop ends it. */
void ltx_cuda_timing_begin(void);
void ltx_cuda_timing_read(double *gemm_ms, double *attn_ms);
void ltx_cuda_timing_stop(void);

#endif
