#!/usr/bin/python3
"""Side-by-side: initbench against PyTorch (Debian's python3-torch) on the same machine.

Trains the original network (batch 50, forward + backward + Adam) in both, alternating runs so
that machine noise hits both alike, and prints per-step median and spread, the time of one
evaluation of the 10k test set, peak RSS, and the ratios. PyTorch runs in its default thread
setup and in its best one on 2 cores (OpenMP 2 threads, OpenBLAS 1).

usage: bench/compare_pytorch.py [--initbench build/initbench] [--steps 200] [--rounds 3]
                                [--native-openblas]   (unset OPENBLAS_CORETYPE/L2_SIZE for all)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def torch_worker(args):
    """Runs inside a child process with the thread environment under test."""
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def idx(path):
        with open(path, "rb") as f:
            data = f.read()
        magic = int.from_bytes(data[:4], "big")
        dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(magic & 0xff)]
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)

    d = os.path.join(args.data_dir, "mnist")
    xtr = torch.from_numpy(idx(os.path.join(d, "train-images-idx3-ubyte"))[5000:].astype(np.float32) / 255)
    ytr = torch.from_numpy(idx(os.path.join(d, "train-labels-idx1-ubyte"))[5000:].astype(np.int64))
    xte = torch.from_numpy(idx(os.path.join(d, "t10k-images-idx3-ubyte")).astype(np.float32) / 255)
    yte = torch.from_numpy(idx(os.path.join(d, "t10k-labels-idx1-ubyte")).astype(np.int64))

    class Net(nn.Module):  # the tutorial network, idiomatic PyTorch (SAME = padding 2 for 5x5)
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 64, 1024)
            self.fc2 = nn.Linear(1024, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.dropout(F.relu(self.fc1(x.flatten(1))), 0.5, self.training)
            return self.fc2(x)

    torch.manual_seed(1)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, eps=1e-8)
    perm = torch.randperm(xtr.shape[0])
    times = []
    for step in range(args.steps):
        idx_b = perm[(step * 50) % 55000:(step * 50) % 55000 + 50]
        t0 = time.perf_counter()
        x = xtr[idx_b].unsqueeze(1)
        loss = F.cross_entropy(net(x), ytr[idx_b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(1e3 * (time.perf_counter() - t0))
    net.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        correct = sum((net(xte[i:i + 2000].unsqueeze(1)).argmax(1) == yte[i:i + 2000]).sum().item()
                      for i in range(0, 10000, 2000))
    eval_s = time.perf_counter() - t0
    print(json.dumps({"step_ms": times, "eval_s": eval_s, "accuracy": correct / 10000,
                      "threads": torch.get_num_threads()}))


def measured(cmd, env):
    """Run cmd through a tiny shim that reports the child's own peak RSS."""
    shim = ("import resource,subprocess,sys,json;"
            "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "sys.stderr.write(p.stderr);"
            "print(json.dumps({'rc':p.returncode,'out':p.stdout,"
            "'rss_mb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}))")
    res = subprocess.run(["/usr/bin/python3", "-c", shim] + cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"shim failed: {res.stderr[-2000:]}")
    r = json.loads(res.stdout)
    if r["rc"] != 0:
        sys.exit(f"{cmd[0]} failed ({r['rc']}): {res.stderr[-2000:]}")
    return r["out"], r["rss_mb"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--initbench", default=os.path.join(ROOT, "build", "initbench"))
    ap.add_argument("--data-dir", default=os.environ.get("INITBENCH_DATA", os.path.join(ROOT, "data")))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--native-openblas", action="store_true")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        return torch_worker(args)

    base = dict(os.environ)
    if args.native_openblas:
        base.pop("OPENBLAS_CORETYPE", None)
        base.pop("OPENBLAS_L2_SIZE", None)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        base.pop(k, None)
    peers = {
        "initbench": (None, base),
        "pytorch default": ([sys.executable, __file__, "--torch-worker"], base),
        "pytorch best (OMP 2, OpenBLAS 1)": ([sys.executable, __file__, "--torch-worker"],
                                             dict(base, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1")),
    }
    # per round: median and p90 of the step times, evaluation seconds, peak RSS
    results = {name: {"median": [], "p90": [], "eval_s": [], "rss_mb": []} for name in peers}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for name, (cmd, env) in peers.items():
                if cmd is None:
                    out_dir = os.path.join(tmp, f"ib{rnd}")
                    cmd_i = [args.initbench, "train", "--steps", str(args.steps), "--eval-every", str(args.steps),
                             "--progress", "none", "--data-dir", args.data_dir, "--out", out_dir]
                    _, rss = measured(cmd_i, env)
                    with open(os.path.join(out_dir, "run.json")) as f:
                        run = json.load(f)
                    results[name]["median"].append(run["timing"]["step_ms_median"])
                    results[name]["p90"].append(run["timing"]["step_ms_p90"])
                    results[name]["eval_s"].append(run["timing"]["eval_s"] / run["timing"]["evaluations"])
                else:
                    cmd_t = cmd + ["--steps", str(args.steps), "--data-dir", args.data_dir]
                    out, rss = measured(cmd_t, env)
                    r = json.loads(out.strip().splitlines()[-1])
                    steps = sorted(r["step_ms"][5:])  # drop warm-up steps
                    results[name]["median"].append(statistics.median(steps))
                    results[name]["p90"].append(steps[int(0.9 * (len(steps) - 1))])
                    results[name]["eval_s"].append(r["eval_s"])
                results[name]["rss_mb"].append(rss)
                print(f"round {rnd + 1}/{args.rounds}: {name}: median step {results[name]['median'][-1]:.1f} ms",
                      file=sys.stderr)

    med = {name: statistics.median(r["median"]) for name, r in results.items()}
    ev = {name: statistics.median(r["eval_s"]) for name, r in results.items()}
    print(f"\nsteps per run {args.steps}, rounds {args.rounds}, alternating; "
          f"OPENBLAS_CORETYPE={base.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"{'peer':34s} {'step median':>11s} {'rounds':>15s} {'p90':>7s} {'eval 10k':>9s} {'peak RSS':>9s} "
          f"{'step ratio':>10s} {'eval ratio':>10s}")
    for name, r in results.items():
        spread = f"{min(r['median']):.1f}-{max(r['median']):.1f}"
        print(f"{name:34s} {med[name]:9.1f}ms {spread:>15s} {statistics.median(r['p90']):7.1f} {ev[name]:8.2f}s "
              f"{max(r['rss_mb']):7.0f}MB {med['initbench'] / med[name]:10.2f} {ev['initbench'] / ev[name]:10.2f}")
    print("(ratios: initbench / peer; below 1 means initbench is faster)")


if __name__ == "__main__":
    main()
