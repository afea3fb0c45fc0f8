#pragma once
// Max pooling, as torch.nn.functional.max_pool{1,2,3}d. Each call goes through the
// dispatcher (torch.ops.torchpool.*), so CPU, CUDA and autograd all work from C++.

#include <ATen/core/Tensor.h>

#include <tuple>

namespace torchpool {

#define TORCHPOOL_MAX_POOL_API(N)                                                                  \
  /* Max over each window; padding counts as -inf, NaN wins. */                                  \
  at::Tensor max_pool##N##d(const at::Tensor& input, at::IntArrayRef kernel_size,                  \
                            at::IntArrayRef stride = {}, at::IntArrayRef padding = 0,              \
                            at::IntArrayRef dilation = 1, bool ceil_mode = false);                 \
  /* The same, with each max's int64 index flat within its (N, C) plane. */                       \
  std::tuple<at::Tensor, at::Tensor> max_pool##N##d_with_indices(                                  \
      const at::Tensor& input, at::IntArrayRef kernel_size, at::IntArrayRef stride = {},           \
      at::IntArrayRef padding = 0, at::IntArrayRef dilation = 1, bool ceil_mode = false);          \
  /* Gradient: each grad_output element added to its index (deterministic). */                    \
  at::Tensor max_pool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& input,       \
                                     const at::Tensor& indices, at::IntArrayRef kernel_size,       \
                                     at::IntArrayRef stride, at::IntArrayRef padding,              \
                                     at::IntArrayRef dilation, bool ceil_mode);

TORCHPOOL_MAX_POOL_API(1)
TORCHPOOL_MAX_POOL_API(2)
TORCHPOOL_MAX_POOL_API(3)
#undef TORCHPOOL_MAX_POOL_API

}  // namespace torchpool
