/* libFuzzer harness: a run's files as `sweep status` and `report` read them. The input is split
 * at lines "=====" into run.json, curve.csv, stats.csv and the task record tasks/0000.json; a
 * part left out is a file that does not exist. The manifest is fixed and valid. Besides the two
 * commands' readers, each src/rundir reader is called directly and what it accepts is checked
 * against its promises (names are names, steps never decrease, reasons hold no control
 * character); what it refuses must name the file. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>

#include "../../src/rundir/sweepdir.h" /* "sweepdir.h" here is the harnesses' own */
#include "names.h"
#include "runfiles.h"
#include "sweepdir.h"

static int has_control(const char *s) {
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* A refusal is exit 2 with a message naming the file. */
static void refused_names(int rc, const ib_err *err, const char *file) {
    if (rc && (rc != IB_EXIT_USAGE || !strstr(err->msg, file))) abort();
}

static void check_readers(void) {
    char run[128];
    snprintf(run, sizeof run, "%s/r", sweepdir_get());
    ib_err err;
    ib_curve c;
    int rc = ib_curve_read(run, &c, &err);
    refused_names(rc, &err, "curve.csv");
    for (int i = 0; i < c.n; i++)
        if (c.step[i] < 0 || c.step[i] >= 1000000000000000LL || (i && c.step[i] < c.step[i - 1])) abort();
    ib_curve_free(&c);
    ib_stats st;
    rc = ib_stats_read(run, &st, &err);
    refused_names(rc, &err, "stats.csv");
    if (st.n_layers > IB_STATS_MAX_LAYERS) abort();
    for (int l = 0; l < st.n_layers; l++)
        if (!ib_name_ok(st.layer[l])) abort();
    for (int i = 0; i < st.n; i++) {
        const ib_stats_row *r = &st.rows[i];
        if (r->layer < 0 || r->layer >= st.n_layers || r->tensor < 0 || r->tensor >= IB_STATS_NTENSORS || r->step < 0 ||
            (i && r->step < st.rows[i - 1].step))
            abort();
    }
    ib_stats_free(&st);
    ib_run_record rec;
    rc = ib_run_record_read(run, &rec, &err);
    refused_names(rc, &err, "run.json");
    if (rec.status && ib_run_state_parse(rec.status) < 0) abort();
    if (has_control(rec.reason) || rec.final_step < -1 || rec.diverged_step < -1) abort();
    ib_run_record_free(&rec);
    ib_task_record tr;
    rc = ib_task_record_read(sweepdir_get(), 0, &tr, &err);
    refused_names(rc, &err, "0000.json");
    if ((tr.status && ib_run_state_parse(tr.status) < 0) || has_control(tr.reason) ||
        (tr.dir && !ib_sweep_dir_ok(tr.dir)) || (tr.log && !ib_relpath_ok(tr.log, IB_PATH_TEXT_MAX)) ||
        (tr.host && !ib_hostname_ok(tr.host)) || (tr.slurm_job && !ib_job_id_ok(tr.slurm_job)))
        abort();
    ib_task_record_free(&tr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 18) return 0;
    static int ready;
    if (!ready) {
        sweepdir_put("sweep.json", SWEEPDIR_MANIFEST, sizeof SWEEPDIR_MANIFEST - 1);
        ready = 1;
    }
    static const char *const parts[] = {"r/run.json", "r/curve.csv", "r/stats.csv", "tasks/0000.json"};
    static const char sep[] = "\n=====\n";
    const uint8_t *p = data, *end = data + size;
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        if (!p) {
            sweepdir_put(parts[k], NULL, 0);
            continue;
        }
        const uint8_t *q = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
        size_t len = q ? (size_t)(q - p) : (size_t)(end - p);
        sweepdir_put(parts[k], p, len);
        p = q ? q + sizeof sep - 1 : NULL;
    }
    sweepdir_read_all();
    check_readers();
    return 0;
}
