#pragma once
// Runs the shared traversals (traversal.h) on the GPU: one grid-stride kernel per
// body, launched on the current stream of the current device (the caller holds a
// CUDAGuard for its tensors' device), every launch checked. The storage type, the
// index type (32-bit where everything fits, else 64-bit) and the lanes of a
// channels-last thread (a 16-byte vector where C and the pointers allow) are picked
// at run time. nvcc only; the families' ops/cuda/<family>.cu include it.

#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <initializer_list>

#include "torchpool/cuda/launch.h"
#include "torchpool/cuda/traversal.h"

namespace torchpool {
namespace cuda {

constexpr int kThreads = 256;

template <class Body>
__global__ void __launch_bounds__(kThreads) run_items(const Body body, int64_t items) {
  const int64_t step = int64_t(gridDim.x) * kThreads;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < items; i += step)
    body(typename Body::Index(i));
}

template <class Body>
void launch(const Body& body, int64_t items) {
  if (items == 0) return;
  run_items<<<blocks_for(items, kThreads), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(body, items);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// One layout, storage type and index type: contiguous threads take one element,
// channels-last ones V channels where C and the pointers allow 16-byte vectors.
template <template <class, class, bool, int> class Body, class S, class Idx>
void run_typed(const KernelArgs& a, const PoolCall& c, int64_t elements, bool vectors_aligned) {
  constexpr int V = 16 / sizeof(S);
  const Geometry& g = c.g;
  if (c.l.layout == cpu::Layout::contiguous) {
    launch(Body<S, Idx, false, 1>{a, Shape<Idx>(g, 1)}, elements);
  } else if (g.channels % V == 0 && vectors_aligned) {
    launch(Body<S, Idx, true, V>{a, Shape<Idx>(g, V)}, elements / V);
  } else {
    launch(Body<S, Idx, true, 1>{a, Shape<Idx>(g, 1)}, elements);
  }
}

template <template <class, class, bool, int> class Body, class S>
void run_index(const KernelArgs& a, const PoolCall& c, int64_t elements, bool vectors_aligned) {
  if (fits_int32(c.g)) return run_typed<Body, S, int32_t>(a, c, elements, vectors_aligned);
  run_typed<Body, S, int64_t>(a, c, elements, vectors_aligned);
}

// Runs Body over `elements`, the elements of the tensor it gives one thread each (the
// output for a forward, the input for a backward); `vectors`: the pointers a V-lane
// thread moves in 16-byte vectors.
template <template <class, class, bool, int> class Body>
void run(const KernelArgs& a, const PoolCall& c, at::ScalarType dtype, int64_t elements,
         std::initializer_list<const void*> vectors) {
  const bool al = aligned(vectors, 16);
  switch (dtype) {
    case at::kFloat:
      return run_index<Body, float>(a, c, elements, al);
    case at::kDouble:
      return run_index<Body, double>(a, c, elements, al);
    case at::kHalf:
      return run_index<Body, half16>(a, c, elements, al);
    case at::kBFloat16:
      return run_index<Body, bfloat16>(a, c, elements, al);
    default:
      TORCH_CHECK(false, "torchpool: no CUDA kernel for dtype ", dtype);
  }
}

// A reducer's forward: a.output (and a.indices) from a.input.
template <template <class> class R>
void run_forward(const KernelArgs& a, const PoolCall& c, at::ScalarType dtype) {
  run<Forward<R>::template Body>(a, c, dtype, c.g.planes() * c.g.out_plane(), {a.input, a.output});
}

// A reducer's backward: a.grad_input from a.grad_output (and a.input if it needs it).
template <template <class> class R>
void run_backward(const KernelArgs& a, const PoolCall& c, at::ScalarType dtype) {
  run<Backward<R>::template Body>(a, c, dtype, c.g.planes() * c.g.in_plane(),
                                  {a.input, a.grad_output, a.grad_input});
}

}  // namespace cuda
}  // namespace torchpool
