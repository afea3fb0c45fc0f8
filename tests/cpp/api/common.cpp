#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>

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
  if (ours.sizes() != ref.sizes()) return "shape " + name(ours.sizes()) + " != " + name(ref.sizes());
  double rtol = 1e-5, atol = 1e-6;
  if (dtype == at::kDouble) rtol = atol = 1e-12;
  if (dtype == at::kHalf) rtol = atol = 2e-3;
  if (dtype == at::kBFloat16) rtol = 1.6e-2, atol = 1e-2;
  const at::Tensor a = ours.cpu().to(at::kDouble), b = ref.cpu().to(at::kDouble);
  const at::Tensor ok = (a - b).abs().le(b.abs() * rtol + atol)
                            .logical_or(a.eq(b))  // infinities
                            .logical_or(a.isnan().logical_and(b.isnan()));
  return report(a, b, ok);
}

bool registered(const std::string& name) {
  return c10::Dispatcher::singleton().findSchema({"torchpool::" + name, ""}).has_value();
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
