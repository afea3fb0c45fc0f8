#pragma once
// Soft pooling's CUDA reducer, run by the shared traversals (cuda/traversal.h) from
// soft_pool.cu. Torch-free: the Catch2 tests run it on the host against the CPU kernels.

#include <cmath>

#include "torchpool/cuda/traversal.h"

namespace torchpool {
namespace cuda {

// The CPU's reducer (ops/cpu/isa/soft_pool.cpp), operation for operation, with the CPU's
// exp (pack.h): around the window max m, d_i = x_i - m (0 where x_i equals m, floored at
// kFloor where e^d is 0), e_i = e^{d_i}, S = sum e_i, c = sum e_i d_i / S; y = m + c and
// dy/dx_i = (e_i / S)(1 + d_i - c). No overflow whatever the input; a NaN makes the
// window's result NaN.
template <class P>
struct SoftReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = true;
  TP_INLINE explicit SoftReduce(const KernelArgs&) {}

  TP_INLINE static F floor_value() { return P::set1(T(-1000)); }  // below the exp's zero
  // Max pooling's rule: NaN wins.
  template <class Win>
  TP_INLINE static F window_max(const Win& w) {
    F m = P::set1(-T(INFINITY));
    w.visit([&](const F& x, const I&) { m = P::select(P::mor(P::gt(x, m), P::isnan(x)), x, m); });
    return m;
  }
  TP_INLINE static F shifted(const F& x, const F& m) {
    const F d = P::select(P::eq(x, m), P::set1(T(0)), P::sub(x, m));
    return P::select(P::lt(d, floor_value()), floor_value(), d);
  }
  struct Stats {
    F m, s, c;
  };
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    const F m = window_max(w);
    F s = P::set1(T(0)), t = P::set1(T(0));
    w.visit([&](const F& x, const I&) {
      const F d = shifted(x, m), e = P::exp(d);
      s = P::add(s, e);
      t = P::add(t, P::mul(e, d));
    });
    return Stats{m, s, P::div(t, s)};
  }

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    const Stats st = stats(w);
    w.store(out, P::add(st.m, st.c));
  }

  struct State {
    F m, c, scale;  // scale: grad / S
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, const F& grad) const {
    const Stats st = stats(w);
    return State{st.m, st.c, P::div(grad, st.s)};
  }
  TP_INLINE F contrib(const State& st, const F& x, const I&) const {
    const F d = shifted(x, st.m);
    return P::mul(P::mul(st.scale, P::exp(d)), P::add(P::sub(d, st.c), P::set1(T(1))));
  }
};

}  // namespace cuda
}  // namespace torchpool
