#!/usr/bin/python3
"""The machine's floor for one training step, measured now: initbench_bench runs the yardsticks
(oneDNN's sgemm 1024^3 peak, the STREAM triad bandwidth) and the step itself, and the floor is
bench/summarize.py's: the step's exact FLOPs at the sgemm peak plus Adam's bytes at the triad
bandwidth. bench/compare_pytorch.py calls it before and after its rounds, so that both peers'
steps are read against a floor of the same run.

usage: bench/floor.py [--repetitions N] [--min-time S] [BUILD_DIR]
       (BUILD_DIR defaults to build; prints the floor's parts as JSON; exit 2 when it cannot)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summarize  # noqa: E402  (the floor's arithmetic lives there, beside run_all.sh's summary)

STEP = "train_step/cpu/original/batch:50"
PEAK = "sgemm_peak_onednn/n:1024"
FILTER = f"^({PEAK}|stream_triad|optim_update/cpu/adam_tf|{STEP})(/|$)"


def bench_binary(build_dir):
    return os.path.join(build_dir, "bench", "initbench_bench")


def measure(build_dir, env=None, repetitions=3, min_time=0.2):
    """Run the yardsticks and the step; return the floor's parts (ms, GFLOP/s, GB/s) or {'error': why}."""
    exe = bench_binary(build_dir)
    if not os.access(exe, os.X_OK):
        return {"error": f"no {exe}: the floor needs the benchmarks (libbenchmark-dev, then ninja)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "floor.json")
        proc = subprocess.run([exe, f"--benchmark_filter={FILTER}", f"--benchmark_repetitions={repetitions}",
                               "--benchmark_report_aggregates_only=true", f"--benchmark_min_time={min_time}",
                               f"--benchmark_out={out}", "--benchmark_out_format=json"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            return {"error": f"{exe} failed (exit {proc.returncode}): {proc.stderr[-500:]}"}
        _, rows, _ = summarize.load(out)
    optim, missing = summarize.optimiser_floor(rows, "cpu")
    peak = rows.get(PEAK, {}).get("FLOP/s")
    step = rows.get(STEP)
    flop = step.get("flop_exact_per_iter") if step else None
    missing += [n for n, v in ((PEAK, peak), (f"{STEP}'s flop_exact_per_iter", flop)) if not v]
    if missing:
        return {"error": "the run lacks " + ", ".join(missing)}
    compute_ms = flop / peak * 1e3
    return {"sgemm_gflops": peak / 1e9, "triad_gbs": optim["bandwidth"] / 1e9, "gflop": flop / 1e9,
            "compute_ms": compute_ms, "optim_ms": optim["ms"], "floor_ms": compute_ms + optim["ms"],
            "bench_step_ms": summarize.ms(step)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir", nargs="?", default="build")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.2)
    a = ap.parse_args()
    if a.repetitions < 1 or a.min_time <= 0:
        ap.error("--repetitions must be at least 1 and --min-time above 0")
    found = measure(a.build_dir, repetitions=a.repetitions, min_time=a.min_time)
    print(json.dumps(found, indent=1))
    sys.exit(2 if "error" in found else 0)
