#!/usr/bin/env bash
# Installs what building and testing torchpool needs on a fresh machine, skipping what
# is there: a C++ toolchain, CMake, Ninja, Catch2 v2 and jemalloc (benchmarks) from
# Debian; torch==2.13.0 (the CPU build; pinned: an unpinned torch pulls GBs of CUDA
# packages) and the test dependencies from PyPI.
set -euo pipefail
PY=${PYTHON:-python3}

need_apt=()
for pkg in g++ cmake ninja-build catch2 libjemalloc2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1 ||
    { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null; }
fi

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q pytest hypothesis numpy expecttest setuptools wheel
