#!/usr/bin/env bash
# The C++ package end to end, without pip: installs a configured build (default
# build/dev) into a fresh prefix, builds examples/cpp against that prefix and torch
# alone, and runs it. Usage: bash scripts/example.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUILD=${1:-build/dev}
PREFIX=$PWD/build/install-test
EXAMPLE=$PWD/build/example

rm -rf "$PREFIX" "$EXAMPLE"
cmake --build "$BUILD" --target torchpool -j "$(nproc)"
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S examples/cpp -B "$EXAMPLE" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX;$TORCH_PREFIX" >/dev/null
cmake --build "$EXAMPLE" -j "$(nproc)"
"$EXAMPLE/torchpool_example"
