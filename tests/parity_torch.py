"""Parity with PyTorch: from initbench's initial parameters and batch (and dropout masks), the
loss and every parameter gradient must match within 1e-4 relative.
usage: parity_torch.py DUMP_DIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_net import SpecNet, read_safetensors  # noqa: E402

TOL = 1e-4


def run(spec, params, batch, dtype):
    net = SpecNet(spec).to(dtype)
    net.load_state_dict({k: v.to(dtype) for k, v in params.items()}, strict=True)
    masks = {k: v.to(dtype) for k, v in batch.items()}
    logits = net(batch["x"].to(dtype), masks=masks)
    loss = F.cross_entropy(logits, batch["y"].long())
    loss.backward()
    return loss.item(), {n: p.grad.double() for n, p in net.named_parameters()}


def rel_err(a, ref):
    return (a - ref).abs().max().item() / max(ref.abs().max().item(), 1e-300)


def main(dump):
    torch.set_num_threads(1)
    spec = open(os.path.join(dump, "spec.txt")).read().strip()
    params = read_safetensors(os.path.join(dump, "params.safetensors"))
    batch = read_safetensors(os.path.join(dump, "batch.safetensors"))
    ours = read_safetensors(os.path.join(dump, "grads.safetensors"))
    # names and layouts must match exactly (strict load)
    loss32, g32 = run(spec, params, batch, torch.float32)
    loss64, g64 = run(spec, params, batch, torch.float64)
    failures = 0
    rel = abs(loss32 - ours["loss"].item()) / max(abs(loss32), 1e-30)
    print(f"{dump}: loss torch {loss32:.8g} initbench {ours['loss'].item():.8g} rel {rel:.2e}")
    failures += rel > TOL
    for name in g32:
        g = ours[name].double()
        err = rel_err(g, g32[name])
        # Where the gradient is a sum that cancels to far below its terms (tanh at tiny w), float32
        # cannot give 1e-4 agreement between any two implementations; then initbench must be as
        # close to the float64 gradient as PyTorch's own float32 result is.
        err64, torch_err64 = rel_err(g, g64[name]), rel_err(g32[name], g64[name])
        ok = err <= TOL or err64 <= max(TOL, 2 * torch_err64)
        print(f"  {name:14s} |grad|_2 torch {g32[name].norm().item():.6e} initbench {g.norm().item():.6e} "
              f"rel err {err:.2e} (vs float64: initbench {err64:.2e}, torch fp32 {torch_err64:.2e})"
              f"{'' if ok else '  FAIL'}")
        failures += not ok
    checks = len(g32) + 1
    stats_path = os.path.join(dump, "run", "stats.csv")
    if os.path.exists(stats_path):
        # stats.csv at step 0: per-layer weight-gradient L2 norms against PyTorch's (float64)
        norms = {}
        with open(stats_path) as f:
            header = f.readline().strip().split(",")
            for line in f:
                row = dict(zip(header, line.strip().split(",")))
                if row["step"] == "0" and row["tensor"] == "weight_grad":
                    norms[row["layer"]] = float(row["l2"])
        for name in g32:
            if not name.endswith(".weight"):
                continue
            layer = name[:-len(".weight")]
            ref = g64[name].norm().item()
            rel = abs(norms.get(layer, float("nan")) - ref) / ref
            # The same conditioning rule as the gradients above: where the float32 gradient itself
            # is ill-conditioned (tanh at tiny w), PyTorch's own float32 norm misses the float64 one
            # by more than 1e-4 (1.5e-4 on AVX2 kernels for conv1 of original-tanh at w=1e-3); then
            # initbench must be as close as that. A NaN (missing row) fails either way.
            torch_rel = abs(g32[name].norm().item() - ref) / ref
            ok = rel <= max(TOL, 2 * torch_rel)
            checks += 1
            failures += not ok
            print(f"  stats.csv {layer:6s} weight_grad l2 {norms.get(layer, float('nan')):.6e} "
                  f"torch {ref:.6e} rel {rel:.2e} (torch fp32 {torch_rel:.2e}){'' if ok else '  FAIL'}")
        layers = [n[:-len(".weight")] for n in g32 if n.endswith(".weight")]
        print(f"  ratio {layers[0]}/{layers[-1]} weight-gradient L2: initbench "
              f"{norms[layers[0]] / norms[layers[-1]]:.3e}, torch "
              f"{g64[layers[0] + '.weight'].norm().item() / g64[layers[-1] + '.weight'].norm().item():.3e}")
    print(f"parity: {checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
