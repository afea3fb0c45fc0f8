#pragma once
// Shared helpers of the C++ API tests (the twins of tests/conftest.py): devices, dtypes,
// layouts, inputs with NaN, +-inf, ties and denormals, and comparisons that report the
// first mismatch. Each family's test file uses them against ATen's own pooling.

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

namespace torchpool_test {

enum class Layout { contiguous, channels_last, strided };

const std::vector<at::ScalarType> kDtypes = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16};
const std::vector<Layout> kLayouts = {Layout::contiguous, Layout::channels_last, Layout::strided};

inline bool exact_dtype(at::ScalarType t) { return t == at::kFloat || t == at::kDouble; }

// Batched input shapes that reach every path: long rows with few channels (vector packs
// along W) and many channels on small planes (channel packs).
inline std::vector<std::vector<int64_t>> shapes(int nd) {
  if (nd == 1) return {{2, 5, 61}, {3, 70, 9}};
  if (nd == 2) return {{2, 3, 13, 41}, {2, 70, 7, 6}};
  return {{2, 3, 5, 9, 37}, {1, 67, 4, 5, 3}};
}

// The CPU, and CUDA where a GPU is present and torchpool was built with CUDA.
std::vector<at::Device> devices();
// The same, less CUDA where torchpool::<op> has no CUDA kernel (yet).
std::vector<at::Device> devices(const std::string& op);

std::string name(Layout l);
std::string name(at::IntArrayRef a);

// Random normal values with NaN, +-inf, ties and denormals mixed in, on the CPU, in a
// layout: contiguous, channels_last (4-d/5-d only, else contiguous) or strided (a view
// with stride 2 in every dim).
at::Tensor make_input(at::IntArrayRef shape, at::ScalarType dtype, Layout layout,
                      at::Generator& gen);

// Plain normal values (gradients).
at::Tensor randn(at::IntArrayRef shape, at::ScalarType dtype, at::Generator& gen);

// "" when ours equals ref exactly (NaN equal to NaN; same shape and dtype), else the
// first mismatch and the count.
std::string mismatch(const at::Tensor& ours, const at::Tensor& ref);
// "" when ours is within the dtype's tolerance of ref (as tests/conftest.py's).
std::string not_close(const at::Tensor& ours, const at::Tensor& ref, at::ScalarType dtype);
// The same for sums that may cancel (gradients where windows overlap): the error may also
// reach a few roundings of the summed terms, `magnitude` being the sum of their sizes.
std::string not_sum_close(const at::Tensor& ours, const at::Tensor& ref, const at::Tensor& magnitude,
                          at::ScalarType dtype);

// Whether the dispatcher knows the op torchpool::<name> (the library registered it).
bool registered(const std::string& name);
// "<family><nd>d", e.g. op_name("max_pool", 2) is "max_pool2d".
std::string op_name(const std::string& family, int nd);
// CHECKs that <family>1d..3d with each suffix are registered.
void check_registered(const std::string& family, const std::vector<std::string>& suffixes);

// The arguments of a pooling with dilation (max, soft, stochastic), and of average pooling
// and unpooling: one value for every dim or one per dim; stride {} is kernel_size.
struct WindowArgs {
  std::vector<int64_t> k, s, p, d;
  bool ceil;
};
struct AvgArgs {
  std::vector<int64_t> k, s, p;
  bool ceil = false, count_include_pad = true;
  std::optional<int64_t> divisor;
};
// The case, for messages: "<op>[shape] dtype layout device" and the arguments.
std::string describe(const std::string& op, at::IntArrayRef shape, at::ScalarType t, Layout l,
                     at::Device dev, const WindowArgs& a);
std::string describe(const std::string& op, at::IntArrayRef shape, at::ScalarType t, Layout l,
                     at::Device dev, const AvgArgs& a);

// The kernels and strides of a test grid.
struct Grid {
  std::vector<std::vector<int64_t>> kernels, strides;
};
// max and avg pooling's grid: kernels of 1 to 4, strides below, at and above them.
Grid full_grid(int nd);
// A smaller one, for the families whose float64 reference gathers every window.
Grid small_grid(int nd);
// Each kernel and stride of g with padding 0 and 1, dilation 1 and 2, ceil_mode off and on.
std::vector<WindowArgs> window_configs(const Grid& g);
// Each kernel and stride of g with padding 0 and 1; with `flags`, also ceil_mode off and
// on, count_include_pad on and off, divisor_override none and 3 (else their defaults).
std::vector<AvgArgs> avg_configs(const Grid& g, bool flags = true);

// The gradient of y with respect to x for grad_output g, through torch::autograd.
at::Tensor grad_of(const at::Tensor& y, const at::Tensor& x, const at::Tensor& g);

// Whether `out` is dense in the memory format of the (4-d or 5-d) input `x`.
bool same_format(const at::Tensor& out, const at::Tensor& x);

// The pooling windows of an (N, C, *spatial) tensor, in torch's scan order and with torch's
// output sizes, for float64 references written with ATen ops (tests/conftest.py's
// windows). Arguments as the API's: one value for every dim or one per dim; stride {} is
// kernel_size.
struct Windows {
  at::Tensor values;         // (N, C, O, K) float64: each window's elements (0 outside the input)
  at::Tensor valid;          // (O, K) bool: the element lies inside the input (not padding)
  at::Tensor index;          // (O, K) int64: its flat index in the plane (0 outside)
  std::vector<int64_t> out;  // the output's spatial sizes (O is their product)
};
Windows windows(const at::Tensor& x, int nd, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode);
// The adjoint of gathering windows: terms (N, C, O, K) added into float64 planes of the
// input's sizes at their indices (those outside the input dropped).
at::Tensor scatter_windows(const Windows& w, const at::Tensor& terms, at::IntArrayRef sizes);
// A pooled (N, C, *out) tensor as (N, C, O), to line up with Windows.
inline at::Tensor per_window(const at::Tensor& t) { return t.reshape({t.size(0), t.size(1), -1}); }

}  // namespace torchpool_test

// Checks that report the case and the first mismatch on failure.
#define CHECK_SAME(ours, ref, what)                             \
  do {                                                          \
    INFO(what);                                                 \
    CHECK(::torchpool_test::mismatch(ours, ref) == "");         \
  } while (0)
#define CHECK_NEAR(ours, ref, dtype, what)                      \
  do {                                                          \
    INFO(what);                                                 \
    CHECK(::torchpool_test::not_close(ours, ref, dtype) == ""); \
  } while (0)
#define CHECK_SUM_NEAR(ours, ref, magnitude, dtype, what)                      \
  do {                                                                         \
    INFO(what);                                                                \
    CHECK(::torchpool_test::not_sum_close(ours, ref, magnitude, dtype) == ""); \
  } while (0)
