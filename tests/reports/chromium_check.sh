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
# A suggest page with a deadline (the recommended label beside the deadline's) and the 16-GPU
# DGX-2 bandwidth matrix (cell text on two lines, the SVG no wider than the page).
timeout 120 "$planner" suggest --model llama3-70b --tokens 2e12 --deadline-days 30 --max-gpus 4096 --format json -o "$out/suggest.json" || [ $? -eq 1 ]
timeout 120 "$planner" probe --xml "$src/tests/data/topologies/nvidia-dgx2.xml" --format json -o "$out/topology.json"
for f in plan simulate suggest topology; do "$planner" report "$out/$f.json" -o "$out/$f.html"; done
for f in run_small validate_fail bench_base; do "$planner" report "$data/$f.json" -o "$out/$f.html"; done
exec "$src/scripts/check_report_in_chromium.sh" --screenshot-dir "$out/screenshots" \
  "$out/plan.html" "$out/simulate.html" "$out/suggest.html" "$out/topology.html" "$out/run_small.html" "$out/validate_fail.html" "$out/bench_base.html"
