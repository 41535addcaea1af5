/* JSON helpers shared by the sweep's files: sweep.json, the task records, run.json (read only)
 * and slurm/submissions.json. Everything read is outside input: a missing or mistyped field
 * reads as absent, never as a crash. */
#ifndef IB_SWEEP_JSON_H
#define IB_SWEEP_JSON_H

#include <cjson/cJSON.h>

#include "util.h"

/* The parsed file, or NULL when it is missing, unreadable or not JSON. */
cJSON *sweep_read_json(const char *path);

/* Pretty-printed with a final newline, atomically (ib_write_file_atomic). */
int sweep_write_json(const char *path, const cJSON *j, ib_err *err);

/* The string (number) field k of object o; NULL (def) when o is NULL or the field is not one. */
static inline const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

#endif
