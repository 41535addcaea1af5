#include "slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "submissions.h"

void ib_last_line(const char *s, char *out, size_t len) {
    if (!len) return;
    out[0] = 0;
    if (!s) return;
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
    const char *start = end;
    while (start > s && start[-1] != '\n') start--;
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    size_t n = (size_t)(end - start);
    if (n >= len) n = len - 1;
    memcpy(out, start, n);
    out[n] = 0;
}

int ib_slurm_ping(char *why, size_t len) {
    char *argv[] = {"scontrol", "ping", NULL};
    char *out = NULL, *err = NULL;
    int rc = ib_proc_run(argv, 15, &out, &err);
    int up = rc == 0 && out && strstr(out, "is UP");
    if (!up) {
        char line[512];
        ib_last_line(out && *out ? out : err, line, sizeof line);
        if (rc == -1) snprintf(why, len, "cannot run scontrol (is Slurm installed? %s)", strerror(errno));
        else if (rc == -2) snprintf(why, len, "'scontrol ping' did not answer within 15 s");
        else snprintf(why, len, "'scontrol ping': %s", *line ? line : "no answer");
    }
    free(out);
    free(err);
    return !up;
}

int ib_slurm_max_array_size(void) {
    char *argv[] = {"scontrol", "show", "config", NULL};
    char *out = NULL;
    int v = 1001;
    if (ib_proc_run(argv, 15, &out, NULL) == 0 && out) {
        const char *p = strstr(out, "MaxArraySize");
        if (p) {
            p = strchr(p, '=');
            if (p) {
                long x = strtol(p + 1, NULL, 10);
                if (x > 0 && x < 100000000) v = (int)x;
            }
        }
    }
    free(out);
    return v;
}

int ib_slurm_job_alive(const char *job) {
    /* the id goes to squeue as one argument, but anything else in it is no job of ours */
    if (!job || !ib_slurm_job_id_ok(job)) return -1;
    char jobs_arg[64];
    snprintf(jobs_arg, sizeof jobs_arg, "--jobs=%s", job); /* "-j ID" would leave ID out: -j's value is optional */
    char *argv[] = {"squeue", "-h", jobs_arg, "-o", "%i", NULL};
    char *out = NULL, *errs = NULL;
    int rc = ib_proc_run(argv, 15, &out, &errs);
    int alive;
    if (rc == 0) alive = out && strspn(out, " \t\r\n") != strlen(out); /* a line: pending, running or completing */
    else if (rc > 0 && errs && strstr(errs, "Invalid job id specified")) alive = 0; /* purged: gone long ago */
    else alive = -1; /* no squeue, no answer in time, or another failure: cannot tell */
    free(out);
    free(errs);
    return alive;
}
