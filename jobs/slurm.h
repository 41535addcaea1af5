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

/* Whether Slurm job `job` ("123", or "123_4" for an array element) is still in the queue, as lock
 * claims ask (ib_job_alive_fn, src/core/lock.h): 1 when `squeue -h --jobs=ID -o %i` lists it
 * (pending, running, suspended or completing), 0 when squeue answers and does not list it or says
 * "Invalid job id specified" (finished and purged), -1 when it cannot tell (an id that is not
 * digits[_digits], squeue missing, failing or not answering within 15 s). Runs squeue from an
 * argv, never through a shell. */
int ib_slurm_job_alive(const char *job);

/* The last non-empty line of s, trimmed, into buf ("" if none). */
void ib_last_line(const char *s, char *buf, size_t len);

#endif
