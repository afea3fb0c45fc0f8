// unpool on the Meta dispatch key: output shapes, dtypes and memory formats only, from
// the same checks as the real kernels.
#include <torch/library.h>

#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace meta {
namespace {

using at::IntArrayRef;
using at::OptionalIntArrayRef;
using at::Tensor;
using Opt = std::optional<int64_t>;

constexpr const char* kMax[] = TORCHPOOL_OP_NAMES("max_unpool", "");
constexpr const char* kMaxBackward[] = TORCHPOOL_OP_NAMES("max_unpool", "_backward");
constexpr const char* kMaxAdd[] = TORCHPOOL_OP_NAMES("max_unpool", "_add");
constexpr const char* kAvg[] = TORCHPOOL_OP_NAMES("avg_unpool", "");
constexpr const char* kAvgBackward[] = TORCHPOOL_OP_NAMES("avg_unpool", "_backward");

template <int ND>
Tensor max_unpool(const Tensor& self, const Tensor& indices, IntArrayRef k, IntArrayRef s,
                  IntArrayRef p, OptionalIntArrayRef output_size) {
  const char* op = kMax[ND];
  check_float(self, op, "input");
  check_indices(indices, self, op);
  const std::vector<int64_t> sizes = int_sizes(self);
  const Geometry g = max_unpool_geometry(unpool_args(op, ND, k, s, p, output_size), Ints{sizes.data(), sizes.size()});
  return PoolCall(self, g, ND).empty(false, self.options());
}

template <int ND>
Tensor max_unpool_add(const Tensor& self, const Tensor& indices, IntArrayRef output_size) {
  const char* op = kMaxAdd[ND];
  check_float(self, op, "input");
  check_indices(indices, self, op);
  const std::vector<int64_t> sizes = int_sizes(self);
  const Geometry g = routing_geometry(op, "input", ND, Ints{sizes.data(), sizes.size()}, ints(output_size));
  return PoolCall(self, g, ND).empty(false, self.options());
}

template <int ND>
Tensor max_unpool_backward(const Tensor& grad_output, const Tensor& indices) {
  const char* op = kMaxBackward[ND];
  const Geometry g = gather_geometry(grad_output, indices, ND, op);
  return PoolCall(indices, g, ND).empty(true, grad_output.options());
}

template <int ND>
Tensor avg_unpool(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
                  bool, Opt divisor_override, OptionalIntArrayRef output_size) {
  const char* op = kAvg[ND];
  check_float(self, op, "input");
  divisor_arg(op, divisor_override);
  const std::vector<int64_t> sizes = int_sizes(self);
  const Geometry g = avg_unpool_geometry(unpool_args(op, ND, k, s, p, output_size), ceil_mode,
                                         Ints{sizes.data(), sizes.size()});
  return PoolCall(self, g, ND).empty(false, self.options());
}

template <int ND>
Tensor avg_unpool_backward(const Tensor& grad_output, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                           bool ceil_mode, bool, Opt divisor_override) {
  const char* op = kAvgBackward[ND];
  const PoolCall c(grad_output, pool_args(op, ND, k, s, p, {}, ceil_mode, /*has_dilation=*/false));
  divisor_arg(op, divisor_override);
  return c.empty(true, grad_output.options());
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, Meta, m) {
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

}  // namespace meta
}  // namespace torchpool
