// avg_pool on the Autograd dispatch key (C++, so LibTorch programs get gradients).
#include <torch/library.h>

#include "torchpool/ops/autograd/saved.h"
#include "torchpool/ops/avg_pool.h"

namespace torchpool {
namespace autograd {
namespace {

using at::IntArrayRef;
using at::Tensor;
using Opt = std::optional<int64_t>;

template <int ND>
Tensor forward_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool c, bool cip,
                  Opt div) {
  if constexpr (ND == 1) return torchpool::avg_pool1d(x, k, s, p, c, cip, div);
  if constexpr (ND == 2) return torchpool::avg_pool2d(x, k, s, p, c, cip, div);
  if constexpr (ND == 3) return torchpool::avg_pool3d(x, k, s, p, c, cip, div);
}
template <int ND>
Tensor backward_op(const Tensor& g, const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                   bool c, bool cip, Opt div) {
  if constexpr (ND == 1) return torchpool::avg_pool1d_backward(g, x, k, s, p, c, cip, div);
  if constexpr (ND == 2) return torchpool::avg_pool2d_backward(g, x, k, s, p, c, cip, div);
  if constexpr (ND == 3) return torchpool::avg_pool3d_backward(g, x, k, s, p, c, cip, div);
}

void save(AutogradContext* ctx, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
          bool count_include_pad, Opt divisor_override) {
  save_ints(ctx, {{"k", k}, {"s", s}, {"p", p}});
  ctx->saved_data["ceil_mode"] = ceil_mode;
  ctx->saved_data["count_include_pad"] = count_include_pad;
  ctx->saved_data["divisor_override"] = divisor_override;
}
#define TP_SAVED(ctx)                                                                      \
  ints(ctx, "k"), ints(ctx, "s"), ints(ctx, "p"), ctx->saved_data["ceil_mode"].toBool(), \
      ctx->saved_data["count_include_pad"].toBool(), ctx->saved_data["divisor_override"].toOptional<int64_t>()

// The backward is linear in grad_output; its own gradient is average pooling.
template <int ND>
struct AvgPoolBackward : public torch::autograd::Function<AvgPoolBackward<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& grad_output, const Tensor& self,
                        IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
                        bool count_include_pad, Opt divisor_override) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save(ctx, k, s, p, ceil_mode, count_include_pad, divisor_override);
    return backward_op<ND>(grad_output, self, k, s, p, ceil_mode, count_include_pad, divisor_override);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return grads({forward_op<ND>(g[0], TP_SAVED(ctx))}, 7);
  }
};

template <int ND>
struct AvgPool : public torch::autograd::Function<AvgPool<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k, IntArrayRef s,
                        IntArrayRef p, bool ceil_mode, bool count_include_pad, Opt divisor_override) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({self});
    save(ctx, k, s, p, ceil_mode, count_include_pad, divisor_override);
    return forward_op<ND>(self, k, s, p, ceil_mode, count_include_pad, divisor_override);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor self = ctx->get_saved_variables()[0];
    return grads({AvgPoolBackward<ND>::apply(g[0], self, TP_SAVED(ctx))}, 6);
  }
};

template <int ND>
Tensor forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
               bool count_include_pad, Opt divisor_override) {
  return AvgPool<ND>::apply(self, k, s, p, ceil_mode, count_include_pad, divisor_override);
}
template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, bool ceil_mode, bool count_include_pad, Opt divisor_override) {
  return AvgPoolBackward<ND>::apply(grad_output, self, k, s, p, ceil_mode, count_include_pad,
                                    divisor_override);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Autograd, m) {
#define TP_IMPL(N)                        \
  m.impl("avg_pool" #N "d", &forward<N>); \
  m.impl("avg_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace autograd
}  // namespace torchpool
