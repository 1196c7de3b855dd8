#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs; idempotent: only what is missing is installed.
#   scripts/setup.sh            core build (simulator, planner, topology, reports, tests, benchmarks)
#   scripts/setup.sh --torch    also LibTorch + Gloo + OpenBLAS for the executor
#   scripts/setup.sh --browser  also Chromium for the HTML report test
set -euo pipefail
want=(cmake g++ make pkg-config libhwloc-dev libeigen3-dev libcli11-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev libbenchmark-dev)
for arg in "$@"; do
  case "$arg" in
    --torch) want+=(libtorch-dev libgloo-dev libopenblas0-pthread libopenblas-dev) ;;
    --browser) want+=(chromium) ;;
    *) echo "setup.sh: unknown option '$arg' (allowed: --torch, --browser)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#want[@]} packages present"
  exit 0
fi
echo "setup.sh: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
