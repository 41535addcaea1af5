#!/usr/bin/env bash
# The benchmarks run and bench/summarize.py turns their JSON into the floor (not a timing test:
# it checks that the yardsticks, the step variants and the floor section exist and are numbers).
# usage: test_bench_smoke.sh INITBENCH_BENCH SUMMARIZE_PY
set -euo pipefail
bench=$1 summarize=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
INITBENCH_STREAM_MIB=64 "$bench" \
    --benchmark_filter='^(stream_triad|sgemm_peak|sgemm_peak_onednn|optim_update/cpu/|train_step/cpu/|train_step_fused/cpu/)' \
    --benchmark_min_time=0.01 --benchmark_out="$tmp/b.json" --benchmark_out_format=json > /dev/null
python3 "$summarize" "$tmp/b.json" > "$tmp/summary.md"
fail=0
for row in 'train_step/cpu/original/batch:50' 'train_step_fused/cpu/original/batch:50'; do
    # | name | median | cv | GFLOP | compute | optimiser | floor | **multiple** | ...
    if ! grep -Eq "^\| $row \| [0-9.]+ \|.*\| \*\*[0-9]+\.[0-9]+x\*\* \|" "$tmp/summary.md"; then
        echo "FAIL: no floor multiple for $row" >&2
        fail=1
    fi
done
grep -q '^CPU .*ISA: ' "$tmp/summary.md" || { echo "FAIL: no ISA line" >&2; fail=1; }
grep -Eq 'stream_triad [0-9.]+ GB/s' "$tmp/summary.md" || { echo "FAIL: no triad bandwidth" >&2; fail=1; }
[ $fail -eq 0 ] || { sed -n '/## The floor/,$p' "$tmp/summary.md" >&2; exit 1; }
echo "bench smoke: floor section complete"
