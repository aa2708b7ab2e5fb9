#!/usr/bin/env bash
# Prints, for each test that failed in ctest's last run in BUILD_DIR, what went wrong: its lines
# that say FAIL/Failure/error and the last lines of its output (from ctest's own LastTest.log).
# .ci/run calls it at the end, so a failing CI run's tail names the test and the reason even
# after the other half's thousand lines of progress. Call it only after a failed run: ctest
# leaves the failure list of an earlier run in place when every test passes.
# SINCE (seconds since the epoch) skips a list older than that: a half that failed before its
# tests ran (packages, build) has none of its own.
#   usage: scripts/failed-tests.sh BUILD_DIR [LABEL [SINCE]]
set -uo pipefail
dir=${1:?usage: scripts/failed-tests.sh BUILD_DIR [LABEL [SINCE]]}
label=${2:-$dir}
since=${3:-0}
failed="$dir/Testing/Temporary/LastTestsFailed.log"
log="$dir/Testing/Temporary/LastTest.log"
if [ ! -s "$failed" ] || [ "$(stat -c %Y "$failed")" -lt "$since" ]; then
  echo "[$label] no failed tests on record from this run ($failed): it failed outside ctest"
  exit 0
fi
echo "[$label] failed tests: $(cut -d: -f2- "$failed" | tr '\n' ' ')"
[ -r "$log" ] || exit 0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cut -d: -f2- "$failed" | while IFS= read -r name; do
  echo "[$label] ---- $name"
  awk -v name="$name" '
    $0 ~ "^[0-9]+/[0-9]+ Test: " && substr($0, index($0, "Test: ") + 6) == name { on = 1; next }
    on && $0 == "<end of output>" { exit }
    on && out { print }
    on && $0 == "Output:" { getline; out = 1 }' "$log" >"$out" || true
  grep -v '^ok: ' "$out" |
    grep -E -m 40 'FAIL|Failure|[Ee]rror|Expected|Which is|[Tt]imeout|Segmentation|Assertion' |
    sed "s/^/[$label]   /" || true
  echo "[$label]   ... last lines:"
  tail -n 15 "$out" | sed "s/^/[$label]   /"
done
