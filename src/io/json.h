/*
 * json.h — small helpers over cJSON for reading configs and golden parameters.
 * Getters return the default when the key is absent or of another type.
 */
#ifndef LTX_IO_JSON_H
#define LTX_IO_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

double ltx_json_num(const cJSON *obj, const char *key, double def);
int64_t ltx_json_int(const cJSON *obj, const char *key, int64_t def);
bool ltx_json_bool(const cJSON *obj, const char *key, bool def);
const char *ltx_json_str(const cJSON *obj, const char *key, const char *def);
bool ltx_json_has(const cJSON *obj, const char *key);
/* Reads a numeric array into out (up to cap values); returns the count, or -1 when absent or
 * not an array of numbers. */
int ltx_json_num_array(const cJSON *obj, const char *key, double *out, int cap);
int ltx_json_int_array(const cJSON *obj, const char *key, int64_t *out, int cap);

#endif
