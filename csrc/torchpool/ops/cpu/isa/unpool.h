#pragma once
// Unpooling's CPU kernels, one table per CPU level (unpool.cpp beside this). max_unpool
// and its adjoints are the routing core (route.h); avg_unpool runs average pooling's
// kernels (avg_pool.h), being their adjoint.

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"

namespace torchpool {
namespace cpu {

struct UnpoolKernels {
  KernelSet owned;      // each value to its index: disjoint windows, indices in their windows
  KernelSet route;      // each value to its index, the latest wins: indices in their windows' rows
  KernelSet route_any;  // the same for indices anywhere in the plane
  KernelSet add_any;    // values that share an index summed; indices anywhere
  KernelSet gather;     // out[o] = src[plane, idx[o]]: max_unpool's backward
};

TORCHPOOL_ISA_TABLE(UnpoolKernels, unpool_kernels)

}  // namespace cpu
}  // namespace torchpool
