#!/bin/sh
# Run every kernel benchmark (all ops of all backends, whole steps, evaluation batches, and the
# yardsticks: the sgemm peak of OpenBLAS and oneDNN, STREAM-style copy and triad bandwidth) through
# Google Benchmark, write its JSON, and summarise it (the CPU's ISA and what each library ran,
# fraction of the sgemm peak per op, the training step's time per op, and every train_step* as a
# multiple of the floor computed from this run's oneDNN sgemm peak and triad bandwidth).
#
# usage: bench/run_all.sh [BUILD_DIR [OUT_DIR]] [-- extra Google Benchmark flags]
#   BUILD_DIR defaults to build, OUT_DIR to BUILD_DIR/bench-results; REPS (default 5) repetitions,
#   medians reported; e.g. bench/run_all.sh /tmp/b3 /tmp/bench -- --benchmark_filter=cpu/
#   INITBENCH_BENCH_THREADS sets the threads (default all cores); INITBENCH_STREAM_MIB the size of
#   each STREAM array (default 4 x the L3 glibc reports, 64 to 512 MiB).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=build
[ $# -gt 0 ] && [ "$1" != "--" ] && build=$1 && shift
out=$build/bench-results
[ $# -gt 0 ] && [ "$1" != "--" ] && out=$1
[ $# -gt 0 ] && [ "$1" != "--" ] && shift
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
exe=$build/bench/initbench_bench
if [ ! -x "$exe" ]; then
    echo "run_all.sh: $exe not found: build first (needs libbenchmark-dev)" >&2
    exit 2
fi
mkdir -p "$out"
"$exe" --benchmark_repetitions="${REPS:-5}" --benchmark_report_aggregates_only=true \
    --benchmark_min_time="${MIN_TIME:-0.2}" \
    --benchmark_out="$out/bench.json" --benchmark_out_format=json "$@"
python3 "$here/summarize.py" "$out/bench.json" > "$out/summary.md"
echo "wrote $out/bench.json and $out/summary.md"
