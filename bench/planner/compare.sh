#!/usr/bin/env bash
# Runs two bench_planner binaries in turns (A B A B ...) on this machine and prints each
# benchmark's median CPU time per binary, so a speed claim compares two builds measured in one go
# (the VM's speed drifts between minutes; alternating spreads the drift over both).
#   bench/planner/compare.sh OLD_BENCH NEW_BENCH [rounds=3]
set -euo pipefail
old="$1"; new="$2"; rounds="${3:-3}"
tmp=$(mktemp -d)
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    "$bin" --benchmark_repetitions=3 --benchmark_format=json --benchmark_out="$tmp/$side-$r.json" \
      --benchmark_out_format=json > /dev/null
  done
done
python3 - "$tmp" "$rounds" <<'PY'
import json, sys, statistics, glob
tmp, rounds = sys.argv[1], int(sys.argv[2])
def times(side):
    out = {}
    for f in sorted(glob.glob(f"{tmp}/{side}-*.json")):
        for b in json.load(open(f))["benchmarks"]:
            if b.get("run_type") == "aggregate":
                continue
            out.setdefault(b["name"], []).append(b["cpu_time"] if b["time_unit"] == "ns" else
                                                  b["cpu_time"] * {"us": 1e3, "ms": 1e6}[b["time_unit"]])
    return out
old, new = times("old"), times("new")
print(f"{'benchmark':32} {'old median ns':>14} {'new median ns':>14} {'new/old':>8}   ({rounds} rounds x 3 repetitions each)")
for name in old:
    o, n = statistics.median(old[name]), statistics.median(new[name])
    print(f"{name:32} {o:14.0f} {n:14.0f} {n / o:8.3f}")
PY
rm -rf "$tmp"
