#pragma once
// What a CUDA thread computes on: the storage types, their conversions to the compute
// type, and packs of V lanes (one lane per output element a thread owns) with the
// static API of the CPU packs (cpu/vec/scalar.h), so a CUDA reducer reads like the
// CPU one. Torch-free and __host__ __device__: the Catch2 tests run the same code on
// the host.
//
//   T F I M N        compute type, value lanes, index lanes, lane mask, lane count
//   set1 load store  loads convert storage to T (N consecutive elements, one vector
//                    load), stores convert back
//   add sub mul fma div max gt lt eq isnan mor mand mnot any select   arithmetic, masks
//   iset1 iadd iselect ieq store_idx                               index lanes
//   exp exp_floor    e^x by the CPU's operations (cpu/vec/scalar.h exp_of), bit for bit
//   uniform          Philox uniforms of the linear indices first + l*step (philox.h)
//
// The conversions give the CPU's bits (c10's rules), NaN payloads included, so that
// max pooling, which only moves values, agrees with the CPU bit for bit.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "torchpool/geometry.h"  // TP_INLINE
#include "torchpool/philox.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif
// Unrolls a loop over lanes in device code (the host compiler knows no such pragma).
#if defined(__CUDA_ARCH__)
#define TP_UNROLL _Pragma("unroll")
#else
#define TP_UNROLL
#endif

namespace torchpool {
namespace cuda {

// Storage of float16 and bfloat16, bit-compatible with c10::Half and c10::BFloat16.
struct half16 {
  uint16_t x;
};
struct bfloat16 {
  uint16_t x;
};

// The compute (and accumulation) type of a storage type: reduced types compute in float.
template <class S>
struct Compute {
  using T = float;
};
template <>
struct Compute<double> {
  using T = double;
};

TP_INLINE float float_of_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
TP_INLINE uint32_t bits_of_float(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

// float16 -> float: exact; a NaN keeps its sign and payload (as F16C does).
TP_INLINE float widen(half16 v) {
  const uint32_t h = v.x, sign = (h & 0x8000u) << 16, mant = h & 0x3FFu;
  if ((h & 0x7C00u) == 0x7C00u && mant != 0) return float_of_bits(sign | 0x7F800000u | (mant << 13));
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(v.x));
#else
  const uint32_t exp = (h >> 10) & 0x1Fu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float f = float(mant) * float_of_bits(0x33800000u);
    return sign ? -f : f;
  }
  if (exp == 31) return float_of_bits(sign | 0x7F800000u);
  return float_of_bits(sign | ((exp + 112) << 23) | (mant << 13));
#endif
}

// float -> float16, rounded to nearest even; a NaN keeps its sign and top payload
// bits and becomes quiet (as F16C does).
TP_INLINE half16 narrow_half(float f) {
  const uint32_t u = bits_of_float(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return half16{uint16_t(sign | 0x7E00u | ((a >> 13) & 0x3FFu))};
#if defined(__CUDA_ARCH__)
  return half16{__half_as_ushort(__float2half_rn(f))};
#else
  if (a >= 0x47800000u) return half16{uint16_t(sign | 0x7C00u)};  // >= 2^16: inf
  if (a < 0x38800000u) {
    // Subnormal result: adding 0.5 places the half's mantissa in the float's low
    // bits, rounded to nearest even by the float adder itself.
    const uint32_t r = bits_of_float(float_of_bits(a) + 0.5f) - 0x3F000000u;
    return half16{uint16_t(sign | r)};
  }
  const uint32_t r = a + 0xC8000FFFu + ((a >> 13) & 1u);  // rebias, round to even
  return half16{uint16_t(sign | (r >> 13))};
#endif
}

// bfloat16 <-> float as c10::BFloat16: round to nearest even, any NaN -> 0x7FC0.
TP_INLINE float widen(bfloat16 v) { return float_of_bits(uint32_t(v.x) << 16); }
TP_INLINE bfloat16 narrow_bf16(float f) {
  if (f != f) return bfloat16{0x7FC0};
  uint32_t u = bits_of_float(f);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return bfloat16{uint16_t(u >> 16)};
}

TP_INLINE float widen(float v) { return v; }
TP_INLINE double widen(double v) { return v; }
TP_INLINE void narrow(float* p, float v) { *p = v; }
TP_INLINE void narrow(double* p, double v) { *p = v; }
TP_INLINE void narrow(half16* p, float v) { *p = narrow_half(v); }
TP_INLINE void narrow(bfloat16* p, float v) { *p = narrow_bf16(v); }

// e^x as the CPU computes it (cpu/vec/scalar.h, exp_of), operation for operation, so
// that SoftPool agrees with the CPU bit for bit (nvcc builds with -fmad=false: only the
// explicit fma below fuse, as on the CPU): x = n ln2 + r, n = round(x / ln2), e^r by its
// Taylor series (degree 7 in float, 13 in double), times 2^n made in the exponent bits.
// Below `lo` (e^x subnormal) and -inf give 0; NaN gives NaN. x is floored at lo.
template <class T>
struct ExpConstants;
template <>
struct ExpConstants<float> {
  static constexpr float lo = -87.0f, log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr float round = 12582912.0f;  // 1.5 * 2^23
  static constexpr int degree = 7;
};
template <>
struct ExpConstants<double> {
  static constexpr double lo = -708.0, log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr double round = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int degree = 13;
};

TP_INLINE constexpr double inv_factorial(int k) {
  double f = 1;
  for (int i = 2; i <= k; ++i) f *= i;
  return 1.0 / f;
}

// a*b + c rounded once.
TP_INLINE float fma_of(float a, float b, float c) { return fmaf(a, b, c); }
TP_INLINE double fma_of(double a, double b, double c) { return fma(a, b, c); }

// 2^n from t = n + ExpConstants::round: n sits in the low mantissa bits of t.
TP_INLINE float scale2(float t) { return float_of_bits((bits_of_float(t) + (127u - 0x4B400000u)) << 23); }
TP_INLINE double scale2(double t) {
  uint64_t u;
  std::memcpy(&u, &t, 8);
  u = (u + (1023u - 0x4338000000000000ull)) << 52;
  std::memcpy(&t, &u, 8);
  return t;
}

template <class T>
TP_INLINE T exp_of(T& x) {
  using C = ExpConstants<T>;
  const bool below = x < C::lo;
  if (below) x = T(C::lo);
  const T t = fma_of(x, C::log2e, C::round);  // n + round
  const T n = t - C::round;
  const T r = fma_of(n, -C::ln2_lo, fma_of(n, -C::ln2_hi, x));
  T p = T(inv_factorial(C::degree));
TP_UNROLL
  for (int k = C::degree - 1; k >= 0; --k) p = fma_of(p, r, T(inv_factorial(k)));
  return below ? T(0) : p * scale2(t);
}

// V consecutive storage elements, moved by one vector load or store (the traversals
// use V > 1 only where the address is aligned to the chunk's size).
template <class S, int V>
struct alignas(sizeof(S) * V) Chunk {
  S v[V];
};

template <class X, int V>
struct Lanes {
  X v[V];
};

// A pack of V lanes of compute type Tc, with index lanes of type Idx.
template <class Tc, int V, class Idx>
struct Pack {
  using T = Tc;
  using F = Lanes<T, V>;
  using I = Lanes<Idx, V>;
  using M = Lanes<bool, V>;
  static constexpr int N = V;

  template <class R, class Fn>
  static TP_INLINE R map(Fn&& f) {
    R r;
TP_UNROLL
    for (int l = 0; l < V; ++l) r.v[l] = f(l);
    return r;
  }

  static TP_INLINE F set1(T x) {
    return map<F>([&](int) { return x; });
  }
  template <class S>
  static TP_INLINE F load(const S* p) {
    const Chunk<S, V> c = *reinterpret_cast<const Chunk<S, V>*>(p);
    return map<F>([&](int l) { return T(widen(c.v[l])); });
  }
  template <class S>
  static TP_INLINE void store(S* p, const F& x) {
    Chunk<S, V> c;
TP_UNROLL
    for (int l = 0; l < V; ++l) narrow(&c.v[l], x.v[l]);
    *reinterpret_cast<Chunk<S, V>*>(p) = c;
  }

  static TP_INLINE F add(const F& a, const F& b) {
    return map<F>([&](int l) { return a.v[l] + b.v[l]; });
  }
  static TP_INLINE F sub(const F& a, const F& b) {
    return map<F>([&](int l) { return a.v[l] - b.v[l]; });
  }
  static TP_INLINE F mul(const F& a, const F& b) {
    return map<F>([&](int l) { return a.v[l] * b.v[l]; });
  }
  static TP_INLINE F fma(const F& a, const F& b, const F& c) {
    return map<F>([&](int l) { return fma_of(a.v[l], b.v[l], c.v[l]); });
  }
  static TP_INLINE F div(const F& a, const F& b) {
    return map<F>([&](int l) { return a.v[l] / b.v[l]; });
  }
  static TP_INLINE F max(const F& a, const F& b) {
    return map<F>([&](int l) { return a.v[l] > b.v[l] ? a.v[l] : b.v[l]; });
  }
  static TP_INLINE M gt(const F& a, const F& b) {
    return map<M>([&](int l) { return a.v[l] > b.v[l]; });
  }
  static TP_INLINE M lt(const F& a, const F& b) {
    return map<M>([&](int l) { return a.v[l] < b.v[l]; });
  }
  static TP_INLINE M eq(const F& a, const F& b) {
    return map<M>([&](int l) { return a.v[l] == b.v[l]; });
  }
  static TP_INLINE M isnan(const F& a) {
    return map<M>([&](int l) { return a.v[l] != a.v[l]; });
  }
  static TP_INLINE M mor(const M& a, const M& b) {
    return map<M>([&](int l) { return a.v[l] || b.v[l]; });
  }
  static TP_INLINE M mand(const M& a, const M& b) {
    return map<M>([&](int l) { return a.v[l] && b.v[l]; });
  }
  static TP_INLINE M mnot(const M& a) {
    return map<M>([&](int l) { return !a.v[l]; });
  }
  static TP_INLINE bool any(const M& a) {
    bool r = false;
TP_UNROLL
    for (int l = 0; l < V; ++l) r = r || a.v[l];
    return r;
  }
  static TP_INLINE F select(const M& m, const F& a, const F& b) {
    return map<F>([&](int l) { return m.v[l] ? a.v[l] : b.v[l]; });
  }

  static TP_INLINE F exp(F x) {
    return map<F>([&](int l) { return exp_of(x.v[l]); });
  }
  static TP_INLINE F exp_floor(F& x) {
    return map<F>([&](int l) { return exp_of(x.v[l]); });
  }
  // Lane l: the uniform of linear index first + l * step (a double lane takes the float).
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
    return map<F>([&](int l) { return T(philox::uniform(philox::bits(seed, offset, uint64_t(first + l * step)))); });
  }

  static TP_INLINE I iset1(Idx i) {
    return map<I>([&](int) { return i; });
  }
  static TP_INLINE I iadd(const I& a, Idx c) {
    return map<I>([&](int l) { return Idx(a.v[l] + c); });
  }
  static TP_INLINE I iselect(const M& m, const I& a, const I& b) {
    return map<I>([&](int l) { return m.v[l] ? a.v[l] : b.v[l]; });
  }
  static TP_INLINE M ieq(const I& a, const I& b) {
    return map<M>([&](int l) { return a.v[l] == b.v[l]; });
  }
  static TP_INLINE void store_idx(int64_t* p, const I& x) {
TP_UNROLL
    for (int l = 0; l < V; ++l) p[l] = int64_t(x.v[l]);
  }
};

}  // namespace cuda
}  // namespace torchpool
