#!/usr/bin/env bash
# Installs what is missing (LibTorch + Gloo + OpenBLAS for the executor, Chromium for the report
# check), builds everything with the executor, and runs the whole test suite.
#   scripts/test.sh [build-dir]      (default: build-test)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-test}"
scripts/setup.sh --torch --browser
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLANNER_WITH_TORCH=ON
cmake --build "$build" -j"$(nproc)"
# Every test has its own timeout (set where it is declared); --timeout is the backstop.
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 900
