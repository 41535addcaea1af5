#include "sweep_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

cJSON *sweep_read_json(const char *path) {
    uint8_t *data;
    size_t n;
    ib_err e;
    if (ib_read_file(path, &data, &n, &e)) return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    return j;
}

int sweep_write_json(const char *path, const cJSON *j, ib_err *err) {
    char *text = cJSON_Print(j);
    if (!text) return ib_fail(err, IB_EXIT_INTERNAL, "cannot serialise %s", path);
    size_t len = strlen(text);
    char *with_newline = ib_xmalloc(len + 2);
    memcpy(with_newline, text, len);
    with_newline[len] = '\n';
    free(text);
    int rc = ib_write_file_atomic(path, with_newline, len + 1, err);
    free(with_newline);
    return rc;
}
