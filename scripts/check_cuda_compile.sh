#!/usr/bin/env bash
# Compiles every CUDA source (.cu) under csrc/ with nvcc against the installed torch's
# headers, for sm_80 and sm_90, compile-only: the CUDA code is checked even where torch
# is a CPU build (its wheel ships the c10/cuda headers) and there is no GPU. Fails on
# any error. scripts/test.sh runs it when nvcc exists.
#   NVCC=/path/to/nvcc PYTHON=python3 bash scripts/check_cuda_compile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "check_cuda_compile: no nvcc (set NVCC)" >&2; exit 1; }
read -r TORCH_DIR ABI < <("$PY" -c "import os, torch
print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))")
TORCH_INC=$TORCH_DIR/include
# The C++ standard torch declares for its headers, as CMakeLists.txt takes it.
STD=$(sed -n 's/^ *CXX_STANDARD \([0-9]*\).*/\1/p' "$TORCH_DIR/share/cmake/Torch/TorchConfig.cmake" | head -1)
[ "${STD:-17}" -gt 17 ] || STD=17

mapfile -t SOURCES < <(find csrc -name '*.cu' | sort)
[ ${#SOURCES[@]} -gt 0 ] || { echo "check_cuda_compile: no .cu files under csrc/" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# A CPU wheel lacks the generated c10/cuda/impl/cuda_cmake_macros.h (export macros only).
FLAGS=(-c -std=c++"$STD" -Icsrc -isystem "$TORCH_INC" -isystem "$TORCH_INC/torch/csrc/api/include"
       -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE -D_GLIBCXX_USE_CXX11_ABI="$ABI" -DTORCHPOOL_WITH_CUDA
       -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
       -ftz=false -prec-div=true -fmad=false -Xcompiler=-fPIC,-Wall -Werror=all-warnings)
echo "check_cuda_compile: $("$NVCC" --version | tail -1), C++$STD, torch headers $TORCH_INC"
export NVCC OUT
printf '%s\n' "${SOURCES[@]}" | xargs -P "$(nproc)" -I{} bash -c \
  'echo "  nvcc {}"; "$NVCC" "$@" {} -o "$OUT/$(echo {} | tr / _).o"' _ "${FLAGS[@]}"
echo "check_cuda_compile: ${#SOURCES[@]} CUDA sources compile"
