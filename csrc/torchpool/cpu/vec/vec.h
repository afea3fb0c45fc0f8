#pragma once
// The packs of the CPU level being compiled (TORCHPOOL_CPU_LEVEL: 0 scalar, 1 avx2,
// 2 avx512), and which packs serve each storage type.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "torchpool/cpu/vec/scalar.h"
#include "torchpool/cpu/vec/unroll.h"

#if TORCHPOOL_CPU_LEVEL == 2
#include "torchpool/cpu/vec/avx512.h"
#elif TORCHPOOL_CPU_LEVEL == 1
#include "torchpool/cpu/vec/avx2.h"
#endif

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

#if TORCHPOOL_CPU_LEVEL == 0
using PackF = Pack1<float>;
using PackD = Pack1<double>;
// Copies `lines` 64-byte lines (the wide levels: past the cache).
TP_INLINE void stream_lines(void* dst, const void* src, int64_t lines) { std::memcpy(dst, src, size_t(lines) * 64); }
#endif

// float, half and bfloat16 compute in float; double in double. Wide serves the
// vectorized interior, Multi (several packs at once: MultiFor) the bulk of it where
// there is room, One the edges and tails.
template <class S>
struct PacksFor {
  using T = float;
  using Wide = PackF;
  using One = Pack1<float>;
};
template <>
struct PacksFor<double> {
  using T = double;
  using Wide = PackD;
  using One = Pack1<double>;
};

// Asks for the line `bytes` past p, ahead of a stream the hardware's prefetch falls
// behind on. The address is formed as an integer: past an array's end it stays a hint
// (a prefetch never faults), not a pointer past the array.
TP_INLINE void prefetch_ahead(const void* p, int64_t bytes) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + uintptr_t(bytes)));
}

// A heap array for the kernels' work buffers. Any code of it the compiler emits out of
// line is named in this level's namespace; std::vector's would not be (a copy built
// with one level's flags could then serve another: tests/cpp/check_isa_symbols.cmake).
template <class T>
struct LevelArray {
  T* p;
  explicit LevelArray(size_t n) : p(new T[n]) {}
  ~LevelArray() { delete[] p; }
  LevelArray(const LevelArray&) = delete;
  LevelArray& operator=(const LevelArray&) = delete;
  T* data() const { return p; }
  T& operator[](size_t i) const { return p[i]; }
};

// A reducer whose state per pack takes several registers declares `bulky`.
template <class Red, class = void>
struct Bulky : std::false_type {};
template <class Red>
struct Bulky<Red, std::void_t<decltype(Red::bulky)>> : std::bool_constant<Red::bulky> {};
// A gathering reducer whose zero state contributes +0 to any element declares
// `zero_state_adds_zero`: the gather may then add rounds of zero states (contiguous.h).
template <class Red, class = void>
struct ZeroStateAddsZero : std::false_type {};
template <class Red>
struct ZeroStateAddsZero<Red, std::void_t<decltype(Red::zero_state_adds_zero)>>
    : std::bool_constant<Red::zero_state_adds_zero> {};
// The Multi pack of reducer R (unroll.h): kUnroll Wide packs, kUnrollBulky if bulky.
template <class Red>
struct UnrollOf {
  static constexpr int value = Bulky<Red>::value ? kUnrollBulky : kUnroll;
};
// Pack B's stride-2 load of S in raw lane order, and the permute that orders its lanes:
// load2_raw and in_order where B has them for S, else load2 and no permute.
template <class B, class S, class = void>
struct Load2Raw {
  static TP_INLINE typename B::F load(const S* p) { return B::load2(p); }
  static TP_INLINE typename B::F in_order(typename B::F v) { return v; }
};
template <class B, class S>
struct Load2Raw<B, S, std::void_t<decltype(B::load2_raw(std::declval<const S*>()))>> {
  static TP_INLINE typename B::F load(const S* p) { return B::load2_raw(p); }
  static TP_INLINE typename B::F in_order(typename B::F v) { return B::in_order(v); }
};

// Whether pack B loads 2N elements of S as two packs of its even and odd elements
// (load_pair), cheaper than two loads: a lane-wise reducer's channels-last forward then
// takes an unrolled pack's parts in pairs (PixelWindow, channels_last.h).
template <class B, class S, class = void>
struct PairLoad : std::false_type {};
template <class B, class S>
struct PairLoad<B, S, std::void_t<decltype(B::load_pair(std::declval<const S*>(), std::declval<typename B::F&>(),
                                                        std::declval<typename B::F&>()))>> : std::true_type {};

// Whether pack B loads the stride-2 taps at p and at p + 1 (two adjacent taps of a
// window) from one load of 2N elements, split into its even and its odd ones, and
// load<Raw>() doing so: load2_pair_raw (in Load2Raw's lane order; put in order where not
// Raw), else load_pair (16-bit: in order, as its Load2Raw). One load where two read the
// same elements, the second one element off and across a cache line every other time.
template <class B, class S, class = void>
struct Load2Pair : PairLoad<B, S> {
  template <bool Raw>
  static TP_INLINE void load(const S* p, typename B::F& even, typename B::F& odd) {
    B::load_pair(p, even, odd);
  }
};
template <class B, class S>
struct Load2Pair<B, S,
                 std::void_t<decltype(B::load2_pair_raw(std::declval<const S*>(), std::declval<typename B::F&>(),
                                                        std::declval<typename B::F&>()))>> : std::true_type {
  template <bool Raw>
  static TP_INLINE void load(const S* p, typename B::F& even, typename B::F& odd) {
    B::load2_pair_raw(p, even, odd);
    if constexpr (!Raw) even = B::in_order(even), odd = B::in_order(odd);
  }
};

// A running count of the lanes masks of pack P set: P's Tally where it has one (AVX2:
// counts kept in a vector, one subtract a mask), else count() added up.
template <class P, class = void>
struct Tallies {
  using T = int64_t;
  static TP_INLINE T zero() { return 0; }
  static TP_INLINE T add(T t, typename P::M m) { return t + P::count(m); }
  static TP_INLINE int64_t sum(T t) { return t; }
};
template <class P>
struct Tallies<P, std::void_t<typename P::Tally>> {
  using T = typename P::Tally;
  static TP_INLINE T zero() { return P::tally0(); }
  static TP_INLINE T add(T t, typename P::M m) { return P::tally(t, m); }
  static TP_INLINE int64_t sum(T t) { return P::tally_sum(t); }
};

// A reducer whose own() gives every element of a window the same contribution declares
// `own_uniform`: the owned backward then converts it to 16-bit storage once per window.
template <class Red, class = void>
struct OwnUniform : std::false_type {};
template <class Red>
struct OwnUniform<Red, std::void_t<decltype(Red::own_uniform)>> : std::bool_constant<Red::own_uniform> {};

// A reducer whose forward is lane-wise (it uses the window's values, its element
// counts and store(), never index lanes or lin) declares `lane_free`: its stride-2
// loads may then come in the level's raw lane order (Load2Raw; RowWindow, contiguous.h).
template <class Red, class = void>
struct LaneFree : std::false_type {};
template <class Red>
struct LaneFree<Red, std::void_t<decltype(Red::lane_free)>> : std::bool_constant<Red::lane_free> {};

// A reducer whose window reduces as the reduction of its rows' reductions, values and
// indices alike, declares `separable` (traversal/separable.h).
template <class Red, class = void>
struct Separable : std::false_type {};
template <class Red>
struct Separable<Red, std::void_t<decltype(Red::separable)>> : std::bool_constant<Red::separable> {};

template <template <class> class R, class S>
using MultiFor = Unroll<typename PacksFor<S>::Wide, UnrollOf<R<typename PacksFor<S>::Wide>>::value>;

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
