#!/usr/bin/python3
"""Summarise Google Benchmark JSON from bench/run_all.sh: the CPU's ISA and what each library ran;
per benchmark the median time, its spread, GFLOP/s and fraction of the sgemm peak measured in the
same run; the training step at batch 50 on the cpu backend broken down per op (medians), beside
the measured whole step; and the machine's floor for a step from this run's own yardsticks (the
oneDNN sgemm peak for the step's FLOPs, STREAM triad bandwidth for the optimiser's bytes), with
every train_step* benchmark as a multiple of it.

usage: bench/summarize.py BENCH.json [--batch 50] [--backend cpu]
"""
import argparse
import json
import sys

# Adam (TF form) per parameter and step: reads param, grad, m, v and writes param, m, v (float32)
OPTIM_BYTES_PER_PARAM = 7 * 4


def load(path):
    """Median rows by name (or the first run where there are no aggregates), and every
    aggregate by name (mean, median, stddev, cv)."""
    try:
        with open(path) as f:
            j = json.load(f)
        benchmarks = j["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"summarize.py: {path}: not Google Benchmark JSON output ({type(e).__name__}: {e})", file=sys.stderr)
        sys.exit(2)  # bad input, as the project's commands exit
    rows, aggs = {}, {}
    for b in benchmarks:
        if b.get("error_occurred"):
            continue
        agg = b.get("aggregate_name")
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        if agg is not None:
            aggs.setdefault(name, {})[agg] = b
        if agg not in (None, "median"):
            continue
        if agg is None and name in rows:
            continue  # single runs without aggregates: keep the first
        rows[name] = b
    return j.get("context", {}), rows, aggs


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def cv(aggs, name):
    """Coefficient of variation of the real time over the repetitions, as text ('' if unknown)."""
    b = aggs.get(name, {}).get("cv")
    return f"{b['real_time']:.0%}" if b else ""


def gflops(flop_per_s):
    return f"{flop_per_s / 1e9:.1f} GFLOP/s" if flop_per_s else "not measured"


def isa_line(ctx):
    return (f"CPU {ctx.get('cpu_model', '?')}, ISA: {ctx.get('cpu_isa', '?')}; "
            f"oneDNN runs {ctx.get('onednn_isa', '?')} (ONEDNN_MAX_CPU_ISA={ctx.get('ONEDNN_MAX_CPU_ISA', '?')}); "
            f"OpenBLAS runs {ctx.get('openblas_core', '?')} (OPENBLAS_CORETYPE={ctx.get('OPENBLAS_CORETYPE', '?')}, "
            f"OPENBLAS_L2_SIZE={ctx.get('OPENBLAS_L2_SIZE', '?')}); "
            f"initbench built {ctx.get('initbench_build', '?')}")


def optimiser_floor(rows, be):
    """The optimiser's share of a step's floor: Adam's bytes per step at this run's STREAM triad
    bandwidth. Returns ({bandwidth (B/s), params, bytes, ms}, []) or (None, what the run lacks)."""
    optim_name = f"optim_update/{be}/adam_tf"
    optim, triad = rows.get(optim_name), rows.get("stream_triad")
    missing = [n for n, b in ((optim_name, optim), ("stream_triad", triad)) if not b]
    if optim and "params" not in optim:
        missing.append(f"the params counter of {optim_name} (JSON from an older initbench_bench)")
    if missing:
        return None, missing
    bw, params = triad["bytes_per_second"], optim["params"]
    nbytes = params * OPTIM_BYTES_PER_PARAM
    return {"bandwidth": bw, "params": params, "bytes": nbytes, "ms": nbytes / bw * 1e3}, []


def print_floor(rows, aggs, be, peak, dpeak):
    """The floor of a step from this run's figures: its FLOPs at the sgemm peak plus the
    optimiser's bytes at the STREAM triad bandwidth; every train_step* row as a multiple of it."""
    steps = sorted(n for n in rows if n.split("/")[0].startswith("train_step"))
    if not steps:
        return
    print("\n## The floor, from this run's figures\n")
    optim_name = f"optim_update/{be}/adam_tf"
    found, missing = optimiser_floor(rows, be)
    if not dpeak and not peak:
        missing.append("sgemm_peak_onednn/n:1024 and sgemm_peak/n:1024")
    if missing:
        print("No floor: this run lacks " + ", ".join(missing) + ".")
        return
    optim, triad = rows[optim_name], rows["stream_triad"]
    bw, params, optim_bytes, optim_floor = found["bandwidth"], found["params"], found["bytes"], found["ms"]
    print(f"- Yardsticks measured in this run: oneDNN sgemm 1024^3 {gflops(dpeak)} (the primary), "
          f"OpenBLAS sgemm 1024^3 {gflops(peak)}; stream_triad {bw / 1e9:.2f} GB/s "
          f"(10^9 B/s, STREAM's counting: 3 x 4 B per element, write-allocate not counted, "
          f"arrays of {triad.get('array_MiB', 0):.0f} MiB), cv {cv(aggs, 'stream_triad') or '?'}.")
    print(f"- Optimiser: Adam (TF form), {params:,.0f} parameters x 7 floats x 4 B "
          f"(read param, grad, m, v; write param, m, v) = {optim_bytes / 1e6:.1f} MB per step: "
          f"{optim_floor:.2f} ms at the triad bandwidth; measured {optim_name} {ms(optim):.2f} ms "
          f"= {ms(optim) / optim_floor:.2f}x that.")
    print("- Compute: each step's own flop_exact_per_iter counter (per weight layer: forward, weight "
          "gradient and input gradient of equal count, no input gradient for the first; biases, "
          "activations, pooling and the loss not counted); flop_per_iter, the convention "
          "backward = 2 x forward, beside it.\n")
    print("| step benchmark | median ms | cv | GFLOP exact (convention) | compute floor ms (oneDNN) | "
          "+ optimiser floor ms | = floor ms | step / floor (oneDNN) | floor ms (OpenBLAS) | "
          "step / floor (OpenBLAS) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    below = []
    for name in steps:
        b = rows[name]
        flop = b.get("flop_exact_per_iter")
        conv = b.get("flop_per_iter")
        note = ""
        if flop is None:  # an older JSON, or a variant without the exact count: the convention's
            flop, note = conv, " (convention: no exact count)"
        if not flop:
            print(f"| {name} | {ms(b):.2f} | {cv(aggs, name)} | no FLOP counter | | | | | | |")
            continue
        gflop = f"{flop / 1e9:.2f}" + (f" ({conv / 1e9:.2f})" if conv and not note else note)
        if dpeak:
            compute = flop / dpeak * 1e3
            floor = compute + optim_floor
            primary = f"{compute:.2f} | {optim_floor:.2f} | {floor:.2f} | **{ms(b) / floor:.2f}x**"
            if ms(b) < floor:
                below.append(name)
        else:
            primary = f"n/a | {optim_floor:.2f} | n/a | n/a"
        if peak:
            floor_ob = flop / peak * 1e3 + optim_floor
            secondary = f"{floor_ob:.2f} | {ms(b) / floor_ob:.2f}x"
        else:
            secondary = "n/a | n/a"
        print(f"| {name} | {ms(b):.2f} | {cv(aggs, name)} | {gflop} | {primary} | {secondary} |")
    if below:
        print(f"\nBelow the oneDNN floor: {', '.join(below)}. Either this run's yardsticks were measured low "
              "(a busy machine, or too few iterations: raise MIN_TIME), or the step's kernels beat sgemm 1024^3.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    ctx, rows, aggs = load(a.json)
    peak = rows.get("sgemm_peak/n:1024", {}).get("FLOP/s")
    print(f"# Kernel benchmarks ({ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
          f"threads {ctx.get('initbench_threads', '?')}, oneDNN {ctx.get('onednn', '?')}, "
          f"OPENBLAS_CORETYPE={ctx.get('OPENBLAS_CORETYPE', '?')})\n")
    print(isa_line(ctx) + "\n")
    load_avg = ctx.get("load_avg")
    if load_avg:
        print(f"Load average at the start: {', '.join(f'{x:.2f}' for x in load_avg)}\n")
    dpeak = rows.get("sgemm_peak_onednn/n:1024", {}).get("FLOP/s")
    if peak:
        print(f"sgemm peak (OpenBLAS 1024^3, own threading), median: {peak / 1e9:.1f} GFLOP/s"
              + (f"; oneDNN sgemm 1024^3: {dpeak / 1e9:.1f} GFLOP/s" if dpeak else "") + "\n")
    print("| benchmark | median ms | cv | GFLOP/s | of sgemm peak | GiB/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, b in rows.items():
        fl = b.get("FLOP/s")
        by = b.get("bytes_per_second")
        print(f"| {name} | {ms(b):.3f} | {cv(aggs, name)} |", end="")
        print(f" {fl / 1e9:.1f} | {fl / peak:.2f} |" if fl and peak else " | |", end="")
        print(f" {by / 2**30:.2f} |" if by else " |")

    B, be = a.batch, a.backend
    # the training step op by op, in the order src/model/net.c runs them (batch 50, original network):
    # first every op separately, then with the fused ops (conv + act + pool in the forward, as the
    # trainer runs it; Adam fused into each fully connected backward, --update fused; the
    # convolutions' Adam, 0.05M parameters, is left out)
    unfused = [("conv_fwd", "conv1"), ("act_fwd", "relu1"), ("pool_fwd", "pool1"), ("conv_fwd", "conv2"),
               ("act_fwd", "relu2"), ("pool_fwd", "pool2"), ("fc_fwd", "fc1"), ("act_fwd", "relu3"),
               ("dropout_fwd", "dropout1"), ("fc_fwd", "fc2"), ("softmax_xent", "logits"),
               ("fc_bwd", "fc2"), ("dropout_bwd", "dropout1"), ("act_bwd", "relu3"), ("fc_bwd", "fc1"),
               ("pool_bwd", "pool2"), ("act_bwd", "relu2"), ("conv_bwd", "conv2"), ("pool_bwd", "pool1"),
               ("act_bwd", "relu1"), ("conv_bwd", "conv1"), ("optim_update", None)]
    fused = [("conv_act_pool_fwd_train", "conv1"), ("conv_act_pool_fwd_train", "conv2"), ("fc_fwd", "fc1"),
             ("act_fwd", "relu3"), ("dropout_fwd", "dropout1"), ("fc_fwd", "fc2"), ("softmax_xent", "logits"),
             ("fc_bwd_update", "fc2"), ("dropout_bwd", "dropout1"), ("act_bwd", "relu3"), ("fc_bwd_update", "fc1"),
             ("act_pool_bwd", "pool2"), ("conv_bwd", "conv2"), ("act_pool_bwd", "pool1"), ("conv_bwd", "conv1")]
    for title, seq, step_name in (("every op separately, Adam as its own pass", unfused, "train_step"),
                                  ("conv + act + pool fused, act + pool backward fused (as in training), Adam inside each fc backward "
                                   "(--update fused)", fused, "train_step_fused")):
        parts = []
        for op, layer in seq:
            key = f"optim_update/{be}/adam_tf" if op == "optim_update" else f"{op}/{be}/{layer}/batch:{B}"
            parts.append(("optim_update (Adam, 3.27M)" if op == "optim_update" else f"{op} {layer}", rows.get(key)))
        if not all(b for _, b in parts):
            continue
        total = sum(ms(b) for _, b in parts)
        print(f"\n## Training step, backend {be}, batch {B}, {title} (medians of separate benchmarks)\n")
        print("| op | ms | share | GFLOP/s | of oneDNN sgemm peak |")
        print("|---|---:|---:|---:|---:|")
        for label, b in parts:
            fl = b.get("FLOP/s")
            extra = f" {fl / 1e9:.1f} | {fl / dpeak:.2f} |" if fl and dpeak else " | |"
            print(f"| {label} | {ms(b):.3f} | {ms(b) / total:.1%} |{extra}")
        print(f"| **sum of ops** | **{total:.2f}** | | | |")
        step = rows.get(f"{step_name}/{be}/original/batch:{B}")
        if step:
            print(f"| **whole step ({step_name})** | **{ms(step):.2f}** | | | |")
    print_floor(rows, aggs, be, peak, dpeak)
    for be2 in ("cpu", "cpu-gemm"):
        for kind in ("eval_forward", "eval_forward_fused"):
            for nb in (500, 2000):
                b = rows.get(f"{kind}/{be2}/original/batch:{nb}")
                if b:
                    print(f"\n{kind} {be2} batch {nb}: {ms(b):.1f} ms per batch = "
                          f"{ms(b) * 10000 / nb / 1e3:.2f} s per 10k test images", end="")
    print()


if __name__ == "__main__":
    sys.exit(main())
