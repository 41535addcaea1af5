/* Talking to Slurm through its commands (sbatch, squeue, scontrol), always bounded in time
 * (ib_proc_run, proc.h): a wedged slurmctld makes a command fail with a message, never hang. */
#ifndef IB_SLURM_H
#define IB_SLURM_H

#include <stddef.h>

#include "util.h"

/* 0 when `scontrol ping` says the controller is UP; otherwise non-zero with the reason in why. */
int ib_slurm_ping(char *why, size_t len);

/* MaxArraySize from `scontrol show config` (Slurm's default 1001 if it cannot be read). */
int ib_slurm_max_array_size(void);

/* The last non-empty line of s, trimmed, into buf ("" if none). */
void ib_last_line(const char *s, char *buf, size_t len);

#endif
