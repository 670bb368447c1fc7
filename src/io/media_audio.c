/*
 * media_audio.c — audio decode of any FFmpeg-readable file to float32 planar, with the
 * reference's time window and an optional conversion to stereo.
 * ref: ltx_pipelines/utils/media_io.py decode_audio_from_file, _audio_frame_to_float.
 *
 * Window (reference semantics, PyAV 10):
 *   seek(int(start / time_base), stream, backward); for each decoded frame with a pts:
 *     t = pts * time_base; end = t + samples / rate
 *     skip while end < start; stop once t > start + max_duration (or the stream duration)
 *   concatenate; drop round((start - t_first) * rate) leading samples when > 0;
 *   keep round(max_duration * rate) samples.     (round = Python's, half to even)
 * Sample scaling: float formats as is; s16 / 32768, s32 / 2^31, u8 (x - 128) / 128 (the
 * reference divides u8 by 128 without removing the offset — a bug not copied), s64 / 2^63,
 * double narrowed to float.
 * Stereo conversion (our addition; the reference feeds whatever channel count it decoded to
 * the stereo audio VAE): mono duplicated, > 2 channels down-mixed with libswresample's
 * standard matrix (swr_build_matrix2: center/surround -3 dB, LFE dropped, normalised).
 */
#include "io/media_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

/* Appends frame `f` as float (channels, samples) to the growing planar buffer `*buf` with
 * per-channel capacity *cap and length *len. */
static ltx_status append_frame(const AVFrame *f, int ch, float **buf, int64_t *cap, int64_t *len,
                               const char *path)
{
    const int ns = f->nb_samples;
    if (*len + ns > *cap) {
        int64_t nc = *cap ? *cap : 16384;
        while (nc < *len + ns)
            nc *= 2;
        float *p = malloc(sizeof(float) * (size_t)(nc * ch));
        if (!p) return ltx_err(LTX_ERR_OOM, "'%s': out of memory decoding audio", path);
        for (int c = 0; c < ch && *buf; c++)
            memcpy(p + (size_t)c * nc, *buf + (size_t)c * *cap, sizeof(float) * (size_t)*len);
        free(*buf);
        *buf = p;
        *cap = nc;
    }
    const enum AVSampleFormat fmt = (enum AVSampleFormat)f->format;
    const bool planar = av_sample_fmt_is_planar(fmt);
    const enum AVSampleFormat packed = av_get_packed_sample_fmt(fmt);
    for (int c = 0; c < ch; c++) {
        float *d = *buf + (size_t)c * *cap + *len;
        for (int i = 0; i < ns; i++) {
            const uint8_t *plane = planar ? f->extended_data[c] : f->extended_data[0];
            const size_t at = planar ? (size_t)i : (size_t)i * ch + c;
            float v;
            switch (packed) {
            case AV_SAMPLE_FMT_U8:
                v = ((float)plane[at] - 128.0f) / 128.0f;
                break;
            case AV_SAMPLE_FMT_S16:
                v = (float)((const int16_t *)plane)[at] / 32768.0f;
                break;
            case AV_SAMPLE_FMT_S32:
                v = (float)((const int32_t *)plane)[at] / 2147483648.0f;
                break;
            case AV_SAMPLE_FMT_S64:
                v = (float)((double)((const int64_t *)plane)[at] / 9223372036854775808.0);
                break;
            case AV_SAMPLE_FMT_FLT:
                v = ((const float *)plane)[at];
                break;
            case AV_SAMPLE_FMT_DBL:
                v = (float)((const double *)plane)[at];
                break;
            default:
                return ltx_err(LTX_ERR_UNSUPPORTED, "'%s': unsupported sample format %s", path,
                               av_get_sample_fmt_name(fmt));
            }
            d[i] = v;
        }
    }
    *len += ns;
    return LTX_OK;
}

/* (ch, n) at stride `cap` -> (2, n) contiguous with the standard down-mix matrix. */
static ltx_status downmix(const float *src, int ch, int64_t cap, int64_t off, int64_t n,
                          const AVChannelLayout *layout, float *dst, const char *path)
{
    AVChannelLayout in = {0}, out = AV_CHANNEL_LAYOUT_STEREO;
    if (layout && layout->order != AV_CHANNEL_ORDER_UNSPEC && layout->nb_channels == ch)
        av_channel_layout_copy(&in, layout);
    else
        av_channel_layout_default(&in, ch);
    /* room for FFmpeg's largest matrix (64 x 64): swr_build_matrix2 may touch more than the
     * 2 x ch entries it fills */
    double *m = calloc((size_t)64 * 64 + (size_t)2 * ch, sizeof(double));
    if (!m) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", path);
    /* center and surround at -3 dB, no LFE, maxval 1 (normalise), volume 1 */
    int r = swr_build_matrix2(&in, &out, M_SQRT1_2, M_SQRT1_2, 0.0, 1.0, 1.0, m, ch,
                              AV_MATRIX_ENCODING_NONE, NULL);
    av_channel_layout_uninit(&in);
    if (r < 0) {
        free(m);
        return ltx_media_averr(LTX_ERR_UNSUPPORTED, r, path, "cannot build a stereo down-mix for");
    }
    for (int o = 0; o < 2; o++) {
        for (int64_t i = 0; i < n; i++) {
            double acc = 0.0;
            for (int c = 0; c < ch; c++)
                acc += m[o * ch + c] * src[(size_t)c * cap + off + i];
            dst[(size_t)o * n + i] = (float)acc;
        }
    }
    free(m);
    return LTX_OK;
}

/* Builds the result from the concatenated planar buffer (ch, len) at stride cap. */
static ltx_status finish(float *buf, int ch, int64_t cap, int64_t len, int64_t skip, int64_t keep,
                         bool to_stereo, const AVChannelLayout *layout, ltx_audio *out,
                         const char *path)
{
    int64_t n = len - skip;
    if (keep >= 0 && n > keep) n = keep;
    if (n <= 0)
        return ltx_err(LTX_ERR_FORMAT, "'%s': no audio samples in the requested window", path);
    const int och = (to_stereo && ch != 2) ? 2 : ch;
    float *d = malloc(sizeof(float) * (size_t)(n * och));
    if (!d) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", path);
    out->mix = "none";
    if (och == ch) {
        for (int c = 0; c < ch; c++)
            memcpy(d + (size_t)c * n, buf + (size_t)c * cap + skip, sizeof(float) * (size_t)n);
    } else if (ch == 1) {
        memcpy(d, buf + skip, sizeof(float) * (size_t)n);
        memcpy(d + n, buf + skip, sizeof(float) * (size_t)n);
        out->mix = "mono->stereo (duplicated)";
    } else {
        ltx_status s = downmix(buf, ch, cap, skip, n, layout, d, path);
        if (s != LTX_OK) {
            free(d);
            return s;
        }
        out->mix = "down-mix to stereo (FFmpeg standard matrix: center/surround -3 dB, no LFE)";
    }
    out->data = d;
    out->n = n;
    out->channels = och;
    return LTX_OK;
}

ltx_status ltx_audio_decode(const char *path, double start_s, double max_duration_s, bool to_stereo,
                            ltx_audio *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "audio decode: NULL output");
    memset(out, 0, sizeof *out);
    out->mix = "none";
    if (start_s < 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "'%s': negative audio start %g", path, start_s);
    media_in m;
    LTX_TRY(ltx_media_in_open(&m, path, AVMEDIA_TYPE_AUDIO, true, NULL));
    if (!m.st) { /* no audio stream: the reference returns None */
        ltx_media_in_close(&m);
        return LTX_OK;
    }
    const int sr = m.st->codecpar->sample_rate;
    const int ch = m.st->codecpar->ch_layout.nb_channels;
    out->sample_rate = sr;
    out->src_channels = ch;
    ltx_status s = LTX_OK;
    if (sr <= 0 || ch <= 0) {
        s = ltx_err(LTX_ERR_FORMAT, "'%s': audio stream without rate/channels", path);
        goto done;
    }
    const AVRational tbq = m.st->time_base;
    const double tb = av_q2d(tbq);
    /* ref: end_time = start + max_duration if max_duration else duration * time_base */
    double end_s = INFINITY;
    if (max_duration_s > 0)
        end_s = start_s + max_duration_s;
    else if (m.st->duration != AV_NOPTS_VALUE)
        end_s = (double)m.st->duration * tbq.num / tbq.den;
    /* ref: container.seek(int(start_time / time_base), stream=audio_stream) */
    s = ltx_media_in_seek(&m, (int64_t)(start_s / tb));
    if (s != LTX_OK) goto done;
    float *buf = NULL;
    int64_t cap = 0, len = 0;
    double first_t = NAN;
    int r;
    while ((r = ltx_media_in_next(&m, &s)) == 1) {
        const AVFrame *f = m.frame;
        if (f->pts == AV_NOPTS_VALUE) continue;
        if (f->ch_layout.nb_channels != ch) {
            s = ltx_err(LTX_ERR_UNSUPPORTED, "'%s': channel count changes mid-stream", path);
            break;
        }
        /* float(frame.pts * time_base): exact rational, rounded once */
        const double t = (double)(f->pts * tbq.num) / (double)tbq.den;
        const double t_end = t + (double)f->nb_samples / (double)f->sample_rate;
        if (t_end < start_s) continue;
        if (t > end_s) break;
        if (isnan(first_t)) first_t = t;
        s = append_frame(f, ch, &buf, &cap, &len, path);
        if (s != LTX_OK) break;
    }
    if (s == LTX_OK) {
        if (len == 0) {
            s = ltx_err(LTX_ERR_FORMAT, "'%s': audio stream decoded to zero samples (start %.3f s)",
                        path, start_s);
        } else {
            int64_t skip = (int64_t)nearbyint((start_s - first_t) * sr); /* Python round */
            if (skip < 0) skip = 0;
            int64_t keep = max_duration_s > 0 ? (int64_t)nearbyint(max_duration_s * sr) : -1;
            s = finish(buf, ch, cap, len, skip, keep, to_stereo, &m.st->codecpar->ch_layout, out,
                       path);
        }
    }
    free(buf);
done:
    ltx_media_in_close(&m);
    if (s != LTX_OK) {
        ltx_audio_free(out);
        out->mix = "none";
    }
    return s;
}
