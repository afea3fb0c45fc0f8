// stochastic_pool on the Autograd dispatch key (C++, so LibTorch programs get
// gradients). Training routes the gradient by the picked indices with max pooling's
// backward op (so its own gradient, a gather, comes with it); evaluation has its own
// backward op.
#include <torch/library.h>

#include "torchpool/ops/autograd/saved.h"
#include "torchpool/ops/max_pool.h"
#include "torchpool/ops/pooling.h"
#include "torchpool/ops/stochastic_pool.h"

namespace torchpool {
namespace autograd {
namespace {

using at::IntArrayRef;
using at::Tensor;

template <int ND>
std::tuple<Tensor, Tensor> sample_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                     IntArrayRef d, bool c, int64_t seed, int64_t offset) {
  if constexpr (ND == 1) return torchpool::stochastic_pool1d(x, k, s, p, d, c, seed, offset);
  if constexpr (ND == 2) return torchpool::stochastic_pool2d(x, k, s, p, d, c, seed, offset);
  if constexpr (ND == 3) return torchpool::stochastic_pool3d(x, k, s, p, d, c, seed, offset);
}
template <int ND>
Tensor route_op(const Tensor& g, const Tensor& x, const Tensor& i, IntArrayRef k, IntArrayRef s,
                IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::max_pool1d_backward(g, x, i, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::max_pool2d_backward(g, x, i, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::max_pool3d_backward(g, x, i, k, s, p, d, c);
}
template <int ND>
Tensor eval_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::stochastic_pool1d_eval(x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::stochastic_pool2d_eval(x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::stochastic_pool3d_eval(x, k, s, p, d, c);
}
template <int ND>
Tensor eval_backward_op(const Tensor& g, const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                        IntArrayRef d, bool c) {
  if constexpr (ND == 1) return torchpool::stochastic_pool1d_eval_backward(g, x, k, s, p, d, c);
  if constexpr (ND == 2) return torchpool::stochastic_pool2d_eval_backward(g, x, k, s, p, d, c);
  if constexpr (ND == 3) return torchpool::stochastic_pool3d_eval_backward(g, x, k, s, p, d, c);
}

constexpr const char* kEvalBackwardOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval_backward");

void save(AutogradContext* ctx, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  save_ints(ctx, {{"k", k}, {"s", s}, {"p", p}, {"d", d}});
  ctx->saved_data["ceil_mode"] = ceil_mode;
}
#define TP_SAVED(ctx) \
  ints(ctx, "k"), ints(ctx, "s"), ints(ctx, "p"), ints(ctx, "d"), ctx->saved_data["ceil_mode"].toBool()

template <int ND>
struct StochasticPool : public torch::autograd::Function<StochasticPool<ND>> {
  static variable_list forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k, IntArrayRef s,
                               IntArrayRef p, IntArrayRef d, bool ceil_mode, int64_t seed,
                               int64_t offset) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, idx] = sample_op<ND>(self, k, s, p, d, ceil_mode, seed, offset);
    ctx->save_for_backward({self, idx});
    save(ctx, k, s, p, d, ceil_mode);
    ctx->mark_non_differentiable({idx});
    return {out, idx};
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const auto saved = ctx->get_saved_variables();
    return grads({route_op<ND>(g[0], saved[0], saved[1], TP_SAVED(ctx))}, 7);
  }
};

// The evaluation backward as an op of its own; its gradient (a second derivative) is
// not provided.
template <int ND>
struct StochasticPoolEvalBackward : public torch::autograd::Function<StochasticPoolEvalBackward<ND>> {
  static Tensor forward(AutogradContext*, const Tensor& grad_output, const Tensor& self, IntArrayRef k,
                        IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return eval_backward_op<ND>(grad_output, self, k, s, p, d, ceil_mode);
  }
  static variable_list backward(AutogradContext*, variable_list) {
    TORCH_CHECK(false, kEvalBackwardOp[ND],
                ": double backward (the gradient of the gradient) is not implemented");
  }
};

template <int ND>
struct StochasticPoolEval : public torch::autograd::Function<StochasticPoolEval<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k, IntArrayRef s,
                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({self});
    save(ctx, k, s, p, d, ceil_mode);
    return eval_op<ND>(self, k, s, p, d, ceil_mode);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor self = ctx->get_saved_variables()[0];
    return grads({StochasticPoolEvalBackward<ND>::apply(g[0], self, TP_SAVED(ctx))}, 5);
  }
};

template <int ND>
std::tuple<Tensor, Tensor> sample(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                  IntArrayRef d, bool ceil_mode, int64_t seed, int64_t offset) {
  auto r = StochasticPool<ND>::apply(self, k, s, p, d, ceil_mode, seed, offset);
  return {r[0], r[1]};
}
template <int ND>
Tensor eval(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
            bool ceil_mode) {
  return StochasticPoolEval<ND>::apply(self, k, s, p, d, ceil_mode);
}
template <int ND>
Tensor eval_backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                     IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  return StochasticPoolEvalBackward<ND>::apply(grad_output, self, k, s, p, d, ceil_mode);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Autograd, m) {
#define TP_IMPL(N)                                 \
  m.impl("stochastic_pool" #N "d", &sample<N>);    \
  m.impl("stochastic_pool" #N "d_eval", &eval<N>); \
  m.impl("stochastic_pool" #N "d_eval_backward", &eval_backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace autograd
}  // namespace torchpool
