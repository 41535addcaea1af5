# shellcheck shell=bash
# Shared by tests/test_slurm_local.sh and tests/test_slurm_sweep.sh (sourced, not run): the skips,
# a private one-node cluster in a temp dir, fail(), and the EXIT trap that stops the cluster.
# The sourcing script sets SRC (the source tree) and `set -euo pipefail` first.

UP=$SRC/jobs/slurm-local-up
DOWN=$SRC/jobs/slurm-local-down
PATH=$PATH:/usr/sbin:/sbin # slurmctld, slurmd and munged live in sbin

skip() { echo "SKIP: $*"; exit 77; }

# Seconds (3 decimals) since a time in microseconds (ib_now_us), and a header line per step with
# the seconds since slurm_test_setup.
secs_since() { local d=$(( $(ib_now_us) - $1 )); printf '%d.%03d' $((d / 1000000)) $((d % 1000000 / 1000)); }
step() { printf '== [%5.1f s] %s\n' "$(secs_since "$T_ALL")" "$*"; }
# until_true TIMEOUT_S WHAT CMD...: poll CMD every 0.1 s; fail naming WHAT after TIMEOUT_S.
until_true() {
  local secs=$1 end=$(( $(ib_now_us) + $1 * 1000000 )) what=$2
  shift 2
  until "$@"; do
    (( $(ib_now_us) < end )) || fail "timed out after $secs s waiting for: $what"
    sleep 0.1
  done
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# slurm_test_require [CMD...]: skip unless root and Slurm, munge and CMDs are installed.
# shellcheck disable=SC2120 # the arguments are optional
slurm_test_require() {
  local c missing=()
  [[ $EUID -eq 0 ]] || skip "needs root (it starts munged, slurmctld and slurmd)"
  for c in slurmctld slurmd munged munge sbatch squeue scontrol sinfo scancel "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [[ ${#missing[@]} -eq 0 ]] || skip "not installed: ${missing[*]} (apt-get install slurm-wlm munge)"
  [[ -f $UP && -f $DOWN ]] || { echo "FAIL: $UP or $DOWN not found"; exit 1; }
}

# slurm_test_setup PROG WORK_PREFIX LOG_LINES [EXTRA_GLOB EXTRA_LINES]
# A private cluster: config, logs, state and pid files in a new temp dir $WORK, never /etc/slurm.
# Sources jobs/slurm-local-lib.sh (IB_PROG=PROG), skips if a slurmctld or slurmd already runs,
# and traps EXIT: stop the cluster if STARTED=1; on failure show the last LOG_LINES of the daemon
# logs (and EXTRA_LINES of each file matching $WORK/EXTRA_GLOB) and keep $WORK.
slurm_test_setup() {
  local c p
  IB_PROG=$1
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  _ST_LOG_LINES=$3 _ST_EXTRA_GLOB=${4:-} _ST_EXTRA_LINES=${5:-0}
  export IB_SLURM_CONF_DIR=$WORK/etc IB_SLURM_LOG_DIR=$WORK/log IB_SLURM_RUN_DIR=$WORK/run
  export IB_SLURM_SPOOL_DIR=$WORK/spool
  # slurmd runs job scripts from its spool dir: it must not be on a noexec mount.
  if [[ $(findmnt -no OPTIONS -T "$WORK" 2>/dev/null) == *noexec* ]]; then
    export IB_SLURM_SPOOL_DIR=/var/spool/initbench-slurm-test
  fi
  # shellcheck source=jobs/slurm-local-lib.sh
  . "$SRC/jobs/slurm-local-lib.sh" # process helpers; exports SLURM_CONF for sbatch/squeue/...

  # It would clash with another Slurm on the default ports (6817/6818).
  for c in slurmctld slurmd; do
    p=$(ib_pids_named "$c" | paste -sd' ')
    if [[ -n $p ]]; then
      rm -rf "$WORK"
      skip "a $c is already running (pid $p); this test starts its own cluster on Slurm's default ports; stop it first (jobs/slurm-local-down)"
    fi
  done
  STARTED=0
  T_ALL=$(ib_now_us)
  trap _slurm_test_cleanup EXIT
  # set -e ends a test silently on a failing command outside fail(): name the line and command
  trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR
}

_slurm_test_cleanup() {
  local rc=$? f
  trap - EXIT
  if [[ $STARTED -eq 1 ]]; then
    timeout 120 bash "$DOWN" >"$WORK/cleanup-down.out" 2>&1 ||
      { echo "cleanup: slurm-local-down failed:"; cat "$WORK/cleanup-down.out"; rc=1; }
  fi
  if [[ $rc -eq 0 ]]; then
    rm -rf "$WORK"
  else
    for f in "$WORK"/log/slurmctld.log "$WORK"/log/slurmd.log; do
      [[ -s $f ]] && { echo "---- last lines of $f"; tail -n "$_ST_LOG_LINES" "$f"; }
    done
    if [[ -n $_ST_EXTRA_GLOB ]]; then
      # shellcheck disable=SC2086 # the glob is meant to expand
      for f in "$WORK"/$_ST_EXTRA_GLOB; do
        [[ -s $f ]] && { echo "---- $f"; tail -n "$_ST_EXTRA_LINES" "$f"; }
      done
    fi
    echo "$IB_PROG: FAILED (exit $rc); files kept in $WORK"
  fi
  exit "$rc"
}

# check_node [WHILE]: fail if the node is drained or down (a job launch failure drains it, and
# pending work would then wait forever).
# shellcheck disable=SC2120 # the argument is optional
check_node() {
  local nodes
  nodes=$(timeout 15 sinfo -h -o '%T %E') || fail "sinfo failed"
  [[ $nodes != *drain* && $nodes != *down* ]] || fail "node went bad${1:+ $1}: $nodes"
}
