#!/usr/bin/env bash
# Results storage at scale: a real run of 20 domains x 3 epochs with 100 classes (a generated
# CIFAR-100-shaped binary set; every domain's 600 test images evaluated after every epoch), a
# tiny ViT so that storage, not the model, is measured. Prints:
#   - bytes the run wrote (wchar of the process, from /proc: the shell that waited for it),
#     checkpoints aside (their size x the epochs), against the final run directory's size;
#   - run.json's size; what the pre-schema-7 layout (the whole record, every confusion matrix,
#     rewritten after every epoch) would have written, reconstructed from the files;
#   - `moedil status` on the results: wall time and peak RSS (/usr/bin/time).
# Usage: bench/results_storage.sh [WORK_DIR]   (moedil from build/, or MOEDIL=path)
set -euo pipefail
cd "$(dirname "$0")/.."
moedil=${MOEDIL:-$PWD/build/moedil}
work=${1:-$(mktemp -d /tmp/moedil-storage.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
[ -x "$moedil" ] || { echo "no moedil at $moedil (build it, or set MOEDIL)" >&2; exit 2; }

python3 bench/make_cifar_fixture.py cifar100 "$work/cifar100" 3000 100

angles=$(python3 -c 'print(", ".join(str(18 * i) for i in range(20)))')
cat > "$work/storage.jsonc" <<EOF
{
  "dataset": "cifar100", "dataset_root": "$work/cifar100", "mini_dataset": 3000,
  "num_partitions": 20, "partition": {"type": "rotate", "angles": [$angles]},
  "train_frac": 0.8, "batch_size": 128, "epochs_per_domain": 3,
  "model": {"name": "vit", "patch_size": 16, "embed_dim": 16, "depth": 1, "num_heads": 1},
  "results_dir": "$work/results", "log_dir": "$work/logs", "num_threads": 2,
  "seeds": {"global": 1}
}
EOF

echo "[bench] run: 20 domains x 3 epochs, 100 classes, 600 test images per domain"
start=$(date +%s.%N)
wchar=$(bash -c '"$1" run "$2" > "$3" 2>&1; grep ^wchar /proc/$$/io | cut -d" " -f2' _ \
  "$moedil" "$work/storage.jsonc" "$work/run.out")
end=$(date +%s.%N)
run_dir=$(dirname "$(ls "$work"/results/storage/*/run.json | head -1)")
grep -q '"status": "completed"' "$run_dir/run.json" || { cat "$work/run.out"; exit 1; }
checkpoint=$(stat -c %s "$run_dir/checkpoint.pt" 2>/dev/null || echo 0)
log_bytes=$(stat -c %s "$work"/logs/*.log)
out_bytes=$(stat -c %s "$work/run.out")
dir_bytes=$(find "$run_dir" -type f ! -name checkpoint.pt -printf '%s\n' | awk '{s+=$1} END {print s}')
results_written=$((wchar - 60 * checkpoint - log_bytes - out_bytes))

python3 - "$run_dir" <<'EOF' > "$work/before.txt"
import json, sys, os
d = sys.argv[1]
run = json.load(open(os.path.join(d, "run.json")))
epochs = [json.loads(l) for l in open(os.path.join(d, "epochs.jsonl"))]
conf = [json.loads(l) for l in open(os.path.join(d, "confusion.jsonl"))]
for c in conf:
    if c["stage"] == "train":
        epochs[c["global_epoch"]]["eval"][c["eval_domain"]]["confusion"] = c["confusion"]
total = 0
for k in range(1, len(epochs) + 1):
    rec = dict(run)
    rec["epochs"] = epochs[:k]
    total += len(json.dumps(rec, indent=1)) + 1
print(total, len(json.dumps(dict(run, epochs=epochs), indent=1)) + 1)
EOF
read -r before_total before_final < "$work/before.txt"

status_stats=$( { /usr/bin/time -f "%e %M" "$moedil" status "$work/results" > "$work/status.out"; } 2>&1 | tail -1)
read -r status_s status_kb <<< "$status_stats"

mb() { python3 -c "print(f'{$1 / 1e6:.2f} MB')"; }
echo "[bench] run wall time:                 $(python3 -c "print(f'{$end - $start:.1f} s')")"
echo "[bench] run directory (no checkpoint): $(mb "$dir_bytes")"
for f in run.json progress.json epochs.jsonl confusion.jsonl metrics.csv; do
  printf '[bench]   %-16s %s\n' "$f" "$(mb "$(stat -c %s "$run_dir/$f")")"
done
echo "[bench] checkpoint.pt:                 $(mb "$checkpoint") (x 60 epochs left out)"
echo "[bench] results written by the run:    $(mb "$results_written") = $(python3 -c "print(f'{$results_written / $dir_bytes:.2f}')")x the run directory"
echo "[bench] before schema 7 (reconstructed): run.json $(mb "$before_final"), rewritten per epoch: $(mb "$before_total") written"
echo "[bench] moedil status: ${status_s} s, peak RSS $((status_kb / 1024)) MB"
