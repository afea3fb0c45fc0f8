#pragma once
// Stochastic pooling's CUDA reducers, run by the shared traversals (cuda/traversal.h)
// from stochastic_pool.cu. Torch-free: the Catch2 tests run them on the host against
// the CPU kernels.

#include <cmath>

#include "torchpool/cuda/traversal.h"
#include "torchpool/ops/cpu/isa/stochastic_pool.h"  // StochasticPoolParams, shared with the CPU

namespace torchpool {
namespace cuda {

// The CPU's reducers (ops/cpu/isa/stochastic_pool.cpp), operation for operation, so the
// picks, values and gradients equal the CPU's bit for bit. Weights w_i = max(x_i, 0)
// over the window's elements inside the input; a window whose weights do not sum to a
// positive finite S is max-pooled (max pooling's rule) in every mode.
template <class P>
struct Weights {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  using M = typename P::M;

  static constexpr T kMinNormal = T(sizeof(T) == 4 ? 1.17549435082228750797e-38 : 2.22507385850720138309e-308);
  TP_INLINE static F weight(const F& x) { return P::select(P::lt(x, P::set1(T(0))), P::set1(T(0)), x); }

  struct Stats {
    F s, max;
    I argmax;
    M as_max;  // the lanes max-pooled
    F r;       // 1 / S
    bool tiny;  // some lane's S is positive but subnormal
  };
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    F s = P::set1(T(0)), m = P::set1(-T(INFINITY));
    I at = w.first_index();
    w.visit([&](const F& x, const I& i) {
      s = P::add(s, weight(x));
      const auto up = P::mor(P::gt(x, m), P::isnan(x));
      m = P::select(up, x, m);
      at = P::iselect(up, i, at);
    });
    const auto ok = P::mand(P::gt(s, P::set1(T(0))), P::lt(s, P::set1(T(INFINITY))));
    const bool tiny = P::any(P::mand(P::gt(s, P::set1(T(0))), P::lt(s, P::set1(kMinNormal))));
    return Stats{s, m, at, P::mnot(ok), P::div(P::set1(T(1)), s), tiny};
  }
  // v / S: times 1/S where S is normal, divided where it is subnormal, lane by lane.
  TP_INLINE static F ratio(const F& v, const F& s, const F& r, bool tiny) {
    const F q = P::mul(v, r);
    return tiny ? P::select(P::lt(s, P::set1(kMinNormal)), P::div(v, s), q) : q;
  }
  // z = sum_i (w_i / S)^2: sum w_i x_i / S = S z, from ratios <= 1 (no overflow, no
  // digits lost to underflow).
  template <class Win>
  TP_INLINE static F squares(const Win& w, const Stats& st) {
    F z = P::set1(T(0));
    w.visit([&](const F& x, const I&) {
      const F q = ratio(weight(x), st.s, st.r, st.tiny);
      z = P::fma(q, q, z);
    });
    return z;
  }
};

// Training: u in [0, 1) from Philox keyed by (seed, offset) and the output's NCDHW
// linear index (w.lin, lane l: + l * lin_step), the CPU's counter; the pick is the
// first element whose running sum of weights passes u * S, or reaches S.
template <class P>
struct SampleReduce : Weights<P> {
  using W = Weights<P>;
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  cpu::StochasticPoolParams key;
  TP_INLINE explicit SampleReduce(const KernelArgs& a) : key(a.params<cpu::StochasticPoolParams>()) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t* indices) const {
    const typename W::Stats st = W::stats(w);
    const F u = P::uniform(key.seed, key.offset, int64_t(w.lin), int64_t(w.lin_step));
    const F threshold = P::mul(u, st.s);
    F sum = P::set1(T(0)), v = st.max;
    I at = st.argmax;
    auto done = st.as_max;
    w.visit([&](const F& x, const I& i) {
      sum = P::add(sum, W::weight(x));
      const auto hit = P::mand(P::mnot(done), P::mor(P::gt(sum, threshold), P::eq(sum, st.s)));
      v = P::select(hit, x, v);
      at = P::iselect(hit, i, at);
      done = P::mor(done, hit);
    });
    w.store(out, v);
    w.store_idx(indices, at);
  }
};

// Evaluation: y = S z; dy/dx_i = grad (2 x_i / S - z) where x_i > 0, else 0; a
// max-pooled window sends the gradient to its argmax.
template <class P>
struct EvalReduce : Weights<P> {
  using W = Weights<P>;
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  using M = typename P::M;
  static constexpr bool needs_input = true;
  TP_INLINE explicit EvalReduce(const KernelArgs&) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    const typename W::Stats st = W::stats(w);
    w.store(out, P::select(st.as_max, st.max, P::mul(st.s, W::squares(w, st))));
  }

  struct State {
    F s, r, z, grad;
    I argmax;
    M as_max;
    bool tiny;
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, const F& grad) const {
    const typename W::Stats st = W::stats(w);
    return State{st.s, st.r, W::squares(w, st), grad, st.argmax, st.as_max, st.tiny};
  }
  TP_INLINE F contrib(const State& st, const F& x, const I& i) const {
    const F zero = P::set1(T(0));
    const F q = W::ratio(x, st.s, st.r, st.tiny);
    const F weighted = P::select(P::gt(x, zero), P::mul(st.grad, P::sub(P::add(q, q), st.z)), zero);
    const F routed = P::select(P::ieq(i, st.argmax), st.grad, zero);
    return P::select(st.as_max, routed, weighted);
  }
};

}  // namespace cuda
}  // namespace torchpool
