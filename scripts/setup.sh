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
    --browser) want+=(chromium python3) ;;  # python3 reads Chromium's net log (check_report_in_chromium.sh)
    *) echo "setup.sh: unknown option '$arg' (allowed: --torch, --browser)" >&2; exit 2 ;;
  esac
done
torch=0
for arg in "$@"; do [ "$arg" = "--torch" ] && torch=1; done
# The executor: Debian's LibTorch links the generic libblas.so.3; make it OpenBLAS, not the
# ~20x slower netlib reference BLAS (idempotent; runs after the packages are in, see the end).
switch_blas() {
  local want=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
  [ "$torch" = 1 ] && [ -e "$want" ] || return 0
  if [ "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)" != "$want" ]; then
    echo "setup.sh: switching libblas.so.3 to OpenBLAS"
    ${SUDO:-} update-alternatives --set libblas.so.3-x86_64-linux-gnu "$want"
  fi
}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#want[@]} packages present"
  switch_blas
  exit 0
fi
echo "setup.sh: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
switch_blas
