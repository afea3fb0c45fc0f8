// max_pool on the Autograd dispatch key, in C++ so that LibTorch programs get
// gradients too. The forward keeps the indices; the backward routes by them.
#include <torch/library.h>

#include "torchpool/ops/autograd/saved.h"
#include "torchpool/ops/max_pool.h"
#include "torchpool/ops/unpool.h"

namespace torchpool {
namespace autograd {
namespace {

using at::IntArrayRef;
using at::Tensor;

template <int ND>
std::tuple<Tensor, Tensor> with_indices_op(const Tensor& x, IntArrayRef k, IntArrayRef s,
                                           IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::max_pool1d_with_indices(x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::max_pool2d_with_indices(x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::max_pool3d_with_indices(x, k, s, p, d, c);
}
template <int ND>
Tensor values_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::max_pool1d(x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::max_pool2d(x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::max_pool3d(x, k, s, p, d, c);
}
template <int ND>
Tensor backward_op(const Tensor& g, const Tensor& x, const Tensor& i, IntArrayRef k, IntArrayRef s,
                   IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::max_pool1d_backward(g, x, i, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::max_pool2d_backward(g, x, i, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::max_pool3d_backward(g, x, i, k, s, p, d, c);
}

// The gradient of the backward with respect to grad_output: the routing core's gather
// by the indices, which is max_unpool's backward.
template <int ND>
Tensor gather_op(const Tensor& g, const Tensor& i) {
  if constexpr (ND == 1) return torchpool::max_unpool1d_backward(g, i);
  if constexpr (ND == 2) return torchpool::max_unpool2d_backward(g, i);
  if constexpr (ND == 3) return torchpool::max_unpool3d_backward(g, i);
}

template <int ND>
struct MaxPoolBackward : public torch::autograd::Function<MaxPoolBackward<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& grad_output, const Tensor& self,
                        const Tensor& indices, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                        IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({indices});
    return backward_op<ND>(grad_output, self, indices, k, s, p, d, ceil_mode);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor indices = ctx->get_saved_variables()[0];
    return grads({gather_op<ND>(g[0], indices)}, 7);
  }
};

template <int ND>
struct MaxPool : public torch::autograd::Function<MaxPool<ND>> {
  static variable_list forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k,
                               IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, idx] = with_indices_op<ND>(self, k, s, p, d, ceil_mode);
    ctx->save_for_backward({self, idx});
    save_ints(ctx, {{"k", k}, {"s", s}, {"p", p}, {"d", d}});
    ctx->saved_data["ceil_mode"] = ceil_mode;
    ctx->mark_non_differentiable({idx});
    return {out, idx};
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const auto saved = ctx->get_saved_variables();
    return grads({MaxPoolBackward<ND>::apply(g[0], saved[0], saved[1], ints(ctx, "k"), ints(ctx, "s"),
                                             ints(ctx, "p"), ints(ctx, "d"),
                                             ctx->saved_data["ceil_mode"].toBool())},
                 5);
  }
};

template <int ND>
std::tuple<Tensor, Tensor> with_indices(const Tensor& self, IntArrayRef k, IntArrayRef s,
                                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  auto r = MaxPool<ND>::apply(self, k, s, p, d, ceil_mode);
  return {r[0], r[1]};
}

// Without indices: only a call that needs a gradient pays for them.
template <int ND>
Tensor values(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
              bool ceil_mode) {
  if (needs_grad(self)) return MaxPool<ND>::apply(self, k, s, p, d, ceil_mode)[0];
  at::AutoDispatchBelowADInplaceOrView guard;
  return values_op<ND>(self, k, s, p, d, ceil_mode);
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, const Tensor& indices, IntArrayRef k,
                IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  return MaxPoolBackward<ND>::apply(grad_output, self, indices, k, s, p, d, ceil_mode);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Autograd, m) {
#define TP_IMPL(N)                                           \
  m.impl("max_pool" #N "d", &values<N>);                     \
  m.impl("max_pool" #N "d_with_indices", &with_indices<N>);  \
  m.impl("max_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace autograd
}  // namespace torchpool
