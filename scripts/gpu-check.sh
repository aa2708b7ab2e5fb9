#!/usr/bin/env bash
# The whole GPU check in one command, for a machine that has a CUDA PyTorch 2.x wheel, nvcc, cmake,
# ninja and a compiler but none of Debian's -dev packages and no network. Prepare the bundle first,
# on a Debian machine: scripts/prepare-gpu-bundle.sh (third_party/bundle travels with the tree).
#
#   1. prints the machine: GPU, driver, PyTorch, CUDA, nvcc, cmake, cores;
#   2. builds moedil against the wheel's LibTorch (CMAKE_PREFIX_PATH = torch.utils.cmake_prefix_path)
#      with the bundle, no OpenCV, header-only spdlog/fmt, and runs its CPU checks
#      (scripts/portable-build.sh: the same configuration CI builds on every run);
#   3. runs the CUDA tests (the *_CUDA test cases and device resolution): none may be skipped;
#   4. runs the quickstart (configs/quickstart.jsonc, Fashion-MNIST from the bundle) on cuda, on
#      cuda with amp bf16 and on the CPU (all cores), and prints samples/s, epoch times and the
#      final metrics side by side.
# Each step has its own time limit; the whole check is meant to end within 8 minutes on a 16-core
# machine. The summary also goes to <build>/gpu-check.txt, and to $OUT/ when OUT is set.
#
# Usage: scripts/gpu-check.sh [--rehearse] [BUILD_DIR]       (default build-gpu)
#   --rehearse         the same script on a machine without a GPU (Debian's LibTorch, no nvcc):
#                      CUDA tests must report skipped, the quickstart runs on the CPU only and
#                      shortened. So every line of it has run before a GPU is lent.
#   PYTHON             the Python with the CUDA wheel (default python3)
#   MOEDIL_BUNDLE_DIR  the bundle (default third_party/bundle)
set -uo pipefail
cd "$(dirname "$0")/.."
rehearse=0
if [ "${1:-}" = "--rehearse" ]; then rehearse=1; shift; fi
build=${1:-build-gpu}
py=${PYTHON:-python3}
bundle=$(realpath -m "${MOEDIL_BUNDLE_DIR:-third_party/bundle}")
t_start=$(date +%s)
summary=()
say() { echo "[gpu-check] $*"; }
note() { say "$*"; summary+=("$*"); }
finish() {
  local rc=$1
  note "total $(($(date +%s) - t_start)) s: $([ "$rc" -eq 0 ] && echo 'all checks passed' || echo "FAILED (exit $rc)")"
  mkdir -p "$build"
  printf '%s\n' "${summary[@]}" >"$build/gpu-check.txt"
  if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
    cp "$build/gpu-check.txt" "$build"/*.log "$OUT/" 2>/dev/null
  fi
  echo "----- summary"
  printf '%s\n' "${summary[@]}"
  exit "$rc"
}
die() { note "FAIL: $*"; finish 1; }

# 1. The machine.
[ -f "$bundle/include/spdlog/spdlog.h" ] ||
  die "no bundle in $bundle: run scripts/prepare-gpu-bundle.sh on a Debian machine, carry third_party/bundle"
tools=(cmake ninja "$py")
[ "$rehearse" -eq 1 ] || tools+=(nvcc)
for tool in "${tools[@]}"; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [ "$rehearse" -eq 1 ]; then
  prefix=""  # Debian's LibTorch, found without hints
  note "rehearsal on $(nproc) cores without a GPU: $(cmake --version | head -1)"
else
  info=$("$py" - <<'PY' 2>&1
import os, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("gpu", p.name, f"{p.total_memory / 2**30:.0f} GiB", "sm", f"{p.major}.{p.minor}")
print("abi", int(torch._C._GLIBCXX_USE_CXX11_ABI))
print("prefix", torch.utils.cmake_prefix_path)
print("site", os.path.dirname(os.path.dirname(torch.__file__)))
PY
  ) || die "$py cannot import torch: $info"
  echo "$info" | sed 's/^/[gpu-check] /'
  echo "$info" | grep -q "available True" || die "torch.cuda.is_available() is False"
  prefix=$(echo "$info" | awk '$1 == "prefix" {print $2}')
  site=$(echo "$info" | awk '$1 == "site" {print $2}')
  sm=$(echo "$info" | awk '$1 == "gpu" {print $NF}')
  note "machine: $(echo "$info" | grep '^gpu' | cut -d' ' -f2-); $(echo "$info" | grep '^torch');" \
    "nvcc $(nvcc --version | grep -Eo 'release [0-9.]+' | cut -d' ' -f2); $(cmake --version | head -1); $(nproc) cores"
  nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,utilization.gpu \
    --format=csv,noheader 2>/dev/null | sed 's/^/[gpu-check] nvidia-smi: /'
fi

# 2. Build against the wheel's LibTorch. Its CUDA libraries (cuDNN, cuBLAS, ...) sit in
# site-packages/nvidia/*/lib: the linker needs them to resolve libtorch_cuda.so's dependencies.
cmake_args=""
nvtx_retry=("")
if [ "$rehearse" -eq 0 ]; then
  cuda_root=$(dirname "$(dirname "$(command -v nvcc)")")
  link_dirs="$site/torch/lib"
  for d in "$site"/nvidia/*/lib; do [ -d "$d" ] && link_dirs="$link_dirs:$d"; done
  cmake_args="-DCMAKE_CUDA_COMPILER=$cuda_root/bin/nvcc -DCUDAToolkit_ROOT=$cuda_root"
  cmake_args="$cmake_args -DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$link_dirs"
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-${sm:-9.0}}
  # CUDA 12.9+ ships NVTX as headers only; LibTorch's CMake then needs nvtx3_dir (second try).
  nvtx_retry+=("-Dnvtx3_dir=$cuda_root/include")
fi
# A CMake 4 refuses GoogleTest's old minimum version, and LibTorch may still use FindCUDA.
cmake_args="$cmake_args -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_POLICY_DEFAULT_CMP0146=OLD"
export MOEDIL_TORCH_PREFIX=$prefix
export MOEDIL_PORTABLE_TARGETS="loss_test experiment_test"
export MOEDIL_BUNDLE_DIR=$bundle
t0=$(date +%s)
build_ok=0
for extra in "${nvtx_retry[@]}"; do
  rm -rf "$build"
  MOEDIL_CMAKE_ARGS="$cmake_args $extra" timeout 420 scripts/portable-build.sh "$build" 2>&1 |
    tee "$build.build.log"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then build_ok=1; break; fi
  grep -qi "nvtx\|nvToolsExt" "$build.build.log" "$build.configure.log" 2>/dev/null || break
  say "configure failed on NVTX: once more with -Dnvtx3_dir=$cuda_root/include"
done
mkdir -p "$build"
mv "$build.build.log" "$build/build.log" 2>/dev/null
[ -f "$build.configure.log" ] && mv "$build.configure.log" "$build/configure.log"
[ "$build_ok" -eq 1 ] || die "the build or its CPU checks failed (output above; $build/build.log)"
note "build against $([ -n "$prefix" ] && echo "the wheel's LibTorch" || echo "the system's LibTorch") + CPU checks: $(($(date +%s) - t0)) s"

# 3. The CUDA tests: on a GPU machine none may skip (in a rehearsal all of them must).
t0=$(date +%s)
for spec in "attention_test:*_CUDA" "loss_test:*_CUDA" "experiment_test:ResolveDevice.*"; do
  exe=${spec%%:*}
  filter=${spec#*:}
  log="$build/$exe.cuda.log"
  timeout 120 "$build/tests/$exe" --gtest_filter="$filter" >"$log" 2>&1
  rc=$?
  cat "$log"
  [ "$rc" -eq 0 ] || die "$exe ($filter) failed"
  ran=$(grep -Eo '[0-9]+ tests? from [0-9]+ test suites? ran' "$log" | awk '{print $1}')
  [ "${ran:-0}" -gt 0 ] || die "$exe ($filter) ran no test"
  if [ "$rehearse" -eq 0 ]; then
    grep -q '\[  SKIPPED \]' "$log" && die "$exe ($filter) skipped a test on a GPU machine"
  elif [ "$filter" = "*_CUDA" ]; then
    grep -q '\[  SKIPPED \]' "$log" || die "$exe ($filter) did not skip without a GPU"
  fi
done
note "CUDA tests $([ "$rehearse" -eq 1 ] && echo "skipped as they must be without a GPU" || echo passed):" \
  "attention_test *_CUDA, loss_test *_CUDA, experiment_test ResolveDevice.* ($(($(date +%s) - t0)) s)"

# 4. The quickstart, the same config and seed on every device.
runs="$build/runs"
rm -rf "$runs"
quick_args=(--set dataset_root="$bundle/fashion-mnist")
names=(cuda cuda-bf16 cpu)
if [ "$rehearse" -eq 1 ]; then
  names=(cpu)
  quick_args+=(--set mini_dataset=600 --set epochs_per_domain=1)
  export OMP_WAIT_POLICY=PASSIVE  # a rehearsal may share its cores
fi
quick() {  # quick NAME ARGS...: one quickstart run
  local name=$1 t rc
  shift
  t=$(date +%s)
  timeout 240 "$build/moedil" run configs/quickstart.jsonc "${quick_args[@]}" \
    --set results_dir="$runs/$name" --set log_dir="$runs/$name/logs" "$@" \
    >"$build/quickstart-$name.log" 2>&1
  rc=$?
  grep -E '\[(device|result)\]' "$build/quickstart-$name.log" | sed "s/^/[gpu-check] $name: /"
  [ "$rc" -eq 0 ] || { tail -5 "$build/quickstart-$name.log"; die "quickstart $name exited $rc ($build/quickstart-$name.log)"; }
  say "quickstart $name: $(($(date +%s) - t)) s"
}
for name in "${names[@]}"; do
  case "$name" in
    cuda) quick cuda --device cuda ;;
    cuda-bf16) quick cuda-bf16 --device cuda --set amp=bf16 ;;
    cpu) quick cpu --device cpu --threads "$(nproc)" ;;
  esac
done
table=$("$py" - "$runs" "${names[@]}" <<'PY'
import glob, json, statistics, sys
rows = []
for name in sys.argv[2:]:
    r = json.load(open(glob.glob(f"{sys.argv[1]}/{name}/*/*/run.json")[0]))
    later = r["epochs"][1:] or r["epochs"]  # the first epoch pays for warm-up
    m = r.get("metrics") or {}
    num = lambda k: "n/a" if m.get(k) is None else f"{m[k]:.4f}"
    rows.append((name, statistics.median(e["samples_per_s"] for e in later),
                 statistics.median(e["seconds"] for e in later), num("acc"), num("aia"),
                 num("bwt"), r["run"]["device"]))
print(f"{'run':<10} {'samples/s':>10} {'s/epoch':>8} {'ACC':>7} {'AIA':>7} {'BWT':>8}  device")
for name, rate, sec, acc, aia, bwt, dev in rows:
    print(f"{name:<10} {rate:>10.0f} {sec:>8.2f} {acc:>7} {aia:>7} {bwt:>8}  {dev}")
by = {r[0]: r[1] for r in rows}
if "cuda" in by and "cpu" in by:
    print(f"samples/s cuda / cpu: {by['cuda'] / by['cpu']:.1f}x, cuda bf16 / cpu: "
          f"{by['cuda-bf16'] / by['cpu']:.1f}x (medians over the epochs after the first)")
PY
) || die "cannot read the runs' run.json: $table"
while IFS= read -r line; do note "$line"; done <<<"$table"
finish 0
