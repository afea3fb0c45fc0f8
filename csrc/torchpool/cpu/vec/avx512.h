#pragma once
// AVX-512 F/BW/VL/DQ packs: 16 float lanes (int32 index lanes) and 8 double lanes
// (int64 index lanes), with mask registers. Same API as Pack1 in scalar.h.

#include <immintrin.h>

#include "torchpool/cpu/vec/scalar.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// hi and lo halves of the 64-bit products a * m of 16 uint32 lanes: even lanes and odd
// lanes (shifted down) are multiplied apart, then interleaved back.
TP_INLINE void mulhilo16(__m512i a, uint32_t m, __m512i& hi, __m512i& lo) {
  const __m512i mv = _mm512_set1_epi64(m);
  const __m512i even = _mm512_mul_epu32(a, mv), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// philox::uniform(philox::bits(seed, offset, first + l * step)) for lanes l < 16.
TP_INLINE __m512 philox_uniform16(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
  const __m512i s = _mm512_set1_epi64(step);
  const __m512i i0 = _mm512_add_epi64(_mm512_set1_epi64(first),
                                      _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), s));
  const __m512i i1 = _mm512_add_epi64(i0, _mm512_slli_epi64(s, 3));
  // Low and high words of the 64-bit indices (vpmovqd keeps the low 32 bits).
  __m512i c0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(i0)), _mm512_cvtepi64_epi32(i1), 1);
  __m512i c1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_srli_epi64(i0, 32))),
                                  _mm512_cvtepi64_epi32(_mm512_srli_epi64(i1, 32)), 1);
  __m512i c2 = _mm512_set1_epi32(int32_t(uint32_t(offset))), c3 = _mm512_set1_epi32(int32_t(uint32_t(offset >> 32)));
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(c0, philox::kMul0, hi0, lo0);
    mulhilo16(c2, philox::kMul1, hi1, lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int32_t(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int32_t(k1)));
    c3 = lo0;
    k0 += philox::kWeyl0;
    k1 += philox::kWeyl1;
  }
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c0, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
}

struct PackF {
  using T = float;
  using F = __m512;
  using I = __m512i;  // int32 lanes
  using M = __mmask16;
  static constexpr int N = 16;
  static constexpr bool wide_index = false;
  static constexpr int U = 1;  // not unrolled (see unroll.h)
  using Base = PackF;
  template <class V>
  static TP_INLINE V& part(V& x, int) { return x; }

  static TP_INLINE F set1(float v) { return _mm512_set1_ps(v); }

  static TP_INLINE F load(const float* p) { return _mm512_loadu_ps(p); }
  static TP_INLINE F load(const bf16* p) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  static TP_INLINE F load(const half* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // Elements 0, 2, ..., 30 (reads 32).
  static TP_INLINE F load2(const float* p) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
  }
  static TP_INLINE F load2(const bf16* p) {
    // The even bf16 of each 32-bit word is its low half: shifted up it is the float.
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_loadu_si512(p), 16));
  }
  // 2N bfloat16 as two packs: the even elements and the odd ones, one load and one
  // operation each (load widens 16 in two); store2 puts them back in order.
  static TP_INLINE void load_pair(const bf16* p, F& even, F& odd) {
    const __m512i w = _mm512_loadu_si512(p);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(int32_t(0xFFFF0000u))));
  }
  static TP_INLINE F load2(const half* p) {
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_loadu_si512(p)));
  }
  template <class S>
  static TP_INLINE F loadn(const S* p, int64_t stride) {
    alignas(64) float t[N];
    for (int l = 0; l < N; ++l) t[l] = widen(p[l * stride]);
    return _mm512_load_ps(t);
  }

  // Lane l of even at p[2l], of odd at p[2l + 1] (writes 2N).
  static TP_INLINE void interleave(F even, F odd, F& first, F& second) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    first = _mm512_permutex2var_ps(even, lo, odd);
    second = _mm512_permutex2var_ps(even, hi, odd);
  }
  static TP_INLINE void store2(float* p, F even, F odd) {
    F a, b;
    interleave(even, odd, a, b);
    store(p, a);
    store(p + N, b);
  }
  template <class S>
  static TP_INLINE void store2(S* p, F even, F odd) {  // 16-bit: one 32-bit word per pair
    store2_bits(p, bits32(p, even), bits32(p, odd));
  }
  // store2 past the cache (non-temporal) where p starts a cache line, else store2.
  static TP_INLINE void stream2(float* p, F even, F odd) {
    if (!line_start(p)) return store2(p, even, odd);
    F a, b;
    interleave(even, odd, a, b);
    _mm512_stream_ps(p, a);
    _mm512_stream_ps(p + N, b);
  }
  template <class S>
  static TP_INLINE void stream2(S* p, F even, F odd) {  // 16-bit: the 2N elements are one line
    stream2_bits(p, bits32(p, even), bits32(p, odd));
  }
  // 16-bit storage moved as bits, each element in the low half of a 32-bit lane: as
  // stored (load_bits), where m is set else 0 (select_bits), interleaved as store2.
  using Bits = __m512i;
  template <class S>
  static TP_INLINE Bits load_bits(const S* p) {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static TP_INLINE Bits select_bits(M m, Bits b) { return _mm512_maskz_mov_epi32(m, b); }
  template <class S>
  static TP_INLINE void store2_bits(S* p, Bits even, Bits odd) {
    _mm512_storeu_si512(p, _mm512_or_si512(even, _mm512_slli_epi32(odd, 16)));
  }
  template <class S>
  static TP_INLINE void stream2_bits(S* p, Bits even, Bits odd) {
    if (!line_start(p)) return store2_bits(p, even, odd);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), _mm512_or_si512(even, _mm512_slli_epi32(odd, 16)));
  }
  static TP_INLINE void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  // store past the cache where p starts a cache line (16-bit storage: half a line, plainly).
  static TP_INLINE void stream(float* p, F v) {
    if (line_start(p)) _mm512_stream_ps(p, v); else store(p, v);
  }
  template <class S>
  static TP_INLINE void stream(S* p, F v) {
    store(p, v);
  }
  template <class S>
  static TP_INLINE void store(S* p, F v) {  // bf16, half
    store_packed(p, packed(p, v));
  }
  // The N elements of 16-bit storage of v, as store() writes them: made once, stored
  // at several places (a window whose elements all receive one value).
  using Packed = __m256i;
  template <class S>
  static TP_INLINE void store_packed(S* p, Packed h) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
  }
  // The 16-bit storage of v (round to nearest even; NaN stays NaN); bits32: each in
  // the low half of a 32-bit lane.
  static TP_INLINE __m512i bits32(const bf16*, F v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7FFF),
                                    _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
    return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  }
  static TP_INLINE __m512i bits32(const half* p, F v) { return _mm512_cvtepu16_epi32(packed(p, v)); }
  static TP_INLINE Packed packed(const bf16* p, F v) { return _mm512_cvtepi32_epi16(bits32(p, v)); }
  static TP_INLINE Packed packed(const half*, F v) {
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }

  static TP_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  static TP_INLINE F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static TP_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static TP_INLINE F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static TP_INLINE F div(F a, F b) { return _mm512_div_ps(a, b); }
  static TP_INLINE F max(F a, F b) { return _mm512_max_ps(a, b); }
  static TP_INLINE M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static TP_INLINE M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static TP_INLINE M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static TP_INLINE M isnan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static TP_INLINE M mor(M a, M b) { return M(a | b); }
  static TP_INLINE M mand(M a, M b) { return M(a & b); }
  static TP_INLINE M mnot(M a) { return M(~a); }
  static TP_INLINE bool any(M a) { return a != 0; }
  static TP_INLINE F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }
  using Perm = __m512i;
  static TP_INLINE Perm perm(const int32_t* idx) { return _mm512_loadu_si512(idx); }
  static TP_INLINE F permute(F v, Perm p) { return _mm512_permutexvar_ps(p, v); }
  static TP_INLINE F scale2(F t) {
    const __m512i u = _mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(int32_t(127u - 0x4B400000u)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 23));
  }
  static TP_INLINE F exp_floor(F& x) { return exp_of<PackF>(x); }
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
    return philox_uniform16(seed, offset, first, step);
  }

  static TP_INLINE I lanes(int64_t step) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32(int32_t(step)));
  }
  static TP_INLINE I iadd(I v, int64_t c) { return _mm512_add_epi32(v, _mm512_set1_epi32(int32_t(c))); }
  static TP_INLINE I iset1(int64_t c) { return _mm512_set1_epi32(int32_t(c)); }
  static TP_INLINE I iselect(M m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
  static TP_INLINE M ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static TP_INLINE M idx_eq(const int64_t* p, int64_t pos) {
    const __m512i at = _mm512_set1_epi64(pos);
    return _mm512_kunpackb(_mm512_cmpeq_epi64_mask(_mm512_loadu_si512(p + 8), at),
                           _mm512_cmpeq_epi64_mask(_mm512_loadu_si512(p), at));
  }
  // Saturated: an index beyond int32 matches no position of a plane below 2^31.
  static TP_INLINE I load_idx(const int64_t* p) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(_mm512_loadu_si512(p))),
                              _mm512_cvtsepi64_epi32(_mm512_loadu_si512(p + 8)), 1);
  }
  // Lanes l of base[idx[l] * mul + l * step] where every idx[l] lies in [0, limit), else
  // false (loading nothing). mul and limit below 2^31 (products exact in 32 x 32 bits).
  static TP_INLINE bool gather(const float* base, const int64_t* idx, int64_t mul, int64_t step, int64_t limit,
                               F& out) {
    const __m512i lim = _mm512_set1_epi64(limit), m = _mm512_set1_epi64(mul);
    const __m512i a = _mm512_loadu_si512(idx), b = _mm512_loadu_si512(idx + 8);
    if (__mmask8(_mm512_cmplt_epu64_mask(a, lim) & _mm512_cmplt_epu64_mask(b, lim)) != 0xFF) return false;
    const __m512i l = _mm512_mul_epu32(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step));
    const __m512i oa = _mm512_add_epi64(_mm512_mul_epu32(a, m), l);
    const __m512i ob = _mm512_add_epi64(_mm512_mul_epu32(b, m), _mm512_add_epi64(l, _mm512_set1_epi64(8 * step)));
    out = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_i64gather_ps(oa, base, 4)),
                             _mm512_i64gather_ps(ob, base, 4), 1);
    return true;
  }
  static TP_INLINE int count(M a) { return __builtin_popcount(a); }

  static TP_INLINE void store_idx(int64_t* p, I v) {
    _mm512_storeu_si512(p, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
    _mm512_storeu_si512(p + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
  }
  static TP_INLINE void stream_idx(int64_t* p, I v) {  // past the cache where p starts a line
    if (!line_start(p)) return store_idx(p, v);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p + 8), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
  }

  static TP_INLINE void acc_add(float* p, F v) { _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), v)); }
  // p[2l] += v[l] (touches p[0..31]; odd elements are rewritten unchanged).
  static TP_INLINE void acc_add2(float* p, F v) {
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    _mm512_storeu_ps(p, _mm512_mask_add_ps(a, 0x5555, a, _mm512_permutexvar_ps(lo, v)));
    _mm512_storeu_ps(p + 16, _mm512_mask_add_ps(b, 0x5555, b, _mm512_permutexvar_ps(hi, v)));
  }
  static TP_INLINE void acc_addn(float* p, int64_t stride, F v) {
    alignas(64) float t[N];
    _mm512_store_ps(t, v);
    for (int l = 0; l < N; ++l) p[l * stride] += t[l];
  }
};

struct PackD {
  using T = double;
  using F = __m512d;
  using I = __m512i;  // int64 lanes
  using M = __mmask8;
  static constexpr int N = 8;
  static constexpr bool wide_index = true;
  static constexpr int U = 1;  // not unrolled (see unroll.h)
  using Base = PackD;
  template <class V>
  static TP_INLINE V& part(V& x, int) { return x; }

  static TP_INLINE F set1(double v) { return _mm512_set1_pd(v); }
  static TP_INLINE F load(const double* p) { return _mm512_loadu_pd(p); }
  static TP_INLINE F load2(const double* p) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), even, _mm512_loadu_pd(p + 8));
  }
  static TP_INLINE F loadn(const double* p, int64_t stride) {
    alignas(64) double t[N];
    for (int l = 0; l < N; ++l) t[l] = p[l * stride];
    return _mm512_load_pd(t);
  }
  static TP_INLINE void store(double* p, F v) { _mm512_storeu_pd(p, v); }
  static TP_INLINE void store2(double* p, F even, F odd) {
    store(p, _mm512_permutex2var_pd(even, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), odd));
    store(p + N, _mm512_permutex2var_pd(even, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), odd));
  }
  static TP_INLINE void stream(double* p, F v) {
    if (line_start(p)) _mm512_stream_pd(p, v); else store(p, v);
  }
  static TP_INLINE void stream2(double* p, F even, F odd) {
    if (!line_start(p)) return store2(p, even, odd);
    _mm512_stream_pd(p, _mm512_permutex2var_pd(even, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), odd));
    _mm512_stream_pd(p + N, _mm512_permutex2var_pd(even, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), odd));
  }

  static TP_INLINE F add(F a, F b) { return _mm512_add_pd(a, b); }
  static TP_INLINE F sub(F a, F b) { return _mm512_sub_pd(a, b); }
  static TP_INLINE F mul(F a, F b) { return _mm512_mul_pd(a, b); }
  static TP_INLINE F fma(F a, F b, F c) { return _mm512_fmadd_pd(a, b, c); }
  static TP_INLINE F div(F a, F b) { return _mm512_div_pd(a, b); }
  static TP_INLINE F max(F a, F b) { return _mm512_max_pd(a, b); }
  static TP_INLINE M gt(F a, F b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
  static TP_INLINE M lt(F a, F b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
  static TP_INLINE M eq(F a, F b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
  static TP_INLINE M isnan(F a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
  static TP_INLINE M mor(M a, M b) { return M(a | b); }
  static TP_INLINE M mand(M a, M b) { return M(a & b); }
  static TP_INLINE M mnot(M a) { return M(~a); }
  static TP_INLINE bool any(M a) { return a != 0; }
  static TP_INLINE F select(M m, F a, F b) { return _mm512_mask_blend_pd(m, b, a); }
  using Perm = __m512i;  // int64 lanes
  static TP_INLINE Perm perm(const int32_t* idx) {
    return _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)));
  }
  static TP_INLINE F permute(F v, Perm p) { return _mm512_permutexvar_pd(p, v); }
  static TP_INLINE F scale2(F t) {
    const __m512i u = _mm512_add_epi64(_mm512_castpd_si512(t),
                                       _mm512_set1_epi64(int64_t(1023u - 0x4338000000000000ull)));
    return _mm512_castsi512_pd(_mm512_slli_epi64(u, 52));
  }
  static TP_INLINE F exp_floor(F& x) { return exp_of<PackD>(x); }
  // The first 8 of 16 lanes (double is no speed target).
  static TP_INLINE F uniform(uint64_t seed, uint64_t offset, int64_t first, int64_t step) {
    return _mm512_cvtps_pd(_mm512_castps512_ps256(philox_uniform16(seed, offset, first, step)));
  }

  static TP_INLINE I lanes(int64_t step) {
    return _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step));
  }
  static TP_INLINE I iadd(I v, int64_t c) { return _mm512_add_epi64(v, _mm512_set1_epi64(c)); }
  static TP_INLINE I iset1(int64_t c) { return _mm512_set1_epi64(c); }
  static TP_INLINE I iselect(M m, I a, I b) { return _mm512_mask_blend_epi64(m, b, a); }
  static TP_INLINE M ieq(I a, I b) { return _mm512_cmpeq_epi64_mask(a, b); }
  static TP_INLINE M idx_eq(const int64_t* p, int64_t pos) { return ieq(load_idx(p), iset1(pos)); }
  static TP_INLINE I load_idx(const int64_t* p) { return _mm512_loadu_si512(p); }
  static TP_INLINE bool gather(const double* base, const int64_t* idx, int64_t mul, int64_t step, int64_t limit,
                               F& out) {  // as PackF's
    const __m512i a = _mm512_loadu_si512(idx);
    if (_mm512_cmplt_epu64_mask(a, _mm512_set1_epi64(limit)) != 0xFF) return false;
    const __m512i l = _mm512_mul_epu32(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step));
    out = _mm512_i64gather_pd(_mm512_add_epi64(_mm512_mul_epu32(a, _mm512_set1_epi64(mul)), l), base, 8);
    return true;
  }
  static TP_INLINE int count(M a) { return __builtin_popcount(a); }
  static TP_INLINE void store_idx(int64_t* p, I v) { _mm512_storeu_si512(p, v); }
  static TP_INLINE void stream_idx(int64_t* p, I v) {
    if (line_start(p)) _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v); else store_idx(p, v);
  }

  static TP_INLINE void acc_add(double* p, F v) { _mm512_storeu_pd(p, _mm512_add_pd(_mm512_loadu_pd(p), v)); }
  static TP_INLINE void acc_add2(double* p, F v) {
    const __m512i lo = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
    const __m512i hi = _mm512_setr_epi64(4, 4, 5, 5, 6, 6, 7, 7);
    __m512d a = _mm512_loadu_pd(p), b = _mm512_loadu_pd(p + 8);
    _mm512_storeu_pd(p, _mm512_mask_add_pd(a, 0x55, a, _mm512_permutexvar_pd(lo, v)));
    _mm512_storeu_pd(p + 8, _mm512_mask_add_pd(b, 0x55, b, _mm512_permutexvar_pd(hi, v)));
  }
  static TP_INLINE void acc_addn(double* p, int64_t stride, F v) {
    alignas(64) double t[N];
    _mm512_store_pd(t, v);
    for (int l = 0; l < N; ++l) p[l * stride] += t[l];
  }
};

// Copies `lines` 64-byte lines from src to dst (dst a line start) past the cache.
TP_INLINE void stream_lines(void* dst, const void* src, int64_t lines) {
  auto* d = static_cast<__m512i*>(dst);
  const auto* q = static_cast<const __m512i*>(src);
  for (int64_t l = 0; l < lines; ++l) _mm512_stream_si512(d + l, _mm512_loadu_si512(q + l));
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
