#!/bin/bash
# Compares `planner train --cpu-bind cores` with `--cpu-bind none` in one go: the two modes run
# alternately, ROUNDS times each, on the same split, and the script prints every run's median step
# time and, per mode, the median and range over the runs. Alternating keeps a slow minute of the
# machine from landing on one mode only.
#
# Usage: bench/executor/compare_cpu_bind.sh [--planner BIN] [--rounds N] [-- TRAIN ARGS...]
#   default train args: --model llama-tiny --dp 1 --tp 4 --global-batch 4 --steps 20 --warmup-steps 5
# Exit: 0, or the failing run's exit status.
set -euo pipefail

planner=build/bin/planner
rounds=3
args=(--model llama-tiny --dp 1 --tp 4 --global-batch 4 --steps 20 --warmup-steps 5)
while [ $# -gt 0 ]; do
  case "$1" in
    --planner) planner="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --) shift; args=("$@"); break ;;
    *) echo "usage: $0 [--planner BIN] [--rounds N] [-- TRAIN ARGS...]" >&2; exit 2 ;;
  esac
done
[ -x "$planner" ] || { echo "error: $planner is not an executable (build with -DPLANNER_WITH_TORCH=ON, or pass --planner)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A times
for ((i = 1; i <= rounds; i++)); do
  for mode in cores none; do
    rec="$tmp/$mode-$i.json"
    "$planner" train "${args[@]}" --cpu-bind "$mode" --quiet --timeout 600 --record "$rec" > "$tmp/log" 2>&1 ||
      { rc=$?; cat "$tmp/log" >&2; exit "$rc"; }
    t=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['step_time_s_median'])" "$rec")
    printf 'round %d  --cpu-bind %-5s  median step %.4f s\n' "$i" "$mode" "$t"
    times[$mode]+="$t "
  done
done
for mode in cores none; do
  python3 - "$mode" ${times[$mode]} <<'EOF'
import statistics, sys
mode, xs = sys.argv[1], [float(x) for x in sys.argv[2:]]
print(f"--cpu-bind {mode:5s}: median of {len(xs)} runs {statistics.median(xs):.4f} s (range {min(xs):.4f} - {max(xs):.4f} s)")
EOF
done
