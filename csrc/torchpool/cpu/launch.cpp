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
int64_t grain(int64_t visits_per_item) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, visits_per_item)); }

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
  const int64_t rows = g.dim[0].in * g.dim[1].in;
  // Split planes into bands of rows only when there are too few planes to go round.
  a.bands = g.planes() >= 2 * threads ? 1 : std::min<int64_t>(rows, (4 * threads + g.planes() - 1) / g.planes());
  // Channels-last: blocks of channels (multiples of 16) when batch elements are few,
  // and small enough that a reduced dtype's float scratch stays in cache.
  const int64_t C = g.channels;
  int64_t blocks = g.batch >= 2 * threads ? 1 : (4 * threads + g.batch - 1) / g.batch;
  int64_t cblock = (C + blocks - 1) / blocks;
  const bool reduced = a.dtype == DType::f16 || a.dtype == DType::bf16;
  while (reduced && cblock > 16 && g.in_plane() * cblock * 4 > (int64_t(4) << 20)) cblock /= 2;
  a.cblock = std::min(C, std::max<int64_t>(16, (cblock + 15) / 16 * 16));

  int64_t bad[2] = {0, 0};  // set by a kernel that met an index outside its plane
  a.bad_index = bad;
  const int64_t items = backward_items(a);
  const int64_t per_item = (a.layout == Layout::contiguous ? g.out_plane() / a.bands : g.out_plane() * a.cblock) *
                           window_size(g);
  const int64_t scratch = scratch_bytes(a);
  at::parallel_for(0, items, grain(per_item), [&](int64_t b, int64_t e) {
    std::vector<float> buf(size_t(scratch + 3) / 4);
    KernelArgs local = a;
    local.scratch = buf.data();
    fn(local, b, e);
  });
  TORCH_CHECK(bad[0] == 0, op, ": index ", bad[1], " is out of range for a plane of ", g.in_plane(),
              " elements");
}

}  // namespace cpu
}  // namespace torchpool
