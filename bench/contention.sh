#!/usr/bin/env bash
# Throughput of a moedil run when the 2 cores are shared: alone (idle), two runs started at
# once (as from two terminals, each with its default threads), and one run beside a
# multi-threaded PyTorch job that this script starts itself. Prints each run's median training
# samples/s over its epochs and its share of the idle run's.
#
#   bench/contention.sh [-n N]    (N idle repetitions, default 1)
#
# Environment: MOEDIL (default build/moedil), CONFIG (default bench/peer_moedil.jsonc),
# MOEDIL_ARGS (extra arguments, e.g. --set mini_dataset=1000), PYTHON (default /usr/bin/python3,
# with Debian's python3-torch: the competitor). Anything moedil reads from the environment
# (OMP_WAIT_POLICY, GOMP_SPINCOUNT, OPENBLAS_CORETYPE, MOEDIL_NO_TUNE=1) passes through, so two
# settings compare as two invocations: MOEDIL_NO_TUNE=1 bench/contention.sh; bench/contention.sh
#
# Run it on an idle machine: nothing else may share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."

n=1
while getopts "n:h" opt; do
  case $opt in
    n) n=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "-n wants a positive integer, got '$n'" >&2; exit 2; }

moedil=${MOEDIL:-build/moedil}
config=${CONFIG:-bench/peer_moedil.jsonc}
python=${PYTHON:-/usr/bin/python3}
[ -x "$moedil" ] || { echo "$moedil is missing: build it or set MOEDIL" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null ||
  { echo "$python cannot import torch (the competitor): apt-get install python3-torch" >&2; exit 2; }

out=$(mktemp -d /tmp/moedil-contention.XXXXXX)
competitor_pid=
cleanup() {
  [ -z "$competitor_pid" ] || kill "$competitor_pid" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$out"
}
trap cleanup EXIT

echo "load average (1 min) before: $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
echo "environment: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-}" \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} MOEDIL_NO_TUNE=${MOEDIL_NO_TUNE:-}"

# start NAME: one moedil run in the background; its pid in $started
start() {
  # shellcheck disable=SC2086  # the extra arguments are meant to be split
  "$moedil" run "$config" --run-dir "$out/$1" --set "log_dir=\"$out/logs\"" ${MOEDIL_ARGS:-} \
    >"$out/$1.log" 2>&1 &
  started=$!
}
# finish NAME PID: wait for it (in this shell: a $(...) subshell cannot wait for it)
finish() {
  if ! wait "$2"; then
    echo "run $1 failed; the end of its output:" >&2
    tail -n 20 "$out/$1.log" >&2
    exit 1
  fi
}
# median: the median of the numbers on stdin, one per line
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# rate NAME: the run's median training samples/s over its epochs
rate() { grep -o '[0-9.]* samples/s' "$out/$1.log" | cut -d' ' -f1 | median; }

idle=()
for ((i = 1; i <= n; i++)); do
  start "idle$i"; finish "idle$i" "$started"; t=$(rate "idle$i"); idle+=("$t")
  echo "  idle run $i: $t samples/s"
done
idle_s=$(printf '%s\n' "${idle[@]}" | median)

start pairA; a=$started
start pairB; b=$started
finish pairA "$a"; finish pairB "$b"; ta=$(rate pairA); tb=$(rate pairB)

# The competitor: a PyTorch job on all cores doing a transformer-sized mix of matrix products
# and elementwise work (many short parallel regions, like a training step), until killed.
"$python" - >"$out/competitor.log" 2>&1 <<'PY' &
import os, torch
torch.set_num_threads(os.cpu_count())
x = torch.randn(64 * 50, 64)
w = torch.randn(64, 256)
while True:
    y = torch.relu(x @ w) @ w.t()
    x = torch.nn.functional.layer_norm(y, (64,))
PY
competitor_pid=$!
sleep 2
start beside; finish beside "$started"; tc=$(rate beside)
kill "$competitor_pid"; wait "$competitor_pid" 2>/dev/null || true; competitor_pid=

share() { awk -v t="$1" -v i="$idle_s" 'BEGIN { printf "%.0f%%", 100 * t / i }'; }
echo
printf '%-40s %8s samples/s\n' "one run alone (median of $n)" "$idle_s"
printf '%-40s %8s samples/s  %s of idle\n' "two at once: first" "$ta" "$(share "$ta")"
printf '%-40s %8s samples/s  %s of idle\n' "two at once: second" "$tb" "$(share "$tb")"
printf '%-40s %8s samples/s  %s of idle\n' "beside a 2-thread PyTorch job" "$tc" "$(share "$tc")"
echo "load average (1 min) after: $(cut -d' ' -f1 /proc/loadavg)"
