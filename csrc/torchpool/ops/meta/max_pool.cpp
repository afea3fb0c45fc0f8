// max_pool on the Meta dispatch key: output shapes, dtypes and memory formats only
// (for torch.compile and opcheck), from the same checks as the real kernels.
#include <torch/library.h>

#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace meta {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("max_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("max_pool", "_backward");

template <int ND>
Tensor values(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
              bool ceil_mode) {
  return PoolCall(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode)).empty(true, self.options());
}

template <int ND>
std::tuple<Tensor, Tensor> with_indices(const Tensor& self, IntArrayRef k, IntArrayRef s,
                                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  return {c.empty(true, self.options()), c.empty(true, self.options().dtype(at::kLong))};
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, const Tensor& indices, IntArrayRef k,
                IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  c.check_pooled_indices(indices, op);
  return c.empty(false, grad_output.options());
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Meta, m) {
#define TP_IMPL(N)                                           \
  m.impl("max_pool" #N "d", &values<N>);                     \
  m.impl("max_pool" #N "d_with_indices", &with_indices<N>);  \
  m.impl("max_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace meta
}  // namespace torchpool
