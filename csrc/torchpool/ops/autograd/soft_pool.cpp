// soft_pool on the Autograd dispatch key (C++, so LibTorch programs get gradients).
// The backward re-reads the input and recomputes each window's weights.
#include <torch/library.h>

#include "torchpool/ops/autograd/saved.h"
#include "torchpool/ops/pooling.h"
#include "torchpool/ops/soft_pool.h"

namespace torchpool {
namespace autograd {
namespace {

using at::IntArrayRef;
using at::Tensor;

template <int ND>
Tensor forward_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::soft_pool1d(x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::soft_pool2d(x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::soft_pool3d(x, k, s, p, d, c);
}
template <int ND>
Tensor backward_op(const Tensor& g, const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                   IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::soft_pool1d_backward(g, x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::soft_pool2d_backward(g, x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::soft_pool3d_backward(g, x, k, s, p, d, c);
}

constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("soft_pool", "_backward");

// The backward as an op of its own; its gradient (a second derivative) is not provided.
template <int ND>
struct SoftPoolBackward : public torch::autograd::Function<SoftPoolBackward<ND>> {
  static Tensor forward(AutogradContext*, const Tensor& grad_output, const Tensor& self, IntArrayRef k,
                        IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return backward_op<ND>(grad_output, self, k, s, p, d, ceil_mode);
  }
  static variable_list backward(AutogradContext*, variable_list) {
    TORCH_CHECK(false, kBackwardOp[ND], ": double backward (the gradient of the gradient) is not implemented");
  }
};

template <int ND>
struct SoftPool : public torch::autograd::Function<SoftPool<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k, IntArrayRef s,
                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({self});
    save_ints(ctx, {{"k", k}, {"s", s}, {"p", p}, {"d", d}});
    ctx->saved_data["ceil_mode"] = ceil_mode;
    return forward_op<ND>(self, k, s, p, d, ceil_mode);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor self = ctx->get_saved_variables()[0];
    return grads({SoftPoolBackward<ND>::apply(g[0], self, ints(ctx, "k"), ints(ctx, "s"), ints(ctx, "p"),
                                              ints(ctx, "d"), ctx->saved_data["ceil_mode"].toBool())},
                 5);
  }
};

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
               bool ceil_mode) {
  return SoftPool<ND>::apply(self, k, s, p, d, ceil_mode);
}
template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  return SoftPoolBackward<ND>::apply(grad_output, self, k, s, p, d, ceil_mode);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Autograd, m) {
#define TP_IMPL(N)                         \
  m.impl("soft_pool" #N "d", &forward<N>); \
  m.impl("soft_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace autograd
}  // namespace torchpool
