#!/usr/bin/env bash
# usage: run_fuzz.sh HARNESS CORPUS_DIR SECONDS [SEED]
# Replays the committed corpus (regressions), then fuzzes for SECONDS on a copy of it; a crash
# fails the test and leaves the input under the printed artifact path. The seed is fixed (default
# 1) so a CI failure is reproducible: the same seed replays the same mutations.
set -euo pipefail
bin=$1 corpus=$2 secs=$3 seed=${4:-1}
work=$(mktemp -d)
trap 'rm -rf "$work/corpus"' EXIT
cp -r "$corpus" "$work/corpus"
mkdir -p "$work/artifacts"
"$bin" -runs=0 "$corpus" 2>&1 | tail -2
"$bin" -seed="$seed" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" 2>"$work/log" || {
  tail -40 "$work/log"; echo "crash input kept in $work/artifacts"; exit 1; }
grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|cov:' "$work/log" | tail -4
rm -rf "$work"
