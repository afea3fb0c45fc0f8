#pragma once
// Stochastic pooling's CPU kernels, one table per CPU level (stochastic_pool.cpp beside
// this).

#include <cstdint>

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"

namespace torchpool {
namespace cpu {

// The Philox key of a sampling call (KernelArgs::params of `sample`).
struct StochasticPoolParams {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct StochasticPoolKernels {
  KernelSet sample;         // training: values and indices of the picks
  KernelSet eval;           // evaluation: sum w x / sum w
  KernelSet eval_backward;  // its gradient (the training gradient is max pooling's routing)
  // out[i] = the uniform the sampling kernels draw for linear index first + i * step,
  // i < n (the known-answer tests check every level against philox.h with it).
  void (*uniforms)(uint64_t seed, uint64_t offset, int64_t first, int64_t step, int64_t n, float* out);
};

TORCHPOOL_ISA_TABLE(StochasticPoolKernels, stochastic_pool_kernels)

}  // namespace cpu
}  // namespace torchpool
