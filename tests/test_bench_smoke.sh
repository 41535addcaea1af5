#!/usr/bin/env bash
# The benchmarks run and bench/summarize.py turns their JSON into the floor, and bench/floor.py
# measures it by itself (not a timing test: it checks that the yardsticks, the step variants and
# the floor section exist, are numbers and add up).
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

# bench/floor.py (compare_pytorch.py's floor): runs the same yardsticks itself; its parts must add up
floor_py=$(dirname "$summarize")/floor.py
build_dir=$(dirname "$(dirname "$bench")")
INITBENCH_STREAM_MIB=64 python3 "$floor_py" --repetitions 1 --min-time 0.01 "$build_dir" > "$tmp/floor.json"
python3 - "$tmp/floor.json" <<'PY'
import json, math, sys
f = json.load(open(sys.argv[1]))
assert all(f[k] > 0 for k in ("sgemm_gflops", "triad_gbs", "gflop", "compute_ms", "optim_ms", "bench_step_ms")), f
assert math.isclose(f["compute_ms"], f["gflop"] / f["sgemm_gflops"] * 1e3, rel_tol=1e-9), f
assert math.isclose(f["floor_ms"], f["compute_ms"] + f["optim_ms"], rel_tol=1e-9), f
assert 4.0 < f["gflop"] < 4.2, f  # the original network's step at batch 50: 4.10 GFLOP exactly counted
print(f"bench smoke: floor.py {f['floor_ms']:.2f} ms = {f['compute_ms']:.2f} compute + {f['optim_ms']:.2f} optimiser")
PY
if python3 "$floor_py" "$tmp/no-such-build" > "$tmp/err.json"; then
    echo "FAIL: floor.py succeeded without a benchmark binary" >&2
    exit 1
fi
grep -q '"error": "no ' "$tmp/err.json" || { echo "FAIL: floor.py's error does not say what is missing" >&2; exit 1; }
