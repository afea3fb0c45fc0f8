#include "torchpool/cpu/launch.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
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

// Bands of input rows: few enough that each item's accumulator (its rows, all
// channels of a channels-last pixel) stays in L2, and enough items for the threads.
int64_t cache_bands(const KernelArgs& a) {
  const Geometry& g = a.g;
  const int64_t threads = at::get_num_threads();
  const int64_t rows = g.dim[0].in * g.dim[1].in;
  const int64_t acc_bytes = rows * g.dim[2].in * group_lanes(a) * (a.dtype == DType::f64 ? 8 : 4);
  const int64_t groups = band_groups(a);
  const int64_t for_cache = (acc_bytes + (int64_t(1) << 20) - 1) >> 20;
  const int64_t for_threads = groups >= 2 * threads ? 1 : (4 * threads + groups - 1) / groups;
  return std::max<int64_t>(1, std::min(rows, std::max(for_cache, for_threads)));
}

// Runs the band items of a backward or routing kernel, each call with `scratch` bytes
// of its own; a kernel reports an index it cannot route in `bad`.
void run_bands(KernelFn fn, KernelArgs a, int64_t visits_per_item, int64_t scratch, int64_t* bad) {
  a.bad_index = bad;
  at::parallel_for(0, backward_items(a), grain(visits_per_item), [&](int64_t b, int64_t e) {
    // Uninitialized (the kernels zero what they use), so an unused one costs no pass.
    std::unique_ptr<double[]> buf(scratch > 0 ? new double[size_t(scratch + 7) / 8] : nullptr);
    KernelArgs local = a;
    local.scratch = buf.get();
    fn(local, b, e);
    _mm_sfence();  // non-temporal stores (stream2) are weakly ordered: done before the join
  });
}

// Whether a kernel writing `bytes` should write past the cache: where the output is
// larger than the last-level cache it would be evicted before anyone reads it, and
// a plain store first reads each line it fills. The cache size is capped at 32 MiB: a
// VM reports its host's whole L3, shared with every other tenant (480 MiB on a Xeon,
// 256 and 320 MiB on EPYCs whose lscpu said 32), so the uncapped size never streamed
// there. Full size, 2 threads, Xeon AVX-512, capped against uncapped: float32
// contiguous max 2x2 backward 0.72x the time, max 3x3 0.73x, avg 2x2 0.65x, avg 3x3 s1
// 0.88x, max_unpool 0.69x; channels-last avg 2x2 0.55x, max 3x3 0.82x, soft and
// stochastic evaluation 0.84-0.87x; bfloat16 max 3x3 0.85-0.90x; no row slower beyond
// the noise (Zen 4 AVX-512: 0.80-1.04x). TORCHPOOL_STREAM_MIN_BYTES overrides the size
// (the tests set 0 to take the streaming stores on small tensors).
bool stream_output(int64_t bytes) {
  static const int64_t min_bytes = [] {
    if (const char* env = std::getenv("TORCHPOOL_STREAM_MIN_BYTES")) return int64_t(std::strtoll(env, nullptr, 10));
    const int64_t cap = int64_t(32) << 20;
    const long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return v > 0 ? std::min(int64_t(v), cap) : cap;
  }();
  return bytes > min_bytes || (min_bytes == 0 && bytes > 0);
}

int64_t element_bytes(DType t) { return t == DType::f64 ? 8 : t == DType::f32 ? 4 : 2; }

void check_routed(const int64_t* bad, const Geometry& g, const char* op) {
  TORCH_CHECK(bad[0] != 1, op, ": index ", bad[1], " is out of range for a plane of ",
              g.in_plane(), " elements");
  TORCH_CHECK(bad[0] != 2, op, ": index ", bad[1],
              " lies outside the window of its output; indices must come from the forward");
}

// Whether every window of g holds an input row: the windowed routing kernels need it.
bool windows_hold_rows(const Geometry& g) {
  for (int i = 0; i < 2; ++i)
    for (int64_t o = 0; o < g.dim[i].out; ++o)
      if (g.dim[i].tap_begin(o) >= g.dim[i].tap_end(o)) return false;
  return true;
}

}  // namespace

void run_forward(KernelFn fn, const KernelArgs& a) {
  const int64_t items = forward_items(a);
  if (items == 0) return;
  const Geometry& g = a.g;
  const int64_t per_item = (a.layout == Layout::contiguous ? g.dim[2].out : g.channels) * window_size(g);
  KernelArgs s = a;  // output past the cache (values and indices): streamed by channels-last kernels
  s.stream = stream_output(g.planes() * g.out_plane() * (element_bytes(a.dtype) + (a.indices ? 8 : 0)));
  at::parallel_for(0, items, grain(per_item), [&](int64_t b, int64_t e) {
    fn(s, b, e);
    _mm_sfence();  // non-temporal stores are weakly ordered: done before the join
  });
}

void run_backward(KernelFn fn, KernelArgs a, const char* op) {
  const Geometry& g = a.g;
  if (g.planes() == 0) return;
  a.bands = cache_bands(a);
  a.disjoint_windows = g.disjoint_windows();
  a.stream = stream_output(g.planes() * g.in_plane() * element_bytes(a.dtype));
  int64_t bad[2] = {0, 0};  // set by a kernel that met an index it cannot route
  run_bands(fn, a, std::max<int64_t>(1, g.out_plane() * group_lanes(a) * window_size(g) / a.bands),
            scratch_bytes(a), bad);
  check_routed(bad, g, op);
}

void run_route(KernelFn windowed, KernelFn any, KernelArgs a, bool add, const char* op) {
  const Geometry& g = a.g;
  if (g.planes() == 0) return;
  const int64_t scratch = add ? scratch_bytes(a) : 0;  // assignment writes in place
  a.disjoint_windows = false;
  int64_t bad[2] = {0, 0};
  if (windowed && windows_hold_rows(g)) {
    a.bands = cache_bands(a);
    run_bands(windowed, a, std::max<int64_t>(1, g.out_plane() * group_lanes(a) * window_size(g) / a.bands),
              scratch, bad);
    if (bad[0] != 2) return check_routed(bad, g, op);
    bad[0] = 0;  // an index outside its window's rows: route them all again
  }
  // Every band reads all the sources: only as many bands as the threads need.
  const int64_t threads = at::get_num_threads(), groups = band_groups(a);
  a.bands = std::max<int64_t>(1, std::min(g.dim[0].in * g.dim[1].in, (threads + groups - 1) / groups));
  run_bands(any, a, g.out_plane() * group_lanes(a), scratch, bad);
  check_routed(bad, g, op);
}

bool run_owned(KernelFn fn, KernelArgs a) {
  const Geometry& g = a.g;
  if (!fn) return false;  // no kernel for this layout
  if (g.planes() == 0) return true;
  a.bands = cache_bands(a);
  a.disjoint_windows = g.disjoint_windows();
  a.stream = stream_output(g.planes() * g.in_plane() * element_bytes(a.dtype));
  int64_t matched = 0;
  a.matched = &matched;
  run_bands(fn, a, std::max<int64_t>(1, g.in_plane() * group_lanes(a) / a.bands), 0, nullptr);
  return matched == g.planes() * g.out_plane();
}

void run_gather(KernelFn fn, const KernelArgs& a, const char* op) {
  const int64_t items = forward_items(a);
  if (items == 0) return;
  int64_t bad[2] = {0, 0};
  KernelArgs local = a;
  local.bad_index = bad;
  const int64_t per_item = a.layout == Layout::contiguous ? a.g.dim[2].out : a.g.channels;
  at::parallel_for(0, items, grain(per_item), [&](int64_t b, int64_t e) { fn(local, b, e); });
  check_routed(bad, a.g, op);
}

}  // namespace cpu
}  // namespace torchpool
