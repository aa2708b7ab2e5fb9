#!/usr/bin/env bash
# Who may include whom (../shared/DESIGN.md, "Layout"): every `#include "moedil/<area>/..."` in
# include/moedil/<a>/ and src/<a>/ must name an area that <a> may use. Prints each violation
# with its file and line and exits 1; exits 0 when the tree keeps the rules.
# Usage: tests/layering/includes_test.sh [repository root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

# The areas each area may include (itself always). common, config, metrics, io, batch and report
# are torch-free too; CMakeLists.txt enforces that by compiling them with cmake/torch_free/.
declare -A allowed=(
  [common]=""
  [config]="common"
  [metrics]="common"
  [io]="common metrics"
  [batch]="common config io"
  [report]="common config io metrics batch"
  [data]="common config"
  [partition]="common config data"
  [model]="common config"
  [train]="common config data partition model metrics io"
  [cli]="common config data partition model train metrics io batch report"
)
# Single headers a lower layer still includes from another area, each with why. Shrink this
# list; never grow it without a reason written here.
#  - data's image cache and decoder log through io's logger and write the cache with io's
#    atomic write (moving logging and atomic_file to common is left for later).
exceptions=(
  "src/data/image_cache.cpp:moedil/io/atomic_file.h"
  "src/data/image_cache.cpp:moedil/io/logging.h"
  "src/data/image_decoder.cpp:moedil/io/logging.h"
)

status=0
checked=0
for area in "${!allowed[@]}"; do
  for dir in "include/moedil/$area" "src/$area"; do
    [ -d "$dir" ] || continue
    while IFS= read -r hit; do
      file=${hit%%:*}
      rest=${hit#*:}
      line=${rest%%:*}
      header=$(sed -E 's/.*#include "(moedil\/[^"]+)".*/\1/' <<<"${rest#*:}")
      target=$(cut -d/ -f2 <<<"$header")
      checked=$((checked + 1))
      [ "$target" = "$area" ] && continue
      ok=0
      for a in ${allowed[$area]}; do [ "$a" = "$target" ] && ok=1; done
      for e in "${exceptions[@]}"; do [ "$e" = "$file:$header" ] && ok=1; done
      if [ "$ok" -eq 0 ]; then
        echo "$file:$line: $area must not include $header (allowed: $area ${allowed[$area]:-})"
        status=1
      fi
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"moedil/' "$dir" || true)
  done
done
# Every area under src/ is known, so a new one cannot escape the rules.
for dir in src/*/; do
  a=$(basename "$dir")
  if [ -z "${allowed[$a]+set}" ]; then
    echo "src/$a: an area without layering rules; add it to $0"
    status=1
  fi
done
# Each exception still exists (a stale entry would hide a future violation of the same pair).
for e in "${exceptions[@]}"; do
  if ! grep -qF "#include \"${e#*:}\"" "${e%%:*}" 2>/dev/null; then
    echo "${e%%:*}: no longer includes ${e#*:}; remove the exception from $0"
    status=1
  fi
done
[ "$checked" -gt 0 ] || { echo "no includes found under $root: wrong root?"; exit 1; }
[ "$status" -eq 0 ] && echo "layering: $checked includes keep the rules"
exit "$status"
