// max_pool on the CUDA dispatch key: the CPU's checks, shapes and memory formats
// (PoolCall), then the shared CUDA traversals with max pooling's reducer (max_pool.h);
// the backward is the routing core.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "torchpool/cuda/kernels.cuh"
#include "torchpool/ops/cuda/max_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cuda {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("max_pool", "");
constexpr const char* kBackwardOp[] = TORCHPOOL_OP_NAMES("max_pool", "_backward");

template <int ND>
std::tuple<Tensor, Tensor> forward(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                   IntArrayRef d, bool ceil_mode, bool with_indices) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  Tensor idx = with_indices ? c.empty(true, self.options().dtype(at::kLong)) : Tensor();
  KernelArgs a;
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.indices = with_indices ? idx.data_ptr<int64_t>() : nullptr;
  if (with_indices) {
    run_forward<MaxIndices>(a, c, self.scalar_type());
  } else {
    run_forward<MaxValues>(a, c, self.scalar_type());
  }
  return {out, idx};
}

template <int ND>
Tensor values(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
              bool ceil_mode) {
  return std::get<0>(forward<ND>(self, k, s, p, d, ceil_mode, false));
}

template <int ND>
std::tuple<Tensor, Tensor> with_indices(const Tensor& self, IntArrayRef k, IntArrayRef s,
                                        IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  return forward<ND>(self, k, s, p, d, ceil_mode, true);
}

template <int ND>
Tensor backward(const Tensor& grad_output, const Tensor& self, const Tensor& indices, IntArrayRef k,
                IntArrayRef s, IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  c.check_pooled_indices(indices, op);
  check_device(grad_output, self, op, "grad_output");
  check_device(indices, self, op, "indices");
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor go = c.prepared(grad_output), ix = c.prepared(indices);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a;
  a.grad_output = go.const_data_ptr();
  a.grad_indices = ix.const_data_ptr<int64_t>();
  a.grad_input = gi.data_ptr();
  route_backward(a, c, gi, op);
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CUDA, m) {
#define TP_IMPL(N)                                           \
  m.impl("max_pool" #N "d", &values<N>);                     \
  m.impl("max_pool" #N "d_with_indices", &with_indices<N>);  \
  m.impl("max_pool" #N "d_backward", &backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cuda
}  // namespace torchpool
