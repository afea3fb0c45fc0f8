#include "torchpool/cpu/capability.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace torchpool {
namespace cpu {

bool compiled(Level l) {
  switch (l) {
    case Level::scalar:
      return true;
    case Level::avx2:
      return TORCHPOOL_HAVE_AVX2;
    case Level::avx512:
      return TORCHPOOL_HAVE_AVX512;
  }
  return false;
}

Level supported_level() {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  if (avx512 && compiled(Level::avx512)) return Level::avx512;
  if (avx2 && compiled(Level::avx2)) return Level::avx2;
#endif
  return Level::scalar;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::avx512:
      return "avx512";
    case Level::avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

namespace {

Level pick_level() {
  Level best = supported_level();
  const char* env = std::getenv("TORCHPOOL_CPU_CAPABILITY");
  if (env == nullptr || *env == '\0') return best;
  for (Level l : {Level::scalar, Level::avx2, Level::avx512}) {
    // The override only lowers: asking for more than the CPU has gives the best it has.
    if (std::strcmp(env, level_name(l)) == 0) return int(l) < int(best) ? l : best;
  }
  std::fprintf(stderr,
               "torchpool: ignoring TORCHPOOL_CPU_CAPABILITY=%s (expected scalar, avx2 or "
               "avx512); using %s\n",
               env, level_name(best));
  return best;
}

}  // namespace

Level level() {
  static const Level l = pick_level();
  return l;
}

bool fast_gather() {
  static const bool fast = [] {
    // TORCHPOOL_GATHER=hardware|loads overrides (the tests take both paths on any CPU).
    if (const char* env = std::getenv("TORCHPOOL_GATHER")) {
      if (std::strcmp(env, "hardware") == 0) return true;
      if (std::strcmp(env, "loads") == 0) return false;
      std::fprintf(stderr, "torchpool: ignoring TORCHPOOL_GATHER=%s (expected hardware or loads)\n", env);
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_is("intel") != 0;
#else
    return false;
#endif
  }();
  return fast;
}

}  // namespace cpu
}  // namespace torchpool
