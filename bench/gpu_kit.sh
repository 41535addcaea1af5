#!/usr/bin/env bash
# Builds the GPU kit: everything bench/gpu_check.sh needs on a GPU machine that has a driver, the
# CUDA libraries and python3, but no package registry and no -dev packages (docs/CUDA.md, "The GPU
# kit"). Run it here, on the CPU machine:
#   1. a Release CUDA build for sm_90 in its own directory: portable CPU code (no -march=native),
#      no oneDNN and no PAPI (neither is needed to check the cuda backend against ref; both would
#      add libraries and failure modes to the kit);
#   2. initbench, libinitbench_cuda.so, tests/test_backend_ops, test_cuda and test_philox, and every
#      shared library they need that is neither glibc, nor the driver (libcuda), nor a CUDA library
#      (cudart, cuBLAS, cuDNN ... come from the GPU machine): found with ldd, never from a hand list;
#   3. the MNIST IDX files, bench/gpu_check.sh and bench/gpu_kit_run.sh (as run.sh);
#   4. MANIFEST.tsv (file, size, sha256, where it came from) and NEEDS (the CUDA libraries the GPU
#      machine must provide), all in one gzip archive.
# usage: bench/gpu_kit.sh [--build-dir DIR] [--out FILE] [--data-dir DIR]
#   defaults: build-gpu-kit, .gpu-kit/initbench-gpu-kit.tar.gz (git-ignored; the device tool's
#   carry takes it), and the data directory initbench itself would use ($INITBENCH_DATA or data/).
# Exit: 0 with the archive written; 2 for bad usage or missing data; 1 when the build or a
# library lookup fails. Nothing is left half-written: the archive is renamed into place at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-gpu-kit out=$root/.gpu-kit/initbench-gpu-kit.tar.gz data=${INITBENCH_DATA:-$root/data}
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=$2; shift ;;
    --out) out=$2; shift ;;
    --data-dir) data=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gpu_kit.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $out in /*) ;; *) out=$PWD/$out ;; esac
mnist=$data/mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -f "$mnist/$f" ] && [ ! -f "$mnist/$f.gz" ]; then
    echo "gpu_kit.sh: $mnist/$f missing: run 'initbench data fetch --dataset mnist' first (or --data-dir DIR)" >&2
    exit 2
  fi
done
t0=$(date +%s)
log() { echo "[gpu_kit +$(($(date +%s) - t0))s] $*"; }

mkdir -p "$build"
log "configuring $build (Release, CUDA sm_90, portable, no oneDNN, no PAPI)"
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
     -DIB_NATIVE=OFF -DIB_WITH_DNNL=OFF -DIB_WITH_PAPI=OFF -DIB_SANITIZE=OFF -DIB_FUZZ=OFF >"$build/gpu-kit-configure.log" 2>&1; then
  tail -20 "$build/gpu-kit-configure.log" >&2
  echo "gpu_kit.sh: configure failed (log: $build/gpu-kit-configure.log)" >&2
  exit 1
fi
log "building initbench, initbench_cuda, test_backend_ops, test_cuda, test_philox"
if ! cmake --build "$build" --target initbench initbench_cuda test_backend_ops test_cuda test_philox >"$build/gpu-kit-build.log" 2>&1; then
  tail -30 "$build/gpu-kit-build.log" >&2
  echo "gpu_kit.sh: build failed (log: $build/gpu-kit-build.log)" >&2
  exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit.XXXXXX")
trap 'rm -rf "$stage"' EXIT
kit=$stage/initbench-gpu-kit
mkdir -p "$kit/build/tests" "$kit/lib/gcc" "$kit/bench" "$kit/data/mnist"
manifest=$kit/MANIFEST.tsv
printf 'file\tbytes\tsha256\tfrom\n' >"$manifest"
add() { # add SOURCE DEST_RELATIVE: copy (dereferenced) and record
  local src=$1 rel=$2 from
  cp -L "$src" "$kit/$rel"
  from=$(readlink -f "$src")
  case $rel in lib/*)
    local pkg
    pkg=$({ dpkg -S "$src" 2>/dev/null || dpkg -S "$from" 2>/dev/null; } | head -1 | cut -d: -f1 || true)
    [ -n "$pkg" ] && from="$from (Debian $pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null))" ;;
  esac
  case $from in "$root"/*) from=${from#"$root"/} ;; esac
  printf '%s\t%s\t%s\t%s\n' "$rel" "$(stat -c %s "$kit/$rel")" "$(sha256sum "$kit/$rel" | cut -d' ' -f1)" "$from" >>"$manifest"
}
binaries=("$build/initbench" "$build/libinitbench_cuda.so" "$build/tests/test_backend_ops" "$build/tests/test_cuda"
          "$build/tests/test_philox")
for b in "${binaries[@]}"; do add "$b" "build/${b#"$build"/}"; done

# What the GPU machine must provide itself: glibc and its loader, the driver, the CUDA libraries.
system_re='^(linux-vdso\.so|ld-linux[-a-z0-9_]*\.so|libc\.so|libm\.so|libmvec\.so|libpthread\.so|libdl\.so|librt\.so|libresolv\.so|libutil\.so)'
gcc_re='^lib(stdc\+\+|gcc_s|gomp|gfortran|quadmath|atomic)\.so' # GCC's runtime: run.sh decides per machine
cuda_re='^lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nvrtc[a-z-]*|nvJitLink|cufft|curand|cusolver|cusparse|cupti|nvToolsExt)\.so'
: >"$stage/needs"
for b in "${binaries[@]}"; do
  if ldd "$b" | grep -q 'not found'; then
    ldd "$b" | grep 'not found' >&2
    echo "gpu_kit.sh: $b has unresolved libraries on this machine" >&2
    exit 1
  fi
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    if [[ $name =~ $system_re ]]; then continue; fi
    if [[ $name =~ $cuda_re ]]; then echo "$name" >>"$stage/needs"; continue; fi
    dest=lib/$name
    if [[ $name =~ $gcc_re ]]; then dest=lib/gcc/$name; fi
    [ -f "$kit/$dest" ] || add "$path" "$dest"
  done
done
sort -u "$stage/needs" >"$kit/NEEDS"
for f in "$mnist"/*-ubyte*; do add "$f" "data/mnist/$(basename "$f")"; done
add "$root/bench/gpu_check.sh" bench/gpu_check.sh
add "$root/bench/gpu_kit_run.sh" run.sh
chmod +x "$kit/run.sh" "$kit/bench/gpu_check.sh"
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD 2>/dev/null || rev="$rev (modified)"
echo "$rev, built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)" >"$kit/REVISION"

mkdir -p "$(dirname "$out")"
log "packing $(du -sh "$kit" | cut -f1) into $out"
tmp_out=$(mktemp "$out.XXXXXX")
tar -C "$stage" -czf "$tmp_out" initbench-gpu-kit
chmod 0644 "$tmp_out" # mktemp made it private; it is meant to be carried
mv -f "$tmp_out" "$out"
cp "$manifest" "${out%.tar.gz}.manifest.tsv"
log "kit: $out ($(stat -c %s "$out") bytes; $(($(wc -l <"$manifest") - 1)) files; the GPU machine provides: $(tr '\n' ' ' <"$kit/NEEDS"))"
