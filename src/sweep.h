/* Sweeps: the (stddev, repeat) grid as a manifest of tasks, run locally J at a time (each run a
 * child `initbench train` process, so a crash of one run never takes the sweep down). */
#ifndef IB_SWEEP_H
#define IB_SWEEP_H

int ib_cmd_sweep(int argc, char **argv);

#endif
