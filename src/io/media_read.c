/*
 * media_read.c — image load, video probe and video decode to RGB24.
 * ref: ltx_pipelines/utils/media_io.py decode_image, get_videostream_fps,
 * get_videostream_metadata, decode_video_by_frame, decode_video_from_file (PyAV 10).
 *
 * Frames are converted exactly like PyAV's frame.to_rgb() (ltx_media_frame_to_rgb), so decoding
 * the same file with the same FFmpeg build reproduces the reference's pixels bit for bit
 * (checked against the goldens' stored frames in tests/unit/test_media.c).
 * Images are the exception: the reference decodes them with Pillow; PNG RGB/RGBA is lossless
 * so the pixels agree, JPEG does not (libjpeg vs FFmpeg's IDCT/upsampling).
 */
#include "io/media_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixdesc.h>

/* ---- images -------------------------------------------------------------------------------- */
static ltx_status image_to_rgb(const AVFrame *f, uint8_t *dst, const char *path)
{
    const int w = f->width, h = f->height;
    if (f->format == AV_PIX_FMT_RGB24 || f->format == AV_PIX_FMT_RGBA) {
        /* ref: np.array(img)[..., :3] — RGB copied, alpha dropped, nothing converted */
        const int bpp = f->format == AV_PIX_FMT_RGB24 ? 3 : 4;
        for (int y = 0; y < h; y++) {
            const uint8_t *s = f->data[0] + (size_t)y * f->linesize[0];
            uint8_t *d = dst + (size_t)y * w * 3;
            for (int x = 0; x < w; x++)
                memcpy(d + 3 * x, s + bpp * x, 3);
        }
        return LTX_OK;
    }
    /* Other layouts (gray, palette, 16-bit, YUV JPEG): a proper conversion (the reference's
     * [..., :3] slice mishandles them). */
    struct SwsContext *sws =
        sws_getContext(w, h, (enum AVPixelFormat)f->format, w, h, AV_PIX_FMT_RGB24,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws)
        return ltx_err(LTX_ERR_UNSUPPORTED, "'%s': cannot convert pixel format %s to rgb24", path,
                       av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    uint8_t *dd[4] = {dst, NULL, NULL, NULL};
    int dl[4] = {w * 3, 0, 0, 0};
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dd, dl);
    sws_freeContext(sws);
    return LTX_OK;
}

ltx_status ltx_image_load(const char *path, ltx_frames *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "image load: NULL output");
    memset(out, 0, sizeof *out);
    AVDictionary *opts = NULL;
    /* a file name is a file name: no image2 "%d" sequence patterns */
    av_dict_set(&opts, "pattern_type", "none", 0);
    media_in m;
    ltx_status s = ltx_media_in_open(&m, path, AVMEDIA_TYPE_VIDEO, false, &opts);
    av_dict_free(&opts);
    if (s != LTX_OK) return ltx_err_context(s, "loading image: ");
    /* A damaged picture is an error, not a half-grey frame: without this the JPEG decoder
     * "emulates" a missing EOI and returns a truncated file's picture with no error flag. (Read
     * by the decoders per packet, so setting it after avcodec_open2 holds.) */
    m.dec->err_recognition |= AV_EF_EXPLODE;
    int r = ltx_media_in_next(&m, &s);
    if (r == 0) s = ltx_err(LTX_ERR_FORMAT, "'%s': no picture could be decoded", path);
    if (r == 1) {
        const AVFrame *f = m.frame;
        int cap = 0;
        uint8_t *slot = NULL;
        s = ltx_media_frames_push(out, &cap, f->height, f->width, &slot);
        if (s == LTX_OK) s = image_to_rgb(f, slot, path);
    }
    ltx_media_in_close(&m);
    if (s != LTX_OK) ltx_frames_free(out);
    return s;
}

/* ---- probing ----------------------------------------------------------------------------------
 */
ltx_status ltx_media_probe_video(const char *path, ltx_video_info *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "probe: NULL output");
    memset(out, 0, sizeof *out);
    media_in m;
    LTX_TRY(ltx_media_in_open(&m, path, AVMEDIA_TYPE_VIDEO, false, NULL));
    const AVStream *st = m.st;
    out->width = st->codecpar->width;
    out->height = st->codecpar->height;
    out->avg_rate = (ltx_rational){st->avg_frame_rate.num, st->avg_frame_rate.den};
    if (out->avg_rate.den <= 0 || out->avg_rate.num <= 0)
        out->avg_rate = (ltx_rational){st->r_frame_rate.num,
                                       st->r_frame_rate.den > 0 ? st->r_frame_rate.den : 1};
    out->fps = out->avg_rate.den > 0 ? (double)out->avg_rate.num / out->avg_rate.den : 0.0;
    if (st->duration != AV_NOPTS_VALUE)
        out->duration_s = (double)st->duration * av_q2d(st->time_base);
    else if (m.fmt->duration != AV_NOPTS_VALUE)
        out->duration_s = (double)m.fmt->duration / AV_TIME_BASE;
    for (unsigned i = 0; i < m.fmt->nb_streams; i++) {
        const AVCodecParameters *cp = m.fmt->streams[i]->codecpar;
        if (cp->codec_type == AVMEDIA_TYPE_AUDIO) {
            out->audio_rate = cp->sample_rate;
            out->audio_channels = cp->ch_layout.nb_channels;
            break;
        }
    }
    /* ref: get_videostream_metadata: stream.frames, else count by decoding */
    out->frames = st->nb_frames;
    ltx_status s = LTX_OK;
    if (out->frames <= 0) {
        int64_t n = 0;
        int r;
        while ((r = ltx_media_in_next(&m, &s)) == 1)
            n++;
        if (r < 0) {
            ltx_media_in_close(&m);
            return s;
        }
        out->frames = n;
    }
    ltx_media_in_close(&m);
    return LTX_OK;
}

/* ---- video decoding -------------------------------------------------------------------------- */
ltx_status ltx_video_decode_frames(const char *path, int64_t start_frame, int64_t max_frames,
                                   ltx_frames *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "video decode: NULL output");
    memset(out, 0, sizeof *out);
    if (max_frames == 0) return LTX_OK;
    media_in m;
    LTX_TRY(ltx_media_in_open(&m, path, AVMEDIA_TYPE_VIDEO, false, NULL));
    struct SwsContext *sws = NULL;
    ltx_status s = LTX_OK;
    int cap = 0;
    int64_t index = 0;
    int r;
    /* ref: decode_video_by_frame: enumerate decoded frames, skip < starting_frame, stop after
     * frame_cap yielded */
    while ((r = ltx_media_in_next(&m, &s)) == 1) {
        if (index++ < start_frame) continue;
        uint8_t *slot;
        s = ltx_media_frames_push(out, &cap, m.frame->height, m.frame->width, &slot);
        if (s == LTX_OK) s = ltx_media_frame_to_rgb(&sws, m.frame, slot, path);
        if (s != LTX_OK) break;
        if (max_frames > 0 && out->n >= max_frames) break;
    }
    sws_freeContext(sws);
    ltx_media_in_close(&m);
    if (s != LTX_OK) ltx_frames_free(out);
    return s;
}

ltx_status ltx_video_decode_time(const char *path, double start_s, double max_duration_s,
                                 ltx_frames *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "video decode: NULL output");
    memset(out, 0, sizeof *out);
    media_in m;
    LTX_TRY(ltx_media_in_open(&m, path, AVMEDIA_TYPE_VIDEO, false, NULL));
    /* ref: time_base = float(video_stream.time_base); frame_time = frame.pts * time_base */
    const double tb = av_q2d(m.st->time_base);
    const double fps = m.st->avg_frame_rate.den > 0 ? av_q2d(m.st->avg_frame_rate) : 0.0;
    ltx_status s = LTX_OK;
    if (start_s > 0) s = ltx_media_in_seek(&m, (int64_t)(start_s / tb));
    const bool has_end = max_duration_s > 0;
    const double end_s = start_s + max_duration_s;
    struct SwsContext *sws = NULL;
    int cap = 0;
    bool no_pts = false;
    int r;
    while (s == LTX_OK && (r = ltx_media_in_next(&m, &s)) == 1) {
        if (m.frame->pts == AV_NOPTS_VALUE) {
            no_pts = true;
            break;
        }
        const double t = (double)m.frame->pts * tb;
        if (t < start_s) continue;
        if (has_end && t >= end_s) break;
        uint8_t *slot;
        s = ltx_media_frames_push(out, &cap, m.frame->height, m.frame->width, &slot);
        if (s == LTX_OK) s = ltx_media_frame_to_rgb(&sws, m.frame, slot, path);
    }
    sws_freeContext(sws);
    ltx_media_in_close(&m);
    if (s != LTX_OK) {
        ltx_frames_free(out);
        return s;
    }
    if (no_pts) {
        /* ref: frames without pts -> decode_video_by_frame(round(start*fps), round(dur*fps)) */
        ltx_frames_free(out);
        if (!(fps > 0))
            return ltx_err(LTX_ERR_FORMAT, "'%s': frames have no timestamps and no frame rate",
                           path);
        int64_t first = (int64_t)nearbyint(start_s * fps);
        int64_t cap_n = has_end ? (int64_t)nearbyint(max_duration_s * fps) : -1;
        return ltx_video_decode_frames(path, first, cap_n, out);
    }
    return LTX_OK;
}
