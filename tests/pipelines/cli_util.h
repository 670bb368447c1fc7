/*
 * cli_util.h — helpers shared by the CLI end-to-end tests in tests/pipelines/: running the
 * built ltx2c (LTX2C_BIN, or $LTX2C_BIN at run time) with its stderr captured, and reading the
 * streams of an output file with ffprobe (which must be on PATH, as for the media tests).
 *
 * Header-only (static inline): each test file is its own executable. Deliberately not here:
 * the per-file fixtures (temp folder names, checkpoint paths, base arguments of each
 * subcommand), which stay next to the tests that use them. No reference counterpart.
 */
#ifndef LTX_TEST_CLI_UTIL_H
#define LTX_TEST_CLI_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The ltx2c under test: $LTX2C_TEST_BIN (or $LTX2C_BIN) when set (e.g. build-asan/ltx2c, to run
 * the CLI tests against the sanitizer build: `LTX2C_TEST_BIN=$PWD/build-asan/ltx2c ctest -R cli`),
 * else the binary built next to the tests (LTX2C_BIN). */
static inline const char *cli_bin(void)
{
    const char *b = getenv("LTX2C_TEST_BIN");
    if (!b || !*b) b = getenv("LTX2C_BIN");
    return b && *b ? b : LTX2C_BIN;
}

/* Runs `prefix cli_bin() args` (prefix, e.g. a privilege-dropping wrapper, and args are pasted
 * into a shell command line) with stdout discarded and stderr written to <dir>/stderr.txt,
 * then read back into err (at most cap - 1 bytes, always NUL-terminated; "" when unreadable).
 * Returns the exit status, or -1 when ltx2c did not exit normally. */
static inline int cli_run_ltx2c_as(const char *dir, const char *prefix, const char *args, char *err,
                                   size_t cap)
{
    char cmd[32768], ef[512];
    snprintf(ef, sizeof ef, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "%s %s %s >/dev/null 2>%s", prefix, cli_bin(), args, ef);
    int st = system(cmd);
    err[0] = 0;
    FILE *f = fopen(ef, "rb");
    if (f) {
        size_t k = fread(err, 1, cap - 1, f);
        err[k] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* cli_run_ltx2c_as without a prefix. */
static inline int cli_run_ltx2c(const char *dir, const char *args, char *err, size_t cap)
{
    return cli_run_ltx2c_as(dir, "", args, err, cap);
}

/* What ffprobe reports for the first video and audio streams of a file (0 / "" when absent). */
typedef struct cli_probe {
    char vcodec[32], acodec[32];
    int w, h, frames, rate_num, rate_den, sample_rate, channels;
    double vdur, adur;
} cli_probe;

/* Fills *p from `ffprobe -count_frames` on path (one compact line per stream). Returns false
 * when ffprobe could not run or found no video stream. */
static inline bool cli_ffprobe(const char *path, cli_probe *p)
{
    memset(p, 0, sizeof *p);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,width,"
             "height,r_frame_rate,nb_read_frames,sample_rate,channels,duration -of "
             "compact=p=0 '%s'",
             path);
    FILE *f = popen(cmd, "r");
    if (!f) return false;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        bool audio = strstr(line, "codec_type=audio") != NULL;
        for (char *tok = strtok(line, "|"); tok; tok = strtok(NULL, "|")) {
            char *eq = strchr(tok, '=');
            if (!eq) continue;
            *eq = 0;
            const char *k = tok, *v = eq + 1;
            if (!strcmp(k, "codec_name")) snprintf(audio ? p->acodec : p->vcodec, 32, "%s", v);
            if (!strcmp(k, "width")) p->w = atoi(v);
            if (!strcmp(k, "height")) p->h = atoi(v);
            if (!strcmp(k, "nb_read_frames") && !audio) p->frames = atoi(v);
            if (!strcmp(k, "r_frame_rate") && !audio)
                sscanf(v, "%d/%d", &p->rate_num, &p->rate_den);
            if (!strcmp(k, "sample_rate")) p->sample_rate = atoi(v);
            if (!strcmp(k, "channels")) p->channels = atoi(v);
            if (!strcmp(k, "duration")) *(audio ? &p->adur : &p->vdur) = atof(v);
        }
    }
    pclose(f);
    return p->vcodec[0] != 0;
}

#endif
