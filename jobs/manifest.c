#include "manifest.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_json.h"

void sweep_path(const sweep *sw, char *buf, size_t len, const char *fmt, ...) {
    int k = snprintf(buf, len, "%s/", sw->dir);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < len) vsnprintf(buf + k, len - (size_t)k, fmt, ap);
    va_end(ap);
}

int sweep_parse_index_list(const char *s, int n_tasks, int *out, int max) {
    int k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= n_tasks || k >= max) return -1;
        out[k++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return k;
}

cJSON *sweep_manifest_json(const char *preset, unsigned long long base_seed, const ib_train_config *cfg,
                           const sweep_task *tasks, int n) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "manifest_version", 1);
    cJSON_AddStringToObject(m, "preset", preset);
    char s[32];
    snprintf(s, sizeof s, "%llu", base_seed);
    cJSON_AddStringToObject(m, "base_seed", s);
    cJSON_AddItemToObject(m, "config", ib_train_config_to_json(cfg));
    cJSON *arr = cJSON_AddArrayToObject(m, "tasks");
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "index", tasks[i].index);
        cJSON_AddNumberToObject(t, "stddev", tasks[i].stddev);
        cJSON_AddNumberToObject(t, "repeat", tasks[i].repeat);
        snprintf(s, sizeof s, "%llu", tasks[i].seed);
        cJSON_AddStringToObject(t, "seed", s);
        cJSON_AddStringToObject(t, "dir", tasks[i].dir);
        cJSON *a = cJSON_AddArrayToObject(t, "argv");
        for (int k = 0; k < tasks[i].argc; k++) cJSON_AddItemToArray(a, cJSON_CreateString(tasks[i].argv[k]));
        cJSON_AddItemToArray(arr, t);
    }
    return m;
}

int sweep_write_or_check_manifest(const char *dir, cJSON *m, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    uint8_t *data;
    size_t n;
    ib_err rerr;
    if (ib_read_file(path, &data, &n, &rerr) == 0) {
        cJSON *old = cJSON_ParseWithLength((const char *)data, n);
        free(data);
        if (!old) return ib_fail(err, IB_EXIT_USAGE, "%s: not valid JSON; refusing to overwrite it", path);
        int same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "tasks"),
                                 cJSON_GetObjectItemCaseSensitive(m, "tasks"), 1);
        cJSON_Delete(old);
        if (!same)
            return ib_fail(err, IB_EXIT_USAGE,
                           "%s holds a sweep with different settings; use another --out, or the same flags to resume",
                           dir);
        return 0;
    }
    return sweep_write_json(path, m, err);
}

void sweep_free(sweep *sw) {
    for (int i = 0; i < sw->n; i++) ib_argv_free(sw->tasks[i].argv, sw->tasks[i].argc);
    free(sw->tasks);
    sw->tasks = NULL;
    sw->n = 0;
}

/* Task i of the manifest's tasks array into st; 0, or -1 when it is malformed (an index out of
 * order, a run directory outside the sweep, no argv). */
static int load_task(const cJSON *t, int i, sweep_task *st) {
    const char *d = jstr(t, "dir");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "argv");
    if (ib_num_to_ll(jnum(t, "index", -1), 0, INT_MAX, -1) != i || !d || strlen(d) >= sizeof st->dir || strstr(d, "..") ||
        d[0] == '/' || !cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1)
        return -1;
    st->index = i;
    st->stddev = jnum(t, "stddev", NAN);
    st->repeat = (int)ib_num_to_ll(jnum(t, "repeat", 0), 0, INT_MAX, 0);
    const char *seed = jstr(t, "seed");
    st->seed = seed ? strtoull(seed, NULL, 10) : 0;
    snprintf(st->dir, sizeof st->dir, "%s", d);
    st->argc = cJSON_GetArraySize(a);
    st->argv = ib_xcalloc((size_t)st->argc + 1, sizeof(char *));
    int k = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, a) {
        st->argv[k++] = ib_xstrdup(cJSON_IsString(s) ? s->valuestring : "");
    }
    return 0;
}

int sweep_load(const char *dir, sweep *sw, ib_err *err) {
    memset(sw, 0, sizeof *sw);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return ib_fail(err, IB_EXIT_USAGE, "sweep directory %s: %s", dir, strerror(errno));
    snprintf(sw->dir, sizeof sw->dir, "%s", abs);
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", sw->dir);
    uint8_t *data;
    size_t len;
    ib_err rerr;
    if (ib_read_file(path, &data, &len, &rerr))
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a sweep directory (%s); start a sweep with 'initbench sweep --out %s'",
                       dir, rerr.msg, dir);
    cJSON *m = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *tasks = m ? cJSON_GetObjectItemCaseSensitive(m, "tasks") : NULL;
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) < 1) {
        cJSON_Delete(m);
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a sweep manifest (no tasks array)", path);
    }
    sw->n = cJSON_GetArraySize(tasks);
    sw->tasks = ib_xcalloc((size_t)sw->n, sizeof *sw->tasks);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        if (load_task(t, i, &sw->tasks[i])) {
            cJSON_Delete(m);
            sweep_free(sw);
            return ib_fail(err, IB_EXIT_USAGE, "%s: task %d is malformed", path, i);
        }
        i++;
    }
    cJSON_Delete(m);
    return 0;
}
