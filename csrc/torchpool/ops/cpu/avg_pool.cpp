// avg_pool on the CPU dispatch key: checks, allocation, then the ISA kernels.
#include <torch/library.h>

#include "torchpool/cpu/launch.h"
#include "torchpool/ops/cpu/isa/avg_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {
namespace {

using at::IntArrayRef;
using at::Tensor;
using Opt = std::optional<int64_t>;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("avg_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("avg_pool", "_backward");

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
               bool count_include_pad, Opt divisor_override) {
  const PoolCall c(self, avg_pool_args(kOp[ND], ND, k, s, p, ceil_mode));
  const AvgPoolParams prm{count_include_pad, divisor_arg(kOp[ND], divisor_override)};
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.params = &prm;
  run_forward(avg_pool_kernels().forward.get(a.layout, a.dtype), a);
  return out;
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, bool ceil_mode, bool count_include_pad, Opt divisor_override) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, avg_pool_args(op, ND, k, s, p, ceil_mode));
  const AvgPoolParams prm{count_include_pad, divisor_arg(op, divisor_override)};
  c.check_grad_output(grad_output, self, op);
  const Tensor go = c.prepared(grad_output);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.grad_output = go.const_data_ptr();
  a.grad_input = gi.data_ptr();
  a.params = &prm;
  run_backward(avg_pool_kernels().backward.get(a.layout, a.dtype), a, op);
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CPU, m) {
#define TP_IMPL(N)                        \
  m.impl("avg_pool" #N "d", &forward<N>); \
  m.impl("avg_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cpu
}  // namespace torchpool
