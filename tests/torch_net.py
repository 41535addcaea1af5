"""The PyTorch twin of an initbench network: built from the same layer spec, loading
initbench's safetensors unchanged into its state_dict. Shared by the parity tests."""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    """Minimal safetensors reader (F32 only), so the tests need no extra package."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class SpecNet(torch.nn.Module):
    """Layers named as initbench names them: conv1, conv2, ..., fc1, fc2, ..."""

    def __init__(self, spec, in_hw=28):
        super().__init__()
        self.ops = []
        c, hw, n_conv, n_fc, flat = 1, in_hw, 0, 0, False
        for i, tok in enumerate(spec.split(",")):
            if tok.startswith("conv"):
                k = int(tok[4:tok.index("x")])
                units = int(tok.split(":")[1])
                n_conv += 1
                name = f"conv{n_conv}"
                self.add_module(name, torch.nn.Conv2d(c, units, k))
                self.ops.append(("conv", name, k))
                c = units
            elif tok.startswith("maxpool"):
                body = tok[7:]
                k, s = (body.split("/") + [None])[:2]
                k = int(k)
                s = int(s) if s else k
                self.ops.append(("pool", k, s))
                hw = -(-hw // s)
            elif tok.startswith("fc:"):
                units = int(tok[3:])
                n_fc += 1
                name = f"fc{n_fc}"
                self.add_module(name, torch.nn.Linear(c * (1 if flat else hw * hw), units))
                flat, c = True, units
                self.ops.append(("fc", name))
            elif tok in ("relu", "tanh", "sigmoid"):
                self.ops.append(("act", tok))
            elif tok.startswith("dropout:"):
                self.ops.append(("dropout", i, float(tok[8:])))
            else:
                raise ValueError(tok)

    def forward(self, x, masks=None):
        for op in self.ops:
            if op[0] == "conv":
                k = op[2]
                lo = (k - 1) // 2  # TF SAME: the extra pad goes bottom/right
                x = F.conv2d(F.pad(x, (lo, k - 1 - lo, lo, k - 1 - lo)), getattr(self, op[1]).weight,
                             getattr(self, op[1]).bias)
            elif op[0] == "pool":
                k, s = op[1], op[2]
                h = x.shape[-1]
                out = -(-h // s)
                pad = max((out - 1) * s + k - h, 0)
                x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2), value=float("-inf"))
                x = F.max_pool2d(x, k, s)
            elif op[0] == "fc":
                x = getattr(self, op[1])(x.reshape(x.shape[0], -1))
            elif op[0] == "act":
                x = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[op[1]](x)
            elif op[0] == "dropout" and masks is not None:
                x = x * masks[f"mask.{op[1]}"].reshape(x.shape)
        return x
