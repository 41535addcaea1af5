#!/usr/bin/env python3
"""Write a synthetic probe directory (probe.json, configs.csv, probe.csv) as `initbench probe`
does (the format: docs/REPORT.md, "The probe report"), with values from known formulas, so the
report's numbers can be checked against them.

Grid: net fc, width W, depths x stddevs x activations x optimizers, truncated normal, bias B.
  sigma_w2 = W * 0.77374 * stddev^2 (TF's truncated normal keeps 0.77374 of the variance)
  q1       = 0.5 * sigma_w2 + bias^2
  measured log10_grad_ratio / log10_act_ratio = theory's finite-depth prediction (mean_field
  below: an independent trapezoid rule) + offset, where offset = +1.0 for the smallest stddev at
  depth >= 4 (so those cells part from theory by 1 decade) and 0 elsewhere.
  forecast: adam -> at_risk below stddev 0.03 ("Adam's sqrt(v) below eps in layer 1"), else trains;
            sgd  -> will_not_train when the measured grad ratio < -3, else trains.
--hostile: the net field and one reason carry markup and shell text, the rule HTML.
Usage: gen_synthetic_probe.py OUT [--depths 1,2,3] [--stddevs 0.01,0.1,1] [--activations relu,tanh]
       [--optimizers adam,sgd] [--width 64] [--bias 0] [--hostile]
Importable: mean_field(act, sigma_w2, bias, q1, depth) -> (log10_grad_ratio, log10_act_ratio).
"""
import argparse, json, math, os

HEADER = ("config,dataset,net,depth,width,activation,init,init_scale,stddev,bias_init,sigma_w2,optimizer,lr,seeds,"
          "loss0,log10_grad_ratio,log10_act_ratio,log10_wgrad_ratio,q1,min_update_ratio,max_frac_below_eps,"
          "max_frac_dead,max_frac_saturated,descent,forecast,reason")
HOSTILE = "x'\"`touch /tmp/pwn`$(touch /tmp/pwn2);<script>document.title='pwn'</script><img src=x onerror=alert(1)>"


def unit(act, x):
    """f(x) and f'(x), written differently from analysis/theory.c."""
    if act == "relu":
        return (x if x > 0 else 0.0), (1.0 if x > 0 else 0.0)
    if act == "tanh":
        c = math.cosh(x) if abs(x) < 700 else float("inf")
        return math.tanh(x), 1.0 / (c * c)
    s = 0.5 * (1 + math.tanh(x / 2))
    return s, s * (1 - s)


def moments(act, mu, v, n=8000):
    """E[f(mu + sqrt(v) z)^2], E[f'(...)^2] by the trapezoid rule over z in [-10, 10]."""
    s, h = math.sqrt(max(v, 0.0)), 20.0 / n
    f2 = df2 = 0.0
    for i in range(n + 1):
        z = -10 + i * h
        f, df = unit(act, mu + s * z)
        w = (0.5 if i in (0, n) else 1.0) * math.exp(-0.5 * z * z)
        f2 += w * f * f
        df2 += w * df * df
    k = h / math.sqrt(2 * math.pi)
    return f2 * k, df2 * k


def mean_field(act, sigma_w2, bias, q1, depth):
    if act == "relu" and bias == 0:  # closed form: every layer multiplies both by sigma_w2 / 2
        r = (depth - 1) / 2 * math.log10(sigma_w2 / 2)
        return r, r
    v, total, f2_first, f2 = max(q1 - bias * bias, 0.0), 0.0, None, None
    for layer in range(1, depth + 1):
        f2, df2 = moments(act, bias, v)
        if f2_first is None:
            f2_first = f2
        if layer < depth:
            total += math.log10(sigma_w2 * df2)
        v = sigma_w2 * f2
    return 0.5 * total, 0.5 * math.log10(f2 / f2_first)


def num(v):
    return "%.9g" % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--depths", default="1,2,3,4,5,6")
    ap.add_argument("--stddevs", default="0.01,0.0215443469,0.0464158883,0.1,0.215443469,0.464158883,1")
    ap.add_argument("--activations", default="relu,tanh")
    ap.add_argument("--optimizers", default="adam,sgd")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--bias", type=float, default=0.0)
    ap.add_argument("--hostile", action="store_true")
    a = ap.parse_args()
    depths = [int(x) for x in a.depths.split(",")]
    stddevs = [float(x) for x in a.stddevs.split(",")]
    acts, opts = a.activations.split(","), a.optimizers.split(",")
    os.makedirs(a.out, exist_ok=True)
    rows, tidy, cache = [], ["config,seed,step,layer,metric,value"], {}
    net = "fc" + HOSTILE if a.hostile else "fc"
    for act in acts:
        for d in depths:
            for si, sd in enumerate(stddevs):
                sw2 = a.width * 0.77374 * sd * sd
                q1 = 0.5 * sw2 + a.bias * a.bias
                key = (act, sw2, q1, d)
                if key not in cache:
                    cache[key] = mean_field(act, sw2, a.bias, q1, d)
                g, r = cache[key]
                off = 1.0 if si == 0 and d >= 4 else 0.0
                for opt in opts:
                    cid = len(rows)
                    mg, ma = g + off, r + off
                    if opt == "adam":
                        fc, why = ("at_risk", "Adam's sqrt(v) below eps in layer 1") if sd < 0.03 else ("trains", "")
                    else:
                        fc, why = ("will_not_train", "SGD's relative update below 1e-8") if mg < -3 else ("trains", "")
                    if a.hostile and cid == 1:
                        why = HOSTILE
                    fields = [str(cid), "mnist", net, str(d), str(a.width), act, "truncated_normal", "", num(sd),
                              num(a.bias), num(sw2), opt, "0.0001" if opt == "adam" else "0.01", "2", num(2.3),
                              num(mg), num(ma), num(mg + 0.1), num(q1), num(1e-4 / sd), "0.5" if sd < 0.03 else "0",
                              "0.5" if act == "relu" else "0", "0" if act == "relu" else "0.01", num(1e-3), fc, why]
                    rows.append(",".join('"%s"' % f.replace('"', '""') if any(c in f for c in ',"\n\r') else f
                                         for f in fields))
                    tidy.append("%d,1,0,net,loss,2.30258512" % cid)
    with open(os.path.join(a.out, "configs.csv"), "w") as f:
        f.write(HEADER + "\n" + "\n".join(rows) + "\n")
    with open(os.path.join(a.out, "probe.csv"), "w") as f:
        f.write("\n".join(tidy) + "\n")
    probe = {"format": "initbench-probe/1", "status": "complete",
             "command": "initbench probe --synthetic" + (" " + HOSTILE if a.hostile else ""),
             "grid": {"preset": "custom", "net": net, "width": a.width, "depths": depths, "stddevs": stddevs,
                      "inits": ["truncated_normal"], "init_scales": [], "activations": acts, "optimizers": opts,
                      "seeds": [1, 2], "dataset": "mnist", "steps": 1, "batch": 50, "bias_init": a.bias},
             "configs": len(rows),
             "forecast": {"budget_steps": 1000,
                          "rule": ("<b>bold</b> " + HOSTILE) if a.hostile else
                          "trains unless Adam's sqrt(v) < eps or SGD's update ratio < 1e-8"},
             "timing": {"wall_s": 1.5, "ms_per_config": 3.2}, "environment": {}}
    with open(os.path.join(a.out, "probe.json"), "w") as f:
        json.dump(probe, f, indent=1)


if __name__ == "__main__":
    main()
