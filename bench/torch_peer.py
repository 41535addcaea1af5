#!/usr/bin/python3
"""PyTorch's side of bench/compare_pytorch.py: the tutorial network, the TF-form Adam variants and
the measured schedule, run in a child process that the parent starts with the configuration under
test (threads, OpenBLAS, malloc, channels_last, CPU capability) in its environment.

usage (by compare_pytorch.py only): /usr/bin/python3 bench/torch_peer.py probe|run|inspect CONFIG_JSON
The result is one line on stdout starting with RESULT (oneDNN's verbose report shares stdout).
"""
import ctypes
import json
import math
import os
import re
import statistics
import sys
import time

RESULT = "RESULT "
BATCH, LR, BETA1, BETA2, EPS = 50, 1e-4, 0.9, 0.999, 1e-8


def load_mnist(data_dir):
    import numpy as np
    import torch

    def idx(name):
        with open(os.path.join(data_dir, "mnist", name), "rb") as f:
            data = f.read()
        dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)

    def images(name, lo):
        return torch.from_numpy(idx(name)[lo:].astype(np.float32) / 255).unsqueeze(1)

    def labels(name, lo):
        return torch.from_numpy(idx(name)[lo:].astype(np.int64))

    # TF's split, as initbench: training images 5000.., all 10k test images
    return (images("train-images-idx3-ubyte", 5000), labels("train-labels-idx1-ubyte", 5000),
            images("t10k-images-idx3-ubyte", 0), labels("t10k-labels-idx1-ubyte", 0))


def build_net(channels_last):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

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
    with torch.no_grad():  # initbench's default init: truncated normal 0.1, biases 0.1
        for name, p in net.named_parameters():
            if name.endswith("weight"):
                nn.init.trunc_normal_(p, std=0.1, a=-0.2, b=0.2)
            else:
                p.fill_(0.1)
    return net.to(memory_format=torch.channels_last) if channels_last else net


class AdamTFForeach:
    """TF 1.x Adam with torch's in-place multi-tensor ops."""

    def __init__(self, params):
        import torch
        self.params = list(params)
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        import torch
        self.t += 1
        lr_t = LR * math.sqrt(1 - BETA2 ** self.t) / (1 - BETA1 ** self.t)
        grads = [p.grad for p in self.params]
        with torch.no_grad():
            torch._foreach_mul_(self.m, BETA1)
            torch._foreach_add_(self.m, grads, alpha=1 - BETA1)
            torch._foreach_mul_(self.v, BETA2)
            torch._foreach_addcmul_(self.v, grads, grads, value=1 - BETA2)
            denom = torch._foreach_sqrt(self.v)
            torch._foreach_add_(denom, EPS)
            torch._foreach_addcdiv_(self.params, self.m, denom, value=-lr_t)


class TorchAdamTF:
    """torch.optim.Adam computing the TF form. PyTorch's update is
    lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps'), i.e. the TF form's lr_t * m / (sqrt(v) + eps)
    when eps' = eps / sqrt(1-b2^t)."""

    def __init__(self, params, foreach):
        import torch
        self.opt = torch.optim.Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=foreach)
        self.t = 0

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)

    def step(self):
        self.t += 1
        self.opt.param_groups[0]["eps"] = EPS / math.sqrt(1 - BETA2 ** self.t)
        self.opt.step()


OPTIMIZERS = {
    "foreach-tf": AdamTFForeach,
    "torch-adam-foreach": lambda ps: TorchAdamTF(ps, foreach=True),
    "torch-adam": lambda ps: TorchAdamTF(ps, foreach=False),
}


class Peer:
    """The network, its optimiser and the data in one configuration."""

    def __init__(self, cfg):
        import torch
        torch.set_num_threads(cfg["threads"])
        torch.backends.mkldnn.enabled = True
        self.torch, self.cfg = torch, cfg
        self.xtr, self.ytr, self.xte, self.yte = load_mnist(cfg["data_dir"])
        self.net = build_net(cfg["channels_last"])
        self.opt = OPTIMIZERS[cfg.get("optimizer", "foreach-tf")](self.net.parameters())
        self.gen = torch.Generator().manual_seed(1)
        self.perm, self.pos, self.correct = None, 0, 0

    def layout(self, x):
        return x.contiguous(memory_format=self.torch.channels_last) if self.cfg["channels_last"] else x

    def step(self):
        """One training step, timed as initbench times its own: batch gather to updated parameters."""
        import torch.nn.functional as F
        if self.perm is None or self.pos + BATCH > len(self.perm):  # a new epoch, as initbench shuffles
            self.perm, self.pos = self.torch.randperm(self.xtr.shape[0], generator=self.gen), 0
        t0 = time.perf_counter()
        idx = self.perm[self.pos:self.pos + BATCH]
        self.pos += BATCH
        x, y = self.layout(self.xtr[idx]), self.ytr[idx]
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.correct += (logits.argmax(1) == y).sum()  # initbench counts training accuracy too
        if not math.isfinite(loss.item()):
            sys.exit("peer: the loss is not finite")
        return 1e3 * (time.perf_counter() - t0)

    def evaluate(self, eval_batch, n=None):
        """Seconds for loss and accuracy over the first n test images (all by default)."""
        import torch.nn.functional as F
        n = n or self.xte.shape[0]
        self.net.eval()
        t0 = time.perf_counter()
        correct, loss_sum = 0, 0.0
        with self.torch.inference_mode():
            for lo in range(0, n, eval_batch):
                hi = min(lo + eval_batch, n)
                logits = self.net(self.layout(self.xte[lo:hi]))
                loss_sum += F.cross_entropy(logits, self.yte[lo:hi], reduction="sum").item()
                correct += (logits.argmax(1) == self.yte[lo:hi]).sum().item()
        seconds = time.perf_counter() - t0
        self.net.train()
        return seconds, correct / n, loss_sum / n

    def time_optimizers(self, reps=15):
        """Median ms of one TF-form Adam update per implementation, on copies of the parameters with
        the last step's gradients; and the largest difference between their updates, relative to
        the update's size (the forms must compute the same thing)."""
        grads = [p.grad for p in self.net.parameters()]

        def instance(make, start):
            ps = [s.detach().clone() for s in start]
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            return ps, make(ps)

        # from zero parameters, the first update is the parameters: its own rounding, not theirs
        updates = {}
        for name, make in OPTIMIZERS.items():
            updates[name], opt = instance(make, [self.torch.zeros_like(g) for g in grads])
            opt.step()
        ref = updates["foreach-tf"]
        scale = max(u.abs().max().item() for u in ref)
        disagreement = max(max((a - b).abs().max().item() for a, b in zip(ref, updates[name])) / scale
                           for name in OPTIMIZERS)
        opts = {name: instance(make, list(self.net.parameters()))[1] for name, make in OPTIMIZERS.items()}
        times = {name: [] for name in OPTIMIZERS}
        for _ in range(reps):  # alternating, so that noise hits each alike
            for name, opt in opts.items():
                t0 = time.perf_counter()
                opt.step()
                times[name].append(1e3 * (time.perf_counter() - t0))
        return {name: statistics.median(t) for name, t in times.items()}, disagreement


def kernel_report(torch):
    """What torch was built with and which BLAS / oneDNN / OpenMP libraries it loaded."""
    show = torch.__config__.show()
    summary = [line.strip(" -") for line in show.splitlines()
               if line.strip() and "Build settings" not in line and "CXX" not in line
               and "PyTorch built with" not in line]
    settings = dict(re.findall(r"(\w+)=([^,]*)", show.split("Build settings:")[-1]))
    summary += [f"{k}={settings[k]}" for k in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")
                if k in settings]
    capability = (torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu")
                  and hasattr(torch.backends.cpu, "get_cpu_capability") else
                  re.search(r"CPU capability usage: (\S+)", show).group(1))
    with open("/proc/self/maps") as f:
        libraries = sorted({line.split()[-1] for line in f if re.search(
            r"/lib[^/]*(blas|lapack|dnnl|mkldnn|gomp|iomp|libomp)[^/]*\.so", line)})
    report = {"torch": torch.__version__, "config": summary, "cpu_capability": capability,
              "mkldnn_enabled": torch.backends.mkldnn.enabled, "libraries": libraries,
              "parallel": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                           if "get_num_threads" in line or "parallel backend" in line]}
    try:
        from threadpoolctl import threadpool_info
        report["threadpoolctl"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads",
                                                          "threading_layer", "architecture", "filepath")}
                                   for d in threadpool_info()]
    except ImportError:  # OpenBLAS's own report, from each BLAS library torch loaded
        report["openblas"] = []
        for path in libraries:
            if not re.search(r"blas", os.path.basename(path)):
                continue
            lib = ctypes.CDLL(path)
            if not hasattr(lib, "openblas_get_config"):
                report["openblas"].append({"filepath": path, "config": "no OpenBLAS symbols"})
                continue
            lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
            report["openblas"].append({
                "filepath": path, "config": lib.openblas_get_config().decode(),
                "corename": lib.openblas_get_corename().decode(),
                "num_threads": lib.openblas_get_num_threads(),
                "parallel": {0: "sequential", 1: "pthread", 2: "openmp"}.get(lib.openblas_get_parallel())})
    return report


def torch_worker(mode, cfg):
    """A child process: 'probe' times a configuration, 'run' is a measured round, 'inspect' names the
    kernels and picks the evaluation batch."""
    peer = Peer(cfg)
    torch = peer.torch
    out = {"threads": torch.get_num_threads()}
    if mode == "probe":
        times = [peer.step() for _ in range(cfg["warmup"] + cfg["probe_steps"])][cfg["warmup"]:]
        out.update(step_ms=times, median=statistics.median(times),
                   cpu_capability=kernel_report(torch)["cpu_capability"])
        out["optimizer_ms"], out["optimizer_disagreement"] = peer.time_optimizers()
    elif mode == "run":  # the schedule of `initbench train --eval-every N`: evaluate, N steps, evaluate
        evals = [peer.evaluate(cfg["eval_batch"])]
        out["step_ms"] = [peer.step() for _ in range(cfg["steps"])]
        evals.append(peer.evaluate(cfg["eval_batch"]))
        out.update(eval_s=[e[0] for e in evals], test_accuracy=evals[-1][1], test_loss=evals[-1][2])
    elif mode == "inspect":
        out["kernels"] = kernel_report(torch)
        for _ in range(3):
            peer.step()
        out["eval_probe_s"] = {}
        for b in cfg["eval_batches"]:
            peer.evaluate(b, b)  # creates this batch size's primitives
            out["eval_probe_s"][b] = peer.evaluate(b, cfg["eval_probe_images"])[0]
        with torch.autograd.profiler.profile() as prof:
            for _ in range(3):
                peer.step()
        ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
        out["top_ops"] = [{"op": e.key, "self_ms_per_step": e.self_cpu_time_total / 3e3, "calls_per_step": e.count / 3}
                          for e in ops]
        sys.stdout.flush()
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):  # to stdout, read by the parent
            peer.step()
            peer.evaluate(cfg["eval_batches"][0], cfg["eval_batches"][0])
    print(RESULT + json.dumps(out), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("probe", "run", "inspect"):
        sys.exit("usage: torch_peer.py probe|run|inspect CONFIG_JSON")
    torch_worker(sys.argv[1], json.loads(sys.argv[2]))
