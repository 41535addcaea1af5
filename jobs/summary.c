#include "summary.h"

#include <math.h>
#include <stdlib.h>

#include "rundir.h"

static ib_sweep_reporter reporter;
void ib_sweep_set_reporter(ib_sweep_reporter write_report) { reporter = write_report; }
ib_sweep_reporter sweep_reporter(void) { return reporter; }

void sweep_print_summary_table(FILE *fp, const sweep *sw, const ib_run_state *states, int csv) {
    double *sd = ib_xmalloc((size_t)sw->n * sizeof(double));
    int ns = 0;
    for (int i = 0; i < sw->n; i++) {
        int seen = 0;
        for (int s = 0; s < ns; s++) seen |= sd[s] == sw->tasks[i].stddev;
        if (!seen) sd[ns++] = sw->tasks[i].stddev;
    }
    if (csv) fprintf(fp, "stddev,tasks,complete,diverged,failed,missing,acc_mean,acc_std,acc_min\n");
    else
        fprintf(fp, "\n%-10s %8s %10s %10s %10s %9s %7s %8s\n", "stddev", "runs", "acc_mean", "acc_std", "acc_min",
                "diverged", "failed", "missing");
    for (int s = 0; s < ns; s++) {
        double sum = 0, sum2 = 0, mn = INFINITY;
        int k = 0, total = 0, diverged = 0, failed = 0, missing = 0;
        for (int i = 0; i < sw->n; i++) {
            const sweep_task *t = &sw->tasks[i];
            if (t->stddev != sd[s]) continue;
            total++;
            if (states[i] == IB_RUN_DIVERGED) diverged++;
            else if (states[i] == IB_RUN_MISSING || sweep_state_active(states[i])) missing++;
            else if (states[i] != IB_RUN_COMPLETE) failed++;
            if (states[i] != IB_RUN_COMPLETE) continue;
            char run_dir[4200];
            sweep_path(sw, run_dir, sizeof run_dir, "%s", t->dir);
            ib_run_record rj;
            ib_err rerr;
            ib_run_record_read(run_dir, &rj, &rerr); /* unreadable: no accuracy */
            double a = rj.final_accuracy;
            ib_run_record_free(&rj);
            if (!isfinite(a)) continue;
            sum += a, sum2 += a * a, mn = a < mn ? a : mn, k++;
        }
        double mean = k ? sum / k : NAN;
        double sdv = k > 1 ? sqrt(fmax(0, (sum2 - k * mean * mean) / (k - 1))) : k ? 0 : NAN;
        if (csv) {
            fprintf(fp, "%.15g,%d,%d,%d,%d,%d,", sd[s], total, k, diverged, failed, missing);
            if (k) fprintf(fp, "%.6f,%.6f,%.6f\n", mean, sdv, mn);
            else fprintf(fp, ",,\n");
        } else {
            char runs[32];
            snprintf(runs, sizeof runs, "%d/%d", k, total);
            fprintf(fp, "%-10g %8s %10.4f %10.4f %10.4f %9d %7d %8d\n", sd[s], runs, mean, sdv, k ? mn : NAN, diverged,
                    failed, missing);
        }
    }
    free(sd);
}

int sweep_write_summary(const sweep *sw, const ib_run_state *st, ib_err *err) {
    char path[4200];
    sweep_path(sw, path, sizeof path, "summary.csv");
    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) return err->code;
    sweep_print_summary_table(af.fp, sw, st, 1);
    if (ib_atomic_commit(&af, err)) return err->code;
    sweep_path(sw, path, sizeof path, "report");
    const char *dirs[1] = {sw->dir};
    ib_err rerr = {0};
    if (!reporter)
        printf("report: initbench report %s --out %s\n", sw->dir, path);
    else if (reporter(dirs, 1, path, 1, &rerr))
        fprintf(stderr, "initbench: warning: report not written: %s\n", rerr.msg);
    else
        printf("report: %s/index.html\n", path);
    return 0;
}
