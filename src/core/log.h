/*
 * log.h — the engine's logger: a level threshold plus a callback with a user pointer.
 * There is no global logger; every module that logs receives an ltx_log* (NULL = silent).
 */
#ifndef LTX_CORE_LOG_H
#define LTX_CORE_LOG_H

#include "core/error.h"

typedef struct ltx_log {
    ltx_log_level level; /* messages below this level are dropped */
    ltx_log_fn fn;       /* NULL = silent */
    void *user;
} ltx_log;

/* printf-style; safe with log == NULL. */
void ltx_logf(const ltx_log *log, ltx_log_level level, const char *fmt, ...) LTX_PRINTF(3, 4);
#define LTX_DEBUG(log, ...) ltx_logf((log), LTX_LOG_DEBUG, __VA_ARGS__)
#define LTX_INFO(log, ...) ltx_logf((log), LTX_LOG_INFO, __VA_ARGS__)
#define LTX_WARN(log, ...) ltx_logf((log), LTX_LOG_WARN, __VA_ARGS__)
#define LTX_ERROR(log, ...) ltx_logf((log), LTX_LOG_ERROR, __VA_ARGS__)

/* The default sink: "[ltx] W message" to stderr. */
void ltx_log_stderr(void *user, ltx_log_level level, const char *line);

#endif
