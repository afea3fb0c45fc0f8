#pragma once
// Unroll<P, U>: U packs of P used as one wider pack. A reducer written for P runs
// unchanged on it, with U independent dependency chains in flight (a sum or a max
// over a window is a serial chain per pack; one chain leaves the CPU waiting on
// latency). The windows place the U parts in memory (consecutive channel packs, or
// the same columns of consecutive output rows) through part().

#include <type_traits>
#include <utility>

#include "torchpool/cpu/vec/scalar.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

template <class P, int Parts>
struct Unroll {
  using Base = P;
  using T = typename P::T;
  static constexpr int U = Parts;
  static constexpr int N = P::N * U;
  static constexpr bool wide_index = P::wide_index;
  struct F {
    typename P::F v[U];
  };
  struct I {
    typename P::I v[U];
  };
  struct M {
    typename P::M v[U];
  };

  static TP_INLINE typename P::F& part(F& x, int u) { return x.v[u]; }
  static TP_INLINE const typename P::F& part(const F& x, int u) { return x.v[u]; }
  static TP_INLINE typename P::I& part(I& x, int u) { return x.v[u]; }
  static TP_INLINE const typename P::I& part(const I& x, int u) { return x.v[u]; }

#define TP_UNROLL_1(R, name, P1)           \
  static TP_INLINE R name(P1 a) {          \
    R r;                                   \
    for (int u = 0; u < U; ++u) r.v[u] = P::name(a.v[u]); \
    return r;                              \
  }
#define TP_UNROLL_2(R, name, P1, P2)       \
  static TP_INLINE R name(P1 a, P2 b) {    \
    R r;                                   \
    for (int u = 0; u < U; ++u) r.v[u] = P::name(a.v[u], b.v[u]); \
    return r;                              \
  }
#define TP_UNROLL_3(R, name, P1)                                           \
  static TP_INLINE R name(P1 a, P1 b, P1 c) {                             \
    R r;                                                                   \
    for (int u = 0; u < U; ++u) r.v[u] = P::name(a.v[u], b.v[u], c.v[u]); \
    return r;                                                              \
  }
#define TP_UNROLL_SEL(R, name)                                              \
  static TP_INLINE R name(const M& m, const R& a, const R& b) {             \
    R r;                                                                    \
    for (int u = 0; u < U; ++u) r.v[u] = P::name(m.v[u], a.v[u], b.v[u]);   \
    return r;                                                               \
  }
  TP_UNROLL_2(F, add, const F&, const F&)
  TP_UNROLL_2(F, sub, const F&, const F&)
  TP_UNROLL_2(F, mul, const F&, const F&)
  TP_UNROLL_3(F, fma, const F&)
  TP_UNROLL_2(F, div, const F&, const F&)
  TP_UNROLL_2(F, max, const F&, const F&)
  TP_UNROLL_2(M, gt, const F&, const F&)
  TP_UNROLL_2(M, lt, const F&, const F&)
  TP_UNROLL_2(M, eq, const F&, const F&)
  TP_UNROLL_1(M, isnan, const F&)
  TP_UNROLL_2(M, mor, const M&, const M&)
  TP_UNROLL_2(M, mand, const M&, const M&)
  TP_UNROLL_1(M, mnot, const M&)
  TP_UNROLL_2(M, ieq, const I&, const I&)
  TP_UNROLL_SEL(F, select)
  TP_UNROLL_SEL(I, iselect)
#undef TP_UNROLL_1
#undef TP_UNROLL_2
#undef TP_UNROLL_3
#undef TP_UNROLL_SEL

  static TP_INLINE F set1(T x) {
    F r;
    for (int u = 0; u < U; ++u) r.v[u] = P::set1(x);
    return r;
  }
  static TP_INLINE I iset1(int64_t c) {
    I r;
    for (int u = 0; u < U; ++u) r.v[u] = P::iset1(c);
    return r;
  }
  static TP_INLINE I iadd(const I& a, int64_t c) {
    I r;
    for (int u = 0; u < U; ++u) r.v[u] = P::iadd(a.v[u], c);
    return r;
  }
  static TP_INLINE F exp_floor(F& x) {
    F r;
    for (int u = 0; u < U; ++u) r.v[u] = P::exp_floor(x.v[u]);
    return r;
  }
  static TP_INLINE bool any(const M& m) {
    bool r = false;
    for (int u = 0; u < U; ++u) r = r || P::any(m.v[u]);
    return r;
  }
};

// How many packs the wide traversals unroll: enough independent chains to cover the
// adds' latency (a window's sum is one chain per lane: 2 packs leave AVX2 waiting on
// it), few enough to stay in registers (16 on AVX2, 32 on AVX-512). A reducer whose
// state per pack takes several registers declares `bulky` and gets kUnrollBulky: 4
// packs of it spill on AVX2.
constexpr int kUnroll = TORCHPOOL_CPU_LEVEL == 0 ? 2 : 4;
constexpr int kUnrollBulky = TORCHPOOL_CPU_LEVEL == 2 ? 4 : 2;

// f(std::integral_constant<int, i>{}) for i = 0 .. N-1, unrolled in the source: an array
// indexed only by these constants stays in registers. GCC replaces arrays by scalars
// before it unrolls loops, so one indexed in a loop (even under #pragma GCC unroll) can
// stay in memory, each add of a chain then waiting on a store and a load.
template <class Fn, int... I>
TP_INLINE void static_for_each(Fn&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class Fn>
TP_INLINE void static_for(Fn&& f) {
  static_for_each(f, std::make_integer_sequence<int, N>{});
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
