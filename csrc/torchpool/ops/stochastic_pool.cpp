// stochastic_pool: the op schemas and the typed C++ entry points.
#include "torchpool/ops/stochastic_pool.h"

#include <ATen/ops/randint.h>
#include <torch/library.h>

#include <limits>

#include "torchpool/ops/pooling.h"

#define TP_ARGS(N)                                                                               \
  "int[" #N "] kernel_size, int[" #N "] stride=[], int[" #N "] padding=0, int[" #N "] dilation=1, " \
  "bool ceil_mode=False"

// The training op is a pure function of its Philox key (seed, offset): the callers draw
// the key from a generator, so the op itself is deterministic (opcheck, torch.compile).
TORCH_LIBRARY_FRAGMENT(torchpool, m) {
#define TP_DEF(N)                                                                                \
  m.def("stochastic_pool" #N "d(Tensor self, " TP_ARGS(N)                                        \
        ", int seed=0, int offset=0) -> (Tensor, Tensor)");                                      \
  m.def("stochastic_pool" #N "d_eval(Tensor self, " TP_ARGS(N) ") -> Tensor");                   \
  m.def("stochastic_pool" #N "d_eval_backward(Tensor grad_output, Tensor self, " TP_ARGS(N)      \
        ") -> Tensor");
  TP_DEF(1)
  TP_DEF(2)
  TP_DEF(3)
#undef TP_DEF
}

namespace torchpool {
namespace {
using IA = at::IntArrayRef;
using Sample = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, IA, IA, IA, IA, bool, int64_t, int64_t);
using Eval = at::Tensor(const at::Tensor&, IA, IA, IA, IA, bool);
using EvalBwd = at::Tensor(const at::Tensor&, const at::Tensor&, IA, IA, IA, IA, bool);

// Two int64 draws in [0, 2^63 - 1) from a CPU generator, as the Python wrapper's
// torch.randint(0, 2**63 - 1, (2,), generator=g): the same generator state gives the
// same key from C++ and Python.
std::pair<int64_t, int64_t> draw_key(const char* op, const std::optional<at::Generator>& generator) {
  TORCH_CHECK(!generator || !generator->defined() || generator->device().is_cpu(), op,
              ": generator must be a CPU torch.Generator (the key is drawn on the CPU whatever the "
              "input's device), but got one on ", generator->device());
  const at::Tensor k = at::randint(0, std::numeric_limits<int64_t>::max(), {2}, generator,
                                   at::TensorOptions().dtype(at::kLong));
  return {k[0].item<int64_t>(), k[1].item<int64_t>()};
}
}  // namespace

#define TP_API(N)                                                                                  \
  std::tuple<at::Tensor, at::Tensor> stochastic_pool##N##d(const at::Tensor& input, IA kernel_size, \
                                                           IA stride, IA padding, IA dilation,     \
                                                           bool ceil_mode, int64_t seed,           \
                                                           int64_t offset) {                       \
    static const auto h = find_op<Sample>("torchpool::stochastic_pool" #N "d");                    \
    return h.call(input, kernel_size, stride, padding, dilation, ceil_mode, seed, offset);         \
  }                                                                                                \
  std::tuple<at::Tensor, at::Tensor> stochastic_pool##N##d(                                        \
      const at::Tensor& input, IA kernel_size, IA stride, IA padding, IA dilation, bool ceil_mode, \
      std::optional<at::Generator> generator) {                                                    \
    const auto [seed, offset] = draw_key("stochastic_pool" #N "d", generator);                     \
    return stochastic_pool##N##d(input, kernel_size, stride, padding, dilation, ceil_mode, seed,   \
                                 offset);                                                          \
  }                                                                                                \
  at::Tensor stochastic_pool##N##d_eval(const at::Tensor& input, IA kernel_size, IA stride,        \
                                        IA padding, IA dilation, bool ceil_mode) {                 \
    static const auto h = find_op<Eval>("torchpool::stochastic_pool" #N "d_eval");                 \
    return h.call(input, kernel_size, stride, padding, dilation, ceil_mode);                       \
  }                                                                                                \
  at::Tensor stochastic_pool##N##d_eval_backward(const at::Tensor& grad_output,                    \
                                                 const at::Tensor& input, IA kernel_size,          \
                                                 IA stride, IA padding, IA dilation,               \
                                                 bool ceil_mode) {                                 \
    static const auto h = find_op<EvalBwd>("torchpool::stochastic_pool" #N "d_eval_backward");     \
    return h.call(grad_output, input, kernel_size, stride, padding, dilation, ceil_mode);          \
  }
TP_API(1)
TP_API(2)
TP_API(3)

}  // namespace torchpool
