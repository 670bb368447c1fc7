/*
 * json.h — small helpers over cJSON for reading configs and golden parameters.
 * Getters return the default when the key is absent or of another type.
 */
#ifndef LTX_IO_JSON_H
#define LTX_IO_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* obj may be NULL (then the default is returned). Numbers and booleans are interchangeable
 * (true = 1); ltx_json_int truncates toward zero. */
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

#endif
