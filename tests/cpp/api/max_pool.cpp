// max_pool{1,2,3}d through the public C++ API against ATen's max_pool*d: values and
// indices exactly, memory formats, gradients through torch::autograd, the Python
// defaults, and errors that name the argument.
#include <ATen/CPUGeneratorImpl.h>
#include <torchpool/torchpool.h>

#include "common.h"

using at::Tensor;
using namespace torchpool_test;

namespace {

using Args = WindowArgs;

std::tuple<Tensor, Tensor> ours_with_indices(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::max_pool1d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::max_pool2d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::max_pool3d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
}
Tensor ours(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::max_pool1d(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::max_pool2d(x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::max_pool3d(x, a.k, a.s, a.p, a.d, a.ceil);
}
Tensor ours_backward(int nd, const Tensor& g, const Tensor& x, const Tensor& i, const Args& a) {
  if (nd == 1) return torchpool::max_pool1d_backward(g, x, i, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::max_pool2d_backward(g, x, i, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::max_pool3d_backward(g, x, i, a.k, a.s, a.p, a.d, a.ceil);
}
std::tuple<Tensor, Tensor> aten_with_indices(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return at::max_pool1d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return at::max_pool2d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
  return at::max_pool3d_with_indices(x, a.k, a.s, a.p, a.d, a.ceil);
}
Tensor aten(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return at::max_pool1d(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return at::max_pool2d(x, a.k, a.s, a.p, a.d, a.ceil);
  return at::max_pool3d(x, a.k, a.s, a.p, a.d, a.ceil);
}

}  // namespace

TEST_CASE("max_pool: values, indices and gradients match ATen's", "[max_pool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices()) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(1000 * nd + 10 * int(dtype) + int(layout));
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen);
            const Tensor xd = x.to(dev);
            for (const Args& a : window_configs(full_grid(nd))) {
              const std::string what = describe(op_name("max_pool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              // ATen on the contiguous input (its channels-last 3-d path misreports the
              // index of a window whose max is -inf); reduced dtypes through float32,
              // where max is exact too.
              Tensor ref_v, ref_i;
              try {
                std::tie(ref_v, ref_i) =
                    aten_with_indices(nd, (exact_dtype(dtype) ? x : x.to(at::kFloat)).contiguous(), a);
                ref_v = ref_v.to(dtype);
              } catch (const c10::Error&) {
                CHECK_THROWS(ours_with_indices(nd, xd, a));
                continue;
              }
              Tensor out, idx;
              try {
                std::tie(out, idx) = ours_with_indices(nd, xd, a);
              } catch (const c10::Error& e) {
                // A window that holds only padding is an error here; ATen's result shows one.
                CHECK_THAT(e.what(), Catch::Contains("holds only padding"));
                const int64_t plane = x[0][0].numel();
                CHECK((ref_i.ge(plane).any().item<bool>() || ref_v.isneginf().any().item<bool>()));
                continue;
              }
              CHECK_SAME(out, ref_v, what + " values");
              CHECK_SAME(idx, ref_i, what + " indices");
              CHECK_SAME(ours(nd, xd, a), ref_v, what + " values (no indices)");
              if (layout != Layout::strided && x.dim() >= 4) {
                CHECK(same_format(out, x));
                CHECK(same_format(idx, x));
              }

              // Gradients: each grad_output element to its index, summed where windows overlap.
              const Tensor g = randn(ref_v.sizes(), dtype, gen);
              const Tensor xg = xd.detach().requires_grad_();
              const Tensor grad = grad_of(ours(nd, xg, a), xg, g.to(dev));
              CHECK_SAME(ours_backward(nd, g.to(dev), xd, idx, a), grad, what + " backward op");
              if (exact_dtype(dtype)) {
                const Tensor xr = x.detach().contiguous().requires_grad_();
                CHECK_SAME(grad, grad_of(aten(nd, xr, a), xr, g), what + " grad");
              } else {  // ATen sums in the reduced dtype; compare with an exact sum
                const Tensor xr = x.detach().to(at::kDouble).contiguous().requires_grad_();
                const Tensor ref = grad_of(aten(nd, xr, a), xr, g.to(at::kDouble)).to(dtype);
                CHECK_NEAR(grad, ref, dtype, what + " grad");
              }
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("max_pool: the defaults are Python's", "[max_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const Tensor x1 = make_input({2, 3, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x2 = make_input({2, 3, 10, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x3 = make_input({2, 3, 6, 7, 8}, at::kFloat, Layout::contiguous, gen);
  // stride {} is kernel_size, padding 0, dilation 1, ceil_mode false
  CHECK_SAME(torchpool::max_pool1d(x1, {3}), at::max_pool1d(x1, {3}, {3}, {0}, {1}, false), "1d");
  CHECK_SAME(torchpool::max_pool2d(x2, {3}), at::max_pool2d(x2, {3, 3}, {3, 3}, {0, 0}, {1, 1}, false),
             "2d");
  CHECK_SAME(torchpool::max_pool3d(x3, {2}),
             at::max_pool3d(x3, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false), "3d");
  CHECK_SAME(std::get<1>(torchpool::max_pool2d_with_indices(x2, {2, 3})),
             std::get<1>(at::max_pool2d_with_indices(x2, {2, 3})), "2d indices");
  CHECK_SAME(torchpool::max_pool2d(x2, {3}, {}, 1), at::max_pool2d(x2, {3}, {}, 1), "2d padding");
  // one int for every dim, and an unbatched input
  CHECK_SAME(torchpool::max_pool2d(x2, {3}, {2}), torchpool::max_pool2d(x2, {3, 3}, {2, 2}), "broadcast");
  CHECK_SAME(torchpool::max_pool2d(x2[0], {3}, {2}, {1}), at::max_pool2d(x2[0], {3}, {2}, {1}), "unbatched");
}

TEST_CASE("max_pool: the ops are registered when the library loads", "[max_pool]") {
  check_registered("max_pool", {"", "_with_indices", "_backward"});
}

TEST_CASE("max_pool: bad input raises an error that names the argument", "[max_pool]") {
  using Catch::Contains;
  const Tensor x = at::randn({1, 2, 8, 8});
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {0}),
                    Contains("max_pool2d: kernel_size must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {2}, {0}),
                    Contains("max_pool2d: stride must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {2}, {}, {-1}),
                    Contains("max_pool2d: padding must be non-negative"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {3}, {}, {2}),
                    Contains("max_pool2d: padding (2) must be at most half of kernel_size (3)"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {2}, {}, 0, {0}),
                    Contains("max_pool2d: dilation must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {2, 2, 2}),
                    Contains("max_pool2d: kernel_size must be a single int or"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x, {9}), Contains("max_pool2d: output size is too small"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(at::randn({8, 8}), {2}), Contains("max_pool2d: input must be 3-d"));
  CHECK_THROWS_WITH(torchpool::max_pool3d_with_indices(at::randn({2, 8, 8}), {2}),
                    Contains("max_pool3d: input must be 4-d"));
  CHECK_THROWS_WITH(torchpool::max_pool1d(at::randn({2, 0, 4}), {2}), Contains("max_pool1d: input must be"));
  CHECK_THROWS_WITH(torchpool::max_pool2d(x.to(at::kInt), {2}),
                    Contains("max_pool2d: input must be float32"));
  // The backward checks the indices it routes by.
  const Tensor g = at::ones({1, 2, 4, 4});
  const Tensor bad = at::full({1, 2, 4, 4}, 64, at::kLong);
  CHECK_THROWS_WITH(torchpool::max_pool2d_backward(g, x, bad, {2}, {2}, {0}, {1}, false),
                    Contains("index 64 is out of range"));
  CHECK_THROWS_WITH(torchpool::max_pool2d_backward(g, x, bad.to(at::kInt), {2}, {2}, {0}, {1}, false),
                    Contains("max_pool2d_backward: indices must be int64"));
}
