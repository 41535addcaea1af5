/* libFuzzer harness: the sweep manifest (DIR/sweep.json) as `sweep status` and `report` read it;
 * the run directory it may name holds a small finished run. The manifest reader is also called
 * directly: what it accepts must keep its promises (run directories inside the sweep, names that
 * are names, argv that `initbench sweep` could have written), what it refuses must name the file. */
#include <math.h>
#include <stdint.h>

#include "../../src/rundir/sweepdir.h" /* "sweepdir.h" here is the harnesses' own */
#include "names.h"
#include "sweepdir.h"

static void check_manifest(void) {
    ib_manifest m;
    ib_err err;
    if (ib_manifest_read(sweepdir_get(), &m, &err)) {
        if (err.code != IB_EXIT_USAGE || !strstr(err.msg, "sweep.json")) abort();
        return;
    }
    if (m.n < 1 || (m.preset && !ib_name_ok(m.preset)) || (m.optimizer && !ib_name_ok(m.optimizer)) ||
        (m.init_scheme && !ib_name_ok(m.init_scheme)) || (m.net && !ib_spec_text_ok(m.net, 0)))
        abort();
    char why[256];
    for (int i = 0; i < m.n; i++) {
        const ib_sweep_task *t = &m.tasks[i];
        if (t->index != i || !ib_sweep_dir_ok(t->dir) || !isfinite(t->stddev) || t->repeat < 0 ||
            ib_sweep_argv_why(t->argv, t->argc, why, sizeof why) || t->argv[t->argc])
            abort();
    }
    ib_manifest_free(&m);
}

static const char run_json[] = "{\"status\":\"complete\",\"final\":{\"step\":100,\"test_accuracy\":0.9}}";
static const char curve_csv[] = "step,train_loss,test_loss,test_accuracy\n0,2.3,2.3,0.1\n100,0.5,0.4,0.9\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    static int ready;
    if (!ready) {
        sweepdir_put("r/run.json", run_json, sizeof run_json - 1);
        sweepdir_put("r/curve.csv", curve_csv, sizeof curve_csv - 1);
        ready = 1;
    }
    sweepdir_put("sweep.json", data, size);
    sweepdir_read_all();
    check_manifest();
    return 0;
}
