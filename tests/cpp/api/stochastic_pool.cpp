// stochastic_pool{1,2,3}d through the public C++ API: training picks lie in their window
// with a positive weight and the index points at the value, with the odds w_i / sum w;
// windows with no positive finite weight sum are max-pooled (against ATen's max pooling);
// the same key gives the same picks whatever the layout, and the generator overload draws
// the key as Python does; evaluation and both gradients against float64 references
// through torch::autograd; the Python defaults; errors that name the argument.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/csrc/autograd/autograd.h>
#include <torchpool/torchpool.h>

#include <cmath>

#include "common.h"

using at::Tensor;
using namespace torchpool_test;

namespace {

using Args = WindowArgs;

std::tuple<Tensor, Tensor> sample(int nd, const Tensor& x, const Args& a, int64_t seed, int64_t offset) {
  if (nd == 1) return torchpool::stochastic_pool1d(x, a.k, a.s, a.p, a.d, a.ceil, seed, offset);
  if (nd == 2) return torchpool::stochastic_pool2d(x, a.k, a.s, a.p, a.d, a.ceil, seed, offset);
  return torchpool::stochastic_pool3d(x, a.k, a.s, a.p, a.d, a.ceil, seed, offset);
}
Tensor eval(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::stochastic_pool1d_eval(x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::stochastic_pool2d_eval(x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::stochastic_pool3d_eval(x, a.k, a.s, a.p, a.d, a.ceil);
}
Tensor eval_backward(int nd, const Tensor& g, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::stochastic_pool1d_eval_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return torchpool::stochastic_pool2d_eval_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
  return torchpool::stochastic_pool3d_eval_backward(g, x, a.k, a.s, a.p, a.d, a.ceil);
}
// ATen's max pooling (values and indices) on the contiguous input, float16/bfloat16 in
// float32 (exact too): the fallback of windows without a positive finite weight sum.
// Throws where torch rejects the arguments.
std::tuple<Tensor, Tensor> aten_max(int nd, const Tensor& x, const Args& a) {
  const Tensor xf = (exact_dtype(x.scalar_type()) ? x : x.to(at::kFloat)).contiguous();
  if (nd == 1) return at::max_pool1d_with_indices(xf, a.k, a.s, a.p, a.d, a.ceil);
  if (nd == 2) return at::max_pool2d_with_indices(xf, a.k, a.s, a.p, a.d, a.ceil);
  return at::max_pool3d_with_indices(xf, a.k, a.s, a.p, a.d, a.ceil);
}

// Each grad_output element added at its index in float64 (the routing of max pooling).
Tensor routed(const Tensor& g, const Tensor& idx, at::IntArrayRef sizes) {
  Tensor planes = at::zeros({sizes[0], sizes[1], c10::multiply_integers(sizes.slice(2))},
                            at::TensorOptions().dtype(at::kDouble));
  return planes.scatter_add_(2, per_window(idx.cpu()), per_window(g.cpu().to(at::kDouble))).reshape(sizes);
}

// The weights w = max(x, 0) of each window's elements inside the input, their sums S, and
// which windows fall back to max pooling (S not positive and finite: all <= 0, NaN, +inf).
struct Weights {
  Windows w;
  Tensor weight;    // (N, C, O, K)
  Tensor sum;       // (N, C, O)
  Tensor fallback;  // (N, C, O) bool
};
Weights weights(const Tensor& x, int nd, const Args& a) {
  Weights r{windows(x, nd, a.k, a.s, a.p, a.d, a.ceil), {}, {}, {}};
  r.weight = at::where(r.w.valid, r.w.values.clamp_min(0), 0);  // NaN stays NaN
  r.sum = r.weight.sum(-1);
  r.fallback = r.sum.gt(0).logical_and(r.sum.isfinite()).logical_not();
  return r;
}

}  // namespace

TEST_CASE("stochastic_pool: picks lie in their window, and the gradient goes to them", "[stochastic_pool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices("stochastic_pool2d")) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(4000 * nd + 10 * int(dtype) + int(layout));
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen);
            const Tensor xd = x.to(dev);
            for (const Args& a : window_configs(small_grid(nd))) {
              const std::string what = describe(op_name("stochastic_pool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              const int64_t seed = 1000 + checked, offset = 7 * checked;
              Tensor max_v, max_i;
              try {
                std::tie(max_v, max_i) = aten_max(nd, x, a);
              } catch (const c10::Error&) {
                CHECK_THROWS(sample(nd, xd, a, seed, offset));
                continue;
              }
              const Tensor xg = xd.detach().requires_grad_();
              Tensor out, idx;
              try {
                std::tie(out, idx) = sample(nd, xg, a, seed, offset);
              } catch (const c10::Error& e) {
                CHECK_THAT(e.what(), Catch::Contains("holds only padding"));
                continue;
              }
              CHECK(idx.scalar_type() == at::kLong);
              if (layout != Layout::strided && x.dim() >= 4) {
                CHECK(same_format(out, x));
                CHECK(same_format(idx, x));
              }
              // The value is the input's at the index.
              const Tensor plane_x = x.reshape({x.size(0), x.size(1), -1});
              CHECK_SAME(per_window(out.detach().cpu()), plane_x.gather(2, per_window(idx.cpu())),
                         what + " value at the index");
              // Windows with a positive finite weight sum: the index is one of the window's
              // elements with a positive weight. The others are max-pooled, as ATen's.
              const Weights wt = weights(x, nd, a);
              const Tensor i = per_window(idx.cpu());
              const Tensor hit = wt.w.index.eq(i.unsqueeze(-1)).logical_and(wt.weight.gt(0)).any(-1);
              CHECK(hit.logical_or(wt.fallback).all().item<bool>());
              CHECK_SAME(i.masked_select(wt.fallback), per_window(max_i).masked_select(wt.fallback),
                         what + " fallback indices");
              // The picks depend on the key and the position alone, not on the layout.
              CHECK_SAME(std::get<1>(sample(nd, x.contiguous().to(dev), a, seed, offset)), idx,
                         what + " picks of the contiguous input");

              const Tensor g = randn(out.sizes(), dtype, gen);
              const Tensor grad = grad_of(out, xg, g.to(dev));
              CHECK_NEAR(grad, routed(g, idx, x.sizes()).to(dtype), dtype, what + " grad");
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("stochastic_pool: picks follow the odds w_i / sum w", "[stochastic_pool]") {
  // 20000 windows of (-0.5, 1, 0, 3): never the -0.5 or the 0; the 3 three times in four.
  // The key is fixed, so the count is too; it lies well within 5 standard deviations.
  const int64_t n = 20000;
  const Tensor x = at::tensor({-0.5f, 1.0f, 0.0f, 3.0f}).repeat({n}).reshape({1, 1, 4 * n});
  const auto [out, idx] = torchpool::stochastic_pool1d(x, {4}, {}, {0}, {1}, false, 12345, 678);
  const Tensor pos = idx.remainder(4);
  CHECK(pos.eq(1).logical_or(pos.eq(3)).all().item<bool>());
  const double share = pos.eq(3).sum().item<double>() / n;
  CHECK(std::abs(share - 0.75) < 5 * std::sqrt(0.75 * 0.25 / n));
  CHECK_SAME(out, at::where(pos.eq(3), 3.0f, 1.0f), "values");
}

TEST_CASE("stochastic_pool: the key decides the picks", "[stochastic_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const Tensor x = at::rand({2, 8, 24, 30}, gen) + 0.1;  // every element a candidate
  const auto picks = [&](int64_t seed, int64_t offset) {
    return std::get<1>(torchpool::stochastic_pool2d(x, {3}, {2}, {1}, {1}, false, seed, offset));
  };
  const Tensor base = picks(5, 9);
  CHECK_SAME(picks(5, 9), base, "same key");
  CHECK_FALSE(at::equal(picks(6, 9), base));
  CHECK_FALSE(at::equal(picks(5, 10), base));
  // The generator overload advances the generator: each call samples afresh.
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
  const Tensor first = std::get<1>(torchpool::stochastic_pool2d(x, {3}, {2}, {1}, {1}, false, g));
  const Tensor second = std::get<1>(torchpool::stochastic_pool2d(x, {3}, {2}, {1}, {1}, false, g));
  CHECK_FALSE(at::equal(first, second));
}

TEST_CASE("stochastic_pool: the generator overload draws the key as Python does", "[stochastic_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(13);
  const Tensor x = at::rand({2, 3, 9, 10}, gen);
  const auto explicit_key = [&](int64_t seed, int64_t offset) {
    return torchpool::stochastic_pool2d(x, {2}, {}, {0}, {1}, false, seed, offset);
  };
  // The keys Python draws, torch.randint(0, 2**63 - 1, (2,)) after torch.manual_seed(1234),
  // and with torch.Generator().manual_seed(5); the same seeds must give them here
  // (tests/test_api.py pins the same keys for the Python function).
  at::manual_seed(1234);
  const auto [v, i] = torchpool::stochastic_pool2d(x, {2});
  const auto [ref_v, ref_i] = explicit_key(3532910284440527571, 2252509165406510134);
  CHECK_SAME(i, ref_i, "default generator");
  CHECK_SAME(v, ref_v, "default generator values");
  at::Generator five = at::make_generator<at::CPUGeneratorImpl>(5);
  CHECK_SAME(std::get<1>(torchpool::stochastic_pool2d(x, {2}, {}, 0, 1, false, five)),
             std::get<1>(explicit_key(4095051218741643470, 6838803925648402110)), "explicit generator");
  // std::nullopt, and a generator that is not defined, mean the default one.
  at::manual_seed(1234);
  CHECK_SAME(std::get<1>(torchpool::stochastic_pool2d(x, {2}, {}, 0, 1, false, std::nullopt)), ref_i,
             "std::nullopt");
  at::manual_seed(1234);
  CHECK_SAME(std::get<1>(torchpool::stochastic_pool2d(x, {2}, {}, 0, 1, false, at::Generator())), ref_i,
             "undefined generator");
}

TEST_CASE("stochastic_pool: evaluation and its gradient match a float64 reference", "[stochastic_pool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices("stochastic_pool2d_eval")) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(5000 * nd + 10 * int(dtype) + int(layout));
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen);
            const Tensor xd = x.to(dev);
            for (const Args& a : window_configs(small_grid(nd))) {
              const std::string what = describe(op_name("stochastic_pool", nd), shape, dtype, layout, dev, a) + " eval";
              INFO(what);
              Tensor max_v, max_i;
              try {
                std::tie(max_v, max_i) = aten_max(nd, x, a);
              } catch (const c10::Error&) {
                CHECK_THROWS(eval(nd, xd, a));
                continue;
              }
              const Tensor xg = xd.detach().requires_grad_();
              Tensor out;
              try {
                out = eval(nd, xg, a);
              } catch (const c10::Error& e) {
                CHECK_THAT(e.what(), Catch::Contains("holds only padding"));
                continue;
              }
              if (layout != Layout::strided && x.dim() >= 4) CHECK(same_format(out, x));
              // y = sum w x / S = sum w (w / S) (w^2 would underflow for denormal w), or
              // the max where the window falls back.
              const Weights wt = weights(x, nd, a);
              const Tensor y = at::where(wt.fallback, per_window(max_v.to(at::kDouble)),
                                         (wt.weight * (wt.weight / wt.sum.unsqueeze(-1))).sum(-1));
              CHECK_NEAR(out.detach(), y.reshape(out.sizes()).to(dtype), dtype, what);

              // Gradient: (2 x_i - y) / S for x_i > 0, or max pooling's in a fallback window.
              const Tensor g = randn(out.sizes(), dtype, gen);
              const Tensor grad = grad_of(out, xg, g.to(dev));
              CHECK_SAME(eval_backward(nd, g.to(dev), xd, a), grad, what + " backward op");
              const Tensor gk = per_window(g.to(at::kDouble)).unsqueeze(-1);
              const Tensor yk = y.unsqueeze(-1), sk = wt.sum.unsqueeze(-1);
              const Tensor used = wt.weight.gt(0).logical_and(wt.fallback.logical_not().unsqueeze(-1));
              const Tensor terms = at::where(used, gk * (2 * wt.w.values - yk) / sk, 0);
              const Tensor size = at::where(used, gk.abs() * (2 * wt.w.values.abs() + yk.abs()) / sk, 0);
              const Tensor gf = at::where(wt.fallback, per_window(g), 0).reshape(g.sizes());
              const Tensor want = scatter_windows(wt.w, terms, x.sizes()) + routed(gf, max_i, x.sizes());
              CHECK_SUM_NEAR(grad, want.to(dtype), scatter_windows(wt.w, size, x.sizes()), dtype,
                             what + " grad");
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("stochastic_pool: the defaults are Python's", "[stochastic_pool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(10);
  const Tensor x1 = make_input({2, 3, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x2 = make_input({2, 3, 10, 11}, at::kFloat, Layout::contiguous, gen);
  const Tensor x3 = make_input({2, 3, 6, 7, 8}, at::kFloat, Layout::contiguous, gen);
  // stride {} is kernel_size, padding 0, dilation 1, ceil_mode false; the generator the default
  CHECK_SAME(torchpool::stochastic_pool1d_eval(x1, {3}),
             torchpool::stochastic_pool1d_eval(x1, {3}, {3}, {0}, {1}, false), "1d eval");
  CHECK_SAME(torchpool::stochastic_pool2d_eval(x2, {3}),
             torchpool::stochastic_pool2d_eval(x2, {3, 3}, {3, 3}, {0, 0}, {1, 1}, false), "2d eval");
  CHECK_SAME(torchpool::stochastic_pool3d_eval(x3, {2}),
             torchpool::stochastic_pool3d_eval(x3, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false),
             "3d eval");
  at::manual_seed(21);
  const Tensor picks = std::get<1>(torchpool::stochastic_pool3d(x3, {2}));
  at::manual_seed(21);
  CHECK_SAME(std::get<1>(torchpool::stochastic_pool3d(x3, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1},
                                                      false, std::nullopt)),
             picks, "3d training");
  // an unbatched input (its evaluation: the picks hang on the output's linear index)
  CHECK_SAME(torchpool::stochastic_pool2d_eval(x2[1], {3}, {2}, {1}),
             torchpool::stochastic_pool2d_eval(x2, {3}, {2}, {1})[1], "unbatched");
}

TEST_CASE("stochastic_pool: the ops are registered when the library loads", "[stochastic_pool]") {
  check_registered("stochastic_pool", {"", "_eval", "_eval_backward"});
}

TEST_CASE("stochastic_pool: bad input raises an error that names the argument", "[stochastic_pool]") {
  using Catch::Contains;
  const Tensor x = at::randn({1, 2, 8, 8});
  CHECK_THROWS_WITH(torchpool::stochastic_pool2d(x, {0}),
                    Contains("stochastic_pool2d: kernel_size must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::stochastic_pool2d(x, {3}, {}, {2}),
                    Contains("stochastic_pool2d: padding (2) must be at most half of kernel_size (3)"));
  CHECK_THROWS_WITH(torchpool::stochastic_pool2d_eval(x, {2}, {}, 0, {0}),
                    Contains("stochastic_pool2d_eval: dilation must be greater than zero"));
  CHECK_THROWS_WITH(torchpool::stochastic_pool2d(x.to(at::kInt), {2}),
                    Contains("stochastic_pool2d: input must be float32"));
  CHECK_THROWS_WITH(torchpool::stochastic_pool3d(x[0][0], {2}), Contains("stochastic_pool3d: input must be 4-d"));
  CHECK_THROWS_WITH(
      torchpool::stochastic_pool2d_eval_backward(at::ones({1, 2, 3, 3}), x, {2}, {2}, {0}, {1}, false),
      Contains("stochastic_pool2d_eval_backward: grad_output must have size"));
  // Evaluation has first derivatives only: the gradient of the gradient says so.
  const Tensor xg = x.to(at::kDouble).requires_grad_();
  const Tensor gx =
      torch::autograd::grad({torchpool::stochastic_pool2d_eval(xg, {2}).sum()}, {xg}, {}, true, true)[0];
  CHECK_THROWS_WITH(torch::autograd::grad({gx.sum()}, {xg}),
                    Contains("stochastic_pool2d_eval_backward: double backward"));
}
