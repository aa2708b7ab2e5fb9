#!/usr/bin/env bash
# `cmake --install` and the exported CMake package: installs the build into a temporary prefix,
# then configures, builds and runs tests/install/consumer, a project that only does
# find_package(moedil) and links moedil::core.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/../cli/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check "cmake --install" cmake --install "$build" --prefix "$work/prefix"
check "the executable is installed" test -x "$work/prefix/bin/moedil"
check "the headers are installed" test -f "$work/prefix/include/moedil/io/run_store.h"
check "the package files are installed" test -f "$work/prefix/lib/cmake/moedil/moedilConfig.cmake"
expect 0 "" cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix"
expect 0 "" cmake --build "$work/consumer"
expect 0 "model vit_moe, 5 domains" "$work/consumer/consumer" "$src/configs/quickstart.jsonc"
printf '{"datset": "synthetic"}\n' > "$work/bad.jsonc"
expect 2 "did you mean 'dataset'?" "$work/consumer/consumer" "$work/bad.jsonc"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
