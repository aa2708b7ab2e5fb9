#!/usr/bin/env bash
# Installs what moedil needs on Debian 12 or 13 (idempotent, non-interactive; the list is
# scripts/packages.txt, plus scripts/packages-test.txt with --tests), checks that the BLAS
# LibTorch will use is OpenBLAS, then configures and builds into build/ (MOEDIL_BUILD_DIR
# overrides it; MOEDIL_CMAKE_ARGS adds configure options): the moedil executable only, or with
# --tests every target, the test suite included.
# Usage: scripts/setup.sh [--no-build] [--tests]   (scripts/quickstart.sh runs it bare,
#        scripts/test.sh with --tests; --no-build stops after the packages and the BLAS check)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
tests=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --tests) tests=1 ;;
    *) echo "usage: scripts/setup.sh [--no-build] [--tests]" >&2; exit 2 ;;
  esac
done

lists=(scripts/packages.txt)
[ "$tests" -eq 1 ] && lists+=(scripts/packages-test.txt)
mapfile -t packages < <(cat "${lists[@]}" | sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d')
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
if [ "$tests" -eq 1 ]; then
  # The whole suite: (re)configured with the tests on, every target built.
  if [ ! -f "$build_dir/build.ninja" ] ||
     ! grep -q '^MOEDIL_BUILD_TESTS:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEDIL_BUILD_TESTS=ON \
      ${MOEDIL_CMAKE_ARGS:-}
  fi
  cmake --build "$build_dir" -j "$(nproc)"
else
  # The tool only: a fresh build directory is configured without the tests (no GoogleTest
  # needed); one that has them keeps them, and only the moedil executable is built.
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEDIL_BUILD_TESTS=OFF \
      ${MOEDIL_CMAKE_ARGS:-}
  fi
  cmake --build "$build_dir" -j "$(nproc)" --target moedil
fi
