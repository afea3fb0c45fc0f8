// stochastic_pool on the Meta dispatch key: output shapes, dtypes and memory formats only, from
// the same checks as the real kernels.
#include <torch/library.h>

#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace meta {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "");
constexpr const char* kEvalOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval");
constexpr const char* kEvalBackwardOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval_backward");

template <int ND>
std::tuple<Tensor, Tensor> sample(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                  IntArrayRef d, bool ceil_mode, int64_t, int64_t) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  return {c.empty(true, self.options()), c.empty(true, self.options().dtype(at::kLong))};
}

template <int ND>
Tensor eval(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
            bool ceil_mode) {
  return PoolCall(self, pool_args(kEvalOp[ND], ND, k, s, p, d, ceil_mode)).empty(true, self.options());
}

template <int ND>
Tensor eval_backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                     IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kEvalBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  return c.empty(false, grad_output.options());
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Meta, m) {
#define TP_IMPL(N)                                       \
  m.impl("stochastic_pool" #N "d", &sample<N>);          \
  m.impl("stochastic_pool" #N "d_eval", &eval<N>);       \
  m.impl("stochastic_pool" #N "d_eval_backward", &eval_backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace meta
}  // namespace torchpool
