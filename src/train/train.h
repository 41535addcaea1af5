/* The training loop and the run directory it writes:
 *   curve.csv            one row per evaluation (rewritten atomically after each)
 *   run.json             config, environment, timings, status (running/complete/diverged/failed)
 *   params.safetensors   final parameters, PyTorch names and layouts
 *   params_init.safetensors (with --save-init)
 *   checkpoint.safetensors  every --checkpoint-every steps and on SIGTERM/SIGINT/SIGUSR1; a rerun
 *                           of the same command resumes from it, ending bitwise identical */
#ifndef IB_TRAIN_H
#define IB_TRAIN_H

#include "config.h"
#include "data.h"
#include "counters.h"
#include "net.h"
#include "stats.h"

typedef struct ib_train_result {
    char status[16];      /* complete, diverged */
    long long diverged_step;
    double final_accuracy, final_loss;
    double wall_s, step_ms_median, step_ms_p90, eval_s_mean;
    long long steps_done;
    int already_complete; /* run.json already said complete for this config: nothing was run */
    int interrupted_by;   /* the signal that stopped the run after a checkpoint, or 0 */
    char first_nonfinite[160];
} ib_train_result;

/* Exit status of a run stopped by a signal after saving its checkpoint (EX_TEMPFAIL):
 * rerunning the same command resumes it. */
#define IB_EXIT_INTERRUPTED 75

/* Everything a run needs that outlives one step; shared with tests and benchmarks. */
typedef struct ib_trainer {
    const ib_train_config *cfg;
    const ib_dataset *ds;
    ib_backend *be;
    ib_net net;
    void *train_images, *test_images; /* the dataset where the backend computes (images_open) */
    int64_t *batch_index;             /* image numbers of the batch being gathered */
    uint32_t *perm;     /* this epoch's permutation of the training subset */
    long long perm_epoch;
    ib_stats_recorder *stats; /* optional: per-layer statistics every cfg->stats_every steps */
    float *update;            /* the applied update, kept on statistics steps */
    ib_counters *counters;    /* optional: per-phase time and PAPI counters */
    char nonfinite_what[160]; /* where a diverged step first saw NaN/Inf */
    int stats_failed;         /* a statistics file could not be written: stats_err says why */
    ib_err stats_err;
} ib_trainer;

int ib_trainer_init(ib_trainer *t, const ib_train_config *cfg, const ib_dataset *ds, ib_err *err);
void ib_trainer_free(ib_trainer *t);
/* Load training batch number `step` (0-based) into the network's input and labels. */
void ib_trainer_load_batch(ib_trainer *t, long long step);
/* One training step (forward, loss, backward, update) on batch `step`; returns the batch loss
 * (mean) and adds the batch's correct count to *correct. `t1` is the optimiser's 1-based step. */
double ib_trainer_step(ib_trainer *t, long long step, int *correct);
/* Does a step apply the optimiser inside backward (ib_net_backward_update)? Only where the backend
 * allows it (fuse_update, no segments); then as --update says, auto fusing when the parameters,
 * gradients and optimiser state outgrow the last-level cache. */
int ib_trainer_fuses_update(const ib_trainer *t);
/* After a non-finite loss: the first parameter tensor, else the first layer output (forward
 * order), holding NaN/Inf, as text. Returns 1 when one was found. */
int ib_trainer_find_nonfinite(ib_trainer *t, char *what, size_t len);
/* Test-set accuracy and mean loss, forward only. */
void ib_trainer_evaluate(ib_trainer *t, double *accuracy, double *loss);

/* The run: the directory is claimed (ib_train_claim_out) and locked before anything in it is read,
 * so whether the run is already complete is decided under the lock. A stop signal (above) ends it
 * at the next step boundary with a checkpoint (res->interrupted_by). */
int ib_train_run(const ib_train_config *cfg, const ib_dataset *ds, const char *out_dir, ib_train_result *res,
                 ib_err *err);
/* Make OUT a run directory initbench may write (ib_outdir_claim of kind "run"): missing, empty or
 * marked; a directory from an initbench before the marker is recognised by its run.json. */
int ib_train_claim_out(const char *out, ib_err *err);
/* From now on SIGTERM, SIGINT and SIGUSR1 (Slurm preemption, time limit) are held pending instead
 * of killing the process: the next ib_train_run acts on one sent while its data loads at its first
 * step boundary, with a checkpoint. Call it before any thread starts: threads inherit the block,
 * and a thread without it would receive the signal (ib_train_run holds them itself too, for the
 * threads it starts). */
void ib_train_keep_stop_signals(void);

/* Write the network's parameters as safetensors (PyTorch names and layouts). */
int ib_save_params(const ib_net *net, const char *path, const ib_train_config *cfg, long long step, ib_err *err);

#endif
