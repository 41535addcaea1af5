/* slurm/submissions.json (see submissions.h). */
#include "submissions.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_field.h"
#include "rundir.h"
#include "sweepdir.h"

#define OPT_STR_MAX 1024    /* bytes of an option string (partition, time, ...) */
#define SBATCH_ARG_MAX 8192 /* bytes of one sbatch argument */

/* ---- reading -------------------------------------------------------------------------------- */

static void options_free(ib_slurm_options *o) {
    const char *s[] = {o->partition, o->account, o->time, o->mem, o->gres};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) free((char *)s[i]);
    jf_str_array_free(o->sbatch_args, o->n_sbatch_args);
    memset(o, 0, sizeof *o);
}

void ib_submissions_free(ib_submissions *s) {
    options_free(&s->options);
    for (int i = 0; i < s->n_subs; i++) {
        ib_slurm_submission *x = &s->subs[i];
        free(x->job_id);
        free(x->list);
        free(x->submitted_at);
        jf_str_array_free(x->sbatch, x->n_sbatch);
    }
    free(s->subs);
    for (int i = 0; i < s->n_collects; i++) {
        free(s->collects[i].job_id);
        free(s->collects[i].dependency);
    }
    free(s->collects);
    memset(s, 0, sizeof *s);
}

/* A Slurm job id as sbatch --parsable prints it (and as it is recorded): 1 to 31 digits. */
static char *job_id_at(const cJSON *o) {
    const char *s = jf_str(o, "job_id", 31);
    return s && s[0] && strspn(s, "0123456789") == strlen(s) ? ib_xstrdup(s) : NULL;
}

static void read_options(const cJSON *j, ib_slurm_options *o) {
    o->partition = jf_strdup(j, "partition", OPT_STR_MAX);
    o->account = jf_strdup(j, "account", OPT_STR_MAX);
    o->time = jf_strdup(j, "time", OPT_STR_MAX);
    o->mem = jf_strdup(j, "mem", OPT_STR_MAX);
    o->gres = jf_strdup(j, "gres", OPT_STR_MAX);
    o->cpus_per_task = (int)jf_int(j, "cpus_per_task", 1, 4096, -1);
    o->array_throttle = (int)jf_int(j, "array_throttle", 0, 1000000, -1);
    o->tasks_per_job = (int)jf_int(j, "tasks_per_job", 1, 100000, -1);
    o->signal_lead = (int)jf_int(j, "signal_lead", 0, 86400, -1);
    o->max_array_size = (int)jf_int(j, "max_array_size", 0, 100000000, -1);
    o->sbatch_args = jf_str_array(j, "sbatch_args", IB_SLURM_MAX_SBATCH_ARGS, SBATCH_ARG_MAX, &o->n_sbatch_args);
    for (int i = 0; i < o->n_sbatch_args; i++)
        if (o->sbatch_args[i][0] != '-') { /* what --sbatch-arg refuses is no option either */
            jf_str_array_free(o->sbatch_args, o->n_sbatch_args);
            o->sbatch_args = NULL;
            o->n_sbatch_args = 0;
            break;
        }
}

static void read_submission(const cJSON *j, ib_slurm_submission *x) {
    x->job_id = job_id_at(j);
    const char *list = jf_str(j, "list", IB_SWEEP_DIR_MAX - 1);
    x->list = ib_sweep_dir_ok(list) ? ib_xstrdup(list) : NULL;
    x->array_tasks = (int)jf_int(j, "array_tasks", 1, INT_MAX, -1);
    x->submitted_at = jf_strdup(j, "submitted_at", 64);
    x->sbatch = jf_str_array(j, "sbatch", IB_SLURM_MAX_SBATCH_ARGV, SBATCH_ARG_MAX, &x->n_sbatch);
}

/* The objects among the entries of the array field k (at most IB_SLURM_MAX_SUBMISSIONS): their
 * count, with *items the first entry; -1 when there are more. */
static int objects_in(const cJSON *j, const char *k, const cJSON **items) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, k);
    *items = NULL;
    if (!cJSON_IsArray(a)) return 0;
    int n = 0;
    for (const cJSON *x = a->child; x; x = x->next)
        if (cJSON_IsObject(x) && ++n > IB_SLURM_MAX_SUBMISSIONS) return -1;
    *items = a->child;
    return n;
}

int ib_submissions_read(const char *sweep_dir, ib_submissions *s, ib_err *err) {
    memset(s, 0, sizeof *s);
    char path[4200];
    if (ib_snprintf(path, sizeof path, "%s/slurm/submissions.json", sweep_dir) >= (int)sizeof path)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", sweep_dir);
    cJSON *j;
    if (jf_parse_file(path, &j, &s->present, err)) return err->code;
    if (!j) return 0;
    s->parsed = 1;
    if (!cJSON_IsObject(j)) { /* JSON, but none of the fields */
        cJSON_Delete(j);
        return 0;
    }
    const cJSON *subs, *cols;
    int ns = objects_in(j, "submissions", &subs), nc = objects_in(j, "collect_jobs", &cols);
    if (ns < 0 || nc < 0) {
        cJSON_Delete(j);
        int present = s->present;
        memset(s, 0, sizeof *s);
        s->present = present;
        return ib_fail(err, IB_EXIT_USAGE, "%s: more than %d %s", path, IB_SLURM_MAX_SUBMISSIONS,
                       ns < 0 ? "submissions" : "collect jobs");
    }
    s->options_last = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "submissions")) ||
                      cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "collect_jobs"));
    const cJSON *opt = jf_obj(j, "options");
    if (opt) {
        s->has_options = 1;
        read_options(opt, &s->options);
    }
    s->subs = ib_xcalloc((size_t)ns + 1, sizeof *s->subs);
    for (const cJSON *x = subs; x; x = x->next)
        if (cJSON_IsObject(x)) read_submission(x, &s->subs[s->n_subs++]);
    s->collects = ib_xcalloc((size_t)nc + 1, sizeof *s->collects);
    for (const cJSON *x = cols; x; x = x->next)
        if (cJSON_IsObject(x)) {
            ib_slurm_collect *c = &s->collects[s->n_collects++];
            c->job_id = job_id_at(x);
            c->dependency = jf_strdup(x, "dependency", 4095);
        }
    cJSON_Delete(j);
    return 0;
}

/* ---- building ------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? ib_xstrdup(s) : NULL; }

void ib_submissions_set_options(ib_submissions *s, const ib_slurm_options *o) {
    ib_slurm_options c = *o; /* copy first: o may point into s's own options */
    c.partition = dup_or_null(o->partition);
    c.account = dup_or_null(o->account);
    c.time = dup_or_null(o->time);
    c.mem = dup_or_null(o->mem);
    c.gres = dup_or_null(o->gres);
    c.sbatch_args = jf_str_array_dup(o->sbatch_args, o->n_sbatch_args);
    if (!c.sbatch_args) c.n_sbatch_args = 0;
    options_free(&s->options);
    s->options = c;
    s->has_options = 1;
}

void ib_submissions_add_array(ib_submissions *s, const char *job_id, const char *list, int array_tasks,
                              const char *submitted_at, char *const *sbatch, int n_sbatch) {
    s->subs = realloc(s->subs, ((size_t)s->n_subs + 1) * sizeof *s->subs);
    if (!s->subs) abort();
    ib_slurm_submission *x = &s->subs[s->n_subs++];
    x->job_id = dup_or_null(job_id);
    x->list = dup_or_null(list);
    x->array_tasks = array_tasks;
    x->submitted_at = dup_or_null(submitted_at);
    x->sbatch = jf_str_array_dup(sbatch, n_sbatch);
    x->n_sbatch = x->sbatch ? n_sbatch : 0;
}

void ib_submissions_add_collect(ib_submissions *s, const char *job_id, const char *dependency) {
    s->collects = realloc(s->collects, ((size_t)s->n_collects + 1) * sizeof *s->collects);
    if (!s->collects) abort();
    ib_slurm_collect *c = &s->collects[s->n_collects++];
    c->job_id = dup_or_null(job_id);
    c->dependency = dup_or_null(dependency);
}

/* ---- writing -------------------------------------------------------------------------------- */

static cJSON *strings_json(char *const *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *options_json(const ib_slurm_options *o) {
    cJSON *j = cJSON_CreateObject();
    if (o->partition) cJSON_AddStringToObject(j, "partition", o->partition);
    if (o->account) cJSON_AddStringToObject(j, "account", o->account);
    if (o->time) cJSON_AddStringToObject(j, "time", o->time);
    if (o->mem) cJSON_AddStringToObject(j, "mem", o->mem);
    if (o->gres) cJSON_AddStringToObject(j, "gres", o->gres);
    cJSON_AddNumberToObject(j, "cpus_per_task", o->cpus_per_task);
    cJSON_AddNumberToObject(j, "array_throttle", o->array_throttle);
    cJSON_AddNumberToObject(j, "tasks_per_job", o->tasks_per_job);
    cJSON_AddNumberToObject(j, "signal_lead", o->signal_lead);
    cJSON_AddNumberToObject(j, "max_array_size", o->max_array_size);
    cJSON_AddItemToObject(j, "sbatch_args", strings_json(o->sbatch_args, o->n_sbatch_args));
    return j;
}

int ib_submissions_write(const char *sweep_dir, const ib_submissions *s, ib_err *err) {
    char dir[4200];
    if (ib_snprintf(dir, sizeof dir, "%s/slurm", sweep_dir) >= (int)sizeof dir)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", sweep_dir);
    if (ib_mkdir_p(dir, err)) return err->code;
    cJSON *j = cJSON_CreateObject();
    if (s->has_options && !s->options_last) cJSON_AddItemToObject(j, "options", options_json(&s->options));
    cJSON *subs = cJSON_AddArrayToObject(j, "submissions");
    for (int i = 0; i < s->n_subs; i++) {
        const ib_slurm_submission *x = &s->subs[i];
        cJSON *o = cJSON_CreateObject();
        if (x->job_id) cJSON_AddStringToObject(o, "job_id", x->job_id);
        if (x->list) cJSON_AddStringToObject(o, "list", x->list);
        if (x->array_tasks >= 0) cJSON_AddNumberToObject(o, "array_tasks", x->array_tasks);
        if (x->submitted_at) cJSON_AddStringToObject(o, "submitted_at", x->submitted_at);
        if (x->sbatch) cJSON_AddItemToObject(o, "sbatch", strings_json(x->sbatch, x->n_sbatch));
        cJSON_AddItemToArray(subs, o);
    }
    cJSON *cols = cJSON_AddArrayToObject(j, "collect_jobs");
    for (int i = 0; i < s->n_collects; i++) {
        cJSON *o = cJSON_CreateObject();
        if (s->collects[i].job_id) cJSON_AddStringToObject(o, "job_id", s->collects[i].job_id);
        if (s->collects[i].dependency) cJSON_AddStringToObject(o, "dependency", s->collects[i].dependency);
        cJSON_AddItemToArray(cols, o);
    }
    if (s->has_options && s->options_last) cJSON_AddItemToObject(j, "options", options_json(&s->options));
    int rc = ib_rundir_write_json(sweep_dir, "slurm/submissions.json", j, err);
    cJSON_Delete(j);
    return rc;
}
