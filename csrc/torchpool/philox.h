#pragma once
// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11). A draw is a pure function of a 64-bit key (the seed) and
// a 128-bit counter (the offset and an element's linear index), so every element's
// number is the same whatever the thread, CPU level or device that computes it.
// Host and device code (CUDA) include this; the CPU wide levels compute the same
// function on vectors of counters (bit for bit).

#include <cstdint>

#include "torchpool/geometry.h"  // TP_INLINE

namespace torchpool {
namespace philox {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

struct U32x4 {
  uint32_t x[4];
};

// Ten rounds on counter c with key (k0, k1).
TP_INLINE U32x4 philox4x32_10(U32x4 c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * c.x[0], p1 = uint64_t(kMul1) * c.x[2];
    c = U32x4{{uint32_t(p1 >> 32) ^ c.x[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c.x[3] ^ k1,
               uint32_t(p0)}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// The 32 random bits of element `index` under (seed, offset): counter (index, offset).
TP_INLINE uint32_t bits(uint64_t seed, uint64_t offset, uint64_t index) {
  const U32x4 c{{uint32_t(index), uint32_t(index >> 32), uint32_t(offset), uint32_t(offset >> 32)}};
  return philox4x32_10(c, uint32_t(seed), uint32_t(seed >> 32)).x[0];
}

// A uniform float in [0, 1) from 32 random bits: their top 24 bits times 2^-24.
TP_INLINE float uniform(uint32_t b) { return float(b >> 8) * (1.0f / 16777216.0f); }

}  // namespace philox
}  // namespace torchpool
