// avg_pool{1,2,3}d through the public C++ API against ATen's avg_pool*d: values (bit
// for bit in float32/64 on the CPU: the same order of summation), memory formats,
// gradients through torch::autograd, the Python defaults, and errors that name the
// argument.
#include <ATen/CPUGeneratorImpl.h>
#include <torchpool/torchpool.h>

#include "common.h"

using at::Tensor;
using namespace torchpool_test;

namespace {

using Args = AvgArgs;

Tensor ours(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::avg_pool1d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  if (nd == 2) return torchpool::avg_pool2d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  return torchpool::avg_pool3d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
}
Tensor ours_backward(int nd, const Tensor& g, const Tensor& x, const Args& a) {
  if (nd == 1)
    return torchpool::avg_pool1d_backward(g, x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  if (nd == 2)
    return torchpool::avg_pool2d_backward(g, x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  return torchpool::avg_pool3d_backward(g, x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
}
Tensor aten(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) {
    if (!a.divisor) return at::avg_pool1d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad);
    // ATen's avg_pool1d has no divisor_override: the 2-d op over a row of height 1.
    const int64_t s = a.s.empty() ? a.k[0] : a.s[0];
    return at::avg_pool2d(x.unsqueeze(-2), {1, a.k[0]}, {1, s}, {0, a.p[0]}, a.ceil,
                          a.count_include_pad, a.divisor)
        .squeeze(-2);
  }
  if (nd == 2) return at::avg_pool2d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  return at::avg_pool3d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
}

}  // namespace

TEST_CASE("avg_pool: values and gradients match ATen's", "[avg_pool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices()) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(2000 * nd + 10 * int(dtype) + int(layout));
          const bool exact = exact_dtype(dtype), bitwise = exact && dev.is_cpu();
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen);
            const Tensor xd = x.to(dev);
            for (const Args& a : avg_configs(full_grid(nd))) {
              const std::string what = describe(op_name("avg_pool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              // Reduced dtypes: ATen computes in float and rounds (and has no CPU half
              // avg_pool3d), so the reference is float32 rounded to the dtype.
              Tensor ref;
              try {
                ref = aten(nd, exact ? x : x.to(at::kFloat), a).to(dtype);
              } catch (const c10::Error&) {
                CHECK_THROWS(ours(nd, xd, a));
                continue;
              }
              const Tensor out = ours(nd, xd, a);
              if (bitwise)
                CHECK_SAME(out, ref, what);
              else
                CHECK_NEAR(out, ref, dtype, what);
              if (layout != Layout::strided && x.dim() >= 4) CHECK(same_format(out, x));

              // Gradients: each grad_output element spread over its window by the divisor.
              const Tensor g = randn(ref.sizes(), dtype, gen);
              const Tensor xg = xd.detach().requires_grad_();
              const Tensor grad = grad_of(ours(nd, xg, a), xg, g.to(dev));
              CHECK_SAME(ours_backward(nd, g.to(dev), xd, a), grad, what + " backward op");
              if (exact) {
                const Tensor xr = x.detach().contiguous().requires_grad_();
                const Tensor gr = grad_of(aten(nd, xr, a), xr, g);
                if (bitwise)
                  CHECK_SAME(grad, gr, what + " grad");
                else
                  CHECK_NEAR(grad, gr, dtype, what + " grad");
              } else {  // ATen sums in the reduced dtype; compare with an exact sum
                const Tensor xr = x.detach().to(at::kDouble).contiguous().requires_grad_();
                const Tensor gr = grad_of(aten(nd, xr, a), xr, g.to(at::kDouble)).to(dtype);
                CHECK_NEAR(grad, gr, dtype, what + " grad");
              }
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("avg_pool: the defaults are Python's", "[avg_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(8);
  const Tensor x1 = make_input({2, 3, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x2 = make_input({2, 3, 10, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x3 = make_input({2, 3, 6, 7, 8}, at::kFloat, Layout::contiguous, gen);
  // stride {} is kernel_size, padding 0, ceil_mode false, count_include_pad true, no divisor_override
  CHECK_SAME(torchpool::avg_pool1d(x1, {3}), at::avg_pool1d(x1, {3}, {3}, {0}, false, true), "1d");
  CHECK_SAME(torchpool::avg_pool2d(x2, {3}),
             at::avg_pool2d(x2, {3, 3}, {3, 3}, {0, 0}, false, true, std::nullopt), "2d");
  CHECK_SAME(torchpool::avg_pool3d(x3, {2}),
             at::avg_pool3d(x3, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, false, true, std::nullopt), "3d");
  CHECK_SAME(torchpool::avg_pool2d(x2, {3}, {}, 1), at::avg_pool2d(x2, {3}, {}, 1), "2d padding");
  // one int for every dim, and an unbatched input
  CHECK_SAME(torchpool::avg_pool2d(x2, {3}, {2}), torchpool::avg_pool2d(x2, {3, 3}, {2, 2}),
             "broadcast");
  CHECK_SAME(torchpool::avg_pool2d(x2[0], {3}, {2}, {1}), at::avg_pool2d(x2[0], {3}, {2}, {1}),
             "unbatched");
}

TEST_CASE("avg_pool: the ops are registered when the library loads", "[avg_pool]") {
  check_registered("avg_pool", {"", "_backward"});
}

TEST_CASE("avg_pool: bad input raises an error that names the argument", "[avg_pool]") {
  using Catch::Contains;
  const Tensor x = at::randn({1, 2, 8, 8});
  CHECK_THROWS_WITH(torchpool::avg_pool2d(x, {0}),
                    Contains("avg_pool2d: kernel_size must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::avg_pool2d(x, {2}, {0}),
                    Contains("avg_pool2d: stride must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::avg_pool2d(x, {3}, {}, {2}),
                    Contains("avg_pool2d: padding (2) must be at most half of kernel_size (3)"));
  CHECK_THROWS_WITH(torchpool::avg_pool2d(x, {2}, {}, 0, false, true, 0),
                    Contains("avg_pool2d: divisor_override must be non-zero"));
  CHECK_THROWS_WITH(torchpool::avg_pool1d(x, {2}), Contains("avg_pool1d: input must be 2-d"));
  CHECK_THROWS_WITH(torchpool::avg_pool3d(at::randn({1, 2, 4, 1, 4}), {2}, {1}, {1}),
                    Contains("avg_pool3d: input size (4x1x4) must be at least kernel_size"));
  CHECK_THROWS_WITH(torchpool::avg_pool2d(x.to(at::kLong), {2}),
                    Contains("avg_pool2d: input must be float32"));
  CHECK_THROWS_WITH(
      torchpool::avg_pool2d_backward(at::ones({1, 2, 3, 3}), x, {2}, {2}, {0}, false, true, std::nullopt),
      Contains("avg_pool2d_backward: grad_output must have size"));
}
