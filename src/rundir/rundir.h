/* The run directory's files, read and written here and nowhere else (docs/ARCHITECTURE.md):
 *   run.json    config, environment, timings and the run's state (written by the trainer through
 *               ib_run_json_write; read back, validated once, as an ib_run_record)
 *   curve.csv   one row per evaluation (ib_curve_write)
 * and the one enum of the states a run can be in, shared by train, `sweep status/resume/collect`
 * and report. Every string read from these files is data: a reader checks each field it uses
 * (names.h) and range-checks numbers before any cast. curve.csv and stats.csv are read back by
 * runfiles.h; a sweep directory's own files (sweep.json, tasks/NNNN.json,
 * slurm/submissions.json) are in sweepdir.h and submissions.h. */
#ifndef IB_RUNDIR_H
#define IB_RUNDIR_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util.h"

/* complete and diverged are final; pending exists only in a queue (never in run.json). */
typedef enum ib_run_state {
    IB_RUN_COMPLETE,
    IB_RUN_DIVERGED,
    IB_RUN_RUNNING,
    IB_RUN_PENDING,
    IB_RUN_INTERRUPTED,
    IB_RUN_FAILED,
    IB_RUN_MISSING, /* no run.json (never started, or its directory is gone) */
    IB_RUN_NSTATES
} ib_run_state;
extern const char *const ib_run_state_names[IB_RUN_NSTATES];
/* The state named `name`; -1 for a name that is none of them. */
int ib_run_state_parse(const char *name);
static inline int ib_run_state_final(ib_run_state s) { return s == IB_RUN_COMPLETE || s == IB_RUN_DIVERGED; }

/* What DIR/run.json says, as far as anyone reads it back. */
typedef struct ib_run_record {
    int present;          /* run.json exists */
    int parsed;           /* ... and is JSON (a value that is no object has none of the fields) */
    const char *status;   /* its "status" string as written (NULL if absent or not a string) */
    int state;            /* ib_run_state_parse(status), -1 when absent or unknown */
    const char *reason;   /* "reason" (control characters replaced by spaces), or NULL */
    char *config_text;    /* "config" printed compactly (compare with ib_train_config_to_json's), or NULL */
    long long final_step; /* "final.step", -1 if absent */
    double final_accuracy, final_loss; /* "final.test_accuracy"/"test_loss", NAN if absent */
    long long diverged_step;           /* -1 if absent */
    double bias_init;                  /* "config.init.bias", NAN if absent */
    cJSON *json;                       /* owns the strings above */
} ib_run_record;

/* Reads DIR/run.json. A missing file gives present = 0 and one that is not JSON parsed = 0: both
 * return 0 (they are states, not errors). Fails (IB_EXIT_USAGE, "PATH: field 'F': ...", the record
 * then present but not parsed) when an existing file cannot be read or a field breaks its rule:
 * status a run state's name, reason text of at most IB_TEXT_MAX bytes (control characters read
 * as spaces), config and config.init and final objects, config.init.bias, final.test_accuracy
 * and final.test_loss finite numbers (null: absent), final.step and diverged_step whole numbers
 * in [0, 10^15). Absent fields read as absent. */
int ib_run_record_read(const char *run_dir, ib_run_record *rec, ib_err *err);
void ib_run_record_free(ib_run_record *rec);

/* DIR/NAME as pretty-printed JSON ending in a newline, written atomically. */
int ib_rundir_write_json(const char *run_dir, const char *name, const cJSON *json, ib_err *err);

/* ---- curve.csv ---- */
typedef struct ib_curve_row {
    long long step;
    double test_accuracy, test_loss, train_loss, train_accuracy, elapsed_s;
} ib_curve_row;

#define IB_CURVE_HEADER "step,test_accuracy,test_loss,train_loss,train_accuracy,elapsed_s"
/* DIR/curve.csv with every row so far, rewritten atomically. */
int ib_curve_write(const char *run_dir, const ib_curve_row *rows, int n, ib_err *err);

#endif
