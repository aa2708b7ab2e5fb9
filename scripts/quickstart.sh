#!/usr/bin/env bash
# From a fresh clone to a finished experiment: install what moedil needs, build the moedil
# executable (not the test suite: scripts/test.sh builds that), run configs/quickstart.jsonc.
# Extra arguments go to `moedil run` (e.g. --set epochs_per_domain=2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
moedil=${MOEDIL_BUILD_DIR:-build}/moedil
"$moedil" run configs/quickstart.jsonc "$@"
cat <<EOF

Next:
  $moedil status                                    # every run below results/: where it stands
  $moedil report results/quickstart                 # tables, figures, a page: results/quickstart/report/
  $moedil run configs/quickstart.jsonc --set seeds.global=1   # the same with another seed
  $moedil --help                                    # every subcommand (configs/example.jsonc: every key)
EOF
