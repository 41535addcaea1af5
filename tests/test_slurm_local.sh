#!/usr/bin/env bash
# ctest slurm_local: start a real one-node Slurm with jobs/slurm-local-up (twice: idempotent),
# run a 4-task array and a failing job, check results and states, stop it with
# jobs/slurm-local-down (twice). Exit 77 (skipped) when not root or Slurm/munge are missing.
# Every wait is bounded, so a wedged Slurm fails the test instead of hanging it.
# usage: test_slurm_local.sh [SOURCE_DIR]
set -euo pipefail

SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=tests/slurm_test_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh" # skip, fail, cluster set-up and tear-down

slurm_test_require
slurm_test_setup test_slurm_local ib-slurm-test 30
MUNGED_BEFORE=$(ib_pids_named munged | paste -sd' ')

step() { printf '== %s\n' "$*"; }
ms_since() { echo $(( ($(ib_now_us) - $1) / 1000 )); }

# run_script NAME SCRIPT: run it bounded, echo its output, keep it in $OUT and its status in $RC.
run_script() {
  local t0
  t0=$(ib_now_us)
  RC=0
  OUT=$(timeout 120 bash "$2" 2>&1) || RC=$?
  printf '%s\n' "$OUT" | sed 's/^/   | /'
  echo "   $1: exit $RC, $(ms_since "$t0") ms"
}

# wait_job JOBID TIMEOUT_S: poll until every element of the job is in a final state; leaves
# "index state" lines (index N/A for a plain job) in $STATES. Fails on timeout or a drained node.
wait_job() {
  local j=$1 end=$(( $(ib_now_us) + $2 * 1000000 )) s all_final
  while :; do
    STATES=$(timeout 15 squeue -h -j "$j" --states=all -r -o '%K %T' | sort -n) ||
      fail "squeue -j $j failed"
    all_final=1
    [[ -n $STATES ]] || all_final=0
    while read -r _ s; do
      case $s in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) ;;
        *) all_final=0 ;;
      esac
    done <<<"$STATES"
    [[ $all_final -eq 1 ]] && return 0
    check_node "while job $j ran"
    (( $(ib_now_us) < end )) || fail "job $j not finished after $2 s; squeue: $(tr '\n' ';' <<<"$STATES")"
    sleep 0.5
  done
}

# ---- up, twice ---------------------------------------------------------------------------------
step "slurm-local-up (from nothing)"
STARTED=1
run_script up "$UP"
[[ $RC -eq 0 ]] || fail "slurm-local-up exited $RC"
CTLD=$(ib_pidfile_pid "$IB_CTLD_PIDFILE")
SLURMD=$(ib_pidfile_pid "$IB_SLURMD_PIDFILE")
ib_alive "$CTLD" slurmctld || fail "no running slurmctld after up (pid file: '$CTLD')"
ib_alive "$SLURMD" slurmd || fail "no running slurmd after up (pid file: '$SLURMD')"
ib_conf_is_ours || fail "$IB_CONF lacks the generated-file marker"
[[ $(timeout 15 sinfo -h -o %T) == idle ]] || fail "node not idle after up"

step "slurm-local-up again (must find the cluster up and leave it alone)"
run_script up "$UP"
[[ $RC -eq 0 ]] || fail "second slurm-local-up exited $RC"
[[ $OUT == *"already up"* ]] || fail "second slurm-local-up did not say the cluster is already up"
[[ $(ib_pidfile_pid "$IB_CTLD_PIDFILE") == "$CTLD" && $(ib_pidfile_pid "$IB_SLURMD_PIDFILE") == "$SLURMD" ]] ||
  fail "second slurm-local-up restarted the daemons"
ib_alive "$CTLD" slurmctld || fail "slurmctld gone after the second up"
ib_alive "$SLURMD" slurmd || fail "slurmd gone after the second up"

# ---- a 4-task array, at most 2 at a time ----------------------------------------------------------
step "array job --array=0-3%2"
mkdir -p "$WORK/results" "$WORK/out"
cat >"$WORK/task.sh" <<'EOF'
#!/bin/bash
# $1: result dir. One result file per array index, written under a temporary name then renamed.
set -eu
f=$1/result.$SLURM_ARRAY_TASK_ID
echo "task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname)" >"$f.tmp"
mv "$f.tmp" "$f"
EOF
t0=$(ib_now_us)
J=$(timeout 30 sbatch --parsable --array=0-3%2 -J ib-test-array --chdir="$WORK" \
  -o "$WORK/out/%A_%a.out" "$WORK/task.sh" "$WORK/results") || fail "sbatch of the array failed"
J=${J%%;*}
[[ $J =~ ^[0-9]+$ ]] || fail "sbatch --parsable printed '$J'"
wait_job "$J" 60
echo "   array job $J finished in $(ms_since "$t0") ms:"
printf '   | %s\n' "${STATES//$'\n'/$'\n   | '}"
for i in 0 1 2 3; do
  [[ -s $WORK/results/result.$i ]] || fail "array task $i wrote no result file"
done
[[ $STATES == $'0 COMPLETED\n1 COMPLETED\n2 COMPLETED\n3 COMPLETED' ]] ||
  fail "expected array tasks 0-3 COMPLETED, squeue --states=all says: $(tr '\n' ';' <<<"$STATES")"

# ---- a failing job ------------------------------------------------------------------------------
step "job that exits 3"
t0=$(ib_now_us)
F=$(timeout 30 sbatch --parsable -J ib-test-fail --chdir="$WORK" -o "$WORK/out/fail.out" \
  --wrap 'exit 3') || fail "sbatch of the failing job failed"
F=${F%%;*}
wait_job "$F" 60
SHOW=$(timeout 15 scontrol -o show job "$F") || fail "scontrol show job $F failed"
echo "   job $F finished in $(ms_since "$t0") ms: $(grep -o 'JobState=[A-Z_]* Reason=[^ ]*' <<<"$SHOW") $(grep -o 'ExitCode=[0-9:]*' <<<"$SHOW")"
[[ $STATES == "N/A FAILED" ]] || fail "squeue --states=all says '$STATES', expected FAILED"
[[ $SHOW == *"JobState=FAILED "* ]] || fail "scontrol show job $F: no JobState=FAILED: $SHOW"
[[ $SHOW == *" ExitCode=3:0 "* ]] || fail "scontrol show job $F: no ExitCode=3:0: $SHOW"
# The persistent record (jobcomp/filetxt) the README points users to.
grep -q "^JobId=$F .*JobState=FAILED .*ExitCode=3:0" "$IB_SLURM_LOG_DIR/jobcomp.log" ||
  fail "no FAILED ExitCode=3:0 line for job $F in $IB_SLURM_LOG_DIR/jobcomp.log"
[[ $(timeout 15 sinfo -h -o %T) == idle ]] || fail "node not idle after the jobs: $(timeout 15 sinfo -h -o '%T %E')"

# ---- down, twice --------------------------------------------------------------------------------
step "slurm-local-down"
run_script down "$DOWN"
[[ $RC -eq 0 ]] || fail "slurm-local-down exited $RC"
step "slurm-local-down again (nothing running)"
run_script down "$DOWN"
[[ $RC -eq 0 ]] || fail "second slurm-local-down exited $RC"
[[ $OUT == *"nothing from slurm-local-up is running"* ]] || fail "second slurm-local-down did not say nothing was running"
STARTED=0

for c in slurmctld slurmd slurmstepd; do
  p=$(ib_pids_named "$c" | paste -sd' ')
  [[ -z $p ]] || fail "$c still running after slurm-local-down: $p"
done
if [[ -z $MUNGED_BEFORE ]]; then
  p=$(ib_pids_named munged | paste -sd' ')
  [[ -z $p ]] || fail "munged (started by slurm-local-up) still running after slurm-local-down: $p"
else
  for p in $MUNGED_BEFORE; do
    ib_alive "$p" munged || fail "slurm-local-down stopped the munged (pid $p) it had not started"
  done
fi
for f in "$IB_CTLD_PIDFILE" "$IB_SLURMD_PIDFILE" "$IB_STATE_FILE"; do
  [[ ! -e $f ]] || fail "stale pid file left behind: $f"
done
echo "test_slurm_local: PASSED"
