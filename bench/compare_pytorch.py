#!/usr/bin/python3
"""Side by side: initbench against PyTorch (Debian's python3-torch) at its best on this machine.

usage: bench/compare_pytorch.py [--initbench build/initbench] [--isa native|avx2] [--steps 200]
                                [--rounds 3] [--probe-warmup 10] [--probe-steps 30] [--json FILE]

Both peers train the tutorial network (conv5x5:32, pool, conv5x5:64, pool, fc 1024, dropout, fc 10)
at batch 50 with TF-form Adam (lr_t = lr*sqrt(1-b2^t)/(1-b1^t); p -= lr_t*m/(sqrt(v)+eps)),
initbench's default `--optimizer adam`.

1. The peer at its best. Each configuration runs in its own child process (bench/torch_peer.py:
   warm-up steps, then timed probe steps): torch threads 1, 2 and all cores (torch.set_num_threads and
   OMP_NUM_THREADS), with OpenBLAS inheriting that thread count or held to 1 (Debian's torch calls
   a pthread OpenBLAS next to its OpenMP pool), each with glibc's malloc as it is and with freed
   memory kept for reuse (GLIBC_TUNABLES mmap_threshold / trim_threshold: otherwise each step's
   large tensors are new mappings, thousands of page faults per step); then, on the best of those,
   channels_last convolutions and (on an AVX-512 CPU whose torch picks AVX2 by default)
   ATEN_CPU_CAPABILITY=avx512, each kept only if faster. oneDNN is on
   (torch.backends.mkldnn.enabled). Every child starts from an environment without OPENBLAS_*,
   GOTO*, OMP_*, GOMP_*, KMP_*, MKL_*, ONEDNN_*, DNNL_*, ATEN_*, INITBENCH_* and IB_* (settings
   such as OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set on some machines for old OpenBLAS builds, slow
   BLAS down); the peer gets only what its configuration sets. The Adam step is whichever TF-form
   implementation is fastest in that child: our own with torch._foreach_* ops, or
   torch.optim.Adam (foreach on / off) with eps rescaled each step to eps/sqrt(1-b2^t), which makes
   PyTorch's form compute the TF form. The evaluation batch is the fastest of --eval-batches.
2. The kernels each peer ran: torch.__config__ and the CPU capability, threadpoolctl (else
   OpenBLAS's own openblas_get_config / openblas_get_corename on the libraries torch loaded), the
   busiest ops of a few profiled steps, and oneDNN's verbose report (implementation and ISA) of a
   step and an evaluation batch, for PyTorch and for initbench alike.
3. Measured rounds, alternating which peer goes first: each run evaluates the 10k test images, trains
   --steps steps, and evaluates again. initbench's run.json has only the median and p90 of all its
   steps, so both peers report exactly that (warm-up steps count in both); initbench runs with
   --stats-every 0 --checkpoint-every 0, as the peer records neither. Peak RSS and wall time are
   each child's own (wait4).
4. The floor, before and after the rounds (bench/floor.py: initbench_bench beside the binary runs
   oneDNN's sgemm peak, the triad bandwidth and the step): both peers' steps and the target
   0.6 x PyTorch's as multiples of the lower of the two floors.

--isa native measures the machine as it is. --isa avx2 emulates an AVX2-only CPU for both peers:
ONEDNN_MAX_CPU_ISA=AVX2 and DNNL_MAX_CPU_ISA=AVX2 (oneDNN, which both use) and
OPENBLAS_CORETYPE=Haswell (OpenBLAS, which both load), plus ATEN_CPU_CAPABILITY=avx2 for PyTorch;
initbench's own code must be built for AVX2 too, in its own build directory:
    cmake -S . -B build-avx2 -G Ninja -DCMAKE_BUILD_TYPE=Release -DIB_NATIVE=OFF -DCMAKE_C_FLAGS=-march=haswell
    ninja -C build-avx2 initbench
    bench/compare_pytorch.py --isa avx2 --initbench build-avx2/initbench
(the script warns when the binary's CMakeCache.txt shows another build).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import floor  # noqa: E402  (bench/floor.py: the step's floor, measured in this run)
from torch_peer import RESULT  # noqa: E402  (the peer's child process: bench/torch_peer.py)

CLEARED_PREFIXES = ("OPENBLAS_", "GOTO", "OMP_", "GOMP_", "KMP_", "MKL_", "ONEDNN_", "DNNL_", "ATEN_",
                    "INITBENCH_", "IB_")
AVX2_BOTH = {"ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
AVX2_TORCH = {"ATEN_CPU_CAPABILITY": "avx2"}
# glibc malloc keeping freed memory (up to 1 GiB) instead of unmapping blocks over 32 MiB at once
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


# ---------------------------------------------------------------- the parent

def cpu_isa():
    info = {"model": "?", "flags": set()}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name" and info["model"] == "?":
                info["model"] = value.strip()
            elif key.strip() == "flags" and not info["flags"]:
                info["flags"] = set(value.split())
    flags = info.pop("flags")
    info.update(avx2="avx2" in flags, avx512f="avx512f" in flags,
                avx512_core=all(f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
                amx=sorted(f for f in flags if f.startswith("amx")), cores=len(os.sched_getaffinity(0)))
    return info


def run_child(cmd, env):
    """Run cmd; return its stdout, its own peak RSS (MiB) and wall seconds. Exits on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage, not the sum of all children
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd[:4])} ... failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return stdout, usage.ru_maxrss / 1024, wall


def onednn_summary(stdout):
    """oneDNN's verbose lines: its version, the ISA it dispatches to, the implementations executed."""
    summary = {"version": None, "isa": None, "executed": {}}
    for line in stdout.splitlines():
        f = line.split(",")
        if f[0] not in ("onednn_verbose", "dnnl_verbose") or len(f) < 3:
            continue
        if f[1] == "info" and f[2].startswith("oneDNN"):
            summary["version"] = f[2]
        elif f[1] == "info" and f[2] == "cpu" and len(f) > 3 and f[3].startswith("isa:"):
            summary["isa"] = f[3][4:]
        elif f[1] == "exec" and len(f) > 5:
            key = f"{f[3]} {f[4]} {f[5]}"
            summary["executed"][key] = summary["executed"].get(key, 0) + 1
    return summary


def initbench_build(binary):
    """The build's own record of how it was compiled (run.json records only type and compiler)."""
    cache = os.path.join(os.path.dirname(os.path.realpath(binary)), "CMakeCache.txt")
    found = {}
    if os.path.exists(cache):
        with open(cache) as f:
            for line in f:
                m = re.match(r"(IB_NATIVE|CMAKE_C_FLAGS|CMAKE_BUILD_TYPE):\w+=(.*)", line.strip())
                if m:
                    found[m.group(1)] = m.group(2)
    return found


def build_warning(isa, build):
    if not build:
        return "initbench's CMakeCache.txt was not found next to the binary: its ISA is unknown"
    native = build.get("IB_NATIVE", "ON").upper() in ("ON", "1", "TRUE", "YES")
    flags = build.get("CMAKE_C_FLAGS", "")
    if isa == "avx2" and (native or not re.search(r"-march=(haswell|x86-64-v3)", flags)):
        return (f"--isa avx2 but initbench was built with IB_NATIVE={build.get('IB_NATIVE', 'ON')} "
                f"CMAKE_C_FLAGS='{flags}': build it with -DIB_NATIVE=OFF -DCMAKE_C_FLAGS=-march=haswell")
    if isa == "native" and not native:
        return f"--isa native but initbench was built without IB_NATIVE (CMAKE_C_FLAGS='{flags}')"
    return None


def describe(cfg):
    parts = [f"threads {cfg['threads']}", f"OpenBLAS {cfg['blas_threads'] or cfg['threads']}"]
    if cfg["malloc"]:
        parts.append("malloc tuned")
    if cfg["channels_last"]:
        parts.append("channels_last")
    if cfg["capability"]:
        parts.append(f"ATEN_CPU_CAPABILITY={cfg['capability']}")
    return ", ".join(parts)


def torch_env(base, cfg):
    env = dict(base, OMP_NUM_THREADS=str(cfg["threads"]))
    if cfg["blas_threads"]:
        env["OPENBLAS_NUM_THREADS"] = str(cfg["blas_threads"])
    if cfg["capability"]:
        env["ATEN_CPU_CAPABILITY"] = cfg["capability"]
    if cfg["malloc"]:
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [base.get("GLIBC_TUNABLES"), MALLOC_TUNABLES]))
    return env


def torch_child(args, mode, cfg, env):
    cfg = dict(cfg, data_dir=args.data_dir)
    stdout, rss, wall = run_child([args.python, os.path.join(HERE, "torch_peer.py"), mode, json.dumps(cfg)],
                                  torch_env(env, cfg))
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT)]
    if not lines:
        sys.exit(f"compare_pytorch: the {mode} worker printed no result:\n{stdout[-2000:]}")
    result = json.loads(lines[-1][len(RESULT):])
    result.update(rss_mib=rss, wall_s=wall, stdout=stdout if mode == "inspect" else None)
    return result


def find_best(args, env, cpu):
    """The probe grid: threads x OpenBLAS threads x malloc, then channels_last and the CPU capability
    on the best."""
    probes = []

    def probe(cfg):
        r = torch_child(args, "probe", dict(cfg, warmup=args.probe_warmup, probe_steps=args.probe_steps), env)
        probes.append({"config": dict(cfg), "label": describe(cfg), "median_ms": r["median"],
                       "optimizer_ms": r["optimizer_ms"], "optimizer_disagreement": r["optimizer_disagreement"],
                       "cpu_capability": r["cpu_capability"], "torch_threads": r["threads"]})
        print(f"probe: {describe(cfg)}: {r['median']:.1f} ms (Adam: " +
              ", ".join(f"{k} {v:.2f}" for k, v in r["optimizer_ms"].items()) + " ms)", file=sys.stderr)
        return probes[-1]

    grid = []
    for threads in sorted({1, 2, cpu["cores"]} & set(range(1, cpu["cores"] + 1))):
        for blas in ([None, 1] if threads > 1 else [None]):  # with 1 thread, OpenBLAS inherits 1
            for malloc in (False, True):
                grid.append({"threads": threads, "blas_threads": blas, "malloc": malloc, "channels_last": False,
                             "capability": None})
    best = min((probe(cfg) for cfg in grid), key=lambda p: p["median_ms"])
    refinements = [{"channels_last": True}]
    if args.isa == "native" and cpu["avx512_core"] and best["cpu_capability"].upper() != "AVX512":
        refinements.append({"capability": "avx512"})
    for change in refinements:
        tried = probe(dict(best["config"], **change))
        if tried["median_ms"] < best["median_ms"]:
            best = tried
    return best, probes


def summarize_steps(step_ms):
    """initbench's rule (src/train/train.c): sorted times, median = s[n/2], p90 = s[int(0.9 (n-1))]."""
    s = sorted(step_ms)
    return s[len(s) // 2], s[int(0.9 * (len(s) - 1))]


def initbench_round(args, env, out_dir):
    """One measured initbench run: evaluate, --steps steps, evaluate (as the peer's 'run' child)."""
    _, rss, wall = run_child([args.initbench, "train", "--steps", str(args.steps), "--eval-every", str(args.steps),
                              "--out", out_dir] + initbench_flags(args), env)
    with open(os.path.join(out_dir, "run.json")) as f:
        run = json.load(f)
    t = run["timing"]
    return {"median_ms": t["step_ms_median"], "p90_ms": t["step_ms_p90"], "eval_s": t["eval_s"] / t["evaluations"],
            "rss_mib": rss, "wall_s": wall, "test_accuracy": run["final"]["test_accuracy"]}, run


def initbench_flags(args):  # like the peer: no statistics, no checkpoints
    return ["--stats-every", "0", "--checkpoint-every", "0", "--progress", "none", "--data-dir", args.data_dir]


def pytorch_round(args, cfg, env):
    res = torch_child(args, "run", cfg, env)
    median, p90 = summarize_steps(res["step_ms"])
    return {"median_ms": median, "p90_ms": p90, "eval_s": statistics.mean(res["eval_s"]), "rss_mib": res["rss_mib"],
            "wall_s": res["wall_s"], "test_accuracy": res["test_accuracy"],
            "median_ms_after_warmup": statistics.median(res["step_ms"][args.probe_warmup:] or res["step_ms"])}


def measure(args, ib_env, pt_env, peer_cfg):
    """initbench's kernels (oneDNN verbose over 2 steps), then the rounds, alternating who goes first."""
    rounds = {"initbench": [], "pytorch": []}
    with tempfile.TemporaryDirectory() as tmp:
        stdout, _, _ = run_child([args.initbench, "train", "--steps", "2", "--eval-every", "0", "--test-size", "500",
                                  "--out", os.path.join(tmp, "kernels")] + initbench_flags(args),
                                 dict(ib_env, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1"))
        ib_onednn = onednn_summary(stdout)
        for rnd in range(args.rounds):
            for peer in (("initbench", "pytorch") if rnd % 2 == 0 else ("pytorch", "initbench")):
                if peer == "initbench":
                    r, ib_run = initbench_round(args, ib_env, os.path.join(tmp, f"round{rnd}"))
                else:
                    r = pytorch_round(args, peer_cfg, pt_env)
                rounds[peer].append(r)
                print(f"round {rnd + 1}/{args.rounds}: {peer}: median step {r['median_ms']:.1f} ms, "
                      f"evaluation {r['eval_s']:.2f} s", file=sys.stderr)
    return rounds, ib_run, ib_onednn


def table_rows(rounds):
    rows = {}
    for peer, rs in rounds.items():
        rows[peer] = {"median_ms": statistics.median(r["median_ms"] for r in rs),
                      "rounds_ms": [min(r["median_ms"] for r in rs), max(r["median_ms"] for r in rs)],
                      "p90_ms": statistics.median(r["p90_ms"] for r in rs),
                      "eval_s": statistics.median(r["eval_s"] for r in rs),
                      "peak_rss_mib": max(r["rss_mib"] for r in rs),
                      "wall_s": statistics.median(r["wall_s"] for r in rs)}
    for row in rows.values():
        row["step_ratio"] = rows["initbench"]["median_ms"] / row["median_ms"]
        row["eval_ratio"] = rows["initbench"]["eval_s"] / row["eval_s"]
    return rows


def report(args, f):
    """The header lines (ISA, environments, each peer's configuration and kernels, the probes) and the table."""
    cpu, k, best, inspect = f["cpu"], f["pytorch"]["inspect"]["kernels"], f["best"], f["pytorch"]["inspect"]
    ib, pt = f["initbench"], f["pytorch"]

    def executed(onednn):
        return f"oneDNN {onednn['version']}: " + "; ".join(f"{key} x{n}" for key, n in onednn["executed"].items())

    def env_text(env):
        return " ".join(f"{key}={v}" for key, v in env.items()) or "nothing"

    lines = [
        f"CPU: {cpu['model']}, {cpu['cores']} cores; avx2 {'yes' if cpu['avx2'] else 'no'}, "
        f"avx512f {'yes' if cpu['avx512f'] else 'no'}, amx {' '.join(cpu['amx']) or 'no'}",
        f"ISA: --isa {args.isa}; limit: " + (" ".join(f"{v}={pt['env_added'][v]}" for v in ("ONEDNN_MAX_CPU_ISA",
                                                 "DNNL_MAX_CPU_ISA") if v in pt['env_added']) or "none") +
        f"; oneDNN dispatches to: initbench {ib['onednn']['isa']}, PyTorch {pt['onednn']['isa']}; "
        f"PyTorch's own kernels: {k['cpu_capability']}",
        f"environment: cleared for both peers: {', '.join(f['cleared_env']) or 'nothing to clear'}; then initbench "
        f"sets {env_text(ib['env_added'])}; PyTorch sets {env_text(pt['env_added'])}",
        f"initbench: {args.initbench} ({ib['build'].get('CMAKE_BUILD_TYPE', '?')}, "
        f"IB_NATIVE={ib['build'].get('IB_NATIVE', '?')}, CMAKE_C_FLAGS='{ib['build'].get('CMAKE_C_FLAGS', '?')}'; "
        f"{ib['libraries'].get('openblas', '')})",
        f"  {executed(ib['onednn'])}",
        f"PyTorch {k['torch']} ({args.python}): best of {len(f['probes'])} probes: {f['table']['pytorch']['config']}",
        f"  Adam TF form: {pt['optimizer']} (probe ms per update: " +
        ", ".join(f"{n} {v:.2f}" for n, v in best["optimizer_ms"].items()) +
        f"; the forms' updates agree to {best['optimizer_disagreement']:.1e} of the largest)",
        "  evaluation batch: " + ", ".join(f"{b}: {s:.2f} s" for b, s in inspect["eval_probe_s"].items()) +
        f" per {args.eval_probe_images} images",
        "  config: " + "; ".join(k["config"]),
        f"  CPU capability {k['cpu_capability']}, mkldnn enabled {k['mkldnn_enabled']}; " + "; ".join(k["parallel"]),
    ]
    for d in k.get("threadpoolctl", []):
        lines.append("  threadpoolctl: " + " ".join(str(d[key]) for key in ("internal_api", "version", "architecture",
                                                                           "threading_layer") if d.get(key)) +
                     f", threads {d['num_threads']} ({d['filepath']})")
    for d in k.get("openblas", []):
        lines.append(f"  OpenBLAS: {d['config']}" + (f", core {d['corename']}, {d['parallel']}, threads "
                                                    f"{d['num_threads']}" if "corename" in d else "") +
                     f" ({d['filepath']})")
    lines.append(f"  {executed(pt['onednn'])}")
    lines.append("  busiest ops per step (profiled): " + ", ".join(f"{o['op']} {o['self_ms_per_step']:.1f} ms"
                                                                   for o in inspect["top_ops"][:8]))
    lines.append(f"probe medians ({args.probe_warmup} warm-up + {args.probe_steps} timed steps each):")
    label_width = max(len(p["label"]) for p in f["probes"])
    lines += [f"  {p['label']:{label_width}s} {p['median_ms']:7.1f} ms" + ("  <- best" if p is best else "")
              for p in f["probes"]]
    lines.append(f"steps per run {args.steps}, rounds {args.rounds}, alternating. Both: evaluate, train, evaluate; "
                 f"step median and p90 over all {args.steps} steps (initbench records no per-step times, so the "
                 "warm-up steps count in both); eval 10k = mean of the run's two evaluations; wall = whole process")
    rows = f["table"]
    width = max(len(row["config"]) for row in rows.values())
    lines.append(f"{'peer':10s} {'config':{width}s} {'step median':>11s} {'rounds':>12s} {'p90':>7s} {'eval 10k':>9s} "
                 f"{'peak RSS':>9s} {'wall':>7s} {'step ratio':>10s} {'eval ratio':>10s}")
    for peer, row in rows.items():
        lines.append(f"{peer:10s} {row['config']:{width}s} {row['median_ms']:9.1f}ms "
                     f"{row['rounds_ms'][0]:5.1f}-{row['rounds_ms'][1]:<6.1f} {row['p90_ms']:7.1f} "
                     f"{row['eval_s']:8.2f}s {row['peak_rss_mib']:6.0f}MiB {row['wall_s']:6.1f}s "
                     f"{row['step_ratio']:10.2f} {row['eval_ratio']:10.2f}")
    lines.append("(ratios: initbench / peer; below 1 means initbench is faster)")
    lines += floor_lines(f["floors"], rows)
    lines += [f"warning: {w}" for w in f["warnings"]]
    return "\n".join(lines)


def floor_lines(floors, rows):
    """Both peers' steps, and the target 0.6 x PyTorch's, as multiples of the floor measured before
    and after the rounds (the lower of the two, from the faster yardsticks: the harder floor)."""
    good = [fl for fl in floors if "error" not in fl]
    if not good:
        return [f"floor: not measured ({floors[0]['error']})"]
    fl = min(good, key=lambda x: x["floor_ms"])
    text = "; ".join(f"{when} {x['floor_ms']:.1f} ms (oneDNN sgemm {x['sgemm_gflops']:.0f} GFLOP/s, triad "
                     f"{x['triad_gbs']:.1f} GB/s, initbench_bench's step {x['bench_step_ms']:.1f} ms)"
                     if "error" not in x else f"{when}: {x['error']}" for when, x in zip(("before", "after"), floors))
    target = 0.6 * rows["pytorch"]["median_ms"]
    return [f"floor (bench/floor.py: {fl['gflop']:.2f} GFLOP at the oneDNN sgemm peak + Adam's bytes at the "
            f"triad bandwidth), measured {text}",
            f"against the lower floor, {fl['floor_ms']:.1f} ms: initbench {rows['initbench']['median_ms'] / fl['floor_ms']:.2f}x, "
            f"PyTorch {rows['pytorch']['median_ms'] / fl['floor_ms']:.2f}x; the target 0.6 x PyTorch = {target:.1f} ms "
            f"= {target / fl['floor_ms']:.2f}x the floor" +
            (" (below it: out of reach of kernels at the sgemm peak)" if target < fl["floor_ms"] else "")]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--initbench", default=os.path.join(ROOT, "build", "initbench"))
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python whose torch is the peer")
    ap.add_argument("--data-dir", default=os.environ.get("INITBENCH_DATA", os.path.join(ROOT, "data")))
    ap.add_argument("--isa", choices=("native", "avx2"), default="native")
    ap.add_argument("--steps", type=int, default=200, help="training steps per measured run")
    ap.add_argument("--rounds", type=int, default=3, help="measured runs of each peer, alternating")
    ap.add_argument("--probe-warmup", type=int, default=10, help="untimed steps per probe")
    ap.add_argument("--probe-steps", type=int, default=30, help="timed steps per probe")
    ap.add_argument("--eval-batches", default="500,1000,2000", help="the peer's evaluation batches to try")
    ap.add_argument("--eval-probe-images", type=int, default=4000, help="test images per evaluation probe")
    ap.add_argument("--json", metavar="FILE", help="also write everything as JSON")
    args = ap.parse_args()
    try:
        args.eval_batches = [int(b) for b in args.eval_batches.split(",")]
    except ValueError:
        ap.error(f"--eval-batches: a comma-separated list of integers, not '{args.eval_batches}'")
    for name in ("steps", "rounds", "probe_steps", "eval_probe_images"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.probe_warmup < 0 or min(args.eval_batches) < 1:
        ap.error("--probe-warmup must be >= 0 and evaluation batches >= 1")
    if not (os.path.isfile(args.initbench) and os.access(args.initbench, os.X_OK)):
        ap.error(f"--initbench: no executable at {args.initbench}")
    if not os.path.isfile(os.path.join(args.data_dir, "mnist", "t10k-images-idx3-ubyte")):
        ap.error(f"--data-dir: no MNIST under {args.data_dir}/mnist (initbench data fetch)")
    if not os.access(args.python, os.X_OK):
        ap.error(f"--python: no executable at {args.python}")
    return args


def main():
    args = parse_args()
    cpu = cpu_isa()
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    ib_env = dict(base, **(AVX2_BOTH if args.isa == "avx2" else {}))
    pt_env = dict(ib_env, **(AVX2_TORCH if args.isa == "avx2" else {}))
    build = initbench_build(args.initbench)
    warnings = [w for w in [build_warning(args.isa, build)] if w]
    for w in warnings:
        print(f"compare_pytorch: warning: {w}", file=sys.stderr)

    best, probes = find_best(args, pt_env, cpu)
    optimizer = min(best["optimizer_ms"], key=best["optimizer_ms"].get)
    inspect = torch_child(args, "inspect", dict(best["config"], eval_batches=args.eval_batches,
                                                eval_probe_images=args.eval_probe_images), pt_env)
    eval_batch = int(min(inspect["eval_probe_s"], key=inspect["eval_probe_s"].get))
    peer_cfg = dict(best["config"], optimizer=optimizer, eval_batch=eval_batch, steps=args.steps)
    floors = [floor.measure(os.path.dirname(os.path.abspath(args.initbench)), ib_env)]
    rounds, ib_run, ib_onednn = measure(args, ib_env, pt_env, peer_cfg)
    floors.append(floor.measure(os.path.dirname(os.path.abspath(args.initbench)), ib_env))

    rows = table_rows(rounds)
    rows["initbench"]["config"] = (f"threads {ib_run['backend']['threads']}, {ib_run['config']['optimizer']['name']} "
                                   f"(TF form), eval batch {ib_run['config']['eval_batch']}")
    rows["pytorch"]["config"] = f"{describe(peer_cfg)}, {optimizer}, eval batch {eval_batch}"

    def added(env):  # what a peer's environment sets beyond the cleared base
        return {k: v for k, v in env.items() if base.get(k) != v}

    found = {"cpu": cpu, "isa": args.isa, "warnings": warnings,
             "cleared_env": sorted(k for k in os.environ if k.startswith(CLEARED_PREFIXES)),
             "statistic": "median and p90 over all steps of each run (warm-up steps included) for both peers",
             "initbench": {"binary": args.initbench, "build": build, "env_added": added(ib_env),
                           "libraries": ib_run["libraries"], "onednn": ib_onednn},
             "pytorch": {"python": args.python, "config": peer_cfg, "env_added": added(torch_env(pt_env, peer_cfg)),
                         "optimizer": optimizer, "eval_batch": eval_batch,
                         "onednn": onednn_summary(inspect.pop("stdout")),
                         "inspect": inspect},
             "best": best, "probes": probes, "rounds": rounds, "table": rows, "floors": floors}
    print(report(args, found))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(found, args=vars(args)), f, indent=1)


if __name__ == "__main__":
    main()
