#!/usr/bin/env bash
# Regenerates tests/data/golden/*/expected.json from the current build. Run it only when a change
# to the cost model is intended, and say in the commit why each number moved.
#   scripts/update_golden.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build}/bin/planner"
root="$PWD/tests/data/golden"
for dir in "$root"/*/; do
  [ -f "$dir/args" ] || continue
  args=$(head -n1 "$dir/args" | sed "s|GOLDEN/|$root/|g")
  # shellcheck disable=SC2086
  "$bin" $args --format json > "$dir/expected.json.tmp" || [ $? -eq 1 ]  # exit 1 = "nothing fits", still a result
  mv "$dir/expected.json.tmp" "$dir/expected.json"
  echo "updated $(basename "$dir")"
done
