#pragma once
// AVX2 + FMA + F16C packs: 8 float lanes (int32 index lanes) and 4 double lanes
// (int64 index lanes). Same API as Pack1 in scalar.h.

#include <immintrin.h>

#include "torchpool/cpu/vec/scalar.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// hi and lo halves of the 64-bit products a * m of 8 uint32 lanes: even lanes and odd
// lanes (shifted down) are multiplied apart, then interleaved back.
TP_INLINE void mulhilo8(__m256i a, uint32_t m, __m256i& hi, __m256i& lo) {
  const __m256i mv = _mm256_set1_epi64x(m);
  const __m256i even = _mm256_mul_epu32(a, mv), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// philox::uniform(philox::bits(seed, offset, first + l * step)) for lanes l < 8.
TP_INLINE __m256 philox_uniform8(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
  const uint64_t f = uint64_t(first), s = uint64_t(step);
  const __m256i i0 = _mm256_setr_epi64x(int64_t(f), int64_t(f + s), int64_t(f + 2 * s), int64_t(f + 3 * s));
  const __m256i i1 = _mm256_add_epi64(i0, _mm256_set1_epi64x(int64_t(4 * s)));
  // Each index's low words to the low 128 bits, high words to the high 128.
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i a = _mm256_permutevar8x32_epi32(i0, split), b = _mm256_permutevar8x32_epi32(i1, split);
  __m256i c0 = _mm256_permute2x128_si256(a, b, 0x20), c1 = _mm256_permute2x128_si256(a, b, 0x31);
  __m256i c2 = _mm256_set1_epi32(int32_t(uint32_t(offset))), c3 = _mm256_set1_epi32(int32_t(uint32_t(offset >> 32)));
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m256i hi0, lo0, hi1, lo1;
    mulhilo8(c0, philox::kMul0, hi0, lo0);
    mulhilo8(c2, philox::kMul1, hi1, lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int32_t(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int32_t(k1)));
    c3 = lo0;
    k0 += philox::kWeyl0;
    k1 += philox::kWeyl1;
  }
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(c0, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
}

// Whether each of the 4 int64 lanes of a lies in [0, limit): unsigned, as signed after
// flipping the sign bits (AVX2 compares int64 signed only).
TP_INLINE bool in_range4(__m256i a, int64_t limit) {
  const __m256i flip = _mm256_set1_epi64x(INT64_MIN);
  const __m256i ok = _mm256_cmpgt_epi64(_mm256_set1_epi64x(limit ^ INT64_MIN), _mm256_xor_si256(a, flip));
  return _mm256_movemask_pd(_mm256_castsi256_pd(ok)) == 0xF;
}

// The sum of a vector's integer lanes of type L (a Tally's counts).
template <class L>
TP_INLINE int64_t lane_sum(__m256i t) {
  alignas(32) L v[32 / sizeof(L)];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), t);
  int64_t s = 0;
  for (L x : v) s += x;
  return s;
}

struct PackF {
  using T = float;
  using F = __m256;
  using I = __m256i;  // int32 lanes
  using M = __m256;   // all-ones / all-zeros lanes
  static constexpr int N = 8;
  static constexpr bool wide_index = false;
  static constexpr int U = 1;  // not unrolled (see unroll.h)
  using Base = PackF;
  template <class V>
  static TP_INLINE V& part(V& x, int) { return x; }

  static TP_INLINE F set1(float v) { return _mm256_set1_ps(v); }

  static TP_INLINE F load(const float* p) { return _mm256_loadu_ps(p); }
  static TP_INLINE F load(const bf16* p) {
    // The 8 elements in both 128-bit halves (a broadcast load: no ALU operation), then
    // one byte shuffle moves each to the high half of its lane: one operation where
    // widening and shifting took two.
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i to_high = _mm256_setr_epi8(-1, -1, 0, 1, -1, -1, 2, 3, -1, -1, 4, 5, -1, -1, 6, 7,  //
                                             -1, -1, 8, 9, -1, -1, 10, 11, -1, -1, 12, 13, -1, -1, 14, 15);
    return _mm256_castsi256_ps(_mm256_shuffle_epi8(both, to_high));
  }
  static TP_INLINE F load(const half* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // Elements 0, 2, ..., 14 (reads 16).
  static TP_INLINE F load2(const float* p) { return in_order(load2_raw(p)); }
  // Lanes 0 2 8 10 4 6 12 14 of the row: in_order swaps the middle 64-bit quarters.
  static TP_INLINE F load2_raw(const float* p) {
    return _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
  }
  static TP_INLINE F in_order(F v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); }
  // Elements 0, 2, ..., 14 and 1, 3, ..., 15, both in load2_raw's lane order (reads 16):
  // two adjacent taps from one pair of loads.
  static TP_INLINE void load2_pair_raw(const float* p, F& even, F& odd) {
    const F a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    even = _mm256_shuffle_ps(a, b, 0x88);
    odd = _mm256_shuffle_ps(a, b, 0xDD);
  }
  static TP_INLINE F load2(const bf16* p) {
    // The even bf16 of each 32-bit word is its low half: shifted up it is the float.
    __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  // 2N bfloat16 as two packs: the even elements and the odd ones, one load and one
  // operation each; store2 puts them back in order without load's shuffle or store's
  // pack and permute.
  static TP_INLINE void load_pair(const bf16* p, F& even, F& odd) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(int32_t(0xFFFF0000u))));
  }
  static TP_INLINE F load2(const half* p) {
    __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    w = _mm256_and_si256(w, _mm256_set1_epi32(0xFFFF));
    w = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0xD8);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(w));
  }
  template <class S>
  static TP_INLINE F loadn(const S* p, int64_t stride) {
    alignas(32) float t[N];
    for (int l = 0; l < N; ++l) t[l] = widen(p[l * stride]);
    return _mm256_load_ps(t);
  }

  // Lane l of even at p[2l], of odd at p[2l + 1] (writes 2N).
  static TP_INLINE void store2(float* p, F even, F odd) {
    const F lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);  // e0 o0 e1 o1 | e4 o4 e5 o5
    store(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    store(p + N, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
  template <class S>
  static TP_INLINE void store2(S* p, F even, F odd) {  // 16-bit: one 32-bit word per pair, no permute
    store2_bits(p, bits32(p, even), bits32(p, odd));
  }
  // 16-bit storage moved as bits, each element in the low half of a 32-bit lane: as
  // stored (load_bits), where m is set else 0 (select_bits), interleaved as store2.
  using Bits = __m256i;
  template <class S>
  static TP_INLINE Bits load_bits(const S* p) {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static TP_INLINE Bits select_bits(M m, Bits b) { return _mm256_and_si256(_mm256_castps_si256(m), b); }
  template <class S>
  static TP_INLINE void store2_bits(S* p, Bits even, Bits odd) {
    // As two 16-byte stores: rows of 16-bit elements often start 16 bytes into 32 (a
    // width of 56: 112 bytes), and a 32-byte store across a cache line made the 3-d max
    // backward 1.55x slower (in cache, bfloat16 and float16 2x2x2 on 56x56 planes).
    const __m256i w = _mm256_or_si256(even, _mm256_slli_epi32(odd, 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(w));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p) + 1, _mm256_extracti128_si256(w, 1));
  }
  template <class S>
  static TP_INLINE void stream2_bits(S* p, Bits even, Bits odd) {  // half a line: plainly
    store2_bits(p, even, odd);
  }
  // store past the cache (non-temporal) where p starts half a cache line (consecutive
  // stores fill it), else store; 16-bit storage: plainly.
  static TP_INLINE void stream(float* p, F v) {
    if (half_line_start(p)) _mm256_stream_ps(p, v); else store(p, v);
  }
  template <class S>
  static TP_INLINE void stream(S* p, F v) {
    store(p, v);
  }
  // store2 past the cache where p starts a cache line, else store2. 16-bit storage:
  // 2N elements are half a line, stored plainly.
  static TP_INLINE void stream2(float* p, F even, F odd) {
    if (!line_start(p)) return store2(p, even, odd);
    const F lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    _mm256_stream_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_stream_ps(p + N, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
  template <class S>
  static TP_INLINE void stream2(S* p, F even, F odd) {
    store2(p, even, odd);
  }
  static TP_INLINE void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  template <class S>
  static TP_INLINE void store(S* p, F v) {  // bf16, half
    store_packed(p, packed(p, v));
  }
  // The N elements of 16-bit storage of v, as store() writes them: made once, stored
  // at several places (a window whose elements all receive one value).
  using Packed = __m128i;
  static TP_INLINE Packed packed(const bf16* p, F v) {
    const __m256i w = bits32(p, v);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0xD8));
  }
  static TP_INLINE Packed packed(const half*, F v) {
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  template <class S>
  static TP_INLINE void store_packed(S* p, Packed h) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
  }
  // The 16-bit storage of v (round to nearest even; NaN stays NaN), each in the low
  // half of a 32-bit lane.
  static TP_INLINE __m256i bits32(const bf16*, F v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF),
                                    _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC0)), nan));
  }
  static TP_INLINE __m256i bits32(const half*, F v) {
    return _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }

  static TP_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  static TP_INLINE F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static TP_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static TP_INLINE F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static TP_INLINE F div(F a, F b) { return _mm256_div_ps(a, b); }
  static TP_INLINE F max(F a, F b) { return _mm256_max_ps(a, b); }
  static TP_INLINE M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static TP_INLINE M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static TP_INLINE M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static TP_INLINE M isnan(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static TP_INLINE M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static TP_INLINE M mand(M a, M b) { return _mm256_and_ps(a, b); }
  static TP_INLINE M mnot(M a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
  static TP_INLINE bool any(M a) { return _mm256_movemask_ps(a) != 0; }
  static TP_INLINE F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  using Perm = __m256i;
  static TP_INLINE Perm perm(const int32_t* idx) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
  }
  static TP_INLINE F permute(F v, Perm p) { return _mm256_permutevar8x32_ps(v, p); }
  static TP_INLINE F scale2(F t) {
    const __m256i u = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(int32_t(127u - 0x4B400000u)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 23));
  }
  static TP_INLINE F exp_floor(F& x) { return exp_of<PackF>(x); }
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
    return philox_uniform8(seed, offset, first, step);
  }

  static TP_INLINE I lanes(int64_t step) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                              _mm256_set1_epi32(int32_t(step)));
  }
  static TP_INLINE I iadd(I v, int64_t c) { return _mm256_add_epi32(v, _mm256_set1_epi32(int32_t(c))); }
  static TP_INLINE I iset1(int64_t c) { return _mm256_set1_epi32(int32_t(c)); }
  static TP_INLINE I iselect(M m, I a, I b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
  }
  static TP_INLINE M ieq(I a, I b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
  static TP_INLINE M idx_eq(const int64_t* p, int64_t pos) {
    const __m256i at = _mm256_set1_epi64x(pos);
    auto eq4 = [&](const int64_t* q) {
      return _mm256_castsi256_ps(_mm256_cmpeq_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)), at));
    };
    const __m256 lo = eq4(p), hi = eq4(p + 4);
    // Each 64-bit result's low half: (lo0 lo1 hi0 hi1 | lo2 lo3 hi2 hi3), then the middle pairs swapped.
    const __m256 halves = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(halves), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // Each int64's low half, or -1 where it lies outside [0, INT32_MAX] (its top 33 bits
  // not all 0), which matches no position of a plane below 2^31. In registers: lanes
  // written to memory one at a time and read back as a vector stalled store forwarding.
  static TP_INLINE I load_idx(const int64_t* p) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4));
    const __m256i z = _mm256_setzero_si256(), none = _mm256_set1_epi64x(-1);
    const __m256i va = _mm256_blendv_epi8(none, a, _mm256_cmpeq_epi64(_mm256_srli_epi64(a, 31), z));
    const __m256i vb = _mm256_blendv_epi8(none, b, _mm256_cmpeq_epi64(_mm256_srli_epi64(b, 31), z));
    // The low halves: (a0 a1 b0 b1 | a2 a3 b2 b3), then the middle pairs swapped.
    const __m256 t = _mm256_shuffle_ps(_mm256_castsi256_ps(va), _mm256_castsi256_ps(vb), 0x88);
    return _mm256_permute4x64_epi64(_mm256_castps_si256(t), 0xD8);
  }
  // Lanes l of base[idx[l] * mul + l * step] where every idx[l] lies in [0, limit), else
  // false (loading nothing). mul and limit below 2^31 (products exact in 32 x 32 bits).
  static TP_INLINE bool gather(const float* base, const int64_t* idx, int64_t mul, int64_t step, int64_t limit,
                               F& out) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 4));
    if (!in_range4(a, limit) || !in_range4(b, limit)) return false;
    const __m256i m = _mm256_set1_epi64x(mul), l = _mm256_setr_epi64x(0, step, 2 * step, 3 * step);
    const __m256i oa = _mm256_add_epi64(_mm256_mul_epu32(a, m), l);
    const __m256i ob = _mm256_add_epi64(_mm256_mul_epu32(b, m), _mm256_add_epi64(l, _mm256_set1_epi64x(4 * step)));
    out = _mm256_set_m128(_mm256_i64gather_ps(base, ob, 4), _mm256_i64gather_ps(base, oa, 4));
    return true;
  }
  static TP_INLINE int count(M a) { return __builtin_popcount(unsigned(_mm256_movemask_ps(a))); }
  using Tally = __m256i;  // each lane's count: a set lane is -1, subtracted
  static TP_INLINE Tally tally0() { return _mm256_setzero_si256(); }
  static TP_INLINE Tally tally(Tally t, M a) { return _mm256_sub_epi32(t, _mm256_castps_si256(a)); }
  static TP_INLINE int64_t tally_sum(Tally t) { return lane_sum<int32_t>(t); }

  static TP_INLINE void store_idx(int64_t* p, I v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 4),
                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  }
  static TP_INLINE void stream_idx(int64_t* p, I v) {  // past the cache where p starts half a line
    if (!half_line_start(p)) return store_idx(p, v);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  }

  static TP_INLINE void acc_add(float* p, F v) { _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), v)); }
  // p[2l] += v[l] (touches p[0..15]; odd elements are rewritten unchanged).
  static TP_INLINE void acc_add2(float* p, F v) {
    __m256 lo = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    __m256 hi = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    _mm256_storeu_ps(p, _mm256_blend_ps(a, _mm256_add_ps(a, lo), 0x55));
    _mm256_storeu_ps(p + 8, _mm256_blend_ps(b, _mm256_add_ps(b, hi), 0x55));
  }
  static TP_INLINE void acc_addn(float* p, int64_t stride, F v) {
    alignas(32) float t[N];
    _mm256_store_ps(t, v);
    for (int l = 0; l < N; ++l) p[l * stride] += t[l];
  }
};

struct PackD {
  using T = double;
  using F = __m256d;
  using I = __m256i;  // int64 lanes
  using M = __m256d;
  static constexpr int N = 4;
  static constexpr bool wide_index = true;
  static constexpr int U = 1;  // not unrolled (see unroll.h)
  using Base = PackD;
  template <class V>
  static TP_INLINE V& part(V& x, int) { return x; }

  static TP_INLINE F set1(double v) { return _mm256_set1_pd(v); }
  static TP_INLINE F load(const double* p) { return _mm256_loadu_pd(p); }
  static TP_INLINE F load2(const double* p) { return in_order(load2_raw(p)); }
  // Lanes 0 4 2 6 of the row: in_order swaps the middle two.
  static TP_INLINE F load2_raw(const double* p) {
    return _mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4));
  }
  static TP_INLINE F in_order(F v) { return _mm256_permute4x64_pd(v, 0xD8); }
  // Elements 0, 2 and 1, 3 of each half, both in load2_raw's lane order (reads 8).
  static TP_INLINE void load2_pair_raw(const double* p, F& even, F& odd) {
    const F a = _mm256_loadu_pd(p), b = _mm256_loadu_pd(p + 4);
    even = _mm256_unpacklo_pd(a, b);
    odd = _mm256_unpackhi_pd(a, b);
  }
  static TP_INLINE F loadn(const double* p, int64_t stride) {
    return _mm256_setr_pd(p[0], p[stride], p[2 * stride], p[3 * stride]);
  }
  static TP_INLINE void store(double* p, F v) { _mm256_storeu_pd(p, v); }
  static TP_INLINE void store2(double* p, F even, F odd) {
    const F lo = _mm256_unpacklo_pd(even, odd), hi = _mm256_unpackhi_pd(even, odd);  // e0 o0 | e2 o2
    store(p, _mm256_permute2f128_pd(lo, hi, 0x20));
    store(p + N, _mm256_permute2f128_pd(lo, hi, 0x31));
  }
  static TP_INLINE void stream(double* p, F v) {
    if (half_line_start(p)) _mm256_stream_pd(p, v); else store(p, v);
  }
  static TP_INLINE void stream2(double* p, F even, F odd) {
    if (!line_start(p)) return store2(p, even, odd);
    const F lo = _mm256_unpacklo_pd(even, odd), hi = _mm256_unpackhi_pd(even, odd);
    _mm256_stream_pd(p, _mm256_permute2f128_pd(lo, hi, 0x20));
    _mm256_stream_pd(p + N, _mm256_permute2f128_pd(lo, hi, 0x31));
  }

  static TP_INLINE F add(F a, F b) { return _mm256_add_pd(a, b); }
  static TP_INLINE F sub(F a, F b) { return _mm256_sub_pd(a, b); }
  static TP_INLINE F mul(F a, F b) { return _mm256_mul_pd(a, b); }
  static TP_INLINE F fma(F a, F b, F c) { return _mm256_fmadd_pd(a, b, c); }
  static TP_INLINE F div(F a, F b) { return _mm256_div_pd(a, b); }
  static TP_INLINE F max(F a, F b) { return _mm256_max_pd(a, b); }
  static TP_INLINE M gt(F a, F b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  static TP_INLINE M lt(F a, F b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  static TP_INLINE M eq(F a, F b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
  static TP_INLINE M isnan(F a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
  static TP_INLINE M mor(M a, M b) { return _mm256_or_pd(a, b); }
  static TP_INLINE M mand(M a, M b) { return _mm256_and_pd(a, b); }
  static TP_INLINE M mnot(M a) { return _mm256_xor_pd(a, _mm256_castsi256_pd(_mm256_set1_epi32(-1))); }
  static TP_INLINE bool any(M a) { return _mm256_movemask_pd(a) != 0; }
  static TP_INLINE F select(M m, F a, F b) { return _mm256_blendv_pd(b, a, m); }
  using Perm = __m256i;  // the float halves of each double: 2 idx, 2 idx + 1
  static TP_INLINE Perm perm(const int32_t* idx) {
    alignas(32) int32_t h[8];
    for (int l = 0; l < N; ++l) h[2 * l] = 2 * idx[l], h[2 * l + 1] = 2 * idx[l] + 1;
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(h));
  }
  static TP_INLINE F permute(F v, Perm p) {
    return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), p));
  }
  static TP_INLINE F scale2(F t) {
    const __m256i u = _mm256_add_epi64(_mm256_castpd_si256(t),
                                       _mm256_set1_epi64x(int64_t(1023u - 0x4338000000000000ull)));
    return _mm256_castsi256_pd(_mm256_slli_epi64(u, 52));
  }
  static TP_INLINE F exp_floor(F& x) { return exp_of<PackD>(x); }
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
    return _mm256_cvtps_pd(_mm256_castps256_ps128(philox_uniform8(seed, offset, first, step)));
  }

  static TP_INLINE I lanes(int64_t step) { return _mm256_setr_epi64x(0, step, 2 * step, 3 * step); }
  static TP_INLINE I iadd(I v, int64_t c) { return _mm256_add_epi64(v, _mm256_set1_epi64x(c)); }
  static TP_INLINE I iset1(int64_t c) { return _mm256_set1_epi64x(c); }
  static TP_INLINE I iselect(M m, I a, I b) {
    return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(b), _mm256_castsi256_pd(a), m));
  }
  static TP_INLINE M ieq(I a, I b) { return _mm256_castsi256_pd(_mm256_cmpeq_epi64(a, b)); }
  static TP_INLINE M idx_eq(const int64_t* p, int64_t pos) { return ieq(load_idx(p), _mm256_set1_epi64x(pos)); }
  static TP_INLINE I load_idx(const int64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static TP_INLINE bool gather(const double* base, const int64_t* idx, int64_t mul, int64_t step, int64_t limit,
                               F& out) {  // as PackF's
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
    if (!in_range4(a, limit)) return false;
    const __m256i l = _mm256_setr_epi64x(0, step, 2 * step, 3 * step);
    out = _mm256_i64gather_pd(base, _mm256_add_epi64(_mm256_mul_epu32(a, _mm256_set1_epi64x(mul)), l), 8);
    return true;
  }
  static TP_INLINE int count(M a) { return __builtin_popcount(unsigned(_mm256_movemask_pd(a))); }
  using Tally = __m256i;  // each lane's count: a set lane is -1, subtracted
  static TP_INLINE Tally tally0() { return _mm256_setzero_si256(); }
  static TP_INLINE Tally tally(Tally t, M a) { return _mm256_sub_epi64(t, _mm256_castpd_si256(a)); }
  static TP_INLINE int64_t tally_sum(Tally t) { return lane_sum<int64_t>(t); }
  static TP_INLINE void store_idx(int64_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static TP_INLINE void stream_idx(int64_t* p, I v) {
    if (half_line_start(p)) _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v); else store_idx(p, v);
  }

  static TP_INLINE void acc_add(double* p, F v) { _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), v)); }
  static TP_INLINE void acc_add2(double* p, F v) {
    __m256d lo = _mm256_permute4x64_pd(v, 0x50), hi = _mm256_permute4x64_pd(v, 0xFA);
    __m256d a = _mm256_loadu_pd(p), b = _mm256_loadu_pd(p + 4);
    _mm256_storeu_pd(p, _mm256_blend_pd(a, _mm256_add_pd(a, lo), 0x5));
    _mm256_storeu_pd(p + 4, _mm256_blend_pd(b, _mm256_add_pd(b, hi), 0x5));
  }
  static TP_INLINE void acc_addn(double* p, int64_t stride, F v) {
    alignas(32) double t[N];
    _mm256_store_pd(t, v);
    for (int l = 0; l < N; ++l) p[l * stride] += t[l];
  }
};

// Copies `lines` 64-byte lines from src to dst (dst a line start) past the cache.
TP_INLINE void stream_lines(void* dst, const void* src, int64_t lines) {
  auto* d = static_cast<__m256i*>(dst);
  const auto* q = static_cast<const __m256i*>(src);
  for (int64_t l = 0; l < 2 * lines; ++l) _mm256_stream_si256(d + l, _mm256_loadu_si256(q + l));
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
