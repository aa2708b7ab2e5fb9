#!/usr/bin/env bash
# `moedil batch --slurm` against a real single-node Slurm on localhost (see
# ../shared/notes/slurm-single-node.md): installs slurm-wlm and munge from Debian when missing,
# writes a slurm.conf into a temp dir, starts munged, slurmctld and slurmd, submits a metaconfig
# of 2 configs x 2 seed groups, waits for the array and checks 4 completed runs; then a run
# whose task gets the before-the-limit USR1 (--requeue-before) requeues itself and completes.
# Usage: slurm_test.sh MOEDIL_BINARY
# Exit 77 (CTest: skipped) with a loud SKIPPED line when Slurm cannot be installed or started;
# never 0 unless the 4 runs completed.
set -u
moedil=$(realpath "$1")
work=$(mktemp -d /tmp/moedil-slurm.XXXXXX)
pids=()
started_munged=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$started_munged" ] && [ -f /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
skip() {
  echo "##########################################################################"
  echo "SKIPPED: slurm could not start: $*"
  echo "##########################################################################"
  for f in "$work"/log/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
  exit 77
}
fail() { echo "FAIL: $*"; for f in "$work"/lg/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done; exit 1; }
wait_for() {  # wait_for SECONDS command...: true once the command succeeds within SECONDS
  # A deadline, not a number of tries: one probe can itself take long (a Slurm client retries an
  # unresolvable host name for 10 s), and each probe is cut off after 5 s.
  local deadline=$(($(date +%s) + $1))
  shift
  while [ "$(date +%s)" -lt "$deadline" ]; do
    timeout 5 "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root to install and start munged, slurmctld and slurmd"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm-wlm and munge from Debian ..."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q slurm-wlm munge >"$work/apt.log" 2>&1; then
    apt-get update -q >>"$work/apt.log" 2>&1
    apt-get install -y -q slurm-wlm munge >>"$work/apt.log" 2>&1 ||
      skip "apt-get install slurm-wlm munge failed: $(tail -1 "$work/apt.log")"
  fi
fi
if timeout 15 scontrol ping 2>/dev/null | grep -q UP; then
  skip "another slurmctld already answers on this machine; not touching it"
fi

# munged
mkdir -p /run/munge && chown munge:munge /run/munge
[ -f /etc/munge/munge.key ] || skip "/etc/munge/munge.key is missing"
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged -F >"$work/munged.out" 2>&1 &
  started_munged=1
  wait_for 10 sh -c 'munge -n | unmunge' || skip "munged did not start: $(tail -2 "$work/munged.out")"
fi

# slurm.conf in the temp dir; clients find it through SLURM_CONF. The daemons' addresses are given
# (127.0.0.1), so nothing depends on the host name resolving (a chroot may have no /etc/hosts).
host=$(hostname)
mem=$(( $(free -m | awk '/^Mem:/ {print $2}') - 1024 ))
mkdir -p "$work/spool/ctld" "$work/spool/d" "$work/log"
cat >"$work/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
wait_for 30 sh -c 'scontrol ping | grep -q UP' || skip "slurmctld did not come up"
slurmd -D -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
wait_for 30 sh -c 'sinfo -h -o %T | grep -q idle' || skip "slurmd did not register its node as idle"
echo "ok: munged, slurmctld and slurmd are up ($host, $(nproc) CPUs, ${mem} MB)"

# The metaconfig: 2 configs x 2 seed groups of a tiny model on synthetic data.
cd "$work"
tiny='{"dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,
 "mini_dataset": 120, "epochs_per_domain": 1,
 "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2}}'
echo "$tiny" > a.jsonc
echo "$tiny" > "b \$(touch pwned) 'x'.jsonc"
cat > meta.jsonc <<'META'
{ "configs": ["a.jsonc", "b $(touch pwned) 'x'.jsonc"],
  "seeds": {"global": [1, 2]}, "results_dir": "res", "log_dir": "lg" }
META

job=$("$moedil" batch meta.jsonc --slurm --partition debug --time 10 --max-parallel 2 \
      --cpus-per-task 1 2>"$work/submit.err") || { cat "$work/submit.err"; fail "moedil batch --slurm exited $?"; }
[[ "$job" =~ ^[0-9]+$ ]] || fail "no job id printed: '$job'"
script=$(ls lg/meta-*.sbatch | head -1)
grep -q '^#SBATCH --array=0-3%2$' "$script" || fail "script lacks --array=0-3%2"
echo "ok: sbatch accepted the job array $job ($script)"

wait_for 300 sh -c "[ -z \"\$(squeue -h -j $job 2>/dev/null)\" ]" || fail "job $job still queued after 300 s"
[ -e pwned ] && fail "a config name was executed by a shell"
n_logs=$(ls lg/moedil-meta-"$job"_*.out 2>/dev/null | wc -l)
[ "$n_logs" -eq 4 ] || fail "expected 4 task logs, found $n_logs"
echo "ok: 4 array tasks ran, one log each"

if ! "$moedil" run --help 2>&1 | grep -q -- '--run-dir'; then
  echo "SKIPPED: Slurm works and the array ran, but moedil run has no --run-dir/--resume yet, so"
  echo "         the runs themselves could not complete; this test passes once they exist"
  exit 77
fi
completed=$(grep -l '"status": "completed"' res/*/*/run.json 2>/dev/null | wc -l)
[ "$completed" -eq 4 ] || fail "expected 4 completed runs, found $completed"
echo "ok: 4 completed runs"
"$moedil" status res | tail -1 | grep -q "4 runs: 4 completed" || fail "status does not show 4 completed"
out=$("$moedil" batch meta.jsonc --slurm 2>&1) || fail "resubmission failed: $out"
grep -q "nothing to submit" <<<"$out" || fail "a resubmission after completion submitted again"

# ---- the time limit: USR1 before it stops the run, requeues the task, which resumes -----------
# --requeue-before 60 puts "#SBATCH --signal=B:USR1@60" and "--requeue" in the script. The test
# sends that USR1 itself (scancel --signal=USR1 --batch, as slurmctld does near the limit) once
# the run has finished a few epochs, instead of waiting minutes for the limit.
long='{"dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,
 "mini_dataset": 120, "epochs_per_domain": 30,
 "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2}}'
echo "$long" > long.jsonc
echo '{ "configs": ["long.jsonc"], "seeds": {"global": [3]}, "results_dir": "rq", "log_dir": "lgq" }' \
  > requeue.jsonc
job=$("$moedil" batch requeue.jsonc --slurm --time 10 --requeue-before 60 --cpus-per-task 1 \
      2>"$work/submit2.err") || { cat "$work/submit2.err"; fail "moedil batch --slurm exited $?"; }
script=$(ls lgq/requeue-*.sbatch | head -1)
grep -q '^#SBATCH --signal=B:USR1@60$' "$script" || fail "script lacks --signal=B:USR1@60"
grep -q '^#SBATCH --requeue$' "$script" || fail "script lacks --requeue"
wait_for 120 sh -c 'grep -qs "\"epoch\":2" rq/long/*/epochs.jsonl' || fail "the run did not start"
scancel --batch --signal=USR1 "$job" || fail "scancel --signal=USR1 failed"
wait_for 60 sh -c 'grep -qs "requeueing" lgq/*.out' || fail "the task did not requeue itself"
echo "ok: USR1 stopped the run and the task requeued itself"
wait_for 420 sh -c "[ -z \"\$(squeue -h -j $job 2>/dev/null)\" ]" || fail "job $job not done after requeue"
run_dir=$(dirname "$(ls rq/long/*/run.json | head -1)")
grep -q '"status": "completed"' "$run_dir/run.json" || fail "the requeued run did not complete"
grep -rqs "resumed from" lgq || fail "the requeued task did not resume the run (no 'resumed from' in lgq/)"
lines=$(wc -l < "$run_dir/epochs.jsonl")
[ "$lines" -eq 90 ] || fail "epochs.jsonl holds $lines epochs, not 90"
echo "ok: the requeued task resumed the run and completed it (90 epochs, each once)"
echo "all Slurm checks passed"
