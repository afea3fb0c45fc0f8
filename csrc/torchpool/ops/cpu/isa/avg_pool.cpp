// Average pooling's reducer: compiled once per CPU level.
#include "torchpool/ops/cpu/isa/avg_pool.h"

#include "torchpool/cpu/traversal/kernel_set.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {
namespace {

// Sums in scan order from 0 and divides once, as torch does, so float results match
// torch's bit for bit. The divisor: divisor_override, else the padded count
// (count_include_pad) or the count of elements inside the input.
template <class P>
struct AvgReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool needs_input = false;
  static constexpr bool gathers = true;  // State: value packs (contiguous.h)
  static constexpr bool zero_state_adds_zero = true;  // contrib is the state (vec.h)
  static constexpr bool lane_free = true;  // the forward (vec.h)
  AvgPoolParams prm;
  explicit AvgReduce(const KernelArgs& a) : prm(*static_cast<const AvgPoolParams*>(a.params)) {}

  template <class Win>
  TP_INLINE F divisor(const Win& w) const {
    return P::set1(T(prm.divisor_override ? prm.divisor_override
                                          : prm.count_include_pad ? w.padded : w.valid));
  }
  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    F sum = P::set1(T(0));
    w.visit([&](F x, I) { sum = P::add(sum, x); });
    w.store(out, P::div(sum, divisor(w)));
  }

  // Backward: every element of the window receives grad / divisor.
  struct State {
    F delta;
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, F grad) const {
    return State{P::div(grad, divisor(w))};
  }
  TP_INLINE F contrib(const State& st, F, I) const { return st.delta; }
  // A window no other window shares an element with (contiguous.h, backward_owned):
  // grad / divisor for each of its elements, as the gather's sum from 0 gives it.
  static constexpr int own_taps = 64;
  static constexpr bool own_uniform = true;  // (vec.h)
  template <class Win>
  TP_INLINE void own(const Win& w, F grad, F* out) const {
    const F c = P::add(P::set1(T(0)), prep(w, grad).delta);
    for (int64_t k = 0; k < w.valid; ++k) out[k] = c;
  }
};

}  // namespace

const AvgPoolKernels& avg_pool_kernels() {
  static constexpr AvgPoolKernels k{forward_kernels<AvgReduce>(), backward_kernels<AvgReduce>()};
  return k;
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
