#pragma once
// Runs an ISA kernel over its work items on torch's thread pool: the only place the
// CPU families touch threads. Kernels are given raw pointers and plain numbers.

#include <ATen/core/Tensor.h>

#include "torchpool/cpu/kernel.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cpu {

// Arguments for kernels on tensors of `dtype` in layout `l` (pointers to fill in).
KernelArgs kernel_args(const Geometry& g, at::ScalarType dtype, const Layouts& l);

// Forward: every output row (contiguous) or pixel (channels-last) is one work item.
void run_forward(KernelFn fn, const KernelArgs& a);

// Backward traversals and the routing core: picks the work split (row bands,
// channel blocks) for the thread count, gives each call its scratch, and raises
// "<op>: index i is out of range ..." if a kernel met an index outside its plane.
void run_backward(KernelFn fn, KernelArgs a, const char* op);

}  // namespace cpu
}  // namespace torchpool
