#!/usr/bin/env python3
"""A hostile sweep directory (registered in tests/report.cmake as security_hostile_sweep).

usage: test_hostile.py INITBENCH        (IB_HOSTILE_ONLY=REGEX: only the fields whose "file field" match)
Exit 0 pass, 1 fail, 77 skip (saying why: no gnuplot, no chromium, no MNIST data).

A real tiny sweep is made with the binary. Then, for each string field of each file that `report`,
`sweep status` and `sweep collect` read (sweep.json, run.json, curve.csv and stats.csv headers and
names, tasks/NNNN.json, slurm/submissions.json), a copy of the sweep gets that field set to a hostile
value: quotes, backticks, $(), newlines, <script>, <img onerror>, commas, with `touch` of marker
files at absolute paths. The three commands run on the copy (working directory: a scratch
directory) and each must either exit 0 (status: 0 or 3) or exit 2 with a message naming the file and
the field. Whatever it does: no marker file ever appears; a page written holds no element and no
attribute the program does not write (Python's parser on every page, headless Chromium's DOM on every
page the hostile value reached); every CSV written parses with the header's column count on every
row. A last case puts a quote and a backtick into the sweep's path and the --out path: the plots are
still drawn. Prints a table of (file, field, outcome)."""
import csv, html.parser, io, json, os, re, shutil, subprocess, sys, tempfile

TIMEOUT = 120


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def skip(msg):
    print("SKIP:", msg)
    sys.exit(77)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(cmd, cwd):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT, errors="replace")
    return p.returncode, p.stdout, p.stderr


def chromium_exe():
    for c in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(c)
        if p:
            return p
    return None


# ---- the pages: what the program writes ----

class Tags(html.parser.HTMLParser):
    """Every start tag by name (lower case), with every attribute name; the page's <title> text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.count, self.attrs, self.title, self._in_title = {}, set(), "", False

    def handle_starttag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1
        self.attrs.update(a for a, _ in attrs)
        self._in_title = tag == "title" and self.count[tag] == 1  # the page's; the SVGs have their own

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def tags_of(text):
    t = Tags()
    t.feed(text)
    t.close()
    return t


def chromium_dom(page, scratch):
    prof = tempfile.mkdtemp(dir=scratch)
    cmd = [chromium_exe(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=" + prof, "--virtual-time-budget=2000", "--dump-dom",
           "file://" + os.path.abspath(page)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, errors="replace")
    shutil.rmtree(prof, ignore_errors=True)
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom %s: exit %d %s" % (page, p.returncode,
                                                                                            p.stderr[-500:]))
    return p.stdout


def check_dom(what, text, clean):
    """No element or attribute the clean page (read the same way) does not have, no script, no on*
    handler, the title unchanged (a script that ran would change it)."""
    t = tags_of(text)
    new_tags = set(t.count) - set(clean.count)
    check(not new_tags, "%s: elements the program does not write: %s" % (what, sorted(new_tags)))
    for bad in ("script", "img", "iframe", "object", "embed"):
        check(bad not in t.count, "%s: a <%s> element" % (what, bad))
    handlers = [a for a in t.attrs if a.startswith("on")]
    check(not handlers, "%s: event-handler attributes %s" % (what, handlers))
    new_attrs = t.attrs - clean.attrs
    check(not new_attrs, "%s: attributes the program does not write: %s" % (what, sorted(new_attrs)))
    check(t.title.strip() == "initbench report", "%s: title changed to %r" % (what, t.title))
    return t


def check_csvs(what, d):
    n = 0
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not f.endswith(".csv") or not os.path.isfile(os.path.join(d, f)):
            continue
        with open(os.path.join(d, f), newline="", errors="replace") as fp:
            rows = list(csv.reader(fp, strict=True))
        check(rows, "%s: %s is empty" % (what, f))
        bad = [i for i, r in enumerate(rows) if len(r) != len(rows[0])]
        check(not bad, "%s: %s rows %s do not have the header's %d columns" % (what, f, bad[:5], len(rows[0])))
        n += 1
    return n


# ---- the fields ----

def string_paths(node, path=()):
    """Paths of the string leaves of a JSON document; list indices become '*' (every element)."""
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from string_paths(v, path + (k,))
    elif isinstance(node, list):
        seen = set()
        for v in node:
            for p in string_paths(v, path + ("*",)):
                if p not in seen:
                    seen.add(p)
                    yield p


def set_path(node, path, value, idx=0):
    """Set every string at path to value (elements of a list get their index appended, so that
    names stay distinct). Returns how many were set."""
    k = path[0]
    if len(path) == 1:
        if k == "*":
            for i in range(len(node)):
                if isinstance(node[i], str):
                    node[i] = value + str(i)
            return len(node)
        if isinstance(node, dict) and isinstance(node.get(k), str):
            node[k] = value
            return 1
        return 0
    if k == "*":
        return sum(set_path(v, path[1:], value + str(i)) for i, v in enumerate(node) if isinstance(v, (dict, list)))
    return set_path(node[k], path[1:], value) if isinstance(node, dict) and k in node else 0


def csv_rewrite(path, fn):
    with open(path, newline="") as fp:
        rows = list(csv.reader(fp))
    rows = fn(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    with open(path, "w", newline="") as fp:
        fp.write(buf.getvalue())


SUBMISSIONS = {
    "options": {"partition": "debug", "account": "proj", "time": "0:10:00", "mem": "4G", "gres": "gpu:1",
                "cpus_per_task": 1, "array_throttle": 0, "tasks_per_job": 1, "signal_lead": 120,
                "max_array_size": 1000, "sbatch_args": ["--qos=low"]},
    "submissions": [{"job_id": "4100", "list": "slurm/sub-001.tasks", "array_tasks": 2,
                     "submitted_at": "2026-01-01T00:00:00Z",
                     "sbatch": ["sbatch", "--parsable", "--array=0-1", "--job-name=ib-sweep", "--qos=low",
                                "slurm/array.sbatch", "slurm/sub-001.tasks"]}],
    "collect_jobs": [{"job_id": "4101", "dependency": "afterany:4100"}],
}


def make_base(exe, tmp):
    base = os.path.join(tmp, "base")
    rc, o, e = run([exe, "sweep", "--preset", "quick", "--stddevs", "1e-3,0.1", "--repeats", "1", "--steps", "4",
                    "--eval-every", "2", "--stats-every", "2", "--train-size", "300", "--test-size", "100",
                    "--jobs", "1", "--out", base], tmp)
    check(rc == 0, "sweep failed (%d): %s" % (rc, e[-2000:]))
    shutil.rmtree(os.path.join(base, "report"))
    for t in json.load(open(os.path.join(base, "sweep.json")))["tasks"]:  # not read by the commands: 13 MB a copy
        for f in ("params.safetensors", "hist.csv"):
            os.remove(os.path.join(base, t["dir"], f))
    os.makedirs(os.path.join(base, "slurm"))
    with open(os.path.join(base, "slurm", "submissions.json"), "w") as fp:
        json.dump(SUBMISSIONS, fp, indent="\t")
    with open(os.path.join(base, "slurm", "sub-001.tasks"), "w") as fp:
        fp.write("0\n1\n")
    return base


def variants(base):
    """(file, field, mutate(copy_dir, value)) for every string field of every file the commands read."""
    m = json.load(open(os.path.join(base, "sweep.json")))
    task_dirs = [t["dir"] for t in m["tasks"]]
    out = []

    def json_variant(rel_files, path, extra=None):
        def mutate(d, value):
            for rel in rel_files:
                p = os.path.join(d, rel)
                doc = json.load(open(p))
                if path[-1] == "reason" and isinstance(doc, dict) and "reason" not in doc:
                    doc["reason"] = ""  # read when present: give it one
                if not set_path(doc, path, value):
                    fail("%s: no field %s" % (rel, ".".join(path)))
                with open(p, "w") as fp:
                    json.dump(doc, fp, indent="\t")
            if extra:
                extra(d, value)
        return mutate

    # sweep.json: every string (preset, seeds, config: net, net_given, init scheme, optimizer name ...,
    # tasks: seed, dir, the train argv)
    def move_run_dirs(d, value):  # the run directories renamed too, so the hostile names are found
        for i, rel in enumerate(task_dirs):
            new = value + str(i)
            if "\0" not in new and not new.startswith("/") and ".." not in new.split("/"):
                os.renames(os.path.join(d, rel), os.path.join(d, new))
    for p in string_paths(m):
        out.append(("sweep.json", ".".join(p), json_variant(["sweep.json"],
                                                           p, move_run_dirs if p == ("tasks", "*", "dir") else None)))
    # run.json of every run: every string, and "reason"
    runs = [os.path.join(t, "run.json") for t in task_dirs]
    rj = json.load(open(os.path.join(base, runs[0])))
    for p in list(string_paths(rj)) + [("reason",)]:
        out.append(("run.json", ".".join(p), json_variant(runs, p)))
    # tasks/NNNN.json: every string, and "reason"; task 0 without run.json, so that its record is
    # what the readers go by
    recs = ["tasks/%04d.json" % i for i in range(len(task_dirs))]
    tr = json.load(open(os.path.join(base, recs[0])))

    def drop_run_json(d, value):
        os.remove(os.path.join(d, runs[0]))
    for p in list(string_paths(tr)) + [("reason",)]:
        out.append(("tasks/NNNN.json", ".".join(p), json_variant(recs, p, drop_run_json)))
    # slurm/submissions.json
    for p in string_paths(SUBMISSIONS):
        out.append(("slurm/submissions.json", ".".join(p), json_variant(["slurm/submissions.json"], p)))
    # curve.csv and stats.csv: each header name, and the names in stats.csv's layer and tensor columns
    for name in ("curve.csv", "stats.csv"):
        with open(os.path.join(base, task_dirs[0], name), newline="") as fp:
            rows = list(csv.reader(fp))
        for col, h in enumerate(rows[0]):
            def header(d, value, name=name, col=col):
                for t in task_dirs:
                    csv_rewrite(os.path.join(d, t, name), lambda r: [r[0][:col] + [value] + r[0][col + 1:]] + r[1:])
            out.append((name, "header " + h, header))
        if name == "stats.csv":
            for colname in ("layer", "tensor"):
                col = rows[0].index(colname)
                for v in sorted({r[col] for r in rows[1:]}):
                    def names(d, value, name=name, col=col, v=v):
                        for t in task_dirs:
                            csv_rewrite(os.path.join(d, t, name),
                                        lambda r: r[:1] + [x[:col] + [value if x[col] == v else x[col]] + x[col + 1:]
                                                           for x in r[1:]])
                    out.append((name, "%s %s" % (colname, v), names))
    return out


def hostile_value(mk, tok):
    return ("%s'\"`touch %s/a`$(touch %s/b);touch %s/c\n<script>document.title='pwn'</script>"
            "<img src=x onerror=\"document.title='pwn'\">,x\r\ny" % (tok, mk, mk, mk))


def refused_well(file, field, err):
    """An exit 2 names the file and the field."""
    fname = {"tasks/NNNN.json": "tasks/", "slurm/submissions.json": "submissions.json"}.get(file, file)
    words = [w for w in re.split(r"[.* ]", field) if w and w != "header"]
    return fname in err and (any(w in err for w in words) or "header" in field and ("header" in err or
                                                                                   "column" in err))


def run_commands(exe, d, scratch, mk, tok, clean, what):
    """report, sweep status, sweep collect on d: the outcome per command, checked."""
    outcome = []
    rep = os.path.join(scratch, "rep-" + tok[2:])  # not the token: the page shows this path
    pages = []
    for name, cmd, ok_codes, out_dir in (
            ("report", [exe, "report", d, "--out", rep], (0,), rep),
            ("status", [exe, "sweep", "status", d], (0, 3), None),
            ("collect", [exe, "sweep", "collect", d], (0,), os.path.join(d, "report"))):
        if out_dir and name == "collect":
            shutil.rmtree(out_dir, ignore_errors=True)
        rc, o, e = run(cmd, scratch)
        markers = os.listdir(mk)
        check(not markers, "%s: %s ran a command: marker files %s" % (what, name, markers))
        check(rc in ok_codes or rc == 2, "%s: %s exit %d: %s" % (what, name, rc, e[-800:]))
        if rc == 2:
            check(refused_well(what[0], what[1], e), "%s: %s exit 2 without naming file and field: %r" %
                  (what, name, e.strip()[:400]))
            outcome.append("%s 2" % name)
            continue
        if name == "collect" and "report not written" in e:
            check(refused_well(what[0], what[1], e), "%s: collect's report refused without naming file and field: %r"
                  % (what, e.strip()[:400]))
            outcome.append("collect 0 (report: 2)")
        else:
            outcome.append("%s %d" % (name, rc))
        if out_dir and os.path.exists(os.path.join(out_dir, "index.html")):
            pages.append((name, os.path.join(out_dir, "index.html")))
        if out_dir:
            check_csvs("%s: %s" % (what, name), out_dir)
    check_csvs("%s: summary.csv" % (what,), d)
    chromed = 0
    for name, page in pages:
        text = open(page, errors="replace").read()
        check_dom("%s: %s page (parsed)" % (what, name), text, clean["parsed"])
        if tok in text:  # the hostile value reached the page: as the browser builds it
            check_dom("%s: %s page (Chromium DOM)" % (what, name), chromium_dom(page, scratch), clean["dom"])
            chromed += 1
    shutil.rmtree(rep, ignore_errors=True)
    return ", ".join(outcome) + ("; page checked in Chromium" if chromed else "")


def case_paths(exe, base, tmp, scratch, mk, clean):
    """A sweep path and an --out path with a quote and a backtick: the plots are drawn."""
    d = os.path.join(tmp, "sw'q`touch %s/p`\"" % mk)
    shutil.copytree(base, d, symlinks=True)
    out = os.path.join(tmp, "out'`touch %s/o`\"x" % mk)
    rc, o, e = run([exe, "report", d, "--out", out, "--format", "png"], scratch)
    check(rc == 0, "report on a quoted path: exit %d: %s" % (rc, e[-800:]))
    check(not os.listdir(mk), "quoted path: marker files %s" % os.listdir(mk))
    page = open(os.path.join(out, "index.html")).read()
    svgs = page.count("<svg")
    check(svgs >= 8 and "failed: gnuplot" not in page, "quoted path: %d plots drawn (%s)" % (svgs,
                                                                                              e[-400:]))
    check(os.path.exists(os.path.join(out, "figures", "s0_original.png")), "quoted path: figures/ kept")
    check(not [f for f in os.listdir(out) if f.startswith(".report-tmp")], "quoted path: temporary directory left")
    check_dom("quoted path page (Chromium DOM)", chromium_dom(os.path.join(out, "index.html"), scratch), clean["dom"])
    check_csvs("quoted path", out)
    for cmd, codes in (([exe, "sweep", "status", d], (0,)), ([exe, "sweep", "collect", d], (0,))):
        rc, o, e = run(cmd, scratch)
        check(rc in codes, "%s on a quoted path: exit %d: %s" % (cmd[2], rc, e[-800:]))
        check(not os.listdir(mk), "quoted path: marker files %s" % os.listdir(mk))
    page = open(os.path.join(d, "report", "index.html")).read()
    check(page.count("<svg") >= 8, "collect on a quoted path: plots drawn")
    return "report 0 (%d plots, png kept), status 0, collect 0" % svgs


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    exe = os.path.abspath(sys.argv[1])
    if not shutil.which("gnuplot"):
        skip("gnuplot not installed (apt-get install gnuplot-nox)")
    if not chromium_exe():
        skip("chromium not installed (apt-get install chromium)")
    tmp = tempfile.mkdtemp(prefix="ib_hostile_")
    mk = tempfile.mkdtemp(prefix="ibm")  # short: the absolute marker paths go into the hostile names
    try:
        scratch = os.path.join(tmp, "cwd")
        os.makedirs(scratch)
        if run([exe, "data", "verify", "--dataset", "mnist"], scratch)[0] != 0:
            skip("MNIST not present (run: initbench data fetch)")
        base = make_base(exe, tmp)
        rc, o, e = run([exe, "report", base, "--out", os.path.join(tmp, "clean")], scratch)
        check(rc == 0, "report on the clean sweep: %s" % e[-800:])
        clean_page = os.path.join(tmp, "clean", "index.html")
        clean = {"parsed": tags_of(open(clean_page).read()), "dom": tags_of(chromium_dom(clean_page, scratch))}
        check("script" not in clean["dom"].count and clean["dom"].count.get("svg", 0) >= 8,
              "the clean page: %s" % clean["dom"].count)
        table = []
        vs = variants(base)
        only = os.environ.get("IB_HOSTILE_ONLY")  # a regex on "file field", to rerun a few
        for k, (file, field, mutate) in enumerate(vs):
            if only and not re.search(only, file + " " + field):
                continue
            tok = "HX%03d" % k
            d = os.path.join(tmp, "v%03d" % k)
            shutil.copytree(base, d, symlinks=True)
            mutate(d, hostile_value(mk, tok))
            table.append((file, field, run_commands(exe, d, scratch, mk, tok, clean, (file, field))))
            shutil.rmtree(d)
            check(not [f for f in os.listdir(scratch) if not f.startswith("rep-")], "files in the working directory: %s"
                  % os.listdir(scratch))
        table.append(("(paths)", "sweep dir and --out with ' ` \"", case_paths(exe, base, tmp, scratch, mk, clean)))
        w = max(len(f) for f, _, _ in table), max(len(f) for _, f, _ in table)
        print("%-*s  %-*s  %s" % (w[0], "file", w[1], "field", "outcome (exit codes)"))
        for f, fld, o in table:
            print("%-*s  %-*s  %s" % (w[0], f, w[1], fld, o))
        print("hostile: ok (%d fields, no marker file, no foreign element, every CSV rectangular)" % (len(table) - 1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(mk, ignore_errors=True)


if __name__ == "__main__":
    main()
