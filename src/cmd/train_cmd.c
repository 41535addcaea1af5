/* `initbench train`: one run (src/train). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "data.h"
#include "spec.h"
#include "train.h"

int ib_cmd_train(int argc, char **argv) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS + 2];
    int n = ib_train_flags(&cfg, flags);
    int help = 0;
    flags[n++] = (ib_flag){"out", IB_FLAG_STRING, &cfg.out, 0, 0, 0, NULL, "DIR", "run directory to write (required)", 0};
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    ib_err err = {0};
    char *pos[1];
    int npos;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 0, &npos, &err)) ib_exit_err(&err);
    if (help) {
        printf("usage: initbench train --out DIR [--stddev W] [--steps N] [--eval-every K] [--seed S] ...\n\n"
               "Trains one network and writes DIR/curve.csv, DIR/run.json, DIR/params.safetensors.\n"
               "Network presets for --net: %s.\n\n",
               ib_spec_preset_names());
        ib_flags_print_help(stdout, flags, n);
        return 0;
    }
    if (!cfg.out) ib_die(IB_EXIT_USAGE, "train: --out DIR is required");
    if (ib_train_config_resolve(&cfg, flags, n, &err)) ib_exit_err(&err);
    /* From here a stop signal (e.g. Slurm preemption while the data loads) is kept and acted on
     * at the first step boundary, with a checkpoint, instead of killing the run unrecorded. */
    ib_train_keep_stop_signals();
    ib_dataset ds;
    const char *data_dir = ib_data_dir_resolve(cfg.data_dir);
    if (ib_dataset_load(data_dir, cfg.dataset, &ds, &err)) ib_exit_err(&err);
    ib_train_result res;
    int rc = ib_train_run(&cfg, &ds, cfg.out, &res, &err);
    ib_dataset_free(&ds);
    if (rc) ib_exit_err(&err);
    if (res.already_complete) {
        fprintf(stderr, "%s: already %s with this configuration (test accuracy %.4f); nothing to do\n", cfg.out,
                res.status, res.final_accuracy);
        return 0;
    }
    if (res.interrupted_by) {
        fprintf(stderr, "initbench: interrupted by %s at step %lld; checkpoint saved, rerun the same command to "
                "resume\n", strsignal(res.interrupted_by), res.steps_done);
        return IB_EXIT_INTERRUPTED;
    }
    if (!strcmp(res.status, "diverged"))
        fprintf(stderr, "initbench: run diverged at step %lld (non-finite loss, first in %s); recorded in %s/run.json\n",
                res.diverged_step, res.first_nonfinite, cfg.out);
    else
        fprintf(stderr, "done: test accuracy %.4f after %lld steps in %.1f s (median step %.1f ms); wrote %s\n",
                res.final_accuracy, res.steps_done, res.wall_s, res.step_ms_median, cfg.out);
    return 0;
}
