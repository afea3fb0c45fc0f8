// stochastic_pool on the CPU dispatch key: checks, allocation, then the ISA kernels.
// The training backward is max pooling's (routing by the indices): no kernel here.
#include <torch/library.h>

#include "torchpool/cpu/launch.h"
#include "torchpool/ops/cpu/isa/stochastic_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "");
constexpr const char* kEvalOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval");
constexpr const char* kEvalBackwardOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval_backward");

template <int ND>
std::tuple<Tensor, Tensor> sample(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                  IntArrayRef d, bool ceil_mode, int64_t seed, int64_t offset) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  const StochasticPoolParams key{uint64_t(seed), uint64_t(offset)};
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  Tensor idx = c.empty(true, self.options().dtype(at::kLong));
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.indices = idx.data_ptr<int64_t>();
  a.params = &key;
  run_forward(stochastic_pool_kernels().sample.get(a.layout, a.dtype), a);
  return {out, idx};
}

template <int ND>
Tensor eval(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
            bool ceil_mode) {
  const PoolCall c(self, pool_args(kEvalOp[ND], ND, k, s, p, d, ceil_mode));
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  run_forward(stochastic_pool_kernels().eval.get(a.layout, a.dtype), a);
  return out;
}

template <int ND>
Tensor eval_backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                     IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kEvalBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  const Tensor go = c.prepared(grad_output), x = c.prepared(self);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.grad_output = go.const_data_ptr();
  a.grad_input = gi.data_ptr();
  run_backward(stochastic_pool_kernels().eval_backward.get(a.layout, a.dtype), a, op);
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CPU, m) {
#define TP_IMPL(N)                                       \
  m.impl("stochastic_pool" #N "d", &sample<N>);          \
  m.impl("stochastic_pool" #N "d_eval", &eval<N>);       \
  m.impl("stochastic_pool" #N "d_eval_backward", &eval_backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cpu
}  // namespace torchpool
