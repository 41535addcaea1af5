/* Sweeps: the (stddev, repeat) grid as a manifest of tasks (DIR/sweep.json), executed by one
 * shared task runner (`initbench sweep run-task DIR I[,J...]`: one child `initbench train` per
 * task, so a crash of one run never takes the sweep down), either locally J at a time or as Slurm
 * array jobs; plus status, resume and collect over the same run directories. */
#ifndef IB_SWEEP_H
#define IB_SWEEP_H

int ib_cmd_sweep(int argc, char **argv);

#endif
