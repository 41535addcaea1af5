/* A small C interface to Google Benchmark (C++), so that benchmarks are written in C.
 *
 *   static void bm(ib_bench_state *st, void *arg) {
 *       ... set up (not timed) ...
 *       while (ib_bench_keep_running(st)) { ... the work ... }
 *       ib_bench_set_flops(st, flops_per_iteration);   // adds a FLOP/s counter
 *   }
 *   ib_bench_register("conv_fwd/cpu/conv2/batch:50", bm, arg);
 *   return ib_bench_main(argc, argv);   // all of Google Benchmark's flags work
 *
 * Times are wall-clock ("real time"): the kernels are threaded and Google Benchmark's CPU time
 * counts only the calling thread. */
#ifndef IB_GBENCH_H
#define IB_GBENCH_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ib_bench_state ib_bench_state;
typedef void (*ib_bench_fn)(ib_bench_state *st, void *arg);

/* Register a benchmark; arg is passed through (it must outlive ib_bench_main). */
void ib_bench_register(const char *name, ib_bench_fn fn, void *arg);
/* The timing loop: true while more iterations are wanted. */
int ib_bench_keep_running(ib_bench_state *st);
/* Stop/restart the clock inside the loop (costly: use for per-iteration setup only). */
void ib_bench_pause(ib_bench_state *st);
void ib_bench_resume(ib_bench_state *st);
/* Work per iteration: reported as rates (FLOP/s, bytes_per_second) over real time. */
void ib_bench_set_flops(ib_bench_state *st, double flops_per_iteration);
void ib_bench_set_bytes(ib_bench_state *st, double bytes_per_iteration);
/* A plain counter (reported as is) and a label. */
void ib_bench_set_counter(ib_bench_state *st, const char *name, double value);
void ib_bench_set_label(ib_bench_state *st, const char *label);
void ib_bench_skip(ib_bench_state *st, const char *why);
/* Key/value recorded in the JSON context (e.g. library versions, environment). */
void ib_bench_add_context(const char *key, const char *value);
/* Parse Google Benchmark's flags, run, and return an exit status. */
int ib_bench_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
