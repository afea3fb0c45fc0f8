#pragma once
// Window geometry shared by every op, device and CPU level (design §2, torch's Pool.h).
// Torch-free: the ISA kernels, the CUDA kernels and the Catch2 tests include it.
//
// Every op is treated as 3-d: a 1-d or 2-d op gets leading trivial dimensions
// (in = out = k = s = d = 1, p = 0), so there is one N-d code path for 1d/2d/3d.

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define TP_INLINE __host__ __device__ __forceinline__
#else
// always_inline: these helpers are compiled into every CPU level; an out-of-line
// copy built with AVX-512 flags must never be shared with the scalar build.
#define TP_INLINE __attribute__((always_inline)) inline
#endif

namespace torchpool {

TP_INLINE int64_t div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// torch's pooling_output_shape: floor or ceil division, and in ceil mode the last
// window must start inside the input or the left padding.
TP_INLINE int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                                bool ceil_mode) {
  int64_t out = div_floor(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// The valid taps of one window along one dimension: input positions
// first + i*step for i < count.
struct Taps {
  int64_t first, count, step;
};

// The rows of a plane (row = t * in_h + h) that a window's depth taps td and height
// taps th cover, in scan order:
//   for (WindowRows r(td, th, in_h); r.more(); r.next()) ... r.row ...
// A loop of its own rather than a function taking a callback: a reducer's callback
// called inside another lambda's loop had GCC keep its accumulators in memory.
struct WindowRows {
  const Taps &td, &th;
  int64_t in_h, row, i = 0, k = 0;
  TP_INLINE WindowRows(const Taps& d, const Taps& h, int64_t in_h_)
      : td(d), th(h), in_h(in_h_), row(d.first * in_h_ + h.first), i(h.count > 0 ? 0 : d.count) {}
  TP_INLINE bool more() const { return i < td.count; }
  TP_INLINE void next() {
    row += th.step;
    if (++k < th.count) return;
    k = 0;
    row = (td.first + ++i * td.step) * in_h + th.first;
  }
};
// f(row) for each row of WindowRows; window_last_row the last of them.
template <class Fn>
TP_INLINE void window_rows(const Taps& td, const Taps& th, int64_t in_h, Fn&& f) {
  for (WindowRows r(td, th, in_h); r.more(); r.next()) f(r.row);
}
TP_INLINE int64_t window_last_row(const Taps& td, const Taps& th, int64_t in_h) {
  return (td.first + (td.count - 1) * td.step) * in_h + th.first + (th.count - 1) * th.step;
}

// One spatial dimension of a pooling window.
struct Dim {
  int64_t in = 1, out = 1, k = 1, s = 1, p = 0, d = 1;

  TP_INLINE int64_t start(int64_t o) const { return o * s - p; }
  // Taps j of output o lie at start(o) + j*d; the valid ones (inside the input)
  // are [tap_begin(o), tap_end(o)), never empty for a checked geometry.
  TP_INLINE int64_t tap_begin(int64_t o) const {
    int64_t st = start(o);
    return st >= 0 ? 0 : (-st + d - 1) / d;
  }
  TP_INLINE int64_t tap_end(int64_t o) const {
    int64_t st = start(o);
    if (st >= in) return 0;
    int64_t e = (in - 1 - st) / d + 1;
    return e < k ? e : k;
  }
  TP_INLINE Taps taps(int64_t o) const {
    int64_t b = tap_begin(o);
    return Taps{start(o) + b * d, tap_end(o) - b, d};
  }
  // Average pooling's padded count: the window clipped to [-p, in + p), so the
  // ceil-mode overhang is never counted (d == 1 for average pooling).
  TP_INLINE int64_t padded_count(int64_t o) const {
    int64_t st = start(o), end = st + k;
    if (end > in + p) end = in + p;
    return end - st;
  }
};

struct Geometry {
  int64_t batch = 1;     // N (1 for an unbatched input)
  int64_t channels = 1;  // C
  int spatial = 3;       // the op's own number of spatial dims (1, 2 or 3)
  Dim dim[3];            // depth, height, width

  TP_INLINE int64_t planes() const { return batch * channels; }
  TP_INLINE int64_t in_plane() const { return dim[0].in * dim[1].in * dim[2].in; }
  TP_INLINE int64_t out_plane() const { return dim[0].out * dim[1].out * dim[2].out; }
  // No two windows share an element: each window's span fits within its stride.
  TP_INLINE bool disjoint_windows() const {
    for (const Dim& d : dim)
      if ((d.k - 1) * d.d + 1 > d.s) return false;
    return true;
  }
};

// A borrowed list of ints (an IntArrayRef without torch).
struct Ints {
  const int64_t* data = nullptr;
  size_t size = 0;
};

// The user's pooling arguments for an op with `nd` spatial dims, as given
// (each list of length 1 or nd; an empty stride means stride = kernel_size).
struct PoolArgs {
  const char* op = "pool";
  int nd = 2;
  Ints kernel_size, stride, padding, dilation;
  bool ceil_mode = false;
  bool has_dilation = true;  // avg pooling takes no dilation argument
  bool input_covers_kernel = false;  // torch's avg_pool3d: every input dim >= kernel_size
};

// Checks the input sizes and the arguments with torch's conditions and error
// cases, naming the argument in every message; returns the geometry.
// Implemented in geometry.cpp (it throws c10::Error).
Geometry pool_geometry(const PoolArgs& args, Ints input_sizes);

// Normalizes one list argument (length 1 or nd) to nd values; throws naming it.
void expand_arg(const char* op, const char* name, Ints v, int nd, int64_t* out,
                bool allow_empty = false);

// The user's arguments for an unpooling op (max_unpool, avg_unpool) with `nd` spatial
// dims: those of the pooling it inverts, and output_size, the unpooled size if given
// (nd values, or nd + 2 whose first two, N and C, are ignored as torch does).
struct UnpoolArgs {
  const char* op = "unpool";
  int nd = 2;
  Ints kernel_size, stride, padding;
  bool has_output_size = false;
  Ints output_size;
};

// An unpooling op's geometry is that of the pooling it inverts: `in` the unpooled
// (output) sizes, `out` the input's spatial sizes. Both check the input sizes and the
// arguments, naming them, and throw c10::Error (c10::ValueError for output_size).
//
// max_unpool: unpooled size (L-1)*s - 2p + k per dim, or output_size, which must lie
// strictly within that default +- s (torch's rule); dilation 1.
Geometry max_unpool_geometry(const UnpoolArgs& args, Ints input_sizes);
// avg_unpool: the average pooling (ceil_mode; no dilation) that takes the unpooled
// size back to the input's; unpooled size as max_unpool's by default, else any
// output_size that pools back to the input's size.
Geometry avg_unpool_geometry(const UnpoolArgs& args, bool ceil_mode, Ints input_sizes);
// Indices anywhere in planes of the given unpooled spatial sizes (nd values), the
// pooled side sized as `name`: the routing of max_unpool's backward and of its
// adjoint. Kernel and stride 1.
Geometry routing_geometry(const char* op, const char* name, int nd, Ints pooled_sizes, Ints unpooled);

}  // namespace torchpool
