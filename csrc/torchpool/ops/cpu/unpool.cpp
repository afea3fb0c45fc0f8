// unpool on the CPU dispatch key: checks, allocation, then the routing core
// (max_unpool and its adjoints) or average pooling's kernels (avg_unpool, their adjoint).
#include <torch/library.h>

#include "torchpool/cpu/launch.h"
#include "torchpool/ops/cpu/isa/avg_pool.h"
#include "torchpool/ops/cpu/isa/unpool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {
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

// Zeros of the unpooled side of g, then each value of `self` at its index: summed
// where indices repeat (`add`), else the latest in scan order wins.
Tensor route(const Tensor& self, const Tensor& indices, const Geometry& g, int nd, bool add,
             const char* op) {
  const PoolCall c(self, g, nd);
  const Tensor x = c.prepared(self), ix = c.prepared(indices);
  Tensor out = c.empty(false, self.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.grad_output = x.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.grad_input = out.data_ptr();
  const UnpoolKernels& t = unpool_kernels();
  if (add) {
    run_route(nullptr, t.add_any.get(a.layout, a.dtype), a, true, op);
  } else if (!run_owned(t.owned.get(a.layout, a.dtype), a)) {
    run_route(t.route.get(a.layout, a.dtype), t.route_any.get(a.layout, a.dtype), a, false, op);
  }
  return out;
}

template <int ND>
Tensor max_unpool(const Tensor& self, const Tensor& indices, IntArrayRef k, IntArrayRef s,
                  IntArrayRef p, OptionalIntArrayRef output_size) {
  const char* op = kMax[ND];
  check_float(self, op, "input");
  check_indices(indices, self, op);
  const std::vector<int64_t> sizes = int_sizes(self);
  const Geometry g = max_unpool_geometry(unpool_args(op, ND, k, s, p, output_size), Ints{sizes.data(), sizes.size()});
  return route(self, indices, g, ND, false, op);
}

template <int ND>
Tensor max_unpool_add(const Tensor& self, const Tensor& indices, IntArrayRef output_size) {
  const char* op = kMaxAdd[ND];
  check_float(self, op, "input");
  check_indices(indices, self, op);
  const std::vector<int64_t> sizes = int_sizes(self);
  const Geometry g = routing_geometry(op, "input", ND, Ints{sizes.data(), sizes.size()}, ints(output_size));
  return route(self, indices, g, ND, true, op);
}

// The gather: grad_input[o] = grad_output[plane, indices[o]], shaped like the indices.
template <int ND>
Tensor max_unpool_backward(const Tensor& grad_output, const Tensor& indices) {
  const char* op = kMaxBackward[ND];
  const Geometry g = gather_geometry(grad_output, indices, ND, op);
  const PoolCall c(indices, g, ND);
  const Tensor go = c.prepared(grad_output), ix = c.prepared(indices);
  Tensor gi = c.empty(true, grad_output.options());
  KernelArgs a = kernel_args(c.g, grad_output.scalar_type(), c.l);
  a.input = go.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.output = gi.data_ptr();
  run_gather(unpool_kernels().gather.get(a.layout, a.dtype), a, op);
  return gi;
}

// Average pooling's backward kernel, with the input as its grad_output.
template <int ND>
Tensor avg_unpool(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
                  bool count_include_pad, Opt divisor_override, OptionalIntArrayRef output_size) {
  const char* op = kAvg[ND];
  check_float(self, op, "input");
  const AvgPoolParams prm{count_include_pad, divisor_arg(op, divisor_override)};
  const std::vector<int64_t> sizes = int_sizes(self);
  const PoolCall c(self,
                   avg_unpool_geometry(unpool_args(op, ND, k, s, p, output_size), ceil_mode,
                                       Ints{sizes.data(), sizes.size()}),
                   ND);
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(false, self.options());
  KernelArgs a = kernel_args(c.g, self.scalar_type(), c.l);
  a.grad_output = x.const_data_ptr();
  a.grad_input = out.data_ptr();
  a.params = &prm;
  run_backward(avg_pool_kernels().backward.get(a.layout, a.dtype), a, op);
  return out;
}

// Average pooling's forward kernel (no dilation; the 3-d input need not cover the kernel).
template <int ND>
Tensor avg_unpool_backward(const Tensor& grad_output, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                           bool ceil_mode, bool count_include_pad, Opt divisor_override) {
  const char* op = kAvgBackward[ND];
  const PoolCall c(grad_output, pool_args(op, ND, k, s, p, {}, ceil_mode, /*has_dilation=*/false));
  const AvgPoolParams prm{count_include_pad, divisor_arg(op, divisor_override)};
  const Tensor x = c.prepared(grad_output);
  Tensor out = c.empty(true, grad_output.options());
  KernelArgs a = kernel_args(c.g, grad_output.scalar_type(), c.l);
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.params = &prm;
  run_forward(avg_pool_kernels().forward.get(a.layout, a.dtype), a);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CPU, m) {
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

}  // namespace cpu
}  // namespace torchpool
