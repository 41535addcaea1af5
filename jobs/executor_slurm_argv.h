/* Internal to jobs/: the sbatch command lines of the Slurm executor, built without a fixed-size
 * buffer, exposed so that tests can check them without a cluster (tests/jobs/test_slurm_args.c). */
#ifndef IB_SWEEP_EXECUTOR_SLURM_ARGV_H
#define IB_SWEEP_EXECUTOR_SLURM_ARGV_H

#include "executor_slurm.h"
#include "strbuf.h"

/* An sbatch command line: a[0..k) allocated strings, a[k] NULL. */
typedef struct sbatch_argv {
    char **a;
    int k, cap;
} sbatch_argv;

void sbatch_argv_free(sbatch_argv *v);

/* text as a literal part of an sbatch filename pattern (--output): '%' doubled, since sbatch
 * reads %A, %a, %j ... there. (A backslash turns every replacement off; sweep_slurm_check
 * refuses a sweep directory holding one.) */
void sweep_sbatch_pattern_literal(ib_strbuf *b, const char *text);

/* sbatch for one array job of m array tasks over the task list list_abs: initbench's options,
 * then the user's (each one "--name=value", so none can take the next argument as its value),
 * then the job script and its argument. */
void sweep_array_sbatch_argv(sbatch_argv *v, const sweep *sw, const slurm_opts *o, int m, const char *list_abs);

/* sbatch for the collect job after the arrays of deps ("afterany:ID:ID..."). */
void sweep_collect_sbatch_argv(sbatch_argv *v, const sweep *sw, const slurm_opts *o, const char *deps);

/* Add array job id to the collect job's dependency list deps (started as "afterany"). */
void sweep_dependency_add(ib_strbuf *deps, const char *job_id);

#endif
