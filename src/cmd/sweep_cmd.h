/* `initbench sweep` on the command line: picks the subcommand, and is where a sweep's error
 * becomes a message and an exit code (jobs/ only returns them). */
#ifndef IB_SWEEP_CMD_H
#define IB_SWEEP_CMD_H

int ib_cmd_sweep(int argc, char **argv);

#endif
