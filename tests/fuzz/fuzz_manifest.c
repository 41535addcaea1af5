/* libFuzzer harness: the sweep manifest (DIR/sweep.json) as `sweep status` and `report` read it;
 * the run directory it may name holds a small finished run. */
#include <stdint.h>

#include "sweepdir.h"

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
    return 0;
}
