// soft_pool on the CPU dispatch key: checks, allocation, then the ISA kernels.
#include <torch/library.h>

#include "torchpool/cpu/launch.h"
#include "torchpool/ops/cpu/isa/soft_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("soft_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("soft_pool", "_backward");

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
               bool ceil_mode) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  run_forward(soft_pool_kernels().forward.get(a.layout, a.dtype), a);
  return out;
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  const Tensor go = c.prepared(grad_output), x = c.prepared(self);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.grad_output = go.const_data_ptr();
  a.grad_input = gi.data_ptr();
  run_backward(soft_pool_kernels().backward.get(a.layout, a.dtype), a, op);
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CPU, m) {
#define TP_IMPL(N)                         \
  m.impl("soft_pool" #N "d", &forward<N>); \
  m.impl("soft_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cpu
}  // namespace torchpool
