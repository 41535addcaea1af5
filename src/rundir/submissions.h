/* DIR/slurm/submissions.json, the Slurm executor's record of a sweep's submissions, read and
 * written here and nowhere else: the options of the last submission (what `sweep resume` reuses),
 * every array job (its id, task list, size, time, sbatch command line) and every collect job.
 * The reader validates each field once (see sweepdir.h for the rules every reader here follows);
 * the writer writes the record whole, atomically, pretty-printed as it always was. */
#ifndef IB_RUNDIR_SUBMISSIONS_H
#define IB_RUNDIR_SUBMISSIONS_H

#include <stddef.h>

#include "util.h"

#define IB_SLURM_MAX_SBATCH_ARGS 64      /* --sbatch-arg values in the options */
#define IB_SLURM_MAX_SUBMISSIONS 100000  /* array jobs (and collect jobs) in one record */
#define IB_SLURM_MAX_SBATCH_ARGV 256     /* strings of one recorded sbatch command line */

/* The Slurm options of a submission. Read back: strings copied (NULL when absent or mistyped),
 * numbers -1 unless within the range of the flag they come from (cpus_per_task 1..4096,
 * array_throttle 0..1000000, tasks_per_job 1..100000, signal_lead 0..86400, max_array_size
 * 0..100000000), sbatch_args only when all of them are strings starting with '-'. */
typedef struct ib_slurm_options {
    const char *partition, *account, *time, *mem, *gres; /* NULL: not given */
    int cpus_per_task, array_throttle, tasks_per_job, signal_lead, max_array_size;
    int n_sbatch_args;
    char **sbatch_args;
} ib_slurm_options;

/* One array job. Read back: job_id only when it is 1 to 31 digits, list only when it is a
 * relative path inside the sweep, array_tasks -1 unless >= 1. */
typedef struct ib_slurm_submission {
    char *job_id, *list, *submitted_at;
    int array_tasks;
    char **sbatch; /* the sbatch command line (NULL when absent) */
    int n_sbatch;
} ib_slurm_submission;

typedef struct ib_slurm_collect {
    char *job_id, *dependency;
} ib_slurm_collect;

typedef struct ib_submissions {
    int present, parsed;     /* the file exists / is JSON */
    int has_options;
    ib_slurm_options options; /* owned by the record */
    ib_slurm_submission *subs; /* entries that are no object are left out */
    int n_subs;
    ib_slurm_collect *collects;
    int n_collects;
    /* where the writer puts "options": before the two arrays in a new record, after them in one
     * read back from a file that has them (each later submission re-records its options at the
     * end, as the record has always been written) */
    int options_last;
} ib_submissions;

/* Read SWEEP_DIR/slurm/submissions.json. A missing file gives present = 0, one that is not JSON
 * parsed = 0: both return 0 with an empty record. Fails (err names the file) when an existing
 * file cannot be read or holds more than IB_SLURM_MAX_SUBMISSIONS array or collect jobs. */
int ib_submissions_read(const char *sweep_dir, ib_submissions *s, ib_err *err);
void ib_submissions_free(ib_submissions *s);

/* Replace the record's options by a copy of o. */
void ib_submissions_set_options(ib_submissions *s, const ib_slurm_options *o);
/* Append an array job / a collect job (all strings copied). */
void ib_submissions_add_array(ib_submissions *s, const char *job_id, const char *list, int array_tasks,
                              const char *submitted_at, char *const *sbatch, int n_sbatch);
void ib_submissions_add_collect(ib_submissions *s, const char *job_id, const char *dependency);

/* Write the record as SWEEP_DIR/slurm/submissions.json (creating slurm/), atomically. */
int ib_submissions_write(const char *sweep_dir, const ib_submissions *s, ib_err *err);

#endif
