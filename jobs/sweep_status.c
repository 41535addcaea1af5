#include "sweep_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "executor_local.h"
#include "summary.h"
#include "sweep.h"
#include "task_state.h"

/* ---- status --------------------------------------------------------------------------------- */

int ib_sweep_scan(const char *dir, int counts[IB_SWEEP_NSTATES], ib_err *err) {
    _Static_assert(IB_RUN_NSTATES == IB_SWEEP_NSTATES, "sweep.h's state count is ib_run_state's");
    sweep sw;
    if (sweep_load(dir, &sw, err)) return -1;
    ib_run_state *st = sweep_all_states(&sw, NULL, NULL);
    for (int s = 0; s < IB_RUN_NSTATES; s++) counts[s] = 0;
    for (int i = 0; i < sw.n; i++) counts[st[i]]++;
    int n = sw.n;
    free(st);
    sweep_free(&sw);
    return n;
}

/* One line per task (unless quiet) and the counts; returns 0 when every task is finished, else 3. */
static int print_status(const sweep *sw, int quiet) {
    queue_view q;
    sweep_queue_query(sw, &q);
    char(*d)[1200];
    ib_run_state *st = sweep_all_states(sw, &q, &d);
    int count[IB_RUN_NSTATES] = {0};
    for (int i = 0; i < sw->n; i++) {
        count[st[i]]++;
        if (!quiet) printf("%4d  %-24s %-11s %s\n", i, sw->tasks[i].dir, ib_run_state_names[st[i]], d[i]);
    }
    if (q.asked && !q.ok) printf("note: Slurm queue not consulted: %s\n", q.why);
    printf("%s: %d tasks:", sw->dir, sw->n);
    for (int s = 0; s < IB_RUN_NSTATES; s++)
        if (count[s]) printf(" %d %s", count[s], ib_run_state_names[s]);
    printf("\n");
    int all = count[IB_RUN_COMPLETE] + count[IB_RUN_DIVERGED] == sw->n;
    free(st);
    free(d);
    sweep_queue_free(&q);
    return all ? 0 : 3;
}

int ib_sweep_status(int argc, char **argv, int *status, ib_err *err) {
    int help = 0, quiet = 0;
    ib_flag flags[] = {
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "only the summary line", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 1, &npos, err)) return err->code;
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep status DIR [--quiet]\n\n"
                    "One line per task: INDEX DIR STATE DETAIL, STATE one of complete, diverged, running,\n"
                    "pending, interrupted, failed, missing; from the run directories, the task records and\n"
                    "(for Slurm submissions) squeue. Exit 0 when every task is complete (or diverged: a\n"
                    "finished result), 3 while some are not, 2 bad input, 1 internal error.\n\n");
        ib_flags_print_help(fp, flags, nf);
        *status = help ? 0 : IB_EXIT_USAGE;
        return 0;
    }
    sweep sw;
    if (sweep_load(pos[0], &sw, err)) return err->code;
    if (sweep_files_check(&sw, err)) {
        sweep_free(&sw);
        return err->code;
    }
    *status = print_status(&sw, quiet);
    sweep_free(&sw);
    return 0;
}

/* ---- collect -------------------------------------------------------------------------------- */

int ib_sweep_collect(int argc, char **argv, int *status, ib_err *err) {
    int help = 0;
    ib_flag flags[] = {{"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0}};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, 1, argc, argv, 1, pos, 1, &npos, err)) return err->code;
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep collect DIR\n\n"
                    "Aggregates the sweep into DIR/summary.csv: per stddev the number of tasks, complete,\n"
                    "diverged, failed (incl. interrupted) and missing runs, and the mean, sample std and min of\n"
                    "the final test accuracy over the complete runs. The Slurm executor runs it as a job\n"
                    "after the arrays (--dependency=afterany). From the files only (no squeue).\n");
        *status = help ? 0 : IB_EXIT_USAGE;
        return 0;
    }
    sweep sw;
    if (sweep_load(pos[0], &sw, err)) return err->code;
    if (sweep_files_check(&sw, err)) {
        sweep_free(&sw);
        return err->code;
    }
    ib_run_state *st = sweep_all_states(&sw, NULL, NULL);
    int rc = sweep_write_summary(&sw, st, err);
    if (!rc) {
        sweep_print_summary_table(stdout, &sw, st, 0);
        int count[IB_RUN_NSTATES] = {0};
        for (int i = 0; i < sw.n; i++) count[st[i]]++;
        printf("\nwrote %s/summary.csv (%d tasks: %d complete, %d diverged, %d failed, %d missing)\n", sw.dir, sw.n,
               count[IB_RUN_COMPLETE], count[IB_RUN_DIVERGED], count[IB_RUN_FAILED] + count[IB_RUN_INTERRUPTED],
               count[IB_RUN_MISSING] + count[IB_RUN_RUNNING] + count[IB_RUN_PENDING]);
        *status = 0;
    }
    free(st);
    sweep_free(&sw);
    return rc;
}

/* ---- resume --------------------------------------------------------------------------------- */

int sweep_execute(const sweep *sw, const char *executor, int jobs, const slurm_opts *o, int ignore_queue,
                  int print_table, int *status, ib_err *err) {
    queue_view q;
    if (ignore_queue) sweep_queue_empty(sw, &q); /* the cluster is gone: what it still shows is not coming */
    else sweep_queue_query(sw, &q);
    if (q.asked && !q.ok) {
        ib_fail(err, IB_EXIT_INTERNAL,
                "%s: cannot tell which tasks are queued in Slurm (%s); refusing to start tasks twice "
                "(--ignore-queue if that cluster is gone)", sw->dir, q.why);
        sweep_queue_free(&q);
        return err->code;
    }
    int n_todo, n_done, n_active;
    int *todo = sweep_tasks_to_run(sw, &q, &n_todo, &n_done, &n_active);
    sweep_queue_free(&q);
    int rc;
    *status = 0;
    if (!strcmp(executor, "local"))
        rc = sweep_execute_local(sw, todo, n_todo, n_done, n_active, jobs, print_table, status, err);
    else
        rc = sweep_execute_slurm(sw, todo, n_todo, n_done, n_active, o, err);
    free(todo);
    return rc;
}

int ib_sweep_resume(int argc, char **argv, int *status, ib_err *err) {
    slurm_opts o;
    sweep_slurm_opts_defaults(&o);
    if (sweep_take_sbatch_args(&argc, argv, &o, err)) return err->code;
    ib_flag flags[32];
    const char *executor = NULL;
    int jobs = 1, help = 0, n = 0, ignore_queue = 0;
    flags[n++] = (ib_flag){"executor", IB_FLAG_CHOICE, &executor, 0, 0, 0, "local|slurm", NULL,
                           "where to run (default: slurm if the sweep was submitted to Slurm before, else local)", 0};
    flags[n++] = (ib_flag){"jobs", IB_FLAG_INT, &jobs, 1, 256, 0, NULL, "J", "local: runs at a time (default 1)", 0};
    flags[n++] = (ib_flag){"ignore-queue", IB_FLAG_BOOL, &ignore_queue, 0, 0, 0, NULL, NULL,
                           "do not ask Slurm which tasks are queued (that cluster is gone)", 0};
    n = sweep_add_slurm_flags(flags, n, &o);
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 1, &npos, err)) return err->code;
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep resume DIR [--executor local|slurm] [--jobs J] [Slurm options]\n"
                    "                     [--sbatch-arg OPT]...\n\n"
                    "Starts again only the tasks that are neither finished nor queued/running (failed,\n"
                    "interrupted, missing); interrupted ones continue from their checkpoints. Slurm options\n"
                    "not given default to those of the last submission.\n\n");
        ib_flags_print_help(fp, flags, n);
        *status = help ? 0 : IB_EXIT_USAGE;
        return 0;
    }
    sweep sw;
    if (sweep_load(pos[0], &sw, err)) return err->code;
    if (sweep_files_check(&sw, err)) {
        sweep_free(&sw);
        return err->code;
    }
    ib_submissions rec;
    if (ib_submissions_read(sw.dir, &rec, err)) {
        sweep_free(&sw);
        return err->code;
    }
    if (!executor) executor = rec.parsed ? "slurm" : "local";
    sweep_slurm_opts_from_record(&o, flags, n, &rec);
    int rc = sweep_execute(&sw, executor, jobs, &o, ignore_queue, 1, status, err);
    ib_submissions_free(&rec);
    sweep_free(&sw);
    return rc;
}
