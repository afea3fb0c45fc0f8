#pragma once
// The interface between the CPU dispatch code (torch tensors, threads) and the ISA
// kernels (raw-pointer loops compiled once per CPU level). Torch-free.

#include <cstdint>

#include "torchpool/geometry.h"

namespace torchpool {
namespace cpu {

// Storage types of the reduced-precision dtypes, bit-compatible with c10::Half and
// c10::BFloat16; the kernels compute in float.
struct half {
  uint16_t x;
};
struct bf16 {
  uint16_t x;
};

enum class DType : int { f32 = 0, f64 = 1, f16 = 2, bf16 = 3 };
// Contiguous is (N, C, D, H, W); channels-last is (N, D, H, W, C).
enum class Layout : int { contiguous = 0, channels_last = 1 };

// Everything a kernel sees. Which pointers are set depends on the kernel.
struct KernelArgs {
  Geometry g;
  DType dtype = DType::f32;
  Layout layout = Layout::contiguous;
  const void* input = nullptr;    // forward input, or the input a backward re-reads
  void* output = nullptr;         // forward output
  int64_t* indices = nullptr;     // forward indices out (int64, flat in the plane)
  const void* grad_output = nullptr;
  void* grad_input = nullptr;
  const int64_t* grad_indices = nullptr;  // indices a backward routes by
  const void* params = nullptr;   // the family's own parameters
  int64_t bands = 1;              // backward: bands of input rows per plane (or batch element)
  bool disjoint_windows = false;  // routing: no two windows share an element
  int64_t* bad_index = nullptr;   // routing: {kind, index} of an index it cannot route
  int64_t* matched = nullptr;     // routing by owners: sources whose index lies in their window
  void* scratch = nullptr;        // per call of a backward kernel: scratch_bytes()
  bool stream = false;            // the output (grad_input) far larger than the cache: streamed
};

// A kernel runs work items [begin, end) of its work space (see work_items()).
using KernelFn = void (*)(const KernelArgs&, int64_t begin, int64_t end);

// One kernel for each layout and dtype.
struct KernelSet {
  KernelFn fn[2][4];
  KernelFn get(Layout l, DType t) const { return fn[int(l)][int(t)]; }
};

// The work items of the shared traversals.
//  forward, contiguous:    output rows   (planes * out_d * out_h)
//  forward, channels-last: output pixels (batch * out_plane), all channels each
//  backward (both layouts): a band of input rows of one group, a group being a plane
//    (contiguous) or a batch element with all its channels (channels-last). Items
//    write disjoint parts of grad_input, each sum in one fixed order.
TP_INLINE int64_t forward_items(const KernelArgs& a) {
  const Geometry& g = a.g;
  return a.layout == Layout::contiguous ? g.planes() * g.dim[0].out * g.dim[1].out
                                        : g.batch * g.out_plane();
}
TP_INLINE int64_t band_groups(const KernelArgs& a) {
  return a.layout == Layout::contiguous ? a.g.planes() : a.g.batch;
}
// Elements per input position within a group: 1, or the channels of a pixel.
TP_INLINE int64_t group_lanes(const KernelArgs& a) {
  return a.layout == Layout::contiguous ? 1 : a.g.channels;
}
TP_INLINE int64_t backward_items(const KernelArgs& a) { return band_groups(a) * a.bands; }
// Rows [r0, r1) of band b (rows count t * in_h + h).
TP_INLINE void band_rows(const KernelArgs& a, int64_t b, int64_t& r0, int64_t& r1) {
  const int64_t rows = a.g.dim[0].in * a.g.dim[1].in;
  r0 = b * rows / a.bands;
  r1 = (b + 1) * rows / a.bands;
}

// Calls f(group, r0, r1) for each band item in [begin, end): its group (plane or batch
// element) and its rows [r0, r1). The kernels pass an always_inline lambda, so that its
// captures stay registers in their loops as in a plain loop body.
template <class Fn>
TP_INLINE void for_each_band(const KernelArgs& a, int64_t begin, int64_t end, Fn&& f) {
  for (int64_t item = begin; item < end; ++item) {
    int64_t r0, r1;
    band_rows(a, item % a.bands, r0, r1);
    f(item / a.bands, r0, r1);
  }
}

// A backward kernel of a reduced dtype accumulates each work item in float scratch
// of this size, given to each call by the dispatcher; so does a routing scatter of
// float or double sums where grad_input is streamed (in its own type).
TP_INLINE int64_t scratch_bytes(const KernelArgs& a) {
  const bool narrow = a.dtype == DType::f16 || a.dtype == DType::bf16;
  if (!narrow && !a.stream) return 0;
  const Geometry& g = a.g;
  const int64_t rows = g.dim[0].in * g.dim[1].in, elem = a.dtype == DType::f64 ? 8 : 4;
  return elem * ((rows + a.bands - 1) / a.bands) * g.dim[2].in * group_lanes(a);
}

}  // namespace cpu
}  // namespace torchpool
