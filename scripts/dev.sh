#!/usr/bin/env bash
# Development build without installing: the library lands in python/torchpool/, so that
#   cd tests && PYTHONPATH=../python python -m pytest -q test_max_pool.py
# tests this tree. The Catch2 tests are built too (ctest --test-dir build/dev).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DTORCHPOOL_BUILD_TESTS=ON \
  -DPython3_EXECUTABLE="$(command -v "$PY")" -DTORCHPOOL_PYTHON_OUTPUT_DIR="$PWD/python/torchpool" \
  ${TORCHPOOL_CMAKE_ARGS:-} >/dev/null
cmake --build build/dev -j "$(nproc)"
