#!/usr/bin/env bash
# End-to-end tests of the initbench command on the real MNIST files.
# usage: test_cli.sh INITBENCH CASE   (exit 77 = skipped, with the reason printed)
set -uo pipefail
ib=$1 case=$2 extra=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok()   { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
finish() { echo "$passes passed, $fails failed"; [ "$fails" -eq 0 ]; exit $?; }
need_data() {
  if ! "$ib" data verify --dataset mnist >/dev/null 2>&1; then
    echo "skip: MNIST not present (run: initbench data fetch)"; exit 77
  fi
}
# the final columns of curve.csv without elapsed time (which differs run to run)
curve_values() { cut -d, -f1-5 "$1"; }
small="--train-size 2000 --test-size 500 --eval-batch 250"

case $case in
determinism)
  need_data
  for t in 1 2; do
    "$ib" train --stddev 0.1 --steps 30 --eval-every 10 $small --threads $t --seed 7 \
      --progress none --out "$tmp/t$t" || fail "train with $t threads"
  done
  cmp -s "$tmp/t1/params.safetensors" "$tmp/t2/params.safetensors" \
    && ok "1 and 2 threads: identical parameters" || fail "1 and 2 threads: parameters differ"
  [ "$(curve_values "$tmp/t1/curve.csv")" = "$(curve_values "$tmp/t2/curve.csv")" ] \
    && ok "1 and 2 threads: identical curves" || fail "curves differ between thread counts"
  "$ib" train --stddev 0.1 --steps 30 --eval-every 10 $small --threads 2 --seed 8 --progress none --out "$tmp/s8"
  cmp -s "$tmp/t1/params.safetensors" "$tmp/s8/params.safetensors" \
    && fail "another seed gave the same parameters" || ok "another seed, other parameters"
  "$ib" train --stddev 0.1 --steps 30 --eval-every 10 $small --threads 2 --seed 7 --optimizer adam-pt \
    --progress none --out "$tmp/pt"
  cmp -s "$tmp/t1/params.safetensors" "$tmp/pt/params.safetensors" \
    && fail "adam-pt equals adam (TF form)" || ok "adam-pt differs from the TF form"
  finish ;;
mnist_accuracy)
  need_data
  "$ib" train --stddev 0.1 --steps 300 --eval-every 300 --progress log --out "$tmp/run" || fail "train"
  acc=$(tail -n1 "$tmp/run/curve.csv" | cut -d, -f2)
  first=$(sed -n 2p "$tmp/run/curve.csv" | cut -d, -f2)
  echo "test accuracy: step 0 $first, step 300 $acc"
  awk -v a="$acc" 'BEGIN{exit !(a > 0.9)}' && ok "accuracy $acc > 0.9 after 300 steps" || fail "accuracy $acc <= 0.9"
  awk -v a="$first" 'BEGIN{exit !(a < 0.3)}' && ok "step-0 accuracy $first is near chance" || fail "step 0 accuracy $first"
  head -1 "$tmp/run/curve.csv" | grep -q '^step,test_accuracy,test_loss,train_loss,' && ok "curve.csv header" || fail "curve header"
  grep -q '"status":[[:space:]]*"complete"' "$tmp/run/run.json" && ok "run.json complete" || fail "run.json status"
  [ -s "$tmp/run/params.safetensors" ] && ok "params written" || fail "params.safetensors missing"
  ls "$tmp/run" | grep -q '\.tmp\.' && fail "temporary files left" || ok "no temporary files left"
  finish ;;
bad_values)
  # each: exit 2, one message naming the flag, and no output directory
  check_bad() {
    local want=$1; shift
    local out=$tmp/bad$RANDOM
    # bounded: a value wrongly accepted would otherwise start a full training run
    timeout 30 "$ib" "$@" --out "$out" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$want" "$tmp/stderr" && [ ! -e "$out" ]; then ok "$* -> $(head -c 120 "$tmp/stderr")"
    else fail "$* -> rc $rc, stderr: $(cat "$tmp/stderr"), out exists: $([ -e "$out" ] && echo yes || echo no)"; fi
  }
  check_bad "--stddev" train --stddev -1
  check_bad "--stddev" train --stddev nan
  check_bad "--stddev" train --stddev 0
  check_bad "--steps" train --steps abc
  check_bad "--steps" train --steps 1.5
  check_bad "--batch" train --batch 0
  check_bad "--lr" train --lr inf
  check_bad "--beta2" train --beta2 1
  check_bad "--eps" train --eps 0
  check_bad "--seed" train --seed -1
  check_bad "unknown layer" train --net conv5x5:32,bogus,fc:10
  check_bad "must end with the classifier" train --net conv5x5:32,relu
  check_bad "0.001 <= KEEP <= 1" train --net fc:20,dropout:1e-95,fc:10  # found by fuzz_spec
  check_bad "--optimizer" train --optimizer adamw
  check_bad "--nesterov" train --nesterov
  check_bad "--tf32 applies only to --backend cuda" train --tf32
  check_bad "--beta1" train --optimizer sgd --beta1 0.5
  check_bad "unknown option" train --stdev 0.1
  check_bad "given more than once" train --steps 1 --steps 2
  check_bad "--stddev" train --init he_normal --stddev 0.1
  check_bad "--stddevs" sweep --stddevs 0.1,-3
  check_bad "--stddevs" sweep --stddevs 0.1,0.1
  check_bad "--repeats" sweep --repeats 0
  if "$ib" data verify --dataset mnist >/dev/null 2>&1; then
    check_bad "training images" train --train-offset 50000 --train-size 20000
    check_bad "--test-size" train --test-size 20000
    check_bad "classes" train --net conv5x5:4,fc:7
  fi
  "$ib" train --stddev 0.1 >/dev/null 2>"$tmp/stderr"; rc=$?
  [ $rc -eq 2 ] && grep -q -- "--out" "$tmp/stderr" && ok "missing --out" || fail "missing --out: rc $rc"
  "$ib" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command exits 2" || fail "unknown command"
  "$ib" --version | grep -q '^initbench ' && ok "--version" || fail "--version"
  "$ib" train --help | grep -q -- '--stddev' && ok "train --help" || fail "train --help"
  finish ;;
sweep)
  need_data
  common="--stddevs 0.01,0.1 --repeats 2 --steps 20 --eval-every 10 $small --jobs 2"
  "$ib" sweep $common --out "$tmp/sw" >"$tmp/out1" 2>"$tmp/err1" || fail "sweep exit $?"
  cat "$tmp/out1"
  n=$(ls -d "$tmp"/sw/runs/*/ | wc -l)
  [ "$n" -eq 4 ] && ok "4 run directories" || fail "$n run directories"
  complete=$(grep -l '"status":[[:space:]]*"complete"' "$tmp"/sw/runs/*/run.json | wc -l)
  [ "$complete" -eq 4 ] && ok "4 runs complete" || fail "$complete runs complete"
  grep -Eq '^0\.1 +2/2' "$tmp/out1" && ok "summary row for 0.1" || fail "summary table"
  # repeat r has seed base + r for every stddev
  grep -q '"seed":[[:space:]]*"2"' "$tmp"/sw/runs/0001-w0.01-r1/run.json && ok "repeat 1 seeded 2" || fail "seeds"
  "$ib" sweep $common --out "$tmp/sw" >"$tmp/out2" 2>"$tmp/err2" || fail "resume exit"
  grep -q '4 already finished' "$tmp/err2" && ok "rerun skips finished runs" || fail "rerun: $(cat "$tmp/err2")"
  rm "$tmp/sw/runs/0002-w0.1-r0/run.json"
  "$ib" sweep $common --out "$tmp/sw" >"$tmp/out3" 2>"$tmp/err3" || fail "resume exit"
  grep -q '3 already finished' "$tmp/err3" && [ -f "$tmp/sw/runs/0002-w0.1-r0/run.json" ] \
    && ok "an unfinished run is redone" || fail "resume: $(cat "$tmp/err3")"
  # two sweeps on one directory: the second is refused while the first runs
  "$ib" sweep $common --seed 9 --out "$tmp/sw2" >/dev/null 2>&1 & pid=$!
  for _ in $(seq 100); do [ -s "$tmp/sw2/.lock" ] && break; sleep 0.05; done
  "$ib" sweep $common --seed 9 --out "$tmp/sw2" >/dev/null 2>"$tmp/err5"; rc=$?
  [ $rc -eq 2 ] && grep -q "in use by another initbench sweep (host [^,]*, pid $pid)" "$tmp/err5" \
    && ok "a second sweep on the same directory is refused" || fail "second sweep: rc $rc $(cat "$tmp/err5")"
  wait $pid || fail "first sweep"
  "$ib" sweep --stddevs 0.01,0.1 --repeats 2 --steps 30 $small --out "$tmp/sw" >/dev/null 2>"$tmp/err4"
  rc=$?
  [ $rc -eq 2 ] && grep -q 'different settings' "$tmp/err4" && ok "other settings on the same directory refused" \
    || fail "changed settings: rc $rc $(cat "$tmp/err4")"
  finish ;;
diverged)
  need_data
  "$ib" train --stddev 1.0 --optimizer sgd --lr 1000 --steps 50 --eval-every 25 $small --progress none \
    --out "$tmp/div" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && ok "a diverged run is not a crash" || fail "rc $rc"
  grep -q '"status":[[:space:]]*"diverged"' "$tmp/div/run.json" && ok "status diverged" || fail "status: $(grep status "$tmp/div/run.json")"
  grep -q '"diverged_step"' "$tmp/div/run.json" && ok "diverged step recorded" || fail "no diverged_step"
  grep -q '"first_nonfinite":[[:space:]]*"output of fc2' "$tmp/div/run.json" && ok "first non-finite tensor named" \
    || fail "first_nonfinite: $(grep first_nonfinite "$tmp/div/run.json")"
  finish ;;
resume)
  need_data
  args="--stddev 0.05 --steps 60 --eval-every 20 --checkpoint-every 10 --stats-every 20 $small --seed 3 --progress none"
  "$ib" train $args --out "$tmp/whole" || fail "uninterrupted run"
  # SIGTERM: checkpoint at the next step boundary, exit 75, rerun resumes
  "$ib" train $args --out "$tmp/term" & pid=$!
  for _ in $(seq 100); do [ -f "$tmp/term/curve.csv" ] && break; sleep 0.1; done  # training has begun
  sleep 0.5; kill -TERM $pid; wait $pid; rc=$?
  if [ $rc -eq 75 ]; then
    ok "SIGTERM: exit 75 with a checkpoint"
    grep -q '"status":[[:space:]]*"interrupted"' "$tmp/term/run.json" && ok "status interrupted" || fail "status after SIGTERM"
    [ -f "$tmp/term/checkpoint.safetensors" ] && ok "checkpoint present" || fail "no checkpoint"
  else
    fail "SIGTERM run exited $rc (finished before the signal?)"
  fi
  "$ib" train $args --out "$tmp/term" 2>"$tmp/err" || fail "resume after SIGTERM"
  grep -q 'resuming' "$tmp/err" || [ $rc -ne 75 ] && ok "rerun resumed" || fail "rerun did not resume: $(cat "$tmp/err")"
  # SIGKILL at random points (fixed seed, so a failure replays): a rerun finishes from the last
  # checkpoint; several kills of the same run directory in a row
  RANDOM=20261129
  for k in 1 2 3 4; do
    d="$tmp/kill-random$k"
    for again in 1 2; do
      tenths=$((RANDOM % 30)); delay=$((tenths / 10)).$((tenths % 10))  # 0.0 .. 2.9 s
      "$ib" train $args --out "$d" 2>/dev/null & pid=$!
      sleep "$delay"; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
      echo "killed run $k at ${delay} s (attempt $again)"
    done
    "$ib" train $args --out "$d" 2>/dev/null || fail "resume after SIGKILLs of run $k"
  done
  # SIGKILL in the middle of writing each kind of file: half the bytes in the temporary file,
  # before the rename (IB_FAULT_KILL_WRITING, a hook in the atomic writer). What is there must be
  # the previous complete version; the rerun removes the temporary file and finishes.
  for target in checkpoint.safetensors:1 checkpoint.safetensors:3 curve.csv:2 stats.csv:2 run.json:1 run.json:2 \
                params.safetensors:1; do
    d="$tmp/kill-writing-${target/:/-}"
    IB_FAULT_KILL_WRITING=$target "$ib" train $args --out "$d" 2>/dev/null; rc=$?
    name=${target%:*}
    if [ $rc -eq 137 ] && ls "$d" | grep -q "^$name\.tmp\."; then
      ok "killed while writing $target (temporary file half written)"
    else
      fail "write-kill $target: rc $rc, files: $(ls "$d" | tr '\n' ' ')"
    fi
    /usr/bin/python3 - "$d" <<'PY' && ok "$target: every file present is whole" || fail "$target: a file is damaged"
import csv, json, os, struct, sys
d = sys.argv[1]
for f in os.listdir(d):
    p = os.path.join(d, f)
    if ".tmp." in f or not os.path.isfile(p):
        continue
    data = open(p, "rb").read()
    if f.endswith(".json"):
        json.loads(data)
    elif f.endswith(".csv"):
        rows = list(csv.reader(data.decode().splitlines()))
        assert rows and all(len(r) == len(rows[0]) for r in rows), f
    elif f.endswith(".safetensors"):
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
        assert 8 + n + end == len(data), (f, 8 + n + end, len(data))
PY
    "$ib" train $args --out "$d" 2>"$tmp/err" || fail "resume after the write-kill of $target"
  done
  for d in "$tmp/term" "$tmp"/kill-*; do
    cmp -s "$tmp/whole/params.safetensors" "$d/params.safetensors" \
      && ok "$(basename "$d"): final parameters bitwise identical" || fail "$(basename "$d"): parameters differ"
    [ "$(curve_values "$tmp/whole/curve.csv")" = "$(curve_values "$d/curve.csv")" ] \
      && ok "$(basename "$d"): identical curve" || fail "$(basename "$d"): curve differs"
    cmp -s "$tmp/whole/stats.csv" "$d/stats.csv" && ok "$(basename "$d"): identical stats.csv" \
      || fail "$(basename "$d"): stats.csv differs"
    [ ! -e "$d/checkpoint.safetensors" ] && ok "$(basename "$d"): checkpoint removed when complete" || fail "checkpoint left"
    ls "$d" | grep -q '\.tmp\.' && fail "$(basename "$d"): temporary file left" || true
  done
  "$ib" train $args --out "$tmp/whole" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && grep -q 'already complete' "$tmp/err" && ok "rerun of a complete run does nothing" || fail "rerun complete: $rc"
  "$ib" train ${args/--seed 3/--seed 4} --out "$tmp/term" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q 'different configuration' "$tmp/err" && ok "another config in the same directory refused" \
    || fail "another config in the same directory: rc $rc $(cat "$tmp/err")"
  finish ;;
stats)
  need_data
  "$ib" train --stddev 0.1 --steps 20 --eval-every 10 --stats-every 10 $small --progress none --out "$tmp/s" \
    || fail "train with statistics"
  head -1 "$tmp/s/stats.csv" | grep -q '^step,layer,tensor,n,l2,rms,mean,std,min,max,frac_zero,' \
    && ok "stats.csv header" || fail "stats.csv header: $(head -1 "$tmp/s/stats.csv")"
  for t in act preact act_grad weight bias weight_grad bias_grad update; do
    n=$(awk -F, -v t=$t '$3 == t' "$tmp/s/stats.csv" | wc -l)
    # 4 weight layers x steps 0, 10 (20 is the end: no step runs there)
    [ "$n" -eq 8 ] && ok "$t: 8 rows" || fail "$t: $n rows"
  done
  awk -F, '$3 == "act" && $2 == "conv1" && $1 == 0 {exit !($11 > 0 && $11 < 1)}' "$tmp/s/stats.csv" \
    && ok "conv1 act has some dead ReLUs" || fail "conv1 frac_zero"
  awk -F, '$3 == "update" && $1 == 0 {if ($14 == "" || $15 == "" || $16 == "") exit 1}' "$tmp/s/stats.csv" \
    && ok "Adam columns filled on update rows" || fail "update rows lack Adam columns"
  [ "$(head -1 "$tmp/s/hist.csv" | tr ',' '\n' | wc -l)" -eq 53 ] && ok "hist.csv has 48 decade bins" || fail "hist header"
  # step 0 with w = 1e-4: Adam's sqrt(v) sits below eps for the first layer almost everywhere
  "$ib" train --stddev 1e-4 --steps 1 --eval-every 1 --stats-every 1 $small --progress none --out "$tmp/tiny" \
    || fail "tiny run"
  awk -F, '$1 == 0 && $2 == "conv1" && $3 == "update" {exit !($16 > 0.5)}' "$tmp/tiny/stats.csv" \
    && ok "w=1e-4: conv1 sqrt(v) < eps for most parameters" || fail "w=1e-4 conv1 frac below eps"
  "$ib" train --stddev 0.1 --steps 20 --eval-every 10 --stats-every 0 $small --progress none --out "$tmp/off" || fail off
  [ ! -e "$tmp/off/stats.csv" ] && ok "--stats-every 0 writes no statistics" || fail "stats written when off"
  # a resumed run ends with the same statistics
  "$ib" train --stddev 0.1 --steps 20 --eval-every 10 --stats-every 5 --checkpoint-every 5 $small --progress none \
    --out "$tmp/w" || fail whole
  "$ib" train --stddev 0.1 --steps 20 --eval-every 10 --stats-every 5 --checkpoint-every 5 $small --progress none \
    --out "$tmp/k" & pid=$!
  for _ in $(seq 100); do [ -f "$tmp/k/checkpoint.safetensors" ] && break; sleep 0.05; done
  kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
  "$ib" train --stddev 0.1 --steps 20 --eval-every 10 --stats-every 5 --checkpoint-every 5 $small --progress none \
    --out "$tmp/k" 2>/dev/null || fail "resume"
  cmp -s "$tmp/w/stats.csv" "$tmp/k/stats.csv" && cmp -s "$tmp/w/hist.csv" "$tmp/k/hist.csv" \
    && ok "killed and resumed: identical stats.csv and hist.csv" || fail "statistics differ after resume"
  finish ;;
papi)
  need_data
  "$ib" train --stddev 0.1 --steps 5 --eval-every 5 $small --progress none --out "$tmp/p" || fail "train"
  /usr/bin/python3 - "$tmp/p/run.json" <<'PY' && ok "run.json counters section" || fail "counters section"
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
print(json.dumps(c, indent=1)[:1500])
assert set(c["phases"]) == {"forward", "backward", "update", "evaluation", "statistics"}, c["phases"].keys()
assert c["phases"]["forward"]["calls"] == 5 and c["phases"]["forward"]["wall_s"] > 0
if c["papi_version"] is None:
    assert "not built" in c["status"]
elif c["status"] == "counting":
    assert c["events"], "no event counted"
    first = c["events"][0]
    assert c["phases"]["forward"][first] > 0, (first, c["phases"]["forward"])
else:
    # a machine where PAPI can count nothing (no PMU for perf_event): every default event is
    # reported unavailable with PAPI's reason, the components say why, and the run went on
    assert "no requested event" in c["status"], c["status"]
    assert c["unavailable"] and all(c["unavailable"].values()), c["unavailable"]
    assert "perf_event" in c["components"], c.get("components")
PY
  "$ib" train --stddev 0.1 --steps 2 --eval-every 2 $small --progress none \
    --papi-events PAPI_TOT_INS,perf::TASK-CLOCK,NO_SUCH_EVENT --out "$tmp/q" || fail "explicit events"
  /usr/bin/python3 - "$tmp/q/run.json" <<'PY' && ok "unavailable events reported with a reason" || fail "unavailable events"
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
if c["papi_version"] is not None:
    assert "NO_SUCH_EVENT" in c["unavailable"], c
    print("unavailable:", c["unavailable"], "counted:", c["events"])
PY
  "$ib" train --stddev 0.1 --steps 2 --eval-every 2 $small --progress none --papi-events none --out "$tmp/n" || fail none
  grep -q '"status":[[:space:]]*"disabled by --papi-events none"\|not built' "$tmp/n/run.json" && ok "--papi-events none" \
    || fail "--papi-events none"
  finish ;;
nvtx)
  need_data
  [ -n "$extra" ] && [ -f "$extra" ] || { echo "skip: no NVTX recorder library"; exit 77; }
  NVTX_INJECTION64_PATH=$extra NVTX_RECORD_FILE=$tmp/ranges.tsv "$ib" train --stddev 0.1 --steps 2 --eval-every 2 \
    --stats-every 1 $small --progress none --out "$tmp/n" || fail "train under the recorder"
  [ -s "$tmp/ranges.tsv" ] && ok "$(wc -l < "$tmp/ranges.tsv") ranges recorded" || fail "no range recorded"
  for r in step forward backward update evaluation statistics fwd/conv1 fwd/relu1 fwd/pool1 fwd/fc2 bwd/fc2 bwd/conv2 bwd/conv1; do
    grep -q "^initbench	[0-9]*	$r\$" "$tmp/ranges.tsv" && ok "range $r in domain initbench" || fail "range $r missing"
  done
  # nesting: layer ranges sit inside forward/backward, which sit inside step
  awk -F'\t' '$3 == "step" {d = $2} $3 == "forward" && $2 != d + 1 {bad = 1} END {exit bad}' "$tmp/ranges.tsv" \
    && ok "forward nested in step" || fail "nesting"
  cut -f1 "$tmp/ranges.tsv" | sort -u | grep -qv '^initbench$' && fail "a range outside the initbench domain" \
    || ok "all ranges in the initbench domain"
  finish ;;
concurrency)
  need_data
  args="--stddev 0.1 --steps 40 --eval-every 20 $small --progress none"
  "$ib" train $args --out "$tmp/c" 2>/dev/null & pid=$!
  for _ in $(seq 100); do [ -f "$tmp/c/.lock" ] && [ -s "$tmp/c/.lock" ] && break; sleep 0.05; done
  "$ib" train $args --out "$tmp/c" 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "in use by another initbench run (host [^,]*, pid $pid)" "$tmp/err" \
    && ok "a second run on the same directory is refused, naming pid $pid" || fail "second run: rc $rc $(cat "$tmp/err")"
  wait $pid && ok "the first run finished" || fail "first run failed"
  "$ib" train $args --out "$tmp/solo" 2>/dev/null
  cmp -s "$tmp/c/params.safetensors" "$tmp/solo/params.safetensors" && ok "its result is untouched (same bits as a solo run)" \
    || fail "result differs from a solo run"
  # a killed holder leaves no stale lock
  long="--stddev 0.1 --steps 400 --eval-every 200 $small --progress none"
  "$ib" train $long --out "$tmp/k" 2>/dev/null & pid=$!
  for _ in $(seq 100); do [ -s "$tmp/k/.lock" ] && break; sleep 0.05; done
  kill -KILL $pid; wait $pid 2>/dev/null
  "$ib" train $long --steps 1 --out "$tmp/k" 2>"$tmp/err" | true
  grep -q 'in use' "$tmp/err" && fail "stale lock after SIGKILL: $(cat "$tmp/err")" || ok "no stale lock after SIGKILL"
  finish ;;
sweep_kill)
  # A local sweep killed mid-way, then resumed, ends bitwise identical to one never interrupted:
  # SIGKILL of the whole process group (a node crash) and of the sweep process alone (its task
  # runners and trains get SIGTERM from the kernel, checkpoint and stop).
  need_data
  common="--stddevs 0.01,0.1 --repeats 2 --steps 40 --eval-every 10 --checkpoint-every 10 $small --jobs 2"
  "$ib" sweep $common --out "$tmp/ref" >/dev/null 2>&1 || fail "uninterrupted sweep"
  RANDOM=7
  for how in group group parent parent group; do
    tenths=$((5 + RANDOM % 40)); delay=$((tenths / 10)).$((tenths % 10))
    setsid "$ib" sweep $common --out "$tmp/k" >/dev/null 2>&1 & pid=$!
    sleep "$delay"
    if [ $how = group ]; then kill -KILL -- -$pid 2>/dev/null; else kill -KILL $pid 2>/dev/null; fi
    wait $pid 2>/dev/null
    # the orphans of a parent kill stop by themselves; wait for them to release their locks
    for _ in $(seq 200); do pgrep -f -- "--out $tmp/k" >/dev/null || break; sleep 0.05; done
    echo "killed ($how) at $delay s: $("$ib" sweep status "$tmp/k" --quiet 2>&1 | tail -1)"
  done
  pgrep -f -- "$tmp/k" >/dev/null && fail "processes of the killed sweep still running"
  "$ib" sweep status "$tmp/k" >"$tmp/status1" 2>&1
  grep -q 'stopped without a result\|interrupted\|missing\|complete' "$tmp/status1" && ok "status reads the killed sweep" \
    || fail "status after kills: $(cat "$tmp/status1")"
  "$ib" sweep resume "$tmp/k" >"$tmp/out" 2>"$tmp/err" && ok "resume finishes the sweep" || fail "resume: $(tail -5 "$tmp/err")"
  "$ib" sweep status "$tmp/k" >/dev/null 2>&1 && ok "status: every task complete" || fail "status after resume"
  for r in "$tmp"/ref/runs/*/; do
    name=$(basename "$r")
    cmp -s "$r/params.safetensors" "$tmp/k/runs/$name/params.safetensors" && \
      [ "$(curve_values "$r/curve.csv")" = "$(curve_values "$tmp/k/runs/$name/curve.csv")" ] \
      && ok "$name: parameters and curve bitwise identical to the uninterrupted sweep" || fail "$name differs"
  done
  find "$tmp/k" -name '*.tmp.*' | grep -q . && fail "temporary files left: $(find "$tmp/k" -name '*.tmp.*')" \
    || ok "no temporary file left"
  # two task runners given the same index (a requeued copy whose first instance still runs): with
  # IB_LOCK_WAIT=0 the second is refused at once, naming the holder; by default it waits for the
  # holder, leaves a waiter note that `sweep status` shows, and exits 0 once the run is complete
  "$ib" sweep --stddevs 0.1 --repeats 1 --steps 200 --eval-every 100 $small --out "$tmp/same" --executor none \
    >/dev/null 2>&1 || true
  if [ -f "$tmp/same/sweep.json" ]; then
    "$ib" sweep run-task "$tmp/same" 0 --threads 1 --quiet 2>/dev/null & pid=$!
    for _ in $(seq 200); do [ -s "$tmp/same/tasks/0000.lock" ] && break; sleep 0.05; done
    IB_LOCK_WAIT=0 "$ib" sweep run-task "$tmp/same" 0 --threads 1 --quiet 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && grep -q "task 0 (.*) is in use by another initbench task runner (host [^,]*, pid $pid)" "$tmp/err" \
      && ok "IB_LOCK_WAIT=0: a second runner of task 0 is refused, naming pid $pid" || fail "second runner: rc $rc $(cat "$tmp/err")"
    "$ib" sweep run-task "$tmp/same" 0 --threads 1 2>"$tmp/err2" & pid2=$!
    for _ in $(seq 200); do [ -s "$tmp/same/tasks/0000.waiter" ] && break; sleep 0.05; done
    grep -q "pid=$pid2 " "$tmp/same/tasks/0000.waiter" && ok "the waiting copy leaves its note" \
      || fail "no waiter note: $(ls "$tmp/same/tasks")"
    "$ib" sweep status "$tmp/same" >"$tmp/st" 2>&1
    grep -q "running twice" "$tmp/st" && grep -q "pid $pid2" "$tmp/st" && ok "status: running twice, one copy waiting" \
      || fail "status while a copy waits: $(cat "$tmp/st")"
    # a stop signal ends a wait at once: exit 75 (interrupted), nothing written for the task
    "$ib" sweep run-task "$tmp/same" 0 --threads 1 2>"$tmp/err3" & pid3=$!
    for _ in $(seq 200); do grep -q "waiting up to" "$tmp/err3" && break; sleep 0.05; done
    kill -TERM $pid3; t0=$(date +%s%N)
    wait $pid3; rc=$?
    [ $rc -eq 75 ] && [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] && grep -q "stopped by a signal while waiting" "$tmp/err3" \
      && ok "SIGTERM ends a wait for another copy at once (exit 75)" || fail "stopped waiter: rc $rc $(cat "$tmp/err3")"
    wait $pid && ok "the first runner finished" || fail "first runner"
    wait $pid2; rc=$?
    [ $rc -eq 0 ] && grep -q "is held by another initbench task runner (host [^,]*, pid $pid)" "$tmp/err2" \
      && grep -q "already complete" "$tmp/err2" && ok "the waiting copy named the holder and exited 0: already complete" \
      || fail "waiting runner: rc $rc $(cat "$tmp/err2")"
    [ ! -e "$tmp/same/tasks/0000.waiter" ] && ok "the waiter note is gone" || fail "waiter note left"
    # a waiter whose holder's heartbeat has stopped (a holder on another node, its claim an hour
    # old; the waiter this shell, alive): "waiting on copy"
    st22=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
    printf 'host=%s pid=%s start=%s job=- beat=1\n' "$(hostname)" $$ "$st22" >"$tmp/same/tasks/0000.waiter"
    printf 'host=node-x.cluster pid=7 start=1 job=- beat=1\n' >"$tmp/same/tasks/0000.lock.claim"
    touch -d '1 hour ago' "$tmp/same/tasks/0000.lock.claim"
    rm -f "$tmp/same/runs/"*/run.json
    "$ib" sweep status "$tmp/same" >"$tmp/st2" 2>&1
    grep -q "waiting on copy: the copy of host [^,]*, pid $$ waits for the copy of host node-x.cluster, pid 7 (its heartbeat has stopped)" "$tmp/st2" \
      && ok "status: waiting on a copy whose heartbeat stopped" || fail "status, stale holder: $(cat "$tmp/st2")"
    rm -f "$tmp/same/tasks/0000.waiter" "$tmp/same/tasks/0000.lock.claim"
    grep -q '"status":[[:space:]]*"complete"' "$tmp/same/tasks/0000.json" && ok "task record says complete" \
      || fail "record: $(cat "$tmp/same/tasks/0000.json")"
  else
    fail "could not create a sweep without running it"
  fi
  finish ;;
stop_signals)
  need_data
  # A stop signal must never run a handler on a computing thread: oneDNN 2.7's JIT sgemm points its
  # stack pointer into a heap buffer, and the signal frame the kernel pushes there corrupts the heap
  # (glibc aborted about one SIGTERM in 13 with a handler). So train holds SIGTERM, SIGINT and SIGUSR1
  # blocked in every thread and takes them at step boundaries.
  "$ib" train --steps 1000000000 --eval-every 1 --checkpoint-every 0 $small --progress none --out "$tmp/s" \
    2>"$tmp/err" & pid=$!
  for _ in $(seq 600); do [ "$(wc -l < "$tmp/s/curve.csv" 2>/dev/null || echo 0)" -ge 3 ] && break; sleep 0.05; done
  threads=0 exposed=""
  for st in /proc/$pid/task/*/status; do
    blk=$(awk '$1 == "SigBlk:" {print $2}' "$st") cgt=$(awk '$1 == "SigCgt:" {print $2}' "$st")
    [ -n "$blk" ] || continue
    threads=$((threads + 1))
    for sig in 2 10 15; do  # SIGINT, SIGUSR1, SIGTERM: bit sig-1 of the masks
      (( (16#$blk >> (sig - 1)) & 1 )) || exposed+=" thread ${st#/proc/$pid/task/} does not block $sig;"
      (( (16#$cgt >> (sig - 1)) & 1 )) && exposed+=" thread ${st#/proc/$pid/task/} has a handler for $sig;"
    done
  done
  [ "$threads" -ge 2 ] && [ -z "$exposed" ] \
    && ok "all $threads threads hold the stop signals blocked, no handler" || fail "$threads threads:$exposed"
  # a storm of stop signals across steps, evaluations and the checkpoint: one clean stop
  sent=0 sigs=(TERM USR1 INT)
  while [ $sent -lt 3000 ] && kill -s "${sigs[sent % 3]}" $pid 2>/dev/null; do
    sent=$((sent + 1))
  done
  wait $pid; rc=$?
  [ $rc -eq 75 ] && ! grep -q corrupted "$tmp/err" && ok "$sent stop signals: one checkpoint, exit 75" \
    || fail "after $sent stop signals: rc $rc $(tail -3 "$tmp/err")"
  grep -q '"status":[[:space:]]*"interrupted"' "$tmp/s/run.json" && ok "status interrupted" \
    || fail "status after the storm: $(grep status "$tmp/s/run.json")"
  finish ;;
full_disk)
  need_data
  [ "$(id -u)" -eq 0 ] || { echo "skip: mounting a small tmpfs needs root"; exit 77; }
  mnt=$tmp/small
  mkdir -p "$mnt"
  mount -t tmpfs -o size=100m tmpfs "$mnt" 2>/dev/null || { echo "skip: cannot mount a tmpfs here"; exit 77; }
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
  args="--stddev 0.1 --steps 20 --eval-every 5 --checkpoint-every 5 --stats-every 5 $small --seed 5"
  "$ib" train $args --progress none --out "$tmp/ref" 2>/dev/null || fail "reference run"
  # stop after the first checkpoint (about 39 MB; replacing it needs room for two), then leave
  # almost no space
  "$ib" train $args --progress none --out "$mnt/run" 2>/dev/null & pid=$!
  for _ in $(seq 200); do [ -f "$mnt/run/checkpoint.safetensors" ] && break; sleep 0.05; done
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 75 ] || fail "SIGTERM after the first checkpoint: rc $rc"
  sum_before=$(sha256sum "$mnt/run/checkpoint.safetensors" | cut -d' ' -f1)
  curve_before=$(cat "$mnt/run/curve.csv")
  free_kb=$(df -k --output=avail "$mnt" | tail -1)
  dd if=/dev/zero of="$mnt/filler" bs=1k count=$((free_kb - 512)) 2>/dev/null
  "$ib" train $args --progress none --out "$mnt/run" 2>"$tmp/err"; rc=$?
  [ $rc -ne 0 ] && grep -q 'No space left on device' "$tmp/err" \
    && ok "disk full: clear error (rc $rc): $(tail -1 "$tmp/err")" || fail "disk full: rc $rc $(cat "$tmp/err")"
  [ "$(sha256sum "$mnt/run/checkpoint.safetensors" | cut -d' ' -f1)" = "$sum_before" ] \
    && ok "previous checkpoint intact" || fail "checkpoint changed"
  case "$(cat "$mnt/run/curve.csv")" in "$curve_before"*) ok "curve.csv intact (a prefix-extension of the old one)" ;; *) fail "curve.csv damaged" ;; esac
  ls "$mnt/run" | grep -q '\.tmp\.' && fail "temporary file left behind" || ok "no temporary file left"
  /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$mnt/run/run.json" && ok "run.json parses" || fail "run.json"
  rm -f "$mnt/filler"
  "$ib" train $args --progress none --out "$mnt/run" 2>/dev/null && ok "resumes once space is back" || fail "resume"
  cmp -s "$tmp/ref/params.safetensors" "$mnt/run/params.safetensors" && ok "final parameters identical to an undisturbed run" \
    || fail "final parameters differ"
  cmp -s "$tmp/ref/stats.csv" "$mnt/run/stats.csv" && ok "statistics identical" || fail "stats differ"
  finish ;;
*) echo "unknown case $case"; exit 2 ;;
esac
