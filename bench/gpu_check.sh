#!/usr/bin/env bash
# GPU check of the cuda backend, one command (issue 5). Sized to finish in well under 8 minutes on
# one H200 (16 cores):
#   1. build with CUDA (cmake -DIB_CUDA=ON) in its own build directory;
#   2. the CPU-side Philox check, then -- if a GPU is usable -- per-op parity against ref
#      (test_backend_ops -b cuda) and the cuda backend's own checks: device Philox words, CUDA
#      graphs against eager, a differing replay refused (test_cuda);
#   3. a short training run (200 steps, 5000 training / 1000 test images) on the cpu and the cuda
#      backends from the same seed: curves and final parameters compared (max relative difference);
#      and on cuda without CUDA graphs (IB_CUDA_GRAPH=0), which must give the same bits;
#   4. timing of a training step (with and without CUDA graphs, and with --tf32) and an evaluation
#      (the full 10000-image test set) on the GPU, the original configuration otherwise, and the
#      projected wall time of the original grid on one GPU:
#      27 runs x (10000 steps x step time + 101 evaluations x evaluation time);
#   5. one table, printed and written to $OUT/gpu_check.txt when OUT is set (run dirs beside it).
# With no usable GPU it stops after step 2's CPU part, saying "no GPU: skipping", exit 0.
# GPU_CHECK_BUDGET_S (default 600): every stage's time limit is cut to what is left of it, a stage
# that cannot fit is skipped, and the table so far is written whatever happens (also on SIGTERM);
# when the cuda backend's first training run fails, the stages after it are skipped.
# Under $OUT it writes at most three files: gpu_check.txt (the table), parity.log (test_backend_ops,
# then test_cuda) and runs.tar.gz (run.json, curve.csv and stderr of every training run).
# usage: bench/gpu_check.sh [BUILD_DIR]   (default: build-gpu-check in the checkout)
#   GPU_CHECK_PREBUILT=1: use BUILD_DIR as built (initbench, tests/test_backend_ops, tests/test_cuda,
#   tests/test_philox) where
#   the GPU machine cannot build (missing -dev packages); it must be a CUDA build.
# Needs the MNIST IDX files (initbench data verify), e.g. data/mnist carried to the GPU machine.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-gpu-check}
t0=$(date +%s)
log() { echo "[gpu_check +$(($(date +%s) - t0))s] $*"; }
budget=${GPU_CHECK_BUDGET_S:-600}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'row "aborted" "by a signal after $(($(date +%s) - t0)) s"; finish 124' TERM INT
# limit SECONDS: the stage's own limit cut to the budget left (minus 5 s to write the table)
limit() {
  local left=$((budget - ($(date +%s) - t0) - 5))
  [ "$left" -lt 1 ] && left=1 # timeout 0 would mean no limit at all
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}
# fits NAME SECONDS: is there budget for a stage that needs about SECONDS? (a row says if not)
fits() {
  if [ "$(limit "$2")" -lt "$2" ]; then row "$1" "skipped: ${2} s needed, $(limit "$2") s of the budget left"; return 1; fi
}
dest=${OUT:-}
[ -n "$dest" ] && mkdir -p "$dest"
table=$work/table.txt
row() { printf '%-46s %s\n' "$1" "$2" >>"$table"; }
finish() {
  {
    echo "== initbench cuda backend: GPU check ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(($(date +%s) - t0)) s) =="
    cat "$table"
  } >"$work/final.txt"
  cat "$work/final.txt"
  if [ -n "$dest" ]; then
    cp "$work/final.txt" "$dest/gpu_check.txt"
    (cd "$work" && ls -d cpu cuda cuda_eager timing timing_eager timing_tf32 2>/dev/null |
       xargs -r -I{} find {} -maxdepth 1 \( -name run.json -o -name curve.csv \) -print |
       { cat; ls ./*.err 2>/dev/null; } | tar -czf "$dest/runs.tar.gz" -T - 2>/dev/null)
  fi
  exit "${1:-0}"
}
row "host" "$(hostname) ($(nproc) cores)"
if [ -n "${GPU_CHECK_REVISION:-}" ]; then
  row "git revision" "$GPU_CHECK_REVISION"
else
  row "git revision" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (modified)')"
fi
row "time budget" "$budget s"
if command -v nvidia-smi >/dev/null 2>&1; then
  row "GPU (nvidia-smi)" "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
fi

# ---- 1. build ----
if [ "${GPU_CHECK_PREBUILT:-0}" = 1 ] && [ -x "$build/initbench" ] && [ -x "$build/tests/test_cuda" ] &&
   [ -x "$build/tests/test_backend_ops" ]; then
  row "build" "prebuilt: $build (GPU_CHECK_PREBUILT=1)"
else
  log "configuring $build (IB_CUDA=ON)"
  if ! cmake -S "$root" -B "$build" -DIB_CUDA=ON -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1; then
    tail -20 "$work/configure.log"
    row "build" "FAILED at configure (see above)"
    finish 1
  fi
  log "building initbench, test_backend_ops, test_cuda, test_philox"
  if ! cmake --build "$build" -j"$(nproc)" --target initbench test_backend_ops test_cuda test_philox >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    row "build" "FAILED (see above)"
    finish 1
  fi
  row "build" "ok ($(grep -m1 'CUDA backend' "$work/configure.log" | sed 's/^-- //'))"
fi
ib=$build/initbench

# ---- 2. Philox on the CPU, then is there a GPU? ----
if "$build/tests/test_philox" >"$work/philox.log" 2>&1; then
  row "Philox (CPU: known answers; gcc = nvcc host)" "ok"
else
  cat "$work/philox.log"
  row "Philox (CPU: known answers; gcc = nvcc host)" "FAILED"
fi
"$build/tests/test_cuda" --probe >"$work/probe.log" 2>&1
probe=$?
if [ "$probe" -ne 0 ]; then
  reason=$(sed -n 's/^skip: //p' "$work/probe.log" | head -1)
  log "no GPU: skipping (${reason:-$(tail -1 "$work/probe.log")})"
  row "GPU" "no GPU: skipping (${reason:-probe exit $probe})"
  finish 0
fi
log "per-op parity (test_backend_ops -b cuda)"
# One line per case: "  cuda  <op> <shape>  rel err E (tol T) ..." or "(exact)"; failures as
# "CHECK failed" lines; then a table per op and "test_backend_ops: N checks, M failed".
timeout "$(limit 240)" "$build/tests/test_backend_ops" -b cuda >"$work/ops.log" 2>&1
ops=$?
log "cuda backend checks (test_cuda: device Philox, CUDA graphs)"
timeout "$(limit 120)" "$build/tests/test_cuda" >"$work/cuda_checks.log" 2>&1
cuda_checks=$?
{ cat "$work/ops.log"; echo "---- test_cuda ----"; cat "$work/cuda_checks.log"; } >"$work/parity.log"
cat "$work/parity.log"
[ -n "$dest" ] && cp "$work/parity.log" "$dest/parity.log"
parity=$([ $ops -eq 0 ] && [ $cuda_checks -eq 0 ] && echo 0 || echo 1)
# worst OPS: the largest "rel err" of the cuda lines whose op name matches OPS
worst() { grep -E "^  cuda +($1) " "$work/ops.log" | sed -n 's/.*rel err \([0-9.e+-]*\).*/\1/p' | sort -g | tail -1; }
row "per-op parity vs ref (test_backend_ops)" "$([ $ops -eq 0 ] && echo PASS || echo "FAIL (exit $ops)"): $(tail -1 "$work/ops.log")"
row "  worst forward rel err (tol 1e-5)" "$(worst '[a-z_]*forward[a-z_]*|softmax_xent')"
row "  worst backward rel err (tol 1e-4)" "$(worst '[a-z_]*backward')"
row "  worst optimiser rel err (tol 1e-5)" "$(worst 'optim_update')"
row "  5 training steps vs ref (2-norm, tol 1e-4)" "$(worst 'training')"
row "  bit-exact: dropout masks, pooling, gather" "$(grep 'CHECK failed' "$work/ops.log" | grep -cE ': cuda (dropout_|pool_|gather_batch)') failed checks"
row "cuda checks (test_cuda)" "$([ $cuda_checks -eq 0 ] && echo PASS || echo "FAIL (exit $cuda_checks)"): $(tail -1 "$work/cuda_checks.log")"
row "  device Philox, CUDA graphs vs eager" "$(grep 'CHECK failed' "$work/cuda_checks.log" | grep -ciE 'philox|graph') failed checks"

if ! "$ib" data verify --dataset mnist >/dev/null 2>&1; then
  row "training comparison and timing" "skipped: MNIST not present (carry data/mnist or set INITBENCH_DATA)"
  finish $([ $parity -eq 0 ] && echo 0 || echo 1)
fi

# ---- 3. short training on both backends ----
short="--stddev 0.1 --seed 3 --steps 200 --eval-every 50 --train-size 5000 --test-size 1000 --eval-batch 500
       --stats-every 0 --checkpoint-every 0 --progress none"
fits "training comparison and timing" 60 || finish $([ $parity -eq 0 ] && echo 0 || echo 1)
log "short training, cpu backend ($(nproc) threads)"
timeout "$(limit 240)" "$ib" train $short --backend cpu --out "$work/cpu" 2>"$work/cpu.err" || { cat "$work/cpu.err"; row "short run (cpu)" "FAILED"; }
log "short training, cuda backend"
if ! timeout "$(limit 120)" "$ib" train $short --backend cuda --out "$work/cuda" 2>"$work/cuda.err"; then
  cat "$work/cuda.err"
  row "short run (cuda)" "FAILED: $(grep -m1 'initbench' "$work/cuda.err" | cut -c1-200); later stages skipped"
  finish 1
fi
if [ -f "$work/cpu/params.safetensors" ] && [ -f "$work/cuda/params.safetensors" ]; then
  python3 - "$work/cpu" "$work/cuda" >"$work/compare.txt" <<'PY'
import csv, json, struct, sys
from array import array
def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n)); data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or v.get("dtype") != "F32": continue
        a = array("f"); a.frombytes(data[v["data_offsets"][0]:v["data_offsets"][1]]); out[k] = a
    return out
a, b = tensors(sys.argv[1] + "/params.safetensors"), tensors(sys.argv[2] + "/params.safetensors")
worst, name = 0.0, "-"
for k in sorted(a):
    x, y = a[k], b[k]
    den = max(max(abs(v) for v in x), 1e-30)
    e = max(abs(p - q) for p, q in zip(x, y)) / den
    if e > worst: worst, name = e, k
print(f"params_rel\t{worst:.3e} (worst tensor {name}; normwise, {len(a)} tensors)")
ca = list(csv.DictReader(open(sys.argv[1] + "/curve.csv"))); cb = list(csv.DictReader(open(sys.argv[2] + "/curve.csv")))
def md(col):
    return max((abs(float(p[col]) - float(q[col])) for p, q in zip(ca, cb) if p[col] and q[col]), default=float("nan"))
def mr(col):
    return max((abs(float(p[col]) - float(q[col])) / max(abs(float(p[col])), 1e-30)
                for p, q in zip(ca, cb) if p[col] and q[col]), default=float("nan"))
print(f"curve_points\t{len(ca)} vs {len(cb)} (steps {ca[0]['step']}..{ca[-1]['step']})")
print(f"test_acc_diff\t{md('test_accuracy'):.4f} max abs (final cpu {float(ca[-1]['test_accuracy']):.4f}, cuda {float(cb[-1]['test_accuracy']):.4f})")
print(f"test_loss_rel\t{mr('test_loss'):.3e} max rel")
print(f"train_loss_rel\t{mr('train_loss'):.3e} max rel")
PY
  while IFS=$'\t' read -r k v; do row "short run cpu vs cuda: $k" "$v"; done <"$work/compare.txt"
  cat "$work/compare.txt"
fi

# ---- 3b. CUDA graphs: the same cuda run without them must give the same bits ----
log "short training, cuda backend without CUDA graphs (IB_CUDA_GRAPH=0)"
IB_CUDA_GRAPH=0 timeout "$(limit 120)" "$ib" train $short --backend cuda --out "$work/cuda_eager" 2>"$work/cuda_eager.err" \
  || { cat "$work/cuda_eager.err"; row "short run (cuda, no graphs)" "FAILED"; }
if [ -f "$work/cuda/params.safetensors" ] && [ -f "$work/cuda_eager/params.safetensors" ]; then
  same_params=$(cmp -s "$work/cuda/params.safetensors" "$work/cuda_eager/params.safetensors" && echo yes || echo NO)
  # every column but elapsed_s
  same_curve=$(cmp -s <(cut -d, -f1-5 "$work/cuda/curve.csv") <(cut -d, -f1-5 "$work/cuda_eager/curve.csv") \
    && echo yes || echo NO)
  row "CUDA graphs vs eager (short run)" "params bit-identical: $same_params; curve identical: $same_curve"
fi
fallbacks=$(grep -h "without a CUDA graph" "$work/cuda.err" 2>/dev/null | sort -u)
row "CUDA graph fallbacks (short run)" "${fallbacks:-none}"

# ---- 4. timing on the GPU: the original configuration, 300 steps, 4 evaluations of 10000 images ----
fits "timing runs" 30 || finish $([ $parity -eq 0 ] && echo 0 || echo 1)
log "timing run on the GPU (original config, 300 steps)"
timeout "$(limit 240)" "$ib" train --stddev 0.1 --seed 5 --steps 300 --eval-every 100 --checkpoint-every 0 --progress none \
  --backend cuda --out "$work/timing" 2>"$work/timing.err" || { cat "$work/timing.err"; row "timing run" "FAILED"; }
if [ -f "$work/timing/run.json" ]; then
  python3 - "$work/timing/run.json" "$work/cpu/run.json" >"$work/timing.txt" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timing"]
step_ms = t["step_ms_median"]; ev = t["eval_s"] / max(t["evaluations"], 1)
grid_s = 27 * (10000 * step_ms / 1e3 + 101 * ev)
print(f"GPU training step (median, batch 50)\t{step_ms:.3f} ms (p90 {t['step_ms_p90']:.3f} ms)")
print(f"GPU evaluation (10000 test images)\t{ev * 1e3:.1f} ms ({t['evaluations']:.0f} evaluations)")
print(f"projected original grid on one GPU\t{grid_s:.0f} s = {grid_s / 3600:.2f} h  [27 x (10000 x step + 101 x eval)]")
try:
    c = json.load(open(sys.argv[2]))["timing"]
    print(f"CPU training step on this host (short run)\t{c['step_ms_median']:.2f} ms")
except Exception:
    pass
PY
  while IFS=$'\t' read -r k v; do row "$k" "$v"; done <"$work/timing.txt"
fi
log "timing run on the GPU without CUDA graphs (IB_CUDA_GRAPH=0, 300 steps)"
IB_CUDA_GRAPH=0 timeout "$(limit 240)" "$ib" train --stddev 0.1 --seed 5 --steps 300 --eval-every 100 --checkpoint-every 0 \
  --progress none --backend cuda --out "$work/timing_eager" 2>"$work/timing_eager.err" \
  || { cat "$work/timing_eager.err"; row "timing run (no graphs)" "FAILED"; }
if [ -f "$work/timing_eager/run.json" ] && [ -f "$work/timing/run.json" ]; then
  python3 - "$work/timing/run.json" "$work/timing_eager/run.json" >"$work/timing_eager.txt" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["timing"]["step_ms_median"]; e = json.load(open(sys.argv[2]))["timing"]["step_ms_median"]
print(f"GPU training step without CUDA graphs (median)\t{e:.3f} ms (with graphs {g:.3f} ms: {e / g:.2f}x)")
PY
  while IFS=$'\t' read -r k v; do row "$k" "$v"; done <"$work/timing_eager.txt"
fi
# ---- 5. the same with --tf32 (tensor-core math: faster, not fp32-exact) ----
fits "tf32 timing run" 20 || finish $([ $parity -eq 0 ] && echo 0 || echo 1)
log "timing run on the GPU with --tf32 (300 steps)"
timeout "$(limit 240)" "$ib" train --stddev 0.1 --seed 5 --steps 300 --eval-every 100 --checkpoint-every 0 --progress none \
  --backend cuda --tf32 --out "$work/timing_tf32" 2>"$work/timing_tf32.err" \
  || { cat "$work/timing_tf32.err"; row "tf32 timing run" "FAILED"; }
if [ -f "$work/timing_tf32/run.json" ]; then
  python3 - "$work/timing_tf32/run.json" "$work/timing/run.json" >"$work/timing_tf32.txt" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); f = json.load(open(sys.argv[2]))
print(f"GPU training step with --tf32 (median)\t{t['timing']['step_ms_median']:.3f} ms; final test accuracy "
      f"{t['final']['test_accuracy']:.4f} (fp32 run: {f['final']['test_accuracy']:.4f})")
PY
  while IFS=$'\t' read -r k v; do row "$k" "$v"; done <"$work/timing_tf32.txt"
fi
finish $([ $parity -eq 0 ] && echo 0 || echo 1)
