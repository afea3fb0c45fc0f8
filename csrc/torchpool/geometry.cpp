#include "torchpool/geometry.h"

#include <c10/util/Exception.h>

#include <sstream>
#include <string>
#include <vector>

namespace torchpool {
namespace {

std::string join(const int64_t* v, size_t n, const char* sep = ", ") {
  std::ostringstream os;
  for (size_t i = 0; i < n; ++i) os << (i ? sep : "") << v[i];
  return os.str();
}

std::string tuple(const int64_t* v, int n) {
  return n == 1 ? join(v, 1) : "(" + join(v, n) + ")";
}

const char* count_word(int nd) {
  return nd == 1 ? "one int" : nd == 2 ? "a tuple of two ints" : "a tuple of three ints";
}

// (C, *spatial) or (N, C, *spatial); only N may be zero.
void check_input_sizes(const char* op, const char* name, int nd, Ints sizes) {
  const int64_t ndim = int64_t(sizes.size);
  bool ok = ndim == nd + 1 || ndim == nd + 2;
  for (int64_t i = (ndim == nd + 2 ? 1 : 0); ok && i < ndim; ++i) ok = sizes.data[i] > 0;
  TORCH_CHECK(ok, op, ": ", name, " must be ", nd + 1, "-d (unbatched) or ", nd + 2,
              "-d (batched) with non-zero sizes except the batch, but got ", name, " of size [",
              join(sizes.data, sizes.size), "]");
}

}  // namespace

void expand_arg(const char* op, const char* name, Ints v, int nd, int64_t* out,
                bool allow_empty) {
  TORCH_CHECK(v.size == 1 || v.size == size_t(nd) || (allow_empty && v.size == 0), op,
              ": ", name, " must be ", allow_empty ? "omitted, " : "", "a single int or ",
              count_word(nd), ", but got ", v.size, " values");
  for (int i = 0; i < nd; ++i) out[i] = v.size == 0 ? 0 : v.data[v.size == 1 ? 0 : i];
}

Geometry pool_geometry(const PoolArgs& a, Ints sizes) {
  const int nd = a.nd;
  const char* op = a.op;
  int64_t k[3], s[3], p[3], d[3] = {1, 1, 1};
  expand_arg(op, "kernel_size", a.kernel_size, nd, k);
  expand_arg(op, "stride", a.stride, nd, s, /*allow_empty=*/true);
  if (a.stride.size == 0)
    for (int i = 0; i < nd; ++i) s[i] = k[i];
  expand_arg(op, "padding", a.padding, nd, p);
  if (a.has_dilation) expand_arg(op, "dilation", a.dilation, nd, d);

  check_input_sizes(op, "input", nd, sizes);
  const int64_t ndim = int64_t(sizes.size);

  for (int i = 0; i < nd; ++i) {
    TORCH_CHECK(k[i] > 0, op, ": kernel_size must be greater than zero, but got ", tuple(k, nd));
    TORCH_CHECK(s[i] > 0, op, ": stride must be greater than zero, but got ", tuple(s, nd));
    TORCH_CHECK(d[i] > 0, op, ": dilation must be greater than zero, but got ", tuple(d, nd));
    TORCH_CHECK(p[i] >= 0, op, ": padding must be non-negative, but got ", tuple(p, nd));
  }
  if (a.input_covers_kernel)
    for (int i = 0; i < nd; ++i)
      TORCH_CHECK(sizes.data[ndim - nd + i] >= k[i], op, ": input size (",
                  join(sizes.data + ndim - nd, nd, "x"), ") must be at least kernel_size ",
                  tuple(k, nd), " in every spatial dim");
  // Bounds far beyond any real input keep every index computation inside int64.
  constexpr int64_t kMaxArg = int64_t(1) << 40;
  for (int i = 0; i < nd; ++i)
    TORCH_CHECK(k[i] <= kMaxArg && s[i] <= kMaxArg && d[i] <= kMaxArg, op,
                ": kernel_size, stride and dilation must be at most 2^40, but got kernel_size ",
                tuple(k, nd), ", stride ", tuple(s, nd), ", dilation ", tuple(d, nd));
  // torch's condition is on the kernel size itself, not the dilated one.
  for (int i = 0; i < nd; ++i)
    TORCH_CHECK(p[i] <= k[i] / 2, op, ": padding (", p[i],
                ") must be at most half of kernel_size (", k[i], ")");

  Geometry g;
  g.spatial = nd;
  g.batch = ndim == nd + 2 ? sizes.data[0] : 1;
  g.channels = sizes.data[ndim - nd - 1];
  const int64_t* in = sizes.data + (ndim - nd);
  bool too_small = false;
  int64_t out[3];
  for (int i = 0; i < nd; ++i) {
    // Computed in 128 bits so that huge kernel sizes, strides or dilations give
    // "too small" instead of overflowing (same formula as pool_out_size).
    using i128 = __int128;
    i128 num = i128(in[i]) + 2 * i128(p[i]) - i128(d[i]) * (k[i] - 1) - 1 +
               (a.ceil_mode ? i128(s[i]) - 1 : 0);
    i128 o = (num >= 0 ? num / s[i] : -((-num + s[i] - 1) / s[i])) + 1;
    if (a.ceil_mode && (o - 1) * s[i] >= i128(in[i]) + p[i]) --o;
    out[i] = o < 1 ? 0 : int64_t(o);
    too_small = too_small || out[i] < 1;
  }
  TORCH_CHECK(!too_small, op, ": output size is too small: input size (",
              join(in, nd, "x"), "), kernel_size ", tuple(k, nd), ", stride ", tuple(s, nd),
              ", padding ", tuple(p, nd), a.has_dilation ? ", dilation " : "",
              a.has_dilation ? tuple(d, nd) : "", " give an output size of (", join(out, nd, "x"),
              ")");

  // With dilation a window can step over the whole input and hold only padding. torch
  // then returns -inf with an index outside the plane (and its backward writes out of
  // bounds); we reject such arguments instead, so every window holds an element.
  for (int i = 0; i < nd; ++i) {
    Dim dm{in[i], out[i], k[i], s[i], p[i], d[i]};
    for (int64_t o = 0; o < out[i]; ++o)
      TORCH_CHECK(dm.tap_begin(o) < dm.tap_end(o), op, ": the window of output ", o,
                  " along spatial dim ", i, " holds only padding (input size ", in[i],
                  ", kernel_size ", k[i], ", stride ", s[i], ", padding ", p[i], ", dilation ",
                  d[i], ")");
  }

  for (int i = 0; i < nd; ++i) {
    Dim& dm = g.dim[3 - nd + i];
    dm.in = in[i];
    dm.out = out[i];
    dm.k = k[i];
    dm.s = s[i];
    dm.p = p[i];
    dm.d = d[i];
  }
  return g;
}

namespace {

using i128 = __int128;

// The planes of an unpooling op: the input's batch and channels, `unpooled` spatial
// sizes pooled to the input's; kernel, stride, padding 1, 1, 0.
Geometry unpool_planes(int nd, Ints sizes, const int64_t* unpooled) {
  Geometry g;
  g.spatial = nd;
  const int64_t ndim = int64_t(sizes.size);
  g.batch = ndim == nd + 2 ? sizes.data[0] : 1;
  g.channels = sizes.data[ndim - nd - 1];
  for (int i = 0; i < nd; ++i) {
    g.dim[3 - nd + i].in = unpooled[i];
    g.dim[3 - nd + i].out = sizes.data[ndim - nd + i];
  }
  return g;
}

// Unpooled planes must be addressable: their elements, all planes together, fit in int64.
void check_unpooled_numel(const char* op, int nd, Ints sizes, const int64_t* u) {
  i128 n = 1;
  for (size_t i = 0; i + nd < sizes.size; ++i) n *= sizes.data[i];
  for (int i = 0; i < nd; ++i) n *= u[i];
  TORCH_CHECK(n < (i128(1) << 62), op, ": an output of size (", join(u, nd, "x"),
              ") per plane is too large");
}

// Checks the input sizes and kernel_size, stride, padding of an unpooling op; the
// default unpooled size (L-1)*s - 2p + k of each dim.
void check_unpool_args(const UnpoolArgs& a, Ints sizes, int64_t* k, int64_t* s, int64_t* p,
                       int64_t* def) {
  const int nd = a.nd;
  const char* op = a.op;
  expand_arg(op, "kernel_size", a.kernel_size, nd, k);
  expand_arg(op, "stride", a.stride, nd, s, /*allow_empty=*/true);
  if (a.stride.size == 0)
    for (int i = 0; i < nd; ++i) s[i] = k[i];
  expand_arg(op, "padding", a.padding, nd, p);
  check_input_sizes(op, "input", nd, sizes);
  constexpr int64_t kMaxArg = int64_t(1) << 40;
  for (int i = 0; i < nd; ++i) {
    TORCH_CHECK(k[i] > 0, op, ": kernel_size must be greater than zero, but got ", tuple(k, nd));
    TORCH_CHECK(s[i] > 0, op, ": stride must be greater than zero, but got ", tuple(s, nd));
    TORCH_CHECK(p[i] >= 0, op, ": padding must be non-negative, but got ", tuple(p, nd));
    TORCH_CHECK(k[i] <= kMaxArg && s[i] <= kMaxArg && p[i] <= kMaxArg, op,
                ": kernel_size, stride and padding must be at most 2^40, but got kernel_size ",
                tuple(k, nd), ", stride ", tuple(s, nd), ", padding ", tuple(p, nd));
  }
  const int64_t* in = sizes.data + (sizes.size - nd);
  for (int i = 0; i < nd; ++i) {
    const i128 d = (i128(in[i]) - 1) * s[i] - 2 * i128(p[i]) + k[i];
    TORCH_CHECK(d < (i128(1) << 62), op, ": the output size of input size (", join(in, nd, "x"),
                "), kernel_size ", tuple(k, nd), ", stride ", tuple(s, nd), " is too large");
    def[i] = int64_t(d);
  }
}

// The unpooled size: output_size (its last nd values) if given, else the default.
void unpooled_size(const UnpoolArgs& a, const int64_t* def, int64_t* u) {
  const int nd = a.nd;
  if (!a.has_output_size) {
    for (int i = 0; i < nd; ++i) u[i] = def[i];
    return;
  }
  const Ints o = a.output_size;
  TORCH_CHECK_VALUE(o.size == size_t(nd) || o.size == size_t(nd) + 2, a.op, ": output_size must have ",
                    nd, " or ", nd + 2, " elements, but got ", o.size);
  for (int i = 0; i < nd; ++i) u[i] = o.data[o.size - nd + i];
}

}  // namespace

Geometry max_unpool_geometry(const UnpoolArgs& a, Ints sizes) {
  const int nd = a.nd;
  const char* op = a.op;
  int64_t k[3], s[3], p[3], def[3], u[3];
  check_unpool_args(a, sizes, k, s, p, def);
  unpooled_size(a, def, u);
  for (int i = 0; i < nd && a.has_output_size; ++i)
    TORCH_CHECK_VALUE(def[i] - s[i] < u[i] && u[i] < def[i] + s[i], op, ": invalid output_size (",
                      join(u, nd), "): dim ", i, " must lie strictly between ", def[i] - s[i],
                      " and ", def[i] + s[i]);
  for (int i = 0; i < nd; ++i)
    TORCH_CHECK_VALUE(u[i] >= 0, op, ": the output size (", join(u, nd, "x"),
                      ") must be non-negative in every spatial dim (kernel_size ", tuple(k, nd),
                      ", stride ", tuple(s, nd), ", padding ", tuple(p, nd), ")");
  check_unpooled_numel(op, nd, sizes, u);
  Geometry g = unpool_planes(nd, sizes, u);
  for (int i = 0; i < nd; ++i) {
    Dim& dm = g.dim[3 - nd + i];
    dm.k = k[i];
    dm.s = s[i];
    dm.p = p[i];
  }
  return g;
}

Geometry avg_unpool_geometry(const UnpoolArgs& a, bool ceil_mode, Ints sizes) {
  const int nd = a.nd;
  const char* op = a.op;
  int64_t k[3], s[3], p[3], def[3], u[3];
  check_unpool_args(a, sizes, k, s, p, def);
  for (int i = 0; i < nd; ++i)
    TORCH_CHECK(p[i] <= k[i] / 2, op, ": padding (", p[i], ") must be at most half of kernel_size (",
                k[i], ")");
  unpooled_size(a, def, u);
  const int64_t* in = sizes.data + (sizes.size - nd);
  int64_t pooled[3];
  bool ok = true;
  for (int i = 0; i < nd; ++i) {
    pooled[i] = u[i] > 0 ? pool_out_size(u[i], k[i], s[i], p[i], 1, ceil_mode) : 0;
    ok = ok && pooled[i] == in[i];
  }
  TORCH_CHECK_VALUE(ok, op, ": ", a.has_output_size ? "output_size (" : "the output size (",
                    join(u, nd, "x"), ") does not average-pool back to the input size (",
                    join(in, nd, "x"), "): kernel_size ", tuple(k, nd), ", stride ", tuple(s, nd),
                    ", padding ", tuple(p, nd), ", ceil_mode ", ceil_mode ? "True" : "False",
                    " give (", join(pooled, nd, "x"), ")");
  check_unpooled_numel(op, nd, sizes, u);
  // The average pooling of the unpooled size, with its own checks.
  std::vector<int64_t> unpooled_sizes(sizes.data, sizes.data + sizes.size);
  for (int i = 0; i < nd; ++i) unpooled_sizes[sizes.size - nd + i] = u[i];
  const PoolArgs pa{op, nd, a.kernel_size, a.stride, a.padding, Ints{}, ceil_mode, /*has_dilation=*/false};
  return pool_geometry(pa, Ints{unpooled_sizes.data(), unpooled_sizes.size()});
}

Geometry routing_geometry(const char* op, const char* name, int nd, Ints sizes, Ints unpooled) {
  check_input_sizes(op, name, nd, sizes);
  TORCH_CHECK_VALUE(unpooled.size == size_t(nd), op, ": the unpooled size must have ", nd,
                    " elements, but got ", unpooled.size);
  for (int i = 0; i < nd; ++i)
    TORCH_CHECK_VALUE(unpooled.data[i] >= 0, op, ": the unpooled size (",
                      join(unpooled.data, unpooled.size, "x"), ") must be non-negative");
  check_unpooled_numel(op, nd, sizes, unpooled.data);
  return unpool_planes(nd, sizes, unpooled.data);
}

}  // namespace torchpool
