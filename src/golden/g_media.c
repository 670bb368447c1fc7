/*
 * g_media.c — golden handlers for media processing: the torchaudio resampler
 * (modules/audio_mel case `audio_resample`, ref: ltx_core/model/audio_vae/ops.py
 * AudioProcessor.resample_audio -> torchaudio.functional.resample).
 * Media-file decoding is checked by tests/unit/test_media.c against the pipeline goldens'
 * stored decoded tensors (those files replay through the pipeline handlers).
 */
#include "golden/cases.h"
#include "io/media.h"

#include <stdlib.h>
#include <string.h>

/* params: input_sample_rate, target_sample_rate; input (..., N) float32 waveform;
 * output (..., ceil(N * target / input)). */
ltx_status ltx_g_audio_resample(ltx_golden_ctx *g)
{
    const cJSON *p = ltx_golden_params(g);
    const int sr_in = (int)ltx_json_int(p, "input_sample_rate", 0);
    const int sr_out = (int)ltx_json_int(p, "target_sample_rate", 0);
    const char *name = ltx_golden_output_name(g, 0);
    if (sr_in <= 0 || sr_out <= 0 || !name)
        return ltx_err(LTX_ERR_FORMAT,
                       "audio_resample: needs input/target_sample_rate and an output");
    ltx_tensor *x = ltx_golden_input(g, 0);
    if (!x) return ltx_err_failed();
    const int64_t n = x->shape[x->ndim - 1];
    const int64_t rows = n > 0 ? ltx_tensor_numel(x) / n : 0;
    int64_t shape[LTX_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    const int ndim = x->ndim;
    float *host = ltx_tensor_to_host_f32(x);
    ltx_tensor_free(x);
    if (!host) return ltx_err_failed();
    float *y = NULL;
    int64_t n_out = 0;
    ltx_status s = ltx_audio_resample(host, (int)rows, n, sr_in, sr_out, &y, &n_out);
    free(host);
    if (s != LTX_OK) return s;
    shape[ndim - 1] = n_out;
    s = ltx_golden_emit_host(g, name, LTX_F32, ndim, shape, y);
    free(y);
    return s;
}
