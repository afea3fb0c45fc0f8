#pragma once
// The CPU kernel levels: each ISA source is compiled once per level, and the best
// level the CPU supports is picked at run time (lowered by TORCHPOOL_CPU_CAPABILITY).
// Torch-free, so the Catch2 kernel tests use it too.

namespace torchpool {
namespace cpu {

enum class Level : int { scalar = 0, avx2 = 1, avx512 = 2 };

// Whether `l` was compiled into this build (x86-64 builds compile all three).
bool compiled(Level l);
// The best compiled level this CPU and OS can run.
Level supported_level();
// The level in use: supported_level(), lowered by TORCHPOOL_CPU_CAPABILITY.
// Read once, on first use.
Level level();
const char* level_name(Level l);
// Whether the CPU's vector gathers beat the element loads they replace: Intel's do;
// AMD's Zen gathers are microcoded (Zen 4, AVX-512, full size, 2 threads: float32
// max_unpool backward 14.4 ms gathered, 6.8 ms in checked blocks of element loads).
// Read once; TORCHPOOL_GATHER=hardware|loads overrides.
bool fast_gather();

}  // namespace cpu
}  // namespace torchpool

#if !defined(TORCHPOOL_HAVE_AVX2)
#define TORCHPOOL_HAVE_AVX2 0
#endif
#if !defined(TORCHPOOL_HAVE_AVX512)
#define TORCHPOOL_HAVE_AVX512 0
#endif

#if TORCHPOOL_HAVE_AVX2
#define TORCHPOOL_ISA_DECLARE_AVX2(Type, name) \
  namespace avx2 {                             \
  const Type& name();                          \
  }
#define TORCHPOOL_ISA_PICK_AVX2(name) \
  case ::torchpool::cpu::Level::avx2: \
    return avx2::name();
#else
#define TORCHPOOL_ISA_DECLARE_AVX2(Type, name)
#define TORCHPOOL_ISA_PICK_AVX2(name)
#endif
#if TORCHPOOL_HAVE_AVX512
#define TORCHPOOL_ISA_DECLARE_AVX512(Type, name) \
  namespace avx512 {                             \
  const Type& name();                            \
  }
#define TORCHPOOL_ISA_PICK_AVX512(name) \
  case ::torchpool::cpu::Level::avx512: \
    return avx512::name();
#else
#define TORCHPOOL_ISA_DECLARE_AVX512(Type, name)
#define TORCHPOOL_ISA_PICK_AVX512(name)
#endif

// Declares a family's kernel table, defined once per level in ops/cpu/isa/<family>.cpp
// as torchpool::cpu::<level>::name(), and `name(level)` that returns the table of a level
// (the one in use by default). Use inside namespace torchpool::cpu.
#define TORCHPOOL_ISA_TABLE(Type, name)                                           \
  namespace scalar {                                                              \
  const Type& name();                                                             \
  }                                                                               \
  TORCHPOOL_ISA_DECLARE_AVX2(Type, name)                                          \
  TORCHPOOL_ISA_DECLARE_AVX512(Type, name)                                        \
  inline const Type& name(::torchpool::cpu::Level l = ::torchpool::cpu::level()) { \
    switch (l) {                                                                  \
      TORCHPOOL_ISA_PICK_AVX512(name)                                             \
      TORCHPOOL_ISA_PICK_AVX2(name)                                               \
      default:                                                                    \
        return scalar::name();                                                    \
    }                                                                             \
  }
