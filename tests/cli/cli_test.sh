#!/usr/bin/env bash
# The moedil executable as a user meets it: exit codes and messages for good and bad input.
# Usage: cli_test.sh MOEDIL_BINARY SOURCE_DIR
set -u
moedil=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0

# expect CODE "substring" -- command...
expect() {
  local code=$1 needle=$2
  shift 2
  local out
  out=$("$@" 2>&1)
  local got=$?
  if [ "$got" -ne "$code" ]; then
    echo "FAIL: '$*' exited $got, expected $code"; echo "$out" | head -20; failures=$((failures + 1))
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: '$*' output lacks '$needle'"; echo "$out" | head -20; failures=$((failures + 1))
  else
    echo "ok: $*"
  fi
}

expect 0 "Run one experiment" "$moedil" --help
expect 0 "--set" "$moedil" run --help
expect 0 "--resume" "$moedil" run --help
expect 2 "needs a config file" "$moedil" run
expect 2 "give no config" "$moedil" run ok.jsonc --resume somewhere
expect 0 "--print" "$moedil" validate --help
expect 2 "" "$moedil"
expect 2 "" "$moedil" frobnicate
expect 0 "vit_moe" "$moedil" list
expect 0 "domainIncremental" "$moedil" list
expect 0 "adamw" "$moedil" list
expect 0 "weighted_cross_entropy" "$moedil" list
expect 0 "class_balanced" "$moedil" list

expect 2 "config file 'missing.jsonc' does not exist" "$moedil" run missing.jsonc
printf '{\n  "dataset": "synthetic",\n  "batch_size" 4\n}\n' > bad_json.jsonc
expect 2 "bad_json.jsonc:3:" "$moedil" validate bad_json.jsonc
printf '{\n  // comment\n  "datset": "synthetic",\n  "model": {"moe_top_k": "two"},\n  "num_partitions": 4\n}\n' > bad_keys.jsonc
expect 2 "line 3, datset: unknown key; did you mean 'dataset'?" "$moedil" validate bad_keys.jsonc
expect 2 "line 4, model.moe_top_k: expected an integer" "$moedil" validate bad_keys.jsonc
expect 2 "num_partitions: is 4 but partition.angles lists 5 angles" "$moedil" validate bad_keys.jsonc
expect 2 "3 problems" "$moedil" validate bad_keys.jsonc

printf '{"dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3}\n' > ok.jsonc
expect 0 "valid" "$moedil" validate ok.jsonc
expect 0 '"moe_top_k": 2' "$moedil" validate ok.jsonc --print --set model.moe_top_k=2
expect 2 "expected KEY=VALUE" "$moedil" validate ok.jsonc --set nonsense
expect 2 "model.moe_top_k: 9 is out of range" "$moedil" validate ok.jsonc --set model.moe_top_k=9

# Missing dataset files: exit 2, the path and the Debian package named, no run left behind.
expect 2 "dataset-fashion-mnist" "$moedil" run ok.jsonc --set dataset=fashion_mnist \
  --set partition.type=rotate --set num_partitions=5 --set dataset_root=nowhere
[ -e results ] && { echo "FAIL: a failed start left results/"; failures=$((failures + 1)); }

# A tiny real run: exit 0, run.json completed, log file with one line per epoch.
expect 0 "[run] completed" "$moedil" run ok.jsonc --threads 1 --seed 2 \
  --set 'model={"name":"vit_moe","patch_size":4,"embed_dim":16,"depth":2,"num_heads":2}' \
  --set mini_dataset=120
run_json=$(ls results/ok/*/run.json 2>/dev/null | head -1)
if [ -z "$run_json" ] || ! grep -q '"status": "completed"' "$run_json"; then
  echo "FAIL: no completed run.json under results/ok"; failures=$((failures + 1))
fi
log=$(ls logs/*.log 2>/dev/null | head -1)
if [ -z "$log" ] || [ "$(grep -c '\[train\] domain' "$log")" -ne 3 ]; then
  echo "FAIL: log file missing or without 3 epoch lines"; failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] && echo "all CLI checks passed"
exit "$failures"
