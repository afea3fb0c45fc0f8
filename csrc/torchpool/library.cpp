// The torchpool op library: its root registration and what it reports about itself.
// The families register their own ops (ops/<family>.cpp) with TORCH_LIBRARY_FRAGMENT.
// Python loads this same shared library (torch.ops.load_library), so it needs no
// Python module of its own and LibTorch programs link it as it is.
#include <torch/library.h>

#include <sstream>
#include <string>

#include "torchpool/cpu/capability.h"
#include "torchpool/torchpool.h"

#ifndef TORCHPOOL_VERSION
#define TORCHPOOL_VERSION "0.0.0"
#endif
#ifndef TORCHPOOL_TORCH_VERSION
#define TORCHPOOL_TORCH_VERSION "unknown"
#endif
#ifndef TORCHPOOL_CUDA_ARCHS
#define TORCHPOOL_CUDA_ARCHS ""
#endif

namespace torchpool {

std::string cpu_capability() { return cpu::level_name(cpu::level()); }

// JSON, parsed into a dict by torchpool.build_info().
std::string build_info() {
  using cpu::Level;
  std::ostringstream os;
  os << "{\"version\": \"" << TORCHPOOL_VERSION << "\", \"torch_version\": \""
     << TORCHPOOL_TORCH_VERSION << "\", \"cpu_levels\": [";
  const char* sep = "";
  for (Level l : {Level::scalar, Level::avx2, Level::avx512})
    if (cpu::compiled(l)) {
      os << sep << '"' << cpu::level_name(l) << '"';
      sep = ", ";
    }
  os << "], \"cpu_supported\": \"" << cpu::level_name(cpu::supported_level())
     << "\", \"cpu_capability\": \"" << cpu_capability() << "\", \"cuda\": "
#ifdef TORCHPOOL_WITH_CUDA
     << "true"
#else
     << "false"
#endif
     << ", \"cuda_archs\": \"" << TORCHPOOL_CUDA_ARCHS << "\"}";
  return os.str();
}

}  // namespace torchpool

TORCH_LIBRARY(torchpool, m) {
  m.def("cpu_capability() -> str", &torchpool::cpu_capability);
  m.def("build_info() -> str", &torchpool::build_info);
}
