// The routing core on the GPU (traversal.h's RouteBody, and the unpooling bodies) and
// its index check.
#include <ATen/ops/arange.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/masked_select.h>
#include <ATen/ops/searchsorted.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/zeros.h>

#include "torchpool/cuda/kernels.cuh"

namespace torchpool {
namespace cuda {
namespace {

// {kind, index} of the first index a kernel could not route (0: none), on the device.
at::Tensor bad_index_flag(const at::Tensor& like) { return at::zeros({2}, like.options().dtype(at::kLong)); }

// Raises what the flag reports (it waits for the kernels).
void raise_bad_index(const at::Tensor& flag, const PoolCall& c, const char* op) {
  const at::Tensor bad = flag.cpu();
  const int64_t kind = bad.const_data_ptr<int64_t>()[0], index = bad.const_data_ptr<int64_t>()[1];
  TORCH_CHECK(kind != 1, op, ": index ", index, " is out of range for a plane of ", c.g.in_plane(),
              " elements");
  TORCH_CHECK(kind != 2, op, ": index ", index,
              " lies outside the window of its output; indices must come from the forward");
}

}  // namespace

void route_backward(KernelArgs a, const PoolCall& c, const at::Tensor& grad_input, const char* op) {
  const int64_t elements = c.g.planes() * c.g.in_plane();
  if (elements == 0) return;
  const at::Tensor flag = bad_index_flag(grad_input);
  a.bad_index = flag.data_ptr<int64_t>();
  run<RouteBody>(a, c, grad_input.scalar_type(), elements, {a.grad_output, a.grad_input});
  raise_bad_index(flag, c, op);
}

void route_assign(KernelArgs a, const PoolCall& c, const at::Tensor& out, const char* op) {
  const int64_t destinations = c.g.planes() * c.g.in_plane();
  if (destinations == 0) return;
  // Claim words of the index type the launch picks (kernels.cuh: run_index).
  const at::Tensor owner =
      at::zeros({destinations}, out.options().dtype(fits_int32(c.g) ? at::kInt : at::kLong));
  const at::Tensor flag = bad_index_flag(out);
  a.bad_index = flag.data_ptr<int64_t>();
  a.set_params(Claims{owner.data_ptr()});
  run<ClaimBody>(a, c, out.scalar_type(), c.g.planes() * c.g.out_plane(), {});
  run<AssignBody>(a, c, out.scalar_type(), destinations, {a.grad_input});
  raise_bad_index(flag, c, op);
}

void route_add(KernelArgs a, const PoolCall& c, const at::Tensor& values, const at::Tensor& indices,
               const at::Tensor& out, const char* op) {
  const int64_t planes = c.g.planes(), in_plane = c.g.in_plane(), destinations = planes * in_plane;
  if (destinations == 0) return;
  // Plane-major, scan order within a plane (a copy for channels-last).
  const at::Tensor ix = indices.reshape({planes, c.g.out_plane()});
  const at::Tensor bad = ix.lt(0).logical_or_(ix.ge(in_plane));
  if (bad.any().item<bool>()) {
    const int64_t i = at::masked_select(ix, bad)[0].item<int64_t>();
    TORCH_CHECK(false, op, ": index ", i, " is out of range for a plane of ", in_plane, " elements");
  }
  // Each source's destination across planes; a stable sort keeps scan order within one.
  const at::Tensor key = ix.add(at::arange(planes, ix.options()).mul_(in_plane).unsqueeze(1)).reshape({-1});
  const auto [sorted, order] = at::sort(key, /*stable=*/true, /*dim=*/0, /*descending=*/false);
  const at::Tensor vals = at::index_select(values.reshape({-1}), 0, order);
  const at::Tensor starts = at::searchsorted(sorted, at::arange(destinations + 1, sorted.options()));
  a.grad_output = vals.const_data_ptr();
  a.grad_indices = starts.const_data_ptr<int64_t>();
  run<SumBody>(a, c, out.scalar_type(), destinations, {a.grad_input});
}

void route_gather(KernelArgs a, const PoolCall& c, const at::Tensor& out, const char* op) {
  const int64_t elements = c.g.planes() * c.g.out_plane();
  if (elements == 0) return;
  const at::Tensor flag = bad_index_flag(out);
  a.bad_index = flag.data_ptr<int64_t>();
  run<GatherBody>(a, c, out.scalar_type(), elements, {a.output});
  raise_bad_index(flag, c, op);
}

}  // namespace cuda
}  // namespace torchpool
