#!/usr/bin/env bash
# Builds torchpool and runs every test: the Catch2 tests (CTest) and the pytest
# parity suite (which also runs the CPU tests under each CPU level). Exits non-zero
# on any failure, and fails if no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/setup.sh

# One CMake build directory (build/cmake) serves pip and the C++ tests.
export TORCHPOOL_CMAKE_ARGS="-DTORCHPOOL_BUILD_TESTS=ON ${TORCHPOOL_CMAKE_ARGS:-}"
"$PY" -m pip install -q --no-build-isolation .
cmake --build build/cmake -j "$(nproc)"
ctest --test-dir build/cmake --output-on-failure --no-tests=error
# The CUDA sources compile wherever nvcc exists, even against a CPU build of torch.
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  bash scripts/check_cuda_compile.sh
fi

# Run from tests/ so that `import torchpool` is the installed package.
(cd tests && "$PY" -m pytest -q -p no:cacheprovider "$@")

# The installed CMake package: a fresh install prefix, and the LibTorch example built
# against it and run.
bash scripts/example.sh build/cmake
