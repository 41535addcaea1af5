/* Internal to src/rundir: the checked field readers every file reader here uses, so that each
 * field of a file is validated in one place (its reader) and the same way: a field of the wrong
 * type, out of range or over its bound reads as absent, never as a crash or a wild cast. */
#ifndef IB_RUNDIR_JSON_FIELD_H
#define IB_RUNDIR_JSON_FIELD_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The string field k of o, or NULL when o is no object, k is absent, not a string, or longer
 * than max bytes. */
static inline const char *jf_str(const cJSON *o, const char *k, size_t max) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) > max) return NULL;
    return v->valuestring;
}

/* A heap copy of jf_str (NULL when absent). */
static inline char *jf_strdup(const cJSON *o, const char *k, size_t max) {
    const char *s = jf_str(o, k, max);
    return s ? ib_xstrdup(s) : NULL;
}

/* The number field k of o when it is a finite number, else def. */
static inline double jf_num(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : def;
}

/* The number field k of o when it is an integer in [lo, hi] (checked before the cast), else def. */
static inline long long jf_int(const cJSON *o, const char *k, long long lo, long long hi, long long def) {
    double v = jf_num(o, k, NAN);
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v)) return def;
    return (long long)v;
}

/* The object field k of o, or NULL. */
static inline const cJSON *jf_obj(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsObject(v) ? v : NULL;
}

/* The array field k of o when it has at most max entries (*n gets the count), else NULL. */
static inline const cJSON *jf_array(const cJSON *o, const char *k, int max, int *n) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    *n = 0;
    if (!cJSON_IsArray(v)) return NULL;
    int count = 0;
    for (const cJSON *x = v->child; x; x = x->next)
        if (++count > max) return NULL;
    *n = count;
    return v;
}

/* The array field k of o as copied strings (a NULL-terminated vector; *n the count) when it holds
 * at most max_n strings of at most max_len bytes and nothing else; else NULL with *n = 0. */
static inline char **jf_str_array(const cJSON *o, const char *k, int max_n, size_t max_len, int *n) {
    int count;
    const cJSON *a = jf_array(o, k, max_n, &count);
    *n = 0;
    if (!a) return NULL;
    for (const cJSON *x = a->child; x; x = x->next)
        if (!cJSON_IsString(x) || !x->valuestring || strlen(x->valuestring) > max_len) return NULL;
    char **v = ib_xcalloc((size_t)count + 1, sizeof *v);
    int i = 0;
    for (const cJSON *x = a->child; x; x = x->next) v[i++] = ib_xstrdup(x->valuestring);
    *n = count;
    return v;
}

static inline void jf_str_array_free(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* A copy of the n strings of v, NULL-terminated (NULL stays NULL). */
static inline char **jf_str_array_dup(char *const *v, int n) {
    if (!v) return NULL;
    char **c = ib_xcalloc((size_t)n + 1, sizeof *c);
    for (int i = 0; i < n; i++) c[i] = ib_xstrdup(v[i] ? v[i] : "");
    return c;
}

/* ---- fields that are optional but, when present, must be right --------------------------------
 * Each returns 0 when the field is absent (*out left as the caller set it) or valid (*out set),
 * -1 when it is present but of the wrong type or out of range: the reader then refuses the file,
 * naming the field, instead of reading a wrong value as absent. */

/* A string of at most max bytes. */
static inline int jf_opt_str(const cJSON *o, const char *k, size_t max, const char **out) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring || strnlen(v->valuestring, max + 1) > max) return -1;
    *out = v->valuestring;
    return 0;
}

/* A finite number; JSON null (what cJSON writes for NaN and infinities) reads as absent. */
static inline int jf_opt_num(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return -1;
    *out = v->valuedouble;
    return 0;
}

/* An integer in [lo, hi], range-checked before the cast (|lo|, |hi| < 2^53). */
static inline int jf_opt_int(const cJSON *o, const char *k, long long lo, long long hi, long long *out) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (!v) return 0;
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return -1;
    *out = (long long)d;
    return 0;
}

/* An object. */
static inline int jf_opt_obj(const cJSON *o, const char *k, const cJSON **out) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (!v) return 0;
    if (!cJSON_IsObject(v)) return -1;
    *out = v;
    return 0;
}

/* PATH parsed as JSON. Returns 0 with *json NULL and *present 0 when there is no file, *present 1
 * and *json NULL when it is not JSON; fails (err) only when an existing file cannot be read. */
static inline int jf_parse_file(const char *path, cJSON **json, int *present, ib_err *err) {
    *json = NULL;
    *present = 0;
    if (!ib_path_exists(path)) return 0;
    *present = 1;
    uint8_t *data;
    size_t n;
    if (ib_read_file(path, &data, &n, err)) return err->code;
    *json = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    return 0;
}

#endif
