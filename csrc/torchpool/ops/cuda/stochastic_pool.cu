// stochastic_pool on the CUDA dispatch key: the CPU's checks, shapes and memory formats
// (PoolCall), then the shared CUDA traversals with stochastic pooling's reducers
// (stochastic_pool.h). The training backward is max pooling's (the routing core by the
// picked indices): no kernel here.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "torchpool/cuda/kernels.cuh"
#include "torchpool/ops/cuda/stochastic_pool.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cuda {
namespace {

using at::IntArrayRef;
using at::Tensor;

constexpr const char* kOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "");
constexpr const char* kEvalOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval");
constexpr const char* kEvalBackwardOp[] = TORCHPOOL_OP_NAMES("stochastic_pool", "_eval_backward");

template <int ND>
std::tuple<Tensor, Tensor> sample(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p,
                                  IntArrayRef d, bool ceil_mode, int64_t seed, int64_t offset) {
  const PoolCall c(self, pool_args(kOp[ND], ND, k, s, p, d, ceil_mode));
  KernelArgs a;
  a.set_params(cpu::StochasticPoolParams{uint64_t(seed), uint64_t(offset)});
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  Tensor idx = c.empty(true, self.options().dtype(at::kLong));
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  a.indices = idx.data_ptr<int64_t>();
  run_forward<SampleReduce>(a, c, self.scalar_type());
  return {out, idx};
}

template <int ND>
Tensor eval(const Tensor& self, IntArrayRef k, IntArrayRef s, IntArrayRef p, IntArrayRef d,
            bool ceil_mode) {
  const PoolCall c(self, pool_args(kEvalOp[ND], ND, k, s, p, d, ceil_mode));
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor x = c.prepared(self);
  Tensor out = c.empty(true, self.options());
  KernelArgs a;
  a.input = x.const_data_ptr();
  a.output = out.data_ptr();
  run_forward<EvalReduce>(a, c, self.scalar_type());
  return out;
}

template <int ND>
Tensor eval_backward(const Tensor& grad_output, const Tensor& self, IntArrayRef k, IntArrayRef s,
                     IntArrayRef p, IntArrayRef d, bool ceil_mode) {
  const char* op = kEvalBackwardOp[ND];
  const PoolCall c(self, pool_args(op, ND, k, s, p, d, ceil_mode));
  c.check_grad_output(grad_output, self, op);
  check_device(grad_output, self, op, "grad_output");
  const c10::cuda::CUDAGuard guard(self.device());
  const Tensor go = c.prepared(grad_output), x = c.prepared(self);
  Tensor gi = c.empty(false, grad_output.options());
  KernelArgs a;
  a.input = x.const_data_ptr();
  a.grad_output = go.const_data_ptr();
  a.grad_input = gi.data_ptr();
  run_backward<EvalReduce>(a, c, self.scalar_type());
  return gi;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchpool, CUDA, m) {
#define TP_IMPL(N)                                \
  m.impl("stochastic_pool" #N "d", &sample<N>);    \
  m.impl("stochastic_pool" #N "d_eval", &eval<N>); \
  m.impl("stochastic_pool" #N "d_eval_backward", &eval_backward<N>);
  TP_IMPL(1)
  TP_IMPL(2)
  TP_IMPL(3)
#undef TP_IMPL
}

}  // namespace cuda
}  // namespace torchpool
