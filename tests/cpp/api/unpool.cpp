// max_unpool{1,2,3}d and avg_unpool{1,2,3}d through the public C++ API: max_unpool
// against ATen's max_unpool2d/3d (1-d through the 2-d op, as torch.nn.functional does),
// round trips with torchpool's max pooling, repeated indices, its gather gradient through
// torch::autograd; avg_unpool against the gradient of ATen's average pooling (its
// definition: the adjoint) and its gradient against ATen's average pooling; the Python
// defaults; errors that name the argument or the index.
#include <ATen/CPUGeneratorImpl.h>
#include <torchpool/torchpool.h>

#include <optional>

#include "common.h"

using at::Tensor;
using namespace torchpool_test;

namespace {

using Args = AvgArgs;

// Kernels with strides below, at and above them (overlapping windows repeat indices).
Grid grid(int nd) {
  if (nd == 1) return {{{2}, {3}}, {{}, {1}, {3}}};
  return small_grid(nd);
}

std::vector<int64_t> spatial(const Tensor& t, int nd) { return t.sizes().slice(t.dim() - nd).vec(); }

// t's values in a view with stride 2 in every dim (make_input's strided layout).
Tensor strided(const Tensor& t) {
  std::vector<int64_t> twice;
  for (int64_t s : t.sizes()) twice.push_back(2 * s);
  Tensor view = at::zeros(twice, t.options());
  for (int64_t d = 0; d < view.dim(); ++d) view = view.slice(d, 0, c10::nullopt, 2);
  return view.copy_(t);
}

std::tuple<Tensor, Tensor> max_pool(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) return torchpool::max_pool1d_with_indices(x, a.k, a.s, a.p);
  if (nd == 2) return torchpool::max_pool2d_with_indices(x, a.k, a.s, a.p);
  return torchpool::max_pool3d_with_indices(x, a.k, a.s, a.p);
}
Tensor max_unpool(int nd, const Tensor& y, const Tensor& i, const Args& a, at::OptionalIntArrayRef size) {
  if (nd == 1) return torchpool::max_unpool1d(y, i, a.k, a.s, a.p, size);
  if (nd == 2) return torchpool::max_unpool2d(y, i, a.k, a.s, a.p, size);
  return torchpool::max_unpool3d(y, i, a.k, a.s, a.p, size);
}
Tensor max_unpool_backward(int nd, const Tensor& g, const Tensor& i) {
  if (nd == 1) return torchpool::max_unpool1d_backward(g, i);
  if (nd == 2) return torchpool::max_unpool2d_backward(g, i);
  return torchpool::max_unpool3d_backward(g, i);
}
// ATen's max unpooling to the spatial size `size` (its 2-d op for 1-d).
Tensor aten_max_unpool(int nd, const Tensor& y, const Tensor& i, const Args& a, at::IntArrayRef size) {
  if (nd == 1) return at::max_unpool2d(y.unsqueeze(-2), i.unsqueeze(-2), {1, size[0]}).squeeze(-2);
  if (nd == 2) return at::max_unpool2d(y, i, size);
  const auto three = [](const std::vector<int64_t>& v) {
    return v.size() == 3 ? v : std::vector<int64_t>(3, v[0]);
  };
  return at::max_unpool3d(y, i, size, three(a.s.empty() ? a.k : a.s), three(a.p));
}

Tensor avg_unpool(int nd, const Tensor& y, const Args& a, at::OptionalIntArrayRef size = std::nullopt) {
  if (nd == 1) return torchpool::avg_unpool1d(y, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor, size);
  if (nd == 2) return torchpool::avg_unpool2d(y, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor, size);
  return torchpool::avg_unpool3d(y, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor, size);
}
Tensor avg_unpool_backward(int nd, const Tensor& g, const Args& a) {
  if (nd == 1) return torchpool::avg_unpool1d_backward(g, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  if (nd == 2) return torchpool::avg_unpool2d_backward(g, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  return torchpool::avg_unpool3d_backward(g, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
}
Tensor aten_avg_pool(int nd, const Tensor& x, const Args& a) {
  if (nd == 1) {  // ATen's avg_pool1d has no divisor_override: the 2-d op over rows of height 1
    const int64_t s = a.s.empty() ? a.k[0] : a.s[0];
    return at::avg_pool2d(x.unsqueeze(-2), {1, a.k[0]}, {1, s}, {0, a.p[0]}, a.ceil, a.count_include_pad,
                          a.divisor)
        .squeeze(-2);
  }
  if (nd == 2) return at::avg_pool2d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
  return at::avg_pool3d(x, a.k, a.s, a.p, a.ceil, a.count_include_pad, a.divisor);
}

}  // namespace

TEST_CASE("max_unpool: values and gradients match ATen's", "[unpool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices("max_unpool2d")) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(6000 * nd + 10 * int(dtype) + int(layout));
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            const Tensor x = make_input(shape, dtype, layout, gen).to(dev);
            for (const Args& a : avg_configs(grid(nd), false)) {
              const std::string what = describe(op_name("max_unpool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              // Indices from torchpool's max pooling, in the input's layout (ATen's own
              // channels-last 3-d indices are wrong in -inf windows).
              Tensor y, idx;
              try {
                std::tie(y, idx) = max_pool(nd, x, a);
              } catch (const c10::Error&) {
                continue;  // max_pool's tests check which arguments it takes
              }
              if (layout == Layout::strided) y = strided(y), idx = strided(idx);
              // ATen, on contiguous tensors and one thread (set in main), writes each
              // plane in scan order: the latest of repeated indices wins, as here.
              // float16/bfloat16 through float32 (a copy is exact).
              const Tensor y_ref = (exact_dtype(dtype) ? y.cpu() : y.cpu().to(at::kFloat)).contiguous();
              const auto ref = [&](at::IntArrayRef size) {
                return aten_max_unpool(nd, y_ref, idx.cpu().contiguous(), a, size).to(dtype);
              };
              // The round trip: unpooled to the input's size, each max back at its index.
              const std::vector<int64_t> size = spatial(x, nd);
              const Tensor yg = y.detach().requires_grad_();
              const Tensor out = max_unpool(nd, yg, idx, a, size);
              CHECK_SAME(out.detach(), ref(size), what + " to the input's size");
              // (a repeated index is one element, the max of several windows: one value)
              CHECK_SAME(per_window(out.detach().cpu()).gather(2, per_window(idx.cpu())), per_window(y.cpu()),
                         what + " maxima back at their indices");
              CHECK(out.detach().ne(0).sum().item<int64_t>() <= idx.numel());
              if (layout != Layout::strided && x.dim() >= 4) CHECK(same_format(out, y));
              // The default size, and one with N and C.
              std::vector<int64_t> def;
              for (int i = 0; i < nd; ++i) {
                const int64_t k = a.k.size() == 1 ? a.k[0] : a.k[i];
                const int64_t s = a.s.empty() ? k : a.s.size() == 1 ? a.s[0] : a.s[i];
                def.push_back((y.size(y.dim() - nd + i) - 1) * s - 2 * a.p[0] + k);
              }
              Tensor at_default;
              try {
                at_default = ref(def);
              } catch (const c10::Error&) {  // an index past the default size: both refuse
              }
              if (at_default.defined())
                CHECK_SAME(max_unpool(nd, y, idx, a, std::nullopt), at_default, what + " default size");
              else
                CHECK_THROWS_WITH(max_unpool(nd, y, idx, a, std::nullopt), Catch::Contains("out of range"));
              CHECK_SAME(max_unpool(nd, y, idx, a, x.sizes()), out.detach(), what + " output_size with N, C");

              // The gradient gathers grad_output at the indices, repeated ones included.
              const Tensor g = randn(out.sizes(), dtype, gen).to(dev);
              const Tensor grad = grad_of(out, yg, g);
              CHECK_SAME(max_unpool_backward(nd, g, idx), grad, what + " backward op");
              const Tensor yr = y.cpu().to(at::kDouble).contiguous().requires_grad_();
              const Tensor ref_grad =
                  grad_of(aten_max_unpool(nd, yr, idx.cpu().contiguous(), a, size), yr, g.cpu().to(at::kDouble));
              CHECK_SAME(grad, ref_grad.to(dtype), what + " grad");
              ++checked;
            }
          }
          CHECK(checked > 10);
        }
}

TEST_CASE("max_unpool: where indices repeat, the latest in scan order wins", "[unpool]") {
  for (Layout layout : {Layout::contiguous, Layout::channels_last}) {
    INFO(name(layout));
    // Both planes: values 1..4 all at index 5, then 5 at index 0, unpooled to 3x5.
    Tensor y = at::arange(1, 6, at::kFloat).reshape({1, 1, 1, 5}).repeat({1, 2, 1, 1});
    Tensor idx = at::tensor({5, 5, 5, 5, 0}, at::kLong).reshape({1, 1, 1, 5}).repeat({1, 2, 1, 1});
    if (layout == Layout::channels_last) {
      y = y.contiguous(at::MemoryFormat::ChannelsLast);
      idx = idx.contiguous(at::MemoryFormat::ChannelsLast);
    }
    const Tensor out = torchpool::max_unpool2d(y, idx, {3, 1}, {1});
    Tensor plane = at::zeros({1, 2, 3, 5});
    plane.select(3, 0).select(2, 0).fill_(5);
    plane.select(3, 0).select(2, 1).fill_(4);
    CHECK_SAME(out.contiguous(), plane, "values");
  }
}

TEST_CASE("avg_unpool: equals the gradient of ATen's average pooling", "[unpool]") {
  for (int nd : {1, 2, 3})
    for (at::ScalarType dtype : kDtypes)
      for (Layout layout : kLayouts)
        for (at::Device dev : devices("avg_unpool2d")) {
          at::Generator gen =
              at::make_generator<at::CPUGeneratorImpl>(7000 * nd + 10 * int(dtype) + int(layout));
          const bool exact = exact_dtype(dtype), bitwise = exact && dev.is_cpu();
          int checked = 0;
          for (const auto& shape : shapes(nd)) {
            // The unpooled size: each x average-pools to a y, which unpools back to x's size.
            const Tensor x = at::zeros(shape, at::TensorOptions().dtype(at::kDouble));
            for (const Args& a : avg_configs(grid(nd))) {
              const std::string what = describe(op_name("avg_unpool", nd), shape, dtype, layout, dev, a);
              INFO(what);
              std::vector<int64_t> pooled;
              try {
                pooled = aten_avg_pool(nd, x, a).sizes().vec();
              } catch (const c10::Error&) {
                continue;  // avg_pool's tests check which arguments it takes
              }
              const Tensor y = make_input(pooled, dtype, layout, gen).to(dev);
              const Tensor yg = y.detach().requires_grad_();
              const std::vector<int64_t> size = spatial(x, nd);
              const Tensor out = avg_unpool(nd, yg, a, size);
              CHECK(out.sizes() == x.sizes());
              if (layout != Layout::strided && x.dim() >= 4) CHECK(same_format(out, y));
              // The reference: d/dz <avg_pool(z), y> at z of x's size, in y's dtype where
              // ATen sums as we do (float32/64), else in float64.
              const at::ScalarType ref_type = exact ? dtype : at::kDouble;
              const Tensor z = at::zeros(x.sizes(), at::TensorOptions().dtype(ref_type)).requires_grad_();
              const Tensor ref = grad_of(aten_avg_pool(nd, z, a), z, y.cpu().to(ref_type)).to(dtype);
              if (bitwise)
                CHECK_SAME(out.detach(), ref, what);
              else
                CHECK_NEAR(out.detach(), ref, dtype, what);
              // The default size, where it average-pools back to y's.
              const Tensor at_default = avg_unpool(nd, y, a);
              const Tensor zd = at::zeros(at_default.sizes(), z.options()).requires_grad_();
              CHECK_NEAR(at_default, grad_of(aten_avg_pool(nd, zd, a), zd, y.cpu().to(ref_type)).to(dtype),
                         dtype, what + " default size");

              // The gradient: average pooling of grad_output with the same arguments.
              const Tensor g = randn(out.sizes(), dtype, gen).to(dev);
              const Tensor grad = grad_of(out, yg, g);
              CHECK_SAME(avg_unpool_backward(nd, g, a), grad, what + " backward op");
              const Tensor ref_grad = aten_avg_pool(nd, g.cpu().to(exact ? dtype : at::kFloat), a).to(dtype);
              if (bitwise)
                CHECK_SAME(grad, ref_grad, what + " grad");
              else
                CHECK_NEAR(grad, ref_grad, dtype, what + " grad");
              ++checked;
            }
          }
          CHECK(checked > 20);
        }
}

TEST_CASE("unpool: the defaults are Python's", "[unpool]") {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(12);
  const Tensor x2 = make_input({2, 3, 10, 12}, at::kFloat, Layout::contiguous, gen);
  const auto [y2, i2] = torchpool::max_pool2d_with_indices(x2, {2});
  // stride {} is kernel_size, padding 0, output_size the default (L-1)*s - 2p + k
  CHECK_SAME(torchpool::max_unpool2d(y2, i2, {2}), at::max_unpool2d(y2, i2, {10, 12}), "max 2d");
  const Tensor x1 = make_input({2, 3, 12}, at::kFloat, Layout::contiguous, gen);
  const auto [p1, j1] = torchpool::max_pool1d_with_indices(x1, {3});
  CHECK_SAME(torchpool::max_unpool1d(p1, j1, {3}), torchpool::max_unpool1d(p1, j1, {3}, {3}, {0}, std::nullopt),
             "max 1d");
  const Tensor x3 = make_input({2, 3, 4, 6, 8}, at::kFloat, Layout::contiguous, gen);
  const auto [p3, j3] = torchpool::max_pool3d_with_indices(x3, {2});
  CHECK_SAME(torchpool::max_unpool3d(p3, j3, {2}), at::max_unpool3d(p3, j3, {4, 6, 8}, {2, 2, 2}, {0, 0, 0}),
             "max 3d");
  // avg: also ceil_mode false, count_include_pad true, no divisor_override
  CHECK_SAME(torchpool::avg_unpool2d(y2, {2}),
             torchpool::avg_unpool2d(y2, {2, 2}, {2, 2}, {0, 0}, false, true, std::nullopt, std::nullopt),
             "avg 2d");
  CHECK(torchpool::avg_unpool3d(p3, {2}).sizes() == x3.sizes());
  CHECK(torchpool::avg_unpool1d(p1, {3}, {2}, {1}).sizes() == at::IntArrayRef({2, 3, 7}));
  // an unbatched input
  CHECK_SAME(torchpool::max_unpool2d(y2[1], i2[1], {2}), torchpool::max_unpool2d(y2, i2, {2})[1], "unbatched");
  CHECK_SAME(torchpool::avg_unpool2d(y2[1], {2}), torchpool::avg_unpool2d(y2, {2})[1], "avg unbatched");
}

TEST_CASE("unpool: the ops are registered when the library loads", "[unpool]") {
  check_registered("max_unpool", {"", "_backward", "_add"});
  check_registered("avg_unpool", {"", "_backward"});
}

TEST_CASE("unpool: bad input raises an error that names the argument or the index", "[unpool]") {
  using Catch::Contains;
  const auto [y, idx] = at::max_pool2d_with_indices(at::randn({2, 3, 8, 8}), {2});
  // An index outside the output plane is an error naming it and the plane's size.
  for (int64_t bad : {int64_t(64), int64_t(-1), int64_t(1) << 40})
    for (Layout layout : {Layout::contiguous, Layout::channels_last}) {
      Tensor i = idx.clone();
      i[1][2][3][0] = bad;
      if (layout == Layout::channels_last) i = i.contiguous(at::MemoryFormat::ChannelsLast);
      const std::string msg = "index " + std::to_string(bad) + " is out of range for a plane of 64 elements";
      INFO(name(layout) + " " + msg);
      CHECK_THROWS_WITH(torchpool::max_unpool2d(y, i, {2}), Contains("max_unpool2d: " + msg));
      CHECK_THROWS_WITH(torchpool::max_unpool2d_backward(at::ones({2, 3, 8, 8}), i),
                        Contains("max_unpool2d_backward: " + msg));
    }
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx, {2}, {}, 0, std::vector<int64_t>{10, 9}),
                    Contains("max_unpool2d: invalid output_size"));
  CHECK_THROWS_AS(torchpool::max_unpool2d(y, idx, {2}, {}, 0, std::vector<int64_t>{10, 9}), c10::ValueError);
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx, {2}, {}, 0, std::vector<int64_t>{3, 8, 8}),
                    Contains("max_unpool2d: output_size must have 2 or 4 elements"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx, {0}), Contains("max_unpool2d: kernel_size must be greater"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx, {2}, {0}), Contains("max_unpool2d: stride must be greater"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx, {2}, {}, {-1}),
                    Contains("max_unpool2d: padding must be non-negative"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx.to(at::kInt), {2}),
                    Contains("max_unpool2d: indices must be int64"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y, idx.narrow(3, 0, 3), {2}),
                    Contains("max_unpool2d: indices must have the input's size"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(y.unsqueeze(0), idx.unsqueeze(0), {2}), Contains("max_unpool2d: input must be 3-d"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d(idx, idx, {2}), Contains("max_unpool2d: input must be float32"));
  CHECK_THROWS_WITH(torchpool::max_unpool2d_backward(at::ones({2, 4, 8, 8}), idx),
                    Contains("max_unpool2d_backward: grad_output must have the batch and channels"));
  // avg_unpool: an output_size that does not average-pool back to the input's size
  CHECK_THROWS_WITH(torchpool::avg_unpool2d(y, {2}, {}, 0, false, true, std::nullopt, std::vector<int64_t>{10, 8}),
                    Contains("avg_unpool2d: output_size (10x8) does not average-pool back"));
  CHECK_THROWS_AS(torchpool::avg_unpool2d(y, {2}, {}, 0, false, true, std::nullopt, std::vector<int64_t>{10, 8}),
                  c10::ValueError);
  CHECK_THROWS_WITH(torchpool::avg_unpool2d(y, {2}, {}, {2}),
                    Contains("avg_unpool2d: padding (2) must be at most half of kernel_size (2)"));
  CHECK_THROWS_WITH(torchpool::avg_unpool2d(y, {2}, {}, 0, false, true, 0),
                    Contains("avg_unpool2d: divisor_override must be non-zero"));
  CHECK_THROWS_WITH(torchpool::avg_unpool2d(y.to(at::kLong), {2}), Contains("avg_unpool2d: input must be float32"));
}
