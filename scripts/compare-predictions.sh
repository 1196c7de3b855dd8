#!/usr/bin/env bash
# Runs the same plan/simulate/suggest command lines with two planner binaries and says which
# outputs differ byte for byte: the check that a refactoring changed no prediction.
#   scripts/compare-predictions.sh OLD_PLANNER NEW_PLANNER
set -uo pipefail
cd "$(dirname "$0")/.."
old="$1"; new="$2"
out=$(mktemp -d)
cases=(
  "plan"
  "plan --model llama3-8b --cluster h100-sxm --nodes 2 --seq-len 8192 --global-batch 256 --format json"
  "plan --model llama3-70b --nodes 4 --format json"
  "plan --model llama3-405b --cluster h200-sxm --nodes 8 --format json"
  "plan --model feedforward --gpus 4 --format json"
  "plan --model llama-tiny --cluster tests/data/golden/cpu-2core.cluster.json --seq-len 64 --global-batch 8 --precision fp32 --format json"
  "plan --model tests/data/models/Meta-Llama-3-8B.config.json --cluster a100-80gb-sxm --nodes 4 --format json"
  "simulate --model llama3-70b --nodes 4 --tp 8 --micro-batch 1 --ac full --sp on --format json"
  "simulate --model llama3-8b --nodes 1 --tp 2 --micro-batch 2 --ac selective --sp on --grad-sync last --reshard-after-forward off --format json"
  "simulate --model llama3-8b --nodes 1 --tp 2 --trace /dev/stdout"
  "simulate --model llama3-8b --nodes 2 --tp 4 --micro-batch 1 --ac none --precision fp32 --format json"
  "simulate --model llama3-8b --nodes 2 --tp 4 --micro-batch 1 --ac none --precision bf16 --compile --format json"
  "simulate --model llama-tiny --cluster tests/data/validation/2026-11-25T2321/profile.json --tp 2 --micro-batch 1 --seq-len 64 --global-batch 4 --precision fp32 --format json"
  "simulate --model feedforward:1024x4096 --cluster tests/data/validation/2026-11-25T2321/profile.json --tp 1 --micro-batch 1 --seq-len 64 --global-batch 4 --precision fp32 --ac full --format json"
  "simulate --model llama3-70b --nodes 4 --tp 8 --micro-batch 1 --ac full --sp on"
  "suggest --model llama3-70b --cluster h100-sxm --tokens 1e12 --deadline-days 30 --price-per-gpu-hour 2.5 --objective cheapest --format json"
  "suggest --model llama3-8b --cluster a100-80gb-sxm --tokens 1e11 --deadline-days 10 --format json"
)
for f in tests/data/validation-gpu/*/profile.json; do
  cases+=("simulate --model llama3-8b --cluster $f --tp 1 --micro-batch 1 --seq-len 2048 --global-batch 8 --format json")
done
differ=0
for i in "${!cases[@]}"; do
  # shellcheck disable=SC2086
  "$old" ${cases[$i]} > "$out/old" 2>&1; echo "exit $?" >> "$out/old"
  # shellcheck disable=SC2086
  "$new" ${cases[$i]} > "$out/new" 2>&1; echo "exit $?" >> "$out/new"
  if ! cmp -s "$out/old" "$out/new"; then echo "differs: planner ${cases[$i]}"; differ=$((differ + 1)); fi
done
rm -rf "$out"
echo "${#cases[@]} command lines, $differ differ"
[ "$differ" -eq 0 ]
