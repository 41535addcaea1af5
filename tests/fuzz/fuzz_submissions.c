/* libFuzzer harness: slurm/submissions.json as `sweep status`, `sweep resume` and the Slurm
 * executor read it. Whatever the reader accepts must obey the rules it promises (every sbatch
 * argument "--name=value", job ids, list names, dependencies, option values), must be written
 * back and read back the same, and must make an sbatch command line on which the job script is
 * still the last-but-one argument with only "--name=value" options before it; whatever it refuses
 * is refused with a message naming the file and holding no control character. */
#include <stdint.h>

#include "executor_slurm_argv.h"
#include "submissions.h"
#include "sweepdir.h"

static void slurm_cleanup(void) {
    char p[160];
    snprintf(p, sizeof p, "%s/slurm/submissions.json", sweepdir_get());
    unlink(p);
    snprintf(p, sizeof p, "%s/slurm", sweepdir_get());
    rmdir(p);
}

static int message_ok(const char *m) {
    if (!m[0] || !strstr(m, "submissions.json")) return 0;
    for (const unsigned char *p = (const unsigned char *)m; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* Everything an accepted record holds obeys its rule. */
static void check_accepted(const ib_submissions *s) {
    char why[600];
    const ib_slurm_options *o = &s->options;
    for (int i = 0; i < o->n_sbatch_args; i++)
        if (ib_sbatch_arg_check(o->sbatch_args[i], why, sizeof why)) abort();
    const char *names[] = {"partition", "account", "time", "mem", "gres"};
    const char *vals[] = {o->partition, o->account, o->time, o->mem, o->gres};
    for (int i = 0; i < 5; i++)
        if (vals[i] && ib_slurm_option_check(names[i], vals[i], why, sizeof why)) abort();
    for (int i = 0; i < s->n_subs; i++) {
        if (s->subs[i].job_id && !ib_slurm_job_id_ok(s->subs[i].job_id)) abort();
        if (s->subs[i].list && !ib_slurm_task_list_name_ok(s->subs[i].list)) abort();
    }
    for (int i = 0; i < s->n_collects; i++) {
        if (s->collects[i].job_id && !ib_slurm_job_id_ok(s->collects[i].job_id)) abort();
        if (s->collects[i].dependency && !ib_slurm_dependency_ok(s->collects[i].dependency)) abort();
    }
}

/* The record's options on an array job's sbatch command line. */
static void check_command_line(const ib_slurm_options *r) {
    sweep sw = {0};
    snprintf(sw.dir, sizeof sw.dir, "/scratch/s%%A");
    slurm_opts o;
    sweep_slurm_opts_defaults(&o);
    o.partition = r->partition, o.account = r->account, o.time = r->time, o.mem = r->mem, o.gres = r->gres;
    for (int i = 0; i < r->n_sbatch_args && i < MAX_SBATCH_ARGS; i++) o.extra[o.n_extra++] = r->sbatch_args[i];
    ib_err err;
    if (sweep_slurm_check(&o, sw.dir, &err)) abort(); /* what the reader accepts, the executor accepts */
    sbatch_argv v;
    sweep_array_sbatch_argv(&v, &sw, &o, 3, "/scratch/s%A/slurm/sub-001.tasks");
    if (v.k < 4 || strcmp(v.a[v.k - 2], "/scratch/s%A/slurm/array.sbatch") || v.a[v.k]) abort();
    for (int i = 1; i < v.k - 2; i++)
        if (strncmp(v.a[i], "--", 2) || (!strchr(v.a[i], '=') && strcmp(v.a[i], "--parsable"))) abort();
    sbatch_argv_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)sweepdir_read_all; /* the shared helpers' reader is not this harness's */
    if (size > 1 << 16) return 0;
    static int ready;
    if (!ready) {
        char p[160];
        snprintf(p, sizeof p, "%s/slurm", sweepdir_get());
        mkdir(p, 0755);
        atexit(slurm_cleanup); /* runs before sweepdir.h's, which removes the root */
        ready = 1;
    }
    sweepdir_put("slurm/submissions.json", data, size);
    ib_submissions s;
    ib_err err = {0};
    if (ib_submissions_read(sweepdir_get(), &s, &err)) {
        if (!message_ok(err.msg) || s.n_subs || s.n_collects || s.options.n_sbatch_args) abort();
        ib_submissions_free(&s);
        return 0;
    }
    check_accepted(&s);
    if (s.has_options) check_command_line(&s.options);
    /* written back and read back: the same record */
    if (s.parsed) {
        if (ib_submissions_write(sweepdir_get(), &s, &err)) abort();
        ib_submissions t;
        if (ib_submissions_read(sweepdir_get(), &t, &err)) abort();
        if (t.n_subs != s.n_subs || t.n_collects != s.n_collects || t.has_options != s.has_options ||
            t.options.n_sbatch_args != s.options.n_sbatch_args)
            abort();
        for (int i = 0; i < s.options.n_sbatch_args; i++)
            if (strcmp(s.options.sbatch_args[i], t.options.sbatch_args[i])) abort();
        for (int i = 0; i < s.n_collects; i++)
            if ((s.collects[i].dependency == NULL) != (t.collects[i].dependency == NULL) ||
                (s.collects[i].dependency && strcmp(s.collects[i].dependency, t.collects[i].dependency)))
                abort();
        ib_submissions_free(&t);
    }
    ib_submissions_free(&s);
    return 0;
}
