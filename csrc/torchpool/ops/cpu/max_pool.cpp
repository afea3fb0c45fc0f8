// max_pool on the CPU dispatch key: checks, allocation, then the ISA kernels.
#include <torch/library.h>

#include "torchpool/cpu/launch.h"
#include "torchpool/ops/cpu/isa/max_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("max_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("max_pool", "_backward");

template <int ND>
std::tuple<Tensor, Tensor> forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                   IntArrayRef d, bool ceil_mode, bool with_indices) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  Tensor idx = with_indices ? c.empty(true, self.options().dtype(at::kLong)) : Tensor();
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.indices = with_indices ? idx.data_ptr<int64_t>() : nullptr;
  const MaxPoolKernels& t = max_pool_kernels();
  run_forward((with_indices ? t.forward_indices : t.forward).get(a.layout, a.dtype), a);
  return {out, idx};
}

template <int ND>
Tensor values(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
              bool ceil_mode) {
  return std::get<0>(forward<ND>(self, k, s, p, d, ceil_mode, false));
}

template <int ND>
std::tuple<Tensor, Tensor> with_indices(const Tensor& self, IntArrayRef k, IntArrayRef s,
                                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  return forward<ND>(self, k, s, p, d, ceil_mode, true);
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, const Tensor& indices, IntArrayRef k,
                IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  c.check_pooled_indices(indices, op);
  const Tensor go = c.prepared(grad_output), ix = c.prepared(indices);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.grad_output = go.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.grad_input = gi.data_ptr();
  a.input = nullptr;  // routing by the indices reads no input
  const MaxPoolKernels& t = max_pool_kernels();
  if (!run_owned(t.backward_owned.get(a.layout, a.dtype), a))
    run_backward(t.backward.get(a.layout, a.dtype), a, op);
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CPU, m) {
#define TP_IMPL(N)                                           \
  m.impl("max_pool" #N "d", &values<N>);                     \
  m.impl("max_pool" #N "d_with_indices", &with_indices<N>);  \
  m.impl("max_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cpu
}  // namespace torchpool
