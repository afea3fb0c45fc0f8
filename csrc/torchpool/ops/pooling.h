#pragma once
// What every pooling op does with tensors, on every device and in the Meta kernels:
// the geometry of an input, the layout the kernels take, the memory format and sizes
// of the outputs, unbatched inputs. The families' dispatch files build on it.

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <vector>

#include "torchpool/cpu/kernel.h"
#include "torchpool/geometry.h"

// An op's name at each rank (index 1 to 3), as its errors cite it:
// TORCHPOOL_OP_NAMES("max_pool", "_backward")[2] is "max_pool2d_backward".
#define TORCHPOOL_OP_NAMES(family, suffix) \
  { "", family "1d" suffix, family "2d" suffix, family "3d" suffix }

namespace torchpool {

// The sizes of a tensor as ints; symbolic sizes (torch.compile) are guarded to ints.
std::vector<int64_t> int_sizes(const at::Tensor& t);

inline Ints ints(at::IntArrayRef a) { return Ints{a.data(), a.size()}; }

// Checks that `t` is float32/64, float16 or bfloat16, naming the op and the argument.
void check_float(const at::Tensor& t, const char* op, const char* name);

// Checks the input's dtype and sizes and the arguments, as torch does; the geometry.
Geometry input_geometry(const at::Tensor& input, const PoolArgs& args);

// The layout the kernels use and the memory format of every output: channels-last
// when a 4-d or 5-d (batched) input is, else contiguous. An unbatched input is
// judged as its batched view.
struct Layouts {
  cpu::Layout layout = cpu::Layout::contiguous;
  at::MemoryFormat format = at::MemoryFormat::Contiguous;
};
Layouts layouts_of(const at::Tensor& input, int nd);

inline bool is_batched(const at::Tensor& input, int nd) { return input.dim() == nd + 2; }

// (N, C, *spatial) of the pooled (`out`) or unpooled side of g, without N if unbatched.
std::vector<int64_t> pooled_sizes(const Geometry& g, bool out, bool batched);

// An empty tensor of pooled_sizes() in the layout's memory format.
at::Tensor empty_pooled(const Geometry& g, bool out, bool batched, const at::TensorOptions& opts,
                        const Layouts& l);

// `t` (sized like either side of g) as the kernels read it: batched, dense in the layout.
at::Tensor kernel_input(const at::Tensor& t, bool batched, const Layouts& l);

// Checks that `t` has the given sizes, naming the op and the argument.
void check_sizes(const at::Tensor& t, const std::vector<int64_t>& sizes, const char* op,
                 const char* name);

cpu::DType kernel_dtype(at::ScalarType t);

// One call of a pooling op: the checked geometry of its input, the layout, batching.
struct PoolCall {
  Geometry g;
  Layouts l;
  bool batched;
  PoolCall(const at::Tensor& input, const PoolArgs& args)
      : g(input_geometry(input, args)), l(layouts_of(input, args.nd)), batched(is_batched(input, args.nd)) {}
  // An op whose geometry is checked elsewhere (unpooling: geometry.h), `input` on its
  // pooled side.
  PoolCall(const at::Tensor& input, const Geometry& geometry, int nd)
      : g(geometry), l(layouts_of(input, nd)), batched(is_batched(input, nd)) {}
  // Sizes and empty tensors of the pooled (`out`) or unpooled side.
  std::vector<int64_t> sizes(bool out) const { return pooled_sizes(g, out, batched); }
  at::Tensor empty(bool out, const at::TensorOptions& opts) const { return empty_pooled(g, out, batched, opts, l); }
  // A backward's grad_output: the pooled sizes and the input's dtype.
  void check_grad_output(const at::Tensor& grad_output, const at::Tensor& input, const char* op) const;
  // A backward's indices (max, stochastic sampling): int64, of the pooled sizes.
  void check_pooled_indices(const at::Tensor& indices, const char* op) const;
  // A tensor of either side as the kernels read it.
  at::Tensor prepared(const at::Tensor& t) const { return kernel_input(t, batched, l); }
};

// PoolArgs from an op's int-list arguments (avg pooling passes no dilation).
inline PoolArgs pool_args(const char* op, int nd, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                          at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode,
                          bool has_dilation = true) {
  return PoolArgs{op, nd, ints(kernel_size), ints(stride), ints(padding), ints(dilation), ceil_mode,
                  has_dilation};
}

// PoolArgs of avg_pool{nd}d: no dilation, and torch's 3-d rule that the input
// covers the kernel.
inline PoolArgs avg_pool_args(const char* op, int nd, at::IntArrayRef kernel_size,
                              at::IntArrayRef stride, at::IntArrayRef padding, bool ceil_mode) {
  PoolArgs a = pool_args(op, nd, kernel_size, stride, padding, {}, ceil_mode, /*has_dilation=*/false);
  a.input_covers_kernel = nd == 3;
  return a;
}

// divisor_override as the kernels take it (0: none), checked to be non-zero.
int64_t divisor_arg(const char* op, std::optional<int64_t> divisor_override);

// UnpoolArgs from an unpooling op's arguments.
inline UnpoolArgs unpool_args(const char* op, int nd, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                              at::IntArrayRef padding, at::OptionalIntArrayRef output_size) {
  return UnpoolArgs{op, nd, ints(kernel_size), ints(stride), ints(padding), output_size.has_value(),
                    output_size ? ints(*output_size) : Ints{}};
}

// Checks that `indices` are int64 with the sizes of `values`, naming the op.
void check_indices(const at::Tensor& indices, const at::Tensor& values, const char* op);

// Gathering `values` (unpooled planes) at `indices` (the routing core's gather): checks
// both; the geometry with the indices' sizes pooled, the values' unpooled.
Geometry gather_geometry(const at::Tensor& values, const at::Tensor& indices, int nd, const char* op);

// The typed handle of one of our ops, for the C++ entry points.
template <class Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

}  // namespace torchpool
