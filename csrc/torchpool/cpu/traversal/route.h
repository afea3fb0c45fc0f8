#pragma once
// The one routing core: moves each value to the position its index names within its
// plane. Max-pool backward, stochastic-pool backward (training) and max_unpool
// forward scatter with it (adding, or assigning so that the latest in scan order
// wins); their adjoints gather with it. Sources are laid out like the pooled tensor
// (g.out_plane() per plane), destinations like the unpooled one (g.in_plane()).
//
// Work items are those of the backward traversals: a band of destination rows of one
// plane (contiguous), or a block of channels of one batch element (channels-last).
// Every item scans its planes' sources in scan order and writes only its own
// destinations, so results do not depend on the thread count.

#include <cstring>
#include <type_traits>

#include "torchpool/cpu/traversal/contiguous.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

TP_INLINE void report_bad_index(const KernelArgs& a, int64_t i) {
  if (a.bad_index) {
    __atomic_store_n(a.bad_index + 1, i, __ATOMIC_RELAXED);
    __atomic_store_n(a.bad_index, 1, __ATOMIC_RELAXED);
  }
}

// dst[plane, idx[o]] += src[o] (Add) or = src[o]; destinations no source names are 0.
template <class S, bool Add>
void route_scatter(const KernelArgs& a, int64_t begin, int64_t end) {
  using T = typename PacksFor<S>::T;
  using A = std::conditional_t<Add, T, S>;  // the accumulator: sums in T, copies as they are
  constexpr bool direct = sizeof(A) == sizeof(S);
  const Geometry& g = a.g;
  const S* src = static_cast<const S*>(a.grad_output);
  const int64_t* idx = a.grad_indices;
  S* dst = static_cast<S*>(a.grad_input);
  const int64_t sp_src = g.out_plane(), sp_dst = g.in_plane(), width = g.dim[2].in;
  auto put = [](A& d, S v) {
    if constexpr (Add) d += widen(v); else d = v;
  };
  if (a.layout == Layout::contiguous) {
    const int64_t nrows = g.dim[0].in * g.dim[1].in;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t plane = item / a.bands, band = item % a.bands;
      const int64_t d0 = band * nrows / a.bands * width, d1 = (band + 1) * nrows / a.bands * width;
      // acc[i] for destinations i in [d0, d1)
      A* acc = direct ? reinterpret_cast<A*>(dst + plane * sp_dst) : static_cast<A*>(a.scratch) - d0;
      std::memset(static_cast<void*>(acc + d0), 0, sizeof(A) * (d1 - d0));
      const S* sv = src + plane * sp_src;
      const int64_t* si = idx + plane * sp_src;
      for (int64_t o = 0; o < sp_src; ++o) {
        const int64_t i = si[o];
        if (uint64_t(i) >= uint64_t(sp_dst)) {
          report_bad_index(a, i);
        } else if (i >= d0 && i < d1) {
          put(acc[i], sv[o]);
        }
      }
      if constexpr (!direct) narrow_all(dst + plane * sp_dst + d0, acc + d0, d1 - d0);
    }
    return;
  }
  const int64_t C = g.channels, blocks = (C + a.cblock - 1) / a.cblock;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t n = item / blocks, c0 = (item % blocks) * a.cblock;
    const int64_t cw = (c0 + a.cblock < C ? c0 + a.cblock : C) - c0;
    // acc[i * astride + c - c0] for channel c of destination pixel i
    A* acc = direct ? reinterpret_cast<A*>(dst) + n * sp_dst * C + c0 : static_cast<A*>(a.scratch);
    const int64_t astride = direct ? C : cw;
    for (int64_t i = 0; i < sp_dst; ++i) std::memset(static_cast<void*>(acc + i * astride), 0, sizeof(A) * cw);
    for (int64_t o = 0; o < sp_src; ++o) {
      const S* sv = src + (n * sp_src + o) * C + c0;
      const int64_t* si = idx + (n * sp_src + o) * C + c0;
      for (int64_t c = 0; c < cw; ++c) {
        const int64_t i = si[c];
        if (uint64_t(i) >= uint64_t(sp_dst))
          report_bad_index(a, i);
        else
          put(acc[i * astride + c], sv[c]);
      }
    }
    if constexpr (!direct)
      for (int64_t i = 0; i < sp_dst; ++i) narrow_all(dst + (n * sp_dst + i) * C + c0, acc + i * cw, cw);
  }
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
