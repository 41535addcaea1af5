#!/usr/bin/env python3
"""The probe report (`initbench report PROBE_DIR`) on synthetic probe directories
(gen_synthetic_probe.py) with known values.
usage: test_probe_report.py INITBENCH
Checks: phase.csv's predictions against the generator's independent mean-field integral, its gaps
and 'parts' flags against the generator's offsets; the page in headless Chromium has the heatmaps
(svg figures with drawn cells) and, for a single-depth grid, line plots; hostile strings (markup
and shell text in the net, a reason and the rule) appear escaped, run nothing and add no element;
malformed inputs exit 2 naming file, line and field, with nothing written (a new --out not created,
an earlier report left byte for byte).
Exit 0 pass, 1 fail, 77 skip (no gnuplot or no chromium)."""
import csv, html.parser, math, os, re, shutil, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_synthetic_probe as gen  # noqa: E402

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def chromium():
    for c in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(c):
            return shutil.which(c)
    return None


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers, self.title = {}, [], ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.handlers += [k for k, _ in attrs if k.lower().startswith("on")]
        self._in_title = tag == "title" and self.tags[tag] == 1  # the document's, not an svg's

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def dom(page, tmp):
    """The page as Chromium leaves it after its scripts (if any) ran: --dump-dom."""
    prof = tempfile.mkdtemp(dir=tmp)
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--user-data-dir=" + prof, "--virtual-time-budget=2000", "--dump-dom",
                        "file://" + os.path.abspath(page)], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom failed: %s" % p.stderr[-500:])
    t = Tags()
    t.feed(p.stdout)
    return t


def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            with open(os.path.join(root, f), "rb") as fp:
                out[os.path.relpath(os.path.join(root, f), d)] = fp.read()
    return out


def cells_drawn(svg):
    return len(re.findall(r"<(path|polygon|rect)\b", svg))


def case_values(exe, tmp):
    pd, out = os.path.join(tmp, "p"), os.path.join(tmp, "r")
    subprocess.check_call([sys.executable, os.path.join(HERE, "gen_synthetic_probe.py"), pd])
    rc, _, err = run([exe, "report", pd, "--out", out, "--quiet"])
    check(rc == 0, "report failed: %s" % err)
    rows = list(csv.DictReader(open(os.path.join(out, "phase.csv"))))
    configs = list(csv.DictReader(open(os.path.join(pd, "configs.csv"))))
    check(len(rows) == len(configs) == 168, "phase.csv has %d rows" % len(rows))
    stddevs = sorted({float(r["stddev"]) for r in configs})
    n_parts = 0
    for r in rows:
        act, d, sd = r["activation"], int(r["depth"]), float(r["stddev"])
        sw2, q1 = float(r["sigma_w2"]), float(r["q1"])
        g, a = gen.mean_field(act, sw2, 0.0, q1, d)
        check(abs(float(r["predicted_log10_grad_ratio"]) - g) < 1e-6,
              "config %s: predicted grad %s vs %g" % (r["config"], r["predicted_log10_grad_ratio"], g))
        check(abs(float(r["predicted_log10_act_ratio"]) - a) < 1e-6,
              "config %s: predicted act %s vs %g" % (r["config"], r["predicted_log10_act_ratio"], a))
        off = 1.0 if sd == stddevs[0] and d >= 4 else 0.0
        check(abs(float(r["grad_gap"]) - off) < 1e-6 and abs(float(r["act_gap"]) - off) < 1e-6,
              "config %s: gaps %s %s, want %g" % (r["config"], r["grad_gap"], r["act_gap"], off))
        check(r["parts"] == ("1" if off else "0"), "config %s: parts %s" % (r["config"], r["parts"]))
        n_parts += r["parts"] == "1"
        if act == "relu":  # chi_1 = sigma_w2 / 2, and the closed form of the prediction
            check(abs(float(r["chi1"]) - sw2 / 2) <= 1e-9 * sw2, "relu chi1 %s vs %g" % (r["chi1"], sw2 / 2))
            check(abs(float(r["predicted_log10_grad_ratio"]) - (d - 1) / 2 * math.log10(sw2 / 2)) < 1e-7,
                  "relu closed form")
    check(n_parts == 2 * 3 * 2, "%d configurations part from theory, want 12" % n_parts)
    md = open(os.path.join(out, "summary.md")).read()
    check("in 3 of 42 cells (relu" in md and "in 3 of 42 cells (tanh" in md, "summary's disagreement counts")
    check("| relu | adam | 30 | 12 | 0 | 0 |" in md, "forecast counts per optimizer")
    page = open(os.path.join(out, "index.html")).read()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    # 2 heatmaps per activation + a forecast map per (activation, optimizer)
    check(len(svgs) == 2 * 2 + 2 * 2, "%d svg figures, want 8" % len(svgs))
    check(all(cells_drawn(s) >= 42 for s in svgs[:2]), "heatmaps without cells")
    check("critical: chi" in page and "predicted -1" in page, "theory lines in the legend")
    t = dom(os.path.join(out, "index.html"), tmp)
    check(t.tags.get("svg", 0) == 8 and not t.tags.get("script"), "DOM: %d svg, scripts %s" %
          (t.tags.get("svg", 0), t.tags.get("script")))
    return pd, out


def case_single_depth(exe, tmp):
    pd, out = os.path.join(tmp, "p1"), os.path.join(tmp, "r1")
    subprocess.check_call([sys.executable, os.path.join(HERE, "gen_synthetic_probe.py"), pd, "--depths", "3",
                           "--activations", "relu"])
    rc, _, err = run([exe, "report", pd, "--out", out, "--quiet"])
    check(rc == 0, "single-depth report failed: %s" % err)
    page = open(os.path.join(out, "index.html")).read()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    check(len(svgs) == 4, "single depth: %d line plots, want 4 (grad, act, update, forecast)" % len(svgs))
    check("with boxxyerror" not in page and "A grid with a single depth" in page, "single depth: lines, not heatmaps")


def case_hostile(exe, tmp):
    pd, out, clean_out = os.path.join(tmp, "ph"), os.path.join(tmp, "rh"), os.path.join(tmp, "rc")
    cwd = tempfile.mkdtemp(dir=tmp)
    for f in ("/tmp/pwn", "/tmp/pwn2"):
        if os.path.exists(f):
            os.remove(f)
    subprocess.check_call([sys.executable, os.path.join(HERE, "gen_synthetic_probe.py"), pd, "--hostile",
                           "--depths", "1,2,3", "--stddevs", "0.01,0.1,1"])
    p = subprocess.run([exe, "report", pd, "--out", out, "--quiet"], capture_output=True, text=True, cwd=cwd)
    check(p.returncode == 0, "hostile report failed: %s" % p.stderr)
    page = open(os.path.join(out, "index.html")).read()
    check("&lt;script&gt;document.title=&#39;pwn&#39;&lt;/script&gt;" in page, "the reason's script shown escaped")
    check("&lt;img src=x onerror=alert(1)&gt;" in page, "the net's markup shown escaped")
    check("&lt;b&gt;bold&lt;/b&gt;" in page, "the rule's markup shown escaped")
    check("<script" not in page and "<img" not in page and "<b>" not in page, "raw markup from the input in the page")
    check(not os.path.exists("/tmp/pwn") and not os.path.exists("/tmp/pwn2") and not os.listdir(cwd),
          "a command ran")
    t = dom(os.path.join(out, "index.html"), tmp)
    check(t.title == "initbench probe report", "title changed: %r" % t.title)
    check(not t.tags.get("script") and not t.tags.get("img") and not t.handlers, "foreign elements: %s %s" %
          (t.tags, t.handlers))
    rows = list(csv.reader(open(os.path.join(out, "phase.csv"))))
    check(len({len(r) for r in rows}) == 1, "phase.csv not rectangular")
    check(any(gen.HOSTILE in r for r in rows), "the hostile reason round-trips through phase.csv")


def case_bad_input(exe, tmp, good_dir, good_out):
    def mutate(name, fn):
        d = os.path.join(tmp, "bad_" + name)
        shutil.copytree(good_dir, d)
        fn(d)
        return d

    def edit_csv(col, value, line=5):
        def fn(d):
            path = os.path.join(d, "configs.csv")
            rows = list(csv.reader(open(path)))
            rows[line - 1][rows[0].index(col)] = value
            with open(path, "w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(rows)
        return fn

    def rewrite(name, text):
        def fn(d):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return fn

    cases = [
        ("q1_word", edit_csv("q1", "abc"), "configs.csv: line 5: field 'q1'"),
        ("q1_negative", edit_csv("q1", "-1"), "configs.csv: line 5: field 'q1'"),
        ("depth_zero", edit_csv("depth", "0"), "configs.csv: line 5: field 'depth'"),
        ("activation", edit_csv("activation", "gelu"), "configs.csv: line 5: field 'activation'"),
        ("forecast", edit_csv("forecast", "<maybe>"), "configs.csv: line 5: field 'forecast'"),
        ("stddev_inf", edit_csv("stddev", "inf"), "configs.csv: line 5: field 'stddev'"),
        ("config_twice", edit_csv("config", "0"), "field 'config'"),
        ("ragged", lambda d: open(os.path.join(d, "configs.csv"), "a").write("1,2,3\n"), "configs.csv: line 170"),
        ("no_column", lambda d: rewrite("configs.csv", open(os.path.join(d, "configs.csv")).read()
                                        .replace(",q1,", ",qq,", 1))(d), "no column 'q1'"),
        ("quote", lambda d: open(os.path.join(d, "configs.csv"), "a").write('"unclosed\n'), "configs.csv: line 170"),
        ("format", rewrite("probe.json", '{"format": "initbench-sweep/1"}'), "field 'format'"),
        ("json", rewrite("probe.json", "{not json"), "probe.json: not a JSON object"),
        ("no_configs", lambda d: os.remove(os.path.join(d, "configs.csv")), "configs.csv"),
    ]
    before = tree(good_out)
    for name, fn, want in cases:
        d = mutate(name, fn)
        fresh = os.path.join(tmp, "out_" + name)
        rc, _, err = run([exe, "report", d, "--out", fresh, "--quiet"])
        check(rc == 2, "%s: exit %d, want 2 (%s)" % (name, rc, err.strip()))
        check(want in err, "%s: message %r lacks %r" % (name, err.strip(), want))
        check(not os.path.exists(fresh), "%s: the new --out directory was created" % name)
        rc, _, err = run([exe, "report", d, "--out", good_out, "--quiet"])
        check(rc == 2 and tree(good_out) == before, "%s: an earlier report was touched" % name)
    rc, _, err = run([exe, "report", good_dir, good_dir, "--quiet"])
    check(rc == 2 and "reported alone" in err, "two probe directories: %d %s" % (rc, err))


def main():
    exe = os.path.abspath(sys.argv[1])
    if not shutil.which("gnuplot"):
        print("SKIP: gnuplot not installed (apt-get install gnuplot-nox)")
        return 77
    if not chromium():
        print("SKIP: chromium not installed (apt-get install chromium)")
        return 77
    tmp = tempfile.mkdtemp(prefix="probe_report_")
    try:
        pd, out = case_values(exe, tmp)
        case_single_depth(exe, tmp)
        case_hostile(exe, tmp)
        case_bad_input(exe, tmp, pd, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("probe_report: %s" % ("%d failures" % len(FAILS) if FAILS else "ok"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
