#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: builds every target that does not need LibTorch
# with -fsanitize=address,undefined (any finding aborts: -fno-sanitize-recover=all) and runs the
# whole non-LibTorch test suite, the fuzz targets' ctest run included (docs/robustness.md).
#   scripts/sanitize.sh [build-dir]      (default: build-san)
# Environment: JOBS (parallel build and test jobs, default nproc), PLANNER_FUZZ_CI_RUNS (inputs
# per fuzz target, default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-san}"
jobs="${JOBS:-$(nproc)}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLANNER_WITH_TORCH=OFF -DPLANNER_SANITIZE=ON \
  -DPLANNER_BUILD_BENCH=OFF -DPLANNER_FUZZ_CI_RUNS="${PLANNER_FUZZ_CI_RUNS:-2000}" "${launcher[@]}"
cmake --build "$build" -j"$jobs"
# Leaks count too; halt on the first report of either sanitizer, with a stack.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"  # libhwloc's own leak on a failed XML load
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 1800
