/*
 * file.h — the one place where user-given paths are opened and output files are created.
 *
 * Reading: ltx_open_regular / ltx_fopen_regular / ltx_check_regular open with O_NONBLOCK and
 * fstat before anything reads, so a FIFO, device, socket or directory is refused by name at
 * once instead of blocking forever (a FIFO with no writer blocks a plain open()).
 *
 * Writing: an output is written to a fresh temporary file in the output's folder, created with
 * O_CREAT | O_EXCL (so it is never an existing file — an input, another run's temp file — and
 * never reached through a symlink), then renamed over the final path. While it exists its path
 * is registered, so an interrupting SIGINT/SIGTERM can remove it (ltx_interrupt_install).
 * No reference counterpart (the reference writes in place with PyAV / safetensors).
 */
#ifndef LTX_IO_FILE_H
#define LTX_IO_FILE_H

#include "core/error.h"

#include <stddef.h>
#include <stdio.h>

/* Opens `path` read-only (O_CLOEXEC). Anything but a regular file is refused with LTX_ERR_IO:
 * "<what> <path>: is a FIFO, not a regular file" (what may be NULL: then "<path>: ..."). Returns
 * the descriptor (blocking mode) and, when size is not NULL, the file size; -1 + error on
 * failure. The caller closes the descriptor. */
int ltx_open_regular(const char *path, const char *what, size_t *size);
/* The same as a stdio stream opened "rb"; NULL + error on failure; the caller fcloses it. */
FILE *ltx_fopen_regular(const char *path, const char *what);
/* Reads a whole regular file (refused like ltx_open_regular, and when larger than `limit`
 * bytes) into a malloc'd, NUL-terminated buffer; *len (may be NULL) gets its length. NULL +
 * error naming `what` and the path on failure. The caller frees the buffer. */
char *ltx_read_file(const char *path, const char *what, size_t limit, size_t *len);
/* Checks without keeping it open (for paths handed to libraries that open by name, FFmpeg). */
ltx_status ltx_check_regular(const char *path, const char *what);

/* A temporary output file. */
typedef struct ltx_tmpfile {
    int fd;     /* open for writing; -1 once closed */
    char *path; /* malloc'd "<dir>/.<base>.<random>.tmp<suffix>" */
    int slot;   /* registration for the signal cleanup, -1 if none was free */
} ltx_tmpfile;

/* Creates an empty temp file next to final_path (same folder, so the rename is atomic), mode
 * 0666 minus the umask, its name ending in `suffix` (e.g. ".mp4" for muxers that guess the
 * format from it; may be NULL or ""). Fails with LTX_ERR_ABORTED once an interrupt was
 * recorded, LTX_ERR_IO naming the folder when it cannot be created. On success *t owns the
 * file; finish with exactly one of _commit or _discard. */
ltx_status ltx_tmpfile_create(const char *final_path, const char *suffix, ltx_tmpfile *t);
/* Closes the descriptor (if still open), flushes it to disk and renames it onto final_path
 * (replacing an existing file, never following a symlink at the temp name). On failure the temp
 * file is removed. Either way *t is released. */
ltx_status ltx_tmpfile_commit(ltx_tmpfile *t, const char *final_path);
/* Closes and removes the temp file and releases *t. Safe on a zeroed or released *t. */
void ltx_tmpfile_discard(ltx_tmpfile *t);

/* ltx_interrupt_install / ltx_interrupted (SIGINT and SIGTERM handling for a command-line
 * process, removing the registered temp files) are public: include/ltx.h. */
/* Removes every registered temp file; async-signal-safe (what the handler calls). */
void ltx_tmpfile_unlink_all(void);

#endif
