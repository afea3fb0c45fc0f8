// soft_pool on the CUDA dispatch key: the CPU's checks, shapes and memory formats
// (PoolCall), then the shared CUDA traversals with soft pooling's reducer
// (soft_pool.h): the forward per output, the backward gathered per input element.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "torchpool/cuda/kernels.cuh"
#include "torchpool/ops/cuda/soft_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cuda {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("soft_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("soft_pool", "_backward");

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
               bool ceil_mode) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  KernelArgs a;
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  run_forward<SoftReduce>(a, c, self.scalar_type());
  return out;
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  check_device(grad_output, self, op, "grad_output");
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor go = c.prepared(grad_output), x = c.prepared(self);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a;
  a.input = x.const_data_ptr();
  a.grad_output = go.const_data_ptr();
  a.grad_input = gi.data_ptr();
  run_backward<SoftReduce>(a, c, self.scalar_type());
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CUDA, m) {
#define TP_IMPL(N)                         \
  m.impl("soft_pool" #N "d", &forward<N>); \
  m.impl("soft_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cuda
}  // namespace torchpool
