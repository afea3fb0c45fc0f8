#pragma once
// Max pooling's CPU kernels, one table per CPU level (max_pool.cpp beside this).

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"

namespace torchpool {
namespace cpu {

struct MaxPoolKernels {
  KernelSet forward;          // values only
  KernelSet forward_indices;  // values and indices
  KernelSet backward;         // routes grad_output by the indices (route.h)
  KernelSet backward_owned;   // the same as a gather (run_owned)
};

TORCHPOOL_ISA_TABLE(MaxPoolKernels, max_pool_kernels)

}  // namespace cpu
}  // namespace torchpool
