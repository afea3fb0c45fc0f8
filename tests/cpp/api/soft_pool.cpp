// soft_pool{1,2,3}d through the public C++ API against a float64 reference written with
// ATen ops (a softmax over each window's elements inside the input): values, memory
// formats, the exact gradient w_i (1 + x_i - y) through torch::autograd, stability at
// +-1e4, special windows, the Python defaults, and errors that name the argument.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torchpool/torchpool.h>

#include <cmath>
#include <utility>

#include "common.h"

using at::Tensor;
using namespace torchpool_test;

namespace {

using Args = WindowArgs;

Tensor ours(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::soft_pool1d(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::soft_pool2d(x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::soft_pool3d(x, a.k, a.s, a.p, a.d, a.ceil);
}
Tensor ours_backward(int nd, const Tensor& g, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::soft_pool1d_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::soft_pool2d_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::soft_pool3d_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
}
// torch's argument checks, through its max pooling (the same geometry).
bool aten_rejects(int nd, const Tensor& x, const Args& a) {
  const Tensor xf = x.to(at::kFloat).contiguous();
  try {
    if (nd == 1) at::max_pool1d(xf, a.k, a.s, a.p, a.d, a.ceil);
    if (nd == 2) at::max_pool2d(xf, a.k, a.s, a.p, a.d, a.ceil);
    if (nd == 3) at::max_pool3d(xf, a.k, a.s, a.p, a.d, a.ceil);
  } catch (const c10::Error&) {
    return true;
  }
  return false;
}

// Design §2 in float64: w = softmax over the window's elements inside the input; a window
// holding +inf shares its weight among its +inf elements, an all -inf window among all
// its elements; a NaN makes the window's value and gradients NaN.
struct SoftRef {
  Windows w;
  Tensor weights;  // (N, C, O, K)
  Tensor y;        // (N, C, O)

  // The gradient for grad_output g, and the sum of the sizes of its terms: x_i - y
  // carries a rounding of |x_i| + |y| (y is itself rounded), so those count too.
  std::pair<Tensor, Tensor> grad(const Tensor& g, at::IntArrayRef sizes) const {
    const Tensor& v = w.values;
    const Tensor yk = y.unsqueeze(-1);
    const Tensor dx = at::where(v.eq(yk), 0, v - yk);  // inf - inf is no difference
    const Tensor used = weights.ne(0);
    const Tensor gw = per_window(g.to(at::kDouble)).unsqueeze(-1) * weights;
    const Tensor terms = at::where(used, gw * (dx + 1), 0);
    const Tensor size =
        at::where(used, gw.abs() * ((dx + 1).abs() + v.abs() + yk.abs()), 0).nan_to_num(0, 0, 0);
    return {scatter_windows(w, terms, sizes), scatter_windows(w, size, sizes)};
  }
};

SoftRef soft_ref(const Tensor& x, int nd, const Args& a) {
  SoftRef r{windows(x, nd, a.k, a.s, a.p, a.d, a.ceil), {}, {}};
  const Tensor& v = r.w.values;
  const Tensor valid = r.w.valid.expand_as(v);
  const Tensor xm = v.masked_fill(valid.logical_not(), -INFINITY);
  const Tensor pinf = xm.eq(INFINITY).to(at::kDouble), inside = valid.to(at::kDouble);
  Tensor w = at::softmax(xm, -1);
  w = at::where(pinf.sum(-1, true).gt(0), pinf / pinf.sum(-1, true), w);
  w = at::where(xm.eq(-INFINITY).all(-1, true), inside / inside.sum(-1, true), w);
  w = at::where(v.isnan().logical_and(valid).any(-1, true), NAN, w);
  r.weights = w;
  r.y = (w * at::where(w.gt(0), v, 0)).sum(-1);  // 0 * -inf would be NaN
  return r;
}

}  // namespace

TEST_CASE("soft_pool: values and gradients match a float64 reference", "[soft_pool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices("soft_pool2d")) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(3000 * nd + 10 * int(dtype) + int(layout));
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen);
            const Tensor xd = x.to(dev);
            for (const Args& a : window_configs(small_grid(nd))) {
              const std::string what = describe(op_name("soft_pool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              if (aten_rejects(nd, x, a)) {
                CHECK_THROWS(ours(nd, xd, a));
                continue;
              }
              const Tensor xg = xd.detach().requires_grad_();
              Tensor out;
              try {
                out = ours(nd, xg, a);
              } catch (const c10::Error& e) {
                CHECK_THAT(e.what(), Catch::Contains("holds only padding"));
                continue;
              }
              const SoftRef ref = soft_ref(x, nd, a);
              CHECK(out.scalar_type() == dtype);
              CHECK_NEAR(out.detach(), ref.y.reshape(out.sizes()).to(dtype), dtype, what);
              if (layout != Layout::strided && x.dim() >= 4) CHECK(same_format(out, x));

              const Tensor g = randn(out.sizes(), dtype, gen);
              const Tensor grad = grad_of(out, xg, g.to(dev));
              CHECK_SAME(ours_backward(nd, g.to(dev), xd, a), grad, what + " backward op");
              const auto [want, magnitude] = ref.grad(g, x.sizes());
              CHECK_SUM_NEAR(grad, want.to(dtype), magnitude, dtype, what + " grad");
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("soft_pool: inputs of +-1e4 give finite, accurate values and gradients", "[soft_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
  // float16 tops out at 65504, so its bound is where x e^x would already have overflowed.
  const std::vector<std::pair<at::ScalarType, double>> cases{
      {at::kFloat, 1e4}, {at::kDouble, 1e4}, {at::kHalf, 60.0}, {at::kBFloat16, 1e4}};
  for (const auto& [dtype, bound] : cases)
    for (Layout layout : {Layout::contiguous, Layout::channels_last}) {
      Tensor x = (at::rand({4, 6, 20, 22}, gen, at::TensorOptions().dtype(at::kDouble)) * 2 - 1) * bound;
      x[0][0].slice(0, 0, 4).slice(1, 0, 4).fill_(bound);  // ties at the bound
      x = x.to(dtype);
      if (layout == Layout::channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      for (const Args& a : {Args{{2}, {}, {0}, {1}, false}, Args{{3}, {1}, {1}, {1}, false},
                            Args{{3}, {}, {0}, {2}, false}}) {
        const std::string what = describe("soft_pool2d", x.sizes(), dtype, layout, at::kCPU, a) + " +-" +
                                 std::to_string(bound);
        INFO(what);
        const Tensor xg = x.detach().requires_grad_();
        const Tensor out = ours(2, xg, a);
        const Tensor g = randn(out.sizes(), dtype, gen);
        const Tensor grad = grad_of(out, xg, g);
        CHECK(out.isfinite().all().item<bool>());
        CHECK(grad.isfinite().all().item<bool>());
        const SoftRef ref = soft_ref(x, 2, a);
        CHECK_NEAR(out.detach(), ref.y.reshape(out.sizes()).to(dtype), dtype, what);
        const auto [want, magnitude] = ref.grad(g, x.sizes());
        CHECK_SUM_NEAR(grad, want.to(dtype), magnitude, dtype, what + " grad");
      }
    }
}

TEST_CASE("soft_pool: infinities and NaN in a window", "[soft_pool]") {
  const Tensor x =
      at::tensor({-INFINITY, -INFINITY, 1.0f, INFINITY, 2.0f, INFINITY, NAN, 3.0f, -INFINITY, 0.0f})
          .reshape({1, 1, 10})
          .requires_grad_();
  const Tensor out = torchpool::soft_pool1d(x, {2});
  CHECK_SAME(out.detach(), at::tensor({-INFINITY, INFINITY, INFINITY, NAN, 0.0f}).reshape({1, 1, 5}),
             "values");
  // The -inf pair shares its gradient, +inf takes it all, NaN poisons, -inf next to 0 gets none.
  CHECK_SAME(grad_of(out, x, at::full_like(out, 2.0)),
             at::tensor({1.0f, 1.0f, 0.0f, 2.0f, 0.0f, 2.0f, NAN, NAN, 0.0f, 2.0f}).reshape({1, 1, 10}),
             "gradient");
}

TEST_CASE("soft_pool: the defaults are Python's", "[soft_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
  const Tensor x1 = make_input({2, 3, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x2 = make_input({2, 3, 10, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x3 = make_input({2, 3, 6, 7, 8}, at::kFloat, Layout::contiguous, gen);
  // stride {} is kernel_size, padding 0, dilation 1, ceil_mode false
  CHECK_SAME(torchpool::soft_pool1d(x1, {3}), torchpool::soft_pool1d(x1, {3}, {3}, {0}, {1}, false), "1d");
  CHECK_SAME(torchpool::soft_pool2d(x2, {3}),
             torchpool::soft_pool2d(x2, {3, 3}, {3, 3}, {0, 0}, {1, 1}, false), "2d");
  CHECK_SAME(torchpool::soft_pool3d(x3, {2}),
             torchpool::soft_pool3d(x3, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false), "3d");
  CHECK(torchpool::soft_pool2d(x2, {3}).sizes() == at::IntArrayRef({2, 3, 3, 3}));
  // an unbatched input, and a kernel of one element, which returns the input
  CHECK_SAME(torchpool::soft_pool2d(x2[1], {3}, {2}, {1}), torchpool::soft_pool2d(x2, {3}, {2}, {1})[1],
             "unbatched");
  CHECK_SAME(torchpool::soft_pool2d(x2, {1}), x2, "kernel 1");
}

TEST_CASE("soft_pool: the ops are registered when the library loads", "[soft_pool]") {
  check_registered("soft_pool", {"", "_backward"});
}

TEST_CASE("soft_pool: bad input raises an error that names the argument", "[soft_pool]") {
  using Catch::Contains;
  const Tensor x = at::randn({1, 2, 8, 8});
  CHECK_THROWS_WITH(torchpool::soft_pool2d(x, {0}),
                    Contains("soft_pool2d: kernel_size must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::soft_pool2d(x, {2}, {0}),
                    Contains("soft_pool2d: stride must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::soft_pool2d(x, {3}, {}, {2}),
                    Contains("soft_pool2d: padding (2) must be at most half of kernel_size (3)"));
  CHECK_THROWS_WITH(torchpool::soft_pool2d(x, {2}, {}, 0, {0}),
                    Contains("soft_pool2d: dilation must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::soft_pool3d(x, {2}, {}, 0, {1, 1}),
                    Contains("soft_pool3d: dilation must be a single int or"));
  CHECK_THROWS_WITH(torchpool::soft_pool1d(at::randn({8}), {2}), Contains("soft_pool1d: input must be 2-d"));
  CHECK_THROWS_WITH(torchpool::soft_pool2d(x.to(at::kInt), {2}),
                    Contains("soft_pool2d: input must be float32"));
  CHECK_THROWS_WITH(torchpool::soft_pool2d_backward(at::ones({1, 2, 3, 3}), x, {2}, {2}, {0}, {1}, false),
                    Contains("soft_pool2d_backward: grad_output must have size"));
  CHECK_THROWS_WITH(
      torchpool::soft_pool2d_backward(at::ones({1, 2, 4, 4}, at::kDouble), x, {2}, {2}, {0}, {1}, false),
      Contains("soft_pool2d_backward: grad_output must have the input's dtype"));
  // First derivatives only: the gradient of the gradient says so.
  const Tensor xg = x.to(at::kDouble).requires_grad_();
  const Tensor gx = torch::autograd::grad({torchpool::soft_pool2d(xg, {2}).sum()}, {xg}, {}, true, true)[0];
  CHECK_THROWS_WITH(torch::autograd::grad({gx.sum()}, {xg}),
                    Contains("soft_pool2d_backward: double backward"));
}
