/*
 * error.h — status + message plumbing and invariant checks used by every internal module.
 *
 * Internal functions return ltx_status. On failure they record a message with ltx_err(),
 * which formats "file:line: message" into a per-thread buffer; the public API copies it into
 * the engine (ltx_engine_last_error). A message names the file, tensor, flag or value at
 * fault. LTX_ASSERT is for broken invariants only (on in release builds): it prints and aborts.
 */
#ifndef LTX_CORE_ERROR_H
#define LTX_CORE_ERROR_H

#include "ltx.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define LTX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LTX_PRINTF(a, b)
#endif

/* Records the message for the calling thread and returns `s` (so `return ltx_err(...)`).
 * Overwrites any earlier message. */
ltx_status ltx_err_at(const char *file, int line, ltx_status s, const char *fmt, ...)
    LTX_PRINTF(4, 5);
#define ltx_err(s, ...) ltx_err_at(__FILE__, __LINE__, (s), __VA_ARGS__)

/* Prepends context ("loading vae: ") to the current thread's message; returns s. */
ltx_status ltx_err_context(ltx_status s, const char *fmt, ...) LTX_PRINTF(2, 3);

/* The calling thread's last message ("" when none) and a way to clear it. */
const char *ltx_err_message(void);
/* The status recorded with that message by ltx_err / ltx_err_context (LTX_OK when none), so
 * that helpers returning a pointer (NULL on failure) do not lose the code. */
ltx_status ltx_err_status(void);
/* For a caller whose helper just returned NULL: the status that helper recorded with its message
 * (every pointer-returning helper records both when it fails), so the caller passes the real
 * cause on (a missing tensor is LTX_ERR_FORMAT, a bad shape LTX_ERR_INVALID_ARG) instead of
 * inventing one. Never LTX_OK: when nothing was recorded it records and returns LTX_ERR_OOM, the
 * one failure (a bare malloc) that may go unrecorded. */
ltx_status ltx_err_failed(void);
void ltx_err_clear(void);

void ltx_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
#define LTX_ASSERT(x) ((x) ? (void)0 : ltx_assert_fail(__FILE__, __LINE__, #x))

/* Propagate a failing status. */
#define LTX_TRY(expr)                                                                           \
    do {                                                                                        \
        ltx_status ltx_try_s_ = (expr);                                                         \
        if (ltx_try_s_ != LTX_OK) return ltx_try_s_;                                            \
    } while (0)

/* Assign status and jump to a cleanup label. */
#define LTX_CHECK_GOTO(st, expr, label)                                                         \
    do {                                                                                        \
        (st) = (expr);                                                                          \
        if ((st) != LTX_OK) goto label;                                                         \
    } while (0)

#endif
