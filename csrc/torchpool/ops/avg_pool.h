#pragma once
// Average pooling, as torch.nn.functional.avg_pool{1,2,3}d (divisor_override is
// accepted in 1d too). Each call goes through the dispatcher (torch.ops.torchpool.*).

#include <ATen/core/Tensor.h>

#include <optional>

namespace torchpool {

#define TORCHPOOL_AVG_POOL_API(N)                                                               \
  /* Mean of each window: divisor_override, else the padded or the valid count. */             \
  at::Tensor avg_pool##N##d(const at::Tensor& input, at::IntArrayRef kernel_size,               \
                            at::IntArrayRef stride = {}, at::IntArrayRef padding = 0,           \
                            bool ceil_mode = false, bool count_include_pad = true,              \
                            std::optional<int64_t> divisor_override = std::nullopt);            \
  /* Gradient: each grad_output element spread evenly (by the divisor) over its window. */      \
  at::Tensor avg_pool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& input,    \
                                     at::IntArrayRef kernel_size, at::IntArrayRef stride,       \
                                     at::IntArrayRef padding, bool ceil_mode,                   \
                                     bool count_include_pad,                                    \
                                     std::optional<int64_t> divisor_override);

TORCHPOOL_AVG_POOL_API(1)
TORCHPOOL_AVG_POOL_API(2)
TORCHPOOL_AVG_POOL_API(3)
#undef TORCHPOOL_AVG_POOL_API

}  // namespace torchpool
