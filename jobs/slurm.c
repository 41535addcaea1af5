#include "slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

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
