/* sweep.json and tasks/NNNN.json (see sweepdir.h). */
#include "sweepdir.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_field.h"
#include "rundir.h"

#define IB_SWEEP_ARG_MAX 65536  /* bytes of one argv string */
#define IB_MANIFEST_STR_MAX 8192 /* bytes of a header string (preset, net, ...) */

/* A decimal unsigned 64-bit number written as a string ("seed", "base_seed"): 1 to 20 digits and
 * nothing else, within range. Returns 1 with *v set, else 0. */
static int parse_u64(const char *s, unsigned long long *v) {
    if (!s || !s[0] || strlen(s) > 20 || strspn(s, "0123456789") != strlen(s)) return 0;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return 0;
    *v = x;
    return 1;
}

int ib_sweep_dir_ok(const char *rel) {
    return rel && rel[0] && strlen(rel) < IB_SWEEP_DIR_MAX && rel[0] != '/' && !strstr(rel, "..");
}

/* ---- sweep.json: reading -------------------------------------------------------------------- */

void ib_sweep_tasks_free(ib_sweep_task *tasks, int n) {
    for (int i = 0; tasks && i < n; i++) jf_str_array_free(tasks[i].argv, tasks[i].argc);
    free(tasks);
}

void ib_manifest_free(ib_manifest *m) {
    ib_sweep_tasks_free(m->tasks, m->n);
    free(m->preset);
    free(m->net);
    free(m->net_given);
    free(m->optimizer);
    free(m->init_scheme);
    memset(m, 0, sizeof *m);
}

static int manifest_invalid(ib_manifest *m, ib_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int manifest_invalid(ib_manifest *m, ib_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = IB_EXIT_USAGE;
    ib_manifest_free(m);
    m->problem = IB_MANIFEST_INVALID;
    return err->code;
}

/* Task i of the manifest into st; NULL, or what is wrong with it. The dir is checked first: it
 * decides where anything of the task is read or written. */
static const char *read_task(const cJSON *t, int i, ib_sweep_task *st) {
    if (!cJSON_IsObject(t)) return "not an object";
    const char *d = jf_str(t, "dir", IB_SWEEP_DIR_MAX - 1);
    if (!ib_sweep_dir_ok(d))
        return "\"dir\" must be a relative path inside the sweep (no \"..\", 1 to 63 bytes)";
    st->stddev = jf_num(t, "stddev", NAN);
    if (!isfinite(st->stddev)) return "\"stddev\" is not a finite number";
    if (jf_int(t, "index", 0, INT_MAX, -1) != i) return "\"index\" is not its position in \"tasks\"";
    st->argv = jf_str_array(t, "argv", IB_SWEEP_MAX_ARGV, IB_SWEEP_ARG_MAX, &st->argc);
    if (!st->argv || st->argc < 1) return "\"argv\" is not a list of 1 to 1024 strings";
    st->index = i;
    st->repeat = (int)jf_int(t, "repeat", 0, INT_MAX, 0);
    st->has_seed = parse_u64(jf_str(t, "seed", 20), &st->seed);
    if (!st->has_seed) st->seed = 0;
    snprintf(st->dir, sizeof st->dir, "%s", d);
    return NULL;
}

int ib_manifest_read(const char *sweep_dir, ib_manifest *m, ib_err *err) {
    memset(m, 0, sizeof *m);
    char path[4200];
    if (ib_snprintf(path, sizeof path, "%s/sweep.json", sweep_dir) >= (int)sizeof path) {
        m->problem = IB_MANIFEST_UNREADABLE;
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", sweep_dir);
    }
    uint8_t *data;
    size_t len;
    if (ib_read_file(path, &data, &len, err)) {
        m->problem = IB_MANIFEST_UNREADABLE;
        return err->code;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    if (!j) return manifest_invalid(m, err, "%s: not valid JSON", path);
    int n;
    const cJSON *tasks = jf_array(j, "tasks", IB_SWEEP_MAX_TASKS, &n);
    const cJSON *raw = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "tasks") : NULL;
    if (!tasks && cJSON_IsArray(raw)) {
        cJSON_Delete(j);
        return manifest_invalid(m, err, "%s: more than %d tasks", path, IB_SWEEP_MAX_TASKS);
    }
    if (!tasks || n < 1) {
        cJSON_Delete(j);
        return manifest_invalid(m, err, "%s: no \"tasks\" array (not a sweep manifest)", path);
    }
    m->version = (int)jf_int(j, "manifest_version", 0, INT_MAX, -1);
    m->preset = jf_strdup(j, "preset", IB_MANIFEST_STR_MAX);
    m->has_base_seed = parse_u64(jf_str(j, "base_seed", 20), &m->base_seed);
    if (!m->has_base_seed) m->base_seed = 0;
    const cJSON *cfg = jf_obj(j, "config"), *opt = jf_obj(cfg, "optimizer"), *init = jf_obj(cfg, "init");
    m->net = jf_strdup(cfg, "net", IB_MANIFEST_STR_MAX);
    m->net_given = jf_strdup(cfg, "net_given", IB_MANIFEST_STR_MAX);
    m->optimizer = jf_strdup(opt, "name", IB_MANIFEST_STR_MAX);
    m->init_scheme = jf_strdup(init, "scheme", IB_MANIFEST_STR_MAX);
    m->lr = jf_num(opt, "lr", NAN);
    m->eps = jf_num(opt, "eps", NAN);
    m->steps = jf_int(cfg, "steps", 0, LLONG_MAX / 2, -1);
    m->tasks = ib_xcalloc((size_t)n, sizeof *m->tasks);
    m->n = n;
    int i = 0;
    for (const cJSON *t = tasks->child; t; t = t->next, i++) {
        const char *why = read_task(t, i, &m->tasks[i]);
        if (why) {
            cJSON_Delete(j);
            return manifest_invalid(m, err, "%s: task %d is malformed: %s", path, i, why);
        }
    }
    cJSON_Delete(j);
    return 0;
}

/* ---- sweep.json: writing -------------------------------------------------------------------- */

static cJSON *manifest_json(const char *preset, unsigned long long base_seed, cJSON *config,
                            const ib_sweep_task *tasks, int n) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "manifest_version", 1);
    cJSON_AddStringToObject(m, "preset", preset ? preset : "");
    char s[32];
    snprintf(s, sizeof s, "%llu", base_seed);
    cJSON_AddStringToObject(m, "base_seed", s);
    if (config) cJSON_AddItemToObject(m, "config", config);
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

int ib_manifest_write_or_check(const char *sweep_dir, const char *preset, unsigned long long base_seed,
                               cJSON *config, const ib_sweep_task *tasks, int n, ib_err *err) {
    cJSON *m = manifest_json(preset, base_seed, config, tasks, n);
    char path[4200];
    ib_snprintf(path, sizeof path, "%s/sweep.json", sweep_dir);
    uint8_t *data;
    size_t len;
    ib_err rerr;
    int rc;
    if (ib_read_file(path, &data, &len, &rerr) == 0) {
        cJSON *old = cJSON_ParseWithLength((const char *)data, len);
        free(data);
        if (!old) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: not valid JSON; refusing to overwrite it", path);
        } else {
            int same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "tasks"),
                                     cJSON_GetObjectItemCaseSensitive(m, "tasks"), 1);
            cJSON_Delete(old);
            rc = same ? 0
                      : ib_fail(err, IB_EXIT_USAGE,
                                "%s holds a sweep with different settings; use another --out, or the same flags to "
                                "resume",
                                sweep_dir);
        }
    } else {
        rc = ib_rundir_write_json(sweep_dir, "sweep.json", m, err);
    }
    cJSON_Delete(m);
    return rc;
}

/* ---- tasks/NNNN.json ------------------------------------------------------------------------ */

void ib_task_record_path(const char *sweep_dir, int index, char *buf, size_t len) {
    ib_snprintf(buf, len, "%s/tasks/%04d.json", sweep_dir, index);
}

void ib_task_record_free(ib_task_record *r) {
    const char *s[] = {r->dir, r->status, r->reason, r->host, r->slurm_job, r->log, r->started_at, r->finished_at};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) free((char *)s[i]);
    memset(r, 0, sizeof *r);
}

int ib_task_record_read(const char *sweep_dir, int index, ib_task_record *r, ib_err *err) {
    memset(r, 0, sizeof *r);
    r->index = r->exit_status = r->state = -1;
    r->slurm_restart_count = -1;
    char path[4200];
    ib_task_record_path(sweep_dir, index, path, sizeof path);
    cJSON *j;
    if (jf_parse_file(path, &j, &r->present, err)) return err->code;
    if (!j) return 0;
    r->parsed = 1; /* JSON; every field below is looked up, absent when it is not an object */
    r->index = (int)jf_int(j, "index", 0, INT_MAX, -1);
    const char *d = jf_str(j, "dir", IB_SWEEP_DIR_MAX - 1);
    r->dir = ib_sweep_dir_ok(d) ? ib_xstrdup(d) : NULL;
    r->status = jf_strdup(j, "status", IB_TASK_RECORD_STR_MAX);
    r->state = ib_run_state_parse(r->status);
    r->reason = jf_strdup(j, "reason", IB_TASK_RECORD_STR_MAX);
    r->exit_status = (int)jf_int(j, "exit_status", 0, INT_MAX, -1);
    r->host = jf_strdup(j, "host", 255);
    r->pid = jf_int(j, "pid", 1, INT_MAX, 0);
    r->slurm_job = jf_strdup(j, "slurm_job", 47);
    r->slurm_restart_count = jf_int(j, "slurm_restart_count", 0, INT_MAX, -1);
    r->log = jf_strdup(j, "log", IB_TASK_RECORD_STR_MAX);
    r->started_at = jf_strdup(j, "started_at", IB_TASK_RECORD_STR_MAX);
    r->finished_at = jf_strdup(j, "finished_at", IB_TASK_RECORD_STR_MAX);
    cJSON_Delete(j);
    return 0;
}

int ib_task_record_write(const char *sweep_dir, const ib_task_record *r, ib_err *err) {
    char dir[4200], name[32];
    if (ib_snprintf(dir, sizeof dir, "%s/tasks", sweep_dir) >= (int)sizeof dir)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", sweep_dir);
    if (ib_mkdir_p(dir, err)) return err->code;
    snprintf(name, sizeof name, "tasks/%04d.json", r->index);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "index", r->index);
    cJSON_AddStringToObject(j, "dir", r->dir ? r->dir : "");
    cJSON_AddStringToObject(j, "status", r->status ? r->status : "");
    if (r->reason) cJSON_AddStringToObject(j, "reason", r->reason);
    if (r->exit_status >= 0) cJSON_AddNumberToObject(j, "exit_status", r->exit_status);
    cJSON_AddStringToObject(j, "host", r->host ? r->host : "");
    cJSON_AddNumberToObject(j, "pid", (double)r->pid);
    if (r->slurm_job) cJSON_AddStringToObject(j, "slurm_job", r->slurm_job);
    if (r->slurm_restart_count >= 0) cJSON_AddNumberToObject(j, "slurm_restart_count", (double)r->slurm_restart_count);
    if (r->log) cJSON_AddStringToObject(j, "log", r->log);
    cJSON_AddStringToObject(j, "started_at", r->started_at ? r->started_at : "");
    if (r->finished_at) cJSON_AddStringToObject(j, "finished_at", r->finished_at);
    int rc = ib_rundir_write_json(sweep_dir, name, j, err);
    cJSON_Delete(j);
    return rc;
}
