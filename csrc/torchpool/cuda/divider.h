#pragma once
// Division by a divisor fixed for a whole kernel. The CUDA kernels split linear
// element numbers into coordinates and find the outputs over an input position; a
// hardware 32-bit division is a long instruction sequence, a 64-bit one a subroutine.
// Torch-free and __host__ __device__: the Catch2 tests run the same code on the host.

#include <cstdint>

#include "torchpool/geometry.h"  // TP_INLINE

namespace torchpool {
namespace cuda {

template <class Idx>
struct Divider;

// n / d for 0 <= n < 2^31 and 1 <= d < 2^31 by a multiply-high and a shift: with
// shift = ceil(log2 d) and m = floor(2^32 (2^shift - d) / d) + 1, the quotient is
// (mulhi(n, m) + n) >> shift. mulhi(n, m) < n, so the sum stays below 2^32.
template <>
struct Divider<int32_t> {
  uint32_t d = 1, m = 1, shift = 0;
  Divider() = default;
  explicit Divider(int32_t divisor) : d(uint32_t(divisor)) {
    while ((uint64_t(1) << shift) < d) ++shift;
    m = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }
  TP_INLINE int32_t div(int32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t hi = __umulhi(uint32_t(n), m);
#else
    const uint32_t hi = uint32_t((uint64_t(uint32_t(n)) * m) >> 32);
#endif
    return int32_t((hi + uint32_t(n)) >> shift);
  }
  // n % d, given q = n / d.
  TP_INLINE int32_t rem(int32_t n, int32_t q) const { return n - q * int32_t(d); }
};

// 64-bit index math (tensors of 2^31 elements or more): plain division.
template <>
struct Divider<int64_t> {
  int64_t d = 1;
  Divider() = default;
  explicit Divider(int64_t divisor) : d(divisor) {}
  TP_INLINE int64_t div(int64_t n) const { return n / d; }
  TP_INLINE int64_t rem(int64_t n, int64_t q) const { return n - q * d; }
};

// Splits n into (n / d, n % d).
template <class Idx>
TP_INLINE Idx divmod(const Divider<Idx>& dv, Idx n, Idx& rem) {
  const Idx q = dv.div(n);
  rem = dv.rem(n, q);
  return q;
}

}  // namespace cuda
}  // namespace torchpool
