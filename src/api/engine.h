/*
 * engine.h — the internal shape of ltx_engine (public handle in ltx.h), for the pipeline code
 * that runs inside the library.
 */
#ifndef LTX_API_ENGINE_H
#define LTX_API_ENGINE_H

#include "api/model_cache.h"
#include "backend/backend.h"
#include "core/threadpool.h"

#include <pthread.h>

struct ltx_engine {
    ltx_log log;
    ltx_threadpool *pool;
    ltx_backend *be;
    ltx_progress_fn progress;
    void *progress_user;
    pthread_mutex_t lock;   /* serialises work calls */
    ltx_model_cache *cache; /* resident models across calls (budget 0 = off) */
    char last_error[2048];
};

/* Copies the calling thread's error text into the engine and returns s. */
ltx_status ltx_engine_set_error(ltx_engine *e, ltx_status s);

#endif
