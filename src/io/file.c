/*
 * file.c — safe opening of user-given input paths and atomic creation of outputs (contract in
 * file.h). The temp-file registry is a fixed table of slots with atomic states so that the
 * signal handler reads only memory that is fully written (a slot turns LIVE after its path is
 * copied) and calls only unlink(), signal() and raise(), all async-signal-safe.
 * No reference counterpart.
 */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- reading -------------------------------------------------------------------------------- */

static const char *kind_of(mode_t m)
{
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a plain file";
}

int ltx_open_regular(const char *path, const char *what, size_t *size)
{
    const char *w = what ? what : "", *sp = what ? " " : "";
    if (!path || !*path) {
        ltx_err(LTX_ERR_INVALID_ARG, "%s%sempty path", w, sp);
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        ltx_err(LTX_ERR_IO, "%s%s%s: cannot open: %s", w, sp, path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        ltx_err(LTX_ERR_IO, "%s%s%s: cannot stat: %s", w, sp, path, strerror(e));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        ltx_err(LTX_ERR_IO, "%s%s%s: is %s, not a regular file", w, sp, path, kind_of(sb.st_mode));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        ltx_err(LTX_ERR_IO, "%s%s%s: fcntl: %s", w, sp, path, strerror(e));
        return -1;
    }
    if (size) *size = (size_t)sb.st_size;
    return fd;
}

FILE *ltx_fopen_regular(const char *path, const char *what)
{
    int fd = ltx_open_regular(path, what, NULL);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        ltx_err(LTX_ERR_IO, "%s%s%s: fdopen: %s", what ? what : "", what ? " " : "", path,
                strerror(e));
    }
    return f;
}

char *ltx_read_file(const char *path, const char *what, size_t limit, size_t *len)
{
    size_t size = 0;
    int fd = ltx_open_regular(path, what, &size);
    if (fd < 0) return NULL;
    const char *w = what ? what : "", *sp = what ? " " : "";
    char *buf = NULL;
    if (size > limit) {
        ltx_err(LTX_ERR_IO, "%s%s%s: %zu bytes, larger than the %zu-byte limit", w, sp, path, size,
                limit);
        goto fail;
    }
    buf = malloc(size + 1);
    if (!buf) {
        ltx_err(LTX_ERR_OOM, "%s%s%s: out of memory (%zu bytes)", w, sp, path, size);
        goto fail;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            ltx_err(LTX_ERR_IO, "%s%s%s: short read: %s", w, sp, path,
                    k < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)k;
    }
    buf[size] = 0;
    close(fd);
    if (len) *len = size;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

ltx_status ltx_check_regular(const char *path, const char *what)
{
    int fd = ltx_open_regular(path, what, NULL);
    if (fd < 0) return ltx_err_failed();
    close(fd);
    return LTX_OK;
}

/* ---- temp-file registry and signals ---------------------------------------------------------- */

#define TMP_SLOTS 16
enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };
static atomic_int g_slot_state[TMP_SLOTS];
static char g_slot_path[TMP_SLOTS][PATH_MAX];
static volatile sig_atomic_t g_interrupt;
static atomic_int g_installed;

static int slot_register(const char *path)
{
    if (strlen(path) >= PATH_MAX) return -1;
    for (int i = 0; i < TMP_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&g_slot_state[i], &expect, SLOT_BUSY)) {
            memcpy(g_slot_path[i], path, strlen(path) + 1);
            atomic_store(&g_slot_state[i], SLOT_LIVE);
            return i;
        }
    }
    return -1; /* more than TMP_SLOTS concurrent writers: written, just not signal-cleaned */
}

static void slot_release(int i)
{
    if (i >= 0 && i < TMP_SLOTS) atomic_store(&g_slot_state[i], SLOT_FREE);
}

void ltx_tmpfile_unlink_all(void)
{
    for (int i = 0; i < TMP_SLOTS; i++)
        if (atomic_load(&g_slot_state[i]) == SLOT_LIVE) unlink(g_slot_path[i]);
}

static void on_signal(int sig)
{
    int saved = errno;
    bool writing = false;
    for (int i = 0; i < TMP_SLOTS; i++)
        writing |= atomic_load(&g_slot_state[i]) == SLOT_LIVE;
    if (writing || g_interrupt) {
        ltx_tmpfile_unlink_all();
        signal(sig, SIG_DFL);
        raise(sig); /* delivered when the handler returns: dies of the signal */
    }
    g_interrupt = sig;
    errno = saved;
}

void ltx_interrupt_install(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&g_installed, &expect, 1)) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int ltx_interrupted(void)
{
    return g_interrupt;
}

/* ---- temp files ------------------------------------------------------------------------------ */

static uint64_t random_u64(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
    return r ^ (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull);
}

ltx_status ltx_tmpfile_create(const char *final_path, const char *suffix, ltx_tmpfile *t)
{
    t->fd = -1;
    t->path = NULL;
    t->slot = -1;
    if (ltx_interrupted())
        return ltx_err(LTX_ERR_ABORTED, "%s: not written: interrupted by signal %d", final_path,
                       ltx_interrupted());
    if (!suffix) suffix = "";
    const char *slash = strrchr(final_path, '/');
    size_t dlen = slash ? (size_t)(slash - final_path) + 1 : 0; /* folder incl. '/' */
    const char *base = final_path + dlen;
    size_t cap = strlen(final_path) + strlen(suffix) + 32;
    t->path = malloc(cap);
    if (!t->path) return ltx_err(LTX_ERR_OOM, "%s: out of memory", final_path);
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = random_u64();
        char rnd[11];
        for (int i = 0; i < 10; i++, r /= 36)
            rnd[i] = abc[r % 36];
        rnd[10] = 0;
        snprintf(t->path, cap, "%.*s.%s.%s.tmp%s", (int)dlen, final_path, base, rnd, suffix);
        /* O_EXCL: fails on any existing name, symlinks included (never followed). */
        t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (t->fd >= 0) break;
        if (errno != EEXIST) break;
    }
    if (t->fd < 0) {
        int e = errno;
        ltx_status s = ltx_err(LTX_ERR_IO, "%s: cannot create a temporary file in its folder: %s",
                               final_path, strerror(e));
        free(t->path);
        t->path = NULL;
        return s;
    }
    t->slot = slot_register(t->path);
    return LTX_OK;
}

static void tmp_release(ltx_tmpfile *t)
{
    slot_release(t->slot);
    t->slot = -1;
    free(t->path);
    t->path = NULL;
}

void ltx_tmpfile_discard(ltx_tmpfile *t)
{
    if (!t) return;
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    if (t->path) unlink(t->path);
    tmp_release(t);
}

ltx_status ltx_tmpfile_commit(ltx_tmpfile *t, const char *final_path)
{
    ltx_status s = LTX_OK;
    if (t->fd >= 0) {
        if (fsync(t->fd) != 0 && errno != EINVAL)
            s = ltx_err(LTX_ERR_IO, "%s: cannot flush '%s': %s", final_path, t->path,
                        strerror(errno));
        if (close(t->fd) != 0 && s == LTX_OK)
            s = ltx_err(LTX_ERR_IO, "%s: cannot close '%s': %s", final_path, t->path,
                        strerror(errno));
        t->fd = -1;
    }
    if (s == LTX_OK && rename(t->path, final_path) != 0)
        s = ltx_err(LTX_ERR_IO, "cannot move '%s' onto '%s': %s", t->path, final_path,
                    strerror(errno));
    if (s != LTX_OK) unlink(t->path);
    tmp_release(t);
    return s;
}
