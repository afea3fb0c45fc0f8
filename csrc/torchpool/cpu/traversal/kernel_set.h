#pragma once
// Builds a family's KernelSets (one kernel per layout and dtype) from a reducer and
// the shared traversals. Used by the ISA sources in ops/cpu/isa/.

#include "torchpool/cpu/traversal/channels_last.h"
#include "torchpool/cpu/traversal/contiguous.h"
#include "torchpool/cpu/traversal/route.h"
#include "torchpool/cpu/traversal/separable.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

template <template <class> class R>
constexpr KernelSet forward_kernels() {
  return KernelSet{{{&forward_contiguous<R, float>, &forward_contiguous<R, double>,
                     &forward_contiguous<R, half>, &forward_contiguous<R, bf16>},
                    {&forward_channels_last<R, float>, &forward_channels_last<R, double>,
                     &forward_channels_last<R, half>, &forward_channels_last<R, bf16>}}};
}

template <template <class> class R>
constexpr KernelSet backward_kernels() {
  return KernelSet{{{&backward_contiguous<R, float>, &backward_contiguous<R, double>,
                     &backward_contiguous<R, half>, &backward_contiguous<R, bf16>},
                    {&backward_channels_last<R, float>, &backward_channels_last<R, double>,
                     &backward_channels_last<R, half>, &backward_channels_last<R, bf16>}}};
}

// The routing core (route.h) for indices anywhere in the plane: both layouts.
template <bool Add>
constexpr KernelSet route_kernels() {
  return KernelSet{{{&route_scatter<float, Add, false>, &route_scatter<double, Add, false>,
                     &route_scatter<half, Add, false>, &route_scatter<bf16, Add, false>},
                    {&route_scatter<float, Add, false>, &route_scatter<double, Add, false>,
                     &route_scatter<half, Add, false>, &route_scatter<bf16, Add, false>}}};
}

// The routing core where each index lies in its output's window (rows).
template <bool Add>
constexpr KernelSet route_window_kernels() {
  return KernelSet{{{&route_scatter<float, Add, true>, &route_scatter<double, Add, true>,
                     &route_scatter<half, Add, true>, &route_scatter<bf16, Add, true>},
                    {&route_scatter<float, Add, true>, &route_scatter<double, Add, true>,
                     &route_scatter<half, Add, true>, &route_scatter<bf16, Add, true>}}};
}

// The routing core for a pooling backward: each index lies in its output's window.
constexpr KernelSet route_backward_kernels() { return route_window_kernels<true>(); }

// The routing core as a gather (run_owned): channels-last route_owned (and route_held
// where windows of up to 9 elements overlap, 32- and 64-bit storage), contiguous
// route_owned_rows.
template <bool Add>
constexpr KernelSet route_owned_kernels() {
  return KernelSet{{{&route_owned_rows<float, Add>, &route_owned_rows<double, Add>, &route_owned_rows<half, Add>,
                     &route_owned_rows<bf16, Add>},
                    {&route_owned<float, Add>, &route_owned<double, Add>, &route_owned<half, Add>,
                     &route_owned<bf16, Add>}}};
}

// The routing core's gather (the scatter's adjoint): both layouts.
constexpr KernelSet gather_kernels() {
  return KernelSet{{{&route_gather<float>, &route_gather<double>, &route_gather<half>, &route_gather<bf16>},
                    {&route_gather<float>, &route_gather<double>, &route_gather<half>, &route_gather<bf16>}}};
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
