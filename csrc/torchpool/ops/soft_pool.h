#pragma once
// Soft pooling (SoftPool, Stergiou et al. 2021): the softmax-weighted mean of each
// window, y = sum_i w_i x_i with w_i = exp(x_i) / sum_j exp(x_j) over the window's
// elements inside the input. Each call goes through the dispatcher
// (torch.ops.torchpool.*), so CPU, CUDA and autograd all work from C++.

#include <ATen/core/Tensor.h>

namespace torchpool {

#define TORCHPOOL_SOFT_POOL_API(N)                                                                 \
  /* Softmax-weighted mean of each window; padding is excluded, never weighted. */                \
  at::Tensor soft_pool##N##d(const at::Tensor& input, at::IntArrayRef kernel_size,                  \
                             at::IntArrayRef stride = {}, at::IntArrayRef padding = 0,              \
                             at::IntArrayRef dilation = 1, bool ceil_mode = false);                 \
  /* Gradient: each element receives grad_output * w_i (1 + x_i - y) (deterministic). */           \
  at::Tensor soft_pool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& input,       \
                                      at::IntArrayRef kernel_size, at::IntArrayRef stride,          \
                                      at::IntArrayRef padding, at::IntArrayRef dilation,            \
                                      bool ceil_mode);

TORCHPOOL_SOFT_POOL_API(1)
TORCHPOOL_SOFT_POOL_API(2)
TORCHPOOL_SOFT_POOL_API(3)
#undef TORCHPOOL_SOFT_POOL_API

}  // namespace torchpool
