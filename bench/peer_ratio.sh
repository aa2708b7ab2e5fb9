#!/usr/bin/env bash
# moedil against a Python peer of the predecessor's training loop, on the same experiment:
# bench/predecessor_peer.py (its defaults) and build/moedil run bench/peer_moedil.jsonc.
# Each whole process is timed with /usr/bin/time (wall seconds and peak RSS); the two run one
# after the other, alternating, N times each, and the medians and their ratio are printed.
#
#   bench/peer_ratio.sh [-n N]        (default N = 1; e.g. -n 5 for medians of 5)
#
# Environment: MOEDIL (default build/moedil), PYTHON (default /usr/bin/python3: Debian's
# python3-torch runs under it only), PEER_ARGS and MOEDIL_ARGS (extra arguments for either
# side; keep the two experiments the same), KEEP=1 keeps the run folder. PEER_ARGS defaults to
# --initial-eval: moedil always evaluates the untrained model once (forward transfer's
# baseline), so the peer does too; PEER_ARGS= (empty) leaves it out.
#
# Run it on an idle machine: both use 2 spinning OpenMP threads, and a build or another run
# beside them makes the times meaningless (bench/README.md, "Threads and a shared machine").
set -euo pipefail
cd "$(dirname "$0")/.."

n=1
while getopts "n:h" opt; do
  case $opt in
    n) n=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "-n wants a positive integer, got '$n'" >&2; exit 2; }

moedil=${MOEDIL:-build/moedil}
python=${PYTHON:-/usr/bin/python3}
[ -x "$moedil" ] ||
  { echo "$moedil is missing: build it (scripts/setup.sh) or set MOEDIL" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 2; }
"$python" -c 'import torch, numpy' 2>/dev/null ||
  { echo "$python cannot import torch and numpy: apt-get install python3-torch" >&2; exit 2; }

out=$(mktemp -d /tmp/moedil-peer.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$out"' EXIT

load=$(cut -d' ' -f1 /proc/loadavg)
echo "load average (1 min) before: $load on $(nproc) cores"
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' &&
  echo "warning: the machine is not idle; the times will not mean much" >&2

# run NAME I COMMAND...: one timed whole process; appends "wall_s peak_kB" to $out/NAME.times
run() {
  local name=$1 i=$2
  shift 2
  if ! /usr/bin/time -f "%e %M" -o "$out/$name.$i.time" "$@" >"$out/$name.$i.log" 2>&1; then
    echo "$name run $i failed; the end of its output:" >&2
    tail -n 20 "$out/$name.$i.log" >&2
    exit 1
  fi
  tail -n 1 "$out/$name.$i.time" >>"$out/$name.times"
  tail -n 1 "$out/$name.$i.time" | awk -v name="$name" -v i="$i" \
    '{ printf "  %-6s run %d: %6.2f s wall, peak RSS %4.0f MB\n", name, i, $1, $2 / 1024 }'
}

for ((i = 1; i <= n; i++)); do
  # shellcheck disable=SC2086  # the extra arguments are meant to be split
  run peer "$i" "$python" bench/predecessor_peer.py ${PEER_ARGS---initial-eval}
  # shellcheck disable=SC2086
  run moedil "$i" "$moedil" run bench/peer_moedil.jsonc --run-dir "$out/moedil-run-$i" \
    --set "log_dir=\"$out/logs\"" ${MOEDIL_ARGS:-}
done

# median of column $2 of file $1
median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END {
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

peer_s=$(median "$out/peer.times" 1)
moedil_s=$(median "$out/moedil.times" 1)
peer_kb=$(median "$out/peer.times" 2)
moedil_kb=$(median "$out/moedil.times" 2)
label=$([ "$n" -gt 1 ] && echo "median of $n" || echo "1 run")
echo
printf 'peer   (Python, predecessor loop): %7.2f s wall, peak RSS %5.0f MB (%s)\n' \
  "$peer_s" "$(awk -v k="$peer_kb" 'BEGIN { print k / 1024 }')" "$label"
printf 'moedil (bench/peer_moedil.jsonc):  %7.2f s wall, peak RSS %5.0f MB (%s)\n' \
  "$moedil_s" "$(awk -v k="$moedil_kb" 'BEGIN { print k / 1024 }')" "$label"
awk -v p="$peer_s" -v m="$moedil_s" 'BEGIN { printf "ratio peer/moedil: %.2fx\n", p / m }'
# What both ran on: the ratio depends on OpenBLAS's kernels (the peer's torch loads the same
# OpenBLAS, under the same environment) and on the spin moedil set.
kernels=$(grep -ho "OpenBLAS kernels: .*" "$out"/moedil.*.log | sort -u | paste -sd';' -)
echo "moedil's log: ${kernels:-no OpenBLAS kernels line}"
echo "load average (1 min) after: $(cut -d' ' -f1 /proc/loadavg)"
[ "${KEEP:-0}" = 1 ] && echo "(logs and runs in $out)"
exit 0
