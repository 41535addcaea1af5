/* `initbench sweep ...`: picks the subcommand; where a sweep's error becomes a message and an exit code
 * (jobs/ only returns them). */
#include "commands.h"

#include <string.h>

#include "sweep.h"
#include "util.h"

typedef int (*sweep_command)(int argc, char **argv, int *status, ib_err *err);

int ib_cmd_sweep(int argc, char **argv) {
    static const struct {
        const char *name;
        sweep_command run;
    } subcommands[] = {{"run-task", ib_sweep_run_task},
                       {"status", ib_sweep_status},
                       {"resume", ib_sweep_resume},
                       {"collect", ib_sweep_collect}};
    sweep_command run = ib_sweep_grid; /* `sweep --out DIR ...`: flags only */
    if (argc >= 2) {
        const char *sub = argv[1];
        for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
            if (!strcmp(sub, subcommands[i].name)) run = subcommands[i].run;
        if (run != ib_sweep_grid) argc--, argv++;
        else if (sub[0] != '-')
            ib_die(IB_EXIT_USAGE, "sweep: unknown subcommand '%s' (run-task, status, resume, collect; or flags to start "
                                  "a sweep)", sub);
    }
    ib_err err = {0};
    int status = 0;
    if (run(argc, argv, &status, &err)) ib_exit_err(&err);
    return status;
}
