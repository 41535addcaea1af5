#!/usr/bin/env bash
# ctest slurm_sweep: `initbench sweep --executor slurm` against a real one-node Slurm (a private
# cluster in a temp dir, started and stopped with jobs/slurm-local-up/-down):
#   A. a 3x2 sweep through sbatch (split into two arrays) completes, status exits 0, the collect
#      job writes summary.csv; results equal a local run of the same task
#   B. a task made to fail (a file where its run directory goes) shows as failed with its reason;
#      resume, after the file is removed, completes only that task (two tasks per array task)
#   C. (in a sweep directory whose path holds '%') a task interrupted twice mid-run (USR1 = the time-limit warning: the job checkpoints and
#      requeues itself; then an external `scontrol requeue`) resumes from its checkpoint and ends
#      bitwise identical to an uninterrupted local run
#   B'. resume refuses slurm/submissions.json with a planted sbatch argument (exit 2, naming the
#      file and field; nothing submitted, the record untouched); --sbatch-arg=--qos is refused
#   D. scancel of a running array leaves no half-written run directory; `resume --executor local`
#      finishes it here, the cancelled tasks continuing from their checkpoints
# Exit 77 (skipped) when not root or Slurm/munge are missing. Every wait is bounded.
# usage: test_slurm_sweep.sh SOURCE_DIR INITBENCH_BINARY
set -euo pipefail

SRC=${1:?usage: test_slurm_sweep.sh SOURCE_DIR INITBENCH}
IB=${2:?usage: test_slurm_sweep.sh SOURCE_DIR INITBENCH}
# shellcheck source=tests/slurm_test_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh" # skip, fail, cluster set-up and tear-down

slurm_test_require python3 setsid
[[ -x $IB ]] || { echo "FAIL: $IB is not an executable"; exit 1; }
"$IB" data verify --dataset mnist >/dev/null 2>&1 || skip "MNIST not available (initbench data fetch)"

slurm_test_setup test_slurm_sweep ib-slurm-sweep 20 '*/slurm/logs/*' 15
export INITBENCH_JOBS_DIR=$SRC/jobs


SMALL="--train-size 2000 --test-size 500 --eval-batch 250 --eval-every 25"

# status_wait DIR TIMEOUT_S: poll `initbench sweep status` until it exits 0 (all complete).
status_wait() {
  local end=$(( $(ib_now_us) + $2 * 1000000 )) rc
  while :; do
    rc=0
    timeout 60 "$IB" sweep status "$1" >"$WORK/status.out" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] && return 0
    [[ $rc -eq 3 ]] || { cat "$WORK/status.out"; fail "sweep status $1 exited $rc"; }
    check_node
    (( $(ib_now_us) < end )) || { cat "$WORK/status.out"; fail "$1 not complete after $2 s"; }
    sleep 0.5
  done
}
# queue_empty_wait TIMEOUT_S: until no job is pending, running or completing (collect jobs included).
queue_empty_wait() {
  local end=$(( $(ib_now_us) + $1 * 1000000 )) q
  while :; do
    q=$(timeout 15 squeue -h -r -o '%i %T %r') || fail "squeue failed"
    [[ -z $q ]] && return 0
    check_node
    (( $(ib_now_us) < end )) || fail "queue not empty after $1 s: $(tr '\n' ';' <<<"$q")"
    sleep 0.5
  done
}
# status_incomplete DIR WHAT: `sweep status DIR` must exit 3 (not all tasks complete); shows its
# output and keeps it in DIR.status for the checks that follow.
status_incomplete() {
  local rc=0
  "$IB" sweep status "$1" >"$1.status" 2>&1 || rc=$?
  sed 's/^/   | /' "$1.status"
  [[ $rc -eq 3 ]] || fail "$2 exited $rc, expected 3"
}
job_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/slurm/submissions.json"))["submissions"][int(sys.argv[2])]["job_id"])' "$1" "$2"; }
curve_rows() { [[ -f $1/curve.csv ]] && (( $(wc -l <"$1/curve.csv") - 1 >= $2 )); }
no_half_written() { # DIR: no temp files, every JSON parses
  local tmp
  tmp=$(find "$1" -name '*.tmp.*' | head -5)
  [[ -z $tmp ]] || fail "half-written files left in $1: $tmp"
  python3 - "$1" <<'EOF' || fail "unparsable JSON in $1"
import json, pathlib, sys
n = 0
for p in pathlib.Path(sys.argv[1]).rglob("*.json"):
    json.loads(p.read_text()); n += 1
print(f"   {n} JSON files parse")
EOF
}

# ---- up ------------------------------------------------------------------------------------------
step "slurm-local-up"
STARTED=1
t0=$(ib_now_us)
timeout 120 bash "$UP" >"$WORK/up.out" 2>&1 || { cat "$WORK/up.out"; fail "slurm-local-up failed"; }
echo "   slurm-local-up: $(secs_since "$t0") s"

# ---- A: a whole sweep through sbatch ---------------------------------------------------------------
step "A: 3 stddevs x 2 repeats x 50 steps, --executor slurm (arrays split at 4)"
A=$WORK/A
t0=$(ib_now_us)
"$IB" sweep --executor slurm --stddevs 0.01,0.1,1 --repeats 2 --steps 50 $SMALL --max-array-size 4 \
  --out "$A" >"$WORK/A.out" 2>&1 || { cat "$WORK/A.out"; fail "sweep --executor slurm exited $?"; }
t_submit=$(secs_since "$t0")
sed 's/^/   | /' "$WORK/A.out"
until_true 120 "a task of A running" bash -c "grep -lqs '\"status\":[[:space:]]*\"running\"' '$A'/tasks/*.json"
t_first=$(secs_since "$t0")
status_wait "$A" 400
t_done=$(secs_since "$t0")
sed 's/^/   | /' "$WORK/status.out"
echo "   submit returned after $t_submit s; first task running after $t_first s; all complete after $t_done s"
grep -q '"job_id"' "$A/slurm/submissions.json" || fail "no submissions recorded"
[[ $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["submissions"]))' "$A/slurm/submissions.json") == 2 ]] ||
  fail "6 tasks with --max-array-size 4 should make 2 array jobs"
queue_empty_wait 120
[[ -s $A/summary.csv ]] || fail "the collect job wrote no $A/summary.csv"
sed 's/^/   | /' "$A/summary.csv"
grep -q '^0.1,2,2,0,0,0,' "$A/summary.csv" || fail "summary.csv: expected 2 of 2 complete for 0.1"
no_half_written "$A"

# ---- B: a failing task, then resume ---------------------------------------------------------------
step "B: a task whose run directory is blocked fails with its reason; resume completes it"
B=$WORK/B
mkdir -p "$B/runs"
echo "not a directory" >"$B/runs/0001-w0.1-r0" # where task 1's run directory goes
"$IB" sweep --executor slurm --stddevs 0.01,0.1 --repeats 1 --steps 50 $SMALL --tasks-per-job 2 \
  --out "$B" >"$WORK/B.out" 2>&1 || { cat "$WORK/B.out"; fail "sweep B submission exited $?"; }
grep -q '1 array task for 2 sweep tasks' "$WORK/B.out" || { cat "$WORK/B.out"; fail "--tasks-per-job 2: expected 1 array task"; }
queue_empty_wait 300
status_incomplete "$B" "status of a sweep with a failed task"
grep -Eq '^ +0 .* complete ' "$B.status" || fail "task 0 (same array task) should be complete"
grep -Eq '^ +1 .* failed +.*runs/0001-w0.1-r0 exists and is not a directory' "$B.status" ||
  fail "task 1 should be failed, naming the blocked path"
rm "$B/runs/0001-w0.1-r0"
"$IB" sweep resume "$B" >"$WORK/B.resume" 2>&1 || { cat "$WORK/B.resume"; fail "sweep resume exited $?"; }
sed 's/^/   | /' "$WORK/B.resume"
grep -q '1 finished, 0 queued or running, 1 to submit' "$WORK/B.resume" || fail "resume should submit only task 1"
status_wait "$B" 200
echo "   after resume: $(tail -n1 "$WORK/status.out")"
queue_empty_wait 120

step "B': resume refuses planted sbatch arguments in slurm/submissions.json (exit 2, nothing submitted)"
rm -rf "$B/runs/0001-w0.1-r0" "$B/tasks/0001.json" # a task to submit, were the record trusted
lists_before=$(ls "$B"/slurm/*.tasks | wc -l)
# a script path in the script's place, an option that would take the script as its value, an option
# that writes elsewhere, and its prefix (sbatch takes unambiguous prefixes)
for planted in '/tmp/planted.sbatch' '--qos' '--output=/tmp/planted.out' '--out=/tmp/planted.out'; do
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
j["options"]["sbatch_args"] = ["--comment=fine", sys.argv[2]]
json.dump(j, open(sys.argv[1], "w"), indent=1)' "$B/slurm/submissions.json" "$planted"
  cp "$B/slurm/submissions.json" "$WORK/B.planted"
  rc=0
  "$IB" sweep resume "$B" >"$WORK/B.planted.out" 2>&1 || rc=$?
  [[ $rc -eq 2 ]] || { cat "$WORK/B.planted.out"; fail "resume with the planted '$planted' exited $rc, expected 2"; }
  grep -q 'slurm/submissions.json: options.sbatch_args\[1\]' "$WORK/B.planted.out" ||
    { cat "$WORK/B.planted.out"; fail "the refusal of '$planted' does not name the file and the field"; }
  [[ -z $(timeout 15 squeue -h -r -o %i) ]] || fail "resume with the planted '$planted' submitted a job"
  cmp -s "$B/slurm/submissions.json" "$WORK/B.planted" || fail "resume changed the refused record"
done
[[ $(ls "$B"/slurm/*.tasks | wc -l) -eq $lists_before ]] || fail "a refused resume wrote a task list"
sed 's/^/   | /' "$WORK/B.planted.out"
rc=0
"$IB" sweep resume "$B" --sbatch-arg=--qos >"$WORK/B.qos.out" 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q -- '--sbatch-arg=--qos=VALUE' "$WORK/B.qos.out" ||
  { cat "$WORK/B.qos.out"; fail "--sbatch-arg=--qos: exit $rc, expected 2 with the --qos=VALUE hint"; }

# ---- C: interrupted twice, resumes bitwise identical -------------------------------------------------
step "C: a task requeued mid-run (USR1 self-requeue, then scontrol requeue) vs an uninterrupted local run"
C=$WORK/C%j%A # '%' in the sweep path: Slurm's output patterns must get it as a literal '%%'
CARGS="--stddevs 0.1 --repeats 1 --steps 160 --checkpoint-every 10 $SMALL"
"$IB" sweep --executor slurm $CARGS --out "$C" >"$WORK/C.out" 2>&1 || { cat "$WORK/C.out"; fail "sweep C exited $?"; }
# the reference, on the other core, one thread (as the Slurm task has --cpus-per-task 1)
SLURM_CPUS_PER_TASK=1 "$IB" sweep --executor local $CARGS --out "$WORK/Cref" >"$WORK/Cref.out" 2>&1 &
ref_pid=$!
JC=$(job_of "$C" 0)
RUN=$C/runs/0000-w0.1-r0
until_true 120 "task C past step 50" curve_rows "$RUN" 3
timeout 15 scancel --signal=USR1 --batch "${JC}_0" || fail "scancel --signal=USR1 --batch ${JC}_0"
echo "   USR1 to the batch script of ${JC}_0 at row $(( $(wc -l <"$RUN/curve.csv") - 1 )) of the curve"
until_true 120 "task C requeued and resumed" grep -qs '"resumed_from_step"' "$RUN/run.json"
grep -q 'requeueing job' "$C/slurm/logs/${JC}_0.out" || fail "the job script did not requeue itself"
first_resume=$(grep -o '"resumed_from_step":[[:space:]]*[0-9]*' "$RUN/run.json" | grep -o '[0-9]*$')
echo "   resumed from step $first_resume after the self-requeue"
until_true 120 "task C past step 100 after resuming" curve_rows "$RUN" 5
timeout 15 scontrol requeue "${JC}_0" || fail "scontrol requeue ${JC}_0"
# A requeued job is held 120 s (cred_expire) unless released; only once it is pending again, and
# to now+2: started within the second of the requeue, slurmd refuses it ("Job credential revoked").
release_now() { # JOB RESTARTS: until JOB runs again with that restart count
  local q
  q=$(timeout 15 scontrol -o show job "$1") || return 1
  [[ $q == *" Restarts=$2 "* ]] || return 1
  case $q in
    *"JobState=PENDING Reason=BeginTime"*)
      # once: every update moves the start to now+2 again, and Reason stays BeginTime until then
      [[ $RELEASED == 1 ]] || { timeout 15 scontrol update JobId="$1" StartTime=now+2 >/dev/null 2>&1 && RELEASED=1; }
      return 1 ;;
    *JobState=RUNNING*) return 0 ;;
    *) return 1 ;;
  esac
}
RELEASED=0
until_true 30 "${JC}_0 running again after scontrol requeue" release_now "${JC}_0" 2
echo "   scontrol requeue ${JC}_0 at row $(( $(wc -l <"$RUN/curve.csv") - 1 )) of the curve"
status_wait "$C" 300
wait "$ref_pid" || { cat "$WORK/Cref.out"; fail "the local reference run failed"; }
restarts=$(timeout 15 scontrol -o show job "${JC}_0" | grep -o 'Restarts=[0-9]*')
last_resume=$(grep -o '"resumed_from_step":[[:space:]]*[0-9]*' "$RUN/run.json" | grep -o '[0-9]*$')
echo "   $restarts; last resume from step $last_resume"
[[ $restarts == Restarts=2 ]] || fail "expected 2 restarts of ${JC}_0, got $restarts"
(( last_resume > first_resume )) || fail "the second requeue did not resume from a later checkpoint"
cmp "$RUN/params.safetensors" "$WORK/Cref/runs/0000-w0.1-r0/params.safetensors" ||
  fail "params.safetensors after two requeues differs from the uninterrupted local run"
cmp <(cut -d, -f1-4 "$RUN/curve.csv") <(cut -d, -f1-4 "$WORK/Cref/runs/0000-w0.1-r0/curve.csv") ||
  fail "curve.csv (step, losses, accuracies) differs from the uninterrupted local run"
echo "   params.safetensors and the curve are identical to the uninterrupted local run"
# Results of A match a local run of the same task (A's task 2 = w 0.1 r0, 50 steps)
SLURM_CPUS_PER_TASK=1 "$IB" sweep --executor local --stddevs 0.1 --repeats 1 --steps 50 $SMALL --out "$WORK/Aref" >/dev/null 2>&1 ||
  fail "local reference for A failed"
cmp "$A/runs/0002-w0.1-r0/params.safetensors" "$WORK/Aref/runs/0000-w0.1-r0/params.safetensors" ||
  fail "A's task 2 under Slurm differs from the same task run locally"
queue_empty_wait 120

# ---- D: scancel leaves nothing half-written ------------------------------------------------------
step "D: scancel of a running array; then finish it locally"
D=$WORK/D
"$IB" sweep --executor slurm --stddevs 0.01,0.1,1 --repeats 1 --steps 100 --checkpoint-every 7 $SMALL \
  --out "$D" >"$WORK/D.out" 2>&1 || { cat "$WORK/D.out"; fail "sweep D exited $?"; }
JD=$(job_of "$D" 0)
until_true 120 "two tasks of D running" bash -c "curve_rows() { [[ -f \$1/curve.csv ]] && (( \$(wc -l <\"\$1/curve.csv\") >= 2 )); }; curve_rows '$D/runs/0000-w0.01-r0' && curve_rows '$D/runs/0001-w0.1-r0'"
sleep 0.6
timeout 15 scancel "$JD" || fail "scancel $JD"
queue_empty_wait 120
status_incomplete "$D" "status after scancel"
grep -Eq '^ +2 .* missing' "$D.status" || fail "the never-started task 2 should be missing"
no_half_written "$D"
for r in "$D"/runs/*/; do
  [[ -f $r/run.json ]] || fail "$r: no run.json"
  grep -Eq '"status":[[:space:]]*"(interrupted|running)"' "$r/run.json" || fail "$r/run.json: unexpected status"
done
# Started on Slurm, finished here: the cancelled tasks continue from their checkpoints.
timeout 300 "$IB" sweep resume "$D" --executor local --jobs 2 >"$WORK/D.resume" 2>&1 ||
  { cat "$WORK/D.resume"; fail "sweep resume --executor local exited $?"; }
grep -c 'resuming' "$D"/runs/*/train.log | sed 's/^/   | /'
(( $(cat "$D"/runs/*/train.log | grep -c 'resuming') == 2 )) || fail "the two cancelled tasks should have resumed from checkpoints"
status_wait "$D" 10
echo "   after resume --executor local: $(tail -n1 "$WORK/status.out")"

# ---- down -------------------------------------------------------------------------------------------
step "slurm-local-down"
t0=$(ib_now_us)
timeout 120 bash "$DOWN" >"$WORK/down.out" 2>&1 || { cat "$WORK/down.out"; fail "slurm-local-down failed"; }
STARTED=0
echo "   slurm-local-down: $(secs_since "$t0") s"
step "test_slurm_sweep: PASSED"
