#pragma once
// Soft pooling's CPU kernels, one table per CPU level (soft_pool.cpp beside this).

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"

namespace torchpool {
namespace cpu {

struct SoftPoolKernels {
  KernelSet forward;
  KernelSet backward;  // re-reads the input: the exact gradient w_i (1 + x_i - y)
};

TORCHPOOL_ISA_TABLE(SoftPoolKernels, soft_pool_kernels)

}  // namespace cpu
}  // namespace torchpool
