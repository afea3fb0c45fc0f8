// unpool on the CUDA dispatch key: the CPU's checks, shapes and memory formats, then
// the routing core (max_unpool and its adjoints: cuda/route.cu) or average pooling's
// reducer (avg_unpool and its gradient: the average-pool backward and forward).
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "torchpool/cuda/kernels.cuh"
#include "torchpool/ops/cuda/avg_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cuda {
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

// The unpooled side of g from each value of `self` at its index: summed where indices
// repeat (`add`), else the latest in scan order wins.
Tensor route(const Tensor& self, const Tensor& indices, const Geometry& g, int nd, bool add,
             const char* op) {
  const PoolCall c(self, g, nd);
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self), ix = c.prepared(indices);
  Tensor out = c.empty(false, self.options());
  KernelArgs a;
  a.grad_output = x.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.grad_input = out.data_ptr();
  if (add) {
    route_add(a, c, x, ix, out, op);
  } else {
    route_assign(a, c, out, op);
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
  check_device(indices, grad_output, op, "indices");
  const PoolCall c(indices, g, ND);
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const Tensor go = c.prepared(grad_output), ix = c.prepared(indices);
  Tensor gi = c.empty(true, grad_output.options());
  KernelArgs a;
  a.input = go.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.output = gi.data_ptr();
  route_gather(a, c, gi, op);
  return gi;
}

// Average pooling's backward body, with the input as its grad_output.
template <int ND>
Tensor avg_unpool(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, bool ceil_mode,
                  bool count_include_pad, Opt divisor_override, OptionalIntArrayRef output_size) {
  const char* op = kAvg[ND];
  check_float(self, op, "input");
  KernelArgs a;
  a.set_params(cpu::AvgPoolParams{count_include_pad, divisor_arg(op, divisor_override)});
  const std::vector<int64_t> sizes = int_sizes(self);
  const PoolCall c(self,
                   avg_unpool_geometry(unpool_args(op, ND, k, s, p, output_size), ceil_mode,
                                       Ints{sizes.data(), sizes.size()}),
                   ND);
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(false, self.options());
  a.grad_output = x.const_data_ptr();
  a.grad_input = out.data_ptr();
  run_backward<AvgReduce>(a, c, self.scalar_type());
  return out;
}

// Average pooling's forward body (no dilation; the 3-d input need not cover the kernel).
template <int ND>
Tensor avg_unpool_backward(const Tensor& grad_output, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                           bool ceil_mode, bool count_include_pad, Opt divisor_override) {
  const char* op = kAvgBackward[ND];
  const PoolCall c(grad_output, pool_args(op, ND, k, s, p, {}, ceil_mode, /*has_dilation=*/false));
  KernelArgs a;
  a.set_params(cpu::AvgPoolParams{count_include_pad, divisor_arg(op, divisor_override)});
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const Tensor x = c.prepared(grad_output);
  Tensor out = c.empty(true, grad_output.options());
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  run_forward<AvgReduce>(a, c, grad_output.scalar_type());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CUDA, m) {
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

}  // namespace cuda
}  // namespace torchpool
