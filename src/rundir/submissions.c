/* slurm/submissions.json (see submissions.h). */
#include "submissions.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_field.h"
#include "strbuf.h"
#include "rundir.h"
#include "sweepdir.h"

#define OPT_STR_MAX 255     /* bytes of an option string (partition, time, ...) */
#define SBATCH_ARGV_MAX 8192 /* bytes of one argument of a recorded sbatch command line */
#define JOB_ID_MAX 31
/* a dependency names every array job of one submission: "afterany" and ":ID" for each */
#define DEPENDENCY_MAX (8 + (size_t)(JOB_ID_MAX + 1) * IB_SLURM_MAX_SUBMISSIONS)

/* ---- the rules ------------------------------------------------------------------------------ */

/* s for a message: printable ASCII as it is, other bytes as \xNN, at most about 60 bytes (a
 * hostile value must not write escape sequences to the terminal, nor fill the message). */
static void shown(const char *s, char *out, size_t len) {
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 8 < len; p++) {
        if (k >= 60) {
            k += (size_t)snprintf(out + k, len - k, "...");
            break;
        }
        if (*p >= 0x20 && *p < 0x7f) out[k++] = (char)*p;
        else k += (size_t)snprintf(out + k, len - k, "\\x%02x", *p);
    }
    out[k < len ? k : len - 1] = 0;
}

static int has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 1;
    return 0;
}

static int all_of(const char *s, const char *set) { return s[0] && strspn(s, set) == strlen(s); }

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define DIGITS "0123456789"

/* Options initbench sets itself, or that would change what the job runs, as whom, or where its
 * files go: never taken from --sbatch-arg or the record. */
static const char *const sbatch_owned[] = {"array",  "chdir",        "container", "container-id", "dependency",
                                           "error",  "export",       "export-file", "get-user-env", "gid",
                                           "input",  "output",       "parsable",  "uid",          "wait",
                                           "wrap"};

int ib_sbatch_arg_check(const char *arg, char *why, size_t len) {
    char show[128];
    shown(arg, show, sizeof show);
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) - 2 : 0;
    int name_ok = !strncmp(arg, "--", 2) && arg[2] >= 'a' && arg[2] <= 'z';
    for (size_t i = 3; name_ok && arg[i] && arg + i != eq; i++)
        name_ok = (arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= '0' && arg[i] <= '9') || arg[i] == '-';
    if (!name_ok) {
        ib_snprintf(why, len, "'%s' is not an sbatch option of the form --name=value", show);
        return -1;
    }
    if (!eq) {
        char name[64];
        ib_snprintf(name, sizeof name, "%.60s", arg);
        ib_snprintf(why, len, "'%s' has no value: give the option and its value as one argument, "
                              "--sbatch-arg=%s=VALUE (options without a value cannot be passed)", show, name);
        return -1;
    }
    if (!eq[1] || has_control(eq + 1) || strlen(eq + 1) > IB_SBATCH_ARG_MAX) {
        ib_snprintf(why, len, "'%s': the value must be 1 to %d bytes without control characters", show,
                    IB_SBATCH_ARG_MAX);
        return -1;
    }
    for (size_t i = 0; i < sizeof sbatch_owned / sizeof sbatch_owned[0]; i++)
        if (name_len <= strlen(sbatch_owned[i]) && !strncmp(arg + 2, sbatch_owned[i], name_len)) {
            ib_snprintf(why, len, "'%s': sbatch's --%s is %s", show, sbatch_owned[i],
                        name_len < strlen(sbatch_owned[i]) ? "what this prefix means, and is not accepted"
                                                           : "set by initbench or not allowed (it would change "
                                                             "what the job runs, as whom, or where its files go)");
            return -1;
        }
    return 0;
}

int ib_slurm_option_check(const char *name, const char *value, char *why, size_t len) {
    char show[128];
    shown(value, show, sizeof show);
    int ok;
    const char *rule;
    if (!strcmp(name, "partition")) ok = all_of(value, ALNUM "_.,-"), rule = "letters, digits, '_', '.', ',' and '-'";
    else if (!strcmp(name, "account")) ok = all_of(value, ALNUM "_.-"), rule = "letters, digits, '_', '.' and '-'";
    else if (!strcmp(name, "time"))
        ok = all_of(value, DIGITS ":-") || !strcasecmp(value, "UNLIMITED") || !strcasecmp(value, "INFINITE"),
        rule = "a Slurm time: digits, ':' and '-' (e.g. 1-00:00:00), or UNLIMITED";
    else if (!strcmp(name, "mem")) {
        size_t d = strspn(value, DIGITS);
        ok = d > 0 && (value[d] == 0 || (strchr("KMGTkmgt", value[d]) && value[d + 1] == 0));
        rule = "digits with an optional unit K, M, G or T (e.g. 4G)";
    } else if (!strcmp(name, "gres")) ok = all_of(value, ALNUM "_.:,/-"), rule = "letters, digits and '_.:,/-' (e.g. gpu:a100:1)";
    else ok = 0, rule = "a known Slurm option";
    if (ok && strlen(value) > OPT_STR_MAX) ok = 0, rule = "at most 255 bytes";
    if (!ok) ib_snprintf(why, len, "'%s' is not a valid --%s (%s)", show, name, rule);
    return ok ? 0 : -1;
}

int ib_slurm_job_id_ok(const char *s) {
    size_t a = strspn(s, DIGITS);
    if (!a || strlen(s) > JOB_ID_MAX) return 0;
    if (!s[a]) return 1;
    return s[a] == '_' && s[a + 1] && strspn(s + a + 1, DIGITS) == strlen(s + a + 1);
}

int ib_slurm_task_list_name_ok(const char *rel) {
    static const char pre[] = "slurm/sub-", suf[] = ".tasks";
    if (strncmp(rel, pre, sizeof pre - 1)) return 0;
    const char *d = rel + sizeof pre - 1;
    size_t nd = strspn(d, DIGITS);
    return nd >= 3 && nd <= 9 && !strcmp(d + nd, suf);
}

int ib_slurm_dependency_ok(const char *s) {
    static const char pre[] = "afterany";
    if (strncmp(s, pre, sizeof pre - 1) || strlen(s) > DEPENDENCY_MAX) return 0;
    const char *p = s + sizeof pre - 1;
    if (!*p) return 0;
    char id[JOB_ID_MAX + 1];
    while (*p) {
        if (*p++ != ':') return 0;
        size_t n = strcspn(p, ":");
        if (!n || n > JOB_ID_MAX) return 0;
        memcpy(id, p, n);
        id[n] = 0;
        if (!ib_slurm_job_id_ok(id)) return 0;
        p += n;
    }
    return 1;
}

/* The check of one field's string value: 0, or -1 with the reason in why. */
typedef int (*value_check)(const char *v, char *why, size_t len);

static int check_job_id(const char *v, char *why, size_t len) {
    if (ib_slurm_job_id_ok(v)) return 0;
    char show[128];
    shown(v, show, sizeof show);
    ib_snprintf(why, len, "'%s' is not a Slurm job id (digits, or digits_digits)", show);
    return -1;
}

static int check_list_name(const char *v, char *why, size_t len) {
    if (ib_slurm_task_list_name_ok(v)) return 0;
    char show[128];
    shown(v, show, sizeof show);
    ib_snprintf(why, len, "'%s' is not a task list of this sweep (slurm/sub-NNN.tasks)", show);
    return -1;
}

static int check_dependency(const char *v, char *why, size_t len) {
    if (ib_slurm_dependency_ok(v)) return 0;
    char show[128];
    shown(v, show, sizeof show);
    ib_snprintf(why, len, "'%s' is not afterany:JOBID[:JOBID...]", show);
    return -1;
}

static int check_time_stamp(const char *v, char *why, size_t len) {
    if (all_of(v, DIGITS "TZ:.+-")) return 0;
    char show[128];
    shown(v, show, sizeof show);
    ib_snprintf(why, len, "'%s' is not an ISO 8601 time", show);
    return -1;
}

static int check_argv_word(const char *v, char *why, size_t len) {
    if (!has_control(v)) return 0;
    char show[128];
    shown(v, show, sizeof show);
    ib_snprintf(why, len, "'%s' holds control characters", show);
    return -1;
}

static int check_sbatch_arg(const char *v, char *why, size_t len) { return ib_sbatch_arg_check(v, why, len); }

/* The field being read, for messages: "options.sbatch_args[1]". */
typedef struct field_ctx {
    const char *path; /* the file */
    char where[96];   /* the object: "options", "submissions[3]" */
} field_ctx;

static int field_fail(const field_ctx *c, const char *k, int i, const char *why, ib_err *err) {
    char idx[24] = "";
    if (i >= 0) snprintf(idx, sizeof idx, "[%d]", i);
    return ib_fail(err, IB_EXIT_USAGE, "%s: %s.%s%s: %s", c->path, c->where, k, idx, why);
}

/* The string field k of o into *out (a copy; NULL when absent), after check (may be NULL). A
 * field that is present but no string, longer than max or refused by check fails the read. */
static int str_field(const field_ctx *c, const cJSON *o, const char *k, size_t max, value_check check, char **out,
                     ib_err *err) {
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring) return field_fail(c, k, -1, "not a string", err);
    char why[400];
    if (strlen(v->valuestring) > max) {
        snprintf(why, sizeof why, "longer than %zu bytes", max);
        return field_fail(c, k, -1, why, err);
    }
    if (check && check(v->valuestring, why, sizeof why)) return field_fail(c, k, -1, why, err);
    *out = ib_xstrdup(v->valuestring);
    return 0;
}

/* The array-of-strings field k of o as a NULL-terminated vector *out (count *n; NULL when absent):
 * at most max_n strings of at most max_len bytes, each passing check; anything else fails. */
static int str_array_field(const field_ctx *c, const cJSON *o, const char *k, int max_n, size_t max_len,
                           value_check check, char ***out, int *n, ib_err *err) {
    *out = NULL;
    *n = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!a) return 0;
    if (!cJSON_IsArray(a)) return field_fail(c, k, -1, "not an array of strings", err);
    int count = 0;
    char why[400];
    for (const cJSON *x = a->child; x; x = x->next, count++) {
        if (count >= max_n) {
            snprintf(why, sizeof why, "more than %d entries", max_n);
            return field_fail(c, k, -1, why, err);
        }
        if (!cJSON_IsString(x) || !x->valuestring) return field_fail(c, k, count, "not a string", err);
        if (strlen(x->valuestring) > max_len) {
            snprintf(why, sizeof why, "longer than %zu bytes", max_len);
            return field_fail(c, k, count, why, err);
        }
        if (check && check(x->valuestring, why, sizeof why)) return field_fail(c, k, count, why, err);
    }
    char **v = ib_xcalloc((size_t)count + 1, sizeof *v);
    int i = 0;
    for (const cJSON *x = a->child; x; x = x->next) v[i++] = ib_xstrdup(x->valuestring);
    *out = v;
    *n = count;
    return 0;
}

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

static int check_partition(const char *v, char *why, size_t len) { return ib_slurm_option_check("partition", v, why, len); }
static int check_account(const char *v, char *why, size_t len) { return ib_slurm_option_check("account", v, why, len); }
static int check_time(const char *v, char *why, size_t len) { return ib_slurm_option_check("time", v, why, len); }
static int check_mem(const char *v, char *why, size_t len) { return ib_slurm_option_check("mem", v, why, len); }
static int check_gres(const char *v, char *why, size_t len) { return ib_slurm_option_check("gres", v, why, len); }

static int read_options(const field_ctx *c, const cJSON *j, ib_slurm_options *o, ib_err *err) {
    char *partition, *account, *time, *mem, *gres;
    /* each string stored as soon as it is read, so that options_free releases it on a failure */
    if (str_field(c, j, "partition", OPT_STR_MAX, check_partition, &partition, err)) return err->code;
    o->partition = partition;
    if (str_field(c, j, "account", OPT_STR_MAX, check_account, &account, err)) return err->code;
    o->account = account;
    if (str_field(c, j, "time", OPT_STR_MAX, check_time, &time, err)) return err->code;
    o->time = time;
    if (str_field(c, j, "mem", OPT_STR_MAX, check_mem, &mem, err)) return err->code;
    o->mem = mem;
    if (str_field(c, j, "gres", OPT_STR_MAX, check_gres, &gres, err)) return err->code;
    o->gres = gres;
    o->cpus_per_task = (int)jf_int(j, "cpus_per_task", 1, 4096, -1);
    o->array_throttle = (int)jf_int(j, "array_throttle", 0, 1000000, -1);
    o->tasks_per_job = (int)jf_int(j, "tasks_per_job", 1, 100000, -1);
    o->signal_lead = (int)jf_int(j, "signal_lead", 0, 86400, -1);
    o->max_array_size = (int)jf_int(j, "max_array_size", 0, 100000000, -1);
    return str_array_field(c, j, "sbatch_args", IB_SLURM_MAX_SBATCH_ARGS, IB_SBATCH_ARG_MAX + 64, check_sbatch_arg,
                           &o->sbatch_args, &o->n_sbatch_args, err);
}

static int read_submission(const field_ctx *c, const cJSON *j, ib_slurm_submission *x, ib_err *err) {
    x->array_tasks = (int)jf_int(j, "array_tasks", 1, INT_MAX, -1);
    if (str_field(c, j, "job_id", JOB_ID_MAX, check_job_id, &x->job_id, err) ||
        str_field(c, j, "list", IB_SWEEP_DIR_MAX - 1, check_list_name, &x->list, err) ||
        str_field(c, j, "submitted_at", 64, check_time_stamp, &x->submitted_at, err) ||
        str_array_field(c, j, "sbatch", IB_SLURM_MAX_SBATCH_ARGV, SBATCH_ARGV_MAX, check_argv_word, &x->sbatch,
                        &x->n_sbatch, err))
        return err->code;
    return 0;
}

static int read_collect(const field_ctx *c, const cJSON *j, ib_slurm_collect *x, ib_err *err) {
    if (str_field(c, j, "job_id", JOB_ID_MAX, check_job_id, &x->job_id, err) ||
        str_field(c, j, "dependency", DEPENDENCY_MAX, check_dependency, &x->dependency, err))
        return err->code;
    return 0;
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
    field_ctx c = {.path = path};
    int rc = 0;
    const cJSON *opt = jf_obj(j, "options");
    if (opt) {
        s->has_options = 1;
        snprintf(c.where, sizeof c.where, "options");
        rc = read_options(&c, opt, &s->options, err);
    }
    s->subs = ib_xcalloc((size_t)ns + 1, sizeof *s->subs);
    int i = 0;
    for (const cJSON *x = subs; x && !rc; x = x->next, i++)
        if (cJSON_IsObject(x)) {
            snprintf(c.where, sizeof c.where, "submissions[%d]", i);
            rc = read_submission(&c, x, &s->subs[s->n_subs++], err);
        }
    s->collects = ib_xcalloc((size_t)nc + 1, sizeof *s->collects);
    i = 0;
    for (const cJSON *x = cols; x && !rc; x = x->next, i++)
        if (cJSON_IsObject(x)) {
            snprintf(c.where, sizeof c.where, "collect_jobs[%d]", i);
            rc = read_collect(&c, x, &s->collects[s->n_collects++], err);
        }
    cJSON_Delete(j);
    if (rc) { /* nothing of a refused record is used */
        int present = s->present, parsed = s->parsed;
        ib_submissions_free(s);
        s->present = present, s->parsed = parsed;
    }
    return rc;
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

/* ---- task lists ----------------------------------------------------------------------------- */

int ib_tasklist_parse(const char *text, size_t n, const char *name, int n_tasks, int line_index, int **tasks, int *k,
                      ib_err *err) {
    *tasks = NULL;
    *k = 0;
    if (n_tasks < 1) return ib_fail(err, IB_EXIT_USAGE, "%s: the sweep has no tasks", name);
    unsigned char *seen = ib_xcalloc((size_t)n_tasks, 1); /* no index twice in one list */
    int line = 0, in_line = 0, rc = 0;
    int *found = NULL;
    size_t p = 0;
    while (p < n && !rc) {
        if (text[p] == '\n') {
            if (!in_line) rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: empty (expected task indices)", name, line + 1);
            line++, in_line = 0, p++;
            continue;
        }
        if (in_line) { /* after an index: a comma and the next one */
            if (text[p] != ',') break;
            p++;
        }
        size_t d = 0;
        long long v = 0;
        while (p + d < n && text[p + d] >= '0' && text[p + d] <= '9' && d < 11) v = v * 10 + (text[p + d++] - '0');
        if (!d || (d > 1 && text[p] == '0') || (p + d < n && text[p + d] >= '0' && text[p + d] <= '9')) break;
        if (v >= n_tasks)
            rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: task %lld does not exist (the sweep has tasks 0..%d)", name,
                         line + 1, v, n_tasks - 1);
        else if (seen[v])
            rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: task %lld listed twice", name, line + 1, v);
        else if (++in_line > IB_TASKLIST_MAX_PER_LINE)
            rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: more than %d tasks", name, line + 1, IB_TASKLIST_MAX_PER_LINE);
        else {
            seen[v] = 1;
            if (line == line_index) {
                if (!found) found = ib_xmalloc((size_t)(n_tasks < IB_TASKLIST_MAX_PER_LINE ? n_tasks : IB_TASKLIST_MAX_PER_LINE) * sizeof *found);
                found[(*k)++] = (int)v;
            }
        }
        p += d;
    }
    if (!rc && p < n) { /* stopped on a byte that is no part of "3,4,5\n" */
        unsigned char c = (unsigned char)text[p];
        char what[16];
        if (c >= 0x21 && c < 0x7f) snprintf(what, sizeof what, "'%c'", c);
        else snprintf(what, sizeof what, "byte 0x%02x", c);
        rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: %s where a task index (0..%d, no leading zero) or ',' belongs",
                     name, line + 1, what, n_tasks - 1);
    }
    if (!rc && in_line)
        rc = ib_fail(err, IB_EXIT_USAGE, "%s line %d: no newline at the end (the list is cut short)", name, line + 1);
    if (!rc && line_index >= line)
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: no line %d for array index %d (the list has %d line%s)", name,
                     line_index + 1, line_index, line, line == 1 ? "" : "s");
    free(seen);
    if (rc || line_index < 0) {
        free(found);
        *k = 0;
        return rc;
    }
    *tasks = found;
    return 0;
}

int ib_tasklist_read(const char *path, int n_tasks, int line_index, int **tasks, int *k, ib_err *err) {
    *tasks = NULL;
    *k = 0;
    /* each task at most once, as up to 10 digits and a separator */
    const long long limit = (long long)(n_tasks > 0 ? n_tasks : 0) * 11;
    /* O_NONBLOCK: a FIFO planted in the list's place must not hang the job (refused below) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ib_fail(err, IB_EXIT_USAGE, "task list %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return ib_fail(err, IB_EXIT_USAGE, "task list %s: not a regular file", path);
    }
    if ((long long)st.st_size > limit) {
        close(fd);
        return ib_fail(err, IB_EXIT_USAGE, "task list %s: %lld bytes, more than a list of the sweep's %d tasks can hold",
                       path, (long long)st.st_size, n_tasks);
    }
    char *text = ib_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    int rc = got == (size_t)st.st_size
                 ? ib_tasklist_parse(text, got, path, n_tasks, line_index, tasks, k, err)
                 : ib_fail(err, IB_EXIT_USAGE, "task list %s: cannot read it", path);
    free(text);
    return rc;
}

int ib_tasklist_write(const char *path, const int *tasks, int n, int per_line, ib_err *err) {
    if (per_line < 1) per_line = 1;
    ib_strbuf b = {0};
    for (int i = 0; i < n; i++)
        ib_strbuf_appendf(&b, "%d%s", tasks[i], (i + 1) % per_line == 0 || i + 1 == n ? "\n" : ",");
    int rc = ib_write_file_atomic(path, ib_strbuf_str(&b), b.len, err);
    ib_strbuf_free(&b);
    return rc;
}
