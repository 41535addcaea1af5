/* Shared by the sweep-directory fuzz harnesses: lay fuzzed files out as a sweep directory in a
 * private temporary folder, then run both readers over it, `sweep status` (ib_sweep_scan) and
 * the report's aggregation (ib_sweep_load), exactly as they read real sweeps. */
#ifndef IB_FUZZ_SWEEPDIR_H
#define IB_FUZZ_SWEEPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../../analysis/aggregate.h"
#include "sweep.h"

/* One task, index 0, whose run directory is "r": the shape `initbench sweep` writes. */
#define SWEEPDIR_MANIFEST                                                                          \
    "{\"manifest_version\":1,\"preset\":\"quick\",\"config\":{\"net\":\"original\",\"steps\":100," \
    "\"optimizer\":{\"name\":\"adam\",\"lr\":0.0001,\"eps\":1e-08},\"init\":{\"scheme\":"          \
    "\"truncated_normal\",\"bias\":0.1}},\"tasks\":[{\"index\":0,\"stddev\":0.1,\"repeat\":0,"     \
    "\"seed\":\"1\",\"dir\":\"r\",\"argv\":[\"train\",\"--stddev\",\"0.1\"]}]}"

static char sweepdir_root[64];

static void sweepdir_cleanup(void) {
    if (!sweepdir_root[0]) return;
    const char *files[] = {"sweep.json", "r/run.json", "r/curve.csv", "r/stats.csv", "tasks/0000.json"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", sweepdir_root, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/r", sweepdir_root);
    rmdir(p);
    snprintf(p, sizeof p, "%s/tasks", sweepdir_root);
    rmdir(p);
    rmdir(sweepdir_root);
}

static const char *sweepdir_get(void) {
    if (!sweepdir_root[0]) {
#ifdef _OPENMP
        omp_set_num_threads(1); /* one input at a time: threads would only spin */
#endif
        /* memory-backed when possible: a disk-backed /tmp makes each input several times slower */
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(sweepdir_root, sizeof sweepdir_root, "%.40s/ibfuzzXXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(sweepdir_root)) abort();
        char p[128];
        snprintf(p, sizeof p, "%s/r", sweepdir_root);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/tasks", sweepdir_root);
        mkdir(p, 0755);
        atexit(sweepdir_cleanup);
    }
    return sweepdir_root;
}

/* Write (or, when data is NULL, remove) one file of the sweep directory. */
static void sweepdir_put(const char *rel, const void *data, size_t len) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", sweepdir_get(), rel);
    if (!data) {
        unlink(p);
        return;
    }
    FILE *fp = fopen(p, "wb");
    if (!fp || fwrite(data, 1, len, fp) != len || fclose(fp)) abort();
}

static void sweepdir_read_all(void) {
    ib_err err;
    int counts[IB_SWEEP_NSTATES];
    int n = ib_sweep_scan(sweepdir_get(), counts, &err);
    if (n >= 0) {
        int sum = 0;
        for (int s = 0; s < IB_SWEEP_NSTATES; s++) sum += counts[s];
        if (sum != n) abort(); /* every task gets exactly one state */
    } else if (!err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    ib_sweep_agg agg;
    if (ib_sweep_load(sweepdir_get(), 0.5, &agg, &err) == 0) {
        if (agg.n_runs < 1 || agg.n_groups < 1) abort();
        ib_sweep_free(&agg);
    } else if (!err.msg[0]) {
        abort();
    }
}

#endif
