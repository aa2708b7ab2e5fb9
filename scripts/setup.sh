#!/usr/bin/env bash
# Installs what moedil needs on Debian 12 or 13 (idempotent, non-interactive; the list is
# scripts/packages.txt), checks that the BLAS LibTorch will use is OpenBLAS, then configures and
# builds into build/ (MOEDIL_BUILD_DIR overrides it; MOEDIL_CMAKE_ARGS adds configure options).
# Usage: scripts/setup.sh [--no-build]   (called by scripts/quickstart.sh and scripts/test.sh;
#        --no-build stops after the packages and the BLAS check)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--no-build]" >&2; exit 2 ;;
esac

# The package list lives in scripts/packages.txt (also read by scripts/test-debian13.sh).
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' scripts/packages.txt)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] all Debian packages present"
fi

# Without OpenBLAS, LibTorch runs its matrix products on the reference BLAS: ~25x slower.
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
case "$blas" in
  *openblas-openmp*) echo "[setup] BLAS: $blas" ;;
  *)
    echo "[setup] BLAS is '$blas', not OpenBLAS (openmp): switching the alternative"
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" update-alternatives --set libblas.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
    "${sudo_cmd[@]}" update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3 || true
    ;;
esac

[ "$build" -eq 1 ] || exit 0
build_dir=${MOEDIL_BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${MOEDIL_CMAKE_ARGS:-}
fi
cmake --build "$build_dir" -j "$(nproc)"
