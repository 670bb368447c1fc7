/*
 * log.c — formatting front of the engine logger: level filter, one line formatted into a fixed
 * buffer (longer lines are truncated), then the callback; plus the default stderr callback.
 * Keeps no state of its own (the ltx_log hangs off the engine). No reference counterpart.
 */
#include "core/log.h"

#include <stdio.h>

void ltx_logf(const ltx_log *log, ltx_log_level level, const char *fmt, ...)
{
    if (!log || !log->fn || level < log->level) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log->fn(log->user, level, line);
}

void ltx_log_stderr(void *user, ltx_log_level level, const char *line)
{
    (void)user;
    static const char tag[] = "DIWE";
    fprintf(stderr, "[ltx] %c %s\n", level <= LTX_LOG_ERROR ? tag[level] : '?', line);
}
