// avg_pool on the Meta dispatch key: output shapes, dtypes and memory formats only, from
// the same checks as the real kernels.
#include <torch/library.h>

#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace meta {
namespace {

using at::IntArrayRef;
using at::Tensor;
using Opt = std::optional<int64_t>;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("avg_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("avg_pool", "_backward");

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
               bool, Opt divisor_override) {
  const PoolCall c(self, avg_pool_args(kOp[ND], ND, k, s, p, ceil_mode));
  divisor_arg(kOp[ND], divisor_override);
  return c.empty(true, self.options());
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, bool ceil_mode, bool, Opt divisor_override) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, avg_pool_args(op, ND, k, s, p, ceil_mode));
  divisor_arg(op, divisor_override);
  c.check_grad_output(grad_output, self, op);
  return c.empty(false, grad_output.options());
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Meta, m) {
#define TP_IMPL(N)                        \
  m.impl("avg_pool" #N "d", &forward<N>); \
  m.impl("avg_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace meta
}  // namespace torchpool
