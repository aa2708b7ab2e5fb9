#!/usr/bin/env bash
# Set up, build and run the whole test suite (this is what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir "${MOEDIL_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
