#!/usr/bin/env bash
# The report's figures at the two scales researchers meet, from real runs:
#   small: 10 classes, 5 domains x 2 epochs (a generated CIFAR-10-shaped set), 2 seeds;
#   large: 100 classes, 20 domains x 3 epochs (a generated CIFAR-100-shaped set), 2 seeds;
# both with a tiny ViT-MoE (so that expert usage is there too). For each: `moedil report`'s wall
# time and output size, the page checked in headless Chromium (every view rendered, no console
# message) and screenshots to look at: the page's top, and the PNGs of the R-matrix, accuracy
# curves (the seeds' band), a confusion matrix and expert usage.
# Usage: bench/report_views.sh [WORK_DIR]   (moedil from build/, or MOEDIL=path; needs chromium
# and libjs-vega)
set -euo pipefail
cd "$(dirname "$0")/.."
moedil=${MOEDIL:-$PWD/build/moedil}
work=${1:-$(mktemp -d /tmp/moedil-report-views.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
[ -x "$moedil" ] || { echo "no moedil at $moedil (build it, or set MOEDIL)" >&2; exit 2; }
chromium=${MOEDIL_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "no chromium (apt-get install chromium, or set MOEDIL_CHROMIUM)" >&2; exit 2; }

python3 bench/make_cifar_fixture.py cifar10 "$work/data" 2000 200
python3 bench/make_cifar_fixture.py cifar100 "$work/data" 3000 100

# NAME DATASET DOMAINS EPOCHS MINI
experiment() {
  local name=$1 dataset=$2 domains=$3 epochs=$4 mini=$5 angles
  angles=$(python3 -c "print(', '.join(str(round(360 / $domains * i)) for i in range($domains)))")
  cat > "$work/$name.jsonc" <<JSON
{
  "dataset": "$dataset", "dataset_root": "$work/data", "mini_dataset": $mini,
  "num_partitions": $domains, "partition": {"type": "rotate", "angles": [$angles]},
  "train_frac": 0.8, "batch_size": 128, "epochs_per_domain": $epochs,
  "model": {"name": "vit_moe", "patch_size": 16, "embed_dim": 16, "depth": 2, "num_heads": 1,
            "num_experts": 4},
  "results_dir": "$work/results", "log_dir": "$work/logs", "num_threads": 2
}
JSON
  for seed in 1 2; do
    "$moedil" run "$work/$name.jsonc" --seed "$seed" > "$work/$name-$seed.out" 2>&1 ||
      { tail -20 "$work/$name-$seed.out"; exit 1; }
  done
  local start end
  start=$(date +%s.%N)
  "$moedil" report "$work/results/$name" --out "$work/report-$name" > "$work/report-$name.out" 2>&1 ||
    { tail -20 "$work/report-$name.out"; exit 1; }
  end=$(date +%s.%N)
  local rep=$work/report-$name
  local dom=$work/$name.dom.html log=$work/$name.chromium.log
  "$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" --no-first-run \
    --hide-scrollbars --enable-logging=stderr --v=0 --virtual-time-budget=60000 \
    --dump-dom "file://$rep/report.html" > "$dom" 2> "$log"
  "$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" --no-first-run \
    --hide-scrollbars --virtual-time-budget=60000 --window-size=1400,2200 \
    --screenshot="$work/$name-page.png" "file://$rep/report.html" > /dev/null 2>&1
  local views errors console
  views=$(grep -o 'data-views="[^"]*"' "$dom" | head -1)
  errors=$(grep -o 'data-view-errors="[^"]*"' "$dom" | head -1)
  console=$(grep -c "CONSOLE" "$log" || true)
  echo "[bench] $name: $(python3 -c "print(f'{$end - $start:.1f}')") s for moedil report;" \
    "report.html $(du -k "$rep/report.html" | cut -f1) kB, $(find "$rep" -name '*.png' | wc -l) PNGs," \
    "$(find "$rep" -name '*.vg.json' | wc -l) specs; page: $views $errors, $console console messages"
  echo "[bench]   look at: $work/$name-page.png"
  local run
  run=$(ls -d "$rep"/runs/*/ | head -1)
  for f in "$rep/groups/$name/accuracy.png" "$run"r_matrix.png "$run"accuracy.png \
           "$(ls "$run"confusion_*.png | tail -1)" "$(ls "$run"usage_*.png | head -1)"; do
    echo "[bench]   look at: $f"
  done
}

experiment small cifar10 5 2 2000
experiment large cifar100 20 3 3000
