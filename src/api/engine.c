/*
 * engine.c — ltx_engine lifetime, error text, info.
 * Not here: the generation entry points (generate.c, generate_cond.c), golden verification
 * (src/golden/, its own library: include/ltx_golden.h) and the devices (src/backend/: the
 * engine only owns one backend and its pool).
 * No reference counterpart (the reference has no engine object).
 */
#include "api/engine.h"
#include "backend/cpu/cpu_isa.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ltx_engine_params_init(ltx_engine_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->device = "auto";
    p->log_level = LTX_LOG_INFO;
    p->log = ltx_log_stderr;
}

ltx_status ltx_engine_set_error(ltx_engine *e, ltx_status s)
{
    if (e && s != LTX_OK) snprintf(e->last_error, sizeof e->last_error, "%s", ltx_err_message());
    return s;
}

ltx_status ltx_engine_open(const ltx_engine_params *p, ltx_engine **out)
{
    *out = NULL;
    ltx_err_clear();
    if (!p || p->struct_size < offsetof(ltx_engine_params, progress_user) + sizeof(void *))
        return ltx_err(LTX_ERR_INVALID_ARG,
                       "ltx_engine_open: params not initialised with ltx_engine_params_init");
    if (p->n_threads < 0 || p->n_threads > LTX_MAX_THREADS)
        return ltx_err(LTX_ERR_INVALID_ARG, "--threads %d: must be in 0..%d (0 = one per CPU core)",
                       p->n_threads, LTX_MAX_THREADS);
    ltx_engine *e = calloc(1, sizeof *e);
    if (!e) return ltx_err(LTX_ERR_OOM, "out of memory");
    e->log = (ltx_log){.level = p->log_level, .fn = p->log, .user = p->log_user};
    e->progress = p->progress;
    e->progress_user = p->progress_user;
    pthread_mutex_init(&e->lock, NULL);
    size_t budget = p->struct_size >= offsetof(ltx_engine_params, cache_bytes) + sizeof(size_t)
                        ? p->cache_bytes
                        : 0;
    e->cache = ltx_model_cache_new(budget);
    if (!e->cache) {
        ltx_engine_close(e);
        return ltx_err(LTX_ERR_OOM, "out of memory");
    }
    e->pool = ltx_threadpool_create(p->n_threads);
    if (!e->pool) {
        ltx_engine_close(e);
        return ltx_err(LTX_ERR_OOM, "cannot start the thread pool");
    }
    /* precision is validated before the device opens (a bad value fails fast) */
    const char *prec = p->struct_size >= offsetof(ltx_engine_params, precision) + sizeof(char *)
                           ? p->precision
                           : NULL;
    ltx_precision pv = LTX_PRECISION_F32;
    bool prec_set = prec && *prec && strcmp(prec, "auto");
    if (prec_set && !ltx_precision_parse(prec, &pv)) {
        ltx_engine_close(e);
        return ltx_err(LTX_ERR_INVALID_ARG, "precision '%s' is not auto, f32 or bf16", prec);
    }
    ltx_status s = ltx_backend_create(p->device, &e->log, e->pool, p->strict != 0, &e->be);
    if (s != LTX_OK) {
        ltx_engine_close(e);
        return s;
    }
    if (prec_set) e->be->precision = pv; /* else the backend's default (cpu f32, cuda bf16) */
    *out = e;
    return LTX_OK;
}

void ltx_engine_close(ltx_engine *e)
{
    if (!e) return;
    ltx_model_cache_free(e->cache); /* before the backend its models live on */
    ltx_backend_destroy(e->be);
    ltx_threadpool_destroy(e->pool);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void ltx_engine_cache_stats(const ltx_engine *e, size_t *bytes, int *entries, int *hits,
                            int *misses)
{
    ltx_model_cache_stats(e ? e->cache : NULL, bytes, entries, hits, misses);
}

const char *ltx_engine_last_error(const ltx_engine *e)
{
    return e ? e->last_error : "";
}

int ltx_engine_fallback_count(const ltx_engine *e)
{
    return e ? e->be->n_fallbacks : 0;
}

size_t ltx_engine_info(const ltx_engine *e, char *buf, size_t cap)
{
    char caps[512];
    size_t fr = 0, tot = 0;
    e->be->ops->memory_info(e->be, &fr, &tot);
    int n = snprintf(buf, cap,
                     "libltx %d.%d.%d\n"
                     "device: %s (backend %s, ABI %d)\n"
                     "threads: %d\n"
                     "capabilities: %s\n"
                     "precision: %s\n"
                     "memory: %.1f GiB free of %.1f GiB\n"
                     "strict fallbacks: %s\n",
                     LTX_VERSION_MAJOR, LTX_VERSION_MINOR, LTX_VERSION_PATCH, e->be->device_name,
                     e->be->ops->name, e->be->ops->abi_version, ltx_threadpool_size(e->pool),
                     ltx_backend_caps_str(e->be, caps, sizeof caps),
                     ltx_precision_name(e->be->precision), (double)fr / (1 << 30),
                     (double)tot / (1 << 30), e->be->strict ? "on" : "off");
    if (n >= 0 && (size_t)n < cap && !strcmp(e->be->ops->name, "cpu")) {
        char isa[160]; /* the CPU kernel level chosen at start-up (cpu_isa.h) */
        int m = snprintf(buf + n, cap - (size_t)n, "cpu kernels: %s\n",
                         ltx_cpu_isa_describe(isa, sizeof isa));
        if (m > 0) n += m;
    }
    return n < 0 ? 0 : (size_t)n;
}
