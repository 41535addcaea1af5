#!/bin/sh
# `initbench data` as a user runs it.
#   test_data_cli.sh INITBENCH cli     usage errors and exit codes, info, and a full
#                                      fetch/verify/repair cycle of Fashion-MNIST into a
#                                      temporary directory (from the Debian package; no network)
#   test_data_cli.sh INITBENCH verify  `data verify --dataset mnist` on the real data directory;
#                                      exits 77 (ctest SKIP_RETURN_CODE) when MNIST is not fetched
set -u
bin=$1
mode=$2
failures=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_data_cli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# expect CODE PATTERN ARGS...: run `initbench ARGS`, check the exit code and that stdout+stderr
# contain PATTERN (a fixed string; empty means no check).
expect() {
    want=$1 pattern=$2
    shift 2
    "$bin" "$@" >"$tmp/out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: initbench $*: exit $got, expected $want"; sed 's/^/    /' "$tmp/out"
        failures=$((failures + 1))
    elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$tmp/out"; then
        echo "FAIL: initbench $*: output lacks '$pattern'"; sed 's/^/    /' "$tmp/out"
        failures=$((failures + 1))
    else
        echo "ok: initbench $* -> $got"
    fi
}

case $mode in
cli)
    expect 0 "usage: initbench data fetch" data --help
    expect 0 "usage: initbench data fetch" data fetch --help
    expect 2 "usage:" data
    expect 2 "'frob'" data frob
    expect 2 "'--bogus'" data fetch --bogus
    expect 2 "--dataset needs a value" data fetch --dataset
    expect 2 "--dataset: unknown value 'cifar' (choose one of: mnist|fashion-mnist|all)" data verify --dataset cifar
    expect 2 "'extra'" data verify extra
    expect 2 "--data-dir: empty value" data info --data-dir ""
    expect 2 "missing; run \`initbench data fetch --dataset mnist --data-dir $tmp/empty\`" \
        data verify --data-dir "$tmp/empty"
    expect 0 "missing" data info --dataset all --data-dir "$tmp/empty"
    saved_env=${INITBENCH_DATA-}
    export INITBENCH_DATA="$tmp/from-env"
    expect 0 "data directory: $tmp/from-env" data info
    expect 0 "data directory: $tmp/flag" data info --data-dir "$tmp/flag"
    if [ -n "$saved_env" ]; then INITBENCH_DATA=$saved_env; else unset INITBENCH_DATA; fi

    if [ -d /usr/share/datasets/fashion-mnist ]; then
        d="$tmp/data"
        expect 0 "placed" data fetch --dataset fashion-mnist --data-dir "$d"
        expect 0 "up to date" data fetch --dataset fashion-mnist --data-dir "$d"
        expect 0 "train 60000 images 28x28, test 10000 images 28x28" \
            data verify --dataset fashion-mnist --data-dir "$d"
        # A damaged file is caught by verify, and fetch replaces it.
        printf 'x' >>"$d/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        expect 2 "sha256 mismatch" data verify --dataset fashion-mnist --data-dir "$d"
        expect 0 "placed $d/fashion-mnist/t10k-labels-idx1-ubyte.gz" \
            data fetch --dataset fashion-mnist --data-dir "$d"
        expect 0 "ok" data verify --dataset fashion-mnist --data-dir "$d"
        leftovers=$(find "$d" -name '*.tmp.*')
        if [ -n "$leftovers" ]; then
            echo "FAIL: temporary files left behind: $leftovers"; failures=$((failures + 1))
        fi
    else
        echo "SKIP fetch/verify cycle: /usr/share/datasets/fashion-mnist not installed" \
            "(apt-get install dataset-fashion-mnist)"
    fi
    ;;
verify)
    "$bin" data verify --dataset mnist >"$tmp/out" 2>&1
    got=$?
    cat "$tmp/out"
    if [ "$got" -ne 0 ] && grep -qF "missing; run" "$tmp/out"; then
        echo "SKIP: MNIST is not in the data directory; run \`initbench data fetch --dataset mnist\`"
        exit 77
    fi
    [ "$got" -eq 0 ] || failures=1
    ;;
*)
    echo "usage: $0 INITBENCH cli|verify" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "test_data_cli ($mode): $failures failed"
    exit 1
fi
echo "test_data_cli ($mode): all passed"
