#!/usr/bin/env bash
# Build planner against the LibTorch of a pip-installed PyTorch with CUDA and check it on this
# machine's GPUs: probe (hwloc + NVML), calibrate over NCCL (fp32 and bf16 GEMMs), validate (train
# and compare with the prediction) in fp32 and, for the first configuration, in bf16-mixed (FSDP2's
# MixedPrecisionPolicy, what the planner recommends). Every stage runs even when an earlier one
# failed; each has a time limit.
#
#   scripts/gpu-check.sh [OUT_DIR]        (default: gpu-check-out; $OUT when set)
#
# Environment:
#   PYTHON        the python3 whose torch to build against (default python3)
#   DEPS_DEBS     a folder of Debian .deb files unpacked into a private prefix when the machine
#                 lacks the headers (hwloc, Eigen, CLI11, nlohmann-json, pkgconf), e.g. fetched
#                 with `apt-get download libhwloc-dev libhwloc15 libeigen3-dev libcli11-dev
#                 nlohmann-json3-dev pkgconf pkgconf-bin libpkgconf3` (default .devdeps if present)
#   GPU_SET       "all": validate every configuration of the set below (about 5 minutes on one
#                 H200), or the names of some of them; default: the first only
#   GPU_MODEL     validate this model instead (preset or config.json); GPU_SEQ, GPU_MB: its
#                 sequence length and micro-batch
#   GPU_RANKS     ranks = GPUs used (default: all the GPUs nvidia-smi lists)
#   BASE_CLUSTER  the cluster calibrate starts from (default: `planner probe --as-cluster`, else
#                 the preset of the GPU nvidia-smi names)
set -u
OUT_DIR=${1:-${OUT:-gpu-check-out}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
PY=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
LOG="$OUT_DIR/gpu-check.log"
WORK="$OUT_DIR/work"  # run records, logs, the model config: packed into $OUT_DIR/work.tgz at the end
mkdir -p "$WORK"
: >"$LOG"
say() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }
run() {  # run LIMIT_S CMD...: output to the log, exit status reported
  local limit=$1
  shift
  echo "\$ $*" >>"$LOG"
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "(exit $rc)" >>"$LOG"
  return $rc
}

say "machine"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  nvidia-smi topo -m
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'nccl', torch.cuda.nccl.version(), 'gpus', torch.cuda.device_count())"
  g++ --version | head -1
  cmake --version | head -1
  nproc
} >>"$LOG" 2>&1
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
NGPU=${GPU_RANKS:-$(nvidia-smi -L | wc -l)}

PREFIX_PATH="$TORCH_PREFIX"
PKGCONF_ARGS=()
DEBS=${DEPS_DEBS:-$ROOT/.devdeps}
if [ -d "$DEBS" ] && ls "$DEBS"/*.deb >/dev/null 2>&1; then
  say "unpacking $(ls "$DEBS"/*.deb | wc -l) .deb files from $DEBS into a private prefix"
  D=/tmp/planner-deps
  rm -rf "$D" && mkdir -p "$D"
  for f in "$DEBS"/*.deb; do dpkg -x "$f" "$D"; done
  sed -i "s#^prefix=/usr\$#prefix=$D/usr#" "$D"/usr/lib/x86_64-linux-gnu/pkgconfig/hwloc.pc
  export PKG_CONFIG_PATH="$D/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$D/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  PREFIX_PATH="$PREFIX_PATH;$D/usr"
  if ! command -v pkg-config >/dev/null; then PKGCONF_ARGS=(-DPKG_CONFIG_EXECUTABLE="$D/usr/bin/pkgconf"); fi
fi

say "configure (LibTorch from $TORCH_PREFIX)"
GEN=()
KEEP_GOING=(-k)
if command -v ninja >/dev/null; then GEN=(-G Ninja); KEEP_GOING=(-k 0); fi
run 120 cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DPLANNER_WITH_TORCH=ON \
  -DPLANNER_BUILD_TESTS=OFF -DPLANNER_BUILD_BENCH=OFF "-DCMAKE_PREFIX_PATH=$PREFIX_PATH" "${PKGCONF_ARGS[@]}"
say "build"
run 300 cmake --build "$BUILD" -j "$(nproc)" -- "${KEEP_GOING[@]}" || true
grep -E "error|FAILED" "$LOG" | head -40
P="$BUILD/bin/planner"
if [ ! -x "$P" ]; then
  say "no planner binary: see $LOG"
  exit 1
fi

say "probe"
run 120 "$P" probe
run 120 "$P" probe --as-cluster -o "$OUT_DIR/cluster.json"
BASE=${BASE_CLUSTER:-$OUT_DIR/cluster.json}
if [ ! -s "$BASE" ] && [ -z "${BASE_CLUSTER:-}" ]; then
  # probe --as-cluster needs the network's rate, which a VM's NIC may not report: start from the
  # preset of this GPU instead (its peaks; one rank measures no links anyway).
  case "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" in
    *H200*) BASE=h200-sxm ;;
    *H100*PCIe*) BASE=h100-pcie ;;
    *H100*) BASE=h100-sxm ;;
    *A100*40GB*) BASE=a100-40gb-sxm ;;
    *A100*) BASE=a100-80gb-sxm ;;
    *)
      say "no cluster file from probe and no preset for this GPU: set BASE_CLUSTER (a preset or cluster file)"
      exit 1
      ;;
  esac
  say "no cluster file from probe: calibrating from the $BASE preset"
fi

# Models: a 1.34B Llama with Llama 3.2 1B's widths and multi-head attention (16 KV heads: the
# executor's fused attention, SDPA, then saves what the simulator's fused-attention table counts),
# the same with Llama 3.2 1B's grouped-query attention (8 KV heads, expanded to every head before
# SDPA), and a FeedForward block of 8192 x 28672 (three Linears, 705M parameters).
M="$WORK/models"
mkdir -p "$M"
cat >"$M/llama-1.3b-mha.json" <<'JSON'
{"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
 "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 128256, "rope_theta": 500000.0,
 "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
JSON
cat >"$M/llama-1.2b-gqa.json" <<'JSON'
{"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
 "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0,
 "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
JSON
# NAME MODEL SEQ MICRO_BATCH AC; GPU_SET=all runs every line, else only the first (or GPU_MODEL).
SET=(
  "mha-s2048-mb2-none $M/llama-1.3b-mha.json 2048 2 none"
  "mha-s2048-mb4-none $M/llama-1.3b-mha.json 2048 4 none"
  "mha-s4096-mb1-none $M/llama-1.3b-mha.json 4096 1 none"
  "mha-s2048-mb2-selective $M/llama-1.3b-mha.json 2048 2 selective"
  "mha-s2048-mb2-full $M/llama-1.3b-mha.json 2048 2 full"
  "gqa-s2048-mb2-none $M/llama-1.2b-gqa.json 2048 2 none"
  "ff-s2048-mb4-none feedforward:8192x28672 2048 4 none"
)
if [ -n "${GPU_MODEL:-}" ]; then
  SET=("custom $GPU_MODEL ${GPU_SEQ:-2048} ${GPU_MB:-2} none")
elif [ -z "${GPU_SET:-}" ]; then
  SET=("${SET[0]}")
elif [ "$GPU_SET" != all ]; then
  KEEP=()
  for line in "${SET[@]}"; do
    case " $GPU_SET " in *" ${line%% *} "*) KEEP+=("$line") ;; esac
  done
  SET=("${KEEP[@]}")
fi
CAL_MODELS=()
for line in "${SET[@]}"; do
  read -r _ model _ _ _ <<<"$line"
  case " ${CAL_MODELS[*]} " in *" --model $model "*) ;; *) CAL_MODELS+=(--model "$model") ;; esac
done

say "train llama-tiny on the GPU (smoke test)"
run 120 "$P" train --backend nccl --model llama-tiny --dp "$NGPU" --tp 1 --steps 5 --record "$WORK/tiny.run.json"
say "train llama-tiny on the GPU in bf16-mixed (smoke test)"
run 120 "$P" train --backend nccl --model llama-tiny --dp "$NGPU" --tp 1 --steps 5 --precision bf16-mixed \
  --record "$WORK/tiny-bf16-mixed.run.json"

say "calibrate ($NGPU rank(s), NCCL, base $BASE)"
run 240 "$P" calibrate --backend nccl --ranks "$NGPU" --base "$BASE" "${CAL_MODELS[@]}" --seq-len 2048 \
  --micro-batch 2 --micro-batch 4 --precision bf16-mixed --out "$OUT_DIR/profile.json"

for line in "${SET[@]}"; do
  read -r name model seq mb ac <<<"$line"
  say "validate $name ($NGPU rank(s))"
  run 240 "$P" validate --model "$model" --ranks "$NGPU" --cluster "$OUT_DIR/profile.json" --seq-len "$seq" \
    --micro-batch "$mb" --ac "$ac" --steps 8 --warmup-steps 3 --rounds 2 --out "$WORK/validate-$name.json" \
    --runs-dir "$WORK/runs"
  tar czf "$OUT_DIR/work.tgz" -C "$OUT_DIR" work
done
read -r name model seq mb ac <<<"${SET[0]}"
say "validate $name in bf16-mixed ($NGPU rank(s))"
run 240 "$P" validate --model "$model" --ranks "$NGPU" --cluster "$OUT_DIR/profile.json" --seq-len "$seq" \
  --micro-batch "$mb" --ac "$ac" --precision bf16-mixed --steps 8 --warmup-steps 3 --rounds 2 \
  --out "$WORK/validate-$name-bf16-mixed.json" --runs-dir "$WORK/runs-bf16-mixed"
tar czf "$OUT_DIR/work.tgz" -C "$OUT_DIR" work
run 120 "$P" simulate --model "$model" --cluster "$OUT_DIR/profile.json" --gpus "$NGPU" --dp "$NGPU" --tp 1 \
  --micro-batch "$mb" --seq-len "$seq" --global-batch $((NGPU * mb)) --precision fp32 --ac "$ac"
tar czf "$OUT_DIR/work.tgz" -C "$OUT_DIR" work && rm -rf "$WORK"
say "done: $OUT_DIR"
