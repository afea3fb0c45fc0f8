#pragma once
// One-lane packs: the whole scalar CPU level, and the edge and tail path of the
// wide levels. Every pack (this one, avx2.h, avx512.h) has the same static API, so a
// reducer or traversal written once runs at every width:
//
//   T F I M N        compute type, value lanes, index lanes, lane mask, lane count
//   wide_index       true if index lanes are int64 (else int32: planes < 2^31)
//   set1 load load2 loadn store store2   loads convert any storage type to T; load2
//                    takes every 2nd element (reads 2N), loadn any stride; store2
//                    interleaves two packs (writes 2N: lane l of the first at 2l)
//   load_pair        (wide float packs, bfloat16) 2N elements as two packs, the even
//                    elements and the odd ones (PairLoad in vec.h; store2 puts them back)
//   load2_raw in_order  (where load2 ends in a permute: AVX2's float and double packs)
//                    load2 without it, and the permute: a lane-wise reduction puts its
//                    result in order once (Load2Raw in vec.h: load2 elsewhere)
//   stream stream2   store, store2 past the cache (non-temporal stores) where p starts
//                    a cache line and the level's stores fill whole lines; else plainly
//                    (beside the packs, stream_lines(dst, src, n): n whole lines)
//   add sub mul fma div max gt lt eq isnan mor mand mnot any select   arithmetic, masks
//                    (fma(a, b, c): a*b + c rounded once)
//   lanes iadd iset1 iselect store_idx stream_idx                  index lanes
//   acc_add acc_add2 acc_addn        add lanes into T accumulators at stride 1, 2, n
//   exp_floor        e^x by exp_of() below (the same operations at every level), and
//                    x floored at the exp's zero (x e^x stays finite)
//   perm permute     lane l of permute(v, perm(idx)) is lane idx[l] of v (idx: N lanes)
//   ieq              index lanes equal (a lane mask)
//   Bits bits32 load_bits select_bits store2_bits stream2_bits   (wide float packs,
//                    16-bit storage) values as their storage bits in 32-bit lanes;
//   Packed packed store_packed  the same as store() writes them (made once, stored often)
//   idx_eq           the lanes whose int64 index (N from p) equals pos, compared as int64
//   gather           lanes l of base[idx[l] * mul + l * step] (T storage), or false where
//                    an idx[l] lies outside [0, limit) (mul, limit below 2^31)
//   load_idx count   int64 indices as index lanes (any no plane position can equal stays
//                    unequal to every one); the lanes a mask sets
//   Tally tally0 tally tally_sum   (AVX2's packs, where count() moves each mask out
//                    of the vector unit) a running count of the lanes masks set, kept
//                    in a vector, a lane's count below 2^31 (Tallies in vec.h: count()
//                    elsewhere)
//   uniform          Philox uniforms in [0, 1) of the linear indices first + l*step,
//                    as philox.h's (plain packs only: an Unroll's parts are built apart)
//
// Everything lives in the namespace of the level being compiled, so no inline
// function built with wide-ISA flags is ever shared with another level.

#ifndef TORCHPOOL_CPU_CAPABILITY
#error "vec headers are only for the ISA sources (ops/cpu/isa/), built once per CPU level"
#endif

#include <cmath>
#include <cstdint>
#include <cstring>

#include "torchpool/cpu/kernel.h"
#include "torchpool/philox.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

TP_INLINE float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
TP_INLINE uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// bfloat16 <-> float, as c10::BFloat16: round to nearest even, NaN -> 0x7FC0.
TP_INLINE float to_float(bf16 v) { return bits_to_float(uint32_t(v.x) << 16); }
TP_INLINE bf16 to_bf16(float f) {
  if (f != f) return bf16{0x7FC0};
  uint32_t u = float_to_bits(f);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return bf16{uint16_t(u >> 16)};
}

// IEEE half <-> float in software (the scalar level has no F16C); the same results
// as the F16C instructions the wide levels use, NaN payloads included.
TP_INLINE float to_float(half v) {
  const uint32_t h = v.x, sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu,
                 mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    float f = float(mant) * bits_to_float(0x33800000u);
    return sign ? -f : f;
  }
  if (exp == 31) return bits_to_float(sign | 0x7F800000u | (mant << 13));
  return bits_to_float(sign | ((exp + 112) << 23) | (mant << 13));
}
TP_INLINE half to_half(float f) {
  uint32_t u = float_to_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  u &= 0x7FFFFFFFu;
  if (u > 0x7F800000u) return half{uint16_t(sign | 0x7E00u | ((u >> 13) & 0x3FFu))};  // NaN
  if (u >= 0x47800000u) return half{uint16_t(sign | 0x7C00u)};  // >= 2^16: inf
  if (u < 0x38800000u) {
    // Below 2^-14 the result is subnormal: adding 0.5 places the half's mantissa in
    // the float's low bits, rounded to nearest even by the float adder itself.
    uint32_t r = float_to_bits(bits_to_float(u) + 0.5f) - 0x3F000000u;
    return half{uint16_t(sign | r)};
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to even;
  // a mantissa carry moves into the exponent, up to inf.
  u += 0xC8000FFFu + ((u >> 13) & 1u);
  return half{uint16_t(sign | (u >> 13))};
}

// Storage -> compute type, and back.
// Whether p is the first byte of a 64-byte cache line: a non-temporal store there
// (stream2) fills the line and needs no read of it.
TP_INLINE bool line_start(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 63) == 0; }
TP_INLINE bool half_line_start(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 31) == 0; }
// Whether rows of row_bytes from base all start cache lines: only then do the traversals
// stream (a mix of streamed and plainly stored rows is slower than plain stores alone).
TP_INLINE bool whole_lines(const void* base, int64_t row_bytes) { return line_start(base) && row_bytes % 64 == 0; }

TP_INLINE float widen(float v) { return v; }
TP_INLINE double widen(double v) { return v; }
TP_INLINE float widen(half v) { return to_float(v); }
TP_INLINE float widen(bf16 v) { return to_float(v); }
TP_INLINE void narrow(float* p, float v) { *p = v; }
TP_INLINE void narrow(double* p, double v) { *p = v; }
TP_INLINE void narrow(half* p, float v) { *p = to_half(v); }
TP_INLINE void narrow(bf16* p, float v) { *p = to_bf16(v); }

// e^x by the same operations at every level and width, so that the levels agree bit
// for bit: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2/2, e^r by its Taylor
// series (degree 7 in float, 13 in double: under an ulp), times 2^n made in the
// exponent bits (P::scale2). Fused multiply-adds, each rounded once at every level
// (the scalar level's std::fma too), and nothing else fused (-ffp-contract=off).
// For x up to 88 (float) or 709 (double); below `lo` (where e^x is subnormal), and -inf,
// it gives 0; NaN gives NaN. x itself is floored at lo, so that x e^x stays finite.
template <class T>
struct ExpConstants;
template <>
struct ExpConstants<float> {
  static constexpr float lo = -87.0f, log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;  // n*ln2_hi is exact
  static constexpr float round = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr int degree = 7;
};
template <>
struct ExpConstants<double> {
  static constexpr double lo = -708.0, log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr double round = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int degree = 13;
};

constexpr double inv_factorial(int k) {
  double f = 1;
  for (int i = 2; i <= k; ++i) f *= i;
  return 1.0 / f;
}

template <class P, class F>
TP_INLINE F exp_of(F& x) {
  using T = typename P::T;
  using C = ExpConstants<T>;
  const auto below = P::lt(x, P::set1(C::lo));
  x = P::select(below, P::set1(C::lo), x);
  const F t = P::fma(x, P::set1(C::log2e), P::set1(C::round));  // n + round
  const F n = P::sub(t, P::set1(C::round));
  const F r = P::fma(n, P::set1(-C::ln2_lo), P::fma(n, P::set1(-C::ln2_hi), x));
  F p = P::set1(T(inv_factorial(C::degree)));
  for (int k = C::degree - 1; k >= 0; --k) p = P::fma(p, r, P::set1(T(inv_factorial(k))));
  return P::select(below, P::set1(T(0)), P::mul(p, P::scale2(t)));
}

// 2^n from t = n + ExpConstants::round: n sits in the low mantissa bits of t.
TP_INLINE float scale2_bits(float t) { return bits_to_float((float_to_bits(t) + (127u - 0x4B400000u)) << 23); }
TP_INLINE double scale2_bits(double t) {
  uint64_t u;
  std::memcpy(&u, &t, 8);
  u = (u + (1023u - 0x4338000000000000ull)) << 52;
  std::memcpy(&t, &u, 8);
  return t;
}

template <class Tc>
struct Pack1 {
  using T = Tc;
  using F = T;
  using I = int64_t;
  using M = bool;
  static constexpr int N = 1;
  static constexpr bool wide_index = true;
  static constexpr int U = 1;  // not unrolled (see unroll.h)
  using Base = Pack1;
  template <class V>
  static TP_INLINE V& part(V& x, int) { return x; }

  static TP_INLINE F set1(T v) { return v; }
  template <class S>
  static TP_INLINE F load(const S* p) {
    return widen(*p);
  }
  template <class S>
  static TP_INLINE F load2(const S* p) {
    return widen(*p);
  }
  template <class S>
  static TP_INLINE F loadn(const S* p, int64_t) {
    return widen(*p);
  }
  template <class S>
  static TP_INLINE void store(S* p, F v) {
    narrow(p, v);
  }
  template <class S>
  static TP_INLINE void store2(S* p, F even, F odd) {
    narrow(p, even);
    narrow(p + 1, odd);
  }
  template <class S>  // no non-temporal store of one element
  static TP_INLINE void stream(S* p, F v) {
    store(p, v);
  }
  template <class S>
  static TP_INLINE void stream2(S* p, F even, F odd) {
    store2(p, even, odd);
  }

  static TP_INLINE F add(F a, F b) { return a + b; }
  static TP_INLINE F sub(F a, F b) { return a - b; }
  static TP_INLINE F mul(F a, F b) { return a * b; }
  static TP_INLINE F fma(F a, F b, F c) { return std::fma(a, b, c); }
  static TP_INLINE F div(F a, F b) { return a / b; }
  static TP_INLINE F max(F a, F b) { return a > b ? a : b; }
  static TP_INLINE M gt(F a, F b) { return a > b; }
  static TP_INLINE M lt(F a, F b) { return a < b; }
  static TP_INLINE M eq(F a, F b) { return a == b; }
  static TP_INLINE M isnan(F a) { return a != a; }
  static TP_INLINE M mor(M a, M b) { return a || b; }
  static TP_INLINE M mand(M a, M b) { return a && b; }
  static TP_INLINE M mnot(M a) { return !a; }
  static TP_INLINE bool any(M a) { return a; }
  static TP_INLINE F select(M m, F a, F b) { return m ? a : b; }
  using Perm = int;  // one lane: nothing to move
  static TP_INLINE Perm perm(const int32_t*) { return 0; }
  static TP_INLINE F permute(F v, Perm) { return v; }
  static TP_INLINE F scale2(F t) { return scale2_bits(t); }
  static TP_INLINE F exp_floor(F& x) { return exp_of<Pack1>(x); }
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t) {
    return F(philox::uniform(philox::bits(seed, offset, uint64_t(first))));
  }

  static TP_INLINE I lanes(int64_t) { return 0; }
  static TP_INLINE I iadd(I v, int64_t c) { return v + c; }
  static TP_INLINE I iset1(int64_t c) { return c; }
  static TP_INLINE I load_idx(const int64_t* p) { return *p; }
  static TP_INLINE int count(M a) { return a ? 1 : 0; }
  static TP_INLINE I iselect(M m, I a, I b) { return m ? a : b; }
  static TP_INLINE M ieq(I a, I b) { return a == b; }
  static TP_INLINE M idx_eq(const int64_t* p, int64_t pos) { return *p == pos; }
  static TP_INLINE bool gather(const T* base, const int64_t* idx, int64_t mul, int64_t, int64_t limit, F& out) {
    if (uint64_t(*idx) >= uint64_t(limit)) return false;
    out = base[*idx * mul];
    return true;
  }
  static TP_INLINE void store_idx(int64_t* p, I v) { *p = v; }
  static TP_INLINE void stream_idx(int64_t* p, I v) { *p = v; }

  static TP_INLINE void acc_add(T* p, F v) { *p += v; }
  static TP_INLINE void acc_add2(T* p, F v) { *p += v; }
  static TP_INLINE void acc_addn(T* p, int64_t, F v) { *p += v; }
};

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
