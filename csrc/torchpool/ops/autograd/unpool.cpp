// unpool on the Autograd dispatch key (C++, so LibTorch programs get gradients). Every
// op of the family is linear in its values: max_unpool's gradient is the gather by its
// indices, whose own gradient adds the values sharing an index (max_unpool_add, whose
// gradient is the gather again); avg_unpool's gradient is average pooling, whose own is
// avg_unpool.
#include <torch/library.h>

#include "torchpool/ops/autograd/saved.h"
#include "torchpool/ops/pooling.h"
#include "torchpool/ops/unpool.h"

namespace torchpool {
namespace autograd {
namespace {

using at::IntArrayRef;
using at::OptionalIntArrayRef;
using at::Tensor;
using Opt = std::optional<int64_t>;

template <int ND>
Tensor max_unpool_op(const Tensor& x, const Tensor& i, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                     OptionalIntArrayRef o) {
  if constexpr (ND == 1) return torchpool::max_unpool1d(x, i, k, s, p, o);
  if constexpr (ND == 2) return torchpool::max_unpool2d(x, i, k, s, p, o);
  if constexpr (ND == 3) return torchpool::max_unpool3d(x, i, k, s, p, o);
}
template <int ND>
Tensor gather_op(const Tensor& g, const Tensor& i) {
  if constexpr (ND == 1) return torchpool::max_unpool1d_backward(g, i);
  if constexpr (ND == 2) return torchpool::max_unpool2d_backward(g, i);
  if constexpr (ND == 3) return torchpool::max_unpool3d_backward(g, i);
}
template <int ND>
Tensor add_op(const Tensor& x, const Tensor& i, IntArrayRef o) {
  if constexpr (ND == 1) return torchpool::max_unpool1d_add(x, i, o);
  if constexpr (ND == 2) return torchpool::max_unpool2d_add(x, i, o);
  if constexpr (ND == 3) return torchpool::max_unpool3d_add(x, i, o);
}
template <int ND>
Tensor avg_unpool_op(const Tensor& x, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool c, bool cip,
                     Opt div, OptionalIntArrayRef o) {
  if constexpr (ND == 1) return torchpool::avg_unpool1d(x, k, s, p, c, cip, div, o);
  if constexpr (ND == 2) return torchpool::avg_unpool2d(x, k, s, p, c, cip, div, o);
  if constexpr (ND == 3) return torchpool::avg_unpool3d(x, k, s, p, c, cip, div, o);
}
template <int ND>
Tensor avg_pool_op(const Tensor& g, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool c, bool cip,
                   Opt div) {
  if constexpr (ND == 1) return torchpool::avg_unpool1d_backward(g, k, s, p, c, cip, div);
  if constexpr (ND == 2) return torchpool::avg_unpool2d_backward(g, k, s, p, c, cip, div);
  if constexpr (ND == 3) return torchpool::avg_unpool3d_backward(g, k, s, p, c, cip, div);
}

// The spatial sizes of `t`: the unpooled size its gradient's gradient must take.
std::vector<int64_t> spatial(const Tensor& t, int nd) {
  const std::vector<int64_t> s = int_sizes(t);
  return std::vector<int64_t>(s.end() - nd, s.end());
}

template <int ND>
struct MaxUnpoolAdd;

// The gather, linear in grad_output; its gradient adds what shares an index.
template <int ND>
struct MaxUnpoolBackward : public torch::autograd::Function<MaxUnpoolBackward<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& grad_output, const Tensor& indices) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({indices});
    ctx->saved_data["size"] = spatial(grad_output, ND);
    return gather_op<ND>(grad_output, indices);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor indices = ctx->get_saved_variables()[0];
    return grads({MaxUnpoolAdd<ND>::apply(g[0], indices, ints(ctx, "size"))}, 1);
  }
};

template <int ND>
struct MaxUnpoolAdd : public torch::autograd::Function<MaxUnpoolAdd<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, const Tensor& indices,
                        IntArrayRef output_size) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({indices});
    return add_op<ND>(self, indices, output_size);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor indices = ctx->get_saved_variables()[0];
    return grads({MaxUnpoolBackward<ND>::apply(g[0], indices)}, 2);
  }
};

// As torch's: the gradient gathers at every index, repeated ones included.
template <int ND>
struct MaxUnpool : public torch::autograd::Function<MaxUnpool<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, const Tensor& indices, IntArrayRef k,
                        IntArrayRef s, IntArrayRef p, OptionalIntArrayRef output_size) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({indices});
    return max_unpool_op<ND>(self, indices, k, s, p, output_size);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const Tensor indices = ctx->get_saved_variables()[0];
    return grads({MaxUnpoolBackward<ND>::apply(g[0], indices)}, 5);
  }
};

void save_avg(AutogradContext* ctx, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
              bool count_include_pad, Opt divisor_override) {
  save_ints(ctx, {{"k", k}, {"s", s}, {"p", p}});
  ctx->saved_data["ceil_mode"] = ceil_mode;
  ctx->saved_data["count_include_pad"] = count_include_pad;
  ctx->saved_data["divisor_override"] = divisor_override;
}
#define TP_SAVED(ctx)                                                                      \
  ints(ctx, "k"), ints(ctx, "s"), ints(ctx, "p"), ctx->saved_data["ceil_mode"].toBool(), \
      ctx->saved_data["count_include_pad"].toBool(), ctx->saved_data["divisor_override"].toOptional<int64_t>()

template <int ND>
struct AvgUnpool;

// Average pooling of grad_output; its gradient is avg_unpool back to grad_output's size.
template <int ND>
struct AvgUnpoolBackward : public torch::autograd::Function<AvgUnpoolBackward<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& grad_output, IntArrayRef k, IntArrayRef s,
                        IntArrayRef p, bool ceil_mode, bool count_include_pad, Opt divisor_override) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_avg(ctx, k, s, p, ceil_mode, count_include_pad, divisor_override);
    ctx->saved_data["size"] = spatial(grad_output, ND);
    return avg_pool_op<ND>(grad_output, k, s, p, ceil_mode, count_include_pad, divisor_override);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const std::vector<int64_t> size = ints(ctx, "size");
    return grads({AvgUnpool<ND>::apply(g[0], TP_SAVED(ctx), OptionalIntArrayRef(size))}, 6);
  }
};

template <int ND>
struct AvgUnpool : public torch::autograd::Function<AvgUnpool<ND>> {
  static Tensor forward(AutogradContext* ctx, const Tensor& self, IntArrayRef k, IntArrayRef s,
                        IntArrayRef p, bool ceil_mode, bool count_include_pad, Opt divisor_override,
                        OptionalIntArrayRef output_size) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_avg(ctx, k, s, p, ceil_mode, count_include_pad, divisor_override);
    return avg_unpool_op<ND>(self, k, s, p, ceil_mode, count_include_pad, divisor_override, output_size);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return grads({AvgUnpoolBackward<ND>::apply(g[0], TP_SAVED(ctx))}, 7);
  }
};

template <int ND>
Tensor max_unpool(const Tensor& self, const Tensor& indices, IntArrayRef k, IntArrayRef s,
                  IntArrayRef p, OptionalIntArrayRef output_size) {
  return MaxUnpool<ND>::apply(self, indices, k, s, p, output_size);
}
template <int ND>
Tensor max_unpool_backward(const Tensor& grad_output, const Tensor& indices) {
  return MaxUnpoolBackward<ND>::apply(grad_output, indices);
}
template <int ND>
Tensor max_unpool_add(const Tensor& self, const Tensor& indices, IntArrayRef output_size) {
  return MaxUnpoolAdd<ND>::apply(self, indices, output_size);
}
template <int ND>
Tensor avg_unpool(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
                  bool count_include_pad, Opt divisor_override, OptionalIntArrayRef output_size) {
  return AvgUnpool<ND>::apply(self, k, s, p, ceil_mode, count_include_pad, divisor_override, output_size);
}
template <int ND>
Tensor avg_unpool_backward(const Tensor& grad_output, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                           bool ceil_mode, bool count_include_pad, Opt divisor_override) {
  return AvgUnpoolBackward<ND>::apply(grad_output, k, s, p, ceil_mode, count_include_pad, divisor_override);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Autograd, m) {
#define TP_IMPL(N)                                                \
  m.impl("max_unpool" #N "d", &max_unpool<N>);                    \
  m.impl("max_unpool" #N "d_backward", &max_unpool_backward<N>);  \
  m.impl("max_unpool" #N "d_add", &max_unpool_add<N>);            \
  m.impl("avg_unpool" #N "d", &avg_unpool<N>);                    \
  m.impl("avg_unpool" #N "d_backward", &avg_unpool_backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace autograd
}  // namespace torchpool
