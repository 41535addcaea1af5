/* libFuzzer harness: a Slurm task list (slurm/sub-NNN.tasks) as the array job's task runner reads
 * it (`sweep run-task DIR --task-list FILE --array-index N`). The first byte picks the array index
 * (0..15, or 255: the whole list), the next two the sweep's task count (1..65536); the rest is the
 * list. Whatever is accepted holds only existing, distinct tasks; whatever is refused is refused
 * naming the file and a line, without a control character in the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "submissions.h"

static const char name[] = "slurm/sub-001.tasks";

static int message_ok(const char *m) {
    if (!strstr(m, name)) return 0;
    for (const unsigned char *p = (const unsigned char *)m; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3 || size > 1 << 16) return 0;
    int line_index = data[0] == 255 ? -1 : data[0] % 16;
    int n_tasks = 1 + (data[1] | data[2] << 8);
    const char *text = (const char *)data + 3;
    size_t n = size - 3;
    int *tasks = NULL, k = 0;
    ib_err err = {0};
    int rc = ib_tasklist_parse(text, n, name, n_tasks, line_index, &tasks, &k, &err);
    if (rc) {
        if (rc != IB_EXIT_USAGE || tasks || k || !message_ok(err.msg)) abort();
        return 0;
    }
    if (line_index < 0) {
        if (tasks || k) abort();
        return 0;
    }
    if (!tasks || k < 1 || k > IB_TASKLIST_MAX_PER_LINE) abort();
    for (int i = 0; i < k; i++) {
        if (tasks[i] < 0 || tasks[i] >= n_tasks) abort();
        for (int j = 0; j < i; j++)
            if (tasks[j] == tasks[i]) abort();
    }
    /* the whole list is valid too: the line was not read on its own */
    int *none = NULL, k0 = 0;
    if (ib_tasklist_parse(text, n, name, n_tasks, -1, &none, &k0, &err) || none) abort();
    free(tasks);
    return 0;
}
