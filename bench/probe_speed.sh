#!/usr/bin/env bash
# Speed of `initbench probe` on its presets (targets: phase in 3 min, original in 30 s on 2 cores):
# wall time, peak RSS of the largest process, and the cost per configuration (and per configuration
# and seed, i.e. one network built, initialised, stepped and recorded), medians over ROUNDS fresh
# probes. usage: bench/probe_speed.sh [INITBENCH] [ROUNDS] [PRESETS]
set -euo pipefail
ib=${1:-$(dirname "$0")/../build/initbench}
rounds=${2:-1}
presets=${3:-"original phase"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for preset in $presets; do
  for r in $(seq "$rounds"); do
    /usr/bin/time -f "%e %M" -o "$tmp/$preset-$r.time" "$ib" probe --preset "$preset" --out "$tmp/$preset-$r" --quiet
    echo "$preset round $r: $(cat "$tmp/$preset-$r.time") (wall s, peak RSS KB)" >&2
  done
done
/usr/bin/python3 - "$tmp" "$rounds" $presets <<'PY'
import json, os, statistics, sys
tmp, rounds, presets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"{'preset':10} {'configs':>8} {'seeds':>5} {'jobs':>4} {'wall s':>8} {'peak MB':>8} {'ms/config':>10} {'ms/config/seed':>15}")
for p in presets:
    walls, rss = [], []
    for r in range(1, rounds + 1):
        w, m = open(os.path.join(tmp, f"{p}-{r}.time")).read().split()
        walls.append(float(w)); rss.append(int(m) / 1024)
    j = json.load(open(os.path.join(tmp, f"{p}-1", "probe.json")))
    n, seeds, jobs = j["configs"], len(j["grid"]["seeds"]), j["timing"]["jobs"]
    w = statistics.median(walls)
    print(f"{p:10} {n:8d} {seeds:5d} {jobs:4d} {w:8.1f} {max(rss):8.0f} {1000*w/n:10.1f} {1000*w/n/seeds:15.1f}")
print("(wall time of the whole command: data loading, every configuration, the merge; ms/config/seed x jobs is the CPU cost of one network's first step with statistics)")
PY
