#!/usr/bin/env bash
# Set up, build and run the whole test suite, then build and check the portable configuration
# (no OpenCV, header-only spdlog/fmt from the bundle: what scripts/gpu-check.sh builds on a GPU
# machine) in build-portable. Extra arguments go to ctest. CI runs this (.ci/run), and then the
# same suite in a Debian 13 chroot (scripts/test-debian13.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
ctest --test-dir "${MOEDIL_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
scripts/portable-build.sh
