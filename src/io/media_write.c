/*
 * media_write.c — the mp4 writer and the conditioning-image H.264 CRF round trip.
 * ref: ltx_pipelines/utils/media_io.py encode_video, _prepare_audio_stream, _write_audio,
 * encode_single_frame, decode_single_frame, preprocess (PyAV 10 on FFmpeg 5.1, libx264 164).
 *
 * Encoder settings replicate what PyAV hands to FFmpeg (av/container/output.pyx add_stream,
 * av/codec/context.pyx): video — pix_fmt yuv420p, bit_rate 1024000, bit_rate_tolerance
 * 128000, framerate = rate, time_base = 1/rate, slice threading with auto thread count; since
 * the reference passes no "crf" option, libx264 runs ABR at 1024 kb/s with its default preset
 * (medium). (The spec's "libx264 defaults: crf 23" overlooks PyAV's bit_rate default.) RGB24
 * frames go to yuv420p through swscale bilinear with default BT.601 limited-range
 * coefficients. Audio — FFmpeg's native "aac", fltp, stereo, bit_rate 128000, time_base 1/sr;
 * samples clip(x, -1, 1) * 32767 truncated to int16, then int16 / 32768 as float (the s16 ->
 * fltp conversion of the reference's resampler).
 * Deliberate differences: the frame rate is kept as a rational (the reference writes
 * int(fps), e.g. 23 for 23.976); the last AAC frame stays short so the audio is not padded;
 * the file is written to a fresh temp file in the output's folder (io/file.h: O_EXCL, never an
 * existing file or a symlink, removed on SIGINT/SIGTERM) through our own AVIOContext on that
 * descriptor, then renamed over the output; it is removed on any failure.
 *
 * The CRF round trip encodes one frame (crf, preset veryfast, rate 1, PyAV defaults as above,
 * slice threads as the reference's auto count gives on the 2-core golden machine) and decodes
 * the packets directly — the reference's in-memory MP4 only wraps the same bitstream.
 */
#include "io/file.h"
#include "io/media_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>

#define PYAV_VIDEO_BITRATE     1024000 /* ref: PyAV add_stream video defaults */
#define PYAV_VIDEO_BITRATE_TOL 128000
#define PYAV_AUDIO_BITRATE     128000 /* ref: PyAV add_stream audio defaults */

void ltx_mp4_params_init(ltx_mp4_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->fps = (ltx_rational){24, 1};
    p->crf = -1.0;
    p->preset = NULL;
    p->video_bitrate = PYAV_VIDEO_BITRATE;
    p->audio_bitrate = PYAV_AUDIO_BITRATE;
}

/* RGB24 (h, w, 3) -> newly allocated yuv420p frame, like PyAV's reformat(format="yuv420p"). */
static ltx_status rgb_to_yuv_frame(struct SwsContext **sws, const uint8_t *rgb, int h, int w,
                                   int src_stride, AVFrame **out, const char *path)
{
    *sws = sws_getCachedContext(*sws, w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P,
                                SWS_BILINEAR, NULL, NULL, NULL);
    AVFrame *f = av_frame_alloc();
    uint8_t *src[4] = {0};
    int src_ls[4] = {0};
    if (!*sws || !f) goto oom;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    /* PyAV frames come from av_image_alloc(..., 16): same strides here */
    if (av_image_alloc(f->data, f->linesize, w, h, AV_PIX_FMT_YUV420P, 16) < 0) goto oom;
    if (av_image_alloc(src, src_ls, w, h, AV_PIX_FMT_RGB24, 16) < 0) {
        av_freep(&f->data[0]);
        goto oom;
    }
    for (int y = 0; y < h; y++)
        memcpy(src[0] + (size_t)y * src_ls[0], rgb + (size_t)y * src_stride, (size_t)w * 3);
    sws_scale(*sws, (const uint8_t *const *)src, src_ls, 0, h, f->data, f->linesize);
    av_freep(&src[0]);
    *out = f;
    return LTX_OK;
oom:
    av_frame_free(&f);
    return ltx_err(LTX_ERR_OOM, "'%s': out of memory converting a %dx%d frame", path, w, h);
}

/* Frees a frame whose planes came from av_image_alloc (one block at data[0]). */
static void free_image_frame(AVFrame **f)
{
    if (!*f) return;
    if (!(*f)->buf[0]) av_freep(&(*f)->data[0]);
    av_frame_free(f);
}

/* libx264 encoder context with PyAV's stream defaults. */
static ltx_status open_x264(AVCodecContext **out, int w, int h, AVRational rate, double crf,
                            const char *preset, int64_t bitrate, int threads, bool global_header,
                            const char *path)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return ltx_err(LTX_ERR_UNSUPPORTED, "'%s': FFmpeg was built without libx264", path);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", path);
    c->width = w;
    c->height = h;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->bit_rate = bitrate;
    c->bit_rate_tolerance = PYAV_VIDEO_BITRATE_TOL;
    c->ticks_per_frame = 1;
    c->framerate = rate;
    c->time_base = av_inv_q(rate); /* ref: PyAV open(): time_base = 1/framerate */
    c->thread_count = threads;     /* ref: PyAV: 0 = auto */
    c->thread_type = FF_THREAD_SLICE;
    if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    char buf[64];
    if (crf >= 0) {
        /* ref: options={"crf": str(crf)} — Python's str of an int has no decimals */
        if (crf == floor(crf))
            snprintf(buf, sizeof buf, "%d", (int)crf);
        else
            snprintf(buf, sizeof buf, "%g", crf);
        av_dict_set(&opts, "crf", buf, 0);
    }
    if (preset) av_dict_set(&opts, "preset", preset, 0);
    int r = avcodec_open2(c, codec, &opts);
    av_dict_free(&opts);
    if (r < 0) {
        avcodec_free_context(&c);
        return ltx_media_averr(LTX_ERR_INVALID_ARG, r, path, "cannot open the H.264 encoder for");
    }
    *out = c;
    return LTX_OK;
}

/* ---- mp4 writer ------------------------------------------------------------------------------ */
typedef struct writer {
    const char *path; /* final path (messages) */
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vst, *ast;
    AVPacket *pkt;
    AVIOContext *io; /* custom I/O on tmp.fd (FFmpeg never opens a path itself) */
    ltx_tmpfile tmp;
} writer;

/* ---- custom I/O on the temp file's descriptor ---- */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define AVIO_WBUF const uint8_t *
#else
#define AVIO_WBUF uint8_t *
#endif

static int fd_write(void *opaque, AVIO_WBUF buf, int n)
{
    int fd = *(int *)opaque;
    for (int done = 0; done < n;) {
        ssize_t k = write(fd, buf + done, (size_t)(n - done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return AVERROR(k < 0 ? errno : EIO);
        done += (int)k;
    }
    return n;
}

static int64_t fd_seek(void *opaque, int64_t off, int whence)
{
    int fd = *(int *)opaque;
    if (whence & AVSEEK_SIZE) {
        struct stat sb;
        return fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : AVERROR(errno);
    }
    off_t r = lseek(fd, (off_t)off, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

static ltx_status open_tmp_io(writer *wr, const char *suffix)
{
    LTX_TRY(ltx_tmpfile_create(wr->path, suffix, &wr->tmp));
    const int size = 1 << 16;
    unsigned char *buf = av_malloc(size);
    if (buf) wr->io = avio_alloc_context(buf, size, 1, &wr->tmp.fd, NULL, fd_write, fd_seek);
    if (!wr->io) {
        av_free(buf);
        return ltx_err(LTX_ERR_OOM, "'%s': out of memory", wr->path);
    }
    wr->oc->pb = wr->io;
    wr->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    return LTX_OK;
}

/* Sends `f` (NULL = flush) to `enc` and writes every packet it returns. */
static ltx_status encode_write(writer *wr, AVCodecContext *enc, AVStream *st, const AVFrame *f)
{
    int r = avcodec_send_frame(enc, f);
    if (r < 0) return ltx_media_averr(LTX_ERR_INTERNAL, r, wr->path, "encoding failed for");
    for (;;) {
        r = avcodec_receive_packet(enc, wr->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LTX_OK;
        if (r < 0) return ltx_media_averr(LTX_ERR_INTERNAL, r, wr->path, "encoding failed for");
        av_packet_rescale_ts(wr->pkt, enc->time_base, st->time_base);
        wr->pkt->stream_index = st->index;
        r = av_interleaved_write_frame(wr->oc, wr->pkt);
        if (r < 0) return ltx_media_averr(LTX_ERR_IO, r, wr->path, "cannot write");
    }
}

static ltx_status open_audio(writer *wr, int sample_rate, int64_t bitrate)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    if (!codec) return ltx_err(LTX_ERR_UNSUPPORTED, "'%s': no AAC encoder", wr->path);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", wr->path);
    wr->aenc = c;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = sample_rate;
    c->bit_rate = bitrate;
    av_channel_layout_default(&c->ch_layout, 2);
    c->time_base = (AVRational){1, sample_rate};
    if (wr->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int r = avcodec_open2(c, codec, NULL);
    if (r < 0)
        return ltx_media_averr(LTX_ERR_INVALID_ARG, r, wr->path, "cannot open the AAC encoder for");
    wr->ast = avformat_new_stream(wr->oc, NULL);
    if (!wr->ast) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", wr->path);
    wr->ast->time_base = c->time_base;
    r = avcodec_parameters_from_context(wr->ast->codecpar, c);
    if (r < 0)
        return ltx_media_averr(LTX_ERR_INTERNAL, r, wr->path, "audio stream setup failed for");
    return LTX_OK;
}

static ltx_status write_video(writer *wr, const uint8_t *rgb, int n, int h, int w)
{
    struct SwsContext *sws = NULL;
    ltx_status s = LTX_OK;
    for (int i = 0; i < n && s == LTX_OK; i++) {
        AVFrame *f = NULL;
        s = rgb_to_yuv_frame(&sws, rgb + (size_t)i * h * w * 3, h, w, w * 3, &f, wr->path);
        if (s != LTX_OK) break;
        f->pts = i; /* ref: PyAV sets pts = encoded_frame_count when the frame has none */
        s = encode_write(wr, wr->venc, wr->vst, f);
        free_image_frame(&f);
    }
    sws_freeContext(sws);
    if (s == LTX_OK) s = encode_write(wr, wr->venc, wr->vst, NULL);
    return s;
}

static ltx_status write_audio(writer *wr, const float *audio, int64_t n)
{
    AVCodecContext *c = wr->aenc;
    const int fs = c->frame_size > 0 ? c->frame_size : 1024;
    AVFrame *f = av_frame_alloc();
    if (!f) return ltx_err(LTX_ERR_OOM, "'%s': out of memory", wr->path);
    ltx_status s = LTX_OK;
    for (int64_t off = 0; off < n && s == LTX_OK; off += fs) {
        const int ns = (int)((n - off) < fs ? (n - off) : fs);
        av_frame_unref(f);
        f->format = AV_SAMPLE_FMT_FLTP;
        f->sample_rate = c->sample_rate;
        f->nb_samples = ns;
        av_channel_layout_copy(&f->ch_layout, &c->ch_layout);
        if (av_frame_get_buffer(f, 0) < 0) {
            s = ltx_err(LTX_ERR_OOM, "'%s': out of memory", wr->path);
            break;
        }
        for (int ch = 0; ch < 2; ch++) {
            float *d = (float *)f->extended_data[ch];
            const float *x = audio + (size_t)ch * (size_t)n + off;
            for (int i = 0; i < ns; i++) {
                /* ref: clip(-1, 1) * 32767.0 -> int16 (truncation), then s16 -> flt */
                float v = x[i] < -1.0f ? -1.0f : (x[i] > 1.0f ? 1.0f : x[i]);
                if (v != v) v = 0.0f; /* NaN */
                d[i] = (float)(int16_t)(v * 32767.0f) * (1.0f / 32768.0f);
            }
        }
        f->pts = off;
        s = encode_write(wr, c, wr->ast, f);
    }
    av_frame_free(&f);
    if (s == LTX_OK) s = encode_write(wr, c, wr->ast, NULL);
    return s;
}

static void writer_close(writer *wr)
{
    avcodec_free_context(&wr->venc);
    avcodec_free_context(&wr->aenc);
    av_packet_free(&wr->pkt);
    if (wr->oc) {
        avformat_free_context(wr->oc); /* custom I/O: oc->pb is ours, not freed here */
        wr->oc = NULL;
    }
    if (wr->io) {
        av_freep(&wr->io->buffer);
        avio_context_free(&wr->io);
    }
}

ltx_status ltx_mp4_write(const char *path, const uint8_t *rgb, int n_frames, int h, int w,
                         const float *audio, int64_t n_samples, int sample_rate,
                         const ltx_mp4_params *p)
{
    ltx_mp4_params def;
    if (!p) {
        ltx_mp4_params_init(&def);
        p = &def;
    }
    if (!path || !*path) return ltx_err(LTX_ERR_INVALID_ARG, "mp4 write: empty output path");
    if (!rgb || n_frames <= 0 || h <= 0 || w <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "'%s': no video frames to write (%d frames %dx%d)",
                       path, n_frames, h, w);
    if ((h & 1) || (w & 1))
        return ltx_err(LTX_ERR_INVALID_ARG, "'%s': yuv420p needs even sizes, got %dx%d", path, h,
                       w);
    if (p->fps.num <= 0 || p->fps.den <= 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "'%s': bad frame rate %d/%d", path, p->fps.num,
                       p->fps.den);
    if (audio && (n_samples <= 0 || sample_rate <= 0))
        return ltx_err(LTX_ERR_INVALID_ARG, "'%s': empty audio (%lld samples at %d Hz)", path,
                       (long long)n_samples, sample_rate);
    ltx_media_quiet_ffmpeg();
    const AVOutputFormat *ofmt = av_guess_format(NULL, path, NULL);
    if (!ofmt) ofmt = av_guess_format("mp4", NULL, NULL);
    /* the temp name keeps the extension so tools recognise it: out.mp4 -> .out.mp4.XXXX.tmp.mp4 */
    const char *base = strrchr(path, '/');
    const char *ext = strrchr(base ? base : path, '.');

    writer wr = {.path = path, .tmp = {.fd = -1, .slot = -1}};
    ltx_status s = LTX_OK;
    int r = avformat_alloc_output_context2(&wr.oc, ofmt, NULL, path);
    wr.pkt = av_packet_alloc();
    if (r < 0 || !wr.oc || !wr.pkt) {
        s = ltx_err(LTX_ERR_OOM, "'%s': cannot allocate the muxer", path);
        goto fail;
    }
    AVRational rate = {p->fps.num, p->fps.den};
    LTX_CHECK_GOTO(s,
                   open_x264(&wr.venc, w, h, rate, p->crf, p->preset,
                             p->crf >= 0 ? 0 : p->video_bitrate, 0,
                             (wr.oc->oformat->flags & AVFMT_GLOBALHEADER) != 0, path),
                   fail);
    wr.vst = avformat_new_stream(wr.oc, NULL);
    if (!wr.vst) {
        s = ltx_err(LTX_ERR_OOM, "'%s': out of memory", path);
        goto fail;
    }
    wr.vst->time_base = wr.venc->time_base;
    wr.vst->avg_frame_rate = rate;
    r = avcodec_parameters_from_context(wr.vst->codecpar, wr.venc);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_INTERNAL, r, path, "video stream setup failed for");
        goto fail;
    }
    if (audio) LTX_CHECK_GOTO(s, open_audio(&wr, sample_rate, p->audio_bitrate), fail);
    LTX_CHECK_GOTO(s, open_tmp_io(&wr, ext ? ext : ".mp4"), fail);
    r = avformat_write_header(wr.oc, NULL);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_IO, r, path, "cannot write the header of");
        goto fail;
    }
    /* ref: encode_video: all video packets, flush, then the audio, then close */
    LTX_CHECK_GOTO(s, write_video(&wr, rgb, n_frames, h, w), fail);
    if (audio) LTX_CHECK_GOTO(s, write_audio(&wr, audio, n_samples), fail);
    r = av_write_trailer(wr.oc);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_IO, r, path, "cannot finish");
        goto fail;
    }
    avio_flush(wr.io);
    if (wr.io->error < 0) {
        s = ltx_media_averr(LTX_ERR_IO, wr.io->error, path, "cannot write");
        goto fail;
    }
    writer_close(&wr);
    return ltx_tmpfile_commit(&wr.tmp, path);
fail:
    writer_close(&wr);
    ltx_tmpfile_discard(&wr.tmp); /* no partial output left behind */
    return s;
}

/* ---- CRF round trip ------------------------------------------------------------------------- */
/* x264's automatic thread count as the reference gets it on the 2-core machine that produced
 * the goldens (ref: x264 encoder.c, X264_THREADS_AUTO with sliced threads:
 * min(ncpu * 2 / 2, max(1, ceil(h/16) / 2))). Fixed so the round trip is the same everywhere. */
static int reference_slice_threads(int h)
{
    const int ncpu = 2;
    int max_threads = ((h + 15) / 16) / 2;
    if (max_threads < 1) max_threads = 1;
    return ncpu < max_threads ? ncpu : max_threads;
}

static ltx_status decode_packets(AVCodecContext *enc, AVPacket **pk, int npk, int h, int w,
                                 ltx_frames *out)
{
    const char *what = "(crf round trip)";
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *d = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    struct SwsContext *sws = NULL;
    ltx_status s = LTX_OK;
    int got = 0;
    if (!d || !f) {
        s = ltx_err(LTX_ERR_OOM, "%s: cannot allocate the H.264 decoder", what);
        goto done;
    }
    if (enc->extradata_size > 0) {
        d->extradata = av_mallocz((size_t)enc->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!d->extradata) {
            s = ltx_err(LTX_ERR_OOM, "%s: out of memory", what);
            goto done;
        }
        memcpy(d->extradata, enc->extradata, (size_t)enc->extradata_size);
        d->extradata_size = enc->extradata_size;
    }
    d->thread_count = 0;
    d->thread_type = FF_THREAD_SLICE;
    int r = avcodec_open2(d, codec, NULL);
    if (r < 0) {
        s = ltx_media_averr(LTX_ERR_INTERNAL, r, NULL, "cannot open the H.264 decoder for");
        goto done;
    }
    for (int i = 0; i <= npk && !got; i++) {
        r = avcodec_send_packet(d, i < npk ? pk[i] : NULL);
        if (r < 0 && r != AVERROR_EOF) {
            s = ltx_media_averr(LTX_ERR_INTERNAL, r, NULL, "decoding the round trip failed for");
            goto done;
        }
        while (!got && (r = avcodec_receive_frame(d, f)) == 0) {
            /* ref: decode_single_frame: first frame, to_ndarray(format="rgb24") */
            uint8_t *slot;
            int cap = 0;
            s = ltx_media_frames_push(out, &cap, f->height, f->width, &slot);
            if (s == LTX_OK) s = ltx_media_frame_to_rgb(&sws, f, slot, NULL);
            if (s != LTX_OK) goto done;
            got = 1;
        }
    }
    if (!got)
        s = ltx_err(LTX_ERR_INTERNAL, "%s: the encoder produced no decodable frame", what);
    else if (out->h != h || out->w != w)
        s = ltx_err(LTX_ERR_INTERNAL, "%s: decoded %dx%d, expected %dx%d", what, out->h, out->w, h,
                    w);
done:
    sws_freeContext(sws);
    av_frame_free(&f);
    avcodec_free_context(&d);
    return s;
}

ltx_status ltx_image_crf_roundtrip(const uint8_t *rgb, int h, int w, double crf, ltx_frames *out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "crf round trip: NULL output");
    memset(out, 0, sizeof *out);
    if (!rgb || h <= 0 || w <= 0 || crf < 0 || crf > 51)
        return ltx_err(LTX_ERR_INVALID_ARG, "crf round trip: bad arguments (%dx%d, crf %g)", h, w,
                       crf);
    if (crf == 0) { /* ref: preprocess: crf == 0 returns the image unchanged (no crop) */
        int cap = 0;
        uint8_t *slot;
        LTX_TRY(ltx_media_frames_push(out, &cap, h, w, &slot));
        memcpy(slot, rgb, (size_t)h * w * 3);
        return LTX_OK;
    }
    const int he = h / 2 * 2, we = w / 2 * 2; /* ref: shape // 2 * 2, top-left crop */
    if (he == 0 || we == 0)
        return ltx_err(LTX_ERR_INVALID_ARG, "crf round trip: image %dx%d too small", h, w);
    ltx_media_quiet_ffmpeg();
    AVCodecContext *enc = NULL;
    struct SwsContext *sws = NULL;
    AVFrame *yuv = NULL;
    AVPacket *pk[8] = {0};
    int npk = 0;
    ltx_status s = open_x264(&enc, we, he, (AVRational){1, 1}, crf, "veryfast", PYAV_VIDEO_BITRATE,
                             reference_slice_threads(he), true, "(crf round trip)");
    if (s != LTX_OK) return s;
    LTX_CHECK_GOTO(s, rgb_to_yuv_frame(&sws, rgb, he, we, w * 3, &yuv, "(crf round trip)"), done);
    yuv->pts = 0;
    for (int i = 0; i < 2; i++) { /* the frame, then the flush */
        int r = avcodec_send_frame(enc, i == 0 ? yuv : NULL);
        if (r < 0) {
            s = ltx_media_averr(LTX_ERR_INTERNAL, r, NULL, "H.264 encode failed for");
            goto done;
        }
        for (;;) {
            if (npk == 8) break;
            pk[npk] = av_packet_alloc();
            if (!pk[npk]) {
                s = ltx_err(LTX_ERR_OOM, "crf round trip: out of memory");
                goto done;
            }
            r = avcodec_receive_packet(enc, pk[npk]);
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) {
                av_packet_free(&pk[npk]);
                break;
            }
            if (r < 0) {
                s = ltx_media_averr(LTX_ERR_INTERNAL, r, NULL, "H.264 encode failed for");
                goto done;
            }
            npk++;
        }
    }
    s = decode_packets(enc, pk, npk, he, we, out);
done:
    for (int i = 0; i < 8; i++)
        av_packet_free(&pk[i]);
    free_image_frame(&yuv);
    sws_freeContext(sws);
    avcodec_free_context(&enc);
    if (s != LTX_OK) ltx_frames_free(out);
    return s;
}

ltx_status ltx_media_load_image_and_preprocess(const char *path, int h, int w, double crf,
                                               bool round_bf16, float **out)
{
    if (!out) return ltx_err(LTX_ERR_INVALID_ARG, "image preprocess: NULL output");
    *out = NULL;
    ltx_frames img, rt;
    LTX_TRY(ltx_image_load(path, &img));
    ltx_status s = ltx_image_crf_roundtrip(img.rgb, img.h, img.w, crf, &rt);
    ltx_frames_free(&img);
    if (s != LTX_OK) return ltx_err_context(s, "'%s': ", path);
    float *o = malloc(sizeof(float) * 3 * (size_t)h * (size_t)w);
    if (!o) s = ltx_err(LTX_ERR_OOM, "'%s': out of memory", path);
    if (s == LTX_OK) s = ltx_media_preprocess(rt.rgb, 1, rt.h, rt.w, h, w, round_bf16, o);
    ltx_frames_free(&rt);
    if (s != LTX_OK) {
        free(o);
        return s;
    }
    *out = o;
    return LTX_OK;
}
