#pragma once
// Average pooling's CUDA reducer, run by the shared traversals (cuda/traversal.h) from
// avg_pool.cu. Torch-free: the Catch2 tests run it on the host against the CPU kernels.

#include "torchpool/cuda/traversal.h"
#include "torchpool/ops/cpu/isa/avg_pool.h"  // AvgPoolParams, shared with the CPU

namespace torchpool {
namespace cuda {

// As on the CPU (ops/cpu/isa/avg_pool.cpp): the sum in scan order from 0, divided
// once, so results equal the CPU's (and torch's) bit for bit. The divisor:
// divisor_override, else the padded count (count_include_pad) or the valid count.
template <class P>
struct AvgReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = false;
  cpu::AvgPoolParams prm;
  TP_INLINE explicit AvgReduce(const KernelArgs& a) : prm(a.params<cpu::AvgPoolParams>()) {}

  template <class Win>
  TP_INLINE F divisor(const Win& w) const {
    return P::set1(T(prm.divisor_override ? prm.divisor_override
                                          : prm.count_include_pad ? w.padded : w.valid));
  }
  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    F sum = P::set1(T(0));
    w.visit([&](const F& x, const I&) { sum = P::add(sum, x); });
    w.store(out, P::div(sum, divisor(w)));
  }

  // Backward: every element of the window receives grad / divisor.
  struct State {
    F delta;
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, const F& grad) const {
    return State{P::div(grad, divisor(w))};
  }
  TP_INLINE F contrib(const State& st, const F&, const I&) const { return st.delta; }
};

}  // namespace cuda
}  // namespace torchpool
