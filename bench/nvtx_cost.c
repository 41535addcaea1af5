/* Cost of an NVTX push/pop pair with no profiler attached, and what it adds to a training step
 * (about 25 ranges per step: step, forward, backward, update and one per layer in each pass). */
#include <stdio.h>

#include "trace.h"
#include "util.h"

int main(void) {
    const int pairs = 10 * 1000 * 1000;
    ib_trace_push("warm-up");
    ib_trace_pop();
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = ib_now();
        for (int i = 0; i < pairs; i++) {
            ib_trace_push("fwd/conv1");
            ib_trace_pop();
        }
        double ns = (ib_now() - t0) / pairs * 1e9;
        if (ns < best) best = ns;
    }
    printf("NVTX %s: %.2f ns per push/pop pair (best of 5 x %d); about 25 pairs per training step: %.2f us "
           "per step, %.5f%% of a 30 ms step\n",
           IB_TRACE_ENABLED ? "compiled in" : "compiled out", best, pairs, 25 * best / 1e3, 25 * best / 30e6 * 100);
    return 0;
}
