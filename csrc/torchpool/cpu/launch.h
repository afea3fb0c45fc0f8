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

// The routing core's scatter for indices anywhere in the plane (max_unpool; `add`: sum
// the values that share an index). `windowed` (may be null) runs first where g's
// windows hold input rows: bands sized for the cache, each visiting only the source
// rows whose windows reach it. If an index lies outside its window's rows, or without
// `windowed`, `any` runs: every band then reads all the sources, so there are only as
// many bands as the threads need. Raises on an index outside its plane.
void run_route(KernelFn windowed, KernelFn any, KernelArgs a, bool add, const char* op);

// The routing core as a gather, each destination written once: where no two windows
// share an element (route_owned, route_owned_rows), and channels-last where windows of
// up to 9 elements do, for an adding routing of 32- or 64-bit values (route_held). Returns false where there
// is no such kernel (`fn` null), where the kernel takes no such geometry, or where some
// index lies outside its window, having written part of a.grad_input: the caller then routes with
// run_backward or run_route, which write all of it.
bool run_owned(KernelFn fn, KernelArgs a);

// The routing core's gather: pooled rows (contiguous) or pixels (channels-last) as
// work items; raises on an index outside its plane.
void run_gather(KernelFn fn, const KernelArgs& a, const char* op);

}  // namespace cpu
}  // namespace torchpool
