#!/usr/bin/env bash
# Every flag of every command, with bad values derived from the command's own flag table (printed
# by INITBENCH_FLAG_TABLE=1, a hook in the flag parser): each must exit 2 with one message that
# names the flag, and leave nothing behind. Also per flag a value missing at the end (a boolean:
# given a value), and per command an unknown flag. (A flag given twice: test_flags.)
# usage: test_every_flag.sh INITBENCH
set -uo pipefail
ib=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
mkdir "$tmp/work" "$tmp/sweep"
cd "$tmp/work" || exit 1

# command words, then the positional arguments it needs to get as far as its flags
commands=(
  "train|--out $tmp/work/o"
  "sweep|--out $tmp/work/o"
  "sweep status|$tmp/sweep"
  "sweep resume|$tmp/sweep"
  "sweep collect|$tmp/sweep"
  "sweep run-task|$tmp/sweep 0"
  "report|$tmp/sweep --out $tmp/work/o"
  "data fetch|--data-dir $tmp/work/d"
  "data verify|--data-dir $tmp/work/d"
  "data info|--data-dir $tmp/work/d"
)

# one bad invocation: exit 2, stderr one line naming `want`, and nothing created in the cwd
expect_refused() {
  local want=$1; shift
  checks=$((checks + 1))
  "$ib" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local left; left=$(ls -A "$tmp/work")
  if [ $rc -ne 2 ] || ! grep -qF -- "$want" "$tmp/err" || [ "$(wc -l <"$tmp/err")" -ne 1 ] || [ -n "$left" ]; then
    fails=$((fails + 1))
    echo "FAIL: initbench $* -> rc $rc, stderr: $(head -c 300 "$tmp/err"), left behind: ${left:-nothing}"
    rm -rf "$tmp/work"/* "$tmp/work"/.[!.]* 2>/dev/null
  fi
}

for entry in "${commands[@]}"; do
  read -r -a words <<<"${entry%%|*}"
  read -r -a args <<<"${entry#*|}"
  table=$(INITBENCH_FLAG_TABLE=1 "$ib" "${words[@]}" "${args[@]}" 2>&1)
  if [ $? -ne 0 ] || [ -z "$table" ]; then
    fails=$((fails + 1)); echo "FAIL: ${words[*]}: no flag table ($table)"; continue
  fi
  nflags=0
  while IFS=$'\t' read -r name type min max open choices; do
    nflags=$((nflags + 1))
    flag="--$name"
    # an argument list without this flag (it may already be among the positional arguments)
    base=(); skip=0
    for a in "${args[@]}"; do
      if [ $skip -eq 1 ]; then skip=0; continue; fi
      if [ "$a" = "$flag" ]; then skip=1; continue; fi
      base+=("$a")
    done
    case $type in
      int|long)
        lo=$(awk -v m="$min" 'BEGIN { printf "%.0f", m - 1 }'); hi=$(awk -v m="$max" 'BEGIN { printf "%.0f", m + 1 }')
        bad=("abc" "1.5" "$lo" "$hi" "") ;;
      u64) bad=("-1" "1e3" "18446744073709551616" "") ;;
      double|double_list)
        lo=$(awk -v m="$min" -v o="$open" 'BEGIN { printf "%.17g", (o % 2) ? m : m - (m < 0 ? -m : m) - 1 }')
        hi=$(awk -v m="$max" -v o="$open" 'BEGIN { printf "%.17g", (o >= 2) ? m : m * 2 + 1 }')
        bad=("abc" "nan" "inf" "1e999" "$lo" "$hi" "") ;;
      choice) bad=("no-such-choice" "") ;;
      string) bad=("") ;;
      bool) expect_refused "$flag takes no value" "${words[@]}" "${base[@]}" "$flag=yes"; continue ;;
      *) fails=$((fails + 1)); echo "FAIL: ${words[*]} $flag: unknown type $type"; continue ;;
    esac
    for v in "${bad[@]}"; do
      expect_refused "$flag" "${words[@]}" "${base[@]}" "$flag=$v"
    done
    # the value missing at the end
    expect_refused "$flag needs a value" "${words[@]}" "${base[@]}" "$flag"
  done <<<"$table"
  expect_refused "--no-such-flag" "${words[@]}" "${args[@]}" --no-such-flag
  echo "${words[*]}: $nflags flags"
done
echo "$checks bad invocations checked, $fails failed"
[ "$fails" -eq 0 ]
