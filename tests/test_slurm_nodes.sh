#!/usr/bin/env bash
# ctest slurm_nodes: a real 3-node Slurm on this host (jobs/slurm-local-up --nodes 3) and the
# faults of jobs/slurm-local-fault. Checks: up counts nodes (a 1-node cluster is replaced, a
# second --nodes 3 is a no-op); a 3-task array spreads over n1..n3; node-loss of the node running
# a task kills its slurmd, slurmstepd and the task's processes, the node goes not responding and
# DOWN, the task is requeued (SLURM_RESTART_COUNT=1) and completes on another node, while the
# killed copy never finishes; return brings the node back idle; partition stops only slurmd, the
# node goes DOWN, return brings it back; slurm-local-down copes with a stopped slurmd and with a
# slurmstepd whose slurmd was killed, and leaves no slurmctld/slurmd/slurmstepd of ours.
# Prints the timeline kill -> not responding -> DOWN -> requeue -> restart -> completion.
# Exit 77 (skipped) when not root or Slurm/munge are missing. Every wait is bounded.
# usage: test_slurm_nodes.sh [SOURCE_DIR]
set -euo pipefail

SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=tests/slurm_test_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh" # skip, fail, cluster set-up and tear-down
FAULT=$SRC/jobs/slurm-local-fault

slurm_test_require
[[ -f $FAULT ]] || fail "$FAULT not found"
slurm_test_setup test_slurm_nodes ib-slurm-nodes 30 'log/slurmd-n*.log' 15
STEPD_BEFORE=" $(ib_pids_named slurmstepd | paste -sd' ') "
T_TEST=$(ib_now_us)

step() { printf '== %s\n' "$*"; }
ms_since() { echo $(( ($(ib_now_us) - $1) / 1000 )); }
secs() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); } # us -> "s.cc"
rel() { # us -> "+12.3 s" after the SIGKILL of node-loss
  local d=$(($1 - T_KILL)) sg=+
  ((d >= 0)) || { sg=-; d=$((-d)); }
  printf '%s%d.%d s' "$sg" $((d / 1000000)) $((d % 1000000 / 100000))
}

# run NAME CMD...: run it bounded, echo its output, keep it in $OUT and its status in $RC.
run() {
  local name=$1 t0
  shift
  t0=$(ib_now_us)
  RC=0
  OUT=$(timeout 120 "$@" 2>&1) || RC=$?
  printf '%s\n' "$OUT" | sed 's/^/   | /'
  echo "   $name: exit $RC, $(ms_since "$t0") ms"
}

node_state() { # NODE -> IDLE, ALLOCATED, IDLE+NOT_RESPONDING, DOWN+NOT_RESPONDING, ...
  local out
  out=$(timeout 15 scontrol -o show node "$1") || fail "scontrol show node $1 failed"
  [[ $out =~ (^|\ )State=([^ ]+) ]] || fail "no State= for node $1: $out"
  echo "${BASH_REMATCH[2]}"
}
node_slurmd() { ib_pidfile_pid "$IB_SLURM_RUN_DIR/slurmd-$1.pid"; }

# stepds_of JOBID: live slurmstepd whose command line is "slurmstepd: [JOBID.<step>]" (an
# independent look, not the scripts' socket rule).
stepds_of() {
  local p
  local -a a
  for p in $(ib_pids_named slurmstepd); do
    { mapfile -d '' -t a <"/proc/$p/cmdline"; } 2>/dev/null || continue
    [[ ${a[0]:-} == "slurmstepd: [$1."* ]] && echo "$p"
  done
  return 0
}

# ---- up: flag checks, 1 node, then 3 (must replace it), then 3 again (no-op) ---------------------
step "slurm-local-up / slurm-local-fault: bad arguments (exit 2)"
for a in 0 17 x; do
  RC=0
  bash "$UP" --nodes "$a" >/dev/null 2>&1 || RC=$?
  [[ $RC -eq 2 ]] || fail "slurm-local-up --nodes $a exited $RC, expected 2"
done
RC=0
bash "$FAULT" node-loss n1 >/dev/null 2>&1 || RC=$?
[[ $RC -eq 2 ]] || fail "slurm-local-fault with no cluster running exited $RC, expected 2"

step "slurm-local-up (1 node), then --nodes 3 (must replace it)"
STARTED=1
run up1 bash "$UP"
[[ $RC -eq 0 ]] || fail "slurm-local-up exited $RC"
OLD_CTLD=$(ib_pidfile_pid "$IB_CTLD_PIDFILE")
run up3 bash "$UP" --nodes 3
[[ $RC -eq 0 ]] || fail "slurm-local-up --nodes 3 exited $RC"
[[ $OUT == *"stopping it first"* ]] || fail "slurm-local-up --nodes 3 did not replace the 1-node cluster"
! ib_alive "$OLD_CTLD" slurmctld || fail "the 1-node cluster's slurmctld (pid $OLD_CTLD) still runs"
CTLD=$(ib_pidfile_pid "$IB_CTLD_PIDFILE")
ib_alive "$CTLD" slurmctld || fail "no slurmctld after up --nodes 3"
declare -A SLURMD=()
for n in n1 n2 n3; do
  SLURMD[$n]=$(node_slurmd "$n")
  ib_alive "${SLURMD[$n]}" slurmd || fail "no slurmd for $n after up --nodes 3 (pid file: '${SLURMD[$n]}')"
done
for l in SlurmctldPort=16817 AuthInfo=cred_expire=5 SlurmdTimeout=5 MessageTimeout=3 JobRequeue=1 \
  ReturnToService=2 "SlurmdSpoolDir=$IB_SLURM_SPOOL_DIR/slurmd/%n" \
  "NodeName=n[1-3] NodeAddr=127.0.0.1 Port=[17001-17003] CPUs=1 RealMemory=1000 State=UNKNOWN"; do
  grep -qxF "$l" "$IB_CONF" || fail "$IB_CONF lacks the line: $l"
done
STATES=$(timeout 15 sinfo -h -N -o '%N %T' | sort | paste -sd' ') || fail "sinfo failed"
[[ $STATES == "n1 idle n2 idle n3 idle" ]] || fail "expected n1..n3 idle, sinfo says: $STATES"

run up3-again bash "$UP" --nodes 3
[[ $RC -eq 0 && $OUT == *"already up"* ]] || fail "a second up --nodes 3 did not find the cluster up (exit $RC)"
for n in n1 n2 n3; do
  [[ $(node_slurmd "$n") == "${SLURMD[$n]}" ]] || fail "the second up --nodes 3 restarted $n's slurmd"
done
RC=0
bash "$FAULT" node-loss n9 >/dev/null 2>&1 || RC=$?
[[ $RC -eq 2 ]] || fail "slurm-local-fault node-loss n9 (no such node) exited $RC, expected 2"

# ---- a 3-task array over 3 nodes ----------------------------------------------------------------
step "array --array=0-2 of 'sleep 20' (one CPU per node: one task per node)"
mkdir -p "$WORK/out"
cat >"$WORK/task.sh" <<'EOF'
#!/bin/bash
# One line when it starts (node, restart count, its pid and its sleep's pid), one when done.
sleep 20 &
echo "start node=$SLURMD_NODENAME restart=${SLURM_RESTART_COUNT:-0} pid=$$ sleep=$!"
wait
echo "done node=$SLURMD_NODENAME restart=${SLURM_RESTART_COUNT:-0}"
EOF
J=$(timeout 30 sbatch --parsable --array=0-2 -J ib-test-nodes --open-mode=append \
  -o "$WORK/out/%a.out" "$WORK/task.sh") || fail "sbatch of the array failed"
J=${J%%;*}
[[ $J =~ ^[0-9]+$ ]] || fail "sbatch --parsable printed '$J'"
T_SUB=$(ib_now_us)
# Wait until the three run and each has written its start line.
end=$(( $(ib_now_us) + 30 * 1000000 ))
while :; do
  RUNNING=$(timeout 15 squeue -h -j "$J" -t R -o '%K %N %A' | sort -n) || fail "squeue failed"
  n_out=0
  for i in 0 1 2; do grep -qs '^start ' "$WORK/out/$i.out" && n_out=$((n_out + 1)); done
  [[ $(wc -l <<<"$RUNNING") -eq 3 && $n_out -eq 3 ]] && break
  (( $(ib_now_us) < end )) || fail "the array's 3 tasks were not all running after 30 s: $(tr '\n' ';' <<<"$RUNNING")"
  sleep 0.25
done
echo "   all 3 running $(ms_since "$T_SUB") ms after sbatch:"
while read -r i n j; do echo "   | task $i on $n (job id $j)"; done <<<"$RUNNING"
NODES_USED=$(awk '{print $2}' <<<"$RUNNING" | sort | paste -sd' ')
[[ $NODES_USED == "n1 n2 n3" ]] || fail "the array did not spread over n1 n2 n3: $NODES_USED"
for i in 0 1 2; do
  n=$(awk -v i="$i" '$1 == i {print $2}' <<<"$RUNNING")
  grep -q "^start node=$n restart=0 " "$WORK/out/$i.out" || fail "task $i: \$SLURMD_NODENAME is not $n: $(cat "$WORK/out/$i.out")"
done

# ---- node-loss of n2 mid-task ---------------------------------------------------------------------
LOST=n2
read -r I JID < <(awk -v n="$LOST" '$2 == n {print $1, $3}' <<<"$RUNNING")
TASK_LINE=$(grep '^start ' "$WORK/out/$I.out")
[[ $TASK_LINE =~ pid=([0-9]+)\ sleep=([0-9]+) ]] || fail "task $I: no pids in '$TASK_LINE'"
TASK_SH=${BASH_REMATCH[1]} TASK_SLEEP=${BASH_REMATCH[2]}
STEPDS=$(stepds_of "$JID" | paste -sd' ')
[[ -n $STEPDS ]] || fail "no slurmstepd with command line 'slurmstepd: [$JID.' for task $I on $LOST"
step "slurm-local-fault node-loss $LOST (task ${J}_$I, job id $JID: slurmstepd $STEPDS, script $TASK_SH, sleep $TASK_SLEEP)"
run node-loss bash "$FAULT" node-loss "$LOST"
[[ $RC -eq 0 ]] || fail "slurm-local-fault node-loss exited $RC"
re="^slurm-local-fault: ([0-9]+)\.([0-9]{2}) node-loss $LOST: stopped slurmd ${SLURMD[$LOST]}, slurmstepd [0-9]+ \(job ${J}_$I\), [0-9]+ descendants; killed"
[[ $OUT =~ $re ]] || fail "node-loss printed no line matching: $re"
T_KILL=$(( 10#${BASH_REMATCH[1]} * 1000000 + 10#${BASH_REMATCH[2]} * 10000 ))
! ib_alive "${SLURMD[$LOST]}" slurmd || fail "$LOST's slurmd (pid ${SLURMD[$LOST]}) survived node-loss"
for p in $STEPDS; do ! ib_alive "$p" slurmstepd || fail "slurmstepd $p of job $JID survived node-loss"; done
! ib_alive "$TASK_SH" slurm_script || fail "task $I's batch script (pid $TASK_SH) survived node-loss"
! ib_alive "$TASK_SLEEP" sleep || fail "task $I's sleep (pid $TASK_SLEEP) survived node-loss"
[[ -z $(stepds_of "$JID") ]] || fail "a slurmstepd of job $JID still runs: $(stepds_of "$JID")"
for n in n1 n3; do ib_alive "${SLURMD[$n]}" slurmd || fail "node-loss of $LOST also killed $n's slurmd"; done

step "waiting: $LOST not responding, DOWN; task ${J}_$I requeued, restarted elsewhere"
T_NR='' T_DOWN='' T_REQ='' T_RUN2='' NODE2=''
end=$(( $(ib_now_us) + 60 * 1000000 ))
while [[ -z $T_RUN2 ]]; do
  s=$(node_state "$LOST")
  [[ -z $T_NR && $s == *NOT_RESPONDING* ]] && T_NR=$(ib_now_us)
  [[ -z $T_DOWN && $s == DOWN* ]] && T_DOWN=$(ib_now_us)
  show=$(timeout 15 scontrol -o show job "${J}_$I") || fail "scontrol show job ${J}_$I failed"
  # Restarts counts the requeues; a requeued task stays PENDING at least cred_expire (5 s).
  if [[ $show =~ \ Restarts=([1-9]) ]]; then
    [[ -z $T_REQ && $show == *" JobState=PENDING "* ]] && T_REQ=$(ib_now_us)
    if [[ $show == *" JobState=RUNNING "* && $show =~ \ NodeList=([^ ]+) ]]; then
      T_RUN2=$(ib_now_us) NODE2=${BASH_REMATCH[1]}
    fi
  fi
  (( $(ib_now_us) < end )) ||
    fail "after 60 s: $LOST is $s; task ${J}_$I: $(grep -o 'JobState=[^ ]*\|Restarts=[^ ]*\|NodeList=[^ ]*' <<<"$show" | paste -sd' ')"
  [[ -n $T_RUN2 ]] || sleep 0.25
done
[[ -n $T_DOWN ]] || fail "$LOST was never seen DOWN"
[[ -n $T_REQ ]] || fail "task ${J}_$I was never seen pending after its requeue"
T_NR=${T_NR:-$T_DOWN} # not seen apart if both came within one poll
[[ $NODE2 != "$LOST" ]] || fail "the requeued task ran on the lost node $LOST"
echo "   task ${J}_$I restarted on $NODE2"

step "slurm-local-fault return $LOST (slurmd dead: started again)"
T_RET=$(ib_now_us)
run return bash "$FAULT" return "$LOST"
[[ $RC -eq 0 ]] || fail "slurm-local-fault return exited $RC"
[[ $OUT == *"return $LOST: started slurmd "* ]] || fail "return did not start $LOST's slurmd"
[[ $OUT == *"return $LOST: node idle again"* ]] || fail "return did not report $LOST idle"
T_BACK=$(ib_now_us)
[[ $(node_state "$LOST") == IDLE ]] || fail "$LOST is $(node_state "$LOST") after return, expected IDLE"
SLURMD[$LOST]=$(node_slurmd "$LOST")

# ---- partition of the (idle) returned node ----------------------------------------------------
step "slurm-local-fault partition $LOST, wait until DOWN, then return"
run partition bash "$FAULT" partition "$LOST"
[[ $RC -eq 0 && $OUT == *"partition $LOST: stopped slurmd ${SLURMD[$LOST]}"* ]] || fail "partition failed (exit $RC)"
[[ $(ib_proc_state "${SLURMD[$LOST]}") == [Tt]\ * ]] || fail "$LOST's slurmd (pid ${SLURMD[$LOST]}) is not stopped"
T_P=$(ib_now_us) T_PNR='' T_PDOWN=''
end=$(( $(ib_now_us) + 30 * 1000000 ))
while [[ -z $T_PDOWN ]]; do
  s=$(node_state "$LOST")
  [[ -z $T_PNR && $s == *NOT_RESPONDING* ]] && T_PNR=$(ib_now_us)
  [[ $s == DOWN* ]] && T_PDOWN=$(ib_now_us)
  (( $(ib_now_us) < end )) || fail "$LOST is $s 30 s after partition, expected DOWN"
  [[ -n $T_PDOWN ]] || sleep 0.25
done
ib_alive "${SLURMD[$LOST]}" slurmd || fail "partition killed $LOST's slurmd; it should only stop it"
T_PRET=$(ib_now_us)
run return bash "$FAULT" return "$LOST"
[[ $RC -eq 0 && $OUT == *"return $LOST: continued slurmd ${SLURMD[$LOST]}"* ]] || fail "return after partition failed (exit $RC)"
s=$(node_state "$LOST")
[[ $s =~ ^(IDLE|MIXED|ALLOCATED)$ ]] || fail "$LOST is $s after return, expected IDLE (or running a job)"
echo "   partition: not responding after $(( (${T_PNR:-$T_PDOWN} - T_P) / 1000 )) ms, DOWN after $(( (T_PDOWN - T_P) / 1000 )) ms;" \
  "return: back $(ms_since "$T_PRET") ms after it began"

# ---- the array completes ------------------------------------------------------------------------
step "waiting for the array to complete"
end=$(( $(ib_now_us) + 60 * 1000000 ))
while :; do
  STATES=$(timeout 15 squeue -h -j "$J" --states=all -r -o '%K %T' | sort -n | paste -sd' ') ||
    fail "squeue -j $J failed"
  [[ $STATES == "0 COMPLETED 1 COMPLETED 2 COMPLETED" ]] && break
  [[ $STATES != *FAIL* && $STATES != *CANCELLED* ]] || fail "array $J: $STATES"
  (( $(ib_now_us) < end )) || fail "array $J not complete after 60 s: $STATES"
  sleep 0.25
done
T_DONE=$(ib_now_us)
for i in 0 1 2; do
  printf '   | %s.out: %s\n' "$i" "$(paste -sd'|' "$WORK/out/$i.out")"
  if [[ $i == "$I" ]]; then
    mapfile -t L <"$WORK/out/$i.out"
    [[ ${#L[@]} -eq 3 && ${L[0]} == "start node=$LOST restart=0 "* && ${L[1]} == "start node=$NODE2 restart=1 "* &&
      ${L[2]} == "done node=$NODE2 restart=1" ]] ||
      fail "task $i: expected a start on $LOST (restart 0), then start and done on $NODE2 (restart 1)"
  else
    [[ $(grep -c '^start ' "$WORK/out/$i.out") -eq 1 && $(grep -c '^done .* restart=0$' "$WORK/out/$i.out") -eq 1 ]] ||
      fail "task $i: expected exactly one start and one done with restart 0"
  fi
done
grep -q "^JobId=$JID .*JobState=NODE_FAIL .*NodeList=$LOST " "$IB_SLURM_LOG_DIR/jobcomp.log" ||
  fail "jobcomp.log has no NODE_FAIL record of job $JID on $LOST"
grep -q "^JobId=$JID .*JobState=COMPLETED .*NodeList=$NODE2 " "$IB_SLURM_LOG_DIR/jobcomp.log" ||
  fail "jobcomp.log has no COMPLETED record of job $JID on $NODE2"

echo "   timeline of node-loss (from the SIGKILL at $(secs "$T_KILL")):"
echo "   | $LOST not responding  $(rel "$T_NR")"
echo "   | $LOST DOWN            $(rel "$T_DOWN")"
echo "   | task requeued      $(rel "$T_REQ")"
echo "   | restarted on $NODE2    $(rel "$T_RUN2")"
echo "   | return $LOST: idle    $(rel "$T_BACK") (return began $(rel "$T_RET"))"
echo "   | task completed     $(rel "$T_DONE") (sleep 20 after its restart)"

# ---- down with a stopped slurmd and an orphaned slurmstepd ----------------------------------------
step "slurm-local-down with n3's slurmd stopped and n1's slurmd killed under a running job"
K=$(timeout 30 sbatch --parsable -w n1 -J ib-test-orphan -o "$WORK/out/orphan.out" \
  --wrap 'sleep 300 & echo "pid=$$ sleep=$!"; wait') || fail "sbatch of the n1 job failed"
K=${K%%;*}
end=$(( $(ib_now_us) + 30 * 1000000 ))
until grep -qs '^pid=' "$WORK/out/orphan.out"; do
  (( $(ib_now_us) < end )) || fail "job $K did not start on n1 within 30 s"
  sleep 0.25
done
[[ $(<"$WORK/out/orphan.out") =~ pid=([0-9]+)\ sleep=([0-9]+) ]] || fail "job $K: no pids in its output"
ORPHAN_SH=${BASH_REMATCH[1]} ORPHAN_SLEEP=${BASH_REMATCH[2]}
ORPHAN_STEPDS=$(stepds_of "$K" | paste -sd' ')
[[ -n $ORPHAN_STEPDS ]] || fail "no slurmstepd of job $K"
p=$(node_slurmd n1)
ib_alive "$p" slurmd && kill -KILL "$p"
ib_wait_dead 5 slurmd "$p" || fail "n1's slurmd (pid $p) did not die"
run partition bash "$FAULT" partition n3
[[ $RC -eq 0 ]] || fail "partition n3 exited $RC"
N3=$(node_slurmd n3)
run down bash "$DOWN"
[[ $RC -eq 0 ]] || fail "slurm-local-down exited $RC"
[[ $OUT == *"left-over slurmstepd "* ]] || fail "slurm-local-down did not report the orphaned slurmstepd"
! ib_alive "$N3" slurmd || fail "the stopped slurmd of n3 (pid $N3) survived slurm-local-down"
for p in $ORPHAN_STEPDS; do ! ib_alive "$p" slurmstepd || fail "orphaned slurmstepd $p survived slurm-local-down"; done
! ib_alive "$ORPHAN_SH" slurm_script || fail "job $K's script (pid $ORPHAN_SH) survived slurm-local-down"
! ib_alive "$ORPHAN_SLEEP" sleep || fail "job $K's sleep (pid $ORPHAN_SLEEP) survived slurm-local-down"
run down-again bash "$DOWN"
[[ $RC -eq 0 && $OUT == *"nothing from slurm-local-up is running"* ]] || fail "a second slurm-local-down did not find nothing running"
STARTED=0

for c in slurmctld slurmd; do
  for p in $(ib_pids_named "$c"); do
    ! ib_started_with_our_conf "$p" || fail "$c still running after slurm-local-down: $(ib_describe_pid "$p")"
  done
done
for p in $(ib_pids_named slurmstepd); do
  [[ $STEPD_BEFORE == *" $p "* ]] || fail "slurmstepd still running after slurm-local-down: $(ib_describe_pid "$p")"
done
for f in "$IB_CTLD_PIDFILE" "$IB_SLURM_RUN_DIR"/slurmd-n{1,2,3}.pid "$IB_NODES_FILE"; do
  [[ ! -e $f ]] || fail "left behind: $f"
done
echo "test_slurm_nodes: PASSED in $(ms_since "$T_TEST") ms"
