/* The Slurm executor: the sweep's tasks as array jobs from jobs/array.sbatch.in (split at
 * MaxArraySize, K tasks per array task), a collect job after them, all recorded in
 * DIR/slurm/submissions.json; and the Slurm options of `sweep` and `sweep resume`. */
#ifndef IB_SWEEP_EXECUTOR_SLURM_H
#define IB_SWEEP_EXECUTOR_SLURM_H

#include "cli.h"
#include "manifest.h"
#include "submissions.h"

#define MAX_SBATCH_ARGS IB_SLURM_MAX_SBATCH_ARGS
typedef struct slurm_opts {
    const char *partition, *account, *time, *mem, *gres, *jobs_dir;
    int cpus_per_task, array_throttle, tasks_per_job, signal_lead, max_array_size;
    int n_extra;
    char *extra[MAX_SBATCH_ARGS]; /* --sbatch-arg values ("--name=value", ib_sbatch_arg_check) */
} slurm_opts;

void sweep_slurm_opts_defaults(slurm_opts *o);

/* Remove every "--sbatch-arg X" / "--sbatch-arg=X" from argv into o (the flag table holds one
 * value per flag); *argc becomes the count left. */
int sweep_take_sbatch_args(int *argc, char **argv, slurm_opts *o, ib_err *err);

/* The checks a submission's options pass before anything is submitted, the same whether they come
 * from the command line or from slurm/submissions.json: each option value (ib_slurm_option_check),
 * each --sbatch-arg (ib_sbatch_arg_check), and the sweep directory dir (NULL: not checked), which
 * must hold no backslash or control character (Slurm's output patterns cannot name it). */
int sweep_slurm_check(const slurm_opts *o, const char *dir, ib_err *err);

/* Append the Slurm flags to the table f of n flags; returns the new count. */
int sweep_add_slurm_flags(ib_flag *f, int n, slurm_opts *o);

/* Refuse any Slurm flag (or --sbatch-arg) given for another executor. */
int sweep_refuse_slurm_flags(ib_flag *f, int n, const slurm_opts *o, ib_err *err);

/* Options not given on this command line come from the last submission (resume). The strings
 * point into `rec` (DIR/slurm/submissions.json as ib_submissions_read gives it), which the caller
 * keeps alive. */
void sweep_slurm_opts_from_record(slurm_opts *o, ib_flag *f, int n, const ib_submissions *rec);

/* Submit todo[0..n_todo) (n_done finished, n_active queued or running) and say what went in. */
int sweep_execute_slurm(const sweep *sw, const int *todo, int n_todo, int n_done, int n_active, const slurm_opts *o,
                        ib_err *err);

#endif
