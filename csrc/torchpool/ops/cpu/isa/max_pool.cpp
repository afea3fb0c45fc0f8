// Max pooling's reducer: compiled once per CPU level.
#include "torchpool/ops/cpu/isa/max_pool.h"

#include "torchpool/cpu/traversal/kernel_set.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {
namespace {

// torch's rule, element by element in scan order: v replaces the max if v > max or v
// is NaN. Ties keep the first element, NaN always wins and the last NaN is kept; an
// all -inf window reports its first element (the max starts at -inf there).
template <class P, bool Indices>
struct MaxReduce {
  using F = typename P::F;
  using I = typename P::I;
  static constexpr bool lane_free = !Indices;  // (vec.h)
  static constexpr bool separable = true;      // (traversal/separable.h)
  explicit MaxReduce(const KernelArgs&) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t* indices) const {
    F m = P::set1(-__builtin_inf());
    I at = w.first_index();
    w.visit([&](F x, I i) {
      if constexpr (Indices) {
        const auto up = P::mor(P::gt(x, m), P::isnan(x));
        m = P::select(up, x, m);
        at = P::iselect(up, i, at);
      } else {
        // The same rule in one operation less: max(x, m) is x where x > m, else m
        // (and m where either is NaN: x's NaN is then put back).
        m = P::select(P::isnan(x), x, P::max(x, m));
      }
    });
    w.store(out, m);
    if constexpr (Indices) w.store_idx(indices, at);
  }
};

template <class P>
using MaxValues = MaxReduce<P, false>;
template <class P>
using MaxIndices = MaxReduce<P, true>;

}  // namespace

const MaxPoolKernels& max_pool_kernels() {
  static constexpr MaxPoolKernels k{forward_kernels<MaxValues>(), forward_kernels<MaxIndices>(),
                                    route_backward_kernels(), route_owned_kernels<true>()};
  return k;
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
