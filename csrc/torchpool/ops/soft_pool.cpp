// soft_pool: the op schemas and the typed C++ entry points.
#include "torchpool/ops/soft_pool.h"

#include <torch/library.h>

#include "torchpool/ops/pooling.h"

#define TP_ARGS(N)                                                                               \
  "int[" #N "] kernel_size, int[" #N "] stride=[], int[" #N "] padding=0, int[" #N "] dilation=1, " \
  "bool ceil_mode=False"

TORCH_LIBRARY_FRAGMENT(torchpool, m) {
#define TP_DEF(N)                                                                              \
  m.def("soft_pool" #N "d(Tensor self, " TP_ARGS(N) ") -> Tensor");                            \
  m.def("soft_pool" #N "d_backward(Tensor grad_output, Tensor self, " TP_ARGS(N) ") -> Tensor");
  TP_DEF(1)
  TP_DEF(2)
  TP_DEF(3)
#undef TP_DEF
}

namespace torchpool {
namespace {
using IA = at::IntArrayRef;
using Fwd = at::Tensor(const at::Tensor&, IA, IA, IA, IA, bool);
using Bwd = at::Tensor(const at::Tensor&, const at::Tensor&, IA, IA, IA, IA, bool);
}  // namespace

#define TP_API(N)                                                                                \
  at::Tensor soft_pool##N##d(const at::Tensor& input, IA kernel_size, IA stride, IA padding,      \
                             IA dilation, bool ceil_mode) {                                      \
    static const auto h = find_op<Fwd>("torchpool::soft_pool" #N "d");                           \
    return h.call(input, kernel_size, stride, padding, dilation, ceil_mode);                     \
  }                                                                                              \
  at::Tensor soft_pool##N##d_backward(const at::Tensor& grad_output, const at::Tensor& input,    \
                                      IA kernel_size, IA stride, IA padding, IA dilation,        \
                                      bool ceil_mode) {                                          \
    static const auto h = find_op<Bwd>("torchpool::soft_pool" #N "d_backward");                  \
    return h.call(grad_output, input, kernel_size, stride, padding, dilation, ceil_mode);        \
  }
TP_API(1)
TP_API(2)
TP_API(3)

}  // namespace torchpool
