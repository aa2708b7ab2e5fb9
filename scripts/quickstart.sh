#!/usr/bin/env bash
# From a fresh clone to a finished experiment: set up, build, run configs/quickstart.jsonc.
# Extra arguments go to `moedil run` (e.g. --set epochs_per_domain=2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${MOEDIL_BUILD_DIR:-build}/moedil" run configs/quickstart.jsonc "$@"
