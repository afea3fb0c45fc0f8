#pragma once
// The host side of the CUDA families: device checks, the launch shape, the index-type
// and lane choices, the routing core's index check. The families' ops/cuda/<family>.cu
// files use it through kernels.cuh.

#include <ATen/core/Tensor.h>

#include <initializer_list>

#include "torchpool/cuda/window.h"
#include "torchpool/ops/pooling.h"

namespace torchpool {
namespace cuda {

// Checks that `t` lives on the CUDA device of `input`, naming the op and the argument.
void check_device(const at::Tensor& t, const at::Tensor& input, const char* op, const char* name);

// Blocks of `threads` for `items` work items on the current device: one item per
// thread, at most enough blocks to fill the GPU many times over (the kernels loop).
int64_t blocks_for(int64_t items, int threads);

// Whether every non-null pointer is aligned to `bytes`.
bool aligned(std::initializer_list<const void*> ptrs, int64_t bytes);

// The routing core for a pooling backward (max pooling, stochastic pooling in
// training): fills grad_input (a.grad_input) from a.grad_output and a.grad_indices,
// in the layout of `c`. Raises "<op>: index i is out of range ..." or "... lies
// outside the window of its output" after the kernel if an index cannot be routed
// (it is never written). Synchronizes with the stream to read the check.
void route_backward(KernelArgs a, const PoolCall& c, const at::Tensor& grad_input, const char* op);

// Unpooling on the routing core, in the layout of `c` (its geometry: unpooled `in`,
// pooled `out`). Each raises "<op>: index i is out of range ..." after its kernels if an
// index lies outside its plane (it is never written or read), synchronizing to read it.
//
// max_unpool: a.grad_input (the unpooled `out`) from the values a.grad_output and their
// indices a.grad_indices; where indices repeat in a plane, the latest in scan order wins
// (an integer claim per destination, then a copy: deterministic, no float atomics).
void route_assign(KernelArgs a, const PoolCall& c, const at::Tensor& out, const char* op);
// max_unpool_add: `out` = the values (prepared `values`, indices `indices`) added where
// indices repeat, each sum formed in scan order from 0 as on the CPU (the sources sorted
// stably by destination, then one thread per destination).
void route_add(KernelArgs a, const PoolCall& c, const at::Tensor& values, const at::Tensor& indices,
               const at::Tensor& out, const char* op);
// max_unpool's backward: a.output (pooled) = a.input (unpooled) at a.grad_indices.
void route_gather(KernelArgs a, const PoolCall& c, const at::Tensor& out, const char* op);

}  // namespace cuda
}  // namespace torchpool
