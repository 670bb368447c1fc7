/*
 * media_internal.h — shared FFmpeg plumbing of the media_*.c files (not a public interface):
 * error text from AVERROR codes, a demux+decode reader over one stream (file or memory),
 * PyAV-style RGB24 conversion and a growable frame list.
 */
#ifndef LTX_IO_MEDIA_INTERNAL_H
#define LTX_IO_MEDIA_INTERNAL_H

#include "io/media.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>

/* ltx_err with FFmpeg's text for `averr`: "<what> '<path>': <av_strerror>". Maps ENOENT/EACCES
 * and other OS errors to LTX_ERR_IO, ENOMEM to LTX_ERR_OOM, the rest to `fallback`. */
ltx_status ltx_media_averr(ltx_status fallback, int averr, const char *path, const char *what);

/* Silences FFmpeg's own logging (its default INFO level makes libx264 print banners and
 * demuxers print errors that ltx_err already reports), once,
 * unless the process has already chosen a level itself. */
void ltx_media_quiet_ffmpeg(void);

/* One input stream being demuxed and decoded. */
typedef struct media_in {
    const char *path; /* for messages (not owned) */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVStream *st;
    AVPacket *pkt;
    AVFrame *frame; /* last frame returned by ltx_media_in_next */
    bool flushed;   /* NULL packet sent */
} media_in;

/* Opens `path`, finds the first stream of `type` and opens its decoder with PyAV's threading
 * defaults. When the file has no stream of that type: LTX_ERR_FORMAT unless `optional`, in
 * which case LTX_OK with m->st == NULL. `demux_opts` may be NULL. */
ltx_status ltx_media_in_open(media_in *m, const char *path, enum AVMediaType type, bool optional,
                             AVDictionary **demux_opts);
void ltx_media_in_close(media_in *m);
/* Next decoded frame of the stream into m->frame: 1 = frame, 0 = end of stream, <0 = error
 * (status in *st). */
int ltx_media_in_next(media_in *m, ltx_status *st);
/* av_seek_frame(stream, ts, BACKWARD) + decoder flush, like PyAV's container.seek(). */
ltx_status ltx_media_in_seek(media_in *m, int64_t ts);

/* Converts a decoded frame to packed RGB24 (h rows of w*3 bytes) the way PyAV's
 * frame.to_ndarray(format="rgb24") does: sws_getCachedContext(same size, SWS_BILINEAR), no
 * colorspace override, into a 16-byte-aligned frame; `*sws` is the cached context. */
ltx_status ltx_media_frame_to_rgb(struct SwsContext **sws, const AVFrame *f, uint8_t *dst,
                                  const char *path);

/* Appends one (h, w, 3) picture to a frame list; *cap is the capacity in frames. */
ltx_status ltx_media_frames_push(ltx_frames *fr, int *cap, int h, int w, uint8_t **slot);

#endif
