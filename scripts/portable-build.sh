#!/usr/bin/env bash
# Builds moedil the way a machine without Debian's -dev packages has to (a GPU machine with only a
# PyTorch wheel): no OpenCV, spdlog + fmt header-only, and nlohmann, CLI11, zlib's headers and
# GoogleTest from the bundle of scripts/prepare-gpu-bundle.sh; LibTorch from MOEDIL_TORCH_PREFIX
# (a wheel's torch.utils.cmake_prefix_path) or, when that is empty, the system's. Then checks that
# the build used nothing else (no header from /usr/include/{spdlog,fmt,nlohmann,CLI,opencv4,gtest},
# no OpenCV, spdlog or fmt library in the binary), runs the tests it built and, on CPU, a tiny run,
# an image-folder run (refused with exit 2: no OpenCV) and a report (tables and Vega specs).
# scripts/test.sh runs it in CI; scripts/gpu-check.sh runs it on the GPU machine first.
#
# Usage: scripts/portable-build.sh [BUILD_DIR]       (default build-portable)
#   MOEDIL_BUNDLE_DIR        the bundle (default third_party/bundle; made here when missing and
#                            /usr/include has the headers)
#   MOEDIL_TORCH_PREFIX      CMAKE_PREFIX_PATH for LibTorch (default: none, the system's)
#   MOEDIL_PORTABLE_TARGETS  extra targets to build (e.g. "loss_test experiment_test")
#   MOEDIL_CMAKE_ARGS        extra configure arguments
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-portable}
bundle=$(realpath -m "${MOEDIL_BUNDLE_DIR:-third_party/bundle}")
say() { echo "[portable] $*"; }
fail() { echo "[portable] FAIL: $*" >&2; exit 1; }
t0=$(date +%s)

if [ ! -f "$bundle/include/spdlog/spdlog.h" ]; then
  [ -d /usr/include/spdlog ] || fail "no bundle in $bundle and no headers here to make one"
  scripts/prepare-gpu-bundle.sh "$bundle" >/dev/null
fi

# The tests that need neither OpenCV nor data files; attention_test holds the fused-attention check.
targets=(moedil attention_test data_registry_test precision_test ${MOEDIL_PORTABLE_TARGETS:-})
args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DMOEDIL_WITH_OPENCV=OFF -DMOEDIL_BUNDLE_DIR="$bundle")
[ -n "${MOEDIL_TORCH_PREFIX:-}" ] && args+=(-DCMAKE_PREFIX_PATH="$MOEDIL_TORCH_PREFIX")
# shellcheck disable=SC2206
args+=(${MOEDIL_CMAKE_ARGS:-})
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" "${args[@]}" >"$build.configure.log" 2>&1 ||
    { tail -40 "$build.configure.log"; fail "configure failed (log: $build.configure.log)"; }
  mv "$build.configure.log" "$build/configure.log"
fi
say "building ${targets[*]} in $build"
if ! cmake --build "$build" --target "${targets[@]}" -j "$(nproc)" |
    { grep -v '^\[[0-9]*/[0-9]*\] ' || true; }; then
  fail "build failed"
fi

# Nothing from the system's copies of the bundled libraries, and no OpenCV.
forbidden='^ +/usr/(local/)?include/(spdlog|fmt|nlohmann|CLI|opencv4|gtest|gmock)/|^ +/usr/(local/)?include/(zlib|zconf)\.h$'
used=$(ninja -C "$build" -t deps | grep -E "$forbidden" | sort -u | head -5 || true)
[ -z "$used" ] || fail "the build read system headers instead of the bundle's:"$'\n'"$used"
# (moedil's own dependencies: Debian's LibTorch itself pulls in fmt and OpenCV, ldd would list them)
libs=$(readelf -d "$build/moedil" | grep NEEDED | grep -Ei 'opencv|spdlog|libfmt|gtest' || true)
[ -z "$libs" ] || fail "moedil links libraries that do not travel with the tree:"$'\n'"$libs"
say "only the bundle's headers and LibTorch used; moedil links no OpenCV, spdlog or fmt library"

for t in attention_test data_registry_test precision_test; do
  "$build/tests/$t" --gtest_brief=1 >"$build/$t.log" 2>&1 || { cat "$build/$t.log"; fail "$t failed"; }
  say "$t: $(grep -Eo '[0-9]+ tests? from [0-9]+ test suites? ran' "$build/$t.log" | head -1), passed"
done

# The binary on CPU: a tiny run completes, an image-folder dataset is refused with the reason,
# the report has its tables and the figures' Vega specs (they need no OpenCV).
work=$(mktemp -d /tmp/moedil-portable.XXXXXX)
trap 'rm -rf "$work"' EXIT
moedil=$(realpath "$build/moedil")
cat >"$work/tiny.jsonc" <<'JSON'
{ "dataset": "synthetic", "partition": {"type": "domainIncremental"}, "num_partitions": 3,
  "mini_dataset": 120, "epochs_per_domain": 1,
  "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2},
  "results_dir": "res", "log_dir": "logs" }
JSON
(cd "$work" && "$moedil" run tiny.jsonc --device cpu --threads 1 >run.out 2>&1) ||
  { cat "$work/run.out"; fail "the tiny run failed"; }
grep -q '"status": "completed"' "$work"/res/*/*/run.json || fail "the tiny run did not complete"
set +e
(cd "$work" && "$moedil" run tiny.jsonc --set dataset=imagefolder --set dataset_root=. --device cpu \
   --threads 1 >imagefolder.out 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat "$work/imagefolder.out"; fail "an imagefolder run exited $rc, not 2"; }
grep -q "built without OpenCV" "$work/imagefolder.out" ||
  { cat "$work/imagefolder.out"; fail "the imagefolder refusal does not name OpenCV"; }
(cd "$work" && "$moedil" report res --out rep >report.out 2>&1) ||
  { cat "$work/report.out"; fail "moedil report failed"; }
ls "$work"/rep/runs/*/r_matrix.vg.json >/dev/null 2>&1 || fail "the report has no Vega specs"
say "tiny run completed; imagefolder refused (exit 2, names OpenCV); report has tables and figures"
say "done in $(($(date +%s) - t0)) s"
