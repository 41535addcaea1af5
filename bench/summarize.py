#!/usr/bin/python3
"""Summarise Google Benchmark JSON from bench/run_all.sh: per benchmark the median time, GFLOP/s
and fraction of the sgemm peak measured in the same run; and the training step at batch 50 on
the cpu backend broken down per op (medians), beside the measured whole step.

usage: bench/summarize.py BENCH.json [--batch 50] [--backend cpu]
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        j = json.load(f)
    rows = {}
    for b in j["benchmarks"]:
        if b.get("error_occurred"):
            continue
        agg = b.get("aggregate_name")
        if agg not in (None, "median"):
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        if agg is None and name in rows:
            continue  # single runs without aggregates: keep the first
        rows[name] = b
    return j.get("context", {}), rows


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    ctx, rows = load(a.json)
    peak = rows.get("sgemm_peak/n:1024", {}).get("FLOP/s")
    print(f"# Kernel benchmarks ({ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
          f"threads {ctx.get('initbench_threads', '?')}, oneDNN {ctx.get('onednn', '?')}, "
          f"OPENBLAS_CORETYPE={ctx.get('OPENBLAS_CORETYPE', '?')})\n")
    dpeak = rows.get("sgemm_peak_onednn/n:1024", {}).get("FLOP/s")
    if peak:
        print(f"sgemm peak (OpenBLAS 1024^3, own threading), median: {peak / 1e9:.1f} GFLOP/s"
              + (f"; oneDNN sgemm 1024^3: {dpeak / 1e9:.1f} GFLOP/s" if dpeak else "") + "\n")
    print("| benchmark | median ms | GFLOP/s | of sgemm peak | GB/s |")
    print("|---|---:|---:|---:|---:|")
    for name, b in rows.items():
        fl = b.get("FLOP/s")
        by = b.get("bytes_per_second")
        print(f"| {name} | {ms(b):.3f} | {fl / 1e9:.1f} | {fl / peak:.2f} |" if fl and peak else
              f"| {name} | {ms(b):.3f} | | |", end="")
        print(f" {by / 2**30:.2f} |" if by else " |")

    # the training step, op by op, in the order src/model/net.c runs them (batch 50, original network)
    B, be = a.batch, a.backend
    seq = [("conv_fwd", "conv1"), ("act_fwd", "relu1"), ("pool_fwd", "pool1"), ("conv_fwd", "conv2"),
           ("act_fwd", "relu2"), ("pool_fwd", "pool2"), ("fc_fwd", "fc1"), ("act_fwd", "relu3"),
           ("dropout_fwd", "dropout1"), ("fc_fwd", "fc2"), ("softmax_xent", "logits"),
           ("fc_bwd", "fc2"), ("dropout_bwd", "dropout1"), ("act_bwd", "relu3"), ("fc_bwd", "fc1"),
           ("pool_bwd", "pool2"), ("act_bwd", "relu2"), ("conv_bwd", "conv2"), ("pool_bwd", "pool1"),
           ("act_bwd", "relu1"), ("conv_bwd", "conv1")]
    parts = []
    for op, layer in seq:
        b = rows.get(f"{op}/{be}/{layer}/batch:{B}")
        parts.append((f"{op} {layer}", b))
    parts.append(("optim_update (Adam, 3.27M)", rows.get(f"optim_update/{be}/adam_tf")))
    if all(b for _, b in parts):
        total = sum(ms(b) for _, b in parts)
        step = rows.get(f"train_step/{be}/original/batch:{B}")
        print(f"\n## Training step, backend {be}, batch {B}: time per op (medians of separate benchmarks)\n")
        print("| op | ms | share | GFLOP/s | of sgemm peak |")
        print("|---|---:|---:|---:|---:|")
        for label, b in parts:
            fl = b.get("FLOP/s")
            extra = f" {fl / 1e9:.1f} | {fl / peak:.2f} |" if fl and peak else " | |"
            print(f"| {label} | {ms(b):.3f} | {ms(b) / total:.1%} |{extra}")
        print(f"| **sum of ops** | **{total:.2f}** | | | |")
        if step:
            fl = step.get("FLOP/s")
            print(f"| **whole step (train_step)** | **{ms(step):.2f}** | | {fl / 1e9:.1f} | "
                  f"{fl / peak:.2f} |" if fl and peak else f"| whole step | {ms(step):.2f} | | | |")
            adam = ms(rows[f"optim_update/{be}/adam_tf"])
            for label, pk in (("OpenBLAS sgemm peak", peak), ("oneDNN sgemm peak", dpeak)):
                if pk:
                    floor = 4.18e9 / pk * 1e3 + adam
                    print(f"\nFloor at the {label} (4.18 GFLOP at {pk / 1e9:.0f} GFLOP/s + the measured Adam pass "
                          f"{adam:.1f} ms): {floor:.1f} ms; the step is {ms(step) / floor:.2f}x this floor.", end="")
            print()
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
