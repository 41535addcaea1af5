/* What a run directory records about where and how it ran: host, libraries, revision, Slurm. */
#ifndef IB_RUNINFO_H
#define IB_RUNINFO_H

struct cJSON;
struct ib_backend;

/* Adds "initbench_version", "git_revision", "build", "libraries", "host" and (under Slurm)
 * "slurm" to obj. */
void ib_runinfo_add(struct cJSON *obj, const struct ib_backend *be);
/* ISO 8601 UTC time of now into buf. */
void ib_iso_time(char *buf, unsigned len);
/* Threads to use when the user gave 0: $SLURM_CPUS_PER_TASK, else all online cores. */
int ib_default_threads(void);

#endif
