#include "torchpool/cuda/launch.h"

#include <c10/cuda/CUDAException.h>
#include <c10/util/Exception.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

namespace torchpool {
namespace cuda {

void check_device(const at::Tensor& t, const at::Tensor& input, const char* op, const char* name) {
  TORCH_CHECK(t.device() == input.device(), op, ": ", name, " must be on the input's device ",
              input.device(), ", but is on ", t.device());
}

int64_t blocks_for(int64_t items, int threads) {
  int device = 0, sms = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // 32 blocks of 256 per SM: four times the threads an SM holds at once.
  return std::max<int64_t>(1, std::min<int64_t>((items + threads - 1) / threads, int64_t(sms) * 32));
}

bool aligned(std::initializer_list<const void*> ptrs, int64_t bytes) {
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % uintptr_t(bytes) != 0) return false;
  return true;
}

}  // namespace cuda
}  // namespace torchpool
