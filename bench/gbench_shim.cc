// The C shim over Google Benchmark (see gbench.h). The only C++ in the project.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <string>

struct ib_bench_state {
    benchmark::State *st;
};

extern "C" {

void ib_bench_register(const char *name, ib_bench_fn fn, void *arg) {
    benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &state) {
        ib_bench_state s{&state};
        fn(&s, arg);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
}

int ib_bench_keep_running(ib_bench_state *st) { return st->st->KeepRunning() ? 1 : 0; }
void ib_bench_pause(ib_bench_state *st) { st->st->PauseTiming(); }
void ib_bench_resume(ib_bench_state *st) { st->st->ResumeTiming(); }

void ib_bench_set_flops(ib_bench_state *st, double flops) {
    st->st->counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
    st->st->counters["flop_per_iter"] = benchmark::Counter(flops);
}
void ib_bench_set_bytes(ib_bench_state *st, double bytes) {
    st->st->counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                              benchmark::Counter::kIs1024);
}
void ib_bench_set_counter(ib_bench_state *st, const char *name, double value) {
    st->st->counters[name] = benchmark::Counter(value);
}
void ib_bench_set_label(ib_bench_state *st, const char *label) { st->st->SetLabel(label); }
void ib_bench_skip(ib_bench_state *st, const char *why) { st->st->SkipWithError(why); }
void ib_bench_add_context(const char *key, const char *value) { benchmark::AddCustomContext(key, value); }

int ib_bench_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
}
