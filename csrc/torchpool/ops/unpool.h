#pragma once
// Unpooling: max_unpool{1,2,3}d as torch.nn.functional's, and avg_unpool{1,2,3}d, the
// adjoint of average pooling (which torch lacks). Each call goes through the
// dispatcher (torch.ops.torchpool.*), so CPU, CUDA and autograd all work from C++.

#include <ATen/core/Tensor.h>

#include <optional>

namespace torchpool {

#define TORCHPOOL_UNPOOL_API(N)                                                                   \
  /* Zeros of the unpooled size ((L-1)*s - 2p + k, or output_size strictly within that +- s),  \
     then each input value at its index (flat within its (N, C) plane); where indices repeat,  \
     the latest in scan order wins. */                                                          \
  at::Tensor max_unpool##N##d(const at::Tensor& input, const at::Tensor& indices,                \
                              at::IntArrayRef kernel_size, at::IntArrayRef stride = {},          \
                              at::IntArrayRef padding = 0,                                       \
                              at::OptionalIntArrayRef output_size = std::nullopt);               \
  /* Gradient of max_unpool: grad_output (unpooled) gathered at the indices. */                  \
  at::Tensor max_unpool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& indices); \
  /* Unpooling to the spatial size output_size that adds the values sharing an index: the    \
     gradient of max_unpool's backward. */                                                      \
  at::Tensor max_unpool##N##d_add(const at::Tensor& input, const at::Tensor& indices,            \
                                  at::IntArrayRef output_size);                                  \
  /* The adjoint of average pooling: each input value spread over its window, divided by the  \
     window's divisor, overlaps added. Unpooled size as max_unpool's by default, else any      \
     output_size that average-pools back to the input's size. */                               \
  at::Tensor avg_unpool##N##d(const at::Tensor& input, at::IntArrayRef kernel_size,              \
                              at::IntArrayRef stride = {}, at::IntArrayRef padding = 0,          \
                              bool ceil_mode = false, bool count_include_pad = true,             \
                              std::optional<int64_t> divisor_override = std::nullopt,            \
                              at::OptionalIntArrayRef output_size = std::nullopt);               \
  /* Gradient of avg_unpool: average pooling of grad_output with the same arguments. */          \
  at::Tensor avg_unpool##N##d_backward(const at::Tensor& grad_output, at::IntArrayRef kernel_size, \
                                       at::IntArrayRef stride, at::IntArrayRef padding,          \
                                       bool ceil_mode, bool count_include_pad,                   \
                                       std::optional<int64_t> divisor_override);

TORCHPOOL_UNPOOL_API(1)
TORCHPOOL_UNPOOL_API(2)
TORCHPOOL_UNPOOL_API(3)
#undef TORCHPOOL_UNPOOL_API

}  // namespace torchpool
