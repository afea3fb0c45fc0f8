#pragma once
// torchpool's public C++ API: every op as a function in namespace torchpool, with the
// Python defaults. Each call goes through the dispatcher, so CPU, CUDA and autograd
// work from C++ as from Python. Link TorchPool::torchpool (find_package(TorchPool)).
// Call them qualified (torchpool::max_pool2d): unqualified, argument-dependent lookup
// also finds ATen's functions of the same names.

#include <string>

// One header per family. The install takes this header and the torchpool headers it
// includes, so a family's header is public by being listed here.
#include "torchpool/ops/avg_pool.h"
#include "torchpool/ops/max_pool.h"
#include "torchpool/ops/soft_pool.h"
#include "torchpool/ops/stochastic_pool.h"
#include "torchpool/ops/unpool.h"

namespace torchpool {

// The CPU kernel level in use: "scalar", "avx2" or "avx512".
std::string cpu_capability();
// How this library was built, as JSON: version, torch version, CPU levels, CUDA.
std::string build_info();

}  // namespace torchpool
