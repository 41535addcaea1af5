/* Checkpoints: parameters, optimiser state, the curve so far and the running training-loss sums,
 * at a step boundary. Batches and dropout masks are functions of (seed, step), so nothing else is
 * needed for a resumed run to end bitwise identical to an uninterrupted one. */
#ifndef IB_CHECKPOINT_H
#define IB_CHECKPOINT_H

#include "rundir.h"
#include "train.h"

/* Where the training loop stands: what a checkpoint saves and a resume restores. */
typedef struct ib_loop_state {
    long long step; /* next step to run */
    ib_curve_row *rows; /* grown as evaluations happen: memory follows the work done, not --steps */
    int n_rows, rows_cap;
    double loss_acc;
    int correct_acc, batches_acc;
} ib_loop_state;

/* DIR/checkpoint.safetensors for the trainer's state at ls->step, tagged with config_text. */
int ib_checkpoint_save(const char *out, const ib_trainer *t, const char *config_text, const ib_loop_state *ls,
                       ib_err *err);
/* Returns 0 with ls->step == 0 when there is no checkpoint; a checkpoint of another config is
 * an error (the directory holds a different run). Everything read is checked before use (the file
 * may come from someone else): the step within the run, at most one curve row per evaluation the
 * schedule allows up to that step, rows in step order, counts that fit their types. */
int ib_checkpoint_load(const char *out, ib_trainer *t, const char *config_text, ib_loop_state *ls, ib_err *err);

/* The checkpoint's "state" metadata (JSON: step, train_accumulators, curve) into ls, for a run of
 * cfg: 0, or -1 with why (ls unchanged). The part of a checkpoint
 * that is not a tensor container, and what fuzz_checkpoint drives. */
int ib_checkpoint_state_read(const char *state_text, const ib_train_config *cfg, ib_loop_state *ls, char *why,
                             size_t len);

/* The next curve row (zeroed), growing ls->rows as needed. */
ib_curve_row *ib_loop_new_row(ib_loop_state *ls);

#endif
