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
#include "names.h"
#include "rundir.h"

#define IB_SWEEP_ARG_MAX 8192 /* bytes of one argv string (a spec or a path with its flag) */

/* A decimal unsigned 64-bit number written as a string ("seed", "base_seed"). */
static int parse_u64(const char *s, unsigned long long *v) { return s && ib_parse_u64(s, strlen(s), v); }

int ib_sweep_dir_ok(const char *rel) { return ib_relpath_ok(rel, IB_SWEEP_DIR_MAX - 1); }

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

/* ---- the train argv of a task ----------------------------------------------------------------
 * sweep.json holds each task's argv, which `sweep resume` and `sweep run-task` hand to `initbench
 * train` as they are: whoever can write sweep.json chooses them. So only what `initbench sweep`
 * writes (ib_train_config_to_argv, src/train/config.c) is taken: "train", then train flags as
 * "--name value", "--name=value" or, for switches, "--name", each at most once, each value of
 * its flag's shape. --out, --threads and --progress (the runner sets them), and anything else, are
 * refused. The flag parser of train checks the values' ranges once more. */

enum { ARG_SWITCH, ARG_REAL, ARG_COUNT, ARG_NAME, ARG_SPEC, ARG_ABSPATH, ARG_EVENTS };
static const struct {
    const char *name;
    int kind;
} train_flags[] = { /* ib_train_flags (src/train/config.c) but threads, progress and update (how a task runs
                     * on its machine, never what it computes): test_runfiles compares */
    {"stddev", ARG_REAL},         {"init", ARG_NAME},         {"init-scale", ARG_REAL},
    {"init-mode", ARG_NAME},      {"init-distribution", ARG_NAME}, {"bias-init", ARG_REAL},
    {"net", ARG_SPEC},            {"optimizer", ARG_NAME},    {"lr", ARG_REAL},
    {"beta1", ARG_REAL},          {"beta2", ARG_REAL},        {"eps", ARG_REAL},
    {"momentum", ARG_REAL},       {"nesterov", ARG_SWITCH},   {"rho", ARG_REAL},
    {"batch", ARG_COUNT},         {"steps", ARG_COUNT},       {"eval-every", ARG_COUNT},
    {"eval-batch", ARG_COUNT},    {"seed", ARG_COUNT},        {"dataset", ARG_NAME},
    {"data-dir", ARG_ABSPATH},    {"train-offset", ARG_COUNT}, {"train-size", ARG_COUNT},
    {"test-size", ARG_COUNT},     {"backend", ARG_NAME},      {"tf32", ARG_SWITCH},
    {"checkpoint-every", ARG_COUNT}, {"stats-every", ARG_COUNT}, {"papi-events", ARG_EVENTS},
    {"save-init", ARG_SWITCH},
};
enum { N_TRAIN_FLAGS = sizeof train_flags / sizeof train_flags[0] };

static int arg_value_ok(int kind, const char *v) {
    double d;
    unsigned long long u;
    switch (kind) {
    case ARG_REAL: return ib_parse_real(v, strlen(v), &d);
    case ARG_COUNT: return ib_parse_u64(v, strlen(v), &u);
    case ARG_NAME: return ib_name_ok(v);
    case ARG_SPEC: return ib_spec_text_ok(v, 0);
    case ARG_ABSPATH: return ib_abspath_ok(v);
    case ARG_EVENTS: return ib_event_list_ok(v);
    }
    return 0;
}

static const char *const arg_value_rule[] = {
    [ARG_REAL] = "a decimal number",
    [ARG_COUNT] = "a whole number (digits only)",
    [ARG_NAME] = "a name ([A-Za-z0-9_.-], 1 to 31 characters)",
    [ARG_SPEC] = "a layer spec ([a-z0-9:,./+-], at most 4096 bytes)",
    [ARG_ABSPATH] = "an absolute path without control characters, '.' or '..'",
    [ARG_EVENTS] = "a list of PAPI event names ([A-Za-z0-9_.,:=+-])",
};

const char *ib_sweep_argv_why(char *const *argv, int argc, char *why, size_t len) {
    if (argc < 1 || strcmp(argv[0], "train") != 0) return "argument 1 is not \"train\"";
    unsigned long long seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        int f = -1;
        if (!strncmp(a, "--", 2)) {
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (int k = 0; k < N_TRAIN_FLAGS && f < 0; k++)
                if (strlen(train_flags[k].name) == n && !strncmp(a + 2, train_flags[k].name, n)) f = k;
        }
        if (f < 0) {
            ib_snprintf(why, len, "argument %d is not a train flag a sweep writes (--out, --threads, --progress "
                        "and anything else are refused)", i + 1);
            return why;
        }
        const char *name = train_flags[f].name;
        if (seen >> f & 1) return ib_snprintf(why, len, "argument %d: --%s given twice", i + 1, name), why;
        seen |= 1ull << f;
        if (train_flags[f].kind == ARG_SWITCH) {
            if (eq) return ib_snprintf(why, len, "argument %d: --%s takes no value", i + 1, name), why;
            continue;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v) return ib_snprintf(why, len, "argument %d: --%s without its value", i + 1, name), why;
        if (!arg_value_ok(train_flags[f].kind, v))
            return ib_snprintf(why, len, "argument %d: the value of --%s is not %s", i + 1, name,
                               arg_value_rule[train_flags[f].kind]),
                   why;
    }
    return NULL;
}

/* ---- sweep.json: the tasks and the header ------------------------------------------------------- */

/* Task i of the manifest into st; NULL, or what is wrong with it (a field and its rule). The dir
 * is checked first: it decides where anything of the task is read or written. */
static const char *read_task(const cJSON *t, int i, ib_sweep_task *st, char *why, size_t len) {
    if (!cJSON_IsObject(t)) return "not an object";
    const char *d = jf_str(t, "dir", IB_SWEEP_DIR_MAX - 1);
    if (!ib_sweep_dir_ok(d))
        return "field 'dir': must be a relative path inside the sweep (1 to 63 bytes, components of "
               "[A-Za-z0-9_.+-] joined by '/', none starting with '-', no '..')";
    st->stddev = jf_num(t, "stddev", NAN);
    if (!isfinite(st->stddev)) return "field 'stddev': not a finite number";
    if (jf_int(t, "index", 0, INT_MAX, -1) != i) return "field 'index': not its position in 'tasks'";
    st->argv = jf_str_array(t, "argv", IB_SWEEP_MAX_ARGV, IB_SWEEP_ARG_MAX, &st->argc);
    if (!st->argv || st->argc < 1) return "field 'argv': not a list of 1 to 1024 strings of at most 8192 bytes";
    char argv_why[256];
    const char *bad = ib_sweep_argv_why(st->argv, st->argc, argv_why, sizeof argv_why);
    if (bad) return ib_snprintf(why, len, "field 'argv': %s", bad), why;
    st->index = i;
    long long repeat = 0;
    if (jf_opt_int(t, "repeat", 0, INT_MAX, &repeat)) return "field 'repeat': not a whole number from 0 to 2^31 - 1";
    st->repeat = (int)repeat;
    const char *seed = NULL;
    if (jf_opt_str(t, "seed", 20, &seed) || (seed && !parse_u64(seed, &st->seed)))
        return "field 'seed': not a decimal 64-bit number written as a string";
    st->has_seed = seed != NULL;
    snprintf(st->dir, sizeof st->dir, "%s", d);
    return NULL;
}

/* The network as the user gave it (--net): a preset or a spec, or @FILE (a path: free text). */
static int net_given_ok(const char *s) {
    if (s[0] != '@') return ib_spec_text_ok(s, 1);
    size_t n = strnlen(s, IB_SPEC_TEXT_MAX + 1);
    if (n < 2 || n > IB_SPEC_TEXT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

/* The header fields into m: NULL, or the field and its rule. */
static const char *read_header(const cJSON *j, ib_manifest *m) {
    long long v = -1;
    if (jf_opt_int(j, "manifest_version", 0, INT_MAX, &v)) return "field 'manifest_version': not a whole number";
    m->version = (int)v;
    const char *preset = NULL, *seed = NULL, *net = NULL, *net_given = NULL, *opt_name = NULL, *scheme = NULL;
    if (jf_opt_str(j, "preset", IB_NAME_MAX, &preset) || (preset && preset[0] && !ib_name_ok(preset)))
        return "field 'preset': not a name ([A-Za-z0-9_.-], 1 to 31 characters)";
    if (jf_opt_str(j, "base_seed", 20, &seed) || (seed && !parse_u64(seed, &m->base_seed)))
        return "field 'base_seed': not a decimal 64-bit number written as a string";
    m->has_base_seed = seed != NULL;
    const cJSON *cfg = NULL, *opt = NULL, *init = NULL;
    if (jf_opt_obj(j, "config", &cfg)) return "field 'config': not an object";
    if (jf_opt_obj(cfg, "optimizer", &opt)) return "field 'config.optimizer': not an object";
    if (jf_opt_obj(cfg, "init", &init)) return "field 'config.init': not an object";
    if (jf_opt_str(cfg, "net", IB_SPEC_TEXT_MAX, &net) || (net && !ib_spec_text_ok(net, 0)))
        return "field 'config.net': not a layer spec ([a-z0-9:,./+-], at most 4096 bytes)";
    if (jf_opt_str(cfg, "net_given", IB_SPEC_TEXT_MAX, &net_given) || (net_given && !net_given_ok(net_given)))
        return "field 'config.net_given': not a preset, a layer spec or @FILE (at most 4096 bytes, no control "
               "characters)";
    if (jf_opt_str(opt, "name", IB_NAME_MAX, &opt_name) || (opt_name && !ib_name_ok(opt_name)))
        return "field 'config.optimizer.name': not a name ([A-Za-z0-9_.-], 1 to 31 characters)";
    if (jf_opt_str(init, "scheme", IB_NAME_MAX, &scheme) || (scheme && !ib_name_ok(scheme)))
        return "field 'config.init.scheme': not a name ([A-Za-z0-9_.-], 1 to 31 characters)";
    m->lr = m->eps = NAN;
    if (jf_opt_num(opt, "lr", &m->lr)) return "field 'config.optimizer.lr': not a finite number";
    if (jf_opt_num(opt, "eps", &m->eps)) return "field 'config.optimizer.eps': not a finite number";
    m->steps = -1;
    if (jf_opt_int(cfg, "steps", 0, 999999999999999LL, &m->steps))
        return "field 'config.steps': not a whole number from 0 to 10^15 - 1";
    m->preset = preset && preset[0] ? ib_xstrdup(preset) : NULL; /* written "" when there was none */
    m->net = net ? ib_xstrdup(net) : NULL;
    m->net_given = net_given ? ib_xstrdup(net_given) : NULL;
    m->optimizer = opt_name ? ib_xstrdup(opt_name) : NULL;
    m->init_scheme = scheme ? ib_xstrdup(scheme) : NULL;
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
        return manifest_invalid(m, err, "%s: field 'tasks': more than %d tasks", path, IB_SWEEP_MAX_TASKS);
    }
    if (!tasks || n < 1) {
        cJSON_Delete(j);
        return manifest_invalid(m, err, "%s: no \"tasks\" array (not a sweep manifest)", path);
    }
    const char *bad = read_header(j, m);
    if (bad) {
        cJSON_Delete(j);
        return manifest_invalid(m, err, "%s: %s", path, bad);
    }
    m->tasks = ib_xcalloc((size_t)n, sizeof *m->tasks);
    m->n = n;
    int i = 0;
    char why[512];
    for (const cJSON *t = tasks->child; t; t = t->next, i++) {
        bad = read_task(t, i, &m->tasks[i], why, sizeof why);
        if (bad) {
            cJSON_Delete(j);
            return manifest_invalid(m, err, "%s: task %d: %s", path, i, bad);
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

/* A string field of a task record: absent, or present and passing ok (an empty string too when
 * empty_ok: the writer writes "" for fields it was not given). Copied into *out. */
static int record_str(const cJSON *j, const char *k, size_t max, int (*ok)(const char *), int empty_ok,
                      const char **out) {
    const char *v = NULL;
    if (jf_opt_str(j, k, max, &v)) return -1;
    if (v && !(empty_ok && !v[0]) && !ok(v)) return -1;
    *out = v ? ib_xstrdup(v) : NULL;
    return 0;
}

static int status_ok(const char *s) { return ib_run_state_parse(s) >= 0; }
static int any_text(const char *s) { return s != NULL; } /* free text: cleaned after the copy */
static int log_path_ok(const char *s) { return ib_relpath_ok(s, IB_PATH_TEXT_MAX); }

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
    const char *field = NULL, *rule = NULL;
    long long v;
#define CHECK_FIELD(cond, f, why)                                                                                      \
    if (!field && (cond)) field = f, rule = why
    v = -1;
    CHECK_FIELD(jf_opt_int(j, "index", 0, INT_MAX, &v) || (v >= 0 && v != index), "index",
                "not this record's task number");
    r->index = (int)v;
    CHECK_FIELD(record_str(j, "dir", IB_SWEEP_DIR_MAX - 1, ib_sweep_dir_ok, 1, &r->dir), "dir",
                "not a run directory inside the sweep");
    CHECK_FIELD(record_str(j, "status", IB_NAME_MAX, status_ok, 1, &r->status), "status",
                "not a run state (running, complete, diverged, failed, interrupted, ...)");
    CHECK_FIELD(record_str(j, "reason", IB_TEXT_MAX, any_text, 1, &r->reason), "reason",
                "not a text of at most 4096 bytes");
    v = -1;
    CHECK_FIELD(jf_opt_int(j, "exit_status", 0, INT_MAX, &v), "exit_status", "not a whole number >= 0");
    r->exit_status = (int)v;
    CHECK_FIELD(record_str(j, "host", 255, ib_hostname_ok, 1, &r->host), "host",
                "not a host name ([A-Za-z0-9_.-], at most 255 characters)");
    CHECK_FIELD(jf_opt_int(j, "pid", 0, INT_MAX, &r->pid), "pid", "not a process id (a whole number >= 0)");
    CHECK_FIELD(record_str(j, "slurm_job", 47, ib_job_id_ok, 0, &r->slurm_job), "slurm_job",
                "not a Slurm job id ([A-Za-z0-9_.+-], 1 to 47 characters)");
    CHECK_FIELD(jf_opt_int(j, "slurm_restart_count", 0, INT_MAX, &r->slurm_restart_count), "slurm_restart_count",
                "not a whole number >= 0");
    CHECK_FIELD(record_str(j, "log", IB_PATH_TEXT_MAX, log_path_ok, 0, &r->log), "log",
                "not a path inside the sweep (components of [A-Za-z0-9_.+-], no '..')");
    CHECK_FIELD(record_str(j, "started_at", 63, ib_time_text_ok, 1, &r->started_at), "started_at",
                "not a time ([0-9A-Za-z:.+-], at most 63 characters)");
    CHECK_FIELD(record_str(j, "finished_at", 63, ib_time_text_ok, 1, &r->finished_at), "finished_at",
                "not a time ([0-9A-Za-z:.+-], at most 63 characters)");
#undef CHECK_FIELD
    cJSON_Delete(j);
    if (field) {
        ib_task_record_free(r);
        r->present = 1;
        r->index = r->exit_status = r->state = -1;
        r->slurm_restart_count = -1;
        return ib_fail(err, IB_EXIT_USAGE, "%s: field '%s': %s", path, field, rule);
    }
    if (r->status && !r->status[0]) { /* written "" when there was none */
        free((char *)r->status);
        r->status = NULL;
    }
    if (r->dir && !r->dir[0]) {
        free((char *)r->dir);
        r->dir = NULL;
    }
    if (r->reason) ib_text_clean((char *)r->reason);
    r->state = ib_run_state_parse(r->status);
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
