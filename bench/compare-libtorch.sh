#!/usr/bin/env bash
# The quickstart on both LibTorch builds, same seeds, one after the other: build/moedil
# (this machine, Debian 12, LibTorch 1.13) and build-debian13/moedil in the Debian 13 chroot of
# scripts/test-debian13.sh (LibTorch 2.6; run that script once first). Prints one markdown row
# per seed and build, then the mean and standard deviation per build.
#
#   bench/compare-libtorch.sh [SEEDS...]      (default: 0 1 2; one thread, OMP_WAIT_POLICY=PASSIVE)
#
# Run it on an idle machine: the samples/s columns mean nothing next to a build.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
out=$(mktemp -d /tmp/moedil-compare.XXXXXX)
root=${MOEDIL_DEB13_ROOT:-/var/cache/moedil/debian13}
[ -x build/moedil ] || { echo "build/moedil is missing: run scripts/setup.sh" >&2; exit 2; }
[ -x "$root/src/moedil/build-debian13/moedil" ] ||
  { echo "no Debian 13 build in $root: run scripts/test-debian13.sh first" >&2; exit 2; }
# The chroot's build must be of this tree: scripts/test-debian13.sh copies it in and rebuilds.
scripts/test-debian13.sh --exec 'cmake --build build-debian13 --target moedil >/dev/null'
for s in "${seeds[@]}"; do
  OMP_WAIT_POLICY=PASSIVE build/moedil run configs/quickstart.jsonc --seed "$s" --threads 1 \
    --run-dir "$out/1.13-seed$s" >/dev/null 2>&1
  rm -rf "$root/tmp/cmp-2.6-seed$s"
  scripts/test-debian13.sh --exec "OMP_WAIT_POLICY=PASSIVE build-debian13/moedil run \
    configs/quickstart.jsonc --seed $s --threads 1 --run-dir /tmp/cmp-2.6-seed$s" >/dev/null 2>&1
  mkdir -p "$out/2.6-seed$s" && cp "$root/tmp/cmp-2.6-seed$s/run.json" "$out/2.6-seed$s/run.json"
done
python3 - "$out" "${seeds[@]}" <<'EOF'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
keys = ["acc", "aia", "bwt", "fwt", "plasticity"]
print("| seed | LibTorch | ACC | AIA | BWT | FWT | plasticity | train samples/s (median epoch) | evaluation per epoch |")
print("|---|---|---|---|---|---|---|---|---|")
per = {"1.13": [], "2.6": []}
for s in seeds:
    for v in ("1.13", "2.6"):
        r = json.load(open(f"{out}/{v}-seed{s}/run.json"))
        m = r["metrics"]
        per[v].append(m)
        sps = statistics.median(e["samples_per_s"] for e in r["epochs"])
        ev = statistics.mean(e["eval_seconds"] for e in r["epochs"])
        print(f"| {s} | {v} | " + " | ".join(f"{m[k]:.4f}" for k in keys) +
              f" | {sps:,.0f} | {ev:.2f} s |")
for v, ms in per.items():
    if len(ms) < 2:
        continue
    cells = [f"{statistics.mean(m[k] for m in ms):.4f} ± {statistics.stdev(m[k] for m in ms):.4f}"
             for k in keys]
    print(f"| mean ± sd | {v} | " + " | ".join(cells) + " | | |")
print(f"(runs in {out})", file=sys.stderr)
EOF
