#!/usr/bin/env bash
# usage: run_parity.sh PARITY_DUMP PARITY_TORCH_PY [train flags]; exit 77 (skip) without torch or data
set -euo pipefail
dump_bin=$1 script=$2
shift 2
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  echo "skip: /usr/bin/python3 has no torch/numpy (apt-get install python3-torch)"; exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
set +e
"$dump_bin" "$dir" "$@"
rc=$?
set -e
[ $rc -eq 0 ] || exit $rc
# the same first step through `initbench train`, whose step-0 statistics must match too
if [ -n "${INITBENCH:-}" ]; then
  "$INITBENCH" train "$@" --steps 1 --eval-every 1 --test-size 500 --stats-every 1 --progress none \
    --out "$dir/run" 2>/dev/null || exit 1
fi
/usr/bin/python3 "$script" "$dir"
