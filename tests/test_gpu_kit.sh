#!/usr/bin/env bash
# Rehearsal of the GPU kit on this (GPU-less) machine: build it with bench/gpu_kit.sh, unpack it
# and run its CPU parts in a clean environment (env -i, the libraries only from the kit and the
# CUDA directories run.sh finds), as the GPU machine would.
# usage: test_gpu_kit.sh SOURCE_DIR WORK_DIR; exit 77 (skip) where the kit cannot be built.
set -uo pipefail
src=$1 work=$2
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
data=${INITBENCH_DATA:-$src/data}
if [ ! -f "$data/mnist/train-images-idx3-ubyte" ] && [ ! -f "$data/mnist/train-images-idx3-ubyte.gz" ]; then
  echo "skip: the kit carries MNIST and $data/mnist has none (initbench data fetch --dataset mnist)"; exit 77
fi
mkdir -p "$work"
kit_tar=$work/initbench-gpu-kit.tar.gz
if ! bash "$src/bench/gpu_kit.sh" --build-dir "$work/build" --out "$kit_tar" --data-dir "$data"; then
  echo "FAIL: bench/gpu_kit.sh"; exit 1
fi
size=$(stat -c %s "$kit_tar")
echo "kit: $size bytes"
check '[ "$size" -lt $((48 * 1024 * 1024)) ]' "the kit is well under the 64 MiB that a device call carries ($size bytes)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$kit_tar" -C "$tmp"
kit=$tmp/initbench-gpu-kit
column -t -s$'\t' "$kit/MANIFEST.tsv" | cut -c1-160
check 'for f in build/initbench build/libinitbench_cuda.so build/tests/test_backend_ops build/tests/test_cuda build/tests/test_philox run.sh bench/gpu_check.sh; do grep -q "^$f	" "$kit/MANIFEST.tsv" || exit 1; done' \
  "the manifest lists the binaries, run.sh and the check script"
check '[ "$(($(wc -l <"$kit/MANIFEST.tsv") - 1))" -eq "$(cd "$kit" && find . -type f ! -name MANIFEST.tsv ! -name NEEDS ! -name REVISION | wc -l)" ]' \
  "every file of the kit has a manifest row"
echo "the GPU machine provides: $(tr '\n' ' ' <"$kit/NEEDS")"
check 'grep -qx libcudnn.so.9 "$kit/NEEDS" && grep -qx "libcudart.so.13" "$kit/NEEDS" && ! grep -vqE "^lib(cudart|cublas|cublasLt|cudnn[a-z_]*)\.so" "$kit/NEEDS"' \
  "NEEDS (from ldd) lists cudart and cuDNN and nothing but CUDA libraries"

clean_env=(env -i PATH=/usr/bin:/bin HOME="$tmp" LANG=C)
# 1. run.sh as on the GPU machine, every library from the kit: the cuda probe must say that
#    there is no driver (not that a library is missing), within seconds
start=$(date +%s)
"${clean_env[@]}" OUT="$tmp/out" KIT_ALL_LIBS=1 bash "$kit/run.sh" >"$tmp/run.log" 2>&1
rc=$?
cat "$tmp/run.log"
check '[ $rc -eq 0 ]' "run.sh exits 0 without a GPU (exit $rc)"
check '[ $(($(date +%s) - start)) -lt 30 ]' "run.sh finishes within 30 s without a GPU"
if nvidia-smi >/dev/null 2>&1; then
  echo "a GPU is present: the no-driver message is not expected here"
else
  check 'grep -qE "no GPU: skipping \(cuda: (no usable NVIDIA driver|no CUDA device)" "$tmp/out/gpu_check.txt"' \
    "the cuda probe reports no usable driver, not a missing library"
fi
check 'ls "$tmp/out" | wc -l | grep -qx "[1-8]"' "at most 8 files under OUT ($(ls "$tmp/out" | tr '\n' ' '))"
ld=$(sed -n 's/.*LD_LIBRARY_PATH=//p' "$tmp/out/libs.txt" | tail -1)
check '[ -n "$ld" ]' "run.sh says which LD_LIBRARY_PATH it used"

# 2. every library that initbench and the cuda probe load comes from the kit, glibc or CUDA
export_env=("${clean_env[@]}" LD_LIBRARY_PATH="$ld" INITBENCH_DATA="$kit/data"
            INITBENCH_CUDA_MODULE="$kit/build/libinitbench_cuda.so" LD_DEBUG=libs)
"${export_env[@]}" "$kit/build/initbench" --version >"$tmp/ld1.log" 2>&1
"${export_env[@]}" "$kit/build/tests/test_cuda" --probe >"$tmp/ld2.log" 2>&1
sed -n 's/.*calling init: //p' "$tmp/ld1.log" "$tmp/ld2.log" | sort -u >"$tmp/loaded"
glibc_re='/(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2)$'
cuda_dirs=$(echo "$ld" | tr ':' '\n' | grep -v "^$kit")
printf '%-34s %s\n' "library" "loaded from"
bad=0
while read -r path; do
  name=$(basename "$path") from=
  case $path in
    "$kit"/*) from="kit (${path#"$kit"/})" ;;
    *) if [[ $path =~ $glibc_re ]]; then from="glibc ($path)"
       else
         for d in $cuda_dirs; do case $path in "$d"/*) from="CUDA libraries, found by run.sh ($path)" ;; esac; done
       fi ;;
  esac
  [ -n "$from" ] || { from="NOT FROM THE KIT: $path"; bad=1; }
  printf '%-34s %s\n' "$name" "$from"
done <"$tmp/loaded"
check '[ $bad -eq 0 ] && grep -q libopenblas "$tmp/loaded" && grep -q libcudart "$tmp/loaded"' \
  "every non-system library initbench and the cuda probe load resolves from the kit (openblas, cjson, crypto ...)"

# 3. the CPU parts: the data and a short training run on the cpu backend, in the clean environment
run_env=("${clean_env[@]}" LD_LIBRARY_PATH="$ld" INITBENCH_DATA="$kit/data")
check '"${run_env[@]}" "$kit/build/initbench" data verify --dataset mnist' "the kit's MNIST verifies"
"${run_env[@]}" "$kit/build/initbench" train --stddev 0.1 --steps 20 --eval-every 10 --train-size 1000 --test-size 500 \
  --stats-every 0 --checkpoint-every 0 --progress none --backend cpu --out "$tmp/cpu_run" >"$tmp/train.log" 2>&1
check '/usr/bin/python3 -c "import json, sys; sys.exit(json.load(open(sys.argv[1]))[\"status\"] != \"complete\")" "$tmp/cpu_run/run.json" && [ "$(wc -l <"$tmp/cpu_run/curve.csv")" -eq 4 ]' \
  "a 20-step cpu run from the kit completes ($(tail -1 "$tmp/cpu_run/curve.csv" 2>/dev/null))"

# 4. default library policy (the machine's GCC runtime where it has one) works too
"${clean_env[@]}" OUT="$tmp/out2" bash "$kit/run.sh" >"$tmp/run2.log" 2>&1
check '[ $? -eq 0 ] && grep -q "libstdc++.so.6: the machine" "$tmp/out2/libs.txt"' \
  "run.sh without KIT_ALL_LIBS uses this machine's libstdc++ and still runs"

# 5. failures are named at once: a missing CUDA library, a damaged kit
echo libib_absent_for_test.so.1 >>"$kit/NEEDS"
start=$(date +%s)
"${clean_env[@]}" OUT="$tmp/out3" bash "$kit/run.sh" >"$tmp/run3.log" 2>&1
rc=$?
grep missing "$tmp/run3.log"
check '[ $rc -eq 3 ] && grep -q "missing: libib_absent_for_test.so.1; looked in: .*/usr/local/cuda" "$tmp/run3.log" && [ $(($(date +%s) - start)) -lt 30 ]' \
  "a missing library is named with the places looked, exit 3, within 30 s"
sed -i '$d' "$kit/NEEDS"
printf 'x' | dd of="$kit/data/mnist/t10k-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc 2>/dev/null
"${clean_env[@]}" OUT="$tmp/out4" bash "$kit/run.sh" >"$tmp/run4.log" 2>&1
rc=$?
check '[ $rc -eq 3 ] && grep -q "damaged.*t10k-labels" "$tmp/run4.log"' "a damaged kit file is named, exit 3"

[ $fail -eq 0 ] && echo "gpu kit rehearsal: all checks passed" || echo "gpu kit rehearsal: FAILED"
exit $fail
