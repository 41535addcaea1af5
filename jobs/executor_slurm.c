#include "executor_slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "executor_slurm_argv.h"
#include "proc.h"
#include "runinfo.h"
#include "slurm.h"
#include "strbuf.h"
#include "submissions.h"
#include "task_state.h"

/* ---- options -------------------------------------------------------------------------------- */

void sweep_slurm_opts_defaults(slurm_opts *o) {
    memset(o, 0, sizeof *o);
    o->cpus_per_task = 1;
    o->tasks_per_job = 1;
    o->signal_lead = 120;
}

int sweep_take_sbatch_args(int *argc, char **argv, slurm_opts *o, ib_err *err) {
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--sbatch-arg")) {
            if (i + 1 >= *argc)
                return ib_fail(err, IB_EXIT_USAGE, "--sbatch-arg needs a value (one sbatch option, e.g. --qos=debug)");
            v = argv[++i];
        } else if (!strncmp(a, "--sbatch-arg=", 13)) {
            v = a + 13;
        }
        if (v) {
            if (o->n_extra >= MAX_SBATCH_ARGS) return ib_fail(err, IB_EXIT_USAGE, "--sbatch-arg: at most %d", MAX_SBATCH_ARGS);
            char why[600];
            if (ib_sbatch_arg_check(v, why, sizeof why)) return ib_fail(err, IB_EXIT_USAGE, "--sbatch-arg: %s", why);
            o->extra[o->n_extra++] = (char *)v;
            continue;
        }
        argv[w++] = argv[i];
    }
    *argc = w;
    return 0;
}

int sweep_add_slurm_flags(ib_flag *f, int n, slurm_opts *o) {
    f[n++] = (ib_flag){"partition", IB_FLAG_STRING, &o->partition, 0, 0, 0, NULL, "P", "Slurm partition", 0};
    f[n++] = (ib_flag){"account", IB_FLAG_STRING, &o->account, 0, 0, 0, NULL, "A", "Slurm account", 0};
    f[n++] = (ib_flag){"time", IB_FLAG_STRING, &o->time, 0, 0, 0, NULL, "T", "time limit per array task (sbatch --time)", 0};
    f[n++] = (ib_flag){"cpus-per-task", IB_FLAG_INT, &o->cpus_per_task, 1, 4096, 0, NULL, "C",
                       "cores per array task, also its training threads (default 1)", 0};
    f[n++] = (ib_flag){"mem", IB_FLAG_STRING, &o->mem, 0, 0, 0, NULL, "M", "memory per array task (sbatch --mem)", 0};
    f[n++] = (ib_flag){"gres", IB_FLAG_STRING, &o->gres, 0, 0, 0, NULL, "G", "generic resources (sbatch --gres)", 0};
    f[n++] = (ib_flag){"array-throttle", IB_FLAG_INT, &o->array_throttle, 0, 1000000, 0, NULL, "P",
                       "at most P array tasks running at once (sbatch --array=...%P; default 0: no limit)", 0};
    f[n++] = (ib_flag){"tasks-per-job", IB_FLAG_INT, &o->tasks_per_job, 1, 100000, 0, NULL, "K",
                       "(stddev, repeat) pairs run one after another per array task (default 1)", 0};
    f[n++] = (ib_flag){"signal-lead", IB_FLAG_INT, &o->signal_lead, 0, 86400, 0, NULL, "S",
                       "USR1 this many seconds before the time limit: checkpoint and requeue (default 120)", 0};
    f[n++] = (ib_flag){"max-array-size", IB_FLAG_INT, &o->max_array_size, 0, 100000000, 0, NULL, "N",
                       "split arrays at N tasks (default 0: the cluster's MaxArraySize)", 0};
    f[n++] = (ib_flag){"jobs-dir", IB_FLAG_STRING, &o->jobs_dir, 0, 0, 0, NULL, "DIR",
                       "where array.sbatch.in and collect.sbatch.in are (default $INITBENCH_JOBS_DIR or <checkout>/jobs)",
                       0};
    return n;
}

int sweep_refuse_slurm_flags(ib_flag *f, int n, const slurm_opts *o, ib_err *err) {
    static const char *slurm_only[] = {"partition", "account",     "time",           "cpus-per-task",
                                       "mem",       "gres",        "array-throttle", "tasks-per-job",
                                       "signal-lead", "max-array-size", "jobs-dir"};
    for (size_t i = 0; i < sizeof slurm_only / sizeof slurm_only[0]; i++)
        if (ib_flag_find(f, n, slurm_only[i])->seen)
            return ib_fail(err, IB_EXIT_USAGE, "sweep: --%s applies only to --executor slurm", slurm_only[i]);
    if (o->n_extra) return ib_fail(err, IB_EXIT_USAGE, "sweep: --sbatch-arg applies only to --executor slurm");
    return 0;
}

int sweep_slurm_check(const slurm_opts *o, const char *dir, ib_err *err) {
    const struct {
        const char *name, *value;
    } opts[] = {{"partition", o->partition}, {"account", o->account}, {"time", o->time}, {"mem", o->mem}, {"gres", o->gres}};
    char why[600];
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].value && ib_slurm_option_check(opts[i].name, opts[i].value, why, sizeof why))
            return ib_fail(err, IB_EXIT_USAGE, "sweep: %s", why);
    for (int i = 0; i < o->n_extra; i++)
        if (ib_sbatch_arg_check(o->extra[i], why, sizeof why)) return ib_fail(err, IB_EXIT_USAGE, "--sbatch-arg: %s", why);
    for (const unsigned char *p = (const unsigned char *)dir; dir && *p; p++)
        if (*p == '\\' || *p < 0x20 || *p == 0x7f)
            return ib_fail(err, IB_EXIT_USAGE,
                           "sweep directory %s: holds a %s, which Slurm's output file patterns cannot name (a "
                           "backslash turns their %%A/%%a off); use a directory without one for --executor slurm",
                           dir, *p == '\\' ? "backslash" : "control character");
    return 0;
}

/* The options as the record holds them (borrowed strings: ib_submissions_set_options copies). */
static ib_slurm_options record_options(const slurm_opts *o) {
    return (ib_slurm_options){.partition = o->partition,
                              .account = o->account,
                              .time = o->time,
                              .mem = o->mem,
                              .gres = o->gres,
                              .cpus_per_task = o->cpus_per_task,
                              .array_throttle = o->array_throttle,
                              .tasks_per_job = o->tasks_per_job,
                              .signal_lead = o->signal_lead,
                              .max_array_size = o->max_array_size,
                              .n_sbatch_args = o->n_extra,
                              .sbatch_args = (char **)o->extra};
}

void sweep_slurm_opts_from_record(slurm_opts *o, ib_flag *f, int n, const ib_submissions *rec) {
    if (!rec || !rec->has_options) return;
    const ib_slurm_options *j = &rec->options; /* every field checked by the reader */
    struct {
        const char *flag, *val;
        const char **dst;
    } s[] = {{"partition", j->partition, &o->partition}, {"account", j->account, &o->account},
             {"time", j->time, &o->time},                {"mem", j->mem, &o->mem},
             {"gres", j->gres, &o->gres}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!ib_flag_find(f, n, s[i].flag)->seen && s[i].val) *s[i].dst = s[i].val;
    struct {
        const char *flag;
        int val, *dst;
    } d[] = {{"cpus-per-task", j->cpus_per_task, &o->cpus_per_task},
             {"array-throttle", j->array_throttle, &o->array_throttle},
             {"tasks-per-job", j->tasks_per_job, &o->tasks_per_job},
             {"signal-lead", j->signal_lead, &o->signal_lead},
             {"max-array-size", j->max_array_size, &o->max_array_size}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!ib_flag_find(f, n, d[i].flag)->seen && d[i].val >= 0) *d[i].dst = d[i].val;
    if (!o->n_extra)
        for (int i = 0; i < j->n_sbatch_args && o->n_extra < MAX_SBATCH_ARGS; i++)
            o->extra[o->n_extra++] = j->sbatch_args[i];
}

/* ---- the job scripts ------------------------------------------------------------------------ */

/* s in single quotes for the job script (a shell reads it there, not us). */
static void shell_quote(const char *s, char *out, size_t len) {
    size_t k = 0;
    if (k + 1 < len) out[k++] = '\'';
    for (; *s && k + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    if (k + 1 < len) out[k++] = '\'';
    out[k] = 0;
}

/* DIR/slurm/NAME from jobs/NAME.in with @INITBENCH@, @SWEEP_DIR@ and @SIGNAL_LEAD@ filled in. */
static int instantiate_template(const sweep *sw, const slurm_opts *o, const char *name, const char *self, ib_err *err) {
    const char *jd = o->jobs_dir ? o->jobs_dir : getenv("INITBENCH_JOBS_DIR");
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/%s.in", jd ? jd : IB_SOURCE_DIR "/jobs", name);
    uint8_t *data;
    size_t n;
    ib_err rerr;
    if (ib_read_file(src, &data, &n, &rerr))
        return ib_fail(err, IB_EXIT_USAGE, "job template %s: %s (set --jobs-dir or INITBENCH_JOBS_DIR)", src, rerr.msg);
    char q_self[8300], q_dir[8300], lead[32];
    shell_quote(self, q_self, sizeof q_self);
    shell_quote(sw->dir, q_dir, sizeof q_dir);
    snprintf(lead, sizeof lead, "%d", o->signal_lead);
    const char *keys[] = {"@INITBENCH@", "@SWEEP_DIR@", "@SIGNAL_LEAD@"};
    const char *vals[] = {q_self, q_dir, lead};
    size_t cap = n * 2 + 3 * 8300 * 8 + 1, k = 0;
    char *outp = ib_xmalloc(cap);
    for (const char *p = (const char *)data; *p;) {
        int hit = 0;
        for (int m = 0; m < 3; m++) {
            size_t kl = strlen(keys[m]);
            if (!strncmp(p, keys[m], kl)) {
                size_t vl = strlen(vals[m]);
                if (k + vl + 1 >= cap) break;
                memcpy(outp + k, vals[m], vl);
                k += vl, p += kl, hit = 1;
                break;
            }
        }
        if (!hit) {
            if (k + 2 >= cap) break;
            outp[k++] = *p++;
        }
    }
    free(data);
    sweep_path(sw, dst, sizeof dst, "slurm/%s", name);
    int rc = ib_write_file_atomic(dst, outp, k, err);
    free(outp);
    if (!rc) chmod(dst, 0755);
    return rc;
}

/* ---- sbatch --------------------------------------------------------------------------------- */

/* Run sbatch --parsable (argv); job_id gets the id it printed. */
static int sbatch(char **argv, char *job_id, size_t len, ib_err *err) {
    char *out = NULL, *errs = NULL;
    int rc = ib_proc_run(argv, 60, &out, &errs);
    int ret = 0;
    if (rc == -1) ret = ib_fail(err, IB_EXIT_INTERNAL, "cannot run sbatch: %s", strerror(errno));
    else if (rc == -2) ret = ib_fail(err, IB_EXIT_INTERNAL, "sbatch did not answer within 60 s");
    else if (rc != 0) {
        char line[800];
        ib_last_line(errs && *errs ? errs : out, line, sizeof line);
        ret = ib_fail(err, IB_EXIT_USAGE, "sbatch refused the job: %s", *line ? line : "(no message)");
    } else {
        size_t k = strspn(out, "0123456789");
        if (!k || k >= len) ret = ib_fail(err, IB_EXIT_INTERNAL, "sbatch --parsable printed '%.100s'", out);
        else {
            memcpy(job_id, out, k);
            job_id[k] = 0;
        }
    }
    free(out);
    free(errs);
    return ret;
}

void sbatch_argv_free(sbatch_argv *v) {
    for (int i = 0; i < v->k; i++) free(v->a[i]);
    free(v->a);
    memset(v, 0, sizeof *v);
}

static void push_arg(sbatch_argv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push_arg(sbatch_argv *v, const char *fmt, ...) {
    if (v->k + 2 > v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->a = realloc(v->a, (size_t)v->cap * sizeof *v->a);
        if (!v->a) abort();
    }
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    char *arg = ib_xmalloc((size_t)n + 1);
    vsnprintf(arg, (size_t)n + 1, fmt, again);
    va_end(again);
    v->a[v->k++] = arg;
    v->a[v->k] = NULL;
}

void sweep_sbatch_pattern_literal(ib_strbuf *b, const char *text) {
    for (const char *p = text; *p; p++) ib_strbuf_append_n(b, *p == '%' ? "%%" : p, *p == '%' ? 2 : 1);
}

/* --output=DIR/slurm/logs/NAME: DIR as a literal, NAME a pattern of initbench's own. */
static void push_output(sbatch_argv *v, const sweep *sw, const char *name_pattern) {
    ib_strbuf b = {0};
    sweep_sbatch_pattern_literal(&b, sw->dir);
    push_arg(v, "--output=%s/slurm/logs/%s", ib_strbuf_str(&b), name_pattern);
    ib_strbuf_free(&b);
}

static void common_sbatch_args(sbatch_argv *v, const slurm_opts *o) {
    if (o->partition) push_arg(v, "--partition=%s", o->partition);
    if (o->account) push_arg(v, "--account=%s", o->account);
    for (int i = 0; i < o->n_extra; i++) push_arg(v, "%s", o->extra[i]);
}

void sweep_array_sbatch_argv(sbatch_argv *v, const sweep *sw, const slurm_opts *o, int m, const char *list_abs) {
    memset(v, 0, sizeof *v);
    push_arg(v, "sbatch");
    push_arg(v, "--parsable");
    if (o->array_throttle > 0) push_arg(v, "--array=0-%d%%%d", m - 1, o->array_throttle);
    else push_arg(v, "--array=0-%d", m - 1);
    const char *base = strrchr(sw->dir, '/');
    push_arg(v, "--job-name=ib-sweep-%s", base ? base + 1 : sw->dir);
    push_arg(v, "--chdir=%s", sw->dir);
    push_output(v, sw, "%A_%a.out");
    push_arg(v, "--cpus-per-task=%d", o->cpus_per_task);
    if (o->time) push_arg(v, "--time=%s", o->time);
    if (o->mem) push_arg(v, "--mem=%s", o->mem);
    if (o->gres) push_arg(v, "--gres=%s", o->gres);
    common_sbatch_args(v, o);
    push_arg(v, "%s/slurm/array.sbatch", sw->dir);
    push_arg(v, "%s", list_abs);
}

void sweep_collect_sbatch_argv(sbatch_argv *v, const sweep *sw, const slurm_opts *o, const char *deps) {
    memset(v, 0, sizeof *v);
    push_arg(v, "sbatch");
    push_arg(v, "--parsable");
    push_arg(v, "--dependency=%s", deps);
    push_arg(v, "--job-name=ib-collect");
    push_arg(v, "--chdir=%s", sw->dir);
    push_output(v, sw, "collect-%j.out");
    push_arg(v, "--cpus-per-task=1");
    common_sbatch_args(v, o);
    push_arg(v, "%s/slurm/collect.sbatch", sw->dir);
}

void sweep_dependency_add(ib_strbuf *deps, const char *job_id) { ib_strbuf_appendf(deps, ":%s", job_id); }

/* ---- submission ----------------------------------------------------------------------------- */

/* DIR/slurm/submissions.json as it is being extended: what is recorded so far (a record that is
 * no JSON starts anew), with this submission's options; array and collect jobs are appended. */
static int open_submissions(const sweep *sw, const slurm_opts *o, ib_submissions *s, ib_err *err) {
    if (ib_submissions_read(sw->dir, s, err)) return err->code;
    ib_slurm_options opts = record_options(o);
    ib_submissions_set_options(s, &opts);
    return 0;
}

/* Check Slurm answers, then DIR/slurm/logs and the job scripts. */
static int prepare_submission(const sweep *sw, const slurm_opts *o, ib_err *err) {
    char why[600];
    if (ib_slurm_ping(why, sizeof why)) return ib_fail(err, IB_EXIT_INTERNAL, "Slurm is not reachable: %s", why);
    char self[4096], path[4200];
    if (ib_proc_self_exe(self, sizeof self, err)) return err->code;
    sweep_path(sw, path, sizeof path, "slurm/logs");
    if (ib_mkdir_p(path, err)) return err->code;
    if (instantiate_template(sw, o, "array.sbatch", self, err) || instantiate_template(sw, o, "collect.sbatch", self, err))
        return err->code;
    return 0;
}

/* Groups [g0, g0 + m) of todo as one array job (slurm/sub-NNN.tasks its list), recorded at once;
 * its job id joins the collect job's dependency list deps. */
static int submit_array(const sweep *sw, const int *todo, int n_todo, const slurm_opts *o, ib_submissions *s, int g0,
                        int m, ib_strbuf *deps, ib_err *err) {
    const int per = o->tasks_per_job;
    int seq = s->n_subs + 1;
    char list_rel[64], list_abs[4300];
    snprintf(list_rel, sizeof list_rel, "slurm/sub-%03d.tasks", seq);
    sweep_path(sw, list_abs, sizeof list_abs, "%s", list_rel);
    const int first = g0 * per, end_task = (g0 + m) * per < n_todo ? (g0 + m) * per : n_todo;
    if (ib_tasklist_write(list_abs, todo + first, end_task - first, per, err)) return err->code;
    sbatch_argv v;
    sweep_array_sbatch_argv(&v, sw, o, m, list_abs);
    char jid[64];
    int rc = sbatch(v.a, jid, sizeof jid, err);
    if (!rc) {
        char when[32];
        ib_iso_time(when, sizeof when);
        ib_submissions_add_array(s, jid, list_rel, m, when, v.a, v.k);
        sweep_dependency_add(deps, jid);
        int nt = end_task - first;
        fprintf(stderr, "submitted array job %s: %d array task%s for %d sweep task%s (list %s)\n", jid, m,
                m == 1 ? "" : "s", nt, nt == 1 ? "" : "s", list_rel);
        ib_err e2;
        if (ib_submissions_write(sw->dir, s, &e2))
            rc = ib_fail(err, e2.code, "array job %s submitted, but recording it failed: %s", jid, e2.msg);
    }
    sbatch_argv_free(&v);
    return rc;
}

/* The collect job after the arrays (deps). A refusal is a warning: `sweep collect` does the same
 * by hand. rc is the arrays' outcome: a recording failure here is reported only if they went well. */
static int submit_collect(const sweep *sw, const slurm_opts *o, ib_submissions *s, const char *deps, int rc,
                          ib_err *err) {
    sbatch_argv v;
    sweep_collect_sbatch_argv(&v, sw, o, deps);
    char jid[64];
    ib_err cerr;
    if (sbatch(v.a, jid, sizeof jid, &cerr)) {
        fprintf(stderr, "initbench: warning: the collect job was not submitted (%s); run 'initbench sweep collect "
                        "%s' when the arrays are done\n", cerr.msg, sw->dir);
    } else {
        ib_submissions_add_collect(s, jid, deps);
        fprintf(stderr, "submitted collect job %s (after %d array job%s)\n", jid, s->n_subs, s->n_subs == 1 ? "" : "s");
        ib_err e2;
        if (ib_submissions_write(sw->dir, s, &e2) && !rc) rc = ib_fail(err, e2.code, "%s", e2.msg);
    }
    sbatch_argv_free(&v);
    return rc;
}

/* Submit the listed tasks as array job(s) and a collect job after them. */
static int submit_slurm(const sweep *sw, const int *todo, int n_todo, const slurm_opts *o, ib_err *err) {
    if (sweep_slurm_check(o, sw->dir, err) || prepare_submission(sw, o, err)) return err->code;
    int max_arr = ib_slurm_max_array_size();
    if (o->max_array_size > 0 && o->max_array_size < max_arr) max_arr = o->max_array_size;
    const int per = o->tasks_per_job;
    const int groups = (n_todo + per - 1) / per;
    ib_submissions s;
    if (open_submissions(sw, o, &s, err)) return err->code;
    ib_strbuf deps = {0}; /* no fixed size: a sweep may need thousands of arrays */
    ib_strbuf_append(&deps, "afterany");
    const size_t no_arrays = deps.len;
    int rc = 0;
    for (int g0 = 0; g0 < groups && !rc; g0 += max_arr) {
        int m = groups - g0 < max_arr ? groups - g0 : max_arr;
        rc = submit_array(sw, todo, n_todo, o, &s, g0, m, &deps, err);
    }
    if (deps.len > no_arrays) /* at least one array went in: collect after all of them */
        rc = submit_collect(sw, o, &s, ib_strbuf_str(&deps), rc, err);
    ib_strbuf_free(&deps);
    ib_submissions_free(&s);
    return rc;
}

int sweep_execute_slurm(const sweep *sw, const int *todo, int n_todo, int n_done, int n_active, const slurm_opts *o,
                        ib_err *err) {
    fprintf(stderr, "sweep %s: %d tasks: %d finished, %d queued or running, %d to submit\n", sw->dir, sw->n, n_done,
            n_active, n_todo);
    if (!n_todo) {
        printf("nothing to submit; see: initbench sweep status %s\n", sw->dir);
        return 0;
    }
    if (submit_slurm(sw, todo, n_todo, o, err)) return err->code;
    printf("submitted %d task%s of %s; follow with: initbench sweep status %s\n", n_todo, n_todo == 1 ? "" : "s",
           sw->dir, sw->dir);
    return 0;
}
