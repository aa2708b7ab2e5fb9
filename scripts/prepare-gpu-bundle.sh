#!/usr/bin/env bash
# Collects into one folder (default third_party/bundle, git-ignored) what a build of moedil needs
# besides LibTorch, for a machine that has only a PyTorch wheel, a compiler, cmake and ninja:
#   include/    nlohmann/ (JSON), CLI/ (CLI11), spdlog/ + fmt/ (used header-only), zlib.h, zconf.h
#   googletest/ GoogleTest's sources (built with the tests)
#   fashion-mnist/ the four gzipped IDX files of Debian's dataset-fashion-mnist (the quickstart's)
#   VERSIONS    where each piece came from
# All come from this machine's Debian packages (scripts/setup.sh installs them). Configure with
# -DMOEDIL_BUNDLE_DIR=<folder> -DMOEDIL_WITH_OPENCV=OFF; scripts/gpu-check.sh does.
# Usage: scripts/prepare-gpu-bundle.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-third_party/bundle}

need() {  # need PATH PACKAGE
  [ -e "$1" ] || { echo "prepare-gpu-bundle: $1 is missing (apt-get install $2)" >&2; exit 1; }
}
need /usr/include/nlohmann/json.hpp nlohmann-json3-dev
need /usr/include/CLI/CLI.hpp libcli11-dev
need /usr/include/spdlog/spdlog.h libspdlog-dev
need /usr/include/fmt/format.h libfmt-dev
need /usr/include/zlib.h zlib1g-dev
need /usr/src/googletest/CMakeLists.txt libgtest-dev
fmnist=/usr/share/datasets/fashion-mnist
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
         t10k-labels-idx1-ubyte.gz; do
  need "$fmnist/$f" dataset-fashion-mnist
done

tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/include" "$tmp/fashion-mnist"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/spdlog /usr/include/fmt "$tmp/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$tmp/include/"
cp -r /usr/src/googletest "$tmp/googletest"
cp "$fmnist"/*-ubyte.gz "$tmp/fashion-mnist/"
{
  echo "# moedil GPU bundle, $(date -u +%Y-%m-%dT%H:%M:%SZ), from $(. /etc/os-release && echo "$PRETTY_NAME")"
  for p in nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libgtest-dev \
           dataset-fashion-mnist; do
    dpkg-query -W -f='${Package} ${Version}\n' "$p" 2>/dev/null || echo "$p (not from dpkg)"
  done
} >"$tmp/VERSIONS"
rm -rf "$out"
mv "$tmp" "$out"
echo "prepare-gpu-bundle: $out ($(du -sh "$out" | cut -f1)):"
sed 's/^/  /' "$out/VERSIONS"
