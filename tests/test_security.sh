#!/usr/bin/env bash
# Files from others are data (docs/RELIABILITY.md): initbench writes only into its own
# directories, never through a planted link, decides completeness under the run lock, never
# retrains a finished run, says what to do where the filesystem refuses locks, and allocates by
# the work done, not by the flags.
# usage: test_security.sh INITBENCH CASE [FLOCK_SHIM]   (exit 77 = skipped, with the reason printed)
set -uo pipefail
ib=$1 case=$2 shim=${3:-}
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
# an ASan build with the LD_PRELOAD shim: the shim comes before the ASan runtime, which is fine here
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
small="--train-size 2000 --test-size 500 --eval-batch 250"
# a directory's files with their checksums, links shown as links (to compare before and after)
snapshot() { (cd "$1" && find . -printf '%p %y %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }

case $case in
outdir)
  need_data
  # a user's directory: refused with exit 2, nothing in it touched
  mkdir -p "$tmp/home/sub"
  echo "my notes" > "$tmp/home/notes.txt"; echo "1,2" > "$tmp/home/curve.csv"
  touch "$tmp/home/run.json.tmp.12345" "$tmp/home/params.safetensors"
  before=$(snapshot "$tmp/home")
  "$ib" train --steps 5 --eval-every 5 $small --progress none --out "$tmp/home" 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "not made by initbench" "$tmp/err" \
    && ok "train --out on a user's directory: exit 2 ($(head -c 160 "$tmp/err"))" || fail "train --out user dir: rc $rc: $(cat "$tmp/err")"
  [ "$before" = "$(snapshot "$tmp/home")" ] && ok "the user's files are unchanged (the old *.tmp.<digits> file too)" \
    || fail "the user's directory changed"
  # a sweep whose task directory already holds a user's file: the task fails, the file stays
  "$ib" sweep --stddevs 0.1 --repeats 1 --steps 5 --eval-every 5 $small --out "$tmp/sw" --executor none 2>/dev/null
  rundir=$(find "$tmp/sw" -name 'w*' -type d | head -1)
  [ -z "$rundir" ] && rundir="$tmp/sw/$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"][0]["dir"])' "$tmp/sw/sweep.json")"
  mkdir -p "$rundir"; echo "keep" > "$rundir/keep.txt"
  "$ib" sweep run-task "$tmp/sw" 0 --threads 1 --quiet 2>"$tmp/err"; rc=$?
  [ $rc -ne 0 ] && [ "$(cat "$rundir/keep.txt")" = keep ] && [ ! -e "$rundir/train.log" ] \
    && ok "a sweep task refuses a run directory holding a user's file (rc $rc), the file kept" \
    || fail "sweep task into a user's directory: rc $rc, $(ls -A "$rundir" | tr '\n' ' ')"
  # an empty directory is taken, and the run's own directory again on a rerun
  mkdir "$tmp/empty"
  "$ib" train --steps 5 --eval-every 5 $small --progress none --out "$tmp/empty" 2>/dev/null \
    && [ -f "$tmp/empty/.initbench" ] && ok "an empty directory is taken and marked" || fail "empty directory"
  "$ib" train --steps 5 --eval-every 5 $small --progress none --out "$tmp/empty" 2>"$tmp/err" \
    && grep -q "already complete" "$tmp/err" && ok "its own directory is taken again" || fail "rerun in own directory"
  # a run directory of an initbench from before the marker (run.json, no marker) is still resumed
  rm "$tmp/empty/.initbench"
  "$ib" train --steps 5 --eval-every 5 $small --progress none --out "$tmp/empty" 2>"$tmp/err" \
    && grep -q "already complete" "$tmp/err" && ok "a run directory without the marker is recognised by its run.json" \
    || fail "legacy run directory: $(cat "$tmp/err")"
  finish ;;

symlinks)
  need_data
  echo "precious" > "$tmp/victim"
  victim_sum=$(sha256sum "$tmp/victim")
  args="--stddev 0.1 --steps 20 --eval-every 10 --checkpoint-every 5 --stats-every 5 $small --progress none --seed 3"
  # A marked, interrupted run directory (a checkpoint in it), then links planted at every file
  # name initbench ever used for temporary files (the old <file>.tmp.<pid> for the next pids).
  "$ib" train $args --out "$tmp/run" 2>/dev/null & pid=$!
  for _ in $(seq 300); do [ -f "$tmp/run/checkpoint.safetensors" ] && break; sleep 0.05; done
  kill -TERM $pid; wait $pid
  last=$(cat /proc/sys/kernel/ns_last_pid)
  n=0
  for f in run.json curve.csv stats.csv hist.csv checkpoint.safetensors params.safetensors; do
    for p in $(seq $((last + 1)) $((last + 60))); do ln -s "$tmp/victim" "$tmp/run/$f.tmp.$p"; n=$((n + 1)); done
  done
  ln -s "$tmp/victim" "$tmp/run/curve.csv.tmp.999.abcdef"   # named like today's temporary files
  "$ib" train $args --out "$tmp/run" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && ok "resume with $n links planted at temporary names: done" || fail "resume with planted links: rc $rc $(cat "$tmp/err")"
  [ "$(sha256sum "$tmp/victim")" = "$victim_sum" ] && ok "the links' target is untouched" || fail "the victim was written"
  [ -L "$tmp/run/curve.csv.tmp.999.abcdef" ] && ok "a link named like a stale temporary file is not removed" \
    || fail "initbench removed a link it did not make"
  # a link at the lock file, at the claim, at train.log: refused with a message or not followed
  mkdir "$tmp/l1" && echo "initbench run" > "$tmp/l1/.initbench" && ln -s "$tmp/victim" "$tmp/l1/.lock"
  "$ib" train $args --out "$tmp/l1" 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "symbolic link" "$tmp/err" && ok "a link at DIR/.lock: exit 2, '$(head -c 120 "$tmp/err")'" \
    || fail "link at .lock: rc $rc $(cat "$tmp/err")"
  cp -r "$tmp/run" "$tmp/l2"; rm -f "$tmp/l2/.lock.claim"; ln -s "$tmp/victim" "$tmp/l2/.lock.claim"
  rm -f "$tmp/l2/run.json"
  "$ib" train $args --out "$tmp/l2" 2>"$tmp/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "not a claim initbench wrote" "$tmp/err" && ok "a link at DIR/.lock.claim: exit 2" \
    || fail "link at .lock.claim: rc $rc $(cat "$tmp/err")"
  "$ib" sweep --stddevs 0.1 --repeats 1 --steps 10 --eval-every 10 $small --out "$tmp/sw" --executor none 2>/dev/null
  rel=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"][0]["dir"])' "$tmp/sw/sweep.json")
  mkdir -p "$tmp/sw/$rel" "$tmp/sw/tasks"
  echo "initbench run" > "$tmp/sw/$rel/.initbench"
  ln -s "$tmp/victim" "$tmp/sw/$rel/train.log"
  ln -s "$tmp/victim" "$tmp/sw/tasks/0000.log"
  "$ib" sweep run-task "$tmp/sw" 0 --threads 1 --quiet 2>"$tmp/err"; rc=$?
  [ "$(sha256sum "$tmp/victim")" = "$victim_sum" ] && ok "links at train.log and tasks/0000.log: not followed (rc $rc)" \
    || fail "a task log was written through a link"
  ln -s "$tmp/victim" "$tmp/sw/tasks/0001.lock" 2>/dev/null
  rm -f "$tmp/sw/tasks/0000.lock"; ln -s "$tmp/victim" "$tmp/sw/tasks/0000.lock"
  "$ib" sweep run-task "$tmp/sw" 0 --threads 1 2>"$tmp/err"; rc=$?
  [ $rc -ne 0 ] && grep -q "symbolic link" "$tmp/err" && [ "$(sha256sum "$tmp/victim")" = "$victim_sum" ] \
    && ok "a link at tasks/0000.lock: refused (rc $rc), target untouched" || fail "link at the task lock: rc $rc $(cat "$tmp/err")"
  finish ;;

race)
  need_data
  # A runs; B (the same command) starts while A is mid-run and stays in its start-up until A has
  # finished (IB_TEST_STARTUP_WAIT_FOR: B waits for a file the test creates once A has exited).
  # Before the fix B had already judged the run unfinished, then took the freed lock and trained
  # it again from step 0, overwriting A's complete run.json. Now B judges under the lock: it finds
  # the run complete (or, had A still held the lock, is refused).
  args="--stddev 0.1 --steps 40 --eval-every 10 --checkpoint-every 10 $small --progress none --seed 4"
  "$ib" train $args --out "$tmp/ref" 2>/dev/null || fail "reference run"
  "$ib" train $args --out "$tmp/r" 2>"$tmp/a.err" & a=$!
  for _ in $(seq 400); do grep -q '^10,' "$tmp/r/curve.csv" 2>/dev/null && break; sleep 0.02; done
  IB_TEST_STARTUP_WAIT_FOR="$tmp/go" "$ib" train $args --out "$tmp/r" 2>"$tmp/b.err" & b=$!
  wait $a; a_rc=$?
  touch "$tmp/go"
  wait $b; b_rc=$?
  [ $a_rc -eq 0 ] && ok "A finished" || fail "A: rc $a_rc $(cat "$tmp/a.err")"
  if [ $b_rc -eq 2 ] && grep -q "in use by another initbench run" "$tmp/b.err"; then
    ok "B refused while A held the run: '$(head -c 150 "$tmp/b.err")'"
  elif [ $b_rc -eq 0 ] && grep -q "already complete" "$tmp/b.err"; then
    ok "B found the run complete"
  else
    fail "B: rc $b_rc: $(cat "$tmp/b.err")"
  fi
  grep -q "resuming\|done:" "$tmp/b.err" && fail "B trained the run again: $(cat "$tmp/b.err")" || ok "B did not train"
  /usr/bin/python3 - "$tmp/r/run.json" <<'PY' && ok "run.json is A's, complete" || fail "run.json is not A's complete record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "complete" and "resumed_from_step" not in r, r.get("status")
PY
  cmp -s "$tmp/ref/params.safetensors" "$tmp/r/params.safetensors" && ok "parameters identical to an undisturbed run" \
    || fail "parameters differ"
  # B started after A is done: already complete
  "$ib" train $args --out "$tmp/r" 2>"$tmp/b.err" && grep -q "already complete" "$tmp/b.err" \
    && ok "a later B: already complete" || fail "later B: $(cat "$tmp/b.err")"
  finish ;;

killwindow)
  need_data
  # A kill while the final run.json is written (half of it in the temporary file): the checkpoint
  # is still there, so the rerun resumes from it instead of retraining from step 0.
  args="--stddev 0.1 --steps 30 --eval-every 10 --checkpoint-every 10 $small --progress none --seed 6"
  "$ib" train $args --out "$tmp/ref" 2>/dev/null || fail "reference run"
  IB_FAULT_KILL_WRITING=run.json:2 "$ib" train $args --out "$tmp/k" 2>/dev/null; rc=$?
  [ $rc -eq 137 ] && [ -f "$tmp/k/checkpoint.safetensors" ] && [ -f "$tmp/k/params.safetensors" ] \
    && ok "killed writing the final run.json: checkpoint still present" || fail "rc $rc, files: $(ls "$tmp/k" | tr '\n' ' ')"
  "$ib" train $args --out "$tmp/k" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && grep -q "resuming .* at step [1-9]" "$tmp/err" && ok "the rerun resumes ($(grep -o 'at step [0-9]*' "$tmp/err"))" \
    || fail "the rerun retrained or failed: rc $rc $(cat "$tmp/err")"
  cmp -s "$tmp/ref/params.safetensors" "$tmp/k/params.safetensors" && ok "final parameters identical" || fail "parameters differ"
  [ ! -e "$tmp/k/checkpoint.safetensors" ] && ok "checkpoint removed once run.json is final" || fail "checkpoint left"
  # killed after the final run.json and before the checkpoint's removal: nothing is retrained
  cp "$tmp/k/params.safetensors" "$tmp/k/checkpoint.safetensors"   # stands for the leftover
  sum=$(sha256sum < "$tmp/k/run.json")
  "$ib" train $args --out "$tmp/k" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && grep -q "already complete" "$tmp/err" && [ "$(sha256sum < "$tmp/k/run.json")" = "$sum" ] \
    && [ ! -e "$tmp/k/checkpoint.safetensors" ] && ok "complete run with a leftover checkpoint: not retrained, checkpoint removed" \
    || fail "leftover checkpoint: rc $rc $(cat "$tmp/err")"
  finish ;;

nolock)
  need_data
  [ -n "$shim" ] && [ -f "$shim" ] || { echo "skip: no flock shim built"; exit 77; }
  # a filesystem that refuses flock (the shim makes flock fail with ENOLCK, as NFS without a lock
  # manager does): a clear message naming the filesystem, exit 2, nothing written but the marker
  args="--steps 5 --eval-every 5 $small --progress none"
  LD_PRELOAD=$shim "$ib" train $args --out "$tmp/n" 2>"$tmp/err"; rc=$?
  fs=$(stat -f -c %T "$tmp")
  [ $rc -eq 2 ] && grep -q "refuses flock" "$tmp/err" && grep -q "IB_LOCK=claim" "$tmp/err" \
    && grep -q "RELIABILITY.md" "$tmp/err" && ok "flock refused: exit 2: $(cat "$tmp/err")" || fail "rc $rc: $(cat "$tmp/err")"
  ls "$tmp/n" | grep -q . && fail "files written without a lock: $(ls "$tmp/n")" || ok "no run file written"
  grep -q "IB_LOCK=claim" "$(dirname "$0")/../docs/RELIABILITY.md" && ok "docs/RELIABILITY.md documents the way out" \
    || fail "RELIABILITY.md says nothing of IB_LOCK=claim"
  # the way out: the claim alone excludes (atomic link(2)); a second process is refused
  LD_PRELOAD=$shim IB_LOCK=claim "$ib" train --steps 40 --eval-every 10 $small --progress none --out "$tmp/c" 2>/dev/null & a=$!
  for _ in $(seq 300); do [ -f "$tmp/c/.lock.claim" ] && break; sleep 0.02; done
  LD_PRELOAD=$shim IB_LOCK=claim "$ib" train --steps 40 --eval-every 10 $small --progress none --out "$tmp/c" 2>"$tmp/err"; rc=$?
  wait $a; a_rc=$?
  [ $a_rc -eq 0 ] && ok "IB_LOCK=claim: the run goes ahead on claims alone" || fail "IB_LOCK=claim run: rc $a_rc"
  [ $rc -eq 2 ] && grep -q "claimed by another initbench run" "$tmp/err" \
    && ok "a second process is refused by the claim: $(head -c 200 "$tmp/err")" || fail "second process: rc $rc $(cat "$tmp/err")"
  [ ! -e "$tmp/c/.lock.claim" ] && ok "the claim is removed when the run ends" || fail "claim left"
  # a claim left by a killed process on this host is taken over
  # (the run is killed once its first evaluation is written: --checkpoint-every's default is far off)
  LD_PRELOAD=$shim IB_LOCK=claim "$ib" train --steps 60 --eval-every 10 $small --progress none --out "$tmp/d" 2>/dev/null & a=$!
  for _ in $(seq 600); do [ -f "$tmp/d/curve.csv" ] && [ "$(wc -l < "$tmp/d/curve.csv")" -ge 2 ] && break; sleep 0.05; done
  kill -KILL $a; wait $a 2>/dev/null
  [ -f "$tmp/d/.lock.claim" ] && ok "SIGKILL leaves the claim" || fail "no claim after SIGKILL"
  LD_PRELOAD=$shim IB_LOCK=claim "$ib" train --steps 60 --eval-every 10 $small --progress none --out "$tmp/d" 2>"$tmp/err"; rc=$?
  [ $rc -eq 0 ] && grep -Eq "taking over the claim.*its process (is gone|has ended)" "$tmp/err" \
    && ok "the stale claim is taken over: $(grep -o 'taking over.*' "$tmp/err")" || fail "stale claim: rc $rc $(cat "$tmp/err")"
  # the heartbeat end to end, with claims alone deciding as across nodes whose flock is node-local:
  # a frozen run (SIGSTOP) stops beating; a second one that waits (IB_LOCK_WAIT) proves it gone
  # after 6 beats and takes over from its checkpoint; the first, thawed, finds its claim taken and
  # exits 76 writing nothing more; the result is bitwise that of an uninterrupted run
  hargs="--steps 200 --eval-every 20 --checkpoint-every 20 $small --progress none"
  "$ib" train $hargs --out "$tmp/href" 2>/dev/null || fail "reference run"
  export IB_CLAIM_BEAT=1
  LD_PRELOAD=$shim IB_LOCK=claim "$ib" train $hargs --out "$tmp/h" 2>"$tmp/err_a" & a=$!
  for _ in $(seq 1200); do [ -s "$tmp/h/checkpoint.safetensors" ] && break; sleep 0.05; done
  kill -STOP $a
  [ -s "$tmp/h/checkpoint.safetensors" ] && ok "the first run froze after its checkpoint" || fail "no checkpoint to freeze after"
  t0=$(date +%s%N)
  LD_PRELOAD=$shim IB_LOCK=claim IB_LOCK_WAIT=60 "$ib" train $hargs --out "$tmp/h" 2>"$tmp/err_b"; rc=$?
  waited=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ $rc -eq 0 ] && grep -q "has not had a heartbeat for" "$tmp/err_b" && grep -q "taking over the claim of host [^,]*, pid $a" "$tmp/err_b" \
    && grep -q "resuming .* from its checkpoint" "$tmp/err_b" \
    && ok "a waiting run took over the frozen one's claim after its heartbeat stopped and resumed (${waited} ms in all)" \
    || fail "takeover: rc $rc $(cat "$tmp/err_b")"
  snap=$(cd "$tmp/h" && find . -type f -newer "$tmp/err_b" | sort; md5sum params.safetensors run.json curve.csv 2>/dev/null)
  kill -CONT $a
  wait $a; rc=$?
  [ $rc -eq 76 ] && grep -q "lost the claim" "$tmp/err_a" && ok "the thawed run found its claim taken and stopped with 76" \
    || fail "thawed run: rc $rc $(cat "$tmp/err_a")"
  [ "$snap" = "$(cd "$tmp/h" && find . -type f -newer "$tmp/err_b" | sort; md5sum params.safetensors run.json curve.csv 2>/dev/null)" ] \
    && ok "and wrote nothing" || fail "the thawed run changed files"
  cmp -s "$tmp/href/params.safetensors" "$tmp/h/params.safetensors" && cmp -s <(cut -d, -f1-4 "$tmp/href/curve.csv") <(cut -d, -f1-4 "$tmp/h/curve.csv") \
    && ok "parameters and curve bitwise those of an uninterrupted run" || fail "the taken-over run differs from the reference"
  unset IB_CLAIM_BEAT
  finish ;;

memory)
  need_data
  # --steps 1e9 --eval-every 1: memory follows the work, so the run starts and stops normally
  # (it used to reserve about 56 GB for curve rows and step times before the first step)
  "$ib" train --steps 1000000000 --eval-every 1 --checkpoint-every 0 $small --progress none --out "$tmp/m" 2>"$tmp/err" & pid=$!
  for _ in $(seq 600); do [ "$(wc -l < "$tmp/m/curve.csv" 2>/dev/null || echo 0)" -ge 4 ] && break; sleep 0.05; done
  # virtual memory counts a reservation never touched; under ASan (a huge shadow reservation) the
  # resident peak is what can be bounded
  field=VmPeak; ldd "$ib" | grep -q libasan && field=VmHWM
  peak=$(awk -v f="$field:" '$1 == f {print $2}' /proc/$pid/status 2>/dev/null)
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 75 ] && ok "stopped after $(($(wc -l < "$tmp/m/curve.csv") - 1)) evaluations, exit 75" || fail "rc $rc: $(cat "$tmp/err")"
  [ -n "$peak" ] && [ "$peak" -lt 8000000 ] && ok "$field $((peak / 1024)) MiB (< 8 GiB)" \
    || fail "$field ${peak:-?} kB"
  finish ;;
*) echo "unknown case $case"; exit 2 ;;
esac
