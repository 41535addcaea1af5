#!/usr/bin/env bash
# The GPU side of the kit (bench/gpu_kit.sh packs this file as run.sh at the kit's top). On the GPU
# machine, after unpacking the kit:
#   OUT=/some/dir bash initbench-gpu-kit/run.sh
# 1. within seconds, before anything heavy: checks the kit against its MANIFEST.tsv and finds
#    each CUDA library listed in NEEDS (cudart, cuBLAS, cuBLASLt, cuDNN) in the machine's CUDA
#    directories, then ldconfig's cache, then every Python environment's nvidia/*/lib (PyTorch's
#    pip packages); prints which directory it used and the libraries' versions; a missing one is
#    named with every place looked, and the run stops (exit 3);
# 2. LD_LIBRARY_PATH = those directories + the kit's lib/ (GCC's runtime libraries from the kit
#    only where the machine has none: newer ones are backward compatible, older ones may be too
#    old for the machine's cuDNN; KIT_ALL_LIBS=1 takes every library from the kit);
# 3. bench/gpu_check.sh in prebuilt mode within a time budget (GPU_CHECK_BUDGET_S, default 330 s),
#    writing to $OUT at most 5 files: gpu_check.txt (the table), gpu_check.log (everything),
#    parity.log, libs.txt, runs.tar.gz (run.json, curve.csv and stderr of each run).
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$kit/out}
mkdir -p "$out" || { echo "run.sh: cannot create OUT=$out" >&2; exit 2; }
t0=$(date +%s)
libs=$out/libs.txt
say() { echo "[kit +$(($(date +%s) - t0))s] $*" | tee -a "$libs"; }
: >"$libs"
say "kit: $(cat "$kit/REVISION" 2>/dev/null); running on $(hostname), $(nproc) cores"

# ---- 1a. the kit is whole ----
bad=$(tail -n +2 "$kit/MANIFEST.tsv" | awk -F'\t' '{print $3 "  " $1}' | (cd "$kit" && sha256sum -c --quiet 2>&1) || true)
if [ -n "$bad" ]; then
  say "the kit is damaged (sha256 against MANIFEST.tsv): $bad"
  exit 3
fi
say "kit files: $(($(wc -l <"$kit/MANIFEST.tsv") - 1)) match MANIFEST.tsv"

# ---- 1b. the CUDA libraries the kit does not carry ----
# ldconfig lives in /sbin on Debian, outside a plain user's PATH
ldconfig=$(command -v ldconfig || command -v /sbin/ldconfig || command -v /usr/sbin/ldconfig || echo false)
dirs=()
for d in ${CUDA_HOME:+"$CUDA_HOME/lib64" "$CUDA_HOME/lib"} /usr/local/cuda/lib64 /usr/local/cuda/lib \
         /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/local/cuda-*/lib; do
  [ -d "$d" ] && dirs+=("$d")
done
# read once: a `ldconfig -p | grep -q` under pipefail fails when grep stops reading early
ld_cache=$("$ldconfig" -p 2>/dev/null || true)
while read -r d; do dirs+=("$d"); done < <(awk '/=> \// {sub(/\/[^\/]*$/, "", $NF); print $NF}' <<<"$ld_cache" | sort -u)
pythons=()
for p in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 && pythons+=("$(command -v "$p")")
done
for p in "${pythons[@]}"; do
  while read -r sp; do
    for d in "$sp"/nvidia/*/lib "$sp"/nvidia/*/lib64; do [ -d "$d" ] && dirs+=("$d"); done
  done < <("$p" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
done
ld_dirs=() missing=()
while read -r soname; do
  [ -n "$soname" ] || continue
  found=""
  for d in "${dirs[@]}"; do
    if [ -e "$d/$soname" ]; then found=$d; break; fi
  done
  if [ -z "$found" ]; then missing+=("$soname"); continue; fi
  say "$soname: $found/$soname -> $(readlink -f "$found/$soname")"
  case " ${ld_dirs[*]-} " in *" $found "*) ;; *) ld_dirs+=("$found") ;; esac
done <"$kit/NEEDS"
if [ ${#missing[@]} -gt 0 ]; then
  say "missing: ${missing[*]}; looked in: ${dirs[*]}"
  say "set CUDA_HOME, or install the CUDA runtime, cuBLAS and cuDNN 9 (pip: nvidia-cuda-runtime, nvidia-cublas, nvidia-cudnn-cu13)"
  exit 3
fi

# ---- 2. the library path ----
gcc_dir=$kit/lib/gcc
mkdir -p "$kit/lib/gcc-used"
rm -f "$kit/lib/gcc-used"/*
for f in "$gcc_dir"/*; do
  [ -e "$f" ] || continue
  n=$(basename "$f")
  if [ "${KIT_ALL_LIBS:-0}" = 1 ] || ! grep -q "^[[:space:]]*$n " <<<"$ld_cache"; then
    ln -s "$f" "$kit/lib/gcc-used/$n"
    say "$n: from the kit (the machine has none${KIT_ALL_LIBS:+, or KIT_ALL_LIBS=1})"
  else
    say "$n: the machine's ($(awk -v n="$n" '$1 == n {print $NF; exit}' <<<"$ld_cache"))"
  fi
done
ld=$(IFS=:; echo "${ld_dirs[*]}")
export LD_LIBRARY_PATH=${ld:+$ld:}$kit/lib:$kit/lib/gcc-used
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
# versions, asked of the libraries themselves (none of these calls needs a GPU)
if [ ${#pythons[@]} -gt 0 ]; then
  "${pythons[0]}" - "${ld_dirs[@]}" <<'PY' 2>&1 | while read -r line; do say "$line"; done
import ctypes, os, sys
def find(name):
    for d in sys.argv[1:]:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return name
def load(name):
    return ctypes.CDLL(find(name), mode=ctypes.RTLD_GLOBAL)
try:
    v = ctypes.c_int(); load("libcudart.so.13").cudaRuntimeGetVersion(ctypes.byref(v))
    print(f"CUDA runtime {v.value // 1000}.{v.value % 1000 // 10}")
    lt = load("libcublasLt.so.13"); lt.cublasLtGetVersion.restype = ctypes.c_size_t
    print(f"cuBLASLt {lt.cublasLtGetVersion()}")
    cb = load("libcublas.so.13"); parts = []
    for prop in range(3):
        p = ctypes.c_int(); cb.cublasGetProperty(prop, ctypes.byref(p)); parts.append(str(p.value))
    print("cuBLAS " + ".".join(parts))
    dnn = load("libcudnn.so.9"); dnn.cudnnGetVersion.restype = ctypes.c_size_t
    v = dnn.cudnnGetVersion(); print(f"cuDNN {v // 10000}.{v % 10000 // 100}.{v % 100}")
except Exception as e:  # versions are information: the check itself says whether the libraries work
    print(f"versions: {e}")
PY
fi
say "libraries located in $(($(date +%s) - t0)) s; starting bench/gpu_check.sh"

# ---- 3. the check ----
export INITBENCH_DATA=$kit/data INITBENCH_CUDA_MODULE=$kit/build/libinitbench_cuda.so GPU_CHECK_PREBUILT=1
export GPU_CHECK_REVISION="kit $(cat "$kit/REVISION" 2>/dev/null)" GPU_CHECK_BUDGET_S=${GPU_CHECK_BUDGET_S:-330}
OUT=$out bash "$kit/bench/gpu_check.sh" "$kit/build" 2>&1 | tee "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
say "gpu_check.sh exit $rc after $(($(date +%s) - t0)) s"
exit "$rc"
