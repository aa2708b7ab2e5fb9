#!/usr/bin/env bash
# A run with loggers ["csv", "tensorboard"], its event file read back as TensorBoard reads it
# (tests/io/read_tfevents.py: TFRecord CRCs, Google's protobuf parser on TensorBoard's Event
# schema) and its scalars compared with the run's metrics.csv. Exits 77 (skipped) without
# python3-protobuf.
# Usage: tensorboard_reader_test.sh MOEDIL_BINARY SOURCE_DIR
set -u
moedil=$1
src=$2
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" -c "import google.protobuf" 2>/dev/null ||
  { echo "SKIPPED: python3-protobuf not installed (apt-get install python3-protobuf)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > tb.jsonc <<'JSON'
{ "dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,
  "mini_dataset": 120, "epochs_per_domain": 2,
  "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2},
  "loggers": ["csv", "tensorboard"], "results_dir": "res", "log_dir": "logs", "num_threads": 1 }
JSON
"$moedil" run tb.jsonc > run.out 2>&1 || { tail -20 run.out; echo "FAIL: the run failed"; exit 1; }
events=$(ls res/tb/*/tensorboard/events.out.tfevents.* 2>/dev/null | head -1)
[ -n "$events" ] || { echo "FAIL: no event file"; exit 1; }
"$python" "$src/tests/io/read_tfevents.py" "$events" res/tb/*/metrics.csv
