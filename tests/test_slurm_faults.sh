#!/usr/bin/env bash
# ctest slurm_faults: a 3 x 3 sweep on a real 3-node Slurm (three slurmd on this host, started
# with jobs/slurm-local-up --nodes 3) through the faults of jobs/slurm-local-fault:
#   A. node loss mid-run (slurmd, its slurmstepd and all their descendants stopped, then killed):
#      the task is requeued and resumes elsewhere from its checkpoint; the node returns and takes
#      new tasks of the same sweep (c).
#   B. partition (slurmd alone stopped; its job runs on): Slurm requeues the job while the first
#      copy still runs; the second copy waits on the first (sweep status: "running twice"), the
#      first writes every result, the second exits 0; the node returns.
# After each: every run's parameters and curve are bitwise identical to a local sweep of the same
# grid; no run was trained twice from one starting point (its train.log lists where each copy
# started: 0, then each resume's checkpoint step, strictly increasing); nothing is left running.
# Prints a timeline per fault in seconds. Exit 77 (skipped) without root, Slurm, munge or MNIST.
# usage: test_slurm_faults.sh SOURCE_DIR INITBENCH_BINARY
set -euo pipefail

SRC=${1:?usage: test_slurm_faults.sh SOURCE_DIR INITBENCH}
IB=${2:?usage: test_slurm_faults.sh SOURCE_DIR INITBENCH}
# shellcheck source=tests/slurm_test_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh" # skip, fail, cluster set-up and tear-down

slurm_test_require python3
[[ -x $IB ]] || { echo "FAIL: $IB is not an executable"; exit 1; }
"$IB" data verify --dataset mnist >/dev/null 2>&1 || skip "MNIST not available (initbench data fetch)"
FAULT=$SRC/jobs/slurm-local-fault
[[ -f $FAULT ]] || fail "$FAULT not found"

slurm_test_setup test_slurm_faults ib-slurm-faults 30 '*/slurm/logs/*' 30
export INITBENCH_JOBS_DIR=$SRC/jobs
# Claims beat every second here (10 s by default): sbatch passes the environment on to the jobs.
export IB_CLAIM_BEAT=1

# A timeline: mark NAME prints the seconds since the fault's start (T_FAULT).
mark() { printf '   t=%6.1f s  %s\n' "$(secs_since "$T_FAULT")" "$*"; }

# shellcheck disable=SC2054 # the commas separate stddevs inside one argument
GRID=(--stddevs 0.01,0.1,1 --repeats 3 --steps 120 --checkpoint-every 20 --eval-every 60
  --train-size 2000 --test-size 500 --eval-batch 250 --stats-every 0)

node_state() { timeout 10 sinfo -h -n "$1" -o %T 2>/dev/null || true; }
node_silent() { [[ $(node_state "$1") == *'*'* || $(node_state "$1") == *down* ]]; } # sinfo's * : not responding
node_down() { [[ $(node_state "$1") == *down* ]]; }
node_usable() { case $(node_state "$1") in idle | mixed | allocated | completing) return 0 ;; esac; return 1; }
restarts() { timeout 10 scontrol -o show job "$1" 2>/dev/null | grep -o 'Restarts=[0-9]*' | head -1 | cut -d= -f2; }
requeued() { [[ $(restarts "$1") -ge 1 ]]; }
# The array task (%i, as 12_3) running on NODE, if any.
job_on() { timeout 10 squeue -h -w "$1" -t R -o '%i' 2>/dev/null | grep -v '^$' | head -1 || true; }
# The run directory a running task record names for Slurm job JOB in sweep DIR.
run_of_job() {
  python3 - "$1" "$2" <<'EOF'
import json, pathlib, sys
d, job = pathlib.Path(sys.argv[1]), sys.argv[2]
for p in sorted((d / "tasks").glob("[0-9][0-9][0-9][0-9].json")):
    try:
        r = json.loads(p.read_text())
    except Exception:
        continue
    if r.get("slurm_job") == job and r.get("status") == "running":
        print(d / r["dir"]); break
EOF
}
has_run_of_job() { [[ -n $(run_of_job "$1" "$2") ]]; }
status_complete() { timeout 60 "$IB" sweep status "$1" >"$1.status" 2>&1; }
queue_empty() { [[ -z $(timeout 15 squeue -h -r -o %i 2>/dev/null || echo busy) ]]; }
ours_running() { pgrep -f -- "$1" >/dev/null; }

# every run bitwise equal to the local reference; starts strictly increasing in each train.log
check_runs() { # SWEEP_DIR
  local r name n=0
  for r in "$REF"/runs/*/; do
    name=$(basename "$r")
    cmp -s "$r/params.safetensors" "$1/runs/$name/params.safetensors" ||
      fail "$1/runs/$name/params.safetensors differs from the local sweep's"
    cmp -s <(cut -d, -f1-4 "$r/curve.csv") <(cut -d, -f1-4 "$1/runs/$name/curve.csv") ||
      fail "$1/runs/$name/curve.csv differs from the local sweep's"
    n=$((n + 1))
  done
  [[ $n -eq 9 ]] || fail "expected 9 runs in the reference, found $n"
  echo "   all 9 runs: params.safetensors and curve.csv bitwise identical to the local sweep"
  python3 - "$1" <<'EOF' || fail "a run was trained twice from one starting point (see above)"
import pathlib, re, sys
bad = 0
for log in sorted(pathlib.Path(sys.argv[1]).glob("runs/*/train.log")):
    starts = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"resuming .* from its checkpoint at step (\d+)", line)
        if m:
            starts.append(int(m.group(1)))
        elif re.match(r"step 0/\d+ ", line):
            starts.append(0)
    ok = len(starts) >= 1 and all(a < b for a, b in zip(starts, starts[1:]))
    bad += not ok
    if len(starts) > 1 or not ok:
        print(f"   {log.parent.name}: copies started at steps {starts}{'' if ok else '  <-- twice'}")
print(f"   training starts per run counted from train.log: {'none repeated' if not bad else f'{bad} runs repeated one'}")
sys.exit(1 if bad else 0)
EOF
}

# ---- the reference: the same grid run locally, one thread per run as under Slurm ------------------
step "reference: the 3 x 3 grid as a local sweep"
REF=$WORK/ref
SLURM_CPUS_PER_TASK=1 "$IB" sweep --executor local --jobs 2 "${GRID[@]}" --out "$REF" >"$WORK/ref.out" 2>&1 ||
  { tail -20 "$WORK/ref.out"; fail "the local reference sweep failed"; }

# ---- up --------------------------------------------------------------------------------------------
step "slurm-local-up --nodes 3"
STARTED=1
t0=$(ib_now_us)
timeout 120 bash "$UP" --nodes 3 >"$WORK/up.out" 2>&1 || { cat "$WORK/up.out"; fail "slurm-local-up --nodes 3 failed"; }
echo "   up in $(secs_since "$t0") s: $(timeout 10 sinfo -h -N -o '%N %T' | paste -sd' ')"
for n in n1 n2 n3; do node_usable "$n" || fail "node $n is $(node_state "$n") after up"; done

# ---- A: node loss, then the node returns -----------------------------------------------------------
step "A: node loss of n2 mid-run, then n2 returns"
A=$WORK/A
"$IB" sweep --executor slurm "${GRID[@]}" --out "$A" >"$WORK/A.out" 2>&1 || { cat "$WORK/A.out"; fail "sweep A exited $?"; }
T_FAULT=$(ib_now_us)
mark "submitted 9 array tasks (one per task)"
# the task on n2 once it has checkpointed (a task that ends first is followed by the next one)
n2_checkpointed() {
  JOB=$(job_on n2)
  [[ -n $JOB ]] || return 1
  RUN=$(run_of_job "$A" "$JOB")
  [[ -n $RUN && -s $RUN/checkpoint.safetensors ]]
}
until_true 240 "a task of A on n2 past its first checkpoint" n2_checkpointed
mark "job $JOB ($(basename "$RUN")) on n2 has checkpointed"
T_KILL=$(ib_now_us)
bash "$FAULT" node-loss n2 >"$WORK/A.fault" 2>&1 || { cat "$WORK/A.fault"; fail "slurm-local-fault node-loss n2 failed"; }
mark "node-loss n2: $(grep -o 'stopped.*' "$WORK/A.fault" | head -1)"
until_true 60 "n2 not responding" node_silent n2
mark "n2 is $(node_state n2): not responding ($(secs_since "$T_KILL") s after the kill)"
until_true 60 "n2 down" node_down n2
mark "n2 is $(node_state n2) ($(secs_since "$T_KILL") s after the kill)"
until_true 60 "job $JOB requeued" requeued "$JOB"
mark "job $JOB requeued (Restarts=$(restarts "$JOB"))"
bash "$FAULT" return n2 >>"$WORK/A.fault" 2>&1 || { cat "$WORK/A.fault"; fail "slurm-local-fault return n2 failed"; }
T_RETURN=$(date +%s.%N)
mark "return n2"
until_true 60 "n2 back" node_usable n2
mark "n2 is $(node_state n2)"
until_true 180 "job $JOB resumed" grep -q "resuming .* from its checkpoint at step" "$RUN/train.log"
mark "job $JOB resumed: $(grep -o 'from its checkpoint at step [0-9]*' "$RUN/train.log" | tail -1)"
until_true 400 "sweep A complete" status_complete "$A"
mark "sweep A complete"
until_true 120 "the queue empty" queue_empty
! ours_running "$A" || fail "processes of sweep A still running: $(pgrep -af -- "$A" | head -5)"
mark "queue empty, no process of sweep A left"
# (c) n2 took new tasks after its return: a task started on n2 later than the return
python3 - "$A" "$T_RETURN" <<'EOF' || fail "n2 took no task after it returned"
import datetime, pathlib, re, sys
d, ret = pathlib.Path(sys.argv[1]), float(sys.argv[2])
starts = []
for log in sorted((d / "slurm" / "logs").glob("*.out")):
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"(\S+)Z job (\S+) \(id \d+, restart (\d+)\) on \S+ node (\S+):", line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
            starts.append((t, m.group(2), int(m.group(3)), m.group(4)))
after = [s for s in starts if s[3] == "n2" and s[0] > ret]
for t, job, r, node in sorted(starts):
    print(f"   array task {job} started on {node} (restart {r}) at t={t - ret:+.1f} s from n2's return")
sys.exit(0 if after else 1)
EOF
check_runs "$A"

# ---- B: partition: two copies at once, one writer ------------------------------------------------------
step "B: partition of a node mid-run: the job is requeued while its first copy runs on"
B=$WORK/B
# five tasks per array task: two array tasks on three nodes, so the requeued copy finds a free node
# while the first copy still has tasks to run
"$IB" sweep --executor slurm "${GRID[@]}" --tasks-per-job 5 --out "$B" >"$WORK/B.out" 2>&1 ||
  { cat "$WORK/B.out"; fail "sweep B exited $?"; }
T_FAULT=$(ib_now_us)
mark "submitted 2 array tasks of 5 and 4 tasks"
JOB='' NODE=''
until_true 180 "both array tasks of B running" bash -c "[[ \$(squeue -h -t R -o %i | grep -c _) -ge 2 ]]"
for n in n1 n2 n3; do
  j=$(job_on "$n")
  [[ $j == *_0 ]] && JOB=$j NODE=$n
done
[[ -n $JOB ]] || fail "array task 0 of B is not running on any node: $(squeue -h -o '%i %T %N' | paste -sd';')"
until_true 120 "the first run of $JOB started" has_run_of_job "$B" "$JOB"
mark "job $JOB runs on $NODE"
T_STOP=$(ib_now_us)
bash "$FAULT" partition "$NODE" >"$WORK/B.fault" 2>&1 || { cat "$WORK/B.fault"; fail "slurm-local-fault partition failed"; }
mark "partition $NODE (its slurmd stopped; job $JOB runs on)"
until_true 60 "$NODE not responding" node_silent "$NODE"
mark "$NODE is $(node_state "$NODE"): not responding ($(secs_since "$T_STOP") s after the stop)"
until_true 60 "$NODE down" node_down "$NODE"
mark "$NODE is $(node_state "$NODE") ($(secs_since "$T_STOP") s after the stop)"
until_true 60 "job $JOB requeued" requeued "$JOB"
mark "job $JOB requeued (Restarts=$(restarts "$JOB"))"
waiter_exists() { compgen -G "$B/tasks/*.waiter" >/dev/null; }
until_true 120 "the requeued copy waiting" waiter_exists
mark "two copies: $(basename "$(compgen -G "$B/tasks/*.waiter" | head -1)") written by the requeued copy"
# The status is polled: a single look can fall in the instant between a run's completion and its
# waiter leaving, when the run reads complete (a final state carries no note of copies).
shows_twice() {
  timeout 60 "$IB" sweep status "$B" >"$WORK/B.twice" 2>&1 || true
  grep -q "running twice" "$WORK/B.twice"
}
T_LOOK=$(ib_now_us)
until shows_twice; do
  (( $(ib_now_us) - T_LOOK < 60000000 )) ||
    { cat "$WORK/B.twice"; fail "sweep status did not show the task running twice within 60 s"; }
  sleep 0.2
done
sed -n 's/^\(.*running twice.*\)$/   | \1/p' "$WORK/B.twice"
until_true 400 "sweep B complete" status_complete "$B"
mark "sweep B complete"
LOG=$B/slurm/logs/${JOB%_*}_0.out
copies_ended() { [[ $(grep -c 'task runner exited' "$LOG") -ge 2 ]]; }
until_true 120 "both copies of $JOB ended" copies_ended
mark "both copies ended: $(grep -o 'task runner exited [0-9]*' "$LOG" | paste -sd, -)"
bash "$FAULT" return "$NODE" >>"$WORK/B.fault" 2>&1 || { cat "$WORK/B.fault"; fail "slurm-local-fault return $NODE failed"; }
mark "return $NODE"
until_true 60 "$NODE back" node_usable "$NODE"
until_true 120 "the queue empty" queue_empty
! ours_running "$B" || fail "processes of sweep B still running: $(pgrep -af -- "$B" | head -5)"
mark "$NODE is $(node_state "$NODE"); queue empty, no process of sweep B left"
echo "   the array task's log ($LOG):"
grep -E "^[0-9T:.-]+Z job |is held by another|task runner exited|already complete" "$LOG" | sed -n '1,30s/^/   | /p' || true
[[ $(grep -c "restart 0) on .* node $NODE:" "$LOG") -ge 1 ]] || fail "no first copy on $NODE in $LOG"
[[ $(grep -c "restart 1) on .* node " "$LOG") -ge 1 ]] || fail "no requeued copy in $LOG"
grep -q "is held by another initbench task runner (host [^,]*, pid [0-9]*, Slurm job $JOB)" "$LOG" ||
  fail "the requeued copy did not name the holder (host, pid, job $JOB)"
[[ $(grep -c 'task runner exited 0' "$LOG") -ge 2 ]] || fail "a copy of $JOB did not exit 0"
compgen -G "$B/tasks/*.waiter" >/dev/null && fail "a waiter note was left: $(compgen -G "$B/tasks/*.waiter")"
grep -l "resuming" "$B"/runs/*/train.log 2>/dev/null && fail "a run of B was resumed: both copies trained it"
echo "   every run of B was trained by one copy (no resume in any train.log)"
check_runs "$B"

# ---- down: nothing of ours left ---------------------------------------------------------------------
step "slurm-local-down"
timeout 120 bash "$DOWN" >"$WORK/down.out" 2>&1 || { cat "$WORK/down.out"; fail "slurm-local-down failed"; }
# shellcheck disable=SC2034 # read by the EXIT trap of slurm_test_lib.sh
STARTED=0
left=$(ib_pids_named slurmstepd | paste -sd' ')
[[ -z $left ]] || fail "slurmstepd left running after down: $left"
for c in slurmctld slurmd; do
  [[ -z $(ib_pids_named "$c") ]] || fail "$c left running after down"
done
step "done"
