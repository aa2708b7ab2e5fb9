#!/usr/bin/env bash
# The moedil executable as a user meets it: exit codes and messages for good and bad input.
# Usage: cli_test.sh MOEDIL_BINARY SOURCE_DIR
set -u
moedil=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/expect.sh"
work=$(mktemp -d)
# moedil remembers OpenBLAS's choice of kernels here (common/cpu_tuning.h), not in ~/.cache
# (and not in $work, where the tests look for what a refused command left behind).
export XDG_CACHE_HOME
XDG_CACHE_HOME=$(mktemp -d)
trap 'rm -rf "$work" "$XDG_CACHE_HOME"' EXIT
cd "$work"

expect 0 "Run one experiment" "$moedil" --help
expect 0 "--set" "$moedil" run --help
expect 0 "--resume" "$moedil" run --help
expect 2 "needs a config file" "$moedil" run
expect 2 "give no config" "$moedil" run ok.jsonc --resume somewhere
expect 0 "--print" "$moedil" validate --help
expect 2 "" "$moedil"
expect 2 "" "$moedil" frobnicate
# Mistyped subcommands and options get the closest name.
expect 2 "no subcommand 'rn'; did you mean 'run'?" "$moedil" rn ok.jsonc
expect 2 "'run' has no option '--thread'; did you mean '--threads'?" "$moedil" run ok.jsonc --thread 2
expect 2 "'status' has no option '--wacth'; did you mean '--watch'?" "$moedil" status --wacth
expect 0 "vit_moe" "$moedil" list
expect 0 "domainIncremental" "$moedil" list
expect 0 "adamw" "$moedil" list
expect 0 "weighted_cross_entropy" "$moedil" list
expect 0 "class_balanced" "$moedil" list
expect 0 "column_entropy" "$moedil" list        # balance losses, with descriptions
expect 0 "half a cosine from lr down toward min_lr" "$moedil" list
expect 0 "Reads: init_weights," "$moedil" list   # each model with the keys it reads

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
# Colour on a terminal (script gives it one), none with NO_COLOR (https://no-color.org).
esc=$(printf '\033')
script -qec "TERM=xterm '$moedil' validate missing.jsonc" /dev/null > color.out 2>&1
check "errors are coloured on a terminal" grep -q "$esc\[" color.out
script -qec "TERM=xterm NO_COLOR=1 '$moedil' validate missing.jsonc" /dev/null > nocolor.out 2>&1
check "NO_COLOR turns the colour off" bash -c '! grep -q "$1" "$2" && grep -q "does not exist" "$2"' _ "$esc" nocolor.out
# A predecessor config: validate says there are notes, --explain prints them.
printf '{ "loss": {"lr": 0.001, "weighted": true}, "warmup_epochs": 2,\n  "seeds": {"global": 0} }\n' > pred.jsonc
expect 0 "valid (3 notes on predecessor keys: --explain prints them)" "$moedil" validate pred.jsonc
expect 0 "note: warmup_epochs: read by no predecessor code" "$moedil" validate pred.jsonc --explain
expect 0 "note: seeds.global: unseeded" "$moedil" validate pred.jsonc --explain
expect 0 "no predecessor key here reads differently" "$moedil" validate ok.jsonc --explain
expect 0 '"moe_top_k": 2' "$moedil" validate ok.jsonc --print --set model.moe_top_k=2
expect 2 "expected KEY=VALUE" "$moedil" validate ok.jsonc --set nonsense
expect 2 "model.moe_top_k: 9 is out of range" "$moedil" validate ok.jsonc --set model.moe_top_k=9
# A key of another model family is refused, naming the family and the keys it reads.
expect 2 "model.temperature_start: not read by model 'vit_moe' (it reads: patch_size," \
  "$moedil" validate ok.jsonc --set model.temperature_start=0.5
expect 2 "model.moe_top_k: not read by model 'vit'" "$moedil" run ok.jsonc \
  --set model.name=vit --set model.moe_top_k=2

# The model zoo's bad input: exit 2 before anything runs, naming the key.
expect 2 "unknown model 'resnet19'; did you mean 'resnet18'" "$moedil" validate ok.jsonc \
  --set model.name=\"resnet19\"
expect 2 "model.resnet_moe_stages: stage 4 is out of range" "$moedil" validate ok.jsonc \
  --set model.name=\"resnet18_conv_moe\" --set model.resnet_moe_stages=[4]
expect 2 "model.moe_capacity_factor: 0 is out of range: must be > 0" "$moedil" validate ok.jsonc \
  --set model.moe_capacity_factor=0
expect 2 "unknown hetero expert kind 'lstm'" "$moedil" validate ok.jsonc \
  --set model.name=\"hetero_moe\" --set 'model.hetero_experts=["mlp","lstm"]'
expect 2 "model.expert_depth" "$moedil" validate ok.jsonc \
  --set model.name=\"switch_moe_vit\" --set model.depth=2 --set model.expert_depth=2
expect 2 "expert_merging.enabled: model 'vit' has no MoE layers" "$moedil" run ok.jsonc \
  --set model.name=\"vit\" --set model.patch_size=4 --set expert_merging.enabled=true \
  --set mini_dataset=120
[ -e results ] && { echo "FAIL: a refused model left results/"; failures=$((failures + 1)); }
expect 0 "resnet18_block_moe" "$moedil" list
expect 0 "expert_merging" "$moedil" list

# Bad config input: exit 2 naming the file, line and key, before anything is created.
open=$(printf '%*s' 70000 '' | tr ' ' '[')
close=$(printf '%*s' 70000 '' | tr ' ' ']')
printf '{\n  "model": {"x": %s%s}\n}\n' "$open" "$close" > deep.jsonc
expect 2 "deep.jsonc:2:" "$moedil" validate deep.jsonc
expect 2 "'model.x[0][0]" "$moedil" validate deep.jsonc
expect 2 "nested deeper than 64 levels" "$moedil" run deep.jsonc
printf '{"configs": ["deep.jsonc"]}\n' > deep_meta.jsonc
expect 2 "nested deeper than 64 levels" "$moedil" batch deep_meta.jsonc
printf '{"configs": ["ok.jsonc"], "x": %s%s}\n' "$open" "$close" > deep_meta2.jsonc
expect 2 "deep_meta2.jsonc:1:" "$moedil" batch deep_meta2.jsonc
set_open=$(printf '%*s' 60000 '' | tr ' ' '[')
set_close=$(printf '%*s' 60000 '' | tr ' ' ']')
expect 2 "--set model.x value:1:65:" "$moedil" validate ok.jsonc --set "model.x=$set_open$set_close"
printf '{\n  "model": {"name": "vit"},\n  "dataset": "synthetic",\n  "model": {}\n}\n' > dup.jsonc
expect 2 "line 4, model: duplicate key, first given at line 2" "$moedil" validate dup.jsonc
expect 2 "dup.jsonc: 1 key is given twice" "$moedil" run dup.jsonc
printf '{\n  "dataset": "synthetic",\n  "optimizer": {"lr": 1e999}\n}\n' > big_number.jsonc
expect 2 "big_number.jsonc:3:23: 'optimizer.lr': the number 1e999 is out of range" \
  "$moedil" validate big_number.jsonc
expect 2 "the number 1e999 is out of range" "$moedil" validate ok.jsonc --set optimizer.lr=1e999
key=$(head -c 10000000 /dev/zero | tr '\0' k)
printf '{"%s": 1}\n' "$key" > big_key.jsonc
expect 2 "kkkk... (10000000 bytes): unknown key" "$moedil" validate big_key.jsonc
out=$("$moedil" validate big_key.jsonc 2>&1)
[ "${#out}" -lt 2000 ] || { echo "FAIL: a 10 MB key echoed in ${#out} bytes"; failures=$((failures + 1)); }
unset key out
expect 2 "--set 'results_dir=out\xFF': not valid UTF-8" "$moedil" run ok.jsonc \
  --set $'results_dir=out\xff' --set mini_dataset=120
cp ok.jsonc $'bad\xffname.jsonc'
expect 2 "config file name 'bad\xFFname.jsonc' is not valid UTF-8" "$moedil" run $'bad\xffname.jsonc' \
  --set mini_dataset=120
cp ok.jsonc $'meta\xff.jsonc'
expect 2 "metaconfig file name 'meta\xFF.jsonc' is not valid UTF-8" "$moedil" batch $'meta\xff.jsonc'
expect 2 "--run-dir 'r\xFF' is not valid UTF-8" "$moedil" run ok.jsonc --run-dir $'r\xff'
printf '{\n  "dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,\n  "results_dir": "out\\u00ff"\n}\n' > text_ok.jsonc
expect 0 "valid" "$moedil" validate text_ok.jsonc  # escapes that are valid text are fine
expect 2 "model.depth: 1000000000000 is out of range: must be in [1, 1000]" "$moedil" validate ok.jsonc \
  --set model.depth=1000000000000
expect 2 "model.moe_num_shared_experts: 9223372036854775807 is out of range" "$moedil" validate ok.jsonc \
  --set model.moe_num_shared_experts=9223372036854775807
expect 2 "model.embed_dim: 2147483648 is out of range" "$moedil" run ok.jsonc \
  --set model.embed_dim=2147483648
expect 2 "augmentation.random_crop_padding: 1000000 is out of range: must be in [0, 256]" \
  "$moedil" run ok.jsonc --set augmentation.random_crop_padding=1000000
expect 2 "model.temperature_end: 1e-300 is out of range" "$moedil" validate ok.jsonc \
  --set model.name=vit_moe_centroid --set model.temperature_end=1e-300
huge=(--set model.name=vit --set model.patch_size=4 --set model.embed_dim=65536
      --set model.depth=1000 --set model.num_heads=1)
expect 2 "ok.jsonc: the run needs an estimated" "$moedil" validate ok.jsonc "${huge[@]}"
expect 2 "3.44e+13 parameters x 16 bytes" "$moedil" run ok.jsonc "${huge[@]}"
left=$(find . -mindepth 1 -maxdepth 1 -type d ! -name logs)
[ -z "$left" ] || { echo "FAIL: refused bad input left directories: $left"; failures=$((failures + 1)); }

# Missing dataset files: exit 2, the path and the Debian package named, no run left behind.
expect 2 "dataset-fashion-mnist" "$moedil" run ok.jsonc --set dataset=fashion_mnist \
  --set partition.type=rotate --set num_partitions=5 --set dataset_root=nowhere
[ -e results ] && { echo "FAIL: a failed start left results/"; failures=$((failures + 1)); }

# An unusable results disk is reported before training, naming the directory.
touch not_a_dir
expect 1 "not_a_dir/ok: cannot create results directory" "$moedil" run ok.jsonc \
  --set results_dir=not_a_dir --set mini_dataset=120 --set model.patch_size=4

# A tiny real run: exit 0, run.json completed, log file with one line per epoch.
expect 0 "[run] completed" "$moedil" run ok.jsonc --threads 1 --seed 2 \
  --set 'model={"name":"vit_moe","patch_size":4,"embed_dim":16,"depth":2,"num_heads":2}' \
  --set mini_dataset=120
run_json=$(ls results/ok/*/run.json 2>/dev/null | head -1)
if [ -z "$run_json" ] || ! grep -q '"status": "completed"' "$run_json"; then
  echo "FAIL: no completed run.json under results/ok"; failures=$((failures + 1))
fi
# At start, run sets a short OpenMP spin before libgomp loads (common/cpu_tuning.h): in the slot
# of a shell variable such as "_" until main, else by restarting itself. The log says so, and
# libgomp itself (OMP_DISPLAY_ENV) reports the spin it read, by either way. A user's
# OMP_WAIT_POLICY stands; MOEDIL_NO_TUNE=1 turns the tuning off.
tiny_run=(run ok.jsonc --threads 1 --seed 2 --set mini_dataset=120
  --set 'model={"name":"vit","patch_size":4,"embed_dim":16,"depth":1,"num_heads":2}')
expect 0 "set for the CPU libraries at start: GOMP_SPINCOUNT=1000" \
  env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u MOEDIL_NO_TUNE "$moedil" "${tiny_run[@]}" --run-dir tune1
no_lendable=()  # common/cpu_tuning.h, kLendableVariables
for v in _ SHLVL OLDPWD LS_COLORS HISTCONTROL HISTSIZE HISTFILESIZE LESSOPEN LESSCLOSE MAIL \
  MOTD_SHOWN SSH_TTY SSH_CLIENT SSH_CONNECTION; do no_lendable+=(-u "$v"); done
for way in "lent slot:_=/usr/bin/moedil" "restart:"; do
  extra=${way#*:}
  out=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u MOEDIL_NO_TUNE "${no_lendable[@]}" \
    OMP_DISPLAY_ENV=VERBOSE ${extra:+"$extra"} "$moedil" "${tiny_run[@]}" \
    --run-dir "tune-${way%%:*}" 2>&1)
  # Every libgomp that initialised (twice where OpenBLAS's kernels need a restart too) read it.
  if ! grep -q "GOMP_SPINCOUNT = '1000'" <<<"$out" ||
     [ -n "$(grep "GOMP_SPINCOUNT = " <<<"$out" | grep -v "GOMP_SPINCOUNT = '1000'")" ] ||
     ! grep -q "GOMP_SPINCOUNT=1000" <<<"$out" || ! grep -q "\[run\] completed" <<<"$out"; then
    echo "FAIL: by ${way%%:*}, libgomp did not read GOMP_SPINCOUNT=1000 (or the run failed)"
    echo "$out" | grep -i "spin\|error" | head -5; failures=$((failures + 1))
  else
    echo "ok: by ${way%%:*}, libgomp reads moedil's spin count"
  fi
done
for setting in OMP_WAIT_POLICY=passive MOEDIL_NO_TUNE=1; do
  out=$(env -u GOMP_SPINCOUNT "$setting" "$moedil" "${tiny_run[@]}" --run-dir "tune-$setting" 2>&1)
  if grep -q "GOMP_SPINCOUNT=" <<<"$out" || ! grep -q "\[run\] completed" <<<"$out"; then
    echo "FAIL: with $setting moedil still set GOMP_SPINCOUNT (or the run failed)"
    echo "$out" | tail -5; failures=$((failures + 1))
  else
    echo "ok: $setting leaves the OpenMP spin alone"
  fi
done
# OpenBLAS's choice is remembered per machine (the CPU, the library): the first run writes it,
# and where it was an old core the next run sets OPENBLAS_CORETYPE before OpenBLAS loads.
rm -rf "$XDG_CACHE_HOME"
first=$(env -u OPENBLAS_CORETYPE -u MOEDIL_NO_TUNE "$moedil" "${tiny_run[@]}" --run-dir cache1 2>&1)
second=$(env -u OPENBLAS_CORETYPE -u MOEDIL_NO_TUNE "$moedil" "${tiny_run[@]}" --run-dir cache2 2>&1)
if ! grep -q "\[run\] completed" <<<"$first" || ! grep -q "\[run\] completed" <<<"$second"; then
  echo "FAIL: a run with the OpenBLAS cache did not complete"; failures=$((failures + 1))
elif grep -q "OpenBLAS kernels:" <<<"$first"; then
  if [ "$(wc -l <"$XDG_CACHE_HOME/moedil/cpu-tuning" 2>/dev/null)" != 1 ] ||
     ! grep -q "^cpu .* blas /.*$(printf '\t')[A-Za-z0-9_]*$" "$XDG_CACHE_HOME/moedil/cpu-tuning"; then
    echo "FAIL: OpenBLAS's choice not remembered in $XDG_CACHE_HOME/moedil/cpu-tuning"
    failures=$((failures + 1))
  elif grep -q "OPENBLAS_CORETYPE=" <<<"$first" &&
       ! grep -q "remembered from an earlier run" <<<"$second"; then
    echo "FAIL: the second run did not use the remembered OpenBLAS choice"
    failures=$((failures + 1))
  else
    echo "ok: OpenBLAS's choice remembered ($(cut -f2 "$XDG_CACHE_HOME/moedil/cpu-tuning"))"
  fi
elif [ -e "$XDG_CACHE_HOME/moedil/cpu-tuning" ]; then
  echo "FAIL: no OpenBLAS in this process, yet a choice was remembered"; failures=$((failures + 1))
else
  echo "ok: no OpenBLAS here, nothing remembered"
fi
# Kernels forced by the user's OPENBLAS_CORETYPE: the log says where they came from.
out=$(env OPENBLAS_CORETYPE=Haswell "$moedil" "${tiny_run[@]}" --run-dir forced-blas 2>&1)
if grep -q "OpenBLAS kernels:" <<<"$out" &&
   ! grep -q "OpenBLAS kernels: Haswell (chosen by OPENBLAS_CORETYPE=Haswell in the environment)" <<<"$out"; then
  echo "FAIL: the log does not say that OPENBLAS_CORETYPE chose the kernels"
  grep "OpenBLAS" <<<"$out"; failures=$((failures + 1))
fi
# moedil's own CPU kernels are named in the log, and LibTorch's ATEN_CPU_CAPABILITY caps them.
out=$("$moedil" "${tiny_run[@]}" --run-dir kernels-best 2>&1)
capped=$(env ATEN_CPU_CAPABILITY=default "$moedil" "${tiny_run[@]}" --run-dir kernels-capped 2>&1)
if ! grep -Eq "\[device\] moedil's CPU kernels: (avx512|avx2|scalar)$" <<<"$out" ||
   ! grep -q "\[device\] moedil's CPU kernels: scalar$" <<<"$capped"; then
  echo "FAIL: the log does not name moedil's CPU kernels, or ATEN_CPU_CAPABILITY=default did not cap them"
  grep "CPU kernels" <<<"$out$capped"; failures=$((failures + 1))
else
  echo "ok: the log names moedil's CPU kernels ($(grep -o "CPU kernels: .*" <<<"$out"))"
fi
# eval: the saved weights give the recorded final accuracies again.
expect 0 "mean acc" "$moedil" eval "$(dirname "$run_json")" --threads 1
[ -s "$(dirname "$run_json")/eval.json" ] || { echo "FAIL: eval.json missing"; failures=$((failures + 1)); }
expect 2 "holds no run.json" "$moedil" eval nowhere
expect 0 "fixed experts blocks.1.moe:0" "$moedil" eval "$(dirname "$run_json")" --threads 1 --fixed-expert blocks.1.moe:0
expect 2 "did you mean 'blocks.1.moe'" "$moedil" eval "$(dirname "$run_json")" --fixed-expert blocks.2.moe:0
# eval --dump: arrays for numpy and an index naming them; --dump-inputs needs --dump.
expect 0 "arrays (.npy) and index.json in $work/dump" "$moedil" eval "$(dirname "$run_json")" --threads 1 --dump "$work/dump"
for f in index.json domain0/logits.npy domain0/labels.npy domain0/predictions.npy domain0/rows.npy domain0/experts.blocks.1.moe.npy domain0/gates.blocks.1.moe.npy; do
  [ -s "$work/dump/$f" ] || { echo "FAIL: eval --dump wrote no $f"; failures=$((failures + 1)); }
done
expect 2 "--dump-inputs needs --dump DIR" "$moedil" eval "$(dirname "$run_json")" --dump-inputs
log=$(ls logs/*.log 2>/dev/null | head -1)
if [ -z "$log" ] || [ "$(grep -c '\[train\] domain' "$log")" -ne 3 ]; then
  echo "FAIL: log file missing or without 3 epoch lines"; failures=$((failures + 1))
fi

# report: tables, figures (Vega specs, PNGs when chromium is installed), HTML; bad input exits 2
# naming the file, the rest is still reported.
expect 0 "report" "$moedil" --help
expect 0 "metaconfig" "$moedil" report --help
expect 0 "Configs side by side" "$moedil" report results/ok
for f in report.html report.md runs.csv configs.csv class_metrics.csv; do
  [ -s "results/ok/report/$f" ] || { echo "FAIL: results/ok/report/$f missing"; failures=$((failures + 1)); }
done
ls results/ok/report/runs/*/r_matrix.vg.json >/dev/null 2>&1 || { echo "FAIL: no r_matrix.vg.json"; failures=$((failures + 1)); }
if [ -x /usr/bin/chromium ] && [ -z "${MOEDIL_CHROMIUM:-}" ]; then
  ls results/ok/report/runs/*/r_matrix.png >/dev/null 2>&1 || { echo "FAIL: no r_matrix.png"; failures=$((failures + 1)); }
  expect 0 "" "$moedil" report "$run_json" --out rep_png --format png
  ls rep_png/runs/*/confusion_*.png >/dev/null 2>&1 && [ ! -e rep_png/report.html ] ||
    { echo "FAIL: --format png"; failures=$((failures + 1)); }
fi
MOEDIL_CHROMIUM=/nonexistent expect 2 "no Chromium to render the PNGs" "$moedil" report "$run_json" --out rep_nopng --format md,png
[ ! -e rep_nopng ] || { echo "FAIL: --format png without chromium wrote files"; failures=$((failures + 1)); }
expect 0 "ACC" "$moedil" report "$run_json" --out rep_csv --format csv
[ -s rep_csv/runs.csv ] && [ ! -e rep_csv/report.html ] || { echo "FAIL: --format csv"; failures=$((failures + 1)); }
expect 2 "unknown format 'pdf'" "$moedil" report "$run_json" --format pdf
expect 2 "report target 'nowhere' does not exist" "$moedil" report nowhere
mkdir -p empty_dir
expect 2 "no run.json found" "$moedil" report empty_dir
mkdir -p mixed/ok/trunc
cp -r "$(dirname "$run_json")" mixed/ok/good
head -c 300 "$run_json" > mixed/ok/trunc/run.json
expect 2 "mixed/ok/trunc/run.json: not valid JSON" "$moedil" report mixed/ok/trunc/run.json
expect 2 "mixed/ok/trunc/run.json" "$moedil" report mixed
grep -q "$(basename "$(dirname "$run_json")")" mixed/report/runs.csv 2>/dev/null ||
  { echo "FAIL: the good run is missing from mixed/report/runs.csv"; failures=$((failures + 1)); }
# A metaconfig's report covers the runs `moedil batch` planned for it, found by their keys.
cp ok.jsonc other.jsonc
cp ok.jsonc never.jsonc
tiny='"mini_dataset=120", "num_threads=1", "model.patch_size=4", "model.embed_dim=16", "model.depth=2", "model.num_heads=2"'
printf '{\n  "configs": ["ok.jsonc", "other.jsonc"],\n  "overrides": [%s],\n  "results_dir": "mres"\n}\n' "$tiny" > meta.jsonc
expect 2 "no runs of config 'ok' have started" "$moedil" report meta.jsonc
expect 0 "2 completed" "$moedil" batch meta.jsonc
expect 0 "" "$moedil" report meta.jsonc
[ -s mres/report-meta/report.html ] || { echo "FAIL: metaconfig report missing"; failures=$((failures + 1)); }
[ -s mres/report-meta/final_acc_by_config.vg.json ] || { echo "FAIL: config comparison figure missing"; failures=$((failures + 1)); }
printf '{\n  "configs": ["ok.jsonc", "other.jsonc", "never.jsonc"],\n  "overrides": [%s],\n  "results_dir": "mres"\n}\n' "$tiny" > meta2.jsonc
expect 2 "no runs of config 'never' have started" "$moedil" report meta2.jsonc
grep -q "not started" mres/report-meta2/status.csv 2>/dev/null ||
  { echo "FAIL: the run not started is missing from status.csv"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] && echo "all CLI checks passed"
exit "$failures"
