// unpool: the op schemas and the typed C++ entry points.
#include "torchpool/ops/unpool.h"

#include <torch/library.h>

#include "torchpool/ops/pooling.h"

#define TP_KSP(N) "int[" #N "] kernel_size, int[" #N "] stride=[], int[" #N "] padding=0"
#define TP_AVG(N) TP_KSP(N) ", bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None"

TORCH_LIBRARY_FRAGMENT(torchpool, m) {
#define TP_DEF(N)                                                                                   \
  m.def("max_unpool" #N "d(Tensor self, Tensor indices, " TP_KSP(N) ", int[]? output_size=None) -> Tensor"); \
  m.def("max_unpool" #N "d_backward(Tensor grad_output, Tensor indices) -> Tensor");                \
  m.def("max_unpool" #N "d_add(Tensor self, Tensor indices, int[" #N "] output_size) -> Tensor");  \
  m.def("avg_unpool" #N "d(Tensor self, " TP_AVG(N) ", int[]? output_size=None) -> Tensor");        \
  m.def("avg_unpool" #N "d_backward(Tensor grad_output, " TP_AVG(N) ") -> Tensor");
  TP_DEF(1)
  TP_DEF(2)
  TP_DEF(3)
#undef TP_DEF
}

namespace torchpool {
namespace {
using IA = at::IntArrayRef;
using OIA = at::OptionalIntArrayRef;
using Opt = std::optional<int64_t>;
using T = at::Tensor;
using MaxFwd = T(const T&, const T&, IA, IA, IA, OIA);
using MaxBwd = T(const T&, const T&);
using MaxAdd = T(const T&, const T&, IA);
using AvgFwd = T(const T&, IA, IA, IA, bool, bool, Opt, OIA);
using AvgBwd = T(const T&, IA, IA, IA, bool, bool, Opt);
}  // namespace

#define TP_API(N)                                                                                \
  T max_unpool##N##d(const T& input, const T& indices, IA kernel_size, IA stride, IA padding,    \
                     OIA output_size) {                                                          \
    static const auto h = find_op<MaxFwd>("torchpool::max_unpool" #N "d");                      \
    return h.call(input, indices, kernel_size, stride, padding, output_size);                   \
  }                                                                                              \
  T max_unpool##N##d_backward(const T& grad_output, const T& indices) {                          \
    static const auto h = find_op<MaxBwd>("torchpool::max_unpool" #N "d_backward");             \
    return h.call(grad_output, indices);                                                         \
  }                                                                                              \
  T max_unpool##N##d_add(const T& input, const T& indices, IA output_size) {                     \
    static const auto h = find_op<MaxAdd>("torchpool::max_unpool" #N "d_add");                  \
    return h.call(input, indices, output_size);                                                  \
  }                                                                                              \
  T avg_unpool##N##d(const T& input, IA kernel_size, IA stride, IA padding, bool ceil_mode,      \
                     bool count_include_pad, Opt divisor_override, OIA output_size) {            \
    static const auto h = find_op<AvgFwd>("torchpool::avg_unpool" #N "d");                      \
    return h.call(input, kernel_size, stride, padding, ceil_mode, count_include_pad,            \
                  divisor_override, output_size);                                                \
  }                                                                                              \
  T avg_unpool##N##d_backward(const T& grad_output, IA kernel_size, IA stride, IA padding,       \
                              bool ceil_mode, bool count_include_pad, Opt divisor_override) {    \
    static const auto h = find_op<AvgBwd>("torchpool::avg_unpool" #N "d_backward");             \
    return h.call(grad_output, kernel_size, stride, padding, ceil_mode, count_include_pad,      \
                  divisor_override);                                                             \
  }
TP_API(1)
TP_API(2)
TP_API(3)
#undef TP_API

}  // namespace torchpool
