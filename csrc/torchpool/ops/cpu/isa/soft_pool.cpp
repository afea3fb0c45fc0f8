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
// equal weights), and floored at kFloor, where e_i is 0 (so -inf elements weigh 0
// without 0 * inf). A NaN makes m, and the whole window's result, NaN.
template <class P>
struct SoftReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = true;
  static constexpr bool gathers = true;  // State: value packs (contiguous.h)
  static constexpr T kFloor = T(-1000);  // below the exp's zero in float and double
  explicit SoftReduce(const KernelArgs&) {}

  // Max pooling's rule: NaN wins.
  template <class Win>
  TP_INLINE static F window_max(const Win& w) {
    F m = P::set1(-__builtin_inf());
    w.visit([&](F x, I) { m = P::select(P::mor(P::gt(x, m), P::isnan(x)), x, m); });
    return m;
  }
  TP_INLINE static F shifted(F x, F m) {
    const F d = P::select(P::eq(x, m), P::set1(T(0)), P::sub(x, m));
    return P::select(P::lt(d, P::set1(kFloor)), P::set1(kFloor), d);
  }
  // m, S and c of the window.
  struct Stats {
    F m, s, c;
  };
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    const F m = window_max(w);
    F s = P::set1(T(0)), t = P::set1(T(0));
    w.visit([&](F x, I) {
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
  TP_INLINE State prep(const Win& w, F grad) const {
    const Stats st = stats(w);
    return State{st.m, st.c, P::div(grad, st.s)};
  }
  TP_INLINE F contrib(const State& st, F x, I) const {
    const F d = shifted(x, st.m);
    return P::mul(P::mul(st.scale, P::exp(d)), P::add(P::sub(d, st.c), P::set1(T(1))));
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
