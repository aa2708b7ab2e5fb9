#!/usr/bin/env bash
# Reading results as a user meets it, with the real binary: `moedil report` and `moedil status`
# on a metaconfig sweep (experiments named by what their overrides change), on failed runs
# whose numbers went non-finite, on hostile names and on symlink loops.
# Usage: report_cli_test.sh MOEDIL_BINARY
set -u
moedil=$1
source "$(dirname "${BASH_SOURCE[0]}")/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
no_control() {  # no_control FILE: FILE holds no ESC and no BEL byte
  ! LC_ALL=C grep -q "$(printf '[\033\007]')" "$1"
}

tiny='{"dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,
 "mini_dataset": 120, "epochs_per_domain": 1, "num_threads": 1,
 "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2}}'
echo "$tiny" > quickstart.jsonc
cat > sweep.jsonc <<'META'
{ // one config file, model.moe_top_k 1 and 2, two seed groups each: two experiments of n = 2
  "configs": [{"path": "quickstart.jsonc", "overrides": {"model.moe_top_k": 1}},
              {"path": "quickstart.jsonc", "overrides": {"model.moe_top_k": 2}}],
  "seeds": {"global": [1, 2]},
  "results_dir": "res", "log_dir": "lg"
}
META

expect 0 "grouped by experiment" "$moedil" report --help

# The batch names its runs as the report names the experiments.
expect 0 "quickstart[model.moe_top_k=2]" "$moedil" batch sweep.jsonc --dry-run
expect 0 "4 completed" "$moedil" batch sweep.jsonc
check "the batch summary names the experiments" \
  grep -qF "quickstart[model.moe_top_k=1]" $(ls lg/sweep-*.log | head -1)
expect 0 "quickstart[model.moe_top_k=1]" "$moedil" report sweep.jsonc --out rep
check "configs.csv: top_k 1 is its own experiment with n = 2" \
  grep -q '^quickstart\[model.moe_top_k=1\],ACC,2,' rep/configs.csv
check "configs.csv: top_k 2 is its own experiment with n = 2" \
  grep -q '^quickstart\[model.moe_top_k=2\],ACC,2,' rep/configs.csv
check "configs.csv: no pooled experiment of n = 4" bash -c '! grep -q ",ACC,4," rep/configs.csv'
check "runs.csv has the hyperparameter as a column" \
  grep -q '^config,run,seed,model.moe_top_k,ACC,AIA,BWT,FWT,FWT_baseline,' rep/runs.csv
check "runs.csv holds its value" grep -q '^quickstart\[model.moe_top_k=2\],[^,]*,1,2,' rep/runs.csv
# The same directory reported without the metaconfig groups the same way.
expect 0 "quickstart[model.moe_top_k=2]" "$moedil" report res --out rep_dir
check "a directory report groups the same way" \
  grep -q '^quickstart\[model.moe_top_k=2\],ACC,2,' rep_dir/configs.csv

# FWT is GEM's; fwt_baseline is there (null) without baselines, a number with them.
run_json=$(ls res/quickstart/*/run.json | head -1)
run_id=$(grep -o '"id": "[^"]*"' "$run_json" | head -1 | cut -d'"' -f4)
check "run.json has fwt and fwt_baseline null" \
  bash -c 'grep -q "\"fwt\": -\?[0-9]" "$1" && grep -q "\"fwt_baseline\": null" "$1"' _ "$run_json"
expect 0 "FWT_baseline" "$moedil" run quickstart.jsonc --set baseline.enabled=true \
  --set results_dir=\"base\"
check "with baselines fwt_baseline is a number" \
  bash -c 'grep -q "\"fwt_baseline\": -\?[0-9]" base/quickstart/*/run.json'
# The predecessor's variants only when asked, labelled, from the same run.
expect 0 "" "$moedil" report base/quickstart --out rep_base --format csv
check "without --predecessor-metrics no predecessor column" \
  bash -c '! grep -q predecessor rep_base/runs.csv'
expect 0 "intransigence_predecessor" "$moedil" report base/quickstart --out rep_pred \
  --format csv --predecessor-metrics
check "runs.csv ends with the three predecessor columns" \
  grep -q ',balanced_acc,AIA_predecessor,FWT_predecessor,intransigence_predecessor$' \
  rep_pred/runs.csv
check "AIA_predecessor equals ACC in configs.csv" bash -c \
  'acc=$(grep ",ACC," "$1" | cut -d, -f4); aia=$(grep ",AIA_predecessor," "$1" | cut -d, -f4)
   [ -n "$acc" ] && [ "$acc" = "$aia" ]' _ rep_pred/configs.csv

# A run that failed on a non-finite loss: its NaN numbers are null in run.json. status shows it
# failed (not unreadable), report reads it.
mkdir -p nan/quickstart
cp -r "$(dirname "$run_json")" nan/quickstart/failed_run
sed -i -E 's/"(loss|train_loss|lr|train_acc|acc)":[-0-9.eE+]+/"\1":null/g' \
  nan/quickstart/failed_run/epochs.jsonl
for f in run.json progress.json; do
  sed -i -E -e 's/"status": "completed"/"status": "failed"/' \
    -e 's/"error": null/"error": "loss is not finite at domain 1 epoch 0"/' \
    nan/quickstart/failed_run/$f
done
check "the failed run's epochs hold nulls" grep -q '"loss":null' nan/quickstart/failed_run/epochs.jsonl
expect 0 "1 failed" "$moedil" status nan
expect 0 "loss is not finite at domain 1 epoch 0" "$moedil" status nan
check "status does not call it unreadable" bash -c '! "$1" status nan | grep -q unreadable' _ "$moedil"
cp -r res/quickstart/$(basename "$(dirname "$run_json")") nan/quickstart/good_run
expect 0 "Runs not completed" "$moedil" report nan --out rep_nan
check "status.csv lists the failed run" \
  grep -qF ",$run_id,failed,3,3,loss is not finite at domain 1 epoch 0," rep_nan/status.csv

# Hostile names: no escape sequence reaches the terminal, no formula a CSV, no markup report.md.
mkdir -p evil/x
cp -r "$(dirname "$run_json")" evil/x/r1
for f in run.json progress.json; do
  sed -i -e 's/"config_name": "quickstart"/"config_name": "=cmd|\\u001b[2J<script>x<\/script>_*"/' \
    -e 's/"status": "completed"/"status": "failed"/' \
    -e 's/"error": null/"error": "\\u001b]0;pwned\\u0007boom"/' evil/x/r1/$f
done
"$moedil" status evil > status_evil.out 2>&1
check "status prints no ESC or BEL" no_control status_evil.out
check "status shows the escapes" grep -qF '\x1b]0;pwned\x07boom' status_evil.out
"$moedil" report evil --out rep_evil > report_evil.out 2>&1
check "report prints no ESC or BEL" no_control report_evil.out
check "status.csv neutralises the formula" grep -qF "'=cmd|" rep_evil/status.csv
check "report.md escapes the name" grep -qF '\<script\>x\</script\>\_\*' rep_evil/report.md
check "report.html escapes the name" grep -qF '&lt;script&gt;x&lt;/script&gt;' rep_evil/report.html
check "report.html has no script from the name" bash -c '! grep -qF "<script>x" rep_evil/report.html'

# A run.json that is a symlink loop is named as a problem, the rest is reported, exit 2; a
# directory link cycle does not make the search run forever.
mkdir -p loop/quickstart/looping
cp -r res/quickstart/$(basename "$(dirname "$run_json")") loop/quickstart/good_run
ln -s run.json loop/quickstart/looping/run.json
ln -s .. loop/quickstart/good_run/cycle
expect 2 "loop/quickstart/looping/run.json: is a symbolic-link loop (too many levels of symbolic links)" \
  timeout 60 "$moedil" report loop --out rep_loop
check "the good run is still reported" grep -qF ",$run_id," rep_loop/runs.csv
check "problems.csv names the loop" grep -q 'looping/run.json' rep_loop/problems.csv
expect 2 "looping/run.json: is a symbolic-link loop" "$moedil" report loop/quickstart/looping/run.json
expect 2 "looping/run.json: is a symbolic-link loop" "$moedil" report loop/quickstart/looping
expect 0 "unreadable" timeout 60 "$moedil" status loop

[ "$failures" -eq 0 ] && echo "all report CLI checks passed"
exit "$failures"
