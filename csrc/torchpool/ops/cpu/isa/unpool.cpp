// Unpooling's kernels, compiled once per CPU level: the routing core's scatter and
// gather. Unpooling has no reducer of its own.
#include "torchpool/ops/cpu/isa/unpool.h"

#include "torchpool/cpu/traversal/kernel_set.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

const UnpoolKernels& unpool_kernels() {
  static constexpr UnpoolKernels k{route_owned_kernels<false>(), route_window_kernels<false>(), route_kernels<false>(),
                                   route_kernels<true>(), gather_kernels()};
  return k;
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
