#!/usr/bin/env bash
# How many OpenMP parallel regions a moedil run opens and how many of them find the workers
# asleep: builds bench/region_gaps.c (an LD_PRELOAD shim on libgomp's GOMP_parallel) and runs
# moedil on a config under it. Prints moedil's result line and the shim's table: the pauses
# before the regions (the calling thread alone since the previous region ended) and, per region
# body, its calls and how many came after a pause of >= 40 us (longer than moedil's default
# spin of 1,000 on a 2-core Zen 5 VM: the workers had gone to sleep and must be woken).
#
#   bench/region_gaps.sh [CONFIG]      (default bench/peer_moedil.jsonc)
#
# Environment: MOEDIL (default build/moedil), CC (default cc). Timings under the shim are a
# little slower than without it; the counts are what it is for.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-bench/peer_moedil.jsonc}
moedil=${MOEDIL:-build/moedil}
[ -x "$moedil" ] || { echo "$moedil is missing: build it (scripts/setup.sh) or set MOEDIL" >&2; exit 2; }
out=$(mktemp -d /tmp/moedil-region-gaps.XXXXXX)
trap 'rm -rf "$out"' EXIT
"${CC:-cc}" -O2 -shared -fPIC -o "$out/region_gaps.so" bench/region_gaps.c -ldl -lpthread
LD_PRELOAD="$out/region_gaps.so" "$moedil" run "$config" --run-dir "$out/run" >"$out/log" 2>&1 ||
  { echo "moedil failed; the end of its output:" >&2; tail -n 20 "$out/log" >&2; exit 1; }
grep -E "\[result\]|OpenBLAS kernels|GOMP_SPINCOUNT" "$out/log" | sed 's/^\[[^]]*\] //' | cut -c1-150
grep "^region_gaps:" "$out/log" | sed 's/^region_gaps: //'
