#pragma once
// Max pooling's CUDA reducer, run by the shared traversals (cuda/traversal.h) from
// max_pool.cu. Torch-free: the Catch2 tests run it on the host against the CPU kernels.

#include <cmath>

#include "torchpool/cuda/traversal.h"

namespace torchpool {
namespace cuda {

// The CPU's rule (ops/cpu/isa/max_pool.cpp), element by element in scan order: v
// replaces the max if v > max or v is NaN. Ties keep the first element, NaN always
// wins and the last NaN is kept; an all -inf window reports its first element.
template <class P, bool Indices>
struct MaxReduce {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  TP_INLINE explicit MaxReduce(const KernelArgs&) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t* indices) const {
    F m = P::set1(-T(INFINITY));
    I at = w.first_index();
    w.visit([&](const F& x, const I& i) {
      const auto up = P::mor(P::gt(x, m), P::isnan(x));
      m = P::select(up, x, m);
      if constexpr (Indices) at = P::iselect(up, i, at);
    });
    w.store(out, m);
    if constexpr (Indices) w.store_idx(indices, at);
  }
};

template <class P>
using MaxValues = MaxReduce<P, false>;
template <class P>
using MaxIndices = MaxReduce<P, true>;

}  // namespace cuda
}  // namespace torchpool
