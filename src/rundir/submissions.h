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

/* The Slurm options of a submission. Read back: the strings pass the same checks as on the
 * command line (ib_slurm_option_check, ib_sbatch_arg_check) or the read fails; numbers are -1
 * unless within the range of the flag they come from (cpus_per_task 1..4096, array_throttle
 * 0..1000000, tasks_per_job 1..100000, signal_lead 0..86400, max_array_size 0..100000000). */
typedef struct ib_slurm_options {
    const char *partition, *account, *time, *mem, *gres; /* NULL: not given */
    int cpus_per_task, array_throttle, tasks_per_job, signal_lead, max_array_size;
    int n_sbatch_args;
    char **sbatch_args;
} ib_slurm_options;

/* One array job. Read back: job_id a Slurm job id (ib_slurm_job_id_ok), list a task list's name
 * (ib_slurm_task_list_name_ok), submitted_at an ISO time, sbatch free of control characters, or
 * the read fails; array_tasks -1 unless >= 1. */
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
 * file cannot be read or holds more than IB_SLURM_MAX_SUBMISSIONS array or collect jobs; fails
 * with IB_EXIT_USAGE naming the file and the field (e.g. options.sbatch_args[1]) when a string
 * field is present but mistyped, over its bound or breaks its rule: every string of this file can
 * reach sbatch's command line or a path, so none is used unchecked, and none is dropped quietly
 * (a resume without the user's sbatch options would submit something else). An entry of the
 * arrays that is no object is left out. */
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

/* ---- the rules, shared with the command line ------------------------------------------------- */

/* One extra sbatch argument (--sbatch-arg, options.sbatch_args): "--name=value" only, so that it
 * is one option whatever follows it and can never take the job script's place as its value; name
 * [a-z][a-z0-9-]*, value 1..IB_SBATCH_ARG_MAX bytes without control characters; and not one of
 * the options initbench sets itself or that change what the job runs, as whom or where its files
 * go (--array, --chdir, --dependency, --error, --export, --export-file, --get-user-env, --gid,
 * --input, --output, --parsable, --uid, --wait, --wrap, --container, --container-id), nor a prefix
 * of one (sbatch accepts unambiguous prefixes: --out= is --output=). Returns 0, or -1 with the
 * reason in why (which names the argument, shown safely). */
#define IB_SBATCH_ARG_MAX 4096
int ib_sbatch_arg_check(const char *arg, char *why, size_t len);

/* The value of a Slurm option flag: name one of partition, account, time, mem, gres; each has a
 * strict character set (partition [A-Za-z0-9_.,-], account [A-Za-z0-9_.-], time digits, ':'
 * and '-' or UNLIMITED/INFINITE, mem digits with an optional K/M/G/T, gres [A-Za-z0-9_.:,/-]),
 * 1..255 bytes. Returns 0, or -1 with the reason in why. */
int ib_slurm_option_check(const char *name, const char *value, char *why, size_t len);

/* A Slurm job id as recorded and as lock claims name it: digits, or digits_digits (an array
 * element), at most 31 bytes. */
int ib_slurm_job_id_ok(const char *s);

/* The name of a task list as recorded: "slurm/sub-NNN.tasks", NNN 3 to 9 digits. */
int ib_slurm_task_list_name_ok(const char *rel);

/* A collect job's dependency as initbench writes it: "afterany:ID[:ID...]" (job ids as above). */
int ib_slurm_dependency_ok(const char *s);

/* ---- task lists (slurm/sub-NNN.tasks) -------------------------------------------------------- */

/* The list an array job's tasks read: line a+1 holds the sweep task indices of array index a, as
 * "3" or "3,4,5" and a newline. Strict: every line non-empty, decimal indices without sign or
 * leading zero in 0..n_tasks-1, no index twice in the file, at most IB_TASKLIST_MAX_PER_LINE per
 * line (tasks_per_job's bound) and so at most n_tasks lines; the last line ends with a newline (a
 * list cut short is refused, not half-used). */
#define IB_TASKLIST_MAX_PER_LINE 100000

/* Parse the n bytes of text (name: the file, for messages) and return the indices of array index
 * line_index (0-based) in a new array *tasks (the caller frees) of *k entries; line_index -1
 * checks the whole text and returns none. Fails with IB_EXIT_USAGE naming the file and the line. */
int ib_tasklist_parse(const char *text, size_t n, const char *name, int n_tasks, int line_index, int **tasks, int *k,
                      ib_err *err);
/* The same on the file at path (refused unread when larger than a list of n_tasks can be). */
int ib_tasklist_read(const char *path, int n_tasks, int line_index, int **tasks, int *k, ib_err *err);
/* Write tasks[0..n) as a list of per_line indices a line (the last line may hold fewer),
 * atomically. */
int ib_tasklist_write(const char *path, const int *tasks, int n, int per_line, ib_err *err);

#endif
