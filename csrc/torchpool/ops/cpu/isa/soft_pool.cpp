// Soft pooling's reducer: compiled once per CPU level.
#include "torchpool/ops/cpu/isa/soft_pool.h"

#include "torchpool/cpu/traversal/kernel_set.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {
namespace {

// y = sum_i w_i x_i with w_i = e^{x_i} / sum_j e^{x_j}, over the window's elements
// inside the input. Written around the window max m, with d_i = x_i - m:
// e_i = e^{d_i} <= 1, S = sum e_i >= 1, c = sum e_i d_i / S, so y = m + c and
// dy/dx_i = (e_i / S)(1 + d_i - c): no overflow whatever the input, one exp per
// element in the forward. Infinities: d_i is 0 where x_i equals m (so +inf elements
// share the weight of a window holding +inf, and an all -inf window gives -inf with
// equal weights), and floored at the exp's zero (P::exp_floor), where e_i is 0 (so
// -inf elements weigh 0 without 0 * inf). A NaN makes the whole window's result NaN.
template <class P>
struct SoftReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = true;
  static constexpr bool gathers = true;  // State: value packs (contiguous.h)
  static constexpr bool lane_free = true;  // the forward (vec.h)
  // A pack's exp takes a dozen constants and its sums two registers: 4 packs at once
  // spilled on AVX2. In-cache, 1 thread, 2x2 s2 float32, 2 packs against 4: channels-last
  // forward 0.82x the time, contiguous forward 0.99x, channels-last backward 1.04x.
  static constexpr bool bulky = true;
  explicit SoftReduce(const KernelArgs&) {}

  // e_i, with d set to d_i (floored). Finite m: x_i - m is 0 where x_i equals m anyway.
  template <bool InfM = true>
  TP_INLINE static F weight(F x, const F& m, F& d) {
    d = P::sub(x, m);
    if constexpr (InfM) d = P::select(P::eq(x, m), P::set1(T(0)), d);
    return P::exp_floor(d);
  }
  // m, S and c of the window. The max ignores a NaN (P::max keeps m), which makes the
  // sums, and so the result and the gradient, NaN all the same. keep(e_i, d_i) sees
  // each element's terms.
  struct Stats {
    F m, s, c;
  };
  template <bool InfM, class Win, class Keep>
  TP_INLINE static Stats sums(const Win& w, const F& m, Keep&& keep) {
    F s = P::set1(T(0)), t = P::set1(T(0));
    w.visit([&](F x, I) {
      F d;
      const F e = weight<InfM>(x, m, d);
      s = P::add(s, e);
      t = P::fma(e, d, t);
      keep(e, d);
    });
    return Stats{m, s, P::div(t, s)};
  }
  template <class Win, class Keep>
  TP_INLINE static Stats stats(const Win& w, Keep&& keep) {
    F m = P::set1(-T(INFINITY));
    w.visit([&](F x, I) { m = P::max(m, x); });
    return P::any(P::isnan(P::sub(m, m))) ? sums<true>(w, m, keep) : sums<false>(w, m, keep);
  }
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    return stats(w, [](const F&, const F&) {});
  }

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    const Stats st = stats(w);
    w.store(out, P::add(st.m, st.c));
  }

  struct State {
    F m, c1, scale;  // c1: 1 - c; scale: grad / S
  };
  TP_INLINE static State state(const Stats& st, F grad) {
    return State{st.m, P::sub(P::set1(T(1)), st.c), P::div(grad, st.s)};
  }
  TP_INLINE static F contrib(const State& st, const F& e, const F& d) {
    return P::mul(P::mul(st.scale, e), P::add(d, st.c1));
  }
  template <class Win>
  TP_INLINE State prep(const Win& w, F grad) const {
    return state(stats(w), grad);
  }
  TP_INLINE F contrib(const State& st, F x, I) const {
    F d;
    const F e = weight(x, st.m, d);
    return contrib(st, e, d);
  }
  // A window no other window shares an element with (contiguous.h, backward_owned):
  // its elements' contributions in visit order, each e_i kept from the sums rather
  // than taken again; the same bits as the gather's sum of the one contribution from 0.
  static constexpr int own_taps = 16;
  template <class Win>
  TP_INLINE void own(const Win& w, F grad, F* out) const {
    F e[own_taps], d[own_taps];
    int n = 0;
    const State st = state(stats(w, [&](const F& ei, const F& di) { e[n] = ei, d[n++] = di; }), grad);
    for (int k = 0; k < n; ++k) out[k] = P::add(P::set1(T(0)), contrib(st, e[k], d[k]));
  }
};

}  // namespace

const SoftPoolKernels& soft_pool_kernels() {
  static constexpr SoftPoolKernels k{forward_kernels<SoftReduce>(), backward_kernels<SoftReduce>()};
  return k;
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
