#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>
#include <c10/util/accumulate.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <torchpool/torchpool.h>

namespace torchpool_test {

std::vector<at::Device> devices() {
  std::vector<at::Device> d{at::kCPU};
  if (at::hasCUDA() && torchpool::build_info().find("\"cuda\": true") != std::string::npos)
    d.emplace_back(at::kCUDA);
  return d;
}

std::vector<at::Device> devices(const std::string& op) {
  std::vector<at::Device> d = devices();
  const auto h = c10::Dispatcher::singleton().findSchema({"torchpool::" + op, ""});
  if (!h || !h->hasKernelForDispatchKey(c10::DispatchKey::CUDA))
    d.erase(std::remove_if(d.begin(), d.end(), [](const at::Device& v) { return v.is_cuda(); }), d.end());
  return d;
}

std::string name(Layout l) {
  switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::channels_last: return "channels_last";
    case Layout::strided: return "strided";
  }
  return "?";
}

std::string name(at::IntArrayRef a) {
  std::ostringstream os;
  os << a;
  return os.str();
}

namespace {

double tiny(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return 1e-310;
    case at::kHalf: return 1e-7;
    case at::kBFloat16: return 1e-39;
    default: return 1e-40;
  }
}

at::Tensor between(const at::Tensor& u, double lo, double hi) { return u.ge(lo).logical_and(u.lt(hi)); }

// The first element where `ok` is false (coordinates and both values), and the count.
std::string report(const at::Tensor& ours, const at::Tensor& ref, const at::Tensor& ok) {
  if (ok.all().item<bool>()) return "";
  const at::Tensor bad = ok.logical_not().reshape(-1);
  const int64_t first = bad.nonzero()[0][0].item<int64_t>();
  std::vector<int64_t> coords(ours.dim());
  for (int64_t d = ours.dim() - 1, rest = first; d >= 0; --d) {
    coords[d] = rest % ours.size(d);
    rest /= ours.size(d);
  }
  std::ostringstream os;
  os << "first mismatch at " << at::IntArrayRef(coords) << ": "
     << ours.reshape(-1)[first].item().toDouble() << " != " << ref.reshape(-1)[first].item().toDouble()
     << " (" << bad.sum().item<int64_t>() << " mismatches)";
  return os.str();
}

std::string shape_or_dtype(const at::Tensor& ours, const at::Tensor& ref) {
  if (ours.sizes() != ref.sizes()) return "shape " + name(ours.sizes()) + " != " + name(ref.sizes());
  if (ours.scalar_type() != ref.scalar_type())
    return std::string("dtype ") + c10::toString(ours.scalar_type()) + " != " +
           c10::toString(ref.scalar_type());
  return "";
}

}  // namespace

at::Tensor make_input(at::IntArrayRef shape, at::ScalarType dtype, Layout layout, at::Generator& gen) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor x = at::randn(shape, gen, f64);
  const at::Tensor u = at::rand(shape, gen, f64);
  x.masked_fill_(u.lt(0.02), NAN);
  x.masked_fill_(between(u, 0.02, 0.04), INFINITY);
  x.masked_fill_(between(u, 0.04, 0.07), -INFINITY);
  x.masked_fill_(between(u, 0.07, 0.15), 0.5);  // ties
  x.masked_fill_(between(u, 0.15, 0.18), tiny(dtype));
  x.masked_fill_(between(u, 0.18, 0.20), -tiny(dtype));
  x = x.to(dtype);
  if (layout == Layout::channels_last && (x.dim() == 4 || x.dim() == 5))
    return x.contiguous(x.dim() == 4 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::ChannelsLast3d);
  if (layout == Layout::strided) {
    std::vector<int64_t> twice;
    for (int64_t s : shape) twice.push_back(2 * s);
    at::Tensor view = at::zeros(twice, x.options());
    for (int64_t d = 0; d < view.dim(); ++d) view = view.slice(d, 0, c10::nullopt, 2);
    return view.copy_(x);
  }
  return x;
}

at::Tensor randn(at::IntArrayRef shape, at::ScalarType dtype, at::Generator& gen) {
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

std::string mismatch(const at::Tensor& ours, const at::Tensor& ref) {
  std::string bad = shape_or_dtype(ours, ref);
  if (!bad.empty()) return bad;
  const at::Tensor a = ours.cpu(), b = ref.cpu();
  at::Tensor ok = a.eq(b);
  if (a.is_floating_point()) ok = ok.logical_or(a.isnan().logical_and(b.isnan()));
  return report(a, b, ok);
}

std::string not_close(const at::Tensor& ours, const at::Tensor& ref, at::ScalarType dtype) {
  return not_sum_close(ours, ref, at::zeros({}, at::kDouble), dtype);
}

std::string not_sum_close(const at::Tensor& ours, const at::Tensor& ref, const at::Tensor& magnitude,
                          at::ScalarType dtype) {
  if (ours.sizes() != ref.sizes()) return "shape " + name(ours.sizes()) + " != " + name(ref.sizes());
  double rtol = 1e-5, atol = 1e-6;
  if (dtype == at::kDouble) rtol = atol = 1e-12;
  if (dtype == at::kHalf) rtol = atol = 2e-3;
  if (dtype == at::kBFloat16) rtol = 1.6e-2, atol = 1e-2;
  const double eps = dtype == at::kDouble ? 0x1p-52 : dtype == at::kHalf ? 0x1p-10
                     : dtype == at::kBFloat16 ? 0x1p-7 : 0x1p-23;
  const at::Tensor a = ours.cpu().to(at::kDouble), b = ref.cpu().to(at::kDouble);
  const at::Tensor bound = b.abs() * rtol + atol + magnitude.cpu().to(at::kDouble) * (8 * eps);
  const at::Tensor ok = (a - b).abs().le(bound)
                            .logical_or(a.eq(b))  // infinities
                            .logical_or(a.isnan().logical_and(b.isnan()));
  return report(a, b, ok);
}

bool registered(const std::string& name) {
  return c10::Dispatcher::singleton().findSchema({"torchpool::" + name, ""}).has_value();
}

std::string op_name(const std::string& family, int nd) { return family + std::to_string(nd) + "d"; }

void check_registered(const std::string& family, const std::vector<std::string>& suffixes) {
  for (int nd : {1, 2, 3})
    for (const std::string& suffix : suffixes) {
      INFO(op_name(family, nd) + suffix);
      CHECK(registered(op_name(family, nd) + suffix));
    }
}

namespace {
std::ostream& head(std::ostream& os, const std::string& op, at::IntArrayRef shape, at::ScalarType t,
                   Layout l, at::Device dev, at::IntArrayRef k, at::IntArrayRef s, at::IntArrayRef p) {
  return os << op << shape << " " << t << " " << name(l) << " " << dev << " kernel_size " << k
            << " stride " << s << " padding " << p;
}
}  // namespace

std::string describe(const std::string& op, at::IntArrayRef shape, at::ScalarType t, Layout l,
                     at::Device dev, const WindowArgs& a) {
  std::ostringstream os;
  head(os, op, shape, t, l, dev, a.k, a.s, a.p) << " dilation " << at::IntArrayRef(a.d) << " ceil_mode "
                                                << a.ceil;
  return os.str();
}

std::string describe(const std::string& op, at::IntArrayRef shape, at::ScalarType t, Layout l,
                     at::Device dev, const AvgArgs& a) {
  std::ostringstream os;
  head(os, op, shape, t, l, dev, a.k, a.s, a.p) << " ceil_mode " << a.ceil << " count_include_pad "
                                                << a.count_include_pad << " divisor_override "
                                                << (a.divisor ? *a.divisor : 0);
  return os.str();
}

Grid full_grid(int nd) {
  if (nd == 1) return {{{1}, {2}, {3}, {4}}, {{}, {1}, {2}, {3}}};
  if (nd == 2) return {{{1}, {2}, {3}, {3, 2}}, {{}, {1}, {2}, {2, 3}}};
  return {{{1}, {2}, {2, 3, 1}}, {{}, {1}, {2, 1, 3}}};
}

Grid small_grid(int nd) {
  if (nd == 1) return {{{2}, {3}}, {{}, {1}, {2}}};
  if (nd == 2) return {{{2}, {3, 2}}, {{}, {1}, {2, 3}}};
  return {{{2}, {2, 3, 1}}, {{}, {2, 1, 3}}};
}

std::vector<WindowArgs> window_configs(const Grid& g) {
  std::vector<WindowArgs> v;
  for (const auto& k : g.kernels)
    for (const auto& s : g.strides)
      for (int64_t p : {0, 1})
        for (int64_t d : {1, 2})
          for (bool ceil : {false, true}) v.push_back({k, s, {p}, {d}, ceil});
  return v;
}

std::vector<AvgArgs> avg_configs(const Grid& g, bool flags) {
  std::vector<AvgArgs> v;
  for (const auto& k : g.kernels)
    for (const auto& s : g.strides)
      for (int64_t p : {0, 1}) {
        if (!flags) {
          v.push_back({k, s, {p}});
          continue;
        }
        for (bool ceil : {false, true})
          for (bool cip : {true, false})
            for (std::optional<int64_t> div : {std::optional<int64_t>(), std::optional<int64_t>(3)})
              v.push_back({k, s, {p}, ceil, cip, div});
      }
  return v;
}

at::Tensor grad_of(const at::Tensor& y, const at::Tensor& x, const at::Tensor& g) {
  return torch::autograd::grad({y}, {x}, {g})[0];
}

Windows windows(const at::Tensor& x, int nd, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
  auto per_dim = [](at::IntArrayRef a, int i) { return a[a.size() == 1 ? 0 : i]; };
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  Windows w;
  // Built one dim at a time: (O, K) combined with the dim's (out, k) gives (O*out, K*k),
  // the outer dims varying slowest in both, as torch scans.
  at::Tensor index = at::zeros({1, 1}, i64), valid = at::ones({1, 1}, i64.dtype(at::kBool));
  for (int i = 0; i < nd; ++i) {
    const int64_t L = x.size(x.dim() - nd + i), k = per_dim(kernel_size, i);
    const int64_t s = stride.empty() ? k : per_dim(stride, i), p = per_dim(padding, i);
    const int64_t span = per_dim(dilation, i) * (k - 1) + 1;
    int64_t out = (L + 2 * p - span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (out - 1) * s >= L + p) --out;
    w.out.push_back(out);
    const at::Tensor pos = (at::arange(out, i64) * s - p).unsqueeze(1) +
                           (at::arange(k, i64) * per_dim(dilation, i)).unsqueeze(0);
    const at::Tensor inside = pos.ge(0).logical_and(pos.lt(L));
    const int64_t taps = index.size(1) * k;
    index = (index.unsqueeze(1).unsqueeze(3) * L + pos.unsqueeze(0).unsqueeze(2)).reshape({-1, taps});
    valid = valid.unsqueeze(1).unsqueeze(3).logical_and(inside.unsqueeze(0).unsqueeze(2)).reshape({-1, taps});
  }
  w.valid = valid;
  w.index = index.masked_fill(valid.logical_not(), 0);
  const at::Tensor planes = x.to(at::kDouble).reshape({x.size(0), x.size(1), -1});
  w.values = planes.index_select(2, w.index.reshape(-1))
                 .reshape({x.size(0), x.size(1), index.size(0), index.size(1)})
                 .masked_fill(valid.logical_not(), 0);
  return w;
}

at::Tensor scatter_windows(const Windows& w, const at::Tensor& terms, at::IntArrayRef sizes) {
  const int64_t n = sizes[0], c = sizes[1], plane = c10::multiply_integers(sizes.slice(2));
  // Elements outside the input go to a spare slot past the plane, then dropped.
  const at::Tensor slot = w.index.masked_fill(w.valid.logical_not(), plane).reshape({1, 1, -1});
  at::Tensor sums = at::zeros({n, c, plane + 1}, at::TensorOptions().dtype(at::kDouble));
  sums.scatter_add_(2, slot.expand({n, c, -1}).contiguous(), terms.to(at::kDouble).reshape({n, c, -1}));
  return sums.narrow(2, 0, plane).reshape(sizes);
}

bool same_format(const at::Tensor& out, const at::Tensor& x) {
  at::MemoryFormat f = at::MemoryFormat::Contiguous;
  if (x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous())
    f = at::MemoryFormat::ChannelsLast;
  if (x.dim() == 5 && x.is_contiguous(at::MemoryFormat::ChannelsLast3d) && !x.is_contiguous())
    f = at::MemoryFormat::ChannelsLast3d;
  return out.is_contiguous(f);
}

}  // namespace torchpool_test
