#!/usr/bin/env bash
# `initbench train --backend cuda` where the GPU is not usable (no driver, no device, or a build
# without CUDA) must exit 2 with one clear message naming the cause.
# usage: test_cuda_cli.sh INITBENCH EXPECTED_REGEX [PROBE]   (exit 77 = skipped, reason printed)
#   PROBE: a command that exits 0 when a GPU is usable here (then this test does not apply)
set -uo pipefail
ib=$1 expect=$2 probe=${3:-}
if [ -n "$probe" ] && "$probe" --probe >/dev/null 2>&1; then
  echo "skip: a GPU is usable on this machine (the no-GPU error cannot be shown)"; exit 77
fi
if ! "$ib" data verify --dataset mnist >/dev/null 2>&1; then
  echo "skip: MNIST not present (run: initbench data fetch); train loads the data before the backend"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ib" train --backend cuda --steps 1 --train-size 100 --test-size 100 --eval-batch 100 --progress none \
  --out "$tmp/run" >"$tmp/out" 2>"$tmp/err"
rc=$?
echo "exit status: $rc"
echo "stderr: $(cat "$tmp/err")"
fails=0
[ "$rc" -eq 2 ] || { echo "FAIL: expected exit status 2, got $rc"; fails=1; }
grep -Eq -- "$expect" "$tmp/err" || { echo "FAIL: stderr does not match /$expect/"; fails=1; }
[ "$(wc -l <"$tmp/err")" -eq 1 ] || { echo "FAIL: expected one line on stderr"; fails=1; }
[ -e "$tmp/run/params.safetensors" ] && { echo "FAIL: a failed start wrote parameters"; fails=1; }
# with --tf32 too: the flag is accepted for cuda, and the cause is the same
"$ib" train --backend cuda --tf32 --steps 1 --train-size 100 --test-size 100 --eval-batch 100 --progress none \
  --out "$tmp/run32" >/dev/null 2>"$tmp/err32"
rc=$?
[ "$rc" -eq 2 ] && grep -Eq -- "$expect" "$tmp/err32" || { echo "FAIL: --tf32: rc $rc, $(cat "$tmp/err32")"; fails=1; }
[ "$fails" -eq 0 ] && echo "ok: --backend cuda fails cleanly with exit 2 (with and without --tf32)"
exit $fails
