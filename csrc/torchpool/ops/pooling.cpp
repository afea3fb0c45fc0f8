#include "torchpool/ops/pooling.h"

#include <ATen/ops/empty_strided.h>
#include <c10/util/Exception.h>

#include <algorithm>

namespace torchpool {

std::vector<int64_t> int_sizes(const at::Tensor& t) {
  std::vector<int64_t> v;
  v.reserve(t.dim());
  for (const c10::SymInt& s : t.sym_sizes()) v.push_back(s.guard_int(__FILE__, __LINE__));
  return v;
}

void check_float(const at::Tensor& t, const char* op, const char* name) {
  const auto s = t.scalar_type();
  TORCH_CHECK(s == at::kFloat || s == at::kDouble || s == at::kHalf || s == at::kBFloat16, op, ": ",
              name, " must be float32, float64, float16 or bfloat16, but got ", s);
}

Geometry input_geometry(const at::Tensor& input, const PoolArgs& args) {
  check_float(input, args.op, "input");
  const std::vector<int64_t> s = int_sizes(input);
  return pool_geometry(args, Ints{s.data(), s.size()});
}

namespace {

// An unbatched tensor as a batch of one, with the batch stride of a dense tensor
// (unsqueeze would give it the channel plane's stride and hide a channels-last layout).
at::Tensor as_batched(const at::Tensor& t, bool batched) {
  if (batched) return t;
  std::vector<c10::SymInt> sizes{1}, strides{1};
  c10::SymInt span = 1;
  for (int64_t i = 0; i < t.dim(); ++i) {
    sizes.push_back(t.sym_size(i));
    strides.push_back(t.sym_stride(i));
    span = span + (t.sym_size(i) - 1) * t.sym_stride(i);
  }
  strides[0] = span;
  return t.as_strided_symint(sizes, strides, t.sym_storage_offset());
}

void check_int64(const at::Tensor& indices, const char* op) {
  TORCH_CHECK(indices.scalar_type() == at::kLong, op, ": indices must be int64, but got ",
              indices.scalar_type());
}

}  // namespace

Layouts layouts_of(const at::Tensor& input, int nd) {
  if (nd == 1) return {};
  const at::Tensor b = as_batched(input, is_batched(input, nd));
  const at::MemoryFormat cl = nd == 2 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::ChannelsLast3d;
  if (b.suggest_memory_format() == cl) return {cpu::Layout::channels_last, cl};
  return {};
}

std::vector<int64_t> pooled_sizes(const Geometry& g, bool out, bool batched) {
  std::vector<int64_t> v;
  if (batched) v.push_back(g.batch);
  v.push_back(g.channels);
  for (int i = 3 - g.spatial; i < 3; ++i) v.push_back(out ? g.dim[i].out : g.dim[i].in);
  return v;
}

at::Tensor empty_pooled(const Geometry& g, bool out, bool batched, const at::TensorOptions& opts,
                        const Layouts& l) {
  // Strides of the batched tensor in the layout; an unbatched one drops N.
  const std::vector<int64_t> sizes = pooled_sizes(g, out, true);
  const int n = int(sizes.size());
  std::vector<int64_t> strides(n);
  if (l.layout == cpu::Layout::channels_last) {
    int64_t st = 1;
    strides[1] = st;
    st *= std::max<int64_t>(sizes[1], 1);
    for (int i = n - 1; i >= 2; --i) {
      strides[i] = st;
      st *= std::max<int64_t>(sizes[i], 1);
    }
    strides[0] = st;
  } else {
    int64_t st = 1;
    for (int i = n - 1; i >= 0; --i) {
      strides[i] = st;
      st *= std::max<int64_t>(sizes[i], 1);
    }
  }
  if (!batched) {
    return at::empty_strided(at::IntArrayRef(sizes).slice(1), at::IntArrayRef(strides).slice(1),
                             opts);
  }
  return at::empty_strided(sizes, strides, opts);
}

at::Tensor kernel_input(const at::Tensor& t, bool batched, const Layouts& l) {
  return as_batched(t, batched).contiguous(l.format);
}

void check_sizes(const at::Tensor& t, const std::vector<int64_t>& sizes, const char* op,
                 const char* name) {
  TORCH_CHECK(int_sizes(t) == sizes, op, ": ", name, " must have size ", at::IntArrayRef(sizes),
              ", but got ", t.sym_sizes());
}

void PoolCall::check_grad_output(const at::Tensor& grad_output, const at::Tensor& input,
                                 const char* op) const {
  check_sizes(grad_output, sizes(true), op, "grad_output");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(), op,
              ": grad_output must have the input's dtype ", input.scalar_type(), ", but got ",
              grad_output.scalar_type());
}

void PoolCall::check_pooled_indices(const at::Tensor& indices, const char* op) const {
  check_int64(indices, op);
  check_sizes(indices, sizes(true), op, "indices");
}

int64_t divisor_arg(const char* op, std::optional<int64_t> divisor_override) {
  TORCH_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must be non-zero");
  return divisor_override.value_or(0);
}

void check_indices(const at::Tensor& indices, const at::Tensor& values, const char* op) {
  check_int64(indices, op);
  TORCH_CHECK(int_sizes(indices) == int_sizes(values), op, ": indices must have the input's size ",
              values.sym_sizes(), ", but got ", indices.sym_sizes());
  TORCH_CHECK(indices.device() == values.device(), op, ": indices must be on the input's device, ",
              values.device(), ", but got ", indices.device());
}

Geometry gather_geometry(const at::Tensor& values, const at::Tensor& indices, int nd, const char* op) {
  check_float(values, op, "grad_output");
  check_int64(indices, op);
  const std::vector<int64_t> is = int_sizes(indices), vs = int_sizes(values);
  const bool planes_match = vs.size() == is.size() && is.size() >= size_t(nd) + 1 &&
                            std::equal(is.begin(), is.end() - nd, vs.begin());
  TORCH_CHECK(planes_match, op, ": grad_output must have the batch and channels of indices ",
              indices.sym_sizes(), " and ", nd, " spatial dims, but got ", values.sym_sizes());
  return routing_geometry(op, "indices", nd, Ints{is.data(), is.size()},
                          Ints{vs.data() + vs.size() - nd, size_t(nd)});
}

cpu::DType kernel_dtype(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return cpu::DType::f64;
    case at::kHalf:
      return cpu::DType::f16;
    case at::kBFloat16:
      return cpu::DType::bf16;
    default:
      return cpu::DType::f32;
  }
}

}  // namespace torchpool
