#!/usr/bin/env bash
# Datasets larger than memory (issue 18): a CORe50-sized synthetic tree (11 sessions x 50 objects
# x FRAMES PNGs of 128x128; 300 frames = 165,000 images, CORe50 has 164,866) trained as CORe50
# at 128x128 and at 224x224, with the images in memory (no cache_dir) and memory-mapped from the
# decoded-image cache (cache_dir). For each run: wall time, the training and evaluation samples/s
# of the log, peak resident memory (VmHWM), and the peak of the process's own memory (RssAnon)
# and of the mapped file pages (RssFile, page cache the kernel can drop), sampled every 0.2 s.
# The model is tiny (ViT patch 32, dim 32, one block) so the data path, not the model, is measured.
#   bench/mapped_dataset.sh [FRAMES=300] [WORK=/tmp/moedil-mapped-bench]
#   ONLY="mapped-128 mapped-224" bench/mapped_dataset.sh ...   runs just those, keeping the cache
# Needs build/moedil (scripts/build.sh) and about 35 GB of free disk for WORK at 300 frames.
# Run it on an idle machine (nothing else building or testing). WORK is kept for reruns; remove
# it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-300}
work=${2:-/tmp/moedil-mapped-bench}
moedil=$PWD/build/moedil
[[ -x $moedil ]] || { echo "build/moedil missing: run scripts/build.sh" >&2; exit 2; }
mkdir -p "$work"

gen=$work/make_core50_tree
if [[ ! -x $gen || bench/make_core50_tree.cpp -nt $gen ]]; then
  g++ -O2 -std=c++17 -o "$gen" bench/make_core50_tree.cpp $(pkg-config --cflags --libs opencv4) -pthread
fi
tree=$work/tree-$frames
t0=$(date +%s.%N)
"$gen" "$tree" "$frames"
echo "tree: $(du -sh "$tree" | cut -f1) written in $(echo "$(date +%s.%N) - $t0" | bc) s"

# run NAME SIDE CACHE_DIR: one moedil run, memory sampled from /proc while it runs.
run() {
  local name=$1 side=$2 cache=$3
  [[ -z ${ONLY:-} || " $ONLY " == *" $name "* ]] || return 0
  local dir=$work/runs/$name
  rm -rf "$dir"
  mkdir -p "$work/runs"
  cat > "$work/$name.jsonc" <<JSON
{
  "dataset": "core50", "dataset_root": "$tree", "resize": $side, "cache_dir": "$cache",
  "partition": { "type": "domainIncremental" }, "num_partitions": 11,
  "train_frac": 0.8, "batch_size": 128, "epochs_per_domain": 1,
  "model": { "name": "vit", "patch_size": 32, "embed_dim": 32, "depth": 1, "num_heads": 2,
             "mlp_ratio": 2.0 },
  "optimizer": { "name": "adamw", "lr": 0.001 },
  "seeds": { "global": 1 }
}
JSON
  local kind=memory; [[ -n $cache ]] && kind=mapped
  local start; start=$(date +%s.%N)
  "$moedil" run "$work/$name.jsonc" --run-dir "$dir" > "$work/$name.out" 2>&1 &
  local pid=$! hwm=0 anon=0 file=0
  while kill -0 $pid 2>/dev/null; do
    if [[ -r /proc/$pid/status ]]; then
      read -r h a f < <(awk '/^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print h+0, a+0, f+0}' \
                          /proc/$pid/status 2>/dev/null || echo "0 0 0")
      (( h > hwm )) && hwm=$h; (( a > anon )) && anon=$a; (( f > file )) && file=$f
    fi
    sleep 0.2
  done
  local rc=0; wait $pid || rc=$?
  local wall; wall=$(echo "$(date +%s.%N) - $start" | bc)
  local decode train eval
  decode=$(grep -o 'decoded [0-9]* images of [0-9x]* in [0-9.]* s' "$work/$name.out" | tail -1 || true)
  train=$(grep -o '[0-9]* samples/s' "$work/$name.out" | awk '{s+=$1; n++} END{if(n) printf "%.0f", s/n}')
  eval=$(grep -o 'eval [0-9.]*s' "$work/$name.out" | awk '{sub("s","",$2); s+=$2} END{printf "%.1f", s}')
  printf '| %s | %s | %s | %.0f s | %s | %s s | %d MB | %d MB | %d MB | %s |\n' \
    "$name" "$side" "$kind" "$wall" "${train:-?}" "${eval:-?}" \
    $((hwm / 1024)) $((anon / 1024)) $((file / 1024)) "${decode:-from cache}" | tee -a "$work/table.md"
  [[ $rc == 0 ]] || { echo "run $name failed (exit $rc):"; tail -5 "$work/$name.out"; }
}

echo "| run | side | images | wall | train samples/s (mean per domain) | eval total | peak RSS | peak RssAnon | peak RssFile | decode |" | tee "$work/table.md"
echo "|---|---|---|---|---|---|---|---|---|---|" | tee -a "$work/table.md"
[[ -n ${ONLY:-} ]] || rm -rf "$work/cache"
run memory-128 128 ""
run mapped-128-first 128 "$work/cache"
run mapped-128 128 "$work/cache"
run mapped-224-first 224 "$work/cache"
run mapped-224 224 "$work/cache"
echo "cache files:"; ls -l "$work/cache"
# In memory at 224 (23.1 GiB of images) is refused before it starts on a 24 GiB machine:
cat > "$work/memory-224.jsonc" <<JSON
{ "dataset": "core50", "dataset_root": "$tree", "resize": 224, "partition": { "type": "domainIncremental" },
  "num_partitions": 11, "model": { "name": "vit", "patch_size": 32, "embed_dim": 32, "depth": 1 } }
JSON
"$moedil" validate "$work/memory-224.jsonc" 2>&1 | tail -4 || true
