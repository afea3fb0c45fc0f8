// avg_pool: the op schemas and the typed C++ entry points.
#include "torchpool/ops/avg_pool.h"

#include <torch/library.h>

#include "torchpool/ops/pooling.h"

#define TP_ARGS(N)                                                                         \
  "int[" #N "] kernel_size, int[" #N "] stride=[], int[" #N "] padding=0, bool ceil_mode=False, " \
  "bool count_include_pad=True, int? divisor_override=None"

TORCH_LIBRARY_FRAGMENT(torchpool, m) {
#define TP_DEF(N)                                                                                \
  m.def("avg_pool" #N "d(Tensor self, " TP_ARGS(N) ") -> Tensor");                              \
  m.def("avg_pool" #N "d_backward(Tensor grad_output, Tensor self, " TP_ARGS(N) ") -> Tensor");
  TP_DEF(1)
  TP_DEF(2)
  TP_DEF(3)
#undef TP_DEF
}

namespace torchpool {
namespace {
using IA = at::IntArrayRef;
using Opt = std::optional<int64_t>;
using Fwd = at::Tensor(const at::Tensor&, IA, IA, IA, bool, bool, Opt);
using Bwd = at::Tensor(const at::Tensor&, const at::Tensor&, IA, IA, IA, bool, bool, Opt);
}  // namespace

#define TP_API(N)                                                                              \
  at::Tensor avg_pool##N##d(const at::Tensor& input, IA kernel_size, IA stride, IA padding,     \
                            bool ceil_mode, bool count_include_pad, Opt divisor_override) {     \
    static const auto h = find_op<Fwd>("torchpool::avg_pool" #N "d");                           \
    return h.call(input, kernel_size, stride, padding, ceil_mode, count_include_pad,            \
                  divisor_override);                                                           \
  }                                                                                            \
  at::Tensor avg_pool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& input,   \
                                     IA kernel_size, IA stride, IA padding, bool ceil_mode,    \
                                     bool count_include_pad, Opt divisor_override) {           \
    static const auto h = find_op<Bwd>("torchpool::avg_pool" #N "d_backward");                  \
    return h.call(grad_output, input, kernel_size, stride, padding, ceil_mode,                  \
                  count_include_pad, divisor_override);                                        \
  }
TP_API(1)
TP_API(2)
TP_API(3)

}  // namespace torchpool
