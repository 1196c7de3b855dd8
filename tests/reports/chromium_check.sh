#!/bin/bash
# ctest: builds one report of each kind with the planner binary and opens them in headless
# Chromium offline (scripts/check_report_in_chromium.sh). Exit 77 (skipped) without Chromium.
# Usage: chromium_check.sh PLANNER_BINARY SOURCE_DIR OUT_DIR
set -eu
planner="$1"; src="$2"; out="$3"
[ -x /usr/bin/chromium ] || { echo "chromium not installed: skipped"; exit 77; }
mkdir -p "$out"
data="$src/tests/data/reports"
timeout 120 "$planner" plan --model feedforward --cluster h100-sxm --gpus 4 --format json -o "$out/plan.json"
timeout 120 "$planner" simulate --model llama3-8b --cluster h100-sxm --nodes 1 --tp 2 --format json -o "$out/simulate.json"
for f in plan simulate; do "$planner" report "$out/$f.json" -o "$out/$f.html"; done
for f in run_small validate_fail bench_base; do "$planner" report "$data/$f.json" -o "$out/$f.html"; done
exec "$src/scripts/check_report_in_chromium.sh" --screenshot-dir "$out/screenshots" \
  "$out/plan.html" "$out/simulate.html" "$out/run_small.html" "$out/validate_fail.html" "$out/bench_base.html"
