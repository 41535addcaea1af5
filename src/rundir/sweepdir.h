/* A sweep directory's own files, read and written here and nowhere else (docs/ARCHITECTURE.md):
 *   sweep.json      the manifest: the (stddev, repeat) grid as tasks, each with its run directory
 *                   and the `initbench train` argv that runs it (written once by `initbench sweep`)
 *   tasks/NNNN.json task NNNN's record, written by the task runner (status, reason, where it ran)
 * (slurm/submissions.json is in submissions.h.) Every reader validates each field once, here:
 * strings are checked for type, length and shape (names.h: names, paths inside the sweep, specs,
 * times), numbers are range-checked before any integer cast, arrays are bounded; a field present
 * but wrong refuses the file (IB_EXIT_USAGE naming file and field), never reads as absent; what a
 * reader returns is plain C with its strings copied. Writers take
 * plain values and write atomically, pretty-printed as they always were (cJSON_Print). */
#ifndef IB_RUNDIR_SWEEPDIR_H
#define IB_RUNDIR_SWEEPDIR_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util.h"

/* ---- sweep.json ---------------------------------------------------------------------------- */

#define IB_SWEEP_MAX_TASKS 100000 /* more than `initbench sweep` can make (64 stddevs x 1000 repeats) */
#define IB_SWEEP_MAX_ARGV 1024    /* strings in one task's train argv */
#define IB_SWEEP_DIR_MAX 64       /* bytes of a task's run directory name, with its NUL */

typedef struct ib_sweep_task {
    int index, repeat;        /* index: the task's position in the manifest (checked on reading) */
    double stddev;            /* finite */
    unsigned long long seed;  /* "seed" (a decimal string); 0 when has_seed is 0 */
    int has_seed;
    char dir[IB_SWEEP_DIR_MAX]; /* relative to the sweep directory, inside it (ib_sweep_dir_ok) */
    char **argv;              /* train argv, NULL-terminated (without --out/--threads/--progress) */
    int argc;
} ib_sweep_task;

/* A manifest as read back. Strings are copies (NULL when absent), numbers NAN / -1 when absent. */
typedef struct ib_manifest {
    int version;              /* "manifest_version" */
    char *preset;
    unsigned long long base_seed;
    int has_base_seed;
    /* what is shown of "config": net, net_given, optimizer.name, init.scheme, optimizer lr/eps, steps */
    char *net, *net_given, *optimizer, *init_scheme;
    double lr, eps;
    long long steps;
    ib_sweep_task *tasks;     /* at least one, at most IB_SWEEP_MAX_TASKS, every field checked */
    int n;
    /* on failure: IB_MANIFEST_UNREADABLE (no or no readable sweep.json: err holds the read error)
     * or IB_MANIFEST_INVALID (err names sweep.json and the rule broken) */
    int problem;
} ib_manifest;
enum { IB_MANIFEST_OK, IB_MANIFEST_UNREADABLE, IB_MANIFEST_INVALID };

/* Whether rel can name a run directory inside a sweep: ib_relpath_ok (names.h) with fewer than
 * IB_SWEEP_DIR_MAX bytes: relative, components of [A-Za-z0-9_.+-], none "." or starting with '-',
 * no "..". */
int ib_sweep_dir_ok(const char *rel);

/* Read SWEEP_DIR/sweep.json. Fails (IB_EXIT_USAGE, m->problem says which way; the message names
 * sweep.json, the task and the field) when it cannot be read, is not JSON, has no non-empty
 * "tasks" array, more than IB_SWEEP_MAX_TASKS tasks, a header field that breaks its rule
 * ("preset", "config.optimizer.name", "config.init.scheme": names; "config.net": a layer spec;
 * "config.net_given": a spec, preset or @FILE; "base_seed": decimal; numbers finite, counts whole
 * and in range), or a task that is malformed: an "index" other than its position, a "dir" that is
 * no run directory inside the sweep (ib_sweep_dir_ok), a "stddev" that is no finite number, an
 * "argv" that is not 1 to IB_SWEEP_MAX_ARGV strings of what `initbench sweep` writes ("train" and
 * train flags of the right shapes; never --out, --threads, --progress or an unknown flag), a
 * "repeat" that is no integer >= 0, a "seed" that is no decimal 64-bit number. Absent optional
 * fields read as absent (repeat 0, no seed). */
int ib_manifest_read(const char *sweep_dir, ib_manifest *m, ib_err *err);
void ib_manifest_free(ib_manifest *m);
void ib_sweep_tasks_free(ib_sweep_task *tasks, int n);

/* NULL when argv[0..argc) is a task's train argv as `initbench sweep` writes it, else what is
 * wrong (written into why): "train", then train flags ("--name value", "--name=value", switches
 * bare), each at most once, each value of its flag's shape (numbers, names, a layer spec without
 * '@', an absolute --data-dir). --out, --threads, --progress (the task runner sets them) and every
 * other argument are refused: sweep.json's argv is run as `initbench train` by whoever resumes. */
const char *ib_sweep_argv_why(char *const *argv, int argc, char *why, size_t len);

/* Write SWEEP_DIR/sweep.json for tasks[0..n) (each task's index, stddev, repeat, seed, dir, argv)
 * with the preset, base seed and the train config (as ib_train_config_to_json gives it; taken
 * over: freed here). When a sweep.json is there already, nothing is written: it must be JSON and
 * hold the same tasks, else the call fails (IB_EXIT_USAGE), so that rerunning with other settings
 * on the same directory is refused rather than silently mixing two experiments. */
int ib_manifest_write_or_check(const char *sweep_dir, const char *preset, unsigned long long base_seed,
                               cJSON *config, const ib_sweep_task *tasks, int n, ib_err *err);

/* ---- tasks/NNNN.json ----------------------------------------------------------------------- */

/* A task record. The reader sets every field (strings copied, NULL when absent; numbers -1 when
 * absent, pid 0); the writer writes the fields given, in this order. */
typedef struct ib_task_record {
    int present, parsed;        /* reader: the file exists / is JSON */
    int index;                  /* [0, INT_MAX] */
    const char *dir;            /* a run directory inside the sweep (ib_sweep_dir_ok) */
    const char *status;         /* as written: running, complete, diverged, failed, interrupted */
    int state;                  /* reader: ib_run_state_parse(status), -1 absent or unknown */
    const char *reason;         /* optional */
    int exit_status;            /* optional (>= 0) */
    const char *host;           /* at most 255 bytes; written as "" when NULL */
    long long pid;              /* [1, INT_MAX]; 0 absent */
    const char *slurm_job;      /* optional, at most 47 bytes ("JOB_ARRAYTASK") */
    long long slurm_restart_count; /* optional (>= 0) */
    const char *log;            /* optional: the train log, relative to the sweep directory */
    const char *started_at;     /* ISO time; written as "" when NULL */
    const char *finished_at;    /* optional */
} ib_task_record;

/* SWEEP_DIR/tasks/NNNN.json into buf (NNNN: index, 4 digits or more). */
void ib_task_record_path(const char *sweep_dir, int index, char *buf, size_t len);

/* Read task index's record. A missing file gives present = 0, a file that is not JSON parsed = 0:
 * both return 0 (they are states, not errors). Fails (IB_EXIT_USAGE, "PATH: field 'F': ...", the
 * record then present but not parsed) when an existing file cannot be read or a present field
 * breaks its rule: index this task's, dir a run directory inside the sweep, status a run state,
 * reason text (at most IB_TEXT_MAX bytes; control characters read as spaces), host a host name,
 * slurm_job a job id, log a path inside the sweep, times ISO text, numbers whole and >= 0. The
 * writer's "" for dir and status reads as absent. */
int ib_task_record_read(const char *sweep_dir, int index, ib_task_record *r, ib_err *err);
void ib_task_record_free(ib_task_record *r);

/* Write r as SWEEP_DIR/tasks/NNNN.json (NNNN: r->index), creating tasks/, atomically. */
int ib_task_record_write(const char *sweep_dir, const ib_task_record *r, ib_err *err);

#endif
