#!/usr/bin/env bash
# Cost of the instrumentation on a training run: statistics at the default interval (every 100
# steps) against none, and NVTX ranges with no profiler attached, measured side by side in
# alternating runs (the machine is shared and noisy: compare medians of the same session).
# usage: bench/instrumentation_overhead.sh [INITBENCH] [ROUNDS] [STEPS]
set -euo pipefail
ib=${1:-$(dirname "$0")/../build/initbench}
rounds=${2:-3}
steps=${3:-500}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common="--stddev 0.1 --steps $steps --eval-every $steps --test-size 1000 --progress none --papi-events none"
train_s() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timing"]["train_s"])' "$1/run.json"; }
# measured inside each run: time spent recording statistics over the rest of the run
inrun() { /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["statistics"]; print(s["overhead_fraction"])' "$1/run.json"; }
declare -a on off frac
for r in $(seq "$rounds"); do
  "$ib" train $common --stats-every 100 --out "$tmp/on$r" 2>/dev/null
  "$ib" train $common --stats-every 0 --out "$tmp/off$r" 2>/dev/null
  on+=("$(train_s "$tmp/on$r")"); off+=("$(train_s "$tmp/off$r")"); frac+=("$(inrun "$tmp/on$r")")
  echo "round $r: training time with statistics ${on[-1]} s, without ${off[-1]} s" >&2
done
/usr/bin/python3 - "${on[*]}" "${off[*]}" "$steps" "${frac[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
frac = [float(x) for x in sys.argv[4].split()]
steps = int(sys.argv[3])
m_on, m_off = statistics.median(on), statistics.median(off)
print(f"statistics every 100 steps, {steps} steps, {len(on)} alternating rounds:")
print(f"  measured inside the runs (time recording / rest of the run): median {100 * statistics.median(frac):.2f}%"
      f" (rounds: {', '.join(f'{100 * f:.2f}%' for f in frac)})")
print(f"  alternating runs: median training time with {m_on:.2f} s, without {m_off:.2f} s: "
      f"{100 * (m_on / m_off - 1):+.2f}% (noisy on a shared machine)")
PY
if [ -x "$(dirname "$ib")/bench/nvtx_cost" ]; then "$(dirname "$ib")/bench/nvtx_cost"; fi
