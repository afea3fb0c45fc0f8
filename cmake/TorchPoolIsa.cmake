# The per-ISA compile rules (the model: ATen's native/cpu/README.md).
#
# Every source under csrc/torchpool/ops/cpu/isa/ is compiled once per CPU level, each
# time with that level's flags and TORCHPOOL_CPU_CAPABILITY set to the level's
# namespace, so the same loops exist as scalar::, avx2:: and avx512:: and nothing
# compiled with wide-ISA flags is shared between levels. The level is picked at run
# time (csrc/torchpool/cpu/capability.cpp). No file is built with -march=native.

set(TORCHPOOL_ISA_LEVELS scalar)
set(TORCHPOOL_ISA_NUM_scalar 0)
set(TORCHPOOL_ISA_FLAGS_scalar "")
set(TORCHPOOL_ISA_DEFINES TORCHPOOL_HAVE_AVX2=0 TORCHPOOL_HAVE_AVX512=0)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  list(APPEND TORCHPOOL_ISA_LEVELS avx2 avx512)
  set(TORCHPOOL_ISA_NUM_avx2 1)
  set(TORCHPOOL_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
  set(TORCHPOOL_ISA_NUM_avx512 2)
  set(TORCHPOOL_ISA_FLAGS_avx512 -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq)
  set(TORCHPOOL_ISA_DEFINES TORCHPOOL_HAVE_AVX2=1 TORCHPOOL_HAVE_AVX512=1)
endif()

# torchpool_isa_objects(<out-var> <sources>...): one object library per level;
# <out-var> receives their objects. The ISA code is torch-free (raw pointers only).
function(torchpool_isa_objects out_var)
  set(objects)
  foreach(level IN LISTS TORCHPOOL_ISA_LEVELS)
    set(target torchpool_isa_${level})
    add_library(${target} OBJECT ${ARGN})
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
    target_compile_definitions(${target} PRIVATE TORCHPOOL_CPU_CAPABILITY=${level}
                               TORCHPOOL_CPU_LEVEL=${TORCHPOOL_ISA_NUM_${level}})
    # fp-contract=off: no level fuses a*b+c on its own, so the levels agree bit for bit.
    # GCC 12 warns falsely inside the AVX-512 intrinsics ((maybe-)uninitialized).
    target_compile_options(${target} PRIVATE -O3 -ffp-contract=off -Wall -Wno-maybe-uninitialized -Wno-uninitialized
                           ${TORCHPOOL_ISA_FLAGS_${level}})
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    list(APPEND objects $<TARGET_OBJECTS:${target}>)
  endforeach()
  set(${out_var} ${objects} PARENT_SCOPE)
endfunction()
