// The routing core on the GPU (traversal.h's RouteBody) and its index check.
#include <ATen/ops/zeros.h>

#include "torchpool/cuda/kernels.cuh"

namespace torchpool {
namespace cuda {

void route_backward(KernelArgs a, const PoolCall& c, const at::Tensor& grad_input, const char* op) {
  const int64_t elements = c.g.planes() * c.g.in_plane();
  if (elements == 0) return;
  // {kind, index} of the first index the kernel could not route (0: none).
  const at::Tensor flag = at::zeros({2}, grad_input.options().dtype(at::kLong));
  a.bad_index = flag.data_ptr<int64_t>();
  run<RouteBody>(a, c, grad_input.scalar_type(), elements, {a.grad_output, a.grad_input});
  const at::Tensor bad = flag.cpu();  // waits for the kernel
  const int64_t kind = bad.const_data_ptr<int64_t>()[0], index = bad.const_data_ptr<int64_t>()[1];
  TORCH_CHECK(kind != 1, op, ": index ", index, " is out of range for a plane of ", c.g.in_plane(),
              " elements");
  TORCH_CHECK(kind != 2, op, ": index ", index,
              " lies outside the window of its output; indices must come from the forward");
}

}  // namespace cuda
}  // namespace torchpool
