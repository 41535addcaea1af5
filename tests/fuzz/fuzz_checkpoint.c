/* libFuzzer harness: a checkpoint's state (the JSON metadata beside the tensors: step, running
 * loss sums, the curve so far), as a resume reads it, followed by the rest of the run appending
 * its curve rows. The first 4 bytes choose the run's --steps and --eval-every; the rest is the
 * state text. A state that is accepted must leave the run's invariants intact: the step within
 * the run, rows in step order, no more rows than the schedule allows, so that the resumed loop's
 * appends stay within memory (ASan sees any overflow). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4 || size > 1 << 16) return 0;
    ib_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = 1 + (data[0] | data[1] << 8) % 3000;
    cfg.eval_every = 1 + (data[2] | data[3] << 8) % 500;
    char *text = malloc(size - 4 + 1);
    memcpy(text, data + 4, size - 4);
    text[size - 4] = 0;
    ib_loop_state ls;
    memset(&ls, 0, sizeof ls);
    char why[160];
    if (ib_checkpoint_state_read(text, &cfg, &ls, why, sizeof why) == 0) {
        if (ls.step < 0 || ls.step > cfg.steps) abort();
        if (ls.n_rows > ls.step / cfg.eval_every + 2) abort();
        for (int i = 1; i < ls.n_rows; i++)
            if (ls.rows[i].step <= ls.rows[i - 1].step || ls.rows[i].step > ls.step) abort();
        if (ls.correct_acc < 0 || ls.batches_acc < 0) abort();
        /* the rest of the run: one row per scheduled evaluation, and one for a divergence */
        for (long long s = ls.step; s <= cfg.steps; s++)
            if (s % cfg.eval_every == 0 || s == cfg.steps) ib_loop_new_row(&ls)->step = s;
        ib_loop_new_row(&ls);
    } else if (ls.n_rows != 0) {
        abort(); /* a refused state changes nothing */
    }
    free(ls.rows);
    free(text);
    return 0;
}
