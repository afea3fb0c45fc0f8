#pragma once
// Soft pooling's CUDA reducer, run by the shared traversals (cuda/traversal.h) from
// soft_pool.cu. Torch-free: the Catch2 tests run it on the host against the CPU kernels.

#include <cmath>

#include "torchpool/cuda/traversal.h"

namespace torchpool {
namespace cuda {

// The CPU's reducer (ops/cpu/isa/soft_pool.cpp), operation for operation, with the CPU's
// exp (pack.h): around the window max m, d_i = x_i - m (0 where x_i equals m, floored
// where e^d is 0), e_i = e^{d_i}, S = sum e_i, c = sum e_i d_i / S; y = m + c and
// dy/dx_i = (e_i / S)(1 + d_i - c). No overflow whatever the input; a NaN makes the
// window's result NaN.
template <class P>
struct SoftReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = true;
  TP_INLINE explicit SoftReduce(const KernelArgs&) {}

  // e_i, with d set to d_i (floored). Finite m: x_i - m is 0 where x_i equals m anyway.
  template <bool InfM = true>
  TP_INLINE static F weight(const F& x, const F& m, F& d) {
    d = P::sub(x, m);
    if constexpr (InfM) d = P::select(P::eq(x, m), P::set1(T(0)), d);
    return P::exp_floor(d);
  }
  // m, S and c of the window. The max ignores a NaN (P::max keeps m), which makes the
  // sums, and so the result and the gradient, NaN all the same.
  struct Stats {
    F m, s, c;
  };
  template <bool InfM, class Win>
  TP_INLINE static Stats sums(const Win& w, const F& m) {
    F s = P::set1(T(0)), t = P::set1(T(0));
    w.visit([&](const F& x, const I&) {
      F d;
      const F e = weight<InfM>(x, m, d);
      s = P::add(s, e);
      t = P::fma(e, d, t);
    });
    return Stats{m, s, P::div(t, s)};
  }
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    F m = P::set1(-T(INFINITY));
    w.visit([&](const F& x, const I&) { m = P::max(m, x); });
    return P::any(P::isnan(P::sub(m, m))) ? sums<true>(w, m) : sums<false>(w, m);
  }

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    const Stats st = stats(w);
    w.store(out, P::add(st.m, st.c));
  }

  struct State {
    F m, c1, scale;  // c1: 1 - c; scale: grad / S
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, const F& grad) const {
    const Stats st = stats(w);
    return State{st.m, P::sub(P::set1(T(1)), st.c), P::div(grad, st.s)};
  }
  TP_INLINE F contrib(const State& st, const F& x, const I&) const {
    F d;
    const F e = weight(x, st.m, d);
    return P::mul(P::mul(st.scale, e), P::add(d, st.c1));
  }
};

}  // namespace cuda
}  // namespace torchpool
