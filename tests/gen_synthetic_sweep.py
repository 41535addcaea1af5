#!/usr/bin/env python3
"""Write a synthetic sweep directory with known values, laid out as `initbench sweep` does:
sweep.json (manifest), tasks/NNNN.json, runs/<index>-w<stddev>-r<repeat>/{run.json,curve.csv,stats.csv}.

Curves: test accuracy at evaluation k (step k*eval_every) is
    acc = 0.1 + (final - 0.1) * (1 - exp(-k / tau))   rounded to 6 decimals,
with final = 0.99 - 0.001*repeat, tau = 5 + 10*stddev_index, so the expected means, stds,
minima and threshold steps are computed here from the very same numbers (--expect FILE).
Special runs (with --specials): stddev 0 repeat 1 is stuck at chance (acc 0.1135); stddev 1
repeat 2 diverged at step 150 (curve stops there); stddev 2 repeat 0 is missing (no run dir);
stddev 2 repeat 1 is still running (run.json status running, half the curve).
Stats (4 layers, 9 tensors each, the columns of docs/INSTRUMENTATION.md): weight_grad l2 of
layer l at step s = stddev**(4-l) * (1 + s/1000) * (1 + 0.01*repeat); update rms = 1e-4;
frac_sqrt_v_below_eps = 0.5 for stddev < 1e-3 else 0.
Usage: gen_synthetic_sweep.py OUT --stddevs 1e-4,1e-2,1 --repeats 3 --evals 101 --eval-every 100
       [--stats-every 100] [--specials] [--expect expected.json]
"""
import argparse, json, math, os

LAYERS = ["conv1", "conv2", "fc1", "fc2"]
NPARAM = {"conv1": 800, "conv2": 51200, "fc1": 3211264, "fc2": 10240}
HEADER = ("step,layer,tensor,n,l2,rms,mean,std,min,max,frac_zero,frac_saturated,frac_nonfinite,"
          "update_ratio,sqrt_v_rms,frac_sqrt_v_below_eps\n")


def curve(si, rep, evals, every, special):
    final, tau = 0.99 - 0.001 * rep, 5 + 10 * si
    rows = []
    for k in range(evals):
        acc = 0.1 + (final - 0.1) * (1 - math.exp(-k / tau))
        if special == "stuck":
            acc = 0.1135
        rows.append((k * every, round(acc, 6)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--stddevs", default="1e-4,1e-2,1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--evals", type=int, default=101)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--stats-every", type=int, default=100)
    ap.add_argument("--specials", action="store_true")
    ap.add_argument("--expect")
    ap.add_argument("--optimizer", default="adam")
    a = ap.parse_args()
    sds = [float(x) for x in a.stddevs.split(",")]
    steps = (a.evals - 1) * a.eval_every
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "tasks"), exist_ok=True)
    cfg = {"dataset": "mnist", "net": "conv5x5:32,relu,maxpool2,conv5x5:64,relu,maxpool2,fc:1024,relu,dropout:0.5,fc:10",
           "net_given": "original", "init": {"scheme": "truncnormal", "stddev": 0.1, "bias": 0.1},
           "optimizer": {"name": a.optimizer, "lr": 1e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
           "batch": 50, "steps": steps, "eval_every": a.eval_every}
    tasks, expect = [], {"groups": {}}
    idx = 0
    for si, sd in enumerate(sds):
        g = {"final": [], "reach": {"0.9": [], "0.97": [], "0.99": []}, "status": {}, "stuck": 0}
        for rep in range(a.repeats):
            special = None
            if a.specials:
                special = {(0, 1): "stuck", (1, 2): "diverged", (2, 0): "missing", (2, 1): "running"}.get((si, rep))
            rel = "runs/%04d-w%g-r%d" % (idx, sd, rep)
            tasks.append({"index": idx, "stddev": sd, "repeat": rep, "seed": str(1 + rep), "dir": rel, "argv": ["train"]})
            d = os.path.join(a.out, rel)
            status = {"diverged": "diverged", "missing": "missing", "running": "running"}.get(special, "complete")
            g["status"][status] = g["status"].get(status, 0) + 1
            tasks_rec = {"index": idx, "dir": rel, "status": "pending" if special == "missing" else status}
            with open(os.path.join(a.out, "tasks", "%04d.json" % idx), "w") as f:
                json.dump(tasks_rec, f)
            idx += 1
            if special == "missing":
                continue
            os.makedirs(d, exist_ok=True)
            rows = curve(si, rep, a.evals, a.eval_every, special)
            if special == "diverged":
                rows = [r for r in rows if r[0] <= 150]
            if special == "running":
                rows = rows[: len(rows) // 2]
            with open(os.path.join(d, "curve.csv"), "w") as f:
                f.write("step,test_accuracy,test_loss,train_loss,train_accuracy,elapsed_s\n")
                for s, acc in rows:
                    f.write("%d,%.6f,%.9g,%.9g,%.6f,%.3f\n" % (s, acc, 1 - acc, 1 - acc, acc, s * 0.01))
            run = {"status": status, "config": dict(cfg, init={"scheme": "truncnormal", "stddev": sd, "bias": sd}, seed=str(1 + rep))}
            if special == "diverged":
                run["diverged_step"] = 150
                run["reason"] = "non-finite training loss"
            with open(os.path.join(d, "run.json"), "w") as f:
                json.dump(run, f, indent=1)
            with open(os.path.join(d, "stats.csv"), "w") as f:
                f.write(HEADER)
                last = rows[-1][0]
                for s in range(0, last + 1, a.stats_every):
                    for li, L in enumerate(LAYERS):
                        n = NPARAM[L]
                        wl2 = sd * 0.88 * math.sqrt(n)
                        g2 = sd ** (4 - (li + 1)) * (1 + s / 1000) * (1 + 0.01 * rep)
                        below = 0.5 if sd < 1e-3 else 0.0
                        act_std = sd ** (li + 1)
                        f.write("%d,%s,weight,%d,%.9g,%.9g,0,%.9g,%.9g,%.9g,0,0,0,,,\n" % (s, L, n, wl2, wl2 / math.sqrt(n), wl2 / math.sqrt(n), -2 * sd, 2 * sd))
                        f.write("%d,%s,bias,10,%.9g,%.9g,%.9g,0,%.9g,%.9g,0,0,0,,,\n" % (s, L, sd, sd, sd, sd, sd))
                        f.write("%d,%s,preact,5000,1,1,%.9g,%.9g,-3,3,0,0,0,,,\n" % (s, L, sd, act_std))
                        f.write("%d,%s,act,5000,1,1,%.9g,%.9g,0,3,0.01,0,0,,,\n" % (s, L, sd, act_std))
                        f.write("%d,%s,act_grad,5000,%.9g,1,0,1,-1,1,0,0,0,,,\n" % (s, L, g2 * 10))
                        f.write("%d,%s,weight_grad,%d,%.9g,%.9g,0,1,-1,1,0,0,0,,,\n" % (s, L, n, g2, g2 / math.sqrt(n)))
                        f.write("%d,%s,bias_grad,10,%.9g,1,0,1,-1,1,0,0,0,,,\n" % (s, L, g2))
                        f.write("%d,%s,update,%d,%.9g,1e-4,0,1e-4,-1e-4,1e-4,0,0,0,%.9g,%.9g,%.9g\n" % (s, L, n, 1e-4 * math.sqrt(n), 1e-4 * math.sqrt(n) / wl2, g2 / math.sqrt(n), below))
                        f.write("%d,%s,bias_update,10,1e-4,1e-4,0,0,0,0,0,0,0,1e-4,1e-6,0\n" % (s, L))
            if status == "complete":
                final = rows[-1][1]
                if final < 0.2:
                    g["stuck"] += 1
                g["final"].append(final)
                for thr in ("0.9", "0.97", "0.99"):
                    hit = [s for s, acc in rows if acc >= float(thr)]
                    if hit:
                        g["reach"][thr].append(hit[0])
        fin = g["final"]
        m = sum(fin) / len(fin) if fin else None
        sdv = math.sqrt(sum((x - m) ** 2 for x in fin) / (len(fin) - 1)) if len(fin) > 1 else 0.0
        expect["groups"]["%g" % sd] = {"final_mean": m, "final_std": sdv, "final_min": min(fin) if fin else None,
                                       "n_final": len(fin), "stuck": g["stuck"], "status": g["status"],
                                       "reach_mean": {k: (sum(v) / len(v) if v else None) for k, v in g["reach"].items()},
                                       "reach_n": {k: len(v) for k, v in g["reach"].items()}}
    with open(os.path.join(a.out, "sweep.json"), "w") as f:
        json.dump({"manifest_version": 1, "preset": "synthetic", "base_seed": "1", "config": cfg, "tasks": tasks}, f, indent=1)
    if a.expect:
        with open(a.expect, "w") as f:
            json.dump(expect, f, indent=1)


if __name__ == "__main__":
    main()
