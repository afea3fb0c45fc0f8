#pragma once
// The window geometry as CUDA threads use it: geometry.h's Dim in the kernel's index
// type (32-bit where every tensor has fewer than 2^31 elements), with the taps of an
// output found without a division when dilation is 1 (Dim::taps divides), and the
// outputs over an input position for the gather backward. Torch-free and
// __host__ __device__: the Catch2 tests check it against Dim on the host.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "torchpool/cuda/divider.h"
#include "torchpool/geometry.h"

namespace torchpool {
namespace cuda {

// Input positions first + i*d for i < count.
template <class Idx>
struct Span {
  Idx first, count;
};

template <class Idx>
struct DimI {
  Idx in = 1, out = 1, k = 1, s = 1, p = 0, d = 1;
  Divider<Idx> by_s, by_in, by_out;

  DimI() = default;
  explicit DimI(const Dim& m)
      : in(Idx(m.in)), out(Idx(m.out)), k(Idx(m.k)), s(Idx(m.s)), p(Idx(m.p)), d(Idx(m.d)),
        by_s(Idx(m.s)), by_in(Idx(m.in)), by_out(Idx(m.out)) {}

  TP_INLINE Idx start(Idx o) const { return o * s - p; }
  // The valid taps of output o: those of Dim::taps.
  TP_INLINE Span<Idx> taps(Idx o) const {
    const Idx st = start(o);
    Idx b, e;
    if (d == 1) {
      b = st < 0 ? -st : 0;
      e = in - st < k ? in - st : k;
    } else {
      b = st < 0 ? (-st + d - 1) / d : 0;
      e = st >= in ? 0 : (in - 1 - st) / d + 1;
      if (e > k) e = k;
    }
    return Span<Idx>{st + b * d, e - b};
  }
  // Dim::padded_count.
  TP_INLINE Idx padded(Idx o) const {
    const Idx st = start(o);
    const Idx end = st + k < in + p ? st + k : in + p;
    return end - st;
  }
  // The outputs whose window reaches from at or before input position x to at or
  // after it: [lo, hi] (empty if hi < lo). With dilation x may fall between their
  // taps; holds() tells.
  TP_INLINE void over(Idx x, Idx& lo, Idx& hi) const {
    const Idx a = x + p - (k - 1) * d;  // o*s >= a
    lo = a <= 0 ? 0 : by_s.div(a + s - 1);
    hi = by_s.div(x + p);
    if (hi > out - 1) hi = out - 1;
  }
  TP_INLINE bool holds(Idx o, Idx x) const { return d == 1 || (x - start(o)) % d == 0; }
  // Whether position x is one of the taps t of a window.
  TP_INLINE bool is_tap(const Span<Idx>& t, Idx x) const {
    return x >= t.first && x < t.first + t.count * d && (d == 1 || (x - t.first) % d == 0);
  }
};

// The geometry of one kernel launch. V: the lanes of a thread (channels-last threads
// own V consecutive channels; contiguous ones one output or input element).
template <class Idx>
struct Shape {
  DimI<Idx> dim[3];  // depth, height, width
  Idx channels = 1, in_plane = 1, out_plane = 1;
  Divider<Idx> groups;  // channel groups of V per pixel (channels-last)
  Divider<Idx> in_hw;   // in_h * in_w: a plane index to its depth

  Shape() = default;
  Shape(const Geometry& g, int64_t lanes)
      : channels(Idx(g.channels)),
        in_plane(Idx(g.in_plane())),
        out_plane(Idx(g.out_plane())),
        groups(Idx(g.channels / lanes)),
        in_hw(Idx(g.dim[1].in * g.dim[2].in)) {
    for (int i = 0; i < 3; ++i) dim[i] = DimI<Idx>(g.dim[i]);
  }
};

// Whether 32-bit index math covers a launch: every tensor below 2^31 elements, and
// every position, window reach and gather sum along each dim below 2^31.
inline bool fits_int32(const Geometry& g) {
  using i128 = __int128;
  const i128 lim = INT32_MAX;
  if (i128(g.planes()) * g.in_plane() > lim || i128(g.planes()) * g.out_plane() > lim) return false;
  for (const Dim& d : g.dim)
    if (i128(d.in) + 2 * i128(d.p) + i128(d.k) * d.d + 2 * i128(d.s) + i128(d.out) * d.s > lim)
      return false;
  return true;
}

// Everything a kernel reads besides the geometry; which pointers are set depends on
// the kernel (as cpu::KernelArgs). A family's parameters travel by value (kernels
// cannot read host memory): set_params() on the host, params<P>() in a reducer.
struct KernelArgs {
  const void* input = nullptr;  // forward input, or the input a backward re-reads
  void* output = nullptr;
  int64_t* indices = nullptr;  // forward indices out (int64, flat in the plane)
  const void* grad_output = nullptr;
  void* grad_input = nullptr;
  const int64_t* grad_indices = nullptr;  // indices a backward routes by
  int64_t* bad_index = nullptr;           // device memory: {kind, index} of an index it cannot route
  alignas(8) unsigned char param_bytes[64] = {};

  template <class Prm>
  void set_params(const Prm& p) {
    static_assert(std::is_trivially_copyable<Prm>::value && sizeof(Prm) <= sizeof(param_bytes),
                  "a family's parameters must be a small trivially copyable struct");
    std::memcpy(param_bytes, &p, sizeof(Prm));
  }
  template <class Prm>
  TP_INLINE const Prm& params() const {
    return *reinterpret_cast<const Prm*>(param_bytes);
  }
};

}  // namespace cuda
}  // namespace torchpool
