/*
 * json.h — small helpers over cJSON for reading configs and golden parameters.
 * Getters return the default when the key is absent or of another type.
 */
#ifndef LTX_IO_JSON_H
#define LTX_IO_JSON_H

#include "core/error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* obj may be NULL (then the default is returned). Numbers and booleans are interchangeable
 * (true = 1); ltx_json_int truncates toward zero and saturates out-of-range values (NaN gives
 * the default) — lenient, for golden params; configs use the strict getters below. */
double ltx_json_num(const cJSON *obj, const char *key, double def);
int64_t ltx_json_int(const cJSON *obj, const char *key, int64_t def);
bool ltx_json_bool(const cJSON *obj, const char *key, bool def);
/* The string is owned by obj's tree and lives as long as it. */
const char *ltx_json_str(const cJSON *obj, const char *key, const char *def);
/* True when obj has `key`, whatever its type (null included). */
bool ltx_json_has(const cJSON *obj, const char *key);
/* Reads the numeric array obj[key] (key NULL: obj itself is the array) into out, storing at most
 * cap values; returns the array's full length (which may exceed cap), or -1 when absent, not an
 * array, or holding a non-number. */
int ltx_json_num_array(const cJSON *obj, const char *key, double *out, int cap);
int ltx_json_int_array(const cJSON *obj, const char *key, int64_t *out, int cap);

/* Strict readers for configs inside checkpoints (hostile input): obj[key] absent -> *out = def
 * and LTX_OK. Present, it must be an integral, finite number (or a boolean) in [lo, hi], else
 * LTX_ERR_FORMAT "<what>: <key> = <value as written> must be an integer in lo..hi" and *out is
 * left unchanged. obj may be NULL. */
/* The same check on a value already in hand (v not NULL); `key` only names it in the error. */
ltx_status ltx_json_to_int(const cJSON *v, int64_t lo, int64_t hi, const char *what,
                           const char *key, int64_t *out);
ltx_status ltx_json_get_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                            int64_t def, const char *what, int64_t *out);
ltx_status ltx_json_get_i32(const cJSON *obj, const char *key, int lo, int hi, int def,
                            const char *what, int *out);
/* The same for a finite number in [lo, hi]. */
ltx_status ltx_json_get_num(const cJSON *obj, const char *key, double lo, double hi, double def,
                            const char *what, double *out);

/* Sane upper bounds for model-config values (far above every LTX-2 / Gemma 3 config): counts
 * of layers, heads and blocks, and sizes of channels and dimensions. */
#define LTX_CFG_MAX_COUNT 4096
#define LTX_CFG_MAX_SIZE (1 << 20)

#endif
