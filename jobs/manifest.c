#include "manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int sweep_write_or_check_manifest(const char *dir, const char *preset, unsigned long long base_seed,
                                  const ib_train_config *cfg, const sweep_task *tasks, int n, ib_err *err) {
    return ib_manifest_write_or_check(dir, preset, base_seed, ib_train_config_to_json(cfg), tasks, n, err);
}

void sweep_free(sweep *sw) {
    ib_sweep_tasks_free(sw->tasks, sw->n);
    sw->tasks = NULL;
    sw->n = 0;
}

int sweep_load(const char *dir, sweep *sw, ib_err *err) {
    memset(sw, 0, sizeof *sw);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return ib_fail(err, IB_EXIT_USAGE, "sweep directory %s: %s", dir, strerror(errno));
    snprintf(sw->dir, sizeof sw->dir, "%s", abs);
    ib_manifest m;
    if (ib_manifest_read(sw->dir, &m, err)) {
        if (m.problem != IB_MANIFEST_UNREADABLE) return err->code;
        ib_err rerr = *err;
        return ib_fail(err, IB_EXIT_USAGE,
                       "%s: not a sweep directory (%s); start a sweep with 'initbench sweep --out %s'", dir, rerr.msg,
                       dir);
    }
    sw->tasks = m.tasks, sw->n = m.n; /* taken over */
    m.tasks = NULL, m.n = 0;
    ib_manifest_free(&m);
    return 0;
}
