#!/usr/bin/python3
"""`initbench probe` (src/probe): its statistics are `train`'s stats.csv rows, bit for bit as text;
bad grids exit 2 with nothing written; a killed probe resumes to the same files; another grid in the
same directory is refused. Usage: test_probe.py INITBENCH CASE (CASE: train_equal | bad_grid | resume | validate).
Exit 77 (skip) without the MNIST data."""
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXE, CASE = sys.argv[1], sys.argv[2]
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data_dir():
    d = os.environ.get("INITBENCH_DATA") or os.path.join(SRC, "data")
    if not os.path.exists(os.path.join(d, "mnist", "train-images-idx3-ubyte")):
        print(f"SKIP: no MNIST under {d} (./setup.sh --no-sweep fetches it)")
        sys.exit(77)
    return d


def run(args, check=True, **kw):
    p = subprocess.run([EXE] + args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def train_equal(tmp, data):
    """Every configuration of a small grid (two optimisers, two inits, two seeds, two steps, a
    network with dropout) against `train` with the same flags: stats.csv's values equal probe.csv's."""
    grid = ["--net", "conv3x3:4,tanh,maxpool2,fc:16,relu,dropout:0.5,fc:10", "--activations", "tanh,sigmoid",
            "--stddevs", "0.05,0.8", "--init", "truncnormal,he_normal", "--optimizers", "adam,sgd",
            "--seeds", "3,4", "--steps", "2", "--metrics", "all", "--data-dir", data, "--jobs", "2"]
    P = os.path.join(tmp, "probe")
    run(["probe", "--out", P, "--quiet"] + grid)
    configs = read_csv(os.path.join(P, "configs.csv"))
    probe = {}
    for r in read_csv(os.path.join(P, "probe.csv")):
        probe[(r["config"], r["seed"], r["step"], r["layer"], r["metric"])] = r["value"]
    assert len(configs) == 2 * (2 + 1) * 2, len(configs)  # acts x (2 stddevs + 1 scale) x optimisers
    compared = 0
    for c in configs:
        for seed in ("3", "4"):
            # --activations replaces every activation of the spec (the relu after fc:16 too)
            spec = "conv3x3:4,{0},maxpool2,fc:16,{0},dropout:0.5,fc:10".format(c["activation"])
            args = ["train", "--net", spec, "--init", c["init"], "--optimizer", c["optimizer"], "--seed", seed,
                    "--steps", "2", "--stats-every", "1", "--eval-every", "2", "--test-size", "100",
                    "--threads", "1", "--data-dir", data]
            if c["stddev"]:
                args += ["--stddev", c["stddev"]]
            R = os.path.join(tmp, "run-%s-%s" % (c["config"], seed))
            run(args + ["--out", R])
            rows = read_csv(os.path.join(R, "stats.csv"))
            assert rows, R
            for r in rows:
                for col, val in r.items():
                    if col in ("step", "layer", "tensor") or val == "":
                        continue
                    key = (c["config"], seed, r["step"], r["layer"], r["tensor"] + "." + col)
                    got = probe.get(key)
                    if got != val:
                        sys.exit(f"FAIL: config {c['config']} seed {seed} step {r['step']} {r['layer']} "
                                 f"{r['tensor']}.{col}: train {val}, probe {got}")
                    compared += 1
    print(f"ok: {compared} values of {len(configs)} configurations x 2 seeds x 2 steps equal train's stats.csv")


def bad_grid(tmp, data):
    cases = [
        (["--depths", "0..3"], "--depths"),
        (["--depths", "1..3:2x"], "--depths"),
        (["--stddevs", "-1,0.1"], "--stddevs"),
        (["--stddevs", "1..0.1:3"], "--stddevs"),
        (["--stddevs", "0.1..1"], "--stddevs"),
        (["--stddevs", "0.1,0.1"], "appears twice"),
        (["--stddevs", "nan"], "--stddevs"),
        (["--activations", "relu,gelu"], "--activations"),
        (["--optimizers", "adam,adam"], "appears twice"),
        (["--optimizers", ""], "--optimizers"),
        (["--net", "original", "--depths", "3"], "--depths"),
        (["--net", "fc:10,bogus"], "--net"),
        (["--steps", "0"], "--steps"),
        (["--seeds", "1..2:5"], "--seeds"),
        (["--init", "he_normal,nope"], "--init"),
        (["--preset", "phase", "--net", "original"], "--net"),
        (["--width", "0"], "--width"),
        (["--eps", "2"], "--eps"),
    ]
    for extra, needle in cases:
        out = os.path.join(tmp, "bad")
        p = run(["probe", "--out", out, "--data-dir", data] + extra, check=False)
        if p.returncode != 2 or needle not in p.stderr:
            sys.exit(f"FAIL: {extra}: exit {p.returncode}, stderr {p.stderr!r} (want 2 naming {needle})")
        if os.path.exists(out):
            sys.exit(f"FAIL: {extra}: {out} was created")
    p = run(["probe", "--data-dir", data], check=False)
    assert p.returncode == 2 and "--out" in p.stderr, p.stderr
    # a directory that is not a probe's
    foreign = os.path.join(tmp, "foreign")
    os.makedirs(foreign)
    open(os.path.join(foreign, "notes.txt"), "w").write("mine\n")
    p = run(["probe", "--out", foreign, "--net", "fc", "--depths", "1", "--stddevs", "0.1", "--data-dir", data],
            check=False)
    assert p.returncode == 2 and "not empty" in p.stderr, p.stderr
    assert os.listdir(foreign) == ["notes.txt"], os.listdir(foreign)
    # another grid into a finished probe
    P = os.path.join(tmp, "p")
    small = ["--net", "fc", "--width", "16", "--depths", "1", "--data-dir", data, "--quiet"]
    run(["probe", "--out", P, "--stddevs", "0.1"] + small)
    before = open(os.path.join(P, "configs.csv")).read()
    p = run(["probe", "--out", P, "--stddevs", "0.2"] + small, check=False)
    assert p.returncode == 2 and "another grid" in p.stderr, p.stderr
    assert open(os.path.join(P, "configs.csv")).read() == before
    print(f"ok: {len(cases) + 3} bad grids refused with exit 2, nothing written")


def resume(tmp, data):
    grid = ["--net", "fc", "--width", "64", "--depths", "1..8", "--stddevs", "0.01..1:6", "--activations",
            "relu,tanh", "--seeds", "1", "--data-dir", data, "--jobs", "1", "--quiet"]
    A, B = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    run(["probe", "--out", A] + grid)
    p = subprocess.Popen([EXE, "probe", "--out", B] + grid, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(B, "parts", "u00002.configs.csv")):
        if time.time() > deadline or p.poll() is not None:
            sys.exit("FAIL: the probe finished or stalled before it could be killed mid-run")
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not os.path.exists(os.path.join(B, "configs.csv")), "a killed probe left a final configs.csv"
    done = len([f for f in os.listdir(os.path.join(B, "parts")) if f.endswith(".configs.csv")])
    r = run(["probe", "--out", B] + grid[:-1])
    m = [l for l in r.stderr.splitlines() if "to run" in l]
    assert m and f"({16 - done} to run)" in m[0], (m, done)
    for f in ("probe.csv", "configs.csv"):
        if open(os.path.join(A, f)).read() != open(os.path.join(B, f)).read():
            sys.exit(f"FAIL: {f} of the resumed probe differs from the uninterrupted one")
    assert not os.path.exists(os.path.join(B, "parts"))
    r = run(["probe", "--out", B] + grid[:-1])
    assert "already complete" in r.stderr, r.stderr
    print(f"ok: killed after {done} of 16 networks, resumed to identical probe.csv and configs.csv")


def validate(tmp, data):
    """--validate K: K drawn configurations trained through `initbench sweep`; validation.csv has one
    row per draw with the run's real final accuracy, the outcome follows the stated thresholds, the
    misses follow the stated rule, the confusion matrix sums to K; the probe report shows the same
    matrix with validation.csv's strings escaped and refuses a bad field; a configs.csv with a
    forecast that is no class is refused with exit 2."""
    P = os.path.join(tmp, "p")
    grid = ["--net", "fc", "--width", "16", "--depths", "1,4", "--stddevs", "1e-3,0.1,3", "--optimizers", "adam,sgd",
            "--seeds", "1", "--budget", "40", "--data-dir", data, "--quiet"]
    run(["probe", "--out", P, "--validate", "5"] + grid)
    rows = read_csv(os.path.join(P, "validate", "validation.csv"))
    configs = {r["config"]: r for r in read_csv(os.path.join(P, "configs.csv"))}
    assert len(rows) == 5, rows
    classes = {r["forecast"] for r in rows}
    assert len(classes) == len({c["forecast"] for c in configs.values()}), (classes, "the draw spans every class")
    for r in rows:
        assert configs[r["config"]]["forecast"] == r["forecast"], r
        run_json = os.path.join(P, r["run_dir"], "run.json")
        import json
        j = json.load(open(run_json))
        acc = j.get("final", {}).get("test_accuracy")
        want = ("diverged" if j["status"] == "diverged" else "trained" if acc >= 0.8 else "stuck" if acc < 0.2
                else "partial")
        assert r["outcome"] == want, (r, j["status"], acc)
        assert j["config"]["steps"] == 40, j["config"]["steps"]
        miss = (r["forecast"] == "trains" and want != "trained") or (
            r["forecast"] == "will_not_train" and want in ("trained", "partial"))
        assert r["miss"] == str(int(miss)), r
    summary = open(os.path.join(P, "validate", "summary.md")).read()
    total = 0
    for line in summary.splitlines():
        if line.startswith("| trains |") or line.startswith("| at_risk |") or line.startswith("| will_not_train |"):
            total += sum(int(x) for x in line.split("|")[2:-1])
    assert total == 5, summary
    # the probe report shows the same matrix, and every string of validation.csv stays data
    vpath = os.path.join(P, "validate", "validation.csv")
    vrows = read_csv(vpath)
    vrows[0]["reason"] = "<script>document.title='pwned'</script>"
    vrows[0]["miss"] = "1"
    with open(vpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(vrows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(vrows)
    R = os.path.join(tmp, "report")
    run(["report", P, "--out", R, "--quiet"])
    page = open(os.path.join(R, "index.html")).read()
    assert "&lt;script&gt;document.title" in page and "<script>document" not in page, "a reason reached the page raw"
    md = open(os.path.join(R, "summary.md")).read()
    assert "## The forecast against training" in md, md[-2000:]
    for line in md[md.index("## The forecast against training"):].splitlines():
        if line.startswith("| trains |") or line.startswith("| at_risk |") or line.startswith("| will_not_train |"):
            fc = line.split("|")[1].strip()
            counts = [int(x) for x in line.split("|")[2:-1]]
            outcomes = ["trained", "partial", "stuck", "diverged", "not_run"]
            for o, n in zip(outcomes, counts):
                want = sum(1 for r in vrows if r["forecast"] == fc and r["outcome"] == o)
                assert n == want, (fc, o, n, want)
    vrows[1]["outcome"] = "great"
    with open(vpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(vrows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(vrows)
    p = run(["report", P, "--out", os.path.join(tmp, "report2"), "--quiet"], check=False)
    assert p.returncode == 2 and "validation.csv" in p.stderr and "outcome" in p.stderr, (p.returncode, p.stderr)
    assert not os.path.exists(os.path.join(tmp, "report2", "index.html"))
    # a tampered configs.csv: refused, naming the file
    path = os.path.join(P, "configs.csv")
    tampered = read_csv(path)
    tampered[0]["forecast"] = "<b>bogus</b>"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(tampered[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(tampered)
    p = run(["probe", "--out", P, "--validate", "5"] + grid, check=False)
    assert p.returncode == 2 and "configs.csv" in p.stderr, (p.returncode, p.stderr)
    print(f"ok: 5 drawn configurations trained, outcomes and misses as stated, the report's matrix equal to "
          f"validation.csv's, its strings escaped, a bad outcome and a tampered configs.csv refused")


def main():
    data = data_dir()
    tmp = tempfile.mkdtemp(prefix="ib-probe-")
    try:
        {"train_equal": train_equal, "bad_grid": bad_grid, "resume": resume, "validate": validate}[CASE](tmp, data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
