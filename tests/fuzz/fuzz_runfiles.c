/* libFuzzer harness: a run's files as `sweep status` and `report` read them. The input is split
 * at lines "=====" into run.json, curve.csv, stats.csv and the task record tasks/0000.json; a
 * part left out is a file that does not exist. The manifest is fixed and valid. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>

#include "sweepdir.h"

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
    return 0;
}
