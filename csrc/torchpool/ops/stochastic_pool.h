#pragma once
// Stochastic pooling (Zeiler & Fergus 2013), weights w_i = max(x_i, 0) over the
// window's elements inside the input. Training picks element i with probability
// w_i / sum w; evaluation gives sum w x / sum w. A window whose weights sum to 0 is
// max-pooled. Each call goes through the dispatcher (torch.ops.torchpool.*), so CPU,
// CUDA and autograd all work from C++.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <tuple>

namespace torchpool {

#define TORCHPOOL_STOCHASTIC_POOL_API(N)                                                           \
  /* Training: one pick per window, drawn by Philox from (seed, offset) and the output's      */   \
  /* linear index; values and int64 indices flat in the plane (as max_pool's). The gradient   */   \
  /* goes to the picked index.                                                                 */   \
  std::tuple<at::Tensor, at::Tensor> stochastic_pool##N##d(                                        \
      const at::Tensor& input, at::IntArrayRef kernel_size, at::IntArrayRef stride,                \
      at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode, int64_t seed,             \
      int64_t offset);                                                                             \
  /* The same with seed and offset drawn from `generator` (a CPU generator; by default torch's */   \
  /* default one, whatever the input's device), as the Python function draws them.             */   \
  std::tuple<at::Tensor, at::Tensor> stochastic_pool##N##d(                                        \
      const at::Tensor& input, at::IntArrayRef kernel_size, at::IntArrayRef stride = {},           \
      at::IntArrayRef padding = 0, at::IntArrayRef dilation = 1, bool ceil_mode = false,           \
      std::optional<at::Generator> generator = std::nullopt);                                      \
  /* Evaluation: sum w x / sum w over each window. */                                              \
  at::Tensor stochastic_pool##N##d_eval(const at::Tensor& input, at::IntArrayRef kernel_size,      \
                                        at::IntArrayRef stride = {}, at::IntArrayRef padding = 0,  \
                                        at::IntArrayRef dilation = 1, bool ceil_mode = false);     \
  /* Its gradient: (2 x_i - y) / sum w where x_i > 0, else 0 (deterministic). */                   \
  at::Tensor stochastic_pool##N##d_eval_backward(                                                  \
      const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef kernel_size,         \
      at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode);

TORCHPOOL_STOCHASTIC_POOL_API(1)
TORCHPOOL_STOCHASTIC_POOL_API(2)
TORCHPOOL_STOCHASTIC_POOL_API(3)
#undef TORCHPOOL_STOCHASTIC_POOL_API

}  // namespace torchpool
