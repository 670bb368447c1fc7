/*
 * media_common.c — FFmpeg plumbing shared by the media readers and writers (see
 * media_internal.h): AVERROR -> ltx_status, the stream reader used by every decode path,
 * PyAV-equivalent RGB24 conversion, frame lists, rationals, and the output-path guard.
 * ref: PyAV 10 (av/container/input.pyx demux/decode/seek, av/video/reformatter.pyx) as used
 * by ltx_pipelines/utils/media_io.py.
 */
#include "io/file.h"
#include "io/media_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/imgutils.h>
#include <libavutil/log.h>

ltx_status ltx_media_averr(ltx_status fallback, int averr, const char *path, const char *what)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(averr, buf, sizeof buf);
    ltx_status s = fallback;
    if (averr == AVERROR(ENOMEM))
        s = LTX_ERR_OOM;
    else if (averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) || averr == AVERROR(EISDIR) ||
             averr == AVERROR(EIO) || averr == AVERROR(ENOSPC) || averr == AVERROR(EROFS))
        s = LTX_ERR_IO;
    return ltx_err(s, "%s '%s': %s", what, path ? path : "(memory)", buf);
}

void ltx_media_quiet_ffmpeg(void)
{
    /* AV_LOG_INFO is FFmpeg's untouched default; a program that set a level keeps it. */
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_QUIET);
}

/* ---- reader ------------------------------------------------------------------------------- */
ltx_status ltx_media_in_open(media_in *m, const char *path, enum AVMediaType type, bool optional,
                             AVDictionary **demux_opts)
{
    memset(m, 0, sizeof *m);
    m->path = path;
    if (!path || !*path) return ltx_err(LTX_ERR_INVALID_ARG, "media: empty path");
    ltx_media_quiet_ffmpeg();
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ltx_err(LTX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return ltx_err(LTX_ERR_IO, "cannot open '%s': is a directory", path);
    LTX_TRY(ltx_check_regular(path, NULL)); /* FFmpeg would block forever on a FIFO */
    if (sb.st_size == 0) return ltx_err(LTX_ERR_FORMAT, "cannot read '%s': empty file", path);
    int r = avformat_open_input(&m->fmt, path, NULL, demux_opts);
    if (r < 0) return ltx_media_averr(LTX_ERR_FORMAT, r, path, "cannot open media file");
    r = avformat_find_stream_info(m->fmt, NULL);
    if (r < 0) {
        ltx_status s = ltx_media_averr(LTX_ERR_FORMAT, r, path, "cannot read stream info of");
        ltx_media_in_close(m);
        return s;
    }
    for (unsigned i = 0; i < m->fmt->nb_streams; i++) {
        if (m->fmt->streams[i]->codecpar->codec_type == type) {
            m->st = m->fmt->streams[i];
            break;
        }
    }
    if (!m->st) {
        if (optional) return LTX_OK;
        ltx_status s =
            ltx_err(LTX_ERR_FORMAT, "'%s' has no %s stream", path, av_get_media_type_string(type));
        ltx_media_in_close(m);
        return s;
    }
    ltx_status s = LTX_OK;
    const AVCodec *codec = avcodec_find_decoder(m->st->codecpar->codec_id);
    if (!codec) {
        s = ltx_err(LTX_ERR_UNSUPPORTED, "'%s': no decoder for codec '%s'", path,
                    avcodec_get_name(m->st->codecpar->codec_id));
        goto fail;
    }
    m->dec = avcodec_alloc_context3(codec);
    m->pkt = av_packet_alloc();
    m->frame = av_frame_alloc();
    if (!m->dec || !m->pkt || !m->frame) {
        s = ltx_err(LTX_ERR_OOM, "'%s': out of memory opening the decoder", path);
        goto fail;
    }
    r = avcodec_parameters_to_context(m->dec, m->st->codecpar);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_FORMAT, r, path, "bad codec parameters in");
        goto fail;
    }
    /* ref: PyAV CodecContext._init: thread_count 0 (auto), thread_type 2 (slice) */
    m->dec->thread_count = 0;
    m->dec->thread_type = FF_THREAD_SLICE;
    m->dec->pkt_timebase = m->st->time_base;
    r = avcodec_open2(m->dec, codec, NULL);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_FORMAT, r, path, "cannot open decoder for");
        goto fail;
    }
    return LTX_OK;
fail:
    ltx_media_in_close(m);
    return s;
}

void ltx_media_in_close(media_in *m)
{
    if (!m) return;
    av_frame_free(&m->frame);
    av_packet_free(&m->pkt);
    avcodec_free_context(&m->dec);
    if (m->fmt) avformat_close_input(&m->fmt);
    m->st = NULL;
}

int ltx_media_in_next(media_in *m, ltx_status *st)
{
    for (;;) {
        int r = avcodec_receive_frame(m->dec, m->frame);
        if (r == 0) return 1;
        if (r == AVERROR_EOF) return 0;
        if (r != AVERROR(EAGAIN)) {
            *st = ltx_media_averr(LTX_ERR_FORMAT, r, m->path, "decoding failed in");
            return -1;
        }
        if (m->flushed) return 0;
        r = av_read_frame(m->fmt, m->pkt);
        if (r == AVERROR_EOF) {
            /* PyAV's demux ends each stream with an empty packet: drain the decoder */
            avcodec_send_packet(m->dec, NULL);
            m->flushed = true;
            continue;
        }
        if (r < 0) {
            *st = ltx_media_averr(LTX_ERR_FORMAT, r, m->path, "reading packets failed in");
            return -1;
        }
        if (m->pkt->stream_index != m->st->index) {
            av_packet_unref(m->pkt);
            continue;
        }
        r = avcodec_send_packet(m->dec, m->pkt);
        av_packet_unref(m->pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            *st = ltx_media_averr(LTX_ERR_FORMAT, r, m->path, "corrupt data in");
            return -1;
        }
    }
}

ltx_status ltx_media_in_seek(media_in *m, int64_t ts)
{
    int r = av_seek_frame(m->fmt, m->st->index, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0) return ltx_media_averr(LTX_ERR_FORMAT, r, m->path, "seek failed in");
    avcodec_flush_buffers(m->dec);
    m->flushed = false;
    return LTX_OK;
}

/* ---- RGB conversion ------------------------------------------------------------------------ */
ltx_status ltx_media_frame_to_rgb(struct SwsContext **sws, const AVFrame *f, uint8_t *dst,
                                  const char *path)
{
    const int w = f->width, h = f->height;
    /* ref: PyAV VideoReformatter: sws_getCachedContext(w, h, src, w, h, rgb24, SWS_BILINEAR) and
     * no sws_setColorspaceDetails when source and target colorspace are the frame's own */
    *sws = sws_getCachedContext(*sws, w, h, (enum AVPixelFormat)f->format, w, h, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws)
        return ltx_err(LTX_ERR_UNSUPPORTED, "'%s': cannot convert pixel format %s to rgb24",
                       path ? path : "(memory)",
                       av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    uint8_t *data[4] = {0};
    int linesize[4] = {0};
    /* PyAV allocates frames with av_image_alloc(..., align 16) */
    int r = av_image_alloc(data, linesize, w, h, AV_PIX_FMT_RGB24, 16);
    if (r < 0) return ltx_err(LTX_ERR_OOM, "'%s': out of memory (%dx%d frame)", path, w, h);
    sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, h, data, linesize);
    for (int y = 0; y < h; y++)
        memcpy(dst + (size_t)y * w * 3, data[0] + (size_t)y * linesize[0], (size_t)w * 3);
    av_freep(&data[0]);
    return LTX_OK;
}

/* ---- frame lists ------------------------------------------------------------------------- */
ltx_status ltx_media_frames_push(ltx_frames *fr, int *cap, int h, int w, uint8_t **slot)
{
    if (fr->n > 0 && (fr->h != h || fr->w != w))
        return ltx_err(LTX_ERR_UNSUPPORTED, "frame size changes mid-stream (%dx%d -> %dx%d)", fr->h,
                       fr->w, h, w);
    const size_t fsz = (size_t)h * w * 3;
    if (fr->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        uint8_t *p = realloc(fr->rgb, fsz * (size_t)nc);
        if (!p) return ltx_err(LTX_ERR_OOM, "out of memory holding %d frames of %dx%d", nc, h, w);
        fr->rgb = p;
        *cap = nc;
    }
    fr->h = h;
    fr->w = w;
    *slot = fr->rgb + fsz * (size_t)fr->n;
    fr->n++;
    return LTX_OK;
}

void ltx_frames_free(ltx_frames *f)
{
    if (!f) return;
    free(f->rgb);
    memset(f, 0, sizeof *f);
}

void ltx_audio_free(ltx_audio *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- rationals ------------------------------------------------------------------------------ */
ltx_rational ltx_rational_from_fps(double fps)
{
    ltx_rational r = {24, 1};
    if (!(fps > 0) || fps > 1e6) return r;
    double k = round(fps);
    if (fabs(fps - k) < 1e-9) return (ltx_rational){(int)k, 1};
    double k1001 = round(fps * 1001.0 / 1000.0); /* 23.976 -> 24, 29.97 -> 30 */
    if (fabs(fps - k1001 * 1000.0 / 1001.0) < 1e-3) return (ltx_rational){(int)k1001 * 1000, 1001};
    AVRational q = av_d2q(fps, 1001);
    if (q.den <= 0 || q.num <= 0) return r;
    return (ltx_rational){q.num, q.den};
}

/* ---- output guard --------------------------------------------------------------------------- */
ltx_status ltx_media_check_output(const char *out_path, const char *const *inputs, int n_inputs)
{
    if (!out_path || !*out_path) return ltx_err(LTX_ERR_INVALID_ARG, "empty output path");
    struct stat so;
    const bool out_exists = stat(out_path, &so) == 0;
    char out_real[PATH_MAX];
    const char *out_norm = realpath(out_path, out_real) ? out_real : out_path;
    for (int i = 0; i < n_inputs; i++) {
        const char *in = inputs ? inputs[i] : NULL;
        if (!in || !*in) continue;
        struct stat si;
        bool same = false;
        if (out_exists && stat(in, &si) == 0)
            same = si.st_dev == so.st_dev && si.st_ino == so.st_ino;
        else {
            char in_real[PATH_MAX];
            const char *in_norm = realpath(in, in_real) ? in_real : in;
            same = strcmp(in_norm, out_norm) == 0;
        }
        if (same)
            return ltx_err(LTX_ERR_INVALID_ARG,
                           "output path '%s' is the input file '%s'; refusing to overwrite it",
                           out_path, in);
    }
    return LTX_OK;
}
