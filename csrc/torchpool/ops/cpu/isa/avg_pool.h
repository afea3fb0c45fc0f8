#pragma once
// Average pooling's CPU kernels, one table per CPU level (avg_pool.cpp beside this).

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"

namespace torchpool {
namespace cpu {

struct AvgPoolParams {
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

struct AvgPoolKernels {
  KernelSet forward;
  KernelSet backward;  // spreads grad_output over each window; also avg_unpool's forward
};

TORCHPOOL_ISA_TABLE(AvgPoolKernels, avg_pool_kernels)

}  // namespace cpu
}  // namespace torchpool
