#include "torchpool/cpu/launch.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <vector>

namespace torchpool {
namespace cpu {

KernelArgs kernel_args(const Geometry& g, at::ScalarType dtype, const Layouts& l) {
  KernelArgs a;
  a.g = g;
  a.dtype = kernel_dtype(dtype);
  a.layout = l.layout;
  return a;
}

namespace {

int64_t window_size(const Geometry& g) { return g.dim[0].k * g.dim[1].k * g.dim[2].k; }

// Enough work per task that threading pays: about 64k element visits.
int64_t grain(int64_t visits_per_item) {
  return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, visits_per_item));
}

}  // namespace

void run_forward(KernelFn fn, const KernelArgs& a) {
  const int64_t items = forward_items(a);
  if (items == 0) return;
  const Geometry& g = a.g;
  const int64_t per_item = (a.layout == Layout::contiguous ? g.dim[2].out : g.channels) * window_size(g);
  at::parallel_for(0, items, grain(per_item), [&](int64_t b, int64_t e) { fn(a, b, e); });
}

void run_backward(KernelFn fn, KernelArgs a, const char* op) {
  const Geometry& g = a.g;
  if (g.planes() == 0) return;
  const int64_t threads = at::get_num_threads();
  // Bands of input rows: few enough that each item's accumulator (its rows, all
  // channels of a channels-last pixel) stays in L2, and enough items for the threads.
  const int64_t rows = g.dim[0].in * g.dim[1].in;
  const int64_t acc_bytes = rows * g.dim[2].in * group_lanes(a) * (a.dtype == DType::f64 ? 8 : 4);
  const int64_t groups = band_groups(a);
  const int64_t for_cache = (acc_bytes + (int64_t(1) << 20) - 1) >> 20;
  const int64_t for_threads = groups >= 2 * threads ? 1 : (4 * threads + groups - 1) / groups;
  a.bands = std::max<int64_t>(1, std::min(rows, std::max(for_cache, for_threads)));
  a.disjoint_windows = true;
  for (const Dim& d : g.dim) a.disjoint_windows = a.disjoint_windows && (d.k - 1) * d.d + 1 <= d.s;

  int64_t bad[2] = {0, 0};  // set by a kernel that met an index it cannot route
  a.bad_index = bad;
  const int64_t items = backward_items(a);
  const int64_t per_item =
      std::max<int64_t>(1, g.out_plane() * group_lanes(a) * window_size(g) / a.bands);
  const int64_t scratch = scratch_bytes(a);
  at::parallel_for(0, items, grain(per_item), [&](int64_t b, int64_t e) {
    std::vector<float> buf(size_t(scratch + 3) / 4);
    KernelArgs local = a;
    local.scratch = buf.data();
    fn(local, b, e);
  });
  TORCH_CHECK(bad[0] != 1, op, ": index ", bad[1], " is out of range for a plane of ",
              g.in_plane(), " elements");
  TORCH_CHECK(bad[0] != 2, op, ": index ", bad[1],
              " lies outside the window of its output; indices must come from the forward");
}

}  // namespace cpu
}  // namespace torchpool
